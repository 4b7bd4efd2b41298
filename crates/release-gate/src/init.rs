//! `release-gate init`: a repository's first policy and workflows.
//!
//! Writes `.github/release-gate.yml` (the runbook's defaults, every key
//! commented, evidence the repository does not have yet marked TODO and
//! bound to `todo:` entries so that `release-gate run` names each as a
//! blocker) and the example workflows under `.github/workflows/`. Refuses to
//! overwrite: when any of the files exists, nothing is written.

use std::path::{Path, PathBuf};

use release_gate_core::paths::Root;
use release_gate_core::policy;

/// The policy template.
pub const POLICY: &str = include_str!("init/release-gate.yml");

/// The files `init` writes, repository-relative, with their contents.
pub fn files() -> Vec<(PathBuf, &'static str)> {
    vec![
        (PathBuf::from(policy::DEFAULT_PATH), POLICY),
        (PathBuf::from(".github/workflows/release-validation.yml"), include_str!("../../../examples/workflows/release-validation.yml")),
        (
            PathBuf::from(".github/workflows/release-validation-fork.yml"),
            include_str!("../../../examples/workflows/release-validation-fork.yml"),
        ),
        (
            PathBuf::from(".github/workflows/release-validation-publish.yml"),
            include_str!("../../../examples/workflows/release-validation-publish.yml"),
        ),
        (PathBuf::from(".github/workflows/deploy.yml"), include_str!("../../../examples/workflows/deploy.yml")),
    ]
}

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A file it would write is already there.
    #[error(
        "{} already exists; release-gate init never overwrites. Move it aside (or delete it) and run init again, or edit it by hand (docs/policy.md)",
        .0.display()
    )]
    Exists(PathBuf),
    /// The directory or a path in it cannot be used.
    #[error("{0}")]
    Path(#[from] release_gate_core::paths::PathError),
}

/// Writes the policy and workflows into `root`; returns the paths written.
pub fn init(root: &Path) -> Result<Vec<PathBuf>, InitError> {
    let repo = Root::new(root, None)?;
    let files = files();
    // Every check before the first write: all or nothing.
    for (rel, _) in &files {
        let exists = match repo.file(rel, "file") {
            Ok(_) => true,
            Err(release_gate_core::paths::PathError::NotFound { .. }) => false,
            Err(e) => return Err(e.into()),
        };
        if exists {
            return Err(InitError::Exists(rel.clone()));
        }
    }
    let mut written = Vec::new();
    for (rel, text) in files {
        repo.write(&rel, text.as_bytes(), "file")?;
        written.push(rel);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_parses_with_every_gates_policy_type() {
        let path = Path::new(policy::DEFAULT_PATH);
        policy::from_text::<freeze_check::policy::FreezePolicy>(Some(POLICY), path).expect("freeze-check");
        policy::from_text::<config_diff::ConfigDiffPolicy>(Some(POLICY), path).expect("config-diff");
        policy::from_text::<artifact_verify::policy::ArtifactPolicy>(Some(POLICY), path).expect("artifact-verify");
        policy::from_text::<smoke_gate::SmokePolicy>(Some(POLICY), path).expect("smoke-gate");
        policy::from_text::<decision_log_commit::policy::LogPolicy>(Some(POLICY), path).expect("decision-log-commit");
        policy::from_text::<release_guard::policy::GuardPolicy>(Some(POLICY), path).expect("release-guard");
    }

    #[test]
    fn refuses_to_overwrite_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join(".github/workflows")).expect("mkdir");
        std::fs::write(dir.path().join(".github/workflows/deploy.yml"), "mine").expect("write");
        let err = init(dir.path()).expect_err("exists");
        assert!(err.to_string().contains(".github/workflows/deploy.yml already exists"), "{err}");
        assert!(!dir.path().join(policy::DEFAULT_PATH).exists(), "nothing written before the refusal");
        assert_eq!(std::fs::read_to_string(dir.path().join(".github/workflows/deploy.yml")).expect("read"), "mine");
    }
}
