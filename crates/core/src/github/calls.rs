//! One method per GitHub REST call the gates make, each with its typed
//! answer. The REST paths live here and nowhere else.

use base64::Engine as _;
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::types::{
    Artifact, CheckRun, Comment, CommitPull, Content, Deployment, InstallationToken, Permission, PullRequest, PullSummary, Review,
    WorkflowRun,
};
use super::{ApiError, GitHub};

/// Percent-encodes a query value or a path segment.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A workflow as the Actions API names it: its file name (`deploy.yml`),
/// from a path such as `.github/workflows/deploy.yml`.
fn workflow_file(workflow: &str) -> &str {
    workflow.rsplit('/').next().unwrap_or(workflow)
}

/// Percent-encodes a repository path or branch, keeping its `/` separators.
fn encode_path(s: &str) -> String {
    s.split('/').map(url_encode).collect::<Vec<_>>().join("/")
}

fn typed<T: DeserializeOwned>(value: Value, call: &str) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::Decode { call: call.to_owned(), detail: e.to_string() })
}

/// A deployment status to post.
#[derive(Debug, Clone, Copy)]
pub struct DeploymentStatus<'a> {
    /// `in_progress`, `success`, `failure`, `error`, `inactive`.
    pub state: &'a str,
    /// One line (GitHub keeps 140 characters).
    pub description: &'a str,
    /// The decision log, or the run.
    pub log_url: Option<&'a str>,
    /// The deployed environment's URL.
    pub environment_url: Option<&'a str>,
}

/// What writing a file through the contents API did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// Committed; the commit's web link.
    Committed(Option<String>),
    /// Someone committed in between (409/422 "does not match"): read again.
    Conflict,
    /// The branch's rules require a pull request; GitHub's message.
    Protected(String),
}

impl GitHub {
    /// `/repos/{owner}/{repo}` followed by `rest`.
    fn repo_path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    async fn get_typed<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let call = format!("GET {}", path.split('?').next().unwrap_or(path));
        typed(self.get(path).await?, &call)
    }

    /// Every page of a list (`per_page=100`, up to `max_pages`); `key` names
    /// the array inside an object answer (e.g. `check_runs`).
    async fn list<T: DeserializeOwned>(&self, path: &str, key: Option<&str>, max_pages: u32) -> Result<Vec<T>, ApiError> {
        let call = format!("GET {}", path.split('?').next().unwrap_or(path));
        self.get_all(path, key, max_pages).await?.into_iter().map(|v| typed(v, &call)).collect()
    }

    /// `GET /repos/{o}/{r}/pulls/{n}`: the pull request as it is now.
    pub async fn pull(&self, number: u64) -> Result<PullRequest, ApiError> {
        self.get_typed(&self.repo_path(&format!("/pulls/{number}"))).await
    }

    /// `GET /repos/{o}/{r}/pulls/{n}/reviews`: every review, oldest first.
    pub async fn reviews(&self, number: u64) -> Result<Vec<Review>, ApiError> {
        self.list(&self.repo_path(&format!("/pulls/{number}/reviews")), None, 10).await
    }

    /// `GET /orgs/{org}/teams/{team}/memberships/{login}`: whether `login` is an active member.
    pub async fn team_member(&self, org: &str, team: &str, login: &str) -> Result<bool, ApiError> {
        let path = format!("/orgs/{}/teams/{}/memberships/{}", url_encode(org), url_encode(team), url_encode(login));
        match self.get(&path).await {
            Ok(m) => Ok(m.get("state").and_then(Value::as_str) == Some("active")),
            Err(ApiError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `GET /repos/{o}/{r}/collaborators/{login}/permission`: the user's permission on the repository.
    pub async fn permission(&self, login: &str) -> Result<Permission, ApiError> {
        let path = self.repo_path(&format!("/collaborators/{}/permission", url_encode(login)));
        let call = "GET /repos/{owner}/{repo}/collaborators/{username}/permission";
        let v = self.get(&path).await?;
        let permission = v
            .get("permission")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::Decode { call: call.into(), detail: "no permission".into() })?;
        Ok(Permission::parse(v.get("role_name").and_then(Value::as_str), permission))
    }

    /// `GET /repos/{o}/{r}/commits/{sha}/check-runs`: the commit's check runs, newest first, by name when given.
    pub async fn check_runs(&self, sha: &str, name: Option<&str>) -> Result<Vec<CheckRun>, ApiError> {
        let filter = name.map(|n| format!("?check_name={}", url_encode(n))).unwrap_or_default();
        self.list(&self.repo_path(&format!("/commits/{}/check-runs{filter}", url_encode(sha))), Some("check_runs"), 10).await
    }

    /// `POST /repos/{o}/{r}/check-runs`; returns the id. An ambiguous failure
    /// comes back as [`ApiError::Ambiguous`]: look for the run before retrying.
    pub async fn create_check_run(&self, body: &Value) -> Result<Created, ApiError> {
        let resp = self.send(Method::POST, &self.repo_path("/check-runs"), Some(body)).await?;
        created(&resp.body, "POST /repos/{owner}/{repo}/check-runs")
    }

    /// `PATCH /repos/{o}/{r}/check-runs/{id}`.
    pub async fn update_check_run(&self, id: u64, body: &Value) -> Result<(), ApiError> {
        self.send(Method::PATCH, &self.repo_path(&format!("/check-runs/{id}")), Some(body)).await.map(drop)
    }

    /// `GET /repos/{o}/{r}/issues/{n}/comments`: every comment, oldest first.
    pub async fn comments(&self, number: u64) -> Result<Vec<Comment>, ApiError> {
        self.list(&self.repo_path(&format!("/issues/{number}/comments")), None, 30).await
    }

    /// `GET /user`: the token's own login; `None` for an installation token
    /// (`GITHUB_TOKEN`, an App's), which GitHub answers 403 there.
    pub async fn identity(&self) -> Result<Option<String>, ApiError> {
        match self.send(Method::GET, "/user", None).await {
            Ok(resp) => Ok(resp.body.get("login").and_then(Value::as_str).map(str::to_owned)),
            Err(ApiError::Forbidden { .. } | ApiError::NotFound { .. }) => Ok(None),
            Err(ApiError::Status { status: 401 | 403, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /repos/{o}/{r}/issues/{n}/comments`.
    pub async fn create_comment(&self, number: u64, body: &str) -> Result<Created, ApiError> {
        let resp = self.send(Method::POST, &self.repo_path(&format!("/issues/{number}/comments")), Some(&json!({ "body": body }))).await?;
        created(&resp.body, "POST /repos/{owner}/{repo}/issues/{issue_number}/comments")
    }

    /// `PATCH /repos/{o}/{r}/issues/comments/{id}`.
    pub async fn update_comment(&self, id: u64, body: &str) -> Result<(), ApiError> {
        self.send(Method::PATCH, &self.repo_path(&format!("/issues/comments/{id}")), Some(&json!({ "body": body }))).await.map(drop)
    }

    /// `DELETE /repos/{o}/{r}/issues/comments/{id}`; one already gone is fine.
    pub async fn delete_comment(&self, id: u64) -> Result<(), ApiError> {
        match self.send(Method::DELETE, &self.repo_path(&format!("/issues/comments/{id}")), None).await {
            Ok(_) | Err(ApiError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `GET /repos/{o}/{r}/commits/{sha}/pulls`: the pull requests a commit belongs to (merged ones first).
    pub async fn pulls_for_commit(&self, sha: &str) -> Result<Vec<CommitPull>, ApiError> {
        let mut list: Vec<CommitPull> = self.list(&self.repo_path(&format!("/commits/{}/pulls", url_encode(sha))), None, 3).await?;
        list.sort_by_key(|p| p.merged_at.is_none());
        Ok(list)
    }

    /// `GET /repos/{o}/{r}/deployments?sha=&environment=`: deployments of a commit to an environment, newest first.
    pub async fn deployments(&self, sha: &str, environment: &str) -> Result<Vec<Deployment>, ApiError> {
        let q = format!("?sha={}&environment={}", url_encode(sha), url_encode(environment));
        self.list(&self.repo_path(&format!("/deployments{q}")), None, 3).await
    }

    /// `POST /repos/{o}/{r}/deployments`: a deployment of `sha` to `environment`
    /// that GitHub does not itself gate (no required contexts, no auto-merge:
    /// the gates decide).
    pub async fn create_deployment(
        &self,
        sha: &str,
        environment: &str,
        description: &str,
        production: bool,
    ) -> Result<Deployment, ApiError> {
        let body = json!({
            "ref": sha, "environment": environment, "description": description, "auto_merge": false,
            "required_contexts": [], "production_environment": production, "transient_environment": false,
        });
        let resp = self.send(Method::POST, &self.repo_path("/deployments"), Some(&body)).await?;
        typed(resp.body, "POST /repos/{owner}/{repo}/deployments")
    }

    /// `POST /repos/{o}/{r}/deployments/{id}/statuses`: `state` is `in_progress`,
    /// `success`, `failure`, `error`, `inactive`, `queued` or `pending`.
    pub async fn create_deployment_status(&self, id: u64, status: &DeploymentStatus<'_>) -> Result<(), ApiError> {
        let mut body =
            json!({ "state": status.state, "description": crate::render::ellipsize(status.description, 140), "auto_inactive": true });
        if let Some(u) = status.log_url {
            body["log_url"] = json!(u);
        }
        if let Some(u) = status.environment_url {
            body["environment_url"] = json!(u);
        }
        self.send(Method::POST, &self.repo_path(&format!("/deployments/{id}/statuses")), Some(&body)).await.map(drop)
    }

    /// `POST /repos/{o}/{r}/actions/runs/{run_id}/deployment_protection_rule`:
    /// a custom protection rule's answer (`approved` or `rejected`) for one environment.
    pub async fn review_protection_rule(&self, run_id: u64, environment: &str, approved: bool, comment: &str) -> Result<(), ApiError> {
        let body = json!({
            "environment_name": environment,
            "state": if approved { "approved" } else { "rejected" },
            "comment": crate::render::ellipsize(comment, 1024),
        });
        self.send(Method::POST, &self.repo_path(&format!("/actions/runs/{run_id}/deployment_protection_rule")), Some(&body)).await.map(drop)
    }

    /// `POST /app/installations/{id}/access_tokens`, as the App (this client's
    /// token is the App's JWT): a token for the installation.
    pub async fn installation_token(&self, installation_id: u64) -> Result<InstallationToken, ApiError> {
        let resp = self.send(Method::POST, &format!("/app/installations/{installation_id}/access_tokens"), Some(&json!({}))).await?;
        typed(resp.body, "POST /app/installations/{installation_id}/access_tokens")
    }

    /// `PUT /repos/{o}/{r}/actions/workflows/{file}/disable` (`enable`): stops
    /// (or lets again) a workflow be triggered; `workflow` is its file name or id.
    pub async fn set_workflow_enabled(&self, workflow: &str, enabled: bool) -> Result<(), ApiError> {
        let verb = if enabled { "enable" } else { "disable" };
        self.send(Method::PUT, &self.repo_path(&format!("/actions/workflows/{}/{verb}", url_encode(workflow_file(workflow)))), None)
            .await
            .map(drop)
    }

    /// `POST /repos/{o}/{r}/actions/workflows/{file}/dispatches`: runs a
    /// `workflow_dispatch` workflow on `git_ref` with `inputs`.
    pub async fn dispatch_workflow(&self, workflow: &str, git_ref: &str, inputs: &Value) -> Result<(), ApiError> {
        let body = json!({ "ref": git_ref, "inputs": inputs });
        self.send(
            Method::POST,
            &self.repo_path(&format!("/actions/workflows/{}/dispatches", url_encode(workflow_file(workflow)))),
            Some(&body),
        )
        .await
        .map(drop)
    }

    /// `POST /repos/{o}/{r}/issues` with `labels`; returns its web link.
    pub async fn create_issue(&self, title: &str, body: &str, assignees: &[String], labels: &[&str]) -> Result<String, ApiError> {
        let resp = self
            .send(
                Method::POST,
                &self.repo_path("/issues"),
                Some(&json!({"title": title, "body": body, "assignees": assignees, "labels": labels})),
            )
            .await?;
        Ok(resp.body.get("html_url").and_then(Value::as_str).unwrap_or_default().to_owned())
    }

    /// `GET /repos/{o}/{r}/issues?labels=&state=all`: the issues (open or
    /// closed) carrying `label`, as (title, web link).
    pub async fn issues_labelled(&self, label: &str) -> Result<Vec<(String, String)>, ApiError> {
        let path = self.repo_path(&format!("/issues?labels={}&state=all", url_encode(label)));
        let list: Vec<Value> = self.list(&path, None, 10).await?;
        Ok(list
            .into_iter()
            .map(|i| {
                let text = |k: &str| i.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                (text("title"), text("html_url"))
            })
            .collect())
    }

    /// `GET /repos/{o}/{r}/commits/{sha}`: when the commit was made (its committer's date).
    pub async fn commit_time(&self, sha: &str) -> Result<jiff::Timestamp, ApiError> {
        let call = "GET /repos/{owner}/{repo}/commits/{ref}";
        let v = self.get(&self.repo_path(&format!("/commits/{}", url_encode(sha)))).await?;
        v.pointer("/commit/committer/date")
            .and_then(Value::as_str)
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| ApiError::Decode { call: call.into(), detail: "no commit.committer.date".into() })
    }

    /// `GET /repos/{o}/{r}/actions/runs/{id}`: a workflow run.
    pub async fn workflow_run(&self, id: u64) -> Result<WorkflowRun, ApiError> {
        self.get_typed(&self.repo_path(&format!("/actions/runs/{id}"))).await
    }

    /// `GET /repos/{o}/{r}/actions/runs?check_suite_id=`: the workflow run a
    /// check suite belongs to (none for a suite made outside Actions).
    pub async fn runs_of_suite(&self, check_suite_id: u64) -> Result<Vec<WorkflowRun>, ApiError> {
        self.list(&self.repo_path(&format!("/actions/runs?check_suite_id={check_suite_id}")), Some("workflow_runs"), 1).await
    }

    /// `GET /repos/{o}/{r}/actions/runs?head_sha=`: the workflow runs for a commit (any order).
    pub async fn runs_for_commit(&self, sha: &str) -> Result<Vec<WorkflowRun>, ApiError> {
        self.list(&self.repo_path(&format!("/actions/runs?head_sha={}", url_encode(sha))), Some("workflow_runs"), 10).await
    }

    /// `GET /repos/{o}/{r}/actions/runs/{id}/artifacts?name=`: a run's artifacts of that name.
    pub async fn run_artifacts(&self, run_id: u64, name: &str) -> Result<Vec<Artifact>, ApiError> {
        self.list(&self.repo_path(&format!("/actions/runs/{run_id}/artifacts?name={}", url_encode(name))), Some("artifacts"), 10).await
    }

    /// `GET /repos/{o}/{r}/actions/artifacts/{id}/zip`: the archive, at most
    /// `max_bytes`. GitHub answers with a redirect to a short-lived URL on
    /// its storage; that URL is fetched without the token (it is signed, and
    /// the token must not leave GitHub), under the same attempts and timeout.
    pub async fn artifact_zip(&self, id: u64, max_bytes: u64) -> Result<Vec<u8>, ApiError> {
        let call = "GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/zip".to_owned();
        let r = self.send(Method::GET, &self.repo_path(&format!("/actions/artifacts/{id}/zip")), None).await?;
        let Some(url) = r.location else {
            return Err(ApiError::Decode { call, detail: format!("answered {} without a redirect to the archive", r.status) });
        };
        let retry = self.retry;
        let run = move || -> Result<Vec<u8>, ApiError> {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(retry.timeout))
                .http_status_as_error(false)
                .max_redirects(3)
                .build()
                .into();
            let shown = "the artifact's archive (GitHub's storage URL)".to_owned();
            let mut last = String::new();
            for attempt in 1..=retry.attempts {
                match agent.get(&url).call() {
                    Ok(mut resp) if resp.status().is_success() => {
                        return resp.body_mut().with_config().limit(max_bytes).read_to_vec().map_err(|e| ApiError::Decode {
                            call: shown.clone(),
                            detail: format!("{e} (at most {max_bytes} bytes are read)"),
                        });
                    }
                    Ok(resp) if resp.status().is_server_error() => last = format!("{}", resp.status()),
                    Ok(resp) => return Err(ApiError::Status { call: shown, status: resp.status().as_u16(), message: String::new() }),
                    Err(e) => last = format!("transport error: {e}"),
                }
                if attempt < retry.attempts {
                    std::thread::sleep(retry.backoff(attempt));
                }
            }
            Err(ApiError::Unreachable { call: shown, attempts: retry.attempts, detail: last })
        };
        tokio::task::spawn_blocking(run).await.map_err(|e| ApiError::Decode { call, detail: e.to_string() })?
    }

    /// `GET /repos/{o}/{r}/contents/{path}?ref=`: a file at a branch, tag or commit; `None` when absent.
    pub async fn file(&self, path: &str, git_ref: &str) -> Result<Option<Content>, ApiError> {
        let call = "GET /repos/{owner}/{repo}/contents/{path}";
        let v = match self.get(&self.repo_path(&format!("/contents/{}?ref={}", encode_path(path), url_encode(git_ref)))).await {
            Ok(v) => v,
            Err(ApiError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let decode = |detail: &str| ApiError::Decode { call: call.into(), detail: detail.into() };
        if v.get("type").and_then(Value::as_str).is_some_and(|t| t != "file") {
            return Err(ApiError::Status { call: call.into(), status: 422, message: format!("{path} is not a file") });
        }
        let text = v.get("content").and_then(Value::as_str).ok_or_else(|| decode("no content"))?.replace(['\n', '\r'], "");
        let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| decode("content that is not Base64"))?;
        let sha = v.get("sha").and_then(Value::as_str).ok_or_else(|| decode("no sha"))?.to_owned();
        Ok(Some(Content { bytes, sha }))
    }

    /// `PUT /repos/{o}/{r}/contents/{path}`: commits `bytes` to `branch`,
    /// `sha` being the blob it replaces (the precondition).
    pub async fn put_file(&self, path: &str, branch: &str, message: &str, bytes: &[u8], sha: Option<&str>) -> Result<Put, ApiError> {
        let mut body = json!({
            "message": message,
            "content": base64::engine::general_purpose::STANDARD.encode(bytes),
            "branch": branch,
        });
        if let Some(sha) = sha {
            body["sha"] = Value::String(sha.to_owned());
        }
        match self.send(Method::PUT, &self.repo_path(&format!("/contents/{}", encode_path(path))), Some(&body)).await {
            Ok(resp) => Ok(Put::Committed(resp.body.pointer("/commit/html_url").and_then(Value::as_str).map(str::to_owned))),
            Err(e) => {
                let (status, message) = match &e {
                    ApiError::Status { status, message, .. } => (*status, message.clone()),
                    ApiError::Forbidden { message, .. } => (403, message.clone()),
                    _ => return Err(e),
                };
                let m = message.to_ascii_lowercase();
                if matches!(status, 403 | 409 | 422)
                    && (m.contains("pull request") || m.contains("protected branch") || m.contains("rule violation"))
                {
                    Ok(Put::Protected(message))
                } else if matches!(status, 409 | 422) && (message.contains("does not match") || message.contains("sha")) {
                    Ok(Put::Conflict)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// `GET /repos/{o}/{r}/git/ref/heads/{branch}`: the branch's head commit.
    pub async fn branch_head(&self, branch: &str) -> Result<String, ApiError> {
        let call = "GET /repos/{owner}/{repo}/git/ref/{ref}";
        let v = self.get(&self.repo_path(&format!("/git/ref/heads/{}", encode_path(branch)))).await?;
        v.pointer("/object/sha")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::Decode { call: call.into(), detail: "no object.sha".into() })
    }

    /// `POST /repos/{o}/{r}/git/refs`: creates `branch` at `sha`; `false` when it exists already.
    pub async fn create_branch(&self, branch: &str, sha: &str) -> Result<bool, ApiError> {
        match self.send(Method::POST, &self.repo_path("/git/refs"), Some(&json!({"ref": format!("refs/heads/{branch}"), "sha": sha}))).await
        {
            Ok(_) => Ok(true),
            Err(ApiError::Status { status: 422, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `GET /repos/{o}/{r}/pulls?head=`: the open pull request from `branch` (in this repository), if any.
    pub async fn open_pull_from(&self, branch: &str) -> Result<Option<PullSummary>, ApiError> {
        let path = self.repo_path(&format!("/pulls?head={}&state=open", url_encode(&format!("{}:{branch}", self.owner))));
        Ok(self.list::<PullSummary>(&path, None, 1).await?.into_iter().next())
    }

    /// `POST /repos/{o}/{r}/pulls`.
    pub async fn create_pull(&self, title: &str, head: &str, base: &str, body: &str) -> Result<PullSummary, ApiError> {
        let resp = self
            .send(Method::POST, &self.repo_path("/pulls"), Some(&json!({"title": title, "head": head, "base": base, "body": body})))
            .await?;
        typed(resp.body, "POST /repos/{owner}/{repo}/pulls")
    }
}

/// What a create call made: its id and web link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Id.
    pub id: u64,
    /// Web link, when the answer gave one.
    pub html_url: Option<String>,
}

fn created(body: &Value, call: &str) -> Result<Created, ApiError> {
    Ok(Created { id: id_of(body, call)?, html_url: body.get("html_url").and_then(Value::as_str).map(str::to_owned) })
}

fn id_of(body: &Value, call: &str) -> Result<u64, ApiError> {
    body.get("id").and_then(Value::as_u64).ok_or_else(|| ApiError::Decode { call: call.to_owned(), detail: "no id in the answer".into() })
}
