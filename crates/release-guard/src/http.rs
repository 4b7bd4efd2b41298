//! The guard's calls outside GitHub (PagerDuty's REST and Events APIs, the
//! rollback channel's webhook), with the gates' retry rules: 429 waits for
//! `Retry-After` (at most `max_wait`), 5xx, timeouts and transport errors
//! back off and retry, within one deadline; then exit 3 naming the call and
//! the attempts made. 4xx is the caller's problem (bad key, bad input).

use std::time::{Duration, Instant};

use release_gate_core::exit::Unreachable;
use release_gate_core::github::RetryPolicy;
use release_gate_core::mask;
use serde_json::Value;

/// An answer: status and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Value,
}

/// One HTTP service.
pub struct Http {
    agent: ureq::Agent,
    retry: RetryPolicy,
    deadline: Instant,
}

impl Http {
    /// A client with the run's retry policy.
    pub fn new(retry: RetryPolicy) -> Self {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().timeout_global(Some(retry.timeout)).http_status_as_error(false).build().into();
        Self { agent, retry, deadline: Instant::now() + retry.deadline }
    }

    /// Sends `method url` with `headers` and a JSON `body`, retrying as the module says.
    /// The only error is the service staying unreachable (exit 3); every
    /// answer, refusals included, is the caller's to judge.
    pub fn send(&self, method: &str, url: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Result<Answer, Unreachable> {
        let call = format!("{method} {}", url.split('?').next().unwrap_or(url));
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = match (method, body) {
                ("GET", _) => headers.iter().fold(self.agent.get(url), |r, (k, v)| r.header(*k, *v)).call(),
                (_, Some(b)) => headers.iter().fold(self.agent.post(url), |r, (k, v)| r.header(*k, *v)).send_json(b),
                (_, None) => headers.iter().fold(self.agent.post(url), |r, (k, v)| r.header(*k, *v)).send_empty(),
            };
            // Every call here is safe to repeat: reads, events carrying a
            // dedup key, and a channel message (at worst said twice).
            let (delay, why) = match result {
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    let retry_after =
                        resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
                    let text = resp.body_mut().read_to_string().unwrap_or_default();
                    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
                    match status {
                        429 => (Duration::from_secs(retry_after.unwrap_or(1)).min(self.retry.max_wait), "429 rate limited".to_owned()),
                        500..=599 => (self.retry.backoff(attempt), format!("{status} {}", short(&text))),
                        _ => return Ok(Answer { status, body }),
                    }
                }
                Err(e) => (self.retry.backoff(attempt), mask::redact(&e.to_string())),
            };
            if attempt >= self.retry.attempts || Instant::now() + delay > self.deadline {
                return Err(Unreachable(format!("{call}: could not be reached after {attempt} attempt(s): {why}")));
            }
            std::thread::sleep(delay);
        }
    }
}

fn short(text: &str) -> String {
    let t: String = text.chars().take(200).collect();
    mask::redact(&t)
}
