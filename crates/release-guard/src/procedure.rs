//! The rollback procedure of runbook §6, planned from the policy and, when
//! `rollback.automate` is on and the run is not a dry run, carried out:
//! (1) post to the rollback channel and page the SRE lead, (2) disable the
//! continuous-deployment workflows, (3) dispatch the rollback workflow with
//! the previous GO release's tag, (4) the smoke stage re-run against it (the
//! rollback workflow's job; linked), (5) the log's "Rollback executed".
//! Each step is recorded with its state, detail and time.

use std::path::Path;

use release_gate_core::decision_log::{Lifecycle, State};
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

/// Plans (and, with `tools.act`, carries out) the rollback of `release` to
/// `previous`; `disable` is false when the pause already disabled the
/// continuous-deployment workflows (each step is listed once).
pub async fn rollback(
    policy: &GuardPolicy,
    release: &str,
    previous: Option<&str>,
    triggers: &[String],
    tools: &Tools<'_>,
    disable: bool,
) -> Vec<Step> {
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

    // 2. Freeze further changes (unless the pause did, a step above).
    if disable {
        steps.push(set_workflows(&policy.pause_workflows, false, tools, "disable continuous deployment").await);
    }

    // 3. Redeploy the previous release.
    let tag = previous.map(|p| r.tag.replace("{release}", p));
    steps.push(match (&r.workflow, &tag, tools.github) {
        (None, _, _) => {
            step("redeploy the previous release", "not configured", "no rollback workflow (release-guard.rollback.workflow)", None)
        }
        (Some(_), None, _) => step(
            "redeploy the previous release",
            "failed",
            "no earlier known-good release to roll back to (none whose guard recorded SUCCESS, nor a GO never paused or rolled back)",
            None,
        ),
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
        "Rollback executed: Yes, with these steps; root cause: to be written by the release captain (runbook §6 step 5)",
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

/// The release a rollback returns to, the last known good one: of the
/// releases before `release` (semantic-version precedence: `2.10.0-rc.1`
/// before `2.10.0`), the newest whose guard recorded SUCCESS in its
/// lifecycle, else the newest GO that was never paused or rolled back; a
/// release that was ever rolled back is never one. Logs are read from `dir`;
/// no directory is no earlier release, one that cannot be listed is an
/// error, and a lifecycle record that cannot be trusted rules its release out.
pub fn previous_release(root: &Root, dir: &Path, release: &str) -> Result<Option<String>, PathError> {
    const WHAT: &str = "decision logs (release-guard.logs)";
    let list = match std::fs::read_dir(root.resolve(dir, WHAT)?) {
        Ok(list) => list,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(cause) => return Err(PathError::Io { verb: "list", what: WHAT.to_owned(), path: dir.display().to_string(), cause }),
    };
    let Some(this) = Version::parse(release) else { return Ok(None) };
    // The newest earlier success, and the newest earlier GO never paused.
    let mut succeeded: Option<(Version, String)> = None;
    let mut clean: Option<(Version, String)> = None;
    for e in list.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".md") else { continue };
        let Some(v) = Version::parse(id).filter(|v| *v < this) else { continue };
        if release_gate_core::release::validate(id).is_err() {
            continue;
        }
        let text = root.read_text(dir.join(&name), "decision log")?;
        let Ok(lc) = Lifecycle::read(&text, id, &name) else { continue };
        let ever = |s: State| lc.transitions.iter().any(|t| t.to == s);
        if ever(State::RolledBack) {
            continue;
        }
        let slot = if ever(State::Succeeded) && lc.state() == Some(State::Succeeded) {
            &mut succeeded
        } else if ever(State::Go) && !ever(State::Paused) {
            &mut clean
        } else {
            continue;
        };
        if slot.as_ref().is_none_or(|(best, _)| v > *best) {
            *slot = Some((v, id.to_owned()));
        }
    }
    Ok(succeeded.or(clean).map(|(_, id)| id))
}

/// A release id read as a semantic version (`MAJOR[.MINOR[.PATCH]][-PRE][+BUILD]`),
/// ordered by SemVer 2.0 precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    core: [u64; 3],
    pre: Vec<Ident>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ident {
    /// Numeric identifiers sort below alphanumeric ones.
    Num(u64),
    Alpha(String),
}

impl Version {
    fn parse(id: &str) -> Option<Self> {
        let id = id.strip_prefix('v').unwrap_or(id);
        let id = id.split('+').next()?;
        let (core, pre) = match id.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (id, None),
        };
        let nums: Vec<u64> = core.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
        if nums.is_empty() || nums.len() > 3 {
            return None;
        }
        let mut c = [0u64; 3];
        c[..nums.len()].copy_from_slice(&nums);
        let pre = match pre {
            None => Vec::new(),
            Some(p) => p
                .split('.')
                .map(|i| if i.is_empty() { None } else { Some(i.parse().map(Ident::Num).unwrap_or_else(|_| Ident::Alpha(i.to_owned()))) })
                .collect::<Option<_>>()?,
        };
        Some(Self { core: c, pre })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // A pre-release sorts before its release.
        self.core.cmp(&other.core).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (false, false) => self.pre.cmp(&other.pre),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_semver_precedence() {
        let v = |s: &str| Version::parse(s).unwrap();
        assert!(v("2.10.0") > v("2.9.1"));
        assert!(v("2.4.0") < v("2.4.1"));
        assert!(v("2.10.0-rc.1") < v("2.10.0"), "a pre-release before its release");
        assert!(v("2.10.0-rc.1") > v("2.9.9"));
        assert!(
            v("1.0.0-alpha") < v("1.0.0-alpha.1") && v("1.0.0-alpha.1") < v("1.0.0-alpha.beta") && v("1.0.0-beta.2") < v("1.0.0-beta.11")
        );
        assert_eq!(v("2.4.0+build.7").cmp(&v("2.4.0")), std::cmp::Ordering::Equal, "build metadata does not order");
        for not in ["x", "2.4.0.1", "2..4", "2.4.0-", "2.4.0-rc..1"] {
            assert!(Version::parse(not).is_none(), "{not}");
        }
    }

    fn log(release: &str, states: &[State]) -> String {
        let mut lc = Lifecycle::new(release);
        for (i, s) in states.iter().enumerate() {
            lc.record(release_gate_core::decision_log::Transition {
                to: *s,
                at: format!("2026-12-01T1{i}:00:00Z"),
                by: "x".into(),
                via: "release-guard resume (test)".into(),
                commit: None,
                why: "t".into(),
            })
            .unwrap();
        }
        lc.write(&format!("# Release {release} Decision Log\n"))
    }

    #[test]
    fn the_rollback_target_is_the_last_known_good_release() {
        use State::*;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        let root = Root::new(dir.path(), None).unwrap();
        let put = |r: &str, states: &[State]| std::fs::write(dir.path().join(format!("logs/{r}.md")), log(r, states)).unwrap();
        let target = |r: &str| previous_release(&root, Path::new("logs"), r).unwrap();
        put("2.9.0", &[Go, Deployed, Watching, Succeeded]);
        put("2.10.0-rc.1", &[Go, Deployed, Watching, Succeeded]);
        put("2.10.0", &[Go, Deployed, Watching, Succeeded]);
        put("2.10.1", &[Go, Deployed, Watching, RolledBack]);
        put("2.10.2", &[Go, Deployed, Paused, Watching, Succeeded]);
        put("2.10.3", &[Go]);
        // 2.10.2 succeeded after a resume: the newest earlier success.
        assert_eq!(target("2.11.0").as_deref(), Some("2.10.2"));
        assert_eq!(target("2.10.2").as_deref(), Some("2.10.0"), "never the rolled-back 2.10.1, never the rc over its release");
        assert_eq!(target("2.10.0").as_deref(), Some("2.10.0-rc.1"), "the rc is earlier than its release");
        // No success before: the newest GO never paused or rolled back.
        put("1.0.0", &[Go]);
        put("1.0.1", &[Go, Deployed, Paused]);
        assert_eq!(target("1.1.0").as_deref(), Some("1.0.0"));
        assert_eq!(target("0.9.0"), None);
    }
}
