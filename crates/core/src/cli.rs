//! Flags every gate shares. Each has an environment fallback so a composite
//! action sets them through `env:`; the token's fallback is hidden from help.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Deserialize;

/// When the sticky PR comment is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CommentMode {
    /// Create or update the comment on every run.
    #[default]
    Always,
    /// Create it only when the gate refuses; an existing comment is still
    /// updated so that it never shows a stale refusal.
    OnFailure,
    /// Never comment.
    Off,
}

/// How the report is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// A short table for people.
    #[default]
    Human,
    /// The JSON report.
    Json,
    /// The Markdown shown on GitHub.
    Markdown,
    /// Nothing on stdout (the report file and the other surfaces only).
    Quiet,
    /// SARIF 2.1.0 of the findings with a file and line, for code scanning.
    Sarif,
}

/// The end of every gate's `--help`: an example and the exit codes.
pub fn after_help(examples: &[(&str, &str)]) -> String {
    let mut s = String::from("Examples:\n");
    for (what, cmd) in examples {
        s.push_str(&format!("  # {what}\n  {cmd}\n"));
    }
    s.push_str(
        "\nExit codes:\n  0  pass (or warn)\n  1  the gate refuses: the evidence says no\n  2  bad input: a file, flag or policy that cannot be read as expected (file:line says which)\n  3  a service (GitHub, S3, Prometheus, PagerDuty) stayed unreachable after retries\n\nDocs: https://github.com/tradepulse/release-gate/tree/main/docs",
    );
    s
}

/// Flags shared by every gate.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Shared options (every gate)")]
pub struct CommonArgs {
    /// Policy file; built-in defaults encode the runbook when the default file is absent.
    #[arg(long, env = "RELEASE_GATE_POLICY", value_name = "PATH")]
    pub policy: Option<PathBuf>,

    /// Release id (letters, digits, '.', '_', '-') [default: from the event:
    /// the `release/<id>` branch, the `v<id>` tag, the deployment's ref].
    #[arg(long, env = "RELEASE_GATE_RELEASE", value_name = "ID")]
    pub release: Option<String>,

    /// Directory for the JSON report [default: reports/release-gate/<release>/].
    #[arg(long, env = "RELEASE_GATE_REPORT_DIR", value_name = "DIR")]
    pub report_dir: Option<PathBuf>,

    /// Event payload to read the pull request from [default: $GITHUB_EVENT_PATH].
    #[arg(long, value_name = "PATH")]
    pub event: Option<PathBuf>,

    /// Repository root; policy and report paths are relative to it.
    #[arg(long, env = "RELEASE_GATE_ROOT", value_name = "DIR", default_value = ".")]
    pub root: PathBuf,

    /// Evaluate this pull request, read from the API (for `workflow_run` jobs
    /// that publish results for fork PRs); its head must be the commit the
    /// triggering run was for.
    #[arg(long, env = "RELEASE_GATE_PULL_REQUEST", value_name = "NUMBER")]
    pub pull_request: Option<u64>,

    /// GitHub token; without one the gate runs offline and only prints its report.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true, hide_env = true, value_name = "TOKEN")]
    pub token: Option<String>,

    /// When to write the sticky PR comment.
    #[arg(long, env = "RELEASE_GATE_COMMENT_MODE", value_enum)]
    pub comment_mode: Option<CommentMode>,

    /// Check run name [default: release-gate/<gate>].
    #[arg(long, env = "RELEASE_GATE_CHECK_NAME", value_name = "NAME")]
    pub check_name: Option<String>,

    /// Evaluate as if at this instant (RFC 3339, e.g. 2026-12-01T13:30:00Z), a
    /// dry run; in GitHub Actions only when the policy allows dry runs.
    #[arg(long, env = "RELEASE_GATE_NOW", value_name = "RFC3339")]
    pub now: Option<String>,

    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

impl CommonArgs {
    /// The flags of a local run: this root, release and instant, nothing
    /// from the environment, nothing printed.
    pub fn local(root: PathBuf, release: &str, now: Option<String>) -> Self {
        Self {
            policy: None,
            release: Some(release.to_owned()),
            report_dir: None,
            event: None,
            root,
            pull_request: None,
            token: None,
            comment_mode: None,
            check_name: None,
            now,
            format: Format::Quiet,
        }
    }
}
