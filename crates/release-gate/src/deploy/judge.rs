//! deploy-check's rules, pure: from the [`Facts`] alone, every rule a
//! check in the report.

use std::collections::BTreeMap;

use decision_log_commit::log::{self, GateEntry};
use decision_log_commit::{ItemState, LogPolicy};
use release_gate_core::decision_log::{Lifecycle, State};
use release_gate_core::evidence::CheckRuns;
use release_gate_core::hashes::Hashes;
use release_gate_core::render;
use release_gate_core::report::{self, Check, Report, Section, Status, Verdict};

use super::DeployPolicy;

/// One required gate's latest result on the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateResult {
    /// It passed; where to see it.
    Passed(String),
    /// It did not pass, or does not count: why, and where.
    Refused(String),
}

/// How the deployed configuration's hashes are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hashed {
    /// Computed from the checkout being deployed.
    Computed(Hashes),
    /// Not computed here: config-diff's check run on this commit compared
    /// them with the log (a deployment protection rule has no checkout).
    ByConfigDiff(GateResult),
    /// The configuration could not be read (why).
    Unreadable(String),
}

/// Everything [`judge`] needs, gathered at the edge.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The release.
    pub release: String,
    /// The commit deployed, when known (online).
    pub commit: Option<String>,
    /// The decision log's path and text (`None`: there is none).
    pub log: (String, Option<String>),
    /// Where the log can be seen.
    pub log_url: Option<String>,
    /// Required report keys.
    pub required: Vec<String>,
    /// Each required gate's latest result.
    pub gates: BTreeMap<String, GateResult>,
    /// The gates' results as the checklist and the go/no-go read them, from
    /// the same source as `gates` (check runs online, reports offline),
    /// never from the log's own record.
    pub entries: BTreeMap<String, GateEntry>,
    /// The readiness checklist, re-read from its evidence now.
    pub items: Vec<ItemState>,
    /// Whether the evidence was read online (a dry run's never counts).
    pub online: bool,
    /// The release's lifecycle as the log records it, or why that record cannot be trusted.
    pub lifecycle: Result<Lifecycle, String>,
    /// The post-release guard's newest decision on this commit, from its
    /// check run (online): the lifecycle's mirror, with its link.
    pub guard: Option<(String, String)>,
    /// A dry run published from a deploy job: never lets a deploy proceed.
    pub dry_run: bool,
    /// The deployed configuration's hashes.
    pub hashes: Hashed,
    /// freeze-check evaluated now.
    pub freeze: Report,
}

/// The go/no-go region of a decision log: `Some(true)` for GO, `Some(false)`
/// for NO-GO, `None` when the log has none (not written by decision-log-commit).
fn go_region(text: &str) -> Option<(bool, String)> {
    let (_, range) = log::regions(text).into_iter().find(|(k, _)| k == "go-no-go")?;
    let body = &text[range];
    let inner: String = body.lines().filter(|l| !l.trim_start().starts_with("<!-- release-gate:")).collect::<Vec<_>>().join("\n");
    let inner = inner.trim().to_owned();
    Some((inner.starts_with("**GO**"), inner))
}

/// Decides from the facts alone: every rule is a check in the report.
pub fn judge(f: &Facts, policy: &LogPolicy, report: &mut Report) {
    let (log_path, log_text) = &f.log;
    let short = |c: &str| c.get(..12).unwrap_or(c).to_owned();

    // The decision log says GO, and its evidence still says so for this commit.
    report.push(match log_text.as_deref() {
        None => Check::new(
            "decision-log",
            Status::Fail,
            format!("no decision log for release {} at `{log_path}`; run decision-log-commit for this release first", f.release),
        ),
        Some(text) if text.lines().next().is_none_or(|l| l.trim() != format!("# Release {} Decision Log", f.release)) => Check::new(
            "decision-log",
            Status::Fail,
            format!("`{log_path}` is not release {}'s decision log (its title says otherwise)", f.release),
        ),
        Some(text) => match go_region(text) {
            None => Check::new("decision-log", Status::Fail, format!("`{log_path}` has no go/no-go written by decision-log-commit")),
            Some((false, body)) => {
                let first: Vec<&str> = body.lines().skip(1).map(|l| l.trim().trim_start_matches("- ")).take(5).collect();
                Check::new("decision-log", Status::Fail, format!("`{log_path}` says NO-GO: {}", first.join("; ")))
            }
            Some((true, _)) => {
                // The GO is re-derived from its evidence: the gates' results
                // and every checklist item read now, not the log's own words.
                let stale = decision_log_commit::blockers(policy, &f.entries, &f.items, f.commit.as_deref(), f.online);
                if stale.is_empty() {
                    Check::new(
                        "decision-log",
                        Status::Pass,
                        format!(
                            "`{log_path}` says GO, and its evidence says so now: every required gate passed{} and the {} readiness item(s) are checked",
                            f.commit.as_deref().map(|c| format!(" on commit {}", short(c))).unwrap_or_default(),
                            f.items.len()
                        ),
                    )
                } else {
                    Check::new(
                        "decision-log",
                        Status::Fail,
                        format!("`{log_path}` says GO, but re-checked from its evidence: {}", stale.join("; ")),
                    )
                }
            }
        },
    });

    // The release's lifecycle: a paused or rolled-back release does not
    // deploy again until a resume; the GO it rests on is this commit's.
    report.push(lifecycle_check(f));
    if f.dry_run {
        report.push(Check::new(
            "dry-run",
            Status::Fail,
            "evaluated as if at another time (`now`): a dry run never lets a deploy proceed, and sets no deployment status",
        ));
    }

    // Every required gate's latest result on this commit.
    let mut refused = Vec::new();
    for key in &f.required {
        match f.gates.get(key) {
            Some(GateResult::Passed(_)) => {}
            Some(GateResult::Refused(why)) => refused.push(format!("{key}: {why}")),
            None => refused.push(format!("{key}: no result for this release")),
        }
    }
    let on = f.commit.as_deref().map(|c| format!(" on commit {}", short(c))).unwrap_or_default();
    report.push(if f.required.is_empty() {
        Check::new(
            "gates",
            Status::Fail,
            "no gate is required (deploy.required or decision-log-commit.required is empty): nothing was verified",
        )
    } else if refused.is_empty() {
        Check::new("gates", Status::Pass, format!("{} required gate(s) passed{on}: {}", f.required.len(), f.required.join(", ")))
    } else {
        Check::new(
            "gates",
            Status::Fail,
            format!("{} of {} required gate(s) did not pass{on}: {}", refused.len(), f.required.len(), refused.join("; ")),
        )
    });

    // The configuration deployed is the one the log recorded.
    let recorded_hashes = log_text.as_deref().map(release_gate_core::hashes::parse);
    report.push(match (&f.hashes, recorded_hashes) {
        (Hashed::Unreadable(why), _) => Check::new("config-hashes", Status::Fail, format!("the deployed configuration cannot be read: {why}")),
        (Hashed::ByConfigDiff(GateResult::Passed(url)), _) => Check::new(
            "config-hashes",
            Status::Pass,
            format!("config-diff compared the deployed configuration with the log's hashes on this commit ({url})"),
        ),
        (Hashed::ByConfigDiff(GateResult::Refused(why)), _) => {
            Check::new("config-hashes", Status::Fail, format!("config-diff did not pass on this commit: {why}"))
        }
        (Hashed::Computed(_), None) => Check::new("config-hashes", Status::Fail, "no decision log, so no recorded config hashes to compare"),
        (Hashed::Computed(_), Some(Err((line, m)))) => {
            Check::new("config-hashes", Status::Fail, format!("`{log_path}`:{line}: the recorded config hashes do not read: {m}"))
        }
        (Hashed::Computed(_), Some(Ok(None))) => {
            Check::new("config-hashes", Status::Fail, format!("`{log_path}` records no config hashes (runbook §7); run config-diff and decision-log-commit"))
        }
        (Hashed::Computed(now), Some(Ok(Some(then)))) => {
            let mut wrong: Vec<String> = Vec::new();
            for (k, v) in &then {
                match now.get(k) {
                    Some(n) if n == v => {}
                    Some(n) => wrong.push(format!("{k} is {n}, the log recorded {v}")),
                    None => wrong.push(format!("{k} is recorded but no longer deployed")),
                }
            }
            wrong.extend(now.keys().filter(|k| !then.contains_key(*k)).map(|k| format!("{k} is deployed but was never recorded")));
            if wrong.is_empty() {
                Check::new("config-hashes", Status::Pass, format!("the {} deployed config hash(es) equal the log's", now.len()))
            } else {
                Check::new(
                    "config-hashes",
                    Status::Fail,
                    format!("the configuration changed since the decision: {}; the release is invalid until config-diff and the log are re-run (runbook §7)", wrong.join("; ")),
                )
            }
        }
    });

    // The freeze rules, now.
    let failing: Vec<String> =
        f.freeze.checks.iter().filter(|c| c.status == Status::Fail).map(|c| format!("{}: {}", c.id, c.message)).collect();
    report.push(match f.freeze.verdict {
        Verdict::Pass => Check::new("freeze", Status::Pass, f.freeze.title.clone()),
        Verdict::Warn => Check::new("freeze", Status::Warn, f.freeze.title.clone()),
        Verdict::Fail => Check::new("freeze", Status::Fail, format!("{} ({})", f.freeze.title, failing.join("; "))),
    });
    if let Some(next) = f.freeze.outputs.get("next_window").filter(|n| !n.is_empty()) {
        report.output("next_window", next.clone());
    }
    if let Some(u) = &f.log_url {
        report.output("log_url", u.clone());
    }

    let refusals: Vec<&Check> = report.checks.iter().filter(|c| c.status == Status::Fail).collect();
    report.title = match refusals.as_slice() {
        [] => format!("Release {} may deploy{on}", f.release),
        [only] if only.id == "freeze" => match report.outputs.get("next_window") {
            Some(next) => format!("Release {} may not deploy now: {}; next safe start {next}", f.release, f.freeze.title),
            None => format!("Release {} may not deploy now: {}", f.release, f.freeze.title),
        },
        list => format!("Release {} may not deploy: {}", f.release, list.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ")),
    };
    let mut t = render::Table::new(&["gate", "latest result"]);
    for key in &f.required {
        let cell = match f.gates.get(key) {
            Some(GateResult::Passed(url)) => format!("{} {url}", render::mark(Status::Pass)),
            Some(GateResult::Refused(why)) => format!("{} {why}", render::mark(Status::Fail)),
            None => format!("{} no result", render::mark(Status::Fail)),
        };
        t.row([render::code(key), cell]);
    }
    report.details.push(Section { title: "Required gates".into(), markdown: t.finish() });
}

/// The lifecycle rule, from the log's record and the guard's check run.
fn lifecycle_check(f: &Facts) -> Check {
    let lc = match &f.lifecycle {
        Err(why) => return Check::new("lifecycle", Status::Fail, format!("the release's lifecycle cannot be trusted: {why}")),
        Ok(lc) => lc,
    };
    if let Err(why) = lc.may_deploy() {
        return Check::new("lifecycle", Status::Fail, why);
    }
    // The mirror: a pause the log no longer shows still stands.
    if let Some((decision, url)) = &f.guard
        && matches!(decision.as_str(), "pause" | "rollback")
    {
        return Check::new(
            "lifecycle",
            Status::Fail,
            format!(
                "the post-release guard's newest {} decided {decision} ({url}), which no resume followed; it may deploy again once `release-guard resume` records a resume",
                if f.online { "check run on this commit" } else { "report" }
            ),
        );
    }
    let short = |c: &str| c.get(..12).unwrap_or(c).to_owned();
    match (lc.state(), lc.go()) {
        (None, _) => Check::new(
            "lifecycle",
            Status::Fail,
            format!("the log records no lifecycle for release {}: run decision-log-commit with this version", f.release),
        ),
        (Some(State::NoGo), _) => Check::new(
            "lifecycle",
            Status::Fail,
            format!("the lifecycle says NO-GO ({})", lc.last().map(|t| t.why.as_str()).unwrap_or_default()),
        ),
        (_, Some(go)) if f.commit.is_some() && go.commit.as_deref() != f.commit.as_deref() => Check::new(
            "lifecycle",
            Status::Fail,
            format!(
                "the GO recorded at {} is for {}, not this commit {}; re-run decision-log-commit on it",
                go.at,
                go.commit.as_deref().map_or_else(|| "no commit".to_owned(), |c| format!("commit {}", short(c))),
                f.commit.as_deref().map(short).unwrap_or_default()
            ),
        ),
        (Some(state), _) => Check::new("lifecycle", Status::Pass, format!("the release is {state}: it may deploy")),
    }
}

/// The keys required for a deploy.
pub fn required(deploy: &DeployPolicy, log: &LogPolicy) -> Vec<String> {
    deploy.required.clone().unwrap_or_else(|| log.required.clone())
}

/// A report's result as the deploy sees it.
pub(crate) fn result_of(r: &Report, key: &str, release: &str, shown: &str) -> GateResult {
    // A report in the wrong place is not this gate's result for this release.
    if r.key() != key {
        return GateResult::Refused(format!("`{shown}` is {}'s report, not {key}'s", r.key()));
    }
    if r.release != release {
        return GateResult::Refused(format!("`{shown}` is a report for release {}, not {release}", r.release));
    }
    let decision = r.outputs.get("decision");
    match (r.verdict, decision.map(String::as_str)) {
        (Verdict::Fail, _) => GateResult::Refused(format!("failed: {} ({shown})", r.title)),
        (_, Some(d)) if d != "promote" => GateResult::Refused(format!("decided {d}: {} ({shown})", r.title)),
        _ => GateResult::Passed(shown.to_owned()),
    }
}

/// The required gates' results from check runs that count on `commit`.
pub fn from_check_runs(required: &[String], runs: &CheckRuns) -> BTreeMap<String, GateResult> {
    let mut out = BTreeMap::new();
    for key in required {
        let (gate, stage) = report::split_key(key);
        let name = report::check_name(gate, stage);
        let result = match (runs.counting.get(&name), runs.refused.get(&name)) {
            (Some(c), _) if c.passed() => GateResult::Passed(if c.url.is_empty() { c.conclusion.clone() } else { c.url.clone() }),
            (Some(c), _) => GateResult::Refused(format!("`{name}` concluded {} {}", c.conclusion, c.url)),
            (None, Some(why)) => GateResult::Refused(format!("`{name}` does not count: {why}")),
            (None, None) => GateResult::Refused(format!("no `{name}` check run on this commit")),
        };
        out.insert(key.clone(), result);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_gates_passing_report_for_this_release_passes() {
        let ts: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().expect("timestamp");
        let mut smoke = Report::new("smoke-gate", "2.4.0", ts, None);
        smoke.stage = Some("canary".into());
        smoke.output("decision", "promote");
        assert_eq!(result_of(&smoke, "smoke-gate-canary", "2.4.0", "r.json"), GateResult::Passed("r.json".into()));
        // Another stage's, another gate's, another release's: never a pass.
        let refused = |r: &Report, key: &str, release: &str| matches!(result_of(r, key, release, "r.json"), GateResult::Refused(_));
        assert!(refused(&smoke, "smoke-gate-smoke", "2.4.0"));
        assert!(refused(&smoke, "freeze-check", "2.4.0"));
        assert!(refused(&smoke, "smoke-gate-canary", "2.5.0"));
        let mut held = smoke.clone();
        held.output("decision", "hold");
        assert!(refused(&held, "smoke-gate-canary", "2.4.0"));
        let mut failed = smoke.clone();
        failed.verdict = Verdict::Fail;
        assert!(refused(&failed, "smoke-gate-canary", "2.4.0"));
    }
}
