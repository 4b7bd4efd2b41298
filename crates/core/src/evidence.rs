//! Which check runs count as evidence. A check run's name is not proof of
//! anything: any workflow with `checks: write` can create one called
//! `release-gate/freeze-check`. One counts only when
//! - the app that created it is trusted (`evaluation.trusted-apps`,
//!   default `github-actions`),
//! - its `external_id` is one release-gate wrote, naming the workflow run
//!   that published it, and
//! - that workflow run is of a trusted workflow file
//!   (`evaluation.trusted-workflows`; default the workflow running now) and
//!   ran for the same commit.

use std::collections::BTreeMap;

use crate::github::types::CheckRun;
use crate::github::{ApiError, GitHub};
use crate::publish::ExternalId;

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
    /// `Ok` when it counts; else why not.
    pub counts: Result<(), String>,
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

/// The commit's check runs that count, by name.
pub async fn by_name(gh: &GitHub, sha: &str, trust: &Trust) -> Result<CheckRuns, ApiError> {
    let mut out = CheckRuns::default();
    for j in check_runs(gh, sha, trust).await? {
        match j.counts {
            Ok(()) => {
                // Counting implies release-gate's external id.
                let Some(id) = j.run.external_id.as_deref().and_then(ExternalId::parse) else { continue };
                out.counting.entry(j.run.name.clone()).or_insert_with(|| Counted {
                    conclusion: j.run.conclusion.clone().unwrap_or_else(|| "pending".into()),
                    url: j.run.html_url.clone().unwrap_or_default(),
                    title: j.run.output.title.clone().unwrap_or_default(),
                    id,
                });
            }
            Err(why) => {
                out.refused.entry(j.run.name.clone()).or_insert(why);
            }
        }
    }
    Ok(out)
}

/// The commit's check runs, each judged; newest first, as GitHub lists them.
pub async fn check_runs(gh: &GitHub, sha: &str, trust: &Trust) -> Result<Vec<Judged>, ApiError> {
    let runs = gh.check_runs(sha, None).await?;
    let mut workflows: BTreeMap<u64, Result<(String, String), String>> = BTreeMap::new();
    let mut out = Vec::with_capacity(runs.len());
    for run in runs {
        let counts = judge(gh, &run, sha, trust, &mut workflows).await?;
        out.push(Judged { run, counts });
    }
    Ok(out)
}

async fn judge(
    gh: &GitHub,
    run: &CheckRun,
    sha: &str,
    trust: &Trust,
    workflows: &mut BTreeMap<u64, Result<(String, String), String>>,
) -> Result<Result<(), String>, ApiError> {
    let slug = run.app.as_ref().and_then(|a| a.slug.clone()).unwrap_or_default();
    if !trust.apps.contains(&slug) {
        return Ok(Err(format!("created by the app `{slug}`, not by {}", trust.apps.join(" or "))));
    }
    let Some(id) = run.external_id.as_deref().and_then(ExternalId::parse) else {
        return Ok(Err("not published by release-gate (no release-gate external id)".into()));
    };
    let Some(run_id) = id.run_id.as_deref().and_then(|r| r.parse::<u64>().ok()) else {
        return Ok(Err("published outside a workflow run".into()));
    };
    if let std::collections::btree_map::Entry::Vacant(slot) = workflows.entry(run_id) {
        slot.insert(match gh.workflow_run(run_id).await {
            Ok(w) => Ok((w.path, w.head_sha)),
            Err(e) if e.is_unreachable() => return Err(e),
            Err(e) => Err(e.to_string()),
        });
    }
    Ok(match &workflows[&run_id] {
        Err(e) => Err(format!("its workflow run {run_id} could not be read ({e})")),
        Ok((path, _)) if !trust.workflows.iter().any(|w| w == path) => Err(format!(
            "published by the workflow `{path}`, not by {}",
            if trust.workflows.is_empty() { "a trusted workflow".to_owned() } else { trust.workflows.join(" or ") }
        )),
        Ok((_, head)) if head != sha => Err(format!("its workflow run was for commit {}, not this one", &head[..head.len().min(12)])),
        Ok(_) => Ok(()),
    })
}
