//! Every path input resolves against the repository root (`--root`, the
//! actions' `working-directory`), never the process's current directory:
//! each gate is run on `<tmp>/fresh` with repository-relative inputs while
//! the current directory is the crate's, where none of those files exist.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use release_gate_core::cli::CommonArgs;
use release_gate_core::context::Context;
use release_gate_core::report::{Report, Verdict};

fn fresh() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fresh");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tradepulse");
    github_fake::support::copy_tree(&src, &root, "release-gate").unwrap();
    // A policy under another name, given relative to the root.
    std::fs::rename(root.join(".github/release-gate.yml"), root.join(".github/custom.yml")).unwrap();
    (dir, root)
}

fn common(root: &Path) -> CommonArgs {
    let mut c = CommonArgs::local(root.to_owned(), "2.4.0", Some("2026-12-01T13:30:00Z".into()));
    c.policy = Some(PathBuf::from(".github/custom.yml"));
    c.report_dir = Some(PathBuf::from("out"));
    c
}

fn report(root: &Path, key: &str) -> Report {
    Report::read(&root.join("out").join(format!("{key}.json"))).unwrap()
}

#[test]
fn inputs_are_relative_to_the_root_not_the_current_directory() {
    let (_dir, root) = fresh();
    assert!(!Path::new(".github/custom.yml").exists() && !Path::new("configs").exists(), "the test needs a cwd without these");

    assert_eq!(freeze_check::run(freeze_check::Args::local(common(&root)), Context::offline()).unwrap(), Verdict::Pass);
    assert_eq!(report(&root, "freeze-check").verdict, Verdict::Pass, "the report went to <root>/out");

    let mut cd = config_diff::Args::local(common(&root));
    cd.staging = vec!["configs/staging".into()];
    cd.production = vec!["configs/production".into()];
    let verdict = config_diff::run(cd, Context::offline()).unwrap();
    assert_ne!(report(&root, "config-diff").title, "", "config-diff read the directories under the root ({verdict:?})");

    let mut av = artifact_verify::Args::local(common(&root));
    av.manifest = Some(PathBuf::from("releases/2.4.0/artifacts.yaml"));
    assert_eq!(artifact_verify::run(av, Context::offline()).unwrap(), Verdict::Pass);

    let mut smoke = smoke_gate::Args::local(common(&root), "smoke");
    smoke.reports = vec!["reports/release-smoke/2.4.0/**/*.xml".into()];
    assert_ne!(smoke_gate::run(smoke, Context::offline()).unwrap(), Verdict::Fail);
    let mut canary = smoke_gate::Args::local(common(&root), "canary");
    canary.metrics_file = Some(PathBuf::from("reports/canary/2.4.0/metrics.json"));
    assert_ne!(smoke_gate::run(canary, Context::offline()).unwrap(), Verdict::Fail);
    assert!(!Path::new("out").exists(), "nothing written to the current directory");
}

#[test]
fn a_path_input_that_leaves_the_root_is_refused() {
    let (dir, root) = fresh();
    std::fs::write(dir.path().join("outside.yaml"), "artifacts: []\n").unwrap();
    let mut av = artifact_verify::Args::local(common(&root));
    av.manifest = Some(PathBuf::from("../outside.yaml"));
    let err = artifact_verify::run(av, Context::offline()).unwrap_err();
    assert!(format!("{err:#}").contains("outside"), "{err:#}");
}
