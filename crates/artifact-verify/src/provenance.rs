//! Build provenance: an in-toto Statement v1 with an SLSA provenance v1
//! predicate, plain, in a DSSE envelope, or in a Sigstore bundle.
//!
//! What is verified:
//! - the statement's `subject[].digest.sha256` includes the artifact's digest;
//! - `predicateType` is SLSA provenance v1, `runDetails.builder.id` is in the
//!   policy's allow-list, and the source repository (GitHub workflow
//!   `externalParameters.workflow.repository`, `externalParameters.source`,
//!   or a `resolvedDependencies` git URI) is the configured one;
//! - DSSE signatures with the policy's public keys (Ed25519, ECDSA P-256);
//! - Sigstore bundles: keyless ones (Fulcio certificate) with
//!   `sigstore-verify` against the pinned trusted root file from the policy:
//!   certificate chain, SCT, transparency-log entry, signature, and the
//!   signer identity/issuer when the policy names them; bundles signed with a
//!   managed key have their DSSE envelope checked with the policy's keys.
//!
//! Not verified: anything online (no trusted-root refresh, no Rekor lookup),
//! and the build itself (provenance says who built what; it cannot prove the
//! build was honest).

use serde_json::Value;

use crate::keys::{NamedKey, b64, pae};

/// The in-toto statement type accepted.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The SLSA provenance predicate accepted.
pub const SLSA_V1: &str = "https://slsa.dev/provenance/v1";
/// The DSSE payload type for in-toto statements.
pub const IN_TOTO_PAYLOAD: &str = "application/vnd.in-toto+json";

/// What the policy requires of provenance.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    /// Allowed `builder.id` values (`*` at the end matches a prefix).
    pub builders: Vec<String>,
    /// Source repository, e.g. `github.com/tradepulse/platform` (empty: any).
    pub source_repository: Option<String>,
    /// Whether an unsigned statement is acceptable.
    pub allow_unsigned: bool,
}

/// Sigstore verification material.
pub struct Sigstore {
    /// Verifier prepared from the pinned trusted root.
    pub verifier: sigstore_verify::Verifier,
    /// Required certificate identity (SAN), when pinned.
    pub identity: Option<String>,
    /// Required OIDC issuer, when pinned.
    pub issuer: Option<String>,
}

/// What was established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// How it was signed: `DSSE signed by ci-release (ECDSA P-256)`, `Sigstore …`, `unsigned`.
    pub signed_by: String,
    /// The builder id.
    pub builder: String,
    /// The source repository, normalised.
    pub source: Option<String>,
}

/// Checks provenance `bytes` for an artifact whose SHA-256 is `sha256`.
pub fn check(bytes: &[u8], sha256: &str, req: &Requirements, keys: &[NamedKey], sigstore: Option<&Sigstore>) -> Result<Verified, String> {
    let doc = parse(bytes)?;
    let (statement, signed_by) =
        if doc.get("mediaType").and_then(Value::as_str).is_some_and(|m| m.starts_with("application/vnd.dev.sigstore.bundle")) {
            bundle(bytes, &doc, sha256, keys, sigstore)?
        } else if doc.get("payloadType").is_some() && doc.get("signatures").is_some() {
            dsse(&doc, keys)?
        } else if doc.get("_type").is_some() {
            if !req.allow_unsigned {
                return Err(
                "is a plain in-toto statement with no signature; sign it (DSSE, e.g. cosign attest-blob) or set provenance.allow-unsigned"
                    .into(),
            );
            }
            (doc, "unsigned (allowed by the policy)".to_owned())
        } else {
            return Err("is not an in-toto statement, a DSSE envelope or a Sigstore bundle".into());
        };
    statement_checks(&statement, sha256, req).map(|(builder, source)| Verified { signed_by, builder, source })
}

fn parse(bytes: &[u8]) -> Result<Value, String> {
    match release_gate_core::json::parse(bytes) {
        Ok(v) => Ok(v),
        Err(e) => {
            // slsa-github-generator writes `.intoto.jsonl`: one envelope per line.
            let text = std::str::from_utf8(bytes).map_err(|_| "is not UTF-8 JSON".to_owned())?;
            let mut lines = text.lines().filter(|l| !l.trim().is_empty());
            match (lines.next(), lines.next()) {
                (Some(first), None) => release_gate_core::json::parse(first.as_bytes())
                    .map_err(|e| format!("is not JSON (line 1, column {}: {e})", e.column())),
                (Some(_), Some(_)) => Err("is JSON Lines with several envelopes; give one provenance file per artifact".into()),
                _ => Err(format!("is not JSON (line {}, column {}: {e})", e.line(), e.column())),
            }
        }
    }
}

fn dsse(env: &Value, keys: &[NamedKey]) -> Result<(Value, String), String> {
    let payload_type = env.get("payloadType").and_then(Value::as_str).unwrap_or_default();
    if payload_type != IN_TOTO_PAYLOAD {
        return Err(format!("DSSE payloadType is `{payload_type}`, expected `{IN_TOTO_PAYLOAD}`"));
    }
    let payload = env.get("payload").and_then(Value::as_str).and_then(b64).ok_or("DSSE payload is not base64")?;
    let sigs: Vec<Vec<u8>> = env
        .get("signatures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("sig").and_then(Value::as_str))
        .filter_map(b64)
        .collect();
    if sigs.is_empty() {
        return Err("DSSE envelope has no signature".into());
    }
    if keys.is_empty() {
        return Err("DSSE envelope cannot be verified: the policy lists no provenance keys (artifact-verify.provenance.keys)".into());
    }
    let message = pae(payload_type, &payload);
    let signer = keys.iter().find(|k| sigs.iter().any(|s| k.key.verify(&message, s)));
    let Some(k) = signer else {
        return Err(format!(
            "DSSE signature verifies with none of the policy's keys ({}); signed by another key, or changed after signing",
            keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", ")
        ));
    };
    let statement = release_gate_core::json::parse(&payload).map_err(|e| format!("DSSE payload is not JSON: {e}"))?;
    Ok((statement, format!("DSSE signed by {} ({})", k.name, k.key.kind())))
}

fn bundle(bytes: &[u8], doc: &Value, sha256: &str, keys: &[NamedKey], sigstore: Option<&Sigstore>) -> Result<(Value, String), String> {
    let Some(env) = doc.get("dsseEnvelope") else {
        return Err("Sigstore bundle carries a message signature, not an attestation (no dsseEnvelope)".into());
    };
    let material = doc.get("verificationMaterial").cloned().unwrap_or_default();
    let keyless = material.get("certificate").is_some() || material.get("x509CertificateChain").is_some();
    if !keyless {
        // Managed key: the envelope is checked with the policy's keys.
        let (statement, by) = dsse(env, keys)?;
        return Ok((statement, format!("Sigstore bundle, {by}")));
    }
    let Some(sig) = sigstore else {
        return Err("keyless Sigstore bundle cannot be verified offline: set artifact-verify.provenance.sigstore.trusted-root to a pinned trusted_root.json".into());
    };
    let text = std::str::from_utf8(bytes).map_err(|_| "Sigstore bundle is not UTF-8".to_owned())?;
    let parsed = sigstore_verify::types::Bundle::from_json(text).map_err(|e| format!("is not a valid Sigstore bundle: {e}"))?;
    let digest = sigstore_verify::types::Sha256Hash::from_hex(sha256).map_err(|e| format!("artifact digest: {e}"))?;
    let mut policy = sigstore_verify::VerificationPolicy::any_identity();
    if let Some(id) = &sig.identity {
        policy = policy.require_identity(id.as_str());
    }
    if let Some(issuer) = &sig.issuer {
        policy = policy.require_issuer(issuer.as_str());
    }
    let result = sig.verifier.verify(digest, &parsed, &policy).map_err(|e| format!("Sigstore verification failed: {e}"))?;
    let who = result.identity().map(|i| i.as_str().to_owned()).unwrap_or_else(|| "unknown identity".into());
    let payload = env.get("payload").and_then(Value::as_str).and_then(b64).ok_or("DSSE payload is not base64")?;
    let statement = release_gate_core::json::parse(&payload).map_err(|e| format!("DSSE payload is not JSON: {e}"))?;
    Ok((statement, format!("Sigstore keyless, certificate for {who}{}", result.issuer().map(|i| format!(" ({i})")).unwrap_or_default())))
}

fn statement_checks(st: &Value, sha256: &str, req: &Requirements) -> Result<(String, Option<String>), String> {
    let ty = st.get("_type").and_then(Value::as_str).unwrap_or_default();
    if ty != STATEMENT_V1 {
        return Err(format!("statement `_type` is `{ty}`, expected `{STATEMENT_V1}`"));
    }
    let subjects: Vec<&Value> = st.get("subject").and_then(Value::as_array).map(|v| v.iter().collect()).unwrap_or_default();
    let listed: Vec<String> =
        subjects.iter().filter_map(|s| s.pointer("/digest/sha256").and_then(Value::as_str)).map(str::to_ascii_lowercase).collect();
    if !listed.iter().any(|d| d == sha256) {
        return Err(if listed.is_empty() {
            "statement lists no subject with a sha256 digest".into()
        } else {
            format!(
                "statement's subjects ({}) do not include this artifact's sha256; it is another build's provenance",
                listed.iter().map(|d| format!("{}…", &d[..d.len().min(12)])).collect::<Vec<_>>().join(", ")
            )
        });
    }
    let pt = st.get("predicateType").and_then(Value::as_str).unwrap_or_default();
    if pt != SLSA_V1 {
        return Err(format!("predicateType is `{pt}`, expected SLSA provenance v1 (`{SLSA_V1}`)"));
    }
    let builder = st.pointer("/predicate/runDetails/builder/id").and_then(Value::as_str).unwrap_or_default().to_owned();
    if builder.is_empty() {
        return Err("SLSA provenance has no runDetails.builder.id".into());
    }
    if !req.builders.iter().any(|b| match b.strip_suffix('*') {
        Some(prefix) => builder.starts_with(prefix),
        None => *b == builder,
    }) {
        return Err(format!(
            "builder `{builder}` is not allowed (policy: {}); build on an allowed builder or add it to artifact-verify.provenance.builders",
            if req.builders.is_empty() { "none listed".to_owned() } else { req.builders.join(", ") }
        ));
    }
    let sources = source_repositories(st);
    if let Some(want) = &req.source_repository {
        let want = normalise_repo(want);
        if !sources.contains(&want) {
            return Err(format!(
                "built from {}, not {want}",
                if sources.is_empty() { "an unnamed source".to_owned() } else { sources.join(", ") }
            ));
        }
        return Ok((builder, Some(want)));
    }
    Ok((builder, sources.into_iter().next()))
}

/// Source repositories a provenance names, normalised to `host/owner/repo`.
pub fn source_repositories(st: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let ext = st.pointer("/predicate/buildDefinition/externalParameters");
    for p in ["/workflow/repository", "/source/uri", "/source", "/repository"] {
        if let Some(s) = ext.and_then(|e| e.pointer(p)).and_then(Value::as_str) {
            out.push(normalise_repo(s));
        }
    }
    for d in st.pointer("/predicate/buildDefinition/resolvedDependencies").and_then(Value::as_array).into_iter().flatten() {
        if let Some(uri) = d.get("uri").and_then(Value::as_str)
            && uri.starts_with("git+")
        {
            out.push(normalise_repo(uri));
        }
    }
    out.dedup();
    out
}

/// `git+https://github.com/o/r.git@refs/heads/main` → `github.com/o/r`.
pub fn normalise_repo(s: &str) -> String {
    let s = s.trim().strip_prefix("git+").unwrap_or(s.trim());
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let s = s.split(['@', '?', '#']).next().unwrap_or(s);
    let s = s.trim_end_matches('/');
    s.strip_suffix(".git").unwrap_or(s).to_ascii_lowercase()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn repositories_normalise() {
        assert_eq!(normalise_repo("git+https://github.com/TradePulse/platform.git@refs/heads/main"), "github.com/tradepulse/platform");
        assert_eq!(normalise_repo("https://github.com/tradepulse/platform"), "github.com/tradepulse/platform");
        assert_eq!(normalise_repo("github.com/tradepulse/platform/"), "github.com/tradepulse/platform");
    }

    #[test]
    fn what_is_not_provenance_is_named() {
        let req = Requirements::default();
        assert!(check(b"{}", "00", &req, &[], None).unwrap_err().contains("not an in-toto statement"));
        assert!(check(b"[1", "00", &req, &[], None).unwrap_err().starts_with("is not JSON"));
        assert!(check(b"{\"_type\":\"x\"}", "00", &req, &[], None).unwrap_err().contains("plain in-toto statement with no signature"));
        let env = br#"{"payloadType":"text/plain","payload":"e30=","signatures":[{"sig":"AA=="}]}"#;
        assert!(check(env, "00", &req, &[], None).unwrap_err().contains("payloadType is `text/plain`"));
    }
}
