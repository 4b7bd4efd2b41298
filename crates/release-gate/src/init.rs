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

/// The repository whose actions the workflows use.
pub const ACTIONS_REPO: &str = "tradepulse/release-gate";

/// The pin the bundled workflows carry: a commit that exists nowhere, so a
/// workflow copied by hand fails to resolve its actions (never runs
/// unpinned) until `init` writes a release's commit there.
pub const PLACEHOLDER: &str = "0000000000000000000000000000000000000000";

/// What the workflows `init` writes pin the actions to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The commit (40 hex).
    pub commit: String,
    /// The release it is, for the comment Dependabot and Renovate read (`v1.2.3`).
    pub version: String,
    /// Where the pin came from, said on stdout.
    pub why: String,
}

/// The release this binary was built as (`RELEASE_GATE_RELEASE_VERSION`
/// at build time, set by the release workflow); `None` for a development build.
pub fn release_version() -> Option<&'static str> {
    option_env!("RELEASE_GATE_RELEASE_VERSION").filter(|v| !v.is_empty())
}

/// How to choose the pin.
#[derive(Debug, Clone, Default)]
pub struct PinChoice {
    /// A commit given (`--pin`).
    pub commit: Option<String>,
    /// A release tag to resolve (`--release-tag v1.2.3`); a release build resolves its own.
    pub tag: Option<String>,
    /// GitHub's API (`GITHUB_API_URL`).
    pub api_url: String,
    /// A token for the API, when one is set (the repository is public).
    pub token: Option<String>,
}

/// The pin: the commit given, else the commit the release tag names (read
/// through GitHub's API and checked to be a release commit of that
/// version: its `actions/VERSION`), else, for a development build, the
/// placeholder, said as such.
pub fn choose_pin(c: &PinChoice) -> Result<Pin, InitError> {
    let version = |v: &str| if v.starts_with('v') { v.to_owned() } else { format!("v{v}") };
    if let Some(commit) = &c.commit {
        if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(InitError::Pin(format!("--pin {commit} is not a commit SHA (40 lowercase hex digits)")));
        }
        let v = c.tag.as_deref().map(version).unwrap_or_else(|| version(release_version().unwrap_or(env!("CARGO_PKG_VERSION"))));
        return Ok(Pin { commit: commit.clone(), version: v, why: "the commit given with --pin".into() });
    }
    let tag = c.tag.as_deref().map(version).or_else(|| release_version().map(version));
    let Some(tag) = tag else {
        return Ok(Pin {
            commit: PLACEHOLDER.into(),
            version: version(env!("CARGO_PKG_VERSION")),
            why: format!(
                "this is a development build of release-gate {}, which no release tag names: the workflows pin {ACTIONS_REPO} at the placeholder {PLACEHOLDER}, which resolves to nothing, so they fail until it is set. Pin a release: `release-gate init --release-tag v1.2.3` (reads the commit that tag names from GitHub), or `--pin <commit>` (`git ls-remote https://github.com/{ACTIONS_REPO} refs/tags/v1.2.3`)",
                env!("CARGO_PKG_VERSION")
            ),
        });
    };
    let commit = resolve_tag(c, &tag)?;
    Ok(Pin { commit, version: tag.clone(), why: format!("the release commit that {ACTIONS_REPO}'s tag {tag} names") })
}

/// The commit `tag` names in [`ACTIONS_REPO`] (an annotated tag followed to
/// its commit), checked to carry `actions/VERSION` saying that version.
fn resolve_tag(c: &PinChoice, tag: &str) -> Result<String, InitError> {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(std::time::Duration::from_secs(30))).http_status_as_error(false).build().into();
    let base = c.api_url.trim_end_matches('/');
    let get = |path: &str| -> Result<serde_json::Value, InitError> {
        let url = format!("{base}/repos/{ACTIONS_REPO}/{path}");
        let mut req = agent
            .get(&url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("User-Agent", concat!("release-gate/", env!("CARGO_PKG_VERSION")));
        if let Some(t) = c.token.as_deref().filter(|t| !t.is_empty()) {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let unreachable = |e: String| {
            InitError::Unreachable(release_gate_core::exit::Unreachable(format!(
                "GET /repos/{ACTIONS_REPO}/{path}: {e}; pass --pin <commit> instead"
            )))
        };
        let mut resp = req.call().map_err(|e| unreachable(release_gate_core::mask::redact(&e.to_string())))?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Err(InitError::Pin(format!("{ACTIONS_REPO} has no {path}: is {tag} a released version?")));
        }
        if status == 401 || status == 403 {
            return Err(InitError::Pin(format!(
                "GitHub refused GET /repos/{ACTIONS_REPO}/{path} ({status}): check GITHUB_TOKEN (or unset it), or pass --pin <commit>"
            )));
        }
        if status != 200 {
            return Err(unreachable(format!("answered {status}")));
        }
        let text = resp.body_mut().read_to_string().map_err(|e| unreachable(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| unreachable(format!("not JSON: {e}")))
    };
    let r = get(&format!("git/ref/tags/{tag}"))?;
    let (mut kind, mut sha) =
        (r["object"]["type"].as_str().unwrap_or_default().to_owned(), r["object"]["sha"].as_str().unwrap_or_default().to_owned());
    if kind == "tag" {
        let t = get(&format!("git/tags/{sha}"))?;
        kind = t["object"]["type"].as_str().unwrap_or_default().to_owned();
        sha = t["object"]["sha"].as_str().unwrap_or_default().to_owned();
    }
    if kind != "commit" || sha.len() != 40 {
        return Err(InitError::Pin(format!("{ACTIONS_REPO}'s tag {tag} names no commit")));
    }
    // A release commit says its version: a tag on another commit is not a release.
    let v = get(&format!("contents/actions/VERSION?ref={sha}"))?;
    let said = v["content"]
        .as_str()
        .map(|b| b.replace(['\n', '\r'], ""))
        .and_then(|b| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).ok())
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    if said.trim_start_matches('v') != tag.trim_start_matches('v') {
        return Err(InitError::Pin(format!(
            "{ACTIONS_REPO}'s tag {tag} names commit {sha}, whose actions/VERSION says {:?}, not {tag}: not a release commit; pass --pin <commit> if you mean it",
            said
        )));
    }
    Ok(sha)
}

/// `text` with every `tradepulse/release-gate/actions/<gate>@<hex> # vX.Y.Z` pinned to `pin`.
pub fn pinned(text: &str, pin: &Pin) -> String {
    let re = regex::Regex::new(r"(tradepulse/release-gate/actions/[a-z-]+)@[0-9a-f]{40} # v[0-9]+\.[0-9]+\.[0-9]+")
        .unwrap_or_else(|_| unreachable!());
    re.replace_all(text, |c: &regex::Captures<'_>| format!("{}@{} # {}", &c[1], pin.commit, pin.version)).into_owned()
}

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The pin cannot be had (exit 2).
    #[error("{0}")]
    Pin(String),
    /// GitHub stayed unreachable (exit 3).
    #[error("{0}")]
    Unreachable(#[source] release_gate_core::exit::Unreachable),
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

/// Writes the policy and workflows into `root`, the actions pinned to `pin`; returns the paths written.
pub fn init(root: &Path, pin: &Pin) -> Result<Vec<PathBuf>, InitError> {
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
        repo.write(&rel, pinned(text, pin).as_bytes(), "file")?;
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
        let pin = Pin { commit: PLACEHOLDER.into(), version: "v0.1.0".into(), why: String::new() };
        let err = init(dir.path(), &pin).expect_err("exists");
        assert!(err.to_string().contains(".github/workflows/deploy.yml already exists"), "{err}");
        assert!(!dir.path().join(policy::DEFAULT_PATH).exists(), "nothing written before the refusal");
        assert_eq!(std::fs::read_to_string(dir.path().join(".github/workflows/deploy.yml")).expect("read"), "mine");
    }
}
