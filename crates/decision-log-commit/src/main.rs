//! `decision-log-commit`: the shared edge runs the gate and maps the outcome to the
//! documented exit code (0 pass/warn, 1 refused, 2 invalid input, 3 unreachable).

fn main() -> std::process::ExitCode {
    release_gate_core::gate::main::<decision_log_commit::Args>()
}
