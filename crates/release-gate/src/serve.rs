//! `release-gate serve`: a GitHub App's webhook receiver that answers
//! custom deployment protection rules. When a job targets an environment
//! with the App's rule, GitHub sends `deployment_protection_rule`; the
//! server evaluates [`crate::deploy`]'s rules for the environment, ref and
//! commit (the policy read from the default branch) and answers `approved`
//! or `rejected` with a comment that links the decision log and names what
//! failed. A workflow author cannot remove a rule that sits on the environment.
//!
//! - Every delivery's `X-Hub-Signature-256` is checked against the webhook
//!   secret in constant time; a missing or wrong signature is 401 and
//!   nothing else happens.
//! - A delivery id seen before is answered once (GitHub redelivers); one
//!   that could not be answered (too many waiting, no installation token
//!   after retries, the answer refused) is forgotten, so its redelivery is
//!   evaluated.
//! - Installations and repositories can be limited by the config file.
//! - Evaluations run in the background, at most `max-concurrency` at once;
//!   every GitHub call has the gates' retries and deadline, of which
//!   `answer-reserve` is kept back: an evaluation still running then is
//!   answered as a rejection saying so.
//! - Connections are limited as [`crate::listen`] says (idle, slow, per
//!   peer, in all), so `/healthz` and real deliveries are always served.
//! - Secrets (webhook secret, private key, tokens) are never logged.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use release_gate_core::github::app::App;
use release_gate_core::github::{GitHub, RetryPolicy};
use release_gate_core::mask::{self, Secret};
use release_gate_core::report::{Report, Status, Verdict};
use serde::Deserialize;
use sha2::Sha256;

/// `release-gate serve`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (`0.0.0.0:8080`; port 0 picks one, printed on start).
    #[arg(long, env = "RELEASE_GATE_LISTEN", default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Config file: allowed installations and repositories, concurrency.
    #[arg(long, env = "RELEASE_GATE_SERVE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// The webhook secret set in the App's settings.
    #[arg(long, env = "RELEASE_GATE_WEBHOOK_SECRET", hide_env_values = true, hide_env = true, value_name = "SECRET")]
    pub webhook_secret: String,

    /// The App's id.
    #[arg(long, env = "GITHUB_APP_ID", value_name = "ID")]
    pub app_id: u64,

    /// The App's private key (PEM), as downloaded from its settings.
    #[arg(long, env = "GITHUB_APP_PRIVATE_KEY_PATH", value_name = "PATH")]
    pub private_key_path: PathBuf,

    /// API base URL (GitHub Enterprise Server: `https://HOST/api/v3`).
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com", value_name = "URL")]
    pub api_url: String,

    /// Web base URL, for links.
    #[arg(long, env = "GITHUB_SERVER_URL", default_value = "https://github.com", value_name = "URL")]
    pub server_url: String,
}

/// The config file (YAML).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ServeConfig {
    /// Installation ids answered; empty: every installation of the App.
    pub installations: Vec<u64>,
    /// `owner/repo` answered; empty: every repository the App is installed on.
    pub repositories: Vec<String>,
    /// Evaluations at once.
    pub max_concurrency: usize,
    /// Evaluations waiting beyond which a delivery is refused (503).
    pub max_queued: usize,
    /// The policy file in each repository.
    pub policy: String,
    /// Seconds of the GitHub deadline (`RELEASE_GATE_HTTP_DEADLINE_S`) kept
    /// back to send the answer: an evaluation that has not finished when
    /// only this much is left is answered as a rejection saying so. At most
    /// half the deadline.
    pub answer_reserve: u64,
    /// Seconds without a byte after which a connection is closed; a
    /// request's headers must arrive within it.
    pub idle_timeout: u64,
    /// Seconds a connection may live.
    pub connection_lifetime: u64,
    /// Connections at once from one address (behind a proxy: the proxy's).
    pub max_connections_per_peer: usize,
    /// Connections at once in all (keep under the process's file limit).
    pub max_connections: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            installations: Vec::new(),
            repositories: Vec::new(),
            max_concurrency: 4,
            max_queued: 64,
            policy: release_gate_core::policy::DEFAULT_PATH.to_owned(),
            answer_reserve: 20,
            idle_timeout: 10,
            connection_lifetime: 60,
            max_connections_per_peer: 64,
            max_connections: 4096,
        }
    }
}

/// The parts of a `deployment_protection_rule` delivery read.
#[derive(Debug, Clone, Deserialize)]
pub struct ProtectionRule {
    /// `requested`.
    pub action: String,
    /// The environment.
    pub environment: String,
    /// The event that started the run.
    #[serde(default)]
    pub event: Option<String>,
    /// The commit.
    #[serde(default)]
    pub sha: Option<String>,
    /// The branch or tag.
    #[serde(rename = "ref", default)]
    pub git_ref: Option<String>,
    /// Where the answer goes: `…/actions/runs/{run_id}/deployment_protection_rule`.
    pub deployment_callback_url: String,
    /// The deployment (its sha and ref, when one was created).
    #[serde(default)]
    pub deployment: Option<DeploymentRef>,
    /// The repository.
    pub repository: Repository,
    /// The installation.
    pub installation: Installation,
    /// Who triggered the deploy.
    #[serde(default)]
    pub sender: Option<Sender>,
}

/// The account behind a delivery.
#[derive(Debug, Clone, Deserialize)]
pub struct Sender {
    /// Login.
    pub login: String,
}

/// A deployment's commit and ref.
#[derive(Debug, Clone, Deserialize)]
pub struct DeploymentRef {
    /// Commit.
    pub sha: String,
    /// Ref.
    #[serde(rename = "ref")]
    pub git_ref: String,
}

/// The repository of a delivery.
#[derive(Debug, Clone, Deserialize)]
pub struct Repository {
    /// `owner/repo`.
    pub full_name: String,
    /// The default branch: where the policy is read.
    pub default_branch: String,
}

/// The installation of a delivery.
#[derive(Debug, Clone, Deserialize)]
pub struct Installation {
    /// Id.
    pub id: u64,
}

struct Shared {
    secret: Secret,
    app: App,
    config: ServeConfig,
    server_url: String,
    seen: Mutex<(HashSet<String>, VecDeque<String>)>,
    permits: Arc<tokio::sync::Semaphore>,
    queued: std::sync::atomic::AtomicUsize,
}

/// The most delivery ids remembered for answering a redelivery once.
const SEEN: usize = 10_000;

/// Starts the server and runs until SIGTERM or Ctrl-C, finishing the evaluations under way.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("cannot read the serve config {}: {e}", p.display()))?;
            release_gate_core::policy::parse_yaml::<ServeConfig>(&text, p)?
        }
        None => ServeConfig::default(),
    };
    anyhow::ensure!(config.max_concurrency > 0, "max-concurrency must be at least 1");
    anyhow::ensure!(config.idle_timeout > 0 && config.connection_lifetime > 0, "idle-timeout and connection-lifetime must be at least 1 s");
    anyhow::ensure!(
        config.max_connections_per_peer > 0 && config.max_connections > 0,
        "max-connections-per-peer and max-connections must be at least 1"
    );
    anyhow::ensure!(!args.webhook_secret.is_empty(), "RELEASE_GATE_WEBHOOK_SECRET is empty: set the App's webhook secret");
    mask::register(&args.webhook_secret);
    let key = read_key(&args.private_key_path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let retry = RetryPolicy::from_env(&|k| std::env::var(k).ok());
        let app = App::new(args.app_id, key.expose().as_bytes(), &args.api_url, retry)?;
        let shared = Arc::new(Shared {
            secret: Secret::new(args.webhook_secret.clone()),
            app,
            permits: Arc::new(tokio::sync::Semaphore::new(config.max_concurrency)),
            config,
            server_url: args.server_url.trim_end_matches('/').to_owned(),
            seen: Mutex::new((HashSet::new(), VecDeque::new())),
            queued: std::sync::atomic::AtomicUsize::new(0),
        });
        let router = axum::Router::new()
            .route("/webhook", post(webhook))
            .route("/healthz", get(|| async { "ok" }))
            .layer(DefaultBodyLimit::max(1 << 20))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        // The first line on stdout is the address (tests and supervisors read it).
        announce(&format!("release-gate serve: listening on {}\n", listener.local_addr()?));
        let c = &shared.config;
        let limits = crate::listen::Limits {
            idle: Duration::from_secs(c.idle_timeout),
            lifetime: Duration::from_secs(c.connection_lifetime),
            per_peer: c.max_connections_per_peer,
            total: c.max_connections,
        };
        crate::listen::run(listener, router, limits, shutdown(), Duration::from_secs(10)).await?;
        // Let the evaluations under way answer GitHub before exiting.
        let _ = shared.permits.acquire_many(u32::try_from(shared.config.max_concurrency).unwrap_or(u32::MAX)).await;
        eprintln!("release-gate serve: stopped");
        Ok(())
    })
}

fn announce(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

fn read_key(path: &Path) -> anyhow::Result<Secret> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read the App's private key {}: {e}", path.display()))?;
    Ok(Secret::new(text))
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under
/// `secret`, compared in constant time.
pub fn signature_ok(secret: &[u8], body: &[u8], signature: Option<&str>) -> bool {
    let Some(hex_sig) = signature.and_then(|s| s.strip_prefix("sha256=")) else { return false };
    let Ok(expected) = hex::decode(hex_sig) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

async fn webhook(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    if !signature_ok(shared.secret.expose().as_bytes(), &body, header("x-hub-signature-256")) {
        return (StatusCode::UNAUTHORIZED, "signature missing or wrong".into());
    }
    let delivery = header("x-github-delivery").unwrap_or_default().to_owned();
    if !delivery.is_empty() {
        let mut seen = shared.seen.lock().unwrap_or_else(|e| e.into_inner());
        if !seen.0.insert(delivery.clone()) {
            return (StatusCode::OK, format!("delivery {delivery} already answered"));
        }
        seen.1.push_back(delivery.clone());
        if seen.1.len() > SEEN
            && let Some(old) = seen.1.pop_front()
        {
            seen.0.remove(&old);
        }
    }
    match header("x-github-event") {
        Some("ping") => return (StatusCode::OK, "pong".into()),
        Some("deployment_protection_rule") => {}
        other => return (StatusCode::ACCEPTED, format!("event {} ignored", other.unwrap_or("(none)"))),
    }
    let event: ProtectionRule = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not a deployment_protection_rule payload: {e}")),
    };
    if event.action != "requested" {
        return (StatusCode::ACCEPTED, format!("action {} ignored", event.action));
    }
    let c = &shared.config;
    if !c.installations.is_empty() && !c.installations.contains(&event.installation.id) {
        return (StatusCode::FORBIDDEN, format!("installation {} is not served here", event.installation.id));
    }
    if !c.repositories.is_empty() && !c.repositories.iter().any(|r| r.eq_ignore_ascii_case(&event.repository.full_name)) {
        return (StatusCode::FORBIDDEN, format!("repository {} is not served here", event.repository.full_name));
    }
    let Some(run_id) = release_gate_core::github::run_id_of(&event.deployment_callback_url) else {
        return (StatusCode::BAD_REQUEST, "deployment_callback_url names no workflow run".into());
    };
    use std::sync::atomic::Ordering;
    if shared.queued.fetch_add(1, Ordering::SeqCst) >= c.max_queued {
        shared.queued.fetch_sub(1, Ordering::SeqCst);
        // Not evaluated: a redelivery must be, so it is not marked as seen.
        forget(&shared, &delivery);
        return (StatusCode::SERVICE_UNAVAILABLE, "too many evaluations waiting; redeliver later".into());
    }
    let accepted = format!("evaluating the deployment of {} to {}", event.repository.full_name, event.environment);
    let task = shared.clone();
    tokio::spawn(async move {
        let permit = task.permits.clone().acquire_owned().await;
        task.queued.fetch_sub(1, Ordering::SeqCst);
        if !answer(&task, &event, run_id).await {
            // No answer reached GitHub: its redelivery is evaluated again.
            forget(&task, &delivery);
        }
        drop(permit);
    });
    (StatusCode::ACCEPTED, accepted)
}

/// A delivery that was not answered is no longer seen: GitHub's
/// redelivery of it is evaluated.
fn forget(shared: &Shared, delivery: &str) {
    if delivery.is_empty() {
        return;
    }
    let mut seen = shared.seen.lock().unwrap_or_else(|e| e.into_inner());
    seen.0.remove(delivery);
    seen.1.retain(|d| d != delivery);
}

/// Evaluates and answers; every failure is answered as a rejection (a
/// required protection rule must never hang), and logged without secrets.
/// `false` when no answer reached GitHub.
async fn answer(shared: &Shared, event: &ProtectionRule, run_id: u64) -> bool {
    let Some((owner, repo)) = event.repository.full_name.split_once('/') else { return false };
    let gh = match shared.app.installation(event.installation.id, owner, repo).await {
        Ok(gh) => gh,
        Err(e) => {
            eprintln!(
                "release-gate serve: {}: cannot authenticate as the installation: {}",
                event.repository.full_name,
                mask::redact(&e.to_string())
            );
            return false;
        }
    };
    // Part of the deadline is kept back for the answer: a hung API ends the
    // evaluation, never the chance to say so.
    let (evaluate, reserve) = budget(gh.budget(), shared.config.answer_reserve);
    let (approved, comment) = match tokio::time::timeout(evaluate, decide(shared, &gh, event, run_id)).await {
        Ok(Ok(report)) => (report.verdict != Verdict::Fail, comment_of(&report)),
        Ok(Err(e)) => (
            false,
            format!("release-gate could not evaluate this deployment: {}", mask::redact(&release_gate_core::error::describe(e.as_ref()))),
        ),
        Err(_) => (
            false,
            format!(
                "release-gate could not evaluate this deployment within {} s (GitHub's API answered too slowly), so it is rejected; re-run the job to evaluate it again",
                evaluate.as_secs()
            ),
        ),
    };
    let gh = gh.with_deadline(reserve);
    if let Err(e) = gh.review_protection_rule(run_id, &event.environment, approved, &comment).await {
        eprintln!(
            "release-gate serve: {}: run {run_id}: the answer could not be sent: {}",
            event.repository.full_name,
            mask::redact(&e.to_string())
        );
        false
    } else {
        eprintln!(
            "release-gate serve: {} run {run_id} to {}: {}",
            event.repository.full_name,
            event.environment,
            if approved { "approved" } else { "rejected" }
        );
        true
    }
}

/// The deadline split into the evaluation's part and the part kept back
/// for the answer: `reserve` seconds, at least one, at most half.
fn budget(deadline: Duration, reserve: u64) -> (Duration, Duration) {
    let kept = Duration::from_secs(reserve).max(Duration::from_secs(1)).min(deadline / 2);
    (deadline.saturating_sub(kept), kept)
}

async fn decide(shared: &Shared, gh: &GitHub, event: &ProtectionRule, run_id: u64) -> anyhow::Result<Report> {
    let branch = &event.repository.default_branch;
    let policy_text = match gh.file(&shared.config.policy, branch).await? {
        Some(c) => Some(release_gate_core::paths::utf8(c.bytes, Path::new(&shared.config.policy), "policy")?),
        None => None,
    };
    let path = Path::new(&shared.config.policy);
    let in_force = release_gate_core::report::PolicyInForce {
        file: policy_text.as_ref().map(|_| shared.config.policy.clone()),
        source: format!("the default branch `{branch}` (contents API)"),
    };
    let deploy = release_gate_core::policy::from_text::<crate::deploy::DeployPolicy>(policy_text.as_deref(), path)?.section;
    let sha = event
        .deployment
        .as_ref()
        .map(|d| d.sha.clone())
        .or_else(|| event.sha.clone())
        .ok_or_else(|| anyhow::anyhow!("the event names no commit"))?;
    let git_ref = event.deployment.as_ref().map(|d| d.git_ref.clone()).or_else(|| event.git_ref.clone()).unwrap_or_default();
    // The production rules are for production: another environment the
    // App is on (staging, canary) is answered without them.
    if !deploy.production_environments.iter().any(|e| e == &event.environment) {
        let mut report = Report::new("deploy-check", "-", jiff::Timestamp::now(), Some(sha));
        report.policy = Some(in_force);
        report.push(release_gate_core::report::Check::new(
            "environment",
            Status::Pass,
            format!(
                "`{}` is not a production environment (deploy.production-environments: {}): release-gate's production rules do not apply",
                event.environment,
                deploy.production_environments.join(", ")
            ),
        ));
        report.title = format!("{} is not a production environment", event.environment);
        return Ok(report);
    }
    let release = crate::deploy::release_from_ref(&deploy.release_refs, &git_ref)
        .ok_or_else(|| anyhow::anyhow!("the ref `{git_ref}` names no release (deploy.release-refs: {})", deploy.release_refs.join(", ")))?;
    let workflow = match gh.workflow_run(run_id).await {
        Ok(r) => Some(r.path),
        Err(e) if e.is_unreachable() => return Err(e.into()),
        Err(_) => None,
    };
    let log_policy = release_gate_core::policy::from_text::<decision_log_commit::LogPolicy>(policy_text.as_deref(), path)?.section;
    let log_branch = release_gate_core::release::log_branch(&release, log_policy.branch.as_deref(), Some(&git_ref));
    let asked = crate::deploy::Asked {
        policy_text,
        policy_path: shared.config.policy.clone(),
        default_branch: branch.clone(),
        release: release.clone(),
        sha: sha.clone(),
        server_url: shared.server_url.clone(),
        now: jiff::Timestamp::now(),
        workflow,
        log_branch,
    };
    let (facts, log_policy) = crate::deploy::facts_remote(gh, &asked).await?;
    let mut report = Report::new("deploy-check", &release, asked.now, Some(sha.clone()));
    report.policy = Some(in_force);
    crate::deploy::judge(&facts, &log_policy, &mut report);
    // Approving starts the deploy: recorded in the release's lifecycle, once.
    if report.verdict != Verdict::Fail
        && let Ok(lc) = &facts.lifecycle
        && lc.state() == Some(release_gate_core::decision_log::State::Go)
    {
        use release_gate_core::decision_log::{State, Transition, save};
        let t = Transition {
            to: State::Deployed,
            at: release_gate_core::report::rfc3339(asked.now),
            by: event.sender.as_ref().map_or_else(|| "release-gate serve".to_owned(), |s| s.login.clone()),
            via: format!(
                "release-gate serve (deployment protection rule, {}/{}/actions/runs/{run_id})",
                shared.server_url, event.repository.full_name
            ),
            commit: Some(sha),
            why: format!("the protection rule approved the deploy to {}", event.environment),
        };
        let (log_rel, _) = &facts.log;
        let message = format!("Release {release} deployed (decision log lifecycle)");
        let target = save::Target { path: log_rel, branch: &asked.log_branch, message: &message, max_attempts: log_policy.max_attempts };
        if let Err(e) = save::record(gh, &target, &save::Recorder { release: &release, shown: log_rel }, &t).await {
            report.push(release_gate_core::report::Check::new(
                "deploy-recorded",
                Status::Warn,
                format!("the deploy could not be recorded in the decision log: {}", mask::redact(&e.to_string())),
            ));
        }
    }
    Ok(report)
}

/// GitHub keeps this many characters of a protection rule's comment.
const COMMENT_LIMIT: usize = 1024;

/// The comment GitHub shows beside the answer: the headline, a line per
/// rule that failed, the decision log's link, within [`COMMENT_LIMIT`]
/// characters. The details are shortened, never the conclusion: every
/// failing rule keeps its line and the link stays whole.
fn comment_of(report: &Report) -> String {
    use release_gate_core::render::ellipsize;
    let title = ellipsize(&report.title, 300);
    let link = report.outputs.get("log_url").map(|u| format!("\nDecision log: {}", ellipsize(u, 300))).unwrap_or_default();
    let failing: Vec<(&str, &str)> =
        report.checks.iter().filter(|c| c.status == Status::Fail).map(|c| (c.id.as_str(), c.message.as_str())).collect();
    let fixed = title.chars().count() + link.chars().count();
    let mut room = COMMENT_LIMIT.saturating_sub(fixed);
    let mut lines = Vec::with_capacity(failing.len());
    for (i, (id, message)) in failing.iter().enumerate() {
        // An equal share of what is left for each line still to write.
        let share = room / (failing.len() - i);
        let head = format!("\n- {id}: ");
        let keep = share.saturating_sub(head.chars().count()).max(1);
        let line = format!("{head}{}", ellipsize(message, keep));
        room = room.saturating_sub(line.chars().count());
        lines.push(line);
    }
    let mut s = title;
    for l in lines {
        s.push_str(&l);
    }
    s.push_str(&link);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_exactly() {
        // GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_ok(b"It's a Secret to Everybody", b"Hello, World!", Some(sig)));
        assert!(!signature_ok(b"It's a Secret to Everybody", b"Hello, World?", Some(sig)));
        assert!(!signature_ok(b"another secret", b"Hello, World!", Some(sig)));
        assert!(!signature_ok(b"It's a Secret to Everybody", b"Hello, World!", None));
        assert!(!signature_ok(b"It's a Secret to Everybody", b"Hello, World!", Some(&sig.replace("sha256=", "sha1="))));
        assert!(!signature_ok(b"It's a Secret to Everybody", b"Hello, World!", Some("sha256=zz")));
    }

    #[test]
    fn the_release_is_read_from_the_events_ref() {
        let p = crate::deploy::DeployPolicy::default().release_refs;
        assert_eq!(crate::deploy::release_from_ref(&p, "release/2.4.0").as_deref(), Some("2.4.0"));
        assert_eq!(crate::deploy::release_from_ref(&p, "refs/tags/v2.4.0").as_deref(), Some("2.4.0"));
        assert_eq!(crate::deploy::release_from_ref(&p, "main"), None);
        assert_eq!(crate::deploy::release_from_ref(&p, "release/../../x"), None, "not a release id");
    }

    #[test]
    fn the_rejection_keeps_every_failing_rule_and_the_log_link_within_githubs_limit() {
        let mut r = Report::new("deploy-check", "2.4.0", jiff::Timestamp::UNIX_EPOCH, None);
        for id in ["decision-log", "lifecycle", "gates", "config-hashes", "freeze"] {
            r.push(release_gate_core::report::Check::new(id, Status::Fail, format!("{id} refused: {}", "x".repeat(900))));
        }
        r.push(release_gate_core::report::Check::new("deploy-recorded", Status::Pass, "Q".repeat(2000)));
        r.title = "Release 2.4.0 may not deploy: decision-log, lifecycle, gates, config-hashes, freeze".into();
        r.output("log_url", "https://github.com/o/r/blob/release/2.4.0/reports/release-decisions/2.4.0.md");
        let c = comment_of(&r);
        assert!(c.chars().count() <= COMMENT_LIMIT, "{}", c.chars().count());
        assert!(c.starts_with("Release 2.4.0 may not deploy: decision-log, lifecycle, gates, config-hashes, freeze\n"), "{c}");
        for id in ["decision-log", "lifecycle", "gates", "config-hashes", "freeze"] {
            assert!(c.contains(&format!("\n- {id}: {id} refused: x")), "{id}: {c}");
        }
        assert!(c.ends_with("\nDecision log: https://github.com/o/r/blob/release/2.4.0/reports/release-decisions/2.4.0.md"), "{c}");
        assert!(!c.contains("QQQ"), "only failing rules are listed");
        // Short enough: nothing is cut.
        let mut short = Report::new("deploy-check", "2.4.0", jiff::Timestamp::UNIX_EPOCH, None);
        short.push(release_gate_core::report::Check::new("gates", Status::Fail, "no `release-gate/freeze-check` check run on this commit"));
        short.title = "Release 2.4.0 may not deploy: gates".into();
        assert_eq!(
            comment_of(&short),
            "Release 2.4.0 may not deploy: gates\n- gates: no `release-gate/freeze-check` check run on this commit"
        );
    }

    #[test]
    fn part_of_the_deadline_is_always_kept_back_for_the_answer() {
        let s = Duration::from_secs;
        assert_eq!(budget(s(120), 20), (s(100), s(20)));
        assert_eq!(budget(s(6), 20), (s(3), s(3)), "at most half");
        assert_eq!(budget(s(6), 0), (s(5), s(1)), "at least a second");
        assert_eq!(budget(s(1), 20), (Duration::from_millis(500), Duration::from_millis(500)));
    }

    #[test]
    fn the_documented_config_file_reads_and_unknown_keys_are_refused() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/serve.yml");
        let text = std::fs::read_to_string(&path).expect("deploy/serve.yml");
        let c: ServeConfig = release_gate_core::policy::parse_yaml(&text, &path).expect("parses");
        assert_eq!(c, ServeConfig::default(), "the documented file shows the defaults");
        let e = release_gate_core::policy::parse_yaml::<ServeConfig>("max-concurency: 2\n", Path::new("serve.yml")).expect_err("typo");
        assert!(e.to_string().contains("serve.yml:1"), "{e}");
    }
}
