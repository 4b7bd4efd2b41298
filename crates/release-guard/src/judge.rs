//! The guard's decision from what was observed: no clock, network or file.
//!
//! The guard period is `[deploy, deploy + guard]`; an incident touches it
//! when its open interval overlaps the part of it that has passed.
//!
//! - **rollback** (§6): a critical KPI beyond its bound in the whole guard
//!   or any rolling window, the error budget, a failed migration, a
//!   declared security or compliance breach, or an incident of a security
//!   type touching the guard (resolved or not);
//! - **pause** (§4.3): any incident touching the guard, open or resolved,
//!   that no `resume` has dealt with since;
//! - **hold**: production metrics outside tolerance (in any window) or not
//!   judgeable;
//! - **blocked** (§5, at the end): no production metric configured, a
//!   Sev-2+ incident outstanding at any time during the guard, an earlier
//!   stage not promoted, architecture touched without an ADR/runbook update;
//! - **watching** while the guard runs with nothing wrong, **success** when
//!   it has ended with nothing wrong.

use release_gate_core::deviation::Granted;
use release_gate_core::report::{Check, Status};
use release_gate_metrics::Findings;

use crate::incidents::Incident;

/// The guard's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The guard runs; nothing wrong so far.
    Watching,
    /// The guard ended; the release is successful (§5).
    Success,
    /// An incident: the pipeline pauses.
    Pause,
    /// A rollback trigger (§6).
    Rollback,
    /// The guard ended but success is blocked.
    Blocked,
    /// Metrics outside tolerance or not judgeable: hold.
    Hold,
}

impl Decision {
    /// The word in outputs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Watching => "watching",
            Decision::Success => "success",
            Decision::Pause => "pause",
            Decision::Rollback => "rollback",
            Decision::Blocked => "blocked",
            Decision::Hold => "hold",
        }
    }
}

/// An earlier stage's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Its report key (`smoke-gate-canary`).
    pub key: String,
    /// `Ok` when promoted; else what it decided or why it is missing.
    pub promoted: Result<(), String>,
}

/// Whether the release touches the architecture, and whether it carries an
/// ADR or runbook update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Architecture {
    /// Not configured (`architecture-paths` empty).
    NotConfigured,
    /// The change list could not be obtained (why).
    Unknown(String),
    /// Files touched that count as architecture, and ADR/runbook files changed.
    Changed { touched: Vec<String>, adr: Vec<String> },
}

/// What the guard observed.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The production deploy.
    pub deployed_at: jiff::Timestamp,
    /// The guard's end.
    pub guard_ends: jiff::Timestamp,
    /// The instant evaluated.
    pub now: jiff::Timestamp,
    /// Incidents created since the look-back before the deploy.
    pub incidents: Vec<Incident>,
    /// The latest resume of a pause, when there was one: the incidents
    /// resolved by then were dealt with.
    pub resumed_at: Option<jiff::Timestamp>,
    /// The production metrics' findings; `None` when no metric is configured.
    pub metrics: Option<Findings>,
    /// Signed deviations from the runbook's minimums in force.
    pub deviations: Vec<Granted>,
    /// A failed migration (its evidence), `None` when none is bound.
    pub migration: Option<Result<(), String>>,
    /// A declared security or compliance breach.
    pub breach: Option<String>,
    /// Incident types that are a breach.
    pub security_types: Vec<String>,
    /// Incidents this severe or worse block success.
    pub blocking_severity: u8,
    /// The earlier stages.
    pub stages: Vec<Stage>,
    /// Architecture and ADRs.
    pub architecture: Architecture,
}

impl Facts {
    /// The part of the guard that has passed.
    fn passed(&self) -> (jiff::Timestamp, jiff::Timestamp) {
        (self.deployed_at, self.now.min(self.guard_ends))
    }

    /// Incidents whose open interval overlaps the guard so far.
    pub fn in_guard(&self) -> Vec<&Incident> {
        let (from, to) = self.passed();
        self.incidents.iter().filter(|i| i.overlaps(from, to)).collect()
    }

    /// Whether a resume has dealt with an incident: raised and resolved before it.
    fn covered(&self, i: &Incident) -> bool {
        self.resumed_at.is_some_and(|r| i.created_at <= r && i.resolved_at.is_some_and(|x| x <= r))
    }
}

/// The decision, the checks that show it, and the rollback triggers.
pub fn judge(f: &Facts) -> (Decision, Vec<Check>, Vec<String>) {
    let mut checks = Vec::new();
    let mut triggers = Vec::new();
    let ended = f.now >= f.guard_ends;
    let left = f.guard_ends.duration_since(f.now).as_mins().max(0);
    checks.push(Check::new(
        "guard",
        Status::Pass,
        if ended {
            format!(
                "the guard ended at {} ({} min after the deploy at {})",
                f.guard_ends,
                f.guard_ends.duration_since(f.deployed_at).as_mins(),
                f.deployed_at
            )
        } else {
            format!("the guard runs from the deploy at {} until {} ({left} min left)", f.deployed_at, f.guard_ends)
        },
    ));
    for d in &f.deviations {
        checks.push(Check::new("deviation", Status::Warn, d.line()));
    }

    // Incidents: every one whose open interval touches the guard.
    let in_guard = f.in_guard();
    let describe = |i: &Incident| {
        let until = i.resolved_at.map_or_else(|| "still open".to_owned(), |r| format!("resolved {r}"));
        format!(
            "#{} {} ({}, Sev-{} by {}, raised {}, {until}) {}",
            i.number, i.title, i.status, i.severity, i.severity_from, i.created_at, i.url
        )
    };
    for i in in_guard.iter().filter(|i| i.of_type(&f.security_types)) {
        triggers.push(format!("security or compliance incident {}", describe(i)));
    }
    let pausing: Vec<&&Incident> = in_guard.iter().filter(|i| !f.covered(i)).collect();
    checks.push(match (pausing.is_empty(), in_guard.is_empty()) {
        (true, true) => Check::new("incidents", Status::Pass, "no incident touched the guard period"),
        (true, false) => Check::new(
            "incidents",
            Status::Pass,
            format!(
                "{} incident(s) touched the guard; each was resolved before the resume at {}",
                in_guard.len(),
                f.resumed_at.map(|r| r.to_string()).unwrap_or_default()
            ),
        ),
        (false, _) => Check::new(
            "incidents",
            Status::Fail,
            format!(
                "{} incident(s) touched the guard period and pause the pipeline (§4.3): {}",
                pausing.len(),
                pausing.iter().map(|i| describe(i)).collect::<Vec<_>>().join("; ")
            ),
        ),
    });

    // Metrics.
    if let Some(m) = &f.metrics {
        triggers.extend(m.rollback.iter().cloned());
    }
    // Migration and declared breaches.
    match &f.migration {
        None => {}
        Some(Ok(())) => checks.push(Check::new("migration", Status::Pass, "the migration succeeded")),
        Some(Err(why)) => {
            triggers.push(format!("migration failure: {why}"));
            checks.push(Check::new(
                "migration",
                Status::Fail,
                format!("migration failure: {why} (apply `alembic downgrade -1`, runbook §6)"),
            ));
        }
    }
    if let Some(b) = &f.breach {
        triggers.push(format!("security or compliance breach: {b}"));
        checks.push(Check::new("breach", Status::Fail, format!("security or compliance breach declared: {b}")));
    }

    // Success conditions, due once the guard has ended (§5).
    checks.push(match &f.metrics {
        None => Check::new(
            "metrics",
            Status::Fail,
            "no production metric is configured, so none was read: §5 asks for production metrics stable for the guard period; set release-guard.metrics (the canary's metrics, read from production)",
        ),
        Some(_) => Check::new("metrics", Status::Pass, "production metrics were read for the guard period so far"),
    });
    let severe: Vec<&&Incident> = in_guard.iter().filter(|i| i.severity <= f.blocking_severity).collect();
    if !severe.is_empty() {
        checks.push(Check::new(
            "sev2-outstanding",
            Status::Fail,
            format!(
                "Sev-{}+ incident(s) outstanding during the guard period block the success verdict (§5): {}",
                f.blocking_severity,
                severe.iter().map(|i| describe(i)).collect::<Vec<_>>().join("; ")
            ),
        ));
    }
    let unpromoted: Vec<String> =
        f.stages.iter().filter_map(|s| s.promoted.as_ref().err().map(|why| format!("{}: {why}", s.key))).collect();
    checks.push(if f.stages.is_empty() {
        Check::new(
            "stages",
            Status::Fail,
            "no earlier stage is known (decision-log-commit.required names no smoke-gate stage): nothing was verified",
        )
    } else if unpromoted.is_empty() {
        Check::new(
            "stages",
            Status::Pass,
            format!("every earlier stage promoted: {}", f.stages.iter().map(|s| s.key.as_str()).collect::<Vec<_>>().join(", ")),
        )
    } else {
        Check::new("stages", Status::Fail, format!("not promoted: {}", unpromoted.join("; ")))
    });
    match &f.architecture {
        Architecture::NotConfigured => {}
        Architecture::Unknown(why) => {
            checks.push(Check::new(
                "architecture",
                Status::Fail,
                format!("cannot tell whether the release touches the architecture: {why}"),
            ));
        }
        Architecture::Changed { touched, .. } if touched.is_empty() => {
            checks.push(Check::new("architecture", Status::Pass, "the release touches no architecture path"));
        }
        Architecture::Changed { touched, adr } if adr.is_empty() => checks.push(Check::new(
            "architecture",
            Status::Fail,
            format!(
                "the release touches the architecture ({}) but merges no ADR or runbook update (§5)",
                touched.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ),
        )),
        Architecture::Changed { adr, .. } => {
            checks.push(Check::new("architecture", Status::Pass, format!("ADR/runbook updated: {}", adr.join(", "))))
        }
    }

    let metrics_failed = f.metrics.as_ref().is_some_and(|m| !m.failed.is_empty() || !m.inconclusive.is_empty());
    let due_failures = checks
        .iter()
        .any(|c| matches!(c.id.as_str(), "metrics" | "sev2-outstanding" | "stages" | "architecture") && c.status == Status::Fail);
    let decision = if !triggers.is_empty() {
        Decision::Rollback
    } else if !pausing.is_empty() {
        Decision::Pause
    } else if metrics_failed {
        Decision::Hold
    } else if !ended {
        Decision::Watching
    } else if due_failures {
        Decision::Blocked
    } else {
        Decision::Success
    };
    // While the guard runs, the success conditions are not yet due: they do not fail the check.
    if !ended && decision == Decision::Watching {
        for c in checks.iter_mut().filter(|c| matches!(c.id.as_str(), "metrics" | "sev2-outstanding" | "stages" | "architecture")) {
            if c.status == Status::Fail {
                c.status = Status::Warn;
                c.message = format!("{} (due at the end of the guard)", c.message);
            }
        }
    }
    (decision, checks, triggers)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    fn facts(now: &str) -> Facts {
        Facts {
            deployed_at: t("2026-12-01T13:30:00Z"),
            guard_ends: t("2026-12-01T14:30:00Z"),
            now: t(now),
            incidents: Vec::new(),
            resumed_at: None,
            metrics: Some(Findings::default()),
            deviations: Vec::new(),
            migration: None,
            breach: None,
            security_types: vec!["security".into()],
            blocking_severity: 2,
            stages: vec![Stage { key: "smoke-gate-canary".into(), promoted: Ok(()) }],
            architecture: Architecture::NotConfigured,
        }
    }

    /// An incident raised at `from`, resolved at `until` (`None`: still open).
    fn incident(severity: u8, from: &str, until: Option<&str>, kind: &str) -> Incident {
        Incident {
            id: "P1".into(),
            number: 7,
            title: "latency".into(),
            status: if until.is_some() { "resolved" } else { "triggered" }.into(),
            severity,
            severity_from: "priority".into(),
            kind: kind.into(),
            kind_shown: String::new(),
            created_at: t(from),
            resolved_at: until.map(t),
            url: "https://pd/7".into(),
        }
    }

    #[test]
    fn success_only_at_the_end_with_nothing_wrong() {
        assert_eq!(judge(&facts("2026-12-01T14:00:00Z")).0, Decision::Watching);
        assert_eq!(judge(&facts("2026-12-01T14:30:00Z")).0, Decision::Success);
    }

    #[test]
    fn every_incident_that_touches_the_guard_counts_by_its_own_times() {
        let end = "2026-12-01T14:31:00Z";
        let case = |i: Incident, want: Decision| {
            let mut f = facts(end);
            f.blocking_severity = 1; // these are about pausing, not the Sev-2 rule
            f.incidents.push(i);
            assert_eq!(judge(&f).0, want, "{f:?}");
        };
        // Raised 20 minutes after the deploy, resolved 10 minutes later: it paused the pipeline.
        case(incident(4, "2026-12-01T13:50:00Z", Some("2026-12-01T14:00:00Z"), ""), Decision::Pause);
        // Raised 5 minutes before the deploy, still open throughout.
        case(incident(2, "2026-12-01T13:25:00Z", None, ""), Decision::Pause);
        // Raised before the deploy, resolved before it: not the release's.
        case(incident(2, "2026-12-01T12:00:00Z", Some("2026-12-01T13:00:00Z"), ""), Decision::Success);
        // After the guard: not the guard's.
        case(incident(2, "2026-12-01T14:45:00Z", None, ""), Decision::Success);
        // Resolved exactly at the deploy: it touched it.
        case(incident(4, "2026-12-01T13:00:00Z", Some("2026-12-01T13:30:00Z"), ""), Decision::Pause);
    }

    #[test]
    fn a_sev2_incident_outstanding_during_the_guard_blocks_success_even_after_a_resume() {
        let mut f = facts("2026-12-01T14:31:00Z");
        f.incidents.push(incident(2, "2026-12-01T13:50:00Z", Some("2026-12-01T14:00:00Z"), ""));
        assert_eq!(judge(&f).0, Decision::Pause, "not yet resumed");
        f.resumed_at = Some(t("2026-12-01T14:05:00Z"));
        let (d, checks, _) = judge(&f);
        assert_eq!(d, Decision::Blocked, "{checks:?}");
        assert!(checks.iter().any(|c| c.id == "sev2-outstanding" && c.status == Status::Fail));
        // A Sev-4 dealt with by the resume: success.
        f.incidents[0].severity = 4;
        assert_eq!(judge(&f).0, Decision::Success);
        // A resume does not cover an incident raised after it, or one still open.
        f.incidents.push(incident(4, "2026-12-01T14:10:00Z", Some("2026-12-01T14:12:00Z"), ""));
        assert_eq!(judge(&f).0, Decision::Pause);
    }

    #[test]
    fn every_way_a_release_is_not_successful() {
        let end = "2026-12-01T14:31:00Z";
        let case = |edit: &dyn Fn(&mut Facts), want: Decision| {
            let mut f = facts(end);
            edit(&mut f);
            assert_eq!(judge(&f).0, want);
        };
        // Rollback triggers win over everything; a security incident resolved still is one.
        case(&|f| f.incidents.push(incident(3, "2026-12-01T13:50:00Z", None, "Security")), Decision::Rollback);
        case(&|f| f.incidents.push(incident(4, "2026-12-01T13:50:00Z", Some("2026-12-01T13:55:00Z"), "SECURITY")), Decision::Rollback);
        case(&|f| f.migration = Some(Err("alembic: relation exists".into())), Decision::Rollback);
        case(&|f| f.breach = Some("label security-incident".into()), Decision::Rollback);
        case(&|f| f.metrics.as_mut().unwrap().rollback.push("critical KPI +14 %".into()), Decision::Rollback);
        // Metrics outside tolerance or without data: hold, never success.
        case(&|f| f.metrics.as_mut().unwrap().failed.push("latency +6 %".into()), Decision::Hold);
        case(&|f| f.metrics.as_mut().unwrap().inconclusive.push("no data".into()), Decision::Hold);
        // No metric at all: nothing was read, never a success.
        case(&|f| f.metrics = None, Decision::Blocked);
        // Stages not promoted, none known, architecture without ADR or unknown: blocked.
        case(&|f| f.stages[0].promoted = Err("decided hold".into()), Decision::Blocked);
        case(&|f| f.stages.clear(), Decision::Blocked);
        case(
            &|f| f.architecture = Architecture::Changed { touched: vec!["services/router/schema.sql".into()], adr: vec![] },
            Decision::Blocked,
        );
        case(&|f| f.architecture = Architecture::Unknown("no change list".into()), Decision::Blocked);
        case(
            &|f| f.architecture = Architecture::Changed { touched: vec!["x".into()], adr: vec!["docs/adr/0007.md".into()] },
            Decision::Success,
        );
        // While the guard runs, no metric is a warning, not yet a refusal.
        let mut f = facts("2026-12-01T14:00:00Z");
        f.metrics = None;
        let (d, checks, _) = judge(&f);
        assert_eq!(d, Decision::Watching);
        assert!(checks.iter().any(|c| c.id == "metrics" && c.status == Status::Warn && c.message.contains("due at the end")), "{checks:?}");
    }
}
