//! Inputs meant to get a pass out of config-diff: a decision log that cannot
//! be read or whose recorded hashes were edited, configs that are links out
//! of the repository or special files, secrets inside added values, and
//! patterns built to blow up. Each must fail or be refused, never pass.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use github_fake::support::{TempRepo, clean_command};
use serde_json::Value;

const NOW: &str = "2026-12-01T13:30:00Z";

fn repo(staging: &str, production: &str) -> TempRepo {
    let r = TempRepo::new();
    r.write("configs/staging/app.yaml", staging);
    r.write("configs/production/app.yaml", production);
    r.write("configs/releases/2.4.0.yaml", "staging: configs/staging\nproduction: configs/production\n");
    r
}

fn run(r: &TempRepo) -> (i32, Value, String) {
    let out = clean_command(Path::new(env!("CARGO_BIN_EXE_config-diff")))
        .current_dir(r.root())
        .args(["--release", "2.4.0", "--format", "json", "--now", NOW])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_decision_log_that_cannot_be_read_or_was_edited_fails() {
    let r = repo("a: 1\n", "a: 1\n");
    let (code, report, _) = run(&r);
    assert_eq!(code, 0);
    let hash = report["data"]["hashes"]["production"].as_str().unwrap().to_owned();
    let tampered = format!("{}{}", &hash[..hash.len() - 1], if hash.ends_with('0') { '1' } else { '0' });
    let log = "reports/release-decisions/2.4.0.md";
    // A recorded hash that matches: pass; a tampered one: fail.
    r.write(log, format!("# Log\n<!-- release-gate:config-hashes v1\nproduction {hash}\n-->\n"));
    assert_eq!(run(&r).0, 0);
    r.write(log, format!("# Log\n<!-- release-gate:config-hashes v1\nproduction {tampered}\n-->\n"));
    assert_eq!(run(&r).0, 1);
    // One byte that is not UTF-8 anywhere in the log: refused with its line, not "no recorded hashes".
    let mut bytes = format!("# Log X\n<!-- release-gate:config-hashes v1\nproduction {tampered}\n-->\n").into_bytes();
    bytes[6] = 0xff;
    r.write(log, &bytes);
    let (code, _, err) = run(&r);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("2.4.0.md:1: decision log (config-diff.decision-log) is not UTF-8"), "{err}");
    // A block whose lines were edited into another shape: refused, not skipped.
    r.write(log, "# Log\n<!-- release-gate:config-hashes v1\nproduction sha1:0000\n-->\n");
    let (code, _, err) = run(&r);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("2.4.0.md:3:") && err.contains("not `<name> jcs-sha256:<hex>`"), "{err}");
    // A block opened and never closed.
    r.write(log, "# Log\n<!-- release-gate:config-hashes v1\nproduction jcs-sha256:00\n");
    assert_eq!(run(&r).0, 2);
}

#[cfg(unix)]
#[test]
fn configs_that_are_links_out_or_special_files_are_refused_never_skipped() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("prod.yaml"), "a: 1\n").unwrap();
    // A production config that is a link to a file outside the repository.
    let r = repo("a: 1\n", "a: 1\n");
    std::fs::remove_file(r.path("configs/production/app.yaml")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("prod.yaml"), r.path("configs/production/app.yaml")).unwrap();
    let (code, _, err) = run(&r);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("leads outside the repository"), "{err}");
    // A FIFO named like a config: refused (reading it would hang; skipping it would hide it).
    let r = repo("a: 1\n", "a: 1\n");
    assert!(std::process::Command::new("mkfifo").arg(r.path("configs/production/extra.yaml")).status().unwrap().success());
    let (code, _, err) = run(&r);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a FIFO, not a regular file"), "{err}");
    // A link to a directory, inside the repository or out: refused (exit 2), never skipped.
    for target in [outside.path().to_owned(), std::path::PathBuf::from("../../shared")] {
        let r = repo("a: 1\n", "a: 1\n");
        r.write("shared/limits.yaml", "max: 900\n");
        std::os::unix::fs::symlink(&target, r.path("configs/production/risk")).unwrap();
        let (code, _, err) = run(&r);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("configs/production/risk is a symbolic link to a directory"), "{err}");
    }
    // A link inside the repository to a file inside it is read.
    let r = repo("a: 1\n", "a: 2\n");
    r.write("shared/prod.yaml", "a: 1\n");
    std::fs::remove_file(r.path("configs/production/app.yaml")).unwrap();
    std::os::unix::fs::symlink(r.path("shared/prod.yaml"), r.path("configs/production/app.yaml")).unwrap();
    assert_eq!(run(&r).0, 0);
}

#[test]
fn a_pattern_built_to_blow_up_is_refused_with_a_clear_error() {
    let r = repo("a: 1\n", "a: 2\n");
    r.write(
        "configs/releases/2.4.0.yaml",
        format!("staging: configs/staging\nproduction: configs/production\nexpected:\n  - path: \"{}\"\n", "a*".repeat(1_000)),
    );
    let (code, _, err) = run(&r);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("2.4.0.yaml") && err.contains("pattern"), "{err}");
    // Longer than any line may be: refused before anything is compiled.
    r.write(
        "configs/releases/2.4.0.yaml",
        format!("staging: configs/staging\nproduction: configs/production\nexpected:\n  - path: \"{}\"\n", "a*".repeat(10_000)),
    );
    let (code, _, err) = run(&r);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("2.4.0.yaml:4:1") && err.contains("more than the 8192 allowed"), "{err}");
}

#[test]
fn annotations_name_files_from_the_repository_top_in_a_subdirectory_checkout() {
    // The root is `svc/` in a repository: GitHub places an annotation by its
    // path from the repository's top, as smoke-gate's are.
    let r = TempRepo::new();
    std::fs::create_dir_all(r.path(".git")).unwrap();
    r.write("svc/configs/staging/app.yaml", "a: 1\n");
    r.write("svc/configs/production/app.yaml", "a: 2\n");
    r.write("svc/configs/releases/2.4.0.yaml", "staging: configs/staging\nproduction: configs/production\n");
    let out = clean_command(Path::new(env!("CARGO_BIN_EXE_config-diff")))
        .current_dir(r.path("svc"))
        .args(["--release", "2.4.0", "--format", "json", "--now", NOW])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["annotations"][0]["path"], "svc/configs/production/app.yaml", "{report:#}");
    assert_eq!(report["annotations"][0]["start_line"], 1);
}

#[test]
fn an_unsigned_expected_entry_never_waives_the_whole_tree_or_a_protected_path() {
    let staging = "kill_switch:\n  threshold: 35\nreplicas: 2\napi_key: aaa\n";
    let production = "kill_switch:\n  threshold: 900\nreplicas: 6\napi_key: bbb\n";
    // A wildcard over the whole tree, in the release's manifest: refused as bad input at its line.
    for (pattern, why) in [
        ("\"**\"", "waives every path of the tree"),
        ("\"app.yaml#**\"", "waives every path of a file"),
        ("\"/risk/**\"", "names a `risk` path"),
        ("\"**/kill_switch/threshold\"", "names a `kill-switch` path"),
        ("\"**/max_order_limits\"", "names a `limit` path"),
        // A whole document, by position, by kind or by identity, with wildcards after it.
        ("\"app.yaml##0/**\"", "waives every path of a whole document"),
        ("\"*##0/**\"", "waives every path of a whole document"),
        ("\"**#Deployment/**\"", "waives every path of a whole document"),
        ("\"**#Deployment/trading/order-router/*\"", "waives every path of a whole document"),
        // Everything under one key, in every document; the runbook's notional limit under another name.
        ("\"**/spec/**\"", "waives everything under a single key"),
        ("\"app.yaml##0/spec/**\"", "waives everything under a single key"),
        ("\"**/env[name=MAX_ORDER_NOTIONAL]/value\"", "names a `notional` path"),
    ] {
        let r = repo(staging, production);
        r.write(
            "configs/releases/2.4.0.yaml",
            format!(
                "staging: configs/staging\nproduction: configs/production\nexpected:\n  - path: {pattern}\n    reason: everything differs\n"
            ),
        );
        let (code, _, err) = run(&r);
        assert_eq!(code, 2, "{pattern}: {err}");
        assert!(err.contains("configs/releases/2.4.0.yaml:4:") && err.contains(why), "{pattern}: {err}");
    }
    // The same in the policy file: refused at the policy's line.
    let r = repo(staging, production);
    r.write(".github/release-gate.yml", "config-diff:\n  expected:\n    - path: \"**\"\n      reason: all of it\n");
    let (code, _, err) = run(&r);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(".github/release-gate.yml:3:") && err.contains("waives every path"), "{err}");
    // A concrete entry that happens to match a protected divergence (the
    // threshold through a file-level pattern, a secret through its own name)
    // does not waive it: the gate fails with the `protected` check, and the
    // unprotected `replicas` is still expected.
    let r = repo(staging, production);
    r.write(
        "configs/releases/2.4.0.yaml",
        "staging: configs/staging\nproduction: configs/production\nexpected:\n  - path: \"/*/threshold\"\n    reason: tuned\n  - path: \"/api_key\"\n    reason: per environment\n  - path: \"/replicas\"\n    reason: production scales out\n",
    );
    let (code, report, err) = run(&r);
    assert_eq!(code, 1, "{err}");
    let checks = report["checks"].as_array().unwrap();
    let protected = checks.iter().find(|c| c["id"] == "protected").unwrap();
    assert_eq!(protected["status"], "fail");
    let detail = protected["message"].as_str().unwrap();
    assert!(detail.contains("kill_switch/threshold") && detail.contains("a secret key"), "{detail}");
    let standings: Vec<(String, String)> = report["data"]["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["path"].as_str().unwrap_or_default().to_owned(), d["standing"].as_str().unwrap_or_default().to_owned()))
        .collect();
    assert!(standings.iter().any(|(p, s)| p.ends_with("replicas") && s == "expected"), "{standings:?}");
    assert!(standings.iter().any(|(p, s)| p.ends_with("threshold") && s == "divergent"), "{standings:?}");
    // The words are the policy's: without `kill-switch` listed, the threshold is only expected.
    r.write(".github/release-gate.yml", "config-diff:\n  protected:\n    words: [risk]\n");
    r.write(
        "configs/releases/2.4.0.yaml",
        "staging: configs/staging\nproduction: configs/production\nexpected:\n  - path: \"/*/threshold\"\n    reason: tuned\n  - path: \"/replicas\"\n    reason: production scales out\n",
    );
    let (code, report, err) = run(&r);
    // api_key still diverges unexpected (a secret): fail, but no `protected` check for the threshold.
    assert_eq!(code, 1, "{err}");
    let detail = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "protected").map(|c| c["message"].to_string());
    assert!(detail.is_none(), "{detail:?}");
}
