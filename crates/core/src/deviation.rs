//! The runbook's minimums are floors: a guard shorter than 60 minutes
//! (§4.3), a critical tolerance looser than 10 % or an error budget above
//! 5 % (§6), a canary window shorter than 30 minutes (§4.2). A policy value
//! beyond one is refused, unless an explicit, **signed deviation** grants
//! that very value: a YAML file in `evaluation.deviations.dir` with a
//! detached SSH signature beside it (`<file>.sig`, `ssh-keygen -Y sign -n
//! release-gate-deviation -f KEY <file>`), the config-diff exceptions'
//! mechanism:
//!
//! ```yaml
//! setting: release-guard.guard     # the policy key
//! value: 30m                       # the value it allows, exactly as the policy writes it
//! release: "2.4.*"                 # the releases it applies to
//! reason: a 30-minute guard for the hotfix train, agreed with SRE
//! ticket: RISK-2301
//! approver: alice                  # the allowed-signers principal who signs it
//! created: 2026-11-30T09:00:00Z
//! expires: 2026-12-14T00:00:00Z
//! ```
//!
//! Its signer must be the approver, listed in `evaluation.deviations.allowed-signers`
//! for the namespace; it must be unexpired, not from the future and live at
//! most `max-lifetime-days`. A granted deviation is shown in the report (a
//! warning) and so in the decision log, with who signed it and until when.

use std::path::PathBuf;

use serde::Deserialize;

use crate::paths::{PathError, Root};
use crate::policy::{Deviations, Instant, PolicyError};
use crate::signing::{AllowedSigners, SigningError, glob_match, principal_matches};

/// The namespace deviations are signed for.
pub const NAMESPACE: &str = "release-gate-deviation";

/// A deviation file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Deviation {
    /// The policy key it loosens (`release-guard.guard`).
    pub setting: String,
    /// The value it allows, as the policy writes it.
    pub value: String,
    /// Release id pattern (`*`, `?`).
    pub release: String,
    /// Why.
    pub reason: String,
    /// Ticket key.
    pub ticket: String,
    /// The allowed-signers principal who signs it.
    pub approver: String,
    /// When it was approved.
    pub created: Instant,
    /// When it stops applying.
    pub expires: Instant,
}

/// A deviation that applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// Its file, repository-relative.
    pub file: String,
    /// The setting and the value it allows.
    pub setting: String,
    /// The value.
    pub value: String,
    /// The runbook's minimum it deviates from.
    pub runbook: String,
    /// Who signed it.
    pub approver: String,
    /// Until when.
    pub expires: String,
    /// Its ticket and reason.
    pub reason: String,
}

impl Granted {
    /// One line for the report and the log.
    pub fn line(&self) -> String {
        format!(
            "deviation from the runbook: {} is {} ({}), signed by {} until {} ({}; {})",
            self.setting, self.value, self.runbook, self.approver, self.expires, self.reason, self.file
        )
    }
}

/// A setting's value and the runbook's minimum for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Floor {
    /// The policy key.
    pub setting: String,
    /// Its value, as the policy writes it.
    pub value: String,
    /// Whether the value respects the runbook.
    pub within: bool,
    /// The runbook's minimum, in words (`the runbook's 60 minutes (§4.3)`).
    pub runbook: String,
}

/// A setting below the runbook's floor with no deviation to grant it, or deviations that cannot be read (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum DeviationError {
    /// Below the floor, not granted.
    #[error(
        "{setting} is {value}, beyond {runbook}; bring it within, or sign a deviation for exactly this value in {dir} (setting: {setting}, value: {value}, ssh-keygen -Y sign -n {NAMESPACE}){why_not}"
    )]
    Below {
        /// The policy key.
        setting: String,
        /// Its value.
        value: String,
        /// The runbook's minimum.
        runbook: String,
        /// Where deviations are looked for.
        dir: String,
        /// Why the deviations found there do not grant it.
        why_not: String,
    },
    /// A path the root refuses, or a file that cannot be read.
    #[error("{0}")]
    Path(#[from] PathError),
    /// A deviation file that is not one.
    #[error("{0}")]
    Yaml(#[from] PolicyError),
    /// The allowed-signers file.
    #[error("{0}")]
    Signers(#[from] SigningError),
}

/// The deviations granting every floor that is not within; an error for
/// the first one nothing grants. Nothing is read when every floor holds.
pub fn grant(root: &Root, cfg: &Deviations, release: &str, now: jiff::Timestamp, floors: &[Floor]) -> Result<Vec<Granted>, DeviationError> {
    let beyond: Vec<&Floor> = floors.iter().filter(|f| !f.within).collect();
    if beyond.is_empty() {
        return Ok(Vec::new());
    }
    let found = load(root, cfg, release, now)?;
    let mut out = Vec::new();
    for f in beyond {
        let candidates: Vec<&Loaded> = found.iter().filter(|(_, d)| d.as_ref().map_or(true, |d| d.setting == f.setting)).collect();
        let granted = candidates.iter().find_map(|(file, d)| match d {
            Ok(d) if same_value(&d.value, &f.value) => Some(Granted {
                file: file.clone(),
                setting: f.setting.clone(),
                value: f.value.clone(),
                runbook: f.runbook.clone(),
                approver: d.approver.clone(),
                expires: crate::report::rfc3339(d.expires.0),
                reason: format!("{}: {}", d.ticket, d.reason),
            }),
            _ => None,
        });
        match granted {
            Some(g) => out.push(g),
            None => {
                let why: Vec<String> = candidates
                    .iter()
                    .map(|(file, d)| match d {
                        Ok(d) => format!("{file} allows {}, not {}", d.value, f.value),
                        Err(why) => format!("{file}: {why}"),
                    })
                    .collect();
                return Err(DeviationError::Below {
                    setting: f.setting.clone(),
                    value: f.value.clone(),
                    runbook: f.runbook.clone(),
                    dir: cfg.dir.display().to_string(),
                    why_not: if why.is_empty() { String::new() } else { format!("; found: {}", why.join("; ")) },
                });
            }
        }
    }
    Ok(out)
}

/// Whether two written values are the same value: durations (`30m`,
/// `0.5h`), numbers (`12`, `12.0`), else the same text.
fn same_value(a: &str, b: &str) -> bool {
    let dur = |s: &str| s.trim().parse::<jiff::SignedDuration>().ok().or_else(|| crate::policy::duration(s));
    if let (Some(x), Some(y)) = (dur(a), dur(b)) {
        return x == y;
    }
    if let (Ok(x), Ok(y)) = (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        return x == y;
    }
    a.trim() == b.trim()
}

/// A deviation file, and the deviation or why it may not be used.
type Loaded = (String, Result<Deviation, String>);

/// Every deviation file in the directory, each with whether it may be used.
fn load(root: &Root, cfg: &Deviations, release: &str, now: jiff::Timestamp) -> Result<Vec<Loaded>, DeviationError> {
    const WHAT: &str = "deviations directory (evaluation.deviations.dir)";
    let real = root.resolve(&cfg.dir, WHAT)?;
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&real) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| cfg.dir.join(e.file_name()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(cause) => {
            return Err(PathError::Io { verb: "list", what: WHAT.to_owned(), path: cfg.dir.display().to_string(), cause }.into());
        }
    };
    files.sort();
    let signers = match &cfg.allowed_signers {
        Some(p) => Some(AllowedSigners::read(root, p)?),
        None => None,
    };
    let mut out = Vec::new();
    for shown in files {
        let file = shown.display().to_string();
        let bytes = root.read(&shown, "deviation")?;
        let text = crate::paths::utf8(bytes.clone(), &shown, "deviation")?;
        let d: Deviation = crate::policy::parse_yaml(&text, &shown)?;
        let sig = root.read_text_if_present(PathBuf::from(format!("{file}.sig")), "deviation signature")?;
        let verdict = judge(&d, &bytes, sig.as_deref(), &file, signers.as_ref(), cfg, release, now);
        out.push((file, verdict.map(|()| d)));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn judge(
    d: &Deviation,
    bytes: &[u8],
    sig: Option<&str>,
    shown: &str,
    signers: Option<&AllowedSigners>,
    cfg: &Deviations,
    release: &str,
    now: jiff::Timestamp,
) -> Result<(), String> {
    let signers = signers
        .ok_or_else(|| "the policy names no evaluation.deviations.allowed-signers file, so no deviation can be verified".to_owned())?;
    let sig = sig.ok_or_else(|| format!("unsigned: no {shown}.sig; sign it with ssh-keygen -Y sign -n {NAMESPACE} -f KEY {shown}"))?;
    let principals = signers.verify(shown, bytes, sig, NAMESPACE, now.as_second()).map_err(|e| e.to_string())?;
    if !principal_matches(&principals, &d.approver) && !principals.iter().any(|p| p.eq_ignore_ascii_case(&d.approver)) {
        return Err(format!("signed by {} but names {} as approver; the approver must sign", principals.join(","), d.approver));
    }
    if !glob_match(&d.release, release) {
        return Err(format!("for release {:?}, not {release}", d.release));
    }
    if d.created.0 > now {
        return Err(format!("created {} is in the future", d.created.0));
    }
    if d.expires.0 <= now {
        return Err(format!("expired at {}", d.expires.0));
    }
    let max = jiff::SignedDuration::from_hours(24 * i64::from(cfg.max_lifetime_days));
    if d.expires.0.duration_since(d.created.0) > max {
        return Err(format!(
            "lives longer than the policy's {} days (created {}, expires {})",
            cfg.max_lifetime_days, d.created.0, d.expires.0
        ));
    }
    Ok(())
}
