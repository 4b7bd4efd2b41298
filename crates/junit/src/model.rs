//! What a JUnit report says, as the gate keeps it: every test counted,
//! failed and flaky tests with their details, and problems that belong to a
//! suite rather than a test case.
//!
//! The rules that decide what counts (documented in the README's smoke-gate
//! section, "How a report is read"):
//! - a test's identity is the suite *element* it sits in (not its name: two
//!   suites may share a name), its `file`, `classname` and `name`;
//! - a test counts as retried only where the dialect marks the rerun:
//!   Surefire's and nextest's `flakyFailure`/`rerunFailure` (and `…Error`)
//!   elements, or a rerun count in the test case's properties (`reruns`,
//!   `rerun`, `retries`, `attempts`, `execution_count`, as
//!   pytest-rerunfailures set-ups record it). Two cases with the same
//!   identity are two tests (mocha and jest write same-titled tests), and
//!   a failure stands; only when the stage's policy says
//!   `retries: repeated-cases` (for a runner known to write retries as
//!   repeated cases) does a failure listed again and passing inside the
//!   same suite element of the same report count as one retried test;
//! - of several results in one case, the most severe counts (error, then
//!   failure, then skipped) and every message is kept.

use std::collections::{HashMap, HashSet};

/// Longest failure text kept per test.
pub const DETAIL_BYTES: usize = 4096;
/// Most failures and flaky tests kept with details (all are counted).
pub const KEEP: usize = 2000;
/// Most failed identities remembered exactly per report for the retry
/// check; beyond it a later pass is never taken for a retry (fail closed).
const EXACT_IDS: usize = 100_000;

/// How a test ended, from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Did not run: `<skipped>`, or a status such as `disabled` or `notrun`.
    Skipped,
    /// An assertion failed.
    Failed,
    /// An error outside assertions.
    Errored,
}

/// A failed or flaky test.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Innermost suite name.
    pub suite: String,
    /// `classname`.
    pub classname: String,
    /// `name`.
    pub name: String,
    /// File as the report gives it (on the case or on its failure), if it does.
    pub file: Option<String>,
    /// 1-based line, if the report gives it.
    pub line: Option<u32>,
    /// Failed or errored (for flaky tests: how the failed attempts failed).
    pub outcome: Outcome,
    /// Failure message(s), one per result element.
    pub message: String,
    /// Failure text (cut at [`DETAIL_BYTES`] on a UTF-8 boundary).
    pub detail: String,
    /// Failed attempts: reruns that failed before the final result.
    pub reruns: u32,
    /// The report file it came from.
    pub report: String,
    /// Line of the `<testcase>` in the report.
    pub report_line: u64,
    /// Identity key within its report (the retry rule's; 0 for a case made
    /// by hand, e.g. in a test).
    pub identity: u64,
}

impl Case {
    /// `classname.name`, or `name`.
    pub fn id(&self) -> String {
        if self.classname.is_empty() { self.name.clone() } else { format!("{}.{}", self.classname, self.name) }
    }
}

/// A result that belongs to a suite, not to one of its test cases: a
/// `<failure>`/`<error>` directly under `<testsuite>` (fixture and setup
/// failures, a test file that did not compile), or a suite whose
/// `failures`/`errors` attributes claim more than its cases show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteProblem {
    /// The suite's name (`(unnamed)` when it has none).
    pub suite: String,
    /// The report file.
    pub report: String,
    /// Line in the report.
    pub line: u64,
    /// What the report says.
    pub message: String,
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
    /// Did not run (skipped, disabled, not run).
    pub skipped: u64,
    /// Passed after failing.
    pub flaky: u64,
    /// Seconds, summed over test cases.
    pub time: f64,
    /// Failed and errored tests (the first [`KEEP`]).
    pub failures: Vec<Case>,
    /// Flaky tests (the first [`KEEP`]).
    pub flaky_cases: Vec<Case>,
    /// Results outside a test case (the first [`KEEP`]).
    pub suite_problems: Vec<SuiteProblem>,
    /// Report files read.
    pub files: Vec<String>,
    /// Whether a failed case listed again and passing in the same suite
    /// element is a retry (`retries: repeated-cases`); off by default: the
    /// two are different tests.
    pub repeats_are_retries: bool,
    /// Failed identities of the report being read: with
    /// [`Results::repeats_are_retries`], a later pass of one in the same
    /// suite element is a retry. Cleared after each report.
    pub(crate) failed_ids: FailedIds,
    /// Cases the fast path counted (tests check that it is used).
    pub fast: u64,
    /// When each report read says its suites ran, in the order read.
    pub times: Vec<ReportTimes>,
}

/// When one report says it ran: the `timestamp` attributes of its
/// `<testsuite>` and `<testsuites>` elements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportTimes {
    /// The report, as shown.
    pub report: String,
    /// Suite elements read.
    pub suites: u64,
    /// Of them, those with a `timestamp`.
    pub stamped: u64,
    /// Of those, stamps without an offset (read as UTC).
    pub local: u64,
    /// The oldest stamp and its line.
    pub oldest: Option<(jiff::Timestamp, u64)>,
    /// The newest stamp and its line.
    pub newest: Option<(jiff::Timestamp, u64)>,
}

impl ReportTimes {
    /// Records one suite element's `timestamp` (none: unstamped).
    pub(crate) fn suite(&mut self, at: Option<(jiff::Timestamp, bool)>, line: u64) {
        self.suites += 1;
        let Some((t, offset)) = at else { return };
        self.stamped += 1;
        if !offset {
            self.local += 1;
        }
        if self.oldest.is_none_or(|(o, _)| t < o) {
            self.oldest = Some((t, line));
        }
        if self.newest.is_none_or(|(n, _)| t > n) {
            self.newest = Some((t, line));
        }
    }
}

/// A suite's `timestamp`: RFC 3339 / ISO 8601 with an offset, ISO 8601
/// without one (JUnit's own form, Surefire's, older pytest's: read as UTC,
/// `false`), or RFC 2822 (mocha's `toUTCString()`).
pub fn timestamp(text: &str) -> Result<(jiff::Timestamp, bool), String> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok((ts, true));
    }
    if let Ok(dt) = t.parse::<jiff::civil::DateTime>() {
        return jiff::tz::TimeZone::UTC.to_timestamp(dt).map(|ts| (ts, false)).map_err(|e| e.to_string());
    }
    if let Ok(z) = jiff::fmt::rfc2822::parse(t) {
        return Ok((z.timestamp(), true));
    }
    Err(format!(
        "timestamp `{}` is not a time (RFC 3339 such as 2026-12-01T13:05:00Z, ISO 8601 without an offset, or RFC 2822)",
        t.chars().take(64).collect::<String>()
    ))
}

impl Results {
    /// Empty results for reports whose runner writes retries as repeated
    /// cases (`true`), or marks them (`false`, the default).
    pub fn with_repeats_as_retries(repeats: bool) -> Self {
        Self { repeats_are_retries: repeats, ..Self::default() }
    }

    /// Tests that ran: every test but the skipped ones.
    pub fn ran(&self) -> u64 {
        self.tests - self.skipped
    }

    /// Failed and errored tests.
    pub fn bad(&self) -> u64 {
        self.failed + self.errored
    }
}

/// A test's identity inside one report: the suite element it is in (its
/// ordinal in the report, so two suites with one name stay apart), its
/// `file`, `classname` and `name`, as written.
pub(crate) struct Identity<'a> {
    pub suite: u64,
    pub file: &'a [u8],
    pub classname: &'a [u8],
    pub name: &'a [u8],
}

impl Identity<'_> {
    /// A 64-bit key for the fast lookup; equality is then checked exactly.
    pub fn key(&self) -> u64 {
        // FxHash-style, sixteen bytes a step in two independent lanes (the
        // multiplications overlap); most tests are hashed, none kept.
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut lanes = [self.suite.wrapping_mul(K) ^ self.classname.len() as u64, (self.name.len() as u64).wrapping_mul(K)];
        let mut mix = |pair: &[u8; 16]| {
            for (h, w) in lanes.iter_mut().zip(pair.as_chunks::<8>().0) {
                *h = (h.rotate_left(5) ^ u64::from_le_bytes(*w)).wrapping_mul(K);
            }
        };
        for part in [self.file, self.classname, self.name] {
            let (pairs, rest) = part.as_chunks::<16>();
            pairs.iter().for_each(&mut mix);
            match part.last_chunk::<16>() {
                _ if rest.is_empty() => mix(&[0xff; 16]),
                // The last sixteen bytes, overlapping what is mixed in already.
                Some(last) => mix(last),
                None => {
                    let mut tail = [0u8; 16];
                    tail[..rest.len()].copy_from_slice(rest);
                    tail[15] = rest.len() as u8 | 0x80;
                    mix(&tail);
                }
            }
        }
        lanes[0] ^ lanes[1].rotate_left(29)
    }

    /// A few bytes of the identity, cheaply: a first filter before [`Identity::key`].
    #[inline]
    pub fn sketch(&self) -> u64 {
        let tail = |b: &[u8]| b.last_chunk::<8>().map_or(b.len() as u64, |t| u64::from_le_bytes(*t));
        let mid = |b: &[u8]| b.get(b.len() / 2..).and_then(|m| m.first_chunk::<8>()).map_or(0, |t| u64::from_le_bytes(*t));
        let mixed = (self.suite
            ^ tail(self.name)
            ^ mid(self.name).rotate_left(17)
            ^ tail(self.classname).rotate_left(31)
            ^ (self.file.len() as u64) << 7)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        mixed >> (64 - FILTER_BITS.trailing_zeros())
    }

    fn exact(&self) -> Box<[u8]> {
        let mut v = Vec::with_capacity(8 + self.file.len() + self.classname.len() + self.name.len() + 12);
        v.extend_from_slice(&self.suite.to_le_bytes());
        for part in [self.file, self.classname, self.name] {
            v.extend_from_slice(&(part.len() as u32).to_le_bytes());
            v.extend_from_slice(part);
        }
        v.into_boxed_slice()
    }
}

/// The identity keys are already hashes: used as they are.
#[derive(Default, Clone)]
pub(crate) struct Prehashed(u64);

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

type KeySet = HashSet<u64, std::hash::BuildHasherDefault<Prehashed>>;
/// Exact identities (with how they failed) by key.
type ExactIds = HashMap<u64, Vec<(Box<[u8]>, Outcome)>, std::hash::BuildHasherDefault<Prehashed>>;

/// Bits in the failed identities' filter: with a thousand failures in a
/// report, about 6 % are set, so most passing cases are never hashed.
const FILTER_BITS: u64 = 16 * 1024;

/// The filter's bits.
#[derive(Clone, PartialEq)]
struct Filter(Box<[u64]>);

impl Default for Filter {
    fn default() -> Self {
        Self(vec![0; (FILTER_BITS / 64) as usize].into_boxed_slice())
    }
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Filter({} bits set)", self.0.iter().map(|w| w.count_ones()).sum::<u32>())
    }
}

impl std::ops::Deref for Filter {
    type Target = [u64];
    fn deref(&self) -> &[u64] {
        &self.0
    }
}

impl std::ops::DerefMut for Filter {
    fn deref_mut(&mut self) -> &mut [u64] {
        &mut self.0
    }
}

/// Failed identities of one report: keys for the fast path's quick "is
/// this maybe a retry?" and the exact identities behind them (with how
/// they failed), so a hash collision can never turn a failure into a retry.
#[derive(Debug, Clone, Default)]
pub(crate) struct FailedIds {
    keys: KeySet,
    exact: ExactIds,
    stored: usize,
    /// One bit per [`Identity::sketch`] of a failed identity.
    filter: Filter,
}

impl PartialEq for FailedIds {
    fn eq(&self, other: &Self) -> bool {
        self.keys == other.keys
    }
}

impl std::fmt::Debug for Prehashed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

impl FailedIds {
    /// Whether a case may be the retry of a failure (the fast path then
    /// leaves it to the parser): a cheap filter first, then the key.
    #[inline]
    pub fn maybe(&self, id: &Identity) -> bool {
        if self.keys.is_empty() {
            return false;
        }
        let bit = id.sketch();
        self.filter[(bit / 64) as usize] & (1u64 << (bit % 64)) != 0 && self.keys.contains(&id.key())
    }

    /// Remembers a failed identity.
    pub fn insert(&mut self, id: &Identity, outcome: Outcome) {
        let key = id.key();
        self.keys.insert(key);
        let bit = id.sketch();
        self.filter[(bit / 64) as usize] |= 1u64 << (bit % 64);
        if self.stored < EXACT_IDS {
            let list = self.exact.entry(key).or_default();
            let exact = id.exact();
            if !list.iter().any(|(e, _)| *e == exact) {
                list.push((exact, outcome));
                self.stored += 1;
            }
        }
    }

    /// How exactly this identity failed earlier in the report, if it did.
    pub fn contains(&self, id: &Identity) -> Option<Outcome> {
        let key = id.key();
        if !self.keys.contains(&key) {
            return None;
        }
        let exact = id.exact();
        self.exact.get(&key)?.iter().find(|(e, _)| *e == exact).map(|(_, o)| *o)
    }

    /// Forgets an identity (its retry passed).
    pub fn remove(&mut self, id: &Identity) {
        let key = id.key();
        if let Some(list) = self.exact.get_mut(&key) {
            let exact = id.exact();
            list.retain(|(e, _)| *e != exact);
            if list.is_empty() {
                self.exact.remove(&key);
                self.keys.remove(&key);
            }
        }
    }

    /// Forgets everything (the next report starts afresh).
    pub fn clear(&mut self) {
        self.keys.clear();
        self.exact.clear();
        self.stored = 0;
        self.filter.fill(0);
    }
}
