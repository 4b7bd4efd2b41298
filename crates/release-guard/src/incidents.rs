//! Incidents: from PagerDuty's REST API v2 (`GET /incidents`, **every
//! status**, of the configured services, created since the look-back before
//! the deploy, every page) or from a file in the same shape
//! (`{"incidents": [...]}`, as the API answers). Each is judged by its own
//! times: it touches the guard when its open interval (`created_at` until
//! `resolved_at`, or still open) overlaps the guard period, so one raised
//! before the deploy and still open, and one raised and resolved within
//! the hour, both count. Severity comes from the policy's priority map,
//! else the urgency map; a priority the map does not know, or nothing to
//! map, counts as the blocking severity or worse: never less severe than
//! it may be.

use release_gate_core::error::Located;
use release_gate_core::exit::Unreachable;
use release_gate_core::github::calls::url_encode;
use release_gate_core::mask::Secret;
use serde::Deserialize;

use crate::http::Http;
use crate::policy::Incidents;

/// Why incidents could not be read. A file that does not read is
/// [`Located`] (exit 2, annotated); PagerDuty staying unreachable or
/// answering garbage is [`Unreachable`] (exit 3); a refused key and the
/// rest are input to fix (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    /// The incidents file does not read.
    #[error("{0}")]
    File(#[from] Located),
    /// An incident's field is not what PagerDuty writes.
    #[error("{shown}: incident {id} has {field} {value:?}; expected {expected}")]
    Field {
        /// Where it came from (the file, or `PagerDuty`).
        shown: String,
        /// The incident's id.
        id: String,
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// No API key in the environment variable the policy names.
    #[error("no PagerDuty API key: set the secret in ${0} (release-guard.incidents.token-env)")]
    NoKey(String),
    /// PagerDuty refused the key.
    #[error("PagerDuty refused the API key in ${env} ({status}): check the key and its access to the services")]
    Refused {
        /// The variable holding it.
        env: String,
        /// 401 or 403.
        status: u16,
    },
    /// Another answer than a list.
    #[error("GET {base}/incidents: PagerDuty answered {status}: {body}")]
    Status {
        /// The API base.
        base: String,
        /// The status.
        status: u16,
        /// What it said.
        body: String,
    },
    /// More pages than the guard reads.
    #[error("PagerDuty listed more than 50 pages of incidents around the deploy; narrow release-guard.incidents.services or the look-back")]
    TooMany,
    /// PagerDuty could not be reached, or answered garbage.
    #[error("{0}")]
    Unreachable(#[from] Unreachable),
}

/// One incident as the guard judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// PagerDuty's id.
    pub id: String,
    /// Its number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// `triggered`, `acknowledged` or `resolved`.
    pub status: String,
    /// 1 is the worst.
    pub severity: u8,
    /// Why that severity (`priority P2`, `urgency high`, `unmapped`).
    pub severity_from: String,
    /// Its incident type's name.
    pub kind: String,
    /// When it was triggered.
    pub created_at: jiff::Timestamp,
    /// When it was resolved (`None`: still open).
    pub resolved_at: Option<jiff::Timestamp>,
    /// Its incident type's display name.
    pub kind_shown: String,
    /// Its page.
    pub url: String,
}

impl Incident {
    /// Whether it is still open.
    pub fn open(&self) -> bool {
        self.status != "resolved"
    }

    /// Whether it was open at some instant of `[from, to]`.
    pub fn overlaps(&self, from: jiff::Timestamp, to: jiff::Timestamp) -> bool {
        self.created_at <= to && self.resolved_at.is_none_or(|r| r >= from)
    }

    /// Whether its type is one of `types`, by the type's name or display name, case-insensitively.
    pub fn of_type(&self, types: &[String]) -> bool {
        types.iter().any(|t| {
            let t = t.trim();
            (!self.kind.is_empty() && t.eq_ignore_ascii_case(&self.kind))
                || (!self.kind_shown.is_empty() && t.eq_ignore_ascii_case(&self.kind_shown))
        })
    }
}

/// PagerDuty's incident, the fields read.
#[derive(Debug, Deserialize)]
struct Raw {
    id: String,
    #[serde(default)]
    incident_number: u64,
    #[serde(default)]
    title: String,
    status: String,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default)]
    priority: Option<RawPriority>,
    #[serde(default)]
    incident_type: Option<RawType>,
    created_at: String,
    #[serde(default)]
    resolved_at: Option<String>,
    #[serde(default)]
    last_status_change_at: Option<String>,
    #[serde(default)]
    html_url: String,
}

#[derive(Debug, Deserialize)]
struct RawPriority {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    summary: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawType {
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_name: String,
}

/// An exported list (a file): one page, whole.
#[derive(Debug, Deserialize)]
struct Page {
    incidents: Vec<Raw>,
    #[serde(default)]
    more: bool,
}

/// A page of `GET /incidents`: PagerDuty always says whether more follow.
#[derive(Debug, Deserialize)]
struct ApiPage {
    incidents: Vec<Raw>,
    #[serde(default)]
    more: Option<bool>,
}

fn judge(raw: Raw, policy: &Incidents, shown: &str) -> Result<Incident, IncidentError> {
    let field = |field: &'static str, value: &str, expected: &'static str| IncidentError::Field {
        shown: shown.to_owned(),
        id: raw.id.clone(),
        field,
        value: value.to_owned(),
        expected,
    };
    let created_at: jiff::Timestamp = raw.created_at.parse().map_err(|_| field("created_at", &raw.created_at, "an RFC 3339 instant"))?;
    let priority = raw.priority.as_ref().and_then(|p| p.name.clone().or_else(|| p.summary.clone()));
    let by_urgency = raw.urgency.as_ref().and_then(|u| policy.urgency_severity.get(u).map(|s| (*s, u.clone())));
    let (severity, from) = match (&priority, priority.as_ref().and_then(|p| policy.priority_severity.get(p))) {
        (Some(p), Some(s)) => (*s, format!("priority {p}")),
        // A priority the map does not know (`SEV-1`): the blocking severity,
        // or worse when the urgency says so; never read low.
        (Some(p), None) => match by_urgency {
            Some((s, u)) if s < policy.blocking_severity => (s, format!("unmapped priority {p}, urgency {u}")),
            _ => (policy.blocking_severity, format!("unmapped priority {p}: counted as the blocking severity")),
        },
        (None, _) => match by_urgency {
            Some((s, u)) => (s, format!("urgency {u}")),
            None => (policy.blocking_severity, "no priority and an unmapped urgency: counted as the blocking severity".to_owned()),
        },
    };
    if !["triggered", "acknowledged", "resolved"].contains(&raw.status.as_str()) {
        return Err(field("status", &raw.status, "triggered, acknowledged or resolved"));
    }
    let instant = |name: &'static str, t: &Option<String>| -> Result<Option<jiff::Timestamp>, IncidentError> {
        t.as_deref().map(|v| v.parse().map_err(|_| field(name, v, "an RFC 3339 instant"))).transpose()
    };
    // A resolved incident ends at its resolution (`resolved_at`, else its last status change).
    let resolved_at = match raw.status.as_str() {
        "resolved" => match instant("resolved_at", &raw.resolved_at)?.or(instant("last_status_change_at", &raw.last_status_change_at)?) {
            Some(t) if t >= created_at => Some(t),
            Some(t) => return Err(field("resolved_at", &t.to_string(), "an instant after its created_at")),
            None => return Err(field("resolved_at", "nothing", "the instant a resolved incident was resolved")),
        },
        _ => None,
    };
    Ok(Incident {
        id: raw.id,
        number: raw.incident_number,
        title: raw.title,
        status: raw.status,
        severity,
        severity_from: from,
        kind_shown: raw.incident_type.as_ref().map(|t| t.display_name.clone()).unwrap_or_default(),
        kind: raw.incident_type.map(|t| t.name).unwrap_or_default(),
        created_at,
        resolved_at,
        url: raw.html_url,
    })
}

/// Incidents from a file (`{"incidents": [...]}`), those created since `since`.
pub fn from_file(text: &str, shown: &str, policy: &Incidents, since: jiff::Timestamp) -> Result<Vec<Incident>, IncidentError> {
    let page: Page = release_gate_core::json::parse_as(text.as_bytes()).map_err(|e| Located {
        file: shown.to_owned(),
        line: e.line().max(1) as u64,
        column: Some(e.column().max(1) as u64),
        message: format!("not an incident list ({e}); expected {{\"incidents\": [...]}} as PagerDuty's API answers"),
    })?;
    if page.more {
        let line = text.find("\"more\"").map_or(1, |at| text[..at].matches('\n').count() as u64 + 1);
        return Err(IncidentError::File(Located::new(
            shown,
            line,
            "`more` is true: the file holds one page of a longer list, so an incident could be missing; export every page (or use PagerDuty directly)",
        )));
    }
    let mut out = Vec::new();
    for raw in page.incidents {
        let i = judge(raw, policy, shown)?;
        // Created in the look-back, or open (or resolved) after its start.
        if i.created_at >= since || i.resolved_at.is_none_or(|r| r >= since) {
            out.push(i);
        }
    }
    Ok(out)
}

/// Incidents of every status (triggered, acknowledged, resolved) of the
/// policy's services created from `since` to `until`, and every one still
/// open whenever it was created (`date_range=all`: an incident opened
/// before the look-back and never resolved still stands), every page,
/// from PagerDuty; each once.
pub fn from_pagerduty(
    http: &Http,
    policy: &Incidents,
    token: &Secret,
    since: jiff::Timestamp,
    until: jiff::Timestamp,
) -> Result<Vec<Incident>, IncidentError> {
    if token.is_empty() {
        return Err(IncidentError::NoKey(policy.token_env.clone()));
    }
    let auth = format!("Token token={}", token.expose());
    let headers = [("Authorization", auth.as_str()), ("Accept", "application/vnd.pagerduty+json;version=2")];
    let base = policy.url.trim_end_matches('/');
    let services = || policy.services.iter().map(|s| ("service_ids[]", s.clone()));
    let mut window: Vec<(&str, String)> =
        ["triggered", "acknowledged", "resolved"].iter().map(|s| ("statuses[]", (*s).to_owned())).collect();
    window.extend(services());
    window.push(("since", release_gate_core::report::rfc3339(since)));
    window.push(("until", release_gate_core::report::rfc3339(until)));
    let mut open: Vec<(&str, String)> = ["triggered", "acknowledged"].iter().map(|s| ("statuses[]", (*s).to_owned())).collect();
    open.extend(services());
    open.push(("date_range", "all".to_owned()));
    let mut out: Vec<Incident> = Vec::new();
    for query in [window, open] {
        for raw in pages(http, base, &headers, &policy.token_env, query)? {
            let i = judge(raw, policy, "PagerDuty")?;
            if !out.iter().any(|o| o.id == i.id) {
                out.push(i);
            }
        }
    }
    Ok(out)
}

/// Every page of one `GET /incidents` query.
fn pages(http: &Http, base: &str, headers: &[(&str, &str)], env: &str, mut query: Vec<(&str, String)>) -> Result<Vec<Raw>, IncidentError> {
    query.push(("limit", "100".to_owned()));
    let mut out = Vec::new();
    // The next page starts after what the server returned, whatever `limit` it honoured.
    let mut offset = 0usize;
    for _ in 0..50u32 {
        let mut q = query.clone();
        q.push(("offset", offset.to_string()));
        let qs: Vec<String> = q.iter().map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v))).collect();
        let url = format!("{base}/incidents?{}", qs.join("&"));
        let answer = http.send("GET", &url, headers, None)?;
        match answer.status {
            200 => {}
            401 | 403 => return Err(IncidentError::Refused { env: env.to_owned(), status: answer.status }),
            s => return Err(IncidentError::Status { base: base.to_owned(), status: s, body: answer.body.to_string() }),
        }
        let unreadable = |what: String| {
            IncidentError::Unreachable(release_gate_core::exit::Unreachable(format!("GET {base}/incidents: PagerDuty answered {what}")))
        };
        let page: ApiPage =
            serde_json::from_value(answer.body).map_err(|e| unreadable(format!("something that is not an incident list: {e}")))?;
        // Without `more`, whether the list is whole cannot be told.
        let Some(more) = page.more else {
            return Err(unreadable(format!("a page (offset {offset}) without `more`: whether more incidents follow cannot be told")));
        };
        let received = page.incidents.len();
        out.extend(page.incidents);
        if !more {
            return Ok(out);
        }
        if received == 0 {
            return Err(unreadable(format!(
                "that there is more after offset {offset} but sent no incident; the list cannot be read whole"
            )));
        }
        offset += received;
    }
    Err(IncidentError::TooMany)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_does_not_read_is_located_and_keeps_its_exit_code_at_the_edge() {
        let policy = Incidents::default();
        let since: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().expect("ts");
        let e = from_file("{\n  \"incidents\": [\n    {\"id\": 1,}\n  ]\n}", "reports/incidents/2.4.1.json", &policy, since)
            .expect_err("not JSON");
        let located = release_gate_core::error::location(&anyhow::Error::from(e)).expect("located at the edge");
        assert_eq!((located.file.as_str(), located.line), ("reports/incidents/2.4.1.json", 3));
        let bad = r#"{"incidents": [{"id": "P1", "status": "open", "created_at": "2026-12-01T14:00:00Z"}]}"#;
        let e = from_file(bad, "f.json", &policy, since).expect_err("not JSON");
        assert!(e.to_string().contains("incident P1 has status \"open\"; expected triggered, acknowledged or resolved"), "{e}");
        // One page of a longer export: an incident could be missing.
        let e = from_file("{\"incidents\": [],\n \"more\": true}", "f.json", &policy, since).expect_err("a page");
        let located = release_gate_core::error::location(&anyhow::Error::from(e)).expect("located");
        assert_eq!(located.line, 2);
        // Raised before the look-back and still open, or resolved after its start: kept; resolved before it: not.
        let list = r#"{"incidents": [
            {"id": "OLD", "incident_number": 1, "title": "t", "status": "acknowledged", "created_at": "2026-11-20T10:00:00Z", "html_url": "u"},
            {"id": "LATE", "incident_number": 2, "title": "t", "status": "resolved", "created_at": "2026-11-20T10:00:00Z", "resolved_at": "2026-12-01T14:00:00Z", "html_url": "u"},
            {"id": "GONE", "incident_number": 3, "title": "t", "status": "resolved", "created_at": "2026-11-20T10:00:00Z", "resolved_at": "2026-11-21T10:00:00Z", "html_url": "u"}
        ]}"#;
        let kept: Vec<String> = from_file(list, "f.json", &policy, since).expect("reads").into_iter().map(|i| i.id).collect();
        assert_eq!(kept, ["OLD", "LATE"]);
        let unreachable = anyhow::Error::from(IncidentError::Unreachable(Unreachable("GET x: could not be reached".into())));
        assert_eq!(release_gate_core::exit::for_error(&unreachable), release_gate_core::exit::UNREACHABLE);
    }
}
