//! The policy file: one YAML file for every gate, one section per gate.
//!
//! Parsed with `serde-saphyr` (YAML 1.2, built on the saphyr parser) because
//! `serde_yaml` is archived and `serde_yml` carries unsoundness advisories;
//! serde-saphyr refuses duplicate keys, bounds alias expansion and reports
//! line and column for every error, which is what a policy error message
//! needs. Each gate deserialises the whole file into [`PolicyFile<S>`], which
//! types its own section strictly and checks that every other top-level key
//! is a known section name.

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use thiserror::Error;

/// An RFC 3339 instant with an offset, as policy and data files write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant(pub jiff::Timestamp);

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<jiff::Timestamp>()
            .map(Instant)
            .map_err(|_| de::Error::custom(format!("invalid instant {s:?}; expected RFC 3339 with an offset, e.g. 2026-12-16T18:00:00Z")))
    }
}

impl serde::Serialize for Instant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Implements `JsonSchema` for a type the policy writes as a string
/// (durations, instants, days, times, zones, patterns): its name, what it
/// is, and optionally a regular expression it matches.
#[macro_export]
macro_rules! string_schema {
    ($ty:ty, $name:literal, $description:literal $(, pattern = $pattern:literal)?) => {
        impl ::schemars::JsonSchema for $ty {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                #[allow(unused_mut)]
                let mut s = ::schemars::json_schema!({"type": "string", "description": $description});
                $( s.insert("pattern".into(), $pattern.into()); )?
                s
            }
        }
    };
}

string_schema!(
    Instant,
    "Instant",
    "An RFC 3339 instant with an offset, e.g. 2026-12-16T18:00:00Z.",
    pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})$"
);
string_schema!(Duration, "Duration", "A duration such as 90m, 1h30m or 2h.");

/// An instant given as `--now`.
pub fn parse_now(s: &str) -> Result<jiff::Timestamp, BadInstant> {
    instant("--now", s)
}

/// An instant given as the value of `flag` (`--deployed-at`).
pub fn instant(flag: &'static str, s: &str) -> Result<jiff::Timestamp, BadInstant> {
    s.parse::<jiff::Timestamp>().map_err(|_| BadInstant { flag, value: s.to_owned() })
}

/// A flag's value that is not an instant.
#[derive(Debug, thiserror::Error)]
#[error("{flag} {value:?} is not an RFC 3339 instant with an offset; use e.g. 2026-12-01T13:30:00Z")]
pub struct BadInstant {
    /// The flag.
    pub flag: &'static str,
    /// What it was given.
    pub value: String,
}

/// Where the policy lives when `--policy` is not given.
pub const DEFAULT_PATH: &str = ".github/release-gate.yml";

/// Every top-level key the policy file may have.
pub const SECTIONS: &[&str] = &[
    "reporting",
    "evaluation",
    "freeze-check",
    "config-diff",
    "artifact-verify",
    "smoke-gate",
    "decision-log-commit",
    "release-guard",
    "deploy",
    "run",
];

/// A duration written like `90m`, `1h30m` or `2h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub jiff::SignedDuration);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bad = || de::Error::custom(format!("invalid duration {s:?}; expected e.g. \"90m\", \"1h30m\" or \"2h\""));
        let dur: jiff::SignedDuration = s.parse().map_err(|_| bad())?;
        if dur.is_negative() {
            return Err(bad());
        }
        Ok(Duration(dur))
    }
}

impl serde::Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // jiff's friendly form (`1h 30m`), which reads back the same.
        s.collect_str(&format_args!("{:#}", self.0))
    }
}

/// A policy duration: a number and a unit, `90s`, `30m`, `6h`, `7d`, `2w`
/// (days and weeks are 24 h and 7 × 24 h).
pub fn duration(text: &str) -> Option<jiff::SignedDuration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (n, unit) = t.split_at(split);
    let n: f64 = n.parse().ok()?;
    let secs = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 604_800.0,
        _ => return None,
    };
    jiff::SignedDuration::try_from_secs_f64(n * secs).ok()
}

/// A gate's own section of the policy.
pub trait GateSection: DeserializeOwned + Default {
    /// The section's key, e.g. `freeze-check`.
    const NAME: &'static str;
}

/// Settings every gate shares, under `reporting:`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Reporting {
    /// IANA timezone in which times are shown beside UTC.
    pub display_timezone: String,
    /// Default for the comment mode when no flag is given.
    pub comment_mode: Option<crate::cli::CommentMode>,
    /// One combined comment for the release (default), or one per gate.
    pub comment_layout: CommentLayout,
}

impl Default for Reporting {
    fn default() -> Self {
        Self { display_timezone: "UTC".to_owned(), comment_mode: None, comment_layout: CommentLayout::default() }
    }
}

/// How the PR comments are laid out, `reporting.comment-layout`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CommentLayout {
    /// One sticky comment for the release: a row per gate, linked to its check run.
    #[default]
    Combined,
    /// A sticky comment per gate with its whole report.
    PerGate,
}

/// How a gate may be asked to evaluate, and whose results count, under `evaluation:`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Evaluation {
    /// Whether `--now` (input `now`: evaluate as if at another time) is
    /// accepted in GitHub Actions. A dry run is published under its own
    /// check name, `<name> (dry run)`, so it never satisfies a required check.
    pub allow_dry_run: bool,
    /// Apps whose check runs count as evidence.
    pub trusted_apps: Vec<String>,
    /// Workflow files whose runs' check runs count as evidence (default: the workflow running now).
    pub trusted_workflows: Vec<String>,
    /// Signed deviations from the runbook's minimums (a guard shorter than
    /// 60 minutes, a looser critical tolerance, …): `crate::deviation`.
    pub deviations: Deviations,
}

impl Default for Evaluation {
    fn default() -> Self {
        Self {
            allow_dry_run: false,
            trusted_apps: vec!["github-actions".into()],
            trusted_workflows: Vec::new(),
            deviations: Deviations::default(),
        }
    }
}

/// Where signed runbook deviations are, and who may sign them (`evaluation.deviations`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Deviations {
    /// The directory of deviation files (`*.yaml`, each with `<file>.sig`).
    pub dir: PathBuf,
    /// The allowed-signers file their signatures are checked against (none: no deviation can be verified).
    pub allowed_signers: Option<PathBuf>,
    /// The longest a deviation may live, days.
    pub max_lifetime_days: u32,
}

impl Default for Deviations {
    fn default() -> Self {
        Self { dir: PathBuf::from(".github/deviations"), allowed_signers: None, max_lifetime_days: 30 }
    }
}

/// The parsed policy as one gate sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyFile<S> {
    /// Shared reporting settings.
    pub reporting: Reporting,
    /// How the gates may be asked to evaluate.
    pub evaluation: Evaluation,
    /// The gate's own section (defaults when absent).
    pub section: S,
    /// Where the policy in force was read; `None` means built-in defaults.
    pub from_file: Option<PathBuf>,
}

/// What went wrong with the policy file.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// The file is not valid for the schema.
    #[error("{path}:{line}:{column}: {message}; see docs/policy.md")]
    Invalid {
        /// The path.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// What was expected.
        message: String,
    },
}

/// The top-level sections a policy text has (to run what it configures).
pub fn sections(text: &str, path: &Path) -> Result<Vec<String>, PolicyError> {
    let map: Option<std::collections::BTreeMap<String, IgnoredAny>> = parse_yaml(text, path)?;
    Ok(map.map(|m| m.into_keys().collect()).unwrap_or_default())
}

/// The policy from its text (`None`: built-in defaults), `path` naming it in errors.
pub fn from_text<S: GateSection>(text: Option<&str>, path: &Path) -> Result<PolicyFile<S>, PolicyError> {
    let Some(text) = text else { return Ok(PolicyFile::default_for()) };
    let mut file: PolicyFile<S> = parse_yaml(text, path)?;
    file.from_file = Some(path.to_owned());
    Ok(file)
}

impl<S: GateSection> PolicyFile<S> {
    fn default_for() -> Self {
        Self { reporting: Reporting::default(), evaluation: Evaluation::default(), section: S::default(), from_file: None }
    }
}

/// Largest YAML file read as a policy, manifest or exception.
pub const MAX_YAML_BYTES: usize = 4 * 1024 * 1024;
/// Longest line in such a file: no value needs more, and a bound keeps
/// patterns and other values from taking unbounded time and memory.
pub const MAX_LINE_BYTES: usize = 8 * 1024;

/// YAML's core-schema tags, and the kind of node each may tag.
const CORE_TAGS: &[(&str, &str)] = &[
    ("str", "scalar"),
    ("int", "scalar"),
    ("float", "scalar"),
    ("bool", "scalar"),
    ("null", "scalar"),
    ("seq", "sequence"),
    ("map", "mapping"),
];

/// Checks a node's tag (`kind` is `scalar`, `sequence` or `mapping`): the
/// core-schema name for `!!str` and its kin on the right kind of node (the
/// non-specific `!` is `str`, `seq` or `map`, as YAML resolves it), an error
/// for anything else (`!!binary`, `!!python/object:…`, `!Ref`), whose
/// meaning these files cannot have.
pub fn core_tag(tag: &saphyr_parser::Tag, kind: &str) -> Result<&'static str, String> {
    let wanted = if tag.handle == "!" && tag.suffix.is_empty() {
        CORE_TAGS.iter().find(|(n, k)| *k == kind && matches!(*n, "str" | "seq" | "map"))
    } else if tag.is_yaml_core_schema() {
        CORE_TAGS.iter().find(|(n, k)| *n == tag.suffix && *k == kind)
    } else {
        None
    };
    if let Some((name, _)) = wanted {
        return Ok(name);
    }
    Err(format!("tag {tag} is not in YAML's core schema (!!str, !!int, !!float, !!bool, !!null, !!seq, !!map) for a {kind}"))
}

/// Refuses what the typed reading would let through silently: files and
/// lines beyond the bounds, and tags outside the core schema.
fn precheck(text: &str, path: &Path) -> Result<(), PolicyError> {
    let invalid = |line: u64, column: u64, message: String| PolicyError::Invalid { path: path.to_owned(), line, column, message };
    if text.len() > MAX_YAML_BYTES {
        return Err(invalid(1, 1, format!("the file is {} bytes, more than the {MAX_YAML_BYTES} read; split it", text.len())));
    }
    if let Some((i, l)) = text.lines().enumerate().find(|(_, l)| l.len() > MAX_LINE_BYTES) {
        return Err(invalid(
            i as u64 + 1,
            1,
            format!("the line is {} bytes, more than the {MAX_LINE_BYTES} allowed; shorten the value", l.len()),
        ));
    }
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        // Syntax errors are left to the typed reading, which words them for people.
        let Ok((event, span)) = event else { return Ok(()) };
        let (tag, kind) = match &event {
            saphyr_parser::Event::Scalar(_, _, _, tag) => (tag, "scalar"),
            saphyr_parser::Event::SequenceStart(_, tag) => (tag, "sequence"),
            saphyr_parser::Event::MappingStart(_, tag) => (tag, "mapping"),
            _ => continue,
        };
        if let Some(tag) = tag {
            core_tag(tag, kind).map_err(|m| invalid(span.start.line() as u64, span.start.col() as u64 + 1, format!("{m}; remove it")))?;
        }
    }
    Ok(())
}

/// Parses any YAML document strictly (duplicate keys refused, aliases
/// bounded, sizes bounded, only core-schema tags), mapping errors to
/// `file:line:column: message`.
pub fn parse_yaml<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, PolicyError> {
    precheck(text, path)?;
    let options = serde_saphyr::options! {
        strict_booleans: true,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options::<T>(text, options).map_err(|err| {
        let (line, column) = err.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
        PolicyError::Invalid { path: path.to_owned(), line, column, message: plain_message(&err) }
    })
}

/// The error's message without the position prefix serde-saphyr adds, since
/// ours goes in front as `file:line:column`.
fn plain_message(err: &serde_saphyr::Error) -> String {
    let text = err.without_snippet().to_string();
    let text = text.trim();
    // serde-saphyr appends " at line L, column C"; drop it.
    let text = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => text,
    };
    // Say what a policy author should write, not what the parser expected.
    let text = text
        .replace(", set DuplicateKeyPolicy in Options if acceptable", "; each key may appear once")
        .replace("expected sequence start", "expected a list here, e.g. [tue, thu] or one `- item` per line")
        .replace("expected mapping start", "expected a mapping here (key: value)");
    text.trim_end_matches('.').to_owned()
}

impl<'de, S: GateSection> Deserialize<'de> for PolicyFile<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FileVisitor<S>(PhantomData<S>);

        impl<'de, S: GateSection> Visitor<'de> for FileVisitor<S> {
            type Value = PolicyFile<S>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a mapping with sections {}", SECTIONS.join(", "))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                // An empty file: all defaults.
                Ok(PolicyFile::default_for())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut reporting = None;
                let mut evaluation = None;
                let mut section = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == S::NAME {
                        section = Some(map.next_value::<S>()?);
                    } else if key == "reporting" {
                        reporting = Some(map.next_value::<Reporting>()?);
                    } else if key == "evaluation" {
                        evaluation = Some(map.next_value::<Evaluation>()?);
                    } else if SECTIONS.contains(&key.as_str()) {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        return Err(de::Error::unknown_field(&key, SECTIONS));
                    }
                }
                Ok(PolicyFile {
                    reporting: reporting.unwrap_or_default(),
                    evaluation: evaluation.unwrap_or_default(),
                    section: section.unwrap_or_default(),
                    from_file: None,
                })
            }
        }

        deserializer.deserialize_map(FileVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
    struct Demo {
        buffer: String,
        days: Vec<String>,
    }

    impl GateSection for Demo {
        const NAME: &'static str = "freeze-check";
    }

    fn parse(text: &str) -> Result<PolicyFile<Demo>, PolicyError> {
        parse_yaml(text, Path::new("policy.yml"))
    }

    #[test]
    fn reads_own_section_and_skips_known_others() {
        let p = parse("config-diff:\n  anything: [1, 2]\nfreeze-check:\n  buffer: 90m\n  days: [tue]\n").expect("valid");
        assert_eq!(p.section, Demo { buffer: "90m".into(), days: vec!["tue".into()] });
        assert_eq!(p.reporting, Reporting::default());
    }

    #[test]
    fn empty_file_means_defaults() {
        let p = parse("").expect("empty is fine");
        assert_eq!(p.section, Demo::default());
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = parse("freeze-check:\n  buffer: 90m\n  bufer: 10m\n").expect_err("unknown key");
        let msg = err.to_string();
        assert!(msg.starts_with("policy.yml:3:"), "{msg}");
        assert!(msg.contains("bufer"), "{msg}");

        let err = parse("freeze-check:\n  days: tue\n").expect_err("wrong type").to_string();
        assert!(err.starts_with("policy.yml:2:"), "{err}");

        let err = parse("freeze-check:\n  buffer: 1m\n  buffer: 2m\n").expect_err("duplicate").to_string();
        assert!(err.starts_with("policy.yml:3:"), "{err}");
        assert!(err.to_lowercase().contains("duplicate"), "{err}");

        let err = parse("freze-check: {}\n").expect_err("unknown section").to_string();
        assert!(err.starts_with("policy.yml:1:1:"), "{err}");
        assert!(err.contains("freeze-check"), "expected form listed: {err}");
    }

    #[test]
    fn tags_outside_the_core_schema_and_oversized_values_are_refused() {
        for (text, line) in [
            ("freeze-check:\n  buffer: !!binary aGVsbG8=\n", 2),
            ("freeze-check:\n  buffer: !!python/object:os.system x\n", 2),
            ("freeze-check:\n  days: !Ref x\n", 2),
            ("freeze-check: !!set {a, b}\n", 1),
            ("freeze-check:\n  days: !!map [a]\n", 2),
        ] {
            let err = parse(text).expect_err(text).to_string();
            assert!(err.starts_with(&format!("policy.yml:{line}:")) && err.contains("core schema"), "{text}: {err}");
        }
        assert!(parse("freeze-check:\n  buffer: !!str 90m\n").is_ok());
        let long = format!("freeze-check:\n  buffer: \"{}\"\n", "a*".repeat(5_000));
        let err = parse(&long).expect_err("long").to_string();
        assert!(err.starts_with("policy.yml:2:1:") && err.contains("more than the 8192 allowed"), "{err}");
    }
}
