//! The one GitHub REST client every gate shares, on octocrab's transport.
//! Gates ask it for facts through typed calls ([`calls`]), with typed
//! answers ([`types`]); no gate builds a URL or reads raw JSON.
//!
//! octocrab's own retry layer retries immediately and repeats POSTs (a 502 on
//! a comment create posts it twice), so it is left out and retries are
//! decided here, per request:
//! - GET, PATCH, PUT and DELETE are retried with exponential backoff on 5xx,
//!   timeouts and transport errors;
//! - a POST that fails that way is never repeated blindly: the caller gets
//!   [`ApiError::Ambiguous`] and first looks for what the POST may have made;
//! - secondary rate limits (403/429 with `retry-after`, or with
//!   `x-ratelimit-remaining: 0` and `x-ratelimit-reset`) are waited out for
//!   every method, since GitHub did not process the request;
//! - one deadline bounds the whole run (`RELEASE_GATE_HTTP_DEADLINE_S`,
//!   default 120 s): a hung or throttling API ends the gate with exit 3 in
//!   bounded time, naming the call and the attempts really made;
//! - an answer that is not the JSON GitHub documents is the service
//!   failing (exit 3), not bad input.

pub mod app;

/// The workflow run a deployment protection rule's callback URL names:
/// `https://api.github.com/repos/o/r/actions/runs/123/deployment_protection_rule` → 123.
pub fn run_id_of(url: &str) -> Option<u64> {
    let rest = url.split("/actions/runs/").nth(1)?;
    rest.split('/').next()?.parse().ok()
}
pub mod calls;
pub mod types;

use std::time::{Duration, Instant};

use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;
use thiserror::Error;

use crate::mask::Secret;

/// A failed GitHub call, naming the call.
#[derive(Debug, Error)]
pub enum ApiError {
    /// The token may not do this (fork PRs, missing `permissions:`).
    #[error("{call}: 403 forbidden: {message}")]
    Forbidden {
        /// `METHOD /path`.
        call: String,
        /// GitHub's message.
        message: String,
    },
    /// Not found (or not visible to this token).
    #[error("{call}: 404 not found")]
    NotFound {
        /// `METHOD /path`.
        call: String,
    },
    /// Any other refusal.
    #[error("{call}: {status} {message}")]
    Status {
        /// `METHOD /path`.
        call: String,
        /// HTTP status.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// Retries were exhausted on 5xx, timeouts, transport errors, rate limits or the run's deadline.
    #[error("{call}: GitHub could not be reached after {attempts} attempt(s): {detail}")]
    Unreachable {
        /// `METHOD /path`.
        call: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        detail: String,
    },
    /// A POST failed in a way that leaves open whether GitHub applied it.
    #[error("{call}: no answer, the request may or may not have been applied: {detail}")]
    Ambiguous {
        /// `METHOD /path`.
        call: String,
        /// The failure.
        detail: String,
    },
    /// GitHub answered with something that is not the expected JSON (the service failed).
    #[error("{call}: GitHub answered something that is not the documented JSON: {detail}")]
    Decode {
        /// `METHOD /path`.
        call: String,
        /// What went wrong.
        detail: String,
    },
    /// The client could not be built (bad base URL).
    #[error("cannot use GitHub API URL {url:?}: {detail}; set GITHUB_API_URL to e.g. https://HOST/api/v3")]
    Setup {
        /// The URL.
        url: String,
        /// Why.
        detail: String,
    },
}

impl ApiError {
    /// Whether this error means the service stayed unreachable (exit code 3).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ApiError::Unreachable { .. } | ApiError::Ambiguous { .. } | ApiError::Decode { .. })
    }
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per idempotent request (including the first).
    pub attempts: u32,
    /// First backoff delay; doubles each time, capped at 30 s.
    pub base_delay: Duration,
    /// Longest rate-limit wait accepted before giving up.
    pub max_wait: Duration,
    /// Timeout for one request.
    pub timeout: Duration,
    /// The whole run's budget for GitHub, from the client's creation.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base_delay: Duration::from_secs(1),
            max_wait: Duration::from_secs(120),
            timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Defaults, tuned by `RELEASE_GATE_HTTP_ATTEMPTS`, `RELEASE_GATE_HTTP_BACKOFF_MS`,
    /// `RELEASE_GATE_HTTP_MAX_WAIT_S`, `RELEASE_GATE_HTTP_TIMEOUT_S` and
    /// `RELEASE_GATE_HTTP_DEADLINE_S`.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let num = |k: &str| env(k).and_then(|v| v.trim().parse::<u64>().ok());
        let d = Self::default();
        Self {
            attempts: num("RELEASE_GATE_HTTP_ATTEMPTS").map_or(d.attempts, |n| n.clamp(1, 10) as u32),
            base_delay: num("RELEASE_GATE_HTTP_BACKOFF_MS").map_or(d.base_delay, Duration::from_millis),
            max_wait: num("RELEASE_GATE_HTTP_MAX_WAIT_S").map_or(d.max_wait, Duration::from_secs),
            timeout: num("RELEASE_GATE_HTTP_TIMEOUT_S").map_or(d.timeout, Duration::from_secs),
            deadline: num("RELEASE_GATE_HTTP_DEADLINE_S").map_or(d.deadline, Duration::from_secs),
        }
    }

    /// The wait before attempt `attempt + 1`: doubling from `base_delay`, at most 30 s.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(10);
        (self.base_delay * factor).min(Duration::from_secs(30))
    }
}

/// A successful response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Parsed JSON body (`Null` when empty, or for a redirect).
    pub body: Value,
    /// Where a redirect (3xx) points.
    pub location: Option<String>,
}

/// A client for one repository.
#[derive(Clone)]
pub struct GitHub {
    client: octocrab::Octocrab,
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    retry: RetryPolicy,
    /// When the run's budget for GitHub ends.
    deadline: Instant,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GitHub({}/{})", self.owner, self.repo)
    }
}

impl GitHub {
    /// Builds a client for `owner/repo` at `api_url`. Must be called inside a Tokio runtime.
    pub fn new(api_url: &str, token: &Secret, owner: &str, repo: &str, retry: RetryPolicy) -> Result<Self, ApiError> {
        let setup = |detail: String| ApiError::Setup { url: api_url.to_owned(), detail };
        let client = octocrab::OctocrabBuilder::new()
            .base_uri(api_url)
            .map_err(|e| setup(e.to_string()))?
            .personal_token(token.expose().to_owned())
            .add_header(http::header::USER_AGENT, format!("release-gate/{}", env!("CARGO_PKG_VERSION")))
            .add_header(http::HeaderName::from_static("x-github-api-version"), "2022-11-28".to_owned())
            .set_connect_timeout(Some(retry.timeout))
            .set_read_timeout(Some(retry.timeout))
            .build()
            .map_err(|e| setup(e.to_string()))?;
        Ok(Self { client, owner: owner.to_owned(), repo: repo.to_owned(), retry, deadline: Instant::now() + retry.deadline })
    }

    /// This client with a fresh budget of `budget` from now: what is kept
    /// back to send an answer once the work it answers ran out of time.
    pub fn with_deadline(&self, budget: Duration) -> Self {
        let mut c = self.clone();
        c.retry.deadline = budget;
        c.deadline = Instant::now() + budget;
        c
    }

    /// The run's budget for GitHub.
    pub fn budget(&self) -> Duration {
        self.retry.deadline
    }

    /// Sends one request under the retry rules in the module docs.
    pub(crate) async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Response, ApiError> {
        let call = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let idempotent = method != Method::POST;
        // Requests sent, and those that failed in a way that counts against `attempts`.
        let (mut sent, mut failures, mut rate_waits) = (0u32, 0u32, 0u32);
        let unreachable = |sent: u32, detail: String| ApiError::Unreachable { call: call.clone(), attempts: sent, detail };
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(unreachable(sent, format!("the run's deadline of {} s for GitHub passed", self.retry.deadline.as_secs())));
            }
            sent += 1;
            let budget = self.retry.timeout.min(left);
            let outcome = tokio::time::timeout(budget, self.once(&method, path, body)).await;
            let failure = match outcome {
                Ok(Ok((status, headers, text))) => {
                    // A redirect is an answer: where to fetch (the artifacts' archives).
                    if status.is_redirection() && method == Method::GET {
                        let location = headers.get(http::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
                        return Ok(Response { status, body: Value::Null, location });
                    }
                    if status.is_success() {
                        let body = if text.trim().is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(&text).map_err(|e| ApiError::Decode { call: call.clone(), detail: e.to_string() })?
                        };
                        return Ok(Response { status, body, location: None });
                    }
                    let message = github_message(&text);
                    if let Some(wait) = rate_limit_wait(status, &headers, &message) {
                        rate_waits += 1;
                        let left = self.deadline.saturating_duration_since(Instant::now());
                        if wait > self.retry.max_wait || wait > left || rate_waits > 3 {
                            return Err(unreachable(
                                sent,
                                format!(
                                    "rate limited; GitHub asks to wait {} s, beyond what this run may wait ({} s left)",
                                    wait.as_secs(),
                                    left.as_secs()
                                ),
                            ));
                        }
                        eprintln!("release-gate: {call}: rate limited, waiting {} ms as GitHub asks", wait.as_millis());
                        tokio::time::sleep(wait).await;
                        continue; // a rate-limited request was not processed: not a failure
                    }
                    match status.as_u16() {
                        403 => return Err(ApiError::Forbidden { call, message }),
                        404 => return Err(ApiError::NotFound { call }),
                        500..=599 => format!("{status} {message}"),
                        s => return Err(ApiError::Status { call, status: s, message }),
                    }
                }
                Ok(Err(e)) => format!("transport error: {e}"),
                Err(_) => format!("timed out after {} s", budget.as_secs_f32()),
            };
            if !idempotent {
                return Err(ApiError::Ambiguous { call, detail: failure });
            }
            failures += 1;
            if failures >= self.retry.attempts {
                return Err(unreachable(sent, failure));
            }
            let delay = self.retry.backoff(failures).min(self.deadline.saturating_duration_since(Instant::now()));
            eprintln!("release-gate: {call}: {failure}; retrying in {} ms", delay.as_millis());
            tokio::time::sleep(delay).await;
        }
    }

    async fn once(&self, method: &Method, path: &str, body: Option<&Value>) -> Result<(StatusCode, HeaderMap, String), octocrab::Error> {
        let resp = match *method {
            Method::GET => self.client._get(path).await?,
            Method::POST => self.client._post(path, body).await?,
            Method::PATCH => self.client._patch(path, body).await?,
            Method::PUT => self.client._put(path, body).await?,
            Method::DELETE => self.client._delete(path, body).await?,
            _ => self.client._get(path).await?,
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = self.client.body_to_string(resp).await?;
        Ok((status, headers, text))
    }

    /// GET returning JSON.
    pub(crate) async fn get(&self, path: &str) -> Result<Value, ApiError> {
        Ok(self.send(Method::GET, path, None).await?.body)
    }

    /// GET every page of a list endpoint (`per_page=100`), up to `max_pages`.
    /// `key` names the array inside an object response (e.g. `check_runs`).
    pub(crate) async fn get_all(&self, path: &str, key: Option<&str>, max_pages: u32) -> Result<Vec<Value>, ApiError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        for page in 1..=max_pages {
            let body = self.get(&format!("{path}{sep}per_page=100&page={page}")).await?;
            let items = match key {
                Some(k) => body.get(k).cloned().unwrap_or(Value::Null),
                None => body,
            };
            let Value::Array(items) = items else {
                return Err(ApiError::Decode { call: format!("GET {path}"), detail: "expected a JSON array".into() });
            };
            let n = items.len();
            out.extend(items);
            if n < 100 {
                break;
            }
        }
        Ok(out)
    }
}

fn github_message(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

/// How long GitHub asks us to wait, when the answer is a rate limit.
fn rate_limit_wait(status: StatusCode, headers: &HeaderMap, message: &str) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(secs) = header("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    if header("x-ratelimit-remaining") == Some("0")
        && let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok())
    {
        let now = jiff::Timestamp::now().as_second();
        return Some(Duration::from_secs(reset.saturating_sub(now).clamp(0, i64::MAX) as u64 + 1));
    }
    if status == StatusCode::TOO_MANY_REQUESTS || message.to_lowercase().contains("secondary rate limit") {
        // Rate limited without a hint: GitHub's guidance is to wait a minute.
        return Some(Duration::from_secs(60));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_is_read_from_a_protection_rules_callback_url() {
        assert_eq!(run_id_of("https://api.github.com/repos/o/r/actions/runs/1234/deployment_protection_rule"), Some(1234));
        assert_eq!(run_id_of("https://ghe.example/api/v3/repos/o/r/actions/runs/7/deployment_protection_rule"), Some(7));
        assert_eq!(run_id_of("https://api.github.com/repos/o/r/deployments"), None);
        assert_eq!(run_id_of("https://api.github.com/repos/o/r/actions/runs/x/deployment_protection_rule"), None);
    }

    #[test]
    fn rate_limits_are_recognised() {
        let mut h = HeaderMap::new();
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &h, "Resource not accessible by integration"), None);
        h.insert("retry-after", "2".parse().expect("hv"));
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &h, ""), Some(Duration::from_secs(2)));
        assert_eq!(rate_limit_wait(StatusCode::BAD_GATEWAY, &h, ""), None);
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().expect("hv"));
        let reset = jiff::Timestamp::now().as_second() + 5;
        h.insert("x-ratelimit-reset", reset.to_string().parse().expect("hv"));
        let wait = rate_limit_wait(StatusCode::FORBIDDEN, &h, "").expect("wait");
        assert!((4..=7).contains(&wait.as_secs()), "{wait:?}");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy { base_delay: Duration::from_millis(100), ..RetryPolicy::default() };
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(3), Duration::from_millis(400));
        assert_eq!(p.backoff(20), Duration::from_secs(30));
    }
}
