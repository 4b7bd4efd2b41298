//! release-guard: the runbook after the deploy (§4.3, §5, §6, §10).
//!
//! During and at the end of the guard period (60 minutes from the
//! production deploy) it judges production metrics with the canary's rules
//! ([`release_gate_metrics`]) and incidents (PagerDuty or a file,
//! [`incidents`]); any incident pauses the pipeline (the continuous-
//! deployment workflows are disabled when the policy names them, and
//! `release-guard resume` enables them again once incidents are resolved and
//! metrics are stable); a rollback trigger plans, or carries out, the
//! rollback procedure ([`procedure`]); at the end, with nothing wrong, every
//! earlier stage promoted and an ADR for an architecture change, it records
//! the success verdict. [`judge`] decides from the facts alone, [`observe`]
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
#[command(name = "release-guard", version, max_term_width = 100, after_help = release_gate_core::cli::after_help(&[("judge the first hour after the deploy", "release-guard --release 2.4.0 --deployed-at 2026-12-01T13:30:00Z"), ("print the rollback plan without acting", "release-guard --release 2.4.0 --plan-only")]))]
pub struct Args {
    /// When the production deploy happened (RFC 3339) [default: the
    /// environment's deployment of this commit (online), else the decision log's date/time].
    #[arg(long, env = "RELEASE_GATE_DEPLOYED_AT", value_name = "RFC3339")]
    pub deployed_at: Option<String>,

    /// The environment deployed to: its deployment's status is set when the guard decides.
    #[arg(long, env = "RELEASE_GATE_ENVIRONMENT", value_name = "NAME")]
    pub environment: Option<String>,

    /// Declare a security or compliance breach (a rollback trigger).
    #[arg(long, env = "RELEASE_GATE_BREACH", value_name = "WHAT")]
    pub breach: Option<String>,

    /// Files the release changed, one per line [default: `git diff` from the previous release's tag].
    #[arg(long, env = "RELEASE_GATE_CHANGED_FILES", value_name = "PATH")]
    pub changed_files: Option<PathBuf>,

    /// Plan the rollback without carrying it out, even when the policy automates it.
    #[arg(long, env = "RELEASE_GATE_PLAN_ONLY")]
    pub plan_only: bool,

    /// Open the retrospective issue (once, from the job that closes the guard).
    #[arg(long, env = "RELEASE_GATE_OPEN_RETROSPECTIVE")]
    pub open_retrospective: bool,

    /// Flags every gate shares (listed after the gate's own).
    #[command(flatten)]
    pub common: CommonArgs,

    #[command(subcommand)]
    pub action: Option<Action>,
}

/// What else the guard can do.
#[derive(Debug, Clone, Subcommand)]
pub enum Action {
    /// Re-enable the paused workflows once no incident is open and metrics are stable.
    Resume,
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

/// decision-log-commit's `required`, read only for the smoke stages it names.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
struct Required {
    required: Vec<String>,
}

impl Default for Required {
    fn default() -> Self {
        Self { required: ["smoke-gate-smoke", "smoke-gate-fast-suite", "smoke-gate-canary"].iter().map(|s| (*s).to_owned()).collect() }
    }
}

impl GateSection for Required {
    const NAME: &'static str = "decision-log-commit";
}

/// Gathers the facts, judges, acts as the policy allows, and publishes.
pub fn run(args: Args, ctx: Context) -> anyhow::Result<Verdict> {
    let run = Run::<GuardPolicy>::start("release-guard", args.common.clone(), ctx)?;
    let policy = run.policy.section.clone();
    let now = run.now;
    let deployed_at = observe::deployed_at(&run, &args)?;
    let guard_ends = deployed_at.checked_add(policy.guard.0).context("the guard period is too long")?;
    let http = Http::new(run.ctx.retry);
    let incidents = observe::incidents(&run, &policy, &http, deployed_at)?;
    let mut report = run.new_report();

    // Production metrics over the guard window so far.
    let metrics = match &policy.metrics {
        None => None,
        Some(cfg) => {
            let end = now.min(guard_ends).as_millisecond() as f64 / 1000.0;
            let start = deployed_at.as_millisecond() as f64 / 1000.0;
            let fetcher = Fetcher::open(
                cfg,
                &run.release,
                end - start,
                &run.root,
                Origin { section: "release-guard.metrics", what: "production's series" },
            )?;
            let mut findings = Findings::default();
            let limits = Limits { tolerance: policy.tolerance, critical_deviation: policy.critical_deviation };
            judge_metrics(&mut report, &mut findings, cfg, limits, start, end, &|q| fetcher.fetch(q, start, end));
            Some(findings)
        }
    };

    if let Some(Action::Resume) = args.action {
        return resume(run, &policy, report, &incidents, metrics.as_ref());
    }

    let facts = Facts {
        deployed_at,
        guard_ends,
        now,
        incidents: incidents.clone(),
        metrics,
        migration: observe::migration(&run, &policy)?,
        breach: observe::breach(&run, &policy, &args)?,
        security_types: policy.incidents.security_types.clone(),
        blocking_severity: policy.incidents.blocking_severity,
        stages: {
            let required: Required = run.section()?;
            let keys = required.required.into_iter().filter(|k| k.starts_with("smoke-gate-")).collect();
            observe::stages(&run, keys, &run.report_dir()?)?
        },
        architecture: observe::architecture(&run, &policy, &args)?,
    };
    let (decision, checks, triggers) = judge::judge(&facts);
    for c in checks {
        report.push(c);
    }
    let previous = procedure::previous_release(&run.root, &policy.logs, &run.release)?;
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
        Decision::Rollback => {
            let automate = Tools { act: act && policy.rollback.automate && !args.plan_only, ..tools.clone() };
            procedure = run.block_on(procedure::rollback(&policy, &run.release, previous.as_deref(), &triggers, &automate));
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
            // The plan, ready should the incident call for a rollback; nothing of it is carried out.
            let plan = Tools { act: false, ..tools.clone() };
            let why = ["the open incident(s), should they call for a rollback".to_owned()];
            procedure.extend(run.block_on(procedure::rollback(&policy, &run.release, previous.as_deref(), &why, &plan)));
        }
        _ => {}
    }
    let retrospective_due = rfc3339(deployed_at.checked_add(jiff::SignedDuration::from_hours(48)).unwrap_or(deployed_at));
    let mut retrospective_issue = None;
    if args.open_retrospective
        && matches!(decision, Decision::Success | Decision::Rollback | Decision::Blocked)
        && let Some(gh) = run.github()
    {
        let body = format!(
            "Release {} retrospective (runbook §10), due by {retrospective_due}: automation gaps, rollback drills, config change governance.\n\nGuard decision: {}.",
            run.release,
            decision.as_str()
        );
        retrospective_issue = Some(run.block_on(gh.create_issue(
            &format!("Retrospective: release {}", run.release),
            &body,
            &policy.retrospective_assignees,
        ))?);
    }
    finish(
        run,
        &args,
        report,
        Outcome {
            decision,
            deployed_at,
            guard_ends,
            incidents,
            triggers,
            procedure,
            workflows,
            previous,
            retrospective_due,
            retrospective_issue,
        },
    )
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
        Decision::Success => format!("Release {release}: SUCCESS — the guard ended with metrics stable and no incident"),
        Decision::Pause => format!("Release {release}: pipeline PAUSED — {} incident(s) since the deploy", o.incidents.len()),
        Decision::Rollback => format!(
            "Release {release}: ROLLBACK{} — {}",
            o.previous.as_deref().map(|p| format!(" to {p}")).unwrap_or_default(),
            o.triggers.first().cloned().unwrap_or_default()
        ),
        Decision::Blocked => format!("Release {release}: success blocked — {}", failing(&report)),
        Decision::Hold => format!("Release {release}: hold — production metrics are not within tolerance"),
    };
    report.output("decision", o.decision.as_str());
    report.output("guard_ends", rfc3339(o.guard_ends));
    report.output("previous_release", o.previous.clone().unwrap_or_default());
    if !o.incidents.is_empty() {
        let mut t = render::Table::new(&["incident", "status", "severity", "since"]);
        for i in &o.incidents {
            t.row([
                if i.url.is_empty() { format!("#{} {}", i.number, i.title) } else { format!("[#{} {}]({})", i.number, i.title, i.url) },
                i.status.clone(),
                format!("Sev-{} ({})", i.severity, i.severity_from),
                rfc3339(i.created_at),
            ]);
        }
        report.details.push(Section { title: "Incidents since the deploy".into(), markdown: t.finish() });
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

/// `release-guard resume`: the paused workflows run again once no incident
/// is open and metrics are within tolerance.
fn resume(
    run: Run<GuardPolicy>,
    policy: &GuardPolicy,
    mut report: Report,
    incidents: &[Incident],
    metrics: Option<&Findings>,
) -> anyhow::Result<Verdict> {
    let open: Vec<String> = incidents.iter().filter(|i| i.open()).map(|i| format!("#{} {} ({})", i.number, i.title, i.status)).collect();
    let unstable = metrics.is_some_and(|m| !m.failed.is_empty() || !m.rollback.is_empty() || !m.inconclusive.is_empty());
    report.push(if open.is_empty() {
        Check::new("incidents", Status::Pass, "no incident is open")
    } else {
        Check::new("incidents", Status::Fail, format!("still open: {}", open.join("; ")))
    });
    if metrics.is_some() {
        report.push(Check::new(
            "metrics",
            if unstable { Status::Fail } else { Status::Pass },
            if unstable { "production metrics are not stable yet" } else { "production metrics are stable" },
        ));
    }
    let mut workflows = Vec::new();
    let mut procedure = Vec::new();
    if open.is_empty() && !unstable {
        let http = Http::new(run.ctx.retry);
        let tools =
            Tools { http: &http, github: run.github(), webhook: None, routing_key: None, act: run.github().is_some() && !run.dry_run };
        let step = run.block_on(procedure::set_workflows(&policy.pause_workflows, true, &tools, "resume continuous deployment"));
        if step.state == "failed" {
            report.push(Check::new("resume", Status::Fail, step.detail.clone()));
        } else if step.state == "done" {
            workflows.clone_from(&policy.pause_workflows);
        }
        procedure.push(step);
    }
    let resumed = report.verdict != Verdict::Fail;
    report.title = if resumed {
        format!("Release {}: the pipeline resumes (no incident open, metrics stable)", run.release)
    } else {
        format!("Release {}: still paused — {}", run.release, failing(&report))
    };
    report.output("decision", if resumed { "resumed" } else { "pause" });
    report.set_data(&data::ReleaseGuard {
        decision: if resumed { "resumed" } else { "pause" }.into(),
        deployed_at: String::new(),
        guard_ends: String::new(),
        incidents: Vec::new(),
        rollback_triggers: Vec::new(),
        procedure,
        workflows,
        previous_release: None,
        retrospective_due: String::new(),
        retrospective_issue: None,
    });
    run.finish(report)
}
