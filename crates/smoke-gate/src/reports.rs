//! Where a stage's test reports are: the policy's globs walked inside the
//! repository. A directory that cannot be listed is an error, never "no
//! reports there".

use std::path::{Component, Path, PathBuf};

use release_gate_core::paths::{PathError, Root};

/// A report glob that cannot be followed (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    /// Absolute, or with `..`.
    #[error("report glob `{0}` leaves the repository (absolute or `..`); write it relative to the repository root")]
    Leaves(String),
    /// Not a glob.
    #[error("report glob `{pattern}` is not a valid glob")]
    Glob {
        /// The pattern.
        pattern: String,
        /// Why.
        source: globset::Error,
    },
    /// Its literal prefix leads out of the repository.
    #[error("{0}")]
    Path(#[from] PathError),
    /// A directory under it cannot be listed.
    #[error("cannot list {dir} while looking for test reports; check its permissions")]
    List {
        /// The directory.
        dir: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// A report glob as every stage reads it (`*` stays within a directory):
/// for the checkout's paths and an artifact's entries alike.
pub fn matcher(pattern: &str) -> Result<globset::GlobMatcher, FindError> {
    Ok(globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|source| FindError::Glob { pattern: pattern.to_owned(), source })?
        .compile_matcher())
}

/// Finds files matching `patterns` under the root; returns root-relative
/// paths. Directories are walked without following links; a matching file
/// is opened only through [`Root::file`] (a link leading out of the
/// repository, a FIFO or a device is an error, not a report).
pub fn find_reports(root: &Root, patterns: &[String]) -> Result<Vec<(String, Vec<PathBuf>)>, FindError> {
    let mut out = Vec::new();
    for pat in patterns {
        for c in Path::new(pat).components() {
            if !matches!(c, Component::Normal(_) | Component::CurDir) {
                return Err(FindError::Leaves(pat.clone()));
            }
        }
        let glob = matcher(pat)?;
        // Walk from the literal prefix of the pattern.
        let base: PathBuf =
            Path::new(pat).components().take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[', '{'])).collect();
        let mut found = Vec::new();
        let start = root.resolve(&base, "report glob")?;
        if start.is_file() {
            found.push(base.clone());
        } else {
            let mut stack = vec![base.clone()];
            while let Some(d) = stack.pop() {
                // A directory that is not there holds no report; one that
                // cannot be listed might hold a failing one.
                let entries = match std::fs::read_dir(root.real().join(&d)) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(source) => return Err(FindError::List { dir: d.display().to_string(), source }),
                };
                for e in entries.flatten() {
                    let rel = d.join(e.file_name());
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push(rel);
                    } else if glob.is_match(&rel) {
                        found.push(rel);
                    }
                }
            }
        }
        found.sort();
        out.push((pat.clone(), found));
    }
    Ok(out)
}
