//! Errors that point at a line of a file: bad input is reported where it
//! is, in the message (`file:line:column: …`), in the check run as an
//! annotation, and as a `::error file=…,line=…::` workflow command.
//!
//! Library modules return their own `thiserror` enum; one that wraps a
//! [`Located`], a [`PathError`] or an [`crate::exit::Unreachable`] with
//! `#[error(transparent)]` hides it from [`location`] and
//! [`crate::exit::for_error`] (a transparent variant's cause is not in the
//! chain), so such enums have an `into_anyhow` that hands that cause to the
//! edge on its own (`IncidentError`, `SourceError`, `ObserveError`).

use std::fmt;

use crate::paths::PathError;
use crate::policy::PolicyError;

/// Bad input at a line of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file, as shown (relative to the repository root).
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// What is wrong and what to do.
    pub message: String,
}

impl Located {
    /// A located error without a column.
    pub fn new(file: impl Into<String>, line: u64, message: impl Into<String>) -> Self {
        Self { file: file.into(), line, column: None, message: message.into() }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "{}:{}:{c}: {}", self.file, self.line, self.message),
            None => write!(f, "{}:{}: {}", self.file, self.line, self.message),
        }
    }
}

impl std::error::Error for Located {}

/// The first located cause in an error chain, if any.
pub fn location(err: &anyhow::Error) -> Option<Located> {
    for cause in err.chain() {
        if let Some(l) = cause.downcast_ref::<Located>() {
            return Some(l.clone());
        }
        if let Some(PolicyError::Invalid { path, line, column, message }) = cause.downcast_ref::<PolicyError>() {
            return Some(Located { file: path.display().to_string(), line: *line, column: Some(*column), message: message.clone() });
        }
        if let Some(PathError::NotUtf8 { path, line, .. }) = cause.downcast_ref::<PathError>() {
            return Some(Located::new(path.clone(), *line, cause.to_string()));
        }
        if let Some(crate::signing::SigningError::BadLine { path, line, message }) = cause.downcast_ref::<crate::signing::SigningError>() {
            return Some(Located::new(path.clone(), *line as u64, message.clone()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_allowed_signers_line_is_located() {
        let e =
            crate::signing::AllowedSigners::parse("alice ssh-ed25519 not-base64!\n", ".github/allowed_signers").expect_err("a bad line");
        let l = location(&anyhow::Error::new(e).context("reading the exceptions")).expect("located");
        assert_eq!((l.file.as_str(), l.line), (".github/allowed_signers", 1));
    }
}
