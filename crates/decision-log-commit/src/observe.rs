//! Evidence read at the edge: the gates' reports, files, links and check runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use release_gate_core::evidence::CheckRuns;
use release_gate_core::paths::{PathError, Root};
use release_gate_core::report::{Report, ReportError};

use crate::judge::Observed;
use crate::policy::Evidence;

/// Another release's report in this release's directory.
#[derive(Debug, thiserror::Error)]
pub enum ReportsError {
    /// A report that does not read, is misnamed, or is outside the repository.
    #[error("{0}")]
    Report(#[from] ReportError),
    /// Another release's.
    #[error("{path} is a report for release {found}, not {release}; keep one release per report directory")]
    OtherRelease {
        /// The file.
        path: String,
        /// Its release.
        found: String,
        /// This one.
        release: String,
    },
}

/// Every report in `dir` (inside the repository) for the release, not the
/// log's own nor deploy-check's (taken after the decision, at deploy time):
/// see [`release_gate_core::report::read_dir`]. Another release's report
/// is an error.
pub fn read_reports(root: &Root, dir: &Path, release: &str) -> Result<Vec<(PathBuf, Report)>, ReportsError> {
    let reports = release_gate_core::report::read_dir(root, dir, |stem| stem != "decision-log-commit" && stem != "deploy-check")?;
    for (p, r) in &reports {
        if r.release != release {
            return Err(ReportsError::OtherRelease {
                path: p.display().to_string(),
                found: r.release.clone(),
                release: release.to_owned(),
            });
        }
    }
    Ok(reports)
}

/// Observes file, check-run and link evidence at the edge.
pub fn observer<'a>(
    root: &'a Root,
    release: &'a str,
    links: &'a BTreeMap<String, String>,
    check_runs: &'a CheckRuns,
    online: bool,
) -> impl Fn(&Evidence) -> Observed + 'a {
    move |ev: &Evidence| {
        if let Some(todo) = &ev.todo {
            return Observed::Missing(format!("not bound to evidence yet: {todo} (policy: decision-log-commit.checklist)"));
        }
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
                Some(c) if c.passed() => Observed::Present { shown: format!("[{name}]({})", c.url), at: None },
                Some(c) => Observed::Missing(format!("[{name}]({}) concluded {}", c.url, c.conclusion)),
                None => match check_runs.refused.get(name) {
                    Some(why) => Observed::Missing(format!("{name}: the check run with that name does not count: {why}")),
                    None if online => Observed::Missing(format!("{name}: no such check run on this commit")),
                    None => Observed::Missing(format!("{name}: check runs cannot be read offline")),
                },
            };
        }
        Observed::Missing("the evidence entry names nothing (report, file, check-run, link or todo)".into())
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

pub fn mtime(p: &Path) -> Option<jiff::Timestamp> {
    let t = std::fs::metadata(p).ok()?.modified().ok()?;
    jiff::Timestamp::try_from(t).ok()
}
