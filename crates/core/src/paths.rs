//! Every path a gate reads or writes, resolved against the repository root
//! and kept inside it.
//!
//! A path from the policy, a manifest, a report or a flag is relative to the
//! root (`--root`, input `working-directory`); an absolute one is accepted
//! when it lies inside the repository. The repository is the directory
//! holding `.git` above the root (in a monorepo the root may be one of its
//! subdirectories), else the runner's workspace, else the root itself. Each
//! path is resolved with its symlinks: the real path must stay inside the
//! repository, so neither `../` nor a link can take a read or a write
//! elsewhere (on a runner, a write outside the workspace can reach
//! `$GITHUB_ENV` and run code in later steps).
//! Evidence must be a regular file: a FIFO would hang the gate and a device
//! would feed it forever. Writes go through a temporary file in the same
//! directory and a rename, and the temporary file is removed on every error.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use thiserror::Error;

/// Why a path was refused or could not be used.
#[derive(Debug, Error)]
pub enum PathError {
    /// The root itself is unusable.
    #[error("the repository root {root} cannot be used: {cause}; pass --root (input working-directory) with an existing directory")]
    Root {
        /// As given.
        root: String,
        /// Why.
        cause: std::io::Error,
    },
    /// The path leaves the root (absolute elsewhere, `..`, or a symlink).
    #[error("{what} `{path}` leads outside the repository ({why}); use a path inside the repository")]
    Outside {
        /// The setting that named it.
        what: String,
        /// As written.
        path: String,
        /// How it leaves.
        why: String,
    },
    /// No such file.
    #[error("{what} `{path}` does not exist")]
    NotFound {
        /// The setting that named it.
        what: String,
        /// As written.
        path: String,
    },
    /// Not a regular file.
    #[error("{what} `{path}` is {kind}, not a regular file; point it at a file")]
    NotAFile {
        /// The setting that named it.
        what: String,
        /// As written.
        path: String,
        /// What it is.
        kind: &'static str,
    },
    /// Reading or writing failed.
    #[error("cannot {verb} {what} `{path}`: {cause}")]
    Io {
        /// `read`, `write` or `remove`.
        verb: &'static str,
        /// The setting that named it.
        what: String,
        /// As written.
        path: String,
        /// Why.
        cause: std::io::Error,
    },
    /// The text is not UTF-8.
    #[error("{path}:{line}: {what} is not UTF-8 (byte 0x{byte:02X}); save it as UTF-8")]
    NotUtf8 {
        /// The setting that named it.
        what: String,
        /// As written.
        path: String,
        /// 1-based line of the first bad byte.
        line: u64,
        /// The byte.
        byte: u8,
    },
}

impl PathError {
    /// Whether the file is simply absent (callers may treat that as "none").
    pub fn is_not_found(&self) -> bool {
        matches!(self, PathError::NotFound { .. })
    }
}

/// The repository root a gate works in.
#[derive(Debug, Clone)]
pub struct Root {
    given: PathBuf,
    real: PathBuf,
    top: PathBuf,
    prefix: PathBuf,
}

impl Root {
    /// The root `dir`; `workspace` is the runner's `GITHUB_WORKSPACE`, used
    /// as the repository's top when no `.git` is found above the root.
    pub fn new(dir: &Path, workspace: Option<&Path>) -> Result<Self, PathError> {
        let real = std::fs::canonicalize(dir).map_err(|cause| PathError::Root { root: dir.display().to_string(), cause })?;
        if !real.is_dir() {
            return Err(PathError::Root { root: dir.display().to_string(), cause: std::io::Error::other("not a directory") });
        }
        let top = real
            .ancestors()
            .find(|d| d.join(".git").exists())
            .map(Path::to_owned)
            .or_else(|| workspace.and_then(|w| std::fs::canonicalize(w).ok()).filter(|w| real.starts_with(w)))
            .unwrap_or_else(|| real.clone());
        let prefix = real.strip_prefix(&top).map(Path::to_owned).unwrap_or_default();
        Ok(Self { given: dir.to_owned(), real, top, prefix })
    }

    /// The root as given (for messages).
    pub fn given(&self) -> &Path {
        &self.given
    }

    /// The root's real path.
    pub fn real(&self) -> &Path {
        &self.real
    }

    /// The repository's top (where `.git` is).
    pub fn top(&self) -> &Path {
        &self.top
    }

    /// The root relative to the repository's top (empty when they are one).
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// A root-relative path as the repository names it (`/`-separated), for
    /// annotations and links.
    pub fn in_repository(&self, rel: &str) -> String {
        slashes(&self.prefix.join(rel.trim_start_matches("./")))
    }

    /// The path of `path` (relative to the root, or absolute) in the
    /// repository, `/`-separated from its top: what GitHub's contents API names.
    pub fn repository_path(&self, path: impl AsRef<Path>, what: &str) -> Result<String, PathError> {
        let full = self.resolve(path, what)?;
        Ok(slashes(full.strip_prefix(&self.top).unwrap_or(&full)))
    }

    /// Resolves `path` (relative to the root, or absolute): the real path
    /// of what exists of it, which must stay inside the repository. `what`
    /// names the setting for messages (`policy`, `log`, …).
    pub fn resolve(&self, path: impl AsRef<Path>, what: &str) -> Result<PathBuf, PathError> {
        let path = path.as_ref();
        let outside = |why: &str| PathError::Outside { what: what.to_owned(), path: path.display().to_string(), why: why.to_owned() };
        let joined = if path.is_absolute() {
            let folded = lexical(path).ok_or_else(|| outside("`..` above the top"))?;
            let given_top = lexical(&absolute(&self.given).join(pathdiff_up(&self.prefix))).unwrap_or_default();
            if !folded.starts_with(&self.top) && !folded.starts_with(given_top) {
                return Err(outside("an absolute path elsewhere"));
            }
            folded
        } else {
            let folded = lexical(&self.real.join(path)).ok_or_else(|| outside("`..` above the top"))?;
            if !folded.starts_with(&self.top) {
                return Err(outside("`..` above the repository"));
            }
            folded
        };
        // The longest existing ancestor, resolved with its symlinks; the rest is appended as written.
        let mut existing = joined.as_path();
        let mut rest = Vec::new();
        let real = loop {
            match std::fs::canonicalize(existing) {
                Ok(r) => break r,
                Err(_) => {
                    rest.push(existing.file_name().map(ToOwned::to_owned).ok_or_else(|| outside("no such place"))?);
                    existing = existing.parent().ok_or_else(|| outside("no such place"))?;
                }
            }
        };
        let mut full = real;
        for part in rest.iter().rev() {
            full.push(part);
        }
        if !full.starts_with(&self.top) {
            return Err(outside("a symbolic link"));
        }
        Ok(full)
    }

    /// Resolves a path that must be an existing regular file.
    pub fn file(&self, path: impl AsRef<Path>, what: &str) -> Result<PathBuf, PathError> {
        let path = path.as_ref();
        let full = self.resolve(path, what)?;
        let meta = std::fs::metadata(&full).map_err(|cause| match cause.kind() {
            std::io::ErrorKind::NotFound => PathError::NotFound { what: what.to_owned(), path: path.display().to_string() },
            _ => PathError::Io { verb: "read", what: what.to_owned(), path: path.display().to_string(), cause },
        })?;
        if !meta.is_file() {
            let kind = if meta.is_dir() { "a directory" } else { special_kind(&meta) };
            return Err(PathError::NotAFile { what: what.to_owned(), path: path.display().to_string(), kind });
        }
        Ok(full)
    }

    /// Reads a regular file inside the root.
    pub fn read(&self, path: impl AsRef<Path>, what: &str) -> Result<Vec<u8>, PathError> {
        let path = path.as_ref();
        let full = self.file(path, what)?;
        std::fs::read(&full).map_err(|cause| PathError::Io { verb: "read", what: what.to_owned(), path: path.display().to_string(), cause })
    }

    /// Reads a UTF-8 text file inside the root; other bytes are an error
    /// naming the line (never a lossy reading).
    pub fn read_text(&self, path: impl AsRef<Path>, what: &str) -> Result<String, PathError> {
        let path = path.as_ref();
        let bytes = self.read(path, what)?;
        utf8(bytes, path, what)
    }

    /// Like [`Root::read_text`], `None` when the file does not exist.
    pub fn read_text_if_present(&self, path: impl AsRef<Path>, what: &str) -> Result<Option<String>, PathError> {
        match self.read_text(path, what) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `bytes` to `path` inside the root through a temporary file and
    /// a rename (directories created as needed); nothing is left behind on
    /// an error.
    pub fn write(&self, path: impl AsRef<Path>, bytes: &[u8], what: &str) -> Result<PathBuf, PathError> {
        let path = path.as_ref();
        let full = self.resolve(path, what)?;
        if let Ok(meta) = std::fs::symlink_metadata(&full)
            && !meta.is_file()
        {
            return Err(PathError::NotAFile { what: what.to_owned(), path: path.display().to_string(), kind: special_kind(&meta) });
        }
        write_atomic(&full, bytes).map_err(|cause| PathError::Io {
            verb: "write",
            what: what.to_owned(),
            path: path.display().to_string(),
            cause,
        })?;
        Ok(full)
    }

    /// Removes the regular file at `path` inside the root; `false` when
    /// there was none. A path or link leading outside, or something other
    /// than a regular file (a directory, a FIFO), is an error: nothing else
    /// is ever removed.
    pub fn remove(&self, path: impl AsRef<Path>, what: &str) -> Result<bool, PathError> {
        let path = path.as_ref();
        let full = self.resolve(path, what)?;
        let io = |cause| PathError::Io { verb: "remove", what: what.to_owned(), path: path.display().to_string(), cause };
        match std::fs::symlink_metadata(&full) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(e)),
            Ok(meta) if !meta.is_file() => {
                Err(PathError::NotAFile { what: what.to_owned(), path: path.display().to_string(), kind: special_kind(&meta) })
            }
            Ok(_) => std::fs::remove_file(&full).map(|()| true).map_err(io),
        }
    }
}

/// A file's modification time (evidence without a time of its own is
/// dated by it, and says so).
pub fn mtime(path: &Path) -> Option<jiff::Timestamp> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    jiff::Timestamp::try_from(t).ok()
}

/// Text from bytes, or an error naming the line of the first byte that is not UTF-8.
pub fn utf8(bytes: Vec<u8>, path: &Path, what: &str) -> Result<String, PathError> {
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        PathError::NotUtf8 {
            what: what.to_owned(),
            path: path.display().to_string(),
            line: 1 + bytes[..good].iter().filter(|&&b| b == b'\n').count() as u64,
            byte: bytes[good],
        }
    })
}

fn special_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else if meta.file_type().is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// `path` made absolute against the current directory (without resolving links).
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_owned() } else { std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_owned()) }
}

/// `..` once per component of `prefix`: from the root up to the repository's top.
fn pathdiff_up(prefix: &Path) -> PathBuf {
    prefix.components().map(|_| Component::ParentDir.as_os_str()).collect()
}

/// `path` with `.` and `..` folded lexically; `None` when `..` climbs above the top.
fn lexical(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

fn slashes(p: &Path) -> String {
    p.components()
        .filter_map(|c| if let Component::Normal(s) = c { Some(s.to_string_lossy().into_owned()) } else { None })
        .collect::<Vec<_>>()
        .join("/")
}

/// Writes `bytes` to `path` through a temporary file beside it and a
/// rename, so a reader never sees half a file; the temporary file is
/// removed when anything fails (a full disk leaves no debris).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn repo() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::create_dir_all(dir.path().join("svc/configs")).unwrap();
        std::fs::write(dir.path().join("svc/configs/a.yaml"), "a: 1\n").unwrap();
        let root = Root::new(&dir.path().join("svc"), None).unwrap();
        (dir, root)
    }

    #[test]
    fn paths_stay_inside_the_root() {
        let (dir, root) = repo();
        assert_eq!(root.prefix(), Path::new("svc"));
        assert_eq!(root.in_repository("configs/a.yaml"), "svc/configs/a.yaml");
        assert_eq!(root.read_text("configs/a.yaml", "config").unwrap(), "a: 1\n");
        // Up to the repository's top is inside; above it is not.
        assert!(root.resolve("../other-service/x", "config").unwrap().ends_with("other-service/x"));
        for bad in ["../../x", "configs/../../../x", "/etc/passwd"] {
            let e = root.resolve(bad, "log").unwrap_err().to_string();
            assert!(e.contains("leads outside the repository"), "{bad}: {e}");
        }
        // An absolute path inside the root is fine.
        let inside = dir.path().join("svc/configs/a.yaml");
        assert!(root.read_text(&inside, "config").is_ok());
        assert!(root.resolve("new/dir/file.md", "log").unwrap().ends_with("svc/new/dir/file.md"));
        assert!(root.read_text("missing.txt", "evidence").unwrap_err().is_not_found());
        assert!(root.read_text_if_present("missing.txt", "evidence").unwrap().is_none());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_and_special_files_are_refused() {
        let (dir, root) = repo();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("shadow"), "secret").unwrap();
        std::os::unix::fs::symlink(outside.path().join("shadow"), dir.path().join("svc/evidence.txt")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("svc/out")).unwrap();
        for p in ["evidence.txt", "out/shadow", "out/new.md"] {
            let e = root.resolve(p, "evidence").unwrap_err().to_string();
            assert!(e.contains("symbolic link"), "{p}: {e}");
        }
        assert!(root.write("out/log.md", b"x", "log").is_err());
        assert!(!outside.path().join("log.md").exists(), "nothing written outside");
        let fifo = dir.path().join("svc/fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = root.read("fifo", "evidence").unwrap_err().to_string();
        assert!(e.contains("is a FIFO, not a regular file"), "{e}");
        let e = root.read("/dev/zero", "evidence").unwrap_err().to_string();
        assert!(e.contains("leads outside"), "{e}");
    }

    #[test]
    fn text_that_is_not_utf8_names_its_line_and_writes_leave_no_debris() {
        let (dir, root) = repo();
        std::fs::write(dir.path().join("svc/log.md"), b"line 1\nline \xff 2\n").unwrap();
        let e = root.read_text("log.md", "decision log").unwrap_err().to_string();
        assert_eq!(e, "log.md:2: decision log is not UTF-8 (byte 0xFF); save it as UTF-8");
        root.write("reports/r.json", b"{}", "report").unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path().join("svc/reports")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("r.json")]);
        // A write that fails (the target is a directory) leaves no temporary file.
        std::fs::create_dir_all(dir.path().join("svc/reports/d.json")).unwrap();
        assert!(root.write("reports/d.json", b"{}", "report").is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path().join("svc/reports")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[cfg(unix)]
    #[test]
    fn remove_takes_only_regular_files_inside() {
        let (dir, root) = repo();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep.json"), "{}").unwrap();
        std::os::unix::fs::symlink(outside.path().join("keep.json"), dir.path().join("svc/link.json")).unwrap();
        assert!(root.remove("link.json", "report").unwrap_err().to_string().contains("symbolic link"));
        assert!(root.remove("../../keep.json", "report").is_err());
        assert!(root.remove("configs", "report").unwrap_err().to_string().contains("a directory"));
        assert!(outside.path().join("keep.json").exists(), "nothing removed outside");
        assert!(root.remove("configs/a.yaml", "report").unwrap());
        assert!(!root.remove("configs/a.yaml", "report").unwrap(), "already gone");
    }
}
