//! artifact-verify on files in the repository, with real signatures.

#![allow(clippy::unwrap_used)]

use crate::common;

use common::*;
use serde_json::{Value, json};

const MANIFEST: &str = "releases/2.4.0/artifacts.yaml";

struct Built {
    repo: Repo,
    image: Vec<u8>,
}

fn entry(name: &str, kind: &str, location: &str, bytes: &[u8], extra: &str) -> String {
    format!(
        "  - name: {name}\n    kind: {kind}\n    location: {location}\n    sha256: {}\n    size: {}\n{extra}",
        sha256_hex(bytes),
        bytes.len()
    )
}

fn json_file(repo: &Repo, rel: &str, v: &Value) {
    repo.write(rel, serde_json::to_vec_pretty(v).unwrap());
}

/// Three artifacts, each with its evidence in a different shape.
fn build(policy_extra: &str) -> Built {
    let repo = Repo::new(policy_extra);
    let image: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let wheel = b"PK\x03\x04 pricing wheel bytes".repeat(1000);
    let template = b"Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n".to_vec();
    repo.write("dist/order-router.oci.tar", &image);
    repo.write("dist/pricing-2.4.0-py3-none-any.whl", &wheel);
    repo.write("infra/stack.yaml", &template);

    // Image: CycloneDX by hash, DSSE with P-256, SSH signature (SHA-512, ssh-keygen's default).
    json_file(&repo, "dist/order-router.cdx.json", &cyclonedx("order-router", &sha256_hex(&image)));
    let st = slsa("order-router.oci.tar", &sha256_hex(&image), BUILDER, SOURCE);
    json_file(&repo, "dist/order-router.intoto.json", &repo.dsse(&st, &repo.p256));
    repo.ssh_sign(&repo.captain, "release-gate-artifact", "dist/order-router.oci.tar", None);

    // Wheel: SPDX, DSSE with Ed25519, cosign-style blob signature (P-256 over the SHA-256).
    json_file(&repo, "dist/pricing.spdx.json", &spdx("pricing", &sha256_hex(&wheel)));
    let st = slsa("pricing-2.4.0-py3-none-any.whl", &sha256_hex(&wheel), BUILDER, SOURCE);
    json_file(&repo, "dist/pricing.intoto.json", &repo.dsse(&st, &repo.ed25519));
    let sig = repo.openssl_sign(&repo.p256, &wheel);
    repo.write("dist/pricing-2.4.0-py3-none-any.whl.sig", b64(&sig));

    // Template: CycloneDX by purl digest, SSH signature with SHA-256.
    let mut cdx = cyclonedx("stack", "0000");
    cdx["metadata"]["component"]["hashes"] = json!([]);
    cdx["metadata"]["component"]["purl"] = json!(format!("pkg:generic/stack@2.4.0?checksum=sha256:{}", sha256_hex(&template)));
    json_file(&repo, "infra/stack.cdx.json", &cdx);
    let st = slsa("stack.yaml", &sha256_hex(&template), BUILDER, SOURCE);
    json_file(&repo, "infra/stack.intoto.json", &repo.dsse(&st, &repo.p256));
    repo.ssh_sign(&repo.captain, "release-gate-artifact", "infra/stack.yaml", Some("sha256"));

    let manifest = format!(
        "release: 2.4.0\ndirectories: [dist]\nartifacts:\n{}{}{}",
        entry(
            "order-router",
            "image",
            "dist/order-router.oci.tar",
            &image,
            "    sbom: dist/order-router.cdx.json\n    provenance: dist/order-router.intoto.json\n    signature: dist/order-router.oci.tar.sig\n"
        ),
        entry(
            "pricing",
            "wheel",
            "dist/pricing-2.4.0-py3-none-any.whl",
            &wheel,
            "    sbom: dist/pricing.spdx.json\n    provenance: dist/pricing.intoto.json\n    signature: dist/pricing-2.4.0-py3-none-any.whl.sig\n"
        ),
        entry(
            "stack",
            "template",
            "infra/stack.yaml",
            &template,
            "    sbom: infra/stack.cdx.json\n    provenance: infra/stack.intoto.json\n    signature: infra/stack.yaml.sig\n"
        ),
    );
    repo.write(MANIFEST, manifest);
    repo.sign_manifest(MANIFEST);
    Built { repo, image }
}

#[test]
fn a_complete_release_passes_with_every_shape_of_evidence() {
    let b = build("");
    let (code, r, err) = run(b.repo.root(), &[], &[]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    assert_eq!(r["verdict"], "pass");
    assert!(status(&r, "manifest-signature").1.contains("signed by captain@tradepulse.example"));
    let (s, m) = status(&r, "order-router:signature");
    assert_eq!(s, "pass");
    assert!(m.contains("SSH signature by captain@tradepulse.example"), "{m}");
    assert!(status(&r, "pricing:signature").1.contains("cosign signature by ci-p256"));
    assert!(status(&r, "stack:signature").1.contains("SSH signature"));
    assert!(status(&r, "order-router:sbom").1.contains("CycloneDX 1.6 describes `order-router` by hash"));
    assert!(status(&r, "pricing:sbom").1.contains("SPDX-2.3"));
    assert!(status(&r, "stack:sbom").1.contains("by purl"));
    let (_, m) = status(&r, "order-router:provenance");
    assert!(m.contains("DSSE signed by ci-p256 (ECDSA P-256)") && m.contains("from github.com/tradepulse/platform"), "{m}");
    assert!(status(&r, "pricing:provenance").1.contains("ci-ed25519 (Ed25519)"));
    assert_eq!(status(&r, "unlisted").0, "pass");
    assert_eq!(r["outputs"]["failed"], "0");
    assert_eq!(r["data"]["artifacts"][0]["sha256"], json!(sha256_hex(&b.image)));
}

#[test]
fn a_tampered_artifact_fails_and_its_signature_is_not_trusted() {
    let b = build("");
    let mut image = b.image.clone();
    image[1000] ^= 1;
    b.repo.write("dist/order-router.oci.tar", &image);
    let (code, r, _) = run(b.repo.root(), &[], &[]);
    assert_eq!(code, 1);
    let (s, m) = status(&r, "order-router:digest");
    assert_eq!(s, "fail");
    assert!(m.contains("the bytes are not the ones released"), "{m}");
    assert_eq!(status(&r, "order-router:signature").0, "fail");
    assert!(r["title"].as_str().unwrap().contains("1 of 3 artifact(s) failed verification: order-router"));
}

#[test]
fn a_missing_artifact_and_a_wrong_size_fail_by_name() {
    let b = build("");
    std::fs::remove_file(b.repo.path("infra/stack.yaml")).unwrap();
    let (code, r, _) = run(b.repo.root(), &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(status(&r, "stack:digest"), ("fail".into(), "infra/stack.yaml: is missing".into()));
}

#[cfg(unix)]
#[test]
fn an_artifact_or_evidence_that_is_a_link_out_or_a_special_file_fails_by_name() {
    let b = build("");
    // The same bytes, but the listed path is a link to a file outside the repository.
    let outside = tempfile::tempdir().unwrap();
    std::fs::copy(b.repo.path("infra/stack.yaml"), outside.path().join("stack.yaml")).unwrap();
    std::fs::remove_file(b.repo.path("infra/stack.yaml")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("stack.yaml"), b.repo.path("infra/stack.yaml")).unwrap();
    // The SBOM of the image is a FIFO (reading it would hang the gate).
    std::fs::remove_file(b.repo.path("dist/order-router.cdx.json")).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(b.repo.path("dist/order-router.cdx.json")).status().unwrap().success());
    let (code, r, _) = run(b.repo.root(), &[], &[]);
    assert_eq!(code, 1);
    let (s, m) = status(&r, "stack:digest");
    assert_eq!(s, "fail");
    assert!(m.contains("leads outside the repository"), "{m}");
    let (s, m) = status(&r, "order-router:sbom");
    assert_eq!(s, "fail");
    assert!(m.contains("is a FIFO, not a regular file"), "{m}");
}

#[test]
fn the_manifest_must_be_signed_by_an_allowed_signer() {
    let b = build("");
    // Edited after signing.
    let text = std::fs::read_to_string(b.repo.path(MANIFEST)).unwrap();
    b.repo.write(MANIFEST, text.replace("size: 300000", "size: 300001"));
    let (code, r, _) = run(b.repo.root(), &[], &[]);
    assert_eq!(code, 1);
    assert!(status(&r, "manifest-signature").1.contains("does not match the file's content"));
    // Signed by a key that is not in the allowed-signers file.
    b.repo.ssh_sign(&b.repo.stranger, "release-gate-manifest", MANIFEST, None);
    let (_, r, _) = run(b.repo.root(), &[], &[]);
    assert!(status(&r, "manifest-signature").1.contains("not an allowed signer"));
    // Signed for another purpose.
    b.repo.ssh_sign(&b.repo.captain, "release-gate-artifact", MANIFEST, None);
    let (_, r, _) = run(b.repo.root(), &[], &[]);
    assert!(status(&r, "manifest-signature").1.contains("namespace \"release-gate-artifact\""));
    // Not signed at all.
    std::fs::remove_file(b.repo.path(&format!("{MANIFEST}.sig"))).unwrap();
    let (code, r, _) = run(b.repo.root(), &[], &[]);
    assert_eq!(code, 1);
    assert!(status(&r, "manifest-signature").1.contains("is not signed"));
}

#[test]
fn evidence_for_another_build_fails() {
    let b = build("");
    let other = sha256_hex(b"another build");
    json_file(&b.repo, "dist/order-router.cdx.json", &cyclonedx("order-router", &other));
    let st = slsa("order-router.oci.tar", &other, BUILDER, SOURCE);
    json_file(&b.repo, "dist/order-router.intoto.json", &b.repo.dsse(&st, &b.repo.p256));
    b.repo.sign_manifest(MANIFEST);
    let (code, r, _) = run(b.repo.root(), &[], &[]);
    assert_eq!(code, 1);
    assert!(status(&r, "order-router:sbom").1.contains("not this artifact's; the SBOM is for another build"));
    assert!(status(&r, "order-router:provenance").1.contains("do not include this artifact's sha256"));
}

#[test]
fn provenance_from_the_wrong_builder_source_or_key_fails() {
    let b = build("");
    let sha = sha256_hex(&b.image);
    let cases: [(Value, &std::path::Path, &str); 4] = [
        (
            slsa("x", &sha, "https://github.com/attacker/runner", SOURCE),
            &b.repo.p256,
            "builder `https://github.com/attacker/runner` is not allowed",
        ),
        (
            slsa("x", &sha, BUILDER, "https://github.com/someone/fork"),
            &b.repo.p256,
            "built from github.com/someone/fork, not github.com/tradepulse/platform",
        ),
        (slsa("x", &sha, BUILDER, SOURCE), &b.repo.other_p256, "verifies with none of the policy's keys"),
        (
            {
                let mut s = slsa("x", &sha, BUILDER, SOURCE);
                s["predicateType"] = json!("https://slsa.dev/provenance/v0.2");
                s
            },
            &b.repo.p256,
            "expected SLSA provenance v1",
        ),
    ];
    for (st, key, want) in cases {
        json_file(&b.repo, "dist/order-router.intoto.json", &b.repo.dsse(&st, key));
        let (code, r, _) = run(b.repo.root(), &[], &[]);
        assert_eq!(code, 1);
        let (s, m) = status(&r, "order-router:provenance");
        assert_eq!(s, "fail");
        assert!(m.contains(want), "{m} ∌ {want}");
    }
    // A plain statement is not signed: refused unless the policy allows it.
    json_file(&b.repo, "dist/order-router.intoto.json", &slsa("x", &sha, BUILDER, SOURCE));
    let (_, r, _) = run(b.repo.root(), &[], &[]);
    assert!(status(&r, "order-router:provenance").1.contains("no signature"));
    // A DSSE envelope whose payload was edited after signing.
    let mut env = b.repo.dsse(&slsa("x", &sha, BUILDER, SOURCE), &b.repo.p256);
    let edited = slsa("x", &sha, BUILDER, "https://github.com/tradepulse/platform2");
    env["payload"] = json!(b64(&serde_json::to_vec(&edited).unwrap()));
    json_file(&b.repo, "dist/order-router.intoto.json", &env);
    let (_, r, _) = run(b.repo.root(), &[], &[]);
    assert!(status(&r, "order-router:provenance").1.contains("changed after signing"));
}

#[test]
fn required_evidence_missing_or_not_what_it_claims_fails_naming_the_artifact() {
    let b = build("");
    let text = std::fs::read_to_string(b.repo.path(MANIFEST)).unwrap();
    b.repo.write(MANIFEST, text.replace("    sbom: dist/pricing.spdx.json\n", ""));
    b.repo.sign_manifest(MANIFEST);
    b.repo.write("infra/stack.cdx.json", "{\"not\": \"an sbom\"}");
    b.repo.write("infra/stack.intoto.json", "[1, 2");
    std::fs::remove_file(b.repo.path("dist/order-router.intoto.json")).unwrap();
    let (code, r, _) = run(b.repo.root(), &["--strict", "false"], &[]);
    assert_eq!(code, 1);
    assert!(status(&r, "pricing:sbom").1.contains("the policy requires one for kind wheel"));
    assert!(status(&r, "stack:sbom").1.contains("neither CycloneDX"));
    assert!(status(&r, "stack:provenance").1.contains("is not JSON"));
    assert!(status(&r, "order-router:provenance").1.contains("dist/order-router.intoto.json is missing"));
    // Not strict: the now-unlisted SPDX file is a warning.
    assert_eq!(status(&r, "unlisted").0, "warn");
}

#[test]
fn unlisted_files_in_an_artifacts_directory_fail_in_strict_mode() {
    let b = build("");
    b.repo.write("dist/debug-build.tar", "leftover");
    let (code, r, _) = run(b.repo.root(), &[], &[]);
    assert_eq!(code, 1);
    let (s, m) = status(&r, "unlisted");
    assert_eq!(s, "fail");
    assert!(m.contains("`dist/debug-build.tar`"), "{m}");
    let (code, _, _) = run(b.repo.root(), &["--strict", "false"], &[]);
    assert_eq!(code, 0);
}

#[test]
fn bad_manifests_are_exit_2_with_the_file_and_what_to_do() {
    let b = build("");
    let sha = "0".repeat(64);
    for (text, want) in [
        (format!("artifacts:\n  - {{name: x, kind: other, location: ../../etc/passwd, sha256: {sha}}}\n"), "escapes the workspace"),
        ("artifacts:\n  - {name: x, kind: other, location: a, sha256: 12ab}\n".to_owned(), "sha256 `12ab` is not 64 hexadecimal digits"),
        ("artifacts:\n  - {name: x, kind: docker, location: a, sha256: 1}\n".to_owned(), "releases/2.4.0/artifacts.yaml:2:"),
    ] {
        b.repo.write(MANIFEST, &text);
        let (code, _, err) = run(b.repo.root(), &[], &[]);
        assert_eq!(code, 2, "{text}");
        assert!(err.contains(want), "{err} ∌ {want}");
    }
    let (code, _, err) = run(b.repo.root(), &["--manifest", "../elsewhere.yaml"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("leads outside the repository"), "{err}");
    std::fs::remove_file(b.repo.path(MANIFEST)).unwrap();
    let (code, _, err) = run(b.repo.root(), &[], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("artifact manifest `releases/2.4.0/artifacts.yaml` does not exist; write it"), "{err}");
    b.repo.write("keys/ci-p256.pub", "not a key");
    b.repo.write(MANIFEST, format!("artifacts:\n  - {{name: x, kind: other, location: a, sha256: {sha}}}\n"));
    let (code, _, err) = run(b.repo.root(), &[], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("keys/ci-p256.pub: not a PEM public key"), "{err}");
}

#[test]
fn a_keyless_sigstore_bundle_is_verified_offline_against_the_pinned_root() {
    // A real bundle from GitHub Actions, logged in Rekor (see tests/fixtures/sigstore/README.md).
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sigstore");
    let bundle = std::fs::read(fixtures.join("conda-attestation.sigstore.json")).unwrap();
    let root = std::fs::read(fixtures.join("public-good.json")).unwrap();
    let subject = "54303491a8418fbed24344b513546182c29b43bf282ceb433af65e2299f9271f";
    let identity = "https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main";
    let run_with = |policy: &str, bundle: &[u8], sha: &str| {
        let repo = Repo::new(policy);
        repo.write("sigstore/trusted_root.json", &root);
        repo.write("dist/pkg.conda.intoto.json", bundle);
        repo.write(
            MANIFEST,
            format!("artifacts:\n  - {{name: pkg, kind: other, location: dist/pkg.conda, sha256: {sha}, provenance: dist/pkg.conda.intoto.json}}\n"),
        );
        repo.write("dist/pkg.conda", "not the real package");
        repo.sign_manifest(MANIFEST);
        let (_, r, err) = run(repo.root(), &[], &[]);
        assert!(r.is_object(), "{err}");
        status(&r, "pkg:provenance").1
    };
    // Without a pinned root, it is refused with what to configure.
    let m = run_with("", &bundle, subject);
    assert!(m.contains("set artifact-verify.provenance.sigstore.trusted-root"), "{m}");
    // With the root and the right identity, certificate chain, SCT, tlog and
    // signature verify; what stops it is the predicate (conda's, not SLSA).
    let pinned = format!(
        "    sigstore:\n      trusted-root: sigstore/trusted_root.json\n      identity: {identity}\n      issuer: https://token.actions.githubusercontent.com\n"
    );
    let m = run_with(&pinned, &bundle, subject);
    assert!(m.contains("predicateType is `https://schemas.conda.org/attestations-publish-1.schema.json`"), "{m}");
    // Another identity: refused by the Sigstore verification itself.
    let m = run_with(&pinned.replace("refs/heads/main", "refs/heads/evil"), &bundle, subject);
    assert!(m.contains("Sigstore verification failed"), "{m}");
    // Another artifact digest: the signed statement does not cover it.
    let m = run_with(&pinned, &bundle, &"ab".repeat(32));
    assert!(m.contains("Sigstore verification failed"), "{m}");
    // An edited statement no longer matches its signature.
    let mut v: Value = serde_json::from_slice(&bundle).unwrap();
    let payload = v["dsseEnvelope"]["payload"].as_str().unwrap().to_owned();
    let mut st: Value = serde_json::from_slice(&base64_decode(&payload)).unwrap();
    st["predicateType"] = json!("https://slsa.dev/provenance/v1");
    v["dsseEnvelope"]["payload"] = json!(b64(&serde_json::to_vec(&st).unwrap()));
    let m = run_with(&pinned, &serde_json::to_vec(&v).unwrap(), subject);
    assert!(m.contains("Sigstore verification failed"), "{m}");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
