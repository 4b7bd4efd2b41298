//! Each gate's `data`, typed: what a gate writes and what other crates (the
//! decision log, `release-gate run`, a later attempt of the same stage) read
//! back, in one place. The JSON is the report's `data` object, field for
//! field in this order (`release-gate/report/v1`).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A gate's typed data, tied to the gate that writes it.
pub trait GateData: Serialize + DeserializeOwned {
    /// The gate (`Report::gate`) whose report carries it.
    const GATE: &'static str;
}

/// freeze-check's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FreezeCheck {
    /// The instant evaluated, RFC 3339 UTC.
    pub evaluated_at: String,
    /// The rollback buffer in minutes.
    pub buffer_minutes: i64,
    /// The release window now open, when one is.
    pub window: Option<Window>,
    /// The emergency approval that counted, when one did.
    pub emergency: Option<Emergency>,
    /// Approving reviews that did not count, and why.
    pub not_counting: Vec<NotCounting>,
}

impl GateData for FreezeCheck {
    const GATE: &'static str = "freeze-check";
}

/// An open release window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// The window's name in the policy.
    pub name: String,
    /// Opens, RFC 3339 UTC.
    pub start: String,
    /// Closes, RFC 3339 UTC.
    pub end: String,
}

/// The approval that granted an emergency change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emergency {
    /// Who approved.
    pub approver: String,
    /// Through which policy entry (a login or `@org/team`).
    pub via: String,
    /// Their permission on the repository (`write`, `maintain`, `admin`).
    pub permission: String,
    /// When, as GitHub recorded the review.
    pub approved_at: String,
    /// The review.
    pub review_url: String,
}

/// A review that did not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotCounting {
    /// The reviewer.
    pub reviewer: String,
    /// Why not.
    pub why: String,
    /// The review.
    pub review_url: String,
}

/// config-diff's data; `D` is how a difference is carried (the gate's own
/// type when writing, JSON when read back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigDiff<D = serde_json::Value> {
    /// Canonical hash per config file (`jcs-sha256:<hex>`), the applied set.
    pub hashes: BTreeMap<String, String>,
    /// Every difference and whether it was expected, excepted or divergent.
    #[serde(default = "Vec::new")]
    pub differences: Vec<Divergence<D>>,
}

impl<D: Serialize + DeserializeOwned> GateData for ConfigDiff<D> {
    const GATE: &'static str = "config-diff";
}

/// One difference and its standing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergence<D> {
    /// The difference.
    #[serde(flatten)]
    pub difference: D,
    /// How it stands.
    pub standing: Standing,
    /// The exception that allows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<ExceptionUse>,
}

/// How a difference stands against the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    /// Listed as expected to differ.
    Expected,
    /// Allowed by a signed exception.
    Excepted,
    /// Neither: it refuses the release.
    Divergent,
}

/// The signed exception a difference was allowed by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionUse {
    /// Its file.
    pub file: String,
    /// Who signed it.
    pub approver: String,
    /// Its change ticket.
    pub ticket: String,
    /// When it expires.
    pub expires: String,
}

/// artifact-verify's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactVerify {
    /// The manifest, repository-relative.
    pub manifest: String,
    /// Every artifact listed, in manifest order.
    pub artifacts: Vec<Artifact>,
}

impl GateData for ArtifactVerify {
    const GATE: &'static str = "artifact-verify";
}

/// One artifact as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Its name in the manifest.
    pub name: String,
    /// Its kind (`image`, `wheel`, …).
    pub kind: String,
    /// Where it was read.
    pub location: String,
    /// The SHA-256 measured, when it could be read.
    pub sha256: Option<String>,
    /// The SHA-256 the manifest records.
    pub expected_sha256: String,
    /// The size measured.
    pub size: Option<u64>,
    /// S3 Object Lock: retained until.
    pub retain_until: Option<String>,
    /// S3 Object Lock mode.
    pub lock_mode: Option<String>,
}

/// smoke-gate's data, one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmokeGate {
    /// The stage.
    pub stage: String,
    /// `promote`, `hold` or `rollback`.
    pub decision: String,
    /// This attempt's outcome, as later attempts count it.
    pub outcome: Outcome,
    /// Why, in one line.
    pub reason: String,
    /// Earlier attempts of the stage.
    pub attempts: Vec<Attempt>,
    /// A verified external cause of the failures, when one was given.
    pub external_cause: Option<ExternalCause>,
    /// Test totals.
    pub tests: Tests,
    /// Failed tests (at most 200).
    pub failures: Vec<Case>,
    /// Tests that passed on a retry (at most 200).
    pub flaky: Vec<Case>,
    /// Canary metrics, when the stage has them.
    pub canary: Option<Canary>,
}

impl GateData for SmokeGate {
    const GATE: &'static str = "smoke-gate";
}

/// An attempt's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Passed.
    Passed,
    /// Failed.
    Failed,
    /// Could not be judged (too little data).
    Inconclusive,
}

impl Outcome {
    /// The word written in `external_id` and the tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Inconclusive => "inconclusive",
        }
    }

    /// Reads the word back.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "passed" => Some(Outcome::Passed),
            "failed" => Some(Outcome::Failed),
            "inconclusive" => Some(Outcome::Inconclusive),
            _ => None,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An earlier attempt of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When.
    pub at: String,
    /// Its outcome.
    pub outcome: Outcome,
    /// Where it was read from (check run URL or report).
    pub source: String,
}

/// A verified external cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalCause {
    /// The link.
    pub url: String,
    /// Where it came from (`input`, `label …`).
    pub via: String,
}

/// Test totals over a stage's reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tests {
    /// Test cases.
    pub total: u64,
    /// Passed (including on a retry).
    pub passed: u64,
    /// Failed.
    pub failed: u64,
    /// Errored.
    pub errored: u64,
    /// Skipped, disabled or not run.
    pub skipped: u64,
    /// Passed only on a retry.
    pub flaky: u64,
    /// Seconds, summed.
    pub time_s: f64,
    /// Report files read.
    pub reports: Vec<String>,
}

/// A test case named in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// `classname.name` as shown.
    pub id: String,
    /// Its suite path.
    pub suite: String,
    /// Its source file, when known.
    pub file: Option<String>,
    /// Its line, when known.
    pub line: Option<u32>,
    /// The failure message (first lines).
    pub message: String,
    /// Retries it took.
    pub retries: u32,
    /// The report file it came from.
    pub report: String,
}

/// Canary metrics judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    /// One row per metric.
    pub metrics: Vec<Metric>,
    /// The error budget, when configured and measured.
    pub error_budget: Option<ErrorBudget>,
    /// The window judged, Unix seconds.
    pub window: TimeWindow,
}

/// One canary metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Its name.
    pub name: String,
    /// The query.
    pub query: String,
    /// Whether leaving tolerance means rollback.
    pub critical: bool,
    /// Relative tolerance, percent.
    pub tolerance: f64,
    /// `pass` or `fail`.
    pub status: crate::report::Status,
    /// What was found, in one line.
    pub result: String,
}

/// Error budget consumption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBudget {
    /// Consumed in the window, percent of the period's budget.
    pub consumed_percent: f64,
    /// At most, percent.
    pub max_percent: f64,
    /// The SLO, e.g. 99.9.
    pub slo: f64,
    /// The SLO period, e.g. `30d`.
    pub period: String,
}

/// A time window in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// Start.
    pub start: f64,
    /// End.
    pub end: f64,
}

/// decision-log-commit's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionLog {
    /// The log, repository-relative.
    pub log: String,
    /// Why NO-GO, one line each; empty for GO.
    pub blockers: Vec<String>,
    /// Commits made to write it.
    pub commits: u32,
    /// Retries after a concurrent change.
    pub retries: u32,
    /// The report keys read.
    pub gates: Vec<String>,
}

impl GateData for DecisionLog {
    const GATE: &'static str = "decision-log-commit";
}

/// release-guard's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseGuard {
    /// `watching`, `success`, `pause`, `rollback`, `blocked`, `hold` or `resumed`.
    pub decision: String,
    /// The production deploy, RFC 3339 UTC.
    pub deployed_at: String,
    /// The guard's end.
    pub guard_ends: String,
    /// Incidents in the guard window.
    pub incidents: Vec<GuardIncident>,
    /// What triggered a rollback, one line each.
    pub rollback_triggers: Vec<String>,
    /// The rollback procedure, step by step (planned or carried out).
    pub procedure: Vec<Step>,
    /// Workflows paused (disabled) or resumed by this run.
    pub workflows: Vec<String>,
    /// The release a rollback redeploys (the previous GO).
    pub previous_release: Option<String>,
    /// When the retrospective is due (§10: 48 h after the release).
    pub retrospective_due: String,
    /// The retrospective issue, when one was opened.
    pub retrospective_issue: Option<String>,
}

impl GateData for ReleaseGuard {
    const GATE: &'static str = "release-guard";
}

/// An incident as the guard judged it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardIncident {
    /// PagerDuty's number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Status.
    pub status: String,
    /// 1 is the worst.
    pub severity: u8,
    /// Its page.
    pub url: String,
}

/// One step of the rollback procedure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// What.
    pub what: String,
    /// `planned`, `done`, `failed` or `not configured`.
    pub state: String,
    /// Detail or link.
    pub detail: String,
    /// When it was done.
    pub at: Option<String>,
}
