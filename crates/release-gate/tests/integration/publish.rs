//! `release-gate publish` in a `workflow_run` job, against the GitHub fake:
//! the reports the finished run uploaded become check runs on that run's
//! commit (never `GITHUB_SHA`) under names that cannot satisfy the gates'
//! own required checks, and the release comment goes to the PR whose head
//! is that commit. A report for another commit is refused.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use github_fake::Fake;
use github_fake::support::clean_command;
use release_gate_core::report::{Check, Report, Status};

const HEAD: &str = "f00df00df00df00df00df00df00df00df00df00d";
const DEFAULT_BRANCH: &str = "1111111111111111111111111111111111111111";

fn write_report(root: &Path, gate: &str, status: Status, commit: &str) {
    let ts: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().unwrap();
    let mut r = Report::new(gate, "2.5.0", ts, Some(commit.into()));
    r.title = format!("{gate} says {}", status.as_str());
    r.push(Check::new("rule", status, format!("{gate}: {}", status.as_str())));
    let dir = root.join("downloaded");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{gate}.json")), serde_json::to_string_pretty(&r).unwrap()).unwrap();
}

fn publish(fake: &Fake, root: &Path) -> Output {
    let event = root.join("event.json");
    let payload = serde_json::json!({"action": "completed", "workflow_run": {"id": 55, "head_sha": HEAD, "head_branch": "feature",
        "event": "pull_request", "path": ".github/workflows/release-validation.yml"}});
    std::fs::write(&event, payload.to_string()).unwrap();
    let mut cmd: Command = clean_command(Path::new(env!("CARGO_BIN_EXE_release-gate")));
    cmd.args(["publish", "--reports", "downloaded", "--root"])
        .arg(root)
        .env("GITHUB_API_URL", fake.base_url())
        .env("GITHUB_REPOSITORY", "octo/trading")
        .env("GITHUB_TOKEN", "ghs_publishertoken0123456789")
        .env("GITHUB_EVENT_NAME", "workflow_run")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_SHA", DEFAULT_BRANCH)
        .env("GITHUB_RUN_ID", "56")
        .env("RELEASE_GATE_HTTP_BACKOFF_MS", "10")
        .output()
        .unwrap()
}

fn fake_with_pr() -> Fake {
    let fake = Fake::start("").unwrap();
    fake.add_pull(serde_json::json!({
        "number": 7, "state": "open", "title": "bump", "body": null, "user": {"login": "dependabot[bot]"}, "labels": [],
        "head": {"ref": "feature", "sha": HEAD, "repo": {"full_name": "fork/trading"}},
        "base": {"ref": "release/2.5.0", "sha": DEFAULT_BRANCH, "repo": {"full_name": "octo/trading"}},
        "merge_commit_sha": null, "merged_at": null,
    }));
    fake
}

#[test]
fn reports_are_published_on_the_runs_commit_visible_but_never_as_the_gates_own_checks() {
    let fake = fake_with_pr();
    let dir = tempfile::tempdir().unwrap();
    write_report(dir.path(), "freeze-check", Status::Pass, HEAD);
    write_report(dir.path(), "config-diff", Status::Fail, HEAD);
    let out = publish(&fake, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(fake.violations().is_empty(), "{:#?}", fake.violations());
    let runs = fake.check_runs();
    let mut got: Vec<(String, String, String)> = runs
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["head_sha"].as_str().unwrap().to_owned(),
                r["conclusion"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("release-gate/config-diff (from the PR's run)".into(), HEAD.into(), "failure".into()),
            ("release-gate/freeze-check (from the PR's run)".into(), HEAD.into(), "success".into()),
        ],
        "on the finished run's commit, under names no required check uses"
    );
    assert!(runs.iter().all(|r| r["output"]["title"].as_str().unwrap().contains("not re-evaluated")), "{runs:#?}");
    let comments = fake.comments();
    assert_eq!(comments.len(), 1, "one release comment on the PR");
    assert_eq!(comments[0]["_issue"], 7);
    let body = comments[0]["body"].as_str().unwrap();
    assert!(body.contains("config-diff") && body.contains("freeze-check"), "{body}");
}

#[test]
fn a_report_for_another_commit_is_refused_and_nothing_is_published() {
    let fake = fake_with_pr();
    let dir = tempfile::tempdir().unwrap();
    write_report(dir.path(), "freeze-check", Status::Pass, DEFAULT_BRANCH);
    let out = publish(&fake, dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not f00df00d"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        fake.check_runs().iter().all(|r| !r["name"].as_str().unwrap().starts_with("release-gate/freeze-check")),
        "{:#?}",
        fake.check_runs()
    );
}

#[test]
fn outside_a_workflow_run_job_it_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let out = clean_command(Path::new(env!("CARGO_BIN_EXE_release-gate")))
        .args(["publish", "--reports", "downloaded", "--root"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("workflow_run"));
}
