//! What deploy-check reads: from a checkout ([`facts_local`]), or through
//! the API alone for a deployment protection rule ([`facts_remote`]).
//! Evidence that cannot be read is an error, never a pass.

use std::collections::BTreeMap;
use std::path::Path;

use config_diff::ConfigDiffPolicy;
use decision_log_commit::LogPolicy;
use freeze_check::observe::ObserveError as FreezeError;
use release_gate_core::Run;
use release_gate_core::github::ApiError;
use release_gate_core::paths::PathError;
use release_gate_core::policy::PolicyError;
use release_gate_core::report::{Report, ReportError};

use decision_log_commit::evidence::{self, Files, Sources};
use decision_log_commit::log::GateEntry;
use decision_log_commit::{ItemState, checklist};
use release_gate_core::decision_log::Lifecycle;
use release_gate_core::evidence::CheckRuns;

use super::DeployPolicy;
use super::judge::{Facts, GateResult, Hashed, from_check_runs, required, result_of};

/// What the go/no-go is re-read from, besides the gates: the checklist's
/// evidence, the log's lifecycle record and the guard's check run.
struct Readiness {
    items: Vec<ItemState>,
    lifecycle: Result<Lifecycle, String>,
    guard: Option<(String, String)>,
}

/// Where the go/no-go's evidence is read, for [`readiness`].
struct ReadFrom<'a> {
    release: &'a str,
    commit: Option<&'a str>,
    entries: &'a BTreeMap<String, GateEntry>,
    files: Files<'a>,
    runs: &'a CheckRuns,
    online: bool,
    log: (&'a str, Option<&'a str>),
    now: jiff::Timestamp,
    /// `release-guard.resume.approvers`: whom a recorded resume may be by.
    approvers: &'a [String],
}

/// The checklist read now from its evidence, the lifecycle from the log,
/// and the guard's newest decision from its check run.
fn readiness(policy: &LogPolicy, f: &ReadFrom<'_>) -> Readiness {
    let links = BTreeMap::new();
    let sources = Sources {
        release: f.release,
        commit: f.commit,
        entries: f.entries,
        files: f.files,
        links: &links,
        check_runs: f.runs,
        online: f.online,
    };
    let items = checklist(policy, &|ev| evidence::read(ev, &sources), f.now);
    let lifecycle = match f.log.1 {
        Some(text) => Lifecycle::read(text, f.release, f.log.0).map_err(|e| e.to_string()),
        None => Ok(Lifecycle::new(f.release)),
    }
    .and_then(|lc| lc.resumes_by(f.approvers).map(|()| lc).map_err(|e| format!("{}: {e}", f.log.0)));
    let guard = f.runs.counting.get("release-gate/release-guard").and_then(|c| c.id.decision.clone().map(|d| (d, c.url.clone())));
    Readiness { items, lifecycle, guard }
}

/// `release-guard.resume.approvers` in the policy in force; a section that
/// does not read names nobody (so no recorded resume is taken on trust).
fn resume_approvers(text: Option<&str>, path: &Path) -> Vec<String> {
    release_gate_core::policy::from_text::<release_guard::policy::GuardPolicy>(text, path)
        .map(|p| p.section.resume.approvers)
        .unwrap_or_default()
}

/// The report keys the deploy reads: the required ones and every one the checklist names.
fn keys_read(required: &[String], policy: &LogPolicy) -> Vec<String> {
    let mut keys: Vec<String> = required.to_vec();
    keys.extend(policy.checklist.values().flatten().filter_map(|e| e.report.clone()));
    keys.sort();
    keys.dedup();
    keys
}

/// The gates' results from their check runs that count on `sha`, as log entries.
fn entries_from_check_runs(keys: &[String], runs: &CheckRuns, sha: &str) -> BTreeMap<String, GateEntry> {
    keys.iter()
        .filter_map(|key| {
            let (gate, stage) = release_gate_core::report::split_key(key);
            let c = runs.counting.get(&release_gate_core::report::check_name(gate, stage))?;
            Some((key.clone(), decision_log_commit::document::entry_from_check_run(key, c, sha)))
        })
        .collect()
}

/// What deploy-check cannot read (exit 2, or 3 for GitHub unreachable).
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// GitHub stayed unreachable, or refused a read the decision needs.
    #[error("{0}")]
    Api(#[from] ApiError),
    /// A file that is outside the repository, not a file, or not UTF-8.
    #[error("{0}")]
    Path(#[from] PathError),
    /// A report that does not read.
    #[error("{0}")]
    Report(#[from] ReportError),
    /// The policy on the default branch does not read.
    #[error("{0}")]
    Policy(#[from] PolicyError),
    /// freeze-check's calendars or roster do not read.
    #[error("{0}")]
    Freeze(#[from] FreezeError),
    /// The report directory holds another release's report.
    #[error("{0}")]
    Reports(String),
}

/// The facts from a checkout: the log and reports on disk, the
/// configuration's hashes computed, check runs when online.
pub fn facts_local(
    run: &Run<DeployPolicy>,
    policies: (&LogPolicy, &ConfigDiffPolicy),
    report_dir: &Path,
    freeze: Report,
) -> Result<Facts, ObserveError> {
    let (log_policy, config_policy) = policies;
    let required = required(&run.policy.section, log_policy);
    let log_rel = log_policy.log.replace("{release}", &run.release);
    let commit = run.ctx.sha.clone().filter(|_| run.github().is_some());
    // Online, the log on the branch being deployed (an earlier job may have
    // committed it through the API); offline, the checkout's.
    let (log_text, log_url) = match (run.github(), &commit) {
        (Some(gh), Some(sha)) => {
            // The log is committed after the commit it records: read at the release branch's head.
            let at = release_gate_core::release::log_branch(
                &run.release,
                log_policy.branch.as_deref(),
                run.ctx.git_ref.as_deref().or(run.ctx.ref_name.as_deref()),
            );
            let _ = sha;
            let path = run.root.repository_path(&log_rel, "decision log")?;
            let text = match run.block_on(gh.file(&path, &at))? {
                Some(c) => Some(release_gate_core::paths::utf8(c.bytes, Path::new(&log_rel), "decision log")?),
                None => None,
            };
            let url = format!("{}/{}/{}/blob/{}/{path}", run.ctx.server_url, gh.owner, gh.repo, at);
            (text, Some(url))
        }
        _ => (run.root.read_text_if_present(&log_rel, "decision log")?, None),
    };
    let (gates, entries, runs) = match (run.github(), &commit) {
        (Some(gh), Some(sha)) => {
            let runs = run.block_on(release_gate_core::evidence::by_name(gh, sha, &run.release, &run.trust()))?;
            (from_check_runs(&required, &runs), entries_from_check_runs(&keys_read(&required, log_policy), &runs, sha), runs)
        }
        _ => {
            let dir = report_dir;
            let mut out = BTreeMap::new();
            for key in &required {
                let path = dir.join(format!("{key}.json"));
                let shown = path.strip_prefix(run.root.real()).unwrap_or(&path).display().to_string();
                let result = match run.root.file(&path, "report") {
                    Ok(file) => result_of(&Report::read(&file)?, key, &run.release, &shown),
                    Err(e) if e.is_not_found() => GateResult::Refused(format!("no report at `{shown}`")),
                    Err(e) => return Err(e.into()),
                };
                out.insert(key.clone(), result);
            }
            let reports = decision_log_commit::read_reports(&run.root, dir, &run.release).map_err(|e| match e {
                decision_log_commit::observe::ReportsError::Report(r) => ObserveError::Report(r),
                other => ObserveError::Reports(other.to_string()),
            })?;
            let mut entries = BTreeMap::new();
            for (path, r) in reports {
                let shown = path.strip_prefix(run.root.real()).unwrap_or(&path).display().to_string();
                let e = decision_log_commit::entry_of(&r, Some(shown))?;
                entries.insert(e.key.clone(), e);
            }
            (out, entries, CheckRuns::default())
        }
    };
    // Offline, the commit a local checkout is at binds the evidence too.
    let bound = commit.clone().or_else(|| run.commit.clone());
    let online = run.github().is_some();
    let approvers = run.section::<release_guard::policy::GuardPolicy>().map(|g| g.resume.approvers).unwrap_or_default();
    let r = readiness(
        log_policy,
        &ReadFrom {
            release: &run.release,
            commit: bound.as_deref(),
            entries: &entries,
            files: Files::Local(&run.root),
            runs: &runs,
            online,
            log: (&log_rel, log_text.as_deref()),
            now: run.now,
            approvers: &approvers,
        },
    );
    // Offline the log is the checkout's, which anyone can edit: it must
    // extend every version git holds (a pause cut out is found).
    let lifecycle = match r.lifecycle {
        Ok(lc) if !online => release_gate_core::decision_log::lifecycle::append_only(run.root.real(), &log_rel, &lc).map(|()| lc),
        other => other,
    };
    let hashes = match config_diff::applied_hashes(&run.root, config_policy, &run.release) {
        Ok(h) => Hashed::Computed(h),
        Err(e) => Hashed::Unreadable(release_gate_core::error::describe(&e)),
    };
    // Offline the guard's report is the mirror its check run is online: a
    // pause or rollback it decided stands until a resume's report follows.
    let guard = match r.guard {
        Some(g) => Some(g),
        None if !online => {
            let path = report_dir.join("release-guard.json");
            let shown = path.strip_prefix(run.root.real()).unwrap_or(&path).display().to_string();
            match run.root.file(&path, "report") {
                Ok(file) => {
                    let g = Report::read(&file)?;
                    g.outputs.get("decision").filter(|_| g.release == run.release).map(|d| (d.clone(), format!("`{shown}`")))
                }
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e.into()),
            }
        }
        None => None,
    };
    Ok(Facts {
        release: run.release.clone(),
        commit: bound,
        log: (log_rel, log_text),
        log_url,
        required,
        gates,
        entries,
        items: r.items,
        online,
        lifecycle,
        guard,
        dry_run: run.published_dry_run(),
        hashes,
        freeze,
    })
}

/// freeze-check's rules evaluated at `now`, into a report of their own;
/// calendars and the roster are read through `read`.
pub fn freeze_at(
    policy: &freeze_check::policy::FreezePolicy,
    display_timezone: &str,
    release: &str,
    now: jiff::Timestamp,
    read: &dyn Fn(&Path, &str) -> Result<String, freeze_check::observe::ObserveError>,
    pr: Option<freeze_check::scope::PullFacts>,
) -> Result<Report, freeze_check::observe::ObserveError> {
    let input = freeze_check::inputs(policy, display_timezone, read, now, pr)?;
    let mut report = Report::new("freeze-check", release, now, None);
    freeze_check::evaluate(policy, release, &input, &mut report);
    Ok(report)
}

/// The merged pull request a commit came from, as freeze-check's emergency
/// rule reads it: a deploy in a freeze needs the emergency approval on it.
pub async fn merged_pull(
    gh: &release_gate_core::github::GitHub,
    sha: &str,
    policy: &freeze_check::policy::FreezePolicy,
) -> Result<Option<freeze_check::scope::PullFacts>, ApiError> {
    // A token that cannot list pull requests leaves no emergency to grant
    // (the freeze then refuses); only an unreachable GitHub is an error.
    let found = match gh.pulls_for_commit(sha).await {
        Ok(list) => list.into_iter().find(|p| p.merged_at.is_some()),
        Err(e) if e.is_unreachable() => return Err(e),
        Err(_) => None,
    };
    let Some(found) = found else { return Ok(None) };
    let pr = match gh.pull(found.number).await {
        Ok(pr) => pr,
        Err(e) if e.is_unreachable() => return Err(e),
        Err(_) => return Ok(None),
    };
    Ok(Some(freeze_check::pull_facts(Some(gh), &pr, policy).await?))
}

/// What a deployment protection rule is asked about, and what it trusts.
#[derive(Debug, Clone)]
pub struct Asked {
    /// The policy file's text on the default branch (`None`: built-in defaults).
    pub policy_text: Option<String>,
    /// The policy's path, for messages.
    pub policy_path: String,
    /// The default branch: where the policy, calendars and roster are read.
    pub default_branch: String,
    /// The release.
    pub release: String,
    /// The commit to deploy.
    pub sha: String,
    /// The web base URL, for links.
    pub server_url: String,
    /// The instant evaluated.
    pub now: jiff::Timestamp,
    /// The waiting workflow run's file: trusted by default, like a gate's own workflow.
    pub workflow: Option<String>,
    /// The branch the decision log is committed to (the release branch):
    /// the log records the commit it decided on, so it is read at the
    /// branch's head, never at that commit.
    pub log_branch: String,
}

/// The facts through the API alone, for a deployment protection rule: the
/// log at the commit, the check runs that count on it, config-diff's result
/// on it standing for the hashes (there is no checkout to hash), freeze-check now.
pub async fn facts_remote(gh: &release_gate_core::github::GitHub, a: &Asked) -> Result<(Facts, LogPolicy), ObserveError> {
    use release_gate_core::policy::from_text;
    let path = Path::new(&a.policy_path);
    let deploy = from_text::<DeployPolicy>(a.policy_text.as_deref(), path)?;
    let log_policy = from_text::<LogPolicy>(a.policy_text.as_deref(), path)?.section;
    let freeze = from_text::<freeze_check::policy::FreezePolicy>(a.policy_text.as_deref(), path)?;
    let required = required(&deploy.section, &log_policy);
    let log_rel = log_policy.log.replace("{release}", &a.release);
    let log_text = match gh.file(&log_rel, &a.log_branch).await? {
        Some(c) => Some(release_gate_core::paths::utf8(c.bytes, Path::new(&log_rel), "decision log")?),
        None => None,
    };
    let log_url = Some(format!("{}/{}/{}/blob/{}/{log_rel}", a.server_url, gh.owner, gh.repo, a.log_branch));
    let mut workflows = deploy.evaluation.trusted_workflows.clone();
    if workflows.is_empty() {
        workflows.extend(a.workflow.clone());
    }
    let trust = release_gate_core::evidence::Trust { apps: deploy.evaluation.trusted_apps.clone(), workflows };
    let runs = release_gate_core::evidence::by_name(gh, &a.sha, &a.release, &trust).await?;
    let gates = from_check_runs(&required, &runs);
    let entries = entries_from_check_runs(&keys_read(&required, &log_policy), &runs, &a.sha);
    // The checklist's files, as they are at the commit deployed.
    let mut fetched = BTreeMap::new();
    for rel in evidence::files_named(&log_policy, &a.release) {
        let got = match gh.file(&rel, &a.sha).await {
            Ok(Some(c)) => Ok(c.bytes),
            Ok(None) => Err(format!("not in commit {}", a.sha.get(..12).unwrap_or(&a.sha))),
            Err(e) if e.is_unreachable() => return Err(e.into()),
            Err(e) => Err(format!("cannot be read through the API ({e})")),
        };
        fetched.insert(rel, got);
    }
    let r = readiness(
        &log_policy,
        &ReadFrom {
            release: &a.release,
            commit: Some(&a.sha),
            entries: &entries,
            files: Files::Fetched(&fetched),
            runs: &runs,
            online: true,
            log: (&log_rel, log_text.as_deref()),
            now: a.now,
            approvers: &resume_approvers(a.policy_text.as_deref(), path),
        },
    );
    let config =
        from_check_runs(&["config-diff".to_owned()], &runs).remove("config-diff").unwrap_or(GateResult::Refused("no result".into()));
    // Calendars and the roster from the default branch, read before the (synchronous) rules run.
    let mut files = BTreeMap::new();
    for p in freeze_check::files_read(&freeze.section) {
        let shown = p.display().to_string();
        let text = match gh.file(&shown, &a.default_branch).await? {
            Some(c) => Ok(release_gate_core::paths::utf8(c.bytes, &p, "freeze-check file")?),
            None => Err(format!("`{shown}` is not on {}", a.default_branch)),
        };
        files.insert(p, text);
    }
    let read = |p: &Path, what: &str| -> Result<String, FreezeError> {
        match files.get(p) {
            Some(Ok(t)) => Ok(t.clone()),
            Some(Err(why)) => Err(FreezeError::Remote { what: what.to_owned(), why: why.clone() }),
            None => Err(FreezeError::Remote { what: what.to_owned(), why: format!("`{}` was not read", p.display()) }),
        }
    };
    let pr = merged_pull(gh, &a.sha, &freeze.section).await?;
    let freeze_report = freeze_at(&freeze.section, &freeze.reporting.display_timezone, &a.release, a.now, &read, pr)?;
    let facts = Facts {
        release: a.release.clone(),
        commit: Some(a.sha.clone()),
        log: (log_rel, log_text),
        log_url,
        required,
        gates,
        entries,
        items: r.items,
        online: true,
        lifecycle: r.lifecycle,
        guard: r.guard,
        dry_run: false,
        hashes: Hashed::ByConfigDiff(config),
        freeze: freeze_report,
    };
    Ok((facts, log_policy))
}
