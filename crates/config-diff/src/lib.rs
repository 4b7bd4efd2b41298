//! config-diff: staging and production configuration must not diverge
//! without a signed exception (runbook §7), and the applied config hashes
//! must match what the release recorded.
//!
//! [`evaluate`] is a pure function of the parsed sources, the exceptions and
//! the recorded hashes; [`run`] reads those at the edge and hands the report
//! to the core.

pub mod canonical;
pub mod diff;
pub mod exceptions;
pub mod glob;
pub mod policy;
pub mod sources;
pub mod yaml;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use clap::Parser;
use release_gate_core::cli::CommonArgs;
use release_gate_core::context::Context;
use release_gate_core::hashes::Hashes;
use release_gate_core::paths::Root;
use release_gate_core::report::{Annotation, Check, Level, Report, Section, Status, Verdict, data};
use release_gate_core::{Run, render};

use crate::diff::{Difference, Kind};
use crate::exceptions::Judged;
use crate::glob::Pattern;
pub use crate::policy::{ConfigDiffPolicy, ExceptionPolicy, Expected, Manifest, Specs};

/// Compare staging and production configuration semantically; refuse any
/// divergence not declared as expected or covered by a signed, unexpired
/// exception; check the canonical hashes of the applied configuration.
#[derive(Debug, Parser)]
#[command(name = "config-diff", version, max_term_width = 100, after_help = release_gate_core::cli::after_help(&[("staging vs production for a release, from its config manifest", "config-diff --release 2.4.0"), ("two directories, no manifest", "config-diff --release 2.4.0 --staging configs/staging --production configs/production")]))]
pub struct Args {
    /// Config manifest [default: from the policy, configs/releases/<release>.yaml].
    #[arg(long, env = "RELEASE_GATE_MANIFEST", value_name = "PATH")]
    pub manifest: Option<PathBuf>,

    /// Staging sources (file, directory or glob) instead of the manifest's.
    #[arg(long, value_name = "PATH", requires = "production")]
    pub staging: Vec<String>,

    /// Production sources (file, directory or glob) instead of the manifest's.
    #[arg(long, value_name = "PATH", requires = "staging")]
    pub production: Vec<String>,

    /// Flags every gate shares (listed after the gate's own).
    #[command(flatten)]
    pub common: CommonArgs,
}

impl Args {
    /// A local run's flags (`release-gate run`): the release's manifest, nothing from the environment.
    pub fn local(common: CommonArgs) -> Self {
        Self { common, manifest: None, staging: Vec::new(), production: Vec::new() }
    }
}

impl release_gate_core::gate::Gate for Args {
    const NAME: &'static str = "config-diff";

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn run(self, ctx: Context) -> anyhow::Result<Verdict> {
        run(self, ctx)
    }
}

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
pub fn hashes(staging: &Side, production: &Side) -> anyhow::Result<Hashes> {
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
                canonical::write(&mut w, d).map_err(|e| anyhow::anyhow!("{repo_path}:{}", e))?;
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
            let s = s.replace('\n', "⏎");
            if s.chars().count() > 80 { format!("{}…", s.chars().take(79).collect::<String>()) } else { s }
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
pub fn evaluate(input: &Inputs, report: &mut Report) -> anyhow::Result<Vec<(Difference, Standing)>> {
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
    for d in diffs {
        let id = d.id();
        if input.expected.iter().any(|e| e.path.matches(&id) || e.path.matches(&d.path)) {
            judged.push((d, Standing::Expected));
            continue;
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

/// The release's config manifest (unless `--staging`/`--production` name the
/// sides) and both sides, parsed, from the checkout.
pub fn read_sides(
    root: &Root,
    policy: &ConfigDiffPolicy,
    release: &str,
    manifest: Option<PathBuf>,
    staging: &[String],
    production: &[String],
) -> anyhow::Result<(Option<Manifest>, Option<String>, Side, Side)> {
    let manifest_path = manifest.unwrap_or_else(|| PathBuf::from(policy.manifest.replace("{release}", release)));
    let (manifest, manifest_shown) = if staging.is_empty() {
        let shown = manifest_path.display().to_string();
        let text = match root.read_text(&manifest_path, "config manifest") {
            Ok(t) => t,
            Err(e) if e.is_not_found() => anyhow::bail!("{e}; write it (see docs/config-diff.md) or pass --staging and --production"),
            Err(e) => return Err(e.into()),
        };
        let m: Manifest = release_gate_core::policy::parse_yaml(&text, &manifest_path)?;
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
        let staging = scope.spawn(|| sources::load(root, &staging_specs, budget));
        let production = sources::load(root, &production_specs, budget);
        (staging.join().map_err(|_| anyhow::anyhow!("the staging parser panicked")), production)
    });
    let (staging, production) = (staging??, production?);
    let (staging, production) = sources::pair_single_files(staging, production);

    Ok((manifest, manifest_shown, staging, production))
}

/// The canonical hashes of the configuration the release applies (its
/// manifest's sides, as read now): what the decision log records and a
/// deploy compares.
pub fn applied_hashes(root: &Root, policy: &ConfigDiffPolicy, release: &str) -> anyhow::Result<Hashes> {
    let (_, _, staging, production) = read_sides(root, policy, release, None, &[], &[])?;
    hashes(&staging, &production)
}

/// Reads the manifest, sources, exceptions and recorded hashes, evaluates
/// the rules and publishes the report.
pub fn run(args: Args, ctx: Context) -> anyhow::Result<Verdict> {
    let run = Run::<ConfigDiffPolicy>::start("config-diff", args.common, ctx)?;
    let now = run.now;
    let policy = &run.policy.section;
    let root = &run.root;
    let (manifest, manifest_shown, staging, production) =
        read_sides(root, policy, &run.release, args.manifest.clone(), &args.staging, &args.production)?;

    let mut list_keys: Vec<(Pattern, String)> = Vec::new();
    for (p, k) in policy.list_keys.iter().chain(manifest.iter().flat_map(|m| m.list_keys.iter())) {
        let pattern = Pattern::new(p).map_err(|e| anyhow::anyhow!("list-keys pattern {p:?}: {e}"))?;
        list_keys.push((pattern, k.clone()));
    }
    let options = diff::Options {
        list_keys,
        secret_words: policy.secret_words.iter().map(|w| w.to_lowercase()).collect(),
        identity_key: manifest.as_ref().and_then(|m| m.identity_key.clone()),
        ..diff::Options::default()
    };
    let mut expected = policy.expected.clone();
    expected.extend(manifest.iter().flat_map(|m| m.expected.iter().cloned()));

    let author = run.ctx.pull_request.as_ref().map(|pr| pr.user.login.clone());
    let exceptions = exceptions::load(root, &policy.exceptions.dir, &policy.exceptions, &run.release, author.as_deref(), now)?;

    let mut recorded = Vec::new();
    if let (Some(m), Some(shown)) = (&manifest, &manifest_shown)
        && !m.hashes.is_empty()
    {
        recorded.push((shown.clone(), m.hashes.clone().into_iter().collect()));
    }
    // The decision log's recorded hashes: a log that cannot be read, or whose
    // block was edited, fails here; it never reads as "nothing recorded".
    let log = PathBuf::from(policy.decision_log.replace("{release}", &run.release));
    if let Some(text) = root.read_text_if_present(&log, "decision log (config-diff.decision-log)")? {
        match release_gate_core::hashes::parse(&text) {
            Ok(Some(h)) => recorded.push((log.display().to_string(), h)),
            Ok(None) => {}
            Err((line, message)) => return Err(release_gate_core::error::Located::new(log.display().to_string(), line, message).into()),
        }
    }
    let blob_url = run.blob_url();
    let prefix = run.root.prefix().to_owned();
    let inputs = Inputs { staging, production, options, expected, exceptions, recorded, blob_url, prefix };
    let mut report = run.new_report();
    let judged = evaluate(&inputs, &mut report)?;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    run.finish_with(report, Some(human_diff(&judged, color)))
}
