//! The `smoke-gate:` section of the policy: stages, their reports and
//! metrics, and the runbook's defaults (§4: smoke and fast-suite stages;
//! §6: a stage failing twice means rollback; 5 % tolerance, 10 % for a
//! critical KPI).

use std::collections::BTreeMap;

use serde::Deserialize;

pub use release_gate_metrics::{MetricsConfig, Source, default_coverage, default_window};

/// What counts as a retried test in a stage's reports.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Retries {
    /// Only reruns the report marks (Surefire's and nextest's
    /// `flakyFailure`/`rerunFailure`, a rerun count in a case's
    /// properties); two cases with one identity are two tests.
    #[default]
    Marked,
    /// Also a failed case listed again, passing, in the same suite of the
    /// same report: for a runner known to write its retries that way.
    RepeatedCases,
}

/// One stage.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Stage {
    /// JUnit report globs, relative to the repository root; `{release}` is replaced.
    #[serde(default)]
    pub reports: Vec<String>,
    /// What counts as a retried test (default `marked`).
    #[serde(default)]
    pub retries: Retries,
    /// Canary metrics.
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// How old the stage's reports may be (§3: this build's results): each
    /// suite's `timestamp` (or, without one, the file's age) within it, and
    /// none before the commit was made.
    #[serde(default = "default_max_age")]
    pub max_age: release_gate_core::policy::Duration,
    /// In GitHub Actions, the reports are read from this workflow artifact
    /// (through the Actions artifacts API, from a trusted run on this
    /// commit), never from the job's working tree; `reports:` then select
    /// files inside it.
    #[serde(default)]
    pub artifact: Option<ReportArtifact>,
}

impl Default for Stage {
    fn default() -> Self {
        Self { reports: Vec::new(), retries: Retries::default(), metrics: None, max_age: default_max_age(), artifact: None }
    }
}

/// Where a stage's reports were uploaded (`actions/upload-artifact`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReportArtifact {
    /// The artifact's name; `{release}` is replaced.
    pub name: String,
    /// The workflow file whose run on this commit uploaded it
    /// (`.github/workflows/smoke.yml`); default: the run this job is part of.
    /// Either way the run must be for this commit, from this repository (not
    /// a fork), and its workflow one `evaluation.trusted-workflows` lists
    /// (when it lists any).
    #[serde(default)]
    pub workflow: Option<String>,
}

fn default_max_age() -> release_gate_core::policy::Duration {
    release_gate_core::policy::Duration(jiff::SignedDuration::from_hours(24))
}

/// What counts as a verified external cause.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ExternalCausePolicy {
    /// PR label whose description carries the link.
    pub label: String,
    /// Hosts a cause link may point at, and their subdomains (empty: no link
    /// verifies, so a second failure always rolls back).
    pub hosts: Vec<String>,
}

impl Default for ExternalCausePolicy {
    fn default() -> Self {
        Self { label: "external-cause".into(), hosts: Vec::new() }
    }
}

/// The `smoke-gate:` policy section.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct SmokePolicy {
    /// Stages by name.
    pub stages: BTreeMap<String, Stage>,
    /// Failures of one stage that mean rollback (runbook §6: twice).
    pub max_failures: u32,
    /// Default tolerance, percent.
    pub tolerance: f64,
    /// Critical KPI deviation that means rollback, percent.
    pub critical_deviation: f64,
    /// External causes.
    pub external_cause: ExternalCausePolicy,
}

impl Default for SmokePolicy {
    fn default() -> Self {
        let mut stages = BTreeMap::new();
        stages.insert("smoke".into(), Stage { reports: vec!["reports/release-smoke/{release}/**/*.xml".into()], ..Stage::default() });
        stages.insert("fast-suite".into(), Stage { reports: vec!["reports/fast-suite/{release}/**/*.xml".into()], ..Stage::default() });
        Self { stages, max_failures: 2, tolerance: 5.0, critical_deviation: 10.0, external_cause: ExternalCausePolicy::default() }
    }
}

impl SmokePolicy {
    /// The stages in the runbook's order (smoke, fast suite, canary,
    /// post-release), then any other by name: the order a whole run takes.
    pub fn stages_in_order(&self) -> Vec<&str> {
        const RUNBOOK: [&str; 4] = ["smoke", "fast-suite", "canary", "post-release"];
        let mut v: Vec<&str> = self.stages.keys().map(String::as_str).collect();
        v.sort_by_key(|s| (RUNBOOK.iter().position(|x| x == s).unwrap_or(RUNBOOK.len()), *s));
        v
    }
}

impl release_gate_core::policy::GateSection for SmokePolicy {
    const NAME: &'static str = "smoke-gate";
}
