//! A report's findings with a file and line as SARIF 2.1.0 (`--format
//! sarif`), for GitHub code scanning (`github/codeql-action/upload-sarif`)
//! or any SARIF viewer. One run per report; one result per annotation; the
//! rule is the kind of finding (`config-diff/config-divergence`,
//! `smoke-gate/failed`), the level follows the annotation's.

use serde_json::{Value, json};

use crate::report::{Level, Report};

/// The SARIF specification's version written.
pub const VERSION: &str = "2.1.0";

/// `config divergence: changed /a/b` → `config-divergence`.
fn kind(title: &str) -> String {
    let head = title.split(':').next().unwrap_or(title).trim().to_lowercase();
    let slug: String = head.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let slug = slug.split('-').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("-");
    if slug.is_empty() { "finding".to_owned() } else { slug }
}

/// A stable identity for a finding across runs (code scanning tracks alerts by it).
fn fingerprint(parts: &[&str]) -> String {
    // FNV-1a, 64 bits: stable across versions and platforms, no dependency.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The report as a SARIF log.
pub fn from_report(report: &Report) -> Value {
    let mut rules: Vec<String> = Vec::new();
    let results: Vec<Value> = report
        .annotations
        .iter()
        .map(|a| {
            let rule = format!("{}/{}", report.gate, kind(&a.title));
            if !rules.contains(&rule) {
                rules.push(rule.clone());
            }
            let text = if a.message.trim().is_empty() { a.title.clone() } else { format!("{}\n\n{}", a.title, a.message) };
            json!({
                "ruleId": rule,
                "level": match a.level { Level::Failure => "error", Level::Warning => "warning", Level::Notice => "note" },
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": a.path, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": a.start_line.max(1), "endLine": a.end_line.max(a.start_line).max(1)},
                    }
                }],
                "partialFingerprints": {"releaseGateFinding/v1": fingerprint(&[&report.gate, &a.title, &a.path])},
            })
        })
        .collect();
    let rules: Vec<Value> = rules
        .iter()
        .map(|id| {
            let kind = id.split_once('/').map_or(id.as_str(), |(_, k)| k);
            json!({"id": id, "name": kind, "shortDescription": {"text": format!("{}: {}", report.gate, kind.replace('-', " "))}})
        })
        .collect();
    let stage = report.stage.as_deref().map(|s| format!("/{s}")).unwrap_or_default();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": VERSION,
        "runs": [{
            "tool": {"driver": {
                "name": format!("release-gate {}", report.gate),
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/tradepulse/release-gate",
                "rules": rules,
            }},
            "automationDetails": {"id": format!("release-gate/{}{stage}/{}/", report.gate, report.release)},
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The repository root: every location is repository-relative, like the check-run annotations."}}},
            "results": results,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Annotation;

    #[test]
    fn findings_become_results_with_rules_levels_and_locations() {
        let ts: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().expect("ts");
        let mut r = Report::new("config-diff", "2.5.0", ts, None);
        for (title, level, line) in [
            ("config divergence: changed /spec/x", Level::Failure, 12),
            ("config divergence: added /spec/y", Level::Failure, 30),
            ("flaky: t", Level::Warning, 0),
        ] {
            r.annotations.push(Annotation {
                path: "configs/production/app.yaml".into(),
                start_line: line,
                end_line: line,
                level,
                title: title.into(),
                message: "staging: 1\nproduction: 2".into(),
            });
        }
        let log = from_report(&r);
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "release-gate config-diff");
        let rules: Vec<&str> =
            run["tool"]["driver"]["rules"].as_array().expect("rules").iter().map(|r| r["id"].as_str().expect("id")).collect();
        assert_eq!(rules, ["config-diff/config-divergence", "config-diff/flaky"]);
        let results = run["results"].as_array().expect("results");
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[2]["level"], "warning");
        assert_eq!(results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "configs/production/app.yaml");
        assert_eq!(results[0]["locations"][0]["physicalLocation"]["region"]["startLine"], 12);
        assert_eq!(results[2]["locations"][0]["physicalLocation"]["region"]["startLine"], 1, "SARIF lines start at 1");
        for res in results {
            assert!(rules.contains(&res["ruleId"].as_str().expect("rule")), "every result's rule is declared");
        }
        assert_ne!(results[0]["partialFingerprints"], results[1]["partialFingerprints"]);
        assert_eq!(from_report(&r)["runs"][0]["results"][0]["partialFingerprints"], results[0]["partialFingerprints"], "stable");
    }
}
