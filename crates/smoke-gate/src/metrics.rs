//! Canary metrics: series from Prometheus or a file, judged against a
//! baseline the way Argo Rollouts' analysis, Kayenta and Flagger do, in one
//! model:
//!
//! - each metric's canary series over the window is aggregated (mean by
//!   default) and compared with its baseline (a second query, a series in the
//!   file, or a fixed value): the relative deviation in the bad direction
//!   must stay within the tolerance (default 5 %), else the stage fails;
//! - a `critical` metric more than `critical-deviation` (10 %) off its
//!   baseline means rollback;
//! - error-budget consumption in the window above `max-consumption` (5 %)
//!   means rollback;
//! - no data, too little data to cover the window, NaN, or a source error is
//!   inconclusive: the stage holds, it never passes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// A time series: (unix seconds, value).
pub type Series = Vec<(f64, f64)>;

/// Which way is bad.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Latency, errors: higher is worse.
    #[default]
    LowerIsBetter,
    /// Throughput, success rate: lower is worse.
    HigherIsBetter,
    /// Reconciliation counts, anything that must not move either way.
    Both,
}

/// How the canary's points are summarised.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregate {
    /// Mean of the points (Kayenta-like).
    #[default]
    Mean,
    /// The worst point in the bad direction: every point must be within tolerance.
    Worst,
}

/// A metric as the policy gives it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MetricSpec {
    /// Shown name.
    pub name: String,
    /// PromQL (Prometheus source) or series name (file source).
    pub query: String,
    /// Baseline PromQL or series name.
    #[serde(default)]
    pub baseline: Option<String>,
    /// Fixed baseline value (an SLO target), instead of a query.
    #[serde(default)]
    pub baseline_value: Option<f64>,
    /// Which way is bad.
    #[serde(default)]
    pub direction: Direction,
    /// Allowed deviation, percent (default 5).
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// A critical KPI: beyond `critical-deviation` means rollback.
    #[serde(default)]
    pub critical: bool,
    /// Summary of the canary's points.
    #[serde(default)]
    pub aggregate: Aggregate,
}

/// Error-budget burn in the window.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ErrorBudget {
    /// PromQL or series name giving the error ratio (0..1).
    pub query: String,
    /// SLO target, e.g. 0.999.
    pub slo: f64,
    /// SLO period, e.g. `30d`.
    #[serde(default = "default_period")]
    pub period: String,
    /// Most budget the window may consume, percent (default 5).
    #[serde(default = "default_consumption")]
    pub max_consumption: f64,
}

fn default_period() -> String {
    "30d".into()
}

fn default_consumption() -> f64 {
    5.0
}

/// The outcome for one metric.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// Within tolerance.
    Within {
        /// Canary aggregate.
        canary: f64,
        /// Baseline.
        baseline: f64,
        /// Deviation in the bad direction, percent.
        deviation: f64,
    },
    /// Outside tolerance: the stage fails.
    Outside {
        /// Canary aggregate.
        canary: f64,
        /// Baseline.
        baseline: f64,
        /// Deviation in the bad direction, percent.
        deviation: f64,
    },
    /// A critical KPI beyond the critical deviation: rollback.
    Critical {
        /// Canary aggregate.
        canary: f64,
        /// Baseline.
        baseline: f64,
        /// Deviation in the bad direction, percent.
        deviation: f64,
    },
    /// Cannot say: hold.
    Inconclusive(String),
}

/// Values in the window, or why there are none usable.
pub fn usable(series: &Series, start: f64, end: f64, coverage: f64) -> Result<Vec<f64>, String> {
    let pts: Vec<&(f64, f64)> = series.iter().filter(|(t, _)| *t >= start && *t <= end).collect();
    if pts.is_empty() {
        return Err("no data in the window".into());
    }
    if pts.iter().any(|(_, v)| !v.is_finite()) {
        return Err("NaN or infinite values in the window".into());
    }
    let first = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let last = pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let span = last - first;
    let want = (end - start) * coverage;
    if pts.len() < 2 || span + 1e-9 < want {
        return Err(format!(
            "data covers {:.0} of the {:.0} minutes in the window (needs {:.0} %); wait for more",
            span / 60.0,
            (end - start) / 60.0,
            coverage * 100.0
        ));
    }
    Ok(pts.iter().map(|p| p.1).collect())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Deviation in the bad direction, percent (positive is worse).
pub fn bad_deviation(value: f64, baseline: f64, dir: Direction) -> Option<f64> {
    if baseline == 0.0 {
        return if value == 0.0 { Some(0.0) } else { None };
    }
    let rel = (value - baseline) / baseline.abs() * 100.0;
    Some(match dir {
        Direction::LowerIsBetter => rel,
        Direction::HigherIsBetter => -rel,
        Direction::Both => rel.abs(),
    })
}

/// Judges one metric.
pub fn judge(spec: &MetricSpec, canary: &[f64], baseline: f64, tolerance: f64, critical: f64) -> Judgement {
    let value = match spec.aggregate {
        Aggregate::Mean => mean(canary),
        Aggregate::Worst => {
            // The point furthest in the bad direction.
            let key = |v: &f64| bad_deviation(*v, baseline, spec.direction).unwrap_or(f64::INFINITY);
            canary.iter().copied().max_by(|a, b| key(a).total_cmp(&key(b))).unwrap_or(f64::NAN)
        }
    };
    let Some(dev) = bad_deviation(value, baseline, spec.direction) else {
        return Judgement::Inconclusive(format!("baseline is 0 and the canary is {value}: no relative deviation"));
    };
    if spec.critical && dev > critical {
        Judgement::Critical { canary: value, baseline, deviation: dev }
    } else if dev > tolerance {
        Judgement::Outside { canary: value, baseline, deviation: dev }
    } else {
        Judgement::Within { canary: value, baseline, deviation: dev }
    }
}

/// Error-budget consumption in the window, percent of the period's budget.
pub fn budget_consumed(error_ratio: &[f64], window_s: f64, slo: f64, period_s: f64) -> f64 {
    let budget = (1.0 - slo) * period_s;
    if budget <= 0.0 {
        return f64::INFINITY;
    }
    mean(error_ratio) * window_s / budget * 100.0
}

/// Seconds in a policy duration (`30m`, `1h`, `30d`, `90s`).
pub fn duration_s(text: &str) -> Option<f64> {
    release_gate_core::policy::duration(text).map(|d| d.as_secs_f64())
}

/// A metrics file: JSON `{"series": [[time, value], …], …}` or wide CSV
/// `timestamp,series_a,series_b`. Times are unix seconds or RFC 3339.
pub fn read_file(path: &Path, shown: &str) -> anyhow::Result<BTreeMap<String, Series>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read metrics file {shown}: {e}"))?;
    if shown.ends_with(".csv") { parse_csv(&text, shown) } else { parse_json(&text, shown) }
}

fn time_of(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => {
            s.trim().parse::<f64>().ok().or_else(|| s.parse::<jiff::Timestamp>().ok().map(|t| t.as_millisecond() as f64 / 1000.0))
        }
        _ => None,
    }
}

fn value_of(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        serde_json::Value::Null => Some(f64::NAN),
        _ => None,
    }
}

fn parse_json(text: &str, shown: &str) -> anyhow::Result<BTreeMap<String, Series>> {
    let doc: BTreeMap<String, Vec<Vec<serde_json::Value>>> = serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!("{shown}:{}:{}: {e}; expected {{\"series name\": [[time, value], …], …}}", e.line(), e.column()))?;
    let mut out = BTreeMap::new();
    for (name, points) in doc {
        let mut s = Series::with_capacity(points.len());
        for (i, p) in points.iter().enumerate() {
            let (Some(t), Some(v)) = (p.first().and_then(time_of), p.get(1).and_then(value_of)) else {
                anyhow::bail!(
                    "{shown}: series `{name}` point {i} is {p:?}; expected [time, value] with unix seconds or RFC 3339 and a number"
                );
            };
            s.push((t, v));
        }
        out.insert(name, s);
    }
    Ok(out)
}

fn parse_csv(text: &str, shown: &str) -> anyhow::Result<BTreeMap<String, Series>> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let Some((_, header)) = lines.next() else { anyhow::bail!("{shown}:1: empty; expected a header `timestamp,series_a,…`") };
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    if cols.len() < 2 || !cols[0].eq_ignore_ascii_case("timestamp") && !cols[0].eq_ignore_ascii_case("time") {
        anyhow::bail!("{shown}:1: header `{header}`; expected `timestamp,<series>,…`");
    }
    let mut out: BTreeMap<String, Series> = cols[1..].iter().map(|c| ((*c).to_owned(), Series::new())).collect();
    for (i, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != cols.len() {
            anyhow::bail!(
                "{shown}:{}: {} column(s), the header has {}; every row needs a value (or an empty cell) per series",
                i + 1,
                cells.len(),
                cols.len()
            );
        }
        let t = time_of(&serde_json::Value::String(cells[0].to_owned()))
            .ok_or_else(|| anyhow::anyhow!("{shown}:{}: `{}` is not a time (unix seconds or RFC 3339)", i + 1, cells[0]))?;
        for (c, cell) in cols[1..].iter().zip(&cells[1..]) {
            if cell.is_empty() {
                continue;
            }
            let v: f64 = cell.parse().map_err(|_| anyhow::anyhow!("{shown}:{}: `{cell}` in column `{c}` is not a number", i + 1))?;
            if let Some(s) = out.get_mut(*c) {
                s.push((t, v));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn spec(direction: Direction, critical: bool, aggregate: Aggregate) -> MetricSpec {
        MetricSpec {
            name: "m".into(),
            query: "q".into(),
            baseline: None,
            baseline_value: Some(100.0),
            direction,
            tolerance: None,
            critical,
            aggregate,
        }
    }

    #[test]
    fn directions_tolerance_and_critical() {
        let lower = spec(Direction::LowerIsBetter, true, Aggregate::Mean);
        assert!(matches!(judge(&lower, &[104.0, 105.0], 100.0, 5.0, 10.0), Judgement::Within { .. }));
        assert!(matches!(judge(&lower, &[90.0], 100.0, 5.0, 10.0), Judgement::Within { .. }), "better is fine");
        assert!(matches!(judge(&lower, &[107.0], 100.0, 5.0, 10.0), Judgement::Outside { .. }));
        assert!(matches!(judge(&lower, &[111.0], 100.0, 5.0, 10.0), Judgement::Critical { .. }));
        let higher = spec(Direction::HigherIsBetter, false, Aggregate::Mean);
        assert!(matches!(judge(&higher, &[80.0], 100.0, 5.0, 10.0), Judgement::Outside { .. }), "not critical: fails, no rollback");
        let both = spec(Direction::Both, false, Aggregate::Worst);
        assert!(matches!(judge(&both, &[100.0, 100.0, 94.0], 100.0, 5.0, 10.0), Judgement::Outside { .. }), "worst point counts");
        assert!(matches!(judge(&both, &[1.0], 0.0, 5.0, 10.0), Judgement::Inconclusive(_)));
    }

    #[test]
    fn coverage_and_budget() {
        let s: Series = (0..=30).map(|m| (f64::from(m) * 60.0, 1.0)).collect();
        assert_eq!(usable(&s, 0.0, 1800.0, 0.9).unwrap().len(), 31);
        assert!(usable(&s[25..].to_vec(), 0.0, 1800.0, 0.9).unwrap_err().contains("covers 5 of the 30 minutes"));
        assert!(usable(&vec![(10.0, f64::NAN), (1700.0, 1.0)], 0.0, 1800.0, 0.9).unwrap_err().contains("NaN"));
        // 30 minutes at 7.2 % errors burn exactly 5 % of a 99.9 % 30-day budget.
        assert!((budget_consumed(&[0.072], 1800.0, 0.999, 30.0 * 86_400.0) - 5.0).abs() < 1e-9);
        assert_eq!(duration_s("30m"), Some(1800.0));
        assert_eq!(duration_s("30x"), None);
    }
}
