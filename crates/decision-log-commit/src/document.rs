//! The log as a document: the §8 template, its generated regions rendered
//! from the entries and the checklist, and what the person wrote kept.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use release_gate_core::decision_log::{Lifecycle, LifecycleError, State, Transition};
use release_gate_core::evidence::CheckRuns;
use release_gate_core::render as md;
use release_gate_core::report::{Check, Report, ReportError, Status, data};

use crate::evidence::{self, Files, Sources};
use crate::judge::{blockers, checklist};
use crate::log::{self, GateEntry};
use crate::policy::LogPolicy;

/// The post-release guard's report key: its result is rendered in its own
/// fields (rollback, success verdict, retrospective), never a go/no-go blocker.
pub const GUARD: &str = "release-guard";

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

/// Who records the lifecycle's go/no-go transitions, and through what.
#[derive(Debug, Clone)]
pub struct Recording {
    /// Who (the actor, or `local`).
    pub by: String,
    /// Through what (the gate and its workflow run).
    pub via: String,
}

/// Context of a render.
pub struct RenderCtx<'a> {
    /// Release.
    pub release: &'a str,
    /// The log's path, for messages.
    pub log: &'a str,
    /// The commit being released, when known (online, or a local
    /// checkout's): evidence must be for it.
    pub commit: Option<String>,
    /// Online: a dry run's evidence never counts.
    pub online: bool,
    /// Where the checklist's files are read.
    pub files: Files<'a>,
    /// Links given as input.
    pub links: &'a BTreeMap<String, String>,
    /// The commit's check runs that count.
    pub check_runs: &'a CheckRuns,
    /// Who records the go/no-go in the lifecycle (`None`: a dry run online, which moves nothing).
    pub recording: Option<Recording>,
    /// When (UTC).
    pub now: jiff::Timestamp,
    /// Workflow run URL.
    pub run_url: Option<String>,
    /// Policy.
    pub policy: &'a LogPolicy,
    /// Entries from gates' check runs on this commit (gates that ran in
    /// another job): used where the log records nothing newer for that gate
    /// on this commit, so a recorded entry (with config-diff's hashes) is kept.
    pub fallback: BTreeMap<String, GateEntry>,
}

/// Renders the log: the existing text with its generated regions replaced
/// (or the §8 template when there is none), with `new` entries merged over
/// the ones recorded, the checklist read from its evidence and the
/// go/no-go recorded in the lifecycle while the release is not deployed.
/// Returns the document and the blockers; a lifecycle record that cannot be
/// trusted is an error.
pub fn render(
    existing: Option<&str>,
    new: &BTreeMap<String, GateEntry>,
    ctx: &RenderCtx,
    hand: &Hand,
) -> Result<(String, Vec<String>), LifecycleError> {
    let template = template(ctx.release);
    let mut doc = existing.filter(|d| !d.trim().is_empty()).unwrap_or(&template).to_owned();
    // Merge: gates recorded in the file, overridden by this writer's
    // reports; a check-run entry replaces a recorded one only when that is
    // for another commit, a dry run, or older (a newer failure always wins).
    let mut all = log::entries(&doc);
    for (k, e) in &ctx.fallback {
        if all.get(k).is_none_or(|r| r.dry_run || r.commit != e.commit || e.generated_at > r.generated_at) {
            all.insert(k.clone(), e.clone());
        }
    }
    for (k, e) in new {
        all.insert(k.clone(), e.clone());
    }
    let sources = Sources {
        release: ctx.release,
        commit: ctx.commit.as_deref(),
        entries: &all,
        files: ctx.files,
        links: ctx.links,
        check_runs: ctx.check_runs,
        online: ctx.online,
    };
    let items = checklist(ctx.policy, &|ev| evidence::read(ev, &sources), ctx.now);
    let blockers = blockers(ctx.policy, &all, &items, ctx.commit.as_deref(), ctx.online);
    // The go/no-go moves the lifecycle only before the deploy; after it, the
    // deploy and the guard move it (a re-run cannot undo a pause).
    let mut lifecycle = Lifecycle::read(&doc, ctx.release, ctx.log)?;
    if let Some(r) = &ctx.recording
        && matches!(lifecycle.state(), None | Some(State::NoGo | State::Go))
    {
        let go = blockers.is_empty();
        let t = Transition {
            to: if go { State::Go } else { State::NoGo },
            at: release_gate_core::report::rfc3339(ctx.now),
            by: r.by.clone(),
            via: r.via.clone(),
            commit: ctx.commit.clone(),
            why: if go {
                "every required gate passed and the readiness checklist is complete".to_owned()
            } else {
                format!("{} blocker(s), first: {}", blockers.len(), md::ellipsize(&blockers[0], 160))
            },
        };
        // A dry run evaluated before the last transition does not move it back in time.
        match lifecycle.record(t) {
            Ok(_) | Err(LifecycleError::NotAllowed { .. }) => {}
            Err(e) => return Err(e),
        }
    }

    let smoke: Vec<&GateEntry> = all.values().filter(|e| e.key.starts_with("smoke-gate")).collect();
    let link = |e: &GateEntry| match &e.url {
        Some(u) => format!("[{}]({u})", e.key),
        None => format!("`{}`", e.key),
    };
    let mut generated: BTreeMap<&str, String> = BTreeMap::new();
    // §8 "Release date/time": the deploy, as the lifecycle recorded it once.
    generated.insert("datetime", lifecycle.deploy_time());
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
    let guard = all.get(GUARD);
    let steps = |e: &GateEntry| e.steps.iter().map(|s| format!("\n  {s}")).collect::<String>();
    generated.insert(
        "rollback",
        match (&hand.rollback, guard.and_then(|g| g.decision.as_deref().map(|d| (g, d))), rollbacks.is_empty()) {
            (Some(r), _, _) => r.clone(),
            (None, Some((g, "rollback")), _) if g.steps.iter().any(|s| s.contains(" — done:")) => {
                format!("Yes — {}; root cause: _to be written_; steps:{}", g.title, steps(g))
            }
            (None, Some((g, "rollback")), _) => format!("Required — {}; the procedure (runbook §6), planned:{}", g.title, steps(g)),
            (None, Some((g, "pause")), _) => {
                format!("No — the pipeline is paused ({}); if it comes to a rollback, the plan:{}", g.title, steps(g))
            }
            (None, _, true) => "No".into(),
            (None, _, false) => format!(
                "Required — {}; record its execution with `rollback:`",
                rollbacks.iter().map(|e| format!("{} decided rollback: {}", e.key, e.title)).collect::<Vec<_>>().join("; ")
            ),
        },
    );
    generated.insert(
        "verdict",
        match guard.and_then(|g| g.decision.as_deref().map(|d| (g, d))) {
            None => "_pending: release-guard records it when the guard period ends_".into(),
            Some((g, "success")) => format!("**SUCCESS** — {} ({})", g.title, g.generated_at),
            Some((g, "watching")) => format!("_pending_ — {}", g.title),
            Some((g, d)) => format!("**not successful ({})** — {}", d.to_uppercase(), g.title),
        },
    );
    generated.insert(
        "retrospective",
        guard.and_then(|g| g.retrospective.clone()).unwrap_or_else(|| "_set by release-guard: 48 h after the deploy_".into()),
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

    // Fields added after a log was first written get their line now.
    for (after, label, key) in [("rollback", "Success verdict", "verdict"), ("verdict", "Retrospective due by", "retrospective")] {
        let end = format!("<!-- release-gate:end {after} -->");
        if !doc.contains(&format!("<!-- release-gate:begin {key} -->"))
            && let Some(at) = doc.find(&end).map(|i| i + end.len())
        {
            doc.insert_str(at, &format!("\n- **{label}:** {}", log::region(key, "…")));
        }
    }
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
            None => log::replace_region(
                &doc,
                "gate-data",
                &format!("{}\n{}", release_gate_core::decision_log::region_body(&doc, "gate-data"), log::region(&key, &body)),
            )
            .unwrap_or_else(|| format!("{doc}\n{}\n", log::region(&key, &body))),
        };
    }
    for (label, value) in [("Participants", &hand.participants), ("Scope summary", &hand.scope), ("Post-release notes", &hand.notes)] {
        if let Some(v) = value {
            doc = log::set_field(&doc, label, v);
        }
    }
    Ok((lifecycle.write(&doc), blockers))
}

/// The runbook §8 template: `{name}` stands for the generated region
/// `name` (see [`REGIONS`]), `{release}` for the release id.
const TEMPLATE: &str = "# Release {release} Decision Log\n\n\
- **Release date/time (UTC):** {datetime}\n\
- **Participants:** _(release captain: list who took part)_\n\
- **Scope summary:** _(release captain: what ships)_\n\
- **Evidence links:**\n  \
- Readiness checklist: {checklist-link}\n  \
- Smoke/sanity runs: {smoke-links}\n  \
- Config diff report: {config-link}\n  \
- Dashboards: {dashboards}\n\
- **Go/No-Go Decision:** {go-no-go}\n\
- **Release lifecycle:** {lifecycle-state}\n\
- **Rollback executed:** {rollback}\n\
- **Success verdict:** {verdict}\n\
- **Retrospective due by:** {retrospective}\n\
- **Post-release notes:** _(release captain)_\n\
- **Outstanding risks/debt:** {risks}\n\n\
Text outside the `release-gate` markers is yours: re-running decision-log-commit\n\
updates only the marked sections.\n\n\
## Release lifecycle\n\n{lifecycle}\n\n## Readiness checklist\n\n{checklist}\n\n## Gate results\n\n{gates}\n\n## Applied config hashes\n\n{config-hashes}\n\n{gate-data}\n";

/// The generated regions of the template, each shown as `…` until written.
const REGIONS: [&str; 15] = [
    "datetime",
    "checklist-link",
    "smoke-links",
    "config-link",
    "dashboards",
    "go-no-go",
    "lifecycle-state",
    "rollback",
    "verdict",
    "retrospective",
    "risks",
    "lifecycle",
    "checklist",
    "gates",
    "config-hashes",
];

/// The runbook §8 template with its generated regions.
pub fn template(release: &str) -> String {
    let mut text = TEMPLATE.replace("{gate-data}", &log::region("gate-data", ""));
    for name in REGIONS {
        text = text.replace(&format!("{{{name}}}"), &log::region(name, "…"));
    }
    // Last: a region's markers never hold `{release}`, and the id no `{`.
    text.replace("{release}", release)
}

/// A gate's result as the log records it, from its check run that counts
/// on `commit` (the gate ran in another job; its report is not here).
pub fn entry_from_check_run(key: &str, c: &release_gate_core::evidence::Counted, commit: &str) -> GateEntry {
    let verdict = match c.conclusion.as_str() {
        "success" => "pass",
        "neutral" => "warn",
        _ => "fail",
    };
    GateEntry {
        key: key.to_owned(),
        verdict: verdict.to_owned(),
        title: c.title.clone(),
        decision: c.id.decision.clone(),
        generated_at: c.id.generated_at.clone(),
        commit: Some(commit.to_owned()),
        url: Some(c.url.clone()).filter(|u| !u.is_empty()),
        failed: if verdict == "fail" { vec![format!("check run concluded {}: {}", c.conclusion, c.title)] } else { Vec::new() },
        warnings: Vec::new(),
        dry_run: false,
        hashes: BTreeMap::new(),
        steps: Vec::new(),
        retrospective: None,
        checks: c.statuses.clone(),
    }
}

/// A report as the log records it; a config-diff report whose hashes do
/// not read is an error, never "no hashes recorded".
pub fn entry_of(report: &Report, url: Option<String>) -> Result<GateEntry, ReportError> {
    let key = report.key();
    let guard = report.data::<data::ReleaseGuard>()?;
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
        steps: guard
            .as_ref()
            .map(|g| g.procedure.iter().enumerate().map(|(n, s)| format!("{}. {} — {}: {}", n + 1, s.what, s.state, s.detail)).collect())
            .unwrap_or_default(),
        retrospective: guard.as_ref().filter(|g| !g.retrospective_due.is_empty()).map(|g| match &g.retrospective_issue {
            Some(url) => format!("{} ({url})", g.retrospective_due),
            None => g.retrospective_due.clone(),
        }),
        checks: report.checks.iter().map(|c| (c.id.clone(), c.status)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_holds_every_region_once_in_order_and_no_placeholder() {
        let text = template("2.4.0");
        assert!(text.starts_with("# Release 2.4.0 Decision Log\n\n- **Release date/time (UTC):** <!-- release-gate:begin datetime -->"));
        let keys: Vec<String> = log::regions(&text).into_iter().map(|(k, _)| k).collect();
        let mut want: Vec<String> = REGIONS.iter().map(|r| (*r).to_owned()).collect();
        want.push("gate-data".into());
        assert_eq!(keys, want);
        assert!(!text.contains('{') && !text.contains('}'), "{text}");
    }
}
