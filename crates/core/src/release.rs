//! Release ids end up in file paths, branch names and labels, so they are
//! checked before any of those is built.

use thiserror::Error;

/// Why a release id was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReleaseIdError {
    /// The id was empty.
    #[error("release id is empty; pass --release (input release) with an id such as 2.4.0, or run on a release/<id> branch or a v<id> tag")]
    Empty,
    /// The id had a character outside the allowed set.
    #[error("release id {id:?} contains {bad:?}; use only letters, digits, '.', '_' and '-' (e.g. 2.4.0 or 2026-12-rc1)")]
    BadChar {
        /// The id as given.
        id: String,
        /// The first offending character.
        bad: char,
    },
    /// The id was `.`/`..` or contained `..`, which would walk out of the report directory.
    #[error("release id {0:?} contains '..'; use an id such as 2.4.0")]
    DotDot(String),
    /// The id was too long for a file or label name.
    #[error("release id {0:?} is longer than 100 characters; use a shorter id")]
    TooLong(String),
}

/// How a branch or tag names its release by default: `release/2.4.0`, `v2.4.0`.
pub const DEFAULT_REFS: [&str; 2] = ["release/{release}", "v{release}"];

/// The release a branch or tag names by `patterns` (`{release}` is the id),
/// when one matches and the id is valid: `refs/heads/release/2.4.0` → `2.4.0`.
pub fn from_ref<S: AsRef<str>>(patterns: &[S], git_ref: &str) -> Option<String> {
    let r = git_ref.trim_start_matches("refs/heads/").trim_start_matches("refs/tags/");
    patterns.iter().find_map(|p| {
        let (before, after) = p.as_ref().split_once("{release}")?;
        let id = r.strip_prefix(before)?.strip_suffix(after)?;
        validate(id).ok().map(str::to_owned)
    })
}

/// The branch a release's decision log is committed to: `configured` (the
/// policy's `decision-log-commit.branch`, `{release}` replaced), else the
/// branch `git_ref` names when it is this release's branch (not a tag),
/// else `release/<id>`.
pub fn log_branch(release: &str, configured: Option<&str>, git_ref: Option<&str>) -> String {
    if let Some(b) = configured {
        return b.replace("{release}", release);
    }
    match git_ref.filter(|r| !r.starts_with("refs/tags/")).map(|r| r.trim_start_matches("refs/heads/")) {
        Some(branch) if from_ref(&DEFAULT_REFS[..1], branch).as_deref() == Some(release) => branch.to_owned(),
        _ => format!("release/{release}"),
    }
}

/// Checks a release id: letters, digits, `.`, `_`, `-`; no path separators, no `..`.
pub fn validate(id: &str) -> Result<&str, ReleaseIdError> {
    if id.is_empty() {
        return Err(ReleaseIdError::Empty);
    }
    if id.len() > 100 {
        return Err(ReleaseIdError::TooLong(id.to_owned()));
    }
    if let Some(bad) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(ReleaseIdError::BadChar { id: id.to_owned(), bad });
    }
    if id.contains("..") || id == "." {
        return Err(ReleaseIdError::DotDot(id.to_owned()));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_branch_or_tag_names_its_release_and_nothing_else_does() {
        assert_eq!(from_ref(&DEFAULT_REFS, "refs/heads/release/2.4.0").as_deref(), Some("2.4.0"));
        assert_eq!(from_ref(&DEFAULT_REFS, "release/2.4.0").as_deref(), Some("2.4.0"));
        assert_eq!(from_ref(&DEFAULT_REFS, "refs/tags/v2.4.0").as_deref(), Some("2.4.0"));
        for none in ["main", "refs/heads/feature/x", "release/", "release/../../etc", "v", "refs/pull/1/merge"] {
            assert_eq!(from_ref(&DEFAULT_REFS, none), None, "{none}");
        }
    }

    #[test]
    fn the_log_lives_on_the_release_branch() {
        assert_eq!(log_branch("2.4.0", None, Some("refs/heads/release/2.4.0")), "release/2.4.0");
        assert_eq!(log_branch("2.4.0", None, Some("refs/tags/v2.4.0")), "release/2.4.0", "a tag is not a branch to commit to");
        assert_eq!(log_branch("2.4.0", None, Some("main")), "release/2.4.0");
        assert_eq!(log_branch("2.4.0", None, Some("release/2.5.0")), "release/2.4.0", "another release's branch");
        assert_eq!(log_branch("2.4.0", Some("decisions/{release}"), Some("release/2.4.0")), "decisions/2.4.0");
    }

    #[test]
    fn accepts_ordinary_ids_and_refuses_paths() {
        for ok in ["2.4.0", "release_7", "2026-12-rc1", "v1"] {
            assert_eq!(validate(ok), Ok(ok));
        }
        assert_eq!(validate(""), Err(ReleaseIdError::Empty));
        assert!(matches!(validate("../etc"), Err(ReleaseIdError::BadChar { bad: '/', .. })));
        assert!(matches!(validate("a\\b"), Err(ReleaseIdError::BadChar { bad: '\\', .. })));
        assert_eq!(validate(".."), Err(ReleaseIdError::DotDot("..".into())));
        assert_eq!(validate("1..2"), Err(ReleaseIdError::DotDot("1..2".into())));
        assert!(matches!(validate("a b"), Err(ReleaseIdError::BadChar { bad: ' ', .. })));
        assert!(matches!(validate(&"x".repeat(101)), Err(ReleaseIdError::TooLong(_))));
    }
}
