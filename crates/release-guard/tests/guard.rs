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

fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    github_fake::support::copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tradepulse"), dir.path(), "release-gate")
        .unwrap();
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
    let log = dir.path().join("reports/release-decisions/2.4.1.md");
    let _ = std::fs::remove_file(&log);
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
                "release-guard:\n  incidents:\n    source: pagerduty\n    url: {}\n    services: [PORDRTR]\n    security-types: [security]\n  pause-workflows: [.github/workflows/deploy.yml]\n  rollback:\n    automate: true\n    workflow: .github/workflows/rollback.yml\n    events-url: {}\ndecision-log-commit:\n  required: []\n",
                pd.rest_url(),
                pd.events_url()
            ),
        );
        // The last GO release, to roll back to.
        repo.write("reports/release-decisions/2.4.0.md", "# Release 2.4.0 Decision Log\n- **Go/No-Go Decision:** <!-- release-gate:begin go-no-go -->\n**GO** — every required gate passed\n<!-- release-gate:end go-no-go -->\n");
        Self { fake, pd, repo, hook, said }
    }

    fn guard(&self, args: &[&str]) -> (i32, Value, String) {
        let deployed = jiff::Timestamp::now().checked_sub(jiff::SignedDuration::from_mins(20)).unwrap();
        parse(
            &bin()
                .current_dir(self.repo.root())
                .args(["--release", "2.4.1", "--format", "json", "--deployed-at", &deployed.to_string()])
                .args(args)
                .envs([
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
    // Resume while the incident is open: refused, the workflow stays disabled.
    let (code, r, _) = o.guard(&["resume"]);
    assert_eq!(code, 1);
    assert!(r["title"].as_str().unwrap().contains("still paused"), "{r:#}");
    assert_eq!(o.disabled(), vec!["deploy.yml"]);
    // Resolved: PagerDuty no longer lists it as open; resume enables the workflow.
    o.pd.set_incident(4187, "status", serde_json::json!("resolved"));
    let (code, r, err) = o.guard(&["resume"]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    assert!(o.disabled().is_empty());
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
fn online_pagerduty_failing_or_refusing_is_never_no_incident() {
    let o = Online::new();
    o.pd.fault("/incidents", 503, None, 10);
    let (code, _, err) = o.guard(&[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("GET") && err.contains("/incidents: could not be reached after 4 attempt(s)"), "{err}");
    // A wrong key: exit 2 saying where the key comes from, the key never printed.
    let o = Online::new();
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
