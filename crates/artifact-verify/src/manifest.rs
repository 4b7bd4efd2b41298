//! The release artifact manifest, `releases/<release>/artifacts.yaml`.
//!
//! ```yaml
//! release: 2.4.0
//! directories: [dist]            # strict mode: every file here must be listed
//! artifacts:
//!   - name: order-router
//!     kind: image                # image | wheel | template | snapshot | other
//!     location: dist/order-router.oci.tar      # or s3://bucket/key
//!     sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//!     size: 1048576
//!     sbom: dist/order-router.cdx.json
//!     provenance: dist/order-router.intoto.json
//!     signature: dist/order-router.oci.tar.sig
//! ```
//!
//! Locations are relative to the repository root (the workspace); absolute
//! paths and `..` are refused so a manifest cannot point outside it.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

/// What an artifact is; decides which evidence it needs.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A container image (an OCI or docker archive).
    Image,
    /// A Python wheel.
    Wheel,
    /// An infrastructure template.
    Template,
    /// A data snapshot (backup point); needs retention.
    Snapshot,
    /// Anything else: digest and size only, unless the policy asks more.
    Other,
}

impl Kind {
    /// The name as written in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Wheel => "wheel",
            Kind::Template => "template",
            Kind::Snapshot => "snapshot",
            Kind::Other => "other",
        }
    }
}

/// Where bytes are.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    /// A file under the repository root.
    Path(PathBuf),
    /// An S3 object.
    S3 {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Path(p) => write!(f, "{}", p.display()),
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

impl Location {
    /// Parses a manifest location; `what` names the field for errors.
    pub fn parse(text: &str, what: &str) -> Result<Self, String> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() || key.is_empty() {
                return Err(format!("{what} `{text}` is not s3://bucket/key"));
            }
            return Ok(Location::S3 { bucket: bucket.to_owned(), key: key.to_owned() });
        }
        if text.contains("://") {
            return Err(format!("{what} `{text}`: only repository paths and s3:// locations are supported"));
        }
        Ok(Location::Path(inside(text, what)?))
    }
}

/// A relative path that stays under the root: no absolute path, no `..`.
pub fn inside(text: &str, what: &str) -> Result<PathBuf, String> {
    let p = Path::new(text);
    if text.is_empty() {
        return Err(format!("{what} is empty"));
    }
    for c in p.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!("{what} `{text}` escapes the workspace with `..`; list files inside the repository"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("{what} `{text}` is absolute; write it relative to the repository root"));
            }
        }
    }
    Ok(p.components().filter(|c| !matches!(c, Component::CurDir)).collect())
}

/// One artifact as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArtifact {
    name: String,
    kind: Kind,
    location: String,
    sha256: String,
    size: Option<u64>,
    sbom: Option<String>,
    provenance: Option<String>,
    signature: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    release: Option<String>,
    #[serde(default)]
    directories: Vec<String>,
    artifacts: Vec<RawArtifact>,
}

/// One artifact, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Unique name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Where the bytes are.
    pub location: Location,
    /// Expected SHA-256, lowercase hex.
    pub sha256: String,
    /// Expected size in bytes.
    pub size: Option<u64>,
    /// SBOM document.
    pub sbom: Option<Location>,
    /// Provenance (statement, DSSE envelope or Sigstore bundle).
    pub provenance: Option<Location>,
    /// Detached signature (SSH signature or cosign blob signature).
    pub signature: Option<Location>,
}

/// The manifest, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The release it is for, when it says.
    pub release: Option<String>,
    /// Artifact directories checked for unlisted files.
    pub directories: Vec<PathBuf>,
    /// Artifacts.
    pub artifacts: Vec<Artifact>,
}

/// A manifest that does not read, or lists what cannot be verified.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not YAML of the manifest's shape, at its line.
    #[error("{0}")]
    Yaml(#[from] release_gate_core::policy::PolicyError),
    /// Entries that cannot be verified, each named with the file and entry.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

impl Manifest {
    /// Parses and validates the manifest text; `path` is shown in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ManifestError> {
        let raw: RawManifest = release_gate_core::policy::parse_yaml(text, path)?;
        let shown = path.display();
        let mut names = BTreeSet::new();
        let mut artifacts = Vec::new();
        let mut problems = Vec::new();
        for (i, a) in raw.artifacts.into_iter().enumerate() {
            let at = format!("{shown}: artifacts[{i}] `{}`", a.name);
            if a.name.trim().is_empty() {
                problems.push(format!("{shown}: artifacts[{i}] has an empty name"));
                continue;
            }
            if !names.insert(a.name.clone()) {
                problems.push(format!("{at}: the name is listed twice; names must be unique"));
            }
            let sha = a.sha256.trim().to_ascii_lowercase();
            let sha = sha.strip_prefix("sha256:").unwrap_or(&sha).to_owned();
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                problems.push(format!("{at}: sha256 `{}` is not 64 hexadecimal digits", a.sha256));
            }
            let mut parse = |field: &str, v: Option<&String>| -> Option<Location> {
                v.and_then(|v| Location::parse(v, field).map_err(|e| problems.push(format!("{at}: {e}"))).ok())
            };
            let location = parse("location", Some(&a.location));
            let sbom = parse("sbom", a.sbom.as_ref());
            let provenance = parse("provenance", a.provenance.as_ref());
            let signature = parse("signature", a.signature.as_ref());
            if let Some(location) = location {
                artifacts.push(Artifact { name: a.name, kind: a.kind, location, sha256: sha, size: a.size, sbom, provenance, signature });
            }
        }
        let mut directories = Vec::new();
        for d in &raw.directories {
            match inside(d, "directories entry") {
                Ok(p) => directories.push(p),
                Err(e) => problems.push(format!("{shown}: {e}")),
            }
        }
        if artifacts.is_empty() && problems.is_empty() {
            problems.push(format!("{shown}: lists no artifacts; a release manifest must list what is released"));
        }
        if !problems.is_empty() {
            return Err(ManifestError::Invalid(problems));
        }
        Ok(Self { release: raw.release, directories, artifacts })
    }

    /// Every repository path the manifest names (artifacts and their evidence).
    pub fn local_paths(&self) -> BTreeSet<PathBuf> {
        let mut out = BTreeSet::new();
        for a in &self.artifacts {
            for l in [Some(&a.location), a.sbom.as_ref(), a.provenance.as_ref(), a.signature.as_ref()].into_iter().flatten() {
                if let Location::Path(p) = l {
                    out.insert(p.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const GOOD: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn locations() {
        assert_eq!(Location::parse("s3://b/k/x", "location"), Ok(Location::S3 { bucket: "b".into(), key: "k/x".into() }));
        assert!(Location::parse("s3://b", "location").is_err());
        assert!(Location::parse("https://x/y", "location").is_err());
        assert_eq!(Location::parse("./dist/a", "location"), Ok(Location::Path("dist/a".into())));
        assert!(Location::parse("dist/../../etc/passwd", "location").unwrap_err().contains("escapes the workspace"));
        assert!(Location::parse("/etc/passwd", "location").unwrap_err().contains("absolute"));
    }

    #[test]
    fn every_problem_is_named_with_the_artifact() {
        let text = format!(
            "artifacts:\n  - {{name: a, kind: image, location: ../a, sha256: xyz}}\n  - {{name: a, kind: wheel, location: w.whl, sha256: {GOOD}, sbom: /abs}}\n"
        );
        let e = Manifest::parse(&text, Path::new("m.yaml")).unwrap_err().to_string();
        assert!(e.contains("artifacts[0] `a`: location `../a` escapes"), "{e}");
        assert!(e.contains("artifacts[0] `a`: sha256 `xyz` is not 64"), "{e}");
        assert!(e.contains("artifacts[1] `a`: the name is listed twice"), "{e}");
        assert!(e.contains("artifacts[1] `a`: sbom `/abs` is absolute"), "{e}");
    }

    #[test]
    fn unknown_fields_and_kinds_are_errors_with_lines() {
        let e = Manifest::parse("artifacts:\n  - {name: a, kind: jar, location: a, sha256: x}\n", Path::new("m.yaml")).unwrap_err();
        assert!(e.to_string().starts_with("m.yaml:2:"), "{e}");
        let e = Manifest::parse(
            &format!("artifacts:\n  - name: a\n    kind: image\n    location: a\n    sha256: {GOOD}\n    sig: x\n"),
            Path::new("m.yaml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("m.yaml:"), "{e}");
        let e = Manifest::parse("artifacts: []\n", Path::new("m.yaml")).unwrap_err();
        assert!(e.to_string().contains("lists no artifacts"));
    }
}
