//! `release-gate run`: the whole runbook on a repository directory, offline
//! (the library, `src/lib.rs`, runs it); one table of verdicts and the
//! go/no-go. Reports go to `reports/release-gate/<release>/`, the log to
//! `reports/release-decisions/<release>.md`.
//!
//! With no `--root`, the current directory when it has a policy, else the
//! bundled example (`examples/tradepulse`). With no `--release`/`--now`, the
//! policy's `run:` section (the example pins both there, so the demo gives
//! the same answer any day).

#![allow(clippy::print_stdout)] // printing the table is this binary's job

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use release_gate::{Options, Outcome};

#[derive(Debug, Parser)]
#[command(name = "release-gate", version, max_term_width = 100, about = "The release validation runbook's gates, locally")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Markdown,
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
        /// `text`: the table and the go/no-go; `markdown`: the combined PR
        /// comment the gates would post for this release (a local preview).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// In the deploy job: pass only when the decision log says GO for this
    /// release and commit, every required gate passed on it, the deployed
    /// configuration is the one recorded, and deploys are open now.
    DeployCheck(release_gate::deploy::DeployArgs),
    /// Write a first policy (.github/release-gate.yml, the runbook's defaults,
    /// every key commented) and the example workflows; never overwrites.
    Init {
        /// Repository root.
        #[arg(long, value_name = "DIR", default_value = ".")]
        root: PathBuf,
        /// Pin the actions to this commit (40 hex): the one a release tag names.
        #[arg(long, value_name = "SHA")]
        pin: Option<String>,
        /// Pin the actions to the commit this release tag names, read from
        /// GitHub (a release build pins its own).
        #[arg(long, value_name = "TAG")]
        release_tag: Option<String>,
    },
    /// Read the policy with the gates' own code: every error at once (file:line),
    /// else the effective policy with the defaults filled in, as YAML.
    CheckPolicy {
        /// Repository root.
        #[arg(long, value_name = "DIR", default_value = ".")]
        root: PathBuf,
        /// Policy file, relative to the root.
        #[arg(long, value_name = "PATH", default_value = release_gate_core::policy::DEFAULT_PATH)]
        policy: PathBuf,
        /// Print the policy file's JSON Schema instead (docs/release-gate.schema.json).
        #[arg(long)]
        schema: bool,
    },
    /// In a workflow_run job: publish the reports the finished run uploaded
    /// (check runs marked as from the PR's run, never the gates' own; the
    /// release comment), on that run's commit.
    Publish(release_gate::publish::PublishArgs),
    /// A GitHub App webhook server that answers custom deployment protection
    /// rules with the same rules as deploy-check.
    Serve(release_gate::serve::ServeArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Run { root, release, now, format } => {
            let result = release_gate::run(Options { root, release, now }).and_then(|outcome| {
                match format {
                    Format::Text => print(&outcome),
                    Format::Markdown => print!("{}", outcome.comment()),
                }
                outcome.verdict()
            });
            release_gate_core::exit::finish(result)
        }
        Cmd::DeployCheck(args) => {
            release_gate_core::gate::run_as("deploy-check", &args.common.clone(), |ctx| release_gate::deploy::run(args, ctx))
        }
        Cmd::Init { root, pin, release_tag } => {
            let choice = release_gate::init::PinChoice {
                commit: pin,
                tag: release_tag,
                api_url: std::env::var("GITHUB_API_URL").unwrap_or_else(|_| "https://api.github.com".into()),
                token: std::env::var("GITHUB_TOKEN").ok(),
            };
            if let Some(t) = choice.token.as_deref() {
                release_gate_core::mask::register(t);
            }
            let result = release_gate::init::choose_pin(&choice).and_then(|pin| {
                println!("pinning {}/actions/* @ {} # {}: {}", release_gate::init::ACTIONS_REPO, pin.commit, pin.version, pin.why);
                release_gate::init::init(&root, &pin)
            });
            let result = result.map(|written| {
                for p in &written {
                    println!("wrote {}", root.join(p).display());
                }
                println!(
                    "\nNext: bind the TODO lines of {} to your evidence, then try `release-gate run --root {} --release <id>`; it says NO-GO and names each thing still to configure.",
                    release_gate_core::policy::DEFAULT_PATH,
                    root.display()
                );
                release_gate_core::report::Verdict::Pass
            });
            release_gate_core::exit::finish(result.map_err(anyhow::Error::from))
        }
        Cmd::CheckPolicy { root, policy, schema } => {
            if schema {
                print!("{}", release_gate::check_policy::schema());
                return ExitCode::SUCCESS;
            }
            let result = check_policy(&root, &policy);
            release_gate_core::exit::finish(result)
        }
        Cmd::Publish(args) => release_gate_core::gate::run_as("publish", &args.common.clone(), |ctx| release_gate::publish::run(args, ctx)),
        Cmd::Serve(args) => {
            release_gate_core::exit::finish(release_gate::serve::serve(args).map(|()| release_gate_core::report::Verdict::Pass))
        }
    }
}

fn check_policy(root: &std::path::Path, policy: &std::path::Path) -> anyhow::Result<release_gate_core::report::Verdict> {
    let repo = release_gate_core::paths::Root::new(root, None)?;
    let shown = policy.display().to_string();
    let text = repo
        .read_text_if_present(policy, "policy")?
        .ok_or_else(|| anyhow::anyhow!("policy `{shown}` does not exist under {}; write one with `release-gate init`", root.display()))?;
    match release_gate::check_policy::effective(&text, policy) {
        Ok(doc) => {
            let f = release_gate::check_policy::findings(&doc);
            if !f.errors.is_empty() {
                let n = f.errors.len();
                anyhow::bail!(
                    "{shown}: {n} evidence binding(s) can never tick their checklist item (docs/evidence.md)\n{}",
                    f.errors.join("\n")
                );
            }
            for w in &f.beyond_floors {
                eprintln!("warning: {shown}: {w}");
            }
            println!("# {shown}: valid. The effective policy, defaults filled in:");
            for w in &f.beyond_floors {
                println!("# beyond the runbook: {w}");
            }
            print!("{}", release_gate::check_policy::to_yaml(&doc));
            Ok(if f.beyond_floors.is_empty() { release_gate_core::report::Verdict::Pass } else { release_gate_core::report::Verdict::Warn })
        }
        Err(errors) => {
            let n = errors.len();
            anyhow::bail!("{shown}: {n} error(s)\n{}", errors.join("\n"))
        }
    }
}

fn print(o: &Outcome) {
    println!("release-gate run: release {} in {}, evaluated at {}\n", o.release, o.root.display(), o.now);
    let width = o.rows.iter().map(|r| r.gate.len()).max().unwrap_or(10);
    println!("{:width$}  {:7}  headline", "gate", "verdict");
    for r in &o.rows {
        let headline: String = r.headline.lines().next().unwrap_or_default().chars().take(110).collect();
        let verdict = match (r.verdict, r.skipped) {
            (Some(v), _) => v.as_str().to_uppercase(),
            (None, true) => "SKIP".to_owned(),
            (None, false) => "ERROR".to_owned(),
        };
        println!("{:width$}  {verdict:7}  {headline}", r.gate);
    }
    println!();
    if let Some(d) = &o.decision {
        println!("{}", if o.go { "GO" } else { "NO-GO" });
        if let Some(g) = o.guard() {
            println!("  then the post-release guard: {}", g.headline.lines().next().unwrap_or_default());
        }
        for b in o.blockers() {
            println!("  - {b}");
        }
        println!("\ndecision log: {}", o.root.join(&d.log).display());
    }
    println!("reports:      {}", o.report_dir.display());
}
