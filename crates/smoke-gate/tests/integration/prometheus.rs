//! smoke-gate against a real Prometheus (Debian's `prometheus`, installed by
//! scripts/test), started here on 127.0.0.1 with an hour of history
//! backfilled by `promtool tsdb create-blocks-from openmetrics`.

#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use github_fake::support::clean_command;
use serde_json::Value;

struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Scenarios, one label value each: (scenario, canary latency, canary throughput, error ratio).
const SCENARIOS: [(&str, f64, f64, f64); 4] =
    [("ok", 41.0, 995.0, 0.0002), ("slow", 46.0, 1000.0, 0.0002), ("erroring", 41.0, 1000.0, 0.09), ("dip", 41.0, 900.0, 0.0002)];

fn start(now: i64) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    // One point every 30 s for the hour before now.
    let mut om = String::new();
    for (metric, help) in
        [("order_latency_p99_ms", "p99 order latency"), ("orders_per_second", "order throughput"), ("order_error_ratio", "errors/orders")]
    {
        let _ = writeln!(om, "# HELP {metric} {help}\n# TYPE {metric} gauge");
        for (scenario, latency, throughput, errors) in SCENARIOS {
            for (version, value) in match metric {
                "order_latency_p99_ms" => [("canary", latency), ("stable", 40.0)],
                "orders_per_second" => [("canary", throughput), ("stable", 1000.0)],
                _ => [("canary", errors), ("stable", 0.0001)],
            } {
                for i in 0..=120 {
                    let t = now - 3600 + i * 30;
                    let wobble = if i % 2 == 0 { 0.2 } else { -0.2 } * if metric == "order_error_ratio" { 0.0 } else { 1.0 };
                    let _ = writeln!(om, "{metric}{{scenario=\"{scenario}\",version=\"{version}\"}} {} {t}", value + wobble);
                }
            }
        }
    }
    om.push_str("# EOF\n");
    std::fs::write(dir.path().join("history.om"), om).unwrap();
    let data = dir.path().join("data");
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(dir.path().join("history.om"))
        .arg(&data)
        .output()
        .expect("promtool not found: install Debian's `prometheus` (scripts/test does)");
    assert!(out.status.success(), "promtool: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(dir.path().join("prometheus.yml"), "global:\n  scrape_interval: 1h\n").unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=30d")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus not found: install Debian's `prometheus` (scripts/test does)");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = ureq::get(&format!("{url}/-/ready")).call().is_ok_and(|r| r.status() == 200);
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "Prometheus did not become ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    Prometheus { child, url, _dir: dir }
}

fn policy(scenario: &str) -> String {
    format!(
        r#"smoke-gate:
  stages:
    canary:
      metrics:
        source: prometheus
        window: 30m
        metrics:
          - name: order latency p99
            query: 'avg(order_latency_p99_ms{{scenario="{scenario}",version="canary"}})'
            baseline: 'avg(order_latency_p99_ms{{scenario="{scenario}",version="stable"}})'
            critical: true
          - name: order throughput
            query: 'sum(orders_per_second{{scenario="{scenario}",version="canary"}})'
            baseline: 'sum(orders_per_second{{scenario="{scenario}",version="stable"}})'
            direction: higher-is-better
        error-budget:
          query: 'max(order_error_ratio{{scenario="{scenario}",version="canary"}})'
          slo: 0.999
          period: 30d
          max-consumption: 5
"#
    )
}

fn gate(prom: &Prometheus, policy_text: &str, now: &str) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".github")).unwrap();
    std::fs::write(dir.path().join(".github/release-gate.yml"), policy_text).unwrap();
    let out = clean_command(Path::new(env!("CARGO_BIN_EXE_smoke-gate")))
        .current_dir(dir.path())
        .args(["--release", "2.4.0", "--format", "json", "--stage", "canary", "--now", now, "--prometheus-url", &prom.url])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn msg(r: &Value, id: &str) -> String {
    r["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
        .map(|c| c["message"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[test]
fn canary_decisions_from_a_real_prometheus() {
    let now = jiff::Timestamp::now().as_second();
    let prom = start(now);
    let at = jiff::Timestamp::from_second(now).unwrap().to_string();

    let (code, r, err) = gate(&prom, &policy("ok"), &at);
    assert_eq!((code, r["outputs"]["decision"].as_str()), (0, Some("promote")), "{err}{r:#}");
    assert!(msg(&r, "metric:order latency p99").contains("vs baseline 40"), "{}", msg(&r, "metric:order latency p99"));

    // Critical KPI 15 % over its baseline: rollback.
    let (code, r, _) = gate(&prom, &policy("slow"), &at);
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("rollback")), "{r:#}");
    assert!(msg(&r, "metric:order latency p99").contains("critical KPI"));

    // 9 % errors for 30 minutes burn > 5 % of a 99.9 % monthly budget: rollback.
    let (_, r, _) = gate(&prom, &policy("erroring"), &at);
    assert_eq!(r["outputs"]["decision"], "rollback", "{r:#}");
    assert!(msg(&r, "error-budget").contains("rollback"));

    // Throughput 10 % down, not critical: the stage fails and holds.
    let (_, r, _) = gate(&prom, &policy("dip"), &at);
    assert_eq!(r["outputs"]["decision"], "hold", "{r:#}");
    assert!(msg(&r, "metric:order throughput").contains("outside ±5 %"));

    // No data (no such scenario): inconclusive, hold.
    let (code, r, _) = gate(&prom, &policy("absent"), &at);
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("hold")));
    assert!(msg(&r, "metric:order latency p99").contains("no data in the window"));

    // A query Prometheus refuses, and one that returns several series: inconclusive.
    let bad = policy("ok")
        .replace("avg(order_latency_p99_ms{scenario=\"ok\",version=\"canary\"})", "rate(order_latency_p99_ms[")
        .replace("sum(orders_per_second{scenario=\"ok\",version=\"canary\"})", "orders_per_second");
    let (_, r, _) = gate(&prom, &bad, &at);
    assert_eq!(r["outputs"]["decision"], "hold");
    assert!(
        msg(&r, "metric:order latency p99").contains("Prometheus refused the query (400 bad_data)"),
        "{}",
        msg(&r, "metric:order latency p99")
    );
    assert!(msg(&r, "metric:order throughput").contains("series; aggregate it to one"), "{}", msg(&r, "metric:order throughput"));

    // Prometheus gone: inconclusive, never a pass.
    drop(prom);
    let prom_gone =
        Prometheus { child: Command::new("true").spawn().unwrap(), url: "http://127.0.0.1:9".into(), _dir: tempfile::tempdir().unwrap() };
    let (code, r, _) = gate(&prom_gone, &policy("ok"), &at);
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("hold")));
    assert!(msg(&r, "metric:order latency p99").contains("could not be reached"));
}
