//! A stateful GitHub REST fake for tests, on 127.0.0.1.
//!
//! It keeps check runs, issue comments, pull requests, reviews and team
//! memberships in memory, records every request, and checks each one against
//! GitHub's OpenAPI description ([`openapi`]). A request the real API would
//! refuse is answered 422 and recorded as a violation, which tests assert is
//! empty. Faults (5xx after applying, rate limits, 403 for a read-only
//! token) are injected per method and path.

pub mod openapi;
pub mod pagerduty;
pub mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
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

fn blob_sha(content: &[u8]) -> String {
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

struct Shared {
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

/// A workflow run as `GET /repos/{o}/{r}/actions/runs/{id}` answers it.
fn run_json(id: u64, path: &str, head_sha: &str, event: &str) -> Value {
    json!({"id": id, "name": path.rsplit('/').next().unwrap_or(path), "node_id": format!("WFR_{id}"), "path": path, "head_sha": head_sha,
           "event": event, "head_branch": "main", "status": "completed", "conclusion": "success", "workflow_id": 1,
           "html_url": format!("https://github.com/o/r/actions/runs/{id}"), "run_number": id, "run_attempt": 1})
}

/// A completed check run another workflow or app left on `sha`; its id.
fn push_check_run(state: &mut State, sha: &str, name: &str, conclusion: &str, app: &str, external_id: Option<&str>) -> u64 {
    state.next_id += 1;
    let id = state.next_id;
    state.check_runs.push(json!({
        "id": id, "head_sha": sha, "node_id": format!("CR_{id}"), "external_id": external_id, "name": name,
        "url": format!("https://api.github.com/repos/o/r/check-runs/{id}"), "html_url": format!("https://github.com/o/r/runs/{id}"),
        "details_url": null, "status": "completed", "conclusion": conclusion, "started_at": now(), "completed_at": now(),
        "check_suite": {"id": 1}, "app": app_json(app), "pull_requests": [],
        "output": {"title": name, "summary": "", "text": null, "annotations_count": 0, "annotations_url": ""}, "_annotations": [],
    }));
    id
}

/// An app as check runs name it; the token the gates use in Actions is `github-actions`'s.
fn app_json(slug: &str) -> Value {
    json!({"id": slug.len(), "slug": slug, "node_id": format!("A_{slug}"), "name": slug, "owner": user("github"),
           "description": "", "external_url": "", "html_url": format!("https://github.com/apps/{slug}"),
           "created_at": "2018-01-01T00:00:00Z", "updated_at": "2018-01-01T00:00:00Z", "permissions": {}, "events": []})
}

fn user(login: &str) -> Value {
    json!({"login": login, "id": login.len(), "type": if login.ends_with("[bot]") { "Bot" } else { "User" }})
}

fn gh_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.as_u16().to_string()})),
    )
        .into_response()
}

async fn handle(AxState(shared): AxState<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let full_path = uri.path().to_owned();
    let query_string = uri.query().unwrap_or_default().to_owned();
    if let Some(control) = full_path.strip_prefix("/_fake/") {
        return control_endpoint(&shared, &method, control, &body);
    }
    let auth_header = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let authorized = auth_header.len() > 7 && (auth_header.starts_with("Bearer ") || auth_header.starts_with("token "));
    let query: Vec<(String, String)> = query_string
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let json_body: Option<Value> = if body.is_empty() { None } else { serde_json::from_slice(&body).ok() };
    let mut violations = Vec::new();
    if !body.is_empty() && json_body.is_none() {
        violations.push("request body is not JSON".to_owned());
    }
    let path = match full_path.strip_prefix(&shared.prefix) {
        Some(p) if !shared.prefix.is_empty() || !p.is_empty() => p.to_owned(),
        _ => {
            violations.push(format!("path does not start with the API prefix {:?}", shared.prefix));
            full_path.clone()
        }
    };
    let op = match spec() {
        Ok(spec) => match spec.check(method.as_str(), &path, &query, json_body.as_ref()) {
            Ok(op) => Some(op),
            Err(mut problems) => {
                violations.append(&mut problems);
                None
            }
        },
        Err(e) => {
            violations.push(format!("{e:#}"));
            None
        }
    };
    let delay = {
        let state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.latency.iter().filter(|(m, p, _)| m.eq_ignore_ascii_case(method.as_str()) && path.contains(p.as_str())).map(|l| l.2).max()
    };
    let credential = auth_header.split_once(' ').map(|(_, t)| t.to_owned()).unwrap_or_default();
    let response = serve(&shared, &method, path, query, query_string, json_body, violations, (authorized, credential), op);
    // The answer is computed first and delivered late: what the client reads
    // is already stale when it arrives, as on a busy API.
    if let Some(ms) = delay {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    response
}

#[allow(clippy::too_many_arguments)]
fn serve(
    shared: &Shared,
    method: &Method,
    path: String,
    query: Vec<(String, String)>,
    query_string: String,
    json_body: Option<Value>,
    violations: Vec<String>,
    (authorized, token): (bool, String),
    op: Option<openapi::Operation>,
) -> Response {
    let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    let credential = credential_kind(&state, &token);
    let (status, response) = if !violations.is_empty() {
        (422, gh_error(StatusCode::UNPROCESSABLE_ENTITY, &format!("Validation Failed (fake): {}", violations.join("; "))))
    } else if !authorized {
        (401, gh_error(StatusCode::UNAUTHORIZED, "Requires authentication"))
    } else {
        let fault = take_fault(&mut state, method.as_str(), &path);
        match (fault, op) {
            (Some(f), Some(op)) if f.after_apply => {
                let _ = apply(&mut state, method, &op, &query, json_body.as_ref());
                (f.status, fault_response(&f))
            }
            (Some(f), _) => (f.status, fault_response(&f)),
            (None, Some(op)) if op.template.starts_with("/app/") && credential != "app" => {
                (401, gh_error(StatusCode::UNAUTHORIZED, "A JSON web token could not be decoded"))
            }
            // GitHub answers `GET /user` only for a user's token: an
            // installation token (Actions' GITHUB_TOKEN, `ghs_…`, or one this
            // fake issued) gets 403.
            (None, Some(op)) if op.template == "/user" => {
                if credential == "installation" || token.starts_with("ghs_") {
                    (403, gh_error(StatusCode::FORBIDDEN, "Resource not accessible by integration"))
                } else {
                    (200, axum::Json(json!({"login": "release-captain", "id": 7, "type": "User"})).into_response())
                }
            }
            (None, Some(op)) => {
                let r = apply(&mut state, method, &op, &query, json_body.as_ref());
                (r.status().as_u16(), r)
            }
            (None, None) => (500, gh_error(StatusCode::INTERNAL_SERVER_ERROR, "unmatched")),
        }
    };
    state.requests.push(Recorded {
        method: method.to_string(),
        path,
        query: query_string,
        body: json_body,
        status,
        authorized,
        credential: credential.to_owned(),
        violations,
    });
    response
}

/// What a bearer token is: an App's JWT that verifies against a registered
/// key (RS256, `iss` the App's id, at most ten minutes long), an
/// installation token this fake issued, or any other token.
fn credential_kind(state: &State, token: &str) -> &'static str {
    if token.is_empty() {
        return "";
    }
    if state.installation_tokens.contains_key(token) {
        return "installation";
    }
    #[derive(Deserialize)]
    struct Claims {
        iss: serde_json::Value,
        iat: i64,
        exp: i64,
    }
    for (id, pem) in &state.apps {
        let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()) else { continue };
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        // `iss` is checked below: GitHub (and octocrab) write the App id as a number, which the library reads only as a string.
        v.required_spec_claims = ["exp", "iat"].iter().map(|s| (*s).to_owned()).collect();
        v.validate_aud = false;
        if let Ok(data) = jsonwebtoken::decode::<Claims>(token, &key, &v) {
            let c = data.claims;
            let iss = c.iss.as_u64().or_else(|| c.iss.as_str().and_then(|s| s.parse().ok()));
            if iss == Some(*id) && c.exp - c.iat <= 660 {
                return "app";
            }
        }
    }
    "token"
}

fn take_fault(state: &mut State, method: &str, path: &str) -> Option<Fault> {
    let idx = state.faults.iter().position(|f| f.method.eq_ignore_ascii_case(method) && path.contains(&f.path_contains))?;
    let fault = state.faults[idx].clone();
    match &mut state.faults[idx].times {
        Some(n) if *n <= 1 => {
            state.faults.remove(idx);
        }
        Some(n) => *n -= 1,
        None => {}
    }
    Some(fault)
}

fn fault_response(f: &Fault) -> Response {
    let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match &f.raw_body {
        Some(body) => (status, body.clone()).into_response(),
        None => gh_error(status, if f.message.is_empty() { "fault injected by the fake" } else { &f.message }),
    };
    for (k, v) in &f.headers {
        if let (Ok(name), Ok(value)) = (axum::http::HeaderName::try_from(k.as_str()), axum::http::HeaderValue::try_from(v.as_str())) {
            resp.headers_mut().insert(name, value);
        }
    }
    resp
}

fn control_endpoint(shared: &Shared, method: &Method, what: &str, body: &[u8]) -> Response {
    let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    match (method.as_str(), what) {
        ("GET", "state") => axum::Json(serde_json::to_value(&*state).unwrap_or(Value::Null)).into_response(),
        ("POST", "reset") => {
            *state = State::default();
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "faults") => match parsed.and_then(|v| serde_json::from_value::<Fault>(v).ok()) {
            Some(f) => {
                state.faults.push(f);
                StatusCode::NO_CONTENT.into_response()
            }
            None => gh_error(StatusCode::BAD_REQUEST, "expected a Fault"),
        },
        ("POST", "files") => match parsed {
            // {branch, path, content, head?}: a file on a branch (and the branch's head commit).
            Some(f) if f["branch"].is_string() && f["path"].is_string() && f["content"].is_string() => {
                let branch = f["branch"].as_str().unwrap_or_default().to_owned();
                let path = f["path"].as_str().unwrap_or_default().to_owned();
                let content = f["content"].as_str().unwrap_or_default().to_owned();
                state.branches.entry(branch.clone()).or_insert_with(|| blob_sha(branch.as_bytes()));
                if let Some(head) = f["head"].as_str() {
                    state.branches.insert(branch.clone(), head.to_owned());
                }
                state.files.entry(branch).or_default().insert(path, StoredFile { sha: blob_sha(content.as_bytes()), content });
                StatusCode::NO_CONTENT.into_response()
            }
            _ => gh_error(StatusCode::BAD_REQUEST, "expected {branch, path, content, head?}"),
        },
        ("POST", "runs") => match parsed {
            // {id, path, head_sha, event?}: a workflow run, as the check runs' external ids name them.
            Some(r) if r["id"].is_u64() && r["path"].is_string() && r["head_sha"].is_string() => {
                let id = r["id"].as_u64().unwrap_or(0);
                let run = run_json(
                    id,
                    r["path"].as_str().unwrap_or_default(),
                    r["head_sha"].as_str().unwrap_or_default(),
                    r["event"].as_str().unwrap_or("push"),
                );
                state.runs.insert(id, run);
                StatusCode::NO_CONTENT.into_response()
            }
            _ => gh_error(StatusCode::BAD_REQUEST, "expected {id, path, head_sha, event?}"),
        },
        ("POST", "check_runs") => match parsed {
            // {sha, name, conclusion, app?, external_id?}: a check run another workflow left.
            Some(c) if c["sha"].is_string() && c["name"].is_string() && c["conclusion"].is_string() => {
                let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                push_check_run(
                    &mut state,
                    &text("sha"),
                    &text("name"),
                    &text("conclusion"),
                    c["app"].as_str().unwrap_or("github-actions"),
                    c["external_id"].as_str(),
                );
                StatusCode::NO_CONTENT.into_response()
            }
            _ => gh_error(StatusCode::BAD_REQUEST, "expected {sha, name, conclusion, app?, external_id?}"),
        },
        ("POST", "pulls") => match parsed {
            Some(pr) if pr["number"].is_u64() => {
                let n = pr["number"].as_u64().unwrap_or(0);
                state.pulls.insert(n, pr);
                StatusCode::NO_CONTENT.into_response()
            }
            _ => gh_error(StatusCode::BAD_REQUEST, "expected a pull request with a number"),
        },
        _ => gh_error(StatusCode::NOT_FOUND, "unknown control endpoint"),
    }
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn paginate(items: Vec<Value>, query: &[(String, String)]) -> Vec<Value> {
    let get = |k: &str| query.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.parse::<usize>().ok());
    let per_page = get("per_page").unwrap_or(30).clamp(1, 100);
    let page = get("page").unwrap_or(1).max(1);
    items.into_iter().skip((page - 1) * per_page).take(per_page).collect()
}

/// Applies a validated request to the state.
fn apply(state: &mut State, method: &Method, op: &openapi::Operation, query: &[(String, String)], body: Option<&Value>) -> Response {
    let p = |k: &str| op.params.get(k).cloned().unwrap_or_default();
    let empty = json!({});
    let body = body.unwrap_or(&empty);
    let (owner, repo) = (p("owner"), p("repo"));
    let api = format!("https://api.github.com/repos/{owner}/{repo}");
    match (method.as_str(), op.template.as_str()) {
        ("POST", "/repos/{owner}/{repo}/check-runs") => {
            state.next_id += 1;
            let id = state.next_id;
            let mut run = json!({
                "id": id, "head_sha": body["head_sha"], "node_id": format!("CR_{id}"), "external_id": body.get("external_id").cloned().unwrap_or(Value::Null),
                "url": format!("{api}/check-runs/{id}"), "html_url": format!("https://github.com/{owner}/{repo}/runs/{id}"),
                "details_url": body.get("details_url").cloned().unwrap_or(Value::Null),
                "status": if body.get("conclusion").is_some() { json!("completed") } else { body.get("status").cloned().unwrap_or(json!("queued")) },
                "conclusion": body.get("conclusion").cloned().unwrap_or(Value::Null),
                "started_at": now(), "completed_at": body.get("completed_at").cloned().unwrap_or(Value::Null),
                "name": body["name"], "check_suite": {"id": 1}, "app": app_json("github-actions"), "pull_requests": [],
                "output": {"title": null, "summary": null, "text": null, "annotations_count": 0, "annotations_url": format!("{api}/check-runs/{id}/annotations")},
                "_annotations": [],
            });
            merge_output(&mut run, body.get("output"));
            state.check_runs.push(run.clone());
            (StatusCode::CREATED, axum::Json(strip_private(run))).into_response()
        }
        ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}") => {
            let id: u64 = p("check_run_id").parse().unwrap_or(0);
            let Some(run) = state.check_runs.iter_mut().find(|r| r["id"] == id) else {
                return gh_error(StatusCode::NOT_FOUND, "Not Found");
            };
            for k in ["name", "details_url", "external_id", "status", "conclusion", "completed_at"] {
                if let Some(v) = body.get(k) {
                    run[k] = v.clone();
                }
            }
            if body.get("conclusion").is_some() {
                run["status"] = json!("completed");
            }
            merge_output(run, body.get("output"));
            (StatusCode::OK, axum::Json(strip_private(run.clone()))).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}/annotations") => {
            let id: u64 = p("check_run_id").parse().unwrap_or(0);
            let list =
                state.check_runs.iter().find(|r| r["id"] == id).and_then(|r| r["_annotations"].as_array().cloned()).unwrap_or_default();
            axum::Json(Value::Array(paginate(list, query))).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs") => {
            let sha = p("ref");
            let name = query.iter().find(|(k, _)| k == "check_name").map(|(_, v)| v.clone());
            let runs: Vec<Value> = state
                .check_runs
                .iter()
                .filter(|r| r["head_sha"] == sha.as_str() && name.as_ref().is_none_or(|n| r["name"] == n.as_str()))
                .rev()
                .map(|r| strip_private(r.clone()))
                .collect();
            let total = runs.len();
            axum::Json(json!({"total_count": total, "check_runs": paginate(runs, query)})).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments") => {
            let n: u64 = p("issue_number").parse().unwrap_or(0);
            let list: Vec<Value> = state.comments.iter().filter(|c| c["_issue"] == n).map(|c| strip_private(c.clone())).collect();
            axum::Json(Value::Array(paginate(list, query))).into_response()
        }
        ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments") => {
            let n: u64 = p("issue_number").parse().unwrap_or(0);
            state.next_id += 1;
            let id = state.next_id;
            let c = json!({
                "id": id, "node_id": format!("IC_{id}"), "_issue": n, "body": body["body"], "user": user("github-actions[bot]"),
                "url": format!("{api}/issues/comments/{id}"), "html_url": format!("https://github.com/{owner}/{repo}/pull/{n}#issuecomment-{id}"),
                "issue_url": format!("{api}/issues/{n}"), "created_at": now(), "updated_at": now(), "author_association": "NONE",
            });
            state.comments.push(c.clone());
            (StatusCode::CREATED, axum::Json(strip_private(c))).into_response()
        }
        ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}") => {
            let id: u64 = p("comment_id").parse().unwrap_or(0);
            let Some(c) = state.comments.iter_mut().find(|c| c["id"] == id) else {
                return gh_error(StatusCode::NOT_FOUND, "Not Found");
            };
            c["body"] = body["body"].clone();
            c["updated_at"] = json!(now());
            axum::Json(strip_private(c.clone())).into_response()
        }
        ("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}") => {
            let id: u64 = p("comment_id").parse().unwrap_or(0);
            let before = state.comments.len();
            state.comments.retain(|c| c["id"] != id);
            if state.comments.len() == before {
                return gh_error(StatusCode::NOT_FOUND, "Not Found");
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}") => {
            let n: u64 = p("pull_number").parse().unwrap_or(0);
            match state.pulls.get(&n) {
                Some(pr) => axum::Json(pr.clone()).into_response(),
                None => gh_error(StatusCode::NOT_FOUND, "Not Found"),
            }
        }
        ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews") => {
            let n: u64 = p("pull_number").parse().unwrap_or(0);
            axum::Json(Value::Array(paginate(state.reviews.get(&n).cloned().unwrap_or_default(), query))).into_response()
        }
        ("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}") => {
            let key = format!("{}/{}", p("org"), p("team_slug"));
            let login = p("username");
            if state.teams.get(&key).is_some_and(|m| m.iter().any(|u| u.eq_ignore_ascii_case(&login))) {
                axum::Json(json!({"url": "", "role": "member", "state": "active"})).into_response()
            } else {
                gh_error(StatusCode::NOT_FOUND, "Not Found")
            }
        }
        ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission") => {
            let login = p("username");
            let role = state.permissions.get(&login.to_lowercase()).cloned().unwrap_or_else(|| "read".into());
            let permission = match role.as_str() {
                "maintain" => "write",
                "triage" => "read",
                other => other,
            };
            axum::Json(json!({"permission": permission, "role_name": role, "user": user(&login)})).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}") => {
            let id: u64 = p("run_id").parse().unwrap_or(0);
            match state.runs.get(&id) {
                Some(run) => axum::Json(run.clone()).into_response(),
                None => gh_error(StatusCode::NOT_FOUND, "Not Found"),
            }
        }
        ("GET", "/repos/{owner}/{repo}/contents/{path}") => {
            let wanted = query.iter().find(|(k, _)| k == "ref").map(|(_, v)| v.clone()).unwrap_or_else(|| "main".into());
            // A ref is a branch, or a commit: the branch whose head it is (or was, for a recorded base).
            let branch = if state.files.contains_key(&wanted) {
                wanted
            } else {
                state.branches.iter().find(|(_, h)| **h == wanted).map(|(b, _)| b.clone()).unwrap_or(wanted)
            };
            let path = p("path");
            match state.files.get(&branch).and_then(|f| f.get(&path)) {
                Some(f) => axum::Json(file_json(&api, &owner, &repo, &branch, &path, f)).into_response(),
                None => gh_error(StatusCode::NOT_FOUND, "Not Found"),
            }
        }
        ("PUT", "/repos/{owner}/{repo}/contents/{path}") => {
            use base64::Engine as _;
            let branch = body["branch"].as_str().unwrap_or("main").to_owned();
            let path = p("path");
            if state.protected.contains(&branch) {
                return gh_error(
                    StatusCode::CONFLICT,
                    "Repository rule violations found\n\nChanges must be made through a pull request.\n\n",
                );
            }
            let Some(head) = state.branches.get(&branch).cloned() else {
                return gh_error(StatusCode::NOT_FOUND, &format!("Branch {branch} not found"));
            };
            let existing = state.files.get(&branch).and_then(|f| f.get(&path)).cloned();
            match (&existing, body["sha"].as_str()) {
                (Some(_), None) => return gh_error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request.\n\n\"sha\" wasn't supplied."),
                (Some(f), Some(sha)) if f.sha != sha => return gh_error(StatusCode::CONFLICT, &format!("{path} does not match {sha}")),
                (None, Some(sha)) => return gh_error(StatusCode::CONFLICT, &format!("{path} does not match {sha}")),
                _ => {}
            }
            let text = body["content"].as_str().unwrap_or_default().replace(['\n', '\r'], "");
            let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text) else {
                return gh_error(StatusCode::UNPROCESSABLE_ENTITY, "content is not valid Base64");
            };
            let content = String::from_utf8_lossy(&bytes).into_owned();
            let stored = StoredFile { sha: blob_sha(content.as_bytes()), content };
            state.files.entry(branch.clone()).or_default().insert(path.clone(), stored.clone());
            let commit = blob_sha(format!("{head}{}{}", stored.sha, state.commits.len()).as_bytes());
            state.branches.insert(branch.clone(), commit.clone());
            state.commits.push((branch.clone(), path.clone(), body["message"].as_str().unwrap_or_default().to_owned()));
            let status = if existing.is_some() { StatusCode::OK } else { StatusCode::CREATED };
            (
                status,
                axum::Json(json!({
                    "content": file_json(&api, &owner, &repo, &branch, &path, &stored),
                    "commit": {"sha": commit, "node_id": "C", "url": format!("{api}/git/commits/{commit}"), "html_url": format!("https://github.com/{owner}/{repo}/commit/{commit}"),
                        "author": {"date": now(), "name": "github-actions[bot]", "email": "41898282+github-actions[bot]@users.noreply.github.com"},
                        "committer": {"date": now(), "name": "GitHub", "email": "noreply@github.com"},
                        "message": body["message"], "tree": {"url": "", "sha": commit}, "parents": [{"url": "", "html_url": "", "sha": head}],
                        "verification": {"verified": true, "reason": "valid", "signature": null, "payload": null}},
                })),
            )
                .into_response()
        }
        ("GET", "/repos/{owner}/{repo}/git/ref/{ref}") => {
            let r = p("ref");
            let branch = r.strip_prefix("heads/").unwrap_or(&r).to_owned();
            match state.branches.get(&branch) {
                Some(sha) => axum::Json(
                    json!({"ref": format!("refs/heads/{branch}"), "node_id": "R", "url": format!("{api}/git/refs/heads/{branch}"),
                    "object": {"type": "commit", "sha": sha, "url": format!("{api}/git/commits/{sha}")}}),
                )
                .into_response(),
                None => gh_error(StatusCode::NOT_FOUND, "Not Found"),
            }
        }
        ("POST", "/repos/{owner}/{repo}/git/refs") => {
            let r = body["ref"].as_str().unwrap_or_default();
            let Some(branch) = r.strip_prefix("refs/heads/") else {
                return gh_error(StatusCode::UNPROCESSABLE_ENTITY, "Reference name must start with refs/");
            };
            if state.branches.contains_key(branch) {
                return gh_error(StatusCode::UNPROCESSABLE_ENTITY, "Reference already exists");
            }
            let sha = body["sha"].as_str().unwrap_or_default().to_owned();
            // The new branch starts with the files of the branch whose head it points at.
            let from = state.branches.iter().find(|(_, h)| **h == sha).map(|(b, _)| b.clone());
            let files = from.and_then(|b| state.files.get(&b).cloned()).unwrap_or_default();
            state.branches.insert(branch.to_owned(), sha.clone());
            state.files.insert(branch.to_owned(), files);
            (
                StatusCode::CREATED,
                axum::Json(
                    json!({"ref": r, "node_id": "R", "url": format!("{api}/git/{r}"), "object": {"type": "commit", "sha": sha, "url": ""}}),
                ),
            )
                .into_response()
        }
        ("GET", "/repos/{owner}/{repo}/pulls") => {
            let head = query.iter().find(|(k, _)| k == "head").map(|(_, v)| v.clone());
            let list: Vec<Value> = state
                .pulls
                .values()
                .filter(|pr| head.as_ref().is_none_or(|h| h.split(':').next_back() == pr["head"]["ref"].as_str()) && pr["state"] == "open")
                .cloned()
                .collect();
            axum::Json(Value::Array(paginate(list, query))).into_response()
        }
        ("POST", "/repos/{owner}/{repo}/pulls") => {
            let head = body["head"].as_str().unwrap_or_default().to_owned();
            if state.pulls.values().any(|pr| pr["head"]["ref"] == head.as_str() && pr["state"] == "open") {
                return gh_error(StatusCode::UNPROCESSABLE_ENTITY, &format!("A pull request already exists for {owner}:{head}."));
            }
            let n = state.pulls.keys().max().copied().unwrap_or(0) + 1;
            let sha = state.branches.get(&head).cloned().unwrap_or_default();
            let pr = json!({
                "number": n, "state": "open", "title": body["title"], "body": body.get("body").cloned().unwrap_or(Value::Null),
                "user": user("github-actions[bot]"), "labels": [], "html_url": format!("https://github.com/{owner}/{repo}/pull/{n}"),
                "url": format!("{api}/pulls/{n}"), "id": n, "node_id": format!("PR_{n}"),
                "head": {"ref": head, "sha": sha, "label": format!("{owner}:{head}")},
                "base": {"ref": body["base"], "sha": state.branches.get(body["base"].as_str().unwrap_or_default()).cloned().unwrap_or_default(), "label": ""},
            });
            state.pulls.insert(n, pr.clone());
            (StatusCode::CREATED, axum::Json(pr)).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls") => {
            let sha = p("commit_sha");
            let list: Vec<Value> = state
                .pulls
                .values()
                .filter(|pr| pr["merge_commit_sha"] == sha.as_str() || pr["head"]["sha"] == sha.as_str())
                .cloned()
                .collect();
            axum::Json(Value::Array(paginate(list, query))).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/deployments") => {
            let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let (sha, env) = (get("sha"), get("environment"));
            let list: Vec<Value> = state
                .deployments
                .iter()
                .rev()
                .filter(|d| {
                    sha.as_ref().is_none_or(|s| d["sha"] == s.as_str()) && env.as_ref().is_none_or(|e| d["environment"] == e.as_str())
                })
                .map(|d| strip_private(d.clone()))
                .collect();
            axum::Json(Value::Array(paginate(list, query))).into_response()
        }
        ("POST", "/repos/{owner}/{repo}/deployments") => {
            state.next_id += 1;
            let id = state.next_id;
            let sha = body["ref"].as_str().unwrap_or_default().to_owned();
            let d = json!({
                "id": id, "node_id": format!("DE_{id}"), "sha": sha, "ref": body["ref"], "task": "deploy", "payload": {},
                "original_environment": body["environment"], "environment": body.get("environment").cloned().unwrap_or(json!("production")),
                "description": body.get("description").cloned().unwrap_or(Value::Null), "creator": user("github-actions[bot]"),
                "created_at": now(), "updated_at": now(), "url": format!("{api}/deployments/{id}"),
                "statuses_url": format!("{api}/deployments/{id}/statuses"), "repository_url": api.clone(),
                "transient_environment": body.get("transient_environment").cloned().unwrap_or(json!(false)),
                "production_environment": body.get("production_environment").cloned().unwrap_or(json!(false)),
                "_statuses": [],
            });
            state.deployments.push(d.clone());
            (StatusCode::CREATED, axum::Json(strip_private(d))).into_response()
        }
        ("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses") => {
            let id: u64 = p("deployment_id").parse().unwrap_or(0);
            state.next_id += 1;
            let sid = state.next_id;
            let Some(d) = state.deployments.iter_mut().find(|d| d["id"] == id) else {
                return gh_error(StatusCode::NOT_FOUND, "Not Found");
            };
            let status = json!({
                "id": sid, "node_id": format!("DES_{sid}"), "state": body["state"], "creator": user("github-actions[bot]"),
                "description": body.get("description").cloned().unwrap_or(json!("")), "environment": d["environment"],
                "target_url": "", "log_url": body.get("log_url").cloned().unwrap_or(json!("")),
                "environment_url": body.get("environment_url").cloned().unwrap_or(json!("")),
                "created_at": now(), "updated_at": now(), "url": format!("{api}/deployments/{id}/statuses/{sid}"),
                "deployment_url": format!("{api}/deployments/{id}"), "repository_url": api.clone(),
            });
            if let Some(list) = d["_statuses"].as_array_mut() {
                list.push(status.clone());
            }
            (StatusCode::CREATED, axum::Json(status)).into_response()
        }
        ("PUT", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/disable") => {
            let w = p("workflow_id");
            if !state.disabled_workflows.contains(&w) {
                state.disabled_workflows.push(w);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("PUT", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/enable") => {
            let w = p("workflow_id");
            state.disabled_workflows.retain(|d| *d != w);
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches") => {
            let w = p("workflow_id");
            if state.disabled_workflows.contains(&w) {
                return gh_error(StatusCode::UNPROCESSABLE_ENTITY, &format!("Workflow {w} is disabled"));
            }
            state.dispatches.push((w, body.clone()));
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "/repos/{owner}/{repo}/issues") => {
            let n = state.issues.len() as u64 + 1000;
            let issue = json!({"number": n, "id": n, "node_id": format!("I_{n}"), "title": body["title"], "body": body.get("body").cloned().unwrap_or(Value::Null),
                "assignees": body.get("assignees").cloned().unwrap_or(json!([])), "state": "open", "user": user("github-actions[bot]"),
                "url": format!("{api}/issues/{n}"), "html_url": format!("https://github.com/{owner}/{repo}/issues/{n}"), "labels": [],
                "created_at": now(), "updated_at": now()});
            state.issues.push(issue.clone());
            (StatusCode::CREATED, axum::Json(issue)).into_response()
        }
        ("POST", "/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule") => {
            let id: u64 = p("run_id").parse().unwrap_or(0);
            state.protection_reviews.push((id, body.clone()));
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "/app/installations/{installation_id}/access_tokens") => {
            let id: u64 = p("installation_id").parse().unwrap_or(0);
            if !state.installations.contains_key(&id) {
                return gh_error(StatusCode::NOT_FOUND, "Not Found");
            }
            state.next_id += 1;
            let token = format!("ghs_fakeinstallation{id}x{}", state.next_id);
            state.installation_tokens.insert(token.clone(), id);
            let expires = jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_hours(1)).unwrap_or(jiff::Timestamp::now());
            (
                StatusCode::CREATED,
                axum::Json(json!({"token": token, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "permissions": {"actions": "read", "deployments": "write", "contents": "read", "checks": "read"}, "repository_selection": "selected"})),
            )
                .into_response()
        }
        (m, t) => gh_error(StatusCode::NOT_IMPLEMENTED, &format!("the fake does not implement {m} {t}")),
    }
}

fn file_json(api: &str, owner: &str, repo: &str, branch: &str, path: &str, f: &StoredFile) -> Value {
    use base64::Engine as _;
    let name = path.rsplit('/').next().unwrap_or(path);
    json!({
        "type": "file", "encoding": "base64", "size": f.content.len(), "name": name, "path": path,
        "content": base64::engine::general_purpose::STANDARD.encode(f.content.as_bytes()), "sha": f.sha,
        "url": format!("{api}/contents/{path}?ref={branch}"), "git_url": format!("{api}/git/blobs/{}", f.sha),
        "html_url": format!("https://github.com/{owner}/{repo}/blob/{branch}/{path}"),
        "download_url": format!("https://raw.githubusercontent.com/{owner}/{repo}/{branch}/{path}"),
        "_links": {"self": format!("{api}/contents/{path}?ref={branch}"), "git": format!("{api}/git/blobs/{}", f.sha), "html": format!("https://github.com/{owner}/{repo}/blob/{branch}/{path}")},
    })
}

fn merge_output(run: &mut Value, output: Option<&Value>) {
    let Some(output) = output else { return };
    for k in ["title", "summary", "text"] {
        if let Some(v) = output.get(k) {
            run["output"][k] = v.clone();
        }
    }
    if let Some(list) = output.get("annotations").and_then(Value::as_array)
        && let Some(store) = run["_annotations"].as_array_mut()
    {
        store.extend(list.iter().cloned());
        let n = store.len();
        run["output"]["annotations_count"] = json!(n);
    }
}

fn strip_private(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.retain(|k, _| !k.starts_with('_') || k == "_links");
    }
    v
}
