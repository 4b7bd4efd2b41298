//! From what a stage's evidence says to promote, hold or rollback (runbook
//! §6), and what counts as a verified external cause.

use crate::policy::ExternalCausePolicy;

/// The decision, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Decision {
    /// Go on.
    Promote,
    /// Stop and look.
    Hold,
    /// Roll back (runbook §6).
    Rollback,
}

impl Decision {
    /// As written in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Promote => "promote",
            Decision::Hold => "hold",
            Decision::Rollback => "rollback",
        }
    }
}

/// What the stage's evidence says (the tests' findings join the metrics').
pub use release_gate_metrics::Findings;

/// A verified external cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// The link.
    pub url: String,
    /// Who gave it: `input` or `label <name>`.
    pub via: String,
}

/// The decision, with why.
pub fn decide(f: &Findings, previous_failures: u32, max_failures: u32, cause: Option<&Cause>, judged: &str) -> (Decision, String) {
    if !f.rollback.is_empty() {
        return (Decision::Rollback, f.rollback.join("; "));
    }
    if !f.failed.is_empty() {
        let attempt = previous_failures + 1;
        if attempt >= max_failures.max(1) {
            return match cause {
                Some(c) => (
                    Decision::Hold,
                    format!(
                        "failure {attempt} of this stage, but a verified external cause was given ({}, via {}): hold and re-run",
                        c.url, c.via
                    ),
                ),
                None => (Decision::Rollback, format!("failure {attempt} of this stage without a verified external cause (runbook §6)")),
            };
        }
        return (
            Decision::Hold,
            format!("failure {attempt} of this stage; a failure {} without an external cause means rollback", max_failures.max(1)),
        );
    }
    if !f.inconclusive.is_empty() {
        return (Decision::Hold, format!("inconclusive: {}", f.inconclusive.join("; ")));
    }
    (Decision::Promote, judged.to_owned())
}

/// Validates an external-cause link against the policy: an https link
/// whose host is one of the policy's hosts (or a subdomain of one). With no
/// hosts listed nothing verifies: a cause must point where the policy trusts.
pub fn verify_cause(url: &str, via: &str, policy: &ExternalCausePolicy) -> Result<Cause, String> {
    let url = url.trim();
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(format!("external cause `{url}` ({via}) is not an https link"));
    };
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!("external cause `{url}` ({via}) carries credentials before its host: refused"));
    }
    let host = authority.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(authority, |(h, _)| h);
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err(format!("external cause `{url}` ({via}) has no host"));
    }
    if policy.hosts.is_empty() {
        return Err(format!(
            "external cause `{url}` ({via}): the policy lists no hosts a cause may point at, so nothing verifies; add smoke-gate.external-cause.hosts (the status pages and incident tracker you trust)"
        ));
    }
    let trusted = |h: &String| {
        let h = h.trim_end_matches('.').to_ascii_lowercase();
        host == h || host.ends_with(&format!(".{h}"))
    };
    if !policy.hosts.iter().any(trusted) {
        return Err(format!("external cause `{url}` ({via}): {host} is not one of the policy's hosts ({})", policy.hosts.join(", ")));
    }
    Ok(Cause { url: url.to_owned(), via: via.to_owned() })
}
