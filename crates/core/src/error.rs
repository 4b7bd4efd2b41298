//! Errors that point at a line of a file: bad input is reported where it
//! is, in the message (`file:line:column: …`), in the check run as an
//! annotation, and as a `::error file=…,line=…::` workflow command.
//!
//! Library modules return their own `thiserror` enum. A variant that wraps
//! one of core's classified errors ([`Located`], [`PathError`],
//! [`crate::exit::Unreachable`], [`crate::github::ApiError`]) shows that
//! error's own message and keeps it as its source
//! (`#[error("{0}")] Path(#[from] PathError)`, never `#[error(transparent)]`,
//! whose cause is not in the chain), so [`location`] and
//! [`crate::exit::for_error`] find it with `?` alone, and [`describe`]
//! does not say it twice.

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

/// The error chain on one line, `outer: cause: cause`, for stderr, the check
/// run and the comment. A cause whose text the line already holds (a
/// variant that shows its source's message, or quotes it) is not repeated.
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut next = Some(err);
    while let Some(cause) = next {
        next = cause.source();
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Wrapper {
        #[error("{0}")]
        Located(#[from] Located),
        #[error("cannot list {path}: {source}")]
        List { path: String, source: std::io::Error },
    }

    #[test]
    fn a_wrapped_core_error_is_found_and_said_once() {
        let e = anyhow::Error::new(Wrapper::from(Located::new("a.yml", 3, "bad"))).context("reading the policy");
        assert_eq!(location(&e).map(|l| l.line), Some(3));
        assert_eq!(describe(e.as_ref()), "reading the policy: a.yml:3: bad");
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = anyhow::Error::new(Wrapper::List { path: "d".into(), source: io });
        assert_eq!(describe(e.as_ref()), "cannot list d: gone");
        let e = anyhow::anyhow!("outer").context("top");
        assert_eq!(describe(e.as_ref()), "top: outer");
    }

    #[test]
    fn a_bad_allowed_signers_line_is_located() {
        let e =
            crate::signing::AllowedSigners::parse("alice ssh-ed25519 not-base64!\n", ".github/allowed_signers").expect_err("a bad line");
        let l = location(&anyhow::Error::new(e).context("reading the exceptions")).expect("located");
        assert_eq!((l.file.as_str(), l.line), (".github/allowed_signers", 1));
    }
}
