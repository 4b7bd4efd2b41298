//! The `config-diff:` policy section and the per-release config manifest
//! (runbook §7): what is compared, what may differ, who signs exceptions.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::glob::Pattern;
use crate::{diff, yaml};

/// An expected divergence.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// Pattern on `file#document/path` or on `/path` alone (`**` and `*` wildcards).
    pub path: Pattern,
    /// Why it is expected.
    #[serde(default)]
    pub reason: String,
}

/// Where signed exceptions live and how they are checked.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ExceptionPolicy {
    /// Directory of exception files (`*.yaml`, each with a `*.yaml.sig`).
    pub dir: PathBuf,
    /// OpenSSH allowed-signers file.
    pub allowed_signers: Option<PathBuf>,
    /// Longest allowed time from `created` to `expires`, in days.
    pub max_lifetime_days: u32,
    /// SSH signature namespace.
    pub namespace: String,
}

impl Default for ExceptionPolicy {
    fn default() -> Self {
        Self { dir: "configs/exceptions".into(), allowed_signers: None, max_lifetime_days: 30, namespace: "release-gate-exception".into() }
    }
}

/// The `config-diff:` policy section.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ConfigDiffPolicy {
    /// Manifest path; `{release}` is replaced by the release id.
    pub manifest: String,
    /// Words that make a path secret (matched against the words of each key).
    pub secret_words: Vec<String>,
    /// Divergences expected for every release.
    pub expected: Vec<Expected>,
    /// Identifier key for list items by path pattern.
    pub list_keys: BTreeMap<String, String>,
    /// Signed exceptions.
    pub exceptions: ExceptionPolicy,
    /// Decision log whose hash block is compared; `{release}` is replaced.
    pub decision_log: String,
    /// Nodes alias expansion may add per file.
    pub max_alias_nodes: u64,
}

impl Default for ConfigDiffPolicy {
    fn default() -> Self {
        Self {
            manifest: "configs/releases/{release}.yaml".into(),
            secret_words: diff::Options::default().secret_words,
            expected: Vec::new(),
            list_keys: BTreeMap::new(),
            exceptions: ExceptionPolicy::default(),
            decision_log: "reports/release-decisions/{release}.md".into(),
            max_alias_nodes: yaml::Budget::default().alias_nodes,
        }
    }
}

impl release_gate_core::policy::GateSection for ConfigDiffPolicy {
    const NAME: &'static str = "config-diff";
}

/// One or several source specs.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Specs {
    /// A single file, directory or glob.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Specs {
    /// As a list.
    pub fn list(&self) -> Vec<String> {
        match self {
            Specs::One(s) => vec![s.clone()],
            Specs::Many(v) => v.clone(),
        }
    }
}

/// The per-release config manifest, `configs/releases/<release>.yaml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    /// Staging sources.
    pub staging: Specs,
    /// Production sources.
    pub production: Specs,
    /// Document identity key (dotted), beside Kubernetes identity.
    #[serde(default)]
    pub identity_key: Option<String>,
    /// Identifier key for list items by path pattern.
    #[serde(default)]
    pub list_keys: BTreeMap<String, String>,
    /// Divergences expected for this release.
    #[serde(default)]
    pub expected: Vec<Expected>,
    /// Expected hashes: `staging`, `production`, `staging:<file>`, `production:<file>`.
    #[serde(default)]
    pub hashes: BTreeMap<String, String>,
}
