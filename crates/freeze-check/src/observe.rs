//! What freeze-check's rules read besides the clock: the calendars and the
//! on-call roster (from the checkout, or through the contents API for a
//! deployment protection rule), and the pull request with its reviews,
//! teams and permissions when the emergency label asks for them.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;
use release_gate_core::error::Located;
use release_gate_core::github::{ApiError, GitHub};
use release_gate_core::paths::PathError;
use release_gate_core::policy::PolicyError;

use crate::policy::{FreezePolicy, Zone};
use crate::scope::{self, PullFacts};
use crate::{Inputs, ics, oncall};

/// What the rules need cannot be read (exit 2): never "no blackouts".
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// A calendar or the roster in the checkout.
    #[error("{0}")]
    File(#[from] PathError),
    /// A calendar or the roster through the contents API.
    #[error("{what}: {why}")]
    Remote {
        /// Which setting names it.
        what: String,
        /// Why it was not read.
        why: String,
    },
    /// A calendar that does not read, at its line.
    #[error("{0}")]
    Calendar(#[from] Located),
    /// A roster that does not read, at its line.
    #[error("{0}")]
    Roster(#[from] PolicyError),
    /// An unknown display zone.
    #[error("reporting.display-timezone: {0}")]
    DisplayZone(String),
}

/// What the rules read besides the pull request: the calendars and the
/// on-call roster, through `read(path, what)` (the checkout, or the
/// contents API for a deployment protection rule), and the display zone.
pub fn inputs(
    policy: &FreezePolicy,
    display_timezone: &str,
    read: &dyn Fn(&Path, &str) -> Result<String, ObserveError>,
    now: Timestamp,
    pr: Option<PullFacts>,
) -> Result<Inputs, ObserveError> {
    let mut calendar = Vec::new();
    for path in &policy.calendars {
        let text = read(path, "calendar (freeze-check.calendars)")?;
        calendar.extend(ics::parse(&text, path, &policy.calendar_timezone.tz)?);
    }
    let roster = match &policy.oncall {
        Some(rule) => Some(oncall::parse(&read(&rule.roster, "on-call roster (freeze-check.oncall.roster)")?, &rule.roster)?),
        None => None,
    };
    let display = Zone::named(display_timezone).map_err(ObserveError::DisplayZone)?;
    Ok(Inputs { now, calendar, pr, train: None, roster, display })
}

/// The train export the policy names for `release`, read from the
/// checkout: `None` when none is configured, `Err(path)` when it is not
/// there; one that does not read is an error at its line.
pub fn train(
    policy: &FreezePolicy,
    release: &str,
    root: &release_gate_core::paths::Root,
) -> Result<Option<Result<scope::Train, String>>, ObserveError> {
    let Some(file) = &policy.release_train.file else { return Ok(None) };
    let rel = file.replace("{release}", release);
    match root.read_text_if_present(&rel, "release train export (freeze-check.release-train.file)")? {
        None => Ok(Some(Err(rel))),
        Some(text) => Ok(Some(Ok(scope::parse_train(&text, &rel)?))),
    }
}

/// The files [`inputs`] reads: the calendars and the roster.
pub fn files_read(policy: &FreezePolicy) -> Vec<std::path::PathBuf> {
    policy.calendars.iter().cloned().chain(policy.oncall.iter().map(|r| r.roster.clone())).collect()
}

/// The pull request as the rules see it: the event's copy, refreshed from
/// the API when online (labels change after the event), with reviews, team
/// memberships and permissions fetched only when the emergency label asks
/// for them.
pub async fn pull_facts(
    gh: Option<&GitHub>,
    pr: &release_gate_core::context::PullRequest,
    policy: &FreezePolicy,
) -> Result<PullFacts, ApiError> {
    let mut facts = PullFacts {
        number: pr.number,
        author: pr.user.login.clone(),
        labels: pr.labels.iter().map(|l| l.name.clone()).collect(),
        title: pr.title.clone(),
        body: pr.body.clone().unwrap_or_default(),
        head_ref: pr.head.name.clone(),
        head_sha: pr.head.sha.clone(),
        reviews: Err("the gate ran without a GitHub token".into()),
        teams: BTreeMap::new(),
        permissions: BTreeMap::new(),
    };
    let Some(gh) = gh else { return Ok(facts) };
    match gh.pull(pr.number).await {
        Ok(current) => {
            facts.labels = current.labels.iter().map(|l| l.name.clone()).collect();
            facts.title = current.title;
            facts.body = current.body.unwrap_or_default();
            facts.head_sha = current.head.sha;
        }
        Err(e) if e.is_unreachable() => return Err(e),
        Err(e) => eprintln!("release-gate: using the event's copy of PR #{}: {e}", pr.number),
    }
    if !facts.labels.iter().any(|l| l == &policy.emergency.label) || policy.emergency.approvers.is_empty() {
        return Ok(facts);
    }
    facts.reviews = match gh.reviews(pr.number).await {
        Ok(list) => Ok(list),
        Err(e) if e.is_unreachable() => return Err(e),
        Err(e) => Err(e.to_string()),
    };
    let approvers: Vec<String> = match &facts.reviews {
        Ok(list) => list.iter().filter(|r| r.state == "APPROVED").filter_map(|r| r.user.as_ref().map(|u| u.login.clone())).collect(),
        Err(_) => Vec::new(),
    };
    for team in policy.emergency.approvers.iter().filter(|a| a.contains('/')) {
        let slug = team.trim_start_matches('@');
        let Some((org, name)) = slug.split_once('/') else { continue };
        let mut members = Ok(Vec::new());
        for login in &approvers {
            match gh.team_member(org, name, login).await {
                Ok(true) => {
                    if let Ok(list) = members.as_mut() {
                        list.push(login.clone());
                    }
                }
                Ok(false) => {}
                Err(e) if e.is_unreachable() => return Err(e),
                Err(e) => {
                    members = Err(e.to_string());
                    break;
                }
            }
        }
        facts.teams.insert(slug.to_owned(), members);
    }
    for login in scope::needs_permission(&policy.emergency, &facts) {
        let p = match gh.permission(&login).await {
            Ok(p) => Ok(p),
            Err(e) if e.is_unreachable() => return Err(e),
            Err(e) => Err(e.to_string()),
        };
        facts.permissions.insert(login, p);
    }
    Ok(facts)
}
