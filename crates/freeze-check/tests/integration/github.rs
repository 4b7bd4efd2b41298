//! freeze-check end to end against the local GitHub fake: the binary runs
//! as a workflow step would, with a real `pull_request` payload from GitHub's
//! webhook examples, and every request it makes is checked against GitHub's
//! OpenAPI description.

use std::path::{Path, PathBuf};
use std::process::Output;

use github_fake::support::{base_policy, clean_command, webhook_example};
use github_fake::{Fake, Fault};
use serde_json::{Value, json};

const TOKEN: &str = "ghs_freezechecktoken1234567890";
const TUESDAY_OPEN: &str = "2026-12-01T13:30:00Z";
const SATURDAY: &str = "2026-12-05T10:00:00Z";
/// Tests pin the time (`--now`): a dry run, which the policy in force must allow.
const DRY_RUNS: &str = "evaluation: {allow-dry-run: true}\n";
/// The check run of a dry run.
const DRY_RUN_CHECK: &str = "release-gate/freeze-check (dry run)";

struct Step {
    dir: tempfile::TempDir,
    event: Value,
    policy: String,
}

impl Step {
    /// A repository checkout with `policy` and a pull_request event with `labels`.
    fn new(policy: &str, labels: &[&str], title: &str) -> Self {
        let policy = format!("{DRY_RUNS}{policy}");
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join(".github")).expect("mkdir");
        std::fs::write(dir.path().join(".github/release-gate.yml"), &policy).expect("policy");
        let mut event = webhook_example("pull_request", Some("opened")).expect("payload");
        event["pull_request"]["labels"] = labels
            .iter()
            .map(|l| json!({"id": 1, "node_id": "L", "url": "", "name": l, "color": "f29513", "default": false, "description": null}))
            .collect();
        event["pull_request"]["title"] = json!(title);
        Self { dir, event, policy }
    }

    /// The pull request and the policy on its base commit, in the fake.
    fn on(&self, fake: &Fake) {
        fake.add_pull(self.pr());
        base_policy(fake, &self.event, ".github/release-gate.yml", &self.policy);
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn pr(&self) -> Value {
        self.event["pull_request"].clone()
    }

    fn head(&self) -> String {
        self.event["pull_request"]["head"]["sha"].as_str().expect("sha").to_owned()
    }

    fn run(&self, api: &str, now: &str) -> Output {
        std::fs::write(self.path("event.json"), serde_json::to_vec(&self.event).expect("json")).expect("event");
        clean_command(Path::new(env!("CARGO_BIN_EXE_freeze-check")))
            .current_dir(self.dir.path())
            .args(["--release", "2.4.0", "--now", now])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", "Codertocat/Hello-World")
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", self.path("event.json"))
            .env("GITHUB_SHA", "0000000000000000000000000000000000000000")
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_API_URL", api)
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_OUTPUT", self.path("output"))
            .env("GITHUB_STEP_SUMMARY", self.path("summary.md"))
            .env("RELEASE_GATE_HTTP_BACKOFF_MS", "10")
            .output()
            .expect("run freeze-check")
    }

    fn outputs(&self) -> String {
        std::fs::read_to_string(self.path("output")).unwrap_or_default()
    }

    fn report(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.path("reports/release-gate/2.4.0/freeze-check.json")).expect("report")).expect("json")
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn assert_no_violations(fake: &Fake) {
    let v = fake.violations();
    assert!(v.is_empty(), "requests GitHub would refuse: {v:#?}");
}

fn assert_token_hidden(o: &Output) {
    assert!(!text(o).contains(TOKEN), "the token was printed:\n{}", text(o));
}

const DEFAULTS: &str = "freeze-check: {}\n";
const APPROVERS: &str = "freeze-check:\n  emergency: {label: emergency-change, approvers: [bob]}\n";

#[test]
fn pass_posts_a_check_run_and_one_sticky_comment_edited_on_rerun() {
    let fake = Fake::start("").expect("fake");
    let step = Step::new(DEFAULTS, &["release-2.4.0"], "OPS-42: update the README");
    step.on(&fake);
    let first = step.run(&fake.base_url(), TUESDAY_OPEN);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let second = step.run(&fake.base_url(), TUESDAY_OPEN);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    assert_no_violations(&fake);
    assert_token_hidden(&first);

    let runs = fake.check_runs();
    assert_eq!(runs.len(), 2, "one check run per run");
    assert!(runs.iter().all(|r| r["conclusion"] == "success" && r["name"] == DRY_RUN_CHECK && r["head_sha"] == step.head().as_str()));
    assert_eq!(runs[0]["details_url"], "https://github.com/Codertocat/Hello-World/actions/runs/4242");
    let comments = fake.comments();
    assert_eq!(comments.len(), 1, "sticky: edited, not duplicated");
    assert!(comments[0]["body"].as_str().expect("body").contains("Deploys are open"));
    assert!(step.outputs().contains("verdict<<ghadelimiter_"), "{}", step.outputs());
    assert!(step.outputs().contains("latest_safe_start<<"), "{}", step.outputs());
    let summary = std::fs::read_to_string(step.path("summary.md")).expect("summary");
    assert_eq!(summary.matches("release `2.4.0`").count(), 2, "one summary block per run");
    let report = step.report();
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["commit"], step.head().as_str());
    assert!(report["checks"].as_array().expect("checks").iter().any(|c| c["id"] == "release-train" && c["status"] == "pass"));
}

#[test]
fn refusal_exits_1_with_next_window_and_failed_check_run() {
    let fake = Fake::start("").expect("fake");
    let step = Step::new(DEFAULTS, &[], "Update the README");
    step.on(&fake);
    let out = step.run(&fake.base_url(), SATURDAY);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_no_violations(&fake);
    assert_eq!(fake.check_runs()[0]["conclusion"], "failure");
    assert!(step.outputs().contains("next_window<<"));
    assert!(step.outputs().contains("\n2026-12-08T13:00:00Z\n"), "{}", step.outputs());
    let report = step.report();
    let status = |id: &str| report["checks"].as_array().expect("c").iter().find(|c| c["id"] == id).map(|c| c["status"].clone());
    assert_eq!(status("freeze"), Some(json!("fail")));
    assert_eq!(status("release-train"), Some(json!("fail")));
}

#[test]
fn emergency_change_approved_on_the_head_commit_passes_with_warn() {
    let fake = Fake::start("/api/v3").expect("fake");
    // The event predates the label: the gate must read the PR's current labels.
    let step = Step::new(APPROVERS, &["release-2.4.0"], "OPS-7 hotfix");
    step.on(&fake);
    let mut pr = step.pr();
    pr["labels"] = json!([{"id": 1, "node_id": "L", "url": "", "name": "release-2.4.0", "color": "", "default": false, "description": null},
                          {"id": 2, "node_id": "M", "url": "", "name": "emergency-change", "color": "", "default": false, "description": null}]);
    fake.add_pull(pr);
    fake.set_permission("bob", "write");
    fake.set_permission("mallory", "admin");
    fake.add_review(2, "mallory", "APPROVED", &step.head(), "2026-12-05T09:00:00Z");
    fake.add_review(2, "bob", "APPROVED", "0ldc0mmit", "2026-12-05T09:10:00Z");
    let out = step.run(&fake.base_url(), SATURDAY);
    assert_eq!(out.status.code(), Some(1), "stale approval and non-approver do not count: {}", text(&out));
    assert!(text(&out).contains("older commit") && text(&out).contains("not an approver the policy names"), "{}", text(&out));
    let listed = step.report()["data"]["not_counting"].to_string();
    assert!(listed.contains("mallory") && listed.contains("bob"), "every approval that does not count is listed: {listed}");

    fake.add_review(2, "bob", "APPROVED", &step.head(), "2026-12-05T09:30:00Z");
    let out = step.run(&fake.base_url(), SATURDAY);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_violations(&fake);
    // `/user`: whose comment the combined release comment is.
    assert!(fake.requests().iter().all(|r| r.path.starts_with("/repos/") || r.path.starts_with("/orgs/") || r.path == "/user"));
    assert!(fake.requests().iter().any(|r| r.path.ends_with("/collaborators/bob/permission")), "bob's permission was read");
    let report = step.report();
    assert_eq!(report["verdict"], "warn");
    assert_eq!(report["data"]["emergency"]["approver"], "bob");
    assert_eq!(report["data"]["emergency"]["permission"], "write");
    assert_eq!(report["data"]["emergency"]["approved_at"], "2026-12-05T09:30:00Z");
    assert!(report["data"]["emergency"]["review_url"].as_str().expect("url").contains("pullrequestreview"));
    assert_eq!(fake.check_runs().last().expect("run")["conclusion"], "neutral");
    assert!(step.outputs().contains("emergency<<") && step.outputs().contains("\ntrue\n"));
}

#[test]
fn an_outsider_or_a_reader_cannot_lift_the_freeze() {
    let fake = Fake::start("").expect("fake");
    let step = Step::new(APPROVERS, &["release-2.4.0", "emergency-change"], "OPS-7 hotfix");
    step.on(&fake);
    // "bob" approves from an account with no association with the repository.
    fake.add_review_as(2, "bob", "APPROVED", &step.head(), "2026-12-05T09:30:00Z", "NONE");
    let out = step.run(&fake.base_url(), SATURDAY);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not an owner, member or collaborator"), "{}", text(&out));
    // A member with read access only.
    fake.add_review(2, "bob", "APPROVED", &step.head(), "2026-12-05T09:40:00Z");
    fake.set_permission("bob", "read");
    let out = step.run(&fake.base_url(), SATURDAY);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("has read permission on the repository, not write"), "{}", text(&out));
    // With no approver named, the label alone never counts, whoever approves.
    let step = Step::new(DEFAULTS, &["release-2.4.0", "emergency-change"], "OPS-7 hotfix");
    step.on(&fake);
    fake.set_permission("bob", "admin");
    let out = step.run(&fake.base_url(), SATURDAY);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("names no emergency approvers"), "{}", text(&out));
    assert_no_violations(&fake);
}

#[test]
fn the_base_commits_policy_is_in_force_not_the_prs() {
    let fake = Fake::start("").expect("fake");
    // The PR's checkout opens every day of the week; the base keeps the runbook's windows.
    let step = Step::new(
        "freeze-check:\n  freezes: []\n  windows: [{name: always, days: [mon, tue, wed, thu, fri, sat, sun], start: \"00:00\", end: \"24:00\"}]\n",
        &["release-2.4.0"],
        "OPS-42: update",
    );
    fake.add_pull(step.pr());
    base_policy(&fake, &step.event, ".github/release-gate.yml", &format!("{DRY_RUNS}{DEFAULTS}"));
    let out = step.run(&fake.base_url(), SATURDAY);
    assert_eq!(out.status.code(), Some(1), "the weekend freeze of the base policy holds: {}", text(&out));
    let report = step.report();
    let policy_note = report["details"].as_array().expect("details").iter().find(|d| d["title"] == "Policy").expect("policy note");
    assert!(policy_note["markdown"].as_str().expect("md").contains("the proposed one applies once the change is merged"));
    // The report names the policy in force and where it was read.
    assert_eq!(report["policy"]["file"], ".github/release-gate.yml");
    let source = report["policy"]["source"].as_str().expect("source");
    assert!(source.starts_with("the base commit ") && source.ends_with("(contents API)"), "{source}");
    let summary = fake.check_runs()[0]["output"]["summary"].as_str().expect("summary").to_owned();
    assert!(summary.contains("policy `.github/release-gate.yml` from the base commit"), "{summary}");
    assert_no_violations(&fake);
}

#[test]
fn a_chosen_time_is_refused_unless_the_policy_in_force_allows_dry_runs() {
    let fake = Fake::start("").expect("fake");
    let step = Step::new(DEFAULTS, &["release-2.4.0"], "OPS-42: update");
    fake.add_pull(step.pr());
    // The base commit's policy does not allow dry runs (the PR's own does).
    base_policy(&fake, &step.event, ".github/release-gate.yml", DEFAULTS);
    let out = step.run(&fake.base_url(), TUESDAY_OPEN);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("refused in GitHub Actions"), "{}", text(&out));
    // The required check does not hang: a failed check run says why.
    let runs = fake.check_runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!((runs[0]["name"].as_str(), runs[0]["conclusion"].as_str()), (Some("release-gate/freeze-check"), Some("failure")));
    assert!(runs[0]["output"]["summary"].as_str().expect("summary").contains("allow-dry-run"));
    assert!(!step.path("reports/release-gate/2.4.0/freeze-check.json").exists(), "no partial report");
    assert_no_violations(&fake);
}

#[test]
fn bad_input_still_reports_a_failed_check_run_on_its_line() {
    let fake = Fake::start("").expect("fake");
    let step = Step::new("freeze-check:\n  buffer: soon\n", &["release-2.4.0"], "OPS-42: update");
    step.on(&fake);
    let out = step.run(&fake.base_url(), TUESDAY_OPEN);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Annotations are sent once: on the check run, so no workflow command repeats them.
    assert!(!stdout.contains("::error file="), "{stdout}");
    let runs = fake.check_runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["conclusion"], "failure");
    let annotations = fake.with(|s| s.check_runs[0]["_annotations"].clone());
    assert_eq!(annotations[0]["path"], ".github/release-gate.yml");
    assert_eq!(annotations[0]["start_line"], 3);
    assert_eq!(fake.comments().len(), 1, "the PR shows why too");
    assert_token_hidden(&out);
    assert_no_violations(&fake);
}

#[test]
fn emergency_through_a_team_and_an_unreadable_team() {
    let policy = "freeze-check:\n  emergency: {label: emergency-change, approvers: [\"@tradepulse/risk-officers\"]}\n";
    let fake = Fake::start("").expect("fake");
    let step = Step::new(policy, &["release-2.4.0", "emergency-change"], "OPS-7 hotfix");
    step.on(&fake);
    fake.set_permission("erin", "maintain");
    fake.add_review(2, "erin", "APPROVED", &step.head(), "2026-12-05T09:30:00Z");
    fake.add_team_member("tradepulse/risk-officers", "erin");
    let out = step.run(&fake.base_url(), SATURDAY);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(step.report()["data"]["emergency"]["via"], "@tradepulse/risk-officers");
    assert_no_violations(&fake);

    fake.inject(Fault::new("GET", "/teams/", 403).message("Resource not accessible by integration"));
    let out = step.run(&fake.base_url(), SATURDAY);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("could not be read") && text(&out).contains("read:org"), "{}", text(&out));
}

#[test]
fn emergency_never_overrides_a_blackout() {
    let policy = "freeze-check:\n  blackouts: [{name: FOMC, start: 2026-12-05T09:00:00Z, end: 2026-12-05T12:00:00Z}]\n  emergency: {label: emergency-change, approvers: [bob]}\n";
    let fake = Fake::start("").expect("fake");
    let step = Step::new(policy, &["release-2.4.0", "emergency-change"], "OPS-7 hotfix");
    step.on(&fake);
    fake.set_permission("bob", "write");
    fake.add_review(2, "bob", "APPROVED", &step.head(), "2026-12-05T09:30:00Z");
    let out = step.run(&fake.base_url(), SATURDAY);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("cannot override a blackout"), "{}", text(&out));
}

#[test]
fn fork_token_degrades_to_summary_with_one_warning() {
    let fake = Fake::start("").expect("fake");
    for f in Fault::read_only_token() {
        fake.inject(f);
    }
    let step = Step::new(DEFAULTS, &["release-2.4.0"], "OPS-42: update");
    step.on(&fake);
    let out = step.run(&fake.base_url(), TUESDAY_OPEN);
    assert_eq!(out.status.code(), Some(0), "the verdict alone decides: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("::warning").count(), 1, "{stdout}");
    assert!(stdout.contains("checks: write"));
    assert!(std::fs::read_to_string(step.path("summary.md")).expect("summary").contains("Deploys are open"));
    assert!(fake.check_runs().is_empty());
    assert_token_hidden(&out);
}

#[test]
fn unreachable_api_exits_3_naming_the_call() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let step = Step::new(DEFAULTS, &["release-2.4.0"], "OPS-42: update");
    let out = step.run(&format!("http://127.0.0.1:{port}"), TUESDAY_OPEN);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("GET /repos/Codertocat/Hello-World/contents/") && err.contains("could not be reached after 4 attempt(s)"),
        "{err}"
    );
    assert_token_hidden(&out);
    // The PR is read before anything is written, so an unreachable API leaves no partial report.
    assert!(!step.path("reports/release-gate/2.4.0/freeze-check.json").exists());
}

#[test]
fn workflow_run_publishes_for_a_fork_pr_by_number_only_for_its_head() {
    let fake = Fake::start("").expect("fake");
    let step = Step::new(DEFAULTS, &["release-2.4.0"], "OPS-42: update");
    step.on(&fake);
    let run = |head: &str| {
        let payload = json!({"action": "completed", "workflow_run": {"head_sha": head, "event": "pull_request"}});
        std::fs::write(step.path("run.json"), payload.to_string()).expect("write");
        clean_command(Path::new(env!("CARGO_BIN_EXE_freeze-check")))
            .current_dir(step.dir.path())
            .args(["--release", "2.4.0", "--now", TUESDAY_OPEN, "--pull-request", "2"])
            .env("GITHUB_REPOSITORY", "Codertocat/Hello-World")
            .env("GITHUB_EVENT_NAME", "workflow_run")
            .env("GITHUB_EVENT_PATH", step.path("run.json"))
            .env("GITHUB_SHA", "base0000")
            .env("GITHUB_API_URL", fake.base_url())
            .env("GITHUB_TOKEN", TOKEN)
            .output()
            .expect("run")
    };
    let other = run("ffffffffffffffffffffffffffffffffffffffff");
    assert_eq!(other.status.code(), Some(2), "{}", text(&other));
    assert!(text(&other).contains("refusing to publish results for another commit"), "{}", text(&other));
    assert!(fake.check_runs().is_empty());

    let ok = run(&step.head());
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert_no_violations(&fake);
    let runs = fake.check_runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["head_sha"], step.head().as_str());
    assert_eq!(fake.comments().len(), 1, "the comment goes on the PR");
    assert!(step.report()["checks"].as_array().expect("c").iter().any(|c| c["id"] == "release-train" && c["status"] == "pass"));
}
