//! decision-log-commit end to end: the log from reports, hand-written text
//! kept, 8 concurrent writers through the GitHub fake's contents API (0 lost
//! updates), a protected branch (pull request instead), `--via git`, and
//! the S3 archive against moto.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::Path;
use std::process::{Command, Output};

use github_fake::Fake;
use github_fake::support::{TempRepo, clean_command, webhook_example};
use release_gate_core::report::{Check, Report, Status};
use serde_json::{Value, json};

const NOW: &str = "2026-12-01T13:30:00Z";
const LOG: &str = "reports/release-decisions/2.4.0.md";

const POLICY: &str = r#"evaluation: {allow-dry-run: true}
decision-log-commit:
  required: [freeze-check, config-diff]
  checklist:
    artifact-integrity: [{report: artifact-verify}]
    change-scope-locked: [{report: freeze-check}]
    dependencies-verified: [{file: "reports/pact/{release}/results.json", kind: json, field: verified, expected: true}]
    observability-baselines: [{report: smoke-gate-canary}]
    risk-controls: [{file: "reports/kill-switch/{release}.json", kind: json, field: result, expected: pass, max-age: 7d}]
    data-protection: [{report: artifact-verify}]
    communication-plan:
      - {file: "docs/releases/{release}/communication-plan.md", kind: markdown, reviewed-by: "reviewed by", reviewers: [operations]}
      - {link: communication-plan}
"#;

fn report(gate: &str, stage: Option<&str>, status: Status, warn: Option<&str>) -> Report {
    let mut r = Report::new(gate, "2.4.0", NOW.parse().unwrap(), Some("0".repeat(40)));
    r.stage = stage.map(str::to_owned);
    r.push(Check::new("main", status, format!("{gate} says {}", status.as_str())));
    if let Some(w) = warn {
        r.push(Check::new("note", Status::Warn, w));
    }
    r.title = format!("{gate} {}", status.as_str());
    if gate == "smoke-gate" {
        r.output("decision", if status == Status::Fail { "rollback" } else { "promote" });
    }
    if gate == "config-diff" {
        r.data = json!({"hashes": {"production": "jcs-sha256:abc", "staging": "jcs-sha256:def"}});
    }
    r
}

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
        r.write(".github/release-gate.yml", POLICY);
        r
    }
    fn add(&self, dir: &str, r: &Report) {
        release_gate_core::publish::write_report(r, &self.path(dir)).unwrap();
    }
    fn evidence(&self, kill_switch_at: &str) {
        self.write("reports/pact/2.4.0/results.json", r#"{"verified": true}"#);
        self.write("reports/kill-switch/2.4.0.json", format!(r#"{{"executed_at": "{kill_switch_at}", "result": "pass"}}"#));
        self.write("docs/releases/2.4.0/communication-plan.md", "# Plan\n\nAnnouncement drafted, reviewed by operations.\n");
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = clean_command(Path::new(env!("CARGO_BIN_EXE_decision-log-commit")));
        c.current_dir(self.root()).args(["--release", "2.4.0", "--format", "json", "--now", NOW]).args(args);
        c
    }
}

fn parse(o: &Output) -> (i32, Value, String) {
    (
        o.status.code().unwrap_or(-1),
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const GOOD_DIR: &str = "reports/release-gate/2.4.0";

fn all_good(repo: &Repo) {
    repo.add(GOOD_DIR, &report("freeze-check", None, Status::Pass, Some("emergency override approved by alice")));
    repo.add(GOOD_DIR, &report("config-diff", None, Status::Warn, Some("exception max-order-notional approved by bob until 2026-12-20")));
    repo.add(GOOD_DIR, &report("artifact-verify", None, Status::Pass, None));
    repo.add(GOOD_DIR, &report("smoke-gate", Some("canary"), Status::Pass, Some("1 test(s) passed only on a retry")));
}

#[test]
fn the_log_follows_the_template_computes_go_and_keeps_hand_written_text() {
    let repo = Repo::new();
    all_good(&repo);
    repo.evidence("2026-11-28T09:00:00Z");
    let (code, r, err) = parse(
        &repo
            .cmd(&[
                "--via",
                "none",
                "--participants",
                "carol (captain), dan (SRE)",
                "--evidence",
                "communication-plan=https://wiki.tradepulse.example/rel/2.4.0",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{err}\n{r:#}");
    assert_eq!(r["outputs"]["decision"], "go");
    let log = std::fs::read_to_string(repo.path(LOG)).unwrap();
    for field in [
        "Release date/time (UTC):** ",
        "Participants:** carol (captain), dan (SRE)",
        "Scope summary:**",
        "Readiness checklist:",
        "Smoke/sanity runs:",
        "Config diff report:",
        "Dashboards:",
        "Go/No-Go Decision:**",
        "Rollback executed:**",
        "Post-release notes:**",
        "Outstanding risks/debt:**",
    ] {
        assert!(log.contains(field), "missing {field:?} in\n{log}");
    }
    assert!(
        log.contains("Release date/time (UTC):** <!-- release-gate:begin datetime -->\n_not deployed yet_"),
        "the deploy's time, once there is one"
    );
    assert!(log.contains("**GO**"));
    assert!(
        log.contains("- **Release lifecycle:** <!-- release-gate:begin lifecycle-state -->\n**GO** since 2026-12-01T13:30:00Z"),
        "{log}"
    );
    assert!(log.contains("[x] Communication plan"), "{log}");
    assert!(log.contains("[communication-plan](https://wiki.tradepulse.example/rel/2.4.0): a link is shown, never evidence"), "{log}");
    assert!(log.contains("[x] Risk controls"));
    assert!(log.contains("https://grafana.tradepulse.internal/d/release-control"), "runbook §9 dashboards by default");
    assert!(log.contains("approved by alice") && log.contains("approved by bob") && log.contains("passed only on a retry"), "risks listed");
    // config-diff can read the hashes back.
    assert_eq!(release_gate_core::hashes::parse(&log).unwrap().unwrap().get("production").map(String::as_str), Some("jcs-sha256:abc"));

    // The captain edits by hand; a re-run with a failing report keeps the edits.
    let edited = log
        .replace("- **Scope summary:** _(release captain: what ships)_", "- **Scope summary:** order router 2.4, pricing wheel")
        + "\nDiscussed at the 13:00 go/no-go call: proceed if canary holds.\n";
    repo.write(LOG, &edited);
    repo.add(GOOD_DIR, &report("smoke-gate", Some("canary"), Status::Fail, None));
    let (code, r, _) = parse(&repo.cmd(&["--via", "none"]).output().unwrap());
    assert_eq!(code, 1);
    assert_eq!(r["outputs"]["decision"], "no-go");
    let log = std::fs::read_to_string(repo.path(LOG)).unwrap();
    assert!(
        log.contains("order router 2.4, pricing wheel") && log.contains("Discussed at the 13:00 go/no-go call"),
        "hand text kept:\n{log}"
    );
    assert!(log.contains("Participants:** carol (captain), dan (SRE)"), "earlier input kept");
    assert!(log.contains("**NO-GO**"));
    assert!(log.contains("Required — smoke-gate-canary decided rollback"), "{log}");
    assert!(
        log.contains("readiness “Observability baselines” unchecked: [smoke-gate-canary](reports/release-gate/2.4.0/smoke-gate-canary.json): rollback"),
        "{log}"
    );
    assert!(log.contains("`communication-plan`: no link given"), "links are inputs, shown on every run: {log}");
    // The lifecycle moved back to NO-GO, both transitions kept.
    let lc = release_gate_core::decision_log::Lifecycle::read(&log, "2.4.0", LOG).unwrap();
    let states: Vec<&str> = lc.transitions.iter().map(|t| t.to.as_str()).collect();
    assert_eq!(states, ["GO", "NO-GO"], "{log}");
}

#[test]
fn evidence_that_says_it_failed_never_ticks_its_item() {
    // Every file is there; each says the opposite of success.
    let cases: [(&str, &str, &str); 5] = [
        (
            "reports/kill-switch/2.4.0.json",
            r#"{"executed_at": "2026-11-28T09:00:00Z", "result": "FAIL"}"#,
            "“Risk controls” unchecked: `reports/kill-switch/2.4.0.json`: `result` is \"FAIL\", not \"pass\"",
        ),
        (
            "reports/pact/2.4.0/results.json",
            r#"{"verified": false}"#,
            "“Dependencies verified” unchecked: `reports/pact/2.4.0/results.json`: `verified` is false, not true",
        ),
        (
            "docs/releases/2.4.0/communication-plan.md",
            "",
            "“Communication plan” unchecked: `docs/releases/2.4.0/communication-plan.md`: empty",
        ),
        ("docs/releases/2.4.0/communication-plan.md", "# Plan\n\nDrafted.\n", "no paragraph names its reviewer"),
        (
            "reports/kill-switch/2.4.0.json",
            r#"{"executed_at": "2026-11-28T09:00:00Z", "result": "pass""#,
            "cannot tell success from failure: not JSON",
        ),
    ];
    for (file, content, blocker) in cases {
        let repo = Repo::new();
        all_good(&repo);
        repo.evidence("2026-11-28T09:00:00Z");
        let (code, r, _) = parse(&repo.cmd(&["--via", "none"]).output().unwrap());
        assert_eq!((code, r["outputs"]["decision"].as_str()), (0, Some("go")), "the good evidence is a GO: {r:#}");
        repo.write(file, content);
        let (code, r, _) = parse(&repo.cmd(&["--via", "none"]).output().unwrap());
        assert_eq!((code, r["outputs"]["decision"].as_str()), (1, Some("no-go")), "{file}: {content:?}");
        let blockers: Vec<String> = r["data"]["blockers"].as_array().unwrap().iter().map(|b| b.as_str().unwrap().to_owned()).collect();
        assert!(blockers.iter().any(|b| b.contains(blocker)), "{file}: {blocker:?} not in {blockers:#?}");
    }
    // A file with no kind, and a link alone, cannot tick an item.
    let repo = Repo::new();
    all_good(&repo);
    repo.evidence("2026-11-28T09:00:00Z");
    repo.write(
        ".github/release-gate.yml",
        POLICY
            .replace(r#"{file: "reports/pact/{release}/results.json", kind: json, field: verified, expected: true}"#, r#"{file: "reports/pact/{release}/results.json"}"#)
            .replace(r#"      - {file: "docs/releases/{release}/communication-plan.md", kind: markdown, reviewed-by: "reviewed by", reviewers: [operations]}
"#, ""),
    );
    let (code, r, _) = parse(&repo.cmd(&["--via", "none", "--evidence", "communication-plan=https://wiki.example/plan"]).output().unwrap());
    assert_eq!(code, 1, "{r:#}");
    let blockers = r["data"]["blockers"].to_string();
    assert!(blockers.contains("“Dependencies verified” unchecked: `reports/pact/{release}/results.json`: cannot tell success from failure: a file needs a `kind`"), "{blockers}");
    assert!(blockers.contains("“Communication plan” unchecked: nothing bound to this item can tell success from failure"), "{blockers}");
}

#[test]
fn a_skipped_rule_is_not_evidence() {
    // freeze-check passed, but its release-train rule was skipped (no pull request, no train export).
    let repo = Repo::new();
    all_good(&repo);
    repo.evidence("2026-11-28T09:00:00Z");
    repo.write(".github/release-gate.yml", POLICY.replace("[{report: freeze-check}]", "[{report: freeze-check, checks: [release-train]}]"));
    let mut freeze = report("freeze-check", None, Status::Pass, None);
    freeze.push(Check::new("release-train", Status::Skip, "not a pull request event"));
    repo.add(GOOD_DIR, &freeze);
    let (code, r, _) = parse(&repo.cmd(&["--via", "none"]).output().unwrap());
    assert_eq!(code, 1, "{r:#}");
    assert!(r["data"]["blockers"].to_string().contains("`release-train` was skipped, which is not a pass"), "{r:#}");
    freeze.checks.pop();
    freeze.push(Check::new("release-train", Status::Pass, "every PR carries the label"));
    repo.add(GOOD_DIR, &freeze);
    let (code, r, _) = parse(&repo.cmd(&["--via", "none"]).output().unwrap());
    assert_eq!((code, r["outputs"]["decision"].as_str()), (0, Some("go")), "{r:#}");
}

#[test]
fn no_go_names_exactly_what_is_missing_failed_or_stale() {
    let repo = Repo::new();
    repo.add(GOOD_DIR, &report("freeze-check", None, Status::Fail, None));
    repo.evidence("2026-11-20T09:00:00Z"); // 11 days before: stale
    let (code, r, _) = parse(&repo.cmd(&["--via", "none"]).output().unwrap());
    assert_eq!(code, 1);
    let blockers: Vec<String> = r["data"]["blockers"].as_array().unwrap().iter().map(|b| b.as_str().unwrap().to_owned()).collect();
    let has = |s: &str| blockers.iter().any(|b| b.contains(s));
    assert!(has("freeze-check failed: freeze-check fail"), "{blockers:#?}");
    assert!(has("no evidence from config-diff: it has not reported"), "{blockers:#?}");
    assert!(has("“Artifact integrity” unchecked: `artifact-verify`: no report"), "{blockers:#?}");
    assert!(
        has(
            "“Risk controls” unchecked: `reports/kill-switch/2.4.0.json`: stale: from 2026-11-20T09:00:00Z (its own timestamp), older than 7d"
        ),
        "{blockers:#?}"
    );
    assert!(!has("“Dependencies verified”"), "the pact results say verified: {blockers:#?}");
}

#[test]
fn a_passing_copy_beside_a_failing_report_is_refused_never_a_go() {
    let repo = Repo::new();
    all_good(&repo);
    repo.evidence("2026-11-28T09:00:00Z");
    // freeze-check refused; a passing freeze-check report sits beside it under
    // a name that sorts later.
    repo.add(GOOD_DIR, &report("freeze-check", None, Status::Fail, None));
    let passing = serde_json::to_string(&report("freeze-check", None, Status::Pass, None)).unwrap();
    repo.write(&format!("{GOOD_DIR}/zz-freeze-check-rerun.json"), &passing);
    let (code, r, err) = parse(&repo.cmd(&["--via", "none"]).output().unwrap());
    assert_eq!(code, 2, "{err}\n{r:#}");
    assert_ne!(r["outputs"]["decision"], "go", "{r:#}");
    assert!(
        err.contains("reports/release-gate/2.4.0/zz-freeze-check-rerun.json holds freeze-check's report, which is written as freeze-check.json; remove the copy"),
        "{err}"
    );
    assert!(!repo.path(LOG).exists(), "no log is written from an ambiguous directory");
}

fn online(repo: &Repo, fake: &Fake, dir: &str, args: &[&str]) -> Command {
    let event = webhook_example("pull_request", Some("opened")).unwrap();
    github_fake::support::base_policy(fake, &event, ".github/release-gate.yml", POLICY);
    repo.write("event.json", serde_json::to_vec(&event).unwrap());
    let mut c = repo.cmd(args);
    c.args(["--report-dir", dir, "--branch", "release/2.4.0"])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "Codertocat/Hello-World")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", repo.path("event.json"))
        .env("GITHUB_SHA", "0".repeat(40))
        .env("GITHUB_API_URL", fake.base_url())
        .env("GITHUB_TOKEN", "ghs_decisionlogtoken0123456789")
        .env("RELEASE_GATE_HTTP_BACKOFF_MS", "10")
        .env("RELEASE_GATE_COMMENT_MODE", "off");
    c
}

#[test]
fn eight_concurrent_writers_lose_nothing() {
    let fake = Fake::start("").unwrap();
    fake.put_file("release/2.4.0", "README.md", "release branch\n");
    // Slow reads widen the window between a writer's read and its write, so
    // the writers really race (as jobs on a busy runner pool do).
    fake.latency("GET", "/contents/", 300);
    let repo = Repo::new();
    // Eight writers, each holding one gate's report, as eight jobs would.
    let gates: [(&str, Option<&str>); 8] = [
        ("freeze-check", None),
        ("config-diff", None),
        ("artifact-verify", None),
        ("smoke-gate", Some("smoke")),
        ("smoke-gate", Some("fast-suite")),
        ("smoke-gate", Some("canary")),
        ("smoke-gate", Some("post-release")),
        ("load-test", None),
    ];
    let mut children = Vec::new();
    for (i, (g, s)) in gates.iter().enumerate() {
        let dir = format!("writer-{i}");
        repo.add(&dir, &report(g, *s, Status::Pass, None));
        children.push(
            online(&repo, &fake, &dir, &["--via", "api"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    let (mut commits, mut retries) = (0u64, 0u64);
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "writer {i}: {}", String::from_utf8_lossy(&out.stderr));
        let r: Value = serde_json::from_slice(&std::fs::read(repo.path(&format!("writer-{i}/decision-log-commit.json"))).unwrap()).unwrap();
        commits += r["outputs"]["commits"].as_str().unwrap().parse::<u64>().unwrap();
        retries += r["outputs"]["retries"].as_str().unwrap().parse::<u64>().unwrap();
    }
    let log = fake.file("release/2.4.0", LOG).expect("the log was committed");
    let recorded = decision_log_commit::log::entries(&log);
    let keys: Vec<&String> = recorded.keys().collect();
    assert_eq!(keys.len(), 8, "every writer's contribution is present: {keys:?}\n{log}");
    let made = fake.commits().iter().filter(|(b, p, _)| b == "release/2.4.0" && p == LOG).count() as u64;
    println!("8 concurrent writers: {made} commits, {retries} conflicts retried, 0 lost updates");
    assert_eq!(made, commits, "the writers' count of their commits matches the fake's");
    assert_eq!(made, 8, "each writer committed its contribution once");
    assert!(retries > 0, "the writers raced: at least one conflict was retried");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[test]
fn a_protected_branch_gets_a_pull_request_instead() {
    let fake = Fake::start("").unwrap();
    fake.put_file("release/2.4.0", "README.md", "release branch\n");
    fake.protect("release/2.4.0");
    let repo = Repo::new();
    all_good(&repo);
    let out = online(&repo, &fake, GOOD_DIR, &["--via", "api"]).output().unwrap();
    let report: Value =
        serde_json::from_slice(&std::fs::read(repo.path("reports/release-gate/2.4.0/decision-log-commit.json")).unwrap()).unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
    let how = report["checks"][0]["message"].as_str().unwrap();
    assert!(how.contains("release/2.4.0 requires a pull request: committed reports/release-decisions/2.4.0.md to release-gate/decision-log/2.4.0 and opened pull request #"), "{how}");
    assert!(fake.file("release-gate/decision-log/2.4.0", LOG).is_some());
    assert!(fake.file("release/2.4.0", LOG).is_none());
    // Running again reuses the branch and the open pull request.
    let _ = online(&repo, &fake, GOOD_DIR, &["--via", "api"]).output().unwrap();
    let pulls = fake.with(|s| s.pulls.len());
    assert_eq!(pulls, 1, "one pull request for the log, reused");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[test]
fn via_git_commits_in_the_checkout() {
    let repo = Repo::new();
    let git =
        |args: &[&str]| assert!(Command::new("git").current_dir(repo.root()).args(args).output().unwrap().status.success(), "git {args:?}");
    git(&["init", "-q", "-b", "release/2.4.0"]);
    git(&["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "init"]);
    all_good(&repo);
    let (code, r, err) = parse(&repo.cmd(&["--via", "git"]).output().unwrap());
    assert!(matches!(code, 0 | 1), "{err}");
    assert!(r["checks"][0]["message"].as_str().unwrap().contains("committed reports/release-decisions/2.4.0.md in the local checkout"));
    let log = Command::new("git").current_dir(repo.root()).args(["log", "--oneline", "--", LOG]).output().unwrap();
    assert!(String::from_utf8_lossy(&log.stdout).contains("Decision log for release 2.4.0"));
    let (_, r, _) = parse(&repo.cmd(&["--via", "git"]).output().unwrap());
    let st = Command::new("git").current_dir(repo.root()).args(["diff", "HEAD~1", "--", LOG]).output().unwrap();
    assert!(
        r["checks"][0]["message"].as_str().unwrap().contains("unchanged; nothing to commit"),
        "{r:#}\n{}",
        String::from_utf8_lossy(&st.stdout)
    );
}

#[test]
fn the_archive_uploads_reports_and_log_with_checksums() {
    use aws_sdk_s3::types::ChecksumMode;
    let moto = github_fake::support::Moto::start().unwrap();
    let repo = Repo::new();
    all_good(&repo);
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(&moto.endpoint)
        .force_path_style(true)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(conf);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { s3.create_bucket().bucket("tradepulse-release-validation").send().await.unwrap() });
    let out = repo
        .cmd(&["--via", "none", "--archive-bucket", "tradepulse-release-validation", "--s3-endpoint", &moto.endpoint, "--s3-path-style"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let (_, r, err) = parse(&out);
    assert_eq!(r["outputs"]["archive"], "s3://tradepulse-release-validation/2.4.0/", "{err}\n{r:#}");
    let keys: Vec<String> = rt.block_on(async {
        let l = s3.list_objects_v2().bucket("tradepulse-release-validation").prefix("2.4.0/").send().await.unwrap();
        l.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
    });
    for k in [
        "2.4.0/2.4.0.md",
        "2.4.0/artifact-verify.json",
        "2.4.0/config-diff.json",
        "2.4.0/freeze-check.json",
        "2.4.0/smoke-gate-canary.json",
    ] {
        assert!(keys.iter().any(|x| x == k), "{k} not archived: {keys:?}");
    }
    let log = std::fs::read(repo.path(LOG)).unwrap();
    let head = rt.block_on(async {
        s3.head_object()
            .bucket("tradepulse-release-validation")
            .key("2.4.0/2.4.0.md")
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap()
    });
    use base64::Engine as _;
    use sha2::Digest as _;
    assert_eq!(head.checksum_sha256(), Some(base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&log)).as_str()));
    // Nothing listening: exit 3.
    let out = repo
        .cmd(&["--via", "none", "--archive-bucket", "b", "--s3-endpoint", "http://127.0.0.1:9", "--s3-path-style"])
        .env("AWS_ACCESS_KEY_ID", "t")
        .env("AWS_SECRET_ACCESS_KEY", "t")
        .env("AWS_REGION", "us-east-1")
        .env("RELEASE_GATE_S3_ATTEMPTS", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn online_only_evidence_for_this_commit_counts() {
    let fake = Fake::start("").unwrap();
    fake.put_file("release/2.4.0", "README.md", "release branch\n");
    let repo = Repo::new();
    // The commit being released is the PR's head.
    let head = webhook_example("pull_request", Some("opened")).unwrap()["pull_request"]["head"]["sha"].as_str().unwrap().to_owned();
    for (g, st) in [("freeze-check", None), ("artifact-verify", None), ("smoke-gate", Some("canary"))] {
        let mut r = report(g, st, Status::Pass, None);
        r.commit = Some(head.clone());
        repo.add(GOOD_DIR, &r);
    }
    let mut old = report("config-diff", None, Status::Pass, None);
    old.commit = Some("1".repeat(40));
    repo.add(GOOD_DIR, &old);
    let _ = online(&repo, &fake, GOOD_DIR, &["--via", "api"]).output().unwrap();
    let r: Value =
        serde_json::from_slice(&std::fs::read(repo.path("reports/release-gate/2.4.0/decision-log-commit.json")).unwrap()).unwrap();
    let blockers = r["data"]["blockers"].to_string();
    assert!(
        blockers.contains(&format!("stale evidence from config-diff: it evaluated commit 111111111111, not {}", &head[..12])),
        "{blockers}"
    );
    assert!(!blockers.contains("freeze-check"), "{blockers}");
}

#[test]
fn nothing_is_read_or_written_outside_the_repository() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("shadow"), "root:x:0:0\n").unwrap();
    // The log: a path that leaves the repository, absolute or by `..`, is refused before anything is written.
    for log in ["../escaped.md".to_owned(), outside.path().join("escaped.md").display().to_string()] {
        let repo = Repo::new();
        repo.write(".github/release-gate.yml", format!("{POLICY}  log: \"{log}\"\n"));
        all_good(&repo);
        let (code, _, err) = parse(&repo.cmd(&["--via", "none"]).output().unwrap());
        assert_eq!(code, 2, "{log}: {err}");
        assert!(err.contains("leads outside the repository"), "{err}");
        assert!(!outside.path().join("escaped.md").exists() && !repo.root().parent().unwrap().join("escaped.md").exists());
    }
    // Checklist evidence: a file outside, by path or through a link, never checks an item.
    let repo = Repo::new();
    all_good(&repo);
    repo.evidence("2026-11-28T09:00:00Z");
    let shadow = outside.path().join("shadow").display().to_string();
    repo.write(".github/release-gate.yml", POLICY.replace("reports/pact/{release}/results.json", &shadow));
    let (code, r, _) = parse(&repo.cmd(&["--via", "none", "--evidence", "communication-plan=https://wiki.example/c"]).output().unwrap());
    assert_eq!(code, 1);
    assert!(r["data"]["blockers"].to_string().contains("leads outside the repository"), "{r:#}");
    #[cfg(unix)]
    {
        std::fs::remove_file(repo.path("reports/pact/2.4.0/results.json")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("shadow"), repo.path("reports/pact/2.4.0/results.json")).unwrap();
        repo.write(".github/release-gate.yml", POLICY);
        let (code, r, _) =
            parse(&repo.cmd(&["--via", "none", "--evidence", "communication-plan=https://wiki.example/c"]).output().unwrap());
        assert_eq!(code, 1);
        assert!(r["data"]["blockers"].to_string().contains("symbolic link"), "{r:#}");
    }
}

#[test]
fn a_log_that_cannot_be_read_is_never_rebuilt_over() {
    let repo = Repo::new();
    all_good(&repo);
    let mut hand = b"# Release 2.4.0 Decision Log\n\n- **Participants:** carol\n- **Post-release notes:** ".to_vec();
    hand.extend_from_slice(b"caf\xe9 incident\n");
    repo.write(LOG, &hand);
    let (code, _, err) = parse(&repo.cmd(&["--via", "none"]).output().unwrap());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("reports/release-decisions/2.4.0.md:4: decision log is not UTF-8") && err.contains("left as it is"), "{err}");
    assert_eq!(std::fs::read(repo.path(LOG)).unwrap(), hand, "the captain's lines are untouched");
}

#[test]
fn a_gate_from_another_job_is_recorded_from_its_trusted_check_run_and_never_over_the_logs_hashes() {
    // The deploy workflow runs freeze-check in another job: no report here,
    // but its check run on this commit, published by this workflow, counts.
    let fake = Fake::start("").unwrap();
    fake.put_file("release/2.4.0", "README.md", "release branch\n");
    let repo = Repo::new();
    repo.evidence("2026-11-28T09:00:00Z");
    let head = webhook_example("pull_request", Some("opened")).unwrap()["pull_request"]["head"]["sha"].as_str().unwrap().to_owned();
    let mut cd = report("config-diff", None, Status::Pass, None);
    cd.commit = Some(head.clone());
    repo.add(GOOD_DIR, &cd);
    let wf = ".github/workflows/deploy.yml";
    fake.add_run(77, wf, &head, "pull_request");
    let run = |fake: &Fake| {
        let out = online(&repo, fake, GOOD_DIR, &["--via", "api"])
            .env("GITHUB_RUN_ID", "78")
            .env("GITHUB_WORKFLOW_REF", format!("Codertocat/Hello-World/{wf}@refs/heads/main"))
            .output()
            .unwrap();
        let r: Value =
            serde_json::from_slice(&std::fs::read(repo.path("reports/release-gate/2.4.0/decision-log-commit.json")).unwrap()).unwrap();
        (out, r)
    };
    // Another app's check run with the name: not recorded.
    fake.add_check_run(
        &head,
        "release-gate/freeze-check",
        "success",
        "other-app",
        Some("release-gate/v3 release=2.4.0 run=77 attempt=1 at=2026-12-01T13:30:00Z"),
    );
    let (_, r) = run(&fake);
    assert!(r["data"]["blockers"].to_string().contains("no evidence from freeze-check"), "{}", r["data"]["blockers"]);
    // This workflow's: recorded, with its decision, commit and checks (the
    // row freeze-check embeds in its check run).
    let id = fake.add_check_run(
        &head,
        "release-gate/freeze-check",
        "success",
        "github-actions",
        Some("release-gate/v3 release=2.4.0 run=77 attempt=1 at=2026-12-01T13:30:00Z"),
    );
    let row = release_gate_core::comment::Row::from_report(&report("freeze-check", None, Status::Pass, None)).embed();
    fake.with(|s| s.check_runs.iter_mut().filter(|r| r["id"] == id).for_each(|r| r["output"]["summary"] = json!(row)));
    let (_, r) = run(&fake);
    let blockers = r["data"]["blockers"].to_string();
    assert!(!blockers.contains("freeze-check"), "{blockers}");
    assert!(blockers.contains("“Artifact integrity” unchecked"), "the checklist still reads its other evidence: {blockers}");
    let log = fake.file("release/2.4.0", LOG).unwrap();
    assert!(log.contains(&format!(r#""key":"freeze-check","verdict":"pass","title":"release-gate/freeze-check","generated_at":"2026-12-01T13:30:00Z","commit":"{head}""#)), "{log}");
    // config-diff's recorded entry (with the hashes) is not replaced by its check run.
    fake.add_check_run(
        &head,
        "release-gate/config-diff",
        "success",
        "github-actions",
        Some("release-gate/v3 release=2.4.0 run=77 attempt=1 at=2026-12-01T13:30:00Z"),
    );
    std::fs::remove_file(repo.path("reports/release-gate/2.4.0/config-diff.json")).unwrap();
    let _ = run(&fake);
    let log = fake.file("release/2.4.0", LOG).unwrap();
    assert!(log.contains("production jcs-sha256:abc"), "the recorded hashes stay: {log}");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}
