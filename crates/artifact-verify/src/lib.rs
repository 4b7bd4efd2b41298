//! artifact-verify: every artifact of the release is the one that was built,
//! signed, described by an SBOM, attested by provenance, and, for data
//! snapshots, retained (runbook §1).
//!
//! [`run`] reads the manifest, its signature and every artifact and piece of
//! evidence (disk or S3) at the edge; [`judge`] turns what was observed into
//! checks without touching the file system or the network.

pub mod hash;
pub mod keys;
pub mod manifest;
pub mod provenance;
pub mod sbom;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use clap::Parser;
use release_gate_core::cli::CommonArgs;
use release_gate_core::context::Context;
use release_gate_core::paths::{PathError, Root};
use release_gate_core::report::{Check, Section, Status, Verdict, data};
use release_gate_core::signing::{AllowedSigners, HashAlg};
use release_gate_core::{Run, render};
use serde::Deserialize;

use release_gate_s3 as s3;

use crate::hash::Digests;
use crate::keys::NamedKey;
use crate::manifest::{Artifact, Kind, Location, Manifest};

/// Verify every artifact in the release manifest: digest, size, signature,
/// SBOM, provenance and (snapshots) S3 Object Lock retention.
#[derive(Debug, Parser)]
#[command(name = "artifact-verify", version, max_term_width = 100)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,

    /// Artifact manifest [default: from the policy, releases/<release>/artifacts.yaml].
    #[arg(long, env = "RELEASE_GATE_MANIFEST", value_name = "PATH")]
    pub manifest: Option<PathBuf>,

    /// S3 endpoint for S3-compatible stores [default: policy, then AWS_ENDPOINT_URL_S3 / the AWS chain].
    #[arg(long, env = "RELEASE_GATE_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// S3 region [default: policy, then the AWS chain].
    #[arg(long, env = "RELEASE_GATE_S3_REGION", value_name = "REGION")]
    pub s3_region: Option<String>,

    /// Path-style S3 addressing (endpoint/bucket/key), as most S3-compatible stores need.
    #[arg(long, env = "RELEASE_GATE_S3_PATH_STYLE")]
    pub s3_path_style: bool,

    /// Strict mode: unlisted files in the manifest's directories fail [default: policy, true].
    #[arg(long, env = "RELEASE_GATE_STRICT", value_name = "BOOL")]
    pub strict: Option<bool>,

    /// Hashing threads [default: the number of cores].
    #[arg(long, env = "RELEASE_GATE_THREADS", value_name = "N")]
    pub threads: Option<usize>,
}

impl Args {
    /// A local run's flags (`release-gate run`): the policy's settings, nothing from the environment.
    pub fn local(common: CommonArgs) -> Self {
        Self { common, manifest: None, s3_endpoint: None, s3_region: None, s3_path_style: false, strict: None, threads: None }
    }
}

impl release_gate_core::gate::Gate for Args {
    const NAME: &'static str = "artifact-verify";

    fn common(&self) -> &CommonArgs {
        &self.common
    }

    fn run(self, ctx: Context) -> anyhow::Result<Verdict> {
        run(self, ctx)
    }
}

/// Which kinds need which evidence.
#[derive(Debug, Clone, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Name shown in reports.
    pub name: String,
    /// PEM public key, relative to the repository root.
    pub path: PathBuf,
}

/// Sigstore keyless verification.
#[derive(Debug, Clone, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
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
#[derive(Debug, Clone, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
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
#[derive(Debug, Clone, Deserialize, PartialEq)]
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

/// Files under the manifest's directories that the manifest does not name.
pub fn unlisted(root: &Root, manifest: &Manifest, manifest_path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut listed = manifest.local_paths();
    listed.insert(manifest_path.to_owned());
    listed.insert(PathBuf::from(format!("{}.sig", manifest_path.display())));
    let mut out = Vec::new();
    for dir in &manifest.directories {
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            let entries = std::fs::read_dir(root.resolve(&d, "artifacts directory")?)
                .with_context(|| format!("cannot list artifacts directory {}", d.display()))?;
            for e in entries {
                let e = e?;
                let rel = d.join(e.file_name());
                if e.file_type()?.is_dir() {
                    stack.push(rel);
                } else if !listed.contains(&rel) {
                    out.push(rel);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Loads the policy's keys and Sigstore trusted root (errors are exit 2).
fn load_keys(run: &Run<ArtifactPolicy>) -> anyhow::Result<(Vec<NamedKey>, Option<provenance::Sigstore>)> {
    let policy = &run.policy.section;
    let mut keys = Vec::new();
    for k in &policy.provenance.keys {
        let text = run
            .root
            .read_text(&k.path, "provenance key")
            .with_context(|| format!("provenance key `{}`: fix artifact-verify.provenance.keys", k.name))?;
        let key = keys::PublicKey::from_pem(&text).map_err(|e| anyhow::anyhow!("{}: {e}", k.path.display()))?;
        keys.push(NamedKey { name: k.name.clone(), key });
    }
    let sigstore = match &policy.provenance.sigstore {
        None => None,
        Some(s) => {
            let text = run.root.read_text(&s.trusted_root, "Sigstore trusted root (artifact-verify.provenance.sigstore.trusted-root)")?;
            let root = sigstore_verify::trust_root::TrustedRoot::from_json(&text)
                .map_err(|e| anyhow::anyhow!("{} is not a Sigstore trusted root: {e}", s.trusted_root.display()))?;
            let verifier = sigstore_verify::Verifier::new(&root).map_err(|e| anyhow::anyhow!("{}: {e}", s.trusted_root.display()))?;
            Some(provenance::Sigstore { verifier, identity: s.identity.clone(), issuer: s.issuer.clone() })
        }
    };
    Ok((keys, sigstore))
}

/// A file of the repository an artifact or its evidence is: a regular
/// file whose real path stays inside the repository, or why not (a failed
/// check names it).
fn local_file(root: &Root, p: &Path) -> Result<PathBuf, String> {
    root.file(p, "file").map_err(|e| match e {
        PathError::NotFound { .. } => "is missing".to_owned(),
        PathError::Outside { why, .. } => format!("leads outside the repository ({why}), so it is not verified"),
        PathError::NotAFile { kind, .. } => format!("is {kind}, not a regular file"),
        other => format!("cannot be read: {other}"),
    })
}

/// Reads a piece of evidence from disk (bounded) or S3.
async fn read_evidence(
    root: &Root,
    loc: &Location,
    s3: Option<&aws_sdk_s3::Client>,
    limit: u64,
) -> Result<Result<Vec<u8>, String>, s3::ObjectError> {
    match loc {
        Location::Path(p) => Ok(local_file(root, p).and_then(|path| match std::fs::metadata(&path) {
            Err(e) => Err(format!("cannot be read: {e}")),
            Ok(m) if m.len() > limit => Err(format!("is {} bytes, more than the {limit} read for evidence", m.len())),
            Ok(_) => std::fs::read(&path).map_err(|e| format!("cannot be read: {e}")),
        })),
        Location::S3 { bucket, key } => {
            let Some(c) = s3 else { return Ok(Err("S3 client missing".into())) };
            match s3::fetch(c, bucket, key, limit).await {
                Ok(b) => Ok(Ok(b)),
                Err(s3::ObjectError::Unreachable(m)) => Err(s3::ObjectError::Unreachable(m)),
                Err(e) => Ok(Err(e.to_string())),
            }
        }
    }
}

/// Reads the manifest, its signature and every artifact; judges and publishes.
pub fn run(args: Args, ctx: Context) -> anyhow::Result<Verdict> {
    let run = Run::<ArtifactPolicy>::start("artifact-verify", args.common, ctx)?;
    let now = run.now;
    let policy = run.policy.section.clone();
    let root = run.root.clone();
    let manifest_path = args.manifest.clone().unwrap_or_else(|| PathBuf::from(policy.manifest.replace("{release}", &run.release)));
    let manifest_shown = manifest_path.display().to_string();
    let text = match root.read_text(&manifest_path, "artifact manifest") {
        Ok(t) => t,
        Err(e) if e.is_not_found() => anyhow::bail!("{e}; write it (see docs/artifact-verify.md) or pass --manifest"),
        Err(e) => return Err(e.into()),
    };
    let manifest_rel = root.resolve(&manifest_path, "artifact manifest")?.strip_prefix(root.real()).map(Path::to_owned).unwrap_or_default();
    let manifest = Manifest::parse(&text, &manifest_path)?;
    let signers = match &policy.allowed_signers {
        Some(p) => Some(AllowedSigners::read(&root, p)?),
        None => None,
    };
    let (keys, sigstore) = load_keys(&run)?;

    let mut report = run.new_report();
    // The manifest's own signature: without it, nothing below can be trusted.
    let sig_path = PathBuf::from(format!("{manifest_shown}.sig"));
    report.push(match (&signers, root.read_text_if_present(&sig_path, "manifest signature")?) {
        (None, _) => Check::new(
            "manifest-signature",
            Status::Fail,
            "the policy names no allowed-signers file (artifact-verify.allowed-signers), so the manifest's signature cannot be verified",
        ),
        (Some(_), None) => Check::new(
            "manifest-signature",
            Status::Fail,
            format!(
                "{manifest_shown} is not signed: no {} beside it; sign it with ssh-keygen -Y sign -n {} -f KEY {manifest_shown}",
                sig_path.display(),
                policy.manifest_namespace
            ),
        ),
        (Some(s), Some(sig)) => match s.verify(&manifest_shown, text.as_bytes(), &sig, &policy.manifest_namespace, now.as_second()) {
            Ok(p) => Check::new(
                "manifest-signature",
                Status::Pass,
                format!("{manifest_shown} signed by {}", p.first().cloned().unwrap_or_default()),
            ),
            Err(e) => Check::new("manifest-signature", Status::Fail, e.to_string()),
        },
    });
    if let Some(r) = &manifest.release
        && *r != run.release
    {
        report.push(Check::new("manifest-release", Status::Fail, format!("{manifest_shown} is for release {r}, not {}", run.release)));
    }

    // Read everything: evidence first (a signature decides whether SHA-512 is needed).
    let needs_s3 = manifest.artifacts.iter().any(|a| {
        [Some(&a.location), a.sbom.as_ref(), a.provenance.as_ref(), a.signature.as_ref()]
            .into_iter()
            .flatten()
            .any(|l| matches!(l, Location::S3 { .. }))
    });
    let settings = s3::Settings {
        endpoint: args.s3_endpoint.clone().or(policy.s3.endpoint.clone()),
        region: args.s3_region.clone().or(policy.s3.region.clone()),
        path_style: args.s3_path_style || policy.s3.path_style,
        attempts: env_num("RELEASE_GATE_S3_ATTEMPTS", 4),
        attempt_timeout: Duration::from_secs(env_num("RELEASE_GATE_S3_TIMEOUT_S", 60).into()),
    };
    let client = if needs_s3 { Some(run.block_on(s3::client(&settings))) } else { None };
    let limit = policy.max_evidence_bytes;
    let mut observed: Vec<Observed> = Vec::with_capacity(manifest.artifacts.len());
    let unreachable = |e: s3::ObjectError| -> anyhow::Error {
        release_gate_core::exit::Unreachable(format!("{e}; check the endpoint, network and credentials (exit 3)")).into()
    };
    for a in &manifest.artifacts {
        let mut o = Observed::default();
        for (loc, slot) in [(&a.sbom, &mut o.sbom), (&a.provenance, &mut o.provenance), (&a.signature, &mut o.signature)] {
            if let Some(l) = loc {
                *slot = Some(run.block_on(read_evidence(&root, l, client.as_ref(), limit)).map_err(unreachable)?);
            }
        }
        observed.push(o);
    }
    let needs_sha512 = |o: &Observed| {
        o.signature
            .as_ref()
            .and_then(|s| s.as_ref().ok())
            .and_then(|b| release_gate_core::signing::signature_hash(&String::from_utf8_lossy(b)))
            == Some(HashAlg::Sha512)
    };
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let mut refused = Vec::new();
    let local: Vec<(usize, hash::Job)> = manifest
        .artifacts
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match &a.location {
            Location::Path(p) => match local_file(&root, p) {
                Ok(path) => Some((i, hash::Job { path, sha512: needs_sha512(&observed[i]) })),
                Err(why) => {
                    refused.push((i, why));
                    None
                }
            },
            Location::S3 { .. } => None,
        })
        .collect();
    for (i, why) in refused {
        observed[i].digests = Some(Err(why));
    }
    // Local files hash on worker threads while S3 objects stream on this one.
    let (local_results, s3_result) = std::thread::scope(|scope| {
        let jobs: Vec<hash::Job> = local.iter().map(|(_, j)| j.clone()).collect();
        let worker = scope.spawn(move || hash::hash_files(&jobs, threads));
        let s3_part = run.block_on(async {
            let mut out = Vec::new();
            for (i, a) in manifest.artifacts.iter().enumerate() {
                let Location::S3 { bucket, key } = &a.location else { continue };
                let Some(c) = client.as_ref() else { continue };
                let head = match s3::head(c, bucket, key).await {
                    Ok(h) => h,
                    Err(e @ s3::ObjectError::Unreachable(_)) => return Err(e),
                    Err(e) => {
                        out.push((i, Err(e.to_string()), None, None, Vec::new()));
                        continue;
                    }
                };
                let mut hasher = hash::Hasher::new(needs_sha512(&observed[i]));
                let digests = match s3::stream(c, bucket, key, |chunk| hasher.update(chunk)).await {
                    Ok(()) => Ok(hasher.finish()),
                    Err(e @ s3::ObjectError::Unreachable(_)) => return Err(e),
                    Err(e) => Err(e.to_string()),
                };
                let (lock, expiry) = if a.kind == Kind::Snapshot {
                    let lock = match s3::lock_enabled(c, bucket).await {
                        Err(e @ s3::ObjectError::Unreachable(_)) => return Err(e),
                        other => other.map_err(|e| e.to_string()),
                    };
                    let expiry = match s3::expiry_rules(c, bucket).await {
                        Ok(r) => r,
                        Err(e @ s3::ObjectError::Unreachable(_)) => return Err(e),
                        Err(_) => Vec::new(),
                    };
                    (Some(lock), expiry)
                } else {
                    (None, Vec::new())
                };
                out.push((i, digests, Some(head), lock, expiry));
            }
            Ok(out)
        });
        (worker.join(), s3_part)
    });
    let local_results = local_results.map_err(|_| anyhow::anyhow!("a hashing thread panicked"))?;
    for ((i, _), r) in local.iter().zip(local_results) {
        observed[*i].digests =
            Some(r.map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound { "is missing".to_owned() } else { format!("cannot be read: {e}") }
            }));
    }
    for (i, digests, head, lock, expiry) in s3_result.map_err(unreachable)? {
        let o = &mut observed[i];
        o.digests = Some(digests);
        o.head = head;
        o.bucket_lock = lock;
        o.expiry = expiry;
    }

    let v = Verification { policy: &policy, signers: signers.as_ref(), keys: &keys, sigstore: sigstore.as_ref(), now };
    let mut table = render::Table::new(&["artifact", "kind", "location", "digest", "SBOM", "provenance", "signature", "retention"]);
    let mut failed = BTreeSet::new();
    for (a, o) in manifest.artifacts.iter().zip(&observed) {
        let out = judge(a, o, &v);
        if out.checks.iter().any(|c| c.status == Status::Fail) {
            failed.insert(a.name.clone());
        }
        table.row([render::code(&a.name), a.kind.as_str().to_owned(), render::code(&a.location)].into_iter().chain(out.cells));
        for c in out.checks {
            report.push(c);
        }
    }
    let strict = args.strict.unwrap_or(policy.strict);
    if !manifest.directories.is_empty() {
        let extra = unlisted(&root, &manifest, &manifest_rel)?;
        report.push(if extra.is_empty() {
            Check::new("unlisted", Status::Pass, format!("every file in {} is listed", dirs(&manifest)))
        } else {
            let shown: Vec<String> = extra.iter().take(10).map(|p| format!("`{}`", p.display())).collect();
            Check::new(
                "unlisted",
                if strict { Status::Fail } else { Status::Warn },
                format!(
                    "{} file(s) in {} are not in the manifest: {}{}; list them or remove them{}",
                    extra.len(),
                    dirs(&manifest),
                    shown.join(", "),
                    if extra.len() > 10 { ", …" } else { "" },
                    if strict { "" } else { " (strict mode is off)" }
                ),
            )
        });
    }
    let n = manifest.artifacts.len();
    report.output("artifacts", n.to_string());
    report.output("failed", failed.len().to_string());
    report.title = match (failed.len(), report.verdict) {
        (0, Verdict::Fail) => "The artifact manifest is not trustworthy".into(),
        (0, _) => format!("All {n} artifact(s) verified"),
        (k, _) => format!("{k} of {n} artifact(s) failed verification: {}", failed.iter().take(5).cloned().collect::<Vec<_>>().join(", ")),
    };
    report.details.push(Section { title: format!("Artifacts ({n})"), markdown: table.finish() });
    report.set_data(&data::ArtifactVerify {
        manifest: manifest_shown,
        artifacts: manifest
            .artifacts
            .iter()
            .zip(&observed)
            .map(|(a, o)| {
                let digests = o.digests.as_ref().and_then(|d| d.as_ref().ok());
                data::Artifact {
                    name: a.name.clone(),
                    kind: a.kind.as_str().to_owned(),
                    location: a.location.to_string(),
                    sha256: digests.map(Digests::sha256_hex),
                    expected_sha256: a.sha256.clone(),
                    size: digests.map(|d| d.size),
                    retain_until: o.head.as_ref().and_then(|h| h.retain_until).map(|t| t.to_string()),
                    lock_mode: o.head.as_ref().and_then(|h| h.lock_mode.clone()),
                }
            })
            .collect(),
    });
    run.finish(report)
}

fn dirs(m: &Manifest) -> String {
    m.directories.iter().map(|d| format!("`{}/`", d.display())).collect::<Vec<_>>().join(", ")
}

fn env_num(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
