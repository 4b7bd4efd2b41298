//! The edge every gate binary shares: parse the flags, run the gate, and
//! whatever happens, leave a trace where people look.
//!
//! When a gate stops with an error (bad input, exit 2; a service that
//! stayed unreachable, exit 3) it has published nothing, and a required
//! status check would wait forever. So [`main`] publishes one itself: a
//! failed check run under the gate's check name (and the sticky comment,
//! the job summary, and `::error file=…,line=…::` on the runner) with the
//! error, its file and line as an annotation, and what to do. No report
//! file is written: no partial writes.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::CommonArgs;
use crate::context::Context;
use crate::github::{GitHub, RetryPolicy};
use crate::paths::Root;
use crate::report::{Annotation, Check, Level, Report, Status, Verdict};
use crate::{emit, error, exit, mask, publish};

/// The gate refused because the commit to report on is not the one it was
/// asked about: nothing is published, on any commit.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AnotherCommit(pub String);

/// A gate binary.
pub trait Gate: clap::Parser {
    /// The gate's name, e.g. `freeze-check`.
    const NAME: &'static str;

    /// The shared flags.
    fn common(&self) -> &CommonArgs;

    /// The check run's name when `--check-name` is not given.
    fn default_check_name(&self) -> String {
        crate::report::check_name(Self::NAME, None)
    }

    /// Runs the gate in `ctx`.
    fn run(self, ctx: Context) -> anyhow::Result<Verdict>;
}

/// Parses the flags, reads the runner's context (the only place a gate
/// binary reads the process environment), runs the gate, publishes a failed
/// check run when it could not finish, and returns the documented exit code.
pub fn main<G: Gate>() -> ExitCode {
    let args = G::parse();
    let mut common = args.common().clone();
    common.check_name = Some(common.check_name.clone().unwrap_or_else(|| args.default_check_name()));
    run_as(G::NAME, &common, |ctx| args.run(ctx))
}

/// The edge for a gate that is a subcommand (`release-gate deploy-check`):
/// reads the context, runs `f`, publishes a failed check run when it could
/// not finish, and returns the exit code. `gate` names the default check run.
pub fn run_as(gate: &str, common: &CommonArgs, f: impl FnOnce(Context) -> anyhow::Result<Verdict>) -> ExitCode {
    let check = common.check_name.clone().unwrap_or_else(|| crate::report::check_name(gate, None));
    let ctx = match Context::from_process(common.event.as_deref(), common.token.clone()) {
        Ok(ctx) => ctx,
        Err(e) => return exit::finish(Err(e.into())),
    };
    let result = f(ctx.clone());
    if let Err(e) = &result {
        publish_failure(gate, common, &ctx, &check, e);
    }
    exit::finish(result)
}

/// Publishes a gate's error on every surface it can reach; never fails.
pub fn publish_failure(gate: &str, common: &CommonArgs, ctx: &Context, check_name: &str, err: &anyhow::Error) {
    let code = exit::for_error(err);
    if code == exit::PASS || err.chain().any(|c| c.is::<AnotherCommit>()) {
        return; // a closed stdout pipe; or no commit this could be reported on
    }
    let message = mask::redact(&crate::error::describe(err.as_ref()));
    let root = Root::new(&common.root, ctx.workspace.as_deref()).ok();
    let what = if code == exit::UNREACHABLE { "could not reach a service" } else { "could not read its input" };
    let mut report = Report::new(gate, &release_of(common, ctx), jiff::Timestamp::now(), ctx.sha.clone());
    report.title = format!("{gate} {what}: {}", first_line(&message, 180));
    let fix = if code == exit::UNREACHABLE {
        "re-run the job; if it keeps failing, check the service's status and the job's network and credentials"
    } else {
        "fix the file or input named above and push; the check is re-evaluated on the next run"
    };
    report.push(Check::new(if code == exit::UNREACHABLE { "service" } else { "input" }, Status::Fail, format!("{message}. To do: {fix}")));
    if let Some(l) = error::location(err) {
        let path = root.as_ref().map_or_else(|| l.file.clone(), |r| r.in_repository(&l.file));
        report.annotations.push(Annotation::line(
            path,
            u32::try_from(l.line).unwrap_or(u32::MAX),
            Level::Failure,
            format!("release-gate {gate}"),
            l.message.clone(),
        ));
    } else if ctx.in_actions {
        emit(&format!("::error title=release-gate {gate}::{}\n", message.replace('%', "%25").replace('\n', "%0A")));
    }
    let shown = PathBuf::from("(no report: the gate stopped before writing one)");
    if let Some(file) = &ctx.summary_file {
        let _ = publish::write_summary(file, &crate::render::markdown(&report), &shown);
    }
    // Annotations go out once: on the check run, or as workflow commands when none was written.
    if !write_failure(ctx, common, check_name, &report, &shown) && ctx.in_actions {
        emit(&publish::workflow_commands(&report));
    }
}

/// Writes the failed check run (and comment); whether a check run was written.
fn write_failure(ctx: &Context, common: &CommonArgs, check_name: &str, report: &Report, shown: &std::path::Path) -> bool {
    let (Some((owner, repo)), true) = (&ctx.repository, ctx.online()) else { return false };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return false };
    // A short budget: the gate has failed already, and GitHub may be why.
    let retry =
        RetryPolicy { attempts: 2, timeout: std::time::Duration::from_secs(10), deadline: std::time::Duration::from_secs(30), ..ctx.retry };
    let _guard = runtime.enter();
    let Ok(gh) = GitHub::new(&ctx.api_url, &ctx.token, owner, repo, retry) else { return false };
    let opts = publish::Options {
        check_name: check_name.to_owned(),
        comment_mode: common.comment_mode.unwrap_or_default(),
        // The policy may be what could not be read: the default layout.
        comment_layout: crate::policy::CommentLayout::default(),
    };
    match runtime.block_on(publish::to_github(&gh, ctx, report, &opts, shown)) {
        Ok(p) => p.check_run_id.is_some(),
        Err(e) => {
            eprintln!("release-gate: could not publish the failure either: {}", mask::redact(&e.to_string()));
            false
        }
    }
}

/// The release a failed run was about, as far as it is known.
fn release_of(common: &CommonArgs, ctx: &Context) -> String {
    match &common.release {
        Some(r) => crate::release::validate(r).map(str::to_owned).unwrap_or_else(|_| "unknown".into()),
        None => ctx.release_from_event().unwrap_or_else(|| "unknown".into()),
    }
}

fn first_line(s: &str, max: usize) -> String {
    crate::render::ellipsize(s.lines().next().unwrap_or_default(), max)
}
