//! Shared core of the release-gate actions: what every gate needs and no
//! gate should write twice.
//!
//! A gate binary calls [`gate::main`], which parses its flags and runs it;
//! the gate calls [`Run::start`] with the shared flags, evaluates its own
//! rules into a [`report::Report`], and hands the report to [`Run::finish`],
//! which writes the JSON report, step outputs, job summary, annotations,
//! check run and sticky comment, prints the report and returns the verdict
//! that [`exit::finish`] turns into the exit code. When the gate fails
//! before that, [`gate::main`] still publishes a failed check run with the
//! error, so a required check never hangs.
//!
//! What a gate is evaluated against is decided here, once:
//! - the **policy in force**: on a pull request or a merge group, the
//!   policy file of the *base* commit, read through the contents API (the
//!   change under review cannot loosen its own checks); the checkout's
//!   version, when it differs, is shown as proposed, not in force;
//! - the **clock**: `--now` (an "as if" time) is refused in GitHub Actions
//!   unless the policy in force allows dry runs, and a dry run is published
//!   under its own check name so it never satisfies a required check;
//! - the **root**: every path stays inside the repository ([`paths`]).

pub mod cli;
pub mod comment;
pub mod context;
pub mod decision_log;
pub mod deviation;
pub mod error;
pub mod evidence;
pub mod exit;
pub mod gate;
pub mod github;
pub mod hashes;
pub mod json;
pub mod mask;
pub mod paths;
pub mod policy;
pub mod publish;
pub mod release;
pub mod render;
pub mod report;
pub mod sarif;
pub mod signing;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::cli::{CommonArgs, Format};
use crate::context::Context;
use crate::github::GitHub;
use crate::paths::Root;
use crate::policy::{GateSection, PolicyFile};
use crate::report::{Report, Section, Status, Verdict};

/// Suffix of a dry run's check name.
pub const DRY_RUN_SUFFIX: &str = " (dry run)";

/// One gate run: context, root, policy in force, clock and (online) a GitHub client.
pub struct Run<S> {
    /// The gate's name, e.g. `freeze-check`.
    pub gate: &'static str,
    /// The validated release id.
    pub release: String,
    /// The runner's context.
    pub ctx: Context,
    /// The policy in force, as this gate sees it.
    pub policy: PolicyFile<S>,
    /// The shared flags.
    pub args: CommonArgs,
    /// The repository root every path is resolved in.
    pub root: Root,
    /// The instant evaluated.
    pub now: jiff::Timestamp,
    /// Whether that instant was given (`--now`) rather than read from the clock.
    pub dry_run: bool,
    /// The commit evaluated: the runner's, else (offline) the commit the
    /// root is checked out at, when the root is a git checkout's top.
    pub commit: Option<String>,
    /// Where the policy came from, and what the change proposes, for the report.
    notes: Vec<Section>,
    /// The policy in force as read (`None`: built-in defaults), its name and source, for other sections.
    in_force: InForce,
    github: Option<GitHub>,
    runtime: tokio::runtime::Runtime,
}

impl<S: GateSection> Run<S> {
    /// Validates the release id, reads the root, the policy in force and
    /// the clock, and builds a GitHub client when a token, repository and
    /// commit are known. The process environment is read only through `ctx`
    /// ([`gate::main`] reads it; `release-gate run` passes [`Context::offline`]).
    /// The token is registered with the redactor (never `::add-mask::`ed,
    /// which would print it): the runner already masks `github.token` and
    /// secrets, and everything the gate prints passes through `mask::redact`.
    pub fn start(gate: &'static str, args: CommonArgs, mut ctx: Context) -> anyhow::Result<Self> {
        let release = match &args.release {
            Some(r) => release::validate(r)?.to_owned(),
            None => ctx.release_from_event().ok_or(release::ReleaseIdError::Empty)?,
        };
        let root = Root::new(&args.root, ctx.workspace.as_deref())?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
        let github = match (&ctx.repository, ctx.online()) {
            (Some((owner, repo)), true) => {
                let _guard = runtime.enter();
                Some(GitHub::new(&ctx.api_url, &ctx.token, owner, repo, ctx.retry)?)
            }
            _ => None,
        };
        if let Some(number) = args.pull_request {
            let gh = github.as_ref().context("--pull-request needs GitHub: a token, GITHUB_REPOSITORY and a commit")?;
            let pr = runtime.block_on(gh.pull(number))?;
            if let Some(expected) = &ctx.workflow_run_head
                && &pr.head.sha != expected
            {
                return Err(gate::AnotherCommit(format!(
                    "PR #{number}'s head is {} but the workflow run was for {expected}; refusing to publish results for another commit",
                    pr.head.sha
                ))
                .into());
            }
            ctx.sha = Some(pr.head.sha.clone());
            ctx.base_sha = Some(pr.base.sha.clone());
            ctx.pull_request = Some(pr);
        }
        let (policy, notes, in_force) = runtime.block_on(policy_in_force::<S>(&root, &args, &ctx, github.as_ref()))?;
        let (now, dry_run) = clock(&args, &ctx, &policy)?;
        let log_dir =
            in_force.parse::<LogPath>().ok().and_then(|p| p.section.log).unwrap_or_else(|| "reports/release-decisions/{release}.md".into());
        let log_dir = Path::new(&log_dir).parent().map(Path::to_path_buf).unwrap_or_default();
        let commit = ctx.sha.clone().or_else(|| checkout_commit(root.real(), &log_dir));
        Ok(Self { gate, release, ctx, policy, args, root, now, dry_run, commit, notes, in_force, github, runtime })
    }

    /// The GitHub client, when online.
    pub fn github(&self) -> Option<&GitHub> {
        self.github.as_ref()
    }

    /// When the commit evaluated was made (its committer's date): through
    /// the API online, from git in a checkout; `None` when no commit is
    /// known (a directory, not a checkout) or git cannot say.
    pub fn commit_time(&self) -> Result<Option<jiff::Timestamp>, github::ApiError> {
        let Some(sha) = &self.commit else { return Ok(None) };
        if let Some(gh) = self.github() {
            return Ok(Some(self.block_on(gh.commit_time(sha))?));
        }
        Ok(git(self.root.real(), &["show", "-s", "--format=%cI", sha]).and_then(|o| String::from_utf8_lossy(&o).trim().parse().ok()))
    }

    /// The policy in force's text, as read (`None`: built-in defaults), for
    /// locating a setting's line in an error.
    pub fn policy_text(&self) -> Option<&str> {
        self.in_force.text.as_deref()
    }

    /// Another section of the policy in force (the same file, from the same
    /// commit): for commands that apply several gates' rules (`deploy-check`).
    pub fn section<T: GateSection>(&self) -> anyhow::Result<T> {
        Ok(self.in_force.parse::<T>()?.section)
    }

    /// Runs a future to completion on the gate's runtime.
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.runtime.block_on(fut)
    }

    /// The report directory: `--report-dir`, or `reports/release-gate/<release>/`, inside the root.
    pub fn report_dir(&self) -> anyhow::Result<PathBuf> {
        let rel = self.args.report_dir.clone().unwrap_or_else(|| Path::new("reports/release-gate").join(&self.release));
        Ok(self.root.resolve(rel, "report directory")?)
    }

    /// The check run's name: `--check-name`, else `release-gate/<gate>`;
    /// a dry run's ends in " (dry run)" wherever it is published (in
    /// Actions, or anywhere a token lets it reach GitHub).
    pub fn check_name(&self) -> String {
        let name = self.args.check_name.clone().unwrap_or_else(|| report::check_name(self.gate, None));
        if self.dry_run && (self.ctx.in_actions || self.github.is_some()) { format!("{name}{DRY_RUN_SUFFIX}") } else { name }
    }

    /// Whether this run's result may act on a real release (set a
    /// deployment status, move the lifecycle online): in Actions or with a
    /// token, and not a dry run.
    pub fn published_dry_run(&self) -> bool {
        self.dry_run && (self.ctx.in_actions || self.github.is_some())
    }

    /// A lifecycle transition made by this run, now: who (the actor, or
    /// `local`), through what (the gate and its workflow run), on which commit.
    pub fn transition(&self, to: decision_log::State, why: impl Into<String>) -> decision_log::Transition {
        let via = match self.ctx.run_url() {
            Some(u) => format!("{} in {u}", self.gate),
            None if self.dry_run => format!("{} (local dry run)", self.gate),
            None => format!("{} (local run)", self.gate),
        };
        decision_log::Transition {
            to,
            at: report::rfc3339(self.now),
            by: self.ctx.actor.clone().unwrap_or_else(|| "local".into()),
            via,
            commit: self.commit.clone(),
            why: why.into(),
        }
    }

    /// What may publish evidence this run reads: the policy's trusted apps
    /// and workflows, the workflow running now by default.
    pub fn trust(&self) -> evidence::Trust {
        let e = &self.policy.evaluation;
        let mut workflows = e.trusted_workflows.clone();
        if workflows.is_empty() {
            workflows.extend(self.ctx.workflow_path());
        }
        evidence::Trust { apps: e.trusted_apps.clone(), workflows }
    }

    /// A blob link base for the commit: `{server}/{owner}/{repo}/blob/{sha}/`.
    pub fn blob_url(&self) -> Option<String> {
        match (&self.ctx.repository, &self.ctx.sha) {
            (Some((o, r)), Some(sha)) => Some(format!("{}/{o}/{r}/blob/{sha}/", self.ctx.server_url)),
            _ => None,
        }
    }

    /// A new, empty report for this run, stamped with the instant evaluated.
    pub fn new_report(&self) -> Report {
        let mut r = Report::new(self.gate, &self.release, self.now, self.commit.clone());
        r.dry_run = self.dry_run;
        r.policy = Some(self.in_force.named());
        r
    }

    /// Publishes the report on every surface and prints it; returns the verdict.
    pub fn finish(self, report: Report) -> anyhow::Result<Verdict> {
        self.finish_with(report, None)
    }

    /// Like [`Run::finish`], with the gate's own text for `--format human`.
    pub fn finish_with(self, mut report: Report, human_text: Option<String>) -> anyhow::Result<Verdict> {
        report.details.extend(self.notes.iter().cloned());
        let dir = self.report_dir()?;
        let report_path = publish::write_report(&report, &dir)?;
        let markdown = render::markdown(&report);
        if let Some(file) = &self.ctx.summary_file {
            publish::write_summary(file, &markdown, &report_path)?;
        }
        let mut published = publish::Published::default();
        if let Some(gh) = &self.github {
            let opts = publish::Options {
                check_name: self.check_name(),
                comment_mode: self.args.comment_mode.or(self.policy.reporting.comment_mode).unwrap_or_default(),
                comment_layout: self.policy.reporting.comment_layout,
            };
            published = self.block_on(publish::to_github(gh, &self.ctx, &report, &opts, &report_path))?;
            if let Some(why) = &published.degraded {
                if self.ctx.in_actions {
                    emit(&format!("::warning title=release-gate::{}\n", why.replace('\n', " ")));
                } else {
                    eprintln!("warning: {why}");
                }
            }
        }
        // Annotations go out once: on the check run when one was written,
        // as workflow commands only when it could not be.
        if self.ctx.in_actions && published.check_run_id.is_none() {
            emit(&publish::workflow_commands(&report));
        }
        if let Some(file) = &self.ctx.output_file {
            let path = report_path.display().to_string();
            let mut pairs = vec![
                ("verdict".to_owned(), report.verdict.as_str().to_owned()),
                ("report".to_owned(), path.clone()),
                ("report_path".to_owned(), path),
                ("check_run_url".to_owned(), published.check_run_url.clone().unwrap_or_default()),
                ("comment_url".to_owned(), published.comment_url.clone().unwrap_or_default()),
            ];
            pairs.extend(report.outputs.iter().map(|(k, v)| (k.clone(), v.clone())));
            publish::write_outputs(file, &pairs)?;
        }
        print_report(&report, &markdown, self.args.format, &report_path, human_text)?;
        Ok(report.verdict)
    }
}

/// The policy in force and notes on where it came from. On a proposed
/// change, the base commit's file (through the contents API when online);
/// otherwise the checkout's.
/// The policy in force as read: its text, the name it is shown by, and
/// where it was read (`file@base` on a proposed change).
struct InForce {
    text: Option<String>,
    shown: String,
    source: String,
    /// Where it was read, for the report.
    from: String,
}

impl InForce {
    /// The policy in force as a report names it.
    fn named(&self) -> report::PolicyInForce {
        report::PolicyInForce { file: self.text.as_ref().map(|_| self.shown.clone()), source: self.from.clone() }
    }

    /// The policy as one section's gate sees it; errors name the base commit's file when that is the source.
    fn parse<T: GateSection>(&self) -> anyhow::Result<PolicyFile<T>> {
        policy::from_text::<T>(self.text.as_deref(), Path::new(&self.shown)).map_err(|e| {
            let e = anyhow::Error::new(e);
            if self.source == self.shown { e } else { e.context(format!("the policy in force is the base commit's, `{}`", self.source)) }
        })
    }
}

async fn policy_in_force<S: GateSection>(
    root: &Root,
    args: &CommonArgs,
    ctx: &Context,
    gh: Option<&GitHub>,
) -> anyhow::Result<(PolicyFile<S>, Vec<Section>, InForce)> {
    let rel: PathBuf = args.policy.clone().unwrap_or_else(|| PathBuf::from(policy::DEFAULT_PATH));
    let shown = rel.display().to_string();
    let local = root.read_text_if_present(&rel, "policy")?;
    // The default path named explicitly (the actions' `policy` input default) may be absent: built-in defaults.
    if args.policy.as_deref().is_some_and(|p| p != Path::new(policy::DEFAULT_PATH)) && local.is_none() && !ctx.proposed_change() {
        anyhow::bail!("policy `{shown}` does not exist; check the path given to --policy (input policy), relative to the repository root");
    }
    let mut notes = Vec::new();
    let (text, source, from) = match (ctx.proposed_change(), gh, &ctx.base_sha) {
        (true, Some(gh), Some(base)) => {
            let repo_path = root.repository_path(&rel, "policy")?;
            let base_text = match gh.file(&repo_path, base).await? {
                Some(c) => Some(paths::utf8(c.bytes, Path::new(&shown), "policy")?),
                None => None,
            };
            if base_text != local {
                notes.push(Section {
                    title: "Policy".into(),
                    markdown: format!(
                        "This change {} `{shown}`. The policy in force is the base commit's (`{}`{}); the proposed one applies once the change is merged.",
                        if base_text.is_none() { "adds" } else if local.is_none() { "removes" } else { "edits" },
                        short(base),
                        if base_text.is_none() { ", which has none: the built-in defaults" } else { "" }
                    ),
                });
            }
            (base_text, format!("{shown}@{}", short(base)), format!("the base commit {} (contents API)", short(base)))
        }
        (true, _, _) => {
            notes.push(Section {
                title: "Policy".into(),
                markdown: format!(
                    "Offline, `{shown}` was read from the checkout; with a token, the base commit's policy is in force on pull requests."
                ),
            });
            (local, shown.clone(), "the checkout (offline: a pull request's base commit is not read)".to_owned())
        }
        _ => (local, shown.clone(), "the checkout".to_owned()),
    };
    if args.policy.is_some() && text.is_none() {
        anyhow::bail!("policy `{source}` does not exist; check the path given to --policy (input policy)");
    }
    let in_force = InForce { text, shown, source, from };
    Ok((in_force.parse::<S>()?, notes, in_force))
}

/// Where decision-log-commit writes the log (`decision-log-commit.log`):
/// commits that only record the log are not a new state of the release.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct LogPath {
    log: Option<String>,
}

impl GateSection for LogPath {
    const NAME: &'static str = "decision-log-commit";
}

/// The commit a local checkout is at, when `root` is the top of a git work
/// tree (a directory inside someone else's checkout, such as the bundled
/// example, is not a checkout of its own): the newest commit that changed
/// anything but the decision logs in `log_dir` (committing the log records
/// a decision about a commit; it does not make a new one to decide on),
/// `<sha>-dirty` when tracked files outside the logs and reports were
/// changed and not committed.
fn checkout_commit(root: &Path, log_dir: &Path) -> Option<String> {
    let git = |args: &[&str]| git(root, args).map(|o| String::from_utf8_lossy(&o).trim().to_owned());
    if !own_checkout(root) {
        return None;
    }
    let exclude = format!(":(exclude){}", log_dir.display());
    let code = if log_dir.as_os_str().is_empty() { None } else { git(&["log", "-1", "--format=%H", "--", ".", &exclude]) };
    // No commit changed anything else (empty commits, logs only): the first one.
    let first = || git(&["rev-list", "--max-parents=0", "HEAD"]).and_then(|l| l.lines().last().map(str::to_owned));
    let sha = code.filter(|c| c.len() == 40).or_else(first).filter(|c| c.len() == 40)?;
    // Tracked files changed and not committed (beyond the logs and the
    // gates' own reports): what is evaluated is not that commit, so the
    // results are bound to `<sha>-dirty`, which no clean checkout matches.
    let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--", "."];
    let (logs, reports) = (format!(":(exclude){}", log_dir.display()), ":(exclude)reports/release-gate".to_owned());
    if !log_dir.as_os_str().is_empty() {
        status.push(&logs);
    }
    status.push(&reports);
    match git(&status) {
        Some(changed) if changed.is_empty() => Some(sha),
        _ => Some(format!("{sha}{DIRTY}")),
    }
}

/// `git -C dir args…`'s standard output, when git ran and succeeded.
pub fn git(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
    std::process::Command::new("git").arg("-C").arg(dir).args(args).output().ok().filter(|o| o.status.success()).map(|o| o.stdout)
}

/// Whether `root` is the top of a git work tree: a checkout of its own. A
/// directory inside someone else's checkout (the bundled example) is not.
pub fn own_checkout(root: &Path) -> bool {
    let Some(top) = git(root, &["rev-parse", "--show-toplevel"]) else { return false };
    let top = String::from_utf8_lossy(&top).trim().to_owned();
    matches!((std::fs::canonicalize(top), std::fs::canonicalize(root)), (Ok(a), Ok(b)) if a == b)
}

/// What a local checkout's commit carries when tracked files were changed
/// and not committed: evidence from it matches no commit.
pub const DIRTY: &str = "-dirty";

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The instant to evaluate, and whether it is a dry run: `--now` in GitHub
/// Actions only when the policy in force allows dry runs.
fn clock<S>(args: &CommonArgs, ctx: &Context, policy: &PolicyFile<S>) -> anyhow::Result<(jiff::Timestamp, bool)> {
    let Some(given) = &args.now else { return Ok((jiff::Timestamp::now(), false)) };
    let at = policy::parse_now(given)?;
    if ctx.in_actions && !policy.evaluation.allow_dry_run {
        anyhow::bail!(
            "--now (input `now`) asks to evaluate as if at {given}, which is refused in GitHub Actions: a chosen time could turn the gate green. \
             To allow dry runs, set `evaluation: {{allow-dry-run: true}}` in the policy in force{}; a dry run is published as `<check name>{DRY_RUN_SUFFIX}`, \
             which never satisfies a required check",
            if ctx.proposed_change() { " (on pull requests, the base branch's)" } else { "" }
        );
    }
    Ok((at, true))
}

/// Writes to stdout; a closed pipe is not an error worth a panic.
pub(crate) fn emit(text: &str) {
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
        Format::Sarif => serde_json::to_string_pretty(&sarif::from_report(report))? + "\n",
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
    if report.dry_run {
        s.push_str(&format!("  dry run: evaluated as if at {}\n", report.generated_at));
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_checkout_with_uncommitted_changes_is_bound_to_no_commit() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .current_dir(dir.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        git(&["init", "-q"]);
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        std::fs::create_dir_all(dir.path().join("reports/release-gate/1.0.0")).unwrap();
        std::fs::write(dir.path().join("app.yaml"), "replicas: 2\n").unwrap();
        std::fs::write(dir.path().join("logs/1.0.0.md"), "# log\n").unwrap();
        std::fs::write(dir.path().join("reports/release-gate/1.0.0/x.json"), "{}\n").unwrap();
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "one"]);
        let sha = git(&["rev-parse", "HEAD"]);
        let logs = Path::new("logs");
        assert_eq!(checkout_commit(dir.path(), logs), Some(sha.clone()));
        // The gates' own outputs changing is not a new state of the release.
        std::fs::write(dir.path().join("logs/1.0.0.md"), "# log, GO\n").unwrap();
        std::fs::write(dir.path().join("reports/release-gate/1.0.0/x.json"), "{\"a\": 1}\n").unwrap();
        std::fs::write(dir.path().join("untracked.txt"), "x").unwrap();
        assert_eq!(checkout_commit(dir.path(), logs), Some(sha.clone()));
        // A tracked file edited and not committed: the results are no commit's.
        std::fs::write(dir.path().join("app.yaml"), "replicas: 6\n").unwrap();
        assert_eq!(checkout_commit(dir.path(), logs), Some(format!("{sha}{DIRTY}")));
    }
}
