//! Judging a stage's evidence: test results and canary metrics to checks,
//! findings, annotations and the Markdown sections the report shows. Pure:
//! the results are read and the series fetched at the edge.

use std::fmt::Write as _;
use std::path::Path;

use release_gate_core::render;
use release_gate_core::report::{Annotation, Check, Level, Report, Section, Status};

use crate::decision::Findings;
use crate::junit::{Outcome, Results};
use crate::locate::Locator;

fn first_line(s: &str, max: usize) -> String {
    render::ellipsize(s.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim(), max)
}

/// Reads the stage's test reports into checks, annotations and details.
pub fn judge_tests(
    report: &mut Report,
    findings: &mut Findings,
    results: &Results,
    globs: &[(String, Vec<std::path::PathBuf>)],
    repo: &Path,
    prefix: &Path,
    blob: Option<&str>,
) {
    let empty_globs: Vec<&str> = globs.iter().filter(|(_, f)| f.is_empty()).map(|(g, _)| g.as_str()).collect();
    if !empty_globs.is_empty() {
        let why = format!(
            "no report matches {}; did the test step run and write JUnit XML there? (the stage's `reports:` in the policy's smoke-gate section say where to look)",
            empty_globs.join(", ")
        );
        findings.failed.push(why.clone());
        report.push(Check::new("reports", Status::Fail, why));
    }
    if results.files.is_empty() {
        return;
    }
    if results.tests == 0 {
        let why = format!("{} report(s) with no test case: an empty run is not a pass", results.files.len());
        findings.failed.push(why.clone());
        report.push(Check::new("tests", Status::Fail, why));
        return;
    }
    if results.ran() == 0 {
        let why = format!("every one of the {} test(s) was skipped or disabled: nothing was verified", results.tests);
        findings.failed.push(why.clone());
        report.push(Check::new("tests", Status::Fail, why));
        return;
    }
    let counts = format!(
        "{} test(s) in {} report(s): {} passed, {} failed, {} errors, {} skipped, {} flaky ({:.1} s)",
        results.tests,
        results.files.len(),
        results.passed,
        results.failed,
        results.errored,
        results.skipped,
        results.flaky,
        results.time
    );
    if empty_globs.is_empty() {
        report.push(Check::new("reports", Status::Pass, format!("read {}", results.files.join(", "))));
    }
    let bad = results.failed + results.errored;
    if bad > 0 {
        let first: Vec<String> = results.failures.iter().take(3).map(|c| format!("`{}`", c.id())).collect();
        let why = format!("{bad} test(s) failed: {}{}", first.join(", "), if bad > 3 { ", …" } else { "" });
        findings.failed.push(why);
        report.push(Check::new("tests", Status::Fail, counts));
    } else {
        report.push(Check::new("tests", Status::Pass, counts));
    }
    if !results.suite_problems.is_empty() {
        let mut suites: Vec<String> = results.suite_problems.iter().map(|p| format!("`{}`", p.suite)).collect();
        suites.dedup();
        let why = format!(
            "{} result(s) outside any test case, in suite(s) {}: a failure that no test case shows",
            results.suite_problems.len(),
            suites.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        );
        findings.failed.push(why.clone());
        report.push(Check::new("suites", Status::Fail, why));
        let mut t = render::Table::new(&["suite", "report", "what it says"]);
        for p in &results.suite_problems {
            t.row([render::code(&p.suite), render::code(format!("{}:{}", p.report, p.line)), first_line(&p.message, 300)]);
        }
        report
            .details
            .push(Section { title: format!("Results outside a test case ({})", results.suite_problems.len()), markdown: t.finish() });
    }
    if results.flaky > 0 {
        let first: Vec<String> = results.flaky_cases.iter().take(5).map(|c| format!("`{}`", c.id())).collect();
        report.push(Check::new(
            "flaky",
            Status::Warn,
            format!("{} test(s) passed only on a retry: {}{}", results.flaky, first.join(", "), if results.flaky > 5 { ", …" } else { "" }),
        ));
    }
    let mut locator = Locator::new(repo, prefix);
    let mut table = render::Table::new(&["test", "outcome", "message", "where"]);
    for c in &results.failures {
        let at = locator.locate(c);
        let outcome = if c.outcome == Outcome::Errored { "error" } else { "failed" };
        table.row([
            render::code(c.id()),
            format!("{outcome}{}", if c.reruns > 0 { format!(" ({} retries)", c.reruns) } else { String::new() }),
            first_line(if c.message.is_empty() { &c.detail } else { &c.message }, 160),
            at.as_ref().map_or_else(|| c.report.clone(), |(p, l)| render::file_line(blob, p, *l)),
        ]);
        if let Some((path, line)) = at {
            // The failure's own message first (what the PR comment and the
            // annotation's first line show), then the stack trace.
            let message = match (c.message.is_empty(), c.detail.is_empty()) {
                (_, true) => c.message.clone(),
                (true, false) => c.detail.clone(),
                (false, false) => format!("{}\n\n{}", c.message, c.detail),
            };
            report.annotations.push(Annotation::line(path, line, Level::Failure, format!("{outcome}: {}", c.id()), message));
        }
    }
    if !results.failures.is_empty() {
        let more = (results.failed + results.errored).saturating_sub(results.failures.len() as u64);
        let mut md = table.finish();
        if more > 0 {
            let _ = writeln!(md, "\n{more} more failure(s) are counted but not listed.");
        }
        report.details.push(Section { title: format!("Failures ({})", results.failed + results.errored), markdown: md });
    }
    if !results.flaky_cases.is_empty() {
        let mut t = render::Table::new(&["test", "failed attempts", "first failure"]);
        for c in &results.flaky_cases {
            t.row([render::code(c.id()), c.reruns.max(1).to_string(), first_line(&c.message, 160)]);
            if let Some((path, line)) = locator.locate(c) {
                let message = format!("passed only after {} failed attempt(s): {}", c.reruns.max(1), first_line(&c.message, 300));
                report.annotations.push(Annotation::line(path, line, Level::Warning, format!("flaky: {}", c.id()), message));
            }
        }
        report.details.push(Section { title: format!("Flaky tests ({})", results.flaky), markdown: t.finish() });
    }
}

/// How far a report's own clock may be ahead of now, or a commit's ahead of
/// the run that tested it, before the report is refused.
pub const SKEW: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

/// When the stage's evidence must have been made: within `max_age` of
/// `now`, and (own timestamps) not before the commit tested was made.
pub struct Freshness {
    /// The instant evaluated.
    pub now: jiff::Timestamp,
    /// The stage's `max-age`.
    pub max_age: jiff::SignedDuration,
    /// The commit tested and when it was made, when known.
    pub commit: Option<(String, jiff::Timestamp)>,
}

/// Judges each report's age (§3: results of this build, not an earlier
/// one's): by its suites' own `timestamp`s where it has them, else by the
/// file's modification time, and says which. `modified` is each report's
/// file time, in the order the reports were read.
pub fn judge_freshness(
    report: &mut Report,
    findings: &mut Findings,
    results: &Results,
    modified: &[Option<jiff::Timestamp>],
    f: &Freshness,
) {
    if results.times.is_empty() {
        return;
    }
    let at = |t: jiff::Timestamp| release_gate_core::report::rfc3339(t);
    let oldest_allowed = f.now - f.max_age;
    let age = format!("{:#}", f.max_age);
    let mut problems = Vec::new();
    let mut t = render::Table::new(&["report", "ran", "from"]);
    let (mut own, mut by_file) = (0usize, 0usize);
    for (i, r) in results.times.iter().enumerate() {
        let shown = format!("`{}`", r.report);
        match (r.oldest, r.newest) {
            (Some((oldest, oline)), Some((newest, nline))) => {
                own += 1;
                let from = if r.local > 0 {
                    format!("its suites' timestamps ({} without an offset, read as UTC)", r.local)
                } else {
                    "its suites' timestamps".to_owned()
                };
                t.row([shown.clone(), if oldest == newest { at(oldest) } else { format!("{} – {}", at(oldest), at(newest)) }, from]);
                if oldest < oldest_allowed {
                    problems.push(format!(
                        "{}:{oline} says it ran at {}, more than max-age {age} before {}",
                        r.report,
                        at(oldest),
                        at(f.now)
                    ));
                }
                if newest > f.now + SKEW {
                    problems.push(format!(
                        "{}:{nline} says it ran at {}, after {}: a report from the future is not evidence",
                        r.report,
                        at(newest),
                        at(f.now)
                    ));
                }
                if let Some((sha, made)) = &f.commit
                    && oldest + SKEW < *made
                {
                    problems.push(format!(
                        "{}:{oline} says it ran at {}, before commit {} was made ({}): it is an earlier build's",
                        r.report,
                        at(oldest),
                        &sha[..sha.len().min(12)],
                        at(*made)
                    ));
                }
                if r.stamped < r.suites {
                    // Unstamped suites beside stamped ones: the file's age must hold too.
                    if let Some(m) = modified.get(i).copied().flatten()
                        && m < oldest_allowed
                    {
                        problems.push(format!("{} was last written at {}, more than max-age {age} ago", r.report, at(m)));
                    }
                }
            }
            _ => {
                by_file += 1;
                match modified.get(i).copied().flatten() {
                    Some(m) => {
                        t.row([shown, at(m), "the file's modification time (the report has no timestamp)".to_owned()]);
                        if m < oldest_allowed {
                            problems.push(format!(
                                "{} has no timestamp and was last written at {}, more than max-age {age} before {}",
                                r.report,
                                at(m),
                                at(f.now)
                            ));
                        }
                        if let Some((sha, made)) = &f.commit
                            && m + SKEW < *made
                        {
                            problems.push(format!(
                                "{} has no timestamp and was last written at {}, before commit {} was made ({}): it is an earlier build's",
                                r.report,
                                at(m),
                                &sha[..sha.len().min(12)],
                                at(*made)
                            ));
                        }
                    }
                    None => {
                        t.row([shown, "unknown".into(), "nothing: no timestamp, no file time".to_owned()]);
                        problems.push(format!("{} has no timestamp and no file time: how old it is cannot be told", r.report));
                    }
                }
            }
        }
    }
    let basis = match (own, by_file) {
        (_, 0) => format!("{own} by their own timestamps"),
        (0, _) => format!("{by_file} by the file's age (no timestamp in the report)"),
        _ => format!("{own} by their own timestamps, {by_file} by the file's age (no timestamp)"),
    };
    let commit = f
        .commit
        .as_ref()
        .map(|(sha, made)| format!(", none before commit {} ({})", &sha[..sha.len().min(12)], at(*made)))
        .unwrap_or_default();
    if problems.is_empty() {
        report.push(Check::new("fresh", Status::Pass, format!("{} report(s) within max-age {age}{commit}: {basis}", results.times.len())));
    } else {
        let n = problems.len();
        let mut shown: Vec<String> = problems.iter().take(5).cloned().collect();
        if n > 5 {
            shown.push(format!("{} more", n - 5));
        }
        let why = format!("{n} stale report(s): {}", shown.join("; "));
        findings.failed.push(why.clone());
        report.push(Check::new(
            "fresh",
            Status::Fail,
            format!("{why}; re-run the stage on this commit (smoke-gate.stages.<stage>.max-age sets how old a report may be)"),
        ));
    }
    report.details.push(Section { title: "When the reports ran".into(), markdown: t.finish() });
}
