//! The decision log (runbook §8), rendered from the gates' reports and
//! merged into the existing file without touching what people wrote.
//!
//! Generated parts sit between `<!-- release-gate:begin KEY -->` and
//! `<!-- release-gate:end KEY -->` markers and are replaced on every run;
//! everything outside them is kept as written. Each gate's result is its own
//! region (`gate:<key>`) carrying its data in a hidden line, so writers that
//! each hold one gate's report merge instead of overwriting each other, and
//! the go/no-go is computed from every gate recorded in the file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One gate's result as the log records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateEntry {
    /// `freeze-check`, `smoke-gate-canary`.
    pub key: String,
    /// `pass`, `warn`, `fail`.
    pub verdict: String,
    /// Headline.
    pub title: String,
    /// smoke-gate's decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// When the report was made.
    pub generated_at: String,
    /// Commit evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Check run or report link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Failed checks: `id: message`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    /// Warnings: `id: message` (overrides, exceptions, flaky tests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Evaluated as if at another time (a dry run): never counts online.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// config-diff's applied hashes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hashes: BTreeMap<String, String>,
    /// release-guard's procedure, a line per step (planned or carried out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// release-guard: when the retrospective is due (and its issue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrospective: Option<String>,
    /// Each of the gate's checks and its status, by id: what checklist
    /// evidence bound to one rule reads (a skipped rule is never a pass).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, release_gate_core::report::Status>,
}

impl GateEntry {
    /// Whether the gate's evidence allows the release: a verdict of `pass`
    /// or `warn` (anything else, e.g. a hand-edited word, does not), and for
    /// a staged gate the decision `promote`.
    pub fn passing(&self) -> bool {
        matches!(self.verdict.as_str(), "pass" | "warn") && self.decision.as_deref().is_none_or(|d| d == "promote")
    }
}

pub use release_gate_core::decision_log::{field, region, regions, replace_region, set_field};

/// The kind of a gate entry's hidden data line.
const DATA: &str = "gate-data";

/// Gate entries recorded in a document.
pub fn entries(doc: &str) -> BTreeMap<String, GateEntry> {
    let mut out = BTreeMap::new();
    for (json, _) in release_gate_core::decision_log::data_lines(doc, DATA) {
        if let Ok(e) = serde_json::from_str::<GateEntry>(json) {
            out.insert(e.key.clone(), e);
        }
    }
    out
}

/// The hidden data line of an entry.
pub fn data_line(e: &GateEntry) -> String {
    release_gate_core::decision_log::data_line(DATA, &serde_json::to_string(e).unwrap_or_default())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_even_with_double_dashes() {
        let e = GateEntry {
            key: "config-diff".into(),
            verdict: "warn".into(),
            title: "a -- b".into(),
            decision: None,
            generated_at: "2026-12-01T13:30:00Z".into(),
            commit: None,
            url: None,
            failed: vec![],
            warnings: vec!["exception: approved by bob --> ok".into()],
            dry_run: false,
            hashes: BTreeMap::new(),
            steps: vec!["1. disable -- done: x".into()],
            retrospective: None,
            checks: BTreeMap::new(),
        };
        let doc = format!("x\n{}\n", data_line(&e));
        assert!(!data_line(&e)[4..data_line(&e).len() - 3].contains("--"));
        assert_eq!(entries(&doc).get("config-diff"), Some(&e));
    }
}
