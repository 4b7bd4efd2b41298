//! Renders a report to Markdown once; every surface (check run, PR comment,
//! job summary, decision log) shows the same text, cut to its own limit.

use std::fmt::Write as _;

use crate::report::{Report, Status, Verdict};

/// The one status vocabulary: the mark a status is shown with, everywhere
/// (tables of checks, artifacts, the readiness checklist, canary metrics).
pub fn mark(status: Status) -> &'static str {
    match status {
        Status::Pass => "✅",
        Status::Warn => "⚠️",
        Status::Fail => "❌",
        Status::Skip => "➖",
    }
}

/// The mark of a rollback decision (beyond a failure: undo the release).
pub const ROLLBACK: &str = "🛑";

/// The mark of "no verdict yet" (too little data: hold).
pub const NO_VERDICT: &str = "⏸";

/// The status a verdict is shown as.
pub fn verdict_status(verdict: Verdict) -> Status {
    match verdict {
        Verdict::Pass => Status::Pass,
        Verdict::Warn => Status::Warn,
        Verdict::Fail => Status::Fail,
    }
}

/// The emoji and word a verdict is shown with.
pub fn verdict_badge(verdict: Verdict) -> String {
    status_badge(verdict_status(verdict))
}

/// The emoji and word a status is shown with: `✅ pass`.
pub fn status_badge(status: Status) -> String {
    format!("{} {}", mark(status), status.as_str())
}

/// Escapes text for a Markdown table cell.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}

/// A place in a file: a link to the line on GitHub when the blob URL
/// (`https://github.com/o/r/blob/<sha>/`) is known, else `path:line` as code.
/// `path` is repository-relative, like every annotation's.
pub fn file_line(blob: Option<&str>, path: &str, line: u32) -> String {
    match blob {
        Some(base) => format!("[{path}:{line}]({base}{path}#L{line})"),
        None => format!("`{path}:{line}`"),
    }
}

/// `text` cut to at most `max` characters, ending in `…` when it was cut.
pub fn ellipsize(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// Text as inline code: `` `text` ``.
pub fn code(text: impl std::fmt::Display) -> String {
    format!("`{text}`")
}

/// A Markdown table: the gate names the columns and gives each row's
/// cells as text; the table escapes every cell (`|`, new lines) and lays it
/// out. The only place a table is written.
#[derive(Debug, Clone)]
pub struct Table {
    md: String,
    columns: usize,
    rows: usize,
}

impl Table {
    /// A table with these column headings.
    pub fn new(head: &[&str]) -> Self {
        let mut md = format!("| {} |\n|", head.join(" | "));
        md.push_str(&" --- |".repeat(head.len()));
        md.push('\n');
        Self { md, columns: head.len(), rows: 0 }
    }

    /// Adds a row; each cell is escaped. Missing cells are left empty.
    pub fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) -> &mut Self {
        let mut cells: Vec<String> = cells.into_iter().map(|c| cell(c.as_ref())).collect();
        debug_assert!(cells.len() <= self.columns, "{} cells for {} columns", cells.len(), self.columns);
        cells.resize(self.columns, String::new());
        let _ = writeln!(self.md, "| {} |", cells.join(" | "));
        self.rows += 1;
        self
    }

    /// Rows added so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The Markdown, ending in a new line.
    pub fn finish(self) -> String {
        self.md
    }
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
    let policy = report.policy.as_ref().map(|p| format!(" · policy {p}")).unwrap_or_default();
    format!("\n<sub>release-gate {} · {when}{commit}{policy}</sub>\n", env!("CARGO_PKG_VERSION"))
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
    let mut table = Table::new(&["rule", "status", "detail"]);
    let rank = |s: Status| match s {
        Status::Fail => 0,
        Status::Warn => 1,
        Status::Pass => 2,
        Status::Skip => 3,
    };
    let mut checks: Vec<_> = report.checks.iter().collect();
    checks.sort_by_key(|c| rank(c.status));
    for c in checks {
        table.row([code(&c.id), status_badge(c.status), c.message.clone()]);
    }
    md.push_str(&table.finish());
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
    fn ellipsize_cuts_by_characters_and_says_so() {
        assert_eq!(ellipsize("short", 5), "short");
        assert_eq!(ellipsize("ärger über", 6), "ärger…");
        assert_eq!(ellipsize("ärger über", 6).chars().count(), 6);
        assert_eq!(ellipsize("", 0), "");
    }

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
