//! The `artifact-verify:` section of the policy and its defaults (runbook §1).

use std::path::PathBuf;

use serde::Deserialize;

use crate::manifest::Kind;

/// Which kinds need which evidence.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Require {
    /// Kinds that need an SBOM.
    pub sbom: Vec<Kind>,
    /// Kinds that need provenance.
    pub provenance: Vec<Kind>,
    /// Kinds that need a signature.
    pub signature: Vec<Kind>,
}

impl Default for Require {
    fn default() -> Self {
        // Runbook §1: images, wheels and templates are signed, with SBOM and provenance.
        let built = vec![Kind::Image, Kind::Wheel, Kind::Template];
        Self { sbom: built.clone(), provenance: built.clone(), signature: built }
    }
}

/// A named public key file.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Name shown in reports.
    pub name: String,
    /// PEM public key, relative to the repository root.
    pub path: PathBuf,
}

/// Sigstore keyless verification.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SigstorePolicy {
    /// Pinned `trusted_root.json`.
    pub trusted_root: PathBuf,
    /// Required certificate identity (SAN), e.g. the release workflow's URL.
    #[serde(default)]
    pub identity: Option<String>,
    /// Required OIDC issuer.
    #[serde(default)]
    pub issuer: Option<String>,
}

/// Provenance requirements.
#[derive(Debug, Clone, Deserialize, PartialEq, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ProvenancePolicy {
    /// Allowed builder ids (`*` at the end matches a prefix).
    pub builders: Vec<String>,
    /// Source repository, e.g. `github.com/tradepulse/platform`.
    pub source_repository: Option<String>,
    /// Public keys for DSSE envelopes and cosign blob signatures.
    pub keys: Vec<KeyFile>,
    /// Accept plain (unsigned) statements.
    pub allow_unsigned: bool,
    /// Keyless Sigstore bundles.
    pub sigstore: Option<SigstorePolicy>,
}

/// Snapshot retention.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct RetentionPolicy {
    /// Minimum `RetainUntilDate − LastModified`, in days.
    pub min_days: u32,
    /// Accept GOVERNANCE mode (which holders of s3:BypassGovernanceRetention can shorten).
    pub allow_governance: bool,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self { min_days: 30, allow_governance: false }
    }
}

/// S3 settings in the policy.
#[derive(Debug, Clone, Deserialize, PartialEq, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct S3Policy {
    /// Endpoint URL.
    pub endpoint: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Path-style addressing.
    pub path_style: bool,
}

/// The `artifact-verify:` policy section.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ArtifactPolicy {
    /// Manifest path; `{release}` is replaced by the release id.
    pub manifest: String,
    /// OpenSSH allowed-signers file for the manifest and SSH artifact signatures.
    pub allowed_signers: Option<PathBuf>,
    /// SSH signature namespace of the manifest.
    pub manifest_namespace: String,
    /// SSH signature namespace of artifacts.
    pub artifact_namespace: String,
    /// Unlisted files in the manifest's directories fail (else warn).
    pub strict: bool,
    /// Evidence each kind needs.
    pub require: Require,
    /// Provenance.
    pub provenance: ProvenancePolicy,
    /// Snapshot retention.
    pub retention: RetentionPolicy,
    /// S3.
    pub s3: S3Policy,
    /// Largest SBOM, provenance or signature file read, in bytes.
    pub max_evidence_bytes: u64,
}

impl Default for ArtifactPolicy {
    fn default() -> Self {
        Self {
            manifest: "releases/{release}/artifacts.yaml".into(),
            allowed_signers: None,
            manifest_namespace: "release-gate-manifest".into(),
            artifact_namespace: "release-gate-artifact".into(),
            strict: true,
            require: Require::default(),
            provenance: ProvenancePolicy::default(),
            retention: RetentionPolicy::default(),
            s3: S3Policy::default(),
            max_evidence_bytes: 64 << 20,
        }
    }
}

impl release_gate_core::policy::GateSection for ArtifactPolicy {
    const NAME: &'static str = "artifact-verify";
}
