//! Which check runs count as evidence. A check run's name is not proof of
//! anything, and neither is what its `external_id` claims: any workflow
//! with `checks: write` can create one called `release-gate/freeze-check`
//! whose `external_id` names the trusted run. One counts only when
//! - the app that created it is trusted (`evaluation.trusted-apps`,
//!   default `github-actions`);
//! - its `external_id` is one this version of release-gate writes, for
//!   **this release**;
//! - the **check suite GitHub filed it under** belongs to a workflow run of
//!   a trusted workflow file (`evaluation.trusted-workflows`; default the
//!   workflow running now) on **this commit**, looked up through the API
//!   (`GET …/actions/runs?check_suite_id=`), never taken from the claim;
//! - the run its `external_id` claims is that run, or another trusted
//!   workflow run on this commit (GitHub files a check run created with a
//!   workflow's token under the commit's *first* workflow run, whichever
//!   workflow asked), and had the attempt it claims;
//! - no other check run of the same name claims the same run attempt: a
//!   gate writes one result per attempt, so two are a forgery beside the
//!   real one, and neither counts.
//!
//! Of the check runs that count for a name, the newest by `completed_at`
//! decides (GitHub documents no order for the list).

use std::collections::BTreeMap;

use crate::comment;
use crate::github::types::{CheckRun, WorkflowRun};
use crate::github::{ApiError, GitHub};
use crate::publish::ExternalId;
use crate::report::Status;

/// What may publish evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    /// App slugs.
    pub apps: Vec<String>,
    /// Workflow files (`.github/workflows/x.yml`).
    pub workflows: Vec<String>,
}

/// A check run, and whether it counts (or why not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The check run.
    pub run: CheckRun,
    /// `Ok` with the workflow run that produced it when it counts; else why not.
    pub counts: Result<u64, String>,
}

/// Check runs on a commit by name: the newest that counts, and why the
/// others carrying the name do not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckRuns {
    /// Name → the newest check run that counts.
    pub counting: BTreeMap<String, Counted>,
    /// Name → why a check run with that name does not count.
    pub refused: BTreeMap<String, String>,
}

/// A check run that counts, as evidence readers use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// `success`, `neutral`, `failure`, …; `pending` while it has none.
    pub conclusion: String,
    /// Its page.
    pub url: String,
    /// Its headline (the report's title).
    pub title: String,
    /// What release-gate recorded in its `external_id`.
    pub id: ExternalId,
    /// When it completed, RFC 3339.
    pub completed_at: String,
    /// The workflow run whose check suite holds it.
    pub producer: u64,
    /// Each of the gate's checks and its status, from the row the gate
    /// embedded in the check run (empty when it has none).
    pub statuses: BTreeMap<String, Status>,
}

impl Counted {
    /// Whether it passed (`success`, or `neutral` for a pass with warnings).
    pub fn passed(&self) -> bool {
        self.conclusion == "success" || self.conclusion == "neutral"
    }
}

impl CheckRuns {
    /// Whether the newest counting check run called `name` passed.
    pub fn passed(&self, name: &str) -> bool {
        self.counting.get(name).is_some_and(Counted::passed)
    }
}

/// The commit's check runs that count for `release`, by name.
pub async fn by_name(gh: &GitHub, sha: &str, release: &str, trust: &Trust) -> Result<CheckRuns, ApiError> {
    let mut out = CheckRuns::default();
    let mut newest: BTreeMap<String, (jiff::Timestamp, Counted)> = BTreeMap::new();
    for j in check_runs(gh, sha, release, trust).await? {
        match j.counts {
            Ok(producer) => {
                // Counting implies release-gate's external id.
                let Some(id) = j.run.external_id.as_deref().and_then(ExternalId::parse) else { continue };
                // A check run still running has no result: older than any that completed.
                let at = j.run.completed_at.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok()).unwrap_or(jiff::Timestamp::MIN);
                let counted = Counted {
                    conclusion: j.run.conclusion.clone().unwrap_or_else(|| "pending".into()),
                    url: j.run.html_url.clone().unwrap_or_default(),
                    title: j.run.output.title.clone().unwrap_or_default(),
                    id,
                    completed_at: j.run.completed_at.clone().unwrap_or_default(),
                    producer,
                    statuses: j.run.output.summary.as_deref().and_then(comment::Row::find_in).map(|r| r.statuses).unwrap_or_default(),
                };
                match newest.get(&j.run.name) {
                    // Equal instants: the failure wins (never the kinder reading).
                    Some((t, c)) if *t > at || (*t == at && !c.passed()) => {}
                    _ => {
                        newest.insert(j.run.name.clone(), (at, counted));
                    }
                }
            }
            Err(why) => {
                out.refused.entry(j.run.name.clone()).or_insert(why);
            }
        }
    }
    out.counting = newest.into_iter().map(|(k, (_, c))| (k, c)).collect();
    Ok(out)
}

/// The commit's check runs, each judged for `release` (in the order listed).
pub async fn check_runs(gh: &GitHub, sha: &str, release: &str, trust: &Trust) -> Result<Vec<Judged>, ApiError> {
    let runs = gh.check_runs(sha, None).await?;
    let mut lookups = Lookups::default();
    let mut out = Vec::with_capacity(runs.len());
    for run in runs {
        let counts = judge(gh, &run, sha, release, trust, &mut lookups).await?;
        out.push(Judged { run, counts });
    }
    // One result per gate and attempt: two that count claiming the same
    // attempt of the same run mean one was written by someone else.
    let mut claims: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for j in out.iter().filter(|j| j.counts.is_ok()) {
        if let Some(id) = j.run.external_id.as_deref().and_then(ExternalId::parse) {
            *claims.entry((j.run.name.clone(), id.run_id.unwrap_or_default(), id.run_attempt)).or_default() += 1;
        }
    }
    for j in &mut out {
        let Some(id) = j.run.external_id.as_deref().and_then(ExternalId::parse) else { continue };
        let key = (j.run.name.clone(), id.run_id.clone().unwrap_or_default(), id.run_attempt.clone());
        if j.counts.is_ok() && claims.get(&key).copied().unwrap_or(0) > 1 {
            j.counts = Err(format!(
                "{} check runs called `{}` claim attempt {} of workflow run {}, which writes one: the others were not written by it, so none counts",
                claims[&key], j.run.name, id.run_attempt, key.1
            ));
        }
    }
    Ok(out)
}

/// Workflow runs looked up once per run: by suite, and by id.
#[derive(Default)]
struct Lookups {
    suites: BTreeMap<u64, Result<Option<WorkflowRun>, String>>,
    runs: BTreeMap<u64, Result<WorkflowRun, String>>,
}

impl Lookups {
    async fn suite(&mut self, gh: &GitHub, suite: u64) -> Result<Result<Option<WorkflowRun>, String>, ApiError> {
        if let Some(known) = self.suites.get(&suite) {
            return Ok(known.clone());
        }
        let found = match gh.runs_of_suite(suite).await {
            Ok(list) if list.len() > 1 => Err(format!("its check suite {suite} lists {} workflow runs", list.len())),
            Ok(list) => Ok(list.into_iter().next()),
            Err(e) if e.is_unreachable() => return Err(e),
            Err(e) => Err(e.to_string()),
        };
        self.suites.insert(suite, found.clone());
        Ok(found)
    }

    async fn run(&mut self, gh: &GitHub, id: u64) -> Result<Result<WorkflowRun, String>, ApiError> {
        if let Some(known) = self.runs.get(&id) {
            return Ok(known.clone());
        }
        let found = match gh.workflow_run(id).await {
            Ok(w) => Ok(w),
            Err(e) if e.is_unreachable() => return Err(e),
            Err(e) => Err(e.to_string()),
        };
        self.runs.insert(id, found.clone());
        Ok(found)
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Why a workflow run is not one whose results count here, if it is not.
fn untrusted(w: &WorkflowRun, sha: &str, trust: &Trust) -> Option<String> {
    if !trust.workflows.iter().any(|t| t == &w.path) {
        return Some(format!(
            "workflow run {} is of `{}`, not of {}",
            w.id,
            w.path,
            if trust.workflows.is_empty() { "a trusted workflow".to_owned() } else { trust.workflows.join(" or ") }
        ));
    }
    if w.head_sha != sha {
        return Some(format!("workflow run {} was for commit {}, not this one", w.id, short(&w.head_sha)));
    }
    None
}

async fn judge(
    gh: &GitHub,
    run: &CheckRun,
    sha: &str,
    release: &str,
    trust: &Trust,
    lookups: &mut Lookups,
) -> Result<Result<u64, String>, ApiError> {
    let slug = run.app.as_ref().and_then(|a| a.slug.clone()).unwrap_or_default();
    if !trust.apps.contains(&slug) {
        return Ok(Err(format!("created by the app `{slug}`, not by {}", trust.apps.join(" or "))));
    }
    let Some(id) = run.external_id.as_deref().and_then(ExternalId::parse) else {
        return Ok(Err("not published by this version of release-gate (no release-gate/v3 external id); re-run the gate".into()));
    };
    if id.release != release {
        return Ok(Err(format!("it is release {}'s result, not {release}'s", id.release)));
    }
    let Some(claimed) = id.run_id.as_deref().and_then(|r| r.parse::<u64>().ok()) else {
        return Ok(Err("published outside a workflow run".into()));
    };
    // Whose it is: the suite GitHub filed it under, not the claim.
    let Some(suite) = run.check_suite.as_ref().map(|s| s.id) else {
        return Ok(Err("GitHub names no check suite for it".into()));
    };
    let producer = match lookups.suite(gh, suite).await? {
        Err(e) => return Ok(Err(format!("its check suite {suite} could not be looked up ({e})"))),
        Ok(None) => return Ok(Err(format!("its check suite {suite} belongs to no workflow run (it was created outside Actions)"))),
        Ok(Some(w)) => w,
    };
    if let Some(why) = untrusted(&producer, sha, trust) {
        return Ok(Err(format!(
            "GitHub filed it under {why}; if that workflow is yours and runs on release commits, list it in evaluation.trusted-workflows"
        )));
    }
    let claimed_run = if claimed == producer.id {
        producer.clone()
    } else {
        match lookups.run(gh, claimed).await? {
            Err(e) => return Ok(Err(format!("it claims workflow run {claimed}, which could not be read ({e})"))),
            Ok(w) => {
                if let Some(why) = untrusted(&w, sha, trust) {
                    return Ok(Err(format!("it claims {why}, while GitHub filed it under workflow run {}", producer.id)));
                }
                w
            }
        }
    };
    let attempts = claimed_run.run_attempt.unwrap_or(1);
    match id.run_attempt.parse::<u64>() {
        Ok(a) if a >= 1 && a <= attempts => Ok(Ok(producer.id)),
        _ => Ok(Err(format!("it claims attempt {} of workflow run {claimed}, which has had {attempts} attempt(s)", id.run_attempt))),
    }
}
