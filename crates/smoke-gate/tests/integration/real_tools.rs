//! JUnit written by the real tools on this machine: pytest `--junitxml`
//! (installed by scripts/test) and cargo-nextest's JUnit output, including a
//! test nextest retries and then passes.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use github_fake::support::clean_command;
use serde_json::Value;

fn gate(root: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = clean_command(Path::new(env!("CARGO_BIN_EXE_smoke-gate")))
        .current_dir(root)
        .args(["--release", "2.4.0", "--format", "json", "--now", "2026-12-01T14:00:00Z"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn pytest_junitxml_failures_land_on_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::create_dir_all(root.join("tests")).unwrap();
    std::fs::write(
        root.join("tests/test_risk.py"),
        "def limit(qty):\n    return qty <= 1000\n\n\ndef test_under_limit():\n    assert limit(10)\n\n\ndef test_over_limit_is_refused():\n    assert not limit(5000)\n\n\ndef test_limit_edge():\n    assert limit(1001), \"1001 should be refused by the venue, not by us\"\n",
    )
    .unwrap();
    // pytest's default (xunit2) gives no file or line: the traceback's
    // `tests/test_risk.py:14:` puts the annotation on the failing assert.
    // xunit1 gives file and a 0-based line: the def, line 13.
    for (family, line) in [("xunit2", 14), ("xunit1", 13)] {
        let _ = std::fs::remove_dir_all(root.join("reports"));
        let out = Command::new("python3")
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", &format!("junit_family={family}")])
            .args(["--junitxml", "reports/fast-suite/2.4.0/pytest.xml", "tests"])
            .current_dir(root)
            .output()
            .expect("python3");
        assert!(
            root.join("reports/fast-suite/2.4.0/pytest.xml").exists(),
            "pytest did not run (scripts/test installs it from test-support/requirements.txt): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (code, r, err) = gate(root, &["--stage", "fast-suite"]);
        assert_eq!(code, 1, "{err}");
        assert_eq!(r["outputs"]["tests"], "3");
        assert_eq!(r["outputs"]["failed"], "1");
        let a = &r["annotations"][0];
        assert_eq!(a["path"], "tests/test_risk.py");
        assert_eq!(a["start_line"], line, "{family}");
        assert!(a["message"].as_str().unwrap().contains("1001 should be refused"));
    }
}

#[test]
fn nextest_junit_with_a_retried_flaky_test() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join(".config")).unwrap();
    std::fs::write(root.join("Cargo.toml"), "[package]\nname = \"venue\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n")
        .unwrap();
    std::fs::write(
        root.join("src/lib.rs"),
        r#"#[cfg(test)]
mod tests {
    #[test]
    fn quotes_parse() {
        assert_eq!("1.25".parse::<f64>().unwrap(), 1.25);
    }

    #[test]
    fn reconnects_after_drop() {
        // Fails on the first attempt, passes on the retry: flaky.
        let marker = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/attempted");
        if !marker.exists() {
            std::fs::write(&marker, "1").unwrap();
            panic!("connection dropped");
        }
    }

    #[test]
    fn settles_positions() {
        assert_eq!(2 + 2, 5, "netting is off by one");
    }
}
"#,
    )
    .unwrap();
    std::fs::write(
        root.join(".config/nextest.toml"),
        "[profile.ci]\nretries = 1\nfail-fast = false\n\n[profile.ci.junit]\npath = \"junit.xml\"\n",
    )
    .unwrap();
    let out = Command::new("cargo")
        .args(["nextest", "run", "--profile", "ci", "--offline"])
        .current_dir(root)
        .env("CARGO_TARGET_DIR", root.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo nextest");
    let junit = root.join("target/nextest/ci/junit.xml");
    assert!(junit.exists(), "nextest wrote no JUnit: {}", String::from_utf8_lossy(&out.stderr));
    let (code, r, err) = gate(root, &["--stage", "nextest", "--reports", "target/nextest/ci/junit.xml"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(r["outputs"]["tests"], "3", "{r:#}");
    assert_eq!(r["outputs"]["failed"], "1");
    assert_eq!(r["outputs"]["flaky"], "1");
    assert_eq!(r["data"]["flaky"][0]["id"], "venue.tests::reconnects_after_drop");
    assert_eq!(r["data"]["failures"][0]["id"], "venue.tests::settles_positions");
}
