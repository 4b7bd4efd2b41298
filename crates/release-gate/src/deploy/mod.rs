//! `deploy-check`: the decision that counts, taken when the production
//! deploy starts, on the commit being deployed (runbook §3, §5, §7).
//!
//! A deploy may start only when, for this release and this commit,
//! - the decision log on the release branch says GO, and the gates it
//!   records passed on this very commit (not a dry run, not a local run);
//! - every required gate's latest result passed on this commit (online: the
//!   check runs that count, [`release_gate_core::evidence`]; offline: the
//!   reports in the report directory);
//! - the configuration being deployed hashes to what the log recorded
//!   (a mismatch invalidates the release, runbook §7);
//! - freeze-check passes **now**, rollback buffer included.
//!
//! [`observe`] gathers what is needed (from a checkout, or through the API
//! for a deployment protection rule); [`judge()`] decides from those facts
//! alone; [`run`] wires them for `release-gate deploy-check`.

pub mod judge;
pub mod observe;

use std::path::Path;

use decision_log_commit::LogPolicy;
use release_gate_core::Run;
use release_gate_core::policy::GateSection;
use release_gate_core::report::{Check, Status, Verdict};

use serde::Deserialize;

pub use judge::{Facts, GateResult, Hashed, from_check_runs, judge, required};
pub use observe::{Asked, facts_local, facts_remote, freeze_at, merged_pull};

/// The `deploy:` section of the policy.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DeployPolicy {
    /// Reports whose latest result must pass on the deployed commit
    /// (keys, as in `decision-log-commit.required`); default: that list.
    pub required: Option<Vec<String>>,
    /// Environments GitHub should treat as production in its deployments view.
    pub production_environments: Vec<String>,
    /// How a deployment's branch or tag names its release (protection rule):
    /// `{release}` is the id.
    pub release_refs: Vec<String>,
}

impl Default for DeployPolicy {
    fn default() -> Self {
        Self {
            required: None,
            production_environments: vec!["production".into()],
            release_refs: release_gate_core::release::DEFAULT_REFS.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl GateSection for DeployPolicy {
    const NAME: &'static str = "deploy";
}

/// `release-gate deploy-check`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub common: release_gate_core::cli::CommonArgs,

    /// The environment deployed to; with a token, the deployment's status
    /// on it is set (`in_progress` when the deploy may start, `failure` when refused).
    #[arg(long, env = "RELEASE_GATE_ENVIRONMENT", value_name = "NAME")]
    pub environment: Option<String>,

    /// The environment's URL, shown in GitHub's deployments view.
    #[arg(long, env = "RELEASE_GATE_ENVIRONMENT_URL", value_name = "URL")]
    pub environment_url: Option<String>,
}

/// Runs deploy-check on a checkout and publishes its report (check run
/// `release-gate/deploy-check`, summary, outputs) and the deployment status.
pub fn run(args: DeployArgs, ctx: release_gate_core::context::Context) -> anyhow::Result<Verdict> {
    let run = Run::<DeployPolicy>::start("deploy-check", args.common, ctx)?;
    let freeze_policy: freeze_check::policy::FreezePolicy = run.section()?;
    let log_policy: LogPolicy = run.section()?;
    let config_policy: config_diff::ConfigDiffPolicy = run.section()?;
    let pr = match (run.github(), &run.ctx.sha) {
        (Some(gh), Some(sha)) => run.block_on(merged_pull(gh, sha, &freeze_policy))?,
        _ => None,
    };
    let read = |p: &Path, what: &str| Ok(run.root.read_text(p, what)?);
    let freeze = freeze_at(&freeze_policy, &run.policy.reporting.display_timezone, &run.release, run.now, &read, pr)?;
    let facts = facts_local(&run, (&log_policy, &config_policy), &run.report_dir()?, freeze)?;
    let mut report = run.new_report();
    judge(&facts, &log_policy, &mut report);
    // A deploy that may start is recorded in the release's lifecycle, once:
    // the instant the guard's hour is counted from.
    if report.verdict != Verdict::Fail && !run.dry_run {
        report.push(record_deploy(&run, &log_policy, &facts));
    }
    if facts.dry_run {
        return run.finish(report);
    }
    if let (Some(gh), Some(sha), Some(env)) = (run.github(), &run.ctx.sha, &args.environment) {
        let production = run.policy.section.production_environments.contains(env);
        let state = if report.verdict == Verdict::Fail { "failure" } else { "in_progress" };
        let run_url = run.ctx.run_url();
        let status = release_gate_core::github::calls::DeploymentStatus {
            state,
            description: &report.title,
            log_url: facts.log_url.as_deref().or(run_url.as_deref()),
            environment_url: args.environment_url.as_deref(),
        };
        let posted = run.block_on(post_status(gh, sha, env, production, &status));
        match posted {
            Ok(id) => report.output("deployment_id", id.to_string()),
            Err(e) if e.is_unreachable() => return Err(e.into()),
            Err(e) => report.push(Check::new("deployment-status", Status::Warn, format!("the deployment status could not be set: {e}"))),
        }
    }
    run.finish(report)
}

/// Records the deploy in the log's lifecycle (GO → deployed) and says how;
/// a release already deployed keeps its first instant.
fn record_deploy(run: &Run<DeployPolicy>, log_policy: &LogPolicy, facts: &Facts) -> Check {
    use release_gate_core::decision_log::{State, save};
    let Ok(lc) = &facts.lifecycle else { return Check::new("deploy-recorded", Status::Fail, "the lifecycle cannot be read") };
    if lc.state() != Some(State::Go) {
        let at = lc.deployed().map(|d| format!(", deployed at {} ({})", d.at, d.via)).unwrap_or_default();
        return Check::new(
            "deploy-recorded",
            Status::Pass,
            format!(
                "release {} is {} already{at}: its deploy instant stays as recorded",
                run.release,
                lc.state().map(|s| s.to_string()).unwrap_or_default()
            ),
        );
    }
    let t = run.transition(State::Deployed, "deploy-check let the production deploy start");
    let (log_rel, _) = &facts.log;
    let shown = log_rel.clone();
    let r = save::Recorder { release: &run.release, shown: &shown };
    let outcome = match run.github() {
        Some(gh) => {
            let branch = release_gate_core::release::log_branch(
                &run.release,
                log_policy.branch.as_deref(),
                run.ctx.git_ref.as_deref().or(run.ctx.ref_name.as_deref()),
            );
            let path = run.root.in_repository(log_rel);
            let message = format!("Release {} deployed (decision log lifecycle)", run.release);
            let target = save::Target { path: &path, branch: &branch, message: &message, max_attempts: log_policy.max_attempts };
            run.block_on(save::record(gh, &target, &r, &t)).map(|s| s.how).map_err(anyhow::Error::from)
        }
        None => save::record_local(&run.root, log_rel, &r, &t).map(|_| format!("written to {log_rel}")),
    };
    match outcome {
        Ok(how) => {
            Check::new("deploy-recorded", Status::Pass, format!("the deploy at {} is recorded in the release's lifecycle ({how})", t.at))
        }
        // The deployment status below still carries the instant.
        Err(e) => Check::new(
            "deploy-recorded",
            Status::Warn,
            format!("the deploy could not be recorded in the decision log: {}", release_gate_core::error::describe(e.as_ref())),
        ),
    }
}

/// Sets the status of the newest deployment of `sha` to `environment`
/// (the one GitHub made for the job), creating one when there is none.
pub async fn post_status(
    gh: &release_gate_core::github::GitHub,
    sha: &str,
    environment: &str,
    production: bool,
    status: &release_gate_core::github::calls::DeploymentStatus<'_>,
) -> Result<u64, release_gate_core::github::ApiError> {
    let id = match gh.deployments(sha, environment).await?.first() {
        Some(d) => d.id,
        None => gh.create_deployment(sha, environment, &format!("release-gate: {}", status.description), production).await?.id,
    };
    gh.create_deployment_status(id, status).await?;
    Ok(id)
}

/// The release a deployment's ref names, by the policy's patterns
/// (`deploy.release-refs`): `release/2.4.0` → `2.4.0`.
pub fn release_from_ref(patterns: &[String], git_ref: &str) -> Option<String> {
    release_gate_core::release::from_ref(patterns, git_ref)
}
