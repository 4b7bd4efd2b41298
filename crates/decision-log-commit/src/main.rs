//! `decision-log-commit`: parses flags, runs the gate, maps the outcome to the
//! documented exit code (0 go, 1 no-go, 2 invalid input, 3 unreachable).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = decision_log_commit::Args::parse();
    release_gate_core::exit::finish(decision_log_commit::run(args))
}
