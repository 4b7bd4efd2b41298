//! decision-log-commit: the release captain's decision log (runbook §5 and
//! §8), written from the gates' reports and committed without losing a
//! concurrent change.
//!
//! [`render`] is a pure function of the existing log, the gates' entries,
//! the checklist evidence and the inputs; [`run`] reads the reports, the
//! evidence and the current log at the edge, and commits through GitHub's
//! contents API (blob sha as precondition, re-render and retry on conflict),
//! through `git`, or not at all.

pub mod commit;
pub mod log;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use release_gate_core::cli::CommonArgs;
use release_gate_core::context::Context;
use release_gate_core::paths::{PathError, Root};
use release_gate_core::report::{Check, Report, Status, Verdict, data};
use release_gate_core::{Run, render as md};
use serde::Deserialize;

use crate::log::GateEntry;

/// Write the release's decision log from the gates' reports: evidence
/// links, readiness checklist, config hashes, go/no-go; commit it.
#[derive(Debug, Parser)]
#[command(name = "decision-log-commit", version, max_term_width = 100)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,

    /// How to save the log: GitHub's contents API, a local git commit, or only the file.
    #[arg(long, env = "RELEASE_GATE_VIA", value_enum, default_value = "auto")]
    pub via: Via,

    /// Branch to commit to [default: the policy's, else the PR's head branch, else GITHUB_REF_NAME].
    #[arg(long, env = "RELEASE_GATE_BRANCH", value_name = "BRANCH")]
    pub branch: Option<String>,

    /// Participants (a hand-written field; kept from the existing log when not given).
    #[arg(long, env = "RELEASE_GATE_PARTICIPANTS")]
    pub participants: Option<String>,

    /// Scope summary (hand-written field).
    #[arg(long, env = "RELEASE_GATE_SCOPE")]
    pub scope: Option<String>,

    /// Post-release notes (hand-written field).
    #[arg(long, env = "RELEASE_GATE_NOTES")]
    pub notes: Option<String>,

    /// Rollback record, e.g. "Yes: rolled back to 2.3.9 at 14:10 UTC" (default: from smoke-gate's decisions).
    #[arg(long, env = "RELEASE_GATE_ROLLBACK")]
    pub rollback: Option<String>,

    /// Evidence links for checklist items: NAME=URL (repeatable, or one per line).
    #[arg(long = "evidence", env = "RELEASE_GATE_EVIDENCE", value_name = "NAME=URL", value_delimiter = '\n')]
    pub evidence: Vec<String>,

    /// Upload the reports and the log to s3://BUCKET/<release>/ [default: the policy's archive].
    #[arg(long, env = "RELEASE_GATE_ARCHIVE_BUCKET", value_name = "BUCKET")]
    pub archive_bucket: Option<String>,

    /// Skip the S3 archive even when the policy names a bucket (`release-gate run` does).
    #[arg(long, env = "RELEASE_GATE_NO_ARCHIVE")]
    pub no_archive: bool,

    /// S3 endpoint for S3-compatible stores.
    #[arg(long, env = "RELEASE_GATE_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// Path-style S3 addressing.
    #[arg(long, env = "RELEASE_GATE_S3_PATH_STYLE")]
    pub s3_path_style: bool,
}

impl Args {
    /// A local run's flags (`release-gate run`): written, not committed, not archived.
    pub fn local(common: CommonArgs) -> Self {
        Self {
            common,
            via: Via::None,
            branch: None,
            participants: None,
            scope: None,
            notes: None,
            rollback: None,
            evidence: Vec::new(),
            archive_bucket: None,
            no_archive: true,
            s3_endpoint: None,
            s3_path_style: false,
        }
    }
}

impl release_gate_core::gate::Gate for Args {
    const NAME: &'static str = "decision-log-commit";

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn run(self, ctx: Context) -> anyhow::Result<Verdict> {
        run(self, ctx)
    }
}

/// Where the log goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Via {
    /// The contents API when online, else only the file.
    Auto,
    /// GitHub's contents API (commits are signed by GitHub).
    Api,
    /// A commit in the local checkout.
    Git,
    /// Only write the file.
    None,
}

/// One piece of evidence for a checklist item.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Evidence {
    /// A gate's report key: `artifact-verify`, `smoke-gate-canary`.
    #[serde(default)]
    pub report: Option<String>,
    /// A file in the repository (`{release}` replaced).
    #[serde(default)]
    pub file: Option<String>,
    /// A check run on the commit, by name.
    #[serde(default)]
    pub check_run: Option<String>,
    /// A link given as input (`--evidence NAME=URL`).
    #[serde(default)]
    pub link: Option<String>,
    /// Oldest acceptable evidence, e.g. `7d` (files: their own timestamp, else mtime).
    #[serde(default)]
    pub max_age: Option<String>,
}

/// A dashboard link.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// Name.
    pub name: String,
    /// URL.
    pub url: String,
}

/// The S3 archive.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Archive {
    /// Bucket.
    pub bucket: Option<String>,
    /// Key prefix; `{release}` replaced (default `{release}/`).
    #[serde(default)]
    pub prefix: Option<String>,
}

/// The `decision-log-commit:` policy section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct LogPolicy {
    /// The log's path; `{release}` replaced.
    pub log: String,
    /// Branch to commit to.
    pub branch: Option<String>,
    /// Gates whose passing report the release needs (`gate` or `gate-stage`).
    pub required: Vec<String>,
    /// Readiness checklist (runbook §1): item → its evidence.
    pub checklist: BTreeMap<String, Vec<Evidence>>,
    /// Dashboards (runbook §9).
    pub dashboards: Vec<Dashboard>,
    /// Archive.
    pub archive: Archive,
    /// Commit attempts on conflicts.
    pub max_attempts: u32,
}

/// The runbook's seven readiness items, in its order, with their labels.
pub const ITEMS: [(&str, &str); 7] = [
    ("artifact-integrity", "Artifact integrity"),
    ("change-scope-locked", "Change scope locked"),
    ("dependencies-verified", "Dependencies verified"),
    ("observability-baselines", "Observability baselines"),
    ("risk-controls", "Risk controls"),
    ("data-protection", "Data protection"),
    ("communication-plan", "Communication plan"),
];

impl Default for LogPolicy {
    fn default() -> Self {
        let d = |name: &str, url: &str| Dashboard { name: name.into(), url: url.into() };
        Self {
            log: "reports/release-decisions/{release}.md".into(),
            branch: None,
            required: ["freeze-check", "config-diff", "artifact-verify", "smoke-gate-smoke", "smoke-gate-fast-suite", "smoke-gate-canary"]
                .map(String::from)
                .to_vec(),
            checklist: BTreeMap::new(),
            dashboards: vec![
                d("Release Control Center", "https://grafana.tradepulse.internal/d/release-control"),
                d("Trading Health", "https://grafana.tradepulse.internal/d/trading-health"),
                d("Market Data Integrity", "https://grafana.tradepulse.internal/d/market-data"),
                d("Risk & Limits", "https://grafana.tradepulse.internal/d/risk-limits"),
                d("Customer Impact", "https://looker.tradepulse.internal/dashboards/customer-impact"),
            ],
            archive: Archive::default(),
            max_attempts: 20,
        }
    }
}

impl release_gate_core::policy::GateSection for LogPolicy {
    const NAME: &'static str = "decision-log-commit";
}

/// A checklist item's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemState {
    /// Item key.
    pub item: String,
    /// Label.
    pub label: String,
    /// Ok.
    pub ok: bool,
    /// Each piece of evidence: held (`Pass`) or not (`Fail`), and what it says.
    pub lines: Vec<(Status, String)>,
}

/// Evidence observed at the edge for one evidence entry that is not a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Present, with a link or path to show and its age if known.
    Present { shown: String, at: Option<jiff::Timestamp> },
    /// Missing, with why.
    Missing(String),
}

/// Judges the checklist from the gates' entries and observed evidence.
pub fn checklist(
    policy: &LogPolicy,
    entries: &BTreeMap<String, GateEntry>,
    observe: &dyn Fn(&Evidence) -> Observed,
    now: jiff::Timestamp,
) -> Vec<ItemState> {
    let mut out = Vec::new();
    let mut keys: Vec<(String, String)> = ITEMS.iter().map(|(k, l)| ((*k).to_owned(), (*l).to_owned())).collect();
    for k in policy.checklist.keys() {
        if !keys.iter().any(|(x, _)| x == k) {
            keys.push((k.clone(), k.replace('-', " ")));
        }
    }
    for (key, label) in keys {
        let evidence = policy.checklist.get(&key).cloned().unwrap_or_default();
        let mut lines = Vec::new();
        let mut ok = !evidence.is_empty();
        if evidence.is_empty() {
            lines.push((Status::Fail, "no evidence bound to this item in the policy (decision-log-commit.checklist)".to_owned()));
        }
        for ev in &evidence {
            if let Some(r) = &ev.report {
                match entries.get(r) {
                    Some(e) if e.passing() => lines.push((
                        Status::Pass,
                        format!("{r}: {}{}", e.verdict, e.url.as_ref().map(|u| format!(" ([report]({u}))")).unwrap_or_default()),
                    )),
                    Some(e) => {
                        ok = false;
                        lines.push((Status::Fail, format!("{r}: {} — {}", e.decision.as_deref().unwrap_or(&e.verdict), e.title)));
                    }
                    None => {
                        ok = false;
                        lines.push((Status::Fail, format!("{r}: no report for this release")));
                    }
                }
                continue;
            }
            match observe(ev) {
                Observed::Missing(why) => {
                    ok = false;
                    lines.push((Status::Fail, why));
                }
                Observed::Present { shown, at } => {
                    let limit = ev.max_age.as_deref().and_then(release_gate_core::policy::duration);
                    match (limit, at) {
                        (Some(limit), Some(at)) if now.duration_since(at) > limit => {
                            ok = false;
                            lines.push((
                                Status::Fail,
                                format!("{shown}: stale, from {at}, older than {}", ev.max_age.as_deref().unwrap_or_default()),
                            ));
                        }
                        (Some(_), None) => {
                            ok = false;
                            lines.push((
                                Status::Fail,
                                format!(
                                    "{shown}: its age is unknown and the policy limits it to {}",
                                    ev.max_age.as_deref().unwrap_or_default()
                                ),
                            ));
                        }
                        (_, at) => lines.push((Status::Pass, format!("{shown}{}", at.map(|t| format!(" ({t})")).unwrap_or_default()))),
                    }
                }
            }
        }
        out.push(ItemState { item: key, label, ok, lines });
    }
    out
}

/// The go/no-go: what is missing or failed (empty: go).
/// `commit`: the commit being released, when known (online); evidence
/// recorded for another commit, or offline without one, does not count then.
pub fn blockers(policy: &LogPolicy, entries: &BTreeMap<String, GateEntry>, items: &[ItemState], commit: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    for r in &policy.required {
        match entries.get(r) {
            None => out.push(format!("no evidence from {r}: it has not reported for this release")),
            Some(e) if commit.is_some() && e.dry_run => {
                out.push(format!("{r} was a dry run (evaluated as if at {}), which never counts; re-run it without `now`", e.generated_at))
            }
            Some(e) if commit.is_some() && e.commit.as_deref() != commit => out.push(format!(
                "stale evidence from {r}: it evaluated {}, not {}; re-run it on this commit",
                e.commit.as_deref().map_or_else(|| "no commit (a local run)".to_owned(), |c| format!("commit {}", &c[..c.len().min(12)])),
                commit.map(|c| &c[..c.len().min(12)]).unwrap_or_default()
            )),
            Some(e) if !e.passing() => out.push(format!(
                "{r} {}: {}{}",
                e.decision.as_deref().map_or_else(|| "failed".to_owned(), |d| format!("decided {d}")),
                e.title,
                if e.failed.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", e.failed.iter().take(3).cloned().collect::<Vec<_>>().join("; "))
                }
            )),
            Some(_) => {}
        }
    }
    for (k, e) in entries {
        if !policy.required.contains(k) && !e.passing() {
            out.push(format!("{k} failed: {}", e.title));
        }
    }
    for i in items.iter().filter(|i| !i.ok) {
        let why: Vec<&str> = i.lines.iter().filter(|(st, _)| *st == Status::Fail).map(|(_, l)| l.as_str()).collect();
        out.push(format!("readiness “{}” unchecked: {}", i.label, why.join("; ")));
    }
    out
}

/// Inputs a person gives.
#[derive(Debug, Clone, Default)]
pub struct Hand {
    /// Participants.
    pub participants: Option<String>,
    /// Scope summary.
    pub scope: Option<String>,
    /// Post-release notes.
    pub notes: Option<String>,
    /// Rollback record.
    pub rollback: Option<String>,
}

/// Context of a render.
pub struct RenderCtx<'a> {
    /// Release.
    pub release: &'a str,
    /// The commit being released, when known: evidence must be for it.
    pub commit: Option<String>,
    /// When (UTC).
    pub now: jiff::Timestamp,
    /// Workflow run URL.
    pub run_url: Option<String>,
    /// Policy.
    pub policy: &'a LogPolicy,
}

/// Renders the log: the existing text with its generated regions replaced
/// (or the §8 template when there is none), with `new` entries merged over
/// the ones recorded. Returns the document and the blockers.
pub fn render(
    existing: Option<&str>,
    new: &BTreeMap<String, GateEntry>,
    ctx: &RenderCtx,
    hand: &Hand,
    observe: &dyn Fn(&Evidence) -> Observed,
) -> (String, Vec<String>) {
    let template = template(ctx.release);
    let mut doc = existing.filter(|d| !d.trim().is_empty()).unwrap_or(&template).to_owned();
    // Merge: gates recorded in the file, overridden by this writer's reports.
    let mut all = log::entries(&doc);
    for (k, e) in new {
        all.insert(k.clone(), e.clone());
    }
    let items = checklist(ctx.policy, &all, observe, ctx.now);
    let blockers = blockers(ctx.policy, &all, &items, ctx.commit.as_deref());

    let smoke: Vec<&GateEntry> = all.values().filter(|e| e.key.starts_with("smoke-gate")).collect();
    let link = |e: &GateEntry| match &e.url {
        Some(u) => format!("[{}]({u})", e.key),
        None => format!("`{}`", e.key),
    };
    let mut generated: BTreeMap<&str, String> = BTreeMap::new();
    generated.insert("datetime", ctx.now.strftime("%Y-%m-%d %H:%M UTC").to_string());
    generated.insert(
        "checklist-link",
        format!("[readiness checklist](#readiness-checklist) ({}/{} items checked)", items.iter().filter(|i| i.ok).count(), items.len()),
    );
    generated.insert(
        "smoke-links",
        if smoke.is_empty() {
            "_no smoke-gate report yet_".into()
        } else {
            smoke.iter().map(|e| format!("{} ({})", link(e), e.decision.as_deref().unwrap_or(&e.verdict))).collect::<Vec<_>>().join(", ")
        },
    );
    generated.insert(
        "config-link",
        all.get("config-diff").map_or_else(|| "_no config-diff report yet_".to_owned(), |e| format!("{} ({})", link(e), e.verdict)),
    );
    generated
        .insert("dashboards", ctx.policy.dashboards.iter().map(|d| format!("[{}]({})", d.name, d.url)).collect::<Vec<_>>().join(" · "));
    generated.insert(
        "go-no-go",
        if blockers.is_empty() {
            format!("**GO** — every required gate passed and the readiness checklist is complete ({} gates recorded)", all.len())
        } else {
            let mut s = format!("**NO-GO** — {} blocker(s):", blockers.len());
            for b in &blockers {
                let _ = write!(s, "\n  - {b}");
            }
            s
        },
    );
    let rollbacks: Vec<&GateEntry> = smoke.iter().copied().filter(|e| e.decision.as_deref() == Some("rollback")).collect();
    generated.insert(
        "rollback",
        match (&hand.rollback, rollbacks.is_empty()) {
            (Some(r), _) => r.clone(),
            (None, true) => "No".into(),
            (None, false) => format!(
                "Required — {}; record its execution with `rollback:`",
                rollbacks.iter().map(|e| format!("{} decided rollback: {}", e.key, e.title)).collect::<Vec<_>>().join("; ")
            ),
        },
    );
    let risks: Vec<String> = all.values().flat_map(|e| e.warnings.iter().map(move |w| format!("{}: {w}", e.key))).collect();
    generated.insert(
        "risks",
        if risks.is_empty() { "None recorded by the gates".into() } else { risks.iter().map(|r| format!("\n  - {r}")).collect::<String>() },
    );

    let mut checklist = md::Table::new(&["item", "evidence", "status"]);
    for i in &items {
        let status = if i.ok { Status::Pass } else { Status::Fail };
        checklist.row([
            format!("[{}] {}", if i.ok { "x" } else { " " }, i.label),
            i.lines.iter().map(|(st, l)| format!("{} {l}", md::mark(*st))).collect::<Vec<_>>().join("\n"),
            md::mark(status).to_owned(),
        ]);
    }
    let checklist_md = checklist.finish();
    let mut gates = md::Table::new(&["gate", "verdict", "decision", "headline", "evaluated"]);
    for e in all.values() {
        gates.row([link(e), e.verdict.clone(), e.decision.clone().unwrap_or_else(|| "—".into()), e.title.clone(), e.generated_at.clone()]);
    }
    let mut gates_md = gates.finish();
    if let Some(u) = &ctx.run_url {
        let _ = writeln!(gates_md, "\nWorkflow run: {u}");
    }
    let hashes = all.get("config-diff").map(|e| e.hashes.clone()).unwrap_or_default();
    let hashes_md = if hashes.is_empty() { "_no config-diff report yet_".to_owned() } else { release_gate_core::hashes::render(&hashes) };

    for (key, body) in &generated {
        doc = log::replace_region(&doc, key, body).unwrap_or(doc);
    }
    doc = log::replace_region(&doc, "checklist", &checklist_md).unwrap_or(doc);
    doc = log::replace_region(&doc, "gates", &gates_md).unwrap_or(doc);
    doc = log::replace_region(&doc, "config-hashes", &hashes_md).unwrap_or(doc);
    // Per-gate data regions: one each, so concurrent writers merge.
    for e in all.values() {
        let key = format!("gate:{}", e.key);
        let body = log::data_line(e);
        doc = match log::replace_region(&doc, &key, &body) {
            Some(d) => d,
            None => log::replace_region(&doc, "gate-data", &format!("{}\n{}", region_body(&doc, "gate-data"), log::region(&key, &body)))
                .unwrap_or_else(|| format!("{doc}\n{}\n", log::region(&key, &body))),
        };
    }
    for (label, value) in [("Participants", &hand.participants), ("Scope summary", &hand.scope), ("Post-release notes", &hand.notes)] {
        if let Some(v) = value {
            doc = log::set_field(&doc, label, v);
        }
    }
    (doc, blockers)
}

fn region_body(doc: &str, key: &str) -> String {
    log::regions(doc)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, r)| {
            let text = &doc[r];
            let start = text.find("-->\n").map_or(0, |i| i + 4);
            let end = text.rfind("\n<!-- release-gate:end").unwrap_or(text.len());
            text[start.min(end)..end].to_owned()
        })
        .unwrap_or_default()
}

/// The runbook §8 template with its generated regions.
pub fn template(release: &str) -> String {
    let g = |k: &str| log::region(k, "…");
    format!(
        "# Release {release} Decision Log\n\n\
- **Release date/time (UTC):** {date}\n\
- **Participants:** _(release captain: list who took part)_\n\
- **Scope summary:** _(release captain: what ships)_\n\
- **Evidence links:**\n  \
- Readiness checklist: {cl}\n  \
- Smoke/sanity runs: {sm}\n  \
- Config diff report: {cd}\n  \
- Dashboards: {db}\n\
- **Go/No-Go Decision:** {go}\n\
- **Rollback executed:** {rb}\n\
- **Post-release notes:** _(release captain)_\n\
- **Outstanding risks/debt:** {rk}\n\n\
Text outside the `release-gate` markers is yours: re-running decision-log-commit\n\
updates only the marked sections.\n\n\
## Readiness checklist\n\n{ck}\n\n## Gate results\n\n{gt}\n\n## Applied config hashes\n\n{hs}\n\n{gd}\n",
        date = g("datetime"),
        cl = g("checklist-link"),
        sm = g("smoke-links"),
        cd = g("config-link"),
        db = g("dashboards"),
        go = g("go-no-go"),
        rb = g("rollback"),
        rk = g("risks"),
        ck = g("checklist"),
        gt = g("gates"),
        hs = g("config-hashes"),
        gd = log::region("gate-data", ""),
    )
}

/// A report as the log records it; a config-diff report whose hashes do
/// not read is an error, never "no hashes recorded".
pub fn entry_of(report: &Report, url: Option<String>) -> anyhow::Result<GateEntry> {
    let key = report.key();
    let line = |c: &Check| format!("{}: {}", c.id, c.message);
    Ok(GateEntry {
        key,
        verdict: report.verdict.as_str().to_owned(),
        title: report.title.clone(),
        decision: report.outputs.get("decision").cloned(),
        generated_at: report.generated_at.clone(),
        commit: report.commit.clone(),
        url,
        failed: report.checks.iter().filter(|c| c.status == Status::Fail).take(5).map(line).collect(),
        warnings: report.checks.iter().filter(|c| c.status == Status::Warn).take(10).map(line).collect(),
        dry_run: report.dry_run,
        hashes: report.data::<data::ConfigDiff>()?.map(|d| d.hashes).unwrap_or_default(),
    })
}

/// Reads every report in `dir` (inside the repository) for the release,
/// not the log's own. A report that is a link out of the repository, or
/// not a regular file, is an error.
pub fn read_reports(root: &Root, dir: &Path, release: &str) -> anyhow::Result<Vec<(PathBuf, Report)>> {
    let mut out = Vec::new();
    let Ok(list) = std::fs::read_dir(dir) else { return Ok(out) };
    let mut paths: Vec<PathBuf> = list.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    paths.sort();
    for p in paths {
        if p.file_stem().is_some_and(|s| s == "decision-log-commit") {
            continue;
        }
        let r = Report::read(&root.file(&p, "report")?)?;
        anyhow::ensure!(
            r.release == release,
            "{} is a report for release {}, not {release}; keep one release per report directory",
            p.display(),
            r.release
        );
        out.push((p, r));
    }
    Ok(out)
}

/// Check runs on the commit by name: the newest that counts (conclusion
/// and link), and why the others carrying the name do not.
#[derive(Debug, Default)]
pub struct CheckRuns {
    /// Name → (conclusion, link) of the newest check run that counts.
    pub counting: BTreeMap<String, (String, String)>,
    /// Name → why a check run with that name does not count.
    pub refused: BTreeMap<String, String>,
}

/// Observes file, check-run and link evidence at the edge.
fn observer<'a>(
    root: &'a Root,
    release: &'a str,
    links: &'a BTreeMap<String, String>,
    check_runs: &'a CheckRuns,
    online: bool,
) -> impl Fn(&Evidence) -> Observed + 'a {
    move |ev: &Evidence| {
        if let Some(f) = &ev.file {
            let rel = f.replace("{release}", release);
            let path = match root.file(&rel, "evidence") {
                Ok(p) => p,
                Err(PathError::NotFound { .. }) => return Observed::Missing(format!("`{rel}`: file not found")),
                Err(PathError::Outside { why, .. }) => {
                    return Observed::Missing(format!(
                        "`{rel}` leads outside the repository ({why}); evidence must be a file of the repository"
                    ));
                }
                Err(e) => return Observed::Missing(format!("`{rel}`: {e}")),
            };
            let Ok(text) = std::fs::read(&path) else { return Observed::Missing(format!("`{rel}`: cannot be read")) };
            return Observed::Present { shown: format!("`{rel}`"), at: file_time(&text).or_else(|| mtime(&path)) };
        }
        if let Some(name) = &ev.link {
            return match links.get(name) {
                Some(u) if u.starts_with("https://") => Observed::Present { shown: format!("[{name}]({u})"), at: None },
                Some(u) => Observed::Missing(format!("{name}: link `{u}` is not https")),
                None => Observed::Missing(format!("{name}: no link given (input evidence: {name}=URL)")),
            };
        }
        if let Some(name) = &ev.check_run {
            return match check_runs.counting.get(name) {
                Some((c, url)) if c == "success" || c == "neutral" => Observed::Present { shown: format!("[{name}]({url})"), at: None },
                Some((c, url)) => Observed::Missing(format!("[{name}]({url}) concluded {c}")),
                None => match check_runs.refused.get(name) {
                    Some(why) => Observed::Missing(format!("{name}: the check run with that name does not count: {why}")),
                    None if online => Observed::Missing(format!("{name}: no such check run on this commit")),
                    None => Observed::Missing(format!("{name}: check runs cannot be read offline")),
                },
            };
        }
        Observed::Missing("the evidence entry names nothing (report, file, check-run or link)".into())
    }
}

/// A timestamp the evidence file carries: a JSON `generated_at`, `executed_at`
/// or `timestamp`, or the first RFC 3339 timestamp in the text.
pub fn file_time(bytes: &[u8]) -> Option<jiff::Timestamp> {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
        for k in ["executed_at", "generated_at", "timestamp", "date"] {
            if let Some(t) = v.get(k).and_then(|t| t.as_str()).and_then(|t| t.parse().ok()) {
                return Some(t);
            }
        }
    }
    let text = String::from_utf8_lossy(bytes);
    text.split(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '(' || c == ')').find_map(|w| w.parse::<jiff::Timestamp>().ok())
}

fn mtime(p: &Path) -> Option<jiff::Timestamp> {
    let t = std::fs::metadata(p).ok()?.modified().ok()?;
    jiff::Timestamp::try_from(t).ok()
}

/// Reads the reports, renders the log and saves it; publishes its own report.
pub fn run(args: Args, ctx: Context) -> anyhow::Result<Verdict> {
    let run = Run::<LogPolicy>::start("decision-log-commit", args.common, ctx)?;
    let now = run.now;
    let policy = run.policy.section.clone();
    let release = run.release.clone();
    let root = run.root.clone();
    let log_rel = policy.log.replace("{release}", &release);
    // The log is written inside the repository or not at all: checked before anything is read.
    root.resolve(&log_rel, "decision log (decision-log-commit.log)")?;
    let report_dir = run.report_dir()?;
    let reports = read_reports(&root, &report_dir, &release)?;
    let mut links = BTreeMap::new();
    for e in &args.evidence {
        let (k, v) = e.split_once('=').with_context(|| format!("--evidence `{e}` is not NAME=URL"))?;
        links.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    // Check runs on the commit, for evidence links and check-run evidence:
    // only those published by a trusted workflow count.
    let mut check_runs = CheckRuns::default();
    if let (Some(gh), Some(sha)) = (run.github(), run.ctx.sha.as_ref()) {
        match run.block_on(release_gate_core::evidence::check_runs(gh, sha, &run.trust())) {
            Ok(list) => {
                for j in list {
                    match j.counts {
                        Ok(()) => {
                            check_runs.counting.entry(j.run.name.clone()).or_insert_with(|| {
                                (j.run.conclusion.clone().unwrap_or_else(|| "pending".into()), j.run.html_url.clone().unwrap_or_default())
                            });
                        }
                        Err(why) => {
                            check_runs.refused.entry(j.run.name.clone()).or_insert(why);
                        }
                    }
                }
            }
            Err(e) if e.is_unreachable() => return Err(e.into()),
            Err(e) => eprintln!("release-gate: the commit's check runs could not be read ({e}); check-run evidence is missing"),
        }
    }
    let mut entries = BTreeMap::new();
    for (path, r) in &reports {
        let check = r.check_name();
        let url = check_runs
            .counting
            .get(&check)
            .map(|(_, u)| u.clone())
            .filter(|u| !u.is_empty())
            .or_else(|| Some(path.strip_prefix(root.real()).unwrap_or(path).display().to_string()));
        let e = entry_of(r, url).with_context(|| format!("cannot record {}", path.display()))?;
        entries.insert(e.key.clone(), e);
    }
    let hand = Hand {
        participants: args.participants.clone(),
        scope: args.scope.clone(),
        notes: args.notes.clone(),
        rollback: args.rollback.clone(),
    };
    let ctx = RenderCtx {
        release: &release,
        commit: run.ctx.sha.clone().filter(|_| run.github().is_some()),
        now,
        run_url: run.ctx.run_url(),
        policy: &policy,
    };
    let observe = observer(&root, &release, &links, &check_runs, run.github().is_some());
    let via = match args.via {
        Via::Auto if run.github().is_some() => Via::Api,
        Via::Auto => Via::None,
        v => v,
    };
    // The blockers of the document last rendered are those of the one saved.
    let last_blockers = std::cell::RefCell::new(Vec::new());
    let render_on = |existing: Option<&str>| {
        let (doc, blockers) = render(existing, &entries, &ctx, &hand, &observe);
        *last_blockers.borrow_mut() = blockers;
        (doc, ())
    };

    let mut report = run.new_report();
    let saved = match via {
        Via::Api => {
            let gh = run.github().context("--via api needs GitHub: a token, GITHUB_REPOSITORY and a commit")?;
            let branch = args
                .branch
                .clone()
                .or(policy.branch.clone())
                .or_else(|| run.ctx.pull_request.as_ref().map(|pr| pr.head.name.clone()))
                .or_else(|| run.ctx.ref_name.clone())
                .context("no branch to commit the log to: pass --branch or set decision-log-commit.branch")?;
            let message = format!("Decision log for release {release}");
            let repo_path = root.in_repository(&log_rel);
            let target = commit::Target { path: &repo_path, branch: &branch, message: &message, max_attempts: policy.max_attempts };
            run.block_on(commit::via_api(gh, &target, &|existing| render_on(existing).0))?
        }
        Via::Git | Via::None => {
            // A log that cannot be read as text is an error, never rebuilt over.
            let existing = root
                .read_text_if_present(&log_rel, "decision log")
                .map_err(|e| anyhow::anyhow!("{e}; the log is left as it is: fix it by hand, then re-run"))?;
            let (doc, _) = render_on(existing.as_deref());
            root.write(&log_rel, doc.as_bytes(), "decision log")?;
            if via == Via::Git {
                commit::via_git(root.real(), &log_rel, &format!("Decision log for release {release}"))?
            } else {
                commit::Saved { how: format!("written to {log_rel} (not committed)"), commits: 0, retries: 0, url: None, document: doc }
            }
        }
        Via::Auto => unreachable!("resolved above"),
    };
    // The verdict follows the go/no-go of what was saved.
    let final_doc = saved.document.clone();
    let blockers = last_blockers.take();
    report.push(Check::new("log", Status::Pass, saved.how.clone()));
    report.push(if blockers.is_empty() {
        Check::new("go-no-go", Status::Pass, "GO: every required gate passed and the readiness checklist is complete")
    } else {
        Check::new("go-no-go", Status::Fail, format!("NO-GO: {}", blockers.join("; ")))
    });
    if let Some(bucket) = args.archive_bucket.clone().or(policy.archive.bucket.clone()).filter(|_| !args.no_archive) {
        let prefix = policy.archive.prefix.clone().unwrap_or_else(|| "{release}/".into()).replace("{release}", &release);
        let mut files: Vec<(String, Vec<u8>)> =
            reports.iter().filter_map(|(p, _)| Some((p.file_name()?.to_string_lossy().into_owned(), std::fs::read(p).ok()?))).collect();
        files.push((
            Path::new(&log_rel).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "decision-log.md".into()),
            final_doc.clone().into_bytes(),
        ));
        let settings = release_gate_s3::Settings {
            endpoint: args.s3_endpoint.clone(),
            region: None,
            path_style: args.s3_path_style,
            attempts: 4,
            attempt_timeout: std::time::Duration::from_secs(60),
        };
        let n = run.block_on(commit::archive(&settings, &bucket, &prefix, &files))?;
        report.push(Check::new("archive", Status::Pass, format!("{n} file(s) uploaded to s3://{bucket}/{prefix} with SHA-256 checksums")));
        report.output("archive", format!("s3://{bucket}/{prefix}"));
    }
    report.output("decision", if blockers.is_empty() { "go" } else { "no-go" });
    report.output("log", log_rel.clone());
    report.output("commits", saved.commits.to_string());
    report.output("retries", saved.retries.to_string());
    if let Some(u) = &saved.url {
        report.output("url", u.clone());
    }
    report.title = if blockers.is_empty() {
        format!("GO for release {release}")
    } else {
        format!("NO-GO for release {release}: {} blocker(s)", blockers.len())
    };
    report.details.push(release_gate_core::report::Section { title: "Decision log".into(), markdown: final_doc.clone() });
    report.set_data(&data::DecisionLog {
        log: log_rel,
        blockers,
        commits: saved.commits,
        retries: saved.retries,
        gates: entries.keys().cloned().collect(),
    });
    run.finish(report)
}
