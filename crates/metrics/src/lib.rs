//! Metrics judged against a baseline: series from Prometheus or a file
//! ([`series`], [`prometheus`]), judged into checks ([`judge`]). One engine
//! for smoke-gate's canary stage (runbook §4.2) and release-guard's
//! post-release guard (§4.3, §5), so a metric means the same in both.

pub mod judge;
pub mod prometheus;
pub mod series;

use release_gate_core::error::Located;
use release_gate_core::paths::{PathError, Root};
use serde::Deserialize;

pub use judge::{Limits, judge_metrics};
pub use series::{Coverage, ErrorBudget, MetricSpec, Series};

/// What the metrics found, for the caller's decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Reasons the stage failed (tests, metrics outside tolerance).
    pub failed: Vec<String>,
    /// Reasons for an immediate rollback (critical KPI, error budget).
    pub rollback: Vec<String>,
    /// Reasons it cannot be judged (no data, Prometheus errors).
    pub inconclusive: Vec<String>,
}

/// Where a stage's metrics come from.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// A Prometheus server.
    #[default]
    Prometheus,
    /// A JSON or CSV file of series.
    File,
}

/// A stage's metrics.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MetricsConfig {
    /// Source.
    #[serde(default)]
    pub source: Source,
    /// Prometheus base URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Metrics file; `{release}` is replaced.
    #[serde(default)]
    pub file: Option<String>,
    /// Window ending now (default 30m).
    #[serde(default = "default_window")]
    pub window: String,
    /// query_range step (default: window / 60).
    #[serde(default)]
    pub step: Option<String>,
    /// Share of the window's sample slots (at the step) the data must fill (default 0.9).
    #[serde(default = "default_coverage")]
    pub coverage: f64,
    /// The longest run of empty sample slots allowed, in steps (default 2): a longer gap holds.
    #[serde(default = "default_max_gap")]
    pub max_gap: u32,
    /// The rolling windows every metric is also judged over (default 5m),
    /// stepping by the series' step: a spike is never averaged away.
    #[serde(default = "default_rolling")]
    pub rolling: String,
    /// The metrics.
    #[serde(default)]
    pub metrics: Vec<MetricSpec>,
    /// Error-budget burn.
    #[serde(default)]
    pub error_budget: Option<ErrorBudget>,
}

pub fn default_window() -> String {
    "30m".into()
}

pub fn default_coverage() -> f64 {
    0.9
}

pub fn default_max_gap() -> u32 {
    2
}

pub fn default_rolling() -> String {
    "5m".into()
}

/// Where a config's series come from, opened: the file read once, or a
/// Prometheus server asked per query.
pub enum Fetcher {
    /// Series from the metrics file, by query, and the step their sample
    /// slots are counted at (the config's, else the window / 60 and at
    /// least a minute: never the samples' own spacing, which two samples
    /// an hour would set to half an hour).
    File(std::collections::BTreeMap<String, Series>, f64),
    /// A Prometheus server and the `query_range` step in seconds.
    Prometheus(prometheus::Prometheus, f64),
}

/// Where a metrics config says to read from, and what it is called in
/// messages: `section` is the policy key (`release-guard.metrics`), `what`
/// the series it holds (`production's series`).
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The policy key of the metrics config.
    pub section: &'a str,
    /// What the series are.
    pub what: &'a str,
}

/// A metrics source that cannot be opened (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// `source: file` without a file.
    #[error("metrics source is `file` but no file is given ({section}.file)")]
    NoFile {
        /// The policy key.
        section: String,
    },
    /// The file cannot be read (missing, outside the repository, not UTF-8).
    #[error("{source}; export {what} there, or read them from Prometheus instead ({section}: source: prometheus, url:)")]
    Read {
        /// The cause.
        source: PathError,
        /// What the series are.
        what: String,
        /// The policy key.
        section: String,
    },
    /// The file does not read as series, at its line.
    #[error("{0}")]
    Series(#[from] Located),
    /// A series the metrics name is not in the file.
    #[error("{file}: no series `{query}`; the file has: {has}")]
    MissingSeries {
        /// The file.
        file: String,
        /// The query.
        query: String,
        /// The series it has.
        has: String,
    },
    /// `source: prometheus` without a URL.
    #[error("metrics source is `prometheus` but no url is given ({section}.url or --prometheus-url)")]
    NoUrl {
        /// The policy key.
        section: String,
    },
}

impl Fetcher {
    /// Opens the config's source: the file (`{release}` replaced, read
    /// inside `root`, every series the metrics name present) or the
    /// Prometheus URL. A bad file or a missing series is an error (exit 2).
    #[expect(clippy::result_large_err, reason = "once per run; the PathError stays unboxed so core's location() finds it in the chain")]
    pub fn open(cfg: &MetricsConfig, release: &str, window_s: f64, root: &Root, origin: Origin<'_>) -> Result<Self, OpenError> {
        let section = || origin.section.to_owned();
        // The config's step, else the window / 60, at least `finest` seconds.
        let step = |finest: f64| cfg.step.as_deref().and_then(series::duration_s).unwrap_or((window_s / 60.0).max(finest));
        if cfg.source == Source::File {
            let f = cfg.file.as_deref().ok_or_else(|| OpenError::NoFile { section: section() })?.replace("{release}", release);
            let text = root.read_text(&f, "metrics file").map_err(|source| OpenError::Read {
                source,
                what: origin.what.to_owned(),
                section: section(),
            })?;
            let series = series::parse(&text, &f)?;
            let named = cfg
                .metrics
                .iter()
                .flat_map(|m| std::iter::once(&m.query).chain(m.baseline.as_ref()))
                .chain(cfg.error_budget.as_ref().map(|b| &b.query));
            for q in named {
                if !series.contains_key(q) {
                    let has = series.keys().cloned().collect::<Vec<_>>().join(", ");
                    return Err(OpenError::MissingSeries { file: f, query: q.clone(), has });
                }
            }
            // A file's samples are an exporter's: a minute apart at the finest.
            return Ok(Fetcher::File(series, step(60.0)));
        }
        let url = cfg.url.clone().ok_or_else(|| OpenError::NoUrl { section: section() })?;
        Ok(Fetcher::Prometheus(prometheus::Prometheus::new(&url, std::time::Duration::from_secs(15)), step(1.0)))
    }

    /// The series of `query` from `start` to `end` (unix seconds).
    pub fn fetch(&self, query: &str, start: f64, end: f64) -> Result<Series, String> {
        match self {
            Fetcher::File(series, _) => Ok(series.get(query).cloned().unwrap_or_default()),
            Fetcher::Prometheus(p, step) => p.range(query, start, end, *step),
        }
    }

    /// The step its series' sample slots are counted at: the config's
    /// `step`, else the window / 60 (`query_range`'s; a file's at least a minute).
    pub fn step(&self) -> f64 {
        match self {
            Fetcher::File(_, step) | Fetcher::Prometheus(_, step) => *step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(file: &str) -> MetricsConfig {
        serde_json::from_value(serde_json::json!({"source": "file", "file": file})).expect("config")
    }

    #[test]
    fn a_metrics_file_that_does_not_read_is_named_located_and_never_opened() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(dir.path().join(".git")).expect("git");
        let root = Root::new(dir.path(), None).expect("root");
        let origin = Origin { section: "release-guard.metrics", what: "production's series" };
        let open = |file: &str| match Fetcher::open(&config(file), "2.4.1", 3600.0, &root, origin) {
            Ok(_) => panic!("{file} opened"),
            Err(e) => anyhow::Error::from(e),
        };
        let missing = open("reports/metrics/{release}.prom");
        let said = release_gate_core::error::describe(missing.as_ref());
        assert!(said.starts_with("metrics file `reports/metrics/2.4.1.prom` does not exist; export production's series there"), "{said}");
        assert!(said.contains("(release-guard.metrics: source: prometheus, url:)"), "{said}");
        std::fs::write(dir.path().join("m.prom"), b"up 1\n\xff\n").expect("write");
        let bad = open("m.prom");
        assert_eq!(release_gate_core::error::location(&bad).map(|l| (l.file, l.line)), Some(("m.prom".to_owned(), 2)));
        assert_eq!(release_gate_core::error::describe(bad.as_ref()).matches("not UTF-8").count(), 1, "{bad:#}");
        let no_file =
            Fetcher::open(&serde_json::from_value(serde_json::json!({"source": "file"})).expect("config"), "x", 60.0, &root, origin);
        assert!(matches!(no_file, Err(OpenError::NoFile { ref section }) if section == "release-guard.metrics"));
    }
}
