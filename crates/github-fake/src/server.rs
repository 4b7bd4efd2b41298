//! The fake's HTTP side: every request is recorded, its credential told
//! apart, checked against GitHub's OpenAPI description, scripted faults
//! injected, and the control endpoints (`/_fake/...`) answered; what an
//! operation does is [`crate::rest`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::rest::{apply, gh_error, push_check_run};
use crate::{Fault, Recorded, Shared, State, openapi, spec};

pub(crate) async fn handle(AxState(shared): AxState<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let full_path = uri.path().to_owned();
    let query_string = uri.query().unwrap_or_default().to_owned();
    if let Some(control) = full_path.strip_prefix("/_fake/") {
        return control_endpoint(&shared, &method, control, &body);
    }
    if let Some(blob) = full_path.strip_prefix("/_storage/artifacts/") {
        return storage(&shared, &method, blob, &headers);
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
pub(crate) fn serve(
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
pub(crate) fn credential_kind(state: &State, token: &str) -> &'static str {
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

pub(crate) fn take_fault(state: &mut State, method: &str, path: &str) -> Option<Fault> {
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

pub(crate) fn fault_response(f: &Fault) -> Response {
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

pub(crate) fn control_endpoint(shared: &Shared, method: &Method, what: &str, body: &[u8]) -> Response {
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
                // A new commit on the branch; `head` names it (the commit a workflow run is for),
                // `date` when it was made (default: now).
                let text = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
                let sha = state.commit(&text("branch"), &text("path"), Some(&text("content")), f["head"].as_str());
                if let Some(d) = f["date"].as_str() {
                    state.commit_dates.insert(sha, d.to_owned());
                }
                StatusCode::NO_CONTENT.into_response()
            }
            _ => gh_error(StatusCode::BAD_REQUEST, "expected {branch, path, content, head?, date?}"),
        },
        ("POST", "runs") => match parsed {
            // {id, path, head_sha, event?}: a workflow run, as the check runs' external ids name them.
            Some(r) if r["id"].is_u64() && r["path"].is_string() && r["head_sha"].is_string() => {
                let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
                let id = r["id"].as_u64().unwrap_or(0);
                state.add_run(id, &text("path"), &text("head_sha"), r["event"].as_str().unwrap_or("push"));
                // `set`: fields to change (`head_repository` for a fork's run, `created_at`, …).
                if let Some(run) = state.runs.get_mut(&id) {
                    set_fields(run, &r["set"]);
                }
                StatusCode::NO_CONTENT.into_response()
            }
            _ => gh_error(StatusCode::BAD_REQUEST, "expected {id, path, head_sha, event?, set?}"),
        },
        ("POST", "apps") => {
            // {app_id, public_key_pem, installation_id}: a GitHub App and one installation of it.
            let a = parsed.unwrap_or(Value::Null);
            match (a["app_id"].as_u64(), a["public_key_pem"].as_str(), a["installation_id"].as_u64()) {
                (Some(app), Some(key), Some(inst)) => {
                    state.apps.insert(app, key.to_owned());
                    state.installations.insert(inst, app);
                    StatusCode::NO_CONTENT.into_response()
                }
                _ => gh_error(StatusCode::BAD_REQUEST, "expected {app_id, public_key_pem, installation_id}"),
            }
        }
        ("POST", "artifacts") => {
            // {run, name, zip_base64, set?}: an artifact uploaded to a run; `set` changes what it records.
            use base64::Engine as _;
            let a = parsed.unwrap_or(Value::Null);
            let zip = a["zip_base64"].as_str().and_then(|z| base64::engine::general_purpose::STANDARD.decode(z).ok());
            match (a["run"].as_u64(), a["name"].as_str(), zip) {
                (Some(run), Some(name), Some(zip)) => {
                    let id = state.add_artifact(run, name, &zip);
                    if let Some(art) = state.artifacts.iter_mut().find(|x| x["id"] == id) {
                        set_fields(art, &a["set"]);
                    }
                    axum::Json(json!({"id": id})).into_response()
                }
                _ => gh_error(StatusCode::BAD_REQUEST, "expected {run, name, zip_base64, set?}"),
            }
        }
        ("POST", "check_runs") => match parsed {
            // {sha, name, conclusion, app?, external_id?}: a check run another workflow left.
            Some(c) if c["sha"].is_string() && c["name"].is_string() && c["conclusion"].is_string() => {
                let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                let app = c["app"].as_str().unwrap_or("github-actions");
                let suite = state.suite_for(&text("sha"), app);
                push_check_run(&mut state, &text("sha"), &text("name"), &text("conclusion"), app, c["external_id"].as_str(), suite);
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

/// A control request's `set`: fields written over what the fake recorded.
fn set_fields(target: &mut Value, set: &Value) {
    for (k, v) in set.as_object().into_iter().flatten() {
        target[k] = v.clone();
    }
}

/// The storage an artifact's download redirects to: the archive's bytes,
/// for a signed URL and no credentials. A request carrying an
/// `Authorization` header is recorded as a violation: the token must never
/// leave GitHub's API for its storage.
fn storage(shared: &Shared, method: &Method, blob: &str, headers: &HeaderMap) -> Response {
    let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    let credential = headers.get("authorization").is_some();
    let id: Option<u64> = blob.strip_suffix(".zip").and_then(|i| i.parse().ok());
    let found = id.and_then(|i| state.artifact_archives.get(&i).cloned());
    let status = match (&found, method.as_str()) {
        (Some(_), "GET") => 200,
        _ => 404,
    };
    state.requests.push(Recorded {
        method: method.to_string(),
        path: format!("/_storage/artifacts/{blob}"),
        query: String::new(),
        body: None,
        status,
        authorized: credential,
        credential: if credential { "token sent to storage".into() } else { String::new() },
        violations: if credential { vec!["an Authorization header was sent to the artifact storage URL".into()] } else { Vec::new() },
    });
    match found {
        Some(bytes) if status == 200 => (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/zip")], bytes).into_response(),
        _ => (StatusCode::NOT_FOUND, "BlobNotFound").into_response(),
    }
}
