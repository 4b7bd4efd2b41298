//! release-guard end to end: offline on the bundled example's files, and
//! online against the PagerDuty fake (written from PagerDuty's description)
//! and the GitHub fake (workflows disabled, enabled, dispatched), with a
//! local receiver standing in for the rollback channel's webhook.

#![allow(clippy::unwrap_used)]

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use github_fake::Fake;
use github_fake::pagerduty::PagerDuty;
use github_fake::support::{TempRepo, clean_command};
use release_gate_core::decision_log::{Lifecycle, State, Transition};
use serde_json::Value;

const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const PD_TOKEN: &str = "u+pagerdutyRestKey01";
const ROUTING_KEY: &str = "R0UT1NGKEY0123456789abcdef012345";

fn bin() -> Command {
    clean_command(Path::new(env!("CARGO_BIN_EXE_release-guard")))
}

fn parse(out: &std::process::Output) -> (i32, Value, String) {
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A decision log for `release` whose lifecycle went through `states`,
/// from 13:00 on 2026-12-01, a minute apart.
fn log(release: &str, states: &[State]) -> String {
    let mut lc = Lifecycle::new(release);
    for (i, s) in states.iter().enumerate() {
        lc.record(Transition {
            to: *s,
            at: format!("2026-12-01T13:{:02}:00Z", i * 5),
            by: "carol".into(),
            via: "test".into(),
            commit: Some(SHA.into()),
            why: "test".into(),
        })
        .unwrap();
    }
    lc.write(&format!("# Release {release} Decision Log\n"))
}

fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    github_fake::support::copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tradepulse"), dir.path(), "release-gate")
        .unwrap();
    // Each release decided GO at 13:00 and nothing after: the guard records the rest;
    // 2.4.0 succeeded before 2.4.1 (the last known-good release).
    let logs = dir.path().join("reports/release-decisions");
    std::fs::write(logs.join("2.4.0.md"), log("2.4.0", &[State::Go])).unwrap();
    std::fs::write(logs.join("2.4.1.md"), log("2.4.1", &[State::Go])).unwrap();
    // The earlier stages' reports, as `release-gate run` leaves them.
    for stage in ["smoke", "fast-suite", "canary"] {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../examples/tradepulse/reports/release-gate/2.4.0/smoke-gate-{stage}.json"));
        let dst = dir.path().join(format!("reports/release-gate/2.4.0/smoke-gate-{stage}.json"));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(src, dst).unwrap();
    }
    dir
}

fn offline(dir: &Path, release: &str, now: &str) -> (i32, Value, String) {
    parse(
        &bin()
            .arg("--root")
            .arg(dir)
            .args(["--release", release, "--deployed-at", "2026-12-01T13:30:00Z", "--now", now, "--format", "json"])
            .output()
            .unwrap(),
    )
}

fn check<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no {id}: {r:#}"))
}

#[test]
fn offline_the_example_release_succeeds_only_when_the_guard_has_ended() {
    let dir = example();
    let (code, r, err) = offline(dir.path(), "2.4.0", "2026-12-01T14:00:00Z");
    assert_eq!(code, 0, "{err}");
    assert_eq!(r["outputs"]["decision"], "watching", "{r:#}");
    let (code, r, err) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
    assert_eq!(code, 0, "{err}");
    assert_eq!(r["outputs"]["decision"], "success", "{r:#}");
    assert_eq!(r["data"]["retrospective_due"], "2026-12-03T13:30:00Z");
    // An earlier stage that held: success is blocked.
    let canary = dir.path().join("reports/release-gate/2.4.0/smoke-gate-canary.json");
    std::fs::write(&canary, std::fs::read_to_string(&canary).unwrap().replace(r#""decision": "promote""#, r#""decision": "hold""#))
        .unwrap();
    let (code, r, _) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("blocked")), "{r:#}");
    assert!(check(&r, "stages")["message"].as_str().unwrap().contains("smoke-gate-canary: decided hold"));
}

#[test]
fn offline_a_promoted_report_of_another_stage_or_release_is_not_this_stages_promotion() {
    let dir = example();
    let reports = dir.path().join("reports/release-gate/2.4.0");
    let canary = reports.join("smoke-gate-canary.json");
    let promoted = std::fs::read_to_string(&canary).unwrap();
    // Another release's promoted canary, in this release's place.
    std::fs::write(&canary, promoted.replace(r#""release": "2.4.0""#, r#""release": "2.3.9""#)).unwrap();
    let (code, r, _) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("blocked")), "{r:#}");
    assert!(check(&r, "stages")["message"].as_str().unwrap().contains("is a report for release 2.3.9"), "{r:#}");
    // The smoke stage's promoted report copied over the canary's.
    std::fs::copy(reports.join("smoke-gate-smoke.json"), &canary).unwrap();
    let (code, r, _) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("blocked")), "{r:#}");
    assert!(check(&r, "stages")["message"].as_str().unwrap().contains("holds smoke-gate-smoke's report"), "{r:#}");
}

#[test]
fn offline_an_open_sev2_incident_pauses_and_the_plan_returns_to_the_last_go() {
    let dir = example();
    for stage in ["smoke", "fast-suite", "canary"] {
        let from = dir.path().join(format!("reports/release-gate/2.4.0/smoke-gate-{stage}.json"));
        let to = dir.path().join(format!("reports/release-gate/2.4.1/smoke-gate-{stage}.json"));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(&to, std::fs::read_to_string(&from).unwrap().replace("\"2.4.0\"", "\"2.4.1\"")).unwrap();
    }
    let (code, r, err) = offline(dir.path(), "2.4.1", "2026-12-01T14:30:00Z");
    assert_eq!(code, 1, "{err}");
    assert_eq!(r["outputs"]["decision"], "pause");
    assert_eq!(r["outputs"]["previous_release"], "2.4.0", "the last release whose log says GO");
    assert!(check(&r, "incidents")["message"].as_str().unwrap().contains("#4187"), "{r:#}");
    assert_eq!(r["data"]["incidents"][0]["severity"], 2);
    let steps: Vec<&str> = r["data"]["procedure"].as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap()).collect();
    assert!(steps.iter().all(|s| *s == "planned" || *s == "not configured"), "offline nothing is carried out: {steps:?}");
    assert!(r["data"]["procedure"].to_string().contains("dispatch .github/workflows/rollback.yml with tag v2.4.0"));
    // Each step once: the pause disables the workflows; the plan does not list it again.
    let whats: Vec<&str> = r["data"]["procedure"].as_array().unwrap().iter().map(|s| s["what"].as_str().unwrap()).collect();
    assert_eq!(whats.iter().filter(|w| w.contains("continuous deployment")).count(), 1, "{whats:?}");
    // The pause is recorded in the lifecycle; a later run cannot call it a success.
    let text = std::fs::read_to_string(dir.path().join("reports/release-decisions/2.4.1.md")).unwrap();
    let lc = Lifecycle::read(&text, "2.4.1", "log").unwrap();
    assert_eq!(lc.state(), Some(State::Paused), "{text}");
    assert_eq!(lc.deployed().unwrap().at, "2026-12-01T13:30:00Z");
    std::fs::write(dir.path().join("reports/incidents/2.4.1.json"), r#"{"incidents": []}"#).unwrap();
    let (code, r, _) = offline(dir.path(), "2.4.1", "2026-12-01T14:40:00Z");
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("pause")), "paused until a resume: {r:#}");
    assert!(check(&r, "lifecycle")["message"].as_str().unwrap().contains("release-guard resume"), "{r:#}");
}

fn guard(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    parse(&bin().arg("--root").arg(dir).args(["--format", "json"]).args(args).output().unwrap())
}

#[test]
fn offline_the_deploy_time_is_recorded_once_and_never_moves() {
    let dir = example();
    // No deploy recorded and none given: refused, never "the log's date".
    let (code, _, err) = guard(dir.path(), &["--release", "2.4.0", "--now", "2026-12-01T14:30:00Z"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no deploy time: the release's lifecycle records no deploy"), "{err}");
    // Before the GO (13:00): refused.
    let (code, _, err) =
        guard(dir.path(), &["--release", "2.4.0", "--deployed-at", "2026-12-01T12:00:00Z", "--now", "2026-12-01T13:30:00Z"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is before the GO at 2026-12-01T13:00:00Z"), "{err}");
    // The first run records it.
    let (code, r, err) = offline(dir.path(), "2.4.0", "2026-12-01T14:00:00Z");
    assert_eq!((code, r["outputs"]["decision"].as_str()), (0, Some("watching")), "{err}\n{r:#}");
    // Another --deployed-at later: refused, naming the recorded one.
    let (code, _, err) =
        guard(dir.path(), &["--release", "2.4.0", "--deployed-at", "2026-12-01T14:10:00Z", "--now", "2026-12-01T15:20:00Z"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the deploy happened once, at 2026-12-01T13:30:00Z"), "{err}");
    // The log's date/time rewritten (as every decision-log-commit run did): the guard keeps the recorded deploy.
    let path = dir.path().join("reports/release-decisions/2.4.0.md");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("2026-12-01 13:30 UTC", "2026-12-01 14:20 UTC")).unwrap();
    let (code, r, err) = guard(dir.path(), &["--release", "2.4.0", "--now", "2026-12-01T14:30:00Z"]);
    assert_eq!((code, r["outputs"]["decision"].as_str()), (0, Some("success")), "{err}\n{r:#}");
    assert_eq!(r["data"]["deployed_at"], "2026-12-01T13:30:00Z");
    // A lifecycle edited by hand to move the deploy back in time: refused as a record that cannot be trusted.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace(r#""to":"deployed","at":"2026-12-01T13:30:00Z""#, r#""to":"deployed","at":"2026-12-01T12:30:00Z""#))
        .unwrap();
    let (code, _, err) = guard(dir.path(), &["--release", "2.4.0", "--now", "2026-12-01T14:30:00Z"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("goes back in time") || err.contains("before the GO"), "{err}");
}

/// Rewrites the example's release-guard section (first key to last) with `f`.
fn edit_policy(dir: &Path, f: impl Fn(String) -> String) {
    let p = dir.join(".github/release-gate.yml");
    std::fs::write(&p, f(std::fs::read_to_string(&p).unwrap())).unwrap();
}

#[test]
fn offline_the_runbooks_minimums_are_floors_without_a_signed_deviation() {
    let dir = example();
    edit_policy(dir.path(), |t| t.replace("  guard: 60m ", "  guard: 5m "));
    let (code, _, err) = offline(dir.path(), "2.4.0", "2026-12-01T13:40:00Z");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("release-guard.guard is 5m, beyond the runbook's 60 minutes in production (§4.3)"), "{err}");
    for (from, to, setting) in [
        ("critical: true}", "critical: true}", "release-guard.critical-deviation"),
        ("max-consumption: 5}\n  incidents:", "max-consumption: 7}\n  incidents:", "release-guard.metrics.error-budget.max-consumption"),
        // Loosened readings: a tolerance wider than the runbook's (or than the critical deviation), a
        // metric's own, thinner coverage, longer holes, wider rolling windows, coarser steps, a short look-back.
        ("  guard: 60m ", "  tolerance: 20\n  guard: 60m ", "release-guard.tolerance is 20"),
        (
            "production\", baseline: \"order_latency_p99_ms:stable\", direction: lower-is-better, critical: true}",
            "production\", baseline: \"order_latency_p99_ms:stable\", direction: lower-is-better, critical: true, tolerance: 12}",
            "release-guard.metrics.metrics[order latency p99 (ms)].tolerance is 12",
        ),
        ("    window: 60m\n", "    window: 60m\n    coverage: 0.1\n", "release-guard.metrics.coverage is 0.1"),
        ("    window: 60m\n", "    window: 60m\n    max-gap: 30\n", "release-guard.metrics.max-gap is 30"),
        ("    window: 60m\n", "    window: 60m\n    rolling: 60m\n", "release-guard.metrics.rolling is 60m"),
        ("    window: 60m\n", "    window: 60m\n    step: 30m\n", "release-guard.metrics.step is 30m"),
        (
            "    file: reports/incidents/{release}.json",
            "    file: reports/incidents/{release}.json\n    look-back: 1m",
            "release-guard.incidents.look-back is 1m",
        ),
    ] {
        let dir = example();
        edit_policy(dir.path(), |t| {
            let t = t.replacen(from, to, 1);
            if setting.ends_with("critical-deviation") {
                t.replace("release-guard:\n  guard: 60m", "release-guard:\n  critical-deviation: 25\n  guard: 60m")
            } else {
                t
            }
        });
        let (code, _, err) = offline(dir.path(), "2.4.0", "2026-12-01T13:40:00Z");
        assert_eq!(code, 2, "{setting}: {err}");
        assert!(err.contains(setting), "{err}");
    }
    // A deviation signed by the named approver for this exact value: allowed, and shown as a deviation.
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("alice");
    assert!(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f"]).arg(&key).status().unwrap().success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    std::fs::write(dir.path().join(".github/deviation_signers"), format!("alice namespaces=\"release-gate-deviation\" {public}")).unwrap();
    edit_policy(dir.path(), |t| format!("{t}\nevaluation:\n  deviations:\n    allowed-signers: .github/deviation_signers\n"));
    let deviations = dir.path().join(".github/deviations");
    std::fs::create_dir_all(&deviations).unwrap();
    let write = |value: &str, expires: &str| {
        let f = deviations.join("short-guard.yaml");
        std::fs::write(
            &f,
            format!("setting: release-guard.guard\nvalue: {value}\nrelease: \"2.4.*\"\nreason: hotfix train\nticket: RISK-2301\napprover: alice\ncreated: 2026-11-30T09:00:00Z\nexpires: {expires}\n"),
        )
        .unwrap();
        let _ = std::fs::remove_file(deviations.join("short-guard.yaml.sig"));
        assert!(
            Command::new("ssh-keygen")
                .args(["-Y", "sign", "-n", "release-gate-deviation", "-f"])
                .arg(&key)
                .arg(&f)
                .output()
                .unwrap()
                .status
                .success()
        );
    };
    write("10m", "2026-12-14T00:00:00Z");
    let (code, _, err) = offline(dir.path(), "2.4.0", "2026-12-01T13:40:00Z");
    assert_eq!(code, 2, "a deviation for another value grants nothing: {err}");
    assert!(err.contains("allows 10m, not 5m"), "{err}");
    write("5m", "2026-12-01T00:00:00Z");
    let (code, _, err) = offline(dir.path(), "2.4.0", "2026-12-01T13:40:00Z");
    assert_eq!(code, 2, "an expired one neither: {err}");
    assert!(err.contains("expired"), "{err}");
    write("5m", "2026-12-14T00:00:00Z");
    let (code, r, err) = offline(dir.path(), "2.4.0", "2026-12-01T13:40:00Z");
    assert_eq!(code, 0, "{err}\n{r:#}");
    let dev = check(&r, "deviation");
    assert_eq!(dev["status"], "warn");
    assert!(
        dev["message"].as_str().unwrap().contains(
            "release-guard.guard is 5m (the runbook's 60 minutes in production (§4.3)), signed by alice until 2026-12-14T00:00:00Z"
        ),
        "{dev}"
    );
    // Tampered after signing: refused.
    let f = deviations.join("short-guard.yaml");
    std::fs::write(&f, std::fs::read_to_string(&f).unwrap().replace("2.4.*", "*")).unwrap();
    assert_eq!(offline(dir.path(), "2.4.0", "2026-12-01T13:40:00Z").0, 2);
}

/// The example's production series for 2.4.0, each edited by `f(series name, minute, value)`.
fn metrics(dir: &Path, f: impl Fn(&str, usize, f64) -> Option<f64>) {
    let p = dir.join("reports/production/2.4.0/metrics.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    for (name, series) in v.as_object_mut().unwrap() {
        let kept: Vec<Value> = series
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .filter_map(|(i, pt)| f(name, i, pt[1].as_f64().unwrap()).map(|x| serde_json::json!([pt[0].clone(), x])))
            .collect();
        *series = Value::Array(kept);
    }
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
}

#[test]
fn offline_no_metric_holes_in_the_data_and_a_spike_never_make_a_success() {
    // No metric configured: blocked at the end, with what to configure.
    let dir = example();
    edit_policy(dir.path(), |t| {
        let a = t.find("  metrics:                     # production").unwrap();
        let b = t.find("  incidents:                   # in production").unwrap();
        format!("{}{}", &t[..a], &t[b..])
    });
    let (code, r, _) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("blocked")), "{r:#}");
    assert!(check(&r, "metrics")["message"].as_str().unwrap().contains("set release-guard.metrics"), "{r:#}");
    // A critical series with a 49-minute hole: hold, never full coverage.
    let dir = example();
    metrics(dir.path(), |name, i, v| (!name.starts_with("order_latency_p99_ms:production") || !(6..55).contains(&i)).then_some(v));
    let (code, r, _) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("hold")), "{r:#}");
    assert!(check(&r, "metric:order latency p99 (ms)")["message"].as_str().unwrap().contains("sample slots"), "{r:#}");
    // Two samples an hour, evenly spaced: their own spacing would make them "every slot"; a minute's slots do not.
    let dir = example();
    metrics(dir.path(), |name, i, v| (!name.starts_with("order_latency_p99_ms:production") || i % 30 == 0).then_some(v));
    let (code, r, _) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("hold")), "{r:#}");
    assert!(check(&r, "metric:order latency p99 (ms)")["message"].as_str().unwrap().contains("sample slots"), "{r:#}");
    // A +50 % spike for five minutes of the hour: rollback, with the window named.
    let dir = example();
    metrics(dir.path(), |name, i, v| Some(if name == "order_latency_p99_ms:production" && (30..35).contains(&i) { v * 1.5 } else { v }));
    let (code, r, _) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("rollback")), "{r:#}");
    assert!(check(&r, "metric:order latency p99 (ms)")["message"].as_str().unwrap().contains("worst 5-minute window"), "{r:#}");
    // Five good values at each timestamp beside a regression: refused, at the series' line.
    let dir = example();
    let p = dir.path().join("reports/production/2.4.0/metrics.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let first = v["order_throughput_per_s:production"]
        .as_array()
        .cloned()
        .or_else(|| v["orders_per_second:production"].as_array().cloned())
        .unwrap();
    let key =
        if v["orders_per_second:production"].is_array() { "orders_per_second:production" } else { "order_throughput_per_s:production" };
    let mut doubled = first.clone();
    doubled.extend(first);
    v[key] = Value::Array(doubled);
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let (code, _, err) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("reports/production/2.4.0/metrics.json:") && err.contains("two points at"), "{err}");
}

#[test]
fn offline_incidents_count_by_their_own_times_and_are_never_read_low() {
    let incidents = |dir: &Path, list: Value| {
        std::fs::write(dir.join("reports/incidents/2.4.0.json"), serde_json::json!({"incidents": list}).to_string()).unwrap()
    };
    let one = |number: u64, created: &str, resolved: Option<&str>, priority: Option<&str>, kind: Value| {
        let mut i = serde_json::json!({"id": format!("Q{number}"), "incident_number": number, "title": "order router", "status": if resolved.is_some() { "resolved" } else { "triggered" },
            "urgency": "low", "created_at": created, "html_url": format!("https://pd/{number}"), "incident_type": kind});
        if let Some(r) = resolved {
            i["resolved_at"] = serde_json::json!(r);
        }
        if let Some(p) = priority {
            i["priority"] = serde_json::json!({"name": p});
        }
        i
    };
    let case = |list: Value, want: &str| {
        let dir = example();
        incidents(dir.path(), list.clone());
        let (_, r, err) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
        assert_eq!(r["outputs"]["decision"], want, "{list}\n{err}\n{r:#}");
        r
    };
    // Raised 20 minutes after the deploy, resolved 10 minutes later: never seen before; a pause now.
    case(
        serde_json::json!([one(
            1,
            "2026-12-01T13:50:00Z",
            Some("2026-12-01T14:00:00Z"),
            Some("P4"),
            serde_json::json!({"name": "incident_default"})
        )]),
        "pause",
    );
    // A P1 raised 5 minutes before the deploy and open throughout.
    case(serde_json::json!([one(2, "2026-12-01T13:25:00Z", None, Some("P1"), serde_json::json!({"name": "incident_default"}))]), "pause");
    // An unknown priority name is not read from its low urgency as Sev-4.
    let r = case(
        serde_json::json!([one(3, "2026-12-01T13:50:00Z", None, Some("SEV-1"), serde_json::json!({"name": "incident_default"}))]),
        "pause",
    );
    assert_eq!(r["data"]["incidents"][0]["severity"], 2, "the blocking severity, not the urgency's Sev-4: {r:#}");
    // A security incident, by its display name, whatever the case, resolved or not: rollback.
    case(
        serde_json::json!([one(
            4,
            "2026-12-01T13:50:00Z",
            Some("2026-12-01T13:55:00Z"),
            Some("P3"),
            serde_json::json!({"name": "sec_breach_v2", "display_name": "SECURITY"})
        )]),
        "rollback",
    );
    // Resolved before the deploy: not the release's.
    case(
        serde_json::json!([one(5, "2026-12-01T12:00:00Z", Some("2026-12-01T13:00:00Z"), Some("P1"), serde_json::json!({"name": "x"}))]),
        "success",
    );
}

#[test]
fn offline_resume_needs_a_named_approver_a_reason_and_no_standing_trigger() {
    let dir = example();
    for stage in ["smoke", "fast-suite", "canary"] {
        let from = dir.path().join(format!("reports/release-gate/2.4.0/smoke-gate-{stage}.json"));
        let to = dir.path().join(format!("reports/release-gate/2.4.1/smoke-gate-{stage}.json"));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(&to, std::fs::read_to_string(&from).unwrap().replace("\"2.4.0\"", "\"2.4.1\"")).unwrap();
    }
    assert_eq!(offline(dir.path(), "2.4.1", "2026-12-01T14:00:00Z").1["outputs"]["decision"], "pause");
    let resume = |now: &str, extra: &[&str]| guard(dir.path(), &[&["--release", "2.4.1", "--now", now, "resume"][..], extra].concat());
    // The incident is still open.
    let (code, r, _) = resume("2026-12-01T14:10:00Z", &["--approver", "dan", "--reason", "latency back"]);
    assert_eq!(code, 1, "{r:#}");
    assert!(check(&r, "incidents")["message"].as_str().unwrap().contains("still open"), "{r:#}");
    // Resolved; an outsider, and no reason: refused.
    let path = dir.path().join("reports/incidents/2.4.1.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let resolved = text.replace(r#""status": "acknowledged""#, r#""status": "resolved", "resolved_at": "2026-12-01T14:05:00Z""#);
    assert_ne!(text, resolved, "the example's incident is acknowledged");
    std::fs::write(&path, &resolved).unwrap();
    let (code, r, _) = resume("2026-12-01T14:10:00Z", &["--approver", "mallory", "--reason", "looks fine"]);
    assert_eq!(code, 1);
    assert!(check(&r, "approver")["message"].as_str().unwrap().contains("mallory is not named"), "{r:#}");
    let (code, r, _) = resume("2026-12-01T14:10:00Z", &["--approver", "dan"]);
    assert_eq!(code, 1);
    assert_eq!(check(&r, "reason")["status"], "fail", "{r:#}");
    // A failed migration stands: a rollback trigger, so no resume.
    edit_policy(dir.path(), |t| {
        t.replace("    automate: false ", "    migration-evidence: reports/migrations/{release}/result.json\n    automate: false ")
    });
    std::fs::write(dir.path().join("reports/migrations/2.4.1/result.json"), r#"{"status": "failed", "message": "relation exists"}"#)
        .unwrap();
    let (code, r, _) = resume("2026-12-01T14:10:00Z", &["--approver", "dan", "--reason", "latency back"]);
    assert_eq!(code, 1, "{r:#}");
    assert!(check(&r, "rollback-triggers")["message"].as_str().unwrap().contains("migration failure"), "{r:#}");
    // The migration succeeded: dan, the SRE Lead, resumes; recorded with who and why.
    std::fs::write(dir.path().join("reports/migrations/2.4.1/result.json"), r#"{"status": "succeeded"}"#).unwrap();
    let (code, r, err) = resume("2026-12-01T14:10:00Z", &["--approver", "dan", "--reason", "INC-4187 resolved, latency back"]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    let lc =
        Lifecycle::read(&std::fs::read_to_string(dir.path().join("reports/release-decisions/2.4.1.md")).unwrap(), "2.4.1", "log").unwrap();
    let last = lc.last().unwrap();
    assert_eq!((last.to, last.by.as_str()), (State::Watching, "dan"));
    assert!(last.why.contains("INC-4187 resolved, latency back"), "{last:?}");
    assert!(last.via.starts_with("release-guard resume"), "only resume records a resume: {last:?}");
    // Resumed, the guard watches again: the Sev-2 incident that touched the guard still blocks the success verdict.
    let (code, r, _) = offline(dir.path(), "2.4.1", "2026-12-01T14:35:00Z");
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("blocked")), "{r:#}");
    assert_eq!(check(&r, "sev2-outstanding")["status"], "fail");
}

#[test]
fn offline_a_breach_the_guard_recorded_is_never_resumed_away_by_leaving_the_flag_out() {
    let dir = example();
    let (code, r, err) = guard(
        dir.path(),
        &[
            "--release",
            "2.4.0",
            "--deployed-at",
            "2026-12-01T13:30:00Z",
            "--now",
            "2026-12-01T14:00:00Z",
            "--breach",
            "API key leaked in logs",
        ],
    );
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("rollback")), "{err}\n{r:#}");
    let log = dir.path().join("reports/release-decisions/2.4.0.md");
    let lc = Lifecycle::read(&std::fs::read_to_string(&log).unwrap(), "2.4.0", "log").unwrap();
    assert_eq!(lc.state(), Some(State::RolledBack));
    assert!(lc.last().unwrap().why.contains("API key leaked in logs"), "the trigger is recorded: {:?}", lc.last());
    // The resume is asked without --breach: the recorded breach still stands.
    let (code, r, _) = guard(
        dir.path(),
        &["--release", "2.4.0", "--now", "2026-12-01T14:20:00Z", "resume", "--approver", "dan", "--reason", "rotated the key"],
    );
    assert_eq!(code, 1, "{r:#}");
    let m = check(&r, "rollback-triggers")["message"].as_str().unwrap().to_owned();
    assert!(m.contains("recorded a security or compliance breach") && m.contains("cut a new release"), "{m}");
    let lc = Lifecycle::read(&std::fs::read_to_string(&log).unwrap(), "2.4.0", "log").unwrap();
    assert_eq!(lc.state(), Some(State::RolledBack), "still rolled back");
}

#[test]
fn offline_architecture_defaults_normalised_paths_and_a_deleted_adr_is_no_update() {
    let changes = |dir: &Path, text: &str| std::fs::write(dir.join("reports/changes/2.4.0.txt"), text).unwrap();
    let decision = |text: &str| {
        let dir = example();
        changes(dir.path(), text);
        let (_, r, _) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
        (
            r["outputs"]["decision"].as_str().unwrap_or_default().to_owned(),
            check(&r, "architecture")["message"].as_str().unwrap().to_owned(),
        )
    };
    // A migration by default needs an ADR; written `./migrations//x`, it is still one.
    let (d, m) = decision("A\t./migrations//versions/9_x.py\n");
    assert_eq!(d, "blocked", "{m}");
    assert!(m.contains("migrations/versions/9_x.py"), "{m}");
    // An ADR the release deletes is no update.
    let (d, m) = decision("M\tinfra/router.cfn.yaml\nD\tdocs/adr/0003-old.md\n");
    assert_eq!(d, "blocked", "{m}");
    let (d, _) = decision("M\tinfra/router.cfn.yaml\nA\tdocs/adr/0013-router.md\n");
    assert_eq!(d, "success");
    let (d, m) = decision("M\tservices/router/app.py\n");
    assert_eq!((d.as_str(), m.contains("touches no architecture path")), ("success", true), "{m}");
    // A monorepo's nested migration, one reached through `..`, one moved out of migrations/, one git quoted: each needs an ADR.
    for list in [
        "A\tservices/ledger/migrations/0042_x.py\n",
        "M\tservices/../migrations/versions/9_x.py\n",
        "R100\tmigrations/versions/9_x.py\tarchive/9_x.py\n",
        "A\t\"migrations/versions/caf\\303\\251.py\"\n",
    ] {
        let (d, m) = decision(list);
        assert_eq!(d, "blocked", "{list:?}: {m}");
    }
    // Nothing listed: what the release changed cannot be told, so no success.
    let (d, m) = decision("\n");
    assert_eq!(d, "blocked", "{m}");
    assert!(m.contains("is empty"), "{m}");
    // A name-status line without its tab does not read: exit 2 at its line, never "no architecture change".
    let dir = example();
    changes(dir.path(), "M\tservices/router/app.py\nA migrations/versions/9_x.py\n");
    let (code, _, err) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("reports/changes/2.4.0.txt:2") && err.contains("neither `git diff --name-status`"), "{err}");
}

#[test]
fn unreadable_incident_evidence_is_an_error_not_no_incident() {
    let dir = example();
    std::fs::remove_file(dir.path().join("reports/incidents/2.4.0.json")).unwrap();
    let (code, _, err) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("reports/incidents/2.4.0.json") && err.contains(r#"{"incidents": []}"#), "{err}");
    std::fs::write(
        dir.path().join("reports/incidents/2.4.0.json"),
        "{\"incidents\": [{\"id\": \"X\", \"status\": \"open\", \"created_at\": \"2026-12-01T14:00:00Z\"}]}",
    )
    .unwrap();
    let (code, _, err) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
    assert_eq!(code, 2);
    assert!(err.contains("status \"open\""), "{err}");
    std::fs::write(dir.path().join("reports/incidents/2.4.0.json"), "{\"incidents\": [\n  {\"id\": 7,}\n]}").unwrap();
    let (code, _, err) = offline(dir.path(), "2.4.0", "2026-12-01T14:30:00Z");
    assert_eq!(code, 2);
    assert!(err.contains("reports/incidents/2.4.0.json:2:"), "{err}");
}

/// A local HTTP receiver for the rollback channel's webhook: answers 200, keeps the bodies.
fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/rollback", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut s = stream;
            let mut buf = vec![0u8; 65536];
            let mut n = 0;
            while let Ok(k) = s.read(&mut buf[n..]) {
                n += k;
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if let Some(i) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if n >= i + 4 + len {
                        keep.lock().unwrap().push(text[i + 4..].to_owned());
                        break;
                    }
                }
                if k == 0 {
                    break;
                }
            }
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (url, got)
}

struct Online {
    fake: Fake,
    pd: PagerDuty,
    repo: TempRepo,
    hook: String,
    said: Arc<Mutex<Vec<String>>>,
}

impl Online {
    fn new() -> Self {
        let fake = Fake::start("").unwrap();
        let pd = PagerDuty::start(PD_TOKEN).unwrap();
        let (hook, said) = receiver();
        let repo = TempRepo::new();
        repo.write(
            ".github/release-gate.yml",
            format!(
                "release-guard:\n  incidents:\n    source: pagerduty\n    url: {}\n    services: [PORDRTR]\n    security-types: [security]\n  architecture-paths: []\n  pause-workflows: [.github/workflows/deploy.yml]\n  resume:\n    approvers: [dan, \"@tradepulse/sre-leads\"]\n  rollback:\n    automate: true\n    workflow: .github/workflows/rollback.yml\n    events-url: {}\ndecision-log-commit:\n  required: []\n",
                pd.rest_url(),
                pd.events_url()
            ),
        );
        // The last known-good release, to roll back to.
        repo.write("reports/release-decisions/2.4.0.md", log("2.4.0", &[State::Go, State::Deployed, State::Watching, State::Succeeded]));
        // 2.4.1 decided GO on SHA, its log on the release branch; SHA made an hour ago.
        fake.put_file("release/2.4.1", "reports/release-decisions/2.4.1.md", &log("2.4.1", &[State::Go]));
        let made = jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_hours(1)).unwrap();
        fake.set_commit_date(SHA, &made.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        Self { fake, pd, repo, hook, said }
    }

    /// The release's lifecycle on its branch now.
    fn lifecycle(&self) -> Lifecycle {
        Lifecycle::read(&self.fake.file("release/2.4.1", "reports/release-decisions/2.4.1.md").unwrap(), "2.4.1", "log").unwrap()
    }

    fn guard(&self, args: &[&str]) -> (i32, Value, String) {
        self.guard_as("release-captain", args)
    }

    /// The guard run by `actor`; the deploy recorded 20 minutes ago the first time.
    fn guard_as(&self, actor: &str, args: &[&str]) -> (i32, Value, String) {
        let deployed = jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_mins(20)).unwrap();
        let recorded = self.lifecycle().deployed().is_some();
        let at = format!("--deployed-at={}", deployed.strftime("%Y-%m-%dT%H:%M:%SZ"));
        let deploy: &[&str] = if recorded { &[] } else { &[&at] };
        parse(
            &bin()
                .current_dir(self.repo.root())
                .args(["--release", "2.4.1", "--format", "json"])
                .args(deploy)
                .args(args)
                .envs([
                    ("GITHUB_ACTOR", actor),
                    ("GITHUB_ACTIONS", "true"),
                    ("GITHUB_REPOSITORY", "o/r"),
                    ("GITHUB_SHA", SHA),
                    ("GITHUB_EVENT_NAME", "push"),
                    ("GITHUB_API_URL", self.fake.base_url().as_str()),
                    ("GITHUB_TOKEN", "ghs_releaseguard0123456789"),
                    ("PAGERDUTY_TOKEN", PD_TOKEN),
                    ("PAGERDUTY_ROUTING_KEY", ROUTING_KEY),
                    ("RELEASE_GATE_ROLLBACK_WEBHOOK", self.hook.as_str()),
                    ("RELEASE_GATE_HTTP_BACKOFF_MS", "10"),
                    ("RELEASE_GATE_COMMENT_MODE", "off"),
                ])
                .output()
                .unwrap(),
        )
    }

    fn incident(&self, n: u64, status: &str, priority: &str) {
        let at = jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_mins(5)).unwrap().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        self.pd.add_incident(n, status, "high", Some(priority), "PORDRTR", &at);
    }

    fn disabled(&self) -> Vec<String> {
        self.fake.with(|s| s.disabled_workflows.clone())
    }
}

#[test]
fn online_an_incident_pauses_the_pipeline_and_resume_needs_it_resolved() {
    let o = Online::new();
    o.incident(4187, "acknowledged", "P2");
    let (code, r, err) = o.guard(&[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(r["outputs"]["decision"], "pause", "{r:#}");
    assert_eq!(o.disabled(), vec!["deploy.yml"], "the continuous-deployment workflow is disabled");
    assert!(o.said.lock().unwrap().is_empty(), "a pause posts nothing to the rollback channel");
    assert!(o.pd.events().is_empty(), "and pages nobody");
    assert_eq!(o.lifecycle().state(), Some(State::Paused), "the pause is recorded on the release branch");
    // Resume while the incident is open: refused, the workflow stays disabled.
    let (code, r, _) = o.guard_as("dan", &["resume", "--reason", "looks fine"]);
    assert_eq!(code, 1);
    assert!(r["title"].as_str().unwrap().contains("still paused"), "{r:#}");
    assert_eq!(o.disabled(), vec!["deploy.yml"]);
    // Resolved; an outsider, then a named approver with read access only: refused.
    let resolved =
        jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_mins(1)).unwrap().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    o.pd.resolve(4187, &resolved);
    let (code, r, _) = o.guard_as("mallory", &["resume", "--reason", "looks fine"]);
    assert_eq!(code, 1, "{r:#}");
    assert!(check(&r, "approver")["message"].as_str().unwrap().contains("mallory is not one of"), "{r:#}");
    o.fake.set_permission("dan", "read");
    let (code, r, _) = o.guard_as("dan", &["resume", "--reason", "INC-4187 resolved"]);
    assert_eq!(code, 1, "{r:#}");
    assert!(check(&r, "approver")["message"].as_str().unwrap().contains("read permission"), "{r:#}");
    // A member of the SRE Leads team with write access resumes; the workflow runs again.
    o.fake.add_team_member("tradepulse/sre-leads", "erin");
    o.fake.set_permission("erin", "write");
    let (code, r, err) = o.guard_as("erin", &["resume", "--reason", "INC-4187 resolved, latency back to baseline"]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    assert!(o.disabled().is_empty());
    let last = o.lifecycle().last().cloned().unwrap();
    assert_eq!((last.to, last.by.as_str()), (State::Watching, "erin"));
    assert!(last.why.contains("via @tradepulse/sre-leads") && last.why.contains("latency back to baseline"), "{last:?}");
    assert!(o.pd.problems().is_empty(), "{:?}", o.pd.problems());
    assert!(o.fake.violations().is_empty(), "{:?}", o.fake.violations());
    assert!(!err.contains(PD_TOKEN) && !r.to_string().contains(PD_TOKEN), "the PagerDuty key leaked");
}

#[test]
fn online_a_security_incident_carries_out_the_rollback_procedure() {
    let o = Online::new();
    o.incident(4201, "triggered", "P3");
    o.pd.set_incident(4201, "incident_type", serde_json::json!({"name": "security"}));
    // PagerDuty throttles once: the guard waits for Retry-After and goes on.
    o.pd.fault("/incidents", 429, Some(1), 1);
    let (code, r, err) = o.guard(&[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(r["outputs"]["decision"], "rollback", "{r:#}");
    let states: Vec<(String, String)> = r["data"]["procedure"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["what"].as_str().unwrap().to_owned(), s["state"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(states[0].1, "done", "{states:?}");
    let said = o.said.lock().unwrap().clone();
    assert_eq!(said.len(), 1, "one message to the rollback channel");
    assert!(said[0].contains("Rollback of release 2.4.1") && said[0].contains("security"), "{said:?}");
    let events = o.pd.events();
    assert_eq!(events.len(), 1, "the SRE lead is paged once");
    assert_eq!(events[0]["event_action"], "trigger");
    assert_eq!(events[0]["dedup_key"], "release-gate/rollback/2.4.1");
    assert_eq!(o.disabled(), vec!["deploy.yml"]);
    let dispatches = o.fake.with(|s| s.dispatches.clone());
    assert_eq!(dispatches.len(), 1);
    assert_eq!(dispatches[0].0, "rollback.yml");
    assert_eq!(dispatches[0].1["inputs"]["tag"], "v2.4.0");
    assert!(o.pd.problems().is_empty(), "{:?}", o.pd.problems());
    assert!(o.fake.violations().is_empty(), "{:?}", o.fake.violations());
    assert_eq!(o.lifecycle().state(), Some(State::RolledBack));
    // A resolved security incident is still a trigger: no resume.
    o.pd.resolve(4201, &jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    o.fake.set_permission("dan", "write");
    let (code, r, _) = o.guard_as("dan", &["resume", "--reason", "fixed"]);
    assert_eq!(code, 1, "{r:#}");
    assert!(check(&r, "rollback-triggers")["message"].as_str().unwrap().contains("security or compliance incident"), "{r:#}");
    // --plan-only: the same decision, nothing carried out.
    let o = Online::new();
    o.incident(4202, "triggered", "P1");
    let (_, r, _) = o.guard(&["--plan-only", "--breach", "customer data exposed"]);
    assert_eq!(r["outputs"]["decision"], "rollback");
    assert!(o.said.lock().unwrap().is_empty() && o.pd.events().is_empty());
    assert!(o.fake.with(|s| s.dispatches.is_empty()));
}

#[test]
fn online_a_security_label_that_cannot_be_read_is_never_no_breach() {
    let o = Online::new();
    // No incident, metrics not configured: only the label is in doubt.
    o.fake.inject(github_fake::Fault::new("GET", "/pulls", 403).message("Resource not accessible by integration"));
    let (code, r, err) = o.guard(&[]);
    assert_eq!(code, 2, "{err}\n{r:#}");
    assert!(err.contains("the security label `security-incident` cannot be ruled out; give the job `pull-requests: read`"), "{err}");
    assert!(err.contains("Resource not accessible by integration"), "GitHub's answer is kept: {err}");
    assert_ne!(r["outputs"]["decision"], "success", "{r:#}");
}

#[test]
fn online_every_page_is_read_whatever_limit_the_server_applied_and_the_query_asks_for_every_status() {
    let o = Online::new();
    // 30 resolved incidents of the hour before the deploy, then one in the guard: the server pages by 25.
    let before = jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_hours(3)).unwrap();
    for n in 1..=30u64 {
        let at = before.checked_add(jiff::SignedDuration::from_mins(n as i64)).unwrap().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        o.pd.add_incident(n, "resolved", "low", Some("P5"), "PORDRTR", &at);
        o.pd.resolve(n, &at);
    }
    o.incident(31, "triggered", "P4");
    o.pd.cap_pages(25);
    let (code, r, err) = o.guard(&[]);
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("pause")), "{err}\n{r:#}");
    assert!(check(&r, "incidents")["message"].as_str().unwrap().contains("#31"), "{r:#}");
    let queries: Vec<Vec<(String, String)>> = o.pd.seen().into_iter().filter(|q| q.call == "GET /incidents").map(|q| q.query).collect();
    let window: Vec<&Vec<(String, String)>> = queries.iter().filter(|q| q.iter().any(|(k, _)| k == "since")).collect();
    let offsets: Vec<&str> = window.iter().filter_map(|q| q.iter().find(|(k, _)| k == "offset").map(|(_, v)| v.as_str())).collect();
    assert_eq!(offsets, ["0", "25"], "the next page starts after what came back");
    let statuses: Vec<&str> = queries[0].iter().filter(|(k, _)| k == "statuses[]").map(|(_, v)| v.as_str()).collect();
    assert_eq!(statuses, ["triggered", "acknowledged", "resolved"]);
    let since: jiff::Timestamp = queries[0].iter().find(|(k, _)| k == "since").unwrap().1.parse().unwrap();
    assert!(since < jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_hours(24)).unwrap(), "a look-back before the deploy");
}

#[test]
fn online_an_incident_open_since_before_the_look_back_still_pauses_and_a_page_without_more_is_never_the_whole_list() {
    let o = Online::new();
    // Raised three days ago (before the 24 h look-back), never resolved: outstanding throughout the guard.
    let old = jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_hours(72)).unwrap().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    o.pd.add_incident(77, "acknowledged", "high", Some("P2"), "PORDRTR", &old);
    let (code, r, err) = o.guard(&[]);
    assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("pause")), "{err}\n{r:#}");
    assert!(check(&r, "incidents")["message"].as_str().unwrap().contains("#77"), "{r:#}");
    let queries: Vec<Vec<(String, String)>> = o.pd.seen().into_iter().filter(|q| q.call == "GET /incidents").map(|q| q.query).collect();
    assert!(
        queries
            .iter()
            .any(|q| q.contains(&("date_range".into(), "all".into())) && !q.iter().any(|(k, v)| k == "statuses[]" && v == "resolved")),
        "the open incidents, whenever raised: {queries:?}"
    );
    // A page that does not say whether more follow: the list cannot be read whole (exit 3), never "no incident".
    let o = Online::new();
    o.pd.drop_key("more", 1);
    let (code, r, err) = o.guard(&[]);
    assert_eq!(code, 3, "{err}\n{r:#}");
    assert!(err.contains("without `more`: whether more incidents follow cannot be told"), "{err}");
    assert_ne!(r["outputs"]["decision"], "success", "{r:#}");
}

#[test]
fn online_the_retrospective_issue_is_opened_once() {
    let o = Online::new();
    o.incident(4187, "acknowledged", "P2");
    let (_, r, _) = o.guard(&["--open-retrospective"]);
    assert_eq!(r["outputs"]["decision"], "pause", "{r:#}");
    let (_, r2, _) = o.guard(&["--open-retrospective"]);
    let issues = o.fake.with(|s| s.issues.clone());
    assert_eq!(issues.len(), 1, "one issue per release: {issues:#?}");
    assert_eq!(issues[0]["title"], "Retrospective: release 2.4.1");
    assert_eq!(r["data"]["retrospective_issue"], r2["data"]["retrospective_issue"]);
    assert!(o.fake.violations().is_empty(), "{:?}", o.fake.violations());
}

#[test]
fn online_pagerduty_failing_or_refusing_is_never_no_incident() {
    let o = Online::new();
    o.pd.fault("/incidents", 503, None, 10);
    let (code, _, err) = o.guard(&[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("GET") && err.contains("/incidents: could not be reached after 4 attempt(s)"), "{err}");
    // A wrong key: exit 2 saying where the key comes from, the key never printed.
    let o = Online::new();
    o.repo.write("reports/release-decisions/2.4.1.md", log("2.4.1", &[State::Go]));
    let out = bin()
        .current_dir(o.repo.root())
        .args(["--release", "2.4.1", "--deployed-at", "2026-12-01T13:30:00Z"])
        .env("PAGERDUTY_TOKEN", "u+notTheRightKey99")
        .env("RELEASE_GATE_HTTP_BACKOFF_MS", "10")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("PagerDuty refused the API key in $PAGERDUTY_TOKEN") && !err.contains("notTheRightKey"), "{err}");
}
