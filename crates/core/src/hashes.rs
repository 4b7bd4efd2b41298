//! The applied-config-hashes block: written into the decision log by
//! decision-log-commit from config-diff's report, and read back by
//! config-diff to detect a mismatch. An HTML comment, so it does not show
//! in the rendered log:
//!
//! ```text
//! <!-- release-gate:config-hashes v1
//! staging jcs-sha256:…
//! production jcs-sha256:…
//! production:deploy/api.yaml jcs-sha256:…
//! -->
//! ```

use std::collections::BTreeMap;

const OPEN: &str = "<!-- release-gate:config-hashes v1";
const CLOSE: &str = "-->";

/// Hashes by key: `staging`, `production`, or `side:file`.
pub type Hashes = BTreeMap<String, String>;

/// Renders the block.
pub fn render(hashes: &Hashes) -> String {
    let mut s = format!("{OPEN}\n");
    for (k, v) in hashes {
        s.push_str(&format!("{k} {v}\n"));
    }
    s.push_str(CLOSE);
    s.push('\n');
    s
}

/// Finds and parses the block in a document: `None` when there is none, an
/// error naming the line when it is there but not as written (a block
/// that was edited must never read as "nothing recorded").
pub fn parse(text: &str) -> Result<Option<Hashes>, (u64, String)> {
    let Some(open) = text.find(OPEN) else { return Ok(None) };
    let line_of = |at: usize| 1 + text[..at].matches('\n').count() as u64;
    let start = open + OPEN.len();
    let Some(len) = text[start..].find(CLOSE) else {
        return Err((line_of(open), "the config-hashes block is not closed with `-->`".into()));
    };
    let mut out = Hashes::new();
    let mut at = start;
    for l in text[start..start + len].split_inclusive('\n') {
        let line = l.trim();
        if !line.is_empty() {
            match line.split_once(' ') {
                Some((k, v)) if !k.is_empty() && v.trim().starts_with("jcs-sha256:") && !v.trim().contains(' ') => {
                    if out.insert(k.to_owned(), v.trim().to_owned()).is_some() {
                        return Err((line_of(at), format!("the config-hashes block records `{k}` twice")));
                    }
                }
                _ => return Err((line_of(at), format!("`{line}` in the config-hashes block is not `<name> jcs-sha256:<hex>`"))),
            }
        }
        at += l.len();
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_inside_a_document() {
        let mut h = Hashes::new();
        h.insert("staging".into(), "jcs-sha256:aa".into());
        h.insert("production:deploy/api.yaml".into(), "jcs-sha256:bb".into());
        let doc = format!("# Release 2.4.0\n\nnotes\n\n{}\nmore\n", render(&h));
        assert_eq!(parse(&doc), Ok(Some(h)));
        assert_eq!(parse("no block"), Ok(None));
        // Edited blocks are errors with their line, never "nothing recorded".
        assert_eq!(parse(&doc.replace("-->", "")).map_err(|e| e.0), Err(5));
        let tampered = doc.replace("jcs-sha256:bb", "sha1:bb");
        assert!(matches!(parse(&tampered), Err((6, m)) if m.contains("not `<name> jcs-sha256:<hex>`")));
        let twice = doc.replace("staging jcs-sha256:aa", "staging jcs-sha256:aa\nstaging jcs-sha256:cc");
        assert!(matches!(parse(&twice), Err((8, m)) if m.contains("twice")));
    }
}
