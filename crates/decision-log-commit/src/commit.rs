//! Saving the log: through GitHub's contents API or `git`
//! ([`release_gate_core::decision_log::save`], shared with the gates that
//! record the release's lifecycle), and the S3 archive: every report and
//! the log under `s3://bucket/prefix`, each with its SHA-256 checksum,
//! which S3 verifies on upload.

use release_gate_core::exit::Unreachable;
use release_gate_s3 as s3;

pub use release_gate_core::decision_log::save::{SaveError, Saved, Target, via_api, via_git};

/// Why the log could not be saved or archived. GitHub's own errors keep
/// their `ApiError` in the chain (an unreachable API is exit 3); S3 staying
/// unreachable is [`Unreachable`].
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Saving the log.
    #[error("{0}")]
    Save(#[from] SaveError),
    /// S3 refused an upload.
    #[error("archiving to s3://{bucket}/{key}: {detail}")]
    Archive {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Why.
        detail: String,
    },
    /// S3 could not be reached.
    #[error("{0}")]
    Unreachable(#[from] Unreachable),
}

/// Uploads `files` under `s3://bucket/prefix` with SHA-256 checksums.
pub async fn archive(settings: &s3::Settings, bucket: &str, prefix: &str, files: &[(String, Vec<u8>)]) -> Result<usize, CommitError> {
    let client = s3::client(settings).await;
    for (name, bytes) in files {
        let key = format!("{prefix}{name}");
        s3::put(&client, bucket, &key, bytes.clone()).await.map_err(|e| match e {
            s3::ObjectError::Unreachable(m) => CommitError::Unreachable(Unreachable(format!("archiving to s3://{bucket}/{key}: {m}"))),
            other => CommitError::Archive { bucket: bucket.to_owned(), key, detail: other.to_string() },
        })?;
    }
    Ok(files.len())
}
