//! release-guard: the runbook after the deploy (§4.3, §5, §6, §10).
//!
//! During and at the end of the guard period (60 minutes from the
//! production deploy, as the release's lifecycle recorded it once) it
//! judges production metrics with the canary's rules, over the whole guard
//! and every rolling window ([`release_gate_metrics`]), and every incident
//! whose open interval touches the guard ([`incidents`]); an incident pauses
//! the pipeline (the continuous-deployment workflows are disabled when the
//! policy names them, and `release-guard resume`, by a named approver, once
//! no rollback trigger stands, enables them again); a rollback trigger plans,
//! or carries out, the rollback procedure to the last known good release
//! ([`procedure`]); at the end, with metrics read and stable, no Sev-2+
//! incident during the guard, every earlier stage promoted and an ADR for an
//! architecture change, it records the success verdict. Each decision moves
//! the release's lifecycle in the decision log and is mirrored in the
//! guard's check run. [`judge`] decides from the facts alone, [`observe`]
//! reads them, and [`run`] wires the two together and acts.

pub mod http;
pub mod incidents;
pub mod judge;
pub mod observe;
pub mod policy;
pub mod procedure;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use release_gate_core::cli::CommonArgs;
use release_gate_core::context::Context;
use release_gate_core::decision_log::{State, Transition, save};
use release_gate_core::deviation::{Floor, Granted};
use release_gate_core::policy::GateSection;
use release_gate_core::report::data::{self, GuardIncident, Step};
use release_gate_core::report::{Check, Report, Section, Status, Verdict, rfc3339};
use release_gate_core::{Run, render};
use release_gate_metrics::{Fetcher, Findings, Limits, Origin, judge_metrics};
use serde::Deserialize;

use crate::http::Http;
use crate::incidents::Incident;
use crate::judge::{Decision, Facts};
use crate::policy::GuardPolicy;
use crate::procedure::Tools;

/// Watch the release in production for the guard period: metrics,
/// incidents, rollback triggers; pause, plan or carry out the rollback;
/// record the success verdict.
#[derive(Debug, Parser)]
#[command(name = "release-guard", version, max_term_width = 100, after_help = release_gate_core::cli::after_help(&[("judge the first hour after the deploy", "release-guard --release 2.4.0"), ("poll until the guard ends (one job)", "release-guard --release 2.4.0 --watch --interval 5m"), ("print the rollback plan without acting", "release-guard --release 2.4.0 --plan-only"), ("resume a paused release", "release-guard --release 2.4.1 resume --reason \"INC-7 resolved, latency back to baseline\"")]))]
pub struct Args {
    /// When the production deploy happened (RFC 3339), when the release's
    /// lifecycle records none [default: the lifecycle's deploy (recorded by
    /// deploy-check or serve), else the environment's deployment (online)].
    #[arg(long, env = "RELEASE_GATE_DEPLOYED_AT", value_name = "RFC3339")]
    pub deployed_at: Option<String>,

    /// The environment deployed to: its deployment's status is set when the guard decides.
    #[arg(long, env = "RELEASE_GATE_ENVIRONMENT", value_name = "NAME")]
    pub environment: Option<String>,

    /// Declare a security or compliance breach (a rollback trigger).
    #[arg(long, env = "RELEASE_GATE_BREACH", value_name = "WHAT")]
    pub breach: Option<String>,

    /// Files the release changed, one per line, or `git diff --name-status` output [default: `git diff --name-status` from the last known-good release's tag].
    #[arg(long, env = "RELEASE_GATE_CHANGED_FILES", value_name = "PATH")]
    pub changed_files: Option<PathBuf>,

    /// Plan the rollback without carrying it out, even when the policy automates it.
    #[arg(long, env = "RELEASE_GATE_PLAN_ONLY")]
    pub plan_only: bool,

    /// Open the retrospective issue (once per release), as `retrospective-issue: true` does.
    #[arg(long, env = "RELEASE_GATE_OPEN_RETROSPECTIVE")]
    pub open_retrospective: bool,

    /// Keep watching inside this job until the guard ends, judging every
    /// `--interval`; stop as soon as the release must pause or roll back.
    #[arg(long, env = "RELEASE_GATE_WATCH")]
    pub watch: bool,

    /// How often `--watch` judges (e.g. `5m`).
    #[arg(long, env = "RELEASE_GATE_INTERVAL", value_name = "DURATION", default_value = "5m")]
    pub interval: String,

    /// Flags every gate shares (listed after the gate's own).
    #[command(flatten)]
    pub common: CommonArgs,

    #[command(subcommand)]
    pub action: Option<Action>,
}

/// What else the guard can do.
#[derive(Debug, Clone, Subcommand)]
pub enum Action {
    /// Let a paused (or rolled-back) release move on: only a named approver
    /// (release-guard.resume.approvers), with no incident open, metrics
    /// stable and no rollback trigger standing; the resume is recorded in
    /// the lifecycle with who and why, and the paused workflows run again.
    Resume {
        /// Why it may resume (recorded).
        #[arg(long, env = "RELEASE_GATE_RESUME_REASON", value_name = "WHY")]
        reason: Option<String>,
        /// Who resumes, offline (online it is the workflow run's actor).
        #[arg(long, env = "RELEASE_GATE_APPROVER", value_name = "LOGIN")]
        approver: Option<String>,
    },
}

impl Args {
    /// A local run's flags (`release-gate run`): the deploy at `deployed_at`, nothing from the environment.
    pub fn local(common: CommonArgs, deployed_at: Option<String>) -> Self {
        Self {
            common,
            deployed_at,
            environment: None,
            breach: None,
            changed_files: None,
            plan_only: true,
            open_retrospective: false,
            watch: false,
            interval: "5m".into(),
            action: None,
        }
    }
}

impl release_gate_core::gate::Gate for Args {
    const NAME: &'static str = "release-guard";

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn run(self, ctx: Context) -> anyhow::Result<Verdict> {
        run(self, ctx)
    }
}

/// What the guard reads of decision-log-commit's section: the smoke
/// stages it requires, where the log is and the branch it is committed to.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
struct LogSection {
    required: Vec<String>,
    log: String,
    branch: Option<String>,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            required: ["smoke-gate-smoke", "smoke-gate-fast-suite", "smoke-gate-canary"].iter().map(|s| (*s).to_owned()).collect(),
            log: "reports/release-decisions/{release}.md".into(),
            branch: None,
        }
    }
}

impl GateSection for LogSection {
    const NAME: &'static str = "decision-log-commit";
}

/// The runbook's minimums the policy may not go beyond without a signed deviation.
pub fn floors(policy: &GuardPolicy) -> Vec<Floor> {
    let mut out = vec![
        Floor {
            setting: "release-guard.guard".into(),
            value: format!("{:#}", policy.guard.0),
            within: policy.guard.0 >= jiff::SignedDuration::from_mins(60),
            runbook: "the runbook's 60 minutes in production (§4.3)".into(),
        },
        Floor {
            setting: "release-guard.critical-deviation".into(),
            value: policy.critical_deviation.to_string(),
            within: policy.critical_deviation <= 10.0,
            runbook: "the runbook's 10 % for a critical KPI (§6)".into(),
        },
    ];
    out.push(Floor {
        setting: "release-guard.tolerance".into(),
        value: policy.tolerance.to_string(),
        within: policy.tolerance <= 5.0 && policy.tolerance <= policy.critical_deviation,
        runbook:
            "the runbook's ±5 % of baseline (§4.3), and never wider than critical-deviation (a wider tolerance hides a critical breach)"
                .into(),
    });
    out.push(Floor {
        setting: "release-guard.incidents.look-back".into(),
        value: format!("{:#}", policy.incidents.look_back.0),
        within: policy.incidents.look_back.0 >= jiff::SignedDuration::from_hours(24),
        runbook: "24 hours before the deploy, so an incident open across it is seen (§5)".into(),
    });
    if let Some(m) = &policy.metrics {
        let secs = |d: &str| release_gate_metrics::series::duration_s(d);
        for spec in m.metrics.iter().filter(|s| s.tolerance.is_some()) {
            let t = spec.tolerance.unwrap_or_default();
            out.push(Floor {
                setting: format!("release-guard.metrics.metrics[{}].tolerance", spec.name),
                value: t.to_string(),
                within: t <= 5.0 && t <= policy.critical_deviation,
                runbook: "the runbook's ±5 % of baseline (§4.3)".into(),
            });
        }
        out.push(Floor {
            setting: "release-guard.metrics.coverage".into(),
            value: m.coverage.to_string(),
            within: m.coverage >= release_gate_metrics::default_coverage(),
            runbook: "90 % of the guard's sample slots filled: a guard judged on a few samples has not watched the hour".into(),
        });
        out.push(Floor {
            setting: "release-guard.metrics.max-gap".into(),
            value: m.max_gap.to_string(),
            within: m.max_gap <= release_gate_metrics::default_max_gap(),
            runbook: "no hole longer than 2 steps in the guard's series".into(),
        });
        out.push(Floor {
            setting: "release-guard.metrics.rolling".into(),
            value: m.rolling.clone(),
            within: secs(&m.rolling).is_some_and(|r| r <= 300.0),
            runbook: "5-minute rolling windows, so a spike is not averaged away over the hour".into(),
        });
        if let Some(step) = &m.step {
            out.push(Floor {
                setting: "release-guard.metrics.step".into(),
                value: step.clone(),
                within: secs(step).is_some_and(|s| s <= 60.0),
                runbook: "a sample a minute at least, so each minute of the guard is read".into(),
            });
        }
    }
    if let Some(b) = policy.metrics.as_ref().and_then(|m| m.error_budget.as_ref()) {
        out.push(Floor {
            setting: "release-guard.metrics.error-budget.max-consumption".into(),
            value: b.max_consumption.to_string(),
            within: b.max_consumption <= 5.0,
            runbook: "the runbook's 5 % of the error budget (§6)".into(),
        });
    }
    out
}

/// One judgement of the guard at an instant.
struct Judged {
    decision: Decision,
    checks: Vec<Check>,
    triggers: Vec<String>,
    incidents: Vec<Incident>,
    metrics_report: Report,
}

/// Everything fixed for a run: the deploy, the log, the deviations.
struct Setup {
    policy: GuardPolicy,
    section: LogSection,
    log: observe::Log,
    deployed_at: jiff::Timestamp,
    deploy_from: String,
    record_deploy: bool,
    guard_ends: jiff::Timestamp,
    deviations: Vec<Granted>,
    previous: Option<String>,
}

fn setup(run: &Run<GuardPolicy>, args: &Args) -> anyhow::Result<Setup> {
    let policy = run.policy.section.clone();
    let section: LogSection = run.section()?;
    let log_rel = section.log.replace("{release}", &run.release);
    let log = observe::log(run, &log_rel, section.branch.as_deref())?;
    let deviations =
        release_gate_core::deviation::grant(&run.root, &run.policy.evaluation.deviations, &run.release, run.now, &floors(&policy))?;
    let (deployed_at, deploy_from, record_deploy) = observe::deployed_at(run, args, &log.lifecycle)?;
    let guard_ends = deployed_at.checked_add(policy.guard.0).context("the guard period is too long")?;
    let previous = procedure::previous_release(&run.root, &policy.logs, &run.release)?;
    Ok(Setup { policy, section, log, deployed_at, deploy_from, record_deploy, guard_ends, deviations, previous })
}

/// Judges the guard at `now`.
fn judge_at(run: &Run<GuardPolicy>, args: &Args, s: &Setup, http: &Http, now: jiff::Timestamp) -> anyhow::Result<Judged> {
    let policy = &s.policy;
    let since = s.deployed_at.checked_sub(policy.incidents.look_back.0).unwrap_or(s.deployed_at);
    let incidents = observe::incidents(run, policy, http, since, now)?;
    let mut metrics_report = Report::new("release-guard", &run.release, now, None);
    // Production metrics over the guard window so far; none configured is no reading at all.
    let metrics = match policy.metrics.as_ref().filter(|m| !m.metrics.is_empty() || m.error_budget.is_some()) {
        None => None,
        Some(cfg) => {
            let end = now.min(s.guard_ends).as_millisecond() as f64 / 1000.0;
            let start = s.deployed_at.as_millisecond() as f64 / 1000.0;
            let fetcher = Fetcher::open(
                cfg,
                &run.release,
                end - start,
                &run.root,
                Origin { section: "release-guard.metrics", what: "production's series" },
            )?;
            let mut findings = Findings::default();
            let limits = Limits { tolerance: policy.tolerance, critical_deviation: policy.critical_deviation };
            judge_metrics(&mut metrics_report, &mut findings, cfg, limits, start, end, fetcher.step(), &|q| fetcher.fetch(q, start, end));
            Some(findings)
        }
    };
    // The latest resume of a pause (a resumed rollback goes back to GO, not watching).
    let resumed_at = s.log.lifecycle.resumes().filter(|t| t.to == State::Watching).map(Transition::instant).last();
    let facts = Facts {
        deployed_at: s.deployed_at,
        guard_ends: s.guard_ends,
        now,
        incidents: incidents.clone(),
        resumed_at,
        metrics,
        deviations: s.deviations.clone(),
        migration: observe::migration(run, policy)?,
        breach: observe::breach(run, policy, args)?,
        security_types: policy.incidents.security_types.clone(),
        blocking_severity: policy.incidents.blocking_severity,
        stages: {
            let keys = s.section.required.iter().filter(|k| k.starts_with("smoke-gate-")).cloned().collect();
            observe::stages(run, keys, &run.report_dir()?)?
        },
        architecture: observe::architecture(run, policy, args, s.previous.as_deref())?,
    };
    let (decision, mut checks, triggers) = judge::judge(&facts);
    let in_guard: Vec<Incident> = facts.in_guard().into_iter().cloned().collect();
    // The lifecycle has the last word on a release the guard already stopped.
    let decision = match s.log.lifecycle.state() {
        Some(State::Paused) if !matches!(decision, Decision::Rollback | Decision::Pause) => {
            checks.push(Check::new(
                "lifecycle",
                Status::Fail,
                format!(
                    "the release is paused since {}: it moves on only when `release-guard resume` records a resume",
                    s.log.lifecycle.last().map(|t| t.at.as_str()).unwrap_or_default()
                ),
            ));
            Decision::Pause
        }
        Some(State::RolledBack) => {
            checks.push(Check::new(
                "lifecycle",
                Status::Fail,
                format!(
                    "the release was rolled back at {}; it may deploy again once `release-guard resume` records a resume",
                    s.log.lifecycle.last().map(|t| t.at.as_str()).unwrap_or_default()
                ),
            ));
            Decision::Rollback
        }
        _ => decision,
    };
    Ok(Judged { decision, checks, triggers, incidents: in_guard, metrics_report })
}

/// Gathers the facts, judges, acts as the policy allows, and publishes.
pub fn run(args: Args, ctx: Context) -> anyhow::Result<Verdict> {
    let run = Run::<GuardPolicy>::start("release-guard", args.common.clone(), ctx)?;
    if let Some(Action::Resume { reason, approver }) = args.action.clone() {
        return resume(run, &args, reason, approver);
    }
    anyhow::ensure!(!(args.watch && run.dry_run), "--watch follows the clock; it cannot watch as if at another time (--now)");
    let s = setup(&run, &args)?;
    let http = Http::new(run.ctx.retry);
    let mut now = run.now;
    let mut lines: Vec<String> = Vec::new();
    let interval = release_gate_core::policy::duration(&args.interval)
        .filter(|d| d.as_secs() >= 1)
        .with_context(|| format!("--interval {:?} is not a duration such as 5m", args.interval))?;
    let judged = loop {
        let j = judge_at(&run, &args, &s, &http, now)?;
        let worst =
            j.metrics_report.checks.iter().find(|c| c.message.contains("worst")).map(|c| format!("; {}", c.message)).unwrap_or_default();
        lines.push(format!("{} {}: {} incident(s) touching the guard{worst}", rfc3339(now), j.decision.as_str(), j.incidents.len()));
        let stop = !args.watch || now >= s.guard_ends || matches!(j.decision, Decision::Pause | Decision::Rollback);
        if stop {
            break j;
        }
        // Sleep until the next judgement, or the guard's end.
        let next = now.checked_add(interval).unwrap_or(s.guard_ends).min(s.guard_ends);
        std::thread::sleep(std::time::Duration::from_millis(next.duration_since(now).as_millis().max(0) as u64));
        now = jiff::Timestamp::now().max(next);
    };
    let Judged { decision, checks, triggers, incidents, metrics_report } = judged;
    let mut report = run.new_report();
    report.generated_at = rfc3339(now);
    for c in metrics_report.checks {
        report.push(c);
    }
    report.details.extend(metrics_report.details);
    for c in checks {
        report.push(c);
    }
    report.push(Check::new("deploy", Status::Pass, format!("deployed at {} ({})", s.deployed_at, s.deploy_from)));
    let policy = &s.policy;
    let act = run.github().is_some() && !run.dry_run;
    let tools = Tools {
        http: &http,
        github: run.github(),
        webhook: observe::secret(&policy.rollback.channel_webhook_env),
        routing_key: observe::secret(&policy.rollback.routing_key_env),
        act,
    };
    let mut procedure = Vec::new();
    let mut workflows = Vec::new();
    match decision {
        Decision::Rollback if s.log.lifecycle.state() != Some(State::RolledBack) => {
            let automate = Tools { act: act && policy.rollback.automate && !args.plan_only, ..tools.clone() };
            procedure = run.block_on(procedure::rollback(policy, &run.release, s.previous.as_deref(), &triggers, &automate, true));
            report.push(Check::new("rollback", Status::Fail, format!("rollback required: {}", triggers.join("; "))));
        }
        Decision::Pause => {
            if policy.pause {
                let step = run.block_on(procedure::set_workflows(&policy.pause_workflows, false, &tools, "pause continuous deployment"));
                if step.state == "done" {
                    workflows.clone_from(&policy.pause_workflows);
                }
                procedure.push(step);
            }
            // The plan, ready should the incident call for a rollback; nothing of it is carried out,
            // and the workflows the pause disabled are not listed twice.
            let plan = Tools { act: false, ..tools.clone() };
            let why = ["the incident(s), should they call for a rollback".to_owned()];
            procedure.extend(run.block_on(procedure::rollback(policy, &run.release, s.previous.as_deref(), &why, &plan, !policy.pause)));
        }
        _ => {}
    }
    if args.watch {
        let mut t = render::Table::new(&["judged at", "decision"]);
        for l in &lines {
            let (at, rest) = l.split_once(' ').unwrap_or((l, ""));
            t.row([at.to_owned(), rest.to_owned()]);
        }
        report.details.push(Section { title: format!("Watched every {}: a line per judgement", args.interval), markdown: t.finish() });
    }
    report.push(record_lifecycle(&run, &s, decision, &triggers, now));
    let retrospective_due = rfc3339(s.deployed_at.checked_add(jiff::SignedDuration::from_hours(48)).unwrap_or(s.deployed_at));
    let mut retrospective_issue = None;
    if (args.open_retrospective || policy.retrospective_issue)
        && matches!(decision, Decision::Success | Decision::Rollback | Decision::Blocked | Decision::Pause)
        && let Some(gh) = run.github().filter(|_| !run.dry_run)
    {
        retrospective_issue =
            Some(run.block_on(open_retrospective(gh, &run.release, &retrospective_due, decision, &policy.retrospective_assignees))?);
    }
    finish(
        run,
        &args,
        report,
        Outcome {
            decision,
            deployed_at: s.deployed_at,
            guard_ends: s.guard_ends,
            incidents,
            triggers,
            procedure,
            workflows,
            previous: s.previous.clone(),
            retrospective_due,
            retrospective_issue,
        },
    )
}

/// The label the retrospective issues carry (one per release).
const RETRO_LABEL: &str = "release-retrospective";

/// Opens the release's retrospective issue (§10), or finds the one opened already.
async fn open_retrospective(
    gh: &release_gate_core::github::GitHub,
    release: &str,
    due: &str,
    decision: Decision,
    assignees: &[String],
) -> Result<String, release_gate_core::github::ApiError> {
    let title = format!("Retrospective: release {release}");
    if let Some((_, url)) = gh.issues_labelled(RETRO_LABEL).await?.into_iter().find(|(t, _)| *t == title) {
        return Ok(url);
    }
    let body = format!(
        "Release {release} retrospective (runbook §10), due by {due}: automation gaps, rollback drills, config change governance.\n\nGuard decision: {}.",
        decision.as_str()
    );
    gh.create_issue(&title, &body, assignees, &[RETRO_LABEL]).await
}

/// Moves the release's lifecycle to what the guard decided (the deploy
/// first, when nothing recorded it yet), in the decision log; a dry run in
/// Actions or online moves nothing.
fn record_lifecycle(run: &Run<GuardPolicy>, s: &Setup, decision: Decision, triggers: &[String], now: jiff::Timestamp) -> Check {
    if run.published_dry_run() {
        return Check::new("lifecycle-recorded", Status::Skip, "a dry run moves no release's lifecycle");
    }
    let via = run.transition(State::Watching, "").via;
    let mut moves = Vec::new();
    if s.record_deploy {
        moves.push(Transition {
            to: State::Deployed,
            at: rfc3339(s.deployed_at),
            by: run.ctx.actor.clone().unwrap_or_else(|| "local".into()),
            via: format!("{via}, from {}", s.deploy_from),
            commit: run.commit.clone(),
            why: "the production deploy, as the guard was told it".into(),
        });
    }
    let mut state = if s.record_deploy { Some(State::Deployed) } else { s.log.lifecycle.state() };
    let mut push = |to: State, why: &str| {
        // Out of a pause only `resume` moves the release: the guard run again watches nothing new.
        let resumes = release_gate_core::decision_log::lifecycle::is_resume(state, to);
        if state != Some(to) && !resumes && State::allows(state, to) {
            moves.push(Transition { at: rfc3339(now), why: why.to_owned(), ..run.transition(to, why) });
            state = Some(to);
        }
    };
    push(State::Watching, "the post-release guard watches the release in production");
    match decision {
        Decision::Pause => push(State::Paused, "an incident touched the guard period: the pipeline is paused (§4.3)"),
        // The triggers are recorded: `resume` reads them (a breach never resumes).
        Decision::Rollback => push(State::RolledBack, &format!("a rollback trigger (§6): {}", triggers.join("; "))),
        Decision::Success => push(State::Succeeded, "the guard ended with metrics stable and no Sev-2+ incident (§5)"),
        _ => {}
    }
    if moves.is_empty() {
        return Check::new(
            "lifecycle-recorded",
            Status::Pass,
            format!("the release's lifecycle is {} already", state.map(|s| s.to_string()).unwrap_or_default()),
        );
    }
    let shown = moves.iter().map(|m| m.to.to_string()).collect::<Vec<_>>().join(" → ");
    let r = save::Recorder { release: &run.release, shown: &s.log.path };
    let outcome: anyhow::Result<()> = match run.github() {
        Some(gh) => (|| {
            let path = run.root.repository_path(&s.log.path, "decision log")?;
            let message = format!("Release {}: {shown} (decision log lifecycle)", run.release);
            let target = save::Target { path: &path, branch: &s.log.branch, message: &message, max_attempts: 20 };
            for m in &moves {
                run.block_on(save::record(gh, &target, &r, m))?;
            }
            Ok(())
        })(),
        None => moves.iter().try_for_each(|m| save::record_local(&run.root, &s.log.path, &r, m).map(drop)),
    };
    match outcome {
        Ok(()) => Check::new("lifecycle-recorded", Status::Pass, format!("recorded in the release's lifecycle: {shown}")),
        Err(e) => Check::new(
            "lifecycle-recorded",
            Status::Fail,
            format!("the lifecycle could not be recorded ({shown}): {}", release_gate_core::error::describe(e.as_ref())),
        ),
    }
}

/// Everything the report says.
struct Outcome {
    decision: Decision,
    deployed_at: jiff::Timestamp,
    guard_ends: jiff::Timestamp,
    incidents: Vec<Incident>,
    triggers: Vec<String>,
    procedure: Vec<Step>,
    workflows: Vec<String>,
    previous: Option<String>,
    retrospective_due: String,
    retrospective_issue: Option<String>,
}

fn finish(run: Run<GuardPolicy>, args: &Args, mut report: Report, o: Outcome) -> anyhow::Result<Verdict> {
    let release = &run.release;
    report.title = match o.decision {
        Decision::Watching => format!("Release {release}: guarding until {}, nothing wrong so far", rfc3339(o.guard_ends)),
        Decision::Success => format!("Release {release}: SUCCESS — the guard ended with metrics stable and no Sev-2+ incident"),
        Decision::Pause => format!("Release {release}: pipeline PAUSED — {} incident(s) touched the guard", o.incidents.len()),
        Decision::Rollback => format!(
            "Release {release}: ROLLBACK{} — {}",
            o.previous.as_deref().map(|p| format!(" to {p}")).unwrap_or_default(),
            o.triggers.first().cloned().unwrap_or_else(|| "rolled back".into())
        ),
        Decision::Blocked => format!("Release {release}: success blocked — {}", failing(&report)),
        Decision::Hold => format!("Release {release}: hold — production metrics are not within tolerance"),
    };
    report.output("decision", o.decision.as_str());
    report.output("guard_ends", rfc3339(o.guard_ends));
    report.output("previous_release", o.previous.clone().unwrap_or_default());
    if !o.incidents.is_empty() {
        let mut t = render::Table::new(&["incident", "status", "severity", "raised", "resolved"]);
        for i in &o.incidents {
            t.row([
                if i.url.is_empty() { format!("#{} {}", i.number, i.title) } else { format!("[#{} {}]({})", i.number, i.title, i.url) },
                i.status.clone(),
                format!("Sev-{} ({})", i.severity, i.severity_from),
                rfc3339(i.created_at),
                i.resolved_at.map_or_else(|| "—".to_owned(), rfc3339),
            ]);
        }
        report.details.push(Section { title: "Incidents touching the guard period".into(), markdown: t.finish() });
    }
    if !o.procedure.is_empty() {
        let mut t = render::Table::new(&["step", "state", "detail"]);
        for (n, s) in o.procedure.iter().enumerate() {
            t.row([format!("{}. {}", n + 1, s.what), s.state.clone(), s.detail.clone()]);
        }
        let title = if o.decision == Decision::Rollback { "Rollback procedure (runbook §6)" } else { "Pause" };
        report.details.push(Section { title: title.into(), markdown: t.finish() });
    }
    report.set_data(&data::ReleaseGuard {
        decision: o.decision.as_str().to_owned(),
        deployed_at: rfc3339(o.deployed_at),
        guard_ends: rfc3339(o.guard_ends),
        incidents: o
            .incidents
            .iter()
            .map(|i| GuardIncident {
                number: i.number,
                title: i.title.clone(),
                status: i.status.clone(),
                severity: i.severity,
                url: i.url.clone(),
            })
            .collect(),
        rollback_triggers: o.triggers,
        procedure: o.procedure,
        workflows: o.workflows,
        previous_release: o.previous,
        retrospective_due: o.retrospective_due,
        retrospective_issue: o.retrospective_issue,
    });
    deployment_status(&run, args, &report, o.decision)?;
    run.finish(report)
}

/// The failing checks' ids.
fn failing(report: &Report) -> String {
    report.checks.iter().filter(|c| c.status == Status::Fail).map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ")
}

/// Sets the deployment's status when the guard has decided (success or failure).
fn deployment_status(run: &Run<GuardPolicy>, args: &Args, report: &Report, decision: Decision) -> anyhow::Result<()> {
    let (Some(gh), Some(sha), Some(env)) = (run.github(), &run.ctx.sha, &args.environment) else { return Ok(()) };
    if run.dry_run {
        return Ok(());
    }
    let state = match decision {
        Decision::Success => "success",
        Decision::Watching => return Ok(()),
        _ => "failure",
    };
    let run_url = run.ctx.run_url();
    let status = release_gate_core::github::calls::DeploymentStatus {
        state,
        description: &report.title,
        log_url: run_url.as_deref(),
        environment_url: None,
    };
    match run.block_on(async {
        let id = match gh.deployments(sha, env).await?.first() {
            Some(d) => d.id,
            None => return Ok(()),
        };
        gh.create_deployment_status(id, &status).await
    }) {
        Ok(()) => Ok(()),
        Err(e) if e.is_unreachable() => Err(e.into()),
        Err(e) => {
            eprintln!("release-guard: the deployment status could not be set: {e}");
            Ok(())
        }
    }
}

/// Whether `login` may resume: named in `release-guard.resume.approvers`
/// (directly or through a team), with write permission (online); offline,
/// named directly. `Err` says why not.
fn approver_ok(run: &Run<GuardPolicy>, approvers: &[String], login: &str) -> anyhow::Result<Result<String, String>> {
    if approvers.is_empty() {
        return Ok(Err("release-guard.resume.approvers names nobody, so nobody can resume; name the SRE Lead and the Risk Officers (logins or @org/team)".into()));
    }
    let direct = approvers.iter().find(|a| !a.starts_with('@') && a.eq_ignore_ascii_case(login)).cloned();
    let Some(gh) = run.github() else {
        return Ok(match direct {
            Some(a) => Ok(format!("{a} (named in the policy; offline, not checked against GitHub)")),
            None => Err(format!("{login} is not named in release-guard.resume.approvers (offline, only logins named directly count)")),
        });
    };
    let mut via = direct;
    if via.is_none() {
        for team in approvers.iter().filter_map(|a| a.strip_prefix('@')) {
            let Some((org, slug)) = team.split_once('/') else { continue };
            if run.block_on(gh.team_member(org, slug, login))? {
                via = Some(format!("@{team}"));
                break;
            }
        }
    }
    let Some(via) = via else { return Ok(Err(format!("{login} is not one of release-guard.resume.approvers ({})", approvers.join(", ")))) };
    let permission = run.block_on(gh.permission(login))?;
    if permission < release_gate_core::github::types::Permission::Write {
        return Ok(Err(format!("{login} has {} permission on the repository, not write", permission.as_str())));
    }
    Ok(Ok(format!("{login} (via {via}, {} permission)", permission.as_str())))
}

/// `release-guard resume`: a paused release watches again, a rolled-back one
/// may deploy again; only a named approver, with a reason, once no incident
/// is open, metrics are stable and no rollback trigger stands.
fn resume(run: Run<GuardPolicy>, args: &Args, reason: Option<String>, approver: Option<String>) -> anyhow::Result<Verdict> {
    let s = setup(&run, args)?;
    let http = Http::new(run.ctx.retry);
    let j = judge_at(&run, args, &s, &http, run.now)?;
    let mut report = run.new_report();
    let state = s.log.lifecycle.state();
    report.push(match state {
        Some(State::Paused | State::RolledBack) => {
            Check::new("lifecycle", Status::Pass, format!("the release is {}", state.map(|s| s.to_string()).unwrap_or_default()))
        }
        other => Check::new(
            "lifecycle",
            Status::Fail,
            format!("nothing to resume: the release is {}", other.map_or_else(|| "not evaluated".to_owned(), |s| s.to_string())),
        ),
    });
    let open: Vec<String> = j.incidents.iter().filter(|i| i.open()).map(|i| format!("#{} {} ({})", i.number, i.title, i.status)).collect();
    report.push(if open.is_empty() {
        Check::new("incidents", Status::Pass, "no incident is open")
    } else {
        Check::new("incidents", Status::Fail, format!("still open: {}", open.join("; ")))
    });
    let unstable = j.metrics_report.checks.iter().filter(|c| c.status == Status::Fail).map(|c| c.id.clone()).collect::<Vec<_>>();
    report.push(if unstable.is_empty() {
        Check::new("metrics", Status::Pass, "production metrics are stable")
    } else {
        Check::new("metrics", Status::Fail, format!("production metrics are not stable yet: {}", unstable.join(", ")))
    });
    // A breach the guard recorded stands whatever this run is told: the
    // release it rolled back does not deploy again (a new release carries the fix).
    let breach = s.log.lifecycle.transitions.iter().rev().find(|t| {
        matches!(t.to, State::RolledBack | State::Paused) && t.why.contains(release_gate_core::decision_log::lifecycle::BREACH_MARK)
    });
    report.push(if let Some(b) = breach {
        Check::new(
            "rollback-triggers",
            Status::Fail,
            format!(
                "the guard recorded a security or compliance breach at {} ({}): a release rolled back for a breach does not resume; cut a new release with the fix",
                b.at, b.why
            ),
        )
    } else if j.triggers.is_empty() {
        Check::new("rollback-triggers", Status::Pass, "no rollback trigger stands")
    } else {
        Check::new("rollback-triggers", Status::Fail, format!("a rollback trigger stands (§6): {}", j.triggers.join("; ")))
    });
    let login = match (run.github(), &run.ctx.actor, &approver) {
        (Some(_), Some(actor), _) => Some(actor.clone()),
        (Some(_), None, _) => None,
        (None, _, a) => a.clone(),
    };
    let who = match &login {
        None => Err("no approver: online the workflow run's actor resumes; offline pass --approver".to_owned()),
        Some(l) => approver_ok(&run, &s.policy.resume.approvers, l)?,
    };
    report.push(match &who {
        Ok(w) => Check::new("approver", Status::Pass, format!("resumed by {w}")),
        Err(why) => Check::new("approver", Status::Fail, why.clone()),
    });
    let reason = reason.filter(|r| !r.trim().is_empty());
    report.push(match &reason {
        Some(r) => Check::new("reason", Status::Pass, r.clone()),
        None => Check::new("reason", Status::Fail, "no reason: pass --reason (recorded in the lifecycle with who resumed)"),
    });
    let mut workflows = Vec::new();
    let mut procedure = Vec::new();
    if report.verdict != Verdict::Fail
        && let (Some(login), Some(reason)) = (&login, &reason)
    {
        let tools =
            Tools { http: &http, github: run.github(), webhook: None, routing_key: None, act: run.github().is_some() && !run.dry_run };
        let step = run.block_on(procedure::set_workflows(&s.policy.pause_workflows, true, &tools, "resume continuous deployment"));
        if step.state == "failed" {
            report.push(Check::new("resume", Status::Fail, step.detail.clone()));
        } else if step.state == "done" {
            workflows.clone_from(&s.policy.pause_workflows);
        }
        procedure.push(step);
        let to = if state == Some(State::RolledBack) { State::Go } else { State::Watching };
        let base = run.transition(to, format!("resumed by {}: {reason}", who.as_ref().map(String::as_str).unwrap_or(login)));
        // Only this command leaves a pause or a rollback, and the record says so.
        let via = base.via.replacen(run.gate, release_gate_core::decision_log::lifecycle::RESUME_VIA, 1);
        let t = Transition { by: login.clone(), via, ..base };
        let r = save::Recorder { release: &run.release, shown: &s.log.path };
        let recorded: anyhow::Result<()> = match run.github() {
            Some(gh) => (|| {
                let path = run.root.repository_path(&s.log.path, "decision log")?;
                let message = format!("Release {} resumed (decision log lifecycle)", run.release);
                let target = save::Target { path: &path, branch: &s.log.branch, message: &message, max_attempts: 20 };
                run.block_on(save::record(gh, &target, &r, &t))?;
                Ok(())
            })(),
            None => save::record_local(&run.root, &s.log.path, &r, &t).map(drop),
        };
        report.push(match recorded {
            Ok(()) => Check::new(
                "lifecycle-recorded",
                Status::Pass,
                format!("recorded: {} → {to}", state.map(|s| s.to_string()).unwrap_or_default()),
            ),
            Err(e) => Check::new(
                "lifecycle-recorded",
                Status::Fail,
                format!("the resume could not be recorded: {}", release_gate_core::error::describe(e.as_ref())),
            ),
        });
    }
    let resumed = report.verdict != Verdict::Fail;
    report.title = if resumed {
        format!("Release {}: resumed ({})", run.release, who.as_ref().map(String::as_str).unwrap_or_default())
    } else {
        format!("Release {}: still {} — {}", run.release, state.map(|s| s.to_string()).unwrap_or_default(), failing(&report))
    };
    report.output("decision", if resumed { "resumed" } else { "pause" });
    report.set_data(&data::ReleaseGuard {
        decision: if resumed { "resumed" } else { "pause" }.into(),
        deployed_at: rfc3339(s.deployed_at),
        guard_ends: rfc3339(s.guard_ends),
        incidents: Vec::new(),
        rollback_triggers: j.triggers,
        procedure,
        workflows,
        previous_release: s.previous,
        retrospective_due: String::new(),
        retrospective_issue: None,
    });
    run.finish(report)
}
