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

/// Finds and parses the block in a document; `None` when there is none.
pub fn parse(text: &str) -> Option<Hashes> {
    let start = text.find(OPEN)? + OPEN.len();
    let end = start + text[start..].find(CLOSE)?;
    Some(text[start..end].lines().filter_map(|l| l.trim().split_once(' ').map(|(k, v)| (k.to_owned(), v.trim().to_owned()))).collect())
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
        assert_eq!(parse(&doc), Some(h));
        assert_eq!(parse("no block"), None);
    }
}
