//! The gates' reports read at the edge, and the instants evidence files
//! carry (the readers of each evidence kind are in [`crate::evidence`]).

use std::path::{Path, PathBuf};

use release_gate_core::paths::Root;
use release_gate_core::report::{Report, ReportError};

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

/// A timestamp the evidence file carries: a JSON `generated_at`, `executed_at`
/// or `timestamp`, or the first RFC 3339 timestamp in the text.
pub fn file_time(bytes: &[u8]) -> Option<jiff::Timestamp> {
    if let Ok(v) = release_gate_core::json::parse(bytes) {
        for k in ["executed_at", "generated_at", "timestamp", "date"] {
            if let Some(t) = v.get(k).and_then(|t| t.as_str()).and_then(|t| t.parse().ok()) {
                return Some(t);
            }
        }
    }
    let text = String::from_utf8_lossy(bytes);
    text.split(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '(' || c == ')').find_map(|w| w.parse::<jiff::Timestamp>().ok())
}

/// A file's modification time.
pub fn mtime(p: &Path) -> Option<jiff::Timestamp> {
    let t = std::fs::metadata(p).ok()?.modified().ok()?;
    jiff::Timestamp::try_from(t).ok()
}
