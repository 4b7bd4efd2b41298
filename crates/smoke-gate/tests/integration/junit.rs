//! The JUnit dialects people produce, each parsed from a fixture in the
//! shape its tool writes.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use smoke_gate::junit::{self, Outcome, Results};

fn parse(name: &str) -> Result<Results, junit::ParseError> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit").join(name);
    let mut r = Results::default();
    junit::parse(junit::open(&path).unwrap(), name, &mut r)?;
    Ok(r)
}

fn counts(r: &Results) -> [u64; 6] {
    [r.tests, r.passed, r.failed, r.errored, r.skipped, r.flaky]
}

#[test]
fn pytest_with_and_without_timezones() {
    let r = parse("pytest-8.3.xml").unwrap();
    assert_eq!(counts(&r), [5, 2, 1, 1, 1, 0]);
    let f = &r.failures[0];
    assert_eq!(f.id(), "tests.test_orders.test_reject_oversize");
    assert_eq!(f.outcome, Outcome::Failed);
    // pytest writes 0-based lines: line="19" is the def on line 20.
    assert_eq!((f.file.as_deref(), f.line), (Some("tests/test_orders.py"), Some(20)));
    assert!(f.message.contains("assert 'accepted' == 'rejected'\n  - rejected"), "{:?}", f.message);
    assert!(f.detail.contains("tests/test_orders.py:22: AssertionError"));
    assert!(f.detail.contains(">       assert resp.status"), "entities decoded: {:?}", f.detail);
    assert_eq!(r.failures[1].outcome, Outcome::Errored);
    assert!(r.failures[1].message.contains("\"ConnectionRefusedError"));
    let r = parse("pytest-7-no-tz.xml").unwrap();
    assert_eq!(counts(&r), [2, 2, 0, 0, 0, 0]);
}

#[test]
fn surefire_bare_testsuite_reruns_and_flaky_and_gzip() {
    for name in ["surefire.xml", "surefire.xml.gz"] {
        let r = parse(name).unwrap();
        assert_eq!(counts(&r), [4, 3, 1, 0, 0, 1], "{name}");
        assert_eq!(r.flaky_cases[0].name, "failsOverOnTimeout");
        assert!(r.flaky_cases[0].message.contains("expected: <NYSE>"));
        let f = &r.failures[0];
        assert_eq!((f.name.as_str(), f.reruns), ("rejectsUnknownSymbol", 1));
        assert!(f.detail.contains("RouterTest.java:57"));
    }
}

#[test]
fn gradle_jest_go_and_phpunit() {
    assert_eq!(counts(&parse("gradle.xml").unwrap()), [3, 2, 0, 0, 1, 0]);
    let jest = parse("jest-junit.xml").unwrap();
    assert_eq!(counts(&jest), [3, 2, 1, 0, 0, 0]);
    assert_eq!(jest.failures[0].file.as_deref(), Some("web/src/blotter.test.ts"));
    assert_eq!(jest.failures[0].suite, "blotter");
    let go = parse("go-junit-report.xml").unwrap();
    assert_eq!(counts(&go), [3, 2, 1, 0, 0, 0]);
    assert!(go.failures[0].detail.contains("feed_test.go:48"));
    let php = parse("phpunit.xml").unwrap();
    assert_eq!(counts(&php), [3, 2, 1, 0, 0, 0]);
    let f = &php.failures[0];
    assert_eq!((f.file.as_deref(), f.line), (Some("/app/tests/Unit/InvoiceTest.php"), Some(31)));
    assert_eq!(f.suite, "Tests\\Unit\\InvoiceTest", "nested suites: the innermost names the case");
}

fn parse_repeats(name: &str) -> Results {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit").join(name);
    let mut r = Results::with_repeats_as_retries(true);
    junit::parse(junit::open(&path).unwrap(), name, &mut r).unwrap();
    r
}

#[test]
fn same_titled_tests_in_one_suite_are_two_tests_unless_the_stage_says_its_runner_repeats_retries() {
    // jest and mocha write two `it`s with one title in same-named blocks as
    // two cases with one identity: a failure and a pass are two tests.
    for name in ["retried-then-passed.xml", "mocha-xunit.xml"] {
        let r = parse(name).unwrap();
        assert_eq!((r.tests, r.failed + r.errored, r.flaky), (3, 1, 0), "{name}: the failure stands");
        // `retries: repeated-cases`: a failure listed again and passing is one retried test.
        let r = parse_repeats(name);
        assert_eq!((r.tests, r.failed + r.errored, r.flaky), (2, 0, 1), "{name}");
        assert!(r.failures.is_empty());
    }
    assert_eq!(parse("mocha-xunit.xml").unwrap().failures[0].id(), "order router quotes.rejects a stale quote");
    assert_eq!(parse_repeats("retried-then-passed.xml").flaky_cases[0].id(), "settlement.settles T+1");
}

#[test]
fn a_rerun_count_in_a_cases_properties_marks_a_retry() {
    let xml = |prop: &str, result: &str| {
        format!(
            r#"<testsuite name="pytest"><testcase classname="c" name="t"><properties><property name="{prop}"/></properties>{result}</testcase></testsuite>"#
        )
    };
    for (prop, flaky) in
        [(r#"reruns" value="2"#, 1), (r#"execution_count" value="3"#, 1), (r#"execution_count" value="1"#, 0), (r#"owner" value="7"#, 0)]
    {
        let r = parse_str(&xml(prop, "")).unwrap();
        assert_eq!((r.tests, r.passed, r.flaky), (1, 1, flaky), "{prop}");
    }
    // Failed on every attempt: a failure, with its reruns counted.
    let r = parse_str(&xml(r#"reruns" value="2"#, "<failure/>")).unwrap();
    assert_eq!((r.failed, r.flaky, r.failures[0].reruns), (1, 0, 2));
}

#[test]
fn bad_reports_name_file_and_line() {
    let e = parse("doctype-entities.xml").unwrap_err().to_string();
    assert!(e.starts_with("doctype-entities.xml:2:") && e.contains("declares entities"), "{e}");
    let e = parse("truncated.xml").unwrap_err().to_string();
    assert!(e.starts_with("truncated.xml:6:") && e.contains("truncated"), "{e}");
    let e = parse("malformed.xml").unwrap_err().to_string();
    assert!(e.starts_with("malformed.xml:4:") && e.contains("malformed XML"), "{e}");
    let e = parse("not-junit.xml").unwrap_err().to_string();
    assert!(e.contains("root element is <coverage>"), "{e}");
    let r = parse("empty-suite.xml").unwrap();
    assert_eq!(r.tests, 0, "parsed; the gate refuses an empty run");
}

#[test]
fn a_100_mb_report_streams_in_bounded_memory() {
    // 400,000 cases (~100 MB) through a generator: nothing is held but failures.
    struct Gen {
        i: u32,
        n: u32,
        buf: Vec<u8>,
        pos: usize,
    }
    impl std::io::Read for Gen {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.pos == self.buf.len() {
                self.buf.clear();
                self.pos = 0;
                if self.i == 0 {
                    self.buf.extend_from_slice(b"<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"big\">\n");
                }
                if self.i < self.n {
                    let fail = if self.i % 100_000 == 7 { "<failure message=\"boom\">trace</failure>" } else { "" };
                    self.buf.extend_from_slice(
                        format!("<testcase classname=\"com.tradepulse.load.Case{:06}\" name=\"handles order burst number {:06} under load\" time=\"0.001\">{fail}</testcase>\n", self.i / 50, self.i)
                            .as_bytes(),
                    );
                    self.i += 1;
                } else if self.i == self.n {
                    self.buf.extend_from_slice(b"</testsuite></testsuites>\n");
                    self.i += 1;
                } else {
                    return Ok(0);
                }
            }
            let n = out.len().min(self.buf.len() - self.pos);
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }
    let mut r = Results::default();
    junit::parse(junit::pipe(Gen { i: 0, n: 400_000, buf: Vec::new(), pos: 0 }), "big.xml", &mut r).unwrap();
    assert_eq!((r.tests, r.failed), (400_000, 4));
    // What is kept is the failures: the memory bound is the KEEP cap, not the input.
    assert!(r.failures.len() <= junit::KEEP);
}

/// Parses a report given as bytes (any encoding).
fn parse_bytes(bytes: &[u8]) -> Result<Results, junit::ParseError> {
    let mut r = Results::default();
    junit::parse(junit::pipe(std::io::Cursor::new(bytes.to_vec())), "r.xml", &mut r)?;
    Ok(r)
}

fn parse_str(xml: &str) -> Result<Results, junit::ParseError> {
    parse_bytes(xml.as_bytes())
}

#[test]
fn same_named_tests_in_two_suites_are_two_tests_and_the_failure_stands() {
    // jest-junit with classname="" in two test files; Go packages; nested suites sharing a name.
    for xml in [
        r#"<testsuites name="jest tests"><testsuite name="blotter"><testcase classname="" name="renders"><failure message="boom"/></testcase></testsuite><testsuite name="orders"><testcase classname="" name="renders" time="0.1"></testcase></testsuite></testsuites>"#,
        r#"<testsuites><testsuite name="github.com/tp/feed"><testcase classname="" name="TestTick"><failure>feed_test.go:3: lost</failure></testcase></testsuite><testsuite name="github.com/tp/feed"><testcase classname="" name="TestTick"/></testsuite></testsuites>"#,
        r#"<testsuites><testsuite name="a"><testsuite name="x"><testcase classname="c" name="t"><error/></testcase></testsuite><testsuite name="x"><testcase classname="c" name="t"/></testsuite></testsuite></testsuites>"#,
    ] {
        let r = parse_str(xml).unwrap();
        assert_eq!((r.tests, r.bad(), r.flaky), (2, 1, 0), "{xml}");
    }
    // The same test twice in one suite but different files: two tests.
    let r = parse_str(r#"<testsuite name="s"><testcase classname="c" name="t" file="a.py"><failure/></testcase><testcase classname="c" name="t" file="b.py"/></testsuite>"#).unwrap();
    assert_eq!((r.tests, r.failed, r.flaky), (2, 1, 0));
    // A failure in one report and a pass in another: two tests, not a retry.
    let mut r = Results::default();
    junit::parse(
        junit::pipe(std::io::Cursor::new(
            br#"<testsuite name="pytest"><testcase classname="c" name="t"><failure/></testcase></testsuite>"#.to_vec(),
        )),
        "a.xml",
        &mut r,
    )
    .unwrap();
    junit::parse(
        junit::pipe(std::io::Cursor::new(br#"<testsuite name="pytest"><testcase classname="c" name="t"/></testsuite>"#.to_vec())),
        "b.xml",
        &mut r,
    )
    .unwrap();
    assert_eq!((r.tests, r.failed, r.flaky), (2, 1, 0));
    // Where the stage says its runner repeats retries, a failure then a pass
    // of the same case in the same suite is one retried test.
    let repeats = |xml: &str| {
        let mut r = Results::with_repeats_as_retries(true);
        junit::parse(junit::pipe(std::io::Cursor::new(xml.as_bytes().to_vec())), "r.xml", &mut r).unwrap();
        r
    };
    let retried = r#"<testsuite name="s" failures="1"><testcase classname="c" name="t"><failure/></testcase><testcase classname="c" name="t"/></testsuite>"#;
    let r = repeats(retried);
    assert_eq!((r.tests, r.failed, r.flaky, r.suite_problems.len()), (1, 0, 1, 0));
    assert_eq!((parse_str(retried).unwrap().tests, parse_str(retried).unwrap().failed), (2, 1), "by default: two tests");
    // A pass then a failure of the same case is a failure, either way.
    let xml = r#"<testsuite name="s"><testcase classname="c" name="t"/><testcase classname="c" name="t"/><testcase classname="c" name="t"><failure/></testcase></testsuite>"#;
    assert_eq!((repeats(xml).failed, repeats(xml).flaky), (1, 0));
    assert_eq!((parse_str(xml).unwrap().failed, parse_str(xml).unwrap().flaky), (1, 0));
}

#[test]
fn tests_that_never_ran_are_skipped_not_passed() {
    for status in ["disabled", "skipped", "notrun"] {
        let r = parse_str(&format!(r#"<testsuite name="s"><testcase classname="c" name="t" status="{status}"/></testsuite>"#)).unwrap();
        assert_eq!((r.tests, r.passed, r.skipped, r.ran()), (1, 0, 1, 0), "{status}");
    }
    // A status that says it failed is a failure even without a <failure> element.
    let r = parse_str(r#"<testsuite name="s"><testcase classname="c" name="t" status="failed"/></testsuite>"#).unwrap();
    assert_eq!(r.failed, 1);
    assert!(r.failures[0].message.contains("status=\"failed\""));
}

#[test]
fn results_outside_a_test_case_are_kept_with_their_suite() {
    let r = parse_str(r#"<testsuites><testsuite name="orders.test.ts" errors="1" tests="1"><testcase classname="" name="ok"/><error message="Test suite failed to run">SyntaxError</error></testsuite></testsuites>"#).unwrap();
    assert_eq!((r.tests, r.bad()), (1, 0));
    assert_eq!(r.suite_problems.len(), 1);
    assert_eq!(r.suite_problems[0].suite, "orders.test.ts");
    assert!(r.suite_problems[0].message.contains("Test suite failed to run") && r.suite_problems[0].message.contains("SyntaxError"));
    // The suite says 2 failed; its cases show 1.
    let r = parse_str(
        r#"<testsuite name="pkg" failures="2" errors="0"><testcase name="a"><failure/></testcase><testcase name="b"/></testsuite>"#,
    )
    .unwrap();
    assert_eq!(r.suite_problems.len(), 1);
    assert!(r.suite_problems[0].message.contains("states 2 failure(s)"), "{:?}", r.suite_problems);
    // Nested suites add up.
    let r = parse_str(
        r#"<testsuites failures="1"><testsuite name="a" failures="1"><testcase name="x"><failure/></testcase></testsuite></testsuites>"#,
    )
    .unwrap();
    assert!(r.suite_problems.is_empty());
}

#[test]
fn several_results_in_one_case_the_most_severe_counts_and_every_message_stays() {
    let r = parse_str(r#"<testsuite name="s"><testcase name="t"><skipped/><failure message="first">one</failure><error message="second">two</error><error message="third"/></testcase></testsuite>"#).unwrap();
    assert_eq!((r.tests, r.failed, r.errored, r.skipped), (1, 0, 1, 0));
    let f = &r.failures[0];
    assert_eq!(f.outcome, Outcome::Errored);
    assert_eq!(f.message, "first\nsecond\nthird");
    assert!(f.detail.contains("one") && f.detail.contains("two"), "{:?}", f.detail);
}

#[test]
fn malformed_xml_is_refused_on_every_path_with_its_line() {
    for (xml, line, want) in [
        ("<testsuite name=\"s\">\n<testcase name=\"a<b\"/>\n</testsuite>", 2, "`<` in an attribute value"),
        ("<testsuite name=\"s\">\n<testcase name=\"a\" name=\"b\"/>\n</testsuite>", 2, "repeated"),
        ("<testsuite name=\"s\">\n<testcase name=\"&bogus;\"/>\n</testsuite>", 2, "unknown entity"),
        ("<testsuite name=\"s\">\n<testcase name=\"a\"><failure>&bogus;</failure></testcase>\n</testsuite>", 2, "unknown entity"),
        (
            "<testsuite name=\"s\">\n<testcase name=\"a\"/>\n</testsuite>\n<testsuite name=\"again\"/>\n",
            4,
            "content after the root element",
        ),
        ("<testsuite name=\"s\">\n<testcase name=\"a\"/>\n</testsuite>\ntrailing", 4, "content after the root element"),
        ("<testsuite name=\"s\">\n<testcase name=\"a\"time=\"1\"/>\n</testsuite>", 2, "separated by whitespace"),
        ("<testsuite name=\"s\">\n<testcase name=\"a\u{1}\"/>\n</testsuite>", 2, "U+0001"),
    ] {
        let e = parse_str(xml).unwrap_err();
        assert_eq!(e.line, line, "{xml}: {e}");
        assert!(e.message.contains(want), "{xml}: {e}");
    }
    // Plenty of plain cases first, so the fast path is reading when it meets the bad one.
    let mut xml = String::from("<testsuite name=\"s\">\n");
    for i in 0..5000 {
        xml.push_str(&format!("<testcase classname=\"c\" name=\"t{i}\" time=\"0.001\"/>\n"));
    }
    xml.push_str("<testcase classname=\"c\" name=\"x\" name=\"y\"/>\n</testsuite>\n");
    let e = parse_str(&xml).unwrap_err();
    assert_eq!((e.line, e.message.contains("repeated")), (5002, true), "{e}");
}

#[test]
fn declared_encodings_are_honoured_and_others_refused_by_name() {
    let latin1: Vec<u8> = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<testsuite name=\"Zürich\"><testcase name=\"café\"><failure message=\"ü\"/></testcase></testsuite>"
        .chars()
        .map(|c| c as u32 as u8)
        .collect();
    let r = parse_bytes(&latin1).unwrap();
    assert_eq!((r.failures[0].suite.as_str(), r.failures[0].name.as_str(), r.failures[0].message.as_str()), ("Zürich", "café", "ü"));
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n<testsuite name=\"s\"><testcase name=\"日本\"/></testsuite>"
            .encode_utf16()
            .flat_map(u16::to_le_bytes),
    );
    assert_eq!(parse_bytes(&utf16).unwrap().passed, 1);
    let e = parse_str("<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\n<testsuite/>").unwrap_err();
    assert!(e.to_string().starts_with("r.xml:1:") && e.message.contains("encoding=\"Shift_JIS\""), "{e}");
}

#[test]
fn impossible_times_are_refused_with_their_line() {
    for t in ["NaN", "inf", "-0.5", "soon"] {
        let e = parse_str(&format!("<testsuite name=\"s\">\n<testcase name=\"a\" time=\"{t}\"/>\n</testsuite>")).unwrap_err();
        assert_eq!(e.line, 2, "{t}: {e}");
        assert!(e.message.contains(&format!("time=\"{t}\" is not a duration")), "{e}");
    }
}
