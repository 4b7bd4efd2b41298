//! smoke-gate as a step runs it: reports found by glob, metrics files,
//! attempt history from earlier reports (offline) and from check runs (the
//! GitHub fake), external causes, and every bad input.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use github_fake::Fake;
use github_fake::support::{TempRepo, clean_command, webhook_example};
use serde_json::{Value, json};

const NOW: &str = "2026-12-01T14:00:00Z";
const NOW_S: i64 = 1_796_133_600;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit").join(name)
}

const POLICY: &str = r#"evaluation: {allow-dry-run: true}
smoke-gate:
  stages:
    smoke:
      reports: ["reports/release-smoke/{release}/**/*.xml*"]
    canary:
      metrics:
        source: file
        file: reports/canary/{release}/metrics.json
        window: 30m
        metrics:
          - {name: order latency p99, query: latency_canary, baseline: latency_stable, direction: lower-is-better, critical: true}
          - {name: order throughput, query: throughput_canary, baseline: throughput_stable, direction: higher-is-better}
          - {name: reconciliation breaks, query: recon_canary, baseline-value: 100, direction: both}
        error-budget: {query: error_ratio, slo: 0.999, period: 30d, max-consumption: 5}
  external-cause:
    hosts: [status.tradepulse.example, aws.amazon.com]
"#;

struct Repo(TempRepo);

impl std::ops::Deref for Repo {
    type Target = TempRepo;
    fn deref(&self) -> &TempRepo {
        &self.0
    }
}

impl Repo {
    fn new() -> Self {
        let r = Self(TempRepo::new());
        std::fs::create_dir_all(r.path(".git")).unwrap();
        r.write(".github/release-gate.yml", POLICY);
        r.write("tests/test_orders.py", "# test file\n".repeat(40));
        r.write("tests/conftest.py", "import pytest\n");
        r
    }

    fn smoke(&self, fixture_name: &str) {
        self.write("reports/release-smoke/2.4.0/junit.xml", std::fs::read(fixture(fixture_name)).unwrap());
    }

    fn run(&self, args: &[&str]) -> (i32, Value, String) {
        let out = clean_command(Path::new(env!("CARGO_BIN_EXE_smoke-gate")))
            .current_dir(self.root())
            .args(["--release", "2.4.0", "--format", "json", "--now", NOW])
            .args(args)
            .output()
            .unwrap();
        parse(&out)
    }

    fn metrics(&self, series: &Value) {
        self.write("reports/canary/2.4.0/metrics.json", serde_json::to_vec(series).unwrap());
    }
}

fn parse(out: &Output) -> (i32, Value, String) {
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["checks"].as_array().and_then(|c| c.iter().find(|c| c["id"] == id)).unwrap_or_else(|| panic!("no check {id}: {r:#}"))
}

fn msg(r: &Value, id: &str) -> String {
    check(r, id)["message"].as_str().unwrap().to_owned()
}

#[test]
fn passing_reports_promote() {
    let repo = Repo::new();
    repo.smoke("pytest-7-no-tz.xml");
    let (code, r, err) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(r["outputs"]["decision"], "promote");
    assert_eq!(r["verdict"], "pass");
    assert_eq!(r["stage"], "smoke");
    assert!(repo.path("reports/release-gate/2.4.0/smoke-gate-smoke.json").exists());
    assert!(r["title"].as_str().unwrap().starts_with("smoke: passed → promote"));
}

#[test]
fn a_failure_holds_the_second_rolls_back_unless_an_external_cause_is_verified() {
    let repo = Repo::new();
    repo.smoke("pytest-8.3.xml");
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1);
    assert_eq!(r["outputs"]["decision"], "hold");
    assert!(msg(&r, "decision").contains("failure 1 of this stage"));
    // Annotations on the failing lines: pytest's 0-based line 19 is line 20;
    // the setup error is located from its traceback (tests/conftest.py:8).
    let ann: Vec<(String, u64)> = r["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["path"].as_str().unwrap().to_owned(), a["start_line"].as_u64().unwrap()))
        .collect();
    assert!(ann.contains(&("tests/test_orders.py".into(), 20)), "{ann:?}");
    assert!(ann.contains(&("tests/test_orders.py".into(), 26)), "{ann:?}");
    // Second failure of the same stage: rollback.
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1);
    assert_eq!(r["outputs"]["decision"], "rollback");
    assert_eq!(r["outputs"]["attempt"], "2");
    assert!(msg(&r, "decision").contains("failure 2 of this stage without a verified external cause"));
    // Not a link on an allowed host: not counted.
    let (_, r, _) = repo.run(&["--stage", "smoke", "--external-cause", "https://evil.example/x"]);
    assert_eq!(r["outputs"]["decision"], "rollback");
    assert!(msg(&r, "external-cause").contains("not one of the policy's hosts"));
    // A verified cause: hold and record it.
    let (_, r, _) = repo.run(&["--stage", "smoke", "--external-cause", "https://status.tradepulse.example/incidents/311"]);
    assert_eq!(r["outputs"]["decision"], "hold");
    assert_eq!(r["data"]["external_cause"]["url"], "https://status.tradepulse.example/incidents/311");
    assert_eq!(r["data"]["attempts"].as_array().unwrap().len(), 3);
    // With no hosts in the policy, no link verifies: the second failure rolls back.
    repo.write(
        ".github/release-gate.yml",
        POLICY.replace("    hosts: [status.tradepulse.example, aws.amazon.com]\n", "    label: external-cause\n"),
    );
    let (_, r, _) = repo.run(&["--stage", "smoke", "--external-cause", "https://status.tradepulse.example/incidents/311"]);
    assert_eq!(r["outputs"]["decision"], "rollback");
    assert!(msg(&r, "external-cause").contains("lists no hosts"), "{}", msg(&r, "external-cause"));
    assert!(r["data"]["external_cause"].is_null());
}

#[test]
fn an_unreadable_earlier_attempt_is_an_error_not_a_first_attempt() {
    // Offline, the attempt count comes from the stage's last report: if a
    // report that does not read counted as "no earlier attempt", a second
    // failure would hold instead of rolling back.
    let repo = Repo::new();
    repo.smoke("pytest-8.3.xml");
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("hold")));
    let earlier = "reports/release-gate/2.4.0/smoke-gate-smoke.json";
    let text = std::fs::read_to_string(repo.path(earlier)).unwrap();
    for (broken, expect) in [
        (text.replace(r#""outcome": "failed""#, r#""outcome": "passd""#), "data is not in this version's form"),
        (text[..text.len() / 2].to_owned(), "is not a release-gate report"),
    ] {
        repo.write(earlier, &broken);
        let (code, _, err) = repo.run(&["--stage", "smoke"]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(expect), "{expect:?} in {err}");
    }
}

#[test]
fn no_report_or_an_empty_one_is_a_failure_not_a_pass() {
    let repo = Repo::new();
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1);
    assert!(msg(&r, "reports").contains("no report matches reports/release-smoke/2.4.0/**/*.xml*"));
    repo.smoke("empty-suite.xml");
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1);
    assert!(msg(&r, "tests").contains("an empty run is not a pass"));
}

#[test]
fn flaky_tests_are_listed_not_failed() {
    let repo = Repo::new();
    repo.write(".github/release-gate.yml", POLICY.replace("**/*.xml*\"]\n", "**/*.xml*\"]\n      retries: repeated-cases\n"));
    repo.write("reports/release-smoke/2.4.0/a/surefire.xml.gz", std::fs::read(fixture("surefire.xml.gz")).unwrap());
    repo.write("reports/release-smoke/2.4.0/b/retry.xml", std::fs::read(fixture("retried-then-passed.xml")).unwrap());
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1, "Surefire's rejectsUnknownSymbol failed every rerun");
    assert!(msg(&r, "flaky").contains("2 test(s) passed only on a retry"), "{}", msg(&r, "flaky"));
    assert_eq!(r["outputs"]["flaky"], "2");
    assert_eq!(r["outputs"]["failed"], "1");
}

#[test]
fn a_same_titled_pass_does_not_retry_a_mocha_failure_away() {
    // A real mocha xunit shape: two `it("rejects a stale quote")`, the first failing.
    let repo = Repo::new();
    repo.write("reports/release-smoke/2.4.0/mocha.xml", std::fs::read(fixture("mocha-xunit.xml")).unwrap());
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["outputs"]["decision"], "hold");
    assert_eq!((r["outputs"]["failed"].as_str(), r["outputs"]["flaky"].as_str()), (Some("1"), Some("0")));
    // The same report where the policy says the runner writes retries as repeated cases: a retry.
    repo.write(".github/release-gate.yml", POLICY.replace("**/*.xml*\"]\n", "**/*.xml*\"]\n      retries: repeated-cases\n"));
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!((code, r["outputs"]["decision"].as_str(), r["outputs"]["flaky"].as_str()), (0, Some("promote"), Some("1")), "{r:#}");
}

#[test]
fn paths_are_made_relative_to_the_repository_in_a_subdirectory_checkout() {
    let repo = Repo::new();
    repo.write("platform/web/src/blotter.test.ts", "//\n".repeat(40));
    repo.write("platform/reports/release-smoke/2.4.0/jest.xml", std::fs::read(fixture("jest-junit.xml")).unwrap());
    let out = clean_command(Path::new(env!("CARGO_BIN_EXE_smoke-gate")))
        .current_dir(repo.root())
        .args(["--release", "2.4.0", "--format", "json", "--now", NOW, "--stage", "smoke", "--root", "platform", "--policy"])
        .arg(repo.path(".github/release-gate.yml"))
        .output()
        .unwrap();
    let (code, r, err) = parse(&out);
    assert_eq!(code, 1, "{err}");
    // The stack trace's absolute path from the CI machine, matched by suffix.
    assert_eq!(r["annotations"][0]["path"], "platform/web/src/blotter.test.ts");
    assert_eq!(r["annotations"][0]["start_line"], 27);
}

#[test]
fn nothing_run_or_a_failure_outside_any_case_is_not_a_pass() {
    let repo = Repo::new();
    repo.write(
        "reports/release-smoke/2.4.0/junit.xml",
        r#"<testsuite name="smoke"><testcase name="a" status="disabled"/><testcase name="b"><skipped/></testcase></testsuite>"#,
    );
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1);
    assert_eq!(r["outputs"]["decision"], "hold");
    assert!(msg(&r, "tests").contains("every one of the 2 test(s) was skipped or disabled: nothing was verified"), "{}", msg(&r, "tests"));
    // jest: the test file did not load; its one case passed.
    repo.write(
        "reports/release-smoke/2.4.0/junit.xml",
        r#"<testsuites><testsuite name="orders.test.ts" errors="1"><testcase classname="" name="ok"/><error message="Test suite failed to run"/></testsuite></testsuites>"#,
    );
    let _ = std::fs::remove_dir_all(repo.path("reports/release-gate"));
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1);
    assert!(msg(&r, "suites").contains("`orders.test.ts`"), "{}", msg(&r, "suites"));
    // The same test name in two suites: a failure in one and a pass in the other is a failure.
    repo.write(
        "reports/release-smoke/2.4.0/junit.xml",
        r#"<testsuites><testsuite name="a"><testcase classname="" name="t"><failure/></testcase></testsuite><testsuite name="b"><testcase classname="" name="t"/></testsuite></testsuites>"#,
    );
    let _ = std::fs::remove_dir_all(repo.path("reports/release-gate"));
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!((code, r["outputs"]["failed"].as_str(), r["outputs"]["flaky"].as_str()), (1, Some("1"), Some("0")));
}

#[test]
fn a_malformed_report_is_exit_2_with_file_and_line() {
    let repo = Repo::new();
    repo.write(
        "reports/release-smoke/2.4.0/junit.xml",
        "<testsuite name=\"s\">\n<testcase name=\"a\"/>\n<testcase name=\"a<b\"/>\n</testsuite>\n",
    );
    let (code, _, err) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("reports/release-smoke/2.4.0/junit.xml:3: `<` in an attribute value"), "{err}");
    repo.write("reports/release-smoke/2.4.0/junit.xml", "<testsuite name=\"s\">\n<testcase name=\"a\" time=\"NaN\"/>\n</testsuite>\n");
    let (code, _, err) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("junit.xml:2: time=\"NaN\" is not a duration"), "{err}");
}

#[test]
fn failures_are_located_from_every_shape_of_location() {
    let repo = Repo::new();
    repo.write("app/src/test/kotlin/com/tradepulse/router/RouterTest.kt", "//\n".repeat(30));
    repo.write("services/billing/src/Invoice.php", "<?php\n".repeat(90));
    repo.write("services/api/tests/test_fills.py", "#\n".repeat(30));
    repo.write(
        "reports/release-smoke/2.4.0/junit.xml",
        r#"<testsuite name="s">
<testcase classname="com.tradepulse.router.RouterTest" name="routes"><failure message="expected NYSE">org.opentest4j.AssertionFailedError: expected NYSE
	at com.tradepulse.router.RouterTest.routes(RouterTest.kt:15)</failure></testcase>
<testcase classname="InvoiceTest" name="totals"><failure message="x">C:\ci\services\billing\src\Invoice.php:77</failure></testcase>
<testcase classname="tests.test_fills" name="test_fill"><failure message="y">tests/test_fills.py:12: AssertionError</failure></testcase>
<testcase classname="x" name="on the element"><failure message="z" file="services/api/tests/test_fills.py" line="21"/></testcase>
</testsuite>"#,
    );
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1);
    let ann: Vec<(String, u64)> = r["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["path"].as_str().unwrap().to_owned(), a["start_line"].as_u64().unwrap()))
        .collect();
    for want in [
        ("app/src/test/kotlin/com/tradepulse/router/RouterTest.kt", 15),
        ("services/billing/src/Invoice.php", 77),
        ("services/api/tests/test_fills.py", 12),
        ("services/api/tests/test_fills.py", 21),
    ] {
        assert!(ann.contains(&(want.0.to_owned(), want.1)), "{want:?} not in {ann:?}");
    }
}

#[test]
fn a_kpi_whose_baseline_is_zero_is_judged_never_inconclusive() {
    let repo = Repo::new();
    let policy = |extra: &str| {
        format!(
            "smoke-gate:\n  stages:\n    canary:\n      metrics:\n        source: file\n        file: reports/canary/{{release}}/metrics.json\n        metrics:\n          - {{name: reconciliation breaks, query: recon_canary, baseline: recon_stable{extra}}}\n"
        )
    };
    repo.metrics(&json!({"recon_canary": series(0, |m| if m > 30 { 3.0 } else { 0.0 }), "recon_stable": series(0, |_| 0.0)}));
    // No absolute rule: any increase from 0 is outside tolerance.
    repo.write(".github/release-gate.yml", policy(""));
    let (code, r, err) = repo.run(&["--stage", "canary"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(r["outputs"]["decision"], "hold");
    assert!(msg(&r, "metric:reconciliation breaks").contains("baseline of 0"), "{}", msg(&r, "metric:reconciliation breaks"));
    // Critical: rollback.
    repo.write(".github/release-gate.yml", policy(", critical: true"));
    let _ = std::fs::remove_dir_all(repo.path("reports/release-gate"));
    let (_, r, _) = repo.run(&["--stage", "canary"]);
    assert_eq!(r["outputs"]["decision"], "rollback");
    // An absolute tolerance that allows the move in every 5-minute window (at most 3): promote.
    repo.write(".github/release-gate.yml", policy(", tolerance-absolute: 3"));
    let _ = std::fs::remove_dir_all(repo.path("reports/release-gate"));
    let (code, r, _) = repo.run(&["--stage", "canary"]);
    assert_eq!((code, r["outputs"]["decision"].as_str()), (0, Some("promote")));
    // The mean over the window is 0.73, within 1; the last windows are at 3: a spike, never averaged away.
    repo.write(".github/release-gate.yml", policy(", tolerance-absolute: 1"));
    let _ = std::fs::remove_dir_all(repo.path("reports/release-gate"));
    let (code, r, _) = repo.run(&["--stage", "canary"]);
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("hold")), "{r:#}");
    assert!(msg(&r, "metric:reconciliation breaks").contains("worst 5-minute window"), "{}", msg(&r, "metric:reconciliation breaks"));
    // An absolute maximum breached: outside whatever the baseline says.
    repo.write(".github/release-gate.yml", policy(", tolerance-absolute: 3, max: 0.5"));
    let _ = std::fs::remove_dir_all(repo.path("reports/release-gate"));
    let (code, r, _) = repo.run(&["--stage", "canary"]);
    assert_eq!(code, 1);
    assert!(msg(&r, "metric:reconciliation breaks").contains("above the maximum 0.5"));
}

#[cfg(unix)]
#[test]
fn a_report_that_is_a_link_out_or_a_fifo_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("junit.xml"), std::fs::read(fixture("pytest-7-no-tz.xml")).unwrap()).unwrap();
    let repo = Repo::new();
    std::fs::create_dir_all(repo.path("reports/release-smoke/2.4.0")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("junit.xml"), repo.path("reports/release-smoke/2.4.0/junit.xml")).unwrap();
    let (code, _, err) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("leads outside the repository"), "{err}");
    std::fs::remove_file(repo.path("reports/release-smoke/2.4.0/junit.xml")).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(repo.path("reports/release-smoke/2.4.0/junit.xml")).status().unwrap().success());
    let (code, _, err) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a FIFO, not a regular file"), "{err}");
}

fn series(from_min: i64, value: impl Fn(i64) -> f64) -> Value {
    // A point a minute for the 40 minutes before NOW.
    Value::Array((0..=40).filter(|m| *m >= from_min).map(|m| json!([NOW_S - (40 - m) * 60, value(m)])).collect())
}

fn canary(latency: f64, throughput: f64, recon: f64, errors: f64) -> Value {
    json!({
        "latency_canary": series(0, |m| latency + (m % 3) as f64),
        "latency_stable": series(0, |m| 40.0 + (m % 3) as f64),
        "throughput_canary": series(0, |_| throughput),
        "throughput_stable": series(0, |_| 1000.0),
        "recon_canary": series(0, |_| recon),
        "error_ratio": series(0, |_| errors),
    })
}

#[test]
fn canary_metrics_within_slo_outside_critical_and_error_budget() {
    let repo = Repo::new();
    repo.metrics(&canary(41.0, 990.0, 101.0, 0.0005));
    let (code, r, err) = repo.run(&["--stage", "canary"]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    assert_eq!(r["outputs"]["decision"], "promote");
    assert!(msg(&r, "metric:order latency p99").contains("±5 % allowed"));
    assert!(msg(&r, "error-budget").contains("% of the 30d budget used"));
    // Throughput 7 % down: outside ±5 %, the stage fails and holds.
    repo.metrics(&canary(41.0, 930.0, 100.0, 0.0005));
    let (code, r, _) = repo.run(&["--stage", "canary"]);
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("hold")));
    assert!(msg(&r, "metric:order throughput").contains("outside ±5 %"));
    // Critical KPI 12 % off: rollback at once.
    repo.metrics(&canary(45.8, 1000.0, 100.0, 0.0005));
    let (_, r, _) = repo.run(&["--stage", "canary"]);
    assert_eq!(r["outputs"]["decision"], "rollback");
    assert!(msg(&r, "decision").contains("critical KPI order latency p99"));
    // 8 % errors over 30 minutes burn > 5 % of a 99.9 % monthly budget: rollback.
    repo.metrics(&canary(41.0, 1000.0, 100.0, 0.08));
    let (_, r, _) = repo.run(&["--stage", "canary"]);
    assert_eq!(r["outputs"]["decision"], "rollback");
    assert!(msg(&r, "error-budget").contains("rollback"));
}

#[test]
fn no_data_nan_and_short_coverage_hold_never_pass() {
    let repo = Repo::new();
    let mut m = canary(41.0, 1000.0, 100.0, 0.0);
    m["latency_canary"] = series(30, |_| 41.0); // only the last 10 minutes
    m["throughput_canary"] = json!([]);
    m["recon_canary"] = series(0, |i| if i == 35 { f64::NAN } else { 100.0 });
    m["recon_canary"][35][1] = json!("NaN");
    repo.metrics(&m);
    let (code, r, _) = repo.run(&["--stage", "canary"]);
    assert_eq!(code, 1);
    assert_eq!(r["outputs"]["decision"], "hold");
    let latency = msg(&r, "metric:order latency p99");
    assert!(latency.contains("data fills 11 of the 31 sample slots (35 %)"), "{latency}");
    assert!(msg(&r, "metric:order throughput").contains("no data in the window"));
    assert!(msg(&r, "metric:reconciliation breaks").contains("NaN"));
}

#[test]
fn bad_input_is_exit_2_naming_file_and_line() {
    let repo = Repo::new();
    for (fx, want) in [
        ("malformed.xml", "reports/release-smoke/2.4.0/junit.xml:4: malformed XML"),
        ("doctype-entities.xml", "declares entities"),
        ("truncated.xml", "truncated"),
    ] {
        repo.smoke(fx);
        let (code, _, err) = repo.run(&["--stage", "smoke"]);
        assert_eq!(code, 2, "{fx}");
        assert!(err.contains(want), "{err}");
    }
    assert!(!repo.path("reports/release-gate").exists(), "nothing written for bad input");
    // A CSV metrics file with a row missing a column.
    repo.write("m.csv", "timestamp,latency_canary,latency_stable\n2026-12-01T13:40:00Z,41,40\n2026-12-01T13:41:00Z,41\n");
    let (code, _, err) = repo.run(&["--stage", "canary", "--metrics-file", "m.csv"]);
    assert_eq!(code, 2);
    assert!(err.contains("m.csv:3: 2 column(s), the header has 3"), "{err}");
    // A series the policy names but the file lacks.
    repo.write("m.json", r#"{"latency_canary": [[1, 2]]}"#);
    let (code, _, err) = repo.run(&["--stage", "canary", "--metrics-file", "m.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("m.json: no series `latency_stable`"), "{err}");
    let (code, _, err) = repo.run(&["--stage", "nightly"]);
    assert_eq!(code, 2);
    assert!(err.contains("stage `nightly` is not in the policy"), "{err}");
}

#[test]
fn csv_metrics_work_like_json() {
    let repo = Repo::new();
    let mut csv = String::from("timestamp,latency_canary,latency_stable,throughput_canary,throughput_stable,recon_canary,error_ratio\n");
    for m in 0..=40 {
        csv.push_str(&format!("{},41,40,1000,1000,100,0.0001\n", NOW_S - (40 - m) * 60));
    }
    repo.write("m.csv", csv);
    let (code, r, err) = repo.run(&["--stage", "canary", "--metrics-file", "m.csv"]);
    assert_eq!(code, 0, "{err}{r:#}");
}

#[test]
fn history_comes_from_earlier_check_runs_on_the_commit() {
    let fake = Fake::start("").unwrap();
    let repo = Repo::new();
    repo.smoke("pytest-8.3.xml");
    let mut event = webhook_example("pull_request", Some("opened")).unwrap();
    event["pull_request"]["labels"] = json!([{"id": 1, "node_id": "L", "url": "", "name": "external-cause", "color": "f29513", "default": false,
        "description": "AWS us-east-1 outage https://health.aws.amazon.com/health/status"}]);
    fake.add_pull(event["pull_request"].clone());
    github_fake::support::base_policy(&fake, &event, ".github/release-gate.yml", POLICY);
    repo.write("event.json", serde_json::to_vec(&event).unwrap());
    let step = |run_id: &str, labels: bool| {
        let mut ev = event.clone();
        if !labels {
            ev["pull_request"]["labels"] = json!([]);
        }
        repo.write("event.json", serde_json::to_vec(&ev).unwrap());
        // Each workflow run starts from a clean checkout: no earlier reports.
        let _ = std::fs::remove_dir_all(repo.path("reports/release-gate"));
        let out = clean_command(Path::new(env!("CARGO_BIN_EXE_smoke-gate")))
            .current_dir(repo.root())
            .args(["--release", "2.4.0", "--format", "json", "--now", NOW, "--stage", "smoke"])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", "Codertocat/Hello-World")
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", repo.path("event.json"))
            .env("GITHUB_SHA", "0000000000000000000000000000000000000000")
            .env("GITHUB_RUN_ID", run_id)
            .env("GITHUB_API_URL", fake.base_url())
            .env("GITHUB_TOKEN", "ghs_smokegatetoken0123456789")
            .output()
            .unwrap();
        // In a runner, stdout also carries workflow commands: read the report file.
        let report = std::fs::read(repo.path("reports/release-gate/2.4.0/smoke-gate-smoke.json")).unwrap_or_default();
        (
            out.status.code().unwrap_or(-1),
            serde_json::from_slice(&report).unwrap_or(Value::Null),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // GitHub knows the commit and when it was made (before the reports ran).
    fake.set_commit_date(event["pull_request"]["head"]["sha"].as_str().unwrap(), "2026-12-01T12:30:00Z");
    let (_, r1, err) = step("100", false);
    assert_eq!(r1["outputs"]["decision"], "hold", "{err}\n{r1}");
    let (_, r2, _) = step("101", false);
    assert_eq!(r2["outputs"]["decision"], "rollback");
    assert!(msg(&r2, "history").contains("from check runs on this commit"));
    // The label's description carries a link on an allowed host.
    let (_, r3, _) = step("102", true);
    assert_eq!(r3["outputs"]["decision"], "hold");
    assert!(msg(&r3, "external-cause").contains("via label external-cause"));
    let runs = fake.check_runs();
    assert_eq!(runs.len(), 3);
    // Pinned time: dry runs, under their own check name (history counts among them).
    assert!(runs.iter().all(|r| r["name"] == "release-gate/smoke-gate/smoke (dry run)" && r["conclusion"] == "failure"));
    assert!(runs[1]["output"]["title"].as_str().unwrap().starts_with("smoke: failed → rollback"));
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    assert_eq!(fake.comments().len(), 1, "one sticky comment per stage");
}

/// A passing report stamped `at` (a suite `timestamp`, or none).
fn stamped(at: Option<&str>) -> String {
    let stamp = at.map(|t| format!(" timestamp=\"{t}\"")).unwrap_or_default();
    format!(
        "<?xml version=\"1.0\"?>\n<testsuites>\n<testsuite name=\"smoke\" tests=\"2\" failures=\"0\"{stamp}>\n\
         <testcase classname=\"t\" name=\"a\" time=\"0.1\"/>\n<testcase classname=\"t\" name=\"b\" time=\"0.1\"/>\n</testsuite>\n</testsuites>\n"
    )
}

#[test]
fn reports_from_an_earlier_build_never_promote() {
    let repo = Repo::new();
    let report = "reports/release-smoke/2.4.0/junit.xml";
    // Fresh, by its own timestamp (any of the forms reporters write): promotes, and says which time was used.
    for at in ["2026-12-01T13:05:00Z", "2026-12-01T13:05:00", "Tue, 01 Dec 2026 13:05:12 GMT", "2026-12-01T15:05:00+02:00"] {
        repo.write(report, stamped(Some(at)));
        let (code, r, err) = repo.run(&["--stage", "smoke"]);
        assert_eq!(code, 0, "{at}: {err}\n{r:#}");
        assert!(msg(&r, "fresh").contains("by their own timestamps"), "{at}: {}", msg(&r, "fresh"));
    }
    // Two days old: an earlier build's results.
    repo.write(report, stamped(Some("2026-11-29T13:05:00Z")));
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1);
    assert_ne!(r["outputs"]["decision"], "promote");
    assert_eq!(check(&r, "fresh")["status"], "fail");
    assert!(msg(&r, "fresh").contains("junit.xml:3 says it ran at 2026-11-29T13:05:00Z, more than max-age 24h"), "{}", msg(&r, "fresh"));
    // One stale suite beside a fresh one is enough.
    let mixed = stamped(Some("2026-12-01T13:05:00Z")).replace(
        "</testsuites>",
        "<testsuite name=\"old\" tests=\"1\" timestamp=\"2026-11-20T10:00:00Z\"><testcase classname=\"t\" name=\"c\"/></testsuite>\n</testsuites>",
    );
    repo.write(report, mixed);
    assert_eq!(repo.run(&["--stage", "smoke"]).0, 1);
    // From the future (beyond a few minutes of clock skew).
    repo.write(report, stamped(Some("2026-12-01T16:00:00Z")));
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1);
    assert!(msg(&r, "fresh").contains("from the future"), "{}", msg(&r, "fresh"));
    // The stage's own max-age.
    repo.write(report, stamped(Some("2026-12-01T13:05:00Z")));
    repo.write(
        ".github/release-gate.yml",
        POLICY.replace(
            "reports: [\"reports/release-smoke/{release}/**/*.xml*\"]",
            "reports: [\"reports/release-smoke/{release}/**/*.xml*\"]\n      max-age: 30m",
        ),
    );
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1);
    assert!(msg(&r, "fresh").contains("more than max-age 30m"), "{}", msg(&r, "fresh"));
    repo.write(".github/release-gate.yml", POLICY);
    // A timestamp that is not a time: bad input on its line.
    repo.write(report, stamped(Some("yesterday")));
    let (code, _, err) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("junit.xml:3") && err.contains("timestamp `yesterday` is not a time"), "{err}");
    // No timestamp: the file's age decides, and the report says so.
    repo.write(report, stamped(None));
    let touch = |at: &str| assert!(std::process::Command::new("touch").args(["-d", at]).arg(repo.path(report)).status().unwrap().success());
    touch("2026-12-01T13:00:00Z");
    let (code, r, err) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 0, "{err}");
    assert!(msg(&r, "fresh").contains("by the file's age (no timestamp in the report)"), "{}", msg(&r, "fresh"));
    touch("2026-11-01T00:00:00Z");
    let (code, r, _) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1);
    assert!(msg(&r, "fresh").contains("has no timestamp and was last written at 2026-11-01T00:00:00Z"), "{}", msg(&r, "fresh"));
}

#[test]
fn a_report_that_ran_before_the_commit_was_made_is_an_earlier_builds() {
    let repo = Repo::new();
    std::fs::remove_dir_all(repo.path(".git")).unwrap();
    let git = |args: &[&str], date: &str| {
        let ok = std::process::Command::new("git")
            .current_dir(repo.root())
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .env("GIT_COMMITTER_DATE", date)
            .env("GIT_AUTHOR_DATE", date)
            .output()
            .unwrap();
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    };
    git(&["init", "-q"], "2026-12-01T12:00:00Z");
    git(&["add", "-A"], "2026-12-01T12:00:00Z");
    git(&["commit", "-q", "-m", "release 2.4.0"], "2026-12-01T13:30:00Z");
    repo.write("reports/release-smoke/2.4.0/junit.xml", stamped(Some("2026-12-01T13:05:00Z")));
    let (code, r, err) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 1, "{err}");
    assert!(msg(&r, "fresh").contains("before commit") && msg(&r, "fresh").contains("2026-12-01T13:30:00Z"), "{}", msg(&r, "fresh"));
    // Run after the commit: promotes, naming the commit it was compared with.
    repo.write("reports/release-smoke/2.4.0/junit.xml", stamped(Some("2026-12-01T13:40:00Z")));
    let (code, r, err) = repo.run(&["--stage", "smoke"]);
    assert_eq!(code, 0, "{err}");
    assert!(msg(&r, "fresh").contains("none before commit"), "{}", msg(&r, "fresh"));
}
