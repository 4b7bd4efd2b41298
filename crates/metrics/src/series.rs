//! Canary metrics: series from Prometheus or a file, judged against a
//! baseline the way Argo Rollouts' analysis, Kayenta and Flagger do, in one
//! model:
//!
//! - each metric's canary series over the window is aggregated (mean by
//!   default) and compared with its baseline (a second query, a series in the
//!   file, or a fixed value): the relative deviation in the bad direction
//!   must stay within the tolerance (default 5 %), else the stage fails;
//! - a baseline of 0 has no relative deviation: `tolerance-absolute` bounds
//!   the move in the bad direction, and without it any move in the bad
//!   direction is outside tolerance (never "inconclusive": a count of
//!   rejected orders that goes from 0 to 3 is a regression);
//! - `max:` and `min:` bound the canary's value absolutely, with or without
//!   a baseline (Flagger's `thresholdRange`, Argo Rollouts'
//!   `successCondition`);
//! - a `critical` metric more than `critical-deviation` (10 %) off its
//!   baseline, or outside its absolute bounds, or moving in the bad
//!   direction from a baseline of 0 beyond `tolerance-absolute`, means
//!   rollback;
//! - error-budget consumption in the window above `max-consumption` (5 %)
//!   means rollback;
//! - no data, too little data to cover the window, NaN, or a source error is
//!   inconclusive: the stage holds, it never passes.

use release_gate_core::error::Located;
use std::collections::BTreeMap;

use serde::Deserialize;

/// A time series: (unix seconds, value).
pub type Series = Vec<(f64, f64)>;

/// Which way is bad.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, serde::Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregate {
    /// Mean of the points (Kayenta-like).
    #[default]
    Mean,
    /// The worst point in the bad direction: every point must be within tolerance.
    Worst,
}

/// A metric as the policy gives it.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
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
    /// Allowed move in the bad direction, in the metric's unit, when the
    /// baseline is 0 (default: none at all).
    #[serde(default)]
    pub tolerance_absolute: Option<f64>,
    /// The canary's value must not exceed this.
    #[serde(default)]
    pub max: Option<f64>,
    /// The canary's value must not fall below this.
    #[serde(default)]
    pub min: Option<f64>,
    /// A critical KPI: beyond `critical-deviation` means rollback.
    #[serde(default)]
    pub critical: bool,
    /// Summary of the canary's points.
    #[serde(default)]
    pub aggregate: Aggregate,
}

/// Error-budget burn in the window.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
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

/// How far the canary is from what is allowed.
#[derive(Debug, Clone, PartialEq)]
pub enum Deviation {
    /// Relative to a non-zero baseline, percent in the bad direction (positive is worse).
    Percent(f64),
    /// From a baseline of 0, in the metric's unit, in the bad direction.
    Absolute(f64),
}

/// What was measured for one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// Canary aggregate.
    pub canary: f64,
    /// Baseline, when the metric has one.
    pub baseline: Option<f64>,
    /// Deviation from the baseline, when there is one.
    pub deviation: Option<Deviation>,
    /// What is allowed, for people: `±5 %`, `≤ 0 (baseline 0)`, `≤ 250`.
    pub allowed: String,
    /// Why it is outside, when it is.
    pub breach: Option<String>,
}

/// The outcome for one metric.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// Within tolerance and bounds.
    Within(Measure),
    /// Outside tolerance or bounds: the stage fails.
    Outside(Measure),
    /// A critical KPI beyond the critical deviation, outside its bounds, or
    /// moving in the bad direction from a baseline of 0: rollback.
    Critical(Measure),
    /// Cannot say: hold.
    Inconclusive(String),
}

/// How much of a window a series must cover, and at what step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coverage {
    /// Share of the window's sample slots that must hold a value (0.9).
    pub share: f64,
    /// The series' step in seconds (the config's, else the window / 60).
    pub step: f64,
    /// The longest run of empty slots allowed, in steps (2).
    pub max_gap: u32,
}

/// The points in the window, sorted by time, or why they cannot be judged:
/// none, a value that is not finite, too few of the window's sample slots
/// filled (slots at the series' step, not the span from first to last
/// point: twelve samples and a 49-minute hole are not an hour), or a gap
/// longer than `max_gap` steps anywhere in the window.
pub fn usable(series: &Series, start: f64, end: f64, c: Coverage) -> Result<Vec<(f64, f64)>, String> {
    let mut pts: Vec<(f64, f64)> = series.iter().copied().filter(|(t, _)| *t >= start && *t <= end).collect();
    if pts.is_empty() {
        return Err("no data in the window".into());
    }
    if pts.iter().any(|(_, v)| !v.is_finite()) {
        return Err("NaN or infinite values in the window".into());
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let times: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let span_min = (end - start) / 60.0;
    let step = c.step;
    if step.is_nan() || step <= 0.0 {
        return Err(format!("one sample covers nothing of the {span_min:.0} minutes in the window; wait for more"));
    }
    // Sample slots at the step; a slot holds a value when a sample falls in it.
    let slots = ((end - start) / step).floor() as u64 + 1;
    let mut filled: Vec<u64> = times.iter().map(|t| ((t - start) / step).round() as u64).filter(|i| *i < slots).collect();
    filled.dedup();
    let share = filled.len() as f64 / slots as f64;
    if share + 1e-9 < c.share {
        return Err(format!(
            "data fills {} of the {slots} sample slots ({:.0} %) in the {span_min:.0} minutes of the window, at a {:.0} s step (needs {:.0} %); wait for more",
            filled.len(),
            share * 100.0,
            step,
            c.share * 100.0
        ));
    }
    // The longest hole, the window's edges included.
    let edges = std::iter::once(start).chain(times.iter().copied()).chain(std::iter::once(end)).collect::<Vec<_>>();
    if let Some(w) = edges.windows(2).max_by(|a, b| (a[1] - a[0]).total_cmp(&(b[1] - b[0])))
        && w[1] - w[0] > step * (f64::from(c.max_gap) + 1.0) + 1e-9
    {
        return Err(format!(
            "a {:.0}-minute gap in the data (from {} to {}), longer than {} step(s) of {:.0} s (max-gap); wait for the data, or fix the series",
            (w[1] - w[0]) / 60.0,
            instant(w[0]),
            instant(w[1]),
            c.max_gap,
            step
        ));
    }
    Ok(pts)
}

/// Unix seconds as RFC 3339.
pub fn instant(t: f64) -> String {
    jiff::Timestamp::from_millisecond((t * 1000.0) as i64).map(release_gate_core::report::rfc3339).unwrap_or_else(|_| format!("{t}"))
}

/// The rolling windows over `[start, end]`: `width` long, stepping by
/// `step`, the last one ending at `end` (a window shorter than `width`,
/// when the whole is, is the whole).
pub fn windows(start: f64, end: f64, width: f64, step: f64) -> Vec<(f64, f64)> {
    if width >= end - start || step <= 0.0 {
        return vec![(start, end)];
    }
    let mut out = Vec::new();
    let mut from = start;
    while from + width < end {
        out.push((from, from + width));
        from += step;
    }
    out.push((end - width, end));
    out
}

/// The mean; not finite (overflow, NaN) when it cannot be told.
fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The mean of a baseline's values, or why it cannot be told.
pub fn baseline_mean(v: &[(f64, f64)]) -> Result<f64, String> {
    let m = mean(&v.iter().map(|p| p.1).collect::<Vec<_>>());
    if m.is_finite() { Ok(m) } else { Err("the baseline's mean is not a finite number (overflow): cannot judge".into()) }
}

/// How far `value` moved from `baseline` in the bad direction (positive is
/// worse): percent for a non-zero baseline, the metric's unit for 0.
pub fn bad_deviation(value: f64, baseline: f64, dir: Direction) -> Deviation {
    let signed = |d: f64| match dir {
        Direction::LowerIsBetter => d,
        Direction::HigherIsBetter => -d,
        Direction::Both => d.abs(),
    };
    if baseline == 0.0 {
        Deviation::Absolute(signed(value))
    } else {
        Deviation::Percent(signed((value - baseline) / baseline.abs() * 100.0))
    }
}

/// Judges one metric: the canary's points against the baseline (when there
/// is one) and the absolute bounds (when set). `tolerance` and `critical`
/// are percent.
pub fn judge(spec: &MetricSpec, canary: &[f64], baseline: Option<f64>, tolerance: f64, critical: f64) -> Judgement {
    if canary.is_empty() {
        return Judgement::Inconclusive("no canary points".into());
    }
    // How bad a point is, for `aggregate: worst`: its deviation, else its distance past a bound.
    let badness = |v: f64| -> f64 {
        match baseline {
            Some(b) => match bad_deviation(v, b, spec.direction) {
                Deviation::Percent(p) => p,
                Deviation::Absolute(a) => a * 1e9,
            },
            None => spec.max.map_or(0.0, |m| v - m).max(spec.min.map_or(0.0, |m| m - v)),
        }
    };
    let value = match spec.aggregate {
        Aggregate::Mean => mean(canary),
        Aggregate::Worst => canary.iter().copied().max_by(|a, b| badness(*a).total_cmp(&badness(*b))).unwrap_or(f64::NAN),
    };
    // Arithmetic never hides a result: an aggregate that overflowed is no verdict.
    if !value.is_finite() || baseline.is_some_and(|b| !b.is_finite()) {
        return Judgement::Inconclusive("the aggregate is not a finite number (overflow or NaN): cannot judge".into());
    }
    if let Some(Deviation::Percent(p)) = baseline.map(|b| bad_deviation(value, b, spec.direction))
        && !p.is_finite()
    {
        return Judgement::Inconclusive("the deviation is not a finite number (overflow): cannot judge".into());
    }
    let mut breaches: Vec<(String, bool)> = Vec::new(); // (why, critical)
    let mut allowed = Vec::new();
    let deviation = baseline.map(|b| bad_deviation(value, b, spec.direction));
    match (&deviation, spec.tolerance_absolute) {
        (Some(Deviation::Percent(p)), _) => {
            allowed.push(format!("±{tolerance} %"));
            if *p > tolerance {
                breaches.push((format!("{p:+.1} % off its baseline, outside ±{tolerance} %"), spec.critical && *p > critical));
            }
        }
        (Some(Deviation::Absolute(a)), tol) => {
            let tol = tol.unwrap_or(0.0);
            allowed.push(format!("≤ {tol} from baseline 0"));
            if *a > tol {
                breaches.push((format!("moved {a} in the bad direction from a baseline of 0 (allowed {tol})"), spec.critical));
            }
        }
        (None, _) => {}
    }
    if let Some(max) = spec.max {
        allowed.push(format!("≤ {max}"));
        if value > max {
            breaches.push((format!("{value} is above the maximum {max}"), spec.critical));
        }
    }
    if let Some(min) = spec.min {
        allowed.push(format!("≥ {min}"));
        if value < min {
            breaches.push((format!("{value} is below the minimum {min}"), spec.critical));
        }
    }
    let critical_breach = breaches.iter().any(|(_, c)| *c);
    let measure = Measure {
        canary: value,
        baseline,
        deviation,
        allowed: allowed.join(", "),
        breach: (!breaches.is_empty()).then(|| breaches.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>().join("; ")),
    };
    if critical_breach {
        Judgement::Critical(measure)
    } else if measure.breach.is_some() {
        Judgement::Outside(measure)
    } else {
        Judgement::Within(measure)
    }
}

/// The metric over the whole window and every rolling window in it:
/// the worst judgement (rollback over outside over within), and the window
/// it came from when that is narrower than the whole. A spike is never
/// averaged away: a critical KPI beyond its bound in any window is
/// rollback, any window outside tolerance is outside.
pub fn judge_windows(
    spec: &MetricSpec,
    canary: &[(f64, f64)],
    baseline: Option<f64>,
    tolerance: f64,
    critical: f64,
    windows: &[(f64, f64)],
) -> (Judgement, Option<(f64, f64)>) {
    let all: Vec<f64> = canary.iter().map(|p| p.1).collect();
    let whole = judge(spec, &all, baseline, tolerance, critical);
    let rank = |j: &Judgement| match j {
        Judgement::Within(_) => 0,
        Judgement::Outside(_) => 1,
        Judgement::Inconclusive(_) => 2,
        Judgement::Critical(_) => 3,
    };
    let badness = |j: &Judgement| match j {
        Judgement::Within(m) | Judgement::Outside(m) | Judgement::Critical(m) => match &m.deviation {
            Some(Deviation::Percent(p)) => *p,
            Some(Deviation::Absolute(a)) => *a,
            None => 0.0,
        },
        Judgement::Inconclusive(_) => 0.0,
    };
    let mut worst: (Judgement, Option<(f64, f64)>) = (whole, None);
    for &(from, to) in windows {
        let pts: Vec<f64> = canary.iter().filter(|(t, _)| *t >= from && *t <= to).map(|p| p.1).collect();
        if pts.is_empty() {
            continue;
        }
        let j = judge(spec, &pts, baseline, tolerance, critical);
        let better = (rank(&j), badness(&j)) > (rank(&worst.0), badness(&worst.0));
        if better {
            worst = (j, Some((from, to)));
        }
    }
    worst
}

/// Error-budget consumption in the window, percent of the period's budget
/// (not finite when it cannot be told).
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
/// `timestamp,series_a,series_b`. Times are unix seconds or RFC 3339. A
/// file that does not read is a [`Located`] error: its line, what was
/// expected (the gate's check run annotates that line).
pub fn parse(text: &str, shown: &str) -> Result<BTreeMap<String, Series>, Located> {
    if shown.ends_with(".csv") { parse_csv(text, shown) } else { parse_json(text, shown) }
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

/// The 1-based line where `"name"` first appears, else 1.
fn line_of_key(text: &str, name: &str) -> u64 {
    let key = serde_json::to_string(name).unwrap_or_default();
    text.find(&key).map_or(1, |at| text[..at].matches('\n').count() as u64 + 1)
}

fn parse_json(text: &str, shown: &str) -> Result<BTreeMap<String, Series>, Located> {
    let doc: BTreeMap<String, Vec<Vec<serde_json::Value>>> = release_gate_core::json::parse_as(text.as_bytes()).map_err(|e| Located {
        file: shown.to_owned(),
        line: e.line().max(1) as u64,
        column: Some(e.column().max(1) as u64),
        message: format!("{e}; expected {{\"series name\": [[time, value], …], …}}"),
    })?;
    let mut out = BTreeMap::new();
    for (name, points) in doc {
        let mut s = Series::with_capacity(points.len());
        for (i, p) in points.iter().enumerate() {
            let (Some(t), Some(v)) = (p.first().and_then(time_of), p.get(1).and_then(value_of)) else {
                return Err(Located::new(
                    shown,
                    line_of_key(text, &name),
                    format!("series `{name}` point {i} is {p:?}; expected [time, value] with unix seconds or RFC 3339 and a number"),
                ));
            };
            s.push((t, v));
        }
        if let Some(t) = duplicate(&s) {
            return Err(Located::new(
                shown,
                line_of_key(text, &name),
                format!(
                    "series `{name}` has two points at {}: a series holds one value per instant; export it without duplicates",
                    instant(t)
                ),
            ));
        }
        out.insert(name, s);
    }
    Ok(out)
}

/// An instant a series holds more than one point at.
fn duplicate(s: &Series) -> Option<f64> {
    let mut times: Vec<f64> = s.iter().map(|p| p.0).collect();
    times.sort_by(f64::total_cmp);
    times.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}

fn parse_csv(text: &str, shown: &str) -> Result<BTreeMap<String, Series>, Located> {
    let at = |line: usize, message: String| Located::new(shown, line as u64, message);
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let Some((h, header)) = lines.next() else { return Err(at(1, "empty; expected a header `timestamp,series_a,…`".into())) };
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    if cols.len() < 2 || !cols[0].eq_ignore_ascii_case("timestamp") && !cols[0].eq_ignore_ascii_case("time") {
        return Err(at(h + 1, format!("header `{header}`; expected `timestamp,<series>,…`")));
    }
    if let Some(twice) = cols[1..].iter().enumerate().find(|(i, c)| cols[1..][..*i].contains(c)).map(|(_, c)| c) {
        return Err(at(h + 1, format!("the header names `{twice}` twice: which column is the series cannot be told; name each once")));
    }
    let mut out: BTreeMap<String, Series> = cols[1..].iter().map(|c| ((*c).to_owned(), Series::new())).collect();
    for (i, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != cols.len() {
            return Err(at(
                i + 1,
                format!("{} column(s), the header has {}; every row needs a value (or an empty cell) per series", cells.len(), cols.len()),
            ));
        }
        let t = time_of(&serde_json::Value::String(cells[0].to_owned()))
            .ok_or_else(|| at(i + 1, format!("`{}` is not a time (unix seconds or RFC 3339)", cells[0])))?;
        for (c, cell) in cols[1..].iter().zip(&cells[1..]) {
            if cell.is_empty() {
                continue;
            }
            let v: f64 = cell.parse().map_err(|_| at(i + 1, format!("`{cell}` in column `{c}` is not a number")))?;
            if let Some(s) = out.get_mut(*c) {
                if s.iter().any(|p| p.0 == t) {
                    return Err(at(i + 1, format!("a second row at {} for `{c}`: a series holds one value per instant", instant(t))));
                }
                s.push((t, v));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {

    #[test]
    fn a_metrics_file_that_does_not_read_names_its_line() {
        let csv = "# exported\ntimestamp,a,b\n1,2,3\n2,x,3\n";
        let e = parse(csv, "m.csv").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("m.csv", 4), "{e}");
        assert!(e.message.contains("`x` in column `a` is not a number"), "{e}");
        let json = "{\n  \"a\": [[1, 2]],\n  \"b\": [[1, true]]\n}";
        let e = parse(json, "m.json").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let e = parse("{\"a\": [[1, 2]],,}", "m.json").unwrap_err();
        assert_eq!((e.line, e.column.is_some()), (1, true), "{e}");
    }

    use super::*;

    fn spec(direction: Direction, critical: bool, aggregate: Aggregate) -> MetricSpec {
        MetricSpec {
            name: "m".into(),
            query: "q".into(),
            baseline: None,
            baseline_value: Some(100.0),
            direction,
            tolerance: None,
            tolerance_absolute: None,
            max: None,
            min: None,
            critical,
            aggregate,
        }
    }

    #[test]
    fn directions_tolerance_and_critical() {
        let lower = spec(Direction::LowerIsBetter, true, Aggregate::Mean);
        let j = |s: &MetricSpec, v: &[f64], b: f64| judge(s, v, Some(b), 5.0, 10.0);
        assert!(matches!(j(&lower, &[104.0, 105.0], 100.0), Judgement::Within(_)));
        assert!(matches!(j(&lower, &[90.0], 100.0), Judgement::Within(_)), "better is fine");
        assert!(matches!(j(&lower, &[107.0], 100.0), Judgement::Outside(_)));
        assert!(matches!(j(&lower, &[111.0], 100.0), Judgement::Critical(_)));
        let higher = spec(Direction::HigherIsBetter, false, Aggregate::Mean);
        assert!(matches!(j(&higher, &[80.0], 100.0), Judgement::Outside(_)), "not critical: fails, no rollback");
        let both = spec(Direction::Both, false, Aggregate::Worst);
        assert!(matches!(j(&both, &[100.0, 100.0, 94.0], 100.0), Judgement::Outside(_)), "worst point counts");
    }

    #[test]
    fn a_zero_baseline_is_judged_never_inconclusive() {
        // Reconciliation breaks: 0 on the stable version, 2 on the canary.
        let mut breaks = spec(Direction::LowerIsBetter, false, Aggregate::Mean);
        breaks.baseline_value = Some(0.0);
        let j = |s: &MetricSpec, v: &[f64]| judge(s, v, Some(0.0), 5.0, 10.0);
        assert!(matches!(j(&breaks, &[0.0, 0.0]), Judgement::Within(_)));
        assert!(matches!(j(&breaks, &[0.0, 4.0]), Judgement::Outside(_)), "any increase from 0 is outside");
        breaks.critical = true;
        let Judgement::Critical(m) = j(&breaks, &[0.0, 4.0]) else { panic!("critical: rollback") };
        assert_eq!(m.deviation, Some(Deviation::Absolute(2.0)));
        assert!(m.breach.as_deref().unwrap_or_default().contains("baseline of 0"));
        breaks.critical = false;
        breaks.tolerance_absolute = Some(3.0);
        assert!(matches!(j(&breaks, &[0.0, 4.0]), Judgement::Within(_)), "2 ≤ 3");
        assert!(matches!(j(&breaks, &[8.0, 4.0]), Judgement::Outside(_)), "6 > 3");
        // Throughput from 0 going up is no regression; Both is.
        assert!(matches!(
            judge(&spec(Direction::HigherIsBetter, false, Aggregate::Mean), &[5.0], Some(0.0), 5.0, 10.0),
            Judgement::Within(_)
        ));
        assert!(matches!(judge(&spec(Direction::Both, false, Aggregate::Mean), &[-5.0], Some(0.0), 5.0, 10.0), Judgement::Outside(_)));
        // A zero point among zero points with `worst`: the worst point counts.
        let mut worst = spec(Direction::LowerIsBetter, false, Aggregate::Worst);
        worst.baseline_value = Some(0.0);
        assert!(matches!(judge(&worst, &[0.0, 0.0, 1.0], Some(0.0), 5.0, 10.0), Judgement::Outside(_)));
    }

    #[test]
    fn absolute_bounds_with_or_without_a_baseline() {
        let mut s = spec(Direction::LowerIsBetter, false, Aggregate::Mean);
        s.max = Some(250.0);
        assert!(matches!(judge(&s, &[240.0], None, 5.0, 10.0), Judgement::Within(_)));
        assert!(matches!(judge(&s, &[260.0], None, 5.0, 10.0), Judgement::Outside(_)));
        // Within the relative tolerance but above the bound: outside.
        assert!(matches!(judge(&s, &[251.0], Some(250.0), 5.0, 10.0), Judgement::Outside(_)));
        s.min = Some(10.0);
        assert!(matches!(judge(&s, &[5.0], None, 5.0, 10.0), Judgement::Outside(_)));
        s.critical = true;
        assert!(matches!(judge(&s, &[5.0], None, 5.0, 10.0), Judgement::Critical(_)), "a critical KPI out of bounds rolls back");
        let Judgement::Within(m) = judge(&s, &[100.0], None, 5.0, 10.0) else { panic!() };
        assert_eq!(m.allowed, "≤ 250, ≥ 10");
    }

    const C: Coverage = Coverage { share: 0.9, step: 60.0, max_gap: 2 };

    #[test]
    fn coverage_counts_sample_slots_and_gaps_never_the_span() {
        let s: Series = (0..=30).map(|m| (f64::from(m) * 60.0, 1.0)).collect();
        assert_eq!(usable(&s, 0.0, 1800.0, C).unwrap().len(), 31);
        assert!(usable(&s[25..].to_vec(), 0.0, 1800.0, C).unwrap_err().contains("6 of the 31 sample slots"));
        assert!(usable(&vec![(10.0, f64::NAN), (1700.0, 1.0)], 0.0, 1800.0, C).unwrap_err().contains("NaN"));
        // Twelve samples a minute apart, a 49-minute hole, one more: the span is 61 minutes, the data 13 of 62 slots.
        let mut holed: Series = (0..12).map(|m| (f64::from(m) * 60.0, 1.0)).collect();
        holed.push((61.0 * 60.0, 1.0));
        assert!(usable(&holed, 0.0, 3660.0, C).unwrap_err().contains("13 of the 62 sample slots"), "{:?}", usable(&holed, 0.0, 3660.0, C));
        // Full enough, but one hole longer than max-gap: hold.
        let mut gap: Series = (0..=60).filter(|m| !(20..24).contains(m)).map(|m| (f64::from(m) * 60.0, 1.0)).collect();
        gap.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(usable(&gap, 0.0, 3600.0, C).unwrap_err().contains("5-minute gap"), "{:?}", usable(&gap, 0.0, 3600.0, C));
        assert!(usable(&gap, 0.0, 3600.0, Coverage { max_gap: 4, ..C }).is_ok());
        // A declared step: five-minute samples fill five-minute slots.
        let sparse: Series = (0..=12).map(|m| (f64::from(m) * 300.0, 1.0)).collect();
        assert!(usable(&sparse, 0.0, 3600.0, Coverage { step: 300.0, ..C }).is_ok());
        assert!(usable(&sparse, 0.0, 3600.0, Coverage { step: 60.0, ..C }).is_err());
    }

    #[test]
    fn a_spike_is_never_averaged_away() {
        // A critical KPI at +50 % for 5 minutes of the hour: the hour's mean is +4 %, a window is +50 %.
        let mut s = spec(Direction::LowerIsBetter, true, Aggregate::Mean);
        s.baseline_value = Some(100.0);
        let pts: Vec<(f64, f64)> = (0..=60).map(|m| (f64::from(m) * 60.0, if (30..35).contains(&m) { 150.0 } else { 100.0 })).collect();
        let all: Vec<f64> = pts.iter().map(|p| p.1).collect();
        assert!(matches!(judge(&s, &all, Some(100.0), 5.0, 10.0), Judgement::Within(_)), "the mean alone hides it");
        let w = windows(0.0, 3600.0, 300.0, 60.0);
        let (j, at) = judge_windows(&s, &pts, Some(100.0), 5.0, 10.0, &w);
        assert!(matches!(j, Judgement::Critical(_)), "{j:?}");
        let (from, to) = at.expect("the worst window, with its start and end");
        assert!((to - from - 300.0).abs() < 1e-9 && from <= 1800.0 && to >= 2040.0, "{from}..{to} holds the spike");
        // Not critical: outside tolerance in a window is outside.
        s.critical = false;
        assert!(matches!(judge_windows(&s, &pts, Some(100.0), 5.0, 10.0, &w).0, Judgement::Outside(_)));
        // Steady: within, every window.
        let flat: Vec<(f64, f64)> = (0..=60).map(|m| (f64::from(m) * 60.0, 101.0)).collect();
        assert!(matches!(judge_windows(&s, &flat, Some(100.0), 5.0, 10.0, &w), (Judgement::Within(_), None)));
        assert_eq!(windows(0.0, 600.0, 900.0, 60.0), [(0.0, 600.0)], "a window wider than the whole is the whole");
    }

    #[test]
    fn arithmetic_never_hides_a_result() {
        let s = spec(Direction::LowerIsBetter, true, Aggregate::Mean);
        assert!(matches!(judge(&s, &[f64::MAX, f64::MAX], Some(100.0), 5.0, 10.0), Judgement::Inconclusive(_)), "the mean overflows");
        assert!(matches!(judge(&s, &[1.0], Some(f64::INFINITY), 5.0, 10.0), Judgement::Inconclusive(_)));
        assert!(baseline_mean(&[(0.0, f64::MAX), (1.0, f64::MAX)]).is_err());
        assert!(!budget_consumed(&[f64::MAX, f64::MAX], 60.0, 0.999, 86_400.0).is_finite());
    }

    #[test]
    fn duplicate_timestamps_are_refused_at_their_line() {
        let e = parse("{\n  \"a\": [[1, 2], [2, 3]],\n  \"b\": [[1, 5], [1, 5], [2, 1]]\n}", "m.json").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("two points at"), "{e}");
        let e = parse("timestamp,a\n1,2\n1,3\n", "m.csv").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        // A series named twice: JSON alone would keep the second (a healthy one), hiding the first.
        let e = parse("{\n  \"latency\": [[1, 900]],\n  \"latency\": [[1, 100]]\n}", "m.json").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("\"latency\" appears twice"), "{e}");
        let e = parse("timestamp,latency,latency\n1,900,100\n", "m.csv").unwrap_err();
        assert_eq!(e.line, 1, "{e}");
        assert!(e.message.contains("`latency` twice"), "{e}");
    }

    #[test]
    fn coverage_and_budget() {
        // 30 minutes at 7.2 % errors burn exactly 5 % of a 99.9 % 30-day budget.
        assert!((budget_consumed(&[0.072], 1800.0, 0.999, 30.0 * 86_400.0) - 5.0).abs() < 1e-9);
        assert_eq!(duration_s("30m"), Some(1800.0));
        assert_eq!(duration_s("30x"), None);
    }
}
