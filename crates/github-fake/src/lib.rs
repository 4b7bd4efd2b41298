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
    /// Repository files by branch, then path: content and blob sha.
    pub files: BTreeMap<String, BTreeMap<String, StoredFile>>,
    /// Branch heads: commit sha.
    pub branches: BTreeMap<String, String>,
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

    /// Puts a file on a branch (creating the branch).
    pub fn put_file(&self, branch: &str, path: &str, content: &str) {
        self.with(|s| {
            s.branches.entry(branch.to_owned()).or_insert_with(|| blob_sha(branch.as_bytes()));
            s.files
                .entry(branch.to_owned())
                .or_default()
                .insert(path.to_owned(), StoredFile { content: content.to_owned(), sha: blob_sha(content.as_bytes()) });
        });
    }

    /// Points a branch at a commit (e.g. the base commit a pull request event names).
    pub fn set_branch_head(&self, branch: &str, sha: &str) {
        self.with(|s| {
            s.branches.insert(branch.to_owned(), sha.to_owned());
            s.files.entry(branch.to_owned()).or_default();
        });
    }

    /// A file's content on a branch.
    pub fn file(&self, branch: &str, path: &str) -> Option<String> {
        self.with(|s| s.files.get(branch).and_then(|f| f.get(path)).map(|f| f.content.clone()))
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

    /// Records a workflow run: its workflow file, commit and event.
    pub fn add_run(&self, id: u64, path: &str, head_sha: &str, event: &str) {
        self.with(|s| s.runs.insert(id, run_json(id, path, head_sha, event)));
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
    /// leave it: `app` is its app's slug, `external_id` as given.
    pub fn add_check_run(&self, sha: &str, name: &str, conclusion: &str, app: &str, external_id: Option<&str>) -> u64 {
        self.with(|s| push_check_run(s, sha, name, conclusion, app, external_id))
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
