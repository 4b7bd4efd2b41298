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

#[test]
fn a_test_that_fails_then_passes_is_flaky_not_failed() {
    let r = parse("retried-then-passed.xml").unwrap();
    assert_eq!(counts(&r), [2, 2, 0, 0, 0, 1]);
    assert_eq!(r.flaky_cases[0].id(), "settlement.settles T+1");
    assert!(r.failures.is_empty());
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
    junit::parse(std::io::BufReader::new(Gen { i: 0, n: 400_000, buf: Vec::new(), pos: 0 }), "big.xml", &mut r).unwrap();
    assert_eq!((r.tests, r.failed), (400_000, 4));
    // What is kept is the failures: the memory bound is the KEEP cap, not the input.
    assert!(r.failures.len() <= junit::KEEP);
}
