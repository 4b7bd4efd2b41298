//! A stateful GitHub REST fake for tests, on 127.0.0.1.
//!
//! It keeps check runs, issue comments, pull requests, reviews and team
//! memberships in memory, records every request, and checks each one against
//! GitHub's OpenAPI description ([`openapi`]). A request the real API would
//! refuse is answered 422 and recorded as a violation, which tests assert is
//! empty. Faults (5xx after applying, rate limits, 403 for a read-only
//! token) are injected per method and path.
//!
//! This file holds the state and the test-facing API ([`Fake`]); the HTTP
//! side is `server.rs`, what each GitHub operation does is `rest.rs`.

pub mod openapi;
pub mod pagerduty;
pub mod support;

mod rest;
mod server;

use rest::{push_check_run, run_json, user};
use server::handle;
pub(crate) use server::percent_decode;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One request as the fake saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path without the API prefix.
    pub path: String,
    /// Query string, if any.
    pub query: String,
    /// Parsed JSON body, if any.
    pub body: Option<Value>,
    /// Status answered.
    pub status: u16,
    /// The `Authorization` header's scheme and whether a token was present.
    pub authorized: bool,
    /// Who the credentials were: `app` (a GitHub App's JWT that verified),
    /// `installation` (a token this fake issued to an installation), `token`
    /// (any other token), or empty.
    #[serde(default)]
    pub credential: String,
    /// Why GitHub's description refuses it (empty when valid).
    pub violations: Vec<String>,
}

/// A scripted failure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    /// Method to match.
    pub method: String,
    /// Substring of the path (without prefix) to match.
    pub path_contains: String,
    /// Status to answer.
    pub status: u16,
    /// Extra response headers (e.g. `retry-after`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Response `message`.
    #[serde(default)]
    pub message: String,
    /// Apply the request first, then answer the fault (a lost response).
    #[serde(default)]
    pub after_apply: bool,
    /// How many times (absent: always).
    #[serde(default)]
    pub times: Option<u32>,
    /// A raw body instead of GitHub's JSON error (a broken proxy, a truncated answer).
    #[serde(default)]
    pub raw_body: Option<String>,
}

impl Fault {
    /// A fault answering `status` to `method` requests whose path contains `path_contains`, every time.
    pub fn new(method: &str, path_contains: &str, status: u16) -> Self {
        Self {
            method: method.to_owned(),
            path_contains: path_contains.to_owned(),
            status,
            headers: BTreeMap::new(),
            message: String::new(),
            after_apply: false,
            times: None,
            raw_body: None,
        }
    }

    /// Answers this raw body instead of GitHub's JSON.
    pub fn raw_body(mut self, body: &str) -> Self {
        self.raw_body = Some(body.to_owned());
        self
    }

    /// The message GitHub sends with it.
    pub fn message(mut self, message: &str) -> Self {
        self.message = message.to_owned();
        self
    }

    /// Only the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Applies the request first, then answers the fault (a lost response).
    pub fn after_apply(mut self) -> Self {
        self.after_apply = true;
        self
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.to_owned(), value.to_owned());
        self
    }

    /// What a fork PR's read-only token gets for check runs and comments.
    pub fn read_only_token() -> [Fault; 2] {
        ["/check-runs", "/comments"].map(|p| Fault::new("POST", p, 403).message("Resource not accessible by integration"))
    }
}

/// A file in the fake repository.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoredFile {
    /// Content.
    pub content: String,
    /// Blob sha (git's: SHA-1 of `blob <len>\0<content>`, here SHA-256 cut to 40 hex digits).
    pub sha: String,
}

pub(crate) fn blob_sha(content: &[u8]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())[..40].to_owned()
}

/// A check suite: GitHub makes one per workflow run, and one per app and
/// commit for check runs an app creates outside a workflow run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CheckSuite {
    /// Id.
    pub id: u64,
    /// The commit.
    pub head_sha: String,
    /// The app's slug (`github-actions` for workflow runs).
    pub app: String,
    /// The workflow run it belongs to, if any.
    pub run: Option<u64>,
}

impl State {
    /// A commit on `branch` that changes `path` to `content` (`None`
    /// deletes it); `sha` names the new commit (default: derived). The
    /// branch is created, empty, when it does not exist. Returns the commit.
    pub fn commit(&mut self, branch: &str, path: &str, content: Option<&str>, sha: Option<&str>) -> String {
        let parent = self.branches.get(branch).cloned();
        let mut tree = parent.as_ref().and_then(|p| self.trees.get(p).cloned()).unwrap_or_default();
        match content {
            Some(c) => {
                tree.insert(path.to_owned(), StoredFile { content: c.to_owned(), sha: blob_sha(c.as_bytes()) });
            }
            None => {
                tree.remove(path);
            }
        }
        self.next_id += 1;
        let sha = sha
            .map(str::to_owned)
            .unwrap_or_else(|| blob_sha(format!("commit {} {branch} {path} {}", parent.unwrap_or_default(), self.next_id).as_bytes()));
        self.trees.insert(sha.clone(), tree);
        self.branches.insert(branch.to_owned(), sha.clone());
        self.commit_dates.entry(sha.clone()).or_insert_with(rest::now);
        sha
    }

    /// The commit a ref names: a branch (`x` or `refs/heads/x`), or a commit sha the fake holds.
    pub fn resolve(&self, git_ref: &str) -> Option<String> {
        let name = git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref);
        self.branches.get(name).cloned().or_else(|| self.trees.contains_key(git_ref).then(|| git_ref.to_owned()))
    }

    /// A file as it is at a ref.
    pub fn file_at(&self, git_ref: &str, path: &str) -> Option<&StoredFile> {
        self.trees.get(&self.resolve(git_ref)?)?.get(path)
    }

    /// The suite a check run created by `app` on `sha` lands in. GitHub
    /// does not let the creator choose: for `github-actions` it is the
    /// suite of the first workflow run on the commit (whichever workflow
    /// asked), else the app's own suite for the commit, made on first use.
    pub fn suite_for(&mut self, sha: &str, app: &str) -> u64 {
        if let Some(s) = self.check_suites.iter().find(|s| s.head_sha == sha && s.app == app) {
            return s.id;
        }
        self.next_id += 1;
        let id = self.next_id;
        self.check_suites.push(CheckSuite { id, head_sha: sha.to_owned(), app: app.to_owned(), run: None });
        id
    }

    /// An artifact uploaded to workflow run `run`, its archive `zip`; its id.
    pub fn add_artifact(&mut self, run: u64, name: &str, zip: &[u8]) -> u64 {
        use sha2::Digest as _;
        self.next_id += 1;
        let id = self.next_id;
        let head_sha = self.runs.get(&run).map(|r| r["head_sha"].clone()).unwrap_or(Value::Null);
        let at = jiff::Timestamp::now();
        let stamp = |t: jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(zip)));
        let api = "https://api.github.com/repos/o/r/actions/artifacts";
        self.artifacts.push(json!({
            "id": id, "node_id": format!("MDg6QXJ0aWZhY3Q{id}"), "name": name, "size_in_bytes": zip.len(),
            "url": format!("{api}/{id}"), "archive_download_url": format!("{api}/{id}/zip"), "expired": false,
            "created_at": stamp(at), "updated_at": stamp(at), "expires_at": stamp(at + jiff::SignedDuration::from_hours(24 * 90)),
            "digest": digest,
            "workflow_run": {"id": run, "repository_id": 1, "head_repository_id": 1, "head_branch": "main", "head_sha": head_sha},
        }));
        self.artifact_archives.insert(id, zip.to_vec());
        id
    }

    /// A workflow run, with its own check suite.
    pub fn add_run(&mut self, id: u64, path: &str, head_sha: &str, event: &str) {
        self.next_id += 1;
        let suite = self.next_id;
        self.check_suites.push(CheckSuite { id: suite, head_sha: head_sha.to_owned(), app: "github-actions".into(), run: Some(id) });
        self.runs.insert(id, run_json(id, path, head_sha, event, suite));
    }
}

/// Everything the fake holds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    next_id: u64,
    /// Check runs, with their annotations under `_annotations`.
    pub check_runs: Vec<Value>,
    /// Issue comments.
    pub comments: Vec<Value>,
    /// Pull requests by number.
    pub pulls: BTreeMap<u64, Value>,
    /// Reviews by PR number.
    pub reviews: BTreeMap<u64, Vec<Value>>,
    /// `org/team` to member logins.
    pub teams: BTreeMap<String, Vec<String>>,
    /// Repository permission by login (`admin`, `maintain`, `write`, `triage`, `read`); others read.
    pub permissions: BTreeMap<String, String>,
    /// Workflow runs by id.
    pub runs: BTreeMap<u64, Value>,
    /// The repository's files at each commit: commit sha, then path. A
    /// commit's files never change; writing makes a new commit (as in git).
    pub trees: BTreeMap<String, BTreeMap<String, StoredFile>>,
    /// Branch heads: commit sha.
    pub branches: BTreeMap<String, String>,
    /// Check suites: id, the commit, the app's slug and the workflow run it
    /// belongs to (each workflow run has its own), in the order created.
    pub check_suites: Vec<CheckSuite>,
    /// When each commit was made (RFC 3339), as `GET …/commits/{ref}` tells it.
    pub commit_dates: BTreeMap<String, String>,
    /// Commits made through the contents API: (branch, path, message).
    pub commits: Vec<(String, String, String)>,
    /// Branches that refuse direct writes (a rule requires a pull request).
    pub protected: Vec<String>,
    /// Added latency: (method, path fragment, milliseconds), applied before a request is served.
    pub latency: Vec<(String, String, u64)>,
    /// Every request.
    pub requests: Vec<Recorded>,
    /// Pending faults.
    pub faults: Vec<Fault>,
    /// GitHub Apps: id → public key (PEM) their JWTs are verified with.
    pub apps: BTreeMap<u64, String>,
    /// Installations: id → the App installed.
    pub installations: BTreeMap<u64, u64>,
    /// Installation tokens issued: token → installation.
    pub installation_tokens: BTreeMap<String, u64>,
    /// Deployments, each with its statuses under `_statuses`.
    pub deployments: Vec<Value>,
    /// Custom deployment protection rule answers: (run id, body).
    pub protection_reviews: Vec<(u64, Value)>,
    /// Workflow files disabled through the API.
    pub disabled_workflows: Vec<String>,
    /// Workflow dispatches: (workflow, body).
    pub dispatches: Vec<(String, Value)>,
    /// Issues opened.
    pub issues: Vec<Value>,
    /// Workflow runs' artifacts, in GitHub's shape.
    pub artifacts: Vec<Value>,
    /// Each artifact's archive (a zip), served from the storage URL the
    /// download redirects to.
    pub artifact_archives: BTreeMap<u64, Vec<u8>>,
    /// The fake's own base URL (`http://127.0.0.1:PORT`): storage URLs point there.
    pub own_url: String,
    /// Lightweight tags: name (`v1.2.3`) to commit.
    pub tags: BTreeMap<String, String>,
}

pub(crate) fn spec() -> anyhow::Result<&'static openapi::Spec> {
    static SPEC: OnceLock<Result<openapi::Spec, String>> = OnceLock::new();
    SPEC.get_or_init(|| openapi::spec_path().and_then(|p| openapi::Spec::load(&p)).map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

pub(crate) struct Shared {
    prefix: String,
    state: Mutex<State>,
}

/// A running fake.
pub struct Fake {
    addr: SocketAddr,
    prefix: String,
    shared: Arc<Shared>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Fake {
    /// Starts a fake on 127.0.0.1 with an ephemeral port; `prefix` is `""` for
    /// github.com or `"/api/v3"` for GitHub Enterprise Server.
    pub fn start(prefix: &str) -> anyhow::Result<Self> {
        Self::start_on(prefix, 0)
    }

    /// Starts a fake on a given port (0 for any).
    pub fn start_on(prefix: &str, port: u16) -> anyhow::Result<Self> {
        spec()?;
        let shared = Arc::new(Shared { prefix: prefix.trim_end_matches('/').to_owned(), state: Mutex::new(State::default()) });
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let app_shared = shared.clone();
        std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = addr_tx.send(Err(anyhow::anyhow!(e)));
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = addr_tx.send(Err(anyhow::anyhow!(e)));
                        return;
                    }
                };
                let _ = addr_tx.send(listener.local_addr().map_err(anyhow::Error::from));
                let app = axum::Router::new().fallback(handle).with_state(app_shared);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
        });
        let addr = addr_rx.recv().context("the fake's server thread ended")??;
        shared.state.lock().unwrap_or_else(|e| e.into_inner()).own_url = format!("http://{addr}");
        Ok(Self { addr, prefix: prefix.trim_end_matches('/').to_owned(), shared, _shutdown: stop_tx })
    }

    /// The API base URL to hand to the tool under test.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.prefix)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs `f` on the state.
    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut s = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|s| s.requests.clone())
    }

    /// Every reason the real API would have refused a request so far.
    pub fn violations(&self) -> Vec<String> {
        self.with(|s| s.requests.iter().flat_map(|r| r.violations.iter().map(move |v| format!("{} {}: {v}", r.method, r.path))).collect())
    }

    /// Adds a fault.
    pub fn inject(&self, fault: Fault) {
        self.with(|s| s.faults.push(fault));
    }

    /// Stores a pull request (GitHub's shape; `number` required).
    pub fn add_pull(&self, pr: Value) {
        let n = pr["number"].as_u64().unwrap_or(0);
        self.with(|s| s.pulls.insert(n, pr));
    }

    /// Commits a file to a branch (creating the branch); returns the new commit.
    pub fn put_file(&self, branch: &str, path: &str, content: &str) -> String {
        self.with(|s| s.commit(branch, path, Some(content), None))
    }

    /// Commits a file to a branch as the commit `sha` (a commit a test's
    /// event or check runs name).
    pub fn put_file_as(&self, branch: &str, path: &str, content: &str, sha: &str) {
        self.with(|s| s.commit(branch, path, Some(content), Some(sha)));
    }

    /// Points a branch at a commit (e.g. the base commit a pull request
    /// event names); a commit the fake does not hold gets the branch's
    /// current files.
    pub fn set_branch_head(&self, branch: &str, sha: &str) {
        self.with(|s| {
            if !s.trees.contains_key(sha) {
                let tree = s.branches.get(branch).and_then(|h| s.trees.get(h).cloned()).unwrap_or_default();
                s.trees.insert(sha.to_owned(), tree);
            }
            s.branches.insert(branch.to_owned(), sha.to_owned());
        });
    }

    /// A file's content at a ref (a branch's head, or a commit).
    pub fn file(&self, git_ref: &str, path: &str) -> Option<String> {
        self.with(|s| s.file_at(git_ref, path).map(|f| f.content.clone()))
    }

    /// Marks a branch as refusing direct writes (a rule requires a pull request).
    pub fn protect(&self, branch: &str) {
        self.with(|s| s.protected.push(branch.to_owned()));
    }

    /// Commits made through the contents API: (branch, path, message).
    pub fn commits(&self) -> Vec<(String, String, String)> {
        self.with(|s| s.commits.clone())
    }

    /// Delays every `method` request whose path contains `path_contains` by
    /// `ms` before serving it (widens race windows for concurrency tests).
    pub fn latency(&self, method: &str, path_contains: &str, ms: u64) {
        self.with(|s| s.latency.push((method.to_owned(), path_contains.to_owned(), ms)));
    }

    /// Adds a review to a pull request by a member of the organisation.
    pub fn add_review(&self, number: u64, login: &str, state: &str, commit_id: &str, submitted_at: &str) {
        self.add_review_as(number, login, state, commit_id, submitted_at, "MEMBER");
    }

    /// Adds a review with the reviewer's association (`OWNER`, `MEMBER`, `COLLABORATOR`, `CONTRIBUTOR`, `NONE`).
    pub fn add_review_as(&self, number: u64, login: &str, state: &str, commit_id: &str, submitted_at: &str, association: &str) {
        self.with(|s| {
            s.next_id += 1;
            let id = s.next_id;
            s.reviews.entry(number).or_default().push(json!({
                "id": id, "node_id": format!("PRR_{id}"), "user": user(login), "body": "", "state": state,
                "html_url": format!("https://github.com/o/r/pull/{number}#pullrequestreview-{id}"),
                "pull_request_url": format!("https://api.github.com/repos/o/r/pulls/{number}"),
                "_links": {"html": {"href": ""}, "pull_request": {"href": ""}},
                "submitted_at": submitted_at, "commit_id": commit_id, "author_association": association
            }));
        });
    }

    /// Gives `login` a permission on the repository (`admin`, `maintain`, `write`, `triage`, `read`).
    pub fn set_permission(&self, login: &str, role: &str) {
        self.with(|s| s.permissions.insert(login.to_lowercase(), role.to_owned()));
    }

    /// Records a workflow run (its workflow file, commit and event) with its
    /// own check suite. Runs are made in the order added: check runs created
    /// from Actions' token land in the first one's suite on the commit.
    pub fn add_run(&self, id: u64, path: &str, head_sha: &str, event: &str) {
        self.with(|s| s.add_run(id, path, head_sha, event));
    }

    /// Sets when a commit was made (it must be one the fake holds, or becomes one with no files).
    pub fn set_commit_date(&self, sha: &str, at: &str) {
        self.with(|s| {
            s.trees.entry(sha.to_owned()).or_default();
            s.commit_dates.insert(sha.to_owned(), at.to_owned());
        });
    }

    /// Uploads an artifact to workflow run `run` (as `actions/upload-artifact`
    /// does): `zip` is its archive. Its id.
    pub fn add_artifact(&self, run: u64, name: &str, zip: &[u8]) -> u64 {
        self.with(|s| s.add_artifact(run, name, zip))
    }

    /// A lightweight tag `name` on commit `sha`.
    pub fn add_tag(&self, name: &str, sha: &str) {
        self.with(|s| s.tags.insert(name.to_owned(), sha.to_owned()));
    }

    /// Changes what an artifact records (`expired`, `created_at`, `digest`,
    /// `workflow_run`, …): what a test needs of an older or tampered one.
    pub fn edit_artifact(&self, id: u64, key: &str, value: Value) {
        self.with(|s| {
            if let Some(a) = s.artifacts.iter_mut().find(|a| a["id"] == id) {
                a[key] = value;
            }
        });
    }

    /// Changes a workflow run's field (`head_repository` for a fork's run, `created_at`, …).
    pub fn edit_run(&self, id: u64, key: &str, value: Value) {
        self.with(|s| {
            if let Some(r) = s.runs.get_mut(&id) {
                r[key] = value;
            }
        });
    }

    /// Marks a workflow run as re-run: its `run_attempt` becomes `attempt`.
    pub fn set_run_attempt(&self, id: u64, attempt: u64) {
        self.with(|s| {
            if let Some(r) = s.runs.get_mut(&id) {
                r["run_attempt"] = json!(attempt);
            }
        });
    }

    /// Registers a GitHub App (its id and public key, PEM) and one installation of it.
    pub fn add_app(&self, app_id: u64, public_key_pem: &str, installation_id: u64) {
        self.with(|s| {
            s.apps.insert(app_id, public_key_pem.to_owned());
            s.installations.insert(installation_id, app_id);
        });
    }

    /// The deployments made, with their statuses under `_statuses`.
    pub fn deployments(&self) -> Vec<Value> {
        self.with(|s| s.deployments.clone())
    }

    /// The custom deployment protection rule answers: (run id, body).
    pub fn protection_reviews(&self) -> Vec<(u64, Value)> {
        self.with(|s| s.protection_reviews.clone())
    }

    /// A completed check run on `sha`, as another workflow or app would
    /// leave it: `app` is its app's slug, `external_id` as given. It lands
    /// in the suite GitHub would file it under ([`State::suite_for`]).
    pub fn add_check_run(&self, sha: &str, name: &str, conclusion: &str, app: &str, external_id: Option<&str>) -> u64 {
        self.with(|s| {
            let suite = s.suite_for(sha, app);
            push_check_run(s, sha, name, conclusion, app, external_id, suite)
        })
    }

    /// A completed check run filed under workflow run `run`'s own suite (a
    /// job's check run, or one created when that run was the commit's first).
    pub fn add_check_run_in_run(&self, run: u64, name: &str, conclusion: &str, external_id: Option<&str>) -> u64 {
        self.with(|s| {
            let suite = s.check_suites.iter().find(|c| c.run == Some(run)).map(|c| (c.id, c.head_sha.clone()));
            let (suite, sha) = suite.unwrap_or_else(|| panic!("no workflow run {run}: add_run it first"));
            push_check_run(s, &sha, name, conclusion, "github-actions", external_id, suite)
        })
    }

    /// Sets a check run's `completed_at` (tests of which result is newest).
    pub fn set_completed_at(&self, id: u64, at: &str) {
        self.with(|s| {
            if let Some(r) = s.check_runs.iter_mut().find(|r| r["id"] == id) {
                r["completed_at"] = json!(at);
            }
        });
    }

    /// Makes `login` an active member of `org/team`.
    pub fn add_team_member(&self, org_team: &str, login: &str) {
        self.with(|s| s.teams.entry(org_team.to_owned()).or_default().push(login.to_owned()));
    }

    /// Check runs created so far.
    pub fn check_runs(&self) -> Vec<Value> {
        self.with(|s| s.check_runs.clone())
    }

    /// Issue comments so far.
    pub fn comments(&self) -> Vec<Value> {
        self.with(|s| s.comments.clone())
    }
}
