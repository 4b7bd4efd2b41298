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

/// Paths whose divergence only a signed exception may allow: `expected:`
/// never waives them, and an `expected:` entry aimed at them is refused.
/// Secret keys (`secret-words`) are always protected.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Protected {
    /// Words, or hyphenated word sequences, that make a path protected when
    /// its file name, document or path has them as words (`riskLimits`,
    /// `kill_switch`, `max-order-limits`: a plural counts).
    pub words: Vec<String>,
    /// Path patterns that are protected besides (`file#document/path` or `/path`).
    pub paths: Vec<Pattern>,
}

impl Default for Protected {
    fn default() -> Self {
        Self { words: ["kill-switch", "killswitch", "limit", "risk", "notional", "exposure"].map(String::from).to_vec(), paths: Vec::new() }
    }
}

impl Protected {
    /// Why a divergence at `id` (`file#document/path`) with path `path` is
    /// protected, if it is.
    pub fn covers(&self, id: &str, path: &str, secret: bool) -> Option<String> {
        if secret {
            return Some("a secret key".to_owned());
        }
        if let Some(p) = self.paths.iter().find(|p| p.matches(id) || p.matches(path)) {
            return Some(format!("protected by `{p}` (config-diff.protected.paths)"));
        }
        self.word_in(&diff::words(id)).map(|w| format!("a `{w}` path (config-diff.protected.words)"))
    }

    /// The first protected word (sequence) among `words`, a plural counting.
    fn word_in(&self, words: &[String]) -> Option<&str> {
        self.words.iter().map(String::as_str).find(|p| {
            let want = diff::words(p);
            !want.is_empty()
                && words.windows(want.len()).any(|w| {
                    let (last, head) = (want.len() - 1, &w[..want.len() - 1]);
                    head == &want[..last] && {
                        let (got, want) = (&w[last], &want[last]);
                        got == want || got.strip_suffix('s') == Some(want.as_str()) || got.strip_suffix("es") == Some(want.as_str())
                    }
                })
        })
    }

    /// Why an `expected:` entry is refused as a whole: a wildcard over every
    /// path (of the tree, or of a file), or one naming a protected path.
    pub fn refuses(&self, expected: &Expected) -> Option<String> {
        let text = expected.path.to_string();
        let path_part = text.split_once('#').map_or(text.as_str(), |(_, p)| p);
        if !path_part.chars().any(char::is_alphanumeric) {
            return Some(format!(
                "`{text}` waives every path{}; expected divergences name concrete paths (`**/spec/replicas`)",
                if path_part.len() == text.len() { " of the tree" } else { " of a file" }
            ));
        }
        if let Some((_, doc_part)) = text.split_once('#')
            && whole_document(doc_part)
        {
            return Some(format!(
                "`{text}` waives every path of a whole document; expected divergences name concrete paths inside it (`…#Deployment/ns/name/spec/replicas`)"
            ));
        }
        let words = diff::words(&text.replace('*', " "));
        if let Some(w) = self.word_in(&words) {
            return Some(format!(
                "`{text}` names a `{w}` path, which config-diff.protected keeps for signed exceptions; sign an exception for it (docs/config-diff.md#signed-exceptions) instead of expecting it"
            ));
        }
        if let Some(p) = self.paths.iter().find(|p| p.to_string() == text || p.matches(&text)) {
            return Some(format!("`{text}` is a protected path (`{p}`); sign an exception for it instead of expecting it"));
        }
        if wide_subtree(&text) {
            return Some(format!(
                "`{text}` waives everything under a single key (`**/spec/**` is every Deployment's whole spec); name at least two levels before a trailing `**` (`**/metadata/annotations/**`), or the paths themselves"
            ));
        }
        None
    }
}

/// Whether a pattern ends in a recursive wildcard under fewer than two
/// concrete keys of the document (after its identity, when it names one).
fn wide_subtree(text: &str) -> bool {
    let wild = |s: &str| !s.chars().any(char::is_alphanumeric);
    let inside: Vec<&str> = match text.split_once('#') {
        Some((_, doc)) => {
            let segments: Vec<&str> = doc.split('/').collect();
            let identity = if segments.first().is_some_and(|f| f.starts_with(|c: char| c.is_ascii_uppercase())) { 3 } else { 1 };
            segments.into_iter().skip(identity).collect()
        }
        None => text.split('/').collect(),
    };
    let recursive = inside.iter().rev().take_while(|s| wild(s)).any(|s| s.contains("**"));
    let concrete = inside.iter().filter(|s| !wild(s)).count();
    recursive && concrete < 2
}

/// Whether a path after a file's `#` names no more than the document: its
/// identity (`#0`, an identity key: one segment; a Kubernetes
/// `Kind/namespace/name`: three) followed by wildcards only.
fn whole_document(doc_part: &str) -> bool {
    let segments: Vec<&str> = doc_part.split('/').collect();
    let wild = |s: &str| !s.chars().any(char::is_alphanumeric);
    let trailing = segments.iter().rev().take_while(|s| wild(s)).count();
    if trailing == 0 {
        return false;
    }
    let concrete = segments.len() - trailing;
    let identity = match segments.first() {
        Some(first) if first.starts_with(|c: char| c.is_ascii_uppercase()) => 3,
        _ => 1,
    };
    concrete <= identity
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
    /// Paths only a signed exception may let diverge.
    pub protected: Protected,
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
            protected: Protected::default(),
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
