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

use release_gate_core::exit::Unreachable;
use release_gate_core::github::calls::Put;
use release_gate_core::github::{ApiError, GitHub};
use release_gate_s3 as s3;

/// Why the log could not be saved. GitHub's own errors keep their
/// [`ApiError`] in the chain (an unreachable API is exit 3); S3 staying
/// unreachable is [`Unreachable`].
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// A GitHub call failed.
    #[error("{doing}")]
    Api {
        /// What was being done.
        doing: String,
        /// The call's error.
        #[source]
        source: ApiError,
    },
    /// The stored log is not UTF-8 text.
    #[error("{0}; the log is left as it is: fix it by hand, then re-run")]
    UnreadableLog(String),
    /// Concurrent commits kept winning.
    #[error("{path} on {branch} kept changing: {attempts} attempts each lost to a concurrent commit; re-run the job")]
    KeptChanging {
        /// The log.
        path: String,
        /// The branch.
        branch: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The side branch for the pull request is protected as well.
    #[error("{side} is protected too: {why}")]
    ProtectedToo {
        /// The side branch.
        side: String,
        /// GitHub's message.
        why: String,
    },
    /// `git` failed in the checkout.
    #[error("{what}: {detail}")]
    Git {
        /// The command.
        what: String,
        /// Its stderr, or why it could not run.
        detail: String,
    },
    /// S3 refused an upload.
    #[error("archiving to s3://{bucket}/{key}: {detail}")]
    Archive {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Why.
        detail: String,
    },
    /// S3 could not be reached.
    #[error("{0}")]
    Unreachable(#[from] Unreachable),
}

fn api(doing: impl Into<String>) -> impl FnOnce(ApiError) -> CommitError {
    let doing = doing.into();
    move |source| CommitError::Api { doing, source }
}

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
async fn read(gh: &GitHub, path: &str, branch: &str) -> Result<Option<(String, String)>, CommitError> {
    let Some(c) = gh.file(path, branch).await.map_err(api(format!("cannot read {path} on {branch}")))? else { return Ok(None) };
    let text = release_gate_core::paths::utf8(c.bytes, Path::new(&format!("{path} on {branch}")), "decision log")
        .map_err(|e| CommitError::UnreadableLog(e.to_string()))?;
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

async fn write_loop(gh: &GitHub, t: &Target<'_>, render: &dyn Fn(Option<&str>) -> String) -> Result<Written, CommitError> {
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
        let put = gh.put_file(path, branch, message, doc.as_bytes(), current.as_ref().map(|(_, sha)| sha.as_str())).await;
        match put.map_err(api(format!("cannot commit {path} to {branch}")))? {
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
    Err(CommitError::KeptChanging { path: path.to_owned(), branch: branch.to_owned(), attempts: max_attempts })
}

/// Commits through the contents API, falling back to a pull request on a protected branch.
pub async fn via_api(gh: &GitHub, t: &Target<'_>, render: &dyn Fn(Option<&str>) -> String) -> Result<Saved, CommitError> {
    let Target { path, branch, message, max_attempts } = *t;
    let why = match write_loop(gh, t, render).await? {
        Written::Done(s) => return Ok(s),
        Written::Protected(why) => why,
    };
    let stem = Path::new(path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "log".into());
    let side = format!("release-gate/decision-log/{stem}");
    let sha = gh.branch_head(branch).await.map_err(api(format!("cannot read branch {branch}")))?;
    gh.create_branch(&side, &sha).await.map_err(api(format!("cannot create branch {side}")))?;
    let saved = match write_loop(gh, &Target { path, branch: &side, message, max_attempts }, render).await? {
        Written::Done(s) => s,
        Written::Protected(why) => return Err(CommitError::ProtectedToo { side, why }),
    };
    let pr = match gh.open_pull_from(&side).await.map_err(api(format!("cannot look for the pull request from {side}")))? {
        Some(pr) => pr,
        None => {
            let body = format!(
                "{branch} requires a pull request ({}), so release-gate committed the decision log here. Merge it to record the log.",
                why.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" ")
            );
            gh.create_pull(message, &side, branch, &body).await.map_err(api("cannot open the pull request for the log"))?
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
pub fn via_git(root: &Path, path: &str, message: &str) -> Result<Saved, CommitError> {
    let failed = |what: &str, detail: String| CommitError::Git { what: what.to_owned(), detail };
    let git = |args: &[&str]| -> Result<std::process::Output, CommitError> {
        std::process::Command::new("git").current_dir(root).args(args).output().map_err(|e| failed("cannot run git", e.to_string()))
    };
    let add = git(&["add", "--", path])?;
    if !add.status.success() {
        return Err(failed(&format!("git add {path}"), String::from_utf8_lossy(&add.stderr).trim().to_owned()));
    }
    let staged = git(&["diff", "--cached", "--quiet", "--", path])?;
    let document = std::fs::read_to_string(root.join(path)).map_err(|e| failed(&format!("cannot read {path}"), e.to_string()))?;
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
    if !c.status.success() {
        return Err(failed("git commit", String::from_utf8_lossy(&c.stderr).trim().to_owned()));
    }
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
pub async fn archive(settings: &s3::Settings, bucket: &str, prefix: &str, files: &[(String, Vec<u8>)]) -> Result<usize, CommitError> {
    let client = s3::client(settings).await;
    for (name, bytes) in files {
        let key = format!("{prefix}{name}");
        s3::put(&client, bucket, &key, bytes.clone()).await.map_err(|e| match e {
            s3::ObjectError::Unreachable(m) => CommitError::Unreachable(Unreachable(format!("archiving to s3://{bucket}/{key}: {m}"))),
            other => CommitError::Archive { bucket: bucket.to_owned(), key, detail: other.to_string() },
        })?;
    }
    Ok(files.len())
}
