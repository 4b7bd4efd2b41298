//! `release-gate run` on a copy of the bundled example: release 2.4.0 is a
//! GO, release 2.5.0 a NO-GO naming its reasons; the answer is the same on
//! every run (the example pins its evaluation time).

#![allow(clippy::unwrap_used)]

use std::path::Path;

fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tradepulse");
    github_fake::support::copy_tree(&src, dir.path(), "release-gate").unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = github_fake::support::clean_command(Path::new(env!("CARGO_BIN_EXE_release-gate")))
        .arg("run")
        .arg("--root")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_example_release_is_a_go_every_time_and_its_log_is_the_committed_one() {
    let dir = example();
    let committed = std::fs::read_to_string(dir.path().join("reports/release-decisions/2.4.0.md")).unwrap();
    let (code, out) = run(dir.path(), &[]);
    assert_eq!(code, 0, "{out}");
    for gate in [
        "freeze-check",
        "config-diff",
        "artifact-verify",
        "smoke-gate smoke",
        "smoke-gate fast-suite",
        "smoke-gate canary",
        "decision-log-commit",
    ] {
        assert!(out.lines().any(|l| l.starts_with(gate)), "{gate} missing:\n{out}");
    }
    assert!(out.contains("\nGO\n"), "{out}");
    let log = std::fs::read_to_string(dir.path().join("reports/release-decisions/2.4.0.md")).unwrap();
    assert_eq!(log, committed, "the bundled log is what the run writes: same answer any day");
    let (code, again) = run(dir.path(), &[]);
    assert_eq!(code, 0);
    assert_eq!(again, out, "a second run gives the same answer");
}

#[test]
fn the_second_release_is_a_no_go_with_its_reasons() {
    let dir = example();
    let (code, out) = run(dir.path(), &["--release", "2.5.0"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\nNO-GO\n"), "{out}");
    for reason in [
        "artifact-verify failed: 2 of 3 artifact(s) failed verification",
        "smoke-gate-smoke decided hold",
        "smoke-gate-canary decided rollback",
        "readiness “Risk controls” unchecked",
    ] {
        assert!(out.contains(reason), "{reason:?} missing:\n{out}");
    }
}

#[test]
fn the_no_go_comment_is_under_4_kb_and_names_every_blocker() {
    let dir = example();
    let (code, md) = run(dir.path(), &["--release", "2.5.0", "--format", "markdown"]);
    assert_eq!(code, 1, "{md}");
    let outcome =
        release_gate::run(release_gate::Options { root: Some(dir.path().to_owned()), release: Some("2.5.0".into()), now: None }).unwrap();
    assert_eq!(md, outcome.comment(), "the preview is the comment the library renders");
    let blockers = &outcome.decision.as_ref().unwrap().blockers;
    assert_eq!(blockers.len(), 8, "{blockers:#?}");
    assert!(md.len() < 4096, "{} bytes:\n{md}", md.len());
    assert!(md.starts_with("<!-- release-gate release: 2.5.0 -->"));
    for b in blockers {
        let head: String = b.chars().take(60).collect();
        assert!(md.contains(&format!("- {head}")), "blocker {head:?} not named:\n{md}");
    }
    // Passes are collapsed; every failing gate is a row outside the details.
    let (open, collapsed) = md.split_once("<details>").unwrap();
    assert!(collapsed.contains("`freeze-check`"), "{md}");
    for gate in ["config-diff", "artifact-verify", "smoke-gate-smoke", "smoke-gate-canary", "decision-log-commit"] {
        assert!(open.contains(&format!("`{gate}`")), "{gate} row missing:\n{md}");
    }
}

#[test]
fn a_release_id_that_is_a_path_touches_nothing_outside() {
    let dir = example();
    // A victim directory beside the repository, with a file a run would remove in its own report directory.
    let victim = dir.path().parent().unwrap().join(format!("victim-{}", std::process::id()));
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("smoke-gate-keep.json"), "{}").unwrap();
    let policy = std::fs::read_to_string(dir.path().join(".github/release-gate.yml")).unwrap();
    let rel = format!("../../../{}", victim.file_name().unwrap().to_string_lossy());
    std::fs::write(dir.path().join(".github/release-gate.yml"), policy.replace("release: 2.4.0", &format!("release: \"{rel}\""))).unwrap();
    let (code, out) = run(dir.path(), &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("release id") && out.contains("contains '/'"), "{out}");
    assert!(victim.join("smoke-gate-keep.json").exists(), "nothing outside the repository is removed");
    std::fs::remove_dir_all(&victim).unwrap();
}

#[test]
fn a_token_in_the_environment_does_not_make_the_local_run_online() {
    // The gates are called as functions with a local context: a runner's
    // variables and a token reach none of them, and nothing is published.
    let fake = github_fake::Fake::start("").unwrap();
    let dir = example();
    let out = github_fake::support::clean_command(Path::new(env!("CARGO_BIN_EXE_release-gate")))
        .args(["run", "--root"])
        .arg(dir.path())
        .envs([
            ("GITHUB_TOKEN", "ghs_0123456789abcdef0123456789abcdef0123"),
            ("GITHUB_REPOSITORY", "tradepulse/platform"),
            ("GITHUB_SHA", "1111111111111111111111111111111111111111"),
            ("GITHUB_API_URL", fake.base_url().as_str()),
            ("GITHUB_ACTIONS", "true"),
            ("RELEASE_GATE_CHECK_NAME", "not-this"),
            ("RELEASE_GATE_POLICY", "missing.yml"),
        ])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("\nGO\n"), "{text}");
    assert!(fake.requests().is_empty(), "the local run called GitHub: {:?}", fake.requests().len());
    assert!(!text.contains("ghs_0123"), "{text}");
}

#[test]
fn the_hotfix_is_a_go_then_the_guard_pauses_it_and_the_log_shows_the_rollback_plan() {
    let dir = example();
    let (code, out) = run(dir.path(), &["--release", "2.4.1"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\nGO\n"), "the decision before the deploy stands: {out}");
    assert!(out.contains("then the post-release guard: pause: Release 2.4.1: pipeline PAUSED"), "{out}");
    let log = std::fs::read_to_string(dir.path().join("reports/release-decisions/2.4.1.md")).unwrap();
    assert!(log.contains("**not successful (PAUSE)**"), "{log}");
    assert!(log.contains("if it comes to a rollback, the plan:"), "{log}");
    assert!(log.contains("dispatch .github/workflows/rollback.yml with tag v2.4.0"), "the previous GO release: {log}");
    // 2.4.0's log records the success verdict; 2.5.0 (NO-GO) was never guarded.
    let (_, out) = run(dir.path(), &[]);
    assert!(out.contains("then the post-release guard: success"), "{out}");
    let log = std::fs::read_to_string(dir.path().join("reports/release-decisions/2.4.0.md")).unwrap();
    assert!(log.contains("**SUCCESS**"), "{log}");
    let (_, out) = run(dir.path(), &["--release", "2.5.0"]);
    assert!(out.contains("release-guard          SKIP     not run: NO-GO"), "{out}");
}
