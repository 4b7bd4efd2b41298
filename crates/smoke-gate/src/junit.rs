//! JUnit XML, streamed: the dialects pytest, Maven Surefire/Failsafe (a bare
//! `<testsuite>` root, `rerunFailure`/`flakyFailure`), Gradle, jest-junit,
//! Go reporters (go-junit-report, gotestsum), PHPUnit (nested suites,
//! `file`/`line`), cargo-nextest and others write; gzipped files too.
//!
//! Memory stays bounded whatever the report's size: passing tests are only
//! counted; failures are kept (their text cut to a few KiB, the first
//! [`KEEP`] of them), and to see "failed, then passed" only the identities
//! of failed tests are remembered.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

/// Longest failure text kept per test.
pub const DETAIL_BYTES: usize = 4096;
/// Most failures and flaky tests kept with details (all are counted).
pub const KEEP: usize = 2000;

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An assertion failed.
    Failed,
    /// An error outside assertions.
    Errored,
    /// Skipped.
    Skipped,
}

/// A failed or flaky test.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Suite name.
    pub suite: String,
    /// `classname`.
    pub classname: String,
    /// `name`.
    pub name: String,
    /// File as the report gives it, if it does.
    pub file: Option<String>,
    /// 1-based line, if the report gives it.
    pub line: Option<u32>,
    /// Failed or errored (for flaky tests: how the failed attempts failed).
    pub outcome: Outcome,
    /// Failure message.
    pub message: String,
    /// Failure text (cut at [`DETAIL_BYTES`] on a UTF-8 boundary).
    pub detail: String,
    /// Failed attempts: reruns that failed before the final result.
    pub reruns: u32,
    /// The report file it came from.
    pub report: String,
}

impl Case {
    /// `classname.name`, or `name`.
    pub fn id(&self) -> String {
        if self.classname.is_empty() { self.name.clone() } else { format!("{}.{}", self.classname, self.name) }
    }
}

/// Totals and the tests worth listing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results {
    /// Test cases (a retried test counts once).
    pub tests: u64,
    /// Passed (flaky ones included).
    pub passed: u64,
    /// Failed.
    pub failed: u64,
    /// Errored.
    pub errored: u64,
    /// Skipped.
    pub skipped: u64,
    /// Passed after failing.
    pub flaky: u64,
    /// Seconds, summed over test cases.
    pub time: f64,
    /// Failed and errored tests (the first [`KEEP`]).
    pub failures: Vec<Case>,
    /// Flaky tests (the first [`KEEP`]).
    pub flaky_cases: Vec<Case>,
    /// Report files read.
    pub files: Vec<String>,
    /// Hashes of failed tests' `classname`/`name`: a later pass of one is a retry.
    failed_ids: HashSet<u64>,
}

/// A report that cannot be read as JUnit XML.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ParseError {
    /// File.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// What is wrong and what to do.
    pub message: String,
}

/// Counts lines as the parser consumes bytes, so errors name the line.
struct Lines<R> {
    inner: R,
    line: u64,
}

impl<R: BufRead> Read for Lines<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.line += newlines(&out[..n]);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Lines<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let n = amt.min(buf.len());
            self.line += newlines(&buf[..n]);
        }
        self.inner.consume(amt);
    }
}

fn newlines(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', b).count() as u64
}

/// Opens a report, gunzipping when it starts with gzip's magic bytes.
pub fn open(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let mut f = BufReader::with_capacity(256 * 1024, std::fs::File::open(path)?);
    let gz = f.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz { Box::new(BufReader::with_capacity(256 * 1024, flate2::bufread::MultiGzDecoder::new(f))) } else { Box::new(f) })
}

#[derive(Default)]
struct Current {
    suite: String,
    classname: String,
    name: String,
    file: Option<String>,
    line: Option<u32>,
    outcome: Option<Outcome>,
    message: String,
    detail: String,
    reruns: u32,
    rerun_outcome: Option<Outcome>,
    capturing: bool,
    time: f64,
}

struct Parser<'a> {
    shown: &'a str,
    pytest: bool,
    suites: Vec<String>,
    case: Option<Current>,
    saw_root: bool,
    depth: usize,
    results: &'a mut Results,
}

/// Identity hash of a test (FNV-1a over the attribute values as written; no
/// allocation: most tests only need counting). Collisions are resolved by
/// comparing names in the failure list.
fn id_hash(classname: &str, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in classname.bytes().chain([0u8]).chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn local(e: &BytesStart) -> String {
    e.local_name().as_ref().to_owned()
}

fn attr(e: &BytesStart, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok().map(|v| v.into_owned()))
}

/// Appends without going past [`DETAIL_BYTES`], cutting on a char boundary.
fn push_capped(s: &mut String, more: &str) {
    let room = DETAIL_BYTES.saturating_sub(s.len());
    if room == 0 {
        return;
    }
    let mut cut = more.len().min(room);
    while !more.is_char_boundary(cut) {
        cut -= 1;
    }
    s.push_str(&more[..cut]);
}

impl Parser<'_> {
    fn start(&mut self, e: &BytesStart, line: u64) -> Result<(), ParseError> {
        let name = local(e);
        if !self.saw_root {
            if name != "testsuites" && name != "testsuite" {
                return Err(ParseError {
                    file: self.shown.to_owned(),
                    line,
                    message: format!("the root element is <{name}>, not <testsuites> or <testsuite>: this is not a JUnit report"),
                });
            }
            self.saw_root = true;
        }
        match name.as_str() {
            "testsuites" | "testsuite" => {
                let n = attr(e, "name").unwrap_or_default();
                if n == "pytest" || n.starts_with("pytest ") {
                    self.pytest = true;
                }
                if name == "testsuite" {
                    self.suites.push(n);
                }
            }
            "testcase" => {
                let line = attr(e, "line").and_then(|l| l.trim().parse::<u32>().ok()).map(|l| if self.pytest { l + 1 } else { l });
                self.case = Some(Current {
                    suite: self.suites.last().cloned().unwrap_or_default(),
                    classname: attr(e, "classname").unwrap_or_default(),
                    name: attr(e, "name").unwrap_or_default(),
                    file: attr(e, "file").filter(|f| !f.is_empty()),
                    line: line.filter(|l| *l > 0),
                    time: attr(e, "time").and_then(|t| t.trim().replace(',', "").parse().ok()).unwrap_or(0.0),
                    ..Current::default()
                });
            }
            "failure" | "error" => {
                if let Some(c) = &mut self.case
                    && c.outcome.is_none_or(|o| o == Outcome::Skipped)
                {
                    c.outcome = Some(if name == "failure" { Outcome::Failed } else { Outcome::Errored });
                    c.message = attr(e, "message").or_else(|| attr(e, "type")).unwrap_or_default();
                    c.detail.clear();
                    c.capturing = true;
                }
            }
            "skipped" => {
                if let Some(c) = &mut self.case
                    && c.outcome.is_none()
                {
                    c.outcome = Some(Outcome::Skipped);
                }
            }
            "rerunFailure" | "rerunError" | "flakyFailure" | "flakyError" => {
                if let Some(c) = &mut self.case {
                    c.reruns += 1;
                    let o = if name.ends_with("Failure") { Outcome::Failed } else { Outcome::Errored };
                    c.rerun_outcome.get_or_insert(o);
                    if c.message.is_empty() {
                        c.message = attr(e, "message").or_else(|| attr(e, "type")).unwrap_or_default();
                    }
                    c.capturing = c.detail.is_empty() || c.outcome.is_none();
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, name: &str) {
        match name {
            "failure" | "error" | "rerunFailure" | "rerunError" | "flakyFailure" | "flakyError" => {
                if let Some(c) = &mut self.case {
                    c.capturing = false;
                }
            }
            "testsuite" => {
                self.suites.pop();
            }
            "testcase" => {
                if let Some(c) = self.case.take() {
                    self.finish_case(c);
                }
            }
            _ => {}
        }
    }

    fn finish_case(&mut self, c: Current) {
        let r = &mut *self.results;
        r.time += c.time;
        let case = |c: Current, outcome: Outcome, shown: &str| Case {
            suite: c.suite,
            classname: c.classname,
            name: c.name,
            file: c.file,
            line: c.line,
            outcome,
            message: c.message,
            detail: c.detail.trim().to_owned(),
            reruns: c.reruns,
            report: shown.to_owned(),
        };
        match c.outcome {
            None => {
                let hash = id_hash(&c.classname, &c.name);
                if c.reruns > 0 {
                    // Surefire's flakyFailure: failed, then passed on a rerun.
                    r.tests += 1;
                    r.passed += 1;
                    r.flaky += 1;
                    let o = c.rerun_outcome.unwrap_or(Outcome::Failed);
                    if r.flaky_cases.len() < KEEP {
                        r.flaky_cases.push(case(c, o, self.shown));
                    }
                } else if r.failed_ids.remove(&hash) {
                    // Listed again and passed: a retry (jest, Gradle, pytest-rerunfailures).
                    let earlier =
                        r.failures.iter().position(|f| f.classname == c.classname && f.name == c.name).map(|i| r.failures.remove(i));
                    let o = earlier.as_ref().map_or(Outcome::Failed, |e| e.outcome);
                    if o == Outcome::Errored {
                        r.errored -= 1;
                    } else {
                        r.failed -= 1;
                    }
                    r.passed += 1;
                    r.flaky += 1;
                    let mut f = earlier.unwrap_or_else(|| case(c, o, self.shown));
                    f.reruns += 1;
                    if r.flaky_cases.len() < KEEP {
                        r.flaky_cases.push(f);
                    }
                } else {
                    r.tests += 1;
                    r.passed += 1;
                }
            }
            Some(Outcome::Skipped) => {
                r.tests += 1;
                r.skipped += 1;
            }
            Some(o) => {
                let hash = id_hash(&c.classname, &c.name);
                if r.failed_ids.contains(&hash) {
                    // Failed again on a retry: one test, still failing.
                    if let Some(f) = r.failures.iter_mut().find(|f| f.classname == c.classname && f.name == c.name) {
                        f.reruns += 1;
                    }
                    return;
                }
                r.tests += 1;
                if o == Outcome::Errored {
                    r.errored += 1;
                } else {
                    r.failed += 1;
                }
                r.failed_ids.insert(hash);
                if r.failures.len() < KEEP {
                    r.failures.push(case(c, o, self.shown));
                }
            }
        }
    }
}

/// Parses one report into `results` (several reports accumulate: a test
/// that fails in one and passes in a later one is flaky).
pub fn parse(reader: impl BufRead, shown: &str, results: &mut Results) -> Result<(), ParseError> {
    let mut r = quick_xml::Reader::from_reader(Lines { inner: reader, line: 1 });
    r.config_mut().check_end_names = true;
    let err = |line: u64, message: String| ParseError { file: shown.to_owned(), line, message };
    let mut p = Parser { shown, pytest: false, suites: Vec::new(), case: None, saw_root: false, depth: 0, results };
    let mut buf = Vec::with_capacity(8192);
    loop {
        let line = r.get_ref().line;
        let ev = match r.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => {
                let line = r.get_ref().line;
                return Err(match e {
                    quick_xml::Error::Io(io) => err(line, format!("cannot read the report: {io}")),
                    other if p.saw_root => err(line, format!("malformed XML ({other}); is the file truncated?")),
                    other => err(line, format!("not XML ({other}): this is not a JUnit report")),
                });
            }
        };
        match ev {
            Event::DocType(d) if d.as_ref().to_ascii_uppercase().contains("<!ENTITY") => {
                return Err(err(
                    line,
                    "the DOCTYPE declares entities, which are refused (entity expansion); JUnit reports need none".into(),
                ));
            }
            Event::Start(e) => {
                p.depth += 1;
                p.start(&e, line)?;
            }
            Event::Empty(e) if p.saw_root && e.local_name().as_ref() == "testcase" && p.case.is_none() => {
                // The common case, a passing test: counted without allocating.
                let (mut classname, mut name, mut time) = (std::borrow::Cow::Borrowed(""), std::borrow::Cow::Borrowed(""), 0.0);
                for a in e.attributes().with_checks(false).flatten() {
                    match a.key.local_name().as_ref() {
                        "classname" => classname = a.normalized_value(XmlVersion::Implicit1_0).unwrap_or_default(),
                        "name" => name = a.normalized_value(XmlVersion::Implicit1_0).unwrap_or_default(),
                        "time" => time = a.value.as_ref().trim().parse().unwrap_or(0.0),
                        _ => {}
                    }
                }
                if p.results.failed_ids.is_empty() || !p.results.failed_ids.contains(&id_hash(&classname, &name)) {
                    p.results.tests += 1;
                    p.results.passed += 1;
                    p.results.time += time;
                } else {
                    p.start(&e, line)?;
                    p.end("testcase");
                }
            }
            Event::Empty(e) => {
                p.start(&e, line)?;
                p.end(&local(&e));
            }
            Event::End(e) => {
                p.depth = p.depth.saturating_sub(1);
                p.end(e.local_name().as_ref());
            }
            Event::Text(t) => {
                if let Some(c) = p.case.as_mut().filter(|c| c.capturing) {
                    push_capped(&mut c.detail, &t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(c) = p.case.as_mut().filter(|c| c.capturing) {
                    push_capped(&mut c.detail, t.as_ref());
                }
            }
            Event::GeneralRef(g) => {
                let text = match g.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match g.xml10_content().as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => return Err(err(line, format!("unknown entity &{other}; (JUnit reports use only XML's five)"))),
                    },
                    Err(e) => return Err(err(line, format!("bad character reference: {e}"))),
                };
                if let Some(c) = p.case.as_mut().filter(|c| c.capturing) {
                    push_capped(&mut c.detail, &text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let line = r.get_ref().line;
    if !p.saw_root {
        return Err(err(line, "no XML element: the file is empty or not a JUnit report".into()));
    }
    if p.depth > 0 {
        return Err(err(line, "the report ends inside an element: the file is truncated".into()));
    }
    p.results.files.push(shown.to_owned());
    Ok(())
}
