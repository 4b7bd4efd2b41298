//! `artifact-verify`: parses flags, runs the gate, maps the outcome to the
//! documented exit code (0 pass/warn, 1 refused, 2 invalid input, 3 unreachable).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = artifact_verify::Args::parse();
    release_gate_core::exit::finish(artifact_verify::run(args))
}
