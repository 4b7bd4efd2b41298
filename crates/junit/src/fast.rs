//! The fast path: plain passing test cases counted straight from the read
//! buffer and its byte classes, with no XML event and no allocation.
//!
//! A case is plain when the whole element is in the chunk being read and is
//! one of the shapes reporters write for a pass:
//! - `<testcase a="…" …/>` (pytest, Gradle),
//! - `<testcase a="…" …>` whitespace `</testcase>` (jest-junit, gotestsum,
//!   go-junit-report),
//! - the same with `<system-out>`/`<system-err>` holding plain text or one
//!   CDATA section (Surefire, Gradle, nextest);
//!
//! its attributes are double-quoted, separated by spaces, valid names,
//! never repeated, with values of printable ASCII and no `<`, `&` or `'`;
//! `time` is a plain decimal; there is no `status`; and its identity is not
//! that of a test that failed earlier in the suite (a retry). Anything else
//! (failures, skips, entities, other whitespace, non-ASCII, a case cut at
//! the chunk's end) is left to the parser, which resumes exactly where this
//! stopped, between elements: what this path accepts is well-formed, and
//! what it refuses is judged by the parser alone.

use super::classes::{Classes, any, count, next_bit};
use super::model::{Identity, Results};

/// A plain passing case found at a position.
struct Plain {
    /// Bytes from `<testcase` to just past its end.
    len: usize,
    /// Line breaks inside it.
    lines: u64,
    /// `time`, seconds.
    time: f64,
    /// It has a plain `<skipped>`: it did not run.
    skipped: bool,
}

/// Counts consecutive plain passing cases in `buf` (a chunk, classified)
/// from `start`, inside the suite element `suite`. Returns the bytes taken,
/// the line breaks in them, and whether something else is next (`false`:
/// the chunk ended, read on).
pub(crate) fn cases(buf: &[u8], classes: &[Classes], start: usize, suite: u64, results: &mut Results) -> (usize, u64, bool) {
    let (mut p, mut lines) = (start, 0);
    loop {
        while p < buf.len() && matches!(buf[p], b' ' | b'\n' | b'\t' | b'\r') {
            lines += u64::from(buf[p] == b'\n');
            p += 1;
        }
        if buf.len() - p < 10 {
            return (p - start, lines, false);
        }
        if !buf[p..].starts_with(b"<testcase ") {
            return (p - start, lines, true);
        }
        let Some(case) = case_at(buf, classes, p, suite, results) else {
            return (p - start, lines, true);
        };
        results.tests += 1;
        if case.skipped {
            results.skipped += 1;
        } else {
            results.passed += 1;
        }
        results.time += case.time;
        results.fast += 1;
        lines += case.lines;
        p += case.len;
    }
}

/// Whether `key` is a plain XML name: ASCII letters, digits, `_`, `-`, `.`,
/// `:`, not starting with a digit, `-` or `.`.
#[inline]
fn plain_name(key: &[u8]) -> bool {
    match key.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b':' => {}
        _ => return false,
    }
    key.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// Reads a plain passing `<testcase …>` at `p`, or says it is not one.
fn case_at(buf: &[u8], classes: &[Classes], p: usize, suite: u64, results: &Results) -> Option<Plain> {
    let gt = next_bit(classes, p + 10, |c| c.gt)?;
    if any(classes, p + 1, gt, Classes::odd) {
        return None;
    }
    let closed = buf[gt - 1] == b'/';
    let tag_end = if closed { gt - 1 } else { gt };
    let (mut classname, mut name, mut file, mut time): (&[u8], &[u8], &[u8], f64) = (b"", b"", b"", 0.0);
    // Attributes seen: the ones read, as bits; any other by name (rare).
    let mut seen = 0u8;
    let mut others: [&[u8]; 4] = [b""; 4];
    let mut n_others = 0;
    // Quotes in the start tag, in order, from the block bits.
    let mut block = p / 64;
    let mut bits = classes[block].quote & (!0u64 << (p % 64));
    let mut next_quote = || -> Option<usize> {
        while bits == 0 {
            block += 1;
            if block * 64 >= tag_end {
                return None;
            }
            bits = classes[block].quote;
        }
        let at = block * 64 + bits.trailing_zeros() as usize;
        bits &= bits - 1;
        (at < tag_end).then_some(at)
    };
    let mut at = p + 9;
    while let Some(open) = next_quote() {
        let close = next_quote()?;
        // ` key=` before the value: spaces (usually one), a plain name, `=`.
        let gap = &buf[at..open];
        let spaces = if gap.len() > 2 && gap[1] != b' ' { 1 } else { gap.iter().take_while(|&&b| b == b' ').count() };
        if gap.first() != Some(&b' ') || gap.len() < spaces + 2 || gap[gap.len() - 1] != b'=' {
            return None;
        }
        let key = &gap[spaces..gap.len() - 1];
        let value = &buf[open + 1..close];
        let bit = match (key.len(), key) {
            (4, b"name") => {
                name = value;
                1
            }
            (4, b"time") => {
                time = plain_seconds(value)?;
                2
            }
            (4, b"file") => {
                file = value;
                4
            }
            (4, b"line") => 8,
            (9, b"classname") => {
                classname = value;
                16
            }
            // A status may say the test did not run: the parser's call.
            (6, b"status") => return None,
            _ => {
                if !plain_name(key) || n_others == others.len() || others[..n_others].contains(&key) {
                    return None;
                }
                others[n_others] = key;
                n_others += 1;
                0
            }
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        at = close + 1;
    }
    if !buf[at..tag_end].iter().all(|&b| b == b' ') {
        return None;
    }
    if results.failed_ids.maybe(&Identity { suite, file, classname, name }) {
        return None;
    }
    let (end, skipped) = if closed { (gt + 1, false) } else { children(buf, classes, gt + 1)? };
    Some(Plain { len: end - p, lines: count(classes, gt, end, |c| c.nl), time, skipped })
}

/// After `<testcase …>`: whitespace, plain output elements and at most one
/// plain `<skipped>` up to `</testcase>`; returns the position just past
/// it and whether the case was skipped.
fn children(buf: &[u8], classes: &[Classes], mut q: usize) -> Option<(usize, bool)> {
    let mut skipped = false;
    loop {
        while q < buf.len() && matches!(buf[q], b' ' | b'\n') {
            q += 1;
        }
        let rest = &buf[q..];
        if rest.starts_with(b"</testcase>") {
            return Some((q + 11, skipped));
        }
        if rest.starts_with(b"<skipped") && !skipped {
            let (end, closed) = plain_tag(buf, classes, q, 7)?;
            q = if closed { end } else { text(buf, classes, end, b"</skipped>")? };
            skipped = true;
            continue;
        }
        let tag: &[u8] = if rest.starts_with(b"<system-out>") {
            b"</system-out>"
        } else if rest.starts_with(b"<system-err>") {
            b"</system-err>"
        } else {
            return None;
        };
        q = text(buf, classes, q + 12, tag)?;
    }
}

/// The content of an output element from `q`: plain text or one CDATA
/// section, then `close`; returns the position just past `close`.
fn text(buf: &[u8], classes: &[Classes], mut q: usize, close: &[u8]) -> Option<usize> {
    if buf[q..].starts_with(b"<![CDATA[") {
        let from = q + 9;
        let len = memchr::memmem::find(&buf[from..], b"]]>")?;
        // Anything may be in CDATA but what is not XML at all (or not ASCII: the parser checks it).
        if any(classes, from, from + len, |c| c.bad) {
            return None;
        }
        q = from + len + 3;
    } else {
        let len = memchr::memchr(b'<', &buf[q..])?;
        if any(classes, q, q + len, |c| c.markup | c.bad)
            || (any(classes, q, q + len, |c| c.gt) && memchr::memmem::find(&buf[q..q + len], b"]]>").is_some())
        {
            return None;
        }
        q += len;
    }
    buf[q..].starts_with(close).then(|| q + close.len())
}

/// A plain start tag at `p` whose name is `name_len` bytes: attributes as
/// in a plain `<testcase>`, any names, none repeated. Returns the position
/// past its `>` and whether it closed itself.
fn plain_tag(buf: &[u8], classes: &[Classes], p: usize, name_len: usize) -> Option<(usize, bool)> {
    let gt = next_bit(classes, p + name_len + 1, |c| c.gt)?;
    if gt <= p + name_len || !matches!(buf[p + 1 + name_len], b' ' | b'/' | b'>') || any(classes, p + 1, gt, Classes::odd) {
        return None;
    }
    let closed = buf[gt - 1] == b'/';
    let tag_end = if closed { gt - 1 } else { gt };
    let mut keys: [&[u8]; 4] = [b""; 4];
    let mut n = 0;
    let mut at = p + 1 + name_len;
    let mut from = at;
    while let Some(open) = next_bit(classes, from, |c| c.quote).filter(|&o| o < tag_end) {
        let close = next_bit(classes, open + 1, |c| c.quote).filter(|&c| c < tag_end)?;
        let gap = &buf[at..open];
        let spaces = gap.iter().take_while(|&&b| b == b' ').count();
        if spaces == 0 || gap.len() < spaces + 2 || gap[gap.len() - 1] != b'=' {
            return None;
        }
        let key = &gap[spaces..gap.len() - 1];
        if !plain_name(key) || n == keys.len() || keys[..n].contains(&key) {
            return None;
        }
        keys[n] = key;
        n += 1;
        at = close + 1;
        from = at;
    }
    buf[at..tag_end].iter().all(|&b| b == b' ').then_some((gt + 1, closed))
}

/// A plain decimal `time` (`0.123`, `12`), by integer arithmetic; `None`
/// for anything else (exponents, signs, `NaN`, spaces), which the parser
/// reads and checks.
#[inline]
fn plain_seconds(v: &[u8]) -> Option<f64> {
    const SCALE: [f64; 19] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18];
    if v.is_empty() || v.len() > 18 {
        return None;
    }
    let (mut m, mut dot) = (0u64, None);
    for (i, &c) in v.iter().enumerate() {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            m = m * 10 + u64::from(d);
        } else if c == b'.' && dot.is_none() && i > 0 {
            dot = Some(i);
        } else {
            return None;
        }
    }
    Some(m as f64 / dot.map_or(1.0, |d| SCALE[v.len() - d - 1]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::classes::classify_all;

    fn case(xml: &str) -> Option<(usize, u64, f64)> {
        let mut classes = Vec::new();
        classify_all(xml.as_bytes(), &mut classes);
        case_at(xml.as_bytes(), &classes, 0, 1, &Results::default()).map(|c| (c.len, c.lines, c.time))
    }

    #[test]
    fn takes_the_plain_shapes_of_every_dialect() {
        let plain = r#"<testcase classname="a.b" name="t[x-y]" file="t.py" line="3" time="0.5"/>"#;
        assert_eq!(case(&format!("{plain}\n")), Some((plain.len(), 0, 0.5)));
        assert!(case(r#"<testcase  name="a"   time="1" />"#).is_some(), "spaces between attributes");
        let jest = "<testcase classname=\"blotter renders\" name=\"blotter renders\" time=\"0.003\">\n    </testcase>";
        assert_eq!(case(jest), Some((jest.len(), 1, 0.003)));
        let go = r#"<testcase classname="pkg/feed" name="TestTick" time="0.000"></testcase>"#;
        assert_eq!(case(go), Some((go.len(), 0, 0.0)));
        let surefire = "<testcase name=\"routes\" classname=\"RouterTest\" time=\"0.01\">\n  <system-out><![CDATA[line 1 <x> & y\nline 2\n]]></system-out>\n  <system-err>warn: slow\n</system-err>\n</testcase>";
        assert_eq!(case(surefire), Some((surefire.len(), 6, 0.01)));
        let skipped = |xml: &str| {
            let mut classes = Vec::new();
            classify_all(xml.as_bytes(), &mut classes);
            case_at(xml.as_bytes(), &classes, 0, 1, &Results::default()).map(|c| (c.len, c.skipped))
        };
        for xml in [
            "<testcase name=\"a\">\n  <skipped/>\n</testcase>",
            "<testcase name=\"a\"><skipped type=\"pytest.skip\" message=\"venue busy\">skipped</skipped></testcase>",
            "<testcase name=\"a\"><skipped message=\"x\" /><system-out>log</system-out></testcase>",
        ] {
            assert_eq!(skipped(xml), Some((xml.len(), true)), "{xml}");
        }
        assert_eq!(skipped(jest), Some((jest.len(), false)));
    }

    #[test]
    fn leaves_everything_else_to_the_parser() {
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
            r#"<testcase name="a"><skipped/><failure/></testcase>"#,
            r#"<testcase name="a"><skipped/><skipped/></testcase>"#,
            r#"<testcase name="a"><skipped message="x" message="y"/></testcase>"#,
            r#"<testcase name="a"><skipped message="it's"/></testcase>"#,
            r#"<testcase name="a"><skippedx/></testcase>"#,
            r#"<testcase name="a"><skipped>a &amp; b</skipped></testcase>"#,
            r#"<testcase name="a" time="1""#,
            r#"<testcase na!me="a"/>"#,
            r#"<testcase ="a"/>"#,
            r#"<testcase name="a" x/>"#,
            r#"<testcase name="a" name="b"/>"#,
            r#"<testcase 1name="a"/>"#,
            r#"<testcase -name="a"/>"#,
            r#"<testcase name="a" time="NaN"/>"#,
            r#"<testcase name="a" time="-1"/>"#,
            r#"<testcase name="a" time="1e3"/>"#,
            r#"<testcase name="a" time=""/>"#,
            r#"<testcase name="a" status="disabled"/>"#,
            r#"<testcase name="a" a1="1" a2="1" a3="1" a4="1" a5="1"/>"#,
            r#"<testcase name="a" x="1" time="2" x="3"/>"#,
            r#"<testcase time="1" name="a" time="2"/>"#,
            "<testcase name=\"a\"><system-out>x ]]> y</system-out></testcase>",
            "<testcase name=\"a\"><system-out>x &amp; y</system-out></testcase>",
            "<testcase name=\"a\"><system-out>\u{1}</system-out></testcase>",
            "<testcase name=\"a\"><system-out><![CDATA[\u{1}]]></system-out></testcase>",
            "<testcase name=\"a\"><system-out><![CDATA[x]]>y</system-out></testcase>",
            "<testcase name=\"a\">\t</testcase>",
            "<testcase name=\"a\"></testcase",
            "<testcase name=\"a\"><properties/></testcase>",
        ] {
            assert_eq!(case(odd), None, "{odd}");
        }
    }

    #[test]
    fn plain_seconds_only() {
        assert_eq!([plain_seconds(b"0.123"), plain_seconds(b"12"), plain_seconds(b"0.000001")], [Some(0.123), Some(12.0), Some(0.000001)]);
        for v in [&b"1e-3"[..], b"1,234.5", b"x", b"", b".5", b"1.2.3", b" 1", b"-1", b"NaN"] {
            assert_eq!(plain_seconds(v), None, "{}", String::from_utf8_lossy(v));
        }
    }
}
