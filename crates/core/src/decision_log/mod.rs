//! The decision log as a document the gates share: its generated regions
//! (`<!-- release-gate:begin KEY -->` … `<!-- release-gate:end KEY -->`),
//! the hand-written `- **Label:** value` fields, hidden data lines, the
//! release's [`lifecycle`] recorded in it, and how it is [`save`]d in the
//! repository. decision-log-commit renders the log; deploy-check, `serve`
//! and release-guard read and move the lifecycle through this module, so
//! no gate re-derives it from prose.

pub mod lifecycle;
pub mod save;

pub use lifecycle::{Lifecycle, LifecycleError, State, Transition};

pub(crate) const BEGIN: &str = "<!-- release-gate:begin ";
pub(crate) const END: &str = "<!-- release-gate:end ";

/// The generated regions of a document, by key, in order.
pub fn regions(doc: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = doc[from..].find(BEGIN).map(|i| i + from) {
        let Some(key_end) = doc[i + BEGIN.len()..].find(" -->").map(|k| k + i + BEGIN.len()) else { break };
        let key = doc[i + BEGIN.len()..key_end].to_owned();
        let end_marker = format!("{END}{key} -->");
        let Some(j) = doc[key_end..].find(&end_marker).map(|j| j + key_end) else { break };
        out.push((key, i..j + end_marker.len()));
        from = j + end_marker.len();
    }
    out
}

/// A region with its markers.
pub fn region(key: &str, body: &str) -> String {
    format!("{BEGIN}{key} -->\n{}\n{END}{key} -->", body.trim_end())
}

/// The text between a region's markers (empty when it has none).
pub fn region_body(doc: &str, key: &str) -> String {
    let begin = format!("{BEGIN}{key} -->");
    let end = format!("{END}{key} -->");
    let Some(start) = doc.find(&begin).map(|i| i + begin.len()) else { return String::new() };
    let Some(stop) = doc[start..].find(&end).map(|j| j + start) else { return String::new() };
    doc[start..stop].trim_matches('\n').to_owned()
}

/// Replaces `key`'s region in `doc`, wherever it is (also inside another
/// region), or returns `None` when it has none.
pub fn replace_region(doc: &str, key: &str, body: &str) -> Option<String> {
    let begin = format!("{BEGIN}{key} -->");
    let end = format!("{END}{key} -->");
    let start = doc.find(&begin)?;
    let stop = doc[start..].find(&end)? + start + end.len();
    Some(format!("{}{}{}", &doc[..start], region(key, body), &doc[stop..]))
}

/// A hidden data line: `<!-- release-gate:KIND {json} -->`, `--` escaped so
/// it cannot end the comment.
pub fn data_line(kind: &str, json: &str) -> String {
    format!("<!-- release-gate:{kind} {} -->", json.replace("--", "\\u002d\\u002d"))
}

/// Each data line of `kind` in `doc`: its JSON and its 1-based line.
pub fn data_lines<'a>(doc: &'a str, kind: &str) -> Vec<(&'a str, u64)> {
    let prefix = format!("<!-- release-gate:{kind} ");
    doc.lines()
        .enumerate()
        .filter_map(|(n, line)| {
            line.trim().strip_prefix(prefix.as_str()).and_then(|r| r.strip_suffix("-->")).map(|j| (j.trim(), n as u64 + 1))
        })
        .collect()
}

/// A hand-written field line `- **Label:** value`: its value, if the line exists.
pub fn field(doc: &str, label: &str) -> Option<String> {
    let prefix = format!("- **{label}:**");
    doc.lines().find(|l| l.trim_start().starts_with(&prefix)).map(|l| l.trim_start()[prefix.len()..].trim().to_owned())
}

/// Sets a hand-written field's value (only called with an input).
pub fn set_field(doc: &str, label: &str, value: &str) -> String {
    let prefix = format!("- **{label}:**");
    let mut out = String::with_capacity(doc.len() + value.len());
    for line in doc.split_inclusive('\n') {
        if line.trim_start().starts_with(&prefix) {
            let nl = if line.ends_with('\n') { "\n" } else { "" };
            out.push_str(&format!("{prefix} {value}{nl}"));
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_found_and_replaced_leaving_the_rest() {
        let doc = format!("# Log\nhand text\n{}\nmore hand text\n{}\n", region("a", "one"), region("gate:x", "two"));
        assert_eq!(regions(&doc).iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["a", "gate:x"]);
        let d2 = replace_region(&doc, "gate:x", "TWO").unwrap();
        assert!(d2.contains("hand text\n") && d2.contains("more hand text") && d2.contains("TWO") && !d2.contains("two"));
        assert!(replace_region(&doc, "missing", "x").is_none());
        assert_eq!(region_body(&doc, "a"), "one");
        assert_eq!(region_body(&doc, "missing"), "");
        // Nested regions are found too (gate data sits inside the gate-data region).
        let nested = region("outer", &format!("{}\n{}", region("gate:a", "1"), region("gate:b", "2")));
        let n2 = replace_region(&nested, "gate:b", "3").unwrap();
        assert!(n2.contains("3") && !n2.contains("\n2\n") && n2.matches("begin gate:b").count() == 1);
    }

    #[test]
    fn data_lines_cannot_end_their_comment() {
        let line = data_line("x", r#"{"a":"b --> c"}"#);
        assert!(!line[4..line.len() - 3].contains("--"), "{line}");
        let doc = format!("one\n  {line}\n");
        assert_eq!(data_lines(&doc, "x"), [(r#"{"a":"b \u002d\u002d> c"}"#, 2)]);
        let v: serde_json::Value = serde_json::from_str(data_lines(&doc, "x")[0].0).unwrap();
        assert_eq!(v["a"], "b --> c");
    }

    #[test]
    fn fields() {
        let doc = "- **Participants:** alice, bob\n- **Scope summary:**\n";
        assert_eq!(field(doc, "Participants").as_deref(), Some("alice, bob"));
        assert_eq!(field(doc, "Scope summary").as_deref(), Some(""));
        assert_eq!(
            set_field(doc, "Scope summary", "order router 2.4"),
            "- **Participants:** alice, bob\n- **Scope summary:** order router 2.4\n"
        );
    }
}
