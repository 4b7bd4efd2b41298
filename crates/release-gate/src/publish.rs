//! `release-gate publish`: the publisher of a `workflow_run` job
//! (EnricoMi's pattern). The gates' job, which on a pull request from a fork
//! or from Dependabot has a read-only token, uploads its report directory as
//! an artifact; the publisher, running in the base repository with a write
//! token, downloads it and publishes every report's check run and the
//! release comment on the finished run's commit (`workflow_run.head_sha`,
//! never `GITHUB_SHA`), on the pull request found from that commit.
//!
//! **Visible, never trusted.** The reports come from a run whose code the
//! pull request controls, so they could say anything. Each is published
//! under its check name with ` (from the PR's run)` appended, and its title
//! says it was not re-evaluated: such a check run can never satisfy a
//! required check named `release-gate/<gate>`, and the decision log and the
//! deploy gate only count check runs from the trusted workflows the policy
//! names. To pass, the release must be evaluated by a trusted workflow
//! (`examples/workflows/release-validation-fork.yml` re-evaluates
//! freeze-check in the base repository without running the PR's code).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use release_gate_core::context::Context;
use release_gate_core::publish::{self, Options};
use release_gate_core::report::{Report, Verdict};
use release_gate_core::{Run, mask};

use crate::RunSection;

/// What a published check run's name gets, so it never stands for the gate's own check.
pub const SUFFIX: &str = " (from the PR's run)";

/// `release-gate publish`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct PublishArgs {
    /// The downloaded report directory, relative to the root (every `*.json` in it is a report).
    #[arg(long, env = "RELEASE_GATE_REPORTS", value_name = "DIR")]
    pub reports: PathBuf,

    #[command(flatten)]
    pub common: release_gate_core::cli::CommonArgs,
}

/// Every report in `dir`, each checked: a release-gate report, for `commit` when it names one.
fn read_reports(run: &Run<RunSection>, dir: &Path, commit: &str) -> anyhow::Result<Vec<(PathBuf, Report)>> {
    let reports = release_gate_core::report::read_dir(&run.root, dir, |_| true)?;
    anyhow::ensure!(
        !reports.is_empty(),
        "{} holds no report (*.json): nothing to publish; download the gates' artifact there first (did the gates' job upload its report directory?)",
        dir.display()
    );
    for (rel, report) in &reports {
        if let Some(c) = &report.commit {
            anyhow::ensure!(
                c.eq_ignore_ascii_case(commit),
                "{} is a report for commit {c}, not {commit}, the commit the finished run was for; it was not published",
                rel.display()
            );
        }
    }
    Ok(reports)
}

/// Publishes the reports of the run that triggered this `workflow_run` job.
#[allow(clippy::print_stdout)] // what was published, for the job log
pub fn run(args: PublishArgs, ctx: Context) -> anyhow::Result<Verdict> {
    let head = ctx.workflow_run_head.clone().context(
        "release-gate publish runs in a job triggered by workflow_run: it publishes the reports of the run that finished (examples/workflows/release-validation-publish.yml)",
    )?;
    let mut common = args.common.clone();
    if common.release.is_none() {
        // Named by the reports themselves (checked equal below).
        common.release = Some("unknown".into());
    }
    let mut run = Run::<RunSection>::start("publish", common, ctx)?;
    let reports = read_reports(&run, &args.reports, &head)?;
    let gh = run.github().cloned().context("release-gate publish needs a token with checks: write and pull-requests: write")?;
    if run.ctx.pull_request.is_none() {
        let pulls = run.block_on(gh.pulls_for_commit(&head))?;
        if let Some(p) = pulls.iter().find(|p| p.state == "open") {
            let pr = run.block_on(gh.pull(p.number))?;
            // Only the PR whose head is the run's commit: never another's.
            if pr.head.sha.eq_ignore_ascii_case(&head) {
                run.ctx.pull_request = Some(pr);
            }
        }
    }
    let layout = run.policy.reporting.comment_layout;
    let mode = run.args.comment_mode.or(run.policy.reporting.comment_mode).unwrap_or_default();
    let mut published = 0usize;
    for (path, mut report) in reports {
        let name = format!("{}{SUFFIX}", report.check_name());
        report.title = format!("{} — from the pull request's run, not re-evaluated: it cannot satisfy the gate's check", report.title);
        let opts = Options { check_name: name.clone(), comment_mode: mode, comment_layout: layout };
        let out = run.block_on(publish::to_github(&gh, &run.ctx, &report, &opts, &path))?;
        if let Some(why) = out.degraded {
            anyhow::bail!("{}: {}", name, mask::redact(&why));
        }
        println!("published {} ({}) from {}", name, report.verdict.as_str(), path.display());
        published += 1;
    }
    println!("{published} report(s) published on {head}");
    Ok(Verdict::Pass)
}
