//! A PagerDuty fake on 127.0.0.1: the REST API v2's `GET /incidents` and
//! the Events API v2's `POST /v2/enqueue`, written from PagerDuty's
//! published OpenAPI descriptions (`PagerDuty/api-schema`,
//! `reference/REST/openapiv3.json` and `reference/events-v2/openapiv3.json`):
//!
//! - REST: `Authorization: Token token=<key>` (else 401, PagerDuty's error
//!   body); `Accept` the v2 media type or JSON; only the documented query
//!   parameters (`limit` ≤ 100, `offset`, `total`, `statuses[]` and
//!   `urgencies[]` from their enums, `service_ids[]`, `since`/`until` as ISO
//!   8601, `date_range=all` ignoring them, the last 30 days when neither is
//!   given, …), anything else 400 "Invalid Input Provided"; classic offset
//!   pagination (`limit`, `offset`, `more`, `total` only when asked).
//! - Events: `routing_key` (32 characters), `event_action` in its enum, and
//!   for a trigger a `payload` with `summary`, `source` and a `severity` in
//!   its enum; 202 with a `dedup_key`, else 400 "invalid event".
//! - Faults: a 429 with `Retry-After`, or a 5xx, for the next N requests.
//!
//! Every request is recorded with what was wrong with it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The media type PagerDuty's REST API v2 answers with.
pub const ACCEPT_V2: &str = "application/vnd.pagerduty+json;version=2";

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET /incidents`, `POST /v2/enqueue`.
    pub call: String,
    /// Query pairs.
    pub query: Vec<(String, String)>,
    /// Status answered.
    pub status: u16,
    /// What the description refuses in it (empty when valid).
    pub problems: Vec<String>,
}

#[derive(Default)]
struct State {
    incidents: Vec<Value>,
    events: Vec<Value>,
    seen: Vec<Seen>,
    /// (path fragment, status, Retry-After seconds, times left).
    faults: Vec<(String, u16, Option<u64>, u32)>,
    /// The most incidents a page holds, whatever `limit` asks (PagerDuty
    /// answers with the `limit` it applied).
    page_cap: Option<usize>,
    /// Keys left out of the next list answers (a server or proxy that
    /// drops a field): (key, times left).
    drop_key: Option<(String, u32)>,
}

/// A running PagerDuty fake.
pub struct PagerDuty {
    addr: SocketAddr,
    token: String,
    state: Arc<Mutex<State>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

struct Shared {
    token: String,
    state: Arc<Mutex<State>>,
}

impl PagerDuty {
    /// Starts the fake; REST calls must carry `token`.
    pub fn start(token: &str) -> anyhow::Result<Self> {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::new(Shared { token: token.to_owned(), state: state.clone() });
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() else { return };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = addr_tx.send(Err(anyhow::anyhow!(e)));
                        return;
                    }
                };
                let _ = addr_tx.send(listener.local_addr().map_err(anyhow::Error::from));
                let app = axum::Router::new().fallback(handle).with_state(shared);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
        });
        let addr = addr_rx.recv().context("the PagerDuty fake's thread ended")??;
        Ok(Self { addr, token: token.to_owned(), state, _shutdown: stop_tx })
    }

    /// The REST API's base URL (`https://api.pagerduty.com` in production).
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Events API's base URL (`https://events.pagerduty.com`; v2 events go to `/v2/enqueue`).
    pub fn events_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token REST calls must carry.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Adds an incident (number, status, urgency, priority name, service id, created_at).
    pub fn add_incident(&self, number: u64, status: &str, urgency: &str, priority: Option<&str>, service: &str, created_at: &str) {
        let id = format!("PINC{number:04}");
        let incident = json!({
            "id": id, "type": "incident", "summary": format!("[#{number}] order router latency"),
            "self": format!("https://api.pagerduty.com/incidents/{id}"), "html_url": format!("https://tradepulse.pagerduty.com/incidents/{id}"),
            "incident_number": number, "title": "order router latency", "created_at": created_at, "updated_at": created_at,
            "status": status, "incident_key": format!("key-{number}"),
            "service": {"id": service, "type": "service_reference", "summary": "order-router", "self": format!("https://api.pagerduty.com/services/{service}"), "html_url": ""},
            "assignments": [], "assigned_via": "escalation_policy", "last_status_change_at": created_at,
            "urgency": urgency,
            "priority": priority.map(|p| json!({"id": format!("PRIO{p}"), "type": "priority", "summary": p, "self": "", "html_url": null, "name": p, "description": ""})),
            "incident_type": {"name": "incident_default"},
        });
        self.lock().incidents.push(incident);
    }

    /// Resolves incident `number` at `at`, as PagerDuty records it.
    pub fn resolve(&self, number: u64, at: &str) {
        if let Some(i) = self.lock().incidents.iter_mut().find(|i| i["incident_number"] == number) {
            i["status"] = json!("resolved");
            i["resolved_at"] = json!(at);
            i["last_status_change_at"] = json!(at);
            i["updated_at"] = json!(at);
        }
    }

    /// The next `times` list answers leave `key` out (a fault: PagerDuty
    /// itself always sends `more`).
    pub fn drop_key(&self, key: &str, times: u32) {
        self.lock().drop_key = Some((key.to_owned(), times));
    }

    /// Pages hold at most `n` incidents from now on, whatever `limit` asks.
    pub fn cap_pages(&self, n: usize) {
        self.lock().page_cap = Some(n);
    }

    /// Sets a field of incident `number` (e.g. its `incident_type`).
    pub fn set_incident(&self, number: u64, key: &str, value: Value) {
        if let Some(i) = self.lock().incidents.iter_mut().find(|i| i["incident_number"] == number) {
            i[key] = value;
        }
    }

    /// The next `times` requests whose path contains `path` get `status`
    /// (with `Retry-After` when given).
    pub fn fault(&self, path: &str, status: u16, retry_after: Option<u64>, times: u32) {
        self.lock().faults.push((path.to_owned(), status, retry_after, times));
    }

    /// Every request received.
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// Every problem the description finds in a request.
    pub fn problems(&self) -> Vec<String> {
        self.lock().seen.iter().flat_map(|s| s.problems.iter().map(move |p| format!("{}: {p}", s.call))).collect()
    }

    /// The events accepted.
    pub fn events(&self) -> Vec<Value> {
        self.lock().events.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn pd_error(status: StatusCode, code: u32, message: &str, errors: &[String]) -> Response {
    (status, axum::Json(json!({"error": {"message": message, "code": code, "errors": errors}}))).into_response()
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (crate::percent_decode(&k.replace('+', " ")), crate::percent_decode(&v.replace('+', " ")))
        })
        .collect()
}

async fn handle(AxState(shared): AxState<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    let query = query_pairs(&uri);
    let call = format!("{method} {path}");
    let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    // A scripted fault first: the service failing or throttling.
    if let Some(f) = state.faults.iter_mut().find(|f| path.contains(&f.0) && f.3 > 0) {
        f.3 -= 1;
        let (status, retry) = (f.1, f.2);
        state.seen.push(Seen { call, query, status, problems: Vec::new() });
        let mut resp =
            pd_error(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), 0, "fault injected by the fake", &[]);
        if let Some(s) = retry
            && let Ok(v) = axum::http::HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert("retry-after", v);
        }
        return resp;
    }
    let (status, resp, problems) = match (method.as_str(), path.as_str()) {
        ("GET", "/incidents") => {
            let drop = match &mut state.drop_key {
                Some((k, n)) if *n > 0 => {
                    *n -= 1;
                    Some(k.clone())
                }
                _ => None,
            };
            list_incidents(&shared.token, &headers, &query, &state.incidents, state.page_cap, drop.as_deref())
        }
        ("POST", "/v2/enqueue") => {
            let (status, resp, problems, event) = enqueue(&body);
            if let Some(e) = event {
                state.events.push(e);
            }
            (status, resp, problems)
        }
        _ => (404, pd_error(StatusCode::NOT_FOUND, 2100, "Not Found", &[]), vec![format!("{call}: not in PagerDuty's description")]),
    };
    state.seen.push(Seen { call, query, status, problems });
    resp
}

const LIST_PARAMS: &[&str] = &[
    "limit",
    "offset",
    "total",
    "date_range",
    "incident_key",
    "service_ids[]",
    "team_ids[]",
    "user_ids[]",
    "urgencies[]",
    "time_zone",
    "statuses[]",
    "sort_by",
    "include[]",
    "since",
    "until",
];

fn list_incidents(
    token: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
    incidents: &[Value],
    page_cap: Option<usize>,
    drop: Option<&str>,
) -> (u16, Response, Vec<String>) {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if header("authorization") != format!("Token token={token}") {
        let p = vec!["Authorization is not `Token token=<the API key>`".to_owned()];
        return (401, pd_error(StatusCode::UNAUTHORIZED, 2006, "Unauthorized", &[]), p);
    }
    let mut problems = Vec::new();
    let accept = header("accept");
    if !accept.is_empty() && !accept.contains("application/vnd.pagerduty+json") && !accept.contains("application/json") && accept != "*/*" {
        problems.push(format!("Accept {accept:?} is neither {ACCEPT_V2} nor JSON"));
    }
    let mut statuses = Vec::new();
    let mut urgencies = Vec::new();
    let mut services = Vec::new();
    let (mut limit, mut offset, mut total) = (25usize, 0usize, false);
    let (mut since, mut until, mut all) = (None, None, false);
    for (k, v) in query {
        match k.as_str() {
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => limit = n,
                _ => problems.push(format!("limit {v:?} is not an integer from 1 to 100")),
            },
            "offset" => match v.parse::<usize>() {
                Ok(n) => offset = n,
                Err(_) => problems.push(format!("offset {v:?} is not a non-negative integer")),
            },
            "total" => match v.as_str() {
                "true" => total = true,
                "false" => total = false,
                _ => problems.push(format!("total {v:?} is not a boolean")),
            },
            "statuses[]" if ["triggered", "acknowledged", "resolved"].contains(&v.as_str()) => statuses.push(v.clone()),
            "statuses[]" => problems.push(format!("statuses[] {v:?} is not triggered, acknowledged or resolved")),
            "urgencies[]" if ["high", "low"].contains(&v.as_str()) => urgencies.push(v.clone()),
            "urgencies[]" => problems.push(format!("urgencies[] {v:?} is not high or low")),
            "service_ids[]" => services.push(v.clone()),
            "since" | "until" => match v.parse::<jiff::Timestamp>() {
                Ok(t) if k == "since" => since = Some(t),
                Ok(t) => until = Some(t),
                Err(_) => problems.push(format!("{k} {v:?} is not an ISO 8601 date-time")),
            },
            "date_range" if v == "all" => all = true,
            "date_range" => problems.push(format!("date_range {v:?} is not `all`")),
            k if LIST_PARAMS.contains(&k) => {}
            k => problems.push(format!("{k} is not a parameter of GET /incidents")),
        }
    }
    if !problems.is_empty() {
        return (400, pd_error(StatusCode::BAD_REQUEST, 2001, "Invalid Input Provided", &problems), problems);
    }
    // As PagerDuty: `date_range=all` ignores `since`/`until`; with neither
    // given, the last 30 days only (an old incident still open is not listed).
    if all {
        (since, until) = (None, None);
    } else if since.is_none() && until.is_none() {
        since = Some(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(30 * 24));
    }
    let matching: Vec<Value> = incidents
        .iter()
        .filter(|i| statuses.is_empty() || statuses.iter().any(|s| i["status"] == s.as_str()))
        .filter(|i| urgencies.is_empty() || urgencies.iter().any(|u| i["urgency"] == u.as_str()))
        .filter(|i| services.is_empty() || services.iter().any(|s| i["service"]["id"] == s.as_str()))
        .filter(|i| {
            let at = i["created_at"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
            since.is_none_or(|s| at.is_some_and(|a| a >= s)) && until.is_none_or(|u| at.is_some_and(|a| a < u))
        })
        .cloned()
        .collect();
    let n = matching.len();
    let limit = page_cap.map_or(limit, |cap| limit.min(cap));
    let page: Vec<Value> = matching.into_iter().skip(offset).take(limit).collect();
    let more = offset + page.len() < n;
    let mut body =
        json!({"incidents": page, "limit": limit, "offset": offset, "more": more, "total": if total { json!(n) } else { Value::Null }});
    if let (Some(k), Some(o)) = (drop, body.as_object_mut()) {
        o.remove(k);
    }
    (200, (StatusCode::OK, [("content-type", ACCEPT_V2)], axum::Json(body)).into_response(), Vec::new())
}

fn enqueue(body: &[u8]) -> (u16, Response, Vec<String>, Option<Value>) {
    let mut problems = Vec::new();
    let Ok(event) = serde_json::from_slice::<Value>(body) else {
        problems.push("the body is not JSON".to_owned());
        return (400, invalid(&problems), problems, None);
    };
    match event["routing_key"].as_str() {
        Some(k) if k.len() == 32 => {}
        Some(k) => problems.push(format!("routing_key has {} characters, not 32", k.len())),
        None => problems.push("routing_key is required".into()),
    }
    let action = event["event_action"].as_str().unwrap_or_default();
    if !["trigger", "acknowledge", "resolve"].contains(&action) {
        problems.push(format!("event_action {action:?} is not trigger, acknowledge or resolve"));
    }
    if action == "trigger" {
        let p = &event["payload"];
        for k in ["summary", "source"] {
            if !p[k].is_string() {
                problems.push(format!("payload.{k} is required"));
            }
        }
        if !["critical", "warning", "error", "info"].contains(&p["severity"].as_str().unwrap_or_default()) {
            problems.push(format!("payload.severity {} is not critical, warning, error or info", p["severity"]));
        }
    } else if !event["dedup_key"].is_string() {
        problems.push("dedup_key is required unless event_action is trigger".into());
    }
    if !problems.is_empty() {
        return (400, invalid(&problems), problems, None);
    }
    let dedup = event["dedup_key"].as_str().map_or_else(|| format!("dedup-{}", body.len()), str::to_owned);
    let resp =
        (StatusCode::ACCEPTED, axum::Json(json!({"status": "success", "message": "Event processed", "dedup_key": dedup}))).into_response();
    (202, resp, Vec::new(), Some(event))
}

fn invalid(errors: &[String]) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors})))
        .into_response()
}
