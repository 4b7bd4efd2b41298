//! smoke-gate: a stage's test reports and canary metrics become a
//! `promote`, `hold` or `rollback` decision (runbook §4 and §6).
//!
//! [`decide`] and the judging functions are pure; [`run`] finds the reports,
//! reads Prometheus or the metrics file and the attempt history at the edge.

pub mod junit;
pub mod metrics;
pub mod prometheus;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use release_gate_core::cli::CommonArgs;
use release_gate_core::report::{Annotation, Check, Level, Report, Section, Status, Verdict};
use release_gate_core::{Run, render};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::junit::{Case, Outcome, Results};
use crate::metrics::{ErrorBudget, Judgement, MetricSpec};

/// Judge one stage of the release's automation: test reports (JUnit) and
/// canary metrics (Prometheus or a file) to promote, hold or rollback.
#[derive(Debug, Parser)]
#[command(name = "smoke-gate", version, max_term_width = 100)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,

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

    /// Evaluate at this instant (RFC 3339) instead of the clock: the metrics window ends here.
    #[arg(long, env = "RELEASE_GATE_NOW", value_name = "RFC3339")]
    pub now: Option<String>,
}

/// Where a stage's metrics come from.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// A Prometheus server.
    #[default]
    Prometheus,
    /// A JSON or CSV file of series.
    File,
}

/// A stage's metrics.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MetricsConfig {
    /// Source.
    #[serde(default)]
    pub source: Source,
    /// Prometheus base URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Metrics file; `{release}` is replaced.
    #[serde(default)]
    pub file: Option<String>,
    /// Window ending now (default 30m).
    #[serde(default = "default_window")]
    pub window: String,
    /// query_range step (default: window / 60).
    #[serde(default)]
    pub step: Option<String>,
    /// Share of the window the data must cover (default 0.9).
    #[serde(default = "default_coverage")]
    pub coverage: f64,
    /// The metrics.
    #[serde(default)]
    pub metrics: Vec<MetricSpec>,
    /// Error-budget burn.
    #[serde(default)]
    pub error_budget: Option<ErrorBudget>,
}

fn default_window() -> String {
    "30m".into()
}

fn default_coverage() -> f64 {
    0.9
}

/// One stage.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Stage {
    /// JUnit report globs, relative to the repository root; `{release}` is replaced.
    #[serde(default)]
    pub reports: Vec<String>,
    /// Canary metrics.
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
}

/// What counts as a verified external cause.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ExternalCausePolicy {
    /// PR label whose description carries the link.
    pub label: String,
    /// Hosts a cause link may point at (empty: any https link).
    pub hosts: Vec<String>,
}

impl Default for ExternalCausePolicy {
    fn default() -> Self {
        Self { label: "external-cause".into(), hosts: Vec::new() }
    }
}

/// The `smoke-gate:` policy section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct SmokePolicy {
    /// Stages by name.
    pub stages: BTreeMap<String, Stage>,
    /// Failures of one stage that mean rollback (runbook §6: twice).
    pub max_failures: u32,
    /// Default tolerance, percent.
    pub tolerance: f64,
    /// Critical KPI deviation that means rollback, percent.
    pub critical_deviation: f64,
    /// External causes.
    pub external_cause: ExternalCausePolicy,
}

impl Default for SmokePolicy {
    fn default() -> Self {
        let mut stages = BTreeMap::new();
        stages.insert("smoke".into(), Stage { reports: vec!["reports/release-smoke/{release}/**/*.xml".into()], metrics: None });
        stages.insert("fast-suite".into(), Stage { reports: vec!["reports/fast-suite/{release}/**/*.xml".into()], metrics: None });
        Self { stages, max_failures: 2, tolerance: 5.0, critical_deviation: 10.0, external_cause: ExternalCausePolicy::default() }
    }
}

impl release_gate_core::policy::GateSection for SmokePolicy {
    const NAME: &'static str = "smoke-gate";
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// What the stage's evidence says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    /// Reasons the stage failed (tests, metrics outside tolerance).
    pub failed: Vec<String>,
    /// Reasons for an immediate rollback (critical KPI, error budget).
    pub rollback: Vec<String>,
    /// Reasons it cannot be judged (no data, Prometheus errors).
    pub inconclusive: Vec<String>,
}

/// An earlier attempt of this stage.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct Attempt {
    /// When.
    pub at: String,
    /// `passed`, `failed` or `inconclusive`.
    pub outcome: String,
    /// Where it was read from (check run URL or report).
    pub source: String,
}

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

/// Validates an external-cause link against the policy.
pub fn verify_cause(url: &str, via: &str, policy: &ExternalCausePolicy) -> Result<Cause, String> {
    let url = url.trim();
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(format!("external cause `{url}` ({via}) is not an https link"));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default().to_ascii_lowercase();
    if host.is_empty() {
        return Err(format!("external cause `{url}` ({via}) has no host"));
    }
    if !policy.hosts.is_empty() && !policy.hosts.iter().any(|h| host == *h || host.ends_with(&format!(".{h}"))) {
        return Err(format!("external cause `{url}` ({via}): {host} is not one of the policy's hosts ({})", policy.hosts.join(", ")));
    }
    Ok(Cause { url: url.to_owned(), via: via.to_owned() })
}

/// Finds files matching `patterns` under `root`; returns repository-relative paths.
pub fn find_reports(root: &Path, patterns: &[String]) -> anyhow::Result<Vec<(String, Vec<PathBuf>)>> {
    let mut out = Vec::new();
    for pat in patterns {
        for c in Path::new(pat).components() {
            anyhow::ensure!(
                matches!(c, Component::Normal(_) | Component::CurDir),
                "report glob `{pat}` leaves the repository (absolute or `..`); write it relative to the repository root"
            );
        }
        let glob = globset::GlobBuilder::new(pat)
            .literal_separator(true)
            .build()
            .with_context(|| format!("report glob `{pat}` is not a valid glob"))?
            .compile_matcher();
        // Walk from the literal prefix of the pattern.
        let base: PathBuf =
            Path::new(pat).components().take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[', '{'])).collect();
        let mut found = Vec::new();
        let start = root.join(&base);
        if start.is_file() {
            found.push(base.clone());
        } else {
            let mut stack = vec![base.clone()];
            while let Some(d) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(root.join(&d)) else { continue };
                for e in entries.flatten() {
                    let rel = d.join(e.file_name());
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push(rel);
                    } else if glob.is_match(&rel) {
                        found.push(rel);
                    }
                }
            }
        }
        found.sort();
        out.push((pat.clone(), found));
    }
    Ok(out)
}

/// Where failures are, relative to the repository. Each path is looked up
/// once (a report names the same files many times).
pub struct Locator<'a> {
    repo: &'a Path,
    prefix: &'a Path,
    seen: std::collections::HashMap<String, Option<String>>,
}

impl<'a> Locator<'a> {
    /// Paths under `repo`; relative report paths are tried under `prefix` (the gate's root in the repository) first.
    pub fn new(repo: &'a Path, prefix: &'a Path) -> Self {
        Self { repo, prefix, seen: std::collections::HashMap::new() }
    }

    /// Where a failure is: the report's `file` and `line`, or the first
    /// `path:line` in the failure text that names a file in the
    /// repository. Absolute paths from another machine are matched by suffix.
    pub fn locate(&mut self, case: &Case) -> Option<(String, u32)> {
        if let Some(f) = &case.file
            && let Some(p) = self.resolve(f)
        {
            let line = case.line.or_else(|| line_in(&case.detail, f)).unwrap_or(1);
            return Some((p, line));
        }
        // A `path:line` in the failure text (Python tracebacks, Go, jest, JVM stack traces).
        for token in case.detail.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '"' || c == '\'' || c == ',') {
            let mut parts = token.split(':');
            let (Some(file), Some(line)) = (parts.next(), parts.next()) else { continue };
            let Ok(line) = line.parse::<u32>() else { continue };
            if line == 0 || !file.contains('.') {
                continue;
            }
            if let Some(p) = self.resolve(file) {
                return Some((p, line));
            }
        }
        None
    }

    fn resolve(&mut self, p: &str) -> Option<String> {
        if let Some(known) = self.seen.get(p) {
            return known.clone();
        }
        let (repo, prefix) = (self.repo, self.prefix);
        let path = Path::new(p.trim());
        let rel: Option<PathBuf> = if path.is_absolute() {
            let comps: Vec<Component> = path.components().filter(|c| matches!(c, Component::Normal(_))).collect();
            (0..comps.len()).map(|i| comps[i..].iter().collect::<PathBuf>()).find(|s| repo.join(s).is_file())
        } else if repo.join(prefix).join(path).is_file() {
            Some(prefix.join(path))
        } else if repo.join(path).is_file() {
            Some(path.to_owned())
        } else {
            None
        };
        let found = rel.map(|rel| rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/"));
        self.seen.insert(p.to_owned(), found.clone());
        found
    }
}

fn line_in(detail: &str, file: &str) -> Option<u32> {
    let name = Path::new(file).file_name()?.to_string_lossy().into_owned();
    let i = detail.find(&format!("{name}:"))?;
    detail[i + name.len() + 1..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
}

/// The repository's top (the nearest ancestor with `.git`, else the
/// runner's workspace when `root` is inside it, else `root`), and `root`
/// relative to it: annotation paths are relative to the repository.
pub fn repository_top(root: &Path, workspace: Option<&Path>) -> (PathBuf, PathBuf) {
    let abs = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    let top = abs
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_owned)
        .or_else(|| workspace.and_then(|w| std::fs::canonicalize(w).ok()).filter(|w| abs.starts_with(w)))
        .unwrap_or_else(|| abs.clone());
    let prefix = abs.strip_prefix(&top).map(Path::to_owned).unwrap_or_default();
    (top, prefix)
}

fn first_line(s: &str, max: usize) -> String {
    let l = s.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim();
    if l.chars().count() > max { format!("{}…", l.chars().take(max - 1).collect::<String>()) } else { l.to_owned() }
}

/// Reads the stage's test reports into checks, annotations and details.
fn judge_tests(
    report: &mut Report,
    findings: &mut Findings,
    results: &Results,
    globs: &[(String, Vec<PathBuf>)],
    repo: &Path,
    prefix: &Path,
    blob: Option<&str>,
) {
    let empty_globs: Vec<&str> = globs.iter().filter(|(_, f)| f.is_empty()).map(|(g, _)| g.as_str()).collect();
    if !empty_globs.is_empty() {
        let why = format!("no report matches {}; did the test step run and write JUnit XML there?", empty_globs.join(", "));
        findings.failed.push(why.clone());
        report.push(Check::new("reports", Status::Fail, why));
    }
    if results.files.is_empty() {
        return;
    }
    if results.tests == 0 {
        let why = format!("{} report(s) with no test case: an empty run is not a pass", results.files.len());
        findings.failed.push(why.clone());
        report.push(Check::new("tests", Status::Fail, why));
        return;
    }
    let counts = format!(
        "{} test(s) in {} report(s): {} passed, {} failed, {} errors, {} skipped, {} flaky ({:.1} s)",
        results.tests,
        results.files.len(),
        results.passed,
        results.failed,
        results.errored,
        results.skipped,
        results.flaky,
        results.time
    );
    if empty_globs.is_empty() {
        report.push(Check::new("reports", Status::Pass, format!("read {}", results.files.join(", "))));
    }
    let bad = results.failed + results.errored;
    if bad > 0 {
        let first: Vec<String> = results.failures.iter().take(3).map(|c| format!("`{}`", c.id())).collect();
        let why = format!("{bad} test(s) failed: {}{}", first.join(", "), if bad > 3 { ", …" } else { "" });
        findings.failed.push(why);
        report.push(Check::new("tests", Status::Fail, counts));
    } else {
        report.push(Check::new("tests", Status::Pass, counts));
    }
    if results.flaky > 0 {
        let first: Vec<String> = results.flaky_cases.iter().take(5).map(|c| format!("`{}`", c.id())).collect();
        report.push(Check::new(
            "flaky",
            Status::Warn,
            format!("{} test(s) passed only on a retry: {}{}", results.flaky, first.join(", "), if results.flaky > 5 { ", …" } else { "" }),
        ));
    }
    let link = |p: &str, l: u32| match blob {
        Some(b) => format!("[{p}:{l}]({b}{p}#L{l})"),
        None => format!("`{p}:{l}`"),
    };
    let mut locator = Locator::new(repo, prefix);
    let mut table = String::from("| test | outcome | message | where |\n| --- | --- | --- | --- |\n");
    for c in &results.failures {
        let at = locator.locate(c);
        let outcome = if c.outcome == Outcome::Errored { "error" } else { "failed" };
        let _ = writeln!(
            table,
            "| `{}` | {outcome}{} | {} | {} |",
            render::cell(&c.id()),
            if c.reruns > 0 { format!(" ({} retries)", c.reruns) } else { String::new() },
            render::cell(&first_line(if c.message.is_empty() { &c.detail } else { &c.message }, 160)),
            at.as_ref().map_or_else(|| render::cell(&c.report), |(p, l)| link(p, *l))
        );
        if let Some((path, line)) = at {
            let message = if c.detail.is_empty() { c.message.clone() } else { c.detail.clone() };
            report.annotations.push(Annotation::line(path, line, Level::Failure, format!("{outcome}: {}", c.id()), message));
        }
    }
    if !results.failures.is_empty() {
        let more = (results.failed + results.errored).saturating_sub(results.failures.len() as u64);
        if more > 0 {
            let _ = writeln!(table, "\n{more} more failure(s) are counted but not listed.");
        }
        report.details.push(Section { title: format!("Failures ({})", results.failed + results.errored), markdown: table });
    }
    if !results.flaky_cases.is_empty() {
        let mut md = String::from("| test | failed attempts | first failure |\n| --- | --- | --- |\n");
        for c in &results.flaky_cases {
            let _ = writeln!(md, "| `{}` | {} | {} |", render::cell(&c.id()), c.reruns.max(1), render::cell(&first_line(&c.message, 160)));
            if let Some((path, line)) = locator.locate(c) {
                let message = format!("passed only after {} failed attempt(s): {}", c.reruns.max(1), first_line(&c.message, 300));
                report.annotations.push(Annotation::line(path, line, Level::Warning, format!("flaky: {}", c.id()), message));
            }
        }
        report.details.push(Section { title: format!("Flaky tests ({})", results.flaky), markdown: md });
    }
}

/// Judges the metrics; `fetch(query)` returns the series for the window.
pub fn judge_metrics(
    report: &mut Report,
    findings: &mut Findings,
    cfg: &MetricsConfig,
    policy: &SmokePolicy,
    start: f64,
    end: f64,
    fetch: &dyn Fn(&str) -> Result<metrics::Series, String>,
) -> Value {
    let mut rows = Vec::new();
    let mut md = String::from("| metric | canary | baseline | deviation | allowed | result |\n| --- | --- | --- | --- | --- | --- |\n");
    for m in &cfg.metrics {
        let tol = m.tolerance.unwrap_or(policy.tolerance);
        let id = format!("metric:{}", m.name);
        let canary = fetch(&m.query).and_then(|s| metrics::usable(&s, start, end, cfg.coverage));
        let baseline = match (&m.baseline, m.baseline_value) {
            (_, Some(v)) => Ok(v),
            (Some(q), None) => {
                fetch(q).and_then(|s| metrics::usable(&s, start, end, cfg.coverage)).map(|v| v.iter().sum::<f64>() / v.len() as f64)
            }
            (None, None) => Err("no baseline (set `baseline` or `baseline-value`)".to_owned()),
        };
        let j = match (canary, baseline) {
            (Err(e), _) => Judgement::Inconclusive(format!("canary: {e}")),
            (_, Err(e)) => Judgement::Inconclusive(format!("baseline: {e}")),
            (Ok(c), Ok(b)) => metrics::judge(m, &c, b, tol, policy.critical_deviation),
        };
        let fmt = |v: f64| if v.abs() >= 100.0 { format!("{v:.1}") } else { format!("{v:.4}") };
        let (status, text, cells) = match &j {
            Judgement::Within { canary, baseline, deviation } => (
                Status::Pass,
                format!("{} vs baseline {} ({deviation:+.1} % in the bad direction, ±{tol} % allowed)", fmt(*canary), fmt(*baseline)),
                (fmt(*canary), fmt(*baseline), format!("{deviation:+.1} %"), "✅ within"),
            ),
            Judgement::Outside { canary, baseline, deviation } => {
                findings.failed.push(format!("{} is {deviation:+.1} % off its baseline (±{tol} % allowed)", m.name));
                (
                    Status::Fail,
                    format!("{} vs baseline {}: {deviation:+.1} %, outside ±{tol} %", fmt(*canary), fmt(*baseline)),
                    (fmt(*canary), fmt(*baseline), format!("{deviation:+.1} %"), "❌ outside"),
                )
            }
            Judgement::Critical { canary, baseline, deviation } => {
                findings
                    .rollback
                    .push(format!("critical KPI {} is {deviation:+.1} % off its baseline (> {} %)", m.name, policy.critical_deviation));
                (
                    Status::Fail,
                    format!(
                        "critical KPI {} vs baseline {}: {deviation:+.1} %, beyond {} %: rollback",
                        fmt(*canary),
                        fmt(*baseline),
                        policy.critical_deviation
                    ),
                    (fmt(*canary), fmt(*baseline), format!("{deviation:+.1} %"), "🛑 rollback"),
                )
            }
            Judgement::Inconclusive(why) => {
                findings.inconclusive.push(format!("{}: {why}", m.name));
                (Status::Fail, format!("inconclusive ({why}): hold, never pass"), ("—".into(), "—".into(), "—".into(), "⏸ no verdict"))
            }
        };
        let _ = writeln!(
            md,
            "| {}{} | {} | {} | {} | ±{tol} % | {} |",
            render::cell(&m.name),
            if m.critical { " (critical)" } else { "" },
            cells.0,
            cells.1,
            cells.2,
            cells.3
        );
        report.push(Check::new(id, status, text.clone()));
        rows.push(
            json!({"name": m.name, "query": m.query, "critical": m.critical, "tolerance": tol, "status": status.as_str(), "result": text}),
        );
    }
    let mut budget = Value::Null;
    if let Some(b) = &cfg.error_budget {
        let period = metrics::duration_s(&b.period).unwrap_or(30.0 * 86_400.0);
        let check = match fetch(&b.query).and_then(|s| metrics::usable(&s, start, end, cfg.coverage)) {
            Err(e) => {
                findings.inconclusive.push(format!("error budget: {e}"));
                Check::new("error-budget", Status::Fail, format!("inconclusive ({e}): hold, never pass"))
            }
            Ok(ratio) => {
                let used = metrics::budget_consumed(&ratio, end - start, b.slo, period);
                budget = json!({"consumed_percent": used, "max_percent": b.max_consumption, "slo": b.slo, "period": b.period});
                let _ = writeln!(
                    md,
                    "| error budget ({} SLO over {}) | {used:.2} % used | — | — | ≤ {} % | {} |",
                    b.slo,
                    b.period,
                    b.max_consumption,
                    if used > b.max_consumption { "🛑 rollback" } else { "✅ within" }
                );
                if used > b.max_consumption {
                    findings.rollback.push(format!("error budget consumption {used:.1} % in the window (> {} %)", b.max_consumption));
                    Check::new(
                        "error-budget",
                        Status::Fail,
                        format!("{used:.2} % of the {} budget used in the window, more than {} %: rollback", b.period, b.max_consumption),
                    )
                } else {
                    Check::new(
                        "error-budget",
                        Status::Pass,
                        format!("{used:.2} % of the {} budget used in the window (≤ {} %)", b.period, b.max_consumption),
                    )
                }
            }
        };
        report.push(check);
    }
    report.details.push(Section { title: "Canary metrics".into(), markdown: md });
    json!({"metrics": rows, "error_budget": budget, "window": {"start": start, "end": end}})
}

/// Earlier attempts of `stage` from GitHub: this gate's check runs on the commit.
fn history_online(run: &Run<SmokePolicy>, check_name: &str, stage: &str) -> anyhow::Result<Option<Vec<Attempt>>> {
    let (Some(gh), Some(sha)) = (run.github(), run.ctx.sha.as_ref()) else { return Ok(None) };
    let path = gh.repo_path(&format!("/commits/{sha}/check-runs?check_name={}", release_gate_core::publish::url_encode(check_name)));
    let runs = match run.block_on(gh.get_all(&path, Some("check_runs"), 10)) {
        Ok(r) => r,
        Err(e) if e.is_unreachable() => return Err(e.into()),
        // A token without checks: read falls back to the reports.
        Err(_) => return Ok(None),
    };
    let current = format!(":{}:{}:", run.ctx.run_id.as_deref().unwrap_or("local"), run.ctx.run_attempt.as_deref().unwrap_or("1"));
    let mut out: Vec<Attempt> = runs
        .iter()
        .filter(|r| !r["external_id"].as_str().unwrap_or_default().contains(&current))
        .filter_map(|r| {
            let title = r.pointer("/output/title").and_then(Value::as_str)?;
            let outcome = title.strip_prefix(&format!("{stage}: "))?.split_whitespace().next()?.to_owned();
            Some(Attempt {
                at: r["completed_at"].as_str().or(r["started_at"].as_str()).unwrap_or_default().to_owned(),
                outcome,
                source: r["html_url"].as_str().unwrap_or_default().to_owned(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(Some(out))
}

/// Earlier attempts from the last report of this stage (offline).
fn history_offline(path: &Path) -> Vec<Attempt> {
    let Ok(r) = Report::read(path) else { return Vec::new() };
    let mut v: Vec<Attempt> = r.data.get("attempts").and_then(|a| serde_json::from_value(a.clone()).ok()).unwrap_or_default();
    if let Some(o) = r.data.get("outcome").and_then(Value::as_str) {
        v.push(Attempt { at: r.generated_at.clone(), outcome: o.to_owned(), source: path.display().to_string() });
    }
    v
}

/// Finds the reports, reads the metrics and the history, decides and publishes.
pub fn run(args: Args) -> anyhow::Result<Verdict> {
    let mut run = Run::<SmokePolicy>::start("smoke-gate", args.common)?;
    let now = release_gate_core::policy::now(args.now.as_deref())?;
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
    let globs: Vec<String> = if args.reports.is_empty() {
        stage.reports.iter().map(|g| g.replace("{release}", &release)).collect()
    } else {
        args.reports.clone()
    };
    let mut metrics_cfg = stage.metrics.clone();
    if let Some(f) = &args.metrics_file {
        let cfg = metrics_cfg.get_or_insert_with(|| MetricsConfig {
            source: Source::File,
            url: None,
            file: None,
            window: default_window(),
            step: None,
            coverage: default_coverage(),
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
    let root = run.args.root.clone();
    let found = find_reports(&root, &globs)?;
    let mut results = Results::default();
    for (_, files) in &found {
        for f in files {
            let shown = f.display().to_string();
            let reader = junit::open(&root.join(f)).with_context(|| format!("cannot read test report {shown}"))?;
            junit::parse(reader, &shown, &mut results)?;
        }
    }
    let window = metrics_cfg
        .as_ref()
        .map(|c| metrics::duration_s(&c.window).with_context(|| format!("metrics window `{}` is not a duration like 30m", c.window)))
        .transpose()?;
    let file_series = match &metrics_cfg {
        Some(c) if c.source == Source::File => {
            let f = c
                .file
                .as_deref()
                .context("metrics source is `file` but no file is given (metrics.file or --metrics-file)")?
                .replace("{release}", &release);
            let series = metrics::read_file(&run.in_root(Path::new(&f)), &f)?;
            for m in &c.metrics {
                for q in std::iter::once(&m.query).chain(m.baseline.as_ref()) {
                    anyhow::ensure!(
                        series.contains_key(q),
                        "{f}: no series `{q}` (metric `{}`); the file has: {}",
                        m.name,
                        series.keys().cloned().collect::<Vec<_>>().join(", ")
                    );
                }
            }
            if let Some(b) = &c.error_budget {
                anyhow::ensure!(series.contains_key(&b.query), "{f}: no series `{}` (error budget)", b.query);
            }
            Some(series)
        }
        _ => None,
    };
    let check_name = run.args.check_name.clone().unwrap_or_else(|| format!("release-gate/smoke-gate/{stage_name}"));
    run.args.check_name = Some(check_name.clone());

    let mut report = run.new_report(now);
    report.stage = Some(stage_name.clone());
    let mut findings = Findings::default();
    let workspace = std::env::var_os("GITHUB_WORKSPACE").map(PathBuf::from);
    let (repo, prefix) = repository_top(&root, workspace.as_deref());
    let blob = match (&run.ctx.repository, &run.ctx.sha) {
        (Some((o, r)), Some(sha)) => Some(format!("{}/{o}/{r}/blob/{sha}/", run.ctx.server_url)),
        _ => None,
    };
    if !globs.is_empty() {
        judge_tests(&mut report, &mut findings, &results, &found, &repo, &prefix, blob.as_deref());
    }
    let mut metrics_data = Value::Null;
    if let (Some(cfg), Some(window)) = (&metrics_cfg, window) {
        let end = now.as_millisecond() as f64 / 1000.0;
        let start = end - window;
        metrics_data = match &file_series {
            Some(series) => {
                judge_metrics(&mut report, &mut findings, cfg, &policy, start, end, &|q| Ok(series.get(q).cloned().unwrap_or_default()))
            }
            None => {
                let url =
                    cfg.url.clone().context("metrics source is `prometheus` but no url is given (metrics.url or --prometheus-url)")?;
                let step = cfg.step.as_deref().and_then(metrics::duration_s).unwrap_or((window / 60.0).max(1.0));
                let prom = prometheus::Prometheus::new(&url, Duration::from_secs(15));
                judge_metrics(&mut report, &mut findings, cfg, &policy, start, end, &|q| prom.range(q, start, end, step))
            }
        };
    }

    // Attempt history: GitHub's check runs when online, else the last report.
    let report_path = report.path_in(&run.report_dir());
    let (attempts, history_source) = match history_online(&run, &check_name, &stage_name)? {
        Some(a) => (a, "check runs on this commit"),
        None => (history_offline(&report_path), "earlier reports"),
    };
    let previous_failures = attempts.iter().filter(|a| a.outcome == "failed").count() as u32;
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
        "failed"
    } else if !findings.inconclusive.is_empty() {
        "inconclusive"
    } else {
        "passed"
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
    report.output("attempt", (attempts.len() + 1).to_string());
    report.output("tests", results.tests.to_string());
    report.output("failed", (results.failed + results.errored).to_string());
    report.output("flaky", results.flaky.to_string());
    if !attempts.is_empty() {
        let mut md = String::from("| attempt | when | outcome | where |\n| --- | --- | --- | --- |\n");
        for (i, a) in attempts.iter().enumerate() {
            let _ = writeln!(md, "| {} | {} | {} | {} |", i + 1, a.at, a.outcome, render::cell(&a.source));
        }
        let _ = writeln!(md, "| {} | {} | {outcome} | this run |", attempts.len() + 1, report.generated_at);
        report.details.push(Section { title: "Attempts of this stage".into(), markdown: md });
    }
    let case_json = |c: &Case| json!({"id": c.id(), "suite": c.suite, "file": c.file, "line": c.line, "message": c.message, "retries": c.reruns, "report": c.report});
    report.data = json!({
        "stage": stage_name,
        "decision": decision.as_str(),
        "outcome": outcome,
        "reason": why,
        "attempts": attempts,
        "external_cause": cause.as_ref().map(|c| json!({"url": c.url, "via": c.via})),
        "tests": {"total": results.tests, "passed": results.passed, "failed": results.failed, "errored": results.errored,
                  "skipped": results.skipped, "flaky": results.flaky, "time_s": results.time, "reports": results.files},
        "failures": results.failures.iter().take(200).map(case_json).collect::<Vec<_>>(),
        "flaky": results.flaky_cases.iter().take(200).map(case_json).collect::<Vec<_>>(),
        "canary": metrics_data,
    });
    run.finish(report)
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
    }
}
