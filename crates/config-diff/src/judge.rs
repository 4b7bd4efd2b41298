//! The rules of §7, pure: the sides' differences judged against the
//! expected divergences, the signed exceptions and the recorded hashes,
//! into the report; the canonical hashes of both sides; the terminal diff.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use release_gate_core::error::Located;
use release_gate_core::hashes::Hashes;
use release_gate_core::render;
use release_gate_core::report::{Annotation, Check, Level, Report, Section, Status, Verdict, data};

use crate::diff::{self, Difference, Kind};
use crate::exceptions::Judged;
use crate::policy::Expected;
use crate::{canonical, yaml};

/// A side's parsed files.
#[derive(Debug, Clone, Default)]
pub struct Side {
    /// Per file (name relative to the source): repository path and documents.
    pub files: BTreeMap<String, (String, Vec<yaml::Node>)>,
}

/// Everything the rules look at.
pub struct Inputs {
    /// Staging.
    pub staging: Side,
    /// Production.
    pub production: Side,
    /// Diff options.
    pub options: diff::Options,
    /// Expected divergences (manifest and policy).
    pub expected: Vec<Expected>,
    /// Paths `expected` never waives.
    pub protected: crate::policy::Protected,
    /// Exceptions, already judged for signature, signer and dates.
    pub exceptions: Vec<Judged>,
    /// Recorded hashes to compare, with where they were recorded.
    pub recorded: Vec<(String, Hashes)>,
    /// Link base for lines: `{server}/{owner}/{repo}/blob/{sha}/`.
    pub blob_url: Option<String>,
    /// The root's directory inside the repository (empty at the top):
    /// annotations and links name files from the repository's top, as
    /// every gate's do.
    pub prefix: std::path::PathBuf,
}

impl Inputs {
    /// A root-relative file as the repository names it.
    fn in_repository(&self, shown: &str) -> String {
        self.prefix.join(shown).to_string_lossy().replace('\\', "/")
    }
}

/// Hashes of both sides: per file and aggregated.
pub fn hashes(staging: &Side, production: &Side) -> Result<Hashes, Located> {
    let mut out = Hashes::new();
    for (name, side) in [("staging", staging), ("production", production)] {
        let mut agg = String::from("{");
        for (i, (file, (repo_path, docs))) in side.files.iter().enumerate() {
            let mut w = canonical::HashWriter::new();
            let _ = w.write_char('[');
            for (j, d) in docs.iter().enumerate() {
                if j > 0 {
                    let _ = w.write_char(',');
                }
                canonical::write(&mut w, d).map_err(|e| e.at(repo_path))?;
            }
            let _ = w.write_char(']');
            let h = w.finish();
            if i > 0 {
                agg.push(',');
            }
            let _ = write!(agg, "{}:{}", serde_json::Value::String(file.clone()), serde_json::Value::String(h.clone()));
            out.insert(format!("{name}:{file}"), h);
        }
        agg.push('}');
        out.insert(name.to_owned(), canonical::hash_text(&agg));
    }
    Ok(out)
}

fn short(v: &Option<serde_json::Value>) -> String {
    match v {
        None => "—".into(),
        Some(v) => {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            render::ellipsize(&s.replace('\n', "⏎"), 80)
        }
    }
}

/// How a difference was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Declared expected.
    Expected,
    /// Covered by a valid exception (index into the exceptions).
    Excepted(usize),
    /// Not allowed.
    Divergent,
}

/// Applies every rule and fills the report.
pub fn evaluate(input: &Inputs, report: &mut Report) -> Result<Vec<(Difference, Standing)>, Located> {
    let mut diffs = Vec::new();
    let names: std::collections::BTreeSet<&String> = input.staging.files.keys().chain(input.production.files.keys()).collect();
    for name in &names {
        match (input.staging.files.get(*name), input.production.files.get(*name)) {
            (Some((_, a)), Some((_, b))) => diffs.extend(diff::files(name, a, b, &input.options)),
            (Some((_, a)), None) => diffs.extend(diff::files(name, a, &[], &input.options)),
            (None, Some((_, b))) => diffs.extend(diff::files(name, &[], b, &input.options)),
            (None, None) => {}
        }
    }
    let mut judged: Vec<(Difference, Standing)> = Vec::new();
    let mut exception_hits = vec![0usize; input.exceptions.len()];
    let mut exception_mismatch: Vec<Vec<String>> = vec![Vec::new(); input.exceptions.len()];
    let mut protected_expected: Vec<String> = Vec::new();
    for d in diffs {
        let id = d.id();
        if let Some(e) = input.expected.iter().find(|e| e.path.matches(&id) || e.path.matches(&d.path)) {
            match input.protected.covers(&id, &d.path, d.secret) {
                None => {
                    judged.push((d, Standing::Expected));
                    continue;
                }
                Some(why) => protected_expected.push(format!("`{id}` (expected by `{}`) is {why}", e.path)),
            }
        }
        let mut standing = Standing::Divergent;
        for (i, j) in input.exceptions.iter().enumerate() {
            let Ok(ex) = &j.outcome else { continue };
            if !(ex.path.matches(&id) || ex.path.matches(&d.path)) {
                continue;
            }
            if ex.staging_sha256.eq_ignore_ascii_case(&d.staging_sha256) && ex.production_sha256.eq_ignore_ascii_case(&d.production_sha256)
            {
                exception_hits[i] += 1;
                standing = Standing::Excepted(i);
                break;
            }
            let side = if ex.staging_sha256.eq_ignore_ascii_case(&d.staging_sha256) { "production" } else { "staging" };
            exception_mismatch[i].push(format!("{id}: the {side} value changed since it was approved"));
        }
        judged.push((d, standing));
    }
    let count = |s: fn(&Standing) -> bool| judged.iter().filter(|(_, st)| s(st)).count();
    let divergent = count(|s| *s == Standing::Divergent);
    let expected_n = count(|s| *s == Standing::Expected);
    let excepted = count(|s| matches!(s, Standing::Excepted(_)));
    let docs = |s: &Side| s.files.values().map(|(_, d)| d.len()).sum::<usize>();
    report.push(Check::new(
        "sources",
        Status::Pass,
        format!(
            "compared {} staging file(s) ({} documents) with {} production file(s) ({} documents)",
            input.staging.files.len(),
            docs(&input.staging),
            input.production.files.len(),
            docs(&input.production)
        ),
    ));
    report.push(if divergent == 0 {
        Check::new("divergences", Status::Pass, "no divergence beyond the expected and excepted ones")
    } else {
        let first: Vec<String> =
            judged.iter().filter(|(_, s)| *s == Standing::Divergent).take(3).map(|(d, _)| format!("`{}`", d.id())).collect();
        Check::new(
            "divergences",
            Status::Fail,
            format!(
                "{divergent} divergence(s) without a signed exception: {}{}; align the configs or add a signed exception",
                first.join(", "),
                if divergent > 3 { ", …" } else { "" }
            ),
        )
    });
    if !protected_expected.is_empty() {
        let n = protected_expected.len();
        protected_expected.truncate(5);
        report.push(Check::new(
            "protected",
            Status::Fail,
            format!(
                "{n} protected divergence(s) `expected:` cannot waive: {}{}; only a signed exception allows one",
                protected_expected.join("; "),
                if n > 5 { "; …" } else { "" }
            ),
        ));
    }
    report.push(Check::new(
        "expected",
        if expected_n > 0 { Status::Pass } else { Status::Skip },
        format!("{expected_n} expected divergence(s), listed apart"),
    ));
    for (i, j) in input.exceptions.iter().enumerate() {
        let id = format!("exception:{}", j.file);
        match &j.outcome {
            Err(why) => report.push(Check::new(id, Status::Fail, why.clone())),
            Ok(ex) if !exception_mismatch[i].is_empty() && exception_hits[i] == 0 => report.push(Check::new(
                id,
                Status::Fail,
                format!("no longer matches: {}; re-approve with the new values' hashes", exception_mismatch[i].join("; ")),
            )),
            Ok(ex) if exception_hits[i] == 0 => {
                report.push(Check::new(id, Status::Warn, format!("matches no divergence (path `{}`); remove it or fix its path", ex.path)))
            }
            Ok(ex) => report.push(Check::new(
                id,
                Status::Warn,
                format!(
                    "allows {} divergence(s): {} (ticket {}), approved by {} until {}",
                    exception_hits[i], ex.reason, ex.ticket, ex.approver, ex.expires.0
                ),
            )),
        }
    }
    let hashes = hashes(&input.staging, &input.production)?;
    let mut mismatches = Vec::new();
    for (source, recorded) in &input.recorded {
        for (k, want) in recorded {
            match hashes.get(k) {
                Some(have) if have == want => {}
                Some(have) => mismatches.push(format!("{k} is {have} but {source} records {want}")),
                None => mismatches.push(format!("{source} records {k}, which is not among the compared files")),
            }
        }
    }
    report.push(match (input.recorded.is_empty(), mismatches.is_empty()) {
        (true, _) => Check::new("hashes", Status::Skip, "no recorded hashes to compare (manifest `hashes:` or the decision log's block)"),
        (false, true) => Check::new(
            "hashes",
            Status::Pass,
            format!("applied config hashes match {}", input.recorded.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>().join(" and ")),
        ),
        (false, false) => Check::new("hashes", Status::Fail, format!("hash mismatch invalidates the release: {}", mismatches.join("; "))),
    });
    report.output("staging_hash", hashes.get("staging").cloned().unwrap_or_default());
    report.output("production_hash", hashes.get("production").cloned().unwrap_or_default());
    report.output("divergences", divergent.to_string());
    report.output("expected", expected_n.to_string());
    report.output("excepted", excepted.to_string());
    report.title = match (divergent, report.verdict) {
        (0, Verdict::Fail) => "Configuration hashes or exceptions refuse the release".into(),
        (0, _) => format!("Staging and production agree ({expected_n} expected, {excepted} excepted)"),
        (n, _) => format!("{n} configuration divergence(s) without a signed exception"),
    };

    // Annotations on the production (else staging) lines of divergences.
    for (d, st) in &judged {
        if *st != Standing::Divergent {
            continue;
        }
        let (repo_path, line) =
            match (input.production.files.get(&d.file), d.production_line, input.staging.files.get(&d.file), d.staging_line) {
                (Some((p, _)), Some(l), _, _) => (p.clone(), l),
                (_, _, Some((p, _)), Some(l)) => (p.clone(), l),
                _ => continue,
            };
        report.annotations.push(Annotation {
            path: input.in_repository(&repo_path),
            start_line: u64::from(line),
            end_line: u64::from(line),
            level: Level::Failure,
            title: format!("config divergence: {} {}", d.kind.as_str(), d.path),
            message: format!(
                "staging: {}\nproduction: {}\nno signed exception covers `{}`",
                short(&d.staging),
                short(&d.production),
                d.id()
            ),
        });
    }
    let link = |side: &Side, d: &Difference, line: Option<u32>| -> String {
        match (side.files.get(&d.file), line) {
            (Some((p, _)), Some(l)) => render::file_line(input.blob_url.as_deref(), &input.in_repository(p), l),
            _ => "—".into(),
        }
    };
    let table = |standing: fn(&Standing) -> bool| -> String {
        let mut t = render::Table::new(&["path", "change", "staging", "production", "where"]);
        for (d, _) in judged.iter().filter(|(_, s)| standing(s)).take(200) {
            let change = match d.moved {
                Some((i, j)) => format!("moved {i} → {j}"),
                None => d.kind.as_str().to_owned(),
            };
            let at = format!("{} · {}", link(&input.staging, d, d.staging_line), link(&input.production, d, d.production_line));
            t.row([render::code(d.id()), change, short(&d.staging), short(&d.production), at]);
        }
        t.finish()
    };
    if divergent > 0 {
        let mut md = table(|s| *s == Standing::Divergent);
        for (d, _) in judged.iter().filter(|(d, s)| *s == Standing::Divergent && d.text_diff.is_some()).take(10) {
            let _ = write!(md, "\n`{}`:\n```diff\n{}```\n", d.id(), d.text_diff.as_deref().unwrap_or_default());
        }
        report.details.push(Section { title: format!("Divergences ({divergent})"), markdown: md });
    }
    if expected_n > 0 {
        report
            .details
            .push(Section { title: format!("Expected divergences ({expected_n})"), markdown: table(|s| *s == Standing::Expected) });
    }
    if excepted > 0 {
        report.details.push(Section {
            title: format!("Allowed by signed exceptions ({excepted})"),
            markdown: table(|s| matches!(s, Standing::Excepted(_))),
        });
    }
    let mut hash_md = render::Table::new(&["config", "hash"]);
    for (k, v) in &hashes {
        hash_md.row([render::code(k), render::code(v)]);
    }
    report.details.push(Section { title: "Applied config hashes".into(), markdown: hash_md.finish() });
    report.set_data(&data::ConfigDiff {
        hashes,
        differences: judged
            .iter()
            .map(|(d, s)| data::Divergence {
                difference: d.clone(),
                standing: match s {
                    Standing::Expected => data::Standing::Expected,
                    Standing::Excepted(_) => data::Standing::Excepted,
                    Standing::Divergent => data::Standing::Divergent,
                },
                exception: match s {
                    Standing::Excepted(i) => input.exceptions[*i].outcome.as_ref().ok().map(|ex| data::ExceptionUse {
                        file: input.exceptions[*i].file.clone(),
                        approver: ex.approver.clone(),
                        ticket: ex.ticket.clone(),
                        expires: ex.expires.0.to_string(),
                    }),
                    _ => None,
                },
            })
            .collect(),
    });
    Ok(judged)
}

/// A coloured, readable diff for terminals.
pub fn human_diff(judged: &[(Difference, Standing)], color: bool) -> String {
    let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() };
    let mut out = String::new();
    let mut last = String::new();
    for (d, st) in judged {
        let head = format!("{}  {}", d.file, d.document);
        if head != last {
            let _ = writeln!(out, "{}", paint("1", &head));
            last = head;
        }
        let tag = match st {
            Standing::Expected => " (expected)",
            Standing::Excepted(_) => " (signed exception)",
            Standing::Divergent => "",
        };
        let line = match d.kind {
            Kind::Added => paint("32", &format!("  + {}: {}{tag}", d.path, short(&d.production))),
            Kind::Removed => paint("31", &format!("  - {}: {}{tag}", d.path, short(&d.staging))),
            Kind::Changed | Kind::TypeChanged => {
                paint("33", &format!("  ~ {}: {} → {}{tag}", d.path, short(&d.staging), short(&d.production)))
            }
            Kind::Moved => {
                paint("36", &format!("  ↕ {}: moved {} → {}{tag}", d.path, d.moved.map_or(0, |m| m.0), d.moved.map_or(0, |m| m.1)))
            }
        };
        let _ = writeln!(out, "{line}");
        if let Some(t) = &d.text_diff {
            for l in t.lines().skip(2) {
                let colored = match l.chars().next() {
                    Some('+') => paint("32", l),
                    Some('-') => paint("31", l),
                    _ => l.to_owned(),
                };
                let _ = writeln!(out, "      {colored}");
            }
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Budget, parse};

    #[test]
    fn a_value_without_a_canonical_form_is_refused_at_its_line_never_hashed() {
        let docs = parse("limits:\n  max: 10\n  ratio: .nan\n", "configs/production/risk.yaml", Budget::default()).expect("parse");
        let mut production = Side::default();
        production.files.insert("risk.yaml".into(), ("configs/production/risk.yaml".into(), docs));
        let e = hashes(&Side::default(), &production).expect_err("NaN has no JSON form");
        assert_eq!((e.file.as_str(), e.line), ("configs/production/risk.yaml", 3));
        assert!(e.message.contains("no JSON form"), "{e}");
    }
}
