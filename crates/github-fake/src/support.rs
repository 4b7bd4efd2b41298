//! Helpers the gates' integration tests share: real webhook payloads from
//! npm `@octokit/webhooks-examples`, a command builder that strips the
//! runner's environment so tests behave the same locally and in CI, and a
//! throwaway repository directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use serde_json::Value;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The first example payload of `event` with `action` (GitHub's own samples).
pub fn webhook_example(event: &str, action: Option<&str>) -> anyhow::Result<Value> {
    let path = workspace().join(".tools/node_modules/@octokit/webhooks-examples/api.github.com/index.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("{} is missing; run the test command from the README (scripts/test), which installs it", path.display())
    })?;
    let all: Vec<Value> = serde_json::from_str(&text)?;
    let entry = all.iter().find(|e| e["name"] == event).with_context(|| format!("no {event} examples"))?;
    entry["examples"]
        .as_array()
        .and_then(|list| list.iter().find(|x| action.is_none_or(|a| x["action"] == a)))
        .cloned()
        .with_context(|| format!("no {event} example with action {action:?}"))
}

/// Copies the tree `from` into `to`, leaving out directories named `skip`
/// (e.g. `release-gate`: a run's earlier local reports).
pub fn copy_tree(from: &Path, to: &Path, skip: &str) -> std::io::Result<()> {
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            if e.file_name() != skip {
                std::fs::create_dir_all(&dest)?;
                copy_tree(&e.path(), &dest, skip)?;
            }
        } else {
            std::fs::copy(e.path(), &dest)?;
        }
    }
    Ok(())
}

/// Why `payload` does not fit the webhook schema `name` in GitHub's OpenAPI
/// description (empty when it fits): for events `@octokit/webhooks-examples`
/// has no sample of.
pub fn webhook_schema_problems(name: &str, payload: &Value) -> anyhow::Result<Vec<String>> {
    Ok(crate::spec()?.check_schema(name, payload))
}

/// Puts `policy` at `path` on the base commit a pull-request `event` names
/// (a branch `base` whose head is that commit): on pull requests, the
/// policy in force is the base commit's, read through the contents API.
pub fn base_policy(fake: &crate::Fake, event: &Value, path: &str, policy: &str) {
    let base = event["pull_request"]["base"]["sha"].as_str().unwrap_or_default();
    fake.put_file_as("base", path, policy, base);
}

/// A command for a workspace binary with `GITHUB_*`, `RUNNER_*`, `CI` and
/// `RELEASE_GATE_*` removed from its environment.
pub fn clean_command(bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("GITHUB_") || k.starts_with("RUNNER_") || k == "CI" || k.starts_with("RELEASE_GATE_") || k.starts_with("ACTIONS_")
        {
            cmd.env_remove(&k);
        }
    }
    cmd
}

/// [`clean_command`] for `bin` whose clock starts at `now` (RFC 3339, UTC)
/// and runs on: Debian's `faketime` (libfaketime, installed by
/// scripts/test), for the runs where a chosen `now` is refused (a dry run
/// never counts in a deploy job) but a fixed day is needed.
pub fn at_time(now: &str, bin: &Path) -> Command {
    let t: jiff::Timestamp = now.parse().unwrap_or_else(|e| panic!("{now}: {e}"));
    let mut cmd = clean_command(Path::new("faketime"));
    cmd.env("TZ", "UTC").arg("-f").arg(format!("@{}", t.strftime("%Y-%m-%d %H:%M:%S"))).arg(bin);
    cmd
}

/// A moto S3 server (PyPI `moto[server]`, installed by scripts/test) on
/// 127.0.0.1, stopped when dropped.
pub struct Moto {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Moto {
    /// Starts one on a free port and waits until it accepts connections.
    pub fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("moto_server not found: install it with `pip install 'moto[server]'` (scripts/test does)")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(std::time::Instant::now() < deadline, "moto_server did not start on port {port}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(Self { child, endpoint: format!("http://127.0.0.1:{port}") })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A repository directory for one test, removed when dropped; files are
/// written by repository-relative path. Test support: it panics, naming the
/// path, when the file system refuses.
pub struct TempRepo {
    dir: tempfile::TempDir,
}

impl TempRepo {
    /// An empty directory.
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap_or_else(|e| panic!("creating a temporary repository: {e}")) }
    }

    /// The repository's root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `rel` under the root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Writes `rel` (and the directories above it).
    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
        }
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", p.display()));
    }
}

impl Default for TempRepo {
    fn default() -> Self {
        Self::new()
    }
}
