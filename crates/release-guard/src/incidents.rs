//! Incidents: from PagerDuty's REST API v2 (`GET /incidents`, open ones of
//! the configured services since the deploy, every page) or from a file in
//! the same shape (`{"incidents": [...]}`, as the API answers), mapped to a
//! severity by the policy (priority name first, then urgency; an incident
//! that maps to nothing counts as blocking: never less severe than it may be).

use release_gate_core::github::calls::url_encode;
use release_gate_core::mask::Secret;
use serde::Deserialize;

use crate::http::Http;
use crate::policy::Incidents;

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
    /// Its page.
    pub url: String,
}

impl Incident {
    /// Whether it is still open.
    pub fn open(&self) -> bool {
        self.status != "resolved"
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
}

#[derive(Debug, Deserialize)]
struct Page {
    incidents: Vec<Raw>,
    #[serde(default)]
    more: bool,
}

fn judge(raw: Raw, policy: &Incidents, shown: &str) -> anyhow::Result<Incident> {
    let created_at: jiff::Timestamp = raw
        .created_at
        .parse()
        .map_err(|_| anyhow::anyhow!("{shown}: incident {} has created_at {:?}, not an RFC 3339 instant", raw.id, raw.created_at))?;
    let priority = raw.priority.as_ref().and_then(|p| p.name.clone().or_else(|| p.summary.clone()));
    let (severity, from) = match (priority.as_ref().and_then(|p| policy.priority_severity.get(p)), raw.urgency.as_ref()) {
        (Some(s), _) => (*s, format!("priority {}", priority.unwrap_or_default())),
        (None, Some(u)) if policy.urgency_severity.contains_key(u) => (policy.urgency_severity[u], format!("urgency {u}")),
        // Unmapped: as severe as the policy's blocking level, never less.
        _ => (policy.blocking_severity, "unmapped priority and urgency".to_owned()),
    };
    anyhow::ensure!(
        ["triggered", "acknowledged", "resolved"].contains(&raw.status.as_str()),
        "{shown}: incident {} has status {:?}; expected triggered, acknowledged or resolved",
        raw.id,
        raw.status
    );
    Ok(Incident {
        id: raw.id,
        number: raw.incident_number,
        title: raw.title,
        status: raw.status,
        severity,
        severity_from: from,
        kind: raw.incident_type.map(|t| t.name).unwrap_or_default(),
        created_at,
        url: raw.html_url,
    })
}

/// Incidents from a file (`{"incidents": [...]}`), those triggered since `since`.
pub fn from_file(text: &str, shown: &str, policy: &Incidents, since: jiff::Timestamp) -> anyhow::Result<Vec<Incident>> {
    let page: Page = serde_json::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "{shown}:{}:{}: not an incident list ({e}); expected {{\"incidents\": [...]}} as PagerDuty's API answers",
            e.line(),
            e.column()
        )
    })?;
    let mut out = Vec::new();
    for raw in page.incidents {
        let i = judge(raw, policy, shown)?;
        if i.created_at >= since {
            out.push(i);
        }
    }
    Ok(out)
}

/// Open incidents (triggered or acknowledged) of the policy's services since
/// `since`, every page, from PagerDuty.
pub fn from_pagerduty(http: &Http, policy: &Incidents, token: &Secret, since: jiff::Timestamp) -> anyhow::Result<Vec<Incident>> {
    anyhow::ensure!(!token.is_empty(), "no PagerDuty API key: set the secret in ${} (release-guard.incidents.token-env)", policy.token_env);
    let auth = format!("Token token={}", token.expose());
    let headers = [("Authorization", auth.as_str()), ("Accept", "application/vnd.pagerduty+json;version=2")];
    let mut out = Vec::new();
    let base = policy.url.trim_end_matches('/');
    let mut query = vec![("statuses[]", "triggered".to_owned()), ("statuses[]", "acknowledged".to_owned())];
    query.extend(policy.services.iter().map(|s| ("service_ids[]", s.clone())));
    query.push(("since", since.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()));
    query.push(("limit", "100".to_owned()));
    for page in 0..50u32 {
        let mut q = query.clone();
        q.push(("offset", (page * 100).to_string()));
        let qs: Vec<String> = q.iter().map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v))).collect();
        let url = format!("{base}/incidents?{}", qs.join("&"));
        let answer = http.send("GET", &url, &headers, None)?;
        match answer.status {
            200 => {}
            401 | 403 => anyhow::bail!(
                "PagerDuty refused the API key in ${} ({}): check the key and its access to the services",
                policy.token_env,
                answer.status
            ),
            s => anyhow::bail!("GET {base}/incidents: PagerDuty answered {s}: {}", answer.body),
        }
        let page: Page = serde_json::from_value(answer.body).map_err(|e| {
            release_gate_core::exit::Unreachable(format!(
                "GET {base}/incidents: PagerDuty answered something that is not an incident list: {e}"
            ))
        })?;
        for raw in page.incidents {
            out.push(judge(raw, policy, "PagerDuty")?);
        }
        if !page.more {
            return Ok(out);
        }
    }
    anyhow::bail!("PagerDuty listed more than 5,000 open incidents since the deploy; narrow release-guard.incidents.services")
}
