//! `release-gate serve` as GitHub runs it: a GitHub App's webhook server
//! receiving `deployment_protection_rule` deliveries (a payload checked
//! against the event's schema in GitHub's OpenAPI description), signed and
//! mis-signed, answering through the fake's protection-rule endpoint with an
//! installation token it got with the App's JWT.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use github_fake::Fake;
use github_fake::support::{clean_command, webhook_example, webhook_schema_problems};
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};

const SECRET: &str = "webhook-secret-for-tests";
const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const APP: u64 = 42;
const INSTALLATION: u64 = 99;
const RUN: u64 = 7;

/// Every day open, no freeze: the clock never decides, whatever day the tests run.
const OPEN_POLICY: &str = r#"freeze-check:
  windows:
    - {name: always, days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00", timezone: UTC}
  freezes: []
"#;

fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

struct Server {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

/// How a test starts the server: extra environment, a config file, a file limit.
#[derive(Default)]
struct Start<'a> {
    env: &'a [(&'a str, &'a str)],
    config: Option<&'a str>,
    nofile: Option<u32>,
}

impl Server {
    fn start(fake: &Fake) -> Self {
        Self::start_with(fake, &Start::default())
    }

    fn start_with(fake: &Fake, how: &Start<'_>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("app.pem");
        let public = dir.path().join("app.pub.pem");
        openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key.to_str().unwrap()]);
        openssl(&["pkey", "-in", key.to_str().unwrap(), "-pubout", "-out", public.to_str().unwrap()]);
        fake.add_app(APP, &std::fs::read_to_string(&public).unwrap(), INSTALLATION);
        let bin = env!("CARGO_BIN_EXE_release-gate");
        // A file limit: util-linux's prlimit runs the server under it.
        let mut cmd = match how.nofile {
            Some(n) => {
                let mut c = clean_command(Path::new("prlimit"));
                c.arg(format!("--nofile={n}")).arg(bin);
                c
            }
            None => clean_command(Path::new(bin)),
        };
        if let Some(config) = how.config {
            let path = dir.path().join("serve.yml");
            std::fs::write(&path, config).unwrap();
            cmd.env("RELEASE_GATE_SERVE_CONFIG", path);
        }
        cmd.envs(how.env.iter().copied());
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("RELEASE_GATE_WEBHOOK_SECRET", SECRET)
            .env("GITHUB_APP_ID", APP.to_string())
            .env("GITHUB_APP_PRIVATE_KEY_PATH", &key)
            .env("GITHUB_API_URL", fake.base_url())
            .env("RELEASE_GATE_HTTP_BACKOFF_MS", "10")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(addr.contains(':'), "no address in {line:?}");
        Self { child, addr, _dir: dir }
    }

    /// One HTTP request; the status and body.
    fn request(&self, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
        self.request_from(std::net::TcpStream::connect(&self.addr).unwrap(), method, path, headers, body)
    }

    /// A connection to the server from the local address `from` (any of 127.0.0.0/8 is this host).
    fn connect_from(&self, from: [u8; 4]) -> std::net::TcpStream {
        let addr: std::net::SocketAddr = self.addr.parse().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
        rt.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind((std::net::Ipv4Addr::from(from), 0).into()).unwrap();
            let stream = socket.connect(addr).await.unwrap();
            let stream = stream.into_std().unwrap();
            stream.set_nonblocking(false).unwrap();
            stream
        })
    }

    fn request_from(&self, mut s: std::net::TcpStream, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n", self.addr, body.len());
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (status, resp.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned())
    }

    fn deliver(&self, delivery: &str, payload: &Value, signature: Option<String>) -> (u16, String) {
        let body = serde_json::to_vec(payload).unwrap();
        let mut headers = vec![
            ("Content-Type", "application/json".to_owned()),
            ("X-GitHub-Event", "deployment_protection_rule".to_owned()),
            ("X-GitHub-Delivery", delivery.to_owned()),
        ];
        if let Some(sig) = signature {
            headers.push(("X-Hub-Signature-256", sig));
        }
        self.request("POST", "/webhook", &headers, &body)
    }

    fn stop(mut self) -> (Option<i32>, String) {
        // SIGTERM: a graceful shutdown.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (status.code(), err)
    }
}

fn sign(payload: &Value, secret: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&serde_json::to_vec(payload).unwrap());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A `deployment_protection_rule` delivery for `sha` on `git_ref`, built
/// from GitHub's own `deployment` example and checked against the event's
/// schema in GitHub's OpenAPI description.
fn payload(sha: &str, git_ref: &str) -> Value {
    let example = webhook_example("deployment", Some("created")).unwrap();
    let mut deployment = example["deployment"].clone();
    deployment["sha"] = json!(sha);
    deployment["ref"] = json!(git_ref);
    let mut repository = example["repository"].clone();
    repository["full_name"] = json!("o/r");
    repository["default_branch"] = json!("main");
    let p = json!({
        "action": "requested",
        "environment": "production",
        "event": "push",
        "sha": sha,
        "ref": git_ref,
        "deployment_callback_url": format!("https://api.github.com/repos/o/r/actions/runs/{RUN}/deployment_protection_rule"),
        "deployment": deployment,
        "pull_requests": [],
        "repository": repository,
        "installation": {"id": INSTALLATION, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uOTk="},
        "sender": example["sender"],
    });
    let problems = webhook_schema_problems("webhook-deployment-protection-rule-requested", &p).unwrap();
    assert!(problems.is_empty(), "the test payload does not fit GitHub's schema: {problems:#?}");
    p
}

fn wait_for_reviews(fake: &Fake, n: usize) -> Vec<(u64, Value)> {
    let start = Instant::now();
    loop {
        let r = fake.protection_reviews();
        if r.len() >= n || start.elapsed() > Duration::from_secs(20) {
            return r;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The policy on the default branch: always open (the clock never decides,
/// whatever day the tests run), the example's readiness checklist with no
/// age limit for the same reason.
fn policy(dir: &Path) -> String {
    let example = std::fs::read_to_string(dir.join(".github/release-gate.yml")).unwrap();
    let start = example.find("decision-log-commit:\n").unwrap();
    let end = example[start..].find("\nrelease-guard:").unwrap() + start;
    format!("{OPEN_POLICY}{}\n", example[start..end].replace(", max-age: 7d", ""))
}

/// What the release workflow left for 2.4.0 on SHA (the example's files at
/// SHA, its gates' check runs, the log on the release branch, committed
/// after SHA), and the default branch's policy.
fn released(fake: &Fake) -> tempfile::TempDir {
    let dir = super::common::example();
    fake.put_file("main", ".github/release-gate.yml", &policy(dir.path()));
    super::common::commit_tree(fake, dir.path(), "release/2.4.0", SHA);
    fake.add_run(RUN, ".github/workflows/deploy.yml", SHA, "push");
    super::common::publish_reports(fake, dir.path(), "2.4.0", SHA, RUN);
    fake.put_file("release/2.4.0", LOG, &super::common::online_log(dir.path(), "2.4.0", SHA, super::common::OPEN));
    dir
}

const LOG: &str = "reports/release-decisions/2.4.0.md";

#[test]
fn signed_deliveries_are_answered_once_and_mis_signed_ones_not_at_all() {
    let fake = Fake::start("").unwrap();
    let _dir = released(&fake);
    assert!(fake.file(SHA, LOG).is_none(), "the log is committed after the commit it records");
    let server = Server::start(&fake);
    assert_eq!(server.request("GET", "/healthz", &[], b"").0, 200);

    let p = payload(SHA, "release/2.4.0");
    // Mis-signed, signed with another secret, unsigned: 401, and GitHub is never called.
    assert_eq!(server.deliver("d-1", &p, Some(sign(&p, SECRET).replace('a', "b"))).0, 401);
    assert_eq!(server.deliver("d-2", &p, Some(sign(&p, "not-the-secret"))).0, 401);
    assert_eq!(server.deliver("d-3", &p, None).0, 401);
    let mut tampered = p.clone();
    tampered["sha"] = json!("1".repeat(40));
    assert_eq!(server.deliver("d-4", &tampered, Some(sign(&p, SECRET))).0, 401, "the signature covers the body");
    assert!(fake.requests().is_empty(), "a mis-signed delivery reached GitHub: {:?}", fake.requests().len());

    // Signed: accepted, evaluated, approved through the protection-rule endpoint.
    let (status, body) = server.deliver("d-5", &p, Some(sign(&p, SECRET)));
    assert_eq!(status, 202, "{body}");
    let reviews = wait_for_reviews(&fake, 1);
    if reviews.is_empty() {
        let seen: Vec<String> =
            fake.requests().iter().map(|r| format!("{} {} {} {} {:?}", r.method, r.path, r.status, r.credential, r.violations)).collect();
        let (_, err) = server.stop();
        panic!("no answer; server said:\n{err}\nGitHub saw:\n{}", seen.join("\n"));
    }
    assert_eq!(reviews[0].0, RUN);
    assert_eq!(reviews[0].1["state"], "approved", "{:#}", reviews[0].1);
    assert_eq!(reviews[0].1["environment_name"], "production");
    assert!(reviews[0].1["comment"].as_str().unwrap().contains("Release 2.4.0 may deploy"), "{:#}", reviews[0].1);
    // The approval started the deploy: recorded once in the lifecycle, on the release branch.
    let log = fake.file("release/2.4.0", LOG).unwrap();
    let lc = release_gate_core::decision_log::Lifecycle::read(&log, "2.4.0", LOG).unwrap();
    let deployed = lc.deployed().expect("the deploy is recorded");
    assert_eq!(deployed.commit.as_deref(), Some(SHA));
    assert!(deployed.via.contains("deployment protection rule") && deployed.via.contains("/actions/runs/7"), "{deployed:?}");
    assert_eq!(deployed.by, p["sender"]["login"].as_str().unwrap());
    // GitHub's redelivery of the same delivery is answered once.
    let (status, body) = server.deliver("d-5", &p, Some(sign(&p, SECRET)));
    assert_eq!(status, 200, "{body}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fake.protection_reviews().len(), 1);

    // The App authenticated with its JWT, then used the installation token.
    let requests = fake.requests();
    let token_calls: Vec<_> = requests.iter().filter(|r| r.path.contains("/access_tokens")).collect();
    assert_eq!(token_calls.len(), 1, "the installation token is cached");
    assert_eq!(token_calls[0].credential, "app");
    assert!(requests.iter().filter(|r| r.path.starts_with("/repos/")).all(|r| r.credential == "installation"));
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());

    // A commit whose gates never ran: rejected, naming what is missing.
    let other = "2".repeat(40);
    let p2 = payload(&other, "release/2.4.0");
    assert_eq!(server.deliver("d-6", &p2, Some(sign(&p2, SECRET))).0, 202);
    let reviews = wait_for_reviews(&fake, 2);
    assert_eq!(reviews[1].1["state"], "rejected");
    let comment = reviews[1].1["comment"].as_str().unwrap();
    assert!(comment.contains("no `release-gate/freeze-check` check run on this commit"), "{comment}");

    // A blackout now: rejected by time alone, with the next safe start.
    let now = jiff::Timestamp::now();
    let blackout = format!(
        "{OPEN_POLICY}  blackouts:\n    - {{name: incident freeze, start: {}, end: {}}}\n",
        now.checked_sub(jiff::SignedDuration::from_hours(1)).unwrap().strftime("%Y-%m-%dT%H:%M:%SZ"),
        now.checked_add(jiff::SignedDuration::from_hours(3)).unwrap().strftime("%Y-%m-%dT%H:%M:%SZ"),
    );
    let with_checklist = policy(_dir.path()).replacen(OPEN_POLICY, &blackout, 1);
    fake.put_file("main", ".github/release-gate.yml", &with_checklist);
    assert_eq!(server.deliver("d-7", &p, Some(sign(&p, SECRET))).0, 202);
    let reviews = wait_for_reviews(&fake, 3);
    assert_eq!(reviews[2].1["state"], "rejected");
    let comment = reviews[2].1["comment"].as_str().unwrap();
    assert!(comment.contains("may not deploy now") && comment.contains("next safe start"), "{comment}");
    assert!(comment.contains("incident freeze"), "{comment}");

    // A ref that names no release: rejected, saying so.
    let p3 = payload(SHA, "main");
    assert_eq!(server.deliver("d-8", &p3, Some(sign(&p3, SECRET))).0, 202);
    let reviews = wait_for_reviews(&fake, 4);
    assert_eq!(reviews[3].1["state"], "rejected");
    assert!(reviews[3].1["comment"].as_str().unwrap().contains("the ref `main` names no release"), "{:#}", reviews[3].1);

    let (code, err) = server.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains(SECRET) && !err.contains("ghs_fake"), "a secret was logged: {err}");
}

#[test]
fn the_production_rules_answer_for_production_and_a_paused_release_is_rejected() {
    let fake = Fake::start("").unwrap();
    let _dir = released(&fake);
    let server = Server::start(&fake);
    // A staging environment the App also sits on: answered without the production rules.
    let mut staging = payload(&"3".repeat(40), "release/2.4.0");
    staging["environment"] = json!("staging");
    assert_eq!(server.deliver("s-1", &staging, Some(sign(&staging, SECRET))).0, 202);
    let reviews = wait_for_reviews(&fake, 1);
    assert_eq!(reviews[0].1["state"], "approved", "{:#}", reviews[0].1);
    assert!(reviews[0].1["comment"].as_str().unwrap().contains("staging is not a production environment"), "{:#}", reviews[0].1);
    // Production, after the guard paused the release: rejected until a resume.
    let log = fake.file("release/2.4.0", LOG).unwrap();
    let mut lc = release_gate_core::decision_log::Lifecycle::read(&log, "2.4.0", LOG).unwrap();
    use release_gate_core::decision_log::{State, Transition};
    for (to, at) in [(State::Deployed, "2026-12-01T13:30:00Z"), (State::Paused, "2026-12-01T13:50:00Z")] {
        lc.record(Transition {
            to,
            at: at.into(),
            by: "sre".into(),
            via: "release-guard".into(),
            commit: Some(SHA.into()),
            why: "incident #7".into(),
        })
        .unwrap();
    }
    fake.put_file("release/2.4.0", LOG, &lc.write(&log));
    let p = payload(SHA, "release/2.4.0");
    assert_eq!(server.deliver("s-2", &p, Some(sign(&p, SECRET))).0, 202);
    let reviews = wait_for_reviews(&fake, 2);
    assert_eq!(reviews[1].1["state"], "rejected", "{:#}", reviews[1].1);
    let comment = reviews[1].1["comment"].as_str().unwrap();
    assert!(comment.contains("- lifecycle: the post-release guard paused release 2.4.0"), "{comment}");
    assert!(comment.contains("Decision log: "), "{comment}");
    let (code, err) = server.stop();
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn a_failed_token_request_is_retried_and_a_delivery_left_unanswered_is_evaluated_when_redelivered() {
    let fake = Fake::start("").unwrap();
    let _dir = released(&fake);
    let server = Server::start(&fake);
    let mut staging = payload(&"3".repeat(40), "release/2.4.0");
    staging["environment"] = json!("staging");
    let sig = sign(&staging, SECRET);
    // Every token request fails (GitHub's 500, four times: the retries' worth): no answer can be sent.
    fake.inject(github_fake::Fault::new("POST", "/access_tokens", 500).times(4));
    assert_eq!(server.deliver("t-1", &staging, Some(sig.clone())).0, 202);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(fake.protection_reviews().is_empty(), "no token, no answer");
    // GitHub redelivers it: evaluated and answered, never "already answered".
    let (status, body) = server.deliver("t-1", &staging, Some(sig.clone()));
    assert_eq!(status, 202, "{body}");
    let reviews = wait_for_reviews(&fake, 1);
    assert_eq!(reviews.len(), 1, "answered on the redelivery");
    // Once answered, a redelivery is answered once.
    assert_eq!(server.deliver("t-1", &staging, Some(sig)).0, 200);
    // One 500 on the token request (a fresh server, no cached token): retried, answered.
    let (_code, err) = server.stop();
    assert!(err.contains("installation token") && err.contains("retrying"), "{err}");
    let server = Server::start(&fake);
    fake.inject(github_fake::Fault::new("POST", "/access_tokens", 500).times(1));
    assert_eq!(server.deliver("t-2", &staging, Some(sign(&staging, SECRET))).0, 202);
    let reviews = wait_for_reviews(&fake, 2);
    assert_eq!(reviews.len(), 2, "one 500 does not leave the deploy waiting");
    server.stop();
}

#[test]
fn a_hung_api_still_gets_a_rejection_that_says_so_within_the_deadline() {
    let fake = Fake::start("").unwrap();
    let _dir = released(&fake);
    // Every file read hangs far beyond the run's 6 s deadline for GitHub.
    fake.latency("GET", "/contents/", 60_000);
    let server = Server::start_with(&fake, &Start { env: &[("RELEASE_GATE_HTTP_DEADLINE_S", "6")], ..Start::default() });
    let p = payload(SHA, "release/2.4.0");
    let started = Instant::now();
    assert_eq!(server.deliver("h-1", &p, Some(sign(&p, SECRET))).0, 202);
    let reviews = wait_for_reviews(&fake, 1);
    assert_eq!(reviews.len(), 1, "no answer was posted: the deploy would wait for GitHub's 30-day timeout");
    assert!(started.elapsed() < Duration::from_secs(8), "answered after {:?}", started.elapsed());
    assert_eq!(reviews[0].1["state"], "rejected", "{:#}", reviews[0].1);
    let comment = reviews[0].1["comment"].as_str().unwrap();
    assert!(comment.contains("could not evaluate this deployment within 3 s") && comment.contains("re-run the job"), "{comment}");
    let (code, err) = server.stop();
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn idle_slow_and_piled_up_connections_do_not_starve_health_checks_or_deliveries() {
    let fake = Fake::start("").unwrap();
    let _dir = released(&fake);
    // 256 files: without limits, 1,100 idle connections leave none to accept with.
    let config = "idle-timeout: 2\nmax-connections-per-peer: 40\nmax-connections: 150\n";
    let server = Server::start_with(&fake, &Start { config: Some(config), nofile: Some(256), ..Start::default() });
    // 1,100 connections from one peer that never send a byte.
    let idle: Vec<std::net::TcpStream> = (0..1100)
        .map(|_| {
            let s = std::net::TcpStream::connect(&server.addr).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
            s
        })
        .collect();
    // Another peer is served at once: the health check and a real delivery.
    let started = Instant::now();
    let (status, body) = server.request_from(server.connect_from([127, 0, 0, 2]), "GET", "/healthz", &[], b"");
    assert_eq!((status, body.as_str()), (200, "ok"));
    let mut staging = payload(&"3".repeat(40), "release/2.4.0");
    staging["environment"] = json!("staging");
    let body = serde_json::to_vec(&staging).unwrap();
    let headers = [
        ("Content-Type", "application/json".to_owned()),
        ("X-GitHub-Event", "deployment_protection_rule".to_owned()),
        ("X-GitHub-Delivery", "c-1".to_owned()),
        ("X-Hub-Signature-256", sign(&staging, SECRET)),
    ];
    assert_eq!(server.request_from(server.connect_from([127, 0, 0, 2]), "POST", "/webhook", &headers, &body).0, 202);
    assert_eq!(wait_for_reviews(&fake, 1).len(), 1, "the delivery was answered");
    assert!(started.elapsed() < Duration::from_secs(2), "served after {:?}", started.elapsed());
    // The pile-up's peer holds at most its cap: the rest were closed at once.
    std::thread::sleep(Duration::from_millis(300));
    let closed = |conns: &[std::net::TcpStream]| {
        let is_closed = |mut s: &std::net::TcpStream| {
            let mut b = [0u8; 1];
            match s.read(&mut b) {
                Ok(n) => n == 0,
                Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
            }
        };
        conns.iter().filter(|s| is_closed(s)).count()
    };
    let open_now = idle.len() - closed(&idle);
    assert!(open_now <= 40, "{open_now} connections from one peer are held open");
    // A slow client dribbling its headers a byte at a time is cut off.
    let mut dribble = server.connect_from([127, 0, 0, 3]);
    dribble.write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\n").unwrap();
    let cut = Instant::now();
    let mut gone = false;
    while cut.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(300));
        if dribble.write_all(b"X").is_err() {
            gone = true;
            break;
        }
        dribble.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        let mut b = [0u8; 256];
        if dribble.read(&mut b).is_ok() {
            gone = true;
            break;
        }
    }
    assert!(gone, "a client dribbling its headers is still connected after {:?}", cut.elapsed());
    // After the idle timeout, the peer's idle connections are closed too and it is served again.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(closed(&idle), idle.len(), "idle connections outlived the idle timeout");
    assert_eq!(server.request("GET", "/healthz", &[], b"").0, 200);
    let (code, err) = server.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("max-connections-per-peer reached"), "{err}");
}
