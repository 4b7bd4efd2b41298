//! The `decision-log-commit:` section of the policy: the checklist's
//! evidence, dashboards, the log's path, what is required for GO.

use std::collections::BTreeMap;

use serde::Deserialize;

/// How a file's success is read.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// JSON results: `field` must equal `expected`.
    Json,
    /// A JUnit report: tests ran, none failed.
    Junit,
    /// A text log: a line matches `success`, none matches `failure`.
    Text,
    /// A Markdown document: text besides headings, and a reviewer after `reviewed-by`.
    Markdown,
}

/// One piece of evidence for a checklist item, and how to read it (see
/// `evidence.rs`: a kind that cannot tell success from failure never ticks
/// an item).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Evidence {
    /// A gate's report key: `artifact-verify`, `smoke-gate-canary`.
    #[serde(default)]
    pub report: Option<String>,
    /// For `report`: the gate's checks (by id) that must have passed; a skipped check never did.
    #[serde(default)]
    pub checks: Vec<String>,
    /// A file in the repository (`{release}` replaced); needs a `kind`.
    #[serde(default)]
    pub file: Option<String>,
    /// How to read success from `file`.
    #[serde(default)]
    pub kind: Option<Kind>,
    /// `kind: json`: the success field, a JSON pointer (`/summary/verified`) or a dotted path (`summary.verified`).
    #[serde(default)]
    pub field: Option<String>,
    /// `kind: json`: the field's value on success (compared exactly: `"pass"` is not `"PASS"`, `"true"` not `true`).
    #[serde(default)]
    pub expected: Option<serde_json::Value>,
    /// `kind: json`: a field that must name this release (a result for another release is not evidence).
    #[serde(default)]
    pub release_field: Option<String>,
    /// `kind: text`: a regular expression a line must match (multi-line: `^` and `$` are a line's ends).
    #[serde(default)]
    pub success: Option<String>,
    /// `kind: text`: a regular expression no line may match.
    #[serde(default)]
    pub failure: Option<String>,
    /// `kind: markdown`: the words that introduce the reviewer (`reviewed by`), case-insensitive.
    #[serde(default)]
    pub reviewed_by: Option<String>,
    /// `kind: markdown`: who may review (empty: anyone named).
    #[serde(default)]
    pub reviewers: Vec<String>,
    /// A check run on the commit, by name.
    #[serde(default)]
    pub check_run: Option<String>,
    /// A link given as input (`--evidence NAME=URL`): shown beside the
    /// item, never evidence (a link cannot tell success from failure).
    #[serde(default)]
    pub link: Option<String>,
    /// Evidence still to be bound (`release-gate init` writes these): never
    /// met; the blocker shows this text, which says what to bind.
    #[serde(default)]
    pub todo: Option<String>,
    /// Oldest acceptable evidence, e.g. `7d` (files: their own timestamp,
    /// else the commit that last changed them, else their modification time).
    #[serde(default)]
    pub max_age: Option<String>,
}

/// A dashboard link.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// Name.
    pub name: String,
    /// URL.
    pub url: String,
}

/// The S3 archive.
#[derive(Debug, Clone, Deserialize, PartialEq, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Archive {
    /// Bucket.
    pub bucket: Option<String>,
    /// Key prefix; `{release}` replaced (default `{release}/`).
    #[serde(default)]
    pub prefix: Option<String>,
}

/// The `decision-log-commit:` policy section.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct LogPolicy {
    /// The log's path; `{release}` replaced.
    pub log: String,
    /// Branch to commit to.
    pub branch: Option<String>,
    /// Gates whose passing report the release needs (`gate` or `gate-stage`).
    pub required: Vec<String>,
    /// Readiness checklist (runbook §1): item → its evidence.
    pub checklist: BTreeMap<String, Vec<Evidence>>,
    /// Dashboards (runbook §9).
    pub dashboards: Vec<Dashboard>,
    /// Archive.
    pub archive: Archive,
    /// Commit attempts on conflicts.
    pub max_attempts: u32,
}

/// The runbook's seven readiness items, in its order, with their labels.
pub const ITEMS: [(&str, &str); 7] = [
    ("artifact-integrity", "Artifact integrity"),
    ("change-scope-locked", "Change scope locked"),
    ("dependencies-verified", "Dependencies verified"),
    ("observability-baselines", "Observability baselines"),
    ("risk-controls", "Risk controls"),
    ("data-protection", "Data protection"),
    ("communication-plan", "Communication plan"),
];

impl Default for LogPolicy {
    fn default() -> Self {
        let d = |name: &str, url: &str| Dashboard { name: name.into(), url: url.into() };
        Self {
            log: "reports/release-decisions/{release}.md".into(),
            branch: None,
            required: ["freeze-check", "config-diff", "artifact-verify", "smoke-gate-smoke", "smoke-gate-fast-suite", "smoke-gate-canary"]
                .map(String::from)
                .to_vec(),
            checklist: BTreeMap::new(),
            dashboards: vec![
                d("Release Control Center", "https://grafana.tradepulse.internal/d/release-control"),
                d("Trading Health", "https://grafana.tradepulse.internal/d/trading-health"),
                d("Market Data Integrity", "https://grafana.tradepulse.internal/d/market-data"),
                d("Risk & Limits", "https://grafana.tradepulse.internal/d/risk-limits"),
                d("Customer Impact", "https://looker.tradepulse.internal/dashboards/customer-impact"),
            ],
            archive: Archive::default(),
            max_attempts: 20,
        }
    }
}

impl release_gate_core::policy::GateSection for LogPolicy {
    const NAME: &'static str = "decision-log-commit";
}
