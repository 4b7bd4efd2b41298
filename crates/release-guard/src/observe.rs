//! The facts the guard reads at the edge: the deploy time, incidents, a
//! migration's result, a declared breach, the earlier stages' results and
//! whether the release touches the architecture. Evidence that cannot be
//! read is an error here, never "nothing found".

use std::path::{Path, PathBuf};

use release_gate_core::Run;
use release_gate_core::error::Located;
use release_gate_core::github::ApiError;
use release_gate_core::mask::Secret;
use release_gate_core::paths::PathError;
use release_gate_core::report::{self, Report, ReportError, Verdict};

use crate::Args;
use crate::http::Http;
use crate::incidents::{self, Incident, IncidentError};
use crate::judge::{Architecture, Stage};
use crate::policy::{GuardPolicy, IncidentSource};
use crate::procedure;

/// Evidence the guard cannot read (exit 2, or 3 for a service that stayed
/// unreachable).
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// `--deployed-at` is not an instant.
    #[error("{0}")]
    Instant(#[from] release_gate_core::policy::BadInstant),
    /// GitHub stayed unreachable.
    #[error("{0}")]
    Api(#[from] ApiError),
    /// A file that is missing, outside the repository or not UTF-8.
    #[error("{0}")]
    Path(#[from] PathError),
    /// A report that does not read.
    #[error("{0}")]
    Report(#[from] ReportError),
    /// Incidents that cannot be listed.
    #[error("{0}")]
    Incidents(#[from] IncidentError),
    /// Bad input at a line (the migration evidence).
    #[error("{0}")]
    Located(#[from] Located),
    /// Nowhere says when the deploy happened.
    #[error(
        "no deploy time: pass --deployed-at (input deployed-at), give --environment with a token, or record the release in its decision log"
    )]
    NoDeployTime,
    /// The incidents file is not there.
    #[error(
        "{source}; export the incidents there (an empty list is {{\"incidents\": []}}) or set release-guard.incidents.source: pagerduty"
    )]
    NoIncidentsFile {
        /// The cause.
        source: PathError,
    },
    /// The migration evidence says neither succeeded nor failed.
    #[error("{file}: status {found}; expected \"succeeded\" or \"failed\"")]
    MigrationStatus {
        /// The file.
        file: String,
        /// What it says.
        found: String,
    },
    /// The merged pull request's labels cannot be read (a token without
    /// `pull-requests: read`).
    #[error(
        "cannot read the labels of the pull request merged as this commit, so the security label `{label}` cannot be ruled out; give the job `pull-requests: read`"
    )]
    Labels {
        /// The security label.
        label: String,
        /// GitHub's answer.
        source: ApiError,
    },
    /// A policy pattern that is not a glob.
    #[error("release-guard: pattern {pattern:?} is not a glob; fix release-guard.architecture-paths or adr-paths")]
    Glob {
        /// The pattern.
        pattern: String,
        /// Why.
        source: globset::Error,
    },
}

/// A secret from the environment variable the policy names; unset or empty is none.
pub fn secret(name: &str) -> Option<Secret> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).map(Secret::new)
}

/// When the production deploy happened.
pub fn deployed_at(run: &Run<GuardPolicy>, args: &Args) -> Result<jiff::Timestamp, ObserveError> {
    if let Some(t) = &args.deployed_at {
        return Ok(release_gate_core::policy::instant("--deployed-at", t)?);
    }
    if let (Some(gh), Some(sha), Some(env)) = (run.github(), &run.ctx.sha, &args.environment)
        && let Some(d) = run.block_on(gh.deployments(sha, env))?.first()
        && let Ok(t) = d.created_at.parse()
    {
        return Ok(t);
    }
    // The decision log's date/time (`2026-12-01 13:30 UTC`).
    let log = PathBuf::from(&run.policy.section.logs).join(format!("{}.md", run.release));
    if let Some(text) = run.root.read_text_if_present(&log, "decision log")?
        && let Some(line) = text.lines().skip_while(|l| !l.contains("release-gate:begin datetime")).nth(1)
        && let Ok(dt) = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M UTC", line.trim())
        && let Ok(t) = jiff::tz::TimeZone::UTC.to_timestamp(dt)
    {
        return Ok(t);
    }
    Err(ObserveError::NoDeployTime)
}

/// Incidents since the deploy, from the policy's source.
pub fn incidents(run: &Run<GuardPolicy>, policy: &GuardPolicy, http: &Http, since: jiff::Timestamp) -> Result<Vec<Incident>, ObserveError> {
    let p = &policy.incidents;
    match p.source {
        IncidentSource::File => {
            let file = p.file.replace("{release}", &run.release);
            let text = match run.root.read_text(&file, "incidents file (release-guard.incidents.file)") {
                Ok(t) => t,
                Err(source) if source.is_not_found() => return Err(ObserveError::NoIncidentsFile { source }),
                Err(e) => return Err(e.into()),
            };
            Ok(incidents::from_file(&text, &file, p, since)?)
        }
        IncidentSource::Pagerduty => {
            let token = secret(&p.token_env).unwrap_or_else(|| Secret::new(String::new()));
            Ok(incidents::from_pagerduty(http, p, &token, since)?)
        }
    }
}

/// A migration's result, when the policy binds one.
pub fn migration(run: &Run<GuardPolicy>, policy: &GuardPolicy) -> Result<Option<Result<(), String>>, ObserveError> {
    let Some(path) = &policy.rollback.migration_evidence else { return Ok(None) };
    let file = path.replace("{release}", &run.release);
    let text = run.root.read_text(&file, "migration evidence (release-guard.rollback.migration-evidence)")?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        let mut at =
            Located::new(&file, e.line() as u64, format!("not JSON ({e}); expected {{\"status\": \"succeeded\" | \"failed\", ...}}"));
        at.column = Some(e.column() as u64);
        at
    })?;
    Ok(Some(match v["status"].as_str() {
        Some("succeeded" | "success" | "ok") => Ok(()),
        Some(s @ ("failed" | "error")) => {
            Err(format!("{file}: {s}{}", v["message"].as_str().map(|m| format!(": {m}")).unwrap_or_default()))
        }
        other => return Err(ObserveError::MigrationStatus { file, found: format!("{other:?}") }),
    }))
}

/// A declared breach: the input, or the security label on the commit's merged PR.
pub fn breach(run: &Run<GuardPolicy>, policy: &GuardPolicy, args: &Args) -> Result<Option<String>, ObserveError> {
    if let Some(b) = &args.breach {
        return Ok(Some(b.clone()));
    }
    let (Some(gh), Some(sha)) = (run.github(), &run.ctx.sha) else { return Ok(None) };
    let label = &policy.rollback.security_label;
    let found = run.block_on(async {
        for p in gh.pulls_for_commit(sha).await?.into_iter().filter(|p| p.merged_at.is_some()) {
            let pr = gh.pull(p.number).await?;
            if pr.labels.iter().any(|l| &l.name == label) {
                return Ok(Some(format!("PR #{} carries the label `{label}`", p.number)));
            }
        }
        Ok::<_, release_gate_core::github::ApiError>(None)
    });
    // A label that cannot be read is not "no breach".
    found.map_err(|source| if source.is_unreachable() { source.into() } else { ObserveError::Labels { label: label.clone(), source } })
}

/// The earlier smoke stages' results (`keys`): online the check runs that
/// count, offline the reports in `dir`.
pub fn stages(run: &Run<GuardPolicy>, keys: Vec<String>, dir: &Path) -> Result<Vec<Stage>, ObserveError> {
    if let (Some(gh), Some(sha)) = (run.github(), &run.ctx.sha) {
        let runs = run.block_on(release_gate_core::evidence::by_name(gh, sha, &run.release, &run.trust()))?;
        return Ok(keys
            .into_iter()
            .map(|key| {
                let (gate, stage) = report::split_key(&key);
                let name = report::check_name(gate, stage);
                let promoted = match runs.counting.get(&name) {
                    Some(c) if c.passed() => Ok(()),
                    Some(c) => Err(format!("`{name}` concluded {}", c.conclusion)),
                    None => Err(format!("no `{name}` check run that counts on this commit")),
                };
                Stage { key, promoted }
            })
            .collect());
    }
    let mut out = Vec::new();
    for key in keys {
        let path = dir.join(format!("{key}.json"));
        let promoted = match run.root.file(&path, "report") {
            Ok(f) => {
                let r = Report::read(&f)?;
                match (r.verdict, r.outputs.get("decision").map(String::as_str)) {
                    // A report in the wrong place is not this stage's result for this release.
                    _ if r.key() != key => Err(format!("{} holds {}'s report", path.display(), r.key())),
                    _ if r.release != run.release => Err(format!("{} is a report for release {}", path.display(), r.release)),
                    (Verdict::Fail, d) => Err(format!("failed ({})", d.unwrap_or("no decision"))),
                    (_, Some("promote")) => Ok(()),
                    (_, d) => Err(format!("decided {}", d.unwrap_or("nothing"))),
                }
            }
            Err(e) if e.is_not_found() => Err("no report for this release".into()),
            Err(e) => return Err(e.into()),
        };
        out.push(Stage { key, promoted });
    }
    Ok(out)
}

/// Whether the release touches the architecture, from `--changed-files` or
/// `git diff --name-only <previous tag> HEAD`.
pub fn architecture(run: &Run<GuardPolicy>, policy: &GuardPolicy, args: &Args) -> Result<Architecture, ObserveError> {
    if policy.architecture_paths.is_empty() {
        return Ok(Architecture::NotConfigured);
    }
    let changed: Vec<String> = match &args.changed_files {
        Some(p) => run
            .root
            .read_text(p, "changed files (--changed-files)")?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => {
            let Some(prev) = procedure::previous_release(&run.root, &policy.logs, &run.release)? else {
                return Ok(Architecture::Unknown("no earlier GO release to diff from; pass --changed-files".into()));
            };
            let tag = policy.rollback.tag.replace("{release}", &prev);
            let out = std::process::Command::new("git").arg("-C").arg(run.root.real()).args(["diff", "--name-only", &tag, "HEAD"]).output();
            match out {
                Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).lines().map(str::to_owned).collect(),
                _ => {
                    return Ok(Architecture::Unknown(format!(
                        "`git diff {tag} HEAD` failed (a shallow checkout? fetch the tag, or pass --changed-files)"
                    )));
                }
            }
        }
    };
    let set = |globs: &[String]| -> Result<globset::GlobSet, ObserveError> {
        let mut b = globset::GlobSetBuilder::new();
        for g in globs {
            b.add(globset::Glob::new(g).map_err(|source| ObserveError::Glob { pattern: g.clone(), source })?);
        }
        b.build().map_err(|source| ObserveError::Glob { pattern: globs.join(", "), source })
    };
    let (arch, adr) = (set(&policy.architecture_paths)?, set(&policy.adr_paths)?);
    Ok(Architecture::Changed {
        touched: changed.iter().filter(|f| arch.is_match(Path::new(f))).cloned().collect(),
        adr: changed.iter().filter(|f| adr.is_match(Path::new(f))).cloned().collect(),
    })
}
