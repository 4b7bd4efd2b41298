//! The pull-request rules: release-train scope (label and ticket key) and
//! the emergency-change override: the label plus an approving review of the
//! head commit by an approver the policy names (a login, or a member of a
//! named team), who is not the author and has write access to the
//! repository (an owner, member or collaborator with `write`, `maintain` or
//! `admin` permission). No approver is built in: with none named, the
//! override cannot be granted.

use std::collections::BTreeMap;

use regex::Regex;
pub use release_gate_core::github::types::{Permission, Review};

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
    /// Repository permission of the reviewers that could count (lowercase login), or why it could not be read.
    pub permissions: BTreeMap<String, Result<Permission, String>>,
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

/// The train's pull requests, as exported (`gh pr list … --json
/// number,title,body,headRefName,labels,author,mergedAt`).
#[derive(Debug, Clone)]
pub struct Train {
    /// The export, repository-relative.
    pub file: String,
    /// Its pull requests.
    pub pulls: Vec<PullFacts>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Exported {
    number: u64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    head_ref_name: String,
    #[serde(default)]
    labels: Vec<ExportedLabel>,
    #[serde(default)]
    author: Option<ExportedAuthor>,
}

#[derive(serde::Deserialize)]
struct ExportedLabel {
    name: String,
}

#[derive(serde::Deserialize)]
struct ExportedAuthor {
    login: String,
}

/// Reads a train export; one that does not read is an error at its line.
pub fn parse_train(text: &str, file: &str) -> Result<Train, release_gate_core::error::Located> {
    let list: Vec<Exported> = serde_json::from_str(text).map_err(|e| release_gate_core::error::Located {
        file: file.to_owned(),
        line: e.line().max(1) as u64,
        column: Some(e.column().max(1) as u64),
        message: format!(
            "not a pull request export ({e}); expected what `gh pr list --json number,title,body,headRefName,labels,author,mergedAt` writes"
        ),
    })?;
    let pulls = list
        .into_iter()
        .map(|p| PullFacts {
            number: p.number,
            author: p.author.map(|a| a.login).unwrap_or_default(),
            labels: p.labels.into_iter().map(|l| l.name).collect(),
            title: p.title,
            body: p.body.unwrap_or_default(),
            head_ref: p.head_ref_name,
            head_sha: String::new(),
            reviews: Err("an exported pull request".into()),
            teams: BTreeMap::new(),
            permissions: BTreeMap::new(),
        })
        .collect();
    Ok(Train { file: file.to_owned(), pulls })
}

/// The release-train rule over an exported train: every pull request
/// carries the label and names a ticket; an empty train verifies nothing.
pub fn release_train_of(rule: &ReleaseTrain, release: &str, train: &Train) -> Result<String, String> {
    if train.pulls.is_empty() {
        return Err(format!(
            "`{}` lists no pull request: an empty train verifies nothing; export the train's merged pull requests",
            train.file
        ));
    }
    let refused: Vec<String> = train.pulls.iter().filter_map(|pr| release_train(rule, release, pr).err()).collect();
    if refused.is_empty() {
        Ok(format!(
            "all {} pull request(s) in the train (`{}`) carry `{}` and name a ticket",
            train.pulls.len(),
            train.file,
            rule.label.replace("{release}", release)
        ))
    } else {
        Err(format!("{} of {} pull request(s) in `{}`: {}", refused.len(), train.pulls.len(), train.file, refused.join("; ")))
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
    /// Their permission on the repository.
    pub permission: Permission,
}

/// A review that does not count, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct NotCounting {
    /// The reviewer.
    pub login: String,
    /// Why it does not count.
    pub why: String,
    /// Review link.
    pub url: String,
}

/// What the emergency rule found.
#[derive(Debug, Clone, PartialEq)]
pub struct EmergencyOutcome {
    /// The approval that grants the override, if one counts.
    pub approval: Option<Approval>,
    /// Approving reviews that do not count, with why.
    pub not_counting: Vec<NotCounting>,
    /// Why none counts, when none does.
    pub refusal: Option<String>,
}

/// Reviewers whose permission the rule needs: the latest approvals of the
/// head commit by someone who is not the author, is associated with the
/// repository, and is named by the policy (directly or through a team whose
/// membership is known).
pub fn needs_permission(rule: &Emergency, pr: &PullFacts) -> Vec<String> {
    let Ok(reviews) = &pr.reviews else { return Vec::new() };
    latest(reviews)
        .into_iter()
        .filter(|(login, r)| {
            r.state == "APPROVED"
                && !login.eq_ignore_ascii_case(&pr.author)
                && r.commit_id.as_deref() == Some(pr.head_sha.as_str())
                && associated(r)
                && named(rule, pr, login).is_some()
        })
        .map(|(login, _)| login)
        .collect()
}

/// The latest deciding review of each reviewer (lowercase login), as on GitHub.
fn latest(reviews: &[Review]) -> BTreeMap<String, &Review> {
    let mut latest = BTreeMap::new();
    for r in reviews {
        let Some(user) = &r.user else { continue };
        if matches!(r.state.as_str(), "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED") {
            latest.insert(user.login.to_lowercase(), r);
        }
    }
    latest
}

/// GitHub's first filter: an owner, member or collaborator of the repository.
fn associated(r: &Review) -> bool {
    matches!(r.author_association.as_deref(), Some("OWNER" | "MEMBER" | "COLLABORATOR"))
}

/// The policy entry that names `login` (a login, or a team it belongs to).
fn named<'a>(rule: &'a Emergency, pr: &PullFacts, login: &str) -> Option<&'a String> {
    rule.approvers.iter().find(|a| {
        if a.contains('/') {
            matches!(pr.teams.get(a.trim_start_matches('@')), Some(Ok(members)) if members.iter().any(|m| m.eq_ignore_ascii_case(login)))
        } else {
            a.eq_ignore_ascii_case(login)
        }
    })
}

/// Whether the emergency override is granted, with every approving review
/// that does not count and why.
pub fn emergency(rule: &Emergency, pr: &PullFacts) -> EmergencyOutcome {
    let refuse = |why: String, not_counting: Vec<NotCounting>| EmergencyOutcome { approval: None, not_counting, refusal: Some(why) };
    if !pr.labels.iter().any(|l| l == &rule.label) {
        return refuse(format!("PR #{} does not carry the `{}` label", pr.number, rule.label), Vec::new());
    }
    if rule.approvers.is_empty() {
        return refuse(
            format!(
                "PR #{} carries `{}` but the policy names no emergency approvers, so no approval can count; name the Risk Officers in freeze-check.emergency.approvers (logins, or \"@org/team\")",
                pr.number, rule.label
            ),
            Vec::new(),
        );
    }
    let reviews = match &pr.reviews {
        Ok(r) => r,
        Err(why) => return refuse(format!("reviews could not be read ({why}), so the emergency approval cannot be verified"), Vec::new()),
    };
    let mut approval = None;
    let mut not_counting = Vec::new();
    for (login, r) in latest(reviews) {
        if r.state != "APPROVED" {
            continue;
        }
        let display = r.user.as_ref().map_or(login.clone(), |u| u.login.clone());
        let why = if login.eq_ignore_ascii_case(&pr.author) {
            Some("is the PR's author".to_owned())
        } else if r.commit_id.as_deref() != Some(pr.head_sha.as_str()) {
            Some("approved an older commit, not the PR's head".to_owned())
        } else if !associated(r) {
            Some(format!(
                "is not an owner, member or collaborator of the repository (association {})",
                r.author_association.as_deref().unwrap_or("unknown")
            ))
        } else if named(rule, pr, &login).is_none() {
            Some("is not an approver the policy names".to_owned())
        } else {
            match pr.permissions.get(&login) {
                Some(Ok(p)) if *p >= Permission::Write => None,
                Some(Ok(p)) => Some(format!("has {} permission on the repository, not write", p.as_str())),
                Some(Err(e)) => Some(format!("their permission could not be read ({e})")),
                None => Some("their permission was not read".to_owned()),
            }
        };
        match why {
            Some(why) => not_counting.push(NotCounting { login: display, why, url: r.html_url.clone() }),
            None if approval.is_none() => {
                let via = named(rule, pr, &login).cloned().unwrap_or_default();
                let permission = pr.permissions.get(&login).and_then(|p| p.as_ref().ok().copied()).unwrap_or(Permission::None);
                approval = Some(Approval {
                    approver: display,
                    via,
                    at: r.submitted_at.clone().unwrap_or_default(),
                    url: r.html_url.clone(),
                    permission,
                });
            }
            None => {}
        }
    }
    if approval.is_some() {
        return EmergencyOutcome { approval, not_counting, refusal: None };
    }
    let mut notes: Vec<String> = not_counting.iter().map(|n| format!("{} {}", n.login, n.why)).collect();
    for (team, res) in &pr.teams {
        if let Err(why) = res {
            notes.push(format!("team {team} could not be read ({why}); grant the token `read:org` or list approvers by login"));
        }
    }
    let who = rule.approvers.join(", ");
    let why = if notes.is_empty() {
        format!("PR #{} carries `{}` but has no approving review on its head commit from {who}", pr.number, rule.label)
    } else {
        format!("PR #{} carries `{}` but no approval counts: {}; approvers: {who}", pr.number, rule.label, notes.join("; "))
    };
    refuse(why, not_counting)
}

#[cfg(test)]
mod tests {
    use release_gate_core::github::types::User;

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
            permissions: BTreeMap::new(),
        }
    }

    fn review(login: &str, state: &str, commit: &str) -> Review {
        Review {
            user: Some(User { login: login.into(), kind: None }),
            state: state.into(),
            commit_id: Some(commit.into()),
            submitted_at: Some("2026-12-05T10:00:00Z".into()),
            html_url: format!("https://x/{login}"),
            author_association: Some("MEMBER".into()),
        }
    }

    fn rule() -> Emergency {
        Emergency { label: "emergency-change".into(), approvers: vec!["bob".into(), "alice".into()] }
    }

    fn writer(p: &mut PullFacts, login: &str) {
        p.permissions.insert(login.into(), Ok(Permission::Write));
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
    fn no_approver_is_built_in() {
        let mut p = pr();
        p.reviews = Ok(vec![review("alice", "APPROVED", "head"), review("bob", "APPROVED", "head")]);
        writer(&mut p, "alice");
        writer(&mut p, "bob");
        let o = emergency(&Emergency::default(), &p);
        assert!(o.approval.is_none());
        let why = o.refusal.expect("refused");
        assert!(why.contains("names no emergency approvers") && why.contains("freeze-check.emergency.approvers"), "{why}");
    }

    #[test]
    fn an_approval_counts_only_from_a_named_writer_on_the_head_who_is_not_the_author() {
        let rule = rule();
        let mut p = pr();
        assert!(emergency(&rule, &p).refusal.expect("none").contains("no approving review"));
        let refused = |p: &PullFacts, want: &str| {
            let o = emergency(&rule, p);
            assert!(o.approval.is_none(), "{want}: {o:?}");
            assert!(o.not_counting.iter().any(|n| n.why.contains(want)), "{want}: {:?}", o.not_counting);
            assert!(o.refusal.expect("refusal").contains(want));
        };
        p.reviews = Ok(vec![review("bob", "APPROVED", "old")]);
        writer(&mut p, "bob");
        refused(&p, "older commit");
        p.reviews = Ok(vec![review("mallory", "APPROVED", "head")]);
        writer(&mut p, "mallory");
        refused(&p, "not an approver the policy names");
        // An outsider who shares a named approver's login on another account cannot be one, but an
        // outsider's approval never counts even when named.
        let mut outsider = review("bob", "APPROVED", "head");
        outsider.author_association = Some("NONE".into());
        p.reviews = Ok(vec![outsider]);
        refused(&p, "not an owner, member or collaborator");
        // A member with read or triage permission only.
        p.reviews = Ok(vec![review("bob", "APPROVED", "head")]);
        p.permissions.insert("bob".into(), Ok(Permission::Triage));
        refused(&p, "has triage permission on the repository, not write");
        p.permissions.insert("bob".into(), Err("403 forbidden".into()));
        refused(&p, "permission could not be read (403 forbidden)");
        p.permissions.remove("bob");
        refused(&p, "permission was not read");
        p.author = "alice".into();
        p.reviews = Ok(vec![review("alice", "APPROVED", "head")]);
        writer(&mut p, "alice");
        refused(&p, "author");
        p.reviews = Ok(vec![review("bob", "APPROVED", "head"), review("bob", "CHANGES_REQUESTED", "head")]);
        writer(&mut p, "bob");
        assert!(emergency(&rule, &p).approval.is_none(), "latest review wins");
        // The one that counts, with the others listed as not counting.
        p.reviews = Ok(vec![
            review("bob", "CHANGES_REQUESTED", "head"),
            review("bob", "APPROVED", "head"),
            review("bob", "COMMENTED", "head"),
            review("mallory", "APPROVED", "head"),
        ]);
        let o = emergency(&rule, &p);
        let a = o.approval.expect("approved");
        assert_eq!((a.approver.as_str(), a.via.as_str(), a.url.as_str(), a.permission), ("bob", "bob", "https://x/bob", Permission::Write));
        assert_eq!(o.not_counting.len(), 1);
        assert_eq!(o.not_counting[0].login, "mallory");
        p.labels.retain(|l| l != "emergency-change");
        assert!(emergency(&rule, &p).refusal.expect("label").contains("does not carry"));
    }

    #[test]
    fn team_approvers_and_unreadable_teams() {
        let rule = Emergency { label: "emergency-change".into(), approvers: vec!["@tradepulse/risk-officers".into()] };
        let mut p = pr();
        p.reviews = Ok(vec![review("erin", "APPROVED", "head")]);
        p.teams.insert("tradepulse/risk-officers".into(), Ok(vec!["erin".into()]));
        assert_eq!(needs_permission(&rule, &p), vec!["erin".to_owned()]);
        writer(&mut p, "erin");
        assert_eq!(emergency(&rule, &p).approval.expect("team").via, "@tradepulse/risk-officers");
        p.teams.insert("tradepulse/risk-officers".into(), Err("403 forbidden".into()));
        let e = emergency(&rule, &p).refusal.expect("unreadable");
        assert!(e.contains("could not be read") && e.contains("read:org"), "{e}");
    }
}
