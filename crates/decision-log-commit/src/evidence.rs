//! The readiness checklist's evidence, read for what it **says**: one
//! reader per kind, shared by decision-log-commit (which writes the GO) and
//! deploy-check and `serve` (which re-check it at deploy time). Each turns
//! the evidence into a [`Reading`]: passed, failed, or cannot tell; a kind
//! that cannot tell success from failure never ticks an item.
//!
//! | kind | passes when |
//! | --- | --- |
//! | `report: KEY` | the gate's report for this release (and commit) passed, and each check named in `checks:` passed (a skipped check never did); with no `checks:`, at least one of its checks passed |
//! | `check-run: NAME` | the newest check run of that name that counts ([`release_gate_core::evidence`]) concluded success |
//! | `file:` + `kind: json` | the value at `field` (a JSON pointer `/a/b` or a dotted path `a.b`) equals `expected`, and `release-field` (when given) names this release |
//! | `file:` + `kind: junit` | at least one test ran, none failed or errored, nothing failed outside a test case |
//! | `file:` + `kind: text` | a line matches `success`, and no line matches `failure` |
//! | `file:` + `kind: markdown` | it has text besides headings, and a line carries `reviewed-by` followed by a reviewer (one of `reviewers`, when listed) |
//! | `link: NAME` | never: a link is shown, it cannot tell success from failure |
//! | `todo:` | never: not bound to evidence yet |
//!
//! A file is dated by its own timestamp, else (in a git checkout) the
//! commit that last changed it, else its modification time; the reading
//! says which, and `max-age` applies to it.

use std::collections::BTreeMap;
use std::path::Path;

use regex::RegexBuilder;
use release_gate_core::evidence::{AgeFrom, CheckRuns, Reading, Says};
use release_gate_core::paths::{PathError, Root};
use release_gate_core::report::Status;

use crate::log::GateEntry;
use crate::policy::{Evidence, Kind, LogPolicy};

/// Where evidence files are read.
#[derive(Clone, Copy)]
pub enum Files<'a> {
    /// The checkout.
    Local(&'a Root),
    /// Read at the commit through the contents API (a protection rule has
    /// no checkout): path → its bytes, or why it could not be read.
    Fetched(&'a BTreeMap<String, Result<Vec<u8>, String>>),
}

/// What readings are taken against.
pub struct Sources<'a> {
    /// The release.
    pub release: &'a str,
    /// The commit released, when known: a report for another one is not evidence.
    pub commit: Option<&'a str>,
    /// The gates' results, by report key.
    pub entries: &'a BTreeMap<String, GateEntry>,
    /// The files.
    pub files: Files<'a>,
    /// Links given as input (`--evidence NAME=URL`).
    pub links: &'a BTreeMap<String, String>,
    /// The commit's check runs that count.
    pub check_runs: &'a CheckRuns,
    /// Whether check runs could be read (online).
    pub online: bool,
}

/// Every file the checklist names for `release` (what a protection rule fetches).
pub fn files_named(policy: &LogPolicy, release: &str) -> Vec<String> {
    let mut out: Vec<String> =
        policy.checklist.values().flatten().filter_map(|e| e.file.as_ref()).map(|f| f.replace("{release}", release)).collect();
    out.sort();
    out.dedup();
    out
}

/// Why an evidence entry cannot be read as written (check-policy reports
/// these; the reading says the same and ticks nothing).
pub fn problems(ev: &Evidence) -> Vec<String> {
    let mut out = Vec::new();
    let named = [ev.report.is_some(), ev.file.is_some(), ev.check_run.is_some(), ev.link.is_some(), ev.todo.is_some()];
    match named.iter().filter(|n| **n).count() {
        0 => out.push("names nothing: give one of report, file, check-run, link or todo".to_owned()),
        1 => {}
        _ => out.push("names more than one of report, file, check-run, link and todo: give one per entry".to_owned()),
    }
    if ev.file.is_some() {
        match ev.kind {
            None => out.push(
                "a file needs a `kind` (json, junit, text or markdown) saying how to read success from it: a file that merely exists proves nothing"
                    .to_owned(),
            ),
            Some(Kind::Json) if ev.field.is_none() || ev.expected.is_none() => {
                out.push("kind json needs `field` (the success field) and `expected` (its value on success)".to_owned())
            }
            Some(Kind::Text) if ev.success.is_none() => out.push("kind text needs `success`: a pattern a line must match".to_owned()),
            Some(Kind::Markdown) if ev.reviewed_by.is_none() => {
                out.push("kind markdown needs `reviewed-by`: the words that introduce the reviewer (e.g. \"reviewed by\")".to_owned())
            }
            _ => {}
        }
        for (what, pattern) in [("success", &ev.success), ("failure", &ev.failure)] {
            if let Some(p) = pattern
                && let Err(e) = RegexBuilder::new(p).multi_line(true).build()
            {
                out.push(format!("`{what}` {p:?} is not a regular expression: {e}"));
            }
        }
    } else if ev.kind.is_some() || ev.field.is_some() || ev.success.is_some() || ev.reviewed_by.is_some() {
        out.push("kind, field, expected, success, failure and reviewed-by apply to a `file`".to_owned());
    }
    if !ev.checks.is_empty() && ev.report.is_none() {
        out.push("`checks` names checks of a `report`".to_owned());
    }
    if let Some(age) = &ev.max_age
        && release_gate_core::policy::duration(age).is_none()
    {
        out.push(format!("max-age {age:?} is not a duration such as 7d or 24h"));
    }
    out
}

/// Reads one piece of evidence.
pub fn read(ev: &Evidence, s: &Sources<'_>) -> Reading {
    let shown = |what: &str| what.to_owned();
    if let Some(first) = problems(ev).first() {
        let what = ev.file.as_deref().or(ev.report.as_deref()).or(ev.check_run.as_deref()).unwrap_or("evidence entry");
        return Reading { shown: format!("`{what}`"), says: Says::CannotTell(first.clone()), at: None };
    }
    if let Some(todo) = &ev.todo {
        return Reading {
            shown: shown("to bind"),
            says: Says::Failed(format!("not bound to evidence yet: {todo} (policy: decision-log-commit.checklist)")),
            at: None,
        };
    }
    if let Some(key) = &ev.report {
        return report(key, &ev.checks, s);
    }
    if let Some(name) = &ev.check_run {
        let says = match s.check_runs.counting.get(name) {
            Some(c) if c.passed() => Says::Passed(format!("concluded {}", c.conclusion)),
            Some(c) => Says::Failed(format!("concluded {}", c.conclusion)),
            None => match s.check_runs.refused.get(name) {
                Some(why) => Says::Failed(format!("the check run with that name does not count: {why}")),
                None if s.online => Says::Failed("no such check run on this commit".into()),
                None => Says::Failed("check runs cannot be read offline".into()),
            },
        };
        let url = s.check_runs.counting.get(name).map(|c| c.url.clone()).filter(|u| !u.is_empty());
        return Reading { shown: url.map_or_else(|| format!("`{name}`"), |u| format!("[{name}]({u})")), says, at: None };
    }
    if let Some(name) = &ev.link {
        return match s.links.get(name) {
            Some(u) if u.starts_with("https://") => Reading {
                shown: format!("[{name}]({u})"),
                says: Says::CannotTell("a link is shown, never evidence: it cannot tell success from failure".into()),
                at: None,
            },
            Some(u) => Reading { shown: format!("`{name}`"), says: Says::CannotTell(format!("link `{u}` is not https")), at: None },
            None => Reading {
                shown: format!("`{name}`"),
                says: Says::CannotTell(format!("no link given (input evidence: {name}=URL)")),
                at: None,
            },
        };
    }
    let Some(file) = &ev.file else { unreachable!("problems() refuses an entry naming nothing") };
    let rel = file.replace("{release}", s.release);
    let shown = format!("`{rel}`");
    let (bytes, modified) = match fetch(&s.files, &rel) {
        Ok(b) => b,
        Err(why) => return Reading { shown, says: Says::Failed(why), at: None },
    };
    let says = match ev.kind {
        Some(Kind::Json) => json(ev, &bytes, s.release),
        Some(Kind::Junit) => junit(&bytes, &rel),
        Some(Kind::Text) => text(ev, &bytes),
        Some(Kind::Markdown) => markdown(ev, &bytes),
        None => unreachable!("problems() refuses a file without a kind"),
    };
    let own = match crate::observe::file_time(&bytes) {
        Ok(t) => t,
        Err(why) => return Reading { shown, says: Says::CannotTell(why), at: None },
    };
    let at = own.map(|t| (t, AgeFrom::Own)).or_else(|| match &s.files {
        Files::Local(root) => commit_time(root, &rel).map(|t| (t, AgeFrom::Commit)).or(modified.map(|t| (t, AgeFrom::Modified))),
        Files::Fetched(_) => None,
    });
    Reading { shown, says, at }
}

fn report(key: &str, checks: &[String], s: &Sources<'_>) -> Reading {
    let Some(e) = s.entries.get(key) else {
        return Reading { shown: format!("`{key}`"), says: Says::Failed("no report for this release".into()), at: None };
    };
    let shown = match &e.url {
        Some(u) => format!("[{key}]({u})"),
        None => format!("`{key}`"),
    };
    let at = e.generated_at.parse().ok().map(|t| (t, AgeFrom::Own));
    let says = if let Some(c) = s.commit.filter(|c| e.commit.as_deref() != Some(*c)) {
        Says::Failed(format!(
            "it evaluated {}, not {}",
            e.commit.as_deref().map_or_else(|| "no commit".to_owned(), |x| format!("commit {}", &x[..x.len().min(12)])),
            &c[..c.len().min(12)]
        ))
    } else if !e.passing() {
        Says::Failed(format!("{}: {}", e.decision.as_deref().unwrap_or(&e.verdict), e.title))
    } else if checks.is_empty() {
        match e.checks.values().filter(|st| matches!(st, Status::Pass | Status::Warn)).count() {
            0 if e.checks.is_empty() => Says::CannotTell("its checks are not recorded: re-run the gate with this version".into()),
            0 => Says::Failed("every one of its checks was skipped: nothing was verified".into()),
            n => Says::Passed(format!("{}: {n} check(s) passed", e.verdict)),
        }
    } else {
        let not: Vec<String> = checks
            .iter()
            .filter_map(|c| match e.checks.get(c) {
                Some(Status::Pass | Status::Warn) => None,
                Some(Status::Skip) => Some(format!(
                    "`{c}` was skipped, which is not a pass: make the rule run (the gate's report says why it did not) or bind other evidence in decision-log-commit.checklist"
                )),
                Some(Status::Fail) => Some(format!("`{c}` failed")),
                None => Some(format!("it has no check `{c}`")),
            })
            .collect();
        if not.is_empty() { Says::Passed(format!("{} passed", checks.join(", "))) } else { Says::Failed(not.join("; ")) }
    };
    Reading { shown, says, at }
}

/// The file's bytes, and its modification time in a checkout.
fn fetch(files: &Files<'_>, rel: &str) -> Result<(Vec<u8>, Option<jiff::Timestamp>), String> {
    match files {
        Files::Fetched(map) => match map.get(rel) {
            Some(Ok(b)) => Ok((b.clone(), None)),
            Some(Err(why)) => Err(why.clone()),
            None => Err("not read".into()),
        },
        Files::Local(root) => {
            let path = match root.file(rel, "evidence") {
                Ok(p) => p,
                Err(PathError::NotFound { .. }) => return Err("file not found".into()),
                Err(PathError::Outside { why, .. }) => {
                    return Err(format!("leads outside the repository ({why}); evidence must be a file of the repository"));
                }
                Err(e) => return Err(e.to_string()),
            };
            let bytes = std::fs::read(&path).map_err(|e| format!("cannot be read ({e})"))?;
            Ok((bytes, release_gate_core::paths::mtime(&path)))
        }
    }
}

/// When the last commit changed the file (a git checkout only).
fn commit_time(root: &Root, rel: &str) -> Option<jiff::Timestamp> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root.real())
        .args(["log", "-1", "--format=%cI", "--"])
        .arg(Path::new(rel))
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    String::from_utf8_lossy(&out.stdout).trim().parse::<jiff::Timestamp>().ok()
}

/// The value at a JSON pointer (`/a/0/b`) or dotted path (`a.b`).
fn at<'v>(v: &'v serde_json::Value, field: &str) -> Option<&'v serde_json::Value> {
    if field.starts_with('/') {
        return v.pointer(field);
    }
    field.split('.').try_fold(v, |v, k| match v {
        serde_json::Value::Array(a) => a.get(k.parse::<usize>().ok()?),
        _ => v.get(k),
    })
}

fn json(ev: &Evidence, bytes: &[u8], release: &str) -> Says {
    let v = match release_gate_core::json::parse(bytes) {
        Ok(v) => v,
        Err(e) => return Says::CannotTell(format!("not JSON it can trust (line {}: {e}): its result cannot be read", e.line())),
    };
    if let Some(rf) = &ev.release_field {
        match at(&v, rf).and_then(|r| r.as_str()) {
            Some(r) if r == release => {}
            Some(r) => return Says::Failed(format!("`{rf}` says release {r}, not {release}: another release's result")),
            None => return Says::CannotTell(format!("it has no release at `{rf}`")),
        }
    }
    let (Some(field), Some(expected)) = (&ev.field, &ev.expected) else { unreachable!("problems() checks json's field and expected") };
    match at(&v, field) {
        None => Says::CannotTell(format!("it has no `{field}`: its result cannot be read")),
        Some(found) if found == expected => Says::Passed(format!("`{field}` is {found}")),
        Some(found) => Says::Failed(format!("`{field}` is {found}, not {expected}")),
    }
}

fn junit(bytes: &[u8], rel: &str) -> Says {
    let mut r = release_gate_junit::Results::default();
    let pipe = release_gate_junit::pipe(std::io::Cursor::new(bytes.to_vec()));
    if let Err(e) = release_gate_junit::parse(pipe, rel, &mut r) {
        return Says::CannotTell(format!("not a JUnit report: {e}"));
    }
    if r.ran() == 0 {
        return Says::Failed(format!("{} test(s), none ran: nothing was verified", r.tests));
    }
    if r.bad() > 0 || !r.suite_problems.is_empty() {
        let first = r.failures.first().map(|c| format!(": {}", c.id())).unwrap_or_default();
        return Says::Failed(format!(
            "{} failed, {} errored, {} result(s) outside a test case{first}",
            r.failed,
            r.errored,
            r.suite_problems.len()
        ));
    }
    Says::Passed(format!("{} test(s) passed", r.passed))
}

fn text(ev: &Evidence, bytes: &[u8]) -> Says {
    let Ok(text) = std::str::from_utf8(bytes) else { return Says::CannotTell("not UTF-8 text".into()) };
    let re = |p: &str| RegexBuilder::new(p).multi_line(true).build().ok();
    if let Some(bad) = ev.failure.as_deref().and_then(re)
        && let Some(m) = bad.find(text)
    {
        let line = text[..m.start()].matches('\n').count() + 1;
        let shown = text.lines().nth(line - 1).unwrap_or_default().trim();
        return Says::Failed(format!("line {line} says it failed: {shown:?}"));
    }
    let Some(good) = ev.success.as_deref().and_then(re) else { unreachable!("problems() checks the patterns") };
    match good.find(text) {
        Some(m) => {
            let line = text[..m.start()].matches('\n').count() + 1;
            Says::Passed(format!("line {line}: {:?}", text.lines().nth(line - 1).unwrap_or_default().trim()))
        }
        None => Says::Failed(format!("no line matches {:?}: it does not say it succeeded", ev.success.as_deref().unwrap_or_default())),
    }
}

/// Characters that show nothing: dropped before a document is read, so
/// they neither hide a label nor make an empty document look written.
fn invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The prose a Markdown document shows a reader: the text of each
/// paragraph, list item and table cell, with its line; never headings,
/// code, HTML (comments included), struck-through text, images' alt text
/// or front matter.
fn prose(text: &str) -> Vec<(usize, String)> {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let options = Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TABLES
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_PLUSES_DELIMITED_METADATA_BLOCKS;
    let line = |at: usize| text[..at].matches('\n').count() + 1;
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut hidden = 0usize;
    let flush = |current: &mut Option<(usize, String)>, out: &mut Vec<(usize, String)>| {
        if let Some((l, t)) = current.take()
            && t.chars().any(char::is_alphanumeric)
        {
            out.push((l, t.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
    };
    for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
        match event {
            Event::Start(
                Tag::Heading { .. } | Tag::CodeBlock(_) | Tag::Strikethrough | Tag::MetadataBlock(_) | Tag::HtmlBlock | Tag::Image { .. },
            ) => hidden += 1,
            Event::End(
                TagEnd::Heading(_)
                | TagEnd::CodeBlock
                | TagEnd::Strikethrough
                | TagEnd::MetadataBlock(_)
                | TagEnd::HtmlBlock
                | TagEnd::Image,
            ) => {
                hidden = hidden.saturating_sub(1);
            }
            Event::Start(Tag::Paragraph | Tag::Item | Tag::TableCell)
            | Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::TableCell) => {
                flush(&mut current, &mut out);
            }
            Event::Text(t) if hidden == 0 => {
                current.get_or_insert_with(|| (line(range.start), String::new())).1.push_str(&t);
            }
            Event::SoftBreak | Event::HardBreak if hidden == 0 => {
                if let Some((_, c)) = &mut current {
                    c.push(' ');
                }
            }
            _ => {}
        }
    }
    flush(&mut current, &mut out);
    out
}

/// Words that, next to a reviewer's line, say the review did not happen.
const NEGATIONS: [&str; 14] =
    ["no", "not", "never", "nobody", "pending", "rejected", "declined", "awaiting", "yet", "tbd", "todo", "unreviewed", "failed", "be"];

/// Whether what follows a reviewer's name, to the end of its sentence,
/// says only a role in parentheses and a date or time.
fn states_only_when(after: &str) -> bool {
    // The sentence ends at `.`, `;` or `!` before a space or the end.
    let mut end = after.len();
    let b = after.as_bytes();
    for (i, c) in after.char_indices() {
        if matches!(c, '.' | ';' | '!') && b.get(i + 1).is_none_or(|n| n.is_ascii_whitespace()) {
            end = i;
            break;
        }
    }
    let sentence = &after[..end];
    let mut rest = String::new();
    let mut depth = 0usize;
    let mut group = String::new();
    for c in sentence.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    let lc = group.to_lowercase();
                    if lc.split(|c: char| !c.is_alphabetic()).any(|w| NEGATIONS.contains(&w)) {
                        return false;
                    }
                    group.clear();
                }
            }
            c if depth > 0 => group.push(c),
            c => rest.push(c),
        }
    }
    if depth > 0 {
        return false;
    }
    rest.split_whitespace().all(|tok| {
        let t = tok.trim_matches(|c: char| c == ',');
        t.is_empty()
            || ["on", "at", "utc"].contains(&t.to_lowercase().as_str())
            || (t.chars().any(|c| c.is_ascii_digit()) && t.chars().all(|c| c.is_ascii_digit() || "-:+.TZ".contains(c)))
    })
}

/// The reviewer a block of prose names after `label`, when it says the
/// document *was* reviewed: the label opens the block or a sentence, or
/// follows a comma or a dash ("not yet reviewed by", "to be reviewed by"
/// name nobody).
fn reviewer_in(block: &str, label: &str) -> Option<String> {
    let lc = block.to_lowercase();
    let label = label.to_lowercase();
    let mut from = 0;
    while let Some(i) = lc.get(from..).and_then(|r| r.find(&label)).map(|i| i + from) {
        from = i + label.len();
        let before = lc[..i].trim_end();
        let opens = before.is_empty() || before.ends_with(['.', ',', ';', ':', '(', '-', '–', '—', '*', '_', '|']);
        // "not, reviewed by", "not yet — reviewed by": the word before says it was not.
        let last_word = before.split(|c: char| !c.is_alphabetic()).rfind(|w| !w.is_empty()).unwrap_or_default();
        if !opens || (!before.is_empty() && NEGATIONS.contains(&last_word)) {
            continue;
        }
        let rest = block.get(i + label.len()..)?.trim_start().trim_start_matches(':').trim_start();
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '/')).collect();
        let name = name.trim_end_matches('.').to_owned();
        // The rest of the sentence may say only when and in what role
        // ("(on-call lead) 2026-11-30T10:20:00Z"): anything else ("? No.",
        // ": pending", "(rejected)", "— changes requested") may take it back.
        let after = rest.get(name.len()..).unwrap_or_default();
        if !name.is_empty() && states_only_when(after) {
            return Some(name);
        }
    }
    None
}

fn markdown(ev: &Evidence, bytes: &[u8]) -> Says {
    let Ok(text) = std::str::from_utf8(bytes) else { return Says::CannotTell("not UTF-8 text".into()) };
    let text: String = text.chars().filter(|c| !invisible(*c)).collect();
    let Some(label) = &ev.reviewed_by else { unreachable!("problems() checks reviewed-by") };
    let blocks = prose(&text);
    if blocks.is_empty() {
        return Says::Failed("empty: it has no text a reader sees besides headings, code, HTML and front matter".into());
    }
    let named = blocks.iter().find_map(|(line, b)| reviewer_in(b, label).map(|n| (*line, n, b)));
    let Some((line, n, block)) = named else {
        return Says::Failed(format!(
            "no paragraph names its reviewer after {label:?} (a heading, code, a comment or struck-through text is not a review)"
        ));
    };
    // The reviewer's line alone is not a plan: something else must be written.
    let rest = blocks.iter().filter(|(_, b)| b != block).count();
    // What the reviewer's paragraph says besides the label and the name.
    let own = block.to_lowercase().replacen(&label.to_lowercase(), "", 1).replacen(&n.to_lowercase(), "", 1);
    let words_besides = own.chars().filter(|c| c.is_alphanumeric()).count() >= 4;
    if rest == 0 && !words_besides {
        return Says::Failed(format!("line {line} names its reviewer, and nothing else is written: the document is empty"));
    }
    if !ev.reviewers.is_empty() && !ev.reviewers.iter().any(|r| r.eq_ignore_ascii_case(&n)) {
        return Says::Failed(format!("line {line}: reviewed by {n}, who is not one of {}", ev.reviewers.join(", ")));
    }
    Says::Passed(format!("line {line}: reviewed by {n}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// An entry, written as JSON (the policy's YAML reads into the same type).
    fn ev(json: &str) -> Evidence {
        serde_json::from_str(json).unwrap()
    }

    fn says(e: &Evidence, bytes: &[u8]) -> Says {
        match e.kind {
            Some(Kind::Json) => json(e, bytes, "2.4.0"),
            Some(Kind::Junit) => junit(bytes, "r.xml"),
            Some(Kind::Text) => text(e, bytes),
            Some(Kind::Markdown) => markdown(e, bytes),
            None => panic!("no kind"),
        }
    }

    #[test]
    fn a_json_result_passes_only_on_its_success_value_for_this_release() {
        let e = ev(r#"{"file": "k.json", "kind": "json", "field": "result", "expected": "pass"}"#);
        assert!(says(&e, br#"{"result": "pass"}"#).passed());
        assert!(matches!(says(&e, br#"{"result": "FAIL"}"#), Says::Failed(_)), "a run that says FAIL");
        assert!(matches!(says(&e, br#"{"result": "PASS"}"#), Says::Failed(_)), "the value, exactly");
        assert!(matches!(says(&e, br#"{"outcome": "pass"}"#), Says::CannotTell(_)), "no such field");
        assert!(matches!(says(&e, b"not json"), Says::CannotTell(_)));
        assert!(
            matches!(says(&e, b"{\"result\": \"FAIL\",\n \"result\": \"pass\"}"), Says::CannotTell(m) if m.contains("line 2") && m.contains("\"result\" appears twice")),
            "a key twice: serde_json alone would keep the last, a pass"
        );
        let pact = ev(r#"{"file": "p.json", "kind": "json", "field": "summary.verified", "expected": true, "release-field": "version"}"#);
        assert!(says(&pact, br#"{"version": "2.4.0", "summary": {"verified": true}}"#).passed());
        assert!(matches!(says(&pact, br#"{"version": "2.4.0", "summary": {"verified": false}}"#), Says::Failed(_)));
        assert!(
            matches!(says(&pact, br#"{"version": "2.4.0", "summary": {"verified": "true"}}"#), Says::Failed(_)),
            "a string is not true"
        );
        assert!(
            matches!(says(&pact, br#"{"version": "2.3.9", "summary": {"verified": true}}"#), Says::Failed(m) if m.contains("another release"))
        );
        let pointer = ev(r#"{"file": "p.json", "kind": "json", "field": "/providers/1/verified", "expected": true}"#);
        assert!(matches!(says(&pointer, br#"{"providers": [{"verified": true}, {"verified": false}]}"#), Says::Failed(_)));
    }

    #[test]
    fn a_text_log_passes_on_its_success_line_and_fails_on_a_failure_line() {
        let e = ev(
            r#"{"file": "d.txt", "kind": "text", "success": "^dry run OK: .* 0 errors$", "failure": "(?i)^(error|fatal|dry run failed)"}"#,
        );
        assert!(says(&e, b"INFO upgrade\ndry run OK: 1 upgrade, 1 downgrade, 0 errors\n").passed());
        assert!(
            matches!(says(&e, b"INFO upgrade\nERROR relation exists\ndry run OK: 1 upgrade, 1 downgrade, 0 errors\n"), Says::Failed(m) if m.contains("line 2"))
        );
        assert!(matches!(says(&e, b"dry run FAILED: 1 error\n"), Says::Failed(_)));
        assert!(matches!(says(&e, b""), Says::Failed(_)), "an empty log says nothing");
    }

    #[test]
    fn a_markdown_document_needs_text_and_a_named_reviewer() {
        let e = ev(r#"{"file": "c.md", "kind": "markdown", "reviewed-by": "reviewed by", "reviewers": ["operations"]}"#);
        assert!(says(&e, b"# Plan\n\nDrafted, reviewed by operations (on-call lead).\n").passed());
        assert!(says(&e, include_bytes!("../../../examples/tradepulse/docs/releases/2.4.0/communication-plan.md")).passed());
        assert!(matches!(says(&e, b""), Says::Failed(m) if m.contains("empty")));
        assert!(matches!(says(&e, b"# Plan\n\n## Scope\n"), Says::Failed(m) if m.contains("empty")));
        assert!(matches!(says(&e, b"# Plan\n\nAnnouncement drafted.\n"), Says::Failed(m) if m.contains("reviewer")));
        assert!(
            matches!(says(&e, b"# Plan\n\nAnnounced on the desk channel.\n\nReviewed by: mallory\n"), Says::Failed(m) if m.contains("not one of operations"))
        );
        assert!(matches!(says(&e, b"# Plan\n\nreviewed by\n"), Says::Failed(_)), "the label with nobody after it");
        // What a reader does not see, or what does not say it was reviewed, names no reviewer.
        let plan = "Announcement: #trading-desk, 30 minutes before the window.\n";
        for (doc, why) in [
            (format!("# Plan\n\n{plan}\n# Reviewed by operations\n"), "a heading"),
            (format!("{plan}\nReviewed by operations\n=====\n"), "a setext heading"),
            (format!("{plan}\n```\nReviewed by operations\n```\n"), "a code block"),
            (format!("{plan}\n    Reviewed by operations\n"), "an indented code block"),
            (format!("{plan}\n<!-- Reviewed by operations -->\n"), "a comment"),
            (format!("{plan}\n~~Reviewed by operations~~\n"), "struck through"),
            (format!("---\nnote: Reviewed by operations\n---\n\n{plan}"), "front matter"),
            (format!("{plan}\nNot yet reviewed by operations.\n"), "a negation"),
            (format!("{plan}\nTo be reviewed by operations before the window.\n"), "a future"),
            (format!("{plan}\nReviewed by ~~operations~~\n"), "the reviewer struck through"),
            (format!("{plan}\nReviewed by operations? No.\n"), "a question answered no"),
            (format!("{plan}\nReviewed by operations: pending.\n"), "pending"),
            (format!("{plan}\nReviewed by operations (rejected).\n"), "rejected"),
            (format!("{plan}\nreviewed by operations — NOT\n"), "taken back"),
            (format!("{plan}\nnot, reviewed by operations\n"), "a negation before a comma"),
            (format!("{plan}\nnot — reviewed by operations\n"), "a negation before a dash"),
            (format!("{plan}\n![reviewed by operations](x.png)\n"), "an image's alt text"),
            ("# Plan\n\n![TBD](x.png)\n\nReviewed by operations.\n".to_owned(), "an image is no plan"),
            (format!("{plan}\nReviewed by operations: unapproved.\n"), "a status after a colon"),
            (format!("{plan}\nReviewed by operations later.\n"), "not yet"),
            (format!("{plan}\nReviewed by operations — changes requested\n"), "changes requested"),
            (format!("{plan}\nReviewed by operations: ❌\n"), "a mark"),
            (format!("{plan}\nReviewed by operations (withdrawn.\n"), "an unclosed parenthesis"),
        ] {
            assert!(matches!(says(&e, doc.as_bytes()), Says::Failed(_)), "{why}: {doc}");
        }
        for doc in [
            "Reviewed by operations\n",
            "# Plan\n\n***\n\nReviewed by: operations\n\n---\n",
            "\u{200B}\n\u{FEFF}\nReviewed by operations.\n",
        ] {
            assert!(
                matches!(says(&e, doc.as_bytes()), Says::Failed(m) if m.contains("nothing else is written")),
                "only the reviewer's line: {doc:?}"
            );
        }
        assert!(
            matches!(says(&e, "\u{200B}\u{200B}\n\n# Plan\n".as_bytes()), Says::Failed(m) if m.contains("empty")),
            "invisible text is no text"
        );
        // Emphasis, lists and a zero-width character inside the label still read.
        assert!(says(&e, format!("{plan}\n- **Reviewed by:** operations\n").as_bytes()).passed());
        assert!(
            says(&e, format!("{plan}\nReviewed by operations (on-call lead) on 2026-11-30 at 10:20 UTC. Thanks.\n").as_bytes()).passed()
        );
        assert!(says(&e, format!("{plan}\nRe\u{200B}viewed by operations.\n").as_bytes()).passed());
    }

    #[test]
    fn a_junit_file_passes_only_when_tests_ran_and_none_failed() {
        let e = ev(r#"{"file": "r.xml", "kind": "junit"}"#);
        assert!(says(&e, br#"<testsuite><testcase name="a"/></testsuite>"#).passed());
        assert!(matches!(says(&e, br#"<testsuite><testcase name="a"><failure/></testcase></testsuite>"#), Says::Failed(_)));
        assert!(
            matches!(says(&e, br#"<testsuite><testcase name="a"><skipped/></testcase></testsuite>"#), Says::Failed(m) if m.contains("none ran"))
        );
        assert!(matches!(says(&e, br#"<testsuite/>"#), Says::Failed(_)));
        assert!(matches!(says(&e, b"<html/>"), Says::CannotTell(_)));
    }

    #[test]
    fn an_entry_that_cannot_tell_success_is_named() {
        for (json, want) in [
            (r#"{"file": "x.json"}"#, "a file needs a `kind`"),
            (r#"{"file": "x.json", "kind": "json", "field": "a"}"#, "`expected`"),
            (r#"{"file": "x.txt", "kind": "text"}"#, "needs `success`"),
            (r#"{"file": "x.md", "kind": "markdown"}"#, "needs `reviewed-by`"),
            (r#"{"file": "x.txt", "kind": "text", "success": "("}"#, "not a regular expression"),
            (r#"{"report": "freeze-check", "file": "x"}"#, "more than one"),
            (r#"{}"#, "names nothing"),
            (r#"{"check-run": "x", "checks": ["a"]}"#, "checks of a `report`"),
        ] {
            let p = problems(&ev(json));
            assert!(p.iter().any(|x| x.contains(want)), "{json}: {p:?}");
        }
    }
}
