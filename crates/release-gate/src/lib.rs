//! `release-gate run` as a library: the whole runbook on a repository
//! directory, offline. freeze-check, config-diff, artifact-verify,
//! smoke-gate for every stage the policy names (in the runbook's order),
//! then decision-log-commit; each gate is called as a function with a local
//! context ([`Context::offline`]): nothing in the process environment (a
//! token, a runner's variables) can turn the run online or change its flags.
//!
//! The binary (`src/main.rs`) parses the command line, prints
//! [`Outcome`] and ends through [`release_gate_core::exit::finish`].

pub mod check_policy;
pub mod deploy;
pub mod init;
pub mod listen;
pub mod publish;
pub mod serve;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use release_gate_core::cli::CommonArgs;
use release_gate_core::context::Context;
use release_gate_core::paths::Root;
use release_gate_core::policy::{self, GateSection};
use release_gate_core::report::{self, Report, Verdict, data};
use serde::Deserialize;

/// The policy's `run:` section: what a local run evaluates by default.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RunSection {
    /// The release id.
    pub release: Option<String>,
    /// The instant evaluated, RFC 3339 (a dry run).
    pub now: Option<String>,
}

impl GateSection for RunSection {
    const NAME: &'static str = "run";
}

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Repository root; default: `.` when it has a policy, else the bundled example.
    pub root: Option<PathBuf>,
    /// Release id; default: the policy's `run.release`.
    pub release: Option<String>,
    /// Instant; default: the policy's `run.now`, else the clock.
    pub now: Option<String>,
}

/// One gate's line in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `freeze-check`, `smoke-gate canary`.
    pub gate: String,
    /// Its report key: `freeze-check`, `smoke-gate-canary`.
    pub key: String,
    /// Its verdict, or `None` when it could not run or was skipped (the headline says why).
    pub verdict: Option<Verdict>,
    /// Not run, on purpose (the guard after a NO-GO).
    pub skipped: bool,
    /// Its decision and title, or the error (masked).
    pub headline: String,
    /// Its line in the combined release comment.
    pub comment: Option<release_gate_core::comment::Row>,
}

/// What a whole run found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The root, as given or chosen.
    pub root: PathBuf,
    /// The release evaluated.
    pub release: String,
    /// The instant evaluated.
    pub now: String,
    /// One row per gate, in the order run.
    pub rows: Vec<Row>,
    /// The decision log's data, when it was written.
    pub decision: Option<data::DecisionLog>,
    /// Whether the decision log said GO.
    pub go: bool,
    /// Where the reports are.
    pub report_dir: PathBuf,
}

impl Outcome {
    /// Gates that could not run.
    pub fn errors(&self) -> usize {
        self.rows.iter().filter(|r| r.verdict.is_none() && !r.skipped).count()
    }

    /// The run's verdict for [`release_gate_core::exit::finish`]: an error
    /// (exit 2) when a gate could not run, else pass for GO, fail for NO-GO.
    pub fn verdict(&self) -> anyhow::Result<Verdict> {
        match self.errors() {
            0 if self.go && self.guard().is_none_or(|g| g.verdict != Some(Verdict::Fail)) => Ok(Verdict::Pass),
            0 => Ok(Verdict::Fail),
            n => anyhow::bail!("{n} gate(s) could not run; the table names them and why"),
        }
    }

    /// The decision log's blockers; one that only says a gate left no
    /// evidence also says why that gate could not run (what to configure).
    pub fn blockers(&self) -> Vec<String> {
        let Some(d) = &self.decision else { return Vec::new() };
        d.blockers
            .iter()
            .map(|b| {
                let cause = self.rows.iter().filter(|r| r.verdict.is_none() && !r.skipped).find(|r| {
                    b.contains(&format!("from {}: it has not reported", r.key))
                        || b.contains(&format!("`{}`: no report for this release", r.key))
                });
                match cause {
                    Some(r) => format!("{b}: {} could not run: {}", r.key, r.headline),
                    None => b.clone(),
                }
            })
            .collect()
    }

    /// The combined release comment a PR would get for this run (the
    /// policy's default layout), rendered by the same code.
    pub fn comment(&self) -> String {
        let mut rows: Vec<release_gate_core::comment::Row> = Vec::new();
        for r in self.rows.iter().filter_map(|r| r.comment.clone()) {
            // A second writing (after the guard) replaces the first.
            rows.retain(|x| x.key != r.key);
            rows.push(r);
        }
        release_gate_core::comment::render(&self.release, &rows)
    }

    /// The post-release guard's row, when it ran.
    pub fn guard(&self) -> Option<&Row> {
        self.rows.iter().find(|r| r.gate == "release-guard" && !r.skipped)
    }
}

/// The root a run uses: the given one, else `.` when it has a policy, else the bundled example.
pub fn default_root(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(
        || {
            if Path::new(policy::DEFAULT_PATH).exists() { PathBuf::from(".") } else { PathBuf::from("examples/tradepulse") }
        },
    )
}

/// Runs every gate in order and collects their verdicts. An error here
/// (no policy, a bad release id) stops before any gate runs; a gate's own
/// error is its row.
pub fn run(opts: Options) -> anyhow::Result<Outcome> {
    let root = default_root(opts.root);
    let repo = Root::new(&root, None)?;
    let policy_path = Path::new(policy::DEFAULT_PATH);
    let text = repo.read_text_if_present(policy_path, "policy")?.with_context(|| {
        format!("{} has no {}; run from a repository with a policy, or pass --root", root.display(), policy::DEFAULT_PATH)
    })?;
    let shown = root.join(policy_path);
    let pinned = policy::from_text::<RunSection>(Some(&text), &shown)?.section;
    let smoke = policy::from_text::<smoke_gate::SmokePolicy>(Some(&text), &shown)?.section;
    let release =
        opts.release.or(pinned.release).with_context(|| format!("no release: pass --release or set run.release in {}", shown.display()))?;
    // Checked before anything is read or removed: the id names directories.
    release_gate_core::release::validate(&release)?;
    let now = opts.now.or(pinned.now).unwrap_or_else(|| report::rfc3339(jiff::Timestamp::now()));
    let stages = smoke.stages_in_order();
    let report_rel = Path::new("reports/release-gate").join(&release);
    // A local run is each stage's first attempt: its earlier reports would
    // count as failures. Only those files, only inside the repository.
    for stage in &stages {
        repo.remove(report_rel.join(format!("{}.json", report::key("smoke-gate", Some(stage)))), "earlier smoke-gate report")?;
    }
    // The guard's earlier verdict is this run's to give (or not, after a NO-GO).
    repo.remove(report_rel.join("release-guard.json"), "earlier release-guard report")?;
    let guarded = policy::sections(&text, &shown)?.iter().any(|s| s == "release-guard");
    let guard = policy::from_text::<release_guard::policy::GuardPolicy>(Some(&text), &shown)?.section.guard.0;

    let common = || CommonArgs::local(root.clone(), &release, Some(now.clone()));
    let report_dir = root.join(&report_rel);
    let mut rows = Vec::new();
    let mut record = |gate: String, key: &str, outcome: anyhow::Result<Verdict>| {
        let row = match outcome.and_then(|_| Ok(Report::read(&report_dir.join(format!("{key}.json")))?)) {
            Ok(r) => Row {
                gate,
                key: key.to_owned(),
                verdict: Some(r.verdict),
                skipped: false,
                comment: Some(release_gate_core::comment::Row::from_report(&r)),
                headline: r.outputs.get("decision").map(|d| format!("{d}: {}", r.title)).unwrap_or(r.title),
            },
            Err(e) => {
                let headline = release_gate_core::mask::redact(&release_gate_core::error::describe(e.as_ref()));
                let comment = release_gate_core::comment::Row {
                    key: key.to_owned(),
                    release: release.clone(),
                    verdict: Verdict::Fail,
                    headline: format!("could not run: {headline}"),
                    lines: Vec::new(),
                    dry_run: true,
                    statuses: Default::default(),
                    url: None,
                };
                Row { gate, key: key.to_owned(), verdict: None, skipped: false, headline, comment: Some(comment) }
            }
        };
        rows.push(row);
    };
    record("freeze-check".into(), "freeze-check", freeze_check::run(freeze_check::Args::local(common()), Context::offline()));
    record("config-diff".into(), "config-diff", config_diff::run(config_diff::Args::local(common()), Context::offline()));
    record("artifact-verify".into(), "artifact-verify", artifact_verify::run(artifact_verify::Args::local(common()), Context::offline()));
    for stage in &stages {
        let outcome = smoke_gate::run(smoke_gate::Args::local(common(), stage), Context::offline());
        record(format!("smoke-gate {stage}"), &report::key("smoke-gate", Some(stage)), outcome);
    }
    let log = decision_log_commit::run(decision_log_commit::Args::local(common()), Context::offline());
    let decided = Report::read(&report_dir.join("decision-log-commit.json")).ok().filter(|_| log.is_ok());
    let go = decided.as_ref().and_then(|r| r.outputs.get("decision")).is_some_and(|d| d == "go");
    record("decision-log-commit".into(), "decision-log-commit", log);
    // After a GO, the deploy happens at the instant evaluated and the guard
    // is judged at its end; its verdict goes into the log (a second writing).
    let mut log_report = decided;
    if guarded && go {
        let at = policy::parse_now(&now)?;
        let end = report::rfc3339(at.checked_add(guard).unwrap_or(at));
        let args = release_guard::Args::local(CommonArgs::local(root.clone(), &release, Some(end)), Some(now.clone()));
        record("release-guard".into(), "release-guard", release_guard::run(args, Context::offline()));
        let again = decision_log_commit::run(decision_log_commit::Args::local(common()), Context::offline());
        log_report = Report::read(&report_dir.join("decision-log-commit.json")).ok().filter(|_| again.is_ok());
    } else if guarded {
        rows.push(Row {
            gate: "release-guard".into(),
            key: "release-guard".into(),
            verdict: None,
            skipped: true,
            comment: None,
            headline: "not run: NO-GO, nothing was deployed".into(),
        });
    }
    let go = log_report.as_ref().and_then(|r| r.outputs.get("decision")).is_some_and(|d| d == "go");
    let decision = match &log_report {
        Some(r) => r.data::<data::DecisionLog>()?,
        None => None,
    };
    Ok(Outcome { root, release, now, rows, decision, go, report_dir })
}
