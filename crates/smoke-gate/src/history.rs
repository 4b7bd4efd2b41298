//! Earlier attempts of a stage: this gate's check runs on the commit when
//! online, else the last report of the stage.

use std::path::Path;

use crate::policy::SmokePolicy;
use release_gate_core::Run;
use release_gate_core::github::ApiError;
use release_gate_core::paths::{PathError, Root};
use release_gate_core::publish::ExternalId;
use release_gate_core::report::data::{Attempt, Outcome, SmokeGate};
use release_gate_core::report::{Report, ReportError};

/// Earlier attempts that cannot be read: never "no earlier attempts".
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// GitHub stayed unreachable.
    #[error("{0}")]
    Api(#[from] ApiError),
    /// The last report is a link out of the repository, or not a file.
    #[error("{0}")]
    Path(#[from] PathError),
    /// The last report does not read.
    #[error("{0}")]
    Report(#[from] ReportError),
}

/// Earlier attempts of the stage from GitHub: this gate's check runs for
/// the stage on the commit, each with the outcome its `external_id` records
/// (this run's own excluded).
pub fn online(run: &Run<SmokePolicy>, check_name: &str) -> Result<Option<Vec<Attempt>>, HistoryError> {
    let (Some(gh), Some(sha)) = (run.github(), run.ctx.sha.as_ref()) else { return Ok(None) };
    let runs = match run.block_on(gh.check_runs(sha, Some(check_name))) {
        Ok(r) => r,
        Err(e) if e.is_unreachable() => return Err(e.into()),
        // A token without checks: read falls back to the reports.
        Err(_) => return Ok(None),
    };
    let mut out: Vec<Attempt> = runs
        .iter()
        .filter_map(|r| {
            let id = ExternalId::parse(r.external_id.as_deref()?)?;
            if id.is_run(&run.ctx) {
                return None;
            }
            Some(Attempt {
                at: r.completed_at.clone().or(r.started_at.clone()).unwrap_or(id.generated_at),
                outcome: Outcome::parse(id.outcome.as_deref()?)?,
                source: r.html_url.clone().unwrap_or_default(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(Some(out))
}

/// Earlier attempts from the last report of this stage (offline): its
/// attempts and its own outcome. A report that is there but does not read
/// is an error, never "no earlier attempts".
pub fn offline(root: &Root, path: &Path) -> Result<Vec<Attempt>, HistoryError> {
    let file = match root.file(path, "earlier report of this stage") {
        Ok(f) => f,
        Err(PathError::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let r = Report::read(&file)?;
    let Some(d) = r.data::<SmokeGate>()? else { return Ok(Vec::new()) };
    let mut v = d.attempts;
    v.push(Attempt { at: r.generated_at.clone(), outcome: d.outcome, source: path.display().to_string() });
    Ok(v)
}
