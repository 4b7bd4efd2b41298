//! smoke-gate: a stage's test reports and canary metrics become a
//! `promote`, `hold` or `rollback` decision (runbook §4 and §6).
//!
//! The rooms: [`policy`] (the policy section and the runbook's defaults),
//! [`junit`] (reading test reports), [`metrics`] and [`prometheus`] (canary
//! series and how they are judged), [`judge`] (evidence to checks, pure),
//! [`decision`] (promote / hold / rollback, pure), [`history`] (earlier
//! attempts), [`locate`] (where a failure is); [`run`] finds the reports,
//! reads Prometheus or the metrics file and the attempt history at the edge.

pub mod artifact;
pub mod decision;
pub mod history;
pub mod judge;
pub use release_gate_junit as junit;
#[cfg(test)]
mod junit_tests;
pub mod locate;
pub mod policy;
pub mod reports;

/// The metrics engine smoke-gate shares with release-guard.
pub use release_gate_metrics::{prometheus, series as metrics};

pub use decision::{Cause, Decision, Findings, decide, verify_cause};
pub use policy::{ExternalCausePolicy, MetricsConfig, SmokePolicy, Source, Stage};
pub use reports::find_reports;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use release_gate_core::cli::CommonArgs;
use release_gate_core::context::Context;
use release_gate_core::report::data::{self, Outcome};
use release_gate_core::report::{Check, Section, Status, Verdict};
use release_gate_core::{Run, render};

use crate::judge::judge_tests;
use crate::junit::{Case, Results};
use crate::policy::{default_coverage, default_window};
use release_gate_metrics::{Fetcher, Limits, Origin, judge_metrics};

/// Judge one stage of the release's automation: test reports (JUnit) and
/// canary metrics (Prometheus or a file) to promote, hold or rollback.
#[derive(Debug, Parser)]
#[command(name = "smoke-gate", version, max_term_width = 100, after_help = release_gate_core::cli::after_help(&[("the smoke stage from its JUnit reports", "smoke-gate --release 2.4.0 --stage smoke"), ("the canary against Prometheus", "smoke-gate --release 2.4.0 --stage canary --prometheus-url http://prometheus:9090")]))]
pub struct Args {
    /// The stage: smoke, fast-suite, canary, post-release, or one the policy names.
    #[arg(long, env = "RELEASE_GATE_STAGE", value_name = "STAGE")]
    pub stage: String,

    /// Test report globs, instead of the stage's (repeatable).
    #[arg(long = "reports", env = "RELEASE_GATE_REPORTS", value_name = "GLOB", value_delimiter = '\n')]
    pub reports: Vec<String>,

    /// Metrics file (JSON or CSV), instead of the stage's source.
    #[arg(long, env = "RELEASE_GATE_METRICS_FILE", value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,

    /// Prometheus base URL, instead of the stage's.
    #[arg(long, env = "RELEASE_GATE_PROMETHEUS_URL", value_name = "URL")]
    pub prometheus_url: Option<String>,

    /// A link to the verified external cause of a failure (incident, provider status page).
    #[arg(long, env = "RELEASE_GATE_EXTERNAL_CAUSE", value_name = "URL")]
    pub external_cause: Option<String>,

    /// Flags every gate shares (listed after the gate's own).
    #[command(flatten)]
    pub common: CommonArgs,
}

impl Args {
    /// A local run's flags for `stage` (`release-gate run`): the policy's settings, nothing from the environment.
    pub fn local(common: CommonArgs, stage: &str) -> Self {
        Self { common, stage: stage.to_owned(), reports: Vec::new(), metrics_file: None, prometheus_url: None, external_cause: None }
    }
}

impl release_gate_core::gate::Gate for Args {
    const NAME: &'static str = "smoke-gate";

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    /// Each stage is its own check run: `release-gate/smoke-gate/<stage>`.
    fn default_check_name(&self) -> String {
        release_gate_core::report::check_name(Self::NAME, Some(&self.stage))
    }

    fn run(self, ctx: Context) -> anyhow::Result<Verdict> {
        run(self, ctx)
    }
}

/// Finds the reports, reads the metrics and the history, decides and publishes.
pub fn run(mut args: Args, ctx: Context) -> anyhow::Result<Verdict> {
    if args.common.check_name.is_none() {
        args.common.check_name = Some(release_gate_core::gate::Gate::default_check_name(&args));
    }
    let run = Run::<SmokePolicy>::start("smoke-gate", args.common.clone(), ctx)?;
    let now = run.now;
    let policy = run.policy.section.clone();
    let stage_name = args.stage.clone();
    let stage = match policy.stages.get(&stage_name) {
        Some(s) => s.clone(),
        None if !args.reports.is_empty() || args.metrics_file.is_some() => Stage::default(),
        None => anyhow::bail!(
            "stage `{stage_name}` is not in the policy (smoke-gate.stages has: {}); add it, or pass --reports / --metrics-file",
            policy.stages.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    };
    let release = run.release.clone();
    let mut globs: Vec<String> = if args.reports.is_empty() {
        stage.reports.iter().map(|g| g.replace("{release}", &release)).collect()
    } else {
        args.reports.clone()
    };
    if globs.is_empty() && stage.artifact.is_some() {
        globs.push("**/*.xml".into());
    }
    let mut metrics_cfg = stage.metrics.clone();
    if let Some(f) = &args.metrics_file {
        let cfg = metrics_cfg.get_or_insert_with(|| MetricsConfig {
            source: Source::File,
            url: None,
            file: None,
            window: default_window(),
            step: None,
            coverage: default_coverage(),
            max_gap: release_gate_metrics::default_max_gap(),
            rolling: release_gate_metrics::default_rolling(),
            metrics: Vec::new(),
            error_budget: None,
        });
        cfg.source = Source::File;
        cfg.file = Some(f.display().to_string());
    }
    if let (Some(u), Some(cfg)) = (&args.prometheus_url, metrics_cfg.as_mut()) {
        cfg.source = Source::Prometheus;
        cfg.url = Some(u.clone());
    }
    anyhow::ensure!(
        !globs.is_empty() || metrics_cfg.as_ref().is_some_and(|m| !m.metrics.is_empty() || m.error_budget.is_some()),
        "stage `{stage_name}` has neither test reports nor metrics configured; set smoke-gate.stages.{stage_name}.reports or .metrics"
    );

    // Everything that can be refused as bad input is read before anything is written.
    let root = &run.root;
    let mut results = Results::with_repeats_as_retries(stage.retries == policy::Retries::RepeatedCases);
    // In Actions, a stage with an artifact reads it through the API; offline, the checkout (and says so).
    let from_artifact = match &stage.artifact {
        Some(a) => artifact::read(&run, a, &globs, &mut results)?,
        None => None,
    };
    let (found, modified) = match &from_artifact {
        Some(a) => (a.found.clone(), a.modified.clone()),
        None => {
            let found = find_reports(root, &globs)?;
            for (_, files) in &found {
                for f in files {
                    let shown = f.display().to_string();
                    let pipe = junit::open(&root.file(f, "test report")?).with_context(|| format!("cannot read test report {shown}"))?;
                    junit::parse(pipe, &shown, &mut results)?;
                }
            }
            let modified: Vec<Option<jiff::Timestamp>> = found
                .iter()
                .flat_map(|(_, files)| files)
                .map(|f| root.file(f, "test report").ok().and_then(|p| release_gate_core::paths::mtime(&p)))
                .collect();
            (found, modified)
        }
    };
    let window = metrics_cfg
        .as_ref()
        .map(|c| metrics::duration_s(&c.window).with_context(|| format!("metrics window `{}` is not a duration like 30m", c.window)))
        .transpose()?;
    let fetcher = match (&metrics_cfg, window) {
        (Some(c), Some(w)) => {
            let section = format!("smoke-gate.stages.{stage_name}.metrics");
            Some(Fetcher::open(c, &release, w, root, Origin { section: &section, what: "the canary's series" })?)
        }
        _ => None,
    };
    // When the commit tested was made: a report older than that is an earlier build's.
    let commit_time = if globs.is_empty() { None } else { run.commit_time()? };
    let check_name = run.check_name();
    // The runbook's minimums (§4.2 a 30-minute canary, §6 10 % and 5 %) are
    // floors: beyond one only with a signed deviation.
    let deviations = release_gate_core::deviation::grant(
        &run.root,
        &run.policy.evaluation.deviations,
        &release,
        now,
        &floors(&policy, &stage_name, metrics_cfg.as_ref()),
    )?;

    let mut report = run.new_report();
    report.stage = Some(stage_name.clone());
    for d in &deviations {
        report.push(Check::new("deviation", Status::Warn, d.line()));
    }
    let mut findings = Findings::default();
    let (repo, prefix) = (root.top(), root.prefix());
    let blob = run.blob_url();
    if !globs.is_empty() {
        match (&stage.artifact, &from_artifact) {
            (_, Some(a)) if a.missing.is_some() => {
                let why = format!("{}: did the job upload it with actions/upload-artifact?", a.origin);
                findings.failed.push(why.clone());
                report.push(Check::new("artifact", Status::Fail, why));
            }
            (_, Some(a)) => report.push(Check::new("artifact", Status::Pass, format!("the reports are {}", a.origin))),
            (Some(a), None) => report.push(Check::new(
                "artifact",
                Status::Warn,
                format!("offline: artifact `{}` is not read; the reports are the checkout's", a.name.replace("{release}", &release)),
            )),
            (None, None) => {}
        }
        if from_artifact.as_ref().is_none_or(|a| a.missing.is_none()) {
            judge_tests(&mut report, &mut findings, &results, &found, repo, prefix, blob.as_deref());
        }
        let commit = match (&run.commit, commit_time) {
            (Some(sha), Some(t)) => Some((sha.clone(), t)),
            _ => None,
        };
        let fresh = judge::Freshness { now, max_age: stage.max_age.0, commit };
        judge::judge_freshness(&mut report, &mut findings, &results, &modified, &fresh);
    }
    let mut metrics_data = None;
    let limits = Limits { tolerance: policy.tolerance, critical_deviation: policy.critical_deviation };
    if let (Some(cfg), Some(window)) = (&metrics_cfg, window) {
        let end = now.as_millisecond() as f64 / 1000.0;
        let start = end - window;
        metrics_data = fetcher
            .as_ref()
            .map(|f| judge_metrics(&mut report, &mut findings, cfg, limits, start, end, f.step(), &|q| f.fetch(q, start, end)));
    }

    // Attempt history: GitHub's check runs when online, else the last report.
    let report_path = report.path_in(&run.report_dir()?);
    let (attempts, history_source) = match history::online(&run, &check_name)? {
        Some(a) => (a, "check runs on this commit"),
        None => (history::offline(root, &report_path)?, "earlier reports"),
    };
    let previous_failures = attempts.iter().filter(|a| a.outcome == Outcome::Failed).count() as u32;
    // An external cause: the input, or the PR label's description.
    let mut cause = None;
    let mut cause_problem = None;
    let label = run.ctx.pull_request.as_ref().and_then(|pr| pr.labels.iter().find(|l| l.name == policy.external_cause.label).cloned());
    let given = args.external_cause.clone().map(|u| (u, "input".to_owned())).or_else(|| {
        label.map(|l| {
            let url = l.description.unwrap_or_default().split_whitespace().find(|w| w.starts_with("http")).unwrap_or_default().to_owned();
            (url, format!("label {}", policy.external_cause.label))
        })
    });
    if let Some((url, via)) = given {
        match verify_cause(&url, &via, &policy.external_cause) {
            Ok(c) => cause = Some(c),
            Err(e) => cause_problem = Some(e),
        }
    }
    let judged = match (globs.is_empty(), metrics_cfg.is_none()) {
        (false, true) => "every test passed",
        (true, false) => "every metric is within tolerance",
        _ => "every test passed and every metric is within tolerance",
    };
    let (decision, why) = decide(&findings, previous_failures, policy.max_failures, cause.as_ref(), judged);
    let outcome = if !findings.failed.is_empty() || !findings.rollback.is_empty() {
        Outcome::Failed
    } else if !findings.inconclusive.is_empty() {
        Outcome::Inconclusive
    } else {
        Outcome::Passed
    };
    report.push(Check::new(
        "history",
        if previous_failures > 0 { Status::Warn } else { Status::Pass },
        format!("attempt {} of stage {stage_name} ({} earlier failure(s), from {history_source})", attempts.len() + 1, previous_failures),
    ));
    if let Some(p) = &cause_problem {
        report.push(Check::new("external-cause", Status::Warn, format!("{p}; not counted")));
    } else if let Some(c) = &cause {
        report.push(Check::new("external-cause", Status::Warn, format!("external cause recorded: {} (via {})", c.url, c.via)));
    }
    report.push(Check::new(
        "decision",
        if decision == Decision::Promote { Status::Pass } else { Status::Fail },
        format!("{}: {why}", decision.as_str()),
    ));
    report.title = format!("{stage_name}: {outcome} → {}: {why}", decision.as_str());
    report.output("decision", decision.as_str());
    report.output("stage", stage_name.clone());
    report.output("outcome", outcome.as_str());
    report.output("attempt", (attempts.len() + 1).to_string());
    report.output("tests", results.tests.to_string());
    report.output("failed", (results.failed + results.errored).to_string());
    report.output("flaky", results.flaky.to_string());
    if !attempts.is_empty() {
        let mut t = render::Table::new(&["attempt", "when", "outcome", "where"]);
        for (i, a) in attempts.iter().enumerate() {
            t.row([(i + 1).to_string(), a.at.clone(), a.outcome.to_string(), a.source.clone()]);
        }
        t.row([(attempts.len() + 1).to_string(), report.generated_at.clone(), outcome.to_string(), "this run".into()]);
        report.details.push(Section { title: "Attempts of this stage".into(), markdown: t.finish() });
    }
    let case = |c: &Case| data::Case {
        id: c.id(),
        suite: c.suite.clone(),
        file: c.file.clone(),
        line: c.line,
        message: c.message.clone(),
        retries: c.reruns,
        report: c.report.clone(),
    };
    report.set_data(&data::SmokeGate {
        stage: stage_name,
        decision: decision.as_str().to_owned(),
        outcome,
        reason: why,
        attempts,
        external_cause: cause.as_ref().map(|c| data::ExternalCause { url: c.url.clone(), via: c.via.clone() }),
        tests: data::Tests {
            total: results.tests,
            passed: results.passed,
            failed: results.failed,
            errored: results.errored,
            skipped: results.skipped,
            flaky: results.flaky,
            time_s: results.time,
            reports: results.files.clone(),
        },
        failures: results.failures.iter().take(200).map(case).collect(),
        flaky: results.flaky_cases.iter().take(200).map(case).collect(),
        canary: metrics_data,
    });
    run.finish(report)
}

/// The runbook's minimums for a stage's metrics: a canary judged over at
/// least 30 minutes (§4.2), a critical KPI off by at most 10 % and at most
/// 5 % of the error budget (§6).
pub fn floors(policy: &SmokePolicy, stage: &str, metrics: Option<&MetricsConfig>) -> Vec<release_gate_core::deviation::Floor> {
    use release_gate_core::deviation::Floor;
    let mut out = vec![Floor {
        setting: "smoke-gate.critical-deviation".into(),
        value: policy.critical_deviation.to_string(),
        within: policy.critical_deviation <= 10.0,
        runbook: "the runbook's 10 % for a critical KPI (§6)".into(),
    }];
    if let Some(m) = metrics {
        if stage == "canary" {
            out.push(Floor {
                setting: format!("smoke-gate.stages.{stage}.metrics.window"),
                value: m.window.clone(),
                within: metrics::duration_s(&m.window).is_some_and(|w| w >= 1800.0),
                runbook: "the runbook's 30 minutes of canary traffic (§4.2)".into(),
            });
        }
        if let Some(b) = &m.error_budget {
            out.push(Floor {
                setting: format!("smoke-gate.stages.{stage}.metrics.error-budget.max-consumption"),
                value: b.max_consumption.to_string(),
                within: b.max_consumption <= 5.0,
                runbook: "the runbook's 5 % of the error budget (§6)".into(),
            });
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let pass = Findings::default();
        assert_eq!(decide(&pass, 0, 2, None, "ok").0, Decision::Promote);
        let failed = Findings { failed: vec!["1 test failed".into()], ..Findings::default() };
        assert_eq!(decide(&failed, 0, 2, None, "ok").0, Decision::Hold);
        assert_eq!(decide(&failed, 1, 2, None, "ok").0, Decision::Rollback);
        let cause = Cause { url: "https://status.example/1".into(), via: "input".into() };
        assert_eq!(decide(&failed, 1, 2, Some(&cause), "ok").0, Decision::Hold);
        let inconclusive = Findings { inconclusive: vec!["no data".into()], ..Findings::default() };
        assert_eq!(decide(&inconclusive, 5, 2, None, "ok").0, Decision::Hold, "no data is never a failure count, never a pass");
        let kpi = Findings { rollback: vec!["critical".into()], ..Findings::default() };
        assert_eq!(decide(&kpi, 0, 2, Some(&cause), "ok").0, Decision::Rollback, "a KPI breach rolls back whatever the cause");
    }

    #[test]
    fn causes() {
        let p = ExternalCausePolicy { label: "external-cause".into(), hosts: vec!["aws.amazon.com".into()] };
        assert!(verify_cause("https://health.aws.amazon.com/x", "input", &p).is_ok());
        assert!(verify_cause("http://health.aws.amazon.com/x", "input", &p).is_err());
        assert!(verify_cause("https://evil-aws.amazon.com.example/x", "input", &p).is_err());
        assert!(verify_cause("https://notaws.amazon.com.evil/x", "input", &p).is_err());
        assert!(verify_cause("https://aws.amazon.com@evil.example/x", "input", &p).is_err(), "userinfo before the real host");
        assert!(verify_cause("https://evil.example\\@aws.amazon.com/x", "input", &p).is_err());
        assert!(verify_cause("https://health.aws.amazon.com:443/x", "input", &p).is_ok());
        assert!(verify_cause("https://Health.AWS.amazon.com./x", "input", &p).is_ok());
        let none = ExternalCausePolicy::default();
        let e = verify_cause("https://health.aws.amazon.com/x", "input", &none).unwrap_err();
        assert!(e.contains("lists no hosts"), "{e}");
    }
}
