//! Signed, expiring exceptions. Each is a YAML file in the exceptions
//! directory with a detached SSH signature beside it (`<file>.sig`, made by
//! `ssh-keygen -Y sign -n release-gate-exception -f KEY <file>`). It allows one
//! divergence (a path pattern) only while both values hash as approved, for
//! the releases its pattern names, until it expires; its signer must be the
//! named approver, listed in the allowed-signers file, and not the PR author.

use std::path::{Path, PathBuf};

use release_gate_core::paths::Root;

use jiff::{SignedDuration, Timestamp};
use release_gate_core::policy::Instant;
use release_gate_core::signing::{AllowedSigners, principal_matches};
use serde::Deserialize;

use crate::ExceptionPolicy;
use crate::glob::Pattern;

/// An exception file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Exception {
    /// Release id pattern (`2.4.*`).
    pub release: Pattern,
    /// Difference pattern on `file#document/path` or `/path`.
    pub path: Pattern,
    /// SHA-256 hex of the approved staging value's canonical JSON (`absent` if none).
    pub staging_sha256: String,
    /// SHA-256 hex of the approved production value's canonical JSON (`absent` if none).
    pub production_sha256: String,
    /// Why.
    pub reason: String,
    /// Ticket key.
    pub ticket: String,
    /// Approver: the allowed-signers principal who signs it.
    pub approver: String,
    /// When it was approved.
    pub created: Instant,
    /// When it stops applying.
    pub expires: Instant,
}

/// An exception file and whether it may be used.
#[derive(Debug, Clone)]
pub struct Judged {
    /// File name in the exceptions directory.
    pub file: String,
    /// The exception, or why it cannot be used.
    pub outcome: Result<Exception, String>,
}

/// Exceptions that cannot be read (exit 2): never "no exceptions".
#[derive(Debug, thiserror::Error)]
pub enum ExceptionsError {
    /// The directory exists but cannot be listed.
    #[error("cannot list the exceptions directory {path}; check its permissions")]
    List {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A file that is a link out of the repository, not a file, or not UTF-8.
    #[error("{0}")]
    Path(#[from] release_gate_core::paths::PathError),
    /// The allowed-signers file does not read.
    #[error("{0}")]
    Signers(#[from] release_gate_core::signing::SigningError),
    /// An exception that is not YAML of the exception's shape, at its line.
    #[error("{0}")]
    Yaml(#[from] release_gate_core::policy::PolicyError),
}

/// Reads and judges every exception in `dir` (inside the repository).
pub fn load(
    root: &Root,
    dir: &Path,
    policy: &ExceptionPolicy,
    release: &str,
    pr_author: Option<&str>,
    now: Timestamp,
) -> Result<Vec<Judged>, ExceptionsError> {
    let real = root.resolve(dir, "exceptions directory (config-diff.exceptions.dir)")?;
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&real) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| dir.join(e.file_name()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ExceptionsError::List { path: dir.display().to_string(), source }),
    };
    files.sort();
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let signers = match &policy.allowed_signers {
        Some(p) => Some(AllowedSigners::read(root, p)?),
        None => None,
    };
    let mut out = Vec::new();
    for shown in files {
        let name = shown.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let bytes = root.read(&shown, "exception")?;
        let text = release_gate_core::paths::utf8(bytes.clone(), &shown, "exception")?;
        let ex: Exception = release_gate_core::policy::parse_yaml(&text, &shown)?;
        let sig_path = PathBuf::from(format!("{}.sig", shown.display()));
        let sig = root.read_text_if_present(&sig_path, "exception signature")?;
        let outcome = judge(&ex, &bytes, sig.as_deref(), &shown.display().to_string(), signers.as_ref(), policy, release, pr_author, now);
        out.push(Judged { file: name, outcome: outcome.map(|()| ex) });
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn judge(
    ex: &Exception,
    bytes: &[u8],
    sig: Option<&str>,
    shown: &str,
    signers: Option<&AllowedSigners>,
    policy: &ExceptionPolicy,
    release: &str,
    pr_author: Option<&str>,
    now: Timestamp,
) -> Result<(), String> {
    let signers =
        signers.ok_or_else(|| "the policy names no `exceptions.allowed-signers` file, so no exception can be verified".to_owned())?;
    let sig =
        sig.ok_or_else(|| format!("unsigned: no {shown}.sig; sign it with ssh-keygen -Y sign -n {} -f KEY {shown}", policy.namespace))?;
    let principals = signers.verify(shown, bytes, sig, &policy.namespace, now.as_second()).map_err(|e| e.to_string())?;
    if !principal_matches(&principals, &ex.approver) && !principals.iter().any(|p| p.eq_ignore_ascii_case(&ex.approver)) {
        return Err(format!("signed by {} but names {} as approver; the approver must sign", principals.join(","), ex.approver));
    }
    if let Some(author) = pr_author
        && (principal_matches(&principals, author) || ex.approver.eq_ignore_ascii_case(author))
    {
        return Err(format!("signed by the PR's author ({author}); another approver must sign"));
    }
    if !ex.release.matches(release) {
        return Err(format!("for release {:?}, not {release}", ex.release.as_str()));
    }
    if ex.created.0 > now {
        return Err(format!("created {} is in the future", ex.created.0));
    }
    if ex.expires.0 <= now {
        return Err(format!("expired at {}", ex.expires.0));
    }
    let max = SignedDuration::from_hours(24 * i64::from(policy.max_lifetime_days));
    if ex.expires.0.duration_since(ex.created.0) > max {
        return Err(format!(
            "lives longer than the policy's {} days (created {}, expires {})",
            policy.max_lifetime_days, ex.created.0, ex.expires.0
        ));
    }
    for (side, h) in [("staging", &ex.staging_sha256), ("production", &ex.production_sha256)] {
        if h != "absent" && !(h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(format!("{side}-sha256 {h:?} is not a SHA-256 hex digest or `absent`"));
        }
    }
    Ok(())
}
