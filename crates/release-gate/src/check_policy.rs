//! `release-gate check-policy`: the policy read by the same code the gates
//! use, every section's errors at once, and the effective policy (defaults
//! filled in) printed as YAML; `--schema` prints the JSON Schema of the
//! policy file, generated from the same types (`docs/release-gate.schema.json`
//! is that output, checked in the tests).

use std::path::Path;

use release_gate_core::policy::{self, Evaluation, GateSection, Reporting};
use schemars::JsonSchema;
use serde::Serialize;

use crate::RunSection;
use crate::deploy::DeployPolicy;

/// The whole policy file: one optional section per gate. Its field names
/// are [`policy::SECTIONS`] (a test keeps them equal).
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[schemars(
    title = "release-gate policy",
    description = "The policy file .github/release-gate.yml: one section per gate of the release validation runbook. Reference: docs/policy.md."
)]
pub struct PolicyDocument {
    /// Settings every gate shares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporting: Option<Reporting>,
    /// How gates may be asked to evaluate, and whose evidence counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
    /// Runbook §3: release windows, freezes, blackouts, buffer, emergency change, release train.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeze_check: Option<freeze_check::policy::FreezePolicy>,
    /// Runbook §7: staging vs production configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_diff: Option<config_diff::ConfigDiffPolicy>,
    /// Runbook §1: artifact integrity and data protection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_verify: Option<artifact_verify::ArtifactPolicy>,
    /// Runbook §4 and §6: smoke, fast suite, canary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smoke_gate: Option<smoke_gate::SmokePolicy>,
    /// Runbook §1 and §8: the checklist's evidence and the decision log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_log_commit: Option<decision_log_commit::LogPolicy>,
    /// Runbook §4.3, §5, §6: the post-release guard, incidents, rollback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_guard: Option<release_guard::policy::GuardPolicy>,
    /// The deploy gate (`release-gate deploy-check`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeployPolicy>,
    /// What `release-gate run` evaluates by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunSection>,
}

/// The JSON Schema of the policy file, pretty-printed, ending in a new line.
pub fn schema() -> String {
    let schema = schemars::schema_for!(PolicyDocument);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Every section as its gate reads it, defaults filled in; or every error
/// found (one per section that does not read), each naming file:line.
pub fn effective(text: &str, shown: &Path) -> Result<PolicyDocument, Vec<String>> {
    let mut errors = Vec::new();
    let mut doc = PolicyDocument::default();
    fn read<S: GateSection>(text: &str, shown: &Path, errors: &mut Vec<String>) -> Option<policy::PolicyFile<S>> {
        match policy::from_text::<S>(Some(text), shown) {
            Ok(f) => Some(f),
            Err(e) => {
                let e = e.to_string();
                if !errors.contains(&e) {
                    errors.push(e);
                }
                None
            }
        }
    }
    if let Some(f) = read::<freeze_check::policy::FreezePolicy>(text, shown, &mut errors) {
        doc.reporting = Some(f.reporting);
        doc.evaluation = Some(f.evaluation);
        doc.freeze_check = Some(f.section);
    }
    doc.config_diff = read::<config_diff::ConfigDiffPolicy>(text, shown, &mut errors).map(|f| f.section);
    doc.artifact_verify = read::<artifact_verify::ArtifactPolicy>(text, shown, &mut errors).map(|f| f.section);
    doc.smoke_gate = read::<smoke_gate::SmokePolicy>(text, shown, &mut errors).map(|f| f.section);
    doc.decision_log_commit = read::<decision_log_commit::LogPolicy>(text, shown, &mut errors).map(|f| f.section);
    doc.release_guard = read::<release_guard::policy::GuardPolicy>(text, shown, &mut errors).map(|f| f.section);
    doc.deploy = read::<DeployPolicy>(text, shown, &mut errors).map(|f| f.section);
    doc.run = read::<RunSection>(text, shown, &mut errors).map(|f| f.section);
    if errors.is_empty() { Ok(doc) } else { Err(errors) }
}

/// What a policy that reads still gets wrong: evidence bindings that can
/// never tick their item (errors), and settings beyond the runbook's
/// minimums, which only a signed deviation allows (warnings).
#[derive(Debug, Default)]
pub struct Findings {
    /// Bindings that cannot be read as written: `decision-log-commit.checklist.<item>[n]: why`.
    pub errors: Vec<String>,
    /// Floors the policy goes beyond: each needs a signed deviation at run time.
    pub beyond_floors: Vec<String>,
}

/// The [`Findings`] of an effective policy.
pub fn findings(doc: &PolicyDocument) -> Findings {
    let mut f = Findings::default();
    if let Some(log) = &doc.decision_log_commit {
        for (item, list) in &log.checklist {
            if list.is_empty() {
                f.errors.push(format!("decision-log-commit.checklist.{item}: no evidence bound: the item can never be checked"));
            }
            for (n, ev) in list.iter().enumerate() {
                for why in decision_log_commit::evidence::problems(ev) {
                    f.errors.push(format!("decision-log-commit.checklist.{item}[{n}]: {why}"));
                }
            }
        }
    }
    let mut floors = Vec::new();
    if let Some(g) = &doc.release_guard {
        floors.extend(release_guard::floors(g));
    }
    if let Some(sg) = &doc.smoke_gate {
        for (stage, st) in &sg.stages {
            floors.extend(smoke_gate::floors(sg, stage, st.metrics.as_ref()));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for fl in floors.into_iter().filter(|fl| !fl.within) {
        if seen.insert(fl.setting.clone()) {
            f.beyond_floors.push(format!(
                "{} is {}, beyond {}: the gate refuses it unless a signed deviation in evaluation.deviations.dir allows exactly this value",
                fl.setting, fl.value, fl.runbook
            ));
        }
    }
    f
}

/// The effective policy as YAML.
pub fn to_yaml(doc: &PolicyDocument) -> String {
    serde_saphyr::to_string(doc).unwrap_or_else(|e| format!("# the effective policy cannot be printed: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documents_sections_are_the_policys_sections() {
        let schema = serde_json::to_value(schemars::schema_for!(PolicyDocument)).expect("schema");
        let mut names: Vec<String> = schema["properties"].as_object().expect("properties").keys().cloned().collect();
        let mut known: Vec<String> = policy::SECTIONS.iter().map(|s| (*s).to_owned()).collect();
        names.sort();
        known.sort();
        assert_eq!(names, known);
        assert_eq!(schema["additionalProperties"], false, "an unknown section is an error in editors too");
    }

    #[test]
    fn every_sections_errors_are_reported_together() {
        let text = "freeze-check:\n  buffer: soon\nsmoke-gate:\n  tolerance: lots\n";
        let errors = effective(text, Path::new(".github/release-gate.yml")).expect_err("two bad sections");
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(errors[0].contains(".github/release-gate.yml:2"), "{errors:#?}");
        assert!(errors[1].contains(".github/release-gate.yml:4"), "{errors:#?}");
    }

    #[test]
    fn bindings_that_can_never_tick_are_errors_and_loosened_floors_are_named() {
        let text = "decision-log-commit:\n  checklist:\n    risk-controls: [{file: k.json}]\n    pact: []\nrelease-guard:\n  tolerance: 20\n  guard: 60m\n";
        let doc = effective(text, Path::new(".github/release-gate.yml")).expect("reads");
        let f = findings(&doc);
        assert!(f.errors.iter().any(|e| e.starts_with("decision-log-commit.checklist.risk-controls[0]: a file needs a `kind`")), "{f:#?}");
        assert!(f.errors.iter().any(|e| e.contains("checklist.pact: no evidence bound")), "{f:#?}");
        assert!(f.beyond_floors.iter().any(|w| w.starts_with("release-guard.tolerance is 20, beyond")), "{f:#?}");
        let clean = findings(&effective(crate::init::POLICY, Path::new("p.yml")).expect("template"));
        assert!(clean.errors.is_empty() && clean.beyond_floors.is_empty(), "init's policy is clean: {clean:#?}");
    }

    #[test]
    fn the_effective_policy_reads_back_the_same() {
        let text = crate::init::POLICY;
        let path = Path::new(".github/release-gate.yml");
        let doc = effective(text, path).expect("template reads");
        let yaml = to_yaml(&doc);
        let again = effective(&yaml, path).unwrap_or_else(|e| panic!("{e:#?}\n{yaml}"));
        assert_eq!(to_yaml(&again), yaml, "printing the effective policy and reading it back is stable");
        // Defaults are filled in: the template does not set these.
        assert!(yaml.contains("allow-dry-run: false"), "{yaml}");
        assert!(yaml.contains("max-failures: 2"), "{yaml}");
    }
}
