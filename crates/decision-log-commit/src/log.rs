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
}

impl GateEntry {
    /// Whether the gate's evidence allows the release: a verdict of `pass`
    /// or `warn` (anything else, e.g. a hand-edited word, does not), and for
    /// a staged gate the decision `promote`.
    pub fn passing(&self) -> bool {
        matches!(self.verdict.as_str(), "pass" | "warn") && self.decision.as_deref().is_none_or(|d| d == "promote")
    }
}

const BEGIN: &str = "<!-- release-gate:begin ";
const END: &str = "<!-- release-gate:end ";
const DATA: &str = "<!-- release-gate:gate-data ";

/// The generated regions of a document, by key, in order.
pub fn regions(doc: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = doc[from..].find(BEGIN).map(|i| i + from) {
        let Some(key_end) = doc[i + BEGIN.len()..].find(" -->").map(|k| k + i + BEGIN.len()) else { break };
        let key = doc[i + BEGIN.len()..key_end].to_owned();
        let end_marker = format!("{END}{key} -->");
        let Some(j) = doc[key_end..].find(&end_marker).map(|j| j + key_end) else { break };
        out.push((key, i..j + end_marker.len()));
        from = j + end_marker.len();
    }
    out
}

/// A region with its markers.
pub fn region(key: &str, body: &str) -> String {
    format!("{BEGIN}{key} -->\n{}\n{END}{key} -->", body.trim_end())
}

/// Gate entries recorded in a document.
pub fn entries(doc: &str) -> BTreeMap<String, GateEntry> {
    let mut out = BTreeMap::new();
    for line in doc.lines() {
        if let Some(rest) = line.trim().strip_prefix(DATA).and_then(|r| r.strip_suffix("-->"))
            && let Ok(e) = serde_json::from_str::<GateEntry>(rest.trim())
        {
            out.insert(e.key.clone(), e);
        }
    }
    out
}

/// The hidden data line of an entry (`--` cannot appear inside an HTML comment).
pub fn data_line(e: &GateEntry) -> String {
    format!("{DATA}{} -->", serde_json::to_string(e).unwrap_or_default().replace("--", "\\u002d\\u002d"))
}

/// Replaces `key`'s region in `doc`, wherever it is (also inside another
/// region), or returns `None` when it has none.
pub fn replace_region(doc: &str, key: &str, body: &str) -> Option<String> {
    let begin = format!("{BEGIN}{key} -->");
    let end = format!("{END}{key} -->");
    let start = doc.find(&begin)?;
    let stop = doc[start..].find(&end)? + start + end.len();
    Some(format!("{}{}{}", &doc[..start], region(key, body), &doc[stop..]))
}

/// A hand-written field line `- **Label:** value`: its value, if the line exists.
pub fn field(doc: &str, label: &str) -> Option<String> {
    let prefix = format!("- **{label}:**");
    doc.lines().find(|l| l.trim_start().starts_with(&prefix)).map(|l| l.trim_start()[prefix.len()..].trim().to_owned())
}

/// Sets a hand-written field's value (only called with an input).
pub fn set_field(doc: &str, label: &str, value: &str) -> String {
    let prefix = format!("- **{label}:**");
    let mut out = String::with_capacity(doc.len() + value.len());
    for line in doc.split_inclusive('\n') {
        if line.trim_start().starts_with(&prefix) {
            let nl = if line.ends_with('\n') { "\n" } else { "" };
            out.push_str(&format!("{prefix} {value}{nl}"));
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_found_and_replaced_leaving_the_rest() {
        let doc = format!("# Log\nhand text\n{}\nmore hand text\n{}\n", region("a", "one"), region("gate:x", "two"));
        assert_eq!(regions(&doc).iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["a", "gate:x"]);
        let d2 = replace_region(&doc, "gate:x", "TWO").unwrap();
        assert!(d2.contains("hand text\n") && d2.contains("more hand text") && d2.contains("TWO") && !d2.contains("two"));
        assert!(replace_region(&doc, "missing", "x").is_none());
        // Nested regions are found too (gate data sits inside the gate-data region).
        let nested = region("outer", &format!("{}\n{}", region("gate:a", "1"), region("gate:b", "2")));
        let n2 = replace_region(&nested, "gate:b", "3").unwrap();
        assert!(n2.contains("3") && !n2.contains("\n2\n") && n2.matches("begin gate:b").count() == 1);
    }

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
        };
        let doc = format!("x\n{}\n", data_line(&e));
        assert!(!data_line(&e)[4..data_line(&e).len() - 3].contains("--"));
        assert_eq!(entries(&doc).get("config-diff"), Some(&e));
    }

    #[test]
    fn fields() {
        let doc = "- **Participants:** alice, bob\n- **Scope summary:**\n";
        assert_eq!(field(doc, "Participants").as_deref(), Some("alice, bob"));
        assert_eq!(field(doc, "Scope summary").as_deref(), Some(""));
        assert_eq!(
            set_field(doc, "Scope summary", "order router 2.4"),
            "- **Participants:** alice, bob\n- **Scope summary:** order router 2.4\n"
        );
    }
}
