//! The rollback procedure of runbook §6, planned from the policy and, when
//! `rollback.automate` is on and the run is not a dry run, carried out:
//! (1) post to the rollback channel and page the SRE lead, (2) disable the
//! continuous-deployment workflows, (3) dispatch the rollback workflow with
//! the previous GO release's tag, (4) the smoke stage re-run against it (the
//! rollback workflow's job; linked), (5) the log's "Rollback executed".
//! Each step is recorded with its state, detail and time.

use std::path::Path;

use release_gate_core::github::GitHub;
use release_gate_core::mask::Secret;
use release_gate_core::paths::{PathError, Root};
use release_gate_core::report::data::Step;
use serde_json::json;

use crate::http::Http;
use crate::policy::GuardPolicy;

/// What the procedure may use.
#[derive(Clone)]
pub struct Tools<'a> {
    /// HTTP for the channel and PagerDuty.
    pub http: &'a Http,
    /// GitHub, when online.
    pub github: Option<&'a GitHub>,
    /// The channel's webhook URL (secret), when set.
    pub webhook: Option<Secret>,
    /// The Events API routing key (secret), when set.
    pub routing_key: Option<Secret>,
    /// Carry the steps out (else plan them).
    pub act: bool,
}

fn now() -> String {
    release_gate_core::report::rfc3339(jiff::Timestamp::now())
}

fn step(what: impl Into<String>, state: &str, detail: impl Into<String>, at: Option<String>) -> Step {
    Step { what: what.into(), state: state.to_owned(), detail: detail.into(), at }
}

/// Plans (and, with `tools.act`, carries out) the rollback of `release` to `previous`.
pub async fn rollback(policy: &GuardPolicy, release: &str, previous: Option<&str>, triggers: &[String], tools: &Tools<'_>) -> Vec<Step> {
    let r = &policy.rollback;
    let mut steps = Vec::new();
    let why = triggers.join("; ");
    let summary = format!("Rollback of release {release}: {why}");

    // 1. The rollback bridge and the SRE lead.
    let mut said = Vec::new();
    match (&tools.webhook, tools.act) {
        (None, _) => said.push(format!("channel: not configured (${})", r.channel_webhook_env)),
        (Some(_), false) => said.push("channel: to post".into()),
        (Some(url), true) => {
            match tools.http.send("POST", url.expose(), &[("Content-Type", "application/json")], Some(&json!({"text": summary}))) {
                Ok(a) if (200..300).contains(&a.status) => said.push("channel: posted".into()),
                Ok(a) => said.push(format!("channel: the webhook answered {}", a.status)),
                Err(e) => said.push(format!("channel: {e}")),
            }
        }
    }
    match (&tools.routing_key, tools.act) {
        (None, _) => said.push(format!("page: not configured (${})", r.routing_key_env)),
        (Some(_), false) => said.push("page: to trigger".into()),
        (Some(key), true) => {
            let event = json!({
                "routing_key": key.expose(), "event_action": "trigger", "dedup_key": format!("release-gate/rollback/{release}"),
                "payload": {"summary": summary.chars().take(1000).collect::<String>(), "source": "release-guard", "severity": "critical",
                            "component": release, "custom_details": {"triggers": triggers}},
            });
            let url = format!("{}/v2/enqueue", r.events_url.trim_end_matches('/'));
            match tools.http.send("POST", &url, &[("Content-Type", "application/json")], Some(&event)) {
                Ok(a) if a.status == 202 => said.push(format!("page: triggered ({})", a.body["dedup_key"].as_str().unwrap_or_default())),
                Ok(a) => said.push(format!("page: PagerDuty answered {}: {}", a.status, a.body)),
                Err(e) => said.push(format!("page: {e}")),
            }
        }
    }
    let state = if !tools.act {
        "planned"
    } else if said.iter().all(|s| s.ends_with("posted") || s.contains("triggered")) {
        "done"
    } else if tools.webhook.is_none() && tools.routing_key.is_none() {
        "not configured"
    } else {
        "failed"
    };
    steps.push(step("engage the rollback bridge and page the SRE lead", state, said.join("; "), tools.act.then(now)));

    // 2. Freeze further changes.
    steps.push(set_workflows(&policy.pause_workflows, false, tools, "disable continuous deployment").await);

    // 3. Redeploy the previous release.
    let tag = previous.map(|p| r.tag.replace("{release}", p));
    steps.push(match (&r.workflow, &tag, tools.github) {
        (None, _, _) => {
            step("redeploy the previous release", "not configured", "no rollback workflow (release-guard.rollback.workflow)", None)
        }
        (Some(_), None, _) => {
            step("redeploy the previous release", "failed", "no earlier release with a GO decision log to roll back to", None)
        }
        (Some(w), Some(t), _) if !tools.act => step("redeploy the previous release", "planned", format!("dispatch {w} with tag {t}"), None),
        (Some(w), Some(t), None) => {
            step("redeploy the previous release", "failed", format!("dispatch {w} with tag {t}: no GitHub token"), None)
        }
        (Some(w), Some(t), Some(gh)) => {
            let inputs = json!({"release": previous.unwrap_or_default(), "tag": t});
            match gh.dispatch_workflow(w, &r.workflow_ref, &inputs).await {
                Ok(()) => {
                    step("redeploy the previous release", "done", format!("dispatched {w} on {} with tag {t}", r.workflow_ref), Some(now()))
                }
                Err(e) => step("redeploy the previous release", "failed", format!("dispatch {w}: {e}"), Some(now())),
            }
        }
    });

    // 4. Health of the prior release: the rollback workflow re-runs the smoke stage.
    steps.push(step(
        "validate health: the smoke stage re-run against the prior release",
        "planned",
        match &tag {
            Some(t) => format!("the rollback workflow runs smoke-gate --stage smoke for {t}; its report is linked in the decision log"),
            None => "no prior release".into(),
        },
        None,
    ));
    // 5. The record.
    steps.push(step(
        "record the rollback in the decision log",
        if tools.act { "done" } else { "planned" },
        "Rollback executed: Yes, with these steps; root cause: to be written by the release captain; an incident ticket for severity ≥ 2",
        tools.act.then(now),
    ));
    steps
}

/// Disables (or enables) the workflows, one step.
pub async fn set_workflows(workflows: &[String], enabled: bool, tools: &Tools<'_>, what: &str) -> Step {
    let verb = if enabled { "enable" } else { "disable" };
    match (workflows.is_empty(), tools.act, tools.github) {
        (true, _, _) => step(what, "not configured", "no workflows listed (release-guard.pause-workflows)", None),
        (false, false, _) => step(what, "planned", format!("{verb} {}", workflows.join(", ")), None),
        (false, true, None) => step(what, "failed", format!("{verb} {}: no GitHub token", workflows.join(", ")), None),
        (false, true, Some(gh)) => {
            let mut done = Vec::new();
            let mut failed = Vec::new();
            for w in workflows {
                match gh.set_workflow_enabled(w, enabled).await {
                    Ok(()) => done.push(w.clone()),
                    Err(e) => failed.push(format!("{w}: {e}")),
                }
            }
            let state = if failed.is_empty() { "done" } else { "failed" };
            let mut detail = format!("{verb}d {}", if done.is_empty() { "nothing".to_owned() } else { done.join(", ") });
            if !failed.is_empty() {
                detail.push_str(&format!("; could not {verb} {}", failed.join("; ")));
            }
            step(what, state, detail, Some(now()))
        }
    }
}

/// The release a rollback returns to: the newest earlier release whose
/// decision log in `dir` says GO (versions compared part by part).
/// No directory is no earlier release; one that cannot be listed is an error.
pub fn previous_release(root: &Root, dir: &Path, release: &str) -> Result<Option<String>, PathError> {
    const WHAT: &str = "decision logs (release-guard.logs)";
    let list = match std::fs::read_dir(root.resolve(dir, WHAT)?) {
        Ok(list) => list,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(cause) => return Err(PathError::Io { verb: "list", what: WHAT.to_owned(), path: dir.display().to_string(), cause }),
    };
    let mut best: Option<String> = None;
    for e in list.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".md") else { continue };
        if id == release || release_gate_core::release::validate(id).is_err() || version_cmp(id, release) != std::cmp::Ordering::Less {
            continue;
        }
        let text = root.read_text(dir.join(&name), "decision log")?;
        if go(&text) && best.as_deref().is_none_or(|b| version_cmp(id, b) == std::cmp::Ordering::Greater) {
            best = Some(id.to_owned());
        }
    }
    Ok(best)
}

/// Whether a decision log's go/no-go says GO.
fn go(text: &str) -> bool {
    let Some(start) = text.find("<!-- release-gate:begin go-no-go -->") else { return false };
    text[start..].lines().skip(1).find(|l| !l.trim().is_empty()).is_some_and(|l| l.trim_start().starts_with("**GO**"))
}

/// `2.10.0` after `2.9.1`: numeric parts compared as numbers.
fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<(u64, String)> {
        s.split(['.', '-', '_']).map(|p| (p.parse::<u64>().unwrap_or(u64::MAX), p.to_owned())).collect()
    };
    parts(a).cmp(&parts(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_number() {
        use std::cmp::Ordering::*;
        assert_eq!(version_cmp("2.10.0", "2.9.1"), Greater);
        assert_eq!(version_cmp("2.4.0", "2.4.1"), Less);
        assert_eq!(version_cmp("2.4.0", "2.4.0"), Equal);
    }

    #[test]
    fn only_a_go_log_is_a_release_to_return_to() {
        assert!(go("x\n- **Go/No-Go Decision:** <!-- release-gate:begin go-no-go -->\n**GO** — every required gate passed\n"));
        assert!(!go("<!-- release-gate:begin go-no-go -->\n**NO-GO** — 2 blocker(s)\n"));
        assert!(!go("**GO** but outside the region\n"));
    }
}
