//! An SBOM must describe *this* artifact, by its digest: CycloneDX JSON
//! (`metadata.component.hashes` SHA-256, or a purl carrying the digest) or
//! SPDX 2.3 JSON (a described package's `checksums` SHA256, or its purl).

use serde_json::Value;

/// What the SBOM is, when it describes the artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// `CycloneDX 1.6`, `SPDX-2.3`.
    pub format: String,
    /// The component or package that carries the digest.
    pub subject: String,
    /// How it was matched: `hash` or `purl`.
    pub by: &'static str,
}

/// Checks that `bytes` is an SBOM describing an artifact with SHA-256 `sha256` (lowercase hex).
pub fn check(bytes: &[u8], sha256: &str) -> Result<Described, String> {
    let doc: Value =
        release_gate_core::json::parse(bytes).map_err(|e| format!("is not JSON (line {}, column {}: {e})", e.line(), e.column()))?;
    if doc.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        return cyclonedx(&doc, sha256);
    }
    if let Some(v) = doc.get("spdxVersion").and_then(Value::as_str) {
        if v != "SPDX-2.3" {
            return Err(format!("is {v}; SPDX 2.3 JSON is supported (or CycloneDX JSON)"));
        }
        return spdx(&doc, sha256);
    }
    Err("is neither CycloneDX JSON (`bomFormat: CycloneDX`) nor SPDX 2.3 JSON (`spdxVersion: SPDX-2.3`)".into())
}

fn cyclonedx(doc: &Value, sha256: &str) -> Result<Described, String> {
    let format = format!("CycloneDX {}", doc.get("specVersion").and_then(Value::as_str).unwrap_or("?"));
    let Some(component) = doc.pointer("/metadata/component") else {
        return Err(format!("{format} has no metadata.component, so it does not say which artifact it describes"));
    };
    let subject = component.get("name").and_then(Value::as_str).unwrap_or("(unnamed)").to_owned();
    let hashes: Vec<String> = component
        .get("hashes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|h| h.get("alg").and_then(Value::as_str).is_some_and(|a| a.eq_ignore_ascii_case("SHA-256")))
        .filter_map(|h| h.get("content").and_then(Value::as_str).map(str::to_ascii_lowercase))
        .collect();
    if hashes.iter().any(|h| h == sha256) {
        return Ok(Described { format, subject, by: "hash" });
    }
    let purl = component.get("purl").and_then(Value::as_str).unwrap_or_default();
    if purl_digest(purl).as_deref() == Some(sha256) {
        return Ok(Described { format, subject, by: "purl" });
    }
    Err(mismatch(&format, &format!("metadata.component `{subject}`"), &hashes, purl))
}

fn spdx(doc: &Value, sha256: &str) -> Result<Described, String> {
    let format = "SPDX-2.3".to_owned();
    let packages: Vec<&Value> = doc.get("packages").and_then(Value::as_array).map(|v| v.iter().collect()).unwrap_or_default();
    let mut described: Vec<String> =
        doc.get("documentDescribes").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
    for r in doc.get("relationships").and_then(Value::as_array).into_iter().flatten() {
        if r.get("spdxElementId").and_then(Value::as_str) == Some("SPDXRef-DOCUMENT")
            && r.get("relationshipType").and_then(Value::as_str) == Some("DESCRIBES")
            && let Some(id) = r.get("relatedSpdxElement").and_then(Value::as_str)
        {
            described.push(id.to_owned());
        }
    }
    if described.is_empty() {
        return Err("SPDX-2.3 document describes no package (no documentDescribes and no DESCRIBES relationship)".into());
    }
    let mut seen = Vec::new();
    let mut purls = Vec::new();
    for id in &described {
        let Some(p) = packages.iter().find(|p| p.get("SPDXID").and_then(Value::as_str) == Some(id)) else { continue };
        let name = p.get("name").and_then(Value::as_str).unwrap_or(id).to_owned();
        let sums: Vec<String> = p
            .get("checksums")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| c.get("algorithm").and_then(Value::as_str) == Some("SHA256"))
            .filter_map(|c| c.get("checksumValue").and_then(Value::as_str).map(str::to_ascii_lowercase))
            .collect();
        if sums.iter().any(|s| s == sha256) {
            return Ok(Described { format, subject: name, by: "hash" });
        }
        for r in p.get("externalRefs").and_then(Value::as_array).into_iter().flatten() {
            if r.get("referenceType").and_then(Value::as_str) == Some("purl")
                && let Some(purl) = r.get("referenceLocator").and_then(Value::as_str)
            {
                if purl_digest(purl).as_deref() == Some(sha256) {
                    return Ok(Described { format, subject: name, by: "purl" });
                }
                purls.push(purl.to_owned());
            }
        }
        seen.extend(sums);
    }
    Err(mismatch(&format, &format!("described package(s) {}", described.join(", ")), &seen, &purls.join(" ")))
}

fn mismatch(format: &str, what: &str, hashes: &[String], purl: &str) -> String {
    if hashes.is_empty() && purl_digest(purl).is_none() {
        format!("{format}: {what} carries no SHA-256 (hashes/checksums) and no purl digest; regenerate the SBOM from the built artifact")
    } else {
        let found: Vec<String> = hashes.iter().cloned().chain(purl_digest(purl)).map(|h| format!("{}…", &h[..h.len().min(12)])).collect();
        format!("{format}: {what} has SHA-256 {}, not this artifact's; the SBOM is for another build", found.join(", "))
    }
}

/// The SHA-256 a purl carries: `pkg:oci/app@sha256%3A<hex>` or a `checksum=sha256:<hex>` qualifier.
pub fn purl_digest(purl: &str) -> Option<String> {
    let lower = purl.to_ascii_lowercase().replace("%3a", ":");
    for marker in ["@sha256:", "checksum=sha256:", "digest=sha256:", ",sha256:"] {
        if let Some(i) = lower.find(marker) {
            let hex: String = lower[i + marker.len()..].chars().take_while(char::is_ascii_hexdigit).collect();
            if hex.len() == 64 {
                return Some(hex);
            }
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const D: &str = "a3f1c5e0b7d24c0f9e8a6b5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a291";

    #[test]
    fn purls() {
        assert_eq!(purl_digest(&format!("pkg:oci/router@sha256%3A{D}?repository_url=ghcr.io/x")), Some(D.into()));
        assert_eq!(purl_digest(&format!("pkg:pypi/x@1.0?checksum=sha256:{D}")), Some(D.into()));
        assert_eq!(purl_digest("pkg:pypi/x@1.0"), None);
    }

    #[test]
    fn formats() {
        assert!(check(b"{\"a\":1}", D).unwrap_err().contains("neither CycloneDX"));
        assert!(check(b"{\"spdxVersion\":\"SPDX-2.2\"}", D).unwrap_err().contains("SPDX-2.2"));
        assert!(check(b"{oops", D).unwrap_err().starts_with("is not JSON (line 1"));
        assert!(check(b"{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.6\"}", D).unwrap_err().contains("no metadata.component"));
    }
}
