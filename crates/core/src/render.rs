//! Renders a report to Markdown once; every surface (check run, PR comment,
//! job summary, decision log) shows the same text, cut to its own limit.

use std::fmt::Write as _;

use crate::report::{Report, Status, Verdict};

/// The emoji and word a verdict is shown with.
pub fn verdict_badge(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✅ pass",
        Verdict::Warn => "⚠️ warn",
        Verdict::Fail => "❌ fail",
    }
}

fn status_badge(status: Status) -> &'static str {
    match status {
        Status::Pass => "✅ pass",
        Status::Warn => "⚠️ warn",
        Status::Fail => "❌ fail",
        Status::Skip => "➖ skip",
    }
}

/// Escapes text for a Markdown table cell.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}

/// The report as Markdown: [`summary`] followed by [`details`].
pub fn markdown(report: &Report) -> String {
    let mut md = summary(report);
    md.push_str(&details(report));
    md.push_str(&footer(report));
    md
}

/// One small line naming the version, time and commit.
pub fn footer(report: &Report) -> String {
    let commit = report.commit.as_deref().map(|c| format!(" · commit `{}`", short(c))).unwrap_or_default();
    let when = if report.dry_run {
        format!("dry run, evaluated as if at {}", report.generated_at)
    } else {
        format!("generated {}", report.generated_at)
    };
    format!("\n<sub>release-gate {} · {when}{commit}</sub>\n", env!("CARGO_PKG_VERSION"))
}

/// The gate's extra sections, each under its own heading.
pub fn details(report: &Report) -> String {
    let mut md = String::new();
    for section in &report.details {
        let _ = write!(md, "\n#### {}\n\n{}\n", section.title, section.markdown.trim_end());
    }
    md
}

/// Heading, headline and the table of checks, failures first.
pub fn summary(report: &Report) -> String {
    let mut md = String::new();
    let stage = report.stage.as_deref().map(|s| format!(" `{s}`")).unwrap_or_default();
    let _ = writeln!(md, "### {} · `{}`{stage} · release `{}`\n", verdict_badge(report.verdict), report.gate, report.release);
    if !report.title.is_empty() {
        let _ = writeln!(md, "**{}**\n", report.title);
    }
    md.push_str("| rule | status | detail |\n| --- | --- | --- |\n");
    let rank = |s: Status| match s {
        Status::Fail => 0,
        Status::Warn => 1,
        Status::Pass => 2,
        Status::Skip => 3,
    };
    let mut checks: Vec<_> = report.checks.iter().collect();
    checks.sort_by_key(|c| rank(c.status));
    for c in checks {
        let _ = writeln!(md, "| `{}` | {} | {} |", c.id, status_badge(c.status), cell(&c.message));
    }
    md
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Cuts `text` to at most `limit` bytes on a UTF-8 boundary; when anything is
/// cut, ends with a line saying how much and where the full text is.
pub fn truncate(text: &str, limit: usize, full_at: &str) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    // Reserve room for the note; the note's own length depends on the number
    // of digits, so size it for the worst case.
    let note_for = |cut: usize| format!("\n\n… {cut} bytes cut to fit GitHub's limit of {limit} bytes; the full report is in {full_at}.\n");
    let reserve = note_for(text.len()).len();
    let mut end = limit.saturating_sub(reserve);
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text[..end].to_owned();
    out.push_str(&note_for(text.len() - end));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Check;

    #[test]
    fn truncate_keeps_utf8_and_says_what_was_cut() {
        let text = "é".repeat(40_000); // 80,000 bytes
        let cut = truncate(&text, 65_535, "the job summary");
        assert!(cut.len() <= 65_535, "{} bytes", cut.len());
        assert!(cut.contains("bytes cut to fit GitHub's limit of 65535 bytes"));
        assert!(cut.starts_with("éé"));
        let short = "small";
        assert_eq!(truncate(short, 10, "x"), "small");
    }

    #[test]
    fn markdown_lists_failures_first() {
        let ts: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().expect("ts");
        let mut r = Report::new("freeze-check", "2.4.0", ts, Some("0123456789abcdef0123".into()));
        r.push(Check::new("window", Status::Pass, "inside primary"));
        r.push(Check::new("freeze", Status::Fail, "weekend | freeze"));
        let md = markdown(&r);
        let fail = md.find("`freeze`").expect("freeze row");
        let pass = md.find("`window`").expect("window row");
        assert!(fail < pass);
        assert!(md.contains("weekend \\| freeze"));
        assert!(md.contains("❌ fail · `freeze-check` · release `2.4.0`"));
        assert!(md.contains("commit `0123456789ab`"));
    }
}
