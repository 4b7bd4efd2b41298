//! Metrics judged against a baseline: series from Prometheus or a file
//! ([`series`], [`prometheus`]), judged into checks ([`judge`]). One engine
//! for smoke-gate's canary stage (runbook §4.2) and release-guard's
//! post-release guard (§4.3, §5), so a metric means the same in both.

pub mod judge;
pub mod prometheus;
pub mod series;

use serde::Deserialize;

pub use judge::{Limits, judge_metrics};
pub use series::{ErrorBudget, MetricSpec, Series};

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
    /// Share of the window the data must cover (default 0.9).
    #[serde(default = "default_coverage")]
    pub coverage: f64,
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

/// Where a config's series come from, opened: the file read once, or a
/// Prometheus server asked per query.
pub enum Fetcher {
    /// Series from the metrics file, by query.
    File(std::collections::BTreeMap<String, Series>),
    /// A Prometheus server and the `query_range` step in seconds.
    Prometheus(prometheus::Prometheus, f64),
}

impl Fetcher {
    /// Opens the config's source: the file (`{release}` replaced, read
    /// through `read`, every series the metrics name present) or the
    /// Prometheus URL. A bad file or a missing series is an error (exit 2).
    pub fn open(cfg: &MetricsConfig, release: &str, window_s: f64, read: &dyn Fn(&str) -> anyhow::Result<String>) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        if cfg.source == Source::File {
            let f =
                cfg.file.as_deref().context("metrics source is `file` but no file is given (metrics.file)")?.replace("{release}", release);
            let series = series::parse(&read(&f)?, &f)?;
            let named = cfg
                .metrics
                .iter()
                .flat_map(|m| std::iter::once(&m.query).chain(m.baseline.as_ref()))
                .chain(cfg.error_budget.as_ref().map(|b| &b.query));
            for q in named {
                anyhow::ensure!(
                    series.contains_key(q),
                    "{f}: no series `{q}`; the file has: {}",
                    series.keys().cloned().collect::<Vec<_>>().join(", ")
                );
            }
            return Ok(Fetcher::File(series));
        }
        let url = cfg.url.clone().context("metrics source is `prometheus` but no url is given (metrics.url or --prometheus-url)")?;
        let step = cfg.step.as_deref().and_then(series::duration_s).unwrap_or((window_s / 60.0).max(1.0));
        Ok(Fetcher::Prometheus(prometheus::Prometheus::new(&url, std::time::Duration::from_secs(15)), step))
    }

    /// The series of `query` from `start` to `end` (unix seconds).
    pub fn fetch(&self, query: &str, start: f64, end: f64) -> Result<Series, String> {
        match self {
            Fetcher::File(series) => Ok(series.get(query).cloned().unwrap_or_default()),
            Fetcher::Prometheus(p, step) => p.range(query, start, end, *step),
        }
    }
}
