//! The parser: quick-xml's events, checked for well-formedness where
//! quick-xml is lenient, turned into [`Results`] by the rules in
//! [`super::model`]. Between elements inside a suite it hands the buffer to
//! the [fast path](super::fast) and resumes where that stopped.
//!
//! Well-formedness beyond quick-xml's own checks (a report that is not XML
//! is refused, never half-read): element and attribute names, attributes
//! separated by whitespace and never repeated, no `<` in attribute values,
//! only XML's five entities and character references to XML characters,
//! no character outside XML's `Char` production, no `]]>` in text, one
//! root element and nothing but whitespace, comments and processing
//! instructions around it, the declaration first, no entity declarations.

use std::borrow::Cow;
use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};

use super::fast;
use super::model::{Case, DETAIL_BYTES, Identity, KEEP, Outcome, ReportTimes, Results, SuiteProblem};
use super::reader::Pipe;

/// A report that cannot be read as JUnit XML (the one located error type:
/// the gate reports it on its line).
pub type ParseError = release_gate_core::error::Located;

/// Counts lines as the parser consumes bytes, so errors name the line.
struct Lines {
    inner: Pipe,
    line: u64,
}

impl std::io::Read for Lines {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.line += memchr::memchr_iter(b'\n', &out[..n]).count() as u64;
        Ok(n)
    }
}

impl BufRead for Lines {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let n = amt.min(buf.len());
            self.line += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        }
        self.inner.consume(amt);
    }
}

/// A `<testsuite>` (or the `<testsuites>` root) being read.
struct Frame {
    name: String,
    /// The suite element's ordinal in the report: its identity.
    ordinal: u64,
    line: u64,
    /// `failures` + `errors` as the suite states them.
    claimed: Option<u64>,
    /// Failing and erroring test executions seen in it and its nested suites.
    seen: u64,
    /// Element depth of the suite.
    depth: usize,
}

/// The `<testcase>` being read.
#[derive(Default)]
struct Current {
    suite: String,
    ordinal: u64,
    classname: String,
    name: String,
    file: Option<String>,
    line: Option<u32>,
    /// A `file`/`line` on a `<failure>`/`<error>` element.
    result_file: Option<String>,
    result_line: Option<u32>,
    status: Option<String>,
    /// The most severe result so far.
    outcome: Option<Outcome>,
    messages: Vec<String>,
    detail: String,
    reruns: u32,
    rerun_outcome: Option<Outcome>,
    rerun_message: String,
    capturing: bool,
    time: f64,
    depth: usize,
    report_line: u64,
}

/// A `<failure>`/`<error>` directly under a suite being read.
struct SuiteResult {
    problem: SuiteProblem,
    text: String,
}

struct Parser<'a> {
    shown: &'a str,
    pytest: bool,
    frames: Vec<Frame>,
    case: Option<Current>,
    suite_result: Option<SuiteResult>,
    saw_root: bool,
    root_done: bool,
    events: u64,
    depth: usize,
    suites: u64,
    times: ReportTimes,
    results: &'a mut Results,
}

/// Parses one report into `results`. Several reports accumulate; a retry
/// is only ever recognised inside one report.
pub fn parse(reader: Pipe, shown: &str, results: &mut Results) -> Result<(), ParseError> {
    parse_with(reader, shown, results, true)
}

/// [`parse`], with the fast path for plain passing cases or without it
/// (tests compare the two).
pub fn parse_with(reader: Pipe, shown: &str, results: &mut Results, fast: bool) -> Result<(), ParseError> {
    let outcome = run(reader, shown, results, fast);
    results.failed_ids.clear();
    outcome
}

fn run(reader: Pipe, shown: &str, results: &mut Results, fast: bool) -> Result<(), ParseError> {
    let mut r = quick_xml::Reader::from_reader(Lines { inner: reader, line: 1 });
    r.config_mut().check_end_names = true;
    r.config_mut().check_comments = true;
    let err = |line: u64, message: String| ParseError::new(shown, line, message);
    let mut p = Parser {
        shown,
        pytest: false,
        frames: Vec::new(),
        case: None,
        suite_result: None,
        saw_root: false,
        root_done: false,
        events: 0,
        depth: 0,
        suites: 0,
        times: ReportTimes { report: shown.to_owned(), ..ReportTimes::default() },
        results,
    };
    let mut buf = Vec::with_capacity(8192);
    loop {
        if fast
            && p.case.is_none()
            && p.suite_result.is_none()
            && !p.root_done
            && let Some(frame) = p.frames.last()
        {
            // Between elements: count runs of plain passing cases straight
            // from the read buffer (quick-xml resumes after them).
            let suite = frame.ordinal;
            let lines = r.get_mut();
            loop {
                let len = lines.inner.fill_buf().map_err(|e| err(lines.line, format!("cannot read the report: {e}")))?.len();
                let (chunk, classes, start) = lines.inner.classified();
                let (taken, newlines, stop) = fast::cases(chunk, classes, start, suite, p.results);
                lines.inner.consume(taken);
                lines.line += newlines;
                if stop || taken < len || taken == 0 {
                    break;
                }
            }
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
        p.events += 1;
        let outside = !p.saw_root || p.root_done;
        match ev {
            Event::Decl(_) if p.events > 1 => return Err(err(line, "an XML declaration after the start of the document".into())),
            Event::Decl(_) => {}
            Event::DocType(d) => {
                if d.to_ascii_uppercase().contains("<!ENTITY") {
                    return Err(err(
                        line,
                        "the DOCTYPE declares entities, which are refused (entity expansion); JUnit reports need none".into(),
                    ));
                }
                if p.saw_root {
                    return Err(err(line, "a DOCTYPE after the root element".into()));
                }
            }
            Event::PI(pi) => {
                let target = pi.target();
                if target.eq_ignore_ascii_case("xml") {
                    return Err(err(line, "an XML declaration after the start of the document".into()));
                }
                chars(pi.as_bytes()).map_err(|(at, m)| err(line + newlines(&pi.as_bytes()[..at]), m))?;
            }
            Event::Comment(c) => {
                chars(c.as_bytes()).map_err(|(at, m)| err(line + newlines(&c.as_bytes()[..at]), m))?;
            }
            Event::Start(e) => {
                let depth = p.depth + 1;
                p.element(&e, line, depth)?;
                p.depth = depth;
            }
            Event::Empty(e) => {
                p.element(&e, line, p.depth + 1)?;
                p.end(e.local_name().as_ref().as_bytes(), line, p.depth + 1);
                if p.depth == 0 {
                    p.root_done = true;
                }
            }
            Event::End(e) => {
                p.end(e.local_name().as_ref().as_bytes(), line, p.depth);
                p.depth = p.depth.saturating_sub(1);
                if p.depth == 0 {
                    p.root_done = true;
                }
            }
            Event::Text(t) => {
                let raw = t.as_bytes();
                chars(raw).map_err(|(at, m)| err(line + newlines(&raw[..at]), m))?;
                if let Some(at) = memchr::memmem::find(raw, b"]]>") {
                    return Err(err(line + newlines(&raw[..at]), "`]]>` in text; it may only end a CDATA section".into()));
                }
                if outside {
                    if let Some(at) = raw.iter().position(|b| !matches!(b, b' ' | b'\n' | b'\t' | b'\r')) {
                        return Err(err(line + newlines(&raw[..at]), outside_message(p.root_done)));
                    }
                } else {
                    // Already UTF-8 (checked by the reader); line ends as XML reads them.
                    p.text(&eol(&String::from_utf8_lossy(raw)));
                }
            }
            Event::CData(t) => {
                let raw = t.as_bytes();
                chars(raw).map_err(|(at, m)| err(line + newlines(&raw[..at]), m))?;
                if outside {
                    return Err(err(line, outside_message(p.root_done)));
                }
                p.text(&eol(&String::from_utf8_lossy(raw)));
            }
            Event::GeneralRef(g) => {
                if outside {
                    return Err(err(line, outside_message(p.root_done)));
                }
                let text = reference(&g).map_err(|m| err(line, m))?;
                p.text(&text.to_string());
            }
            Event::Eof => break,
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
    let times = std::mem::take(&mut p.times);
    p.results.times.push(times);
    Ok(())
}

fn outside_message(after: bool) -> String {
    if after {
        "content after the root element: a report has one root, <testsuites> or <testsuite>".into()
    } else {
        "text before the root element: this is not a JUnit report".into()
    }
}

fn newlines(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', b).count() as u64
}

/// XML's end-of-line handling: `\r\n` and a lone `\r` are `\n`.
fn eol(s: &str) -> Cow<'_, str> {
    if s.contains('\r') { Cow::Owned(s.replace("\r\n", "\n").replace('\r', "\n")) } else { Cow::Borrowed(s) }
}

/// Whether `c` is in XML 1.0's `Char` production.
fn xml_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10_FFFF)
}

/// Checks that text is made of XML characters; on failure, the byte offset
/// and the message.
fn chars(raw: &[u8]) -> Result<(), (usize, String)> {
    // ASCII that is plainly fine is most of it.
    if raw.iter().all(|&b| (0x20..0x7f).contains(&b) || matches!(b, b'\n' | b'\t' | b'\r')) {
        return Ok(());
    }
    let text = std::str::from_utf8(raw).map_err(|e| (e.valid_up_to(), "not UTF-8".to_owned()))?;
    for (i, c) in text.char_indices() {
        if !xml_char(c) {
            return Err((i, format!("character U+{:04X} is not allowed in XML; the test runner must escape it", c as u32)));
        }
    }
    Ok(())
}

/// Whether `name` is an XML name (ASCII rules, any non-ASCII letter allowed).
fn xml_name(name: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(name) else { return false };
    let mut it = s.chars();
    match it.next() {
        Some(c) if c.is_alphabetic() || c == '_' || c == ':' => {}
        _ => return false,
    }
    it.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '\u{B7}'))
}

/// A reference (`&lt;`, `&#10;`) as the character it stands for.
fn reference(g: &quick_xml::events::BytesRef) -> Result<char, String> {
    resolve(g)
}

fn resolve(name: &str) -> Result<char, String> {
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse::<u32>().ok()
            } else {
                return Err(format!("unknown entity &{name}; (JUnit reports use only XML's five)"));
            };
            match code.and_then(char::from_u32).filter(|c| xml_char(*c)) {
                Some(c) => c,
                None => return Err(format!("&{name}; is not a reference to an XML character")),
            }
        }
    };
    Ok(c)
}

/// An attribute value as XML reads it: references resolved, tabs and line
/// breaks normalised to spaces; `<` and characters outside XML refused.
fn attr_value(raw: &[u8]) -> Result<Cow<'_, str>, (usize, String)> {
    let text = std::str::from_utf8(raw).map_err(|e| (e.valid_up_to(), "not UTF-8".to_owned()))?;
    if !text.bytes().any(|b| matches!(b, b'<' | b'&' | b'\t' | b'\n' | b'\r') || !(0x20..0x7f).contains(&b)) {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '<' => return Err((i, "`<` in an attribute value; the test runner must write &lt;".into())),
            '&' => {
                let rest = &text[i + 1..];
                let end = rest.find(';').filter(|e| *e <= 12).ok_or((i, "`&` that starts no reference; write &amp;".to_owned()))?;
                out.push(resolve(&rest[..end]).map_err(|m| (i, m))?);
                for _ in 0..=end {
                    chars.next();
                }
            }
            '\r' => {
                if chars.peek().is_some_and(|(_, n)| *n == '\n') {
                    chars.next();
                }
                out.push(' ');
            }
            '\t' | '\n' => out.push(' '),
            c if !xml_char(c) => return Err((i, format!("character U+{:04X} is not allowed in XML", c as u32))),
            c => out.push(c),
        }
    }
    Ok(Cow::Owned(out))
}

/// Every attribute of a start tag, checked: `f(key, value)` for each.
fn attributes<'a>(raw: &'a [u8], mut f: impl FnMut(&'a [u8], Cow<'a, str>)) -> Result<(), (usize, String)> {
    let ws = |b: u8| matches!(b, b' ' | b'\n' | b'\t' | b'\r');
    let mut keys: Vec<&[u8]> = Vec::new();
    let mut i = 0;
    loop {
        let before = i;
        while i < raw.len() && ws(raw[i]) {
            i += 1;
        }
        if i == raw.len() {
            return Ok(());
        }
        if i == before {
            return Err((i, "attributes must be separated by whitespace".into()));
        }
        let key_start = i;
        while i < raw.len() && !ws(raw[i]) && raw[i] != b'=' {
            i += 1;
        }
        let key = &raw[key_start..i];
        if !xml_name(key) {
            return Err((key_start, format!("`{}` is not an attribute name", String::from_utf8_lossy(key))));
        }
        while i < raw.len() && ws(raw[i]) {
            i += 1;
        }
        if raw.get(i) != Some(&b'=') {
            return Err((key_start, format!("attribute `{}` has no value", String::from_utf8_lossy(key))));
        }
        i += 1;
        while i < raw.len() && ws(raw[i]) {
            i += 1;
        }
        let quote = match raw.get(i) {
            Some(&q) if q == b'"' || q == b'\'' => q,
            _ => return Err((key_start, format!("the value of `{}` is not quoted", String::from_utf8_lossy(key)))),
        };
        let value_start = i + 1;
        let len = memchr::memchr(quote, &raw[value_start..]).ok_or((key_start, "an attribute value is not closed".to_owned()))?;
        if keys.contains(&key) {
            return Err((key_start, format!("attribute `{}` is repeated", String::from_utf8_lossy(key))));
        }
        keys.push(key);
        let value = attr_value(&raw[value_start..value_start + len]).map_err(|(at, m)| (value_start + at, m))?;
        f(key, value);
        i = value_start + len + 1;
    }
}

/// A `time` attribute: seconds, finite and not negative (`1,234.5` is read
/// as 1234.5); empty means unknown (0).
fn seconds(v: &str) -> Result<f64, String> {
    let t = v.trim();
    if t.is_empty() {
        return Ok(0.0);
    }
    match t.replace(',', "").parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
        _ => Err(format!("time=\"{v}\" is not a duration in seconds (finite, not negative); fix the test runner's report")),
    }
}

/// What a `status` attribute says.
enum Status {
    /// Nothing beyond the result elements.
    AsResults,
    /// The test did not run.
    NotRun,
    /// The test failed.
    Failed,
}

fn status(s: &str) -> Status {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "run" | "executed" | "completed" | "pass" | "passed" | "success" | "successful" | "ok" => Status::AsResults,
        "disabled" | "skip" | "skipped" | "notrun" | "not_run" | "not-run" | "ignored" | "pending" | "excluded" => Status::NotRun,
        // "failed", "error", "broken", and anything unknown: not a pass.
        _ => Status::Failed,
    }
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
    fn error(&self, line: u64, message: String) -> ParseError {
        ParseError::new(self.shown, line, message)
    }

    /// A start tag (or an empty element) at `depth`.
    fn element(&mut self, e: &BytesStart, line: u64, depth: usize) -> Result<(), ParseError> {
        let qname = e.name();
        if !xml_name(qname.as_ref().as_bytes()) {
            return Err(self.error(line, format!("`<{}` is not an element name", qname.as_ref())));
        }
        let name = e.local_name().as_ref().as_bytes().to_owned();
        if self.root_done {
            return Err(self.error(line, outside_message(true)));
        }
        if !self.saw_root {
            if name != b"testsuites" && name != b"testsuite" {
                return Err(self.error(
                    line,
                    format!(
                        "the root element is <{}>, not <testsuites> or <testsuite>: this is not a JUnit report",
                        String::from_utf8_lossy(&name)
                    ),
                ));
            }
            self.saw_root = true;
        }
        let raw = e.attributes_raw().as_bytes();
        // The attributes this parser reads; every one is checked either way.
        let mut a: [Option<Cow<str>>; 14] = Default::default();
        const KEYS: [&[u8]; 14] = [
            b"value",
            b"name",
            b"classname",
            b"file",
            b"line",
            b"time",
            b"status",
            b"message",
            b"type",
            b"failures",
            b"errors",
            b"tests",
            b"skipped",
            b"timestamp",
        ];
        attributes(raw, |k, v| {
            if let Some(i) = KEYS.iter().position(|x| *x == k) {
                a[i] = Some(v);
            }
        })
        .map_err(|(at, m)| self.error(line + newlines(&raw[..at]), m))?;
        let [value, name_a, classname, file, line_a, time, status_a, message, kind, failures, errors, _, _, stamp] = a;
        let message = || message.clone().or(kind.clone()).map(Cow::into_owned).unwrap_or_default();
        match name.as_slice() {
            b"testsuites" | b"testsuite" => {
                let n = name_a.map(Cow::into_owned).unwrap_or_default();
                if n == "pytest" || n.starts_with("pytest ") {
                    self.pytest = true;
                }
                let count = |v: &Option<Cow<str>>| v.as_deref().and_then(|s| s.trim().parse::<u64>().ok());
                let claimed = match (count(&failures), count(&errors)) {
                    (None, None) => None,
                    (f, e) => Some(f.unwrap_or(0) + e.unwrap_or(0)),
                };
                let ordinal = if name == b"testsuite" {
                    self.suites += 1;
                    self.suites
                } else {
                    0
                };
                let at = stamp.as_deref().map(super::model::timestamp).transpose().map_err(|m| self.error(line, m))?;
                self.times.suite(at, line);
                self.frames.push(Frame { name: n, ordinal, line, claimed, seen: 0, depth });
            }
            b"testcase" => {
                if self.case.is_some() {
                    return Err(self.error(line, "a <testcase> inside a <testcase>: this is not a JUnit report".into()));
                }
                let time = match &time {
                    Some(t) => seconds(t).map_err(|m| self.error(line, m))?,
                    None => 0.0,
                };
                let case_line = line_a.and_then(|l| l.trim().parse::<u32>().ok()).map(|l| if self.pytest { l + 1 } else { l });
                let frame = self.frames.last();
                self.case = Some(Current {
                    suite: frame.map(|f| f.name.clone()).unwrap_or_default(),
                    ordinal: frame.map_or(0, |f| f.ordinal),
                    classname: classname.map(Cow::into_owned).unwrap_or_default(),
                    name: name_a.map(Cow::into_owned).unwrap_or_default(),
                    file: file.map(Cow::into_owned).filter(|f| !f.is_empty()),
                    line: case_line.filter(|l| *l > 0),
                    status: status_a.map(Cow::into_owned),
                    time,
                    depth,
                    report_line: line,
                    ..Current::default()
                });
            }
            b"failure" | b"error" | b"skipped" => {
                let outcome = match name.as_slice() {
                    b"failure" => Outcome::Failed,
                    b"error" => Outcome::Errored,
                    _ => Outcome::Skipped,
                };
                match &mut self.case {
                    Some(c) if depth == c.depth + 1 => {
                        if outcome > Outcome::Skipped {
                            let m = message();
                            c.messages.push(m);
                            if c.result_file.is_none() {
                                c.result_file = file.map(Cow::into_owned).filter(|f| !f.is_empty());
                                c.result_line = line_a.and_then(|l| l.trim().parse::<u32>().ok()).filter(|l| *l > 0);
                            }
                            if !c.detail.is_empty() {
                                push_capped(&mut c.detail, "\n\n");
                            }
                            c.capturing = true;
                        }
                        c.outcome = c.outcome.max(Some(outcome));
                    }
                    None if outcome > Outcome::Skipped && self.frames.last().is_some_and(|f| depth == f.depth + 1) => {
                        let suite = self.frames.last().map(|f| f.name.clone()).filter(|n| !n.is_empty());
                        self.suite_result = Some(SuiteResult {
                            problem: SuiteProblem {
                                suite: suite.unwrap_or_else(|| "(unnamed)".into()),
                                report: self.shown.to_owned(),
                                line,
                                message: format!("<{}> outside any test case: {}", String::from_utf8_lossy(&name), message()),
                            },
                            text: String::new(),
                        });
                    }
                    _ => {}
                }
            }
            // A rerun count in the case's properties (`<properties><property name="reruns" value="2"/>`).
            b"property" => {
                if let Some(c) = &mut self.case
                    && depth == c.depth + 2
                    && let Some(reruns) = rerun_property(name_a.as_deref(), value.as_deref())
                    && reruns > 0
                {
                    c.reruns += reruns;
                    c.rerun_outcome.get_or_insert(Outcome::Failed);
                    if c.rerun_message.is_empty() {
                        c.rerun_message =
                            format!("property {}={}", name_a.as_deref().unwrap_or_default(), value.as_deref().unwrap_or_default());
                    }
                }
            }
            b"rerunFailure" | b"rerunError" | b"flakyFailure" | b"flakyError" => {
                if let Some(c) = &mut self.case
                    && depth == c.depth + 1
                {
                    c.reruns += 1;
                    let o = if name.ends_with(b"Failure") { Outcome::Failed } else { Outcome::Errored };
                    c.rerun_outcome.get_or_insert(o);
                    if c.rerun_message.is_empty() {
                        c.rerun_message = message();
                    }
                    c.capturing = c.detail.is_empty() || c.outcome.is_none();
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, text: &str) {
        if let Some(c) = self.case.as_mut().filter(|c| c.capturing) {
            push_capped(&mut c.detail, text);
        } else if let Some(s) = &mut self.suite_result {
            push_capped(&mut s.text, text);
        }
    }

    /// An end tag (or the end of an empty element) at `depth`.
    fn end(&mut self, name: &[u8], line: u64, depth: usize) {
        match name {
            b"failure" | b"error" | b"rerunFailure" | b"rerunError" | b"flakyFailure" | b"flakyError" => {
                if let Some(c) = &mut self.case {
                    c.capturing = false;
                }
                if let Some(mut s) = self.suite_result.take() {
                    let first = s.text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
                    if !first.is_empty() {
                        s.problem.message.push_str(&format!(" ({first})"));
                    }
                    if let Some(f) = self.frames.last_mut() {
                        f.seen += 1;
                    }
                    if self.results.suite_problems.len() < KEEP {
                        self.results.suite_problems.push(s.problem);
                    }
                }
            }
            b"testsuite" | b"testsuites" => {
                if self.frames.last().is_some_and(|f| f.depth == depth)
                    && let Some(f) = self.frames.pop()
                {
                    if let Some(claimed) = f.claimed
                        && claimed > f.seen
                        && self.results.suite_problems.len() < KEEP
                    {
                        self.results.suite_problems.push(SuiteProblem {
                            suite: if f.name.is_empty() { "(unnamed)".into() } else { f.name.clone() },
                            report: self.shown.to_owned(),
                            line: f.line,
                            message: format!(
                                "the suite states {claimed} failure(s) and error(s), but its test cases show {}: a result outside any test case (a crashed fixture, a file that did not load)",
                                f.seen
                            ),
                        });
                    }
                    if let Some(parent) = self.frames.last_mut() {
                        parent.seen += f.seen;
                    }
                }
                let _ = line;
            }
            b"testcase" => {
                if self.case.as_ref().is_some_and(|c| c.depth == depth)
                    && let Some(c) = self.case.take()
                {
                    self.finish_case(c);
                }
            }
            _ => {}
        }
    }

    fn finish_case(&mut self, mut c: Current) {
        let shown = self.shown;
        let r = &mut *self.results;
        r.time += c.time;
        match c.status.as_deref().map(status) {
            Some(Status::NotRun) if c.outcome.is_none() => c.outcome = Some(Outcome::Skipped),
            Some(Status::Failed) if c.outcome.is_none_or(|o| o == Outcome::Skipped) => {
                c.outcome = Some(Outcome::Failed);
                c.messages.push(format!("status=\"{}\"", c.status.as_deref().unwrap_or_default()));
            }
            _ => {}
        }
        let file = c.file.clone().unwrap_or_default();
        let identity = Identity { suite: c.ordinal, file: file.as_bytes(), classname: c.classname.as_bytes(), name: c.name.as_bytes() };
        let key = identity.key();
        let case = |c: Current, outcome: Outcome, message: String| Case {
            suite: c.suite,
            classname: c.classname,
            name: c.name,
            file: c.file.or(c.result_file),
            line: c.line.or(c.result_line),
            outcome,
            message,
            detail: c.detail.trim().to_owned(),
            reruns: c.reruns,
            report: shown.to_owned(),
            report_line: c.report_line,
            identity: key,
        };
        match c.outcome {
            None => {
                if c.reruns > 0 {
                    // Surefire's and nextest's flakyFailure: failed, then passed on a rerun.
                    r.tests += 1;
                    r.passed += 1;
                    r.flaky += 1;
                    let o = c.rerun_outcome.unwrap_or(Outcome::Failed);
                    let m = std::mem::take(&mut c.rerun_message);
                    if r.flaky_cases.len() < KEEP {
                        r.flaky_cases.push(case(c, o, m));
                    }
                } else if let Some(o) = r.failed_ids.contains(&identity).filter(|_| r.repeats_are_retries) {
                    // Listed again in the same suite and passed: a retry, where the policy says the runner writes them so.
                    r.failed_ids.remove(&identity);
                    if o == Outcome::Errored {
                        r.errored -= 1;
                    } else {
                        r.failed -= 1;
                    }
                    r.passed += 1;
                    r.flaky += 1;
                    let earlier =
                        r.failures.iter().position(|f| f.identity == key && f.report == shown && same(f, &c)).map(|i| r.failures.remove(i));
                    let mut f = earlier.unwrap_or_else(|| case(c, o, String::new()));
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
                if let Some(f) = self.frames.last_mut() {
                    f.seen += 1;
                }
                if r.repeats_are_retries && r.failed_ids.contains(&identity).is_some() {
                    // Failed again on a retry: one test, still failing.
                    if let Some(f) = r.failures.iter_mut().find(|f| f.identity == key && f.report == shown && same(f, &c)) {
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
                if r.repeats_are_retries {
                    r.failed_ids.insert(&identity, o);
                }
                let message = c.messages.iter().filter(|m| !m.is_empty()).cloned().collect::<Vec<_>>().join("\n");
                if r.failures.len() < KEEP {
                    r.failures.push(case(c, o, message));
                }
            }
        }
    }
}

/// Failed attempts a test case's property records: `reruns`, `rerun` and
/// `retries` count the reruns, `attempts` and `execution_count` every run.
fn rerun_property(name: Option<&str>, value: Option<&str>) -> Option<u32> {
    let n: u32 = value?.trim().parse().ok()?;
    match name?.trim().to_ascii_lowercase().as_str() {
        "reruns" | "rerun" | "retries" => Some(n),
        "attempts" | "execution_count" => Some(n.saturating_sub(1)),
        _ => None,
    }
}

/// Whether a kept failure is the case being read (same identity, exactly).
fn same(f: &Case, c: &Current) -> bool {
    f.classname == c.classname
        && f.name == c.name
        && f.file.as_deref().unwrap_or_default() == c.file.as_deref().unwrap_or_default()
        && f.suite == c.suite
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_checked_as_xml_reads_them() {
        let read = |raw: &str| {
            let mut out = Vec::new();
            attributes(raw.as_bytes(), |k, v| out.push((String::from_utf8_lossy(k).into_owned(), v.into_owned())))
                .map(|()| out)
                .map_err(|e| e.1)
        };
        assert_eq!(
            read(" a=\"x &amp; y\" b='it&apos;s'\n c=\"l1&#10;l2\tl3\""),
            Ok(vec![("a".into(), "x & y".into()), ("b".into(), "it's".into()), ("c".into(), "l1\nl2 l3".into())])
        );
        for (raw, want) in [
            (" a=\"1\" a=\"2\"", "repeated"),
            (" a=\"<\"", "`<` in an attribute value"),
            (" a=\"&bogus;\"", "unknown entity"),
            (" a=\"x & y\"", "starts no reference"),
            (" a=\"&#0;\"", "not a reference to an XML character"),
            (" a=\"1\"b=\"2\"", "separated by whitespace"),
            (" 1a=\"1\"", "not an attribute name"),
            (" a", "has no value"),
            (" a=1", "not quoted"),
            (" a=\"1", "not closed"),
            (" a=\"\u{1}\"", "U+0001"),
        ] {
            let e = read(raw).unwrap_err();
            assert!(e.contains(want), "{raw:?}: {e}");
        }
    }

    #[test]
    fn times_and_statuses() {
        assert_eq!(seconds("0.5"), Ok(0.5));
        assert_eq!(seconds(" 1,234.5 "), Ok(1234.5));
        assert_eq!(seconds(""), Ok(0.0));
        for bad in ["NaN", "inf", "-1", "x", "1e999"] {
            assert!(seconds(bad).unwrap_err().contains("not a duration"), "{bad}");
        }
        assert!(matches!(status("disabled"), Status::NotRun));
        assert!(matches!(status("notrun"), Status::NotRun));
        assert!(matches!(status("run"), Status::AsResults));
        assert!(matches!(status("timeout"), Status::Failed), "unknown is not a pass");
    }
}
