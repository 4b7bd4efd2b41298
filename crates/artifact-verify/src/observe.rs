//! What the rules read, at the edge: keys, evidence on disk or in S3, and
//! the files in the artifact directories.

use std::path::{Path, PathBuf};

use release_gate_core::Run;
use release_gate_core::paths::{PathError, Root};

use release_gate_s3 as s3;

use crate::keys::NamedKey;
use crate::manifest::{Location, Manifest};
use crate::policy::ArtifactPolicy;
use crate::{keys, provenance};

/// Why the policy's keys or the artifact directories could not be read
/// (exit 2: input to fix); what the evidence says about an artifact is not
/// an error but a failed check (the `Err(String)`s below).
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// A path the repository root refuses.
    #[error("{0}")]
    Path(#[from] PathError),
    /// A provenance key that is missing or unreadable.
    #[error("provenance key `{name}`: {source}; fix artifact-verify.provenance.keys")]
    KeyFile {
        /// The key's name in the policy.
        name: String,
        /// Why.
        source: PathError,
    },
    /// A key file that is not a public key.
    #[error("{path}: {why}")]
    Key {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
    /// A Sigstore trusted root that does not read.
    #[error("{path} is not a Sigstore trusted root: {why}; fix artifact-verify.provenance.sigstore.trusted-root")]
    TrustedRoot {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
    /// An artifacts directory that cannot be listed.
    #[error("cannot list artifacts directory {path}: {source}")]
    List {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Files under the manifest's directories that the manifest does not name.
pub fn unlisted(root: &Root, manifest: &Manifest, manifest_path: &Path) -> Result<Vec<PathBuf>, ObserveError> {
    let mut listed = manifest.local_paths();
    listed.insert(manifest_path.to_owned());
    listed.insert(PathBuf::from(format!("{}.sig", manifest_path.display())));
    let mut out = Vec::new();
    for dir in &manifest.directories {
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            let list = |source| ObserveError::List { path: d.display().to_string(), source };
            let entries = std::fs::read_dir(root.resolve(&d, "artifacts directory")?).map_err(list)?;
            for e in entries {
                let e = e.map_err(list)?;
                let rel = d.join(e.file_name());
                if e.file_type().map_err(list)?.is_dir() {
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
pub fn load_keys(run: &Run<ArtifactPolicy>) -> Result<(Vec<NamedKey>, Option<provenance::Sigstore>), ObserveError> {
    let policy = &run.policy.section;
    let mut keys = Vec::new();
    for k in &policy.provenance.keys {
        let text =
            run.root.read_text(&k.path, "provenance key").map_err(|source| ObserveError::KeyFile { name: k.name.clone(), source })?;
        let key =
            keys::PublicKey::from_pem(&text).map_err(|e| ObserveError::Key { path: k.path.display().to_string(), why: e.to_string() })?;
        keys.push(NamedKey { name: k.name.clone(), key });
    }
    let sigstore = match &policy.provenance.sigstore {
        None => None,
        Some(s) => {
            let text = run.root.read_text(&s.trusted_root, "Sigstore trusted root (artifact-verify.provenance.sigstore.trusted-root)")?;
            let bad =
                |e: &dyn std::fmt::Display| ObserveError::TrustedRoot { path: s.trusted_root.display().to_string(), why: e.to_string() };
            let root = sigstore_verify::trust_root::TrustedRoot::from_json(&text).map_err(|e| bad(&e))?;
            let verifier = sigstore_verify::Verifier::new(&root).map_err(|e| bad(&e))?;
            Some(provenance::Sigstore { verifier, identity: s.identity.clone(), issuer: s.issuer.clone() })
        }
    };
    Ok((keys, sigstore))
}

/// A file of the repository an artifact or its evidence is: a regular
/// file whose real path stays inside the repository, or why not (a failed
/// check names it).
pub fn local_file(root: &Root, p: &Path) -> Result<PathBuf, String> {
    root.file(p, "file").map_err(|e| match e {
        PathError::NotFound { .. } => "is missing".to_owned(),
        PathError::Outside { why, .. } => format!("leads outside the repository ({why}), so it is not verified"),
        PathError::NotAFile { kind, .. } => format!("is {kind}, not a regular file"),
        other => format!("cannot be read: {other}"),
    })
}

/// Reads a piece of evidence from disk (bounded) or S3.
pub async fn read_evidence(
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
