//! artifact-verify: every artifact of the release is the one that was built,
//! signed, described by an SBOM, attested by provenance, and, for data
//! snapshots, retained (runbook §1).
//!
//! [`run`] reads the manifest, its signature and every artifact and piece of
//! evidence (disk or S3) at the edge; [`judge`] turns what was observed into
//! checks without touching the file system or the network.

pub mod hash;
pub mod judge;
pub mod keys;
pub mod manifest;
pub mod observe;
pub mod policy;
pub mod provenance;
pub mod sbom;

pub use judge::{Observed, Outcome, Verification, judge};
pub use observe::{load_keys, local_file, read_evidence, unlisted};
pub use policy::{ArtifactPolicy, KeyFile, ProvenancePolicy, Require, RetentionPolicy, S3Policy, SigstorePolicy};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Parser;
use release_gate_core::cli::CommonArgs;
use release_gate_core::context::Context;
use release_gate_core::report::{Check, Section, Status, Verdict, data};
use release_gate_core::signing::{AllowedSigners, HashAlg};
use release_gate_core::{Run, render};

use release_gate_s3 as s3;

use crate::hash::Digests;
use crate::manifest::{Kind, Location, Manifest};

/// Verify every artifact in the release manifest: digest, size, signature,
/// SBOM, provenance and (snapshots) S3 Object Lock retention.
#[derive(Debug, Parser)]
#[command(name = "artifact-verify", version, max_term_width = 100, after_help = release_gate_core::cli::after_help(&[("every artifact in releases/2.4.0/artifacts.yaml", "artifact-verify --release 2.4.0"), ("another manifest", "artifact-verify --release 2.4.0 --manifest dist/artifacts.yaml")]))]
pub struct Args {
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

    /// Flags every gate shares (listed after the gate's own).
    #[command(flatten)]
    pub common: CommonArgs,
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
        attempts: run.ctx.s3_attempts,
        attempt_timeout: run.ctx.s3_attempt_timeout,
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
