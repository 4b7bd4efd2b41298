//! Where a failure is, as a repository-relative path and line, for the
//! annotation and the link in the comment.
//!
//! In order: the `file`/`line` the report gives (on the case or on its
//! `<failure>`/`<error>`), else the first location in the failure text that
//! names a file of the repository: `path:line` (pytest, Go, jest, Rust),
//! Windows paths (`C:\repo\src\X.php:77`), .NET's `in X.cs:line 88` and
//! compilers' `X.cs(88,5)`, Python's `File "x.py", line 22`, and JVM/Kotlin
//! stack frames (`at com.acme.RouterTest.routes(RouterTest.kt:15)`), which
//! name only the file: it is looked for under the frame's package path
//! (`**/com/acme/RouterTest.kt`). A path from another machine (absolute, or
//! relative to another directory) is matched by its longest suffix that
//! names a file here; when several files match, one under the gate's root,
//! or one whose directory the test's class name names, is taken, else none:
//! a wrong line is worse than no line. Nothing outside the repository is
//! named (paths with `..` and symlinks leading out are refused).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::junit::Case;

/// Directories never searched for a file name.
const SKIP_DIRS: &[&str] = &["node_modules", "target", "__pycache__", "venv", "build", "dist", "vendor"];
/// Most files indexed for the suffix search.
const MAX_FILES: usize = 200_000;

/// Finds failures' files; each path is looked up once.
pub struct Locator<'a> {
    repo: &'a Path,
    prefix: &'a Path,
    seen: HashMap<(String, String), Option<String>>,
    /// File name → repository paths, built on first need.
    index: Option<HashMap<String, Vec<String>>>,
}

/// A location found in failure text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// The path as written, `/`-separated, without a drive letter.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// For a JVM frame: the package's directory (`com/acme`).
    pub package: Option<String>,
}

impl<'a> Locator<'a> {
    /// Paths under `repo` (the repository's top); relative paths are tried
    /// under `prefix` (the gate's root in the repository) first.
    pub fn new(repo: &'a Path, prefix: &'a Path) -> Self {
        Self { repo, prefix, seen: HashMap::new(), index: None }
    }

    /// Where a failure is, if the report or its text says so.
    pub fn locate(&mut self, case: &Case) -> Option<(String, u32)> {
        if let Some(f) = &case.file
            && let Some(p) = self.resolve(&normalise(f), None, &case.classname)
        {
            let line = case.line.or_else(|| line_in(&case.detail, f)).unwrap_or(1);
            return Some((p, line));
        }
        for text in [&case.detail, &case.message] {
            for m in mentions(text) {
                if let Some(p) = self.resolve(&m.path, m.package.as_deref(), &case.classname) {
                    return Some((p, m.line));
                }
            }
        }
        None
    }

    fn resolve(&mut self, path: &str, package: Option<&str>, classname: &str) -> Option<String> {
        let key = (format!("{}\0{path}", package.unwrap_or_default()), classname.to_owned());
        if let Some(known) = self.seen.get(&key) {
            return known.clone();
        }
        let found = self.find(path, package, classname);
        self.seen.insert(key, found.clone());
        found
    }

    fn find(&mut self, path: &str, package: Option<&str>, classname: &str) -> Option<String> {
        let trimmed = path.trim().trim_start_matches("./");
        let p = Path::new(trimmed);
        if trimmed.is_empty() || p.components().any(|c| matches!(c, Component::ParentDir)) {
            return None;
        }
        let parts: Vec<&str> = trimmed.split('/').filter(|s| !s.is_empty()).collect();
        let name = *parts.last()?;
        if let Some(pkg) = package {
            let want = if pkg.is_empty() { name.to_owned() } else { format!("{pkg}/{name}") };
            return self.by_suffix(name, &want, classname);
        }
        if !trimmed.starts_with('/') {
            for candidate in [self.prefix.join(trimmed), PathBuf::from(trimmed)] {
                if self.inside_file(&candidate) {
                    return Some(slashes(&candidate));
                }
            }
        }
        // Another machine's path: its longest suffix that is a file here.
        (0..parts.len()).find_map(|i| self.by_suffix(name, &parts[i..].join("/"), classname))
    }

    /// The repository file whose path is `want` or ends with `/want`.
    fn by_suffix(&mut self, name: &str, want: &str, classname: &str) -> Option<String> {
        if self.inside_file(Path::new(want)) {
            return Some(want.to_owned());
        }
        let (repo, prefix) = (self.repo, self.prefix);
        let index = self.index.get_or_insert_with(|| build_index(repo));
        let tail = format!("/{want}");
        let matches: Vec<&String> = index.get(name)?.iter().filter(|p| p.ends_with(&tail) || *p == want).collect();
        let pick = match matches.as_slice() {
            [] => return None,
            [one] => (*one).clone(),
            many => {
                let under_root = slashes(prefix);
                let class_dirs: Vec<String> =
                    [classname.replace('.', "/"), classname.to_owned()].into_iter().filter(|c| !c.is_empty()).collect();
                let preferred: Vec<&&String> = many
                    .iter()
                    .filter(|p| !under_root.is_empty() && p.starts_with(&format!("{under_root}/")))
                    .chain(many.iter().filter(|p| {
                        let dir = p.rsplit_once('/').map_or("", |(d, _)| d);
                        !dir.is_empty()
                            && class_dirs
                                .iter()
                                .any(|c| c.contains(dir) || dir.ends_with(c.rsplit_once('/').map_or(c.as_str(), |(d, _)| d)))
                    }))
                    .collect();
                match preferred.first() {
                    Some(p) if preferred.iter().all(|q| q == p) => (**p).clone(),
                    _ => return None,
                }
            }
        };
        self.inside_file(Path::new(&pick)).then_some(pick)
    }

    /// Whether `rel` is a regular file whose real path stays in the repository.
    fn inside_file(&self, rel: &Path) -> bool {
        let full = self.repo.join(rel);
        if !full.is_file() {
            return false;
        }
        match (std::fs::canonicalize(&full), std::fs::canonicalize(self.repo)) {
            (Ok(real), Ok(top)) => real.starts_with(top),
            _ => false,
        }
    }
}

fn slashes(p: &Path) -> String {
    p.components()
        .filter_map(|c| if let Component::Normal(s) = c { Some(s.to_string_lossy().into_owned()) } else { None })
        .collect::<Vec<_>>()
        .join("/")
}

/// A path as written on any system, `/`-separated, without a drive letter.
fn normalise(p: &str) -> String {
    let p = p.trim().replace('\\', "/");
    let b = p.as_bytes();
    if b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/' { p[2..].to_owned() } else { p }
}

/// File names → repository paths, skipping hidden and build directories.
fn build_index(repo: &Path) -> HashMap<String, Vec<String>> {
    let mut index: HashMap<String, Vec<String>> = HashMap::new();
    let mut stack = vec![PathBuf::new()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(repo.join(&dir)) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(kind) = e.file_type() else { continue };
            let rel = dir.join(&name);
            if kind.is_dir() {
                if !name.starts_with('.') && !SKIP_DIRS.contains(&name.as_str()) {
                    stack.push(rel);
                }
            } else if kind.is_file() {
                files += 1;
                if files > MAX_FILES {
                    return index;
                }
                index.entry(name).or_default().push(slashes(&rel));
            }
        }
    }
    index
}

/// The line after `name:` in the failure text, for a case whose report
/// names its file but not its line.
fn line_in(detail: &str, file: &str) -> Option<u32> {
    let name = normalise(file).rsplit('/').next()?.to_owned();
    let i = detail.find(&format!("{name}:"))?;
    detail[i + name.len() + 1..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok().filter(|l| *l > 0)
}

/// Characters a path token may hold.
fn path_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '/' | '\\' | '.' | '_' | '-' | '+' | '@' | '~' | '$')
}

/// Whether a token looks like a file path (its last segment has an extension).
fn looks_like_file(p: &str) -> bool {
    let last = p.rsplit(['/', '\\']).next().unwrap_or(p);
    last.rfind('.').is_some_and(|i| i > 0 && i + 1 < last.len() && last[i + 1..].chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Every location the failure text mentions, in order.
pub fn mentions(text: &str) -> Vec<Mention> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let digits_at = |i: usize| -> Option<(u32, usize)> {
        let mut j = i;
        while j < chars.len() && chars[j].1.is_ascii_digit() {
            j += 1;
        }
        let end = chars.get(j).map_or(text.len(), |c| c.0);
        (j > i).then(|| text[chars[i].0..end].parse::<u32>().ok().filter(|l| *l > 0).map(|l| (l, j))).flatten()
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        // `path:line`, `path:line N`, `path(line)`, `path", line N`.
        let line = match c {
            ':' => digits_at(i + 1).or_else(|| text[chars[i].0..].strip_prefix(":line ").and_then(|_| digits_at(i + 6))),
            '(' => digits_at(i + 1).filter(|(_, j)| chars.get(*j).is_some_and(|c| c.1 == ')' || c.1 == ',')),
            '"' if text[chars[i].0..].starts_with("\", line ") => digits_at(i + 8),
            _ => None,
        };
        if let Some((line, next)) = line {
            // Walk back over the path (a drive letter's `:` included).
            let mut s = i;
            while s > 0 && (path_char(chars[s - 1].1) || (chars[s - 1].1 == ':' && s >= 2 && s - 1 == first_of_token(&chars, s - 1) + 1)) {
                s -= 1;
            }
            let raw = &text[chars.get(s).map_or(0, |c| c.0)..chars[i].0];
            let raw = raw.trim_start_matches("file://");
            if looks_like_file(raw) {
                let path = normalise(raw);
                // A JVM frame: `pkg.Class.method(File.kt:15)`: the package names the directory.
                let package = (!path.contains('/') && s > 0 && chars[s - 1].1 == '(').then(|| frame_package(&chars, s - 1, text)).flatten();
                out.push(Mention { path, line, package });
                i = next;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Index of the first character of the token that `at` is in.
fn first_of_token(chars: &[(usize, char)], at: usize) -> usize {
    let mut s = at;
    while s > 0 && !chars[s - 1].1.is_whitespace() && !matches!(chars[s - 1].1, '(' | '"' | '\'' | '[' | '<' | '=' | ',') {
        s -= 1;
    }
    s
}

/// The package directory of the frame whose `(` is at `open`: the dotted
/// name before it, less the method and the class.
fn frame_package(chars: &[(usize, char)], open: usize, text: &str) -> Option<String> {
    let mut s = open;
    while s > 0 && (chars[s - 1].1.is_alphanumeric() || matches!(chars[s - 1].1, '.' | '_' | '$' | '<' | '>')) {
        s -= 1;
    }
    let frame = &text[chars[s].0..chars[open].0];
    let mut parts: Vec<&str> = frame.split('.').collect();
    if parts.len() < 2 {
        return None;
    }
    parts.truncate(parts.len() - 2); // method, class
    Some(parts.iter().filter(|p| p.chars().next().is_some_and(char::is_lowercase)).cloned().collect::<Vec<_>>().join("/"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(path: &str, line: u32, package: Option<&str>) -> Mention {
        Mention { path: path.into(), line, package: package.map(str::to_owned) }
    }

    #[test]
    fn mentions_in_every_shape() {
        assert_eq!(mentions("tests/test_orders.py:22: AssertionError"), [m("tests/test_orders.py", 22, None)]);
        assert_eq!(mentions("    feed_test.go:48: tick lost"), [m("feed_test.go", 48, None)]);
        assert_eq!(mentions("at Object.<anonymous> (web/src/blotter.test.ts:42:7)"), [m("web/src/blotter.test.ts", 42, None)]);
        assert_eq!(mentions("C:\\repo\\src\\Invoice.php:77"), [m("/repo/src/Invoice.php", 77, None)]);
        assert_eq!(mentions("at Tests.Invoice.Totals() in C:\\src\\Tests\\Invoice.cs:line 88"), [m("/src/Tests/Invoice.cs", 88, None)]);
        assert_eq!(mentions("src/Invoice.cs(88,5): error CS1002"), [m("src/Invoice.cs", 88, None)]);
        assert_eq!(
            mentions("File \"/home/runner/work/x/tests/test_a.py\", line 14, in test_a"),
            [m("/home/runner/work/x/tests/test_a.py", 14, None)]
        );
        assert_eq!(
            mentions("org.opentest4j.AssertionFailedError: boom\n\tat com.tradepulse.router.RouterTest.rejects(RouterTest.kt:15)"),
            [m("RouterTest.kt", 15, Some("com/tradepulse/router"))]
        );
        assert_eq!(mentions("at Foo.bar(Foo.java:3)"), [m("Foo.java", 3, Some(""))]);
        assert!(mentions("expected 1:2 got 3:4, see http://x:80/ and v1.2:3").iter().all(|m| m.path != "1" && m.path != "x"));
        assert!(mentions("at line:0 of file.py:0").is_empty(), "line 0 is no line");
    }

    #[test]
    fn files_are_found_by_suffix_package_and_class() {
        let repo = tempfile::tempdir().unwrap();
        let w = |rel: &str| {
            let p = repo.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x\n").unwrap();
        };
        w("services/api/tests/test_orders.py");
        w("app/src/test/kotlin/com/tradepulse/router/RouterTest.kt");
        w("app/src/test/kotlin/com/other/RouterTest.kt");
        w("feed/feed_test.go");
        w("ws/a/util_test.go");
        w("ws/b/util_test.go");
        w("node_modules/x/test_orders.py");
        let case = |file: Option<&str>, detail: &str, classname: &str| Case {
            suite: String::new(),
            classname: classname.into(),
            name: "t".into(),
            file: file.map(str::to_owned),
            line: None,
            outcome: crate::junit::Outcome::Failed,
            message: String::new(),
            detail: detail.into(),
            reruns: 0,
            report: "r.xml".into(),
            report_line: 1,
            identity: 0,
        };
        let mut l = Locator::new(repo.path(), Path::new(""));
        assert_eq!(l.locate(&case(None, "tests/test_orders.py:22: E", "")), Some(("services/api/tests/test_orders.py".into(), 22)));
        assert_eq!(
            l.locate(&case(None, "/home/runner/work/api/tests/test_orders.py:9: E", "")),
            Some(("services/api/tests/test_orders.py".into(), 9))
        );
        assert_eq!(
            l.locate(&case(None, "\tat com.tradepulse.router.RouterTest.rejects(RouterTest.kt:15)", "com.tradepulse.router.RouterTest")),
            Some(("app/src/test/kotlin/com/tradepulse/router/RouterTest.kt".into(), 15))
        );
        assert_eq!(l.locate(&case(None, "feed_test.go:48: lost", "github.com/tp/feed")), Some(("feed/feed_test.go".into(), 48)));
        assert_eq!(
            l.locate(&case(None, "util_test.go:3: x", "github.com/tp/ws/b")),
            Some(("ws/b/util_test.go".into(), 3)),
            "the class names the directory"
        );
        assert_eq!(l.locate(&case(None, "util_test.go:3: x", "")), None, "ambiguous: no guess");
        assert_eq!(
            l.locate(&case(Some("C:\\ci\\services\\api\\tests\\test_orders.py"), "", "")),
            Some(("services/api/tests/test_orders.py".into(), 1))
        );
        assert_eq!(l.locate(&case(Some("../outside.py"), "", "")), None);
        let mut under = Locator::new(repo.path(), Path::new("services/api"));
        assert_eq!(
            under.locate(&case(Some("tests/test_orders.py"), "", "")).map(|x| x.0),
            Some("services/api/tests/test_orders.py".into())
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_repository_are_not_named() {
        let repo = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.py"), "x\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.py"), repo.path().join("secret.py")).unwrap();
        let mut l = Locator::new(repo.path(), Path::new(""));
        assert_eq!(l.find("secret.py", None, ""), None);
    }
}
