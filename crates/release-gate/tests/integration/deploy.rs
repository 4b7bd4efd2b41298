//! `release-gate deploy-check` on copies of the bundled example: what a
//! deploy job runs first. Each test tries to get a pass out of a deploy that
//! the runbook refuses.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use github_fake::support::clean_command;
use serde_json::Value;

use super::common::OPEN; // Tuesday, inside the primary window
const WEEKEND: &str = "2026-12-05T13:30:00Z";

use super::common::example;

fn bin() -> Command {
    clean_command(Path::new(env!("CARGO_BIN_EXE_release-gate")))
}

fn deploy(dir: &Path, release: &str, now: &str) -> (i32, Value, String) {
    let out =
        bin().args(["deploy-check", "--root"]).arg(dir).args(["--release", release, "--now", now, "--format", "json"]).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn status<'a>(r: &'a Value, id: &str) -> &'a str {
    r["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no {id}: {r:#}"))["status"].as_str().unwrap()
}

fn message(r: &Value, id: &str) -> String {
    r["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()["message"].as_str().unwrap().to_owned()
}

#[test]
fn a_go_release_deploys_in_its_window_and_not_at_the_weekend() {
    let dir = example();
    let (code, r, err) = deploy(dir.path(), "2.4.0", OPEN);
    assert_eq!(code, 0, "{err}\n{r:#}");
    for id in ["decision-log", "gates", "config-hashes", "freeze"] {
        assert_eq!(status(&r, id), "pass", "{id}: {r:#}");
    }
    // The same release on a Saturday: refused by time, with the next safe
    // start; and the GO, re-read from its evidence then, no longer holds:
    // the kill-switch run is more than 7 days old by Saturday.
    let (code, r, _) = deploy(dir.path(), "2.4.0", WEEKEND);
    assert_eq!(code, 1);
    assert_eq!(status(&r, "freeze"), "fail");
    assert!(
        message(&r, "decision-log").contains(
            "says GO, but re-checked from its evidence: readiness “Risk controls” unchecked: `reports/kill-switch/2.4.0.json`: stale"
        ),
        "{r:#}"
    );
    assert_eq!(status(&r, "gates"), "pass");
    assert_eq!(r["outputs"]["next_window"], "2026-12-08T13:00:00Z");
    assert!(message(&r, "freeze").contains("the next safe start is Tue 2026-12-08 13:00 UTC"), "{r:#}");
    // deploy-check's own report is not evidence the decision log reads back.
    assert!(dir.path().join("reports/release-gate/2.4.0/deploy-check.json").exists());
}

#[test]
fn a_no_go_release_never_deploys_even_when_its_log_is_edited_to_say_go() {
    let dir = example();
    let (code, r, _) = deploy(dir.path(), "2.5.0", OPEN);
    assert_eq!(code, 1);
    assert_eq!(status(&r, "decision-log"), "fail");
    assert!(message(&r, "decision-log").contains("says NO-GO"), "{r:#}");
    assert_eq!(status(&r, "gates"), "fail");
    // Someone rewrites the go/no-go line by hand: the gates it records, and their reports, still refuse.
    let log = dir.path().join("reports/release-decisions/2.5.0.md");
    let text = std::fs::read_to_string(&log).unwrap();
    let start = text.find("**NO-GO**").unwrap();
    let end = text[start..].find("<!-- release-gate:end go-no-go").unwrap() + start;
    std::fs::write(&log, format!("{}**GO** — looks fine to me\n{}", &text[..start], &text[end..])).unwrap();
    let (code, r, _) = deploy(dir.path(), "2.5.0", OPEN);
    assert_eq!(code, 1);
    assert!(message(&r, "decision-log").contains("says GO, but"), "{r:#}");
    assert_eq!(status(&r, "gates"), "fail");
}

#[test]
fn a_config_edited_after_the_decision_invalidates_the_release() {
    let dir = example();
    let prod = dir.path().join("configs/production/order-router.yaml");
    let text = std::fs::read_to_string(&prod).unwrap();
    std::fs::write(&prod, text.replacen("replicas: 6", "replicas: 7", 1)).unwrap();
    let (code, r, _) = deploy(dir.path(), "2.4.0", OPEN);
    assert_eq!(code, 1);
    assert_eq!(status(&r, "config-hashes"), "fail");
    assert!(message(&r, "config-hashes").contains("production:order-router.yaml is jcs-sha256:"), "{r:#}");
    // Every other rule still passes: the hashes alone refuse it.
    assert_eq!(status(&r, "gates"), "pass");
}

#[test]
fn missing_evidence_refuses_the_deploy() {
    let dir = example();
    // A required report gone.
    std::fs::remove_file(dir.path().join("reports/release-gate/2.4.0/smoke-gate-canary.json")).unwrap();
    let (code, r, _) = deploy(dir.path(), "2.4.0", OPEN);
    assert_eq!(code, 1);
    assert!(message(&r, "gates").contains("smoke-gate-canary: no report"), "{r:#}");
    // No decision log at all.
    std::fs::remove_file(dir.path().join("reports/release-decisions/2.4.0.md")).unwrap();
    let (code, r, _) = deploy(dir.path(), "2.4.0", OPEN);
    assert_eq!(code, 1);
    assert!(message(&r, "decision-log").contains("no decision log for release 2.4.0"), "{r:#}");
    assert_eq!(status(&r, "config-hashes"), "fail");
    // Nothing required: nothing verified, never a pass.
    let policy = dir.path().join(".github/release-gate.yml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, format!("{text}\ndeploy:\n  required: []\n")).unwrap();
    let (_, r, _) = deploy(dir.path(), "2.4.0", OPEN);
    assert_eq!(status(&r, "gates"), "fail");
    assert!(message(&r, "gates").contains("nothing was verified"), "{r:#}");
}

#[test]
fn an_unreadable_log_is_an_error_naming_its_line() {
    let dir = example();
    let log = dir.path().join("reports/release-decisions/2.4.0.md");
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.splice(2..2, [0xff]);
    std::fs::write(&log, bytes).unwrap();
    let (code, _, err) = deploy(dir.path(), "2.4.0", OPEN);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("reports/release-decisions/2.4.0.md:1: decision log is not UTF-8"), "{err}");
}

const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const BRANCH: &str = "release/2.4.0";

/// The deploy job on a runner: a push to the release branch, workflow
/// `deploy.yml` run 7, online against the fake.
fn online(dir: &Path, fake: &github_fake::Fake, extra: &[&str]) -> (i32, Value, String) {
    online_at(dir, fake, OPEN, extra)
}

fn online_at(dir: &Path, fake: &github_fake::Fake, now: &str, extra: &[&str]) -> (i32, Value, String) {
    // The clock itself is at `now` (faketime): in a deploy job a chosen `now` is a dry run, refused.
    let out = github_fake::support::at_time(now, Path::new(env!("CARGO_BIN_EXE_release-gate")))
        .args(["deploy-check", "--root"])
        .arg(dir)
        .args(["--release", "2.4.0", "--format", "json", "--environment", "production"])
        .args(extra)
        .envs(runner(fake))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The deploy job's runner variables: a push to the release branch, workflow `deploy.yml` run 7.
fn runner(fake: &github_fake::Fake) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_ACTIONS", "true".into()),
        ("GITHUB_REPOSITORY", "o/r".into()),
        ("GITHUB_SHA", SHA.into()),
        ("GITHUB_REF", format!("refs/heads/{BRANCH}")),
        ("GITHUB_REF_NAME", BRANCH.into()),
        ("GITHUB_EVENT_NAME", "push".into()),
        ("GITHUB_RUN_ID", "7".into()),
        ("GITHUB_RUN_ATTEMPT", "1".into()),
        ("GITHUB_ACTOR", "release-captain".into()),
        ("GITHUB_WORKFLOW_REF", "o/r/.github/workflows/deploy.yml@refs/heads/release/2.4.0".into()),
        ("GITHUB_API_URL", fake.base_url()),
        ("GITHUB_TOKEN", "ghs_deploycheck0123456789abcdef".into()),
        ("RELEASE_GATE_HTTP_BACKOFF_MS", "10".into()),
    ]
}

const LOG: &str = "reports/release-decisions/2.4.0.md";

/// A copy of the example run through every gate, and the fake holding what
/// the release workflow left on SHA: run 7 of deploy.yml, the gates' check
/// runs from the example's real reports, and the log on the release branch
/// as decision-log-commit writes it online, its GO recorded for `log_commit`.
fn online_example(fake: &github_fake::Fake, log_commit: &str) -> tempfile::TempDir {
    let dir = example();
    fake.add_run(7, ".github/workflows/deploy.yml", SHA, "push");
    super::common::publish_reports(fake, dir.path(), "2.4.0", SHA, 7);
    fake.put_file(BRANCH, LOG, &super::common::online_log(dir.path(), "2.4.0", log_commit, OPEN));
    dir
}

const RUN_7: &str = "release-gate/v3 release=2.4.0 run=7 attempt=1 at=2026-12-01T13:30:00Z";

#[test]
fn online_the_deploy_reads_the_branchs_log_and_the_trusted_check_runs_and_sets_the_deployment_status() {
    let fake = github_fake::Fake::start("").unwrap();
    let dir = online_example(&fake, SHA);
    let id = RUN_7;

    let (code, r, err) = online(dir.path(), &fake, &["--environment-url", "https://trade.example"]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    assert!(message(&r, "decision-log").contains("its evidence says so now: every required gate passed on commit 6dcb09b5b578"), "{r:#}");
    assert_eq!(status(&r, "lifecycle"), "pass", "{r:#}");
    let deployments = fake.deployments();
    assert_eq!(deployments.len(), 1, "one deployment for the job");
    assert_eq!(deployments[0]["environment"], "production");
    assert_eq!(deployments[0]["sha"], SHA);
    let statuses = deployments[0]["_statuses"].as_array().unwrap();
    assert_eq!(statuses[0]["state"], "in_progress");
    assert_eq!(statuses[0]["log_url"], format!("https://github.com/o/r/blob/{BRANCH}/reports/release-decisions/2.4.0.md"));
    assert_eq!(statuses[0]["environment_url"], "https://trade.example");
    // The deploy is recorded once in the release's lifecycle, on the release branch.
    let log = fake.file(BRANCH, LOG).unwrap();
    let lc = release_gate_core::decision_log::Lifecycle::read(&log, "2.4.0", LOG).unwrap();
    let deployed = lc.deployed().expect("recorded");
    assert_eq!((deployed.at.as_str(), deployed.by.as_str(), deployed.commit.as_deref()), (OPEN, "release-captain", Some(SHA)));
    assert!(deployed.via.contains("https://github.com/o/r/actions/runs/7"), "{deployed:?}");
    assert!(log.contains("Release date/time (UTC):** <!-- release-gate:begin datetime -->\n2026-12-01 13:30 UTC (deployed"), "{log}");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());

    // A second deploy job an hour later keeps the first instant.
    let (code, r, _) = online_at(dir.path(), &fake, "2026-12-01T14:30:00Z", &[]);
    assert_eq!(code, 0, "{r:#}");
    assert!(message(&r, "deploy-recorded").contains("its deploy instant stays as recorded"), "{r:#}");
    let log = fake.file(BRANCH, LOG).unwrap();
    assert_eq!(release_gate_core::decision_log::Lifecycle::read(&log, "2.4.0", LOG).unwrap().deployed().unwrap().at, OPEN);

    // A success published later by another app does not hide the
    // trusted run; a failed re-run of the workflow refuses it, and the
    // deployment is marked failed.
    fake.add_check_run(SHA, "release-gate/smoke-gate/canary", "success", "other-app", Some(id));
    assert_eq!(online(dir.path(), &fake, &[]).0, 0);
    fake.set_run_attempt(7, 2);
    fake.add_check_run(SHA, "release-gate/smoke-gate/canary", "failure", "github-actions", Some(&id.replace("attempt=1", "attempt=2")));
    let (code, r, _) = online(dir.path(), &fake, &[]);
    assert_eq!(code, 1);
    assert!(message(&r, "gates").contains("`release-gate/smoke-gate/canary` concluded failure"), "{r:#}");
    let states: Vec<String> =
        fake.deployments()[0]["_statuses"].as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap().to_owned()).collect();
    assert_eq!(states.last().map(String::as_str), Some("failure"), "{states:?}");
}

#[test]
fn online_a_dry_run_never_lets_a_deploy_proceed() {
    let fake = github_fake::Fake::start("").unwrap();
    let dir = online_example(&fake, SHA);
    let policy = dir.path().join(".github/release-gate.yml");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, format!("{text}\nevaluation:\n  allow-dry-run: true\n")).unwrap();
    // Dry runs allowed, every rule holding at the time chosen: still refused.
    let out = bin()
        .args(["deploy-check", "--root"])
        .arg(dir.path())
        .args(["--release", "2.4.0", "--now", OPEN, "--format", "json", "--environment", "production"])
        .envs(runner(&fake))
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{r:#}");
    assert!(message(&r, "dry-run").contains("a dry run never lets a deploy proceed"), "{r:#}");
    assert!(fake.deployments().is_empty(), "no deployment status for a dry run");
    assert!(!fake.file(BRANCH, LOG).unwrap().contains(r#""to":"deployed""#), "nothing recorded");
    // Published under its own name, whatever GITHUB_ACTIONS says, when a token is there.
    let names: Vec<String> = fake.check_runs().iter().map(|c| c["name"].as_str().unwrap_or_default().to_owned()).collect();
    assert!(names.contains(&"release-gate/deploy-check (dry run)".to_owned()), "{names:?}");
    let out = bin()
        .args(["deploy-check", "--root"])
        .arg(dir.path())
        .args(["--release", "2.4.0", "--now", OPEN, "--format", "json"])
        .envs(runner(&fake).into_iter().filter(|(k, _)| *k != "GITHUB_ACTIONS"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let names: Vec<String> = fake.check_runs().iter().map(|c| c["name"].as_str().unwrap_or_default().to_owned()).collect();
    assert!(!names.contains(&"release-gate/deploy-check".to_owned()), "a dry run never takes the real name: {names:?}");
}

#[test]
fn online_a_log_recorded_for_another_commit_does_not_let_this_one_deploy() {
    // The log says GO, for the previous commit.
    let fake = github_fake::Fake::start("").unwrap();
    let dir = online_example(&fake, &"1".repeat(40));
    let (code, r, _) = online(dir.path(), &fake, &[]);
    assert_eq!(code, 1);
    assert!(
        message(&r, "lifecycle")
            .contains("the GO recorded at 2026-12-01T13:30:00Z is for commit 111111111111, not this commit 6dcb09b5b578"),
        "{r:#}"
    );
    // No log on the branch at all (the checkout's local copy does not count online).
    let fake = github_fake::Fake::start("").unwrap();
    fake.put_file(BRANCH, "README.md", "release branch\n");
    let (code, r, _) = online(dir.path(), &fake, &[]);
    assert_eq!(code, 1);
    assert!(message(&r, "decision-log").contains("no decision log"), "{r:#}");
    assert!(message(&r, "gates").contains("no `release-gate/freeze-check` check run on this commit"), "{r:#}");
}

#[test]
fn online_a_log_edited_by_hand_from_no_go_to_go_is_refused_from_its_evidence() {
    // A NO-GO only because of the checklist: the kill-switch run failed.
    let fake = github_fake::Fake::start("").unwrap();
    let dir = example();
    std::fs::write(
        dir.path().join("reports/kill-switch/2.4.0.json"),
        r#"{"executed_at": "2026-11-27T08:12:44Z", "script": "python scripts/kill_switch_verify.py", "result": "FAIL"}"#,
    )
    .unwrap();
    fake.add_run(7, ".github/workflows/deploy.yml", SHA, "push");
    super::common::publish_reports(&fake, dir.path(), "2.4.0", SHA, 7);
    let log = super::common::online_log(dir.path(), "2.4.0", SHA, OPEN);
    assert!(log.contains("**NO-GO**") && log.contains("Risk controls"), "{log}");
    // Someone rewrites the go/no-go region and the lifecycle's NO-GO by hand.
    let start = log.find("**NO-GO**").unwrap();
    let end = log[start..].find("<!-- release-gate:end go-no-go").unwrap() + start;
    let edited =
        format!("{}**GO** — every required gate passed\n{}", &log[..start], &log[end..]).replace(r#"{"to":"no-go""#, r#"{"to":"go""#);
    fake.put_file(BRANCH, LOG, &edited);
    let (code, r, _) = online(dir.path(), &fake, &[]);
    assert_eq!(code, 1, "{r:#}");
    assert!(
        message(&r, "decision-log").contains("says GO, but re-checked from its evidence: readiness “Risk controls” unchecked: `reports/kill-switch/2.4.0.json`: `result` is \"FAIL\""),
        "{r:#}"
    );
    assert_eq!(status(&r, "gates"), "pass", "the gates alone would have let it through");
    assert!(fake.deployments()[0]["_statuses"].as_array().unwrap().iter().all(|s| s["state"] == "failure"));
}

#[test]
fn online_a_paused_release_does_not_deploy_again_until_resumed() {
    let fake = github_fake::Fake::start("").unwrap();
    let dir = online_example(&fake, SHA);
    assert_eq!(online(dir.path(), &fake, &[]).0, 0, "deployed");
    // The guard paused it: the lifecycle says so.
    let log = fake.file(BRANCH, LOG).unwrap();
    let mut lc = release_gate_core::decision_log::Lifecycle::read(&log, "2.4.0", LOG).unwrap();
    let t = |to, at: &str| release_gate_core::decision_log::Transition {
        to,
        at: at.into(),
        by: "release-captain".into(),
        via: "release-guard in https://github.com/o/r/actions/runs/9".into(),
        commit: Some(SHA.into()),
        why: "incident #7 since the deploy".into(),
    };
    use release_gate_core::decision_log::State;
    lc.record(t(State::Watching, "2026-12-01T13:40:00Z")).unwrap();
    lc.record(t(State::Paused, "2026-12-01T13:50:00Z")).unwrap();
    fake.put_file(BRANCH, LOG, &lc.write(&log));
    let (code, r, _) = online_at(dir.path(), &fake, "2026-12-01T14:00:00Z", &[]);
    assert_eq!(code, 1, "{r:#}");
    assert!(message(&r, "lifecycle").contains("the post-release guard paused release 2.4.0 at 2026-12-01T13:50:00Z"), "{r:#}");
    // The pause deleted from the log by hand: the guard's check run still says pause.
    fake.put_file(BRANCH, LOG, &log);
    fake.add_run(9, ".github/workflows/deploy.yml", SHA, "schedule");
    let guard = fake.add_check_run_in_run(
        9,
        "release-gate/release-guard",
        "failure",
        Some("release-gate/v3 release=2.4.0 run=9 attempt=1 at=2026-12-01T13:50:00Z decision=pause"),
    );
    fake.set_completed_at(guard, "2026-12-01T13:50:00Z");
    let (code, r, _) = online_at(dir.path(), &fake, "2026-12-01T14:00:00Z", &[]);
    assert_eq!(code, 1, "{r:#}");
    assert!(message(&r, "lifecycle").contains("the post-release guard's newest check run on this commit decided pause"), "{r:#}");
    // Resumed (the guard's newest check run says so, and the log): it may deploy again.
    let resumed = fake.add_check_run_in_run(
        9,
        "release-gate/release-guard",
        "success",
        Some("release-gate/v3 release=2.4.0 run=9 attempt=2 at=2026-12-01T14:05:00Z decision=resumed"),
    );
    fake.set_run_attempt(9, 2);
    fake.set_completed_at(resumed, "2026-12-01T14:05:00Z");
    let (code, r, _) = online_at(dir.path(), &fake, "2026-12-01T14:10:00Z", &[]);
    assert_eq!(code, 0, "{r:#}");
}

#[test]
fn online_a_deploy_outside_the_windows_needs_the_emergency_approval_on_the_merged_pull_request() {
    let fake = github_fake::Fake::start("").unwrap();
    let dir = online_example(&fake, SHA);
    // The commit came from PR #12 of the release train, labelled an emergency change.
    let mut pr = github_fake::support::webhook_example("pull_request", Some("opened")).unwrap()["pull_request"].clone();
    let head = pr["head"]["sha"].as_str().unwrap().to_owned();
    pr["number"] = serde_json::json!(12);
    pr["merged_at"] = serde_json::json!("2026-12-04T19:00:00Z");
    pr["merge_commit_sha"] = serde_json::json!(SHA);
    pr["state"] = serde_json::json!("closed");
    pr["title"] = serde_json::json!("OPS-7: hotfix the order router");
    pr["labels"] = serde_json::json!([
        {"id": 1, "node_id": "L", "url": "", "name": "emergency-change", "color": "", "default": false, "description": null},
        {"id": 2, "node_id": "L2", "url": "", "name": "release-2.4.0", "color": "", "default": false, "description": null}
    ]);
    fake.add_pull(pr);
    let wednesday = "2026-12-02T13:30:00Z"; // no release window on Wednesdays; on-call cover is there
    let deploy_at = |fake: &github_fake::Fake| {
        let (code, r, _) = online_at(dir.path(), fake, wednesday, &[]);
        (code, r)
    };
    // An outsider's approval: the windows stand.
    fake.add_review_as(12, "mallory", "APPROVED", &head, "2026-12-02T12:00:00Z", "NONE");
    let (code, r) = deploy_at(&fake);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(status(&r, "freeze"), "fail");
    // A named approver (alice, in the example's policy) with write permission: allowed, with a warning.
    fake.set_permission("alice", "write");
    fake.add_review_as(12, "alice", "APPROVED", &head, "2026-12-02T12:30:00Z", "MEMBER");
    let (code, r) = deploy_at(&fake);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(status(&r, "freeze"), "warn");
    assert!(message(&r, "freeze").contains("emergency"), "{r:#}");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

/// Makes `dir` a git checkout of its own, everything committed.
fn commit_all(dir: &Path, message: &str) {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    if !dir.join(".git/HEAD").exists() {
        // example() marks the root with an empty `.git`: make it a real one.
        let _ = std::fs::remove_dir(dir.join(".git"));
        git(&["init", "-q", "-b", "main"]);
    }
    git(&["add", "-A"]);
    git(&["commit", "-q", "--allow-empty", "-m", message]);
}

#[test]
fn offline_a_pause_cut_from_the_log_or_a_resume_written_by_hand_never_lets_the_release_deploy() {
    use release_gate_core::decision_log::{Lifecycle, State, Transition};
    let dir = example();
    commit_all(dir.path(), "the example, 2.4.1 paused by the guard");
    let path = dir.path().join("reports/release-decisions/2.4.1.md");
    let log = std::fs::read_to_string(&path).unwrap();
    let paused = Lifecycle::read(&log, "2.4.1", "log").unwrap();
    assert_eq!(paused.state(), Some(State::Paused));
    let (code, r, _) = deploy(dir.path(), "2.4.1", OPEN);
    assert_eq!(code, 1, "{r:#}");
    assert!(message(&r, "lifecycle").contains("the post-release guard paused release 2.4.1"), "{r:#}");
    // The pause cut out of the checkout's log (uncommitted, then committed): git still holds it.
    let mut cut = paused.clone();
    cut.transitions.pop();
    std::fs::write(&path, cut.write(&log)).unwrap();
    for step in ["uncommitted", "committed"] {
        if step == "committed" {
            commit_all(dir.path(), "tidy the log");
        }
        let (code, r, _) = deploy(dir.path(), "2.4.1", OPEN);
        assert_eq!(code, 1, "{step}: {r:#}");
        let m = message(&r, "lifecycle");
        assert!(m.contains("append-only") && m.contains("transition 4 (paused at 2026-12-01T14:30:00Z, by local) is gone"), "{step}: {m}");
    }
    // A resume written into the log by hand: not recorded by `release-guard resume`, or not by an approver.
    let dir = example();
    commit_all(dir.path(), "the example");
    let path = dir.path().join("reports/release-decisions/2.4.1.md");
    let resume = |by: &str, via: &str| {
        let mut lc = paused.clone();
        lc.record(Transition {
            to: State::Watching,
            at: "2026-12-01T15:00:00Z".into(),
            by: by.into(),
            via: via.into(),
            commit: None,
            why: "resumed".into(),
        })
        .unwrap();
        std::fs::write(&path, lc.write(&log)).unwrap();
        let (code, r, _) = deploy(dir.path(), "2.4.1", OPEN);
        assert_eq!(code, 1, "{r:#}");
        message(&r, "lifecycle")
    };
    // Named and via resume, but the guard's own report still says pause: a resume that never ran.
    let guard_report = dir.path().join("reports/release-gate/2.4.1/release-guard.json");
    std::fs::create_dir_all(guard_report.parent().unwrap()).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tradepulse/reports/release-gate/2.4.1/release-guard.json"),
        &guard_report,
    )
    .unwrap();
    let m = resume("dan", "release-guard resume (local run)");
    assert!(m.contains("the post-release guard's newest report decided pause"), "{m}");
    let m = resume("dan", "release-guard (local run)");
    assert!(m.contains("paused → watching") && m.contains("only `release-guard resume` records"), "{m}");
    let m = resume("mallory", "release-guard resume (local run)");
    assert!(m.contains("by mallory, whom release-guard.resume.approvers does not name"), "{m}");
    let m = resume("mallory", "release-guard resume in https://github.com/o/r/actions/runs/1");
    assert!(!m.contains("mallory"), "a team member's resume in a run is accepted from the log: {m}");
    // Rolled back for a breach, then a GO row "by resume": a breach never resumes.
    let mut lc = paused.clone();
    let row = |to, at: &str, by: &str, via: &str, why: &str| Transition {
        to,
        at: at.into(),
        by: by.into(),
        via: via.into(),
        commit: None,
        why: why.into(),
    };
    lc.record(row(
        State::RolledBack,
        "2026-12-01T14:40:00Z",
        "local",
        "release-guard (local run)",
        "a rollback trigger (§6): security or compliance breach: key leaked",
    ))
    .unwrap();
    lc.record(row(State::Go, "2026-12-01T15:00:00Z", "dan", "release-guard resume (local run)", "resumed")).unwrap();
    std::fs::write(&path, lc.write(&log)).unwrap();
    let (code, r, _) = deploy(dir.path(), "2.4.1", OPEN);
    assert_eq!(code, 1, "{r:#}");
    let m = message(&r, "lifecycle");
    assert!(m.contains("breach, which never resumes"), "{m}");
}

#[test]
fn offline_a_pause_hidden_behind_a_merge_that_keeps_our_side_is_still_found() {
    use release_gate_core::decision_log::Lifecycle;
    let dir = example();
    let path = dir.path().join("reports/release-decisions/2.4.1.md");
    let log = std::fs::read_to_string(&path).unwrap();
    let paused = Lifecycle::read(&log, "2.4.1", "log").unwrap();
    let mut go = paused.clone();
    go.transitions.truncate(2);
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(dir.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    std::fs::write(&path, go.write(&log)).unwrap();
    commit_all(dir.path(), "c0: GO, deployed");
    std::fs::write(&path, paused.write(&log)).unwrap();
    commit_all(dir.path(), "c1: paused by the guard");
    // A side branch from c0 with the log as it was (and a note), merged keeping our side: git log's
    // default simplification no longer shows c1.
    git(&["checkout", "-q", "-b", "side", "HEAD~1"]);
    std::fs::write(&path, format!("{}\n<!-- tidied -->\n", go.write(&log))).unwrap();
    commit_all(dir.path(), "side: tidy the log");
    git(&["merge", "-q", "-s", "ours", "main", "-m", "merge main, keeping ours"]);
    let (code, r, _) = deploy(dir.path(), "2.4.1", OPEN);
    assert_eq!(code, 1, "{r:#}");
    let m = message(&r, "lifecycle");
    assert!(m.contains("append-only") && m.contains("is gone since commit"), "{m}");
}
