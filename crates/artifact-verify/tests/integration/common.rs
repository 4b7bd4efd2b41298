//! Test support: a release repository in a temp dir with real keys
//! (`ssh-keygen` for SSH signatures, `openssl` for Ed25519 / P-256 DSSE and
//! cosign-style blob signatures), SBOMs and provenance in the shapes that
//! syft, SPDX tools and actions/attest-build-provenance write.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use github_fake::support::TempRepo;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const BUILDER: &str = "https://github.com/actions/runner/github-hosted";
pub const SOURCE: &str = "https://github.com/tradepulse/platform";

pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn ok(out: Output, what: &str) -> Output {
    assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

pub struct Repo {
    pub dir: TempRepo,
    pub captain: PathBuf,
    pub stranger: PathBuf,
    pub p256: PathBuf,
    pub ed25519: PathBuf,
    pub other_p256: PathBuf,
}

impl std::ops::Deref for Repo {
    type Target = TempRepo;
    fn deref(&self) -> &TempRepo {
        &self.dir
    }
}

impl Repo {
    /// A repository with keys, an allowed-signers file and a policy.
    pub fn new(policy_extra: &str) -> Self {
        let dir = TempRepo::new();
        let keys = dir.path(".keys");
        std::fs::create_dir_all(&keys).unwrap();
        let ssh = |name: &str| {
            let p = keys.join(name);
            ok(
                Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"]).arg(&p).output().unwrap(),
                "ssh-keygen",
            );
            p
        };
        let captain = ssh("captain");
        let stranger = ssh("stranger");
        let openssl = |args: &[&str], what: &str| ok(Command::new("openssl").args(args).output().unwrap(), what);
        let p256 = keys.join("ci-p256.pem");
        openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p256.to_str().unwrap()], "genpkey p256");
        let other_p256 = keys.join("other-p256.pem");
        openssl(
            &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", other_p256.to_str().unwrap()],
            "genpkey p256",
        );
        let ed25519 = keys.join("ci-ed25519.pem");
        openssl(&["genpkey", "-algorithm", "ed25519", "-out", ed25519.to_str().unwrap()], "genpkey ed25519");
        let repo = Self { dir, captain, stranger, p256, ed25519, other_p256 };
        std::fs::create_dir_all(repo.path("keys")).unwrap();
        for (key, name) in [(&repo.p256, "ci-p256.pub"), (&repo.ed25519, "ci-ed25519.pub")] {
            openssl(
                &["pkey", "-in", key.to_str().unwrap(), "-pubout", "-out", repo.path(&format!("keys/{name}")).to_str().unwrap()],
                "pubout",
            );
        }
        let pubkey = std::fs::read_to_string(repo.captain.with_extension("pub")).unwrap();
        let key = pubkey.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        repo.write(
            ".github/release-signers",
            format!("captain@tradepulse.example namespaces=\"release-gate-manifest,release-gate-artifact\" {key}\n"),
        );
        repo.write(
            ".github/release-gate.yml",
            format!(
                "artifact-verify:\n  allowed-signers: .github/release-signers\n  provenance:\n    builders: [\"{BUILDER}\"]\n    source-repository: github.com/tradepulse/platform\n    keys:\n      - {{name: ci-p256, path: keys/ci-p256.pub}}\n      - {{name: ci-ed25519, path: keys/ci-ed25519.pub}}\n{policy_extra}"
            ),
        );
        repo
    }

    /// `ssh-keygen -Y sign` (SHA-512 unless `hashalg` says otherwise).
    pub fn ssh_sign(&self, key: &Path, namespace: &str, rel: &str, hashalg: Option<&str>) {
        let file = self.path(rel);
        let _ = std::fs::remove_file(format!("{}.sig", file.display()));
        let mut c = Command::new("ssh-keygen");
        c.args(["-Y", "sign", "-n", namespace, "-f"]).arg(key);
        if let Some(h) = hashalg {
            c.args(["-O", &format!("hashalg={h}")]);
        }
        ok(c.arg(&file).output().unwrap(), "ssh-keygen -Y sign");
    }

    /// Signs the manifest as the release captain.
    pub fn sign_manifest(&self, rel: &str) {
        self.ssh_sign(&self.captain.clone(), "release-gate-manifest", rel, None);
    }

    /// Signs bytes with an OpenSSL private key: ECDSA P-256 (SHA-256, DER) or Ed25519.
    pub fn openssl_sign(&self, key: &Path, data: &[u8]) -> Vec<u8> {
        let input = self.root().join(".keys/to-sign");
        std::fs::write(&input, data).unwrap();
        let k = key.to_str().unwrap();
        let i = input.to_str().unwrap();
        let out = if std::fs::read_to_string(key).unwrap().contains("BEGIN PRIVATE KEY") && key.to_str().unwrap().contains("ed25519") {
            Command::new("openssl").args(["pkeyutl", "-sign", "-inkey", k, "-rawin", "-in", i]).output().unwrap()
        } else {
            Command::new("openssl").args(["dgst", "-sha256", "-sign", k, i]).output().unwrap()
        };
        ok(out, "openssl sign").stdout
    }

    /// A DSSE envelope around `statement`, signed with `key`.
    pub fn dsse(&self, statement: &Value, key: &Path) -> Value {
        let payload = serde_json::to_vec(statement).unwrap();
        let ty = "application/vnd.in-toto+json";
        let mut pae = format!("DSSEv1 {} {ty} {} ", ty.len(), payload.len()).into_bytes();
        pae.extend_from_slice(&payload);
        let sig = self.openssl_sign(key, &pae);
        json!({"payloadType": ty, "payload": b64(&payload), "signatures": [{"keyid": "", "sig": b64(&sig)}]})
    }
}

/// An SLSA v1 statement as actions/attest-build-provenance writes it.
pub fn slsa(name: &str, sha: &str, builder: &str, repo: &str) -> Value {
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": sha}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                "externalParameters": {"workflow": {"ref": "refs/tags/v2.4.0", "repository": repo, "path": ".github/workflows/release.yml"}},
                "internalParameters": {"github": {"event_name": "push", "repository_id": "1", "repository_owner_id": "2", "runner_environment": "github-hosted"}},
                "resolvedDependencies": [{"uri": format!("git+{repo}@refs/tags/v2.4.0"), "digest": {"gitCommit": "7d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e"}}]
            },
            "runDetails": {
                "builder": {"id": builder},
                "metadata": {"invocationId": format!("{repo}/actions/runs/1/attempts/1")}
            }
        }
    })
}

/// A CycloneDX 1.6 SBOM (syft's shape) whose metadata.component carries `sha`.
pub fn cyclonedx(name: &str, sha: &str) -> Value {
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": "urn:uuid:6e4c2f47-9a53-4c1e-9d0c-2f3b1a5e7d90",
        "version": 1,
        "metadata": {
            "timestamp": "2026-11-30T10:00:00Z",
            "tools": {"components": [{"type": "application", "author": "anchore", "name": "syft", "version": "1.18.1"}]},
            "component": {"bom-ref": "c1", "type": "container", "name": name, "version": "2.4.0",
                "hashes": [{"alg": "SHA-256", "content": sha}]}
        },
        "components": [{"bom-ref": "pkg:pypi/requests@2.32.3", "type": "library", "name": "requests", "version": "2.32.3", "purl": "pkg:pypi/requests@2.32.3"}]
    })
}

/// An SPDX 2.3 JSON SBOM whose described package carries `sha`.
pub fn spdx(name: &str, sha: &str) -> Value {
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!("https://tradepulse.example/spdx/{name}-2.4.0"),
        "creationInfo": {"created": "2026-11-30T10:00:00Z", "creators": ["Tool: spdx-sbom-generator-0.0.15"]},
        "packages": [{"SPDXID": "SPDXRef-Package-main", "name": name, "versionInfo": "2.4.0", "downloadLocation": "NOASSERTION",
            "checksums": [{"algorithm": "SHA256", "checksumValue": sha}]}],
        "relationships": [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-Package-main"}]
    })
}

/// Runs the gate; returns (exit code, report JSON if written, stderr).
pub fn run(root: &Path, args: &[&str], envs: &[(&str, &str)]) -> (i32, Value, String) {
    let out = github_fake::support::clean_command(Path::new(env!("CARGO_BIN_EXE_artifact-verify")))
        .current_dir(root)
        .args(["--release", "2.4.0", "--format", "json", "--now", "2026-12-01T12:00:00Z"])
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The check with this id.
pub fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"].as_array().and_then(|c| c.iter().find(|c| c["id"] == id)).unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

/// Status and message of a check.
pub fn status(report: &Value, id: &str) -> (String, String) {
    let c = check(report, id);
    (c["status"].as_str().unwrap().to_owned(), c["message"].as_str().unwrap().to_owned())
}
