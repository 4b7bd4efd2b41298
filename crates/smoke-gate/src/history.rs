//! Earlier attempts of a stage: this gate's check runs on the commit when
//! online, else the last report of the stage.

use std::path::Path;

use release_gate_core::Run;
use release_gate_core::report::Report;
use serde_json::Value;

use crate::decision::Attempt;
use crate::policy::SmokePolicy;

/// Earlier attempts of `stage` from GitHub: this gate's check runs on the commit.
pub fn online(run: &Run<SmokePolicy>, check_name: &str, stage: &str) -> anyhow::Result<Option<Vec<Attempt>>> {
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
pub fn offline(path: &Path) -> Vec<Attempt> {
    let Ok(r) = Report::read(path) else { return Vec::new() };
    let mut v: Vec<Attempt> = r.data.get("attempts").and_then(|a| serde_json::from_value(a.clone()).ok()).unwrap_or_default();
    if let Some(o) = r.data.get("outcome").and_then(Value::as_str) {
        v.push(Attempt { at: r.generated_at.clone(), outcome: o.to_owned(), source: path.display().to_string() });
    }
    v
}
