//! Shared core of the release-gate actions: what every gate needs and no
//! gate should write twice.
//!
//! A gate binary parses its flags, calls [`Run::start`] with the shared
//! ones, evaluates its own rules into a [`report::Report`], and hands the
//! report to [`Run::finish`], which writes the JSON report, step outputs,
//! job summary, annotations, check run and sticky comment, prints the report
//! and returns the verdict that [`exit::finish`] turns into the exit code.

pub mod cli;
pub mod context;
pub mod exit;
pub mod github;
pub mod hashes;
pub mod mask;
pub mod policy;
pub mod publish;
pub mod release;
pub mod render;
pub mod report;
pub mod signing;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::{CommonArgs, Format};
use crate::context::Context;
use crate::github::{GitHub, RetryPolicy};
use crate::policy::{GateSection, PolicyFile};
use crate::report::{Report, Status, Verdict};

/// One gate run: context, policy and (online) a GitHub client.
pub struct Run<S> {
    /// The gate's name, e.g. `freeze-check`.
    pub gate: &'static str,
    /// The validated release id.
    pub release: String,
    /// The runner's context.
    pub ctx: Context,
    /// The policy as this gate sees it.
    pub policy: PolicyFile<S>,
    /// The shared flags.
    pub args: CommonArgs,
    github: Option<GitHub>,
    runtime: tokio::runtime::Runtime,
}

impl<S: GateSection> Run<S> {
    /// Validates the release id, reads the runner's context and the policy,
    /// and builds a GitHub client when a token, repository and commit are known.
    pub fn start(gate: &'static str, args: CommonArgs) -> anyhow::Result<Self> {
        let release = release::validate(&args.release)?.to_owned();
        // The token is registered with the redactor (never `::add-mask::`ed,
        // which would print it): the runner already masks `github.token` and
        // secrets, and everything the gate prints passes through `mask::redact`.
        let ctx = Context::from_process(args.event.as_deref(), args.token.clone())?;
        let (policy_path, explicit) = match &args.policy {
            Some(p) => (p.clone(), true),
            None => (under(&args.root, Path::new(policy::DEFAULT_PATH)), false),
        };
        let policy = policy::load::<S>(&policy_path, explicit)?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
        let github = match (&ctx.repository, ctx.online()) {
            (Some((owner, repo)), true) => {
                let retry = RetryPolicy::from_env(&|k| std::env::var(k).ok());
                let _guard = runtime.enter();
                Some(GitHub::new(&ctx.api_url, &ctx.token, owner, repo, retry)?)
            }
            _ => None,
        };
        let mut ctx = ctx;
        if let Some(number) = args.pull_request {
            let gh = github.as_ref().context("--pull-request needs GitHub: a token, GITHUB_REPOSITORY and a commit")?;
            let pr = runtime.block_on(gh.get(&gh.repo_path(&format!("/pulls/{number}"))))?;
            let pr: context::PullRequest =
                serde_json::from_value(pr).with_context(|| format!("GitHub's answer for PR #{number} is not a pull request"))?;
            if let Some(expected) = &ctx.workflow_run_head {
                anyhow::ensure!(
                    &pr.head.sha == expected,
                    "PR #{number}'s head is {} but the workflow run was for {expected}; refusing to publish results for another commit",
                    pr.head.sha
                );
            }
            ctx.sha = Some(pr.head.sha.clone());
            ctx.pull_request = Some(pr);
        }
        Ok(Self { gate, release, ctx, policy, args, github, runtime })
    }

    /// A path from the policy, resolved against the repository root.
    pub fn in_root(&self, path: &Path) -> PathBuf {
        under(&self.args.root, path)
    }

    /// The GitHub client, when online.
    pub fn github(&self) -> Option<&GitHub> {
        self.github.as_ref()
    }

    /// Runs a future to completion on the gate's runtime.
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.runtime.block_on(fut)
    }

    /// The report directory: `--report-dir`, or `reports/release-gate/<release>/` under the root.
    pub fn report_dir(&self) -> PathBuf {
        self.args.report_dir.clone().unwrap_or_else(|| under(&self.args.root, &Path::new("reports/release-gate").join(&self.release)))
    }

    /// A new, empty report for this run, stamped with `now`.
    pub fn new_report(&self, now: jiff::Timestamp) -> Report {
        Report::new(self.gate, &self.release, now, self.ctx.sha.clone())
    }

    /// Publishes the report on every surface and prints it; returns the verdict.
    pub fn finish(self, report: Report) -> anyhow::Result<Verdict> {
        self.finish_with(report, None)
    }

    /// Like [`Run::finish`], with the gate's own text for `--format human`.
    pub fn finish_with(self, report: Report, human_text: Option<String>) -> anyhow::Result<Verdict> {
        let report_path = publish::write_report(&report, &self.report_dir())?;
        let markdown = render::markdown(&report);
        if let Some(file) = &self.ctx.output_file {
            let mut pairs =
                vec![("verdict".to_owned(), report.verdict.as_str().to_owned()), ("report".to_owned(), report_path.display().to_string())];
            pairs.extend(report.outputs.iter().map(|(k, v)| (k.clone(), v.clone())));
            publish::write_outputs(file, &pairs)?;
        }
        if let Some(file) = &self.ctx.summary_file {
            publish::write_summary(file, &markdown, &report_path)?;
        }
        if self.ctx.in_actions {
            emit(&publish::workflow_commands(&report));
        }
        if let Some(gh) = &self.github {
            let opts = publish::Options {
                check_name: self.args.check_name.clone().unwrap_or_else(|| format!("release-gate/{}", self.gate)),
                comment_mode: self.args.comment_mode.or(self.policy.reporting.comment_mode).unwrap_or_default(),
            };
            let published = self.block_on(publish::to_github(gh, &self.ctx, &report, &opts, &report_path))?;
            if let Some(why) = published.degraded {
                if self.ctx.in_actions {
                    emit(&format!("::warning title=release-gate::{}\n", why.replace('\n', " ")));
                } else {
                    eprintln!("warning: {why}");
                }
            }
        }
        print_report(&report, &markdown, self.args.format, &report_path, human_text)?;
        Ok(report.verdict)
    }
}

/// `path` under `root`, without a leading `./` when the root is the current directory.
fn under(root: &Path, path: &Path) -> PathBuf {
    if root == Path::new(".") || root.as_os_str().is_empty() { path.to_owned() } else { root.join(path) }
}

/// Writes to stdout; a closed pipe is not an error worth a panic.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(mask::redact(text).as_bytes());
    let _ = out.flush();
}

fn print_report(report: &Report, markdown: &str, format: Format, path: &Path, human_text: Option<String>) -> anyhow::Result<()> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
        Format::Markdown => markdown.to_owned(),
        Format::Human => human_text.unwrap_or_default() + &human(report, path),
        Format::Quiet => return Ok(()),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(mask::redact(&text).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// A short plain-text view for terminals.
pub fn human(report: &Report, path: &Path) -> String {
    let mut s = format!("{} {} for release {}\n", report.gate, report.verdict.as_str().to_uppercase(), report.release);
    if !report.title.is_empty() {
        s.push_str(&format!("  {}\n", report.title));
    }
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for c in &report.checks {
        let mark = match c.status {
            Status::Pass => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        s.push_str(&format!("  {mark}  {:width$}  {}\n", c.id, c.message));
    }
    for (k, v) in &report.outputs {
        s.push_str(&format!("  {k} = {v}\n"));
    }
    s.push_str(&format!("report: {}\n", path.display()));
    s
}
