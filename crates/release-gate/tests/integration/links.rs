//! Every internal link in the README and the docs points at a file of the
//! repository and, with a `#fragment`, at a heading of that file (GitHub's
//! anchor rules). The offline half of what `lychee --offline` checks,
//! without a tool to install.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo")
}

fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md"), root.join("crates/README.md")];
    for dir in ["docs", "examples"] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "md") && !p.to_string_lossy().contains("/reports/") {
                    files.push(p);
                }
            }
        }
    }
    files.into_iter().filter(|p| p.exists()).collect()
}

/// GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces to `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            out.insert(anchor(line.trim_start_matches('#').replace('`', "").as_str()));
        }
    }
    out
}

/// `[text](target)` links outside code blocks and inline code.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut in_code = false;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // Drop inline code spans.
        let mut plain = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                plain.push_str(part);
            }
        }
        let mut rest = plain.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push((n + 1, after[..end].trim().to_owned()));
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_internal_link_resolves() {
    let root = repo();
    let files = markdown_files(&root);
    assert!(files.len() >= 10, "the docs were found: {files:?}");
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, fragment) = target.split_once('#').map_or((target.as_str(), None), |(p, f)| (p, Some(f)));
            let dest = if path.is_empty() { file.clone() } else { file.parent().expect("dir").join(path) };
            let shown = format!("{}:{line}: {target}", file.strip_prefix(&root).unwrap_or(file).display());
            let Ok(dest) = dest.canonicalize() else {
                broken.push(format!("{shown} (no such file)"));
                continue;
            };
            if !dest.starts_with(&root) {
                broken.push(format!("{shown} (outside the repository)"));
                continue;
            }
            if let Some(f) = fragment
                && dest.extension().is_some_and(|x| x == "md")
                && !anchors(&std::fs::read_to_string(&dest).unwrap_or_default()).contains(f)
            {
                broken.push(format!("{shown} (no heading #{f})"));
            }
        }
    }
    assert!(checked >= 20, "only {checked} links checked");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn anchors_follow_githubs_rules() {
    assert_eq!(anchor("Policy: `freeze-check`"), "policy-freeze-check");
    assert_eq!(anchor("Gating the deploy"), "gating-the-deploy");
    assert_eq!(anchor("deploy-check and serve"), "deploy-check-and-serve");
}
