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
use base64::Engine as _;
use release_gate_core::github::{ApiError, GitHub};
use serde_json::{Value, json};

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

fn message_of(e: &ApiError) -> (u16, String) {
    match e {
        ApiError::Status { status, message, .. } => (*status, message.clone()),
        ApiError::Forbidden { message, .. } => (403, message.clone()),
        ApiError::NotFound { .. } => (404, String::new()),
        other => (0, other.to_string()),
    }
}

fn protected(status: u16, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    matches!(status, 403 | 409 | 422) && (m.contains("pull request") || m.contains("protected branch") || m.contains("rule violation"))
}

fn conflict(status: u16, message: &str) -> bool {
    matches!(status, 409 | 422) && (message.contains("does not match") || message.contains("sha"))
}

async fn read(gh: &GitHub, path: &str, branch: &str) -> anyhow::Result<Option<(String, String)>> {
    match gh.get(&gh.repo_path(&format!("/contents/{path}?ref={}", enc(branch)))).await {
        Ok(v) => {
            let text = v["content"].as_str().unwrap_or_default().replace(['\n', '\r'], "");
            let bytes =
                base64::engine::general_purpose::STANDARD.decode(text).context("the contents API returned content that is not Base64")?;
            let sha = v["sha"].as_str().context("the contents API returned no sha")?.to_owned();
            Ok(Some((String::from_utf8_lossy(&bytes).into_owned(), sha)))
        }
        Err(ApiError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Percent-encodes a branch or path, keeping its `/` separators.
fn enc(s: &str) -> String {
    release_gate_core::publish::url_encode(s).replace("%2F", "/")
}

/// Outcome of one write loop on one branch.
enum Put {
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

async fn write_loop(gh: &GitHub, t: &Target<'_>, render: &dyn Fn(Option<&str>) -> String) -> anyhow::Result<Put> {
    let Target { path, branch, message, max_attempts } = *t;
    let mut retries = 0u32;
    for attempt in 1..=max_attempts.max(1) {
        let current = read(gh, path, branch).await?;
        let doc = render(current.as_ref().map(|(t, _)| t.as_str()));
        if current.as_ref().is_some_and(|(t, _)| *t == doc) {
            return Ok(Put::Done(Saved {
                how: format!("{path} on {branch} is already up to date"),
                commits: 0,
                retries,
                url: None,
                document: doc,
            }));
        }
        let mut body = json!({
            "message": message,
            "content": base64::engine::general_purpose::STANDARD.encode(doc.as_bytes()),
            "branch": branch,
        });
        if let Some((_, sha)) = &current {
            body["sha"] = Value::String(sha.clone());
        }
        match gh.send(http::Method::PUT, &gh.repo_path(&format!("/contents/{path}")), Some(&body)).await {
            Ok(resp) => {
                let url = resp.body.pointer("/commit/html_url").and_then(Value::as_str).map(str::to_owned);
                return Ok(Put::Done(Saved {
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
            Err(e) => {
                let (status, msg) = message_of(&e);
                if protected(status, &msg) {
                    return Ok(Put::Protected(msg));
                }
                if conflict(status, &msg) && attempt < max_attempts {
                    retries += 1;
                    // Someone else committed: back off a little (jittered) and re-apply on theirs.
                    let jitter = u64::from(std::process::id() % 97) + u64::from(attempt) * 37;
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt.min(10)) + jitter)).await;
                    continue;
                }
                return Err(anyhow::Error::new(e).context(format!("cannot commit {path} to {branch}")));
            }
        }
    }
    anyhow::bail!("{path} on {branch} kept changing: {max_attempts} attempts each lost to a concurrent commit; re-run the job")
}

/// Commits through the contents API, falling back to a pull request on a protected branch.
pub async fn via_api(gh: &GitHub, t: &Target<'_>, render: &dyn Fn(Option<&str>) -> String) -> anyhow::Result<Saved> {
    let Target { path, branch, message, max_attempts } = *t;
    let why = match write_loop(gh, t, render).await? {
        Put::Done(s) => return Ok(s),
        Put::Protected(why) => why,
    };
    let stem = Path::new(path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "log".into());
    let side = format!("release-gate/decision-log/{stem}");
    let base =
        gh.get(&gh.repo_path(&format!("/git/ref/heads/{}", enc(branch)))).await.with_context(|| format!("cannot read branch {branch}"))?;
    let sha = base.pointer("/object/sha").and_then(Value::as_str).context("branch without a commit")?.to_owned();
    match gh.send(http::Method::POST, &gh.repo_path("/git/refs"), Some(&json!({"ref": format!("refs/heads/{side}"), "sha": sha}))).await {
        Ok(_) => {}
        Err(ApiError::Status { status: 422, .. }) => {} // exists from an earlier run: reuse it
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot create branch {side}"))),
    }
    let saved = match write_loop(gh, &Target { path, branch: &side, message, max_attempts }, render).await? {
        Put::Done(s) => s,
        Put::Protected(m) => anyhow::bail!("{side} is protected too: {m}"),
    };
    let open = gh.get(&gh.repo_path(&format!("/pulls?head={}:{}&state=open", gh_owner(gh), enc(&side)))).await?;
    let pr = match open.as_array().and_then(|a| a.first()).cloned() {
        Some(pr) => pr,
        None => {
            let body = json!({
                "title": message,
                "head": side,
                "base": branch,
                "body": format!("{branch} requires a pull request ({}), so release-gate committed the decision log here. Merge it to record the log.", why.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" ")),
            });
            gh.send(http::Method::POST, &gh.repo_path("/pulls"), Some(&body))
                .await
                .context("cannot open the pull request for the log")?
                .body
        }
    };
    let url = pr["html_url"].as_str().map(str::to_owned);
    Ok(Saved {
        how: format!(
            "{branch} requires a pull request: committed {path} to {side} and opened pull request #{} ({})",
            pr["number"],
            url.clone().unwrap_or_default()
        ),
        url,
        ..saved
    })
}

fn gh_owner(gh: &GitHub) -> String {
    gh.repo_path("").trim_start_matches("/repos/").split('/').next().unwrap_or_default().to_owned()
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
pub async fn archive(
    settings: &artifact_verify::s3::Settings,
    bucket: &str,
    prefix: &str,
    files: &[(String, Vec<u8>)],
) -> anyhow::Result<usize> {
    use sha2::Digest as _;
    let client = artifact_verify::s3::client(settings).await;
    for (name, bytes) in files {
        let key = format!("{prefix}{name}");
        let sum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes));
        client
            .put_object()
            .bucket(bucket)
            .key(&key)
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
            .checksum_sha256(sum)
            .body(aws_sdk_s3::primitives::ByteStream::from(bytes.clone()))
            .send()
            .await
            .map_err(|e| {
                let text = aws_sdk_s3::error::DisplayErrorContext(&e).to_string();
                match e {
                    aws_sdk_s3::error::SdkError::DispatchFailure(_) | aws_sdk_s3::error::SdkError::TimeoutError(_) => {
                        anyhow::Error::new(release_gate_core::exit::Unreachable(format!("archiving to s3://{bucket}/{key}: {text}")))
                    }
                    _ => anyhow::anyhow!("archiving to s3://{bucket}/{key}: {text}"),
                }
            })?;
    }
    Ok(files.len())
}
