//! Saving the log without losing anything.
//!
//! - GitHub's contents API: read the file and its blob sha, render on top of
//!   it, `PUT` with that sha as the precondition. A 409/422 "does not match"
//!   means someone committed in between: read again, render again (the
//!   generated sections are re-applied to *their* version, so their change
//!   stays), retry with jittered backoff. Commits made this way are signed
//!   by GitHub.
//! - A branch whose rules require a pull request: the log is committed to
//!   `release-gate/decision-log/<file>` and a pull request is opened (or the
//!   open one reused), and the report says so.
//! - `--via git`: a commit in the local checkout (the workflow pushes it).
//! - The S3 archive: every report and the log under `s3://bucket/prefix`,
//!   each with its SHA-256 checksum, which S3 verifies on upload.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use release_gate_core::github::GitHub;
use release_gate_core::github::calls::Put;
use release_gate_s3 as s3;

/// What was saved, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// One line for the report.
    pub how: String,
    /// Commits made.
    pub commits: u32,
    /// Conflicts retried.
    pub retries: u32,
    /// Commit or pull request URL.
    pub url: Option<String>,
    /// The log as saved.
    pub document: String,
}

/// The log on a branch, and its blob sha. A stored log that is not UTF-8
/// is an error: it is never rebuilt from the template over what people wrote.
async fn read(gh: &GitHub, path: &str, branch: &str) -> anyhow::Result<Option<(String, String)>> {
    let Some(c) = gh.file(path, branch).await? else { return Ok(None) };
    let text = release_gate_core::paths::utf8(c.bytes, Path::new(&format!("{path} on {branch}")), "decision log")
        .map_err(|e| anyhow::anyhow!("{e}; the log is left as it is: fix it by hand, then re-run"))?;
    Ok(Some((text, c.sha)))
}

/// Outcome of one write loop on one branch.
enum Written {
    Done(Saved),
    Protected(String),
}

/// What to commit where.
pub struct Target<'a> {
    /// File path in the repository.
    pub path: &'a str,
    /// Branch.
    pub branch: &'a str,
    /// Commit message.
    pub message: &'a str,
    /// Attempts when concurrent commits keep winning.
    pub max_attempts: u32,
}

async fn write_loop(gh: &GitHub, t: &Target<'_>, render: &dyn Fn(Option<&str>) -> String) -> anyhow::Result<Written> {
    let Target { path, branch, message, max_attempts } = *t;
    let mut retries = 0u32;
    for attempt in 1..=max_attempts.max(1) {
        let current = read(gh, path, branch).await?;
        let doc = render(current.as_ref().map(|(t, _)| t.as_str()));
        if current.as_ref().is_some_and(|(t, _)| *t == doc) {
            return Ok(Written::Done(Saved {
                how: format!("{path} on {branch} is already up to date"),
                commits: 0,
                retries,
                url: None,
                document: doc,
            }));
        }
        match gh.put_file(path, branch, message, doc.as_bytes(), current.as_ref().map(|(_, sha)| sha.as_str())).await? {
            Put::Committed(url) => {
                return Ok(Written::Done(Saved {
                    how: format!(
                        "committed {path} to {branch} through the contents API (signed by GitHub){}",
                        if retries > 0 { format!(", after {retries} conflict(s)") } else { String::new() }
                    ),
                    commits: 1,
                    retries,
                    url,
                    document: doc,
                }));
            }
            Put::Protected(why) => return Ok(Written::Protected(why)),
            Put::Conflict if attempt < max_attempts => {
                retries += 1;
                // Someone else committed: back off a little (jittered) and re-apply on theirs.
                let jitter = u64::from(std::process::id() % 97) + u64::from(attempt) * 37;
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt.min(10)) + jitter)).await;
            }
            Put::Conflict => break,
        }
    }
    anyhow::bail!("{path} on {branch} kept changing: {max_attempts} attempts each lost to a concurrent commit; re-run the job")
}

/// Commits through the contents API, falling back to a pull request on a protected branch.
pub async fn via_api(gh: &GitHub, t: &Target<'_>, render: &dyn Fn(Option<&str>) -> String) -> anyhow::Result<Saved> {
    let Target { path, branch, message, max_attempts } = *t;
    let why = match write_loop(gh, t, render).await? {
        Written::Done(s) => return Ok(s),
        Written::Protected(why) => why,
    };
    let stem = Path::new(path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "log".into());
    let side = format!("release-gate/decision-log/{stem}");
    let sha = gh.branch_head(branch).await.with_context(|| format!("cannot read branch {branch}"))?;
    gh.create_branch(&side, &sha).await.with_context(|| format!("cannot create branch {side}"))?;
    let saved = match write_loop(gh, &Target { path, branch: &side, message, max_attempts }, render).await? {
        Written::Done(s) => s,
        Written::Protected(m) => anyhow::bail!("{side} is protected too: {m}"),
    };
    let pr = match gh.open_pull_from(&side).await? {
        Some(pr) => pr,
        None => {
            let body = format!(
                "{branch} requires a pull request ({}), so release-gate committed the decision log here. Merge it to record the log.",
                why.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" ")
            );
            gh.create_pull(message, &side, branch, &body).await.context("cannot open the pull request for the log")?
        }
    };
    Ok(Saved {
        how: format!(
            "{branch} requires a pull request: committed {path} to {side} and opened pull request #{} ({})",
            pr.number, pr.html_url
        ),
        url: Some(pr.html_url),
        ..saved
    })
}

/// Commits the log in the local checkout.
pub fn via_git(root: &Path, path: &str, message: &str) -> anyhow::Result<Saved> {
    let git = |args: &[&str]| -> anyhow::Result<std::process::Output> {
        let out = std::process::Command::new("git").current_dir(root).args(args).output().context("cannot run git")?;
        Ok(out)
    };
    let add = git(&["add", "--", path])?;
    anyhow::ensure!(add.status.success(), "git add {path}: {}", String::from_utf8_lossy(&add.stderr).trim());
    let staged = git(&["diff", "--cached", "--quiet", "--", path])?;
    let document = std::fs::read_to_string(root.join(path))?;
    if staged.status.success() {
        return Ok(Saved { how: format!("{path} unchanged; nothing to commit"), commits: 0, retries: 0, url: None, document });
    }
    let c = git(&[
        "-c",
        "user.name=release-gate",
        "-c",
        "user.email=release-gate@users.noreply.github.com",
        "commit",
        "-q",
        "-m",
        message,
        "--",
        path,
    ])?;
    anyhow::ensure!(c.status.success(), "git commit: {}", String::from_utf8_lossy(&c.stderr).trim());
    let head = git(&["rev-parse", "HEAD"])?;
    Ok(Saved {
        how: format!("committed {path} in the local checkout ({}); push it to publish", String::from_utf8_lossy(&head.stdout).trim()),
        commits: 1,
        retries: 0,
        url: None,
        document,
    })
}

/// Uploads `files` under `s3://bucket/prefix` with SHA-256 checksums.
pub async fn archive(settings: &s3::Settings, bucket: &str, prefix: &str, files: &[(String, Vec<u8>)]) -> anyhow::Result<usize> {
    let client = s3::client(settings).await;
    for (name, bytes) in files {
        let key = format!("{prefix}{name}");
        s3::put(&client, bucket, &key, bytes.clone()).await.map_err(|e| match e {
            s3::ObjectError::Unreachable(m) => {
                anyhow::Error::new(release_gate_core::exit::Unreachable(format!("archiving to s3://{bucket}/{key}: {m}")))
            }
            other => anyhow::anyhow!("archiving to s3://{bucket}/{key}: {other}"),
        })?;
    }
    Ok(files.len())
}
