//! Every gate's `--help`: its own flags first, the shared ones under their
//! own heading, then examples and the exit codes (zizmor's and ripgrep's
//! help are the model).

use clap::CommandFactory;

fn help<T: CommandFactory>() -> String {
    T::command().render_long_help().to_string()
}

#[test]
fn each_gates_help_leads_with_its_own_flags_and_ends_with_examples_and_exit_codes() {
    for (gate, text, own) in [
        ("freeze-check", help::<freeze_check::Args>(), None),
        ("config-diff", help::<config_diff::Args>(), Some("--staging")),
        ("artifact-verify", help::<artifact_verify::Args>(), Some("--manifest")),
        ("smoke-gate", help::<smoke_gate::Args>(), Some("--stage")),
        ("decision-log-commit", help::<decision_log_commit::Args>(), Some("--via")),
        ("release-guard", help::<release_guard::Args>(), Some("--deployed-at")),
    ] {
        let shared = text.find("Shared options (every gate):").unwrap_or_else(|| panic!("{gate}: no shared heading\n{text}"));
        let policy = text.find("--policy <PATH>").unwrap_or_else(|| panic!("{gate}: no --policy\n{text}"));
        assert!(policy > shared, "{gate}: --policy is a shared flag\n{text}");
        if let Some(flag) = own {
            let at = text.find(flag).unwrap_or_else(|| panic!("{gate}: no {flag}\n{text}"));
            assert!(at < shared, "{gate}: its own {flag} comes before the shared flags\n{text}");
        }
        let examples = text.find("Examples:").unwrap_or_else(|| panic!("{gate}: no examples\n{text}"));
        assert!(text[examples..].contains(&format!("  {gate} --release")), "{gate}: an example runs the gate\n{text}");
        let codes = text.find("Exit codes:").unwrap_or_else(|| panic!("{gate}: no exit codes\n{text}"));
        for code in ["  0  ", "  1  ", "  2  ", "  3  "] {
            assert!(text[codes..].contains(code), "{gate}: exit code {code:?} missing\n{text}");
        }
    }
}
