//! The reader checked against an independent one.
//!
//! [`reference`] is deliberately simple: it decodes the whole file, parses
//! it with roxmltree (a strict DOM parser) and applies the rules of
//! [`release_gate_junit::model`] by walking the tree. [`generate`] writes reports in
//! every dialect's shape (pytest, Surefire, jest-junit, gotestsum, PHPUnit)
//! with every item the rules cover: retries in and across suites, suites
//! sharing a name, not-run markers, several results in a case, results
//! outside a test case, suite counts that claim more, encodings, entities,
//! CDATA, and malformed and truncated files. Both readers must agree on
//! every report: totals, failures, flaky tests, suite problems, the
//! decision, and for a refused report the line of the error.

use std::collections::BTreeMap;

use proptest::prelude::*;

use release_gate_junit::Pipe;
use release_gate_junit::Results;
use release_gate_junit::parse_with;

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Dialect {
    Pytest,
    Surefire,
    Jest,
    Gotestsum,
    Phpunit,
    /// mocha's xunit reporter: a bare `<testsuite name="Mocha Tests">` with
    /// `failures="0" errors="N"`, `classname` the describe blocks' full
    /// title and `name` the test's own: two `it`s with one title in
    /// same-named blocks are two cases with one identity.
    Mocha,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Malformation {
    None,
    Truncated,
    LtInAttribute,
    DuplicateAttribute,
    UnknownEntity,
    AfterRoot,
    BadTime,
    ControlChar,
    NoSpaceBetweenAttributes,
    NotUtf8,
    UnknownEncoding,
}

/// How a generated case ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Body {
    Pass,
    Fail,
    Error,
    Skip,
    Disabled,
    StatusFailed,
    Several,
    Flaky,
    RerunThenFail,
    /// Passed, with a rerun count in its properties (pytest-rerunfailures set-ups).
    RerunProperty,
}

struct Report {
    xml: String,
    dialect: Dialect,
    malformation: Malformation,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;")
}

/// One generated case: its element, and whether it fails or errors (for
/// the suite's stated counts).
fn case_xml(r: &mut Rng, dialect: Dialect, classname: &str, name: &str, file: Option<&str>, body: Body, nl: &str) -> (String, bool) {
    let mut attrs = String::new();
    if dialect != Dialect::Jest || r.chance(70) {
        attrs.push_str(&format!(" classname=\"{}\"", esc(classname)));
    } else {
        attrs.push_str(" classname=\"\"");
    }
    attrs.push_str(&format!(" name=\"{}\"", esc(name)));
    if let Some(f) = file {
        attrs.push_str(&format!(" file=\"{}\"", esc(f)));
        if r.chance(50) {
            attrs.push_str(&format!(" line=\"{}\"", 1 + r.below(300)));
        }
    }
    let time = *r.pick(&["0.001", "12", "0.5", "1e-3", " 3.25 ", "1,234.5", "", "0"]);
    attrs.push_str(&format!(" time=\"{time}\""));
    let status = match body {
        Body::Disabled => " status=\"disabled\"",
        Body::StatusFailed => " status=\"failed\"",
        _ if r.chance(5) => " status=\"run\"",
        _ => "",
    };
    attrs.push_str(status);
    let output = |r: &mut Rng| -> String {
        match r.below(6) {
            0 => format!("<system-out><![CDATA[log line <x> & y{nl}second line{nl}]]></system-out>"),
            1 => "<system-out>plain output</system-out>".to_owned(),
            2 => "<system-err>warn &amp; note</system-err>".to_owned(),
            3 => "<system-out>café ünïcode</system-out>".to_owned(),
            _ => String::new(),
        }
    };
    let failure = |kind: &str, r: &mut Rng| -> String {
        let msg = *r.pick(&["assert 1 == 2", "boom &lt;1&gt;", "line one&#10;line two", "", "it's &quot;quoted&quot;"]);
        let loc = *r.pick(&[
            "tests/test_orders.py:22: AssertionError",
            "at com.acme.RouterTest.routes(RouterTest.kt:15)",
            "feed_test.go:48: lost",
            "trace",
        ]);
        if msg.is_empty() {
            format!("<{kind} type=\"AssertionError\">{loc}</{kind}>")
        } else {
            format!("<{kind} message=\"{msg}\">{loc}{nl}more &amp; more</{kind}>")
        }
    };
    let (children, bad) = match body {
        Body::Pass | Body::Disabled => (output(r), false),
        Body::Fail => (failure("failure", r) + &output(r), true),
        Body::Error => (failure("error", r), true),
        Body::Skip => (if r.chance(50) { "<skipped/>".into() } else { "<skipped message=\"not today\">why</skipped>".into() }, false),
        Body::StatusFailed => (String::new(), true),
        Body::Several => (format!("<skipped/>{}{}", failure("failure", r), failure("error", r)), true),
        Body::Flaky => (format!("<flakyFailure message=\"first try\"><stackTrace>t</stackTrace></flakyFailure>{}", output(r)), false),
        Body::RerunThenFail => (format!("{}<rerunFailure message=\"again\"/>", failure("failure", r)), true),
        Body::RerunProperty => {
            let (k, v) = *r.pick(&[("reruns", "2"), ("execution_count", "3"), ("rerun", "1"), ("execution_count", "1"), ("owner", "7")]);
            (format!("<properties><property name=\"{k}\" value=\"{v}\"/></properties>{}", output(r)), false)
        }
    };
    let xml = if children.is_empty() {
        match dialect {
            Dialect::Pytest | Dialect::Phpunit | Dialect::Mocha => format!("<testcase{attrs} />"),
            Dialect::Jest => format!("<testcase{attrs}>{nl}    </testcase>"),
            _ => format!("<testcase{attrs}></testcase>"),
        }
    } else {
        let inner = if r.chance(50) { format!("{nl}      {children}{nl}    ") } else { children };
        format!("<testcase{attrs}>{inner}</testcase>")
    };
    (xml, bad)
}

fn suite_xml(r: &mut Rng, dialect: Dialect, depth: usize, nl: &str) -> (String, u64) {
    let names = ["blotter", "router", "pytest", "github.com/tp/feed", "Tests\\Unit\\InvoiceTest", "", "café"];
    let suite_name = if dialect == Dialect::Mocha { "Mocha Tests" } else { *r.pick(&names) };
    let mut cases = Vec::new();
    let mut bad = 0u64;
    let classnames = ["tests.test_orders", "com.acme.RouterTest", "blotter renders", "github.com/tp/feed", ""];
    let tests = ["test_a", "settles T+1", "x &amp; y", "it's", "renders [1>0]", "日本"];
    let files = [None, Some("tests/test_orders.py"), Some("web/src/blotter.test.ts"), Some("C:\\ci\\src\\Invoice.php")];
    let mut emitted: Vec<(String, String, Option<&str>)> = Vec::new();
    for _ in 0..r.below(25) {
        // The same identity again: a retry for runners that write them so,
        // two same-titled tests for mocha and jest.
        let again = if dialect == Dialect::Mocha { 45 } else { 20 };
        let (classname, name, file) = if !emitted.is_empty() && r.chance(again) {
            let (c, n, f) = &emitted[r.below(emitted.len())];
            (c.clone(), n.clone(), *f)
        } else {
            let c = (*r.pick(&classnames)).to_owned();
            let n = (*r.pick(&tests)).replace("&amp;", "&");
            (c, n, *r.pick(&files))
        };
        let body = *r.pick(&[
            Body::Pass,
            Body::Pass,
            Body::Pass,
            Body::Pass,
            Body::Pass,
            Body::Fail,
            Body::Error,
            Body::Skip,
            Body::Disabled,
            Body::StatusFailed,
            Body::Several,
            Body::Flaky,
            Body::RerunThenFail,
            Body::RerunProperty,
        ]);
        let (xml, failed) = case_xml(r, dialect, &classname, &name, file, body, nl);
        bad += u64::from(failed);
        cases.push(xml);
        emitted.push((classname, name, file));
    }
    if dialect == Dialect::Phpunit && depth < 2 && r.chance(50) {
        let (inner, inner_bad) = suite_xml(r, dialect, depth + 1, nl);
        cases.push(inner);
        bad += inner_bad;
    }
    if r.chance(8) {
        cases.push(format!("<error message=\"fixture crashed\">setup failed{nl}at conftest.py:3</error>"));
        bad += 1;
    }
    if r.chance(15) {
        cases.insert(r.below(cases.len() + 1), "<!-- a comment -->".into());
    }
    if r.chance(10) {
        cases.insert(0, "<properties><property name=\"k\" value=\"v\"/></properties>".into());
    }
    // The suite's stated counts: mostly right, sometimes claiming more, sometimes less.
    let stated = match r.below(10) {
        0 => Some(bad + 1),
        1 => Some(bad.saturating_sub(1)),
        2 => None,
        _ => Some(bad),
    };
    let counts = stated.map(|n| {
        if dialect == Dialect::Mocha {
            // mocha counts every failure as an error, and stamps the suite.
            return format!(" failures=\"0\" errors=\"{n}\" skipped=\"0\" timestamp=\"Tue, 01 Dec 2026 13:05:12 GMT\"");
        }
        let errors = r.below(n as usize + 1) as u64;
        format!(" failures=\"{}\" errors=\"{errors}\"", n - errors)
    });
    let sep = *r.pick(&[nl, "", "  ", "\t"]);
    let body = cases.iter().map(|c| format!("{sep}{nl}    {c}")).collect::<String>();
    let name_attr = if suite_name.is_empty() { String::new() } else { format!(" name=\"{}\"", esc(suite_name)) };
    (format!("<testsuite{name_attr}{} tests=\"{}\">{body}{nl}  </testsuite>", counts.unwrap_or_default(), cases.len()), bad)
}

fn generate(seed: u64, malformed: bool) -> Report {
    let mut r = Rng::new(seed);
    let dialect = *r.pick(&[Dialect::Pytest, Dialect::Surefire, Dialect::Jest, Dialect::Gotestsum, Dialect::Phpunit, Dialect::Mocha]);
    let nl = if r.chance(15) { "\r\n" } else { "\n" };
    let mut xml = String::new();
    if r.chance(70) {
        xml.push_str(&format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{nl}"));
    }
    let bare = (dialect == Dialect::Surefire && r.chance(60)) || dialect == Dialect::Mocha;
    if !bare {
        let name = match dialect {
            Dialect::Pytest => " name=\"pytest tests\"",
            Dialect::Jest => " name=\"jest tests\"",
            _ => "",
        };
        xml.push_str(&format!("<testsuites{name}>{nl}"));
    }
    let suites = if bare { 1 } else { 1 + r.below(4) };
    for _ in 0..suites {
        xml.push_str("  ");
        xml.push_str(&suite_xml(&mut r, dialect, 0, nl).0);
        xml.push_str(nl);
    }
    if !bare {
        xml.push_str("</testsuites>");
    }
    xml.push_str(nl);
    let malformation = if malformed {
        *r.pick(&[
            Malformation::Truncated,
            Malformation::LtInAttribute,
            Malformation::DuplicateAttribute,
            Malformation::UnknownEntity,
            Malformation::AfterRoot,
            Malformation::BadTime,
            Malformation::ControlChar,
            Malformation::NoSpaceBetweenAttributes,
            Malformation::NotUtf8,
            Malformation::UnknownEncoding,
        ])
    } else {
        Malformation::None
    };
    let case_at = |r: &mut Rng, xml: &str| -> Option<usize> {
        let all: Vec<usize> = xml.match_indices("<testcase ").map(|(i, _)| i).collect();
        (!all.is_empty()).then(|| all[r.below(all.len())])
    };
    match malformation {
        Malformation::None | Malformation::NotUtf8 => {}
        Malformation::Truncated => {
            let mut cut = r.below(xml.len().max(1));
            while !xml.is_char_boundary(cut) {
                cut -= 1;
            }
            xml.truncate(cut);
        }
        Malformation::LtInAttribute => {
            if let Some(i) = case_at(&mut r, &xml) {
                xml.insert_str(i + 10, "note=\"a<b\" ");
            }
        }
        Malformation::DuplicateAttribute => {
            if let Some(i) = case_at(&mut r, &xml) {
                xml.insert_str(i + 10, "name=\"dup\" ");
            }
        }
        Malformation::UnknownEntity => {
            if let Some(i) = case_at(&mut r, &xml) {
                xml.insert_str(i + 10, "note=\"&bogus;\" ");
            }
        }
        Malformation::AfterRoot => {
            let extra = *r.pick(&["<testsuite name=\"extra\"/>", "junk", "<!-- fine --> trailing"]);
            xml.push_str(extra);
        }
        Malformation::BadTime => {
            if let Some(i) = case_at(&mut r, &xml) {
                let t = *r.pick(&["NaN", "-1", "inf", "soon"]);
                let end = xml[i..].find('>').map_or(i, |e| i + e);
                if let Some(at) = xml[i..end].find(" time=\"") {
                    let v = i + at + 7;
                    let close = v + xml[v..].find('"').unwrap_or(0);
                    xml.replace_range(v..close, t);
                }
            }
        }
        Malformation::ControlChar => {
            if let Some(i) = case_at(&mut r, &xml) {
                xml.insert_str(i + 10, "note=\"bell\u{7}\" ");
            }
        }
        Malformation::NoSpaceBetweenAttributes => {
            if let Some(i) = case_at(&mut r, &xml) {
                xml.insert_str(i + 10, "a=\"1\"bb=\"2\" ");
            }
        }
        Malformation::UnknownEncoding => {
            if xml.starts_with("<?xml") {
                xml = xml.replacen("UTF-8", "Shift_JIS", 1);
            } else {
                xml.insert_str(0, "<?xml version=\"1.0\" encoding=\"EBCDIC-US\"?>\n");
            }
        }
    }
    Report { xml, dialect, malformation }
}

/// The bytes of a report as a file: UTF-8 mostly, sometimes ISO-8859-1 or
/// UTF-16 with its declaration or BOM; a stray byte for NotUtf8.
fn encode(report: &Report, seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed ^ 0x5555);
    let xml = &report.xml;
    if report.malformation == Malformation::NotUtf8 {
        let mut b = xml.clone().into_bytes();
        let at = xml.find("<testcase ").map_or(b.len() / 2, |i| i + 10);
        b.insert(at, 0xFF);
        return b;
    }
    if report.malformation == Malformation::UnknownEncoding {
        return xml.clone().into_bytes();
    }
    match r.below(10) {
        0 if xml.chars().all(|c| (c as u32) < 0x100) => {
            let decl = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n";
            let body = xml.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").unwrap_or(xml);
            format!("{decl}{}", body.trim_start_matches(['\r', '\n'])).chars().map(|c| c as u32 as u8).collect()
        }
        1 => {
            let mut b = vec![0xFF, 0xFE];
            b.extend(xml.replacen("UTF-8", "UTF-16", 1).encode_utf16().flat_map(u16::to_le_bytes));
            b
        }
        2 => {
            let mut b = vec![0xEF, 0xBB, 0xBF];
            b.extend_from_slice(xml.as_bytes());
            b
        }
        _ => xml.clone().into_bytes(),
    }
}

/// What the reference reader finds.
#[derive(Debug, Default, PartialEq)]
struct Found {
    counts: [u64; 6],
    failures: Vec<String>,
    flaky: Vec<String>,
    suite_problems: usize,
}

fn found_of(r: &Results) -> Found {
    let mut failures: Vec<String> = r.failures.iter().map(|c| format!("{}|{}|{}|{:?}", c.suite, c.classname, c.name, c.outcome)).collect();
    let mut flaky: Vec<String> = r.flaky_cases.iter().map(|c| format!("{}|{}|{}", c.suite, c.classname, c.name)).collect();
    failures.sort();
    flaky.sort();
    Found { counts: [r.tests, r.passed, r.failed, r.errored, r.skipped, r.flaky], failures, flaky, suite_problems: r.suite_problems.len() }
}

fn line_of(text: &str, byte: usize) -> u64 {
    1 + text.as_bytes()[..byte.min(text.len())].iter().filter(|&&b| b == b'\n').count() as u64
}

/// The reference: the whole file decoded, a DOM, the rules over the tree.
/// `Err(line)` for a report that must be refused.
fn reference(bytes: &[u8], repeats: bool) -> Result<Found, u64> {
    // Decoding, from the rules: BOM, else the declaration.
    let text: String = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        let units: Vec<u16> = rest.chunks(2).map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
        String::from_utf16(&units).map_err(|_| 1u64)?
    } else {
        let body = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
        let head = String::from_utf8_lossy(&body[..body.len().min(200)]).to_lowercase();
        let decl_end = head.find("?>").unwrap_or(0);
        let decl = if head.starts_with("<?xml") { &head[..decl_end] } else { "" };
        if decl.contains("iso-8859-1") {
            body.iter().map(|&b| b as char).collect()
        } else if decl.contains("encoding") && !decl.contains("utf-8") {
            return Err(1);
        } else {
            match std::str::from_utf8(body) {
                Ok(t) => t.to_owned(),
                Err(e) => {
                    let good = std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or_default();
                    return Err(line_of(good, good.len()));
                }
            }
        }
    };
    let doc = roxmltree::Document::parse(&text).map_err(|e| match e {
        roxmltree::Error::UnexpectedEndOfStream | roxmltree::Error::UnclosedRootNode | roxmltree::Error::NoRootNode => {
            line_of(&text, text.len())
        }
        other => u64::from(other.pos().row),
    })?;
    let root = doc.root_element();
    if !matches!(root.tag_name().name(), "testsuites" | "testsuite") {
        return Err(1);
    }
    let pytest = root.attribute("name").is_some_and(|n| n == "pytest" || n.starts_with("pytest "));
    let _ = pytest;
    let mut f = Found::default();
    let mut ordinal = 0u64;
    // Returns the failing executions seen in the suite.
    fn suite(node: roxmltree::Node, ordinal: &mut u64, f: &mut Found, doc: &roxmltree::Document, repeats: bool) -> Result<u64, u64> {
        let me = if node.tag_name().name() == "testsuite" {
            *ordinal += 1;
            *ordinal
        } else {
            0
        };
        let name = node.attribute("name").unwrap_or_default().to_owned();
        let mut seen = 0u64;
        // Failed identities of this suite element: (file, classname, name) → outcome.
        let mut failed: BTreeMap<(String, String, String), &str> = BTreeMap::new();
        for child in node.children().filter(|n| n.is_element()) {
            match child.tag_name().name() {
                "testsuite" | "testsuites" => seen += suite(child, ordinal, f, doc, repeats)?,
                "failure" | "error" => {
                    f.suite_problems += 1;
                    seen += 1;
                }
                "testcase" => {
                    if let Some(t) = child.attribute("time") {
                        let t = t.trim();
                        if !t.is_empty() {
                            match t.replace(',', "").parse::<f64>() {
                                Ok(s) if s.is_finite() && s >= 0.0 => {}
                                _ => return Err(u64::from(doc.text_pos_at(child.range().start).row)),
                            }
                        }
                    }
                    let kinds: Vec<&str> = child.children().filter(|n| n.is_element()).map(|n| n.tag_name().name()).collect();
                    let mut outcome = if kinds.contains(&"error") {
                        "error"
                    } else if kinds.contains(&"failure") {
                        "failure"
                    } else if kinds.contains(&"skipped") {
                        "skipped"
                    } else {
                        "pass"
                    };
                    let marked =
                        kinds.iter().filter(|k| matches!(**k, "flakyFailure" | "flakyError" | "rerunFailure" | "rerunError")).count();
                    // A rerun count in the case's properties marks reruns too.
                    let property = child
                        .children()
                        .filter(|n| n.has_tag_name("properties"))
                        .flat_map(|p| p.children().filter(|n| n.has_tag_name("property")))
                        .filter_map(|p| {
                            let n: usize = p.attribute("value")?.trim().parse().ok()?;
                            match p.attribute("name")?.trim().to_ascii_lowercase().as_str() {
                                "reruns" | "rerun" | "retries" => Some(n),
                                "attempts" | "execution_count" => Some(n.saturating_sub(1)),
                                _ => None,
                            }
                        })
                        .sum::<usize>();
                    let reruns = marked + property;
                    match child.attribute("status").map(|s| s.trim().to_ascii_lowercase()).as_deref() {
                        Some("disabled" | "skipped" | "notrun") if outcome == "pass" => outcome = "skipped",
                        Some(s)
                            if !matches!(s, "" | "run" | "passed" | "disabled" | "skipped" | "notrun")
                                && matches!(outcome, "pass" | "skipped") =>
                        {
                            outcome = "failure"
                        }
                        _ => {}
                    }
                    let id = (
                        child.attribute("file").unwrap_or_default().to_owned(),
                        child.attribute("classname").unwrap_or_default().to_owned(),
                        child.attribute("name").unwrap_or_default().to_owned(),
                    );
                    let shown = format!("{name}|{}|{}", id.1, id.2);
                    match outcome {
                        "pass" if reruns > 0 => {
                            f.counts[0] += 1;
                            f.counts[1] += 1;
                            f.counts[5] += 1;
                            f.flaky.push(shown);
                        }
                        "pass" => match failed.remove(&id).filter(|_| repeats) {
                            Some(earlier) => {
                                f.counts[if earlier == "error" { 3 } else { 2 }] -= 1;
                                f.counts[1] += 1;
                                f.counts[5] += 1;
                                let gone = format!("{shown}|{}", if earlier == "error" { "Errored" } else { "Failed" });
                                if let Some(i) = f.failures.iter().position(|x| *x == gone) {
                                    f.failures.remove(i);
                                }
                                f.flaky.push(shown);
                            }
                            None => {
                                f.counts[0] += 1;
                                f.counts[1] += 1;
                            }
                        },
                        "skipped" => {
                            f.counts[0] += 1;
                            f.counts[4] += 1;
                        }
                        bad if !repeats => {
                            seen += 1;
                            f.counts[0] += 1;
                            f.counts[if bad == "error" { 3 } else { 2 }] += 1;
                            f.failures.push(format!("{shown}|{}", if bad == "error" { "Errored" } else { "Failed" }));
                        }
                        bad => {
                            seen += 1;
                            if let std::collections::btree_map::Entry::Vacant(slot) = failed.entry(id) {
                                f.counts[0] += 1;
                                f.counts[if bad == "error" { 3 } else { 2 }] += 1;
                                f.failures.push(format!("{shown}|{}", if bad == "error" { "Errored" } else { "Failed" }));
                                slot.insert(if bad == "error" { "error" } else { "failure" });
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let _ = me;
        let stated = |k: &str| node.attribute(k).and_then(|v| v.trim().parse::<u64>().ok());
        let claimed = match (stated("failures"), stated("errors")) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        if claimed.is_some_and(|c| c > seen) {
            f.suite_problems += 1;
        }
        Ok(seen)
    }
    suite(root, &mut ordinal, &mut f, &doc, repeats)?;
    f.failures.sort();
    f.flaky.sort();
    Ok(f)
}

fn read(bytes: &[u8], fast: bool, chunk: usize, repeats: bool) -> (Result<(), String>, Results) {
    let mut r = Results::with_repeats_as_retries(repeats);
    let pipe = Pipe::spawn(Box::new(std::io::Cursor::new(bytes.to_vec())), chunk);
    let outcome = parse_with(pipe, "r.xml", &mut r, fast).map_err(|e| e.to_string());
    (outcome, r)
}

/// The decision a stage would take on these results alone (first attempt).
fn decision(r: &Results) -> crate::Decision {
    let mut report = release_gate_core::report::Report::new("smoke-gate", "1", jiff::Timestamp::UNIX_EPOCH, None);
    let mut findings = crate::Findings::default();
    let globs = vec![("r.xml".to_owned(), vec![std::path::PathBuf::from("r.xml")])];
    let mut r = r.clone();
    r.files = vec!["r.xml".into()];
    crate::judge::judge_tests(
        &mut report,
        &mut findings,
        &r,
        &globs,
        std::path::Path::new("/nonexistent-repository"),
        std::path::Path::new(""),
        None,
    );
    crate::decide(&findings, 0, 2, None, "ok").0
}

fn reference_decision(f: &Found) -> crate::Decision {
    let [tests, _, failed, errored, skipped, _] = f.counts;
    if tests == 0 || tests == skipped || failed + errored > 0 || f.suite_problems > 0 {
        crate::Decision::Hold
    } else {
        crate::Decision::Promote
    }
}

#[test]
fn the_reader_agrees_with_an_independent_dom_reader_on_thousands_of_reports() {
    let (mut refused, mut fast, mut kinds) = (0, 0, BTreeMap::new());
    for seed in 0..3000u64 {
        let report = generate(seed, seed % 3 == 2);
        let bytes = encode(&report, seed);
        // Half the reports as a stage with `retries: repeated-cases` reads them.
        let repeats = seed % 2 == 1;
        let want = reference(&bytes, repeats);
        let chunk = 64 + (seed as usize * 37) % 900;
        let (got, results) = read(&bytes, true, chunk, repeats);
        let what = format!("seed {seed} ({:?}, {:?}):\n{}", report.dialect, report.malformation, String::from_utf8_lossy(&bytes));
        match (&want, &got) {
            (Ok(found), Ok(())) => {
                assert_eq!(&found_of(&results), found, "{what}");
                assert_eq!(decision(&results), reference_decision(found), "{what}");
            }
            (Err(line), Err(e)) => {
                refused += 1;
                assert!(e.starts_with(&format!("r.xml:{line}: ")), "{what}\nreference line {line}, reader: {e}");
            }
            _ => panic!("{what}\nreference {want:?}, reader {got:?}"),
        }
        // Without the fast path, and in one large chunk: the same.
        let (slow, slow_results) = read(&bytes, false, 64 + (seed as usize * 7) % 300, repeats);
        assert_eq!(slow, got, "{what}");
        if got.is_ok() {
            assert_eq!(found_of(&slow_results), found_of(&results), "{what}");
            assert_eq!(slow_results.time.to_bits(), results.time.to_bits(), "{what}");
        }
        fast += results.fast;
        *kinds.entry(format!("{:?}", report.malformation)).or_insert(0) += 1;
    }
    assert!(refused > 500, "only {refused} refused");
    assert!(fast > 1500, "the fast path took only {fast} cases");
    assert!(kinds.len() == 11, "{kinds:?}");
}

/// The position of the `>` that ends the start tag at `i` (quotes skipped).
fn tag_end(xml: &str, i: usize) -> usize {
    let mut quote = None;
    for (j, c) in xml[i..].char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return i + j,
            _ => {}
        }
    }
    xml.len()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    /// Turning any passing case into a failing one never makes the decision better.
    #[test]
    fn a_new_failure_never_raises_the_verdict(seed in any::<u64>(), which in any::<usize>(), kind in 0usize..3) {
        let report = generate(seed, false);
        let passes: Vec<usize> = report.xml.match_indices("<testcase ").map(|(i, _)| i).filter(|&i| {
            let end = report.xml[i..].find("</testcase>").map_or(usize::MAX, |e| i + e);
            let close = report.xml[i..].find("/>").map_or(usize::MAX, |e| i + e);
            let head_end = tag_end(&report.xml, i);
            let element = &report.xml[i..end.min(close.saturating_add(2)).min(report.xml.len())];
            !element.contains("<failure") && !element.contains("<error") && !element.contains("<skipped") && !report.xml[i..head_end].contains("status=")
        }).collect();
        prop_assume!(!passes.is_empty());
        let at = passes[which % passes.len()];
        let head_end = tag_end(&report.xml, at);
        let mut mutated = report.xml.clone();
        let (self_closing, from) = if mutated[..head_end].ends_with('/') { (true, head_end - 1) } else { (false, head_end) };
        let failure = ["<failure message=\"new\"/>", "<error message=\"new\"/>", "<failure/><skipped/>"][kind];
        if self_closing {
            mutated.replace_range(from..head_end + 1, &format!(">{failure}</testcase>"));
        } else {
            mutated.insert_str(head_end + 1, failure);
        }
        let (a, before) = read(report.xml.as_bytes(), true, 4096, false);
        let (b, after) = read(mutated.as_bytes(), true, 4096, false);
        prop_assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
        // The verdict: the decision, then warn (a retried test) over pass.
        let rank = |r: &Results| { let d = decision(r); (d, d == crate::Decision::Promote && r.flaky > 0) };
        prop_assert!(rank(&after) >= rank(&before), "{}\n---\n{}", report.xml, mutated);
    }
}
