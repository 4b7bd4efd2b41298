//! The `release-guard:` section of the policy, with the runbook's defaults:
//! a 60-minute guard (§4.3), the same metric rules as the canary (§4.2),
//! any incident pauses the pipeline, a Sev-2+ incident blocks success (§5),
//! the rollback triggers and procedure of §6, a retrospective within 48 h (§10).

use std::collections::BTreeMap;
use std::path::PathBuf;

use release_gate_core::policy::{Duration, GateSection};
use release_gate_metrics::MetricsConfig;
use serde::Deserialize;

/// Where incidents come from.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentSource {
    /// A JSON file of incidents (offline, the bundled example).
    #[default]
    File,
    /// PagerDuty's REST API v2.
    Pagerduty,
}

/// Incidents.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Incidents {
    /// Source.
    pub source: IncidentSource,
    /// The file (`{release}` is replaced), for `source: file`.
    pub file: String,
    /// PagerDuty's REST API base URL.
    pub url: String,
    /// PagerDuty service ids watched (empty: every service the token sees).
    pub services: Vec<String>,
    /// The environment variable holding the REST API key (never printed).
    pub token_env: String,
    /// Severity by PagerDuty priority name (`P1: 1`); first match wins.
    pub priority_severity: BTreeMap<String, u8>,
    /// Severity by urgency when an incident has no mapped priority.
    pub urgency_severity: BTreeMap<String, u8>,
    /// Incidents this severe or worse (1 is the worst) block the success verdict (§5: Sev-2+).
    pub blocking_severity: u8,
    /// Incident types that are a security or compliance breach (§6:
    /// rollback), matched with the type's name or display name, case-insensitively.
    pub security_types: Vec<String>,
    /// How long before the deploy incidents are asked for (default 24h):
    /// one raised before the deploy and still open across it counts.
    pub look_back: Duration,
}

impl Default for Incidents {
    fn default() -> Self {
        Self {
            source: IncidentSource::File,
            file: "reports/incidents/{release}.json".into(),
            url: "https://api.pagerduty.com".into(),
            services: Vec::new(),
            token_env: "PAGERDUTY_TOKEN".into(),
            priority_severity: [("P1", 1), ("P2", 2), ("P3", 3), ("P4", 4), ("P5", 5)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            urgency_severity: [("high", 2), ("low", 4)].into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            blocking_severity: 2,
            security_types: vec!["security".into(), "compliance".into()],
            look_back: Duration(jiff::SignedDuration::from_hours(24)),
        }
    }
}

/// The rollback procedure (§6).
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Rollback {
    /// Carry the steps out (true) or only plan them in the report and the log.
    pub automate: bool,
    /// Env var with a Slack-compatible incoming webhook URL for the rollback channel.
    pub channel_webhook_env: String,
    /// Env var with the PagerDuty Events API v2 routing key paging the SRE lead.
    pub routing_key_env: String,
    /// PagerDuty's Events API base URL.
    pub events_url: String,
    /// The rollback workflow (`workflow_dispatch`), given the previous release.
    pub workflow: Option<String>,
    /// Ref the rollback workflow runs on (default: the default branch).
    pub workflow_ref: String,
    /// The tag of a release: what the rollback workflow redeploys.
    pub tag: String,
    /// A migration's result (`{release}` replaced): JSON with `status`; `failed` is a rollback trigger.
    pub migration_evidence: Option<String>,
    /// A PR label that declares a security or compliance breach.
    pub security_label: String,
}

impl Default for Rollback {
    fn default() -> Self {
        Self {
            automate: false,
            channel_webhook_env: "RELEASE_GATE_ROLLBACK_WEBHOOK".into(),
            routing_key_env: "PAGERDUTY_ROUTING_KEY".into(),
            events_url: "https://events.pagerduty.com".into(),
            workflow: None,
            workflow_ref: "main".into(),
            tag: "v{release}".into(),
            migration_evidence: None,
            security_label: "security-incident".into(),
        }
    }
}

/// Who may resume a paused or rolled-back release (`release-guard resume`).
#[derive(Debug, Clone, Deserialize, PartialEq, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Resume {
    /// Logins or `@org/team` (the SRE Lead, the Risk Officers); nobody is
    /// built in: with none named, nobody can resume. Each needs write
    /// permission on the repository.
    pub approvers: Vec<String>,
}

/// The `release-guard:` section.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct GuardPolicy {
    /// The guard period after the production deploy (§4.3: 60 minutes).
    pub guard: Duration,
    /// Production metrics over the guard window (same rules as the canary).
    pub metrics: Option<MetricsConfig>,
    /// Relative tolerance, percent (§4: ±5).
    pub tolerance: f64,
    /// A critical KPI this far off its baseline means rollback, percent (§6: 10).
    pub critical_deviation: f64,
    /// Incidents.
    pub incidents: Incidents,
    /// Continuous-deployment workflows disabled on an incident, re-enabled by `resume`.
    pub pause_workflows: Vec<String>,
    /// Disable them (true) or only say so.
    pub pause: bool,
    /// Files a release that touches the architecture changes (globs); such a
    /// release needs an ADR or runbook update (`adr-paths`) merged for success (§5).
    pub architecture_paths: Vec<String>,
    /// Where ADRs and runbook updates live (globs).
    pub adr_paths: Vec<String>,
    /// The release's change list (`{release}` replaced; `git diff
    /// --name-status` output or a path per line), where there is no git
    /// history to diff (`--changed-files` overrides it).
    pub changed_files: Option<String>,
    /// The rollback procedure.
    pub rollback: Rollback,
    /// Who may resume.
    pub resume: Resume,
    /// Open a GitHub issue for the retrospective (§10), assigned to these logins.
    pub retrospective_assignees: Vec<String>,
    /// Open the retrospective issue (once) when the guard pauses, rolls
    /// back or ends, as `--open-retrospective` does.
    pub retrospective_issue: bool,
    /// The release captain's decision logs (`{release}` replaced): where the
    /// previous GO release is found for the rollback.
    pub logs: PathBuf,
}

/// What counts as an architecture change by default (§5: ADRs for
/// architectural changes): schema migrations, infrastructure templates,
/// configuration, deployment manifests.
pub const DEFAULT_ARCHITECTURE: [&str; 14] = [
    "**/migrations/**",
    "**/alembic/versions/**",
    "**/*.sql",
    "**/infra/**",
    "**/terraform/**",
    "**/*.tf",
    "**/cloudformation/**",
    "**/*.cfn.yaml",
    "**/configs/**",
    "**/deploy/**",
    "**/k8s/**",
    "**/helm/**",
    "**/charts/**",
    "**/Dockerfile",
];

impl Default for GuardPolicy {
    fn default() -> Self {
        Self {
            guard: Duration(jiff::SignedDuration::from_mins(60)),
            metrics: None,
            tolerance: 5.0,
            critical_deviation: 10.0,
            incidents: Incidents::default(),
            pause_workflows: Vec::new(),
            pause: true,
            architecture_paths: DEFAULT_ARCHITECTURE.iter().map(|s| (*s).to_owned()).collect(),
            adr_paths: vec!["**/docs/adr/**".into(), "**/docs/runbook/**".into()],
            changed_files: None,
            rollback: Rollback::default(),
            resume: Resume::default(),
            retrospective_assignees: Vec::new(),
            retrospective_issue: false,
            logs: PathBuf::from("reports/release-decisions"),
        }
    }
}

impl GateSection for GuardPolicy {
    const NAME: &'static str = "release-guard";
}
