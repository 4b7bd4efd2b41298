//! Prometheus' HTTP API: `GET /api/v1/query_range`. A query must return one
//! series (aggregate with `sum`/`avg` otherwise); values arrive as strings
//! and may be `NaN` or `±Inf`. Any error (unreachable, 4xx/5xx, `status:
//! error`) is returned as text: the caller treats it as inconclusive.

use std::time::Duration;

use serde_json::Value;

use crate::series::Series;

/// A Prometheus server.
pub struct Prometheus {
    base: String,
    agent: ureq::Agent,
}

impl Prometheus {
    /// A client for `base` (e.g. `http://127.0.0.1:9090`), with a per-request timeout.
    pub fn new(base: &str, timeout: Duration) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
        Self { base: base.trim_end_matches('/').to_owned(), agent }
    }

    /// `query_range` from `start` to `end` (unix seconds) every `step` seconds.
    pub fn range(&self, query: &str, start: f64, end: f64, step: f64) -> Result<Series, String> {
        let url = format!("{}/api/v1/query_range", self.base);
        let mut resp = self
            .agent
            .get(&url)
            .query("query", query)
            .query("start", format!("{start:.3}"))
            .query("end", format!("{end:.3}"))
            .query("step", format!("{step}"))
            .call()
            .map_err(|e| format!("Prometheus at {} could not be reached: {e}", self.base))?;
        let status = resp.status().as_u16();
        let body: Value = resp.body_mut().read_json().map_err(|e| format!("Prometheus answered {status} without JSON: {e}"))?;
        if body["status"] != "success" {
            return Err(format!(
                "Prometheus refused the query ({status} {}): {}",
                body["errorType"].as_str().unwrap_or("error"),
                body["error"].as_str().unwrap_or("no message")
            ));
        }
        let result = body["data"]["result"].as_array().cloned().unwrap_or_default();
        match result.len() {
            0 => Ok(Series::new()),
            1 => {
                let mut s = Series::new();
                for p in result[0]["values"].as_array().into_iter().flatten() {
                    let t = p[0].as_f64().ok_or("a point without a time")?;
                    let v = match p[1].as_str() {
                        Some("NaN") => f64::NAN,
                        Some("+Inf") => f64::INFINITY,
                        Some("-Inf") => f64::NEG_INFINITY,
                        Some(x) => x.parse::<f64>().map_err(|_| format!("value {x:?} is not a number"))?,
                        None => return Err("a point without a value".into()),
                    };
                    if s.iter().any(|(at, _)| *at == t) {
                        return Err(format!("the query `{query}` returned two points at {t}: a series holds one value per instant"));
                    }
                    s.push((t, v));
                }
                Ok(s)
            }
            n => Err(format!("the query returned {n} series; aggregate it to one (sum, avg, max by nothing)")),
        }
    }
}
