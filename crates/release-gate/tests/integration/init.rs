//! `release-gate init` in an empty repository, then `release-gate run`: a
//! NO-GO (never a GO on nothing), and every blocker says what to configure.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_release-gate");

#[test]
fn init_then_run_is_a_no_go_whose_every_blocker_says_what_to_configure() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    let out = Command::new(BIN).args(["init", "--root"]).arg(root).output().expect("init");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in [".github/release-gate.yml", ".github/workflows/release-validation.yml", ".github/workflows/deploy.yml"] {
        assert!(root.join(f).is_file(), "{f} written");
    }

    // Inside the primary window, so the time rules are not what says no.
    let outcome = release_gate::run(release_gate::Options {
        root: Some(root.to_owned()),
        release: Some("0.1.0".into()),
        now: Some("2026-12-01T13:30:00Z".into()),
    })
    .expect("run");
    assert!(!outcome.go, "nothing configured must never be a GO");
    assert!(outcome.verdict().is_err(), "gates that could not run make the run an error (exit 2)");
    let blockers = outcome.blockers();
    // Every required gate and every checklist item the template leaves unbound.
    assert!(blockers.len() >= 8, "{blockers:#?}");
    let says_what_to_configure =
        |b: &str| ["docs/", "policy", "decision-log-commit.checklist", "smoke-gate.stages."].iter().any(|hint| b.contains(hint));
    for b in &blockers {
        assert!(says_what_to_configure(b), "this blocker does not say what to configure: {b}");
    }
    for todo in ["make migrate-dry-run", "pact results", "kill-switch", "stakeholder announcement"] {
        assert!(blockers.iter().any(|b| b.contains(todo)), "the {todo} placeholder is a blocker: {blockers:#?}");
    }

    // A second init refuses and changes nothing.
    let policy = std::fs::read(root.join(".github/release-gate.yml")).expect("read");
    let again = Command::new(BIN).args(["init", "--root"]).arg(root).output().expect("init again");
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(std::fs::read(root.join(".github/release-gate.yml")).expect("read"), policy);
}

fn workflows(root: &std::path::Path) -> Vec<(String, String)> {
    let dir = root.join(".github/workflows");
    let mut v: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("workflows")
        .map(|e| {
            let p = e.expect("entry").path();
            (p.display().to_string(), std::fs::read_to_string(&p).expect("read"))
        })
        .collect();
    v.sort();
    v
}

/// zizmor as users and the issue tracker run it: no configuration, the auditor persona, each file named.
fn zizmor_findings(files: &[(String, String)]) -> String {
    let out = Command::new("zizmor")
        .args(["--offline", "--no-config", "--quiet", "--persona", "auditor", "--format", "plain"])
        .args(files.iter().map(|(p, _)| p))
        .output()
        .expect("zizmor (scripts/test installs it into .tools/venv)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { String::new() } else { text }
}

#[test]
fn init_pins_every_action_by_commit_and_its_workflows_pass_the_audit() {
    let pin = "8f3c2a1b9d0e7f6a5b4c3d2e1f0a9b8c7d6e5f4a";
    // A development build knows no release: the placeholder, said as such.
    let dev = tempfile::tempdir().expect("tmp");
    let out = Command::new(BIN).env_remove("GITHUB_API_URL").args(["init", "--root"]).arg(dev.path()).output().expect("init");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("development build") && said.contains("0000000000000000000000000000000000000000"), "{said}");
    for (path, text) in workflows(dev.path()) {
        assert!(!text.contains("@v1"), "{path} uses a movable tag");
        assert!(text.contains("@0000000000000000000000000000000000000000 # v"), "{path}");
    }
    // A pin given: in every workflow, with the version for Dependabot and Renovate; the audit finds nothing.
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(BIN).args(["init", "--pin", pin, "--root"]).arg(dir.path()).output().expect("init");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let files = workflows(dir.path());
    assert_eq!(files.len(), 4);
    let mut uses = 0;
    for (path, text) in &files {
        for line in text.lines().filter(|l| l.contains("tradepulse/release-gate/actions/")) {
            assert!(line.trim_end().ends_with(&format!("@{pin} # v{}", env!("CARGO_PKG_VERSION"))), "{path}: {line}");
            uses += 1;
        }
    }
    assert!(uses >= 8, "{uses}");
    let findings = zizmor_findings(&files);
    assert!(findings.is_empty(), "zizmor on init's workflows:\n{findings}");
    // Apart from the pin, init writes the bundled examples.
    for (path, text) in &files {
        let name = std::path::Path::new(path).file_name().expect("name");
        let example = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/workflows").join(name))
            .expect("example");
        assert_eq!(text.replace(pin, "0000000000000000000000000000000000000000"), example, "{path}");
    }
    // Not a commit SHA: refused, nothing written.
    let bad = tempfile::tempdir().expect("tmp");
    let out = Command::new(BIN).args(["init", "--pin", "v1.2.3", "--root"]).arg(bad.path()).output().expect("init");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a commit SHA"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!bad.path().join(".github").exists(), "nothing written");
}

#[test]
fn a_release_tag_is_resolved_to_its_release_commit_and_a_tag_on_another_commit_is_refused() {
    let fake = github_fake::Fake::start("").expect("fake");
    let release = "1".repeat(40);
    fake.put_file_as("releases", "actions/VERSION", "1.2.3\n", &release);
    fake.add_tag("v1.2.3", &release);
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(BIN)
        .env("GITHUB_API_URL", fake.base_url())
        .env("GITHUB_TOKEN", "ghs_inittoken0123456789")
        .args(["init", "--release-tag", "v1.2.3", "--root"])
        .arg(dir.path())
        .output()
        .expect("init");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("the release commit that tradepulse/release-gate's tag v1.2.3 names"));
    for (path, text) in workflows(dir.path()) {
        for line in text.lines().filter(|l| l.contains("tradepulse/release-gate/actions/")) {
            assert!(line.trim_end().ends_with(&format!("@{release} # v1.2.3")), "{path}: {line}");
        }
    }
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ghs_inittoken"), "the token is never printed");
    // A tag moved onto a commit that is not that release's: refused, nothing written.
    let other = "2".repeat(40);
    fake.put_file_as("main", "actions/VERSION", "1.2.2\n", &other);
    fake.add_tag("v1.2.4", &other);
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(BIN)
        .env("GITHUB_API_URL", fake.base_url())
        .env("GITHUB_TOKEN", "ghs_inittoken0123456789")
        .args(["init", "--release-tag", "v1.2.4", "--root"])
        .arg(dir.path())
        .output()
        .expect("init");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a release commit"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.path().join(".github").exists());
    // No such tag: refused; GitHub unreachable: exit 3, saying to pass --pin.
    let out = Command::new(BIN)
        .env("GITHUB_API_URL", fake.base_url())
        .args(["init", "--release-tag", "v9.9.9", "--root"])
        .arg(dir.path())
        .output()
        .expect("init");
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN)
        .env("GITHUB_API_URL", "http://127.0.0.1:9")
        .args(["init", "--release-tag", "v1.2.3", "--root"])
        .arg(dir.path())
        .output()
        .expect("init");
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --pin"), "{}", String::from_utf8_lossy(&out.stderr));
}
