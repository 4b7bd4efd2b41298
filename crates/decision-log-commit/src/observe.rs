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

/// A timestamp the evidence file carries: a JSON `executed_at`,
/// `generated_at`, `timestamp` or `date`, or the first RFC 3339 timestamp in
/// the text. A JSON file whose first such field is there but is not an
/// RFC 3339 instant with its offset (a date alone, no zone, a number,
/// null) is `Err`: its age cannot be told, and the file's time must not
/// stand in for the one it states.
pub fn file_time(bytes: &[u8]) -> Result<Option<jiff::Timestamp>, String> {
    if let Ok(v) = release_gate_core::json::parse(bytes) {
        for k in ["executed_at", "generated_at", "timestamp", "date"] {
            let Some(field) = v.get(k) else { continue };
            return match field.as_str().map(str::parse::<jiff::Timestamp>) {
                Some(Ok(t)) => Ok(Some(t)),
                _ => Err(format!(
                    "`{k}` is {field}, not an RFC 3339 instant with its offset (2026-12-01T13:30:00Z): when it ran cannot be told"
                )),
            };
        }
    }
    let text = String::from_utf8_lossy(bytes);
    Ok(text
        .split(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '(' || c == ')')
        .find_map(|w| w.parse::<jiff::Timestamp>().ok()))
}

#[cfg(test)]
mod time_tests {
    use super::file_time;

    #[test]
    fn a_stated_time_that_does_not_read_is_never_replaced_by_the_files() {
        let at: jiff::Timestamp = "2026-10-01T00:00:00Z".parse().expect("ts");
        assert_eq!(file_time(br#"{"executed_at": "2026-10-01T00:00:00Z"}"#), Ok(Some(at)));
        for bad in [r#""2026-10-01""#, r#""2026-10-01T00:00:00""#, r#""Oct 1 2026""#, "1812345678", "null"] {
            let e = file_time(format!(r#"{{"result": "pass", "executed_at": {bad}}}"#).as_bytes()).expect_err(bad);
            assert!(e.contains("`executed_at` is") && e.contains("cannot be told"), "{e}");
        }
        assert_eq!(file_time(b"dry run OK at 2026-10-01T00:00:00Z\n"), Ok(Some(at)), "text: the first instant in it");
        assert_eq!(file_time(br#"{"result": "pass"}"#), Ok(None));
    }
}
