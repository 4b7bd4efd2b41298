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
