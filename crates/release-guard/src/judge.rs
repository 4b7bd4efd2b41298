//! The guard's decision from what was observed: no clock, network or file.
//!
//! - **rollback** (§6): a critical KPI beyond its limit or the error budget
//!   (the metrics' rollback findings), a failed migration, a declared security
//!   or compliance breach, or an incident of a security type;
//! - **pause** (§4.3): any incident in the guard window pauses the pipeline;
//! - **hold**: production metrics outside tolerance or not judgeable;
//! - **blocked** (§5, at the end): an incident this severe still open, an
//!   earlier stage not promoted, architecture touched without an ADR/runbook update;
//! - **watching** while the guard runs with nothing wrong, **success** when it
//!   has ended with nothing wrong.

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
    /// Incidents since the deploy.
    pub incidents: Vec<Incident>,
    /// The production metrics' findings, when metrics are configured.
    pub metrics: Option<Findings>,
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
                "the guard ended at {} ({} after the deploy)",
                f.guard_ends,
                f.guard_ends.duration_since(f.deployed_at).as_mins().to_string() + " min"
            )
        } else {
            format!("the guard runs until {} ({left} min left)", f.guard_ends)
        },
    ));

    // Incidents.
    let in_window: Vec<&Incident> = f.incidents.iter().filter(|i| i.created_at >= f.deployed_at).collect();
    let describe = |i: &Incident| format!("#{} {} ({}, Sev-{} by {}) {}", i.number, i.title, i.status, i.severity, i.severity_from, i.url);
    let breaches: Vec<&&Incident> = in_window.iter().filter(|i| f.security_types.iter().any(|t| t.eq_ignore_ascii_case(&i.kind))).collect();
    triggers.extend(breaches.iter().map(|i| format!("security or compliance incident {}", describe(i))));
    checks.push(if in_window.is_empty() {
        Check::new("incidents", Status::Pass, "no incident since the deploy")
    } else {
        Check::new(
            "incidents",
            Status::Fail,
            format!(
                "{} incident(s) since the deploy pause the pipeline: {}",
                in_window.len(),
                in_window.iter().map(|i| describe(i)).collect::<Vec<_>>().join("; ")
            ),
        )
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

    // Success conditions, checked once the guard has ended (§5).
    let blocking: Vec<&&Incident> = in_window.iter().filter(|i| i.open() && i.severity <= f.blocking_severity).collect();
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
    let architecture_blocks = checks.iter().any(|c| c.id == "architecture" && c.status == Status::Fail);
    let decision = if !triggers.is_empty() {
        Decision::Rollback
    } else if !in_window.is_empty() {
        Decision::Pause
    } else if metrics_failed {
        Decision::Hold
    } else if !ended {
        Decision::Watching
    } else if !blocking.is_empty() || !unpromoted.is_empty() || f.stages.is_empty() || architecture_blocks {
        Decision::Blocked
    } else {
        Decision::Success
    };
    if ended && !blocking.is_empty() {
        checks.push(Check::new(
            "sev2-open",
            Status::Fail,
            format!("Sev-{}+ incident(s) open at the end of the guard block the success verdict (§5)", f.blocking_severity),
        ));
    }
    // While the guard runs, the success conditions are not yet due: they do not fail the check.
    if !ended && decision == Decision::Watching {
        for c in checks.iter_mut().filter(|c| c.id == "stages" || c.id == "architecture") {
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
            metrics: Some(Findings::default()),
            migration: None,
            breach: None,
            security_types: vec!["security".into()],
            blocking_severity: 2,
            stages: vec![Stage { key: "smoke-gate-canary".into(), promoted: Ok(()) }],
            architecture: Architecture::NotConfigured,
        }
    }

    fn incident(severity: u8, status: &str, kind: &str) -> Incident {
        Incident {
            id: "P1".into(),
            number: 7,
            title: "latency".into(),
            status: status.into(),
            severity,
            severity_from: "priority".into(),
            kind: kind.into(),
            created_at: t("2026-12-01T13:50:00Z"),
            url: "https://pd/7".into(),
        }
    }

    #[test]
    fn success_only_at_the_end_with_nothing_wrong() {
        assert_eq!(judge(&facts("2026-12-01T14:00:00Z")).0, Decision::Watching);
        assert_eq!(judge(&facts("2026-12-01T14:30:00Z")).0, Decision::Success);
    }

    #[test]
    fn every_way_a_release_is_not_successful() {
        let end = "2026-12-01T14:31:00Z";
        let case = |edit: &dyn Fn(&mut Facts), want: Decision| {
            let mut f = facts(end);
            edit(&mut f);
            assert_eq!(judge(&f).0, want);
        };
        // Any incident in the window pauses, resolved or not, whatever its severity.
        case(&|f| f.incidents.push(incident(4, "resolved", "")), Decision::Pause);
        case(&|f| f.incidents.push(incident(1, "triggered", "")), Decision::Pause);
        // One before the deploy is not the release's.
        case(
            &|f| {
                let mut i = incident(1, "triggered", "");
                i.created_at = t("2026-12-01T13:00:00Z");
                f.incidents.push(i);
            },
            Decision::Success,
        );
        // Rollback triggers win over everything.
        case(&|f| f.incidents.push(incident(3, "triggered", "Security")), Decision::Rollback);
        case(&|f| f.migration = Some(Err("alembic: relation exists".into())), Decision::Rollback);
        case(&|f| f.breach = Some("label security-incident".into()), Decision::Rollback);
        case(&|f| f.metrics.as_mut().unwrap().rollback.push("critical KPI +14 %".into()), Decision::Rollback);
        // Metrics outside tolerance or without data: hold, never success.
        case(&|f| f.metrics.as_mut().unwrap().failed.push("latency +6 %".into()), Decision::Hold);
        case(&|f| f.metrics.as_mut().unwrap().inconclusive.push("no data".into()), Decision::Hold);
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
    }
}
