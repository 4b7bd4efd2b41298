//! Finding and reading the configuration files of each side: a file, a
//! directory (every `.yaml`, `.yml` and `.json` below it) or a glob (`*`
//! within a path segment, `**` across them), all inside the repository.

use std::path::{Component, Path, PathBuf};

use release_gate_core::error::Located;
use release_gate_core::paths::{PathError, Root};

use release_gate_core::hashes::Hashes;

use crate::Side;
use crate::glob::Pattern;
use crate::policy::{ConfigDiffPolicy, Manifest};
use crate::yaml::{self, Budget};

/// Why a side's configuration could not be read: every case names the
/// source or file and what to do; none is "nothing to compare".
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A spec leaving the repository.
    #[error("{what} {spec:?} leaves the repository; use a path relative to the repository root without '..'")]
    LeavesRepository {
        /// `source`, `staging`, …
        what: String,
        /// As given.
        spec: String,
    },
    /// A glob that does not compile.
    #[error("the source {spec:?}: {why}")]
    BadPattern {
        /// As given.
        spec: String,
        /// Why.
        why: String,
    },
    /// A glob matching nothing.
    #[error("the source {0:?} matches no .yaml, .yml or .json file; check the manifest")]
    NoMatch(String),
    /// A directory without a config file.
    #[error("the source directory {0:?} holds no .yaml, .yml or .json file")]
    EmptyDirectory(String),
    /// Nothing there.
    #[error("the source {0:?} does not exist; check the config manifest or --staging/--production")]
    Missing(String),
    /// Two files under one name.
    #[error("two sources give the file name {name:?} ({shown}); list each file once")]
    DuplicateName {
        /// The name.
        name: String,
        /// The second file.
        shown: String,
    },
    /// A directory or file that cannot be read.
    #[error("cannot {verb} {path}: {source}")]
    Io {
        /// `list`, `read`.
        verb: &'static str,
        /// The path, as shown.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A file that cannot be read to its end (no line to name).
    #[error("{shown}: {problem}")]
    Unreadable {
        /// The file, as shown.
        shown: String,
        /// What went wrong.
        problem: String,
    },
    /// A link to a directory inside a source tree: which tree it adds would
    /// depend on where it points, so it is refused rather than skipped or followed.
    #[error(
        "{0} is a symbolic link to a directory inside the config tree; a source tree is compared as it is on disk, so replace the link with the directory (or name the target in the manifest)"
    )]
    LinkedDirectory(String),
    /// A path the repository root refuses (a link leading out, not a file).
    #[error("{0}")]
    Path(#[from] PathError),
    /// A file that does not read as YAML or JSON, or has no canonical
    /// form, at its line.
    #[error("{0}")]
    Located(#[from] Located),
    /// The release's config manifest is not there.
    #[error("{source}; write it (see docs/config-diff.md) or pass --staging and --production")]
    NoManifest {
        /// The cause.
        source: PathError,
    },
    /// The manifest is not YAML of the manifest's shape, at its line.
    #[error("{0}")]
    Manifest(#[source] release_gate_core::policy::PolicyError),
    /// The staging side's parser panicked (a bug: please report it).
    #[error("the staging parser panicked; please report this with the config that caused it")]
    Panicked,
}

/// Refuses paths that leave the repository (`..`, absolute paths).
pub fn inside_root(spec: &str, what: &str) -> Result<(), SourceError> {
    let p = Path::new(spec);
    if p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir | Component::Prefix(_) | Component::RootDir)) {
        return Err(SourceError::LeavesRepository { what: what.to_owned(), spec: spec.to_owned() });
    }
    Ok(())
}

fn is_config(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

/// Every config file below `dir`. A link is followed only to a regular
/// file inside the repository, and anything else with a config's name (a
/// FIFO, a device, a link leading out) is an error, never skipped: a file
/// left out of the comparison would be a divergence nobody saw.
fn walk(root: &Root, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let io = |source: std::io::Error| SourceError::Io { verb: "list", path: dir.display().to_string(), source };
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(io)?.collect::<Result<_, _>>().map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let ft = e.file_type().map_err(io)?;
        if ft.is_dir() {
            walk(root, &p, out)?;
        } else if ft.is_symlink() && std::fs::metadata(&p).is_ok_and(|m| m.is_dir()) {
            return Err(SourceError::LinkedDirectory(rel(&p, root.real())));
        } else if is_config(&p) {
            out.push(if ft.is_file() { p } else { root.file(&p, "config file")? });
        }
    }
    Ok(())
}

fn rel(p: &Path, base: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).to_string_lossy().replace('\\', "/")
}

/// The characters of a UTF-8 stream, read in chunks. A read error or
/// invalid UTF-8 ends the stream and is kept in `problem`.
pub struct Utf8Chars<R> {
    reader: R,
    chunk: String,
    pos: usize,
    carry: Vec<u8>,
    offset: u64,
    newlines: u64,
    done: bool,
    /// Why the stream ended early, if it did.
    pub problem: Option<String>,
}

impl<R: std::io::Read> Utf8Chars<R> {
    /// Wraps a reader.
    pub fn new(reader: R) -> Self {
        Self { reader, chunk: String::new(), pos: 0, carry: Vec::new(), offset: 0, newlines: 0, done: false, problem: None }
    }

    fn refill(&mut self) {
        let mut bytes = std::mem::take(&mut self.carry);
        let kept = bytes.len();
        bytes.resize(kept + (1 << 16), 0);
        let n = match self.reader.read(&mut bytes[kept..]) {
            Ok(n) => n,
            Err(e) => {
                self.problem = Some(format!("cannot read: {e}"));
                self.done = true;
                return;
            }
        };
        bytes.truncate(kept + n);
        if n == 0 {
            if kept > 0 {
                self.problem = Some(format!("is not UTF-8 text: the last {kept} byte(s) are a truncated character"));
            }
            self.done = true;
            return;
        }
        let valid = match std::str::from_utf8(&bytes) {
            Ok(_) => bytes.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => {
                let line = self.newlines + bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() as u64 + 1;
                self.problem = Some(format!(
                    "line {line}: is not UTF-8 text (invalid byte at offset {}); save the file as UTF-8",
                    self.offset + e.valid_up_to() as u64
                ));
                self.done = true;
                return;
            }
        };
        self.carry = bytes.split_off(valid);
        self.offset += valid as u64;
        self.newlines += bytes.iter().filter(|b| **b == b'\n').count() as u64;
        self.chunk = String::from_utf8(bytes).unwrap_or_default();
        self.pos = 0;
    }
}

impl<R: std::io::Read> Iterator for Utf8Chars<R> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        loop {
            if let Some(c) = self.chunk[self.pos..].chars().next() {
                self.pos += c.len_utf8();
                return Some(c);
            }
            if self.done {
                return None;
            }
            self.refill();
        }
    }
}

/// Reads every file of a side's specs.
pub fn load(repo: &Root, specs: &[String], budget: Budget) -> Result<Side, SourceError> {
    let mut side = Side::default();
    let root = repo.real();
    for spec in specs {
        inside_root(spec, "source")?;
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        if spec.contains(['*', '?']) {
            let literal: PathBuf =
                Path::new(spec).components().take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?'])).collect();
            let base = repo.resolve(&literal, "source")?;
            let mut all = Vec::new();
            walk(repo, &base, &mut all)?;
            let pattern = Pattern::new(spec).map_err(|why| SourceError::BadPattern { spec: spec.clone(), why })?;
            for p in all {
                if pattern.matches(&rel(&p, root)) {
                    found.push((rel(&p, &base), p));
                }
            }
            if found.is_empty() {
                return Err(SourceError::NoMatch(spec.clone()));
            }
        } else {
            let abs = repo.resolve(spec, "source")?;
            if abs.is_dir() {
                let mut all = Vec::new();
                walk(repo, &abs, &mut all)?;
                if all.is_empty() {
                    return Err(SourceError::EmptyDirectory(spec.clone()));
                }
                found.extend(all.into_iter().map(|p| (rel(&p, &abs), p)));
            } else if abs.exists() {
                let file = repo.file(spec, "source")?;
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| spec.clone());
                found.push((name, file));
            } else {
                return Err(SourceError::Missing(spec.clone()));
            }
        }
        for (name, path) in found {
            let shown = rel(&path, root);
            let file = std::fs::File::open(&path).map_err(|source| SourceError::Io { verb: "read", path: shown.clone(), source })?;
            let mut chars = Utf8Chars::new(std::io::BufReader::with_capacity(1 << 16, file));
            let parsed = yaml::parse_chars(&mut chars, &shown, budget);
            if let Some(problem) = chars.problem.take() {
                return Err(problem_at(&shown, &problem));
            }
            let docs = parsed?;
            if side.files.insert(name.clone(), (shown.clone(), docs)).is_some() {
                return Err(SourceError::DuplicateName { name, shown });
            }
        }
    }
    Ok(side)
}

/// A stream problem: located when it names its line (`line 3: …`).
fn problem_at(shown: &str, problem: &str) -> SourceError {
    let located = problem.strip_prefix("line ").and_then(|r| {
        let (n, rest) = r.split_once(": ")?;
        Some(Located::new(shown, n.parse().ok()?, rest))
    });
    match located {
        Some(l) => SourceError::Located(l),
        None => SourceError::Unreadable { shown: shown.to_owned(), problem: problem.to_owned() },
    }
}

/// When each side is one file under different names (`--staging a.yaml
/// --production b.yaml`), compares them with each other under one name.
pub fn pair_single_files(staging: Side, mut production: Side) -> (Side, Side) {
    if let (Some(s), Some(p)) = (staging.files.keys().next().cloned(), production.files.keys().next().cloned())
        && staging.files.len() == 1
        && production.files.len() == 1
        && s != p
        && let Some(v) = production.files.remove(&p)
    {
        production.files.insert(s, v);
    }
    (staging, production)
}

/// The release's config manifest (unless `--staging`/`--production` name the
/// sides) and both sides, parsed, from the checkout.
pub fn read_sides(
    root: &Root,
    policy: &ConfigDiffPolicy,
    release: &str,
    manifest: Option<PathBuf>,
    staging: &[String],
    production: &[String],
) -> Result<(Option<Manifest>, Option<String>, Side, Side), SourceError> {
    let manifest_path = manifest.unwrap_or_else(|| PathBuf::from(policy.manifest.replace("{release}", release)));
    let (manifest, manifest_shown) = if staging.is_empty() {
        let shown = manifest_path.display().to_string();
        let text = match root.read_text(&manifest_path, "config manifest") {
            Ok(t) => t,
            Err(source) if source.is_not_found() => return Err(SourceError::NoManifest { source }),
            Err(e) => return Err(e.into()),
        };
        let m: Manifest = release_gate_core::policy::parse_yaml(&text, &manifest_path).map_err(SourceError::Manifest)?;
        (Some(m), Some(shown))
    } else {
        (None, None)
    };
    let (staging_specs, production_specs) = match &manifest {
        Some(m) => (m.staging.list(), m.production.list()),
        None => (staging.to_vec(), production.to_vec()),
    };
    let budget = yaml::Budget { alias_nodes: policy.max_alias_nodes };
    // Both sides are parsed at once: parsing is most of the work on large configs.
    let (staging, production) = std::thread::scope(|scope| {
        let staging = scope.spawn(|| load(root, &staging_specs, budget));
        let production = load(root, &production_specs, budget);
        (staging.join().map_err(|_| SourceError::Panicked), production)
    });
    let (staging, production) = (staging??, production?);
    let (staging, production) = pair_single_files(staging, production);

    Ok((manifest, manifest_shown, staging, production))
}

/// The canonical hashes of the configuration the release applies (its
/// manifest's sides, as read now): what the decision log records and a
/// deploy compares.
pub fn applied_hashes(root: &Root, policy: &ConfigDiffPolicy, release: &str) -> Result<Hashes, SourceError> {
    let (_, _, staging, production) = read_sides(root, policy, release, None, &[], &[])?;
    Ok(crate::judge::hashes(&staging, &production)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out one byte per read, to split every multi-byte character.
    struct Trickle<'a>(&'a [u8]);

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.split_first() {
                Some((b, rest)) if !buf.is_empty() => {
                    buf[0] = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn characters_split_across_reads_and_invalid_utf8() {
        let text = "héllo €😀\n";
        let mut chars = Utf8Chars::new(Trickle(text.as_bytes()));
        assert_eq!(chars.by_ref().collect::<String>(), text);
        assert!(chars.problem.is_none());
        let mut bad = Utf8Chars::new(Trickle(b"ab\xffcd"));
        assert_eq!(bad.by_ref().collect::<String>(), "ab");
        assert_eq!(bad.problem.as_deref(), Some("line 1: is not UTF-8 text (invalid byte at offset 2); save the file as UTF-8"));
        let mut cut = Utf8Chars::new(Trickle(&"é".as_bytes()[..1]));
        assert_eq!(cut.by_ref().count(), 0);
        assert!(cut.problem.as_deref().is_some_and(|p| p.contains("truncated")));
    }
}
