//! Evidence: what a rule may rest on, in one model. A piece of evidence is
//! read for what it **says** (passed, failed, or cannot tell), and counts
//! only when it is this release's, on this commit, from where it claims to
//! come from. Readers of each kind turn bytes into a [`Reading`]
//! (`decision_log_commit::evidence`); rules only ever see readings.
//!
//! - [`check_runs`]: which check runs count (trusted app, the check suite's
//!   workflow run, this commit, this release) and the newest of each name.
//! - [`Reading`]: what one piece of evidence says, where it was read and how
//!   old it is known to be.

pub mod check_runs;

pub use check_runs::{CheckRuns, Counted, Judged, Trust, by_name};

/// What a piece of evidence says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Says {
    /// It records success (what it says, in one line).
    Passed(String),
    /// It records failure, or is not there (why).
    Failed(String),
    /// It cannot tell success from failure (why): never counts.
    CannotTell(String),
}

impl Says {
    /// Whether it says success.
    pub fn passed(&self) -> bool {
        matches!(self, Says::Passed(_))
    }

    /// What it says, in one line.
    pub fn text(&self) -> &str {
        match self {
            Says::Passed(t) | Says::Failed(t) | Says::CannotTell(t) => t,
        }
    }
}

/// Where an instant a piece of evidence is dated by comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeFrom {
    /// A timestamp the evidence itself records.
    Own,
    /// The last commit that changed the file.
    Commit,
    /// The file's modification time (a fallback: it says when the file was
    /// written on this machine, e.g. by the checkout).
    Modified,
}

impl AgeFrom {
    /// How the report says it.
    pub fn as_str(self) -> &'static str {
        match self {
            AgeFrom::Own => "its own timestamp",
            AgeFrom::Commit => "the commit that last changed it",
            AgeFrom::Modified => "the file's modification time",
        }
    }
}

/// One piece of evidence, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// How it is shown (a path in backquotes, a link).
    pub shown: String,
    /// What it says.
    pub says: Says,
    /// When it was made, and how that is known.
    pub at: Option<(jiff::Timestamp, AgeFrom)>,
}
