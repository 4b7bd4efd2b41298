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
    /// Cases the fast path counted (tests check that it is used).
    fast: u64,
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
/// 256 KiB chunks, which that thread also classifies for the fast path
/// ([`classify`]), so reading and classifying overlap parsing and memory
/// stays bounded.
pub fn open(path: &Path) -> std::io::Result<Pipe> {
    let mut f = BufReader::with_capacity(256 * 1024, std::fs::File::open(path)?);
    let gz = f.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let source: Box<dyn Read + Send> = if gz { Box::new(flate2::bufread::MultiGzDecoder::new(f)) } else { Box::new(f) };
    Ok(Pipe::spawn(source, 256 * 1024))
}

/// A report being read: any `BufRead`; one that already knows the byte
/// classes of its buffer ([`Pipe`]) saves the parser classifying it.
pub trait Source: BufRead {
    /// The current chunk, its classes (a [`Classes`] per 64 bytes) and
    /// where the buffer ([`BufRead::fill_buf`]) starts in it.
    fn classified(&mut self) -> Option<(&[u8], &[Classes], usize)> {
        None
    }
}

impl Source for &[u8] {}
impl<R: Read> Source for BufReader<R> {}
impl<S: Source + ?Sized> Source for Box<S> {
    fn classified(&mut self) -> Option<(&[u8], &[Classes], usize)> {
        (**self).classified()
    }
}

/// A chunk read ahead, with its byte classes.
struct Chunk {
    bytes: Vec<u8>,
    classes: Vec<Classes>,
}

impl Chunk {
    fn new() -> Self {
        Self { bytes: Vec::new(), classes: Vec::new() }
    }
}

/// A `BufRead` fed by a reader thread; chunks go back to it for reuse.
pub struct Pipe {
    rx: std::sync::mpsc::Receiver<std::io::Result<Chunk>>,
    back: std::sync::mpsc::SyncSender<Chunk>,
    chunk: Chunk,
    pos: usize,
    done: bool,
}

impl Pipe {
    fn spawn(mut source: Box<dyn Read + Send>, size: usize) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Chunk>>(4);
        let (back, spare) = std::sync::mpsc::sync_channel::<Chunk>(6);
        std::thread::spawn(move || {
            loop {
                let mut chunk = spare.try_recv().unwrap_or_else(|_| Chunk::new());
                chunk.bytes.resize(size, 0);
                let mut filled = 0;
                // Fill the chunk (gzip streams give short reads).
                while filled < chunk.bytes.len() {
                    match source.read(&mut chunk.bytes[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                chunk.bytes.truncate(filled);
                chunk.classes.clear();
                classify_to(&chunk.bytes, &mut chunk.classes, filled);
                let last = filled == 0;
                if tx.send(Ok(chunk)).is_err() || last {
                    return;
                }
            }
        });
        Self { rx, back, chunk: Chunk::new(), pos: 0, done: false }
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
        if self.pos >= self.chunk.bytes.len() && !self.done {
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    self.done = c.bytes.is_empty();
                    let used = std::mem::replace(&mut self.chunk, c);
                    let _ = self.back.try_send(used);
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => self.done = true,
            }
        }
        Ok(&self.chunk.bytes[self.pos.min(self.chunk.bytes.len())..])
    }
    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.chunk.bytes.len());
    }
}

impl Source for Pipe {
    fn classified(&mut self) -> Option<(&[u8], &[Classes], usize)> {
        Some((&self.chunk.bytes, &self.chunk.classes, self.pos))
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
    // FxHash-style, sixteen bytes a step in two independent lanes (the
    // multiplications overlap); most tests are hashed, none kept.
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut lanes = [classname.len() as u64, (name.len() as u64).wrapping_mul(K)];
    let mut mix = |pair: &[u8; 16]| {
        for (h, w) in lanes.iter_mut().zip(pair.as_chunks::<8>().0) {
            *h = (h.rotate_left(5) ^ u64::from_le_bytes(*w)).wrapping_mul(K);
        }
    };
    for part in [classname, name] {
        let (pairs, rest) = part.as_chunks::<16>();
        pairs.iter().for_each(&mut mix);
        match part.last_chunk::<16>() {
            _ if rest.is_empty() => mix(&[0xff; 16]),
            // The last sixteen bytes, overlapping what is mixed in already.
            Some(last) => mix(last),
            None => {
                let mut tail = [0u8; 16];
                tail[..rest.len()].copy_from_slice(rest);
                mix(&tail);
            }
        }
    }
    lanes[0] ^ lanes[1].rotate_left(29)
}

fn local(e: &BytesStart) -> String {
    e.local_name().as_ref().to_owned()
}

fn attr(e: &BytesStart, name: &str) -> Option<String> {
    let [v] = attrs(e, [name]);
    v
}

/// The values of `names` in one pass over the attributes (the last of a
/// repeated one, as everywhere in this parser).
fn attrs<const N: usize>(e: &BytesStart, names: [&str; N]) -> [Option<String>; N] {
    let mut out = [const { None }; N];
    for a in e.attributes().with_checks(false).flatten() {
        let key = a.key.local_name();
        if let Some(i) = names.iter().position(|n| *n == key.as_ref()) {
            out[i] = a.normalized_value(XmlVersion::Implicit1_0).ok().map(std::borrow::Cow::into_owned);
        }
    }
    out
}

/// A failure's `message`, else its `type`.
fn message(e: &BytesStart) -> String {
    let [message, kind] = attrs(e, ["message", "type"]);
    message.or(kind).unwrap_or_default()
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
                let [classname, name, file, line, time] = attrs(e, ["classname", "name", "file", "line", "time"]);
                let line = line.and_then(|l| l.trim().parse::<u32>().ok()).map(|l| if self.pytest { l + 1 } else { l });
                self.case = Some(Current {
                    suite: self.suites.last().cloned().unwrap_or_default(),
                    classname: classname.unwrap_or_default(),
                    name: name.unwrap_or_default(),
                    file: file.filter(|f| !f.is_empty()),
                    line: line.filter(|l| *l > 0),
                    time: time.map_or(0.0, |t| seconds(t.trim().as_bytes())),
                    ..Current::default()
                });
            }
            "failure" | "error" => {
                if let Some(c) = &mut self.case
                    && c.outcome.is_none_or(|o| o == Outcome::Skipped)
                {
                    c.outcome = Some(if name == "failure" { Outcome::Failed } else { Outcome::Errored });
                    c.message = message(e);
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
                        c.message = message(e);
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

/// One bit per byte of a 64-byte block, for the byte classes the fast path
/// looks for.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Classes {
    /// `"`.
    quote: u64,
    /// `>`.
    gt: u64,
    /// What sends an element to the slower paths: `<`, `&`, `'`, control
    /// characters (tabs and line breaks are normalised in values) and
    /// non-ASCII (quick-xml validates UTF-8).
    odd: u64,
}

/// Classes of a 64-byte block, sixteen bytes per SIMD step (`wide`: SSE2 on
/// x86-64, NEON on aarch64, scalar elsewhere).
fn classify(block: &[u8; 64]) -> Classes {
    use wide::u8x16;
    let (quote, gt, lt, amp, apos) = (u8x16::splat(b'"'), u8x16::splat(b'>'), u8x16::splat(b'<'), u8x16::splat(b'&'), u8x16::splat(b'\''));
    let (space, printable) = (u8x16::splat(0x20), u8x16::splat(0x5f));
    let mut c = Classes::default();
    for (k, lane) in block.as_chunks::<16>().0.iter().enumerate() {
        let v = u8x16::new(*lane);
        let shift = 16 * k;
        c.quote |= u64::from(v.simd_eq(quote).to_bitmask() as u16) << shift;
        c.gt |= u64::from(v.simd_eq(gt).to_bitmask() as u16) << shift;
        // Below 0x20 or above 0x7e: `v - 0x20` (wrapping) is 0x5f or more.
        let shifted = v - space;
        let odd = v.simd_eq(lt) | v.simd_eq(amp) | v.simd_eq(apos) | shifted.max(printable).simd_eq(shifted);
        c.odd |= u64::from(odd.to_bitmask() as u16) << shift;
    }
    c
}

/// Classifies `buf` on from where `classes` ends (block by block) to at
/// least `upto`; returns how many bytes are classified. The last block of
/// `buf` is padded with NULs, which are odd, so nothing past its end reads
/// as complete.
fn classify_to(buf: &[u8], classes: &mut Vec<Classes>, upto: usize) -> usize {
    let upto = upto.min(buf.len());
    let from = classes.len() * 64;
    if from < upto {
        let (blocks, rest) = buf[from..].as_chunks::<64>();
        let want = (upto - from).div_ceil(64);
        classes.extend(blocks.iter().take(want).map(classify));
        if classes.len() * 64 < upto {
            let mut block = [0u8; 64];
            block[..rest.len()].copy_from_slice(rest);
            classes.push(classify(&block));
        }
    }
    (classes.len() * 64).min(buf.len())
}

/// First position at or after `from` whose bit `pick` sets.
fn next_bit(classes: &[Classes], from: usize, pick: impl Fn(&Classes) -> u64) -> Option<usize> {
    let mut block = from / 64;
    let mut bits = pick(classes.get(block)?) & (!0u64 << (from % 64));
    while bits == 0 {
        block += 1;
        bits = pick(classes.get(block)?);
    }
    Some(block * 64 + bits.trailing_zeros() as usize)
}

/// Whether any byte in `from..to` is odd.
fn any_odd(classes: &[Classes], from: usize, to: usize) -> bool {
    let (first, last) = (from / 64, to / 64);
    let low = !0u64 << (from % 64);
    let high = (1u64 << (to % 64)).wrapping_sub(1);
    if first == last {
        return classes[first].odd & low & high != 0;
    }
    classes[first].odd & low != 0 || classes[first + 1..last].iter().any(|c| c.odd != 0) || (high != 0 && classes[last].odd & high != 0)
}

/// A plain passing test case found by the fast path.
struct Plain {
    /// Bytes from `<testcase` to just past `/>`.
    len: usize,
    /// [`id_hash_bytes`] of its classname and name.
    id: u64,
    /// `time`, seconds.
    time: f64,
}

/// Reads `<testcase a="x" …/>` at `p` in `buf` from its byte classes: the
/// element must be whole in `buf`, attributes separated by spaces and
/// double-quoted, nothing odd inside; `None` sends it to [`plain_case`].
fn classified_case(buf: &[u8], classes: &[Classes], p: usize) -> Option<Plain> {
    let end = next_bit(classes, p + 10, |c| c.gt)?;
    if buf[end - 1] != b'/' || any_odd(classes, p + 1, end) {
        return None;
    }
    let (mut classname, mut name, mut time): (&[u8], &[u8], f64) = (b"", b"", 0.0);
    // Quotes in the element, in order, from the block bits.
    let mut block = p / 64;
    let mut bits = classes[block].quote & (!0u64 << (p % 64));
    let mut next_quote = || -> Option<usize> {
        while bits == 0 {
            block += 1;
            if block * 64 >= end {
                return None;
            }
            bits = classes[block].quote;
        }
        let at = block * 64 + bits.trailing_zeros() as usize;
        bits &= bits - 1;
        (at < end).then_some(at)
    };
    let mut at = p + 9;
    while let Some(open) = next_quote() {
        // A value's closing quote past the first `>`: a `>` in a value.
        let close = next_quote()?;
        // ` key=` before the value (usually one space).
        let gap = &buf[at..open];
        let spaces = if gap.len() > 2 && gap[1] != b' ' { 1 } else { gap.iter().take_while(|&&b| b == b' ').count() };
        if gap.first() != Some(&b' ') || gap.len() < spaces + 2 || gap[gap.len() - 1] != b'=' {
            return None;
        }
        let key = &gap[spaces..gap.len() - 1];
        let value = &buf[open + 1..close];
        match key.len() {
            4 if key == b"name" => name = value,
            4 if key == b"time" => time = seconds(value),
            9 if key == b"classname" => classname = value,
            4 if key == b"file" || key == b"line" => {}
            _ if key.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.')) => {}
            _ => return None,
        }
        at = close + 1;
    }
    buf[at..end - 1].iter().all(|&b| b == b' ').then(|| Plain { len: end + 1 - p, id: id_hash_bytes(classname, name), time })
}

/// Counts consecutive self-closing `<testcase …/>` elements at the front of
/// the reader's buffer, consuming them, as long as each is plainly a passing
/// test: whole in the buffer, attributes `name="…"` without entity
/// references, and not the retry of a failed test. Anything else is left
/// for quick-xml, which sees the stream exactly where this stopped (between
/// elements), so well-formedness checks are unchanged.
///
/// Two tiers: the buffer is classified 64 bytes at a time with SIMD
/// ([`classify`]) and most elements are read from those bits
/// ([`classified_case`]); the rest (single quotes, an element across the
/// classified window) go through [`plain_case`]. Line breaks can only be in
/// the whitespace between elements, where they are counted.
fn fast_cases<R: Source>(reader: &mut Lines<R>, results: &mut Results, lazy: &mut Vec<Classes>) -> std::io::Result<()> {
    loop {
        let len = reader.inner.fill_buf()?.len();
        let (taken, lines, stop) = match reader.inner.classified() {
            Some((chunk, classes, start)) => scan_cases(chunk, start, Classified::Ready(classes), results),
            None => {
                // Classified here, as the scan goes.
                lazy.clear();
                scan_cases(reader.inner.fill_buf()?, 0, Classified::Lazy(lazy, 0), results)
            }
        };
        reader.inner.consume(taken);
        reader.line += lines;
        if stop || taken < len || taken == 0 {
            // Quick-xml's turn, or the end of the input.
            return Ok(());
        }
    }
}

/// Byte classes of the buffer being scanned: all known, or computed a
/// little ahead of the scan (after a failure quick-xml takes over and what
/// was classified ahead is dropped; the second field says how far).
enum Classified<'a> {
    Ready(&'a [Classes]),
    Lazy(&'a mut Vec<Classes>, usize),
}

/// Counts plain passing cases in `buf` from `start`; returns the bytes
/// taken, the line breaks in them, and whether something else is next.
fn scan_cases(buf: &[u8], start: usize, mut classified: Classified, results: &mut Results) -> (usize, u64, bool) {
    let (mut p, mut lines) = (start, 0);
    loop {
        while p < buf.len() && buf[p].is_ascii_whitespace() {
            lines += u64::from(buf[p] == b'\n');
            p += 1;
        }
        if buf.len() - p < 10 {
            // The buffer's end.
            return (p - start, lines, false);
        }
        if !buf[p..].starts_with(b"<testcase") || !buf[p + 9].is_ascii_whitespace() {
            return (p - start, lines, true);
        }
        let case = match &mut classified {
            Classified::Ready(classes) => classified_case(buf, classes, p),
            Classified::Lazy(classes, seen) => {
                if p + 512 > *seen {
                    *seen = classify_to(buf, classes, p + 1024);
                }
                classified_case(&buf[..*seen], classes, p)
            }
        };
        let Some(case) = case.or_else(|| {
            plain_case(&buf[p + 9..]).map(|(len, classname, name, time)| Plain { len: len + 9, id: id_hash_bytes(classname, name), time })
        }) else {
            return (p - start, lines, true);
        };
        if !results.failed_ids.is_empty() && results.failed_ids.contains(&case.id) {
            return (p - start, lines, true);
        }
        results.tests += 1;
        results.passed += 1;
        results.time += case.time;
        results.fast += 1;
        p += case.len;
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
/// anything else (exponents, commas, long values) through `f64::from_str`.
fn seconds(v: &[u8]) -> f64 {
    const SCALE: [f64; 19] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18];
    let (mut m, mut dot) = (0u64, None);
    if v.len() <= 18 {
        for (i, &c) in v.iter().enumerate() {
            let d = c.wrapping_sub(b'0');
            if d < 10 {
                m = m * 10 + u64::from(d);
            } else if c == b'.' && dot.is_none() {
                dot = Some(i);
            } else {
                return seconds_slow(v);
            }
        }
        return m as f64 / dot.map_or(1.0, |d| SCALE[v.len() - d - 1]);
    }
    seconds_slow(v)
}

fn seconds_slow(v: &[u8]) -> f64 {
    std::str::from_utf8(v).ok().and_then(|t| t.trim().replace(',', "").parse().ok()).unwrap_or(0.0)
}

/// Parses one report into `results` (several reports accumulate: a test
/// that fails in one and passes in a later one is flaky).
pub fn parse(reader: impl Source, shown: &str, results: &mut Results) -> Result<(), ParseError> {
    parse_with(reader, shown, results, true)
}

/// [`parse`], with the fast path for plain passing cases or without it
/// (tests compare the two).
fn parse_with(reader: impl Source, shown: &str, results: &mut Results, fast: bool) -> Result<(), ParseError> {
    let mut r = quick_xml::Reader::from_reader(Lines { inner: reader, line: 1 });
    r.config_mut().check_end_names = true;
    let err = |line: u64, message: String| ParseError { file: shown.to_owned(), line, message };
    let mut p = Parser { shown, pytest: false, suites: Vec::new(), case: None, saw_root: false, depth: 0, results };
    let mut buf = Vec::with_capacity(8192);
    let mut classes = Vec::new();
    loop {
        if fast && p.saw_root && p.depth > 0 && p.case.is_none() {
            // Between elements: count runs of plain passing `<testcase …/>`
            // straight from the read buffer (quick-xml resumes after them).
            fast_cases(r.get_mut(), p.results, &mut classes).map_err(|e| err(r.get_ref().line, format!("cannot read the report: {e}")))?;
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
                        "time" => time = seconds(a.value.as_bytes()),
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
    #[test]
    fn byte_classes_match_a_byte_by_byte_reading() {
        // Every byte value at every lane position.
        for shift in 0..64 {
            let block: [u8; 64] = std::array::from_fn(|i| ((i * 4 + shift) % 256) as u8);
            let mut want = Classes::default();
            for (i, &b) in block.iter().enumerate() {
                let bit = 1u64 << i;
                want.quote |= if b == b'"' { bit } else { 0 };
                want.gt |= if b == b'>' { bit } else { 0 };
                want.odd |= if matches!(b, b'<' | b'&' | b'\'') || !(0x20..=0x7e).contains(&b) { bit } else { 0 };
            }
            assert_eq!(classify(&block), want, "shift {shift}");
        }
        // The last block of a buffer is padded with odd NULs.
        let mut classes = Vec::new();
        assert_eq!(classify_to(b"<a b=\"c\"/>", &mut classes, 100), 10);
        assert_eq!((classes.len(), classes[0].quote, classes[0].odd >> 10 & 1), (1, 1 << 5 | 1 << 7, 1));
    }

    #[test]
    fn the_classified_path_takes_only_plain_passing_cases() {
        let case = |xml: &str| {
            let mut classes = Vec::new();
            classify_to(xml.as_bytes(), &mut classes, xml.len());
            classified_case(xml.as_bytes(), &classes, 0).map(|c| (c.len, c.id, c.time))
        };
        let plain = r#"<testcase classname="a.b" name="t[x-y]" file="t.py" line="3" time="0.5"/>"#;
        assert_eq!(case(&format!("{plain}\n")), Some((plain.len(), id_hash_bytes(b"a.b", b"t[x-y]"), 0.5)));
        assert!(case(r#"<testcase  name="a"   time="1" />"#).is_some(), "spaces between attributes");
        for odd in [
            r#"<testcase name="t[x>y]"/>"#,
            r#"<testcase name="a &amp; b"/>"#,
            r#"<testcase name="it's"/>"#,
            "<testcase name=\"caf\u{e9}\"/>",
            "<testcase name=\"a\"\ttime=\"1\"/>",
            "<testcase name=\"a\"\ntime=\"1\"/>",
            r#"<testcase name = "a"/>"#,
            r#"<testcase name="a"time="1"/>"#,
            r#"<testcase name='a'/>"#,
            r#"<testcase name="a"><failure/></testcase>"#,
            r#"<testcase name="a" time="1""#,
            r#"<testcase na!me="a"/>"#,
            r#"<testcase ="a"/>"#,
            r#"<testcase name="a" x/>"#,
        ] {
            assert_eq!(case(odd), None, "{odd}");
        }
    }

    /// A JUnit report with the shapes that send a case off the fast path
    /// (quotes, entities, `>` in values, line breaks and tabs between and in
    /// attributes, non-ASCII, children, retries, CDATA), from a seed.
    fn random_report(seed: u64, cases: usize) -> String {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let names = ["a", "b c", "it's", "x &amp; y", "t[1&gt;0]", "t[1>0]", "caf\u{e9}", "tab\there", "nl\nx", "q\"q", "", "settles T+1"];
        let times = ["0.5", "12", " 3.25 ", "1,234.5", "1e-3", "", "0.000001"];
        let seps = [" ", " ", " ", "  ", "\n    ", "\t"];
        let between = ["\n", "", "\r\n  ", "  ", "\n"];
        let mut xml = String::from("<?xml version=\"1.0\"?>\n<testsuites name=\"pytest tests\"><testsuite name=\"pytest\">\n");
        for i in 0..cases {
            // Half the cases plain, as most are in real reports.
            let plain = next(2) == 0;
            let mut attrs = Vec::new();
            attrs.push(("classname", ["m", "pkg.mod", "it's.mod"][if plain { next(2) } else { next(3) }].to_owned()));
            attrs.push(("name", if plain { ["a", "b c", "settles T+1"][next(3)] } else { names[next(names.len())] }.to_owned()));
            if next(2) == 0 {
                attrs.push(("file", "tests/test_x.py".to_owned()));
                attrs.push(("line", (i % 50).to_string()));
            }
            attrs.push(("time", times[next(times.len())].to_owned()));
            if next(8) == 0 {
                attrs.push(("weird-key.x:y", "v".to_owned()));
            }
            if next(4) == 0 {
                let j = next(attrs.len());
                let last = attrs.len() - 1;
                attrs.swap(j, last);
            }
            xml.push_str("<testcase");
            for (k, v) in &attrs {
                let q = if v.contains('"') || (!plain && next(6) == 0) { '\'' } else { '"' };
                let v = if q == '\'' { v.replace('\'', "&apos;") } else { v.clone() };
                let eq = if !plain && next(20) == 0 { " = " } else { "=" };
                xml.push_str(&format!("{}{k}{eq}{q}{v}{q}", if plain { " " } else { seps[next(seps.len())] }));
            }
            match if plain { 6 + next(2) } else { next(12) } {
                0 => xml.push_str("><failure message=\"boom &lt;1&gt;\">trace &amp; more\nline 2</failure></testcase>"),
                1 => xml.push_str("><skipped/></testcase>"),
                2 => xml.push_str("><error type=\"E\"/></testcase>"),
                3 => xml.push_str("><rerunFailure message=\"r\"/></testcase>"),
                4 => xml.push_str("><system-out><![CDATA[<testcase name=\"fake\"/>]]></system-out></testcase>"),
                5 => xml.push_str("></testcase>"),
                6 => xml.push_str(" />"),
                _ => xml.push_str("/>"),
            }
            xml.push_str(between[next(between.len())]);
        }
        xml.push_str("</testsuite></testsuites>\n");
        xml
    }

    #[test]
    fn the_fast_path_counts_what_quick_xml_alone_counts() {
        // Each report read: without the fast path (the reference); with it
        // over one buffer, over small buffers (cases cut at their ends),
        // and through the reader thread's chunks of a random size. Totals,
        // failures, flaky tests, errors and their lines must be the same.
        let mut fast = 0;
        for seed in 0..120u64 {
            let mut xml = random_report(seed, 150);
            if seed % 5 == 4 {
                // Truncated somewhere (on a character boundary): the same error, on the same line.
                let mut cut = (seed as usize * 7919) % xml.len();
                while !xml.is_char_boundary(cut) {
                    cut -= 1;
                }
                xml.truncate(cut);
            }
            let read = |source: Box<dyn Source>, fast: bool| {
                let mut r = Results::default();
                let outcome = parse_with(source, "r.xml", &mut r, fast).map_err(|e| e.to_string());
                (outcome, r)
            };
            let (want, reference) = read(Box::new(xml.as_bytes()), false);
            assert_eq!(reference.fast, 0);
            let chunk = 64 + (seed as usize * 37) % 700;
            for (how, source) in [
                ("one buffer", Box::new(xml.as_bytes()) as Box<dyn Source>),
                ("small buffers", Box::new(BufReader::with_capacity(chunk, xml.as_bytes()))),
                ("reader thread", Box::new(Pipe::spawn(Box::new(std::io::Cursor::new(xml.clone().into_bytes())), chunk))),
            ] {
                let (got, mut results) = read(source, true);
                fast += results.fast;
                results.fast = 0;
                assert_eq!(got, want, "seed {seed}, {how}: outcome");
                if want.is_ok() {
                    assert_eq!(results, reference, "seed {seed}, {how}");
                }
            }
        }
        // About half the cases are plain; retries of failed ones are not.
        assert!(fast > 15_000, "the fast path took only {fast} cases");
    }
}
