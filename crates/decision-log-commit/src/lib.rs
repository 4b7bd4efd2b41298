//! decision-log-commit: the release captain's decision log (runbook §5 and
//! §8), written from the gates' reports and committed without losing a
//! concurrent change.
//!
//! [`render`] is a pure function of the existing log, the gates' entries,
//! the checklist evidence and the inputs; [`run`] reads the reports, the
//! evidence and the current log at the edge, and commits through GitHub's
//! contents API (blob sha as precondition, re-render and retry on conflict),
//! through `git`, or not at all.

pub mod commit;
pub mod document;
pub mod evidence;
pub mod judge;
pub mod log;
pub mod observe;
pub mod policy;

pub use document::{Hand, Recording, RenderCtx, entry_of, render, template};
pub use judge::{ItemState, blockers, checklist};
pub use observe::{file_time, read_reports};
pub use policy::{Archive, Dashboard, Evidence, ITEMS, Kind, LogPolicy};
pub use release_gate_core::evidence::CheckRuns;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use release_gate_core::Run;
use release_gate_core::cli::CommonArgs;
use release_gate_core::context::Context;
use release_gate_core::report::{Check, Status, Verdict, data};

/// Write the release's decision log from the gates' reports: evidence
/// links, readiness checklist, config hashes, go/no-go; commit it.
#[derive(Debug, Parser)]
#[command(name = "decision-log-commit", version, max_term_width = 100, after_help = release_gate_core::cli::after_help(&[("write the log from the gates' reports, commit it", "decision-log-commit --release 2.4.0"), ("locally, no commit", "decision-log-commit --release 2.4.0 --via none --no-archive")]))]
pub struct Args {
    /// How to save the log: GitHub's contents API, a local git commit, or only the file.
    #[arg(long, env = "RELEASE_GATE_VIA", value_enum, default_value = "auto")]
    pub via: Via,

    /// Branch to commit to [default: the policy's, else the PR's head branch, else GITHUB_REF_NAME].
    #[arg(long, env = "RELEASE_GATE_BRANCH", value_name = "BRANCH")]
    pub branch: Option<String>,

    /// Participants (a hand-written field; kept from the existing log when not given).
    #[arg(long, env = "RELEASE_GATE_PARTICIPANTS")]
    pub participants: Option<String>,

    /// Scope summary (hand-written field).
    #[arg(long, env = "RELEASE_GATE_SCOPE")]
    pub scope: Option<String>,

    /// Post-release notes (hand-written field).
    #[arg(long, env = "RELEASE_GATE_NOTES")]
    pub notes: Option<String>,

    /// Rollback record, e.g. "Yes: rolled back to 2.3.9 at 14:10 UTC" (default: from smoke-gate's decisions).
    #[arg(long, env = "RELEASE_GATE_ROLLBACK")]
    pub rollback: Option<String>,

    /// Evidence links for checklist items: NAME=URL (repeatable, or one per line).
    #[arg(long = "evidence", env = "RELEASE_GATE_EVIDENCE", value_name = "NAME=URL", value_delimiter = '\n')]
    pub evidence: Vec<String>,

    /// Upload the reports and the log to s3://BUCKET/<release>/ [default: the policy's archive].
    #[arg(long, env = "RELEASE_GATE_ARCHIVE_BUCKET", value_name = "BUCKET")]
    pub archive_bucket: Option<String>,

    /// Skip the S3 archive even when the policy names a bucket (`release-gate run` does).
    #[arg(long, env = "RELEASE_GATE_NO_ARCHIVE")]
    pub no_archive: bool,

    /// S3 endpoint for S3-compatible stores.
    #[arg(long, env = "RELEASE_GATE_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// Path-style S3 addressing.
    #[arg(long, env = "RELEASE_GATE_S3_PATH_STYLE")]
    pub s3_path_style: bool,

    /// Flags every gate shares (listed after the gate's own).
    #[command(flatten)]
    pub common: CommonArgs,
}

impl Args {
    /// A local run's flags (`release-gate run`): written, not committed, not archived.
    pub fn local(common: CommonArgs) -> Self {
        Self {
            common,
            via: Via::None,
            branch: None,
            participants: None,
            scope: None,
            notes: None,
            rollback: None,
            evidence: Vec::new(),
            archive_bucket: None,
            no_archive: true,
            s3_endpoint: None,
            s3_path_style: false,
        }
    }
}

impl release_gate_core::gate::Gate for Args {
    const NAME: &'static str = "decision-log-commit";

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn run(self, ctx: Context) -> anyhow::Result<Verdict> {
        run(self, ctx)
    }
}

/// Where the log goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Via {
    /// The contents API when online, else only the file.
    Auto,
    /// GitHub's contents API (commits are signed by GitHub).
    Api,
    /// A commit in the local checkout.
    Git,
    /// Only write the file.
    None,
}

/// Reads the reports, renders the log and saves it; publishes its own report.
pub fn run(args: Args, ctx: Context) -> anyhow::Result<Verdict> {
    let run = Run::<LogPolicy>::start("decision-log-commit", args.common, ctx)?;
    let now = run.now;
    let policy = run.policy.section.clone();
    let release = run.release.clone();
    let root = run.root.clone();
    let log_rel = policy.log.replace("{release}", &release);
    // The log is written inside the repository or not at all: checked before anything is read.
    root.resolve(&log_rel, "decision log (decision-log-commit.log)")?;
    let report_dir = run.report_dir()?;
    let reports = read_reports(&root, &report_dir, &release)?;
    let mut links = BTreeMap::new();
    for e in &args.evidence {
        let (k, v) = e.split_once('=').with_context(|| format!("--evidence `{e}` is not NAME=URL"))?;
        links.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    // Check runs on the commit, for evidence links and check-run evidence:
    // only those published by a trusted workflow count.
    let mut check_runs = CheckRuns::default();
    if let (Some(gh), Some(sha)) = (run.github(), run.ctx.sha.as_ref()) {
        match run.block_on(release_gate_core::evidence::by_name(gh, sha, &run.release, &run.trust())) {
            Ok(found) => check_runs = found,
            Err(e) if e.is_unreachable() => return Err(e.into()),
            Err(e) => eprintln!("release-gate: the commit's check runs could not be read ({e}); check-run evidence is missing"),
        }
    }
    let mut entries = BTreeMap::new();
    for (path, r) in &reports {
        let check = r.check_name();
        let url = check_runs
            .counting
            .get(&check)
            .map(|c| c.url.clone())
            .filter(|u| !u.is_empty())
            .or_else(|| Some(path.strip_prefix(root.real()).unwrap_or(path).display().to_string()));
        let e = entry_of(r, url).with_context(|| format!("cannot record {}", path.display()))?;
        entries.insert(e.key.clone(), e);
    }
    // A gate that ran in another job of this workflow (its report is not in
    // this job's directory) is recorded from its check run on this commit,
    // when that check run counts and the log has nothing newer for it.
    let mut fallback = BTreeMap::new();
    if let Some(sha) = run.ctx.sha.as_ref().filter(|_| run.github().is_some()) {
        for key in policy.required.iter().filter(|k| !entries.contains_key(*k)) {
            let (gate, stage) = release_gate_core::report::split_key(key);
            if let Some(c) = check_runs.counting.get(&release_gate_core::report::check_name(gate, stage)) {
                fallback.insert(key.clone(), document::entry_from_check_run(key, c, sha));
            }
        }
    }
    let hand = Hand {
        participants: args.participants.clone(),
        scope: args.scope.clone(),
        notes: args.notes.clone(),
        rollback: args.rollback.clone(),
    };
    let online = run.github().is_some();
    // Who moves the lifecycle's go/no-go; a dry run online moves nothing.
    let recording = (!run.published_dry_run()).then(|| {
        let t = run.transition(release_gate_core::decision_log::State::Go, "");
        Recording { by: t.by, via: t.via }
    });
    let ctx = RenderCtx {
        release: &release,
        log: &log_rel,
        commit: run.commit.clone(),
        online,
        files: evidence::Files::Local(&root),
        links: &links,
        check_runs: &check_runs,
        recording,
        now,
        run_url: run.ctx.run_url(),
        policy: &policy,
        fallback,
    };
    let via = match args.via {
        Via::Auto if run.github().is_some() => Via::Api,
        Via::Auto => Via::None,
        v => v,
    };
    // The blockers of the document last rendered are those of the one saved.
    let last_blockers = std::cell::RefCell::new(Vec::new());
    let render_on = |existing: Option<&str>| -> Result<String, commit::SaveError> {
        let (doc, blockers) = render(existing, &entries, &ctx, &hand)?;
        *last_blockers.borrow_mut() = blockers;
        Ok(doc)
    };

    let mut report = run.new_report();
    let saved = match via {
        Via::Api => {
            let gh = run.github().context("--via api needs GitHub: a token, GITHUB_REPOSITORY and a commit")?;
            let branch = args
                .branch
                .clone()
                .or(policy.branch.clone())
                .or_else(|| run.ctx.pull_request.as_ref().map(|pr| pr.head.name.clone()))
                .or_else(|| run.ctx.ref_name.clone())
                .context("no branch to commit the log to: pass --branch or set decision-log-commit.branch")?;
            let message = format!("Decision log for release {release}");
            let repo_path = root.in_repository(&log_rel);
            let target = commit::Target { path: &repo_path, branch: &branch, message: &message, max_attempts: policy.max_attempts };
            run.block_on(commit::via_api(gh, &target, &render_on)).map_err(commit::CommitError::from)?
        }
        Via::Git | Via::None => {
            // A log that cannot be read as text is an error, never rebuilt over.
            let existing = root
                .read_text_if_present(&log_rel, "decision log")
                .map_err(|e| anyhow::anyhow!("{e}; the log is left as it is: fix it by hand, then re-run"))?;
            let doc = render_on(existing.as_deref()).map_err(commit::CommitError::from)?;
            root.write(&log_rel, doc.as_bytes(), "decision log")?;
            if via == Via::Git {
                commit::via_git(root.real(), &log_rel, &format!("Decision log for release {release}")).map_err(commit::CommitError::from)?
            } else {
                commit::Saved { how: format!("written to {log_rel} (not committed)"), commits: 0, retries: 0, url: None, document: doc }
            }
        }
        Via::Auto => unreachable!("resolved above"),
    };
    // The verdict follows the go/no-go of what was saved.
    let final_doc = saved.document.clone();
    let blockers = last_blockers.take();
    report.push(Check::new("log", Status::Pass, saved.how.clone()));
    report.push(if blockers.is_empty() {
        Check::new("go-no-go", Status::Pass, "GO: every required gate passed and the readiness checklist is complete")
    } else {
        Check::new("go-no-go", Status::Fail, format!("NO-GO: {}", blockers.join("; ")))
    });
    if let Some(bucket) = args.archive_bucket.clone().or(policy.archive.bucket.clone()).filter(|_| !args.no_archive) {
        let prefix = policy.archive.prefix.clone().unwrap_or_else(|| "{release}/".into()).replace("{release}", &release);
        let mut files: Vec<(String, Vec<u8>)> =
            reports.iter().filter_map(|(p, _)| Some((p.file_name()?.to_string_lossy().into_owned(), std::fs::read(p).ok()?))).collect();
        files.push((
            Path::new(&log_rel).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "decision-log.md".into()),
            final_doc.clone().into_bytes(),
        ));
        let settings = release_gate_s3::Settings {
            endpoint: args.s3_endpoint.clone(),
            region: None,
            path_style: args.s3_path_style,
            attempts: run.ctx.s3_attempts,
            attempt_timeout: run.ctx.s3_attempt_timeout,
        };
        let n = run.block_on(commit::archive(&settings, &bucket, &prefix, &files))?;
        report.push(Check::new("archive", Status::Pass, format!("{n} file(s) uploaded to s3://{bucket}/{prefix} with SHA-256 checksums")));
        report.output("archive", format!("s3://{bucket}/{prefix}"));
    }
    report.output("decision", if blockers.is_empty() { "go" } else { "no-go" });
    report.output("log", log_rel.clone());
    report.output("commits", saved.commits.to_string());
    report.output("retries", saved.retries.to_string());
    if let Some(u) = &saved.url {
        report.output("url", u.clone());
    }
    report.title = if blockers.is_empty() {
        format!("GO for release {release}")
    } else {
        format!("NO-GO for release {release}: {} blocker(s)", blockers.len())
    };
    report.details.push(release_gate_core::report::Section { title: "Decision log".into(), markdown: final_doc.clone() });
    report.set_data(&data::DecisionLog {
        log: log_rel,
        blockers,
        commits: saved.commits,
        retries: saved.retries,
        gates: entries.keys().cloned().collect(),
    });
    run.finish(report)
}
