//! A stage whose reports are a workflow artifact: read through the Actions
//! artifacts API (the GitHub fake: artifacts per run, the archive behind a
//! redirect to a storage URL that must get no token), from a trusted run on
//! this commit, never from the job's working tree; and every way another
//! build's, a fork's, a tampered or a hostile archive is refused.

#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::path::Path;

use github_fake::Fake;
use github_fake::support::{TempRepo, clean_command, webhook_example};
use serde_json::{Value, json};

const NOW: &str = "2026-12-01T14:00:00Z";
const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const RUN: u64 = 7;
const WORKFLOW: &str = ".github/workflows/release-validation.yml";

const POLICY: &str = r#"evaluation: {allow-dry-run: true}
smoke-gate:
  stages:
    smoke:
      reports: ["**/*.xml"]
      artifact: {name: "smoke-reports-{release}"}
    from-smoke-workflow:
      reports: ["**/*.xml"]
      artifact: {name: smoke-reports, workflow: .github/workflows/smoke.yml}
"#;

fn junit(failing: bool) -> String {
    let case = if failing {
        "<testcase classname=\"t\" name=\"b\"><failure message=\"boom\"/></testcase>"
    } else {
        "<testcase classname=\"t\" name=\"b\"/>"
    };
    format!(
        "<?xml version=\"1.0\"?>\n<testsuite name=\"smoke\" tests=\"2\" timestamp=\"2026-12-01T13:05:00Z\">\n<testcase classname=\"t\" name=\"a\"/>\n{case}\n</testsuite>\n"
    )
}

/// A zip as `actions/upload-artifact` writes it: `(path, bytes)` entries.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

struct Setup {
    fake: Fake,
    repo: TempRepo,
}

impl Setup {
    fn new(policy: &str) -> Self {
        let fake = Fake::start("").unwrap();
        let repo = TempRepo::new();
        std::fs::create_dir_all(repo.path(".git")).unwrap();
        repo.write(".github/release-gate.yml", policy);
        // The job's working tree holds a passing report another step could have written.
        repo.write("reports/junit.xml", junit(false));
        repo.write("event.json", serde_json::to_vec(&webhook_example("push", None).unwrap()).unwrap());
        fake.add_run(RUN, WORKFLOW, SHA, "push");
        fake.set_commit_date(SHA, "2026-12-01T12:30:00Z");
        Self { fake, repo }
    }

    /// Uploads `zip` as `name` to `run`, recorded as uploaded before NOW.
    fn upload(&self, run: u64, name: &str, zip: &[u8]) -> u64 {
        let id = self.fake.add_artifact(run, name, zip);
        self.fake.edit_artifact(id, "created_at", json!("2026-12-01T13:10:00Z"));
        id
    }

    fn smoke_gate(&self, stage: &str, env: &[(&str, &str)]) -> (i32, Value, String) {
        let _ = std::fs::remove_dir_all(self.repo.path("reports/release-gate"));
        let mut cmd = clean_command(Path::new(env!("CARGO_BIN_EXE_smoke-gate")));
        cmd.current_dir(self.repo.root()).args(["--release", "2.4.0", "--format", "json", "--now", NOW, "--stage", stage]);
        let online = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_SHA", SHA),
            ("GITHUB_RUN_ID", "7"),
            ("GITHUB_WORKFLOW_REF", "o/r/.github/workflows/release-validation.yml@refs/heads/release/2.4.0"),
            ("GITHUB_TOKEN", "ghs_smokegatetoken0123456789"),
        ];
        cmd.envs(online).env("GITHUB_EVENT_PATH", self.repo.path("event.json")).env("GITHUB_API_URL", self.fake.base_url());
        cmd.env("RELEASE_GATE_HTTP_BACKOFF_MS", "10");
        for (k, v) in env {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        let out = cmd.output().unwrap();
        let report = std::fs::read(self.repo.path(&format!("reports/release-gate/2.4.0/smoke-gate-{stage}.json"))).unwrap_or_default();
        (
            out.status.code().unwrap_or(-1),
            serde_json::from_slice(&report).unwrap_or(Value::Null),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn msg(r: &Value, id: &str) -> String {
    r["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
        .map(|c| format!("{}: {}", c["status"].as_str().unwrap_or_default(), c["message"].as_str().unwrap_or_default()))
        .unwrap_or_else(|| panic!("no check {id}: {r:#}"))
}

#[test]
fn the_reports_are_the_trusted_runs_artifact_not_the_working_tree() {
    let s = Setup::new(POLICY);
    // This run uploaded a failing report; the working tree's passing one must not count.
    s.upload(RUN, "smoke-reports-2.4.0", &zip_of(&[("junit.xml", junit(true).as_bytes())]));
    let (code, r, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert_ne!(r["outputs"]["decision"], "promote", "{r:#}");
    assert_eq!(r["outputs"]["failed"], "1", "{r:#}");
    let artifact = msg(&r, "artifact");
    assert!(
        artifact.starts_with("pass: the reports are artifact `smoke-reports-2.4.0`") && artifact.contains("workflow run 7"),
        "{artifact}"
    );
    assert!(msg(&r, "reports").contains("smoke-reports-2.4.0/junit.xml"), "{}", msg(&r, "reports"));
    // A passing one, in a subdirectory: promotes; the archive was fetched from storage without the token.
    let s = Setup::new(POLICY);
    s.upload(RUN, "smoke-reports-2.4.0", &zip_of(&[("smoke/junit.xml", junit(false).as_bytes()), ("smoke/log.txt", b"not a report")]));
    let (code, r, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    assert_eq!(r["outputs"]["decision"], "promote");
    let requests = s.fake.requests();
    assert!(requests.iter().any(|q| q.path.starts_with("/_storage/artifacts/") && q.status == 200), "the archive was not fetched");
    assert!(s.fake.violations().is_empty(), "{:?}", s.fake.violations());
}

#[test]
fn nothing_uploaded_another_runs_or_commits_or_a_forks_artifact_never_promotes() {
    // Nothing uploaded (an artifact of the same name in another run does not count): a failed stage.
    let s = Setup::new(POLICY);
    s.fake.add_run(8, WORKFLOW, SHA, "push");
    s.upload(8, "smoke-reports-2.4.0", &zip_of(&[("junit.xml", junit(false).as_bytes())]));
    let (code, r, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert!(msg(&r, "artifact").starts_with("fail: no artifact `smoke-reports-2.4.0` in run 7"), "{}", msg(&r, "artifact"));
    assert_ne!(r["outputs"]["decision"], "promote");

    // The named workflow never ran on this commit (only on another): a failed stage.
    let s = Setup::new(POLICY);
    s.fake.add_run(9, ".github/workflows/smoke.yml", &"1".repeat(40), "push");
    s.upload(9, "smoke-reports", &zip_of(&[("junit.xml", junit(false).as_bytes())]));
    let (code, r, err) = s.smoke_gate("from-smoke-workflow", &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert!(msg(&r, "artifact").contains("no run of `.github/workflows/smoke.yml` on commit 6dcb09b5b578"), "{}", msg(&r, "artifact"));

    // It ran on this commit, but on a fork's code: refused.
    let s = Setup::new(POLICY);
    s.fake.add_run(9, ".github/workflows/smoke.yml", SHA, "pull_request");
    s.fake.edit_run(9, "head_repository", json!({"id": 2, "full_name": "mallory/r"}));
    s.upload(9, "smoke-reports", &zip_of(&[("junit.xml", junit(false).as_bytes())]));
    let (code, _, err) = s.smoke_gate("from-smoke-workflow", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ran on mallory/r's code, not o/r's: a fork's run is not evidence"), "{err}");

    // Of this commit's newest run of the workflow: found, and it passes.
    let s = Setup::new(POLICY);
    s.fake.add_run(9, ".github/workflows/smoke.yml", SHA, "push");
    s.upload(9, "smoke-reports", &zip_of(&[("junit.xml", junit(false).as_bytes())]));
    let (code, r, err) = s.smoke_gate("from-smoke-workflow", &[]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    assert!(msg(&r, "artifact").contains("of workflow run 9 (`.github/workflows/smoke.yml`)"), "{}", msg(&r, "artifact"));

    // A workflow the policy does not trust: refused.
    let trusted = POLICY
        .replace("evaluation: {allow-dry-run: true}", &format!("evaluation: {{allow-dry-run: true, trusted-workflows: [{WORKFLOW}]}}"));
    let s = Setup::new(&trusted);
    s.fake.add_run(9, ".github/workflows/smoke.yml", SHA, "push");
    s.upload(9, "smoke-reports", &zip_of(&[("junit.xml", junit(false).as_bytes())]));
    let (code, _, err) = s.smoke_gate("from-smoke-workflow", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("which evaluation.trusted-workflows does not list"), "{err}");

    // The artifact records another commit: refused.
    let s = Setup::new(POLICY);
    let id = s.upload(RUN, "smoke-reports-2.4.0", &zip_of(&[("junit.xml", junit(false).as_bytes())]));
    s.fake.edit_artifact(
        id,
        "workflow_run",
        json!({"id": RUN, "repository_id": 1, "head_repository_id": 1, "head_branch": "main", "head_sha": "2".repeat(40)}),
    );
    let (code, _, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("records commit 222222222222, not 6dcb09b5b578"), "{err}");

    // Expired: refused, saying what to do.
    let s = Setup::new(POLICY);
    let id = s.upload(RUN, "smoke-reports-2.4.0", &zip_of(&[("junit.xml", junit(false).as_bytes())]));
    s.fake.edit_artifact(id, "expired", json!(true));
    let (code, _, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("has expired: re-run the job that uploads it"), "{err}");
}

#[test]
fn a_tampered_or_hostile_archive_is_refused() {
    // The archive no longer matches the digest GitHub recorded at upload.
    let s = Setup::new(POLICY);
    let id = s.upload(RUN, "smoke-reports-2.4.0", &zip_of(&[("junit.xml", junit(false).as_bytes())]));
    s.fake.edit_artifact(id, "digest", json!(format!("sha256:{}", "0".repeat(64))));
    let (code, _, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("it was changed after upload"), "{err}");

    // An entry that leaves the archive; a link.
    for (entries, why) in [
        (zip_of(&[("../../outside.xml", junit(false).as_bytes())]), "leaves the archive"),
        (zip_of(&[("/etc/junit.xml", junit(false).as_bytes())]), "leaves the archive"),
    ] {
        let s = Setup::new(POLICY);
        s.upload(RUN, "smoke-reports-2.4.0", &entries);
        let (code, _, err) = s.smoke_gate("smoke", &[]);
        assert_eq!(code, 2, "{why}: {err}");
        assert!(err.contains(why), "{err}");
        assert!(!s.repo.path("../outside.xml").exists());
    }
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.add_symlink("junit.xml", "/etc/passwd", zip::write::SimpleFileOptions::default()).unwrap();
    let linked = w.finish().unwrap().into_inner();
    let s = Setup::new(POLICY);
    s.upload(RUN, "smoke-reports-2.4.0", &linked);
    let (code, _, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a link"), "{err}");

    // Not a zip at all.
    let s = Setup::new(POLICY);
    s.upload(RUN, "smoke-reports-2.4.0", b"PK\x03\x04 truncated");
    let (code, _, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a zip archive"), "{err}");

    // A report inside that does not read: the file named, inside the artifact.
    let s = Setup::new(POLICY);
    s.upload(RUN, "smoke-reports-2.4.0", &zip_of(&[("junit.xml", b"<testsuite><testcase name=\"a\">")]));
    let (code, _, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("smoke-reports-2.4.0/junit.xml"), "{err}");
}

#[test]
fn without_a_token_in_actions_it_is_refused_and_offline_the_checkout_is_read_and_said() {
    let s = Setup::new(POLICY);
    let (code, _, err) = s.smoke_gate("smoke", &[("GITHUB_TOKEN", "")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("which is read through the Actions API") && err.contains("actions: read"), "{err}");
    // Offline (a local run): the checkout's reports, with a warning that the artifact was not read.
    let out = clean_command(Path::new(env!("CARGO_BIN_EXE_smoke-gate")))
        .current_dir(s.repo.root())
        .args(["--release", "2.4.0", "--format", "json", "--now", NOW, "--stage", "smoke"])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(msg(&r, "artifact").starts_with("warn: offline: artifact `smoke-reports-2.4.0` is not read"), "{r:#}");
    assert_eq!(r["outputs"]["tests"], "2");
}

/// The independent review's cases: each got a promote before.
#[test]
fn an_older_run_a_duplicate_entry_a_missing_digest_or_a_text_ordered_time_never_promotes() {
    // The newest run of the named workflow uploaded nothing (its job failed): an older run's passing artifact does not count.
    let s = Setup::new(POLICY);
    s.fake.add_run(20, ".github/workflows/smoke.yml", SHA, "push");
    s.fake.edit_run(20, "created_at", json!("2026-12-01T13:00:00Z"));
    s.upload(20, "smoke-reports", &zip_of(&[("junit.xml", junit(false).as_bytes())]));
    s.fake.add_run(21, ".github/workflows/smoke.yml", SHA, "push");
    s.fake.edit_run(21, "created_at", json!("2026-12-01T13:20:00Z"));
    let (code, r, err) = s.smoke_gate("from-smoke-workflow", &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert!(msg(&r, "artifact").starts_with("fail: no artifact `smoke-reports` in run 21"), "{}", msg(&r, "artifact"));

    // One entry twice (a failing one, then a passing one): refused, never the last one alone.
    let s = Setup::new(POLICY);
    // (zip writers refuse to write it: the second name is patched in, central directory and local header alike)
    let twice = zip_of(&[("r/a.xml", junit(true).as_bytes()), ("r/b.xml", junit(false).as_bytes())]);
    let twice = String::from_utf8_lossy(&twice).contains("r/b.xml").then(|| {
        let mut b = twice.clone();
        for i in 0..b.len().saturating_sub(7) {
            if &b[i..i + 7] == b"r/b.xml" {
                b[i + 2] = b'a';
            }
        }
        b
    });
    s.upload(RUN, "smoke-reports-2.4.0", &twice.unwrap());
    let (code, _, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("an entry is in it twice"), "{err}");

    // No digest recorded: the archive cannot be checked, so it is refused.
    let s = Setup::new(POLICY);
    let id = s.upload(RUN, "smoke-reports-2.4.0", &zip_of(&[("junit.xml", junit(false).as_bytes())]));
    s.fake.edit_artifact(id, "digest", Value::Null);
    let (code, _, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("GitHub recorded no digest"), "{err}");

    // Two same-named artifacts: the newer by time wins, whatever the text says (an offset, fractions).
    let s = Setup::new(POLICY);
    let older = s.upload(RUN, "smoke-reports-2.4.0", &zip_of(&[("junit.xml", junit(false).as_bytes())]));
    s.fake.edit_artifact(older, "created_at", json!("2026-12-01T13:30:00+05:00"));
    let newer = s.upload(RUN, "smoke-reports-2.4.0", &zip_of(&[("junit.xml", junit(true).as_bytes())]));
    s.fake.edit_artifact(newer, "created_at", json!("2026-12-01T13:10:00Z"));
    let (code, r, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 1, "the newer, failing one is read: {err}\n{r:#}");
    // An unreadable time: which is newest cannot be told.
    s.fake.edit_artifact(older, "created_at", json!("garbage"));
    let (code, _, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no readable created_at"), "{err}");

    // A report with no timestamp, in an artifact uploaded before the commit was made: an earlier build's.
    let s = Setup::new(POLICY);
    let bare = junit(false).replace(" timestamp=\"2026-12-01T13:05:00Z\"", "");
    let id = s.upload(RUN, "smoke-reports-2.4.0", &zip_of(&[("junit.xml", bare.as_bytes())]));
    s.fake.edit_artifact(id, "created_at", json!("2026-12-01T12:00:00Z"));
    let (code, r, err) = s.smoke_gate("smoke", &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert!(msg(&r, "fresh").contains("before commit 6dcb09b5b578 was made"), "{}", msg(&r, "fresh"));
}
