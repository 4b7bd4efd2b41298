//! S3 through aws-sdk-s3, for every gate that uses it (artifact-verify's
//! artifacts and retention, decision-log-commit's archive): objects streamed,
//! S3's own SHA-256 checksum read, Object Lock retention and lifecycle rules
//! read, uploads with a SHA-256 checksum S3 verifies.
//!
//! Credentials, region and endpoint come from the standard AWS chain
//! (`AWS_ACCESS_KEY_ID`, profiles, web identity, instance metadata…);
//! `--s3-endpoint` (or `AWS_ENDPOINT_URL_S3`) and path-style addressing serve
//! S3-compatible stores. Throttling (503 SlowDown), 5xx and timeouts are
//! retried by the SDK's standard retry mode with backoff
//! (`RELEASE_GATE_S3_ATTEMPTS`, default 4); 403 and 404 are answers, not
//! outages, and become failed checks naming the object; an S3 that stays
//! unreachable is exit 3.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::ChecksumMode;
use base64::Engine as _;
use sha2::Digest as _;

/// How to reach S3.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Endpoint URL for S3-compatible stores.
    pub endpoint: Option<String>,
    /// Region (else the AWS chain's, else us-east-1).
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`).
    pub path_style: bool,
    /// Attempts per request (throttling, 5xx, timeouts).
    pub attempts: u32,
    /// Per-attempt timeout.
    pub attempt_timeout: Duration,
}

/// Why an object could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectError {
    /// 404.
    NotFound,
    /// 403.
    Forbidden(String),
    /// S3 could not be reached, or kept failing after retries.
    Unreachable(String),
    /// Any other answer.
    Other(String),
}

impl std::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectError::NotFound => write!(f, "does not exist (404)"),
            ObjectError::Forbidden(m) => {
                write!(f, "access denied (403: {m}); grant the job's role s3:GetObject and s3:GetObjectRetention on it")
            }
            ObjectError::Unreachable(m) => write!(f, "S3 unreachable: {m}"),
            ObjectError::Other(m) => write!(f, "{m}"),
        }
    }
}

/// Builds a client from the AWS chain and the settings.
pub async fn client(s: &Settings) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = &s.region {
        loader = loader.region(Region::new(r.clone()));
    }
    let shared = loader.load().await;
    let mut b = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(s.path_style)
        // S3-compatible stores reject the CRC checksums newer SDKs send by default.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .retry_config(RetryConfig::standard().with_max_attempts(s.attempts.max(1)).with_initial_backoff(Duration::from_millis(200)))
        .timeout_config(
            TimeoutConfig::builder().connect_timeout(Duration::from_secs(5)).operation_attempt_timeout(s.attempt_timeout).build(),
        );
    if shared.region().is_none() && s.region.is_none() {
        b = b.region(Region::new("us-east-1"));
    }
    if let Some(e) = &s.endpoint {
        b = b.endpoint_url(e);
    }
    Client::from_conf(b.build())
}

fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> ObjectError {
    match &e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = match (se.err().code(), status) {
                (Some(c), _) => c.to_owned(),
                // A HEAD answer has no body to carry the code.
                (None, 503) => "SlowDown".to_owned(),
                (None, _) => String::new(),
            };
            let msg = se.err().message().unwrap_or_default().to_owned();
            match status {
                404 => ObjectError::NotFound,
                403 => ObjectError::Forbidden(if code.is_empty() { "Forbidden".into() } else { format!("{code} {msg}").trim().to_owned() }),
                429 | 500.. => ObjectError::Unreachable(format!("{status} {code} after retries").replace("  ", " ")),
                _ => ObjectError::Other(format!("S3 answered {status} {code} {msg}").trim().to_owned()),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            ObjectError::Unreachable(DisplayErrorContext(&e).to_string())
        }
        _ => ObjectError::Other(DisplayErrorContext(&e).to_string()),
    }
}

/// What HeadObject says of an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    /// Size in bytes.
    pub size: Option<u64>,
    /// S3's SHA-256 checksum (base64; composite for multipart uploads, `…-N`).
    pub checksum_sha256: Option<String>,
    /// Last modified.
    pub last_modified: Option<jiff::Timestamp>,
    /// Object Lock mode (`COMPLIANCE`, `GOVERNANCE`).
    pub lock_mode: Option<String>,
    /// Object Lock retain-until date.
    pub retain_until: Option<jiff::Timestamp>,
    /// Legal hold on.
    pub legal_hold: bool,
}

fn ts(d: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<jiff::Timestamp> {
    d.and_then(|d| jiff::Timestamp::new(d.secs(), i32::try_from(d.subsec_nanos()).unwrap_or(0)).ok())
}

/// Names the object in an outage, so exit 3 says which object it was reading.
fn naming(bucket: &str, key: &str) -> impl Fn(ObjectError) -> ObjectError {
    let at = format!("s3://{bucket}/{key}");
    move |e| match e {
        ObjectError::Unreachable(m) => ObjectError::Unreachable(format!("{at}: {m}")),
        other => other,
    }
}

/// HeadObject with checksums (retention is read here: it is on the head).
pub async fn head(c: &Client, bucket: &str, key: &str) -> Result<Head, ObjectError> {
    let h = c
        .head_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .map_err(classify)
        .map_err(naming(bucket, key))?;
    Ok(Head {
        size: h.content_length().and_then(|n| u64::try_from(n).ok()),
        checksum_sha256: h.checksum_sha256().map(str::to_owned),
        last_modified: ts(h.last_modified()),
        lock_mode: h.object_lock_mode().map(|m| m.as_str().to_owned()),
        retain_until: ts(h.object_lock_retain_until_date()),
        legal_hold: h.object_lock_legal_hold_status().is_some_and(|s| s.as_str() == "ON"),
    })
}

/// Streams an object, chunk by chunk, to `each` (never held whole).
pub async fn stream(c: &Client, bucket: &str, key: &str, mut each: impl FnMut(&[u8])) -> Result<(), ObjectError> {
    let out = c.get_object().bucket(bucket).key(key).send().await.map_err(classify).map_err(naming(bucket, key))?;
    let mut body = out.body;
    loop {
        match body.try_next().await {
            Ok(Some(chunk)) => each(&chunk),
            Ok(None) => return Ok(()),
            Err(e) => return Err(ObjectError::Unreachable(format!("reading s3://{bucket}/{key}: {e}"))),
        }
    }
}

/// Uploads `bytes` to `s3://bucket/key` with its SHA-256 checksum, which S3 verifies.
pub async fn put(c: &Client, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
    let sum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bytes));
    c.put_object()
        .bucket(bucket)
        .key(key)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .checksum_sha256(sum)
        .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
        .send()
        .await
        .map(drop)
        .map_err(classify)
        .map_err(naming(bucket, key))
}

/// Reads a small object (SBOM, provenance, signature) whole, up to `limit` bytes.
pub async fn fetch(c: &Client, bucket: &str, key: &str, limit: u64) -> Result<Vec<u8>, ObjectError> {
    let out = c.get_object().bucket(bucket).key(key).send().await.map_err(classify).map_err(naming(bucket, key))?;
    if out.content_length().and_then(|n| u64::try_from(n).ok()).is_some_and(|n| n > limit) {
        return Err(ObjectError::Other(format!("is larger than {limit} bytes; evidence files are read whole")));
    }
    let bytes = out.body.collect().await.map_err(|e| ObjectError::Unreachable(format!("reading s3://{bucket}/{key}: {e}")))?;
    Ok(bytes.into_bytes().to_vec())
}

/// Whether Object Lock is enabled on the bucket.
pub async fn lock_enabled(c: &Client, bucket: &str) -> Result<bool, ObjectError> {
    match c.get_object_lock_configuration().bucket(bucket).send().await {
        Ok(o) => Ok(o.object_lock_configuration().and_then(|c| c.object_lock_enabled()).is_some_and(|e| e.as_str() == "Enabled")),
        Err(e) => match naming(bucket, "")(classify(e)) {
            // ObjectLockConfigurationNotFoundError is a 404.
            ObjectError::NotFound => Ok(false),
            other => Err(other),
        },
    }
}

/// A lifecycle rule that expires objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    /// Rule id.
    pub id: String,
    /// Key prefix it applies to.
    pub prefix: String,
    /// Days after creation.
    pub days: Option<i32>,
    /// Fixed date.
    pub date: Option<jiff::Timestamp>,
}

/// The bucket's enabled expiration rules.
pub async fn expiry_rules(c: &Client, bucket: &str) -> Result<Vec<Expiry>, ObjectError> {
    let out = match c.get_bucket_lifecycle_configuration().bucket(bucket).send().await {
        Ok(o) => o,
        Err(e) => {
            return match naming(bucket, "")(classify(e)) {
                ObjectError::NotFound => Ok(Vec::new()),
                other => Err(other),
            };
        }
    };
    let mut rules = Vec::new();
    for r in out.rules() {
        if r.status().as_str() != "Enabled" {
            continue;
        }
        let Some(exp) = r.expiration() else { continue };
        #[allow(deprecated)]
        let prefix = r
            .filter()
            .and_then(|f| f.prefix().map(str::to_owned).or_else(|| f.and().and_then(|a| a.prefix()).map(str::to_owned)))
            .or_else(|| r.prefix().map(str::to_owned))
            .unwrap_or_default();
        rules.push(Expiry { id: r.id().unwrap_or("(unnamed)").to_owned(), prefix, days: exp.days(), date: ts(exp.date()) });
    }
    Ok(rules)
}
