//! artifact-verify against a real S3-compatible server: moto in server mode
//! (PyPI `moto[server]`, installed by scripts/test), started per test on
//! 127.0.0.1. Objects are uploaded with Object Lock and checksums, then
//! verified; a small proxy in front of it plays S3's throttling and denials.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ChecksumAlgorithm, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    ObjectLockMode,
};
use common::*;
use github_fake::support::Moto;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn moto() -> Moto {
    Moto::start().unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn client(endpoint: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

const ENV: [(&str, &str); 5] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("RELEASE_GATE_S3_PATH_STYLE", "true"),
];

fn days_from_now(days: i64) -> DateTime {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    DateTime::from_secs(now + days * 86_400)
}

struct Put<'a> {
    key: &'a str,
    body: Vec<u8>,
    lock: Option<(ObjectLockMode, i64)>,
    checksum: Option<String>,
}

impl Put<'_> {
    fn body_for_sum(&self) -> &[u8] {
        &self.body
    }
}

async fn put(c: &aws_sdk_s3::Client, bucket: &str, p: Put<'_>) {
    let right = sum(p.body_for_sum());
    let mut req = c.put_object().bucket(bucket).key(p.key).body(ByteStream::from(p.body));
    if let Some((mode, days)) = p.lock {
        req = req.object_lock_mode(mode).object_lock_retain_until_date(days_from_now(days));
    }
    // Real uploads carry a checksum (Object Lock requires one); None means the right one.
    req = req.checksum_algorithm(ChecksumAlgorithm::Sha256).checksum_sha256(p.checksum.unwrap_or(right));
    req.send().await.unwrap();
}

fn sum(b: &[u8]) -> String {
    use sha2::Digest as _;
    b64(&sha2::Sha256::digest(b))
}

fn manifest(repo: &Repo, entries: &[(&str, &str, &str, &[u8])]) {
    let mut text = String::from("release: 2.4.0\nartifacts:\n");
    for (name, kind, loc, bytes) in entries {
        text.push_str(&format!(
            "  - {{name: {name}, kind: {kind}, location: \"{loc}\", sha256: {}, size: {}}}\n",
            sha256_hex(bytes),
            bytes.len()
        ));
    }
    repo.write("releases/2.4.0/artifacts.yaml", text);
    repo.sign_manifest("releases/2.4.0/artifacts.yaml");
}

#[test]
fn snapshots_in_an_object_lock_bucket_are_hashed_and_their_retention_judged() {
    let m = moto();
    let c = client(&m.endpoint);
    let snap: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    let other = b"other artifact".to_vec();
    rt().block_on(async {
        c.create_bucket().bucket("release").object_lock_enabled_for_bucket(true).send().await.unwrap();
        c.create_bucket().bucket("plain").send().await.unwrap();
        let lock = |d| Some((ObjectLockMode::Compliance, d));
        put(&c, "release", Put { key: "snapshots/positions.parquet", body: snap.clone(), lock: lock(45), checksum: Some(sum(&snap)) })
            .await;
        put(&c, "release", Put { key: "snapshots/short.parquet", body: snap.clone(), lock: lock(10), checksum: None }).await;
        put(
            &c,
            "release",
            Put { key: "snapshots/gov.parquet", body: snap.clone(), lock: Some((ObjectLockMode::Governance, 40)), checksum: None },
        )
        .await;
        // moto stores a wrong checksum as given: S3 and the bytes disagree.
        put(&c, "release", Put { key: "snapshots/lying.parquet", body: snap.clone(), lock: lock(45), checksum: Some(sum(b"x")) }).await;
        put(&c, "release", Put { key: "snapshots/tampered.parquet", body: b"tampered".to_vec(), lock: lock(45), checksum: None }).await;
        put(&c, "plain", Put { key: "snap.parquet", body: snap.clone(), lock: None, checksum: None }).await;
        put(&c, "release", Put { key: "bin/other.tar", body: other.clone(), lock: None, checksum: Some(sum(&other)) }).await;
    });
    let repo = Repo::new("");
    manifest(
        &repo,
        &[
            ("positions", "snapshot", "s3://release/snapshots/positions.parquet", &snap),
            ("short", "snapshot", "s3://release/snapshots/short.parquet", &snap),
            ("gov", "snapshot", "s3://release/snapshots/gov.parquet", &snap),
            ("lying", "snapshot", "s3://release/snapshots/lying.parquet", &snap),
            ("tampered", "snapshot", "s3://release/snapshots/tampered.parquet", &snap),
            ("unlocked", "snapshot", "s3://plain/snap.parquet", &snap),
            ("gone", "snapshot", "s3://release/snapshots/gone.parquet", &snap),
            ("other", "other", "s3://release/bin/other.tar", &other),
        ],
    );
    let endpoint = ["--s3-endpoint", m.endpoint.as_str()];
    let (code, r, err) = run(repo.root(), &endpoint, &ENV);
    assert_eq!(code, 1, "{err}");
    let (s, msg) = status(&r, "positions:retention");
    assert_eq!(s, "pass", "{msg}");
    assert!(msg.contains("COMPLIANCE until") && msg.contains("(45 days)"), "{msg}");
    assert!(status(&r, "positions:digest").1.contains("S3 checksum agrees"));
    assert!(status(&r, "other:digest").1.contains("S3 checksum agrees"));
    assert!(status(&r, "short:retention").1.contains("retained 10.0 days"), "{}", status(&r, "short:retention").1);
    assert!(status(&r, "gov:retention").1.contains("GOVERNANCE, which s3:BypassGovernanceRetention can shorten"));
    assert!(status(&r, "lying:digest").1.contains("S3's stored SHA-256 checksum"));
    assert!(status(&r, "tampered:digest").1.contains("the bytes are not the ones released"));
    assert!(status(&r, "unlocked:retention").1.contains("bucket plain does not have Object Lock enabled"));
    assert!(status(&r, "gone:digest").1.contains("s3://release/snapshots/gone.parquet: does not exist (404)"));

    // GOVERNANCE where the policy allows it; a lifecycle rule that would expire the key sooner is flagged.
    rt().block_on(async {
        let rule = LifecycleRule::builder()
            .id("tidy-snapshots")
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("snapshots/").build())
            .expiration(LifecycleExpiration::builder().days(7).build())
            .build()
            .unwrap();
        c.put_bucket_lifecycle_configuration()
            .bucket("release")
            .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(rule).build().unwrap())
            .send()
            .await
            .unwrap();
    });
    let repo = Repo::new("  retention:\n    allow-governance: true\n");
    manifest(&repo, &[("gov", "snapshot", "s3://release/snapshots/gov.parquet", &snap)]);
    let (code, r, err) = run(repo.root(), &endpoint, &ENV);
    assert_eq!(code, 0, "{err}");
    let (s, msg) = status(&r, "gov:retention");
    assert_eq!(s, "warn");
    assert!(msg.contains("lifecycle rule `tidy-snapshots` (prefix `snapshots/`) expires it after 7 days"), "{msg}");
}

#[test]
fn a_snapshot_on_disk_cannot_prove_retention() {
    let repo = Repo::new("");
    repo.write("backup/positions.parquet", "rows");
    manifest(&repo, &[("positions", "snapshot", "backup/positions.parquet", b"rows")]);
    let (code, r, _) = run(repo.root(), &[], &[]);
    assert_eq!(code, 1);
    assert!(status(&r, "positions:retention").1.contains("can only be proved in S3 with Object Lock"));
}

/// A proxy in front of moto: answers the first `throttle` requests with
/// 503 SlowDown, answers requests for keys containing `deny` with 403, and
/// forwards the rest.
fn proxy(upstream: String, throttle: usize, deny: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let up = upstream.trim_start_matches("http://").to_owned();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { continue };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let up = up.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_owned();
                let answer = |status: &str, code: &str| {
                    let body =
                        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{code}</Message></Error>");
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                if n < throttle {
                    let _ = client.write_all(answer("503 Slow Down", "SlowDown").as_bytes());
                    return;
                }
                if line.contains(deny) {
                    let _ = client.write_all(answer("403 Forbidden", "AccessDenied").as_bytes());
                    return;
                }
                let Ok(mut server) = TcpStream::connect(&up) else { return };
                let _ = server.write_all(&head);
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let t = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c2, &mut server);
                });
                let _ = std::io::copy(&mut s2, &mut client);
                let _ = client.shutdown(std::net::Shutdown::Both);
                let _ = t.join();
            });
        }
    });
    (format!("http://{addr}"), seen)
}

#[test]
fn throttling_is_retried_denial_is_named_and_an_unreachable_s3_is_exit_3() {
    let m = moto();
    let c = client(&m.endpoint);
    let body = b"model weights".to_vec();
    rt().block_on(async {
        c.create_bucket().bucket("release").send().await.unwrap();
        put(&c, "release", Put { key: "models/weights.bin", body: body.clone(), lock: None, checksum: Some(sum(&body)) }).await;
        put(&c, "release", Put { key: "models/secret-deny.bin", body: body.clone(), lock: None, checksum: None }).await;
    });
    let repo = Repo::new("");
    manifest(
        &repo,
        &[
            ("weights", "other", "s3://release/models/weights.bin", &body),
            ("denied", "other", "s3://release/models/secret-deny.bin", &body),
        ],
    );
    // Two SlowDowns, then through: the SDK's retries with backoff absorb them.
    let (endpoint, seen) = proxy(m.endpoint.clone(), 2, "secret-deny");
    let (code, r, err) = run(repo.root(), &["--s3-endpoint", &endpoint], &ENV);
    assert_eq!(code, 1, "{err}");
    assert_eq!(status(&r, "weights:digest").0, "pass");
    assert!(seen.load(Ordering::SeqCst) >= 4, "the throttled requests were retried");
    let msg = status(&r, "denied:digest").1;
    assert!(msg.contains("s3://release/models/secret-deny.bin: access denied (403"), "{msg}");

    // Throttled beyond the retry budget: S3 is unusable, exit 3 naming the object.
    let (endpoint, _) = proxy(m.endpoint.clone(), 1000, "never");
    let mut env = ENV.to_vec();
    env.push(("RELEASE_GATE_S3_ATTEMPTS", "2"));
    let (code, _, err) = run(repo.root(), &["--s3-endpoint", &endpoint], &env);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("503 SlowDown after retries"), "{err}");

    // Nothing listening.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let (code, _, err) = run(repo.root(), &["--s3-endpoint", &closed], &env);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("S3 unreachable"), "{err}");
}
