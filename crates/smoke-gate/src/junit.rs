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
    failed_ids: HashSet<u64, std::hash::BuildHasherDefault<Prehashed>>,
}

/// The identity hashes are already hashes: used as they are.
#[derive(Default)]
struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
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

/// Opens a report, gunzipping when it starts with gzip's magic bytes. The
/// file is read (and decompressed) on a second thread into a ring of four
/// 256 KiB chunks, so reading overlaps parsing and memory stays bounded.
pub fn open(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let mut f = BufReader::with_capacity(256 * 1024, std::fs::File::open(path)?);
    let gz = f.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let source: Box<dyn Read + Send> = if gz { Box::new(flate2::bufread::MultiGzDecoder::new(f)) } else { Box::new(f) };
    Ok(Box::new(Pipe::spawn(source)))
}

/// A `BufRead` fed by a reader thread; chunks go back to it for reuse.
struct Pipe {
    rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    back: std::sync::mpsc::SyncSender<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Pipe {
    fn spawn(mut source: Box<dyn Read + Send>) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(4);
        let (back, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(6);
        std::thread::spawn(move || {
            loop {
                let mut buf = spare.try_recv().unwrap_or_default();
                buf.resize(256 * 1024, 0);
                let mut filled = 0;
                // Fill the chunk (gzip streams give short reads).
                while filled < buf.len() {
                    match source.read(&mut buf[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                buf.truncate(filled);
                let last = filled == 0;
                if tx.send(Ok(buf)).is_err() || last {
                    return;
                }
            }
        });
        Self { rx, back, chunk: Vec::new(), pos: 0, done: false }
    }
}

impl Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Pipe {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.chunk.len() && !self.done {
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    self.done = c.is_empty();
                    let used = std::mem::replace(&mut self.chunk, c);
                    let _ = self.back.try_send(used);
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => self.done = true,
            }
        }
        Ok(&self.chunk[self.pos.min(self.chunk.len())..])
    }
    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.chunk.len());
    }
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

/// Identity hash of a test (over the attribute values as written; no
/// allocation: most tests only need counting). Collisions are resolved by
/// comparing names in the failure list.
fn id_hash(classname: &str, name: &str) -> u64 {
    id_hash_bytes(classname.as_bytes(), name.as_bytes())
}

fn id_hash_bytes(classname: &[u8], name: &[u8]) -> u64 {
    // FxHash-style, eight bytes at a time: most tests are hashed, none kept.
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut h: u64 = classname.len() as u64;
    for part in [classname, name] {
        let mut chunks = part.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        h = (h.rotate_left(5) ^ u64::from_le_bytes(tail) ^ 0xff).wrapping_mul(K);
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

/// Counts consecutive self-closing `<testcase …/>` elements at the front of
/// the reader's buffer, consuming them, as long as each is plainly a passing
/// test: whole in the buffer, attributes `name="…"` without entity
/// references, and not the retry of a failed test. Anything else is left
/// for quick-xml, which sees the stream exactly where this stopped (between
/// elements), so well-formedness checks are unchanged.
fn fast_cases<R: BufRead>(reader: &mut Lines<R>, results: &mut Results) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        let ws = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let rest = &buf[ws..];
        if rest.len() < 10 || !rest.starts_with(b"<testcase") || !rest[9].is_ascii_whitespace() {
            if ws > 0 && ws == buf.len() {
                // Only whitespace buffered: consume it and look at the next fill.
                reader.consume(ws);
                continue;
            }
            return Ok(());
        }
        let Some((len, classname, name, time)) = plain_case(&rest[9..]) else { return Ok(()) };
        if !results.failed_ids.is_empty() && results.failed_ids.contains(&id_hash_bytes(classname, name)) {
            return Ok(());
        }
        results.tests += 1;
        results.passed += 1;
        results.time += time;
        reader.consume(ws + 9 + len);
    }
}

/// Parses ` a="x" b='y' />` (after `<testcase`); returns its length and the
/// raw classname, name and time, or `None` when it is anything less plain:
/// entities, `<`, tabs or line breaks (attribute normalisation), non-ASCII
/// (UTF-8 validation), children, or an element cut at the buffer's end all
/// go to quick-xml.
fn plain_case(b: &[u8]) -> Option<(usize, &[u8], &[u8], f64)> {
    // The element ends at the first `/>`-closing `>`; a `>` inside a value
    // is caught below (a value's closing quote would lie beyond it).
    let end = memchr::memchr(b'>', b)?;
    if end == 0 || b[end - 1] != b'/' {
        return None;
    }
    let element = &b[..end - 1];
    if memchr::memchr3(b'&', b'<', b'\n', element).is_some() || memchr::memchr2(b'\t', b'\r', element).is_some() || !element.is_ascii() {
        return None;
    }
    let (mut classname, mut name, mut time): (&[u8], &[u8], f64) = (b"", b"", 0.0);
    let mut i = 0;
    loop {
        while i < element.len() && element[i] == b' ' {
            i += 1;
        }
        if i == element.len() {
            return Some((end + 1, classname, name, time));
        }
        let mut eq = i;
        while eq < element.len() && (element[eq].is_ascii_alphanumeric() || matches!(element[eq], b'_' | b'-' | b':' | b'.')) {
            eq += 1;
        }
        let key = &element[i..eq];
        if key.is_empty() || element.get(eq) != Some(&b'=') {
            return None;
        }
        let quote = *element.get(eq + 1)?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let start = eq + 2;
        let len = memchr::memchr(quote, element.get(start..)?)?;
        let value = &element[start..start + len];
        match key {
            b"classname" => classname = value,
            b"name" => name = value,
            b"time" => time = seconds(value),
            _ => {}
        }
        i = start + len + 1;
        if i < element.len() && element[i] != b' ' {
            return None;
        }
    }
}

/// A `time` attribute: plain decimals (`0.123`) by integer arithmetic,
/// anything else (exponents, commas) through `f64::from_str`.
fn seconds(v: &[u8]) -> f64 {
    let (mut m, mut scale, mut dot, mut digits) = (0u64, 1u64, false, 0);
    for &c in v {
        match c {
            b'0'..=b'9' if digits < 18 => {
                m = m * 10 + u64::from(c - b'0');
                digits += 1;
                if dot {
                    scale *= 10;
                }
            }
            b'.' if !dot => dot = true,
            _ => return std::str::from_utf8(v).ok().and_then(|t| t.trim().replace(',', "").parse().ok()).unwrap_or(0.0),
        }
    }
    m as f64 / scale as f64
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
        if p.saw_root && p.depth > 0 && p.case.is_none() {
            // Between elements: count runs of plain passing `<testcase …/>`
            // straight from the read buffer (quick-xml resumes after them).
            fast_cases(r.get_mut(), p.results).map_err(|e| err(r.get_ref().line, format!("cannot read the report: {e}")))?;
        }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_takes_only_plain_passing_cases() {
        assert_eq!(
            plain_case(br#" classname="a.b" name="t[x-y]" time="0.5"/>rest"#).map(|c| (c.0, c.1, c.2, c.3)),
            Some((43, &b"a.b"[..], &b"t[x-y]"[..], 0.5))
        );
        assert!(plain_case(br#" name="t[x>y]"/>"#).is_none(), "a `>` in a value: quick-xml's job");
        assert_eq!(
            [seconds(b"0.123"), seconds(b"12"), seconds(b"1e-3"), seconds(b"1,234.5"), seconds(b"x")],
            [0.123, 12.0, 0.001, 1234.5, 0.0]
        );
        assert_eq!(plain_case(b" name='single' />").map(|c| c.2), Some(&b"single"[..]));
        assert!(plain_case(" name=\"caf\u{e9}\"/>".as_bytes()).is_none(), "non-ASCII: quick-xml validates UTF-8");
        assert!(plain_case(br#" name="a &amp; b"/>"#).is_none(), "entities: quick-xml decodes them");
        assert!(plain_case(br#" name="a"><failure/></testcase>"#).is_none(), "children");
        assert!(plain_case(br#" name="a" time="1""#).is_none(), "cut at the buffer's end");
        assert!(plain_case(br#" name=a/>"#).is_none(), "unquoted: malformed, quick-xml reports it");
    }

    #[test]
    fn both_paths_agree_on_a_retry_whatever_the_name() {
        // The failure goes through quick-xml, the later pass through the fast path (or back to quick-xml).
        for name in ["settles T+1", "a &amp; b", "tab\there"] {
            let xml = format!(
                "<testsuites><testsuite name=\"s\"><testcase classname=\"c\" name=\"{name}\"><failure message=\"x\"/></testcase>\n<testcase classname=\"c\" name=\"other\"/>\n<testcase classname=\"c\" name=\"{name}\"/>\n</testsuite></testsuites>"
            );
            let mut r = Results::default();
            parse(xml.as_bytes(), "t.xml", &mut r).unwrap();
            assert_eq!((r.tests, r.passed, r.failed, r.flaky), (2, 2, 0, 1), "{name}");
        }
    }
}
