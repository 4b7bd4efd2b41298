//! `smoke-gate`: parses flags, runs the gate, maps the outcome to the
//! documented exit code (0 promote, 1 hold or rollback, 2 invalid input, 3 unreachable).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = smoke_gate::Args::parse();
    release_gate_core::exit::finish(smoke_gate::run(args))
}
