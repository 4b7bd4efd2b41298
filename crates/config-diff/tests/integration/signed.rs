//! Signed exceptions and recorded hashes, end to end: real keys and
//! signatures made here with `ssh-keygen`, the binary run as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use github_fake::support::clean_command;
use serde_json::Value;

const NOW: &str = "2026-12-01T13:30:00Z";

struct Repo {
    dir: tempfile::TempDir,
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(out.status.success(), "{:?}: {}", cmd, String::from_utf8_lossy(&out.stderr));
}

impl Repo {
    fn new(production_limit: &str) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let r = Self { dir };
        r.write("configs/staging/app.yaml", "limits:\n  max_notional: 250000\n  venue: x\n");
        r.write("configs/production/app.yaml", &format!("limits:\n  max_notional: {production_limit}\n  venue: x\n"));
        r.write("configs/releases/2.4.0.yaml", "staging: configs/staging\nproduction: configs/production\n");
        r.write(
            ".github/release-gate.yml",
            "config-diff:\n  exceptions:\n    dir: configs/exceptions\n    allowed-signers: .github/allowed_signers\n    max-lifetime-days: 30\n",
        );
        for who in ["bob", "alice"] {
            sh(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", who, "-f"]).arg(r.path(&format!("keys/{who}"))));
        }
        let line = |who: &str| {
            let pubkey = std::fs::read_to_string(r.path(&format!("keys/{who}.pub"))).expect("pub");
            format!("{who} namespaces=\"release-gate-exception\" {}\n", pubkey.trim())
        };
        r.write(".github/allowed_signers", &(line("bob") + &line("alice")));
        r
    }

    fn path(&self, rel: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        p
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).expect("write");
    }

    /// The hashes config-diff reports for the divergence, as an exception needs them.
    fn value_hashes(&self) -> (String, String) {
        let out = self.run(&["--format", "json"], None);
        let report: Value = serde_json::from_slice(&out.stdout).expect("json");
        let d = &report["data"]["differences"][0];
        (d["staging_sha256"].as_str().expect("s").to_owned(), d["production_sha256"].as_str().expect("p").to_owned())
    }

    fn exception(&self, name: &str, approver: &str, created: &str, expires: &str, hashes: (&str, &str)) -> String {
        let text = format!(
            "release: \"2.4.*\"\npath: \"**/limits/max_notional\"\nstaging-sha256: {}\nproduction-sha256: {}\nreason: larger orders in production\nticket: RISK-1\napprover: {approver}\ncreated: {created}\nexpires: {expires}\n",
            hashes.0, hashes.1
        );
        let rel = format!("configs/exceptions/{name}.yaml");
        self.write(&rel, &text);
        rel
    }

    fn sign(&self, rel: &str, who: &str, namespace: &str) {
        let _ = std::fs::remove_file(self.path(&format!("{rel}.sig")));
        sh(Command::new("ssh-keygen")
            .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
            .arg(self.path(&format!("keys/{who}")))
            .arg(self.path(rel)));
    }

    fn run(&self, extra: &[&str], event: Option<&str>) -> Output {
        let mut cmd = clean_command(Path::new(env!("CARGO_BIN_EXE_config-diff")));
        cmd.current_dir(self.dir.path()).args(["--now", NOW]).args(extra);
        if !extra.contains(&"--release") {
            cmd.args(["--release", "2.4.0"]);
        }
        if let Some(e) = event {
            self.write("event.json", e);
            cmd.args(["--event", "event.json"]);
        }
        cmd.output().expect("run config-diff")
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_valid_signed_exception_allows_the_divergence_with_a_warning() {
    let r = Repo::new("1000000");
    let (s, p) = r.value_hashes();
    let rel = r.exception("notional", "bob", "2026-11-25T00:00:00Z", "2026-12-20T00:00:00Z", (&s, &p));
    r.sign(&rel, "bob", "release-gate-exception");
    let out = r.run(&["--format", "json"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["verdict"], "warn");
    assert_eq!(report["data"]["differences"][0]["standing"], "excepted");
    assert_eq!(report["data"]["differences"][0]["exception"]["approver"], "bob");
    assert_eq!(report["outputs"]["excepted"], "1");
}

#[test]
fn every_way_an_exception_can_be_wrong_fails_with_its_reason() {
    let r = Repo::new("1000000");
    let (s, p) = r.value_hashes();
    let check = |expect: &str, event: Option<&str>| {
        let out = r.run(&[], event);
        assert_eq!(out.status.code(), Some(1), "{expect}: {}", text(&out));
        assert!(text(&out).contains(expect), "expected {expect:?} in:\n{}", text(&out));
    };
    let rel = r.exception("notional", "bob", "2026-11-25T00:00:00Z", "2026-12-20T00:00:00Z", (&s, &p));
    check("unsigned: no configs/exceptions/notional.yaml.sig", None);

    r.sign(&rel, "alice", "release-gate-exception");
    check("signed by alice but names bob as approver", None);

    r.sign(&rel, "bob", "file");
    check("signed for namespace \"file\"", None);

    r.sign(&rel, "bob", "release-gate-exception");
    let pr = r#"{"pull_request":{"number":1,"title":"t","body":null,"user":{"login":"bob"},"labels":[],
        "head":{"ref":"h","sha":"1111111111111111111111111111111111111111","repo":{"full_name":"o/r"}},"base":{"ref":"b","sha":"2","repo":{"full_name":"o/r"}}}}"#;
    check("signed by the PR's author (bob)", Some(pr));

    // Edited after signing.
    let text_now = std::fs::read_to_string(r.path(&rel)).expect("read");
    r.write(&rel, &text_now.replace("RISK-1", "RISK-2"));
    check("the signature does not match the file's content", None);

    let rel = r.exception("notional", "bob", "2026-11-01T00:00:00Z", "2026-11-30T00:00:00Z", (&s, &p));
    r.sign(&rel, "bob", "release-gate-exception");
    check("expired at 2026-11-30T00:00:00Z", None);

    let rel = r.exception("notional", "bob", "2026-11-01T00:00:00Z", "2027-01-30T00:00:00Z", (&s, &p));
    r.sign(&rel, "bob", "release-gate-exception");
    check("lives longer than the policy's 30 days", None);

    // Approved for other values: production changed since.
    let rel = r.exception("notional", "bob", "2026-11-25T00:00:00Z", "2026-12-20T00:00:00Z", (&s, &"0".repeat(64)));
    r.sign(&rel, "bob", "release-gate-exception");
    check("no longer matches", None);
    check("the production value changed since it was approved", None);

    // Valid in every other way, but for other releases.
    let rel = r.exception("notional", "bob", "2026-11-25T00:00:00Z", "2026-12-20T00:00:00Z", (&s, &p));
    r.sign(&rel, "bob", "release-gate-exception");
    r.write("configs/releases/2.5.0.yaml", "staging: configs/staging\nproduction: configs/production\n");
    let out = r.run(&["--release", "2.5.0"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("for release \"2.4.*\", not 2.5.0"), "{}", text(&out));
}

#[test]
fn an_exception_that_matches_nothing_is_a_warning() {
    let r = Repo::new("250000");
    let rel = r.exception("stale", "bob", "2026-11-25T00:00:00Z", "2026-12-20T00:00:00Z", ("absent", "absent"));
    r.sign(&rel, "bob", "release-gate-exception");
    let out = r.run(&[], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("matches no divergence"), "{}", text(&out));
}

#[test]
fn recorded_hashes_are_compared_naming_the_file() {
    let r = Repo::new("250000");
    let out = r.run(&["--format", "json"], None);
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let hashes = report["data"]["hashes"].clone();
    let prod = hashes["production"].as_str().expect("h").to_owned();
    let file = hashes["production:app.yaml"].as_str().expect("h").to_owned();
    assert!(prod.starts_with("jcs-sha256:") && report["outputs"]["production_hash"] == prod.as_str());

    r.write(
        "configs/releases/2.4.0.yaml",
        &format!(
            "staging: configs/staging\nproduction: configs/production\nhashes:\n  production: {prod}\n  production:app.yaml: {file}\n"
        ),
    );
    let out = r.run(&[], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("applied config hashes match configs/releases/2.4.0.yaml"), "{}", text(&out));

    // A reformatted production file keeps its hash; a changed value does not.
    r.write("configs/production/app.yaml", "# reformatted\nlimits: {venue: x, max_notional: 250000.0}\n");
    assert_eq!(r.run(&[], None).status.code(), Some(0));
    r.write("configs/production/app.yaml", "limits: {venue: y, max_notional: 250000}\n");
    let out = r.run(&[], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("production:app.yaml is jcs-sha256:") && text(&out).contains("but configs/releases/2.4.0.yaml records"),
        "{}",
        text(&out)
    );

    // The decision log's block is read back too.
    r.write("configs/production/app.yaml", "limits:\n  max_notional: 250000\n  venue: x\n");
    r.write("configs/releases/2.4.0.yaml", "staging: configs/staging\nproduction: configs/production\n");
    let mut h = release_gate_core::hashes::Hashes::new();
    h.insert("production".into(), format!("jcs-sha256:{}", "0".repeat(64)));
    r.write("reports/release-decisions/2.4.0.md", &format!("# Release 2.4.0 Decision Log\n\n{}", release_gate_core::hashes::render(&h)));
    let out = r.run(&[], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("reports/release-decisions/2.4.0.md records"), "{}", text(&out));
}
