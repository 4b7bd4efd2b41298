//! The facts the guard reads at the edge: the deploy time, incidents, a
//! migration's result, a declared breach, the earlier stages' results and
//! whether the release touches the architecture. Evidence that cannot be
//! read is an error here, never "nothing found".

use std::path::{Path, PathBuf};

use release_gate_core::Run;
use release_gate_core::decision_log::Lifecycle;
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
        "no deploy time: the release's lifecycle records no deploy (deploy-check or serve record it when the deploy starts); pass --deployed-at (input deployed-at), or give --environment with a token to read the deployment"
    )]
    NoDeployTime,
    /// A deploy time other than the one recorded.
    #[error(
        "the deploy happened once, at {recorded} ({via}); --deployed-at {given} disagrees: leave it out, the recorded instant is the guard's"
    )]
    Moved {
        /// The recorded instant.
        recorded: String,
        /// What recorded it.
        via: String,
        /// What was given.
        given: String,
    },
    /// No GO.
    #[error(
        "the decision log records no GO for release {release}: the guard judges a release decided GO and deployed; run decision-log-commit first"
    )]
    NoGo {
        /// The release.
        release: String,
    },
    /// A deploy before the GO.
    #[error(
        "the deploy time {at} ({from}) is before the GO at {go}: a release is not deployed before it is decided; give the real deploy time"
    )]
    BeforeGo {
        /// The deploy time.
        at: String,
        /// The GO.
        go: String,
        /// Where the deploy time came from.
        from: String,
    },
    /// A deploy before the commit.
    #[error("the deploy time {at} is before commit {commit} was made ({made}): give the real deploy time")]
    BeforeCommit {
        /// The deploy time.
        at: String,
        /// When the commit was made.
        made: String,
        /// The commit.
        commit: String,
    },
    /// The lifecycle record cannot be trusted.
    #[error("{0}")]
    Lifecycle(#[from] release_gate_core::decision_log::LifecycleError),
    /// The checkout's lifecycle record lost or changed what a commit held.
    #[error("{0}")]
    Edited(String),
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

/// The decision log the guard reads and moves: its path, text and lifecycle.
pub struct Log {
    /// Repository-relative path.
    pub path: String,
    /// The branch it is committed to (online).
    pub branch: String,
    /// Its text (`None`: there is none).
    pub text: Option<String>,
    /// The lifecycle it records.
    pub lifecycle: Lifecycle,
}

/// The release's decision log: online at the release branch's head (where
/// decision-log-commit commits it), offline the checkout's.
pub fn log(run: &Run<GuardPolicy>, path: &str, configured_branch: Option<&str>) -> Result<Log, ObserveError> {
    let branch =
        release_gate_core::release::log_branch(&run.release, configured_branch, run.ctx.git_ref.as_deref().or(run.ctx.ref_name.as_deref()));
    let text = match run.github() {
        Some(gh) => {
            let repo_path = run.root.repository_path(path, "decision log")?;
            match run.block_on(gh.file(&repo_path, &branch))? {
                Some(c) => Some(release_gate_core::paths::utf8(c.bytes, Path::new(path), "decision log")?),
                None => None,
            }
        }
        None => run.root.read_text_if_present(path, "decision log")?,
    };
    let lifecycle = match &text {
        Some(t) => Lifecycle::read(t, &run.release, path)?,
        None => Lifecycle::new(&run.release),
    };
    if run.github().is_none() {
        // The checkout's log must extend every version git holds of it.
        release_gate_core::decision_log::lifecycle::append_only(run.root.real(), path, &lifecycle).map_err(ObserveError::Edited)?;
    }
    Ok(Log { path: path.to_owned(), branch, text, lifecycle })
}

/// When the production deploy happened, where that came from, and whether
/// the lifecycle still has to record it. The deploy happened once: a
/// recorded instant is the one, and a `--deployed-at` that disagrees is
/// refused; so is an instant before the GO or before the commit was made.
pub fn deployed_at(run: &Run<GuardPolicy>, args: &Args, lc: &Lifecycle) -> Result<(jiff::Timestamp, String, bool), ObserveError> {
    let given = args.deployed_at.as_deref().map(|t| release_gate_core::policy::instant("--deployed-at", t)).transpose()?;
    let (at, from, record) = match (lc.deployed(), given) {
        (Some(r), Some(g)) if r.instant() != g => {
            return Err(ObserveError::Moved { recorded: r.at.clone(), via: r.via.clone(), given: release_gate_core::report::rfc3339(g) });
        }
        (Some(r), _) => (r.instant(), format!("recorded in the release's lifecycle by {}", r.via), false),
        (None, Some(g)) => (g, "--deployed-at".to_owned(), true),
        (None, None) => {
            let found = match (run.github(), &run.ctx.sha, &args.environment) {
                (Some(gh), Some(sha), Some(env)) => run.block_on(gh.deployments(sha, env))?.into_iter().next(),
                _ => None,
            };
            match found.and_then(|d| d.created_at.parse::<jiff::Timestamp>().ok().map(|t| (t, d.id))) {
                Some((t, id)) => (t, format!("deployment {id} to {}", args.environment.as_deref().unwrap_or_default()), true),
                None => return Err(ObserveError::NoDeployTime),
            }
        }
    };
    let Some(go) = lc.go() else { return Err(ObserveError::NoGo { release: run.release.clone() }) };
    if at < go.instant() {
        return Err(ObserveError::BeforeGo { at: release_gate_core::report::rfc3339(at), go: go.at.clone(), from });
    }
    if let Some(made) = run.commit_time()?
        && at < made
    {
        return Err(ObserveError::BeforeCommit {
            at: release_gate_core::report::rfc3339(at),
            made: release_gate_core::report::rfc3339(made),
            commit: run.commit.clone().unwrap_or_default(),
        });
    }
    Ok((at, from, record))
}

/// Incidents created from `since` (the look-back before the deploy) to
/// `until`, every status, from the policy's source.
pub fn incidents(
    run: &Run<GuardPolicy>,
    policy: &GuardPolicy,
    http: &Http,
    since: jiff::Timestamp,
    until: jiff::Timestamp,
) -> Result<Vec<Incident>, ObserveError> {
    let p = &policy.incidents;
    match p.source {
        IncidentSource::File => {
            let file = p.file.replace("{release}", &run.release);
            let text = match run.root.read_text(&file, "incidents file (release-guard.incidents.file)") {
                Ok(t) => t,
                Err(source) if source.is_not_found() => return Err(ObserveError::NoIncidentsFile { source }),
                Err(e) => return Err(e.into()),
            };
            Ok(incidents::from_file(&text, &file, p, since)?.into_iter().filter(|i| i.created_at <= until).collect())
        }
        IncidentSource::Pagerduty => {
            let token = secret(&p.token_env).unwrap_or_else(|| Secret::new(String::new()));
            Ok(incidents::from_pagerduty(http, p, &token, since, until)?)
        }
    }
}

/// A migration's result, when the policy binds one.
pub fn migration(run: &Run<GuardPolicy>, policy: &GuardPolicy) -> Result<Option<Result<(), String>>, ObserveError> {
    let Some(path) = &policy.rollback.migration_evidence else { return Ok(None) };
    let file = path.replace("{release}", &run.release);
    let text = run.root.read_text(&file, "migration evidence (release-guard.rollback.migration-evidence)")?;
    let v: serde_json::Value = release_gate_core::json::parse(text.as_bytes()).map_err(|e| {
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
            // GitHub treats label names case-insensitively.
            if pr.labels.iter().any(|l| l.name.eq_ignore_ascii_case(label)) {
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

/// A changed path as a rule compares it: `./`, doubled and trailing
/// slashes and `\` separators gone, `..` resolved (`infra/../migrations/x`
/// is `migrations/x`).
pub fn normalise(path: &str) -> String {
    let p = path.trim().replace('\\', "/");
    let mut parts: Vec<&str> = Vec::new();
    for s in p.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if s == ".." && parts.last().is_some_and(|l| *l != "..") {
            parts.pop();
        } else {
            parts.push(s);
        }
    }
    parts.join("/")
}

/// A path as git prints one it quotes (`"caf\303\251.sql"`, `"a\tb"`):
/// unquoted; any other path as it is.
fn unquote(path: &str) -> String {
    let Some(inner) = path.strip_prefix('"').and_then(|p| p.strip_suffix('"')) else { return path.to_owned() };
    let mut bytes = Vec::new();
    let mut it = inner.bytes().peekable();
    while let Some(b) = it.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        match it.next() {
            Some(b'n') => bytes.push(b'\n'),
            Some(b't') => bytes.push(b'\t'),
            Some(d @ b'0'..=b'7') => {
                let mut v = u32::from(d - b'0');
                for _ in 0..2 {
                    if let Some(&n @ b'0'..=b'7') = it.peek() {
                        v = v * 8 + u32::from(n - b'0');
                        it.next();
                    }
                }
                bytes.push(u8::try_from(v).unwrap_or(b'?'));
            }
            Some(o) => bytes.push(o),
            None => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One line of a change list: `git diff --name-status` (`M\tpath`,
/// `D\tpath`, `R100\told\tnew`) or a bare path. Each path it changed, and
/// whether the change deleted it: a rename or copy changes both its paths
/// (moving a migration out of `migrations/` touches it), the old one gone
/// for a rename. `Err` says why a line does not read.
fn change(line: &str, name_status: bool) -> Result<Vec<(String, bool)>, String> {
    if line.trim().is_empty() {
        return Ok(Vec::new());
    }
    let fields: Vec<&str> = line.split('\t').collect();
    let path = |p: &str| normalise(&unquote(p));
    let status_ok = |s: &str| {
        let mut c = s.chars();
        c.next().is_some_and(|c| "ACDMRTUXB".contains(c)) && c.all(|c| c.is_ascii_digit()) && s.len() <= 4
    };
    match fields.as_slice() {
        [status, p] if status_ok(status) && !p.trim().is_empty() => Ok(vec![(path(p), status.starts_with('D'))]),
        [status, old, new] if (status.starts_with('R') || status.starts_with('C')) && status_ok(status) => {
            Ok(vec![(path(old), status.starts_with('R')), (path(new), false)])
        }
        [p] if !name_status => Ok(vec![(path(p), false)]),
        _ => Err(format!(
            "{line:?} is neither `git diff --name-status` (a status, a tab, the path; a rename: R<score>, a tab, the old path, a tab, the new) nor, in a list without tabs, a bare path"
        )),
    }
}

/// Whether the release touches the architecture, from `--changed-files`
/// (a path per line, or `git diff --name-status`) or `git diff --name-status
/// <previous tag> HEAD`. Paths are normalised, matched case-insensitively on
/// a case-insensitive checkout (`core.ignorecase`), and an ADR or runbook
/// file the release deletes is no update.
pub fn architecture(
    run: &Run<GuardPolicy>,
    policy: &GuardPolicy,
    args: &Args,
    previous: Option<&str>,
) -> Result<Architecture, ObserveError> {
    if policy.architecture_paths.is_empty() {
        return Ok(Architecture::NotConfigured);
    }
    let git =
        |a: &[&str]| std::process::Command::new("git").arg("-C").arg(run.root.real()).args(a).output().ok().filter(|o| o.status.success());
    let listed =
        args.changed_files.clone().or_else(|| policy.changed_files.as_ref().map(|f| PathBuf::from(f.replace("{release}", &run.release))));
    let changed: Vec<(String, bool)> = match &listed {
        Some(p) => {
            let text = run.root.read_text(p, "changed files (--changed-files, release-guard.changed-files)")?;
            let name_status = text.contains('\t');
            let mut out = Vec::new();
            for (n, line) in text.lines().enumerate() {
                let changes = change(line, name_status).map_err(|why| {
                    ObserveError::Located(Located::new(p.display().to_string(), n as u64 + 1, format!("{why}; list every changed path")))
                })?;
                // A bare path that is not in the checkout was deleted.
                out.extend(changes.into_iter().map(|(path, deleted)| {
                    let gone = deleted || (!name_status && !run.root.real().join(&path).exists());
                    (path, gone)
                }));
            }
            out
        }
        None => {
            let Some(prev) = previous else {
                return Ok(Architecture::Unknown("no earlier known-good release to diff from; pass --changed-files".into()));
            };
            let tag = policy.rollback.tag.replace("{release}", prev);
            match git(&["diff", "--name-status", &tag, "HEAD"]) {
                Some(o) => String::from_utf8_lossy(&o.stdout).lines().flat_map(|l| change(l, true).unwrap_or_default()).collect(),
                None => {
                    return Ok(Architecture::Unknown(format!(
                        "`git diff {tag} HEAD` failed (a shallow checkout? fetch the tag, or pass --changed-files)"
                    )));
                }
            }
        }
    };
    if changed.is_empty() {
        return Ok(Architecture::Unknown(format!(
            "the change list{} is empty: a release changes something, so what it changed cannot be told",
            listed.as_ref().map(|p| format!(" `{}`", p.display())).unwrap_or_default()
        )));
    }
    let fold = git(&["config", "--get", "core.ignorecase"]).is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "true");
    let set = |globs: &[String]| -> Result<globset::GlobSet, ObserveError> {
        let mut b = globset::GlobSetBuilder::new();
        for g in globs {
            let glob = globset::GlobBuilder::new(&normalise(g))
                .case_insensitive(fold)
                .literal_separator(false)
                .build()
                .map_err(|source| ObserveError::Glob { pattern: g.clone(), source })?;
            b.add(glob);
        }
        b.build().map_err(|source| ObserveError::Glob { pattern: globs.join(", "), source })
    };
    let (arch, adr) = (set(&policy.architecture_paths)?, set(&policy.adr_paths)?);
    Ok(Architecture::Changed {
        touched: changed.iter().filter(|(f, _)| arch.is_match(Path::new(f))).map(|(f, _)| f.clone()).collect(),
        adr: changed.iter().filter(|(f, deleted)| !deleted && adr.is_match(Path::new(f))).map(|(f, _)| f.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_paths_are_normalised_and_deletions_known() {
        assert_eq!(normalise("./infra//x.tf"), "infra/x.tf");
        assert_eq!(normalise("infra\\x.tf/"), "infra/x.tf");
        assert_eq!(normalise("infra/../migrations/./x.sql"), "migrations/x.sql");
        assert_eq!(normalise("../outside/x"), "../outside/x");
        let one = |p: &str, d: bool| Ok(vec![(p.to_owned(), d)]);
        assert_eq!(change("D\tdocs/adr/0007.md", true), one("docs/adr/0007.md", true));
        assert_eq!(change("M\t./docs//adr/0008.md", true), one("docs/adr/0008.md", false));
        // A rename changes both paths: moving a migration out of migrations/ touches it.
        assert_eq!(
            change("R093\tmigrations/9_x.py\tarchive/9_x.py", true),
            Ok(vec![("migrations/9_x.py".into(), true), ("archive/9_x.py".into(), false)])
        );
        assert_eq!(change("C100\tdocs/adr/a.md\tdocs/adr/b.md", true).map(|c| c.len()), Ok(2));
        assert_eq!(change("configs/production/a.yaml", false), one("configs/production/a.yaml", false));
        assert_eq!(change("M\t\"migrations/caf\\303\\251.sql\"", true), one("migrations/café.sql", false), "git's quoting");
        assert_eq!(change("   ", true), Ok(vec![]));
        // In a name-status list, a line without its tab, or with an unknown status, does not read.
        assert!(change("M migrations/x.sql", true).is_err());
        assert!(change("Q\tmigrations/x.sql", true).is_err());
        assert!(change("M\t", true).is_err());
    }
}
