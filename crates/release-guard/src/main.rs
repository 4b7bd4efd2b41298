//! `release-guard`: see the library's docs.

use std::process::ExitCode;

fn main() -> ExitCode {
    release_gate_core::gate::main::<release_guard::Args>()
}
