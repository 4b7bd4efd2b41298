//! Whose check runs count as evidence: a check run carrying a gate's name
//! proves nothing unless release-gate's trusted workflow published it for
//! this commit. Each way of faking one is refused, with why.

use github_fake::Fake;
use release_gate_core::evidence::{Trust, by_name};
use release_gate_core::github::{GitHub, RetryPolicy};
use release_gate_core::mask::Secret;

const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const NAME: &str = "release-gate/freeze-check";

fn id(run: u64) -> String {
    format!("release-gate/v2 run={run} attempt=1 at=2026-12-01T13:30:00Z")
}

#[test]
fn only_the_trusted_workflows_check_runs_on_this_commit_count() {
    let fake = Fake::start("").expect("fake");
    fake.add_run(7, ".github/workflows/release.yml", SHA, "push");
    fake.add_run(8, ".github/workflows/anything.yml", SHA, "pull_request");
    fake.add_run(9, ".github/workflows/release.yml", &"1".repeat(40), "push");
    let trust = Trust { apps: vec!["github-actions".into()], workflows: vec![".github/workflows/release.yml".into()] };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let judged = |name: &str| {
        let _g = rt.enter();
        let gh =
            GitHub::new(&fake.base_url(), &Secret::new("ghs_evidence0123456789".into()), "o", "r", RetryPolicy::default()).expect("client");
        let runs = rt.block_on(by_name(&gh, SHA, &trust)).expect("check runs");
        (runs.passed(name), runs.counting.get(name).cloned(), runs.refused.get(name).cloned())
    };

    // Each fake alone: refused, saying why.
    let cases: [(&str, &str, Option<String>, &str); 5] = [
        ("other-app", "success", Some(id(7)), "created by the app `other-app`"),
        ("github-actions", "success", None, "not published by release-gate"),
        ("github-actions", "success", Some("release-gate/v2 run=local attempt=1 at=x".into()), "published outside a workflow run"),
        ("github-actions", "success", Some(id(8)), "published by the workflow `.github/workflows/anything.yml`"),
        ("github-actions", "success", Some(id(9)), "its workflow run was for commit 111111111111"),
    ];
    for (i, (app, conclusion, ext, why)) in cases.iter().enumerate() {
        let name = format!("{NAME}-{i}");
        fake.add_check_run(SHA, &name, conclusion, app, ext.as_deref());
        let (passed, counting, refused) = judged(&name);
        assert!(!passed && counting.is_none(), "case {i} counted");
        assert!(refused.as_deref().is_some_and(|r| r.contains(why)), "case {i}: {refused:?} should say {why:?}");
    }

    // The real one counts; a newer failure of it wins over an older success.
    fake.add_check_run(SHA, NAME, "success", "github-actions", Some(&id(7)));
    assert!(judged(NAME).0, "the trusted workflow's success counts");
    fake.add_check_run(SHA, NAME, "failure", "github-actions", Some(&id(7)));
    let (passed, counting, _) = judged(NAME);
    assert!(!passed && counting.is_some_and(|c| c.conclusion == "failure"), "the newest counting run decides");
    // A later fake success from another app does not hide the failure.
    fake.add_check_run(SHA, NAME, "success", "other-app", Some(&id(7)));
    assert!(!judged(NAME).0);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}
