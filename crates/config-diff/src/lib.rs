//! config-diff: staging and production configuration must not diverge
//! without a signed exception (runbook §7), and the applied config hashes
//! must match what the release recorded.
//!
//! [`judge::evaluate`] is a pure function of the parsed sources, the
//! exceptions and the recorded hashes; [`sources`] and [`exceptions`] read
//! those inside the repository, and [`run`] wires them together and hands
//! the report to the core.

pub mod canonical;
pub mod diff;
pub mod exceptions;
pub mod glob;
pub mod judge;
pub mod policy;
pub mod sources;
pub mod yaml;

use std::io::IsTerminal as _;
use std::path::PathBuf;

use clap::Parser;
use release_gate_core::Run;
use release_gate_core::cli::CommonArgs;
use release_gate_core::context::Context;
use release_gate_core::report::Verdict;

use crate::glob::Pattern;
pub use crate::judge::{Inputs, Side, Standing, evaluate, hashes, human_diff};
pub use crate::policy::{ConfigDiffPolicy, ExceptionPolicy, Expected, Manifest, Specs};
pub use crate::sources::{applied_hashes, read_sides};

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
    refuse_waivers(&run, manifest.as_ref(), manifest_shown.as_deref())?;

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
    let protected = policy.protected.clone();
    let inputs = Inputs { staging, production, options, expected, protected, exceptions, recorded, blob_url, prefix };
    let mut report = run.new_report();
    let judged = evaluate(&inputs, &mut report)?;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    run.finish_with(report, Some(human_diff(&judged, color)))
}

/// Refuses, as bad input at its line, an `expected:` entry that waives the
/// whole tree (or a whole file) or names a protected path: those need a
/// signed exception. Entries in the policy and in the release's manifest alike.
fn refuse_waivers(run: &Run<ConfigDiffPolicy>, manifest: Option<&Manifest>, manifest_shown: Option<&str>) -> anyhow::Result<()> {
    let protected = &run.policy.section.protected;
    let policy_shown = run.policy.from_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let mut lists: Vec<(&[Expected], String, Option<String>)> =
        vec![(&run.policy.section.expected, policy_shown, run.policy_text().map(str::to_owned))];
    if let (Some(m), Some(shown)) = (manifest, manifest_shown) {
        lists.push((&m.expected, shown.to_owned(), run.root.read_text(shown, "config manifest").ok()));
    }
    for (list, shown, text) in lists {
        for e in list {
            if let Some(why) = protected.refuses(e) {
                let pattern = e.path.to_string();
                let line = text.as_deref().and_then(|t| t.lines().position(|l| l.contains(&pattern))).map_or(1, |i| i as u64 + 1);
                return Err(release_gate_core::error::Located::new(shown, line, format!("expected: {why}")).into());
            }
        }
    }
    Ok(())
}
