//! A stage's reports from a workflow artifact (`smoke-gate.stages.<s>.artifact`),
//! read through the Actions artifacts API from a trusted run on this
//! commit, never from a working tree another job could have written.
//!
//! The run is the one this job is part of, or the newest run of the named
//! workflow on this commit (when that run uploaded nothing, no older run's
//! artifact stands in: the stage fails). It counts only when
//! it ran for this commit, from this repository (a fork's pull request run
//! does not), and its workflow is one `evaluation.trusted-workflows` lists
//! (when it lists any). The artifact must be that run's, not expired, and its
//! archive must match the digest GitHub recorded. Inside the archive, an
//! entry that leaves it (`..`, absolute), a link, or more than
//! [`MAX_EXPANDED`] bytes in all is refused; the stage's `reports:` globs
//! (default `**/*.xml`) select the reports, matched against the entries'
//! paths as `actions/upload-artifact` stored them.

use std::io::Read as _;
use std::path::PathBuf;

use release_gate_core::Run;
use release_gate_core::github::ApiError;
use release_gate_core::github::types::{Artifact, WorkflowRun};

use crate::junit::{self, Results};
use crate::policy::{ReportArtifact, SmokePolicy};

/// The largest archive downloaded.
pub const MAX_ARCHIVE: u64 = 512 << 20;
/// The most an archive may expand to, in all.
pub const MAX_EXPANDED: u64 = 2 << 30;

/// Why the artifact's reports cannot be read (exit 2, or 3 when GitHub stayed unreachable).
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// GitHub stayed unreachable, or refused a call.
    #[error("reading artifact `{name}`: {source}")]
    Api {
        /// The artifact.
        name: String,
        /// The cause.
        source: ApiError,
    },
    /// The run, the artifact or its archive is not evidence for this commit.
    #[error("{0}")]
    Refused(String),
    /// A report inside does not read.
    #[error("{0}")]
    Report(#[from] junit::ParseError),
    /// A report glob is not a glob.
    #[error("{0}")]
    Glob(#[from] crate::reports::FindError),
}

/// Per glob, the entries it matched.
pub type Found = Vec<(String, Vec<PathBuf>)>;

/// What was read from the artifact.
#[derive(Debug)]
pub struct FromArtifact {
    /// Per glob, the entries it matched (shown as `<artifact>/<path>`).
    pub found: Found,
    /// Per report read, in order: when the artifact was uploaded (a file's recorded time).
    pub modified: Vec<Option<jiff::Timestamp>>,
    /// Where the reports came from, for the report.
    pub origin: String,
    /// `None` when the artifact is not there: no report, a failed stage.
    pub missing: Option<String>,
}

/// Reads the stage's reports from the artifact into `results`. `None`
/// offline outside Actions (the caller reads the checkout and says so).
pub fn read(
    run: &Run<SmokePolicy>,
    a: &ReportArtifact,
    globs: &[String],
    results: &mut Results,
) -> Result<Option<FromArtifact>, ArtifactError> {
    let name = a.name.replace("{release}", &run.release);
    let refused = |m: String| ArtifactError::Refused(m);
    let api = |source: ApiError| ArtifactError::Api { name: name.clone(), source };
    let Some(gh) = run.github() else {
        if run.ctx.in_actions {
            return Err(refused(format!(
                "the stage's reports are in artifact `{name}`, which is read through the Actions API: give the gate a token (`github-token`) with `actions: read`"
            )));
        }
        return Ok(None);
    };
    let sha = run.commit.clone().ok_or_else(|| refused("no commit is known to read the artifact for".into()))?;
    let repo = format!("{}/{}", gh.owner, gh.repo);
    let current = run.ctx.run_id.as_deref().and_then(|r| r.parse::<u64>().ok());
    let this_workflow = run.ctx.workflow_path();
    // The run that holds it: this one, or the named workflow's newest on this commit.
    let wr: WorkflowRun = match (&a.workflow, current) {
        (None, Some(id)) => run.block_on(gh.workflow_run(id)).map_err(api)?,
        (None, None) => return Err(refused(format!("artifact `{name}` is read from this workflow run, but GITHUB_RUN_ID is not set"))),
        (Some(w), Some(id)) if this_workflow.as_deref() == Some(w.as_str()) => run.block_on(gh.workflow_run(id)).map_err(api)?,
        (Some(w), _) => {
            let runs = run.block_on(gh.runs_for_commit(&sha)).map_err(api)?.into_iter().filter(|r| &r.path == w && r.head_sha == sha);
            // GitHub does not promise an order. Only the newest counts: an
            // older run's artifact is not the latest result on this commit.
            match newest(runs, |r| (r.created_at.as_deref(), r.id, format!("workflow run {}", r.id)))? {
                Some((_, r)) => r,
                None => return Ok(Some(missing(globs, format!("no run of `{w}` on commit {} uploaded artifact `{name}`", short(&sha))))),
            }
        }
    };
    if wr.head_sha != sha {
        return Err(refused(format!(
            "artifact `{name}`: workflow run {} ran for commit {}, not {}: its reports are another build's",
            wr.id,
            short(&wr.head_sha),
            short(&sha)
        )));
    }
    match &wr.head_repository {
        Some(h) if h.full_name.eq_ignore_ascii_case(&repo) => {}
        Some(h) => {
            return Err(refused(format!(
                "artifact `{name}`: workflow run {} ran on {}'s code, not {repo}'s: a fork's run is not evidence",
                wr.id, h.full_name
            )));
        }
        None => return Err(refused(format!("artifact `{name}`: workflow run {} names no head repository", wr.id))),
    }
    let trusted = &run.policy.evaluation.trusted_workflows;
    if !trusted.is_empty() && !trusted.iter().any(|t| t == &wr.path) {
        return Err(refused(format!(
            "artifact `{name}`: workflow run {} is of `{}`, which evaluation.trusted-workflows does not list ({})",
            wr.id,
            wr.path,
            trusted.join(", ")
        )));
    }
    let artifacts = run.block_on(gh.run_artifacts(wr.id, &name)).map_err(api)?;
    let Some((uploaded, art)) = pick(&artifacts, &name, &wr, &sha)? else {
        return Ok(Some(missing(globs, format!("no artifact `{name}` in run {} for commit {}", wr.id, short(&sha)))));
    };
    let origin = format!(
        "artifact `{name}` (id {}{}) of workflow run {} (`{}`) on commit {}",
        art.id,
        art.digest.as_deref().map(|d| format!(", {}", d.get(..19).unwrap_or(d))).unwrap_or_default(),
        wr.id,
        wr.path,
        short(&sha)
    );
    if art.size_in_bytes > MAX_ARCHIVE {
        return Err(refused(format!("{origin} is {} bytes, more than the {MAX_ARCHIVE} read", art.size_in_bytes)));
    }
    let bytes = run.block_on(gh.artifact_zip(art.id, MAX_ARCHIVE)).map_err(api)?;
    check_digest(&bytes, art, &origin)?;
    let (found, read) = reports_in(&bytes, &name, globs, results, &origin)?;
    Ok(Some(FromArtifact { found, modified: vec![Some(uploaded); read], origin, missing: None }))
}

fn missing(globs: &[String], why: String) -> FromArtifact {
    FromArtifact {
        found: globs.iter().map(|g| (g.clone(), Vec::new())).collect(),
        modified: Vec::new(),
        origin: why.clone(),
        missing: Some(why),
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The run's artifact of that name: not expired, recorded as this run's
/// and this commit's, the newest when several are; with when it was uploaded.
fn pick<'a>(
    artifacts: &'a [Artifact],
    name: &str,
    wr: &WorkflowRun,
    sha: &str,
) -> Result<Option<(jiff::Timestamp, &'a Artifact)>, ArtifactError> {
    let mut mine: Vec<&Artifact> = Vec::new();
    for a in artifacts.iter().filter(|a| a.name == name) {
        if let Some(r) = &a.workflow_run {
            if r.id.is_some_and(|id| id != wr.id) {
                continue; // another run's, listed here: not this run's evidence
            }
            if let Some(h) = &r.head_sha
                && h != sha
            {
                return Err(ArtifactError::Refused(format!(
                    "artifact `{name}` (id {}) records commit {}, not {}: its reports are another build's",
                    a.id,
                    short(h),
                    short(sha)
                )));
            }
        }
        if a.expired {
            return Err(ArtifactError::Refused(format!(
                "artifact `{name}` (id {}) of workflow run {} has expired: re-run the job that uploads it",
                a.id, wr.id
            )));
        }
        mine.push(a);
    }
    newest(mine, |a| (a.created_at.as_deref(), a.id, format!("artifact `{name}` (id {})", a.id)))
}

/// The newest of `items` by the creation time GitHub gives (compared as
/// time, never as text), then by id; one whose time does not read is
/// refused, as then which is newest cannot be told.
fn newest<T>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> (Option<&str>, u64, String),
) -> Result<Option<(jiff::Timestamp, T)>, ArtifactError> {
    let mut best: Option<(jiff::Timestamp, u64, T)> = None;
    for item in items {
        let (at, id, what) = key(&item);
        let t = at
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .ok_or_else(|| ArtifactError::Refused(format!("{what} has no readable created_at ({at:?}): which is newest cannot be told")))?;
        if best.as_ref().is_none_or(|(bt, bid, _)| (t, id) > (*bt, *bid)) {
            best = Some((t, id, item));
        }
    }
    Ok(best.map(|(t, _, item)| (t, item)))
}

fn check_digest(bytes: &[u8], art: &Artifact, origin: &str) -> Result<(), ArtifactError> {
    use sha2::Digest as _;
    let Some(d) = &art.digest else {
        return Err(ArtifactError::Refused(format!(
            "{origin}: GitHub recorded no digest for it (artifacts uploaded with actions/upload-artifact v4 have one), so the archive cannot be checked"
        )));
    };
    let Some(want) = d.strip_prefix("sha256:") else {
        return Err(ArtifactError::Refused(format!("{origin}: digest `{d}` is not sha256:<hex>")));
    };
    let got = hex::encode(sha2::Sha256::digest(bytes));
    if !got.eq_ignore_ascii_case(want) {
        return Err(ArtifactError::Refused(format!(
            "{origin}: the archive downloaded has sha256 {got}, not the {want} GitHub recorded: it was changed after upload"
        )));
    }
    Ok(())
}

/// Parses the archive's entries matching `globs` into `results`; per glob
/// the entries it matched, and how many reports were read.
fn reports_in(bytes: &[u8], name: &str, globs: &[String], results: &mut Results, origin: &str) -> Result<(Found, usize), ArtifactError> {
    let refused = |m: String| ArtifactError::Refused(format!("{origin}: {m}"));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| refused(format!("not a zip archive ({e})")))?;
    let matchers = globs.iter().map(|g| crate::reports::matcher(g)).collect::<Result<Vec<_>, _>>()?;
    // A reader keeps one entry per name: an archive listing a name twice is refused, never read as its last copy.
    if let Some(listed) = central_directory_entries(bytes)
        && listed != zip.len()
    {
        return Err(refused(format!("it lists {listed} entries but {} distinct names: an entry is in it twice", zip.len())));
    }
    // Every entry is checked before any is read.
    let mut entries = Vec::new();
    for i in 0..zip.len() {
        let e = zip.by_index_raw(i).map_err(|e| refused(format!("entry {i} does not read ({e})")))?;
        let shown = e.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{i}"));
        if e.is_symlink() {
            return Err(refused(format!("entry `{}` is a link: an artifact's reports are files", shown)));
        }
        let Some(path) = inside(&shown).then(|| e.enclosed_name()).flatten() else {
            return Err(refused(format!("entry `{}` leaves the archive (absolute or `..`)", shown)));
        };
        if !e.is_dir() {
            entries.push((i, path));
        }
    }
    entries.sort_by(|a, b| a.1.cmp(&b.1));
    if let Some(w) = entries.windows(2).find(|w| w[0].1 == w[1].1) {
        return Err(refused(format!("entry `{}` is in it twice: which one is the report cannot be told", w[0].1.display())));
    }
    let mut found = Vec::new();
    let (mut budget, mut read) = (MAX_EXPANDED, 0usize);
    for (g, m) in globs.iter().zip(&matchers) {
        let mut matched = Vec::new();
        for (i, path) in entries.iter().filter(|(_, p)| m.is_match(p)) {
            let shown = format!("{name}/{}", path.display());
            let mut e = zip.by_index(*i).map_err(|e| refused(format!("`{}` does not read ({e})", path.display())))?;
            let mut buf = Vec::new();
            (&mut e).take(budget + 1).read_to_end(&mut buf).map_err(|e| refused(format!("`{}` does not expand ({e})", path.display())))?;
            if buf.len() as u64 > budget {
                return Err(refused(format!("it expands to more than {MAX_EXPANDED} bytes")));
            }
            budget -= buf.len() as u64;
            junit::parse(junit::pipe(std::io::Cursor::new(buf)), &shown, results)?;
            read += 1;
            matched.push(PathBuf::from(shown));
        }
        found.push((g.clone(), matched));
    }
    Ok((found, read))
}

/// The entry count the archive's end-of-central-directory record states
/// (`None` for ZIP64's marker or no record found).
fn central_directory_entries(bytes: &[u8]) -> Option<usize> {
    let start = bytes.len().saturating_sub(22 + 65_535);
    let at = (start..=bytes.len().checked_sub(22)?).rev().find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])?;
    let n = u16::from_le_bytes([bytes[at + 10], bytes[at + 11]]);
    (n != 0xFFFF).then_some(usize::from(n))
}

/// Whether an entry's name stays inside the archive: relative, no `..`, no
/// drive or backslash (read as a separator by some unzippers), no NUL.
fn inside(name: &str) -> bool {
    !name.starts_with('/')
        && !name.contains(['\\', '\0'])
        && name.as_bytes().get(1).is_none_or(|b| *b != b':')
        && name.split('/').all(|c| c != "..")
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_entry_name_that_could_leave_the_archive_is_not_inside() {
        for ok in ["junit.xml", "smoke/junit.xml", "a..b/c.xml", "./x.xml"] {
            assert!(super::inside(ok), "{ok}");
        }
        for bad in ["../x.xml", "a/../../x.xml", "/etc/x.xml", "C:/x.xml", "a\\..\\x.xml", "x\0.xml", ".."] {
            assert!(!super::inside(bad), "{bad}");
        }
    }
}
