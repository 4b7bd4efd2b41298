//! `release-gate run`: the whole runbook on a repository directory, offline:
//! freeze-check, config-diff, artifact-verify, smoke-gate for every stage the
//! policy names, then decision-log-commit; one table of verdicts and the
//! go/no-go. Reports go to `reports/release-gate/<release>/`, the log to
//! `reports/release-decisions/<release>.md`.
//!
//! With no `--root`, the current directory when it has a policy, else the
//! bundled example (`examples/tradepulse`). With no `--release`/`--now`, the
//! policy's `run:` section (the example pins both there, so the demo gives
//! the same answer any day).

#![allow(clippy::print_stdout)] // printing the table is this binary's job

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use release_gate_core::report::{Report, Verdict};
use serde::Deserialize;

#[derive(Debug, Parser)]
#[command(name = "release-gate", version, max_term_width = 100, about = "The release validation runbook's gates, locally")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run every gate in order on a repository and print the verdicts and the go/no-go.
    Run {
        /// Repository root [default: . when it has .github/release-gate.yml, else examples/tradepulse].
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Release id [default: the policy's run.release].
        #[arg(long, value_name = "ID")]
        release: Option<String>,
        /// Evaluate at this instant [default: the policy's run.now, else the clock].
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
    },
}

/// The policy's `run:` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RunSection {
    release: Option<String>,
    now: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct PolicyRun {
    #[serde(default)]
    run: RunSection,
    #[serde(default, rename = "smoke-gate")]
    smoke: Option<serde_json::Value>,
}

struct Row {
    gate: String,
    verdict: String,
    headline: String,
}

fn main() -> ExitCode {
    let Cmd::Run { root, release, now } = Cli::parse().command;
    match run(root, release, now) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(release_gate_core::exit::for_error(&e))
        }
    }
}

fn run(root: Option<PathBuf>, release: Option<String>, now: Option<String>) -> anyhow::Result<u8> {
    let root = root.unwrap_or_else(|| {
        if Path::new(".github/release-gate.yml").exists() { PathBuf::from(".") } else { PathBuf::from("examples/tradepulse") }
    });
    let policy_path = root.join(".github/release-gate.yml");
    let text = std::fs::read_to_string(&policy_path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}; run from a repository with a policy, or pass --root", policy_path.display()))?;
    let parsed: PolicyRun = release_gate_core::policy::parse_yaml(&text, &policy_path)?;
    let release = release
        .or(parsed.run.release)
        .ok_or_else(|| anyhow::anyhow!("no release: pass --release or set run.release in {}", policy_path.display()))?;
    // Checked before anything is read or removed: the id names directories.
    release_gate_core::release::validate(&release)?;
    let repo = release_gate_core::paths::Root::new(&root, None)?;
    let now = now.or(parsed.run.now).unwrap_or_else(|| jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    let stages: Vec<String> = parsed
        .smoke
        .as_ref()
        .and_then(|s| s.get("stages"))
        .and_then(|s| s.as_object())
        .map(|m| {
            let mut v: Vec<String> = m.keys().cloned().collect();
            let order = |s: &str| ["smoke", "fast-suite", "canary", "post-release"].iter().position(|x| *x == s).unwrap_or(9);
            v.sort_by_key(|s| (order(s), s.clone()));
            v
        })
        .unwrap_or_else(|| vec!["smoke".into(), "fast-suite".into()]);
    let report_dir = root.join("reports/release-gate").join(&release);
    // Each local run is a first attempt: earlier smoke-gate reports would count as failures.
    // Only regular files inside the repository are removed.
    let real_dir = repo.resolve(Path::new("reports/release-gate").join(&release), "report directory")?;
    if let Ok(list) = std::fs::read_dir(&real_dir) {
        for e in list.flatten() {
            if e.file_name().to_string_lossy().starts_with("smoke-gate-") && e.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let root_s = root.display().to_string();
    let common = |gate: &str| -> Vec<String> {
        [gate, "--root", &root_s, "--release", &release, "--format", "quiet", "--now", &now].iter().map(|s| (*s).to_owned()).collect()
    };
    println!("release-gate run: release {release} in {root_s}, evaluated at {now}\n");
    let mut rows = Vec::new();
    let mut invalid = false;
    let mut record = |gate: String, file: PathBuf, outcome: anyhow::Result<Verdict>| match outcome {
        Ok(_) => {
            let (verdict, headline) = match Report::read(&file) {
                Ok(r) => (r.verdict.as_str().to_owned(), r.outputs.get("decision").map(|d| format!("{d}: {}", r.title)).unwrap_or(r.title)),
                Err(e) => ("error".into(), format!("{e:#}")),
            };
            rows.push(Row { gate, verdict, headline });
        }
        Err(e) => {
            invalid = true;
            rows.push(Row { gate, verdict: "error".into(), headline: format!("{e:#}") });
        }
    };
    let f = |name: &str| report_dir.join(format!("{name}.json"));
    record("freeze-check".into(), f("freeze-check"), gate(common("freeze-check"), freeze_check::run));
    record("config-diff".into(), f("config-diff"), gate(common("config-diff"), config_diff::run));
    record("artifact-verify".into(), f("artifact-verify"), gate(common("artifact-verify"), artifact_verify::run));
    for stage in &stages {
        let mut a = common("smoke-gate");
        a.extend(["--stage".to_owned(), stage.clone()]);
        record(format!("smoke-gate {stage}"), f(&format!("smoke-gate-{stage}")), gate(a, smoke_gate::run));
    }
    let mut a = common("decision-log-commit");
    a.extend(["--via".to_owned(), "none".to_owned(), "--no-archive".to_owned()]);
    let log_outcome = gate(a, decision_log_commit::run);
    let log_report = Report::read(&f("decision-log-commit")).ok();
    record("decision-log-commit".into(), f("decision-log-commit"), log_outcome);

    let width = rows.iter().map(|r| r.gate.len()).max().unwrap_or(10);
    println!("{:width$}  {:7}  headline", "gate", "verdict");
    for r in &rows {
        let headline: String = r.headline.lines().next().unwrap_or_default().chars().take(110).collect();
        println!("{:width$}  {:7}  {headline}", r.gate, r.verdict.to_uppercase());
    }
    let go = log_report.as_ref().and_then(|r| r.outputs.get("decision")).is_some_and(|d| d == "go");
    println!();
    if let Some(r) = &log_report {
        println!("{}", if go { "GO".to_owned() } else { "NO-GO".to_owned() });
        if let Some(b) = r.data.get("blockers").and_then(|b| b.as_array()) {
            for x in b {
                println!("  - {}", x.as_str().unwrap_or_default());
            }
        }
        println!("\ndecision log: {}", root.join(r.outputs.get("log").cloned().unwrap_or_default()).display());
    }
    println!("reports:      {}", report_dir.display());
    Ok(if invalid {
        release_gate_core::exit::INVALID
    } else if go {
        release_gate_core::exit::PASS
    } else {
        release_gate_core::exit::REFUSED
    })
}

/// Parses a gate's flags as its binary would and runs it.
fn gate<A: clap::Parser>(args: Vec<String>, run: fn(A) -> anyhow::Result<Verdict>) -> anyhow::Result<Verdict> {
    run(A::try_parse_from(args)?)
}
