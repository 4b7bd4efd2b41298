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
//! [`facts_local`] and [`facts_remote`] gather what is needed (from a
//! checkout, or through the API for a deployment protection rule);
//! [`judge`] decides from those facts alone.

use std::collections::BTreeMap;
use std::path::Path;

use decision_log_commit::LogPolicy;
use decision_log_commit::log::{self, GateEntry};
use release_gate_core::evidence::CheckRuns;
use release_gate_core::hashes::Hashes;
use release_gate_core::policy::GateSection;
use release_gate_core::report::{self, Check, Report, Section, Status, Verdict};
use release_gate_core::{Run, render};
use serde::Deserialize;

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

/// One required gate's latest result on the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateResult {
    /// It passed; where to see it.
    Passed(String),
    /// It did not pass, or does not count: why, and where.
    Refused(String),
}

/// How the deployed configuration's hashes are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hashed {
    /// Computed from the checkout being deployed.
    Computed(Hashes),
    /// Not computed here: config-diff's check run on this commit compared
    /// them with the log (a deployment protection rule has no checkout).
    ByConfigDiff(GateResult),
    /// The configuration could not be read (why).
    Unreadable(String),
}

/// Everything [`judge`] needs, gathered at the edge.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The release.
    pub release: String,
    /// The commit deployed, when known (online).
    pub commit: Option<String>,
    /// The decision log's path and text (`None`: there is none).
    pub log: (String, Option<String>),
    /// Where the log can be seen.
    pub log_url: Option<String>,
    /// Required report keys.
    pub required: Vec<String>,
    /// Each required gate's latest result.
    pub gates: BTreeMap<String, GateResult>,
    /// The deployed configuration's hashes.
    pub hashes: Hashed,
    /// freeze-check evaluated now.
    pub freeze: Report,
}

/// The go/no-go region of a decision log: `Some(true)` for GO, `Some(false)`
/// for NO-GO, `None` when the log has none (not written by decision-log-commit).
fn go_region(text: &str) -> Option<(bool, String)> {
    let (_, range) = log::regions(text).into_iter().find(|(k, _)| k == "go-no-go")?;
    let body = &text[range];
    let inner: String = body.lines().filter(|l| !l.trim_start().starts_with("<!-- release-gate:")).collect::<Vec<_>>().join("\n");
    let inner = inner.trim().to_owned();
    Some((inner.starts_with("**GO**"), inner))
}

/// Decides from the facts alone: every rule is a check in the report.
pub fn judge(f: &Facts, policy: &LogPolicy, report: &mut Report) {
    let (log_path, log_text) = &f.log;
    let short = |c: &str| c.get(..12).unwrap_or(c).to_owned();

    // The decision log says GO, and what it records is about this commit.
    let recorded: BTreeMap<String, GateEntry> = log_text.as_deref().map(log::entries).unwrap_or_default();
    report.push(match log_text.as_deref() {
        None => Check::new(
            "decision-log",
            Status::Fail,
            format!("no decision log for release {} at `{log_path}`; run decision-log-commit for this release first", f.release),
        ),
        Some(text) if text.lines().next().is_none_or(|l| l.trim() != format!("# Release {} Decision Log", f.release)) => Check::new(
            "decision-log",
            Status::Fail,
            format!("`{log_path}` is not release {}'s decision log (its title says otherwise)", f.release),
        ),
        Some(text) => match go_region(text) {
            None => Check::new("decision-log", Status::Fail, format!("`{log_path}` has no go/no-go written by decision-log-commit")),
            Some((false, body)) => {
                let first: Vec<&str> = body.lines().skip(1).map(|l| l.trim().trim_start_matches("- ")).take(5).collect();
                Check::new("decision-log", Status::Fail, format!("`{log_path}` says NO-GO: {}", first.join("; ")))
            }
            Some((true, _)) => {
                let stale = decision_log_commit::blockers(policy, &recorded, &[], f.commit.as_deref());
                if stale.is_empty() {
                    Check::new(
                        "decision-log",
                        Status::Pass,
                        format!(
                            "`{log_path}` says GO{}",
                            f.commit
                                .as_deref()
                                .map(|c| format!(", with every required gate recorded on commit {}", short(c)))
                                .unwrap_or_default()
                        ),
                    )
                } else {
                    Check::new("decision-log", Status::Fail, format!("`{log_path}` says GO, but: {}", stale.join("; ")))
                }
            }
        },
    });

    // Every required gate's latest result on this commit.
    let mut refused = Vec::new();
    for key in &f.required {
        match f.gates.get(key) {
            Some(GateResult::Passed(_)) => {}
            Some(GateResult::Refused(why)) => refused.push(format!("{key}: {why}")),
            None => refused.push(format!("{key}: no result for this release")),
        }
    }
    let on = f.commit.as_deref().map(|c| format!(" on commit {}", short(c))).unwrap_or_default();
    report.push(if f.required.is_empty() {
        Check::new(
            "gates",
            Status::Fail,
            "no gate is required (deploy.required or decision-log-commit.required is empty): nothing was verified",
        )
    } else if refused.is_empty() {
        Check::new("gates", Status::Pass, format!("{} required gate(s) passed{on}: {}", f.required.len(), f.required.join(", ")))
    } else {
        Check::new(
            "gates",
            Status::Fail,
            format!("{} of {} required gate(s) did not pass{on}: {}", refused.len(), f.required.len(), refused.join("; ")),
        )
    });

    // The configuration deployed is the one the log recorded.
    let recorded_hashes = log_text.as_deref().map(release_gate_core::hashes::parse);
    report.push(match (&f.hashes, recorded_hashes) {
        (Hashed::Unreadable(why), _) => Check::new("config-hashes", Status::Fail, format!("the deployed configuration cannot be read: {why}")),
        (Hashed::ByConfigDiff(GateResult::Passed(url)), _) => Check::new(
            "config-hashes",
            Status::Pass,
            format!("config-diff compared the deployed configuration with the log's hashes on this commit ({url})"),
        ),
        (Hashed::ByConfigDiff(GateResult::Refused(why)), _) => {
            Check::new("config-hashes", Status::Fail, format!("config-diff did not pass on this commit: {why}"))
        }
        (Hashed::Computed(_), None) => Check::new("config-hashes", Status::Fail, "no decision log, so no recorded config hashes to compare"),
        (Hashed::Computed(_), Some(Err((line, m)))) => {
            Check::new("config-hashes", Status::Fail, format!("`{log_path}`:{line}: the recorded config hashes do not read: {m}"))
        }
        (Hashed::Computed(_), Some(Ok(None))) => {
            Check::new("config-hashes", Status::Fail, format!("`{log_path}` records no config hashes (runbook §7); run config-diff and decision-log-commit"))
        }
        (Hashed::Computed(now), Some(Ok(Some(then)))) => {
            let mut wrong: Vec<String> = Vec::new();
            for (k, v) in &then {
                match now.get(k) {
                    Some(n) if n == v => {}
                    Some(n) => wrong.push(format!("{k} is {n}, the log recorded {v}")),
                    None => wrong.push(format!("{k} is recorded but no longer deployed")),
                }
            }
            wrong.extend(now.keys().filter(|k| !then.contains_key(*k)).map(|k| format!("{k} is deployed but was never recorded")));
            if wrong.is_empty() {
                Check::new("config-hashes", Status::Pass, format!("the {} deployed config hash(es) equal the log's", now.len()))
            } else {
                Check::new(
                    "config-hashes",
                    Status::Fail,
                    format!("the configuration changed since the decision: {}; the release is invalid until config-diff and the log are re-run (runbook §7)", wrong.join("; ")),
                )
            }
        }
    });

    // The freeze rules, now.
    let failing: Vec<String> =
        f.freeze.checks.iter().filter(|c| c.status == Status::Fail).map(|c| format!("{}: {}", c.id, c.message)).collect();
    report.push(match f.freeze.verdict {
        Verdict::Pass => Check::new("freeze", Status::Pass, f.freeze.title.clone()),
        Verdict::Warn => Check::new("freeze", Status::Warn, f.freeze.title.clone()),
        Verdict::Fail => Check::new("freeze", Status::Fail, format!("{} ({})", f.freeze.title, failing.join("; "))),
    });
    if let Some(next) = f.freeze.outputs.get("next_window").filter(|n| !n.is_empty()) {
        report.output("next_window", next.clone());
    }
    if let Some(u) = &f.log_url {
        report.output("log_url", u.clone());
    }

    let refusals: Vec<&Check> = report.checks.iter().filter(|c| c.status == Status::Fail).collect();
    report.title = match refusals.as_slice() {
        [] => format!("Release {} may deploy{on}", f.release),
        [only] if only.id == "freeze" => match report.outputs.get("next_window") {
            Some(next) => format!("Release {} may not deploy now: {}; next safe start {next}", f.release, f.freeze.title),
            None => format!("Release {} may not deploy now: {}", f.release, f.freeze.title),
        },
        list => format!("Release {} may not deploy: {}", f.release, list.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ")),
    };
    let mut t = render::Table::new(&["gate", "latest result"]);
    for key in &f.required {
        let cell = match f.gates.get(key) {
            Some(GateResult::Passed(url)) => format!("{} {url}", render::mark(Status::Pass)),
            Some(GateResult::Refused(why)) => format!("{} {why}", render::mark(Status::Fail)),
            None => format!("{} no result", render::mark(Status::Fail)),
        };
        t.row([render::code(key), cell]);
    }
    report.details.push(Section { title: "Required gates".into(), markdown: t.finish() });
}

/// The keys required for a deploy.
pub fn required(deploy: &DeployPolicy, log: &LogPolicy) -> Vec<String> {
    deploy.required.clone().unwrap_or_else(|| log.required.clone())
}

/// A report's result as the deploy sees it.
fn result_of(r: &Report, shown: &str) -> GateResult {
    let decision = r.outputs.get("decision");
    match (r.verdict, decision.map(String::as_str)) {
        (Verdict::Fail, _) => GateResult::Refused(format!("failed: {} ({shown})", r.title)),
        (_, Some(d)) if d != "promote" => GateResult::Refused(format!("decided {d}: {} ({shown})", r.title)),
        _ => GateResult::Passed(shown.to_owned()),
    }
}

/// The required gates' results from check runs that count on `commit`.
pub fn from_check_runs(required: &[String], runs: &CheckRuns) -> BTreeMap<String, GateResult> {
    let mut out = BTreeMap::new();
    for key in required {
        let (gate, stage) = report::split_key(key);
        let name = report::check_name(gate, stage);
        let result = match (runs.counting.get(&name), runs.refused.get(&name)) {
            (Some(c), _) if c.passed() => GateResult::Passed(if c.url.is_empty() { c.conclusion.clone() } else { c.url.clone() }),
            (Some(c), _) => GateResult::Refused(format!("`{name}` concluded {} {}", c.conclusion, c.url)),
            (None, Some(why)) => GateResult::Refused(format!("`{name}` does not count: {why}")),
            (None, None) => GateResult::Refused(format!("no `{name}` check run on this commit")),
        };
        out.insert(key.clone(), result);
    }
    out
}

/// The facts from a checkout: the log and reports on disk, the
/// configuration's hashes computed, check runs when online.
pub fn facts_local(run: &Run<DeployPolicy>, freeze: Report) -> anyhow::Result<Facts> {
    let log_policy: LogPolicy = run.section()?;
    let config_policy: config_diff::ConfigDiffPolicy = run.section()?;
    let required = required(&run.policy.section, &log_policy);
    let log_rel = log_policy.log.replace("{release}", &run.release);
    let commit = run.ctx.sha.clone().filter(|_| run.github().is_some());
    // Online, the log on the branch being deployed (an earlier job may have
    // committed it through the API); offline, the checkout's.
    let (log_text, log_url) = match (run.github(), &commit) {
        (Some(gh), Some(sha)) => {
            let at = run.ctx.ref_name.clone().unwrap_or_else(|| sha.clone());
            let path = run.root.repository_path(&log_rel, "decision log")?;
            let text = match run.block_on(gh.file(&path, &at))? {
                Some(c) => Some(release_gate_core::paths::utf8(c.bytes, Path::new(&log_rel), "decision log")?),
                None => None,
            };
            let url = format!("{}/{}/{}/blob/{}/{path}", run.ctx.server_url, gh.owner, gh.repo, at);
            (text, Some(url))
        }
        _ => (run.root.read_text_if_present(&log_rel, "decision log")?, None),
    };
    let gates = match (run.github(), &commit) {
        (Some(gh), Some(sha)) => from_check_runs(&required, &run.block_on(release_gate_core::evidence::by_name(gh, sha, &run.trust()))?),
        _ => {
            let dir = run.report_dir()?;
            let mut out = BTreeMap::new();
            for key in &required {
                let path = dir.join(format!("{key}.json"));
                let shown = path.strip_prefix(run.root.real()).unwrap_or(&path).display().to_string();
                let result = match run.root.file(&path, "report") {
                    Ok(file) => result_of(&Report::read(&file)?, &shown),
                    Err(e) if e.is_not_found() => GateResult::Refused(format!("no report at `{shown}`")),
                    Err(e) => return Err(e.into()),
                };
                out.insert(key.clone(), result);
            }
            out
        }
    };
    let hashes = match config_diff::applied_hashes(&run.root, &config_policy, &run.release) {
        Ok(h) => Hashed::Computed(h),
        Err(e) => Hashed::Unreadable(release_gate_core::error::describe(&e)),
    };
    Ok(Facts { release: run.release.clone(), commit, log: (log_rel, log_text), log_url, required, gates, hashes, freeze })
}

/// freeze-check's rules evaluated at `now`, into a report of their own;
/// calendars and the roster are read through `read`.
pub fn freeze_at(
    policy: &freeze_check::policy::FreezePolicy,
    display_timezone: &str,
    release: &str,
    now: jiff::Timestamp,
    read: &dyn Fn(&Path, &str) -> anyhow::Result<String>,
    pr: Option<freeze_check::scope::PullFacts>,
) -> anyhow::Result<Report> {
    let input = freeze_check::inputs(policy, display_timezone, read, now, pr)?;
    let mut report = Report::new("freeze-check", release, now, None);
    freeze_check::evaluate(policy, release, &input, &mut report);
    Ok(report)
}

/// The merged pull request a commit came from, as freeze-check's emergency
/// rule reads it: a deploy in a freeze needs the emergency approval on it.
pub async fn merged_pull(
    gh: &release_gate_core::github::GitHub,
    sha: &str,
    policy: &freeze_check::policy::FreezePolicy,
) -> anyhow::Result<Option<freeze_check::scope::PullFacts>> {
    // A token that cannot list pull requests leaves no emergency to grant
    // (the freeze then refuses); only an unreachable GitHub is an error.
    let found = match gh.pulls_for_commit(sha).await {
        Ok(list) => list.into_iter().find(|p| p.merged_at.is_some()),
        Err(e) if e.is_unreachable() => return Err(e.into()),
        Err(_) => None,
    };
    let Some(found) = found else { return Ok(None) };
    let pr = match gh.pull(found.number).await {
        Ok(pr) => pr,
        Err(e) if e.is_unreachable() => return Err(e.into()),
        Err(_) => return Ok(None),
    };
    Ok(Some(freeze_check::pull_facts(Some(gh), &pr, policy).await?))
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
    let pr = match (run.github(), &run.ctx.sha) {
        (Some(gh), Some(sha)) => run.block_on(merged_pull(gh, sha, &freeze_policy))?,
        _ => None,
    };
    let read = |p: &Path, what: &str| Ok(run.root.read_text(p, what)?);
    let freeze = freeze_at(&freeze_policy, &run.policy.reporting.display_timezone, &run.release, run.now, &read, pr)?;
    let facts = facts_local(&run, freeze)?;
    let mut report = run.new_report();
    judge(&facts, &log_policy, &mut report);
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

/// What a deployment protection rule is asked about, and what it trusts.
#[derive(Debug, Clone)]
pub struct Asked {
    /// The policy file's text on the default branch (`None`: built-in defaults).
    pub policy_text: Option<String>,
    /// The policy's path, for messages.
    pub policy_path: String,
    /// The default branch: where the policy, calendars and roster are read.
    pub default_branch: String,
    /// The release.
    pub release: String,
    /// The commit to deploy.
    pub sha: String,
    /// The web base URL, for links.
    pub server_url: String,
    /// The instant evaluated.
    pub now: jiff::Timestamp,
    /// The waiting workflow run's file: trusted by default, like a gate's own workflow.
    pub workflow: Option<String>,
}

/// The facts through the API alone, for a deployment protection rule: the
/// log at the commit, the check runs that count on it, config-diff's result
/// on it standing for the hashes (there is no checkout to hash), freeze-check now.
pub async fn facts_remote(gh: &release_gate_core::github::GitHub, a: &Asked) -> anyhow::Result<(Facts, LogPolicy)> {
    use release_gate_core::policy::from_text;
    let path = Path::new(&a.policy_path);
    let deploy = from_text::<DeployPolicy>(a.policy_text.as_deref(), path)?;
    let log_policy = from_text::<LogPolicy>(a.policy_text.as_deref(), path)?.section;
    let freeze = from_text::<freeze_check::policy::FreezePolicy>(a.policy_text.as_deref(), path)?;
    let required = required(&deploy.section, &log_policy);
    let log_rel = log_policy.log.replace("{release}", &a.release);
    let log_text = match gh.file(&log_rel, &a.sha).await? {
        Some(c) => Some(release_gate_core::paths::utf8(c.bytes, Path::new(&log_rel), "decision log")?),
        None => None,
    };
    let log_url = Some(format!("{}/{}/{}/blob/{}/{log_rel}", a.server_url, gh.owner, gh.repo, a.sha));
    let mut workflows = deploy.evaluation.trusted_workflows.clone();
    if workflows.is_empty() {
        workflows.extend(a.workflow.clone());
    }
    let trust = release_gate_core::evidence::Trust { apps: deploy.evaluation.trusted_apps.clone(), workflows };
    let runs = release_gate_core::evidence::by_name(gh, &a.sha, &trust).await?;
    let gates = from_check_runs(&required, &runs);
    let config =
        from_check_runs(&["config-diff".to_owned()], &runs).remove("config-diff").unwrap_or(GateResult::Refused("no result".into()));
    // Calendars and the roster from the default branch, read before the (synchronous) rules run.
    let mut files = BTreeMap::new();
    for p in freeze_check::files_read(&freeze.section) {
        let shown = p.display().to_string();
        let text = match gh.file(&shown, &a.default_branch).await? {
            Some(c) => Ok(release_gate_core::paths::utf8(c.bytes, &p, "freeze-check file")?),
            None => Err(format!("`{shown}` is not on {}", a.default_branch)),
        };
        files.insert(p, text);
    }
    let read = |p: &Path, what: &str| -> anyhow::Result<String> {
        match files.get(p) {
            Some(Ok(t)) => Ok(t.clone()),
            Some(Err(e)) => anyhow::bail!("{what}: {e}"),
            None => anyhow::bail!("{what}: `{}` was not read", p.display()),
        }
    };
    let pr = merged_pull(gh, &a.sha, &freeze.section).await?;
    let freeze_report = freeze_at(&freeze.section, &freeze.reporting.display_timezone, &a.release, a.now, &read, pr)?;
    let facts = Facts {
        release: a.release.clone(),
        commit: Some(a.sha.clone()),
        log: (log_rel, log_text),
        log_url,
        required,
        gates,
        hashes: Hashed::ByConfigDiff(config),
        freeze: freeze_report,
    };
    Ok((facts, log_policy))
}

/// The release a deployment's ref names, by the policy's patterns
/// (`deploy.release-refs`): `release/2.4.0` → `2.4.0`.
pub fn release_from_ref(patterns: &[String], git_ref: &str) -> Option<String> {
    release_gate_core::release::from_ref(patterns, git_ref)
}
