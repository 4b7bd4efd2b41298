//! What was observed for one artifact, judged into checks and table cells:
//! no file system, no network.

use base64::Engine as _;
use release_gate_core::render;
use release_gate_core::report::{Check, Status};
use release_gate_core::signing::{AllowedSigners, HashAlg};

use release_gate_s3 as s3;

use crate::hash::Digests;
use crate::keys::NamedKey;
use crate::manifest::{Artifact, Kind, Location};
use crate::policy::ArtifactPolicy;
use crate::{keys, provenance, sbom};

/// What was read for one artifact.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Digests of the bytes, or why they could not be read.
    pub digests: Option<Result<Digests, String>>,
    /// HeadObject, for S3 artifacts.
    pub head: Option<s3::Head>,
    /// Whether the bucket has Object Lock (S3 snapshots).
    pub bucket_lock: Option<Result<bool, String>>,
    /// The bucket's expiration rules (S3 snapshots).
    pub expiry: Vec<s3::Expiry>,
    /// SBOM bytes.
    pub sbom: Option<Result<Vec<u8>, String>>,
    /// Provenance bytes.
    pub provenance: Option<Result<Vec<u8>, String>>,
    /// Signature bytes.
    pub signature: Option<Result<Vec<u8>, String>>,
}

/// Everything the per-artifact rules need besides what was read.
pub struct Verification<'a> {
    /// Policy.
    pub policy: &'a ArtifactPolicy,
    /// Allowed signers (SSH).
    pub signers: Option<&'a AllowedSigners>,
    /// DSSE / cosign keys.
    pub keys: &'a [NamedKey],
    /// Sigstore, when a trusted root is pinned.
    pub sigstore: Option<&'a provenance::Sigstore>,
    /// Now.
    pub now: jiff::Timestamp,
}

/// The outcome for one artifact.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Checks, ids `<name>:<aspect>`.
    pub checks: Vec<Check>,
    /// Table cells: digest, sbom, provenance, signature, retention.
    pub cells: [String; 5],
}

/// A table cell: the status's mark and a word; an aspect that does not
/// apply is an empty-looking `—`, as in every table.
fn cell(status: Status, text: &str) -> String {
    let mark = if status == Status::Skip { "—" } else { render::mark(status) };
    if text.is_empty() { mark.to_owned() } else { format!("{mark} {text}") }
}

/// Judges one artifact from what was observed.
pub fn judge(a: &Artifact, obs: &Observed, v: &Verification) -> Outcome {
    let mut checks = Vec::new();
    let mut cells: [String; 5] = Default::default();
    let id = |aspect: &str| format!("{}:{aspect}", a.name);
    let loc = a.location.to_string();

    // Digest and size.
    let digests = match &obs.digests {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            checks.push(Check::new(id("digest"), Status::Fail, format!("{loc}: {e}")));
            cells[0] = cell(Status::Fail, "unreadable");
            None
        }
        None => None,
    };
    let digest_ok = if let Some(d) = digests {
        let have = d.sha256_hex();
        let mut problems = Vec::new();
        if have != a.sha256 {
            problems.push(format!("SHA-256 is {have}, the manifest says {}; the bytes are not the ones released", a.sha256));
        }
        if let Some(size) = a.size
            && size != d.size
        {
            problems.push(format!("size is {} bytes, the manifest says {size}", d.size));
        }
        if let Some(h) = &obs.head {
            if let (Some(listed), Some(read)) = (h.size, Some(d.size))
                && listed != read
            {
                problems.push(format!("S3 says {listed} bytes but {read} were read"));
            }
            if let Some(sum) = &h.checksum_sha256
                && !sum.contains('-')
            {
                let s3_hex = base64::engine::general_purpose::STANDARD.decode(sum).map(hex::encode).unwrap_or_default();
                if s3_hex != have {
                    problems.push(format!("S3's stored SHA-256 checksum ({sum}) is not the digest of the bytes read"));
                }
            }
        }
        if problems.is_empty() {
            let s3_sum = match obs.head.as_ref().and_then(|h| h.checksum_sha256.as_ref()) {
                Some(s) if !s.contains('-') => ", S3 checksum agrees",
                Some(_) => ", S3 checksum is a multipart composite (not compared)",
                None => "",
            };
            checks.push(Check::new(id("digest"), Status::Pass, format!("{loc}: sha256 {}…, {} bytes{s3_sum}", &have[..16], d.size)));
            cells[0] = cell(Status::Pass, &format!("{}…", &have[..12]));
            true
        } else {
            checks.push(Check::new(id("digest"), Status::Fail, format!("{loc}: {}", problems.join("; "))));
            cells[0] = cell(Status::Fail, &format!("{}…", &have[..12]));
            false
        }
    } else {
        false
    };

    // Evidence: each is judged against the manifest's digest, which the bytes
    // were just compared with (a mismatch there already fails the artifact).
    let evidence = |aspect: &str, required: &[Kind], location: &Option<Location>, bytes: &Option<Result<Vec<u8>, String>>| {
        let needed = required.contains(&a.kind);
        match (location, bytes) {
            (None, _) if needed => Err(Check::new(
                id(aspect),
                Status::Fail,
                format!("no {aspect} listed; the policy requires one for kind {} (manifest field `{aspect}`)", a.kind.as_str()),
            )),
            (None, _) => {
                Err(Check::new(id(aspect), Status::Skip, format!("no {aspect} listed (not required for kind {})", a.kind.as_str())))
            }
            (Some(l), Some(Err(e))) => Err(Check::new(id(aspect), Status::Fail, format!("{aspect} {l} {e}"))),
            (Some(l), Some(Ok(b))) => Ok((l.to_string(), b.clone())),
            (Some(l), None) => Err(Check::new(id(aspect), Status::Fail, format!("{aspect} {l} was not read"))),
        }
    };

    match evidence("sbom", &v.policy.require.sbom, &a.sbom, &obs.sbom) {
        Err(c) => {
            cells[1] = cell(c.status, "");
            checks.push(c);
        }
        Ok((l, bytes)) => match sbom::check(&bytes, &a.sha256) {
            Ok(d) => {
                checks.push(Check::new(id("sbom"), Status::Pass, format!("{l}: {} describes `{}` by {}", d.format, d.subject, d.by)));
                cells[1] = cell(Status::Pass, &d.format);
            }
            Err(e) => {
                checks.push(Check::new(id("sbom"), Status::Fail, said(&l, &e)));
                cells[1] = cell(Status::Fail, "");
            }
        },
    }

    match evidence("provenance", &v.policy.require.provenance, &a.provenance, &obs.provenance) {
        Err(c) => {
            cells[2] = cell(c.status, "");
            checks.push(c);
        }
        Ok((l, bytes)) => {
            let req = provenance::Requirements {
                builders: v.policy.provenance.builders.clone(),
                source_repository: v.policy.provenance.source_repository.clone(),
                allow_unsigned: v.policy.provenance.allow_unsigned,
            };
            match provenance::check(&bytes, &a.sha256, &req, v.keys, v.sigstore) {
                Ok(p) => {
                    checks.push(Check::new(
                        id("provenance"),
                        Status::Pass,
                        format!(
                            "{l}: SLSA v1 by `{}`{}, {}",
                            p.builder,
                            p.source.as_ref().map(|s| format!(" from {s}")).unwrap_or_default(),
                            p.signed_by
                        ),
                    ));
                    cells[2] = cell(Status::Pass, &p.builder);
                }
                Err(e) => {
                    checks.push(Check::new(id("provenance"), Status::Fail, said(&l, &e)));
                    cells[2] = cell(Status::Fail, "");
                }
            }
        }
    }

    match evidence("signature", &v.policy.require.signature, &a.signature, &obs.signature) {
        Err(c) => {
            cells[3] = cell(c.status, "");
            checks.push(c);
        }
        Ok((l, bytes)) => {
            let outcome = match digests {
                None => Err("cannot be checked: the artifact could not be read".to_owned()),
                Some(_) if !digest_ok => Err("not checked: the artifact's bytes are not the listed ones".to_owned()),
                Some(d) => verify_signature(&l, &bytes, d, v),
            };
            match outcome {
                Ok(who) => {
                    checks.push(Check::new(id("signature"), Status::Pass, format!("{l}: {who}")));
                    cells[3] = cell(Status::Pass, &who);
                }
                Err(e) => {
                    checks.push(Check::new(id("signature"), Status::Fail, format!("{l}: {e}")));
                    cells[3] = cell(Status::Fail, "");
                }
            }
        }
    }

    if a.kind == Kind::Snapshot {
        let c = retention(a, obs, v);
        cells[4] = cell(c.status, "");
        checks.push(c);
    } else {
        cells[4] = cell(Status::Skip, "");
    }
    Outcome { checks, cells }
}

/// `file is …` reads on; any other finding follows a colon.
fn said(file: &str, finding: &str) -> String {
    if finding.starts_with("is ") { format!("{file} {finding}") } else { format!("{file}: {finding}") }
}

fn verify_signature(shown: &str, bytes: &[u8], d: &Digests, v: &Verification) -> Result<String, String> {
    let text = String::from_utf8_lossy(bytes);
    if text.trim_start().starts_with("-----BEGIN SSH SIGNATURE-----") {
        let signers =
            v.signers.ok_or("is an SSH signature but the policy names no allowed-signers file (artifact-verify.allowed-signers)")?;
        let principals = signers
            .verify_digest(shown, &text, &v.policy.artifact_namespace, v.now.as_second(), |alg| match alg {
                HashAlg::Sha256 => Some(d.sha256.to_vec()),
                HashAlg::Sha512 => d.sha512.map(|x| x.to_vec()),
                _ => None,
            })
            .map_err(|e| e.to_string())?;
        return Ok(format!("SSH signature by {}", principals.first().cloned().unwrap_or_default()));
    }
    // cosign sign-blob: base64 ECDSA signature over the artifact's SHA-256.
    let sig = keys::b64(&text).ok_or("is neither an SSH signature nor a base64 cosign blob signature")?;
    if v.keys.is_empty() {
        return Err("is a cosign blob signature but the policy lists no keys (artifact-verify.provenance.keys)".into());
    }
    match v.keys.iter().find(|k| k.key.verify_sha256_digest(&d.sha256, &sig)) {
        Some(k) => Ok(format!("cosign signature by {} ({})", k.name, k.key.kind())),
        None => Err(format!(
            "the signature verifies with none of the policy's keys ({}); signed by another key, or the artifact changed",
            v.keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

fn retention(a: &Artifact, obs: &Observed, v: &Verification) -> Check {
    let id = format!("{}:retention", a.name);
    let p = &v.policy.retention;
    let Location::S3 { bucket, key } = &a.location else {
        return Check::new(
            id,
            Status::Fail,
            format!("{}: a snapshot's retention can only be proved in S3 with Object Lock; store it in the release bucket", a.location),
        );
    };
    let Some(h) = &obs.head else {
        return Check::new(id, Status::Fail, format!("s3://{bucket}/{key}: retention could not be read"));
    };
    let mut problems = Vec::new();
    match &obs.bucket_lock {
        Some(Ok(true)) => {}
        Some(Ok(false)) => problems.push(format!("bucket {bucket} does not have Object Lock enabled")),
        Some(Err(e)) => problems.push(format!("bucket {bucket}'s Object Lock configuration: {e}")),
        None => problems.push(format!("bucket {bucket}'s Object Lock configuration was not read")),
    }
    match h.lock_mode.as_deref() {
        None => problems.push("the object has no retention (no Object Lock mode)".into()),
        Some("COMPLIANCE") => {}
        Some("GOVERNANCE") if p.allow_governance => {}
        Some("GOVERNANCE") => problems.push(
            "retention mode is GOVERNANCE, which s3:BypassGovernanceRetention can shorten; COMPLIANCE is required (or allow it: retention.allow-governance)"
                .into(),
        ),
        Some(m) => problems.push(format!("unknown retention mode {m}")),
    }
    let mut span_days = None;
    match (h.retain_until, h.last_modified) {
        (Some(until), Some(modified)) => {
            let days = (until.as_second() - modified.as_second()) as f64 / 86_400.0;
            span_days = Some(days);
            if days + 1e-9 < f64::from(p.min_days) {
                problems.push(format!("retained {days:.1} days ({modified} → {until}), the policy requires ≥ {} days", p.min_days));
            }
            if until <= v.now {
                problems.push(format!("retention ended at {until}; the backup point may be deleted"));
            }
        }
        (None, _) if h.lock_mode.is_some() => problems.push("no RetainUntilDate".into()),
        _ => {}
    }
    if !problems.is_empty() {
        return Check::new(id, Status::Fail, format!("s3://{bucket}/{key}: {}", problems.join("; ")));
    }
    let until = h.retain_until.map(|t| t.to_string()).unwrap_or_default();
    // Lifecycle rules that would expire the key sooner than the retention.
    let mut risky = Vec::new();
    for r in obs.expiry.iter().filter(|r| key.starts_with(&r.prefix)) {
        let sooner_days = r.days.is_some_and(|d| f64::from(d) < span_days.unwrap_or(0.0).max(f64::from(p.min_days)));
        let sooner_date = r.date.zip(h.retain_until).is_some_and(|(d, u)| d < u);
        if sooner_days || sooner_date {
            risky.push(format!(
                "lifecycle rule `{}` (prefix `{}`) expires it {}",
                r.id,
                r.prefix,
                r.days.map(|d| format!("after {d} days")).or_else(|| r.date.map(|d| format!("on {d}"))).unwrap_or_default()
            ));
        }
    }
    let hold = if h.legal_hold { ", legal hold on" } else { "" };
    let mode = h.lock_mode.clone().unwrap_or_default();
    if risky.is_empty() {
        Check::new(id, Status::Pass, format!("s3://{bucket}/{key}: {mode} until {until} ({:.0} days){hold}", span_days.unwrap_or(0.0)))
    } else {
        Check::new(
            id,
            Status::Warn,
            format!(
                "s3://{bucket}/{key}: {mode} until {until}{hold}, but {}; Object Lock keeps the version, fix the rule so the key is not hidden by a delete marker",
                risky.join("; ")
            ),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::hash::Hasher;
    use crate::policy::Require;

    fn artifact(kind: Kind, bytes: &[u8]) -> Artifact {
        let mut h = Hasher::new(false);
        h.update(bytes);
        Artifact {
            name: "pricing".into(),
            kind,
            location: Location::Path(PathBuf::from("dist/pricing.whl")),
            sha256: h.finish().sha256_hex(),
            size: Some(bytes.len() as u64),
            sbom: None,
            provenance: None,
            signature: None,
        }
    }

    fn read(bytes: &[u8]) -> Observed {
        let mut h = Hasher::new(false);
        h.update(bytes);
        Observed { digests: Some(Ok(h.finish())), ..Observed::default() }
    }

    fn statuses(a: &Artifact, o: &Observed, policy: &ArtifactPolicy) -> Vec<(String, Status)> {
        let v = Verification { policy, signers: None, keys: &[], sigstore: None, now: jiff::Timestamp::UNIX_EPOCH };
        judge(a, o, &v).checks.into_iter().map(|c| (c.id, c.status)).collect()
    }

    fn status_of(checks: &[(String, Status)], id: &str) -> Status {
        checks.iter().find(|(i, _)| i == id).map(|(_, s)| *s).unwrap_or_else(|| panic!("no {id} in {checks:?}"))
    }

    #[test]
    fn the_listed_bytes_pass_and_anything_else_fails() {
        let none = ArtifactPolicy { require: Require { sbom: vec![], provenance: vec![], signature: vec![] }, ..ArtifactPolicy::default() };
        let a = artifact(Kind::Other, b"wheel bytes");
        assert_eq!(status_of(&statuses(&a, &read(b"wheel bytes"), &none), "pricing:digest"), Status::Pass);
        // Other bytes, the same length; fewer bytes; none at all; unreadable; never read.
        for o in [
            read(b"wheel bytez"),
            read(b"wheel"),
            read(b""),
            Observed { digests: Some(Err("cannot be read: permission denied".into())), ..Observed::default() },
        ] {
            assert_eq!(status_of(&statuses(&a, &o, &none), "pricing:digest"), Status::Fail, "{:?}", o.digests);
        }
        // The right digest but the wrong size in the manifest.
        let wrong_size = Artifact { size: Some(3), ..a.clone() };
        assert_eq!(status_of(&statuses(&wrong_size, &read(b"wheel bytes"), &none), "pricing:digest"), Status::Fail);
    }

    #[test]
    fn required_evidence_that_is_missing_or_unread_fails_never_skips() {
        let a = artifact(Kind::Wheel, b"w");
        let policy = ArtifactPolicy::default();
        let checks = statuses(&a, &read(b"w"), &policy);
        // The runbook's defaults require all three for a wheel.
        for aspect in ["sbom", "provenance", "signature"] {
            assert_eq!(status_of(&checks, &format!("pricing:{aspect}")), Status::Fail, "{aspect} missing: {checks:?}");
        }
        // Listed but not read (the reader never filled it in), or unreadable.
        let listed = Artifact { sbom: Some(Location::Path(PathBuf::from("dist/pricing.spdx.json"))), ..a.clone() };
        assert_eq!(status_of(&statuses(&listed, &read(b"w"), &policy), "pricing:sbom"), Status::Fail);
        let unreadable = Observed { sbom: Some(Err("is a FIFO, not a regular file".into())), ..read(b"w") };
        assert_eq!(status_of(&statuses(&listed, &unreadable, &policy), "pricing:sbom"), Status::Fail);
        // Evidence that is there but empty, or describes another digest.
        for bytes in [&b""[..], br#"{"spdxVersion":"SPDX-2.3","packages":[]}"#] {
            let o = Observed { sbom: Some(Ok(bytes.to_vec())), ..read(b"w") };
            assert_eq!(status_of(&statuses(&listed, &o, &policy), "pricing:sbom"), Status::Fail);
        }
    }
}
