//! The fake must refuse what GitHub refuses, or tests against it prove nothing.

use github_fake::openapi::{Spec, spec_path};
use serde_json::json;

fn spec() -> Spec {
    Spec::load(&spec_path().expect("spec installed by the test set-up")).expect("spec loads")
}

#[test]
fn accepts_a_valid_check_run_and_refuses_invalid_ones() {
    let spec = spec();
    let ok = json!({"name": "release-gate/freeze-check", "head_sha": "abc", "status": "completed", "conclusion": "success",
                    "output": {"title": "t", "summary": "s"}});
    let op = spec.check("POST", "/repos/o/r/check-runs", &[], Some(&ok)).expect("valid");
    assert_eq!(op.template, "/repos/{owner}/{repo}/check-runs");

    let bad_conclusion = json!({"name": "x", "head_sha": "abc", "conclusion": "passed"});
    let errs = spec.check("POST", "/repos/o/r/check-runs", &[], Some(&bad_conclusion)).err().expect("refused");
    assert!(errs.iter().any(|e| e.contains("conclusion")), "{errs:?}");

    let annotations: Vec<_> = (0..51)
        .map(|i| json!({"path": "a", "start_line": i + 1, "end_line": i + 1, "annotation_level": "failure", "message": "m"}))
        .collect();
    let too_many = json!({"name": "x", "head_sha": "abc", "output": {"title": "t", "summary": "s", "annotations": annotations}});
    assert!(spec.check("POST", "/repos/o/r/check-runs", &[], Some(&too_many)).is_err(), "51 annotations must be refused");

    let long = json!({"name": "x", "head_sha": "abc", "output": {"title": "t", "summary": "x".repeat(65_536)}});
    assert!(spec.check("POST", "/repos/o/r/check-runs", &[], Some(&long)).is_err(), "summary over 65535 must be refused");

    let missing = json!({"head_sha": "abc"});
    assert!(spec.check("POST", "/repos/o/r/check-runs", &[], Some(&missing)).is_err(), "name is required");
}

#[test]
fn comment_update_is_patch_not_post() {
    let spec = spec();
    let body = json!({"body": "hi"});
    assert!(spec.check("PATCH", "/repos/o/r/issues/comments/12", &[], Some(&body)).is_ok());
    assert!(spec.check("POST", "/repos/o/r/issues/comments/12", &[], Some(&body)).is_err());
    assert!(spec.check("PATCH", "/repos/o/r/issues/comments/abc", &[], Some(&body)).is_err(), "comment id is an integer");
    assert!(spec.check("GET", "/nope", &[], None).is_err());
}

#[test]
fn query_parameters_are_checked() {
    let spec = spec();
    let q = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    assert!(spec.check("GET", "/repos/o/r/issues/3/comments", &q("per_page", "100"), None).is_ok());
    assert!(spec.check("GET", "/repos/o/r/issues/3/comments", &q("per_page", "many"), None).is_err());
    assert!(spec.check("GET", "/repos/o/r/issues/3/comments", &q("colour", "red"), None).is_err());
    assert!(spec.check("GET", "/repos/o/r/commits/abc/check-runs", &q("status", "done"), None).is_err());
}

#[test]
fn server_records_and_refuses() {
    let fake = github_fake::Fake::start("/api/v3").expect("fake");
    let url = fake.base_url();
    assert!(url.ends_with("/api/v3"));
    // A request outside the prefix is a violation.
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Authorization: Bearer t0ken",
            &format!("http://{}/repos/o/r/pulls/1", fake.addr()),
        ])
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "422");
    assert_eq!(fake.violations().len(), 1, "{:?}", fake.violations());
}
