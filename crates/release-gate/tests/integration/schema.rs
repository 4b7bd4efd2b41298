//! The policy file's JSON Schema (`docs/release-gate.schema.json`, what
//! editors with the YAML language server load through the
//! `# yaml-language-server: $schema=` line `release-gate init` writes): it is
//! generated from the gates' own policy types, accepts the bundled example
//! and the init template, and refuses what the gates refuse.

#![allow(clippy::unwrap_used)]

use std::path::Path;

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(&release_gate::check_policy::schema()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn yaml(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).unwrap()
}

fn errors(v: &jsonschema::Validator, text: &str) -> Vec<String> {
    v.iter_errors(&yaml(text)).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let committed = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/release-gate.schema.json")).unwrap();
    assert_eq!(
        committed,
        release_gate::check_policy::schema(),
        "regenerate it: release-gate check-policy --schema > docs/release-gate.schema.json"
    );
}

#[test]
fn the_example_policy_and_the_init_template_are_valid() {
    let v = validator();
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tradepulse/.github/release-gate.yml")).unwrap();
    assert_eq!(errors(&v, &example), Vec::<String>::new());
    assert_eq!(errors(&v, release_gate::init::POLICY), Vec::<String>::new());
    assert!(release_gate::init::POLICY.starts_with("# yaml-language-server: $schema="), "init points editors at the schema");
}

#[test]
fn what_the_gates_refuse_the_schema_refuses() {
    let v = validator();
    for (bad, why) in [
        ("freeze-chek: {}\n", "a misspelt section"),
        ("freeze-check:\n  buffr: 90m\n", "an unknown key"),
        ("freeze-check:\n  windows: [{name: w, days: [someday], start: \"13:00\", end: \"15:00\"}]\n", "a day that is not one"),
        ("freeze-check:\n  windows: [{name: w, days: [tue], start: \"25:00\", end: \"15:00\"}]\n", "a time past 24:00"),
        ("smoke-gate:\n  max-failures: many\n", "a number that is not one"),
        ("decision-log-commit:\n  checklist:\n    risk-controls: [{fil: x}]\n", "an evidence key that is not one"),
        ("reporting:\n  comment-layout: everywhere\n", "a layout that is not one"),
    ] {
        assert!(!errors(&v, bad).is_empty(), "the schema accepts {why}: {bad}");
        // And the gates refuse it too: the schema is not stricter or looser by accident.
        assert!(release_gate::check_policy::effective(bad, Path::new("p.yml")).is_err(), "the gates accept {why}: {bad}");
    }
}
