//! Saving the decision log (or any generated document) in the repository
//! without losing anything.
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
//! - `git`: a commit in the local checkout (the workflow pushes it).
//!
//! [`record`] and [`record_local`] move the release's lifecycle through it.

use std::path::Path;
use std::time::Duration;

use crate::github::calls::Put;
use crate::github::{ApiError, GitHub};

use super::lifecycle::{Lifecycle, LifecycleError, Transition};

/// Why the log could not be saved. GitHub's own errors keep their
/// [`ApiError`] in the chain (an unreachable API is exit 3).
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
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
    /// The lifecycle recorded in the log cannot be trusted, or cannot make this move.
    #[error("{0}")]
    Lifecycle(#[from] LifecycleError),
    /// The branch refuses direct commits.
    #[error(
        "{branch} requires a pull request ({why}); the release's lifecycle is recorded by direct commits: let release-gate's token bypass the rule for the decision log"
    )]
    Protected {
        /// The branch.
        branch: String,
        /// GitHub's message.
        why: String,
    },
    /// There is no log to record in.
    #[error("no decision log at {path}: run decision-log-commit for the release first")]
    NoLog {
        /// The log.
        path: String,
    },
}

fn api(doing: impl Into<String>) -> impl FnOnce(ApiError) -> SaveError {
    let doing = doing.into();
    move |source| SaveError::Api { doing, source }
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
async fn read(gh: &GitHub, path: &str, branch: &str) -> Result<Option<(String, String)>, SaveError> {
    let Some(c) = gh.file(path, branch).await.map_err(api(format!("cannot read {path} on {branch}")))? else { return Ok(None) };
    let text = crate::paths::utf8(c.bytes, Path::new(&format!("{path} on {branch}")), "decision log")
        .map_err(|e| SaveError::UnreadableLog(e.to_string()))?;
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

async fn write_loop<F: Fn(Option<&str>) -> Result<String, SaveError>>(
    gh: &GitHub,
    t: &Target<'_>,
    render: &F,
) -> Result<Written, SaveError> {
    let Target { path, branch, message, max_attempts } = *t;
    let mut retries = 0u32;
    for attempt in 1..=max_attempts.max(1) {
        let current = read(gh, path, branch).await?;
        let doc = render(current.as_ref().map(|(t, _)| t.as_str()))?;
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
    Err(SaveError::KeptChanging { path: path.to_owned(), branch: branch.to_owned(), attempts: max_attempts })
}

/// Commits through the contents API, falling back to a pull request on a protected branch.
pub async fn via_api<F: Fn(Option<&str>) -> Result<String, SaveError>>(
    gh: &GitHub,
    t: &Target<'_>,
    render: &F,
) -> Result<Saved, SaveError> {
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
        Written::Protected(why) => return Err(SaveError::ProtectedToo { side, why }),
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
pub fn via_git(root: &Path, path: &str, message: &str) -> Result<Saved, SaveError> {
    let failed = |what: &str, detail: String| SaveError::Git { what: what.to_owned(), detail };
    let git = |args: &[&str]| -> Result<std::process::Output, SaveError> {
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

/// Who is recording, through what, for a transition.
#[derive(Debug, Clone)]
pub struct Recorder<'a> {
    /// The release.
    pub release: &'a str,
    /// The log, as shown in errors.
    pub shown: &'a str,
}

/// `doc` with `t` recorded in its lifecycle; the same transition again
/// changes nothing. `Ok(None)`: nothing to change.
pub fn with_transition(doc: &str, r: &Recorder<'_>, t: &Transition) -> Result<Option<String>, LifecycleError> {
    let mut lc = Lifecycle::read(doc, r.release, r.shown)?;
    if !lc.record(t.clone())? {
        return Ok(None);
    }
    Ok(Some(lc.write(doc)))
}

/// Records `t` in the log at `path` on `branch` through the contents API
/// (a concurrent writer's change is kept: the transition is re-applied to
/// their version). The log must exist; a branch that requires a pull
/// request is an error (a state change cannot wait in a pull request).
pub async fn record(gh: &GitHub, t: &Target<'_>, r: &Recorder<'_>, transition: &Transition) -> Result<Saved, SaveError> {
    let render = |existing: Option<&str>| {
        let doc = existing.ok_or_else(|| SaveError::NoLog { path: format!("{} on {}", t.path, t.branch) })?;
        Ok(with_transition(doc, r, transition)?.unwrap_or_else(|| doc.to_owned()))
    };
    match write_loop(gh, t, &render).await? {
        Written::Done(s) => Ok(s),
        Written::Protected(why) => Err(SaveError::Protected { branch: t.branch.to_owned(), why }),
    }
}

/// Records `t` in the log file `log_rel` inside `root` (a local run).
pub fn record_local(root: &crate::paths::Root, log_rel: &str, r: &Recorder<'_>, transition: &Transition) -> anyhow::Result<bool> {
    let Some(doc) = root.read_text_if_present(log_rel, "decision log")? else {
        return Err(SaveError::NoLog { path: log_rel.to_owned() }.into());
    };
    match with_transition(&doc, r, transition)? {
        Some(new) => {
            root.write(log_rel, new.as_bytes(), "decision log")?;
            Ok(true)
        }
        None => Ok(false),
    }
}
