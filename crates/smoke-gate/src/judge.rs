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
