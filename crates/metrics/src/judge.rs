//! Metrics judged into checks, findings and the report's table: the same
//! rules for smoke-gate's canary stage and release-guard's post-release
//! guard. Pure: `fetch` brings the series (Prometheus or a file) at the edge.

use release_gate_core::render;
use release_gate_core::report::data;
use release_gate_core::report::{Check, Report, Section, Status};

use crate::series::{self, Deviation, Judgement, Measure};
use crate::{Findings, MetricsConfig};

/// The tolerances a metric is judged with when it names none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Relative tolerance in the bad direction, percent (runbook §4: 5).
    pub tolerance: f64,
    /// Beyond this, a critical metric means rollback, percent (runbook §6: 10).
    pub critical_deviation: f64,
}

/// Judges the metrics over the window and every rolling window in it;
/// `fetch(query)` returns the series for the window; its sample slots are
/// `step` seconds ([`crate::Fetcher::step`]).
#[allow(clippy::too_many_arguments)]
pub fn judge_metrics(
    report: &mut Report,
    findings: &mut Findings,
    cfg: &MetricsConfig,
    limits: Limits,
    start: f64,
    end: f64,
    step: f64,
    fetch: &dyn Fn(&str) -> Result<series::Series, String>,
) -> data::Canary {
    let cov = series::Coverage { share: cfg.coverage, step, max_gap: cfg.max_gap };
    let rolling = series::duration_s(&cfg.rolling).unwrap_or(300.0);
    let mut rows = Vec::new();
    let mut md = render::Table::new(&["metric", "canary", "baseline", "deviation", "allowed", "result"]);
    let within = || format!("{} within", render::mark(Status::Pass));
    let rollback = || format!("{} rollback", render::ROLLBACK);
    for m in &cfg.metrics {
        let tol = m.tolerance.unwrap_or(limits.tolerance);
        let id = format!("metric:{}", m.name);
        let canary = fetch(&m.query).and_then(|s| series::usable(&s, start, end, cov));
        let baseline = match (&m.baseline, m.baseline_value) {
            (_, Some(v)) => Ok(Some(v)),
            (Some(q), None) => fetch(q).and_then(|s| series::usable(&s, start, end, cov)).and_then(|v| series::baseline_mean(&v)).map(Some),
            (None, None) if m.max.is_some() || m.min.is_some() => Ok(None),
            (None, None) => Err("no baseline and no bounds (set `baseline`, `baseline-value`, `max` or `min`)".to_owned()),
        };
        let (j, worst) = match (canary, baseline) {
            (Err(e), _) => (Judgement::Inconclusive(format!("canary: {e}")), None),
            (_, Err(e)) => (Judgement::Inconclusive(format!("baseline: {e}")), None),
            (Ok(c), Ok(b)) => series::judge_windows(m, &c, b, tol, limits.critical_deviation, &series::windows(start, end, rolling, step)),
        };
        // Where the worst of it was, when a rolling window is worse than the whole.
        let window_note = worst
            .map(|(from, to)| {
                format!(" (worst {}-minute window {} – {})", ((to - from) / 60.0).round(), series::instant(from), series::instant(to))
            })
            .unwrap_or_default();
        let fmt = |v: f64| if v.abs() >= 100.0 { format!("{v:.1}") } else { format!("{v:.4}") };
        let base = |ms: &Measure| ms.baseline.map_or_else(|| "—".to_owned(), fmt);
        let dev = |ms: &Measure| match &ms.deviation {
            Some(Deviation::Percent(p)) => format!("{p:+.1} %"),
            Some(Deviation::Absolute(a)) => format!("{a:+} (from 0)"),
            None => "—".to_owned(),
        };
        // Relative to a non-zero baseline only: the classic wording.
        let relative = |ms: &Measure| matches!(ms.deviation, Some(Deviation::Percent(_))) && m.max.is_none() && m.min.is_none();
        let (status, text, cells) = match &j {
            Judgement::Within(ms) => (
                Status::Pass,
                if relative(ms) {
                    format!("{} vs baseline {} ({} in the bad direction, ±{tol} % allowed)", fmt(ms.canary), base(ms), dev(ms))
                } else {
                    format!("{} (baseline {}, allowed {})", fmt(ms.canary), base(ms), ms.allowed)
                },
                (fmt(ms.canary), base(ms), dev(ms), within()),
            ),
            Judgement::Outside(ms) => {
                let why = ms.breach.clone().unwrap_or_default();
                findings.failed.push(format!("{} {why}", m.name));
                (
                    Status::Fail,
                    if relative(ms) {
                        format!("{} vs baseline {}: {}, outside ±{tol} %", fmt(ms.canary), base(ms), dev(ms))
                    } else {
                        format!("{}: {why}", fmt(ms.canary))
                    },
                    (fmt(ms.canary), base(ms), dev(ms), format!("{} outside", render::mark(Status::Fail))),
                )
            }
            Judgement::Critical(ms) => {
                let why = ms.breach.clone().unwrap_or_default();
                if relative(ms) {
                    findings.rollback.push(format!(
                        "critical KPI {} is {} off its baseline (> {} %)",
                        m.name,
                        dev(ms),
                        limits.critical_deviation
                    ));
                } else {
                    findings.rollback.push(format!("critical KPI {} {why}", m.name));
                }
                (
                    Status::Fail,
                    if relative(ms) {
                        format!(
                            "critical KPI {} vs baseline {}: {}, beyond {} %: rollback",
                            fmt(ms.canary),
                            base(ms),
                            dev(ms),
                            limits.critical_deviation
                        )
                    } else {
                        format!("critical KPI {}: {why}: rollback", fmt(ms.canary))
                    },
                    (fmt(ms.canary), base(ms), dev(ms), rollback()),
                )
            }
            Judgement::Inconclusive(why) => {
                findings.inconclusive.push(format!("{}: {why}", m.name));
                (
                    Status::Fail,
                    format!("inconclusive ({why}): hold, never pass"),
                    ("—".into(), "—".into(), "—".into(), format!("{} no verdict", render::NO_VERDICT)),
                )
            }
        };
        let allowed = match &j {
            Judgement::Within(ms) | Judgement::Outside(ms) | Judgement::Critical(ms) => ms.allowed.clone(),
            Judgement::Inconclusive(_) => format!("±{tol} %"),
        };
        md.row([format!("{}{}", m.name, if m.critical { " (critical)" } else { "" }), cells.0, cells.1, cells.2, allowed, cells.3]);
        let text = format!("{text}{window_note}");
        report.push(Check::new(id, status, text.clone()));
        rows.push(data::Metric {
            name: m.name.clone(),
            query: m.query.clone(),
            critical: m.critical,
            tolerance: tol,
            status,
            result: text,
        });
    }
    let mut budget = None;
    if let Some(b) = &cfg.error_budget {
        let period = series::duration_s(&b.period).unwrap_or(30.0 * 86_400.0);
        let used = fetch(&b.query).and_then(|s| series::usable(&s, start, end, cov)).and_then(|ratio| {
            let used = series::budget_consumed(&ratio.iter().map(|p| p.1).collect::<Vec<_>>(), end - start, b.slo, period);
            if used.is_finite() { Ok(used) } else { Err("the budget consumed is not a finite number (overflow): cannot judge".to_owned()) }
        });
        let check = match used {
            Err(e) => {
                findings.inconclusive.push(format!("error budget: {e}"));
                Check::new("error-budget", Status::Fail, format!("inconclusive ({e}): hold, never pass"))
            }
            Ok(used) => {
                budget = Some(data::ErrorBudget {
                    consumed_percent: used,
                    max_percent: b.max_consumption,
                    slo: b.slo,
                    period: b.period.clone(),
                });
                md.row([
                    format!("error budget ({} SLO over {})", b.slo, b.period),
                    format!("{used:.2} % used"),
                    "—".into(),
                    "—".into(),
                    format!("≤ {} %", b.max_consumption),
                    if used > b.max_consumption { rollback() } else { within() },
                ]);
                if used > b.max_consumption {
                    findings.rollback.push(format!("error budget consumption {used:.1} % in the window (> {} %)", b.max_consumption));
                    Check::new(
                        "error-budget",
                        Status::Fail,
                        format!("{used:.2} % of the {} budget used in the window, more than {} %: rollback", b.period, b.max_consumption),
                    )
                } else {
                    Check::new(
                        "error-budget",
                        Status::Pass,
                        format!("{used:.2} % of the {} budget used in the window (≤ {} %)", b.period, b.max_consumption),
                    )
                }
            }
        };
        report.push(check);
    }
    report.details.push(Section { title: "Canary metrics".into(), markdown: md.finish() });
    data::Canary { metrics: rows, error_budget: budget, window: data::TimeWindow { start, end } }
}
