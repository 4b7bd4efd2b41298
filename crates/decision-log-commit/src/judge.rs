//! The readiness checklist and the go/no-go, from the gates' entries and
//! the evidence observed: no file system, no network.

use std::collections::BTreeMap;

use release_gate_core::evidence::{Reading, Says};
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
    /// Each piece of evidence: held (`Pass`), not (`Fail`) or only shown
    /// (`Skip`, a link), and what it says.
    pub lines: Vec<(Status, String)>,
}

/// Judges the checklist: each item's evidence read through `read`
/// ([`crate::evidence::read`] at the edge). An item is checked only when
/// every piece of evidence bound to it that can tell says success, at least
/// one can, and none is older than its `max-age`.
pub fn checklist(policy: &LogPolicy, read: &dyn Fn(&Evidence) -> Reading, now: jiff::Timestamp) -> Vec<ItemState> {
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
        if evidence.is_empty() {
            lines.push((Status::Fail, "no evidence bound to this item in the policy (decision-log-commit.checklist)".to_owned()));
        }
        for ev in &evidence {
            let r = read(ev);
            let limit = ev.max_age.as_deref().and_then(release_gate_core::policy::duration);
            let age = ev.max_age.as_deref().unwrap_or_default();
            lines.push(match (&r.says, limit, r.at) {
                (Says::CannotTell(why), _, _) if ev.link.is_some() => (Status::Skip, format!("{}: {why}", r.shown)),
                (Says::CannotTell(why), _, _) => (Status::Fail, format!("{}: cannot tell success from failure: {why}", r.shown)),
                (Says::Failed(why), _, _) => (Status::Fail, format!("{}: {why}", r.shown)),
                // Dated after now: it never ages, so it is not evidence of a run that happened.
                (Says::Passed(_), _, Some((at, from)))
                    if from == release_gate_core::evidence::AgeFrom::Own && at > now + jiff::SignedDuration::from_mins(5) =>
                {
                    (
                        Status::Fail,
                        format!("{}: dated {at} ({}), after {now}: evidence from the future is not evidence", r.shown, from.as_str()),
                    )
                }
                (Says::Passed(_), Some(limit), Some((at, from))) if now.duration_since(at) > limit => {
                    (Status::Fail, format!("{}: stale: from {at} ({}), older than {age}", r.shown, from.as_str()))
                }
                (Says::Passed(_), Some(_), None) => {
                    (Status::Fail, format!("{}: its age is unknown and the policy limits it to {age}", r.shown))
                }
                (Says::Passed(what), _, at) => (
                    Status::Pass,
                    format!("{}: {what}{}", r.shown, at.map(|(t, from)| format!(" ({t}, by {})", from.as_str())).unwrap_or_default()),
                ),
            });
        }
        if !evidence.is_empty() && !lines.iter().any(|(st, _)| *st != Status::Skip) {
            lines.push((
                Status::Fail,
                "nothing bound to this item can tell success from failure (a link is shown, never evidence)".to_owned(),
            ));
        }
        let ok = lines.iter().any(|(st, _)| *st == Status::Pass) && !lines.iter().any(|(st, _)| *st == Status::Fail);
        out.push(ItemState { item: key, label, ok, lines });
    }
    out
}

/// The go/no-go: what is missing or failed (empty: go).
/// `commit`: the commit being released, when known (online, or a local
/// checkout's): evidence recorded for another commit, or for none, does
/// not count then. `online`: a dry run never counts.
pub fn blockers(
    policy: &LogPolicy,
    entries: &BTreeMap<String, GateEntry>,
    items: &[ItemState],
    commit: Option<&str>,
    online: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    if policy.required.is_empty() {
        out.push("no gate is required (decision-log-commit.required is empty): nothing was verified; list the gates a GO needs".to_owned());
    }
    for r in &policy.required {
        match entries.get(r) {
            None => out.push(format!("no evidence from {r}: it has not reported for this release")),
            Some(e) if online && e.dry_run => {
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
            checks: BTreeMap::new(),
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
        assert!(blockers(&policy, &good, &[], Some(HEAD), true).is_empty());
        let no_go = |edit: &dyn Fn(&mut BTreeMap<String, GateEntry>), expect: &str| {
            let mut entries = good.clone();
            edit(&mut entries);
            let b = blockers(&policy, &entries, &[], Some(HEAD), true);
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
        let b = blockers(&none, &good, &[], Some(HEAD), true);
        assert!(b.iter().any(|x| x.contains("no gate is required")), "{b:?}");
    }

    #[test]
    fn a_checklist_item_is_checked_only_on_evidence_that_says_success_and_is_young_enough() {
        use release_gate_core::evidence::AgeFrom;
        // No evidence bound to an item: never checked.
        let policy = LogPolicy { checklist: BTreeMap::new(), ..LogPolicy::default() };
        let reading = |says: Says, at: Option<jiff::Timestamp>| Reading { shown: "`x`".into(), says, at: at.map(|t| (t, AgeFrom::Own)) };
        let items = checklist(&policy, &|_| reading(Says::Passed("ok".into()), None), jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(items.len(), ITEMS.len());
        assert!(items.iter().all(|i| !i.ok), "{items:?}");
        let b = blockers(&policy, &all_passing(&policy), &items, Some(HEAD), true);
        assert_eq!(b.len(), ITEMS.len(), "{b:?}");
        assert!(b[0].contains("no evidence bound to this item"), "{b:?}");

        let mut bound = LogPolicy::default();
        let file = Evidence { file: Some("reports/x.json".into()), ..Evidence::default() };
        bound.checklist = ITEMS.iter().map(|(k, _)| ((*k).to_owned(), vec![file.clone()])).collect();
        let now: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().unwrap();
        let all = |p: &LogPolicy, r: Reading| checklist(p, &|_| r.clone(), now);
        assert!(all(&bound, reading(Says::Passed("ok".into()), None)).iter().all(|i| i.ok), "no age limit: success is enough");
        // Evidence that says it failed, or cannot tell: unchecked.
        assert!(all(&bound, reading(Says::Failed("result FAIL".into()), None)).iter().all(|i| !i.ok));
        let cannot = all(&bound, reading(Says::CannotTell("no kind".into()), None));
        assert!(cannot.iter().all(|i| !i.ok) && cannot[0].lines[0].1.contains("cannot tell success from failure"), "{cannot:?}");
        // Too old, or of unknown age, where the policy limits it.
        let mut aged = bound.clone();
        for evs in aged.checklist.values_mut() {
            evs[0].max_age = Some("7d".into());
        }
        assert!(all(&aged, reading(Says::Passed("ok".into()), Some(jiff::Timestamp::UNIX_EPOCH))).iter().all(|i| !i.ok), "stale");
        assert!(all(&aged, reading(Says::Passed("ok".into()), None)).iter().all(|i| !i.ok), "an unknown age is not young");
        assert!(all(&aged, reading(Says::Passed("ok".into()), Some(now))).iter().all(|i| i.ok));
        // Dated after now (an executed_at that never ages): not evidence, limit or not.
        let future = now + jiff::SignedDuration::from_hours(24 * 30);
        for p in [&aged, &bound] {
            let items = all(p, reading(Says::Passed("ok".into()), Some(future)));
            assert!(items.iter().all(|i| !i.ok) && items[0].lines[0].1.contains("from the future"), "{items:?}");
        }
        // A link alone is shown, never evidence.
        let mut linked = LogPolicy::default();
        let link = Evidence { link: Some("plan".into()), ..Evidence::default() };
        linked.checklist = ITEMS.iter().map(|(k, _)| ((*k).to_owned(), vec![link.clone()])).collect();
        let items = all(&linked, reading(Says::CannotTell("a link".into()), None));
        assert!(items.iter().all(|i| !i.ok), "{items:?}");
        assert!(items[0].lines.iter().any(|(st, l)| *st == Status::Fail && l.contains("can tell success")), "{items:?}");
    }
}
