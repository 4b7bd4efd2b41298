//! The readiness checklist and the go/no-go, from the gates' entries and
//! the evidence observed: no file system, no network.

use std::collections::BTreeMap;

use release_gate_core::report::Status;

use crate::log::GateEntry;
use crate::policy::{Evidence, ITEMS, LogPolicy};

/// A checklist item's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemState {
    /// Item key.
    pub item: String,
    /// Label.
    pub label: String,
    /// Ok.
    pub ok: bool,
    /// Each piece of evidence: held (`Pass`) or not (`Fail`), and what it says.
    pub lines: Vec<(Status, String)>,
}

/// Evidence observed at the edge for one evidence entry that is not a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Present, with a link or path to show and its age if known.
    Present { shown: String, at: Option<jiff::Timestamp> },
    /// Missing, with why.
    Missing(String),
}

/// Judges the checklist from the gates' entries and observed evidence.
pub fn checklist(
    policy: &LogPolicy,
    entries: &BTreeMap<String, GateEntry>,
    observe: &dyn Fn(&Evidence) -> Observed,
    now: jiff::Timestamp,
) -> Vec<ItemState> {
    let mut out = Vec::new();
    let mut keys: Vec<(String, String)> = ITEMS.iter().map(|(k, l)| ((*k).to_owned(), (*l).to_owned())).collect();
    for k in policy.checklist.keys() {
        if !keys.iter().any(|(x, _)| x == k) {
            keys.push((k.clone(), k.replace('-', " ")));
        }
    }
    for (key, label) in keys {
        let evidence = policy.checklist.get(&key).cloned().unwrap_or_default();
        let mut lines = Vec::new();
        let mut ok = !evidence.is_empty();
        if evidence.is_empty() {
            lines.push((Status::Fail, "no evidence bound to this item in the policy (decision-log-commit.checklist)".to_owned()));
        }
        for ev in &evidence {
            if let Some(r) = &ev.report {
                match entries.get(r) {
                    Some(e) if e.passing() => lines.push((
                        Status::Pass,
                        format!("{r}: {}{}", e.verdict, e.url.as_ref().map(|u| format!(" ([report]({u}))")).unwrap_or_default()),
                    )),
                    Some(e) => {
                        ok = false;
                        lines.push((Status::Fail, format!("{r}: {} — {}", e.decision.as_deref().unwrap_or(&e.verdict), e.title)));
                    }
                    None => {
                        ok = false;
                        lines.push((Status::Fail, format!("{r}: no report for this release")));
                    }
                }
                continue;
            }
            match observe(ev) {
                Observed::Missing(why) => {
                    ok = false;
                    lines.push((Status::Fail, why));
                }
                Observed::Present { shown, at } => {
                    let limit = ev.max_age.as_deref().and_then(release_gate_core::policy::duration);
                    match (limit, at) {
                        (Some(limit), Some(at)) if now.duration_since(at) > limit => {
                            ok = false;
                            lines.push((
                                Status::Fail,
                                format!("{shown}: stale, from {at}, older than {}", ev.max_age.as_deref().unwrap_or_default()),
                            ));
                        }
                        (Some(_), None) => {
                            ok = false;
                            lines.push((
                                Status::Fail,
                                format!(
                                    "{shown}: its age is unknown and the policy limits it to {}",
                                    ev.max_age.as_deref().unwrap_or_default()
                                ),
                            ));
                        }
                        (_, at) => lines.push((Status::Pass, format!("{shown}{}", at.map(|t| format!(" ({t})")).unwrap_or_default()))),
                    }
                }
            }
        }
        out.push(ItemState { item: key, label, ok, lines });
    }
    out
}

/// The go/no-go: what is missing or failed (empty: go).
/// `commit`: the commit being released, when known (online); evidence
/// recorded for another commit, or offline without one, does not count then.
pub fn blockers(policy: &LogPolicy, entries: &BTreeMap<String, GateEntry>, items: &[ItemState], commit: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if policy.required.is_empty() {
        out.push("no gate is required (decision-log-commit.required is empty): nothing was verified; list the gates a GO needs".to_owned());
    }
    for r in &policy.required {
        match entries.get(r) {
            None => out.push(format!("no evidence from {r}: it has not reported for this release")),
            Some(e) if commit.is_some() && e.dry_run => {
                out.push(format!("{r} was a dry run (evaluated as if at {}), which never counts; re-run it without `now`", e.generated_at))
            }
            Some(e) if commit.is_some() && e.commit.as_deref() != commit => out.push(format!(
                "stale evidence from {r}: it evaluated {}, not {}; re-run it on this commit",
                e.commit.as_deref().map_or_else(|| "no commit (a local run)".to_owned(), |c| format!("commit {}", &c[..c.len().min(12)])),
                commit.map(|c| &c[..c.len().min(12)]).unwrap_or_default()
            )),
            Some(e) if !e.passing() => out.push(format!(
                "{r} {}: {}{}",
                e.decision.as_deref().map_or_else(|| "failed".to_owned(), |d| format!("decided {d}")),
                e.title,
                if e.failed.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", e.failed.iter().take(3).cloned().collect::<Vec<_>>().join("; "))
                }
            )),
            Some(_) => {}
        }
    }
    for (k, e) in entries {
        // The guard judges after the deploy: its result is the verdict, not the go/no-go.
        if !policy.required.contains(k) && !e.passing() && k != crate::document::GUARD {
            out.push(format!("{k} failed: {}", e.title));
        }
    }
    for i in items.iter().filter(|i| !i.ok) {
        let why: Vec<&str> = i.lines.iter().filter(|(st, _)| *st == Status::Fail).map(|(_, l)| l.as_str()).collect();
        out.push(format!("readiness “{}” unchecked: {}", i.label, why.join("; ")));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HEAD: &str = "1111111111111111111111111111111111111111";

    fn entry(key: &str, verdict: &str, decision: Option<&str>) -> GateEntry {
        GateEntry {
            key: key.into(),
            verdict: verdict.into(),
            title: format!("{key} title"),
            decision: decision.map(Into::into),
            generated_at: "2026-12-01T13:30:00Z".into(),
            commit: Some(HEAD.into()),
            url: None,
            failed: Vec::new(),
            warnings: Vec::new(),
            dry_run: false,
            hashes: BTreeMap::new(),
            steps: Vec::new(),
            retrospective: None,
        }
    }

    fn all_passing(policy: &LogPolicy) -> BTreeMap<String, GateEntry> {
        policy
            .required
            .iter()
            .map(|k| {
                let decision = k.starts_with("smoke-gate").then_some("promote");
                (k.clone(), entry(k, "pass", decision))
            })
            .collect()
    }

    #[test]
    fn go_only_when_every_required_gate_passed_on_this_commit() {
        let policy = LogPolicy::default();
        let good = all_passing(&policy);
        assert!(blockers(&policy, &good, &[], Some(HEAD)).is_empty());
        let no_go = |edit: &dyn Fn(&mut BTreeMap<String, GateEntry>), expect: &str| {
            let mut entries = good.clone();
            edit(&mut entries);
            let b = blockers(&policy, &entries, &[], Some(HEAD));
            assert!(b.iter().any(|x| x.contains(expect)), "{expect:?} not in {b:?}");
        };
        no_go(&|e| drop(e.remove("config-diff")), "no evidence from config-diff");
        no_go(&|e| e.get_mut("freeze-check").unwrap().verdict = "fail".into(), "freeze-check failed");
        // A word that is not a verdict (a hand-edited log) is not a pass.
        no_go(&|e| e.get_mut("freeze-check").unwrap().verdict = "pas".into(), "freeze-check failed");
        no_go(&|e| e.get_mut("smoke-gate-canary").unwrap().decision = Some("hold".into()), "smoke-gate-canary decided hold");
        no_go(&|e| e.get_mut("artifact-verify").unwrap().commit = Some("2".repeat(40)), "stale evidence from artifact-verify");
        no_go(&|e| e.get_mut("artifact-verify").unwrap().commit = None, "no commit (a local run)");
        no_go(&|e| e.get_mut("smoke-gate-smoke").unwrap().dry_run = true, "was a dry run");
        // A gate that is not required still blocks when it failed.
        no_go(&|e| drop(e.insert("smoke-gate-post".into(), entry("smoke-gate-post", "fail", Some("rollback")))), "smoke-gate-post failed");
        // No gate required: nothing was verified, whatever passed.
        let none = LogPolicy { required: Vec::new(), ..LogPolicy::default() };
        let b = blockers(&none, &good, &[], Some(HEAD));
        assert!(b.iter().any(|x| x.contains("no gate is required")), "{b:?}");
    }

    #[test]
    fn a_checklist_item_without_evidence_is_unchecked_and_blocks() {
        // No evidence bound to an item, evidence reports that are missing,
        // failed, or a file that is not there: never checked.
        let policy = LogPolicy { checklist: BTreeMap::new(), ..LogPolicy::default() };
        let items = checklist(&policy, &BTreeMap::new(), &|_| Observed::Missing("x".into()), jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(items.len(), ITEMS.len());
        assert!(items.iter().all(|i| !i.ok), "{items:?}");
        let b = blockers(&policy, &all_passing(&policy), &items, Some(HEAD));
        assert_eq!(b.len(), ITEMS.len(), "{b:?}");
        assert!(b[0].contains("no evidence bound to this item"), "{b:?}");

        let mut bound = LogPolicy::default();
        let file = Evidence { file: Some("reports/x.json".into()), ..Evidence::default() };
        bound.checklist = ITEMS.iter().map(|(k, _)| ((*k).to_owned(), vec![file.clone()])).collect();
        let stale = |_: &Evidence| Observed::Present { shown: "`reports/x.json`".into(), at: Some(jiff::Timestamp::UNIX_EPOCH) };
        let mut aged = bound.clone();
        for evs in aged.checklist.values_mut() {
            evs[0].max_age = Some("7d".into());
        }
        let now: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().unwrap();
        assert!(checklist(&aged, &BTreeMap::new(), &stale, now).iter().all(|i| !i.ok), "stale evidence checks nothing");
        let unknown_age = |_: &Evidence| Observed::Present { shown: "`reports/x.json`".into(), at: None };
        assert!(checklist(&aged, &BTreeMap::new(), &unknown_age, now).iter().all(|i| !i.ok), "an unknown age is not young");
        assert!(checklist(&bound, &BTreeMap::new(), &stale, now).iter().all(|i| i.ok), "no age limit: present is enough");
    }
}
