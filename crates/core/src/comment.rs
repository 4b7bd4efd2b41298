//! The combined release comment: one sticky PR comment for the release, a
//! row per gate (verdict, headline, link to its check run), failures and
//! warnings expanded, passes collapsed, the whole kept under [`BUDGET`].
//!
//! Each gate's row is written once, as a hidden line at the top of its check
//! run's summary ([`Row::embed`]); whoever renders the comment reads the
//! rows back from the commit's check runs ([`Row::find_in`]). Check runs are
//! the source of truth, so gates finishing in parallel jobs cannot lose each
//! other's rows: each writer re-reads the check runs after writing and
//! writes again when they changed (see `publish::combined_comment`).
//! `release-gate run --format markdown` renders the same comment from the
//! local reports.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::render;
use crate::report::{Level, Report, Status, Verdict, data};

/// The size the comment is kept under (GitHub's limit is 65,536).
pub const BUDGET: usize = 4000;

const ROW_PREFIX: &str = "<!-- release-gate row: ";
const END: &str = " -->";

/// One gate's line in the comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// The report key: `freeze-check`, `smoke-gate-canary`.
    pub key: String,
    /// The release.
    pub release: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The report's headline (with its decision, when it has one).
    pub headline: String,
    /// What to expand under a failure or warning: the decision log's
    /// blockers, else the checks that did not pass.
    #[serde(default)]
    pub lines: Vec<String>,
    /// A dry run.
    #[serde(default)]
    pub dry_run: bool,
    /// Each check's status, by id: what evidence bound to one rule of the
    /// gate reads (a skipped rule is never a passed one).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub statuses: std::collections::BTreeMap<String, Status>,
    /// The check run's web link (set by the reader, not embedded).
    #[serde(skip)]
    pub url: Option<String>,
}

/// Characters a line or headline keeps in the comment.
const LINE_CHARS: usize = 220;
/// Lines a gate other than the decision log expands.
const LINES_PER_GATE: usize = 3;

impl Row {
    /// The row a report gives.
    pub fn from_report(r: &Report) -> Self {
        let headline = match r.outputs.get("decision") {
            Some(d) if !r.title.starts_with(d.as_str()) && r.gate != "decision-log-commit" => format!("{d}: {}", r.title),
            _ => r.title.clone(),
        };
        let lines = match r.data::<data::DecisionLog>() {
            Ok(Some(d)) => d.blockers,
            _ => {
                // The checks that did not pass (the decision is the headline
                // already), then the failures they found, with file and line.
                let checks = r
                    .checks
                    .iter()
                    .filter(|c| matches!(c.status, Status::Fail | Status::Warn) && c.id != "decision")
                    .map(|c| format!("{} {}: {}", render::mark(c.status), c.id, c.message));
                let failures = r.annotations.iter().filter(|a| a.level == Level::Failure).map(|a| {
                    let first = a.message.lines().next().unwrap_or_default();
                    format!("{} {} (`{}:{}`): {first}", render::mark(Status::Fail), a.title, a.path, a.start_line)
                });
                checks.chain(failures).collect()
            }
        };
        let statuses = r.checks.iter().map(|c| (c.id.clone(), c.status)).collect();
        Self { key: r.key(), release: r.release.clone(), verdict: r.verdict, headline, lines, dry_run: r.dry_run, statuses, url: None }
    }

    /// The hidden line carrying the row (`--` escaped so it cannot end the HTML comment).
    pub fn embed(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default().replace("--", "-\\u002d");
        format!("{ROW_PREFIX}{json}{END}")
    }

    /// The row embedded in a check run's summary, if any.
    pub fn find_in(text: &str) -> Option<Self> {
        let start = text.find(ROW_PREFIX)? + ROW_PREFIX.len();
        let end = start + text[start..].find(END)?;
        serde_json::from_str(&text[start..end]).ok()
    }
}

/// The hidden first line that finds the release's comment again.
pub fn marker(release: &str) -> String {
    format!("<!-- release-gate release: {release} -->")
}

/// The runbook's order (smoke-gate's stages as §4 runs them), then by key.
fn rank(key: &str) -> (usize, usize, &str) {
    let order = ["freeze-check", "config-diff", "artifact-verify", "smoke-gate-", "decision-log-commit", "deploy-check", "release-guard"];
    let stages = ["smoke-gate-smoke", "smoke-gate-fast-suite", "smoke-gate-canary"];
    let stage = stages.iter().position(|s| key == *s).unwrap_or(stages.len());
    (order.iter().position(|p| key.starts_with(p)).unwrap_or(order.len()), stage, key)
}

fn shorten(text: &str, chars: usize) -> String {
    render::ellipsize(&text.split_whitespace().collect::<Vec<_>>().join(" "), chars)
}

fn table(rows: &[&Row], chars: usize) -> String {
    let mut t = render::Table::new(&["gate", "verdict", "headline"]);
    for r in rows {
        let gate = match &r.url {
            Some(u) => format!("[{}]({u})", r.key),
            None => render::code(&r.key),
        };
        let dry = if r.dry_run { " (dry run)" } else { "" };
        t.row([gate, format!("{}{dry}", render::verdict_badge(r.verdict)), shorten(&r.headline, chars)]);
    }
    t.finish()
}

/// The comment for `release` from the gates' rows (one per key: the caller
/// keeps the latest), within [`BUDGET`] as far as the lines allow.
pub fn render(release: &str, rows: &[Row]) -> String {
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by(|a, b| rank(&a.key).cmp(&rank(&b.key)));
    // Lines shrink until the comment fits; a line cut short still names its gate.
    for chars in [LINE_CHARS, 160, 110, 70] {
        let md = render_with(release, &sorted, chars);
        if md.len() <= BUDGET || chars == 70 {
            return md;
        }
    }
    unreachable!("the last width always returns")
}

fn render_with(release: &str, rows: &[&Row], chars: usize) -> String {
    let (open, passed): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|r| r.verdict != Verdict::Pass);
    let log = rows.iter().find(|r| r.key == "decision-log-commit");
    let mut md = marker(release);
    md.push('\n');
    let heading = match log {
        Some(l) => format!("{} {}", render::mark(render::verdict_status(l.verdict)), shorten(&l.headline, chars)),
        None if open.iter().any(|r| r.verdict == Verdict::Fail) => {
            format!("{} release `{release}`: {} of {} gate(s) refuse", render::verdict_badge(Verdict::Fail), open.len(), rows.len())
        }
        None if !open.is_empty() => {
            format!("{} release `{release}`: {} gate(s) warn", render::verdict_badge(Verdict::Warn), open.len())
        }
        None if rows.is_empty() => format!("release `{release}`: no gate has reported yet"),
        None => format!("{} release `{release}`: every gate passes ({})", render::verdict_badge(Verdict::Pass), rows.len()),
    };
    let _ = writeln!(md, "### {heading}\n");
    if !open.is_empty() {
        md.push_str(&table(&open, chars));
        md.push('\n');
        for r in &open {
            // The decision log's blockers already say why each other gate refused.
            let limit = match (log, r.key.as_str()) {
                (Some(_), "decision-log-commit") => usize::MAX,
                (Some(l), _) if l.verdict != Verdict::Pass => 0,
                _ => LINES_PER_GATE,
            };
            let shown: Vec<&String> = r.lines.iter().take(limit).collect();
            if shown.is_empty() {
                continue;
            }
            let what = if r.key == "decision-log-commit" { "blockers" } else { "not passing" };
            let _ = writeln!(md, "**{}** {what}:", r.key);
            for l in &shown {
                let _ = writeln!(md, "- {}", shorten(l, chars));
            }
            if r.lines.len() > shown.len() {
                let _ = writeln!(md, "- … {} more on the check run", r.lines.len() - shown.len());
            }
            md.push('\n');
        }
    }
    if !passed.is_empty() {
        let _ = write!(md, "<details><summary>{} passed</summary>\n\n{}\n</details>\n", passed.len(), table(&passed, chars));
    }
    let _ = write!(
        md,
        "\n<sub>release-gate {} · one comment for the release; each gate's details are on its check run</sub>\n",
        env!("CARGO_PKG_VERSION")
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Check;

    fn row(key: &str, verdict: Verdict, lines: &[&str]) -> Row {
        Row {
            key: key.into(),
            release: "2.5.0".into(),
            verdict,
            headline: format!("{key} says so"),
            lines: lines.iter().map(|s| (*s).to_owned()).collect(),
            dry_run: false,
            statuses: Default::default(),
            url: Some(format!("https://github.com/o/r/runs/{}", key.len())),
        }
    }

    #[test]
    fn a_row_survives_the_check_run_summary_even_with_dashes_and_markup() {
        let mut r = row("config-diff", Verdict::Fail, &["a --> b <!-- c", "x|y"]);
        r.url = None;
        let summary = format!("{}\n### ❌ fail\n\nmore text", r.embed());
        assert!(!r.embed()[ROW_PREFIX.len()..r.embed().len() - END.len()].contains("--"));
        assert_eq!(Row::find_in(&summary), Some(r));
        assert_eq!(Row::find_in("### no row here"), None);
    }

    #[test]
    fn failures_expand_passes_collapse_and_the_runbook_order_holds() {
        let rows = vec![
            row("smoke-gate-canary", Verdict::Fail, &["❌ metric: +14 %"]),
            row("freeze-check", Verdict::Pass, &[]),
            row("config-diff", Verdict::Fail, &["❌ divergence: one", "❌ two", "❌ three", "❌ four"]),
        ];
        let md = render("2.5.0", &rows);
        assert!(md.starts_with(&marker("2.5.0")));
        assert!(md.contains("2 of 3 gate(s) refuse"), "{md}");
        let (open, closed) = md.split_once("<details>").expect("passes collapsed");
        assert!(open.find("config-diff").expect("cd") < open.find("smoke-gate-canary").expect("sg"), "runbook order");
        assert!(open.contains("- ❌ three") && !open.contains("- ❌ four") && open.contains("1 more on the check run"));
        assert!(closed.contains("freeze-check") && !open.contains("[freeze-check]"));
    }

    #[test]
    fn with_a_no_go_log_its_blockers_are_the_expanded_lines() {
        let rows = vec![
            row("config-diff", Verdict::Fail, &["❌ divergence"]),
            row("decision-log-commit", Verdict::Fail, &["b1", "b2", "b3", "b4", "b5"]),
        ];
        let md = render("2.5.0", &rows);
        assert!(md.contains("### ❌ decision-log-commit says so"), "{md}");
        assert!((1..=5).all(|i| md.contains(&format!("- b{i}\n"))), "every blocker named: {md}");
        assert!(!md.contains("- ❌ divergence"), "not repeated under its gate: {md}");
    }

    #[test]
    fn long_lines_shrink_to_the_budget() {
        let long = "x".repeat(2000);
        let lines: Vec<&str> = (0..12).map(|_| long.as_str()).collect();
        let md = render("1.0.0", &[row("decision-log-commit", Verdict::Fail, &lines)]);
        assert!(md.len() <= BUDGET, "{}", md.len());
        assert_eq!(md.matches("\n- x").count(), 12, "every blocker still named");
    }

    #[test]
    fn all_passing_is_one_line_and_a_collapsed_table() {
        let md = render("2.4.0", &[row("freeze-check", Verdict::Pass, &[]), row("config-diff", Verdict::Pass, &[])]);
        assert!(md.contains("every gate passes (2)"));
        let before = md.split("<details>").next().expect("head");
        assert!(!before.contains("| gate |"), "nothing but the heading outside the details: {md}");
    }

    #[test]
    fn rows_from_reports_take_the_failing_checks_and_the_decision() {
        let ts: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().expect("ts");
        let mut r = Report::new("smoke-gate", "2.5.0", ts, None);
        r.stage = Some("canary".into());
        r.title = "canary: failed".into();
        r.verdict = Verdict::Fail;
        r.outputs.insert("decision".into(), "rollback".into());
        r.push(Check::new("metric", Status::Fail, "+14 %"));
        r.push(Check::new("tests", Status::Pass, "fine"));
        let row = Row::from_report(&r);
        assert_eq!(row.key, "smoke-gate-canary");
        assert_eq!(row.headline, "rollback: canary: failed");
        assert_eq!(row.lines, vec!["❌ metric: +14 %".to_owned()]);
    }
}
