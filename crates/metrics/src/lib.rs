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
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// A Prometheus server.
    #[default]
    Prometheus,
    /// A JSON or CSV file of series.
    File,
}

/// A stage's metrics.
#[derive(Debug, Clone, Deserialize, PartialEq)]
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
