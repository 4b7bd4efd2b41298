//! The report every gate produces: the contract between gates, the decision
//! log and every GitHub surface. Field names here are stable (`release-gate/report/v1`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod data;

/// The schema id written into every report.
pub const SCHEMA: &str = "release-gate/report/v1";

/// The gate's overall answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every rule held.
    Pass,
    /// Allowed, with something a person should look at (an override, an exception).
    Warn,
    /// Refused.
    Fail,
}

impl Verdict {
    /// The word used in outputs and Markdown.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// One rule's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The rule held.
    Pass,
    /// The rule held only through an override, or needs attention.
    Warn,
    /// The rule refused the release.
    Fail,
    /// The rule did not apply.
    Skip,
}

impl Status {
    /// The word used in JSON and Markdown.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One rule and what it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable identifier, e.g. `window` or `release-train`.
    pub id: String,
    /// The outcome.
    pub status: Status,
    /// One line a release captain can act on.
    pub message: String,
}

impl Check {
    /// Builds a check.
    pub fn new(id: impl Into<String>, status: Status, message: impl Into<String>) -> Self {
        Self { id: id.into(), status, message: message.into() }
    }
}

/// Severity of an annotation, as GitHub names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Shown as a notice.
    Notice,
    /// Shown as a warning.
    Warning,
    /// Shown as a failure.
    Failure,
}

/// A finding tied to a line of a file in the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// Path relative to the repository root.
    pub path: String,
    /// First line (1-based).
    pub start_line: u64,
    /// Last line (1-based), at least `start_line`.
    pub end_line: u64,
    /// Severity.
    pub level: Level,
    /// Short title.
    pub title: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl Annotation {
    /// An annotation on one line.
    pub fn line(path: impl Into<String>, line: u32, level: Level, title: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            start_line: u64::from(line),
            end_line: u64::from(line),
            level,
            title: title.into(),
            message: message.into(),
        }
    }
}

/// A titled block of Markdown a gate adds below its table of checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Heading.
    pub title: String,
    /// Body, Markdown.
    pub markdown: String,
}

/// The policy in force when a report was made: which file, read from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyInForce {
    /// The policy file's path in the repository; `None`: no file, the built-in defaults.
    pub file: Option<String>,
    /// Where it was read: `the checkout`, `the base commit 0123456789ab (contents API)`, ….
    pub source: String,
}

impl std::fmt::Display for PolicyInForce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(file) => write!(f, "`{file}` from {}", self.source),
            None => write!(f, "the built-in defaults (no policy file in {})", self.source),
        }
    }
}

/// A gate's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The gate's name, e.g. `freeze-check`.
    pub gate: String,
    /// The release id.
    pub release: String,
    /// For gates run once per stage (smoke-gate): the stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Overall answer, derived from `checks`.
    pub verdict: Verdict,
    /// Every rule, in the order evaluated.
    pub checks: Vec<Check>,
    /// Values other steps read (`$GITHUB_OUTPUT`), all strings.
    pub outputs: BTreeMap<String, String>,
    /// When the report was made, RFC 3339 UTC.
    pub generated_at: String,
    /// The commit evaluated, when known.
    pub commit: Option<String>,
    /// Evaluated as if at `generated_at` (`--now`), not at the clock's time.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// The policy in force: which file, read from where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyInForce>,
    /// One-line headline for titles.
    #[serde(default)]
    pub title: String,
    /// Line-level findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
    /// Extra Markdown blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Section>,
    /// Gate-specific structured data for other gates and the decision log.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl Report {
    /// Starts a report; the verdict is derived when checks are added.
    pub fn new(gate: &str, release: &str, generated_at: jiff::Timestamp, commit: Option<String>) -> Self {
        Self {
            schema: SCHEMA.to_owned(),
            gate: gate.to_owned(),
            release: release.to_owned(),
            stage: None,
            verdict: Verdict::Pass,
            checks: Vec::new(),
            outputs: BTreeMap::new(),
            generated_at: rfc3339(generated_at),
            commit,
            dry_run: false,
            policy: None,
            title: String::new(),
            annotations: Vec::new(),
            details: Vec::new(),
            data: serde_json::Value::Null,
        }
    }

    /// Adds a check and folds its status into the verdict.
    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
        self.verdict = verdict_of(&self.checks);
    }

    /// Sets an output value.
    pub fn output(&mut self, key: &str, value: impl Into<String>) {
        self.outputs.insert(key.to_owned(), value.into());
    }

    /// The report's key: `<gate>`, or `<gate>-<stage>` for a staged gate
    /// (`smoke-gate-canary`). Its file name, its decision-log entry and its
    /// name in `required`.
    pub fn key(&self) -> String {
        key(&self.gate, self.stage.as_deref())
    }

    /// The check run's default name: `release-gate/<gate>`, or
    /// `release-gate/<gate>/<stage>`.
    pub fn check_name(&self) -> String {
        check_name(&self.gate, self.stage.as_deref())
    }

    /// Where this report lives in `dir`: `<dir>/<key>.json`.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.json", self.key()))
    }

    /// Sets the gate's typed data.
    pub fn set_data<T: data::GateData>(&mut self, data: &T) {
        debug_assert_eq!(self.gate, T::GATE, "data for {} in a {} report", T::GATE, self.gate);
        // Plain structs of strings, numbers and maps: serialising cannot fail.
        self.data = serde_json::to_value(data).unwrap_or_default();
    }

    /// The gate's typed data: `None` for another gate's report or one
    /// without data, an error naming the report when it does not read.
    pub fn data<T: data::GateData>(&self) -> Result<Option<T>, ReportError> {
        if self.gate != T::GATE || self.data.is_null() {
            return Ok(None);
        }
        serde_json::from_value(self.data.clone()).map(Some).map_err(|source| ReportError::Data { key: self.key(), source })
    }

    /// Reads a report written by any gate, refusing other schemas.
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        let shown = || path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| ReportError::Read { path: shown(), source })?;
        let text = crate::paths::utf8(bytes, path, "report")?;
        let report: Report = crate::json::parse_as(text.as_bytes()).map_err(|source| ReportError::NotAReport { path: shown(), source })?;
        if report.schema != SCHEMA {
            return Err(ReportError::Schema { path: shown(), found: report.schema });
        }
        Ok(report)
    }
}

/// Every report (`*.json`) in `dir` inside `root` whose file stem `keep`
/// accepts, sorted by name; no directory is no reports. Each must be named
/// after its key (`<key>.json`, as every gate writes it): a copy under
/// another name is refused, so no two reports in one directory speak for
/// the same gate and stage.
pub fn read_dir(root: &crate::paths::Root, dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<(PathBuf, Report)>, ReportError> {
    let full = root.resolve(dir, "report directory")?;
    let list = match std::fs::read_dir(&full) {
        Ok(list) => list,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ReportError::List { path: dir.display().to_string(), source }),
    };
    let mut names = Vec::new();
    for entry in list.flatten() {
        let name = entry.file_name();
        if !name.as_encoded_bytes().ends_with(b".json") {
            continue;
        }
        // No key has such a name: refused, not passed over.
        let Some(name) = name.to_str() else {
            return Err(ReportError::NotUtf8Name { path: dir.join(&name).display().to_string() });
        };
        if name.strip_suffix(".json").is_some_and(&keep) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let rel = dir.join(&name);
        let report = Report::read(&root.file(&rel, "report")?)?;
        if name.strip_suffix(".json") != Some(report.key().as_str()) {
            return Err(ReportError::Misnamed { path: rel.display().to_string(), key: report.key() });
        }
        out.push((rel, report));
    }
    Ok(out)
}

/// A report that cannot be read, or read as this version's contract.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file cannot be read.
    #[error("cannot read report {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not UTF-8 (at its line), or a path the root refuses.
    #[error("{0}")]
    Path(#[from] crate::paths::PathError),
    /// Not a report's JSON.
    #[error("{path} is not a release-gate report; re-run the gate that writes it")]
    NotAReport {
        /// The file.
        path: String,
        /// What JSON said.
        source: serde_json::Error,
    },
    /// Another schema.
    #[error("{path} has schema {found:?}, expected {SCHEMA:?}; re-run the gate with this version of release-gate")]
    Schema {
        /// The file.
        path: String,
        /// The schema it has.
        found: String,
    },
    /// The report directory exists but cannot be listed.
    #[error("cannot list the report directory {path}; check its permissions")]
    List {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A report under another name than its key's (a copy).
    #[error("{path} holds {key}'s report, which is written as {key}.json; remove the copy")]
    Misnamed {
        /// The file.
        path: String,
        /// The report's key.
        key: String,
    },
    /// A `*.json` whose name is not UTF-8 (no report is written so).
    #[error("{path}: a report's file name is its key (`<key>.json`); rename or remove this file")]
    NotUtf8Name {
        /// The file, shown lossily.
        path: String,
    },
    /// The gate's data is not this version's form.
    #[error("the {key} report's data is not in this version's form; re-run the gate")]
    Data {
        /// The report's key.
        key: String,
        /// What JSON said.
        source: serde_json::Error,
    },
}

/// An instant as reports write it: RFC 3339, UTC, whole seconds
/// (`2026-12-01T13:30:00Z`).
pub fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A report's key from its gate and stage (see [`Report::key`]).
pub fn key(gate: &str, stage: Option<&str>) -> String {
    match stage {
        Some(stage) => format!("{gate}-{stage}"),
        None => gate.to_owned(),
    }
}

/// A report key's gate and stage, the inverse of [`key`]:
/// `smoke-gate-canary` → (`smoke-gate`, `canary`). smoke-gate is the one staged gate.
pub fn split_key(key: &str) -> (&str, Option<&str>) {
    match key.strip_prefix("smoke-gate-") {
        Some(stage) => ("smoke-gate", Some(stage)),
        None => (key, None),
    }
}

/// A check run's default name from its gate and stage (see [`Report::check_name`]).
pub fn check_name(gate: &str, stage: Option<&str>) -> String {
    match stage {
        Some(stage) => format!("release-gate/{gate}/{stage}"),
        None => format!("release-gate/{gate}"),
    }
}

/// A verdict from checks: any fail fails, else any warn warns, else pass.
pub fn verdict_of(checks: &[Check]) -> Verdict {
    if checks.iter().any(|c| c.status == Status::Fail) {
        Verdict::Fail
    } else if checks.iter().any(|c| c.status == Status::Warn) {
        Verdict::Warn
    } else {
        Verdict::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_follows_the_worst_check() {
        let ts: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().expect("timestamp");
        let mut r = Report::new("freeze-check", "2.4.0", ts, None);
        assert_eq!(r.verdict, Verdict::Pass);
        r.push(Check::new("a", Status::Skip, "n/a"));
        assert_eq!(r.verdict, Verdict::Pass);
        r.push(Check::new("b", Status::Warn, "override"));
        assert_eq!(r.verdict, Verdict::Warn);
        r.push(Check::new("c", Status::Fail, "closed"));
        assert_eq!(r.verdict, Verdict::Fail);
        r.push(Check::new("d", Status::Pass, "ok"));
        assert_eq!(r.verdict, Verdict::Fail);
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["schema"], SCHEMA);
        assert_eq!(json["verdict"], "fail");
        assert_eq!(json["generated_at"], "2026-12-01T13:30:00Z");
        assert_eq!(json["checks"][2]["status"], "fail");
        assert!(json["commit"].is_null());
    }

    #[test]
    fn typed_data_is_read_only_from_its_own_gate_and_never_half_read() {
        let ts: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().expect("timestamp");
        let mut r = Report::new("decision-log-commit", "2.4.0", ts, None);
        assert_eq!(r.data::<data::DecisionLog>().expect("no data"), None);
        let d = data::DecisionLog { log: "l.md".into(), blockers: vec!["x".into()], commits: 1, retries: 0, gates: vec![] };
        r.set_data(&d);
        assert_eq!(r.data::<data::DecisionLog>().expect("reads"), Some(d));
        assert_eq!(r.data::<data::FreezeCheck>().expect("another gate's"), None);
        r.data["commits"] = serde_json::json!("one");
        let e = r.data::<data::DecisionLog>().expect_err("a string for a count");
        assert!(format!("{e:#}").contains("decision-log-commit report's data"), "{e:#}");
    }

    #[test]
    fn a_report_directory_is_read_by_key_and_a_copy_under_another_name_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(dir.path().join(".git")).expect("git");
        let root = crate::paths::Root::new(dir.path(), None).expect("root");
        let ts: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().expect("timestamp");
        let reports = Path::new("reports");
        assert!(read_dir(&root, reports, |_| true).expect("no directory, no reports").is_empty());
        let freeze = Report::new("freeze-check", "2.4.0", ts, None);
        crate::publish::write_report(&freeze, &dir.path().join(reports)).expect("write");
        std::fs::write(dir.path().join("reports/notes.txt"), "not a report").expect("write");
        let read = read_dir(&root, reports, |_| true).expect("reads");
        assert_eq!(
            read.iter().map(|(p, r)| (p.clone(), r.key())).collect::<Vec<_>>(),
            [(reports.join("freeze-check.json"), "freeze-check".to_owned())]
        );
        assert!(read_dir(&root, reports, |stem| stem != "freeze-check").expect("reads").is_empty());
        std::fs::copy(dir.path().join("reports/freeze-check.json"), dir.path().join("reports/rerun.json")).expect("copy");
        let e = read_dir(&root, reports, |_| true).expect_err("a copy under another name");
        assert!(matches!(e, ReportError::Misnamed { ref key, .. } if key == "freeze-check"), "{e}");
        std::fs::remove_file(dir.path().join("reports/rerun.json")).expect("rm");
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt as _;
            std::fs::write(dir.path().join("reports").join(std::ffi::OsStr::from_bytes(b"x\xff.json")), "{}").expect("write");
            assert!(matches!(read_dir(&root, reports, |_| true), Err(ReportError::NotUtf8Name { .. })));
        }
    }

    #[test]
    fn key_file_and_check_name_come_from_gate_and_stage() {
        let ts: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().expect("timestamp");
        let mut r = Report::new("smoke-gate", "2.4.0", ts, None);
        r.stage = Some("canary".into());
        assert_eq!(r.key(), "smoke-gate-canary");
        assert_eq!(r.check_name(), "release-gate/smoke-gate/canary");
        assert_eq!(r.path_in(Path::new("d")), Path::new("d/smoke-gate-canary.json"));
        r.stage = None;
        assert_eq!((r.key().as_str(), r.check_name().as_str()), ("smoke-gate", "release-gate/smoke-gate"));
    }
}
