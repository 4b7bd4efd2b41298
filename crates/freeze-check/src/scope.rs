//! The pull-request rules: release-train scope (label and ticket key) and
//! the emergency-change override (label plus an approving review on the head
//! commit from a configured approver who is not the author).

use std::collections::BTreeMap;

use regex::Regex;
use serde::Deserialize;

use crate::policy::{Emergency, ReleaseTrain};

/// What the gate knows of the pull request.
#[derive(Debug, Clone)]
pub struct PullFacts {
    /// Number.
    pub number: u64,
    /// Author login.
    pub author: String,
    /// Current labels.
    pub labels: Vec<String>,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Head branch name.
    pub head_ref: String,
    /// Head commit.
    pub head_sha: String,
    /// Reviews, or why they could not be read.
    pub reviews: Result<Vec<Review>, String>,
    /// For each `org/team` approver: its members among the reviewers, or why it could not be read.
    pub teams: BTreeMap<String, Result<Vec<String>, String>>,
}

/// A PR review as GitHub returns it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Review {
    /// Reviewer (absent for deleted users).
    pub user: Option<crate::scope::Login>,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    pub state: String,
    /// The commit reviewed.
    pub commit_id: Option<String>,
    /// When.
    pub submitted_at: Option<String>,
    /// Link.
    #[serde(default)]
    pub html_url: String,
}

/// A login.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Login {
    /// The login.
    pub login: String,
}

/// The release-train outcome.
pub fn release_train(rule: &ReleaseTrain, release: &str, pr: &PullFacts) -> Result<String, String> {
    let label = rule.label.replace("{release}", release);
    let re = Regex::new(&rule.ticket_pattern).map_err(|e| format!("ticket-pattern {:?} is not a valid regex: {e}", rule.ticket_pattern))?;
    let has_label = pr.labels.iter().any(|l| l == &label);
    let ticket = [("title", &pr.title), ("body", &pr.body), ("head branch", &pr.head_ref)]
        .into_iter()
        .find_map(|(where_, text)| re.find(text).map(|m| (where_, m.as_str().to_owned())));
    match (has_label, ticket) {
        (true, Some((where_, key))) => Ok(format!("PR #{} carries `{label}` and names ticket {key} in its {where_}", pr.number)),
        (false, Some(_)) => {
            Err(format!("PR #{} lacks the label `{label}`; add it to put the change on the {release} release train", pr.number))
        }
        (true, None) => Err(format!(
            "PR #{} names no ticket matching `{}` in its title, body or head branch; add the approved ticket key (e.g. REL-123)",
            pr.number, rule.ticket_pattern
        )),
        (false, None) => Err(format!(
            "PR #{} lacks the label `{label}` and names no ticket matching `{}`; label it and add the approved ticket key",
            pr.number, rule.ticket_pattern
        )),
    }
}

/// A granted emergency override.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    /// Who approved.
    pub approver: String,
    /// Through which configured entry (a login or `org/team`).
    pub via: String,
    /// When.
    pub at: String,
    /// Review link.
    pub url: String,
}

/// Whether the emergency override is granted, and if not, why.
pub fn emergency(rule: &Emergency, pr: &PullFacts) -> Result<Approval, String> {
    if !pr.labels.iter().any(|l| l == &rule.label) {
        return Err(format!("PR #{} does not carry the `{}` label", pr.number, rule.label));
    }
    let reviews =
        pr.reviews.as_ref().map_err(|why| format!("reviews could not be read ({why}), so the emergency approval cannot be verified"))?;
    // The latest deciding review of each reviewer counts, as on GitHub.
    let mut latest: BTreeMap<String, &Review> = BTreeMap::new();
    for r in reviews {
        let Some(user) = &r.user else { continue };
        if matches!(r.state.as_str(), "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED") {
            latest.insert(user.login.to_lowercase(), r);
        }
    }
    let mut notes = Vec::new();
    for (login, r) in &latest {
        if r.state != "APPROVED" {
            continue;
        }
        let display = r.user.as_ref().map_or(login.clone(), |u| u.login.clone());
        if login.eq_ignore_ascii_case(&pr.author) {
            notes.push(format!("{display} is the PR's author"));
            continue;
        }
        if r.commit_id.as_deref() != Some(pr.head_sha.as_str()) {
            notes.push(format!("{display}'s approval is for an older commit"));
            continue;
        }
        let via = rule.approvers.iter().find(|a| {
            if a.contains('/') {
                matches!(pr.teams.get(a.trim_start_matches('@')), Some(Ok(members)) if members.iter().any(|m| m.eq_ignore_ascii_case(login)))
            } else {
                a.eq_ignore_ascii_case(login)
            }
        });
        match via {
            Some(via) => {
                return Ok(Approval {
                    approver: display,
                    via: via.clone(),
                    at: r.submitted_at.clone().unwrap_or_default(),
                    url: r.html_url.clone(),
                });
            }
            None => notes.push(format!("{display} is not a configured approver")),
        }
    }
    for (team, res) in &pr.teams {
        if let Err(why) = res {
            notes.push(format!("team {team} could not be read ({why}); grant the token `read:org` or list approvers by login"));
        }
    }
    let who = rule.approvers.join(", ");
    Err(if notes.is_empty() {
        format!("PR #{} carries `{}` but has no approving review on its head commit from {who}", pr.number, rule.label)
    } else {
        format!("PR #{} carries `{}` but no approval counts: {}; approvers: {who}", pr.number, rule.label, notes.join("; "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr() -> PullFacts {
        PullFacts {
            number: 42,
            author: "carol".into(),
            labels: vec!["release-2.4.0".into(), "emergency-change".into()],
            title: "Fix order router".into(),
            body: "Fixes OPS-1234".into(),
            head_ref: "hotfix/router".into(),
            head_sha: "head".into(),
            reviews: Ok(Vec::new()),
            teams: BTreeMap::new(),
        }
    }

    fn review(login: &str, state: &str, commit: &str) -> Review {
        Review {
            user: Some(Login { login: login.into() }),
            state: state.into(),
            commit_id: Some(commit.into()),
            submitted_at: Some("2026-12-05T10:00:00Z".into()),
            html_url: format!("https://x/{login}"),
        }
    }

    #[test]
    fn release_train_needs_label_and_ticket() {
        let rule = ReleaseTrain::default();
        assert!(release_train(&rule, "2.4.0", &pr()).expect("ok").contains("OPS-1234 in its body"));
        let mut p = pr();
        p.labels.clear();
        assert!(release_train(&rule, "2.4.0", &p).expect_err("no label").contains("lacks the label `release-2.4.0`"));
        let mut p = pr();
        p.body.clear();
        assert!(release_train(&rule, "2.4.0", &p).expect_err("no ticket").contains("names no ticket"));
        p.head_ref = "feature/REL-77-fix".into();
        assert!(release_train(&rule, "2.4.0", &p).expect("branch").contains("REL-77 in its head branch"));
        assert!(release_train(&rule, "2.5.0", &pr()).is_err(), "label for another release");
    }

    #[test]
    fn emergency_needs_an_approver_on_the_head_commit_who_is_not_the_author() {
        let rule = Emergency::default();
        let mut p = pr();
        assert!(emergency(&rule, &p).expect_err("none").contains("no approving review"));
        p.reviews = Ok(vec![review("bob", "APPROVED", "old")]);
        assert!(emergency(&rule, &p).expect_err("stale").contains("older commit"));
        p.reviews = Ok(vec![review("mallory", "APPROVED", "head")]);
        assert!(emergency(&rule, &p).expect_err("not approver").contains("not a configured approver"));
        p.author = "alice".into();
        p.reviews = Ok(vec![review("alice", "APPROVED", "head")]);
        assert!(emergency(&rule, &p).expect_err("self").contains("author"));
        p.reviews = Ok(vec![review("bob", "APPROVED", "head"), review("bob", "CHANGES_REQUESTED", "head")]);
        assert!(emergency(&rule, &p).is_err(), "latest review wins");
        p.reviews =
            Ok(vec![review("bob", "CHANGES_REQUESTED", "head"), review("bob", "APPROVED", "head"), review("bob", "COMMENTED", "head")]);
        let a = emergency(&rule, &p).expect("approved");
        assert_eq!((a.approver.as_str(), a.via.as_str(), a.url.as_str()), ("bob", "bob", "https://x/bob"));
        p.labels.retain(|l| l != "emergency-change");
        assert!(emergency(&rule, &p).expect_err("label").contains("does not carry"));
    }

    #[test]
    fn team_approvers_and_unreadable_teams() {
        let rule = Emergency { label: "emergency-change".into(), approvers: vec!["@tradepulse/risk-officers".into()] };
        let mut p = pr();
        p.reviews = Ok(vec![review("erin", "APPROVED", "head")]);
        p.teams.insert("tradepulse/risk-officers".into(), Ok(vec!["erin".into()]));
        assert_eq!(emergency(&rule, &p).expect("team").via, "@tradepulse/risk-officers");
        p.teams.insert("tradepulse/risk-officers".into(), Err("403 forbidden".into()));
        let e = emergency(&rule, &p).expect_err("unreadable");
        assert!(e.contains("could not be read") && e.contains("read:org"), "{e}");
    }
}
