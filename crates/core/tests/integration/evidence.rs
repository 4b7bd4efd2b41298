//! Whose check runs count as evidence: a check run carrying a gate's name
//! proves nothing, and neither does the run its `external_id` claims. It
//! counts only when GitHub filed it under a trusted workflow run's check
//! suite on this commit, for this release. Each way of faking one is
//! refused, with why.

use github_fake::Fake;
use release_gate_core::evidence::{CheckRuns, Trust, by_name};
use release_gate_core::github::{GitHub, RetryPolicy};
use release_gate_core::mask::Secret;

const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const NAME: &str = "release-gate/freeze-check";
const TRUSTED: &str = ".github/workflows/release.yml";

fn id(run: u64) -> String {
    id_for("2.4.0", run, 1)
}

fn id_for(release: &str, run: u64, attempt: u64) -> String {
    format!("release-gate/v3 release={release} run={run} attempt={attempt} at=2026-12-01T13:30:00Z")
}

struct Reader {
    fake: Fake,
    rt: tokio::runtime::Runtime,
}

impl Reader {
    fn new() -> Self {
        Self { fake: Fake::start("").expect("fake"), rt: tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt") }
    }

    fn read(&self, release: &str) -> CheckRuns {
        let _g = self.rt.enter();
        let gh = GitHub::new(&self.fake.base_url(), &Secret::new("ghs_evidence0123456789".into()), "o", "r", RetryPolicy::default())
            .expect("client");
        let trust = Trust { apps: vec!["github-actions".into()], workflows: vec![TRUSTED.into()] };
        self.rt.block_on(by_name(&gh, SHA, release, &trust)).expect("check runs")
    }

    /// (passed, counting conclusion, why refused) for `name` in 2.4.0.
    fn judged(&self, name: &str) -> (bool, Option<String>, Option<String>) {
        let runs = self.read("2.4.0");
        (runs.passed(name), runs.counting.get(name).map(|c| c.conclusion.clone()), runs.refused.get(name).cloned())
    }
}

#[test]
fn only_the_trusted_workflows_check_runs_on_this_commit_for_this_release_count() {
    let r = Reader::new();
    // The trusted run is the commit's first: check runs made with Actions' token land in its suite.
    r.fake.add_run(7, TRUSTED, SHA, "push");
    r.fake.add_run(8, ".github/workflows/anything.yml", SHA, "pull_request");
    r.fake.add_run(9, TRUSTED, &"1".repeat(40), "push");

    // Each fake alone: refused, saying why.
    let cases: [(&str, Option<String>, &str); 6] = [
        ("other-app", Some(id(7)), "created by the app `other-app`"),
        ("github-actions", None, "not published by this version of release-gate"),
        ("github-actions", Some("release-gate/v2 run=7 attempt=1 at=2026-12-01T13:30:00Z".into()), "no release-gate/v3 external id"),
        ("github-actions", Some("release-gate/v3 release=2.4.0 run=local attempt=1 at=x".into()), "published outside a workflow run"),
        ("github-actions", Some(id_for("2.4.1", 7, 1)), "it is release 2.4.1's result, not 2.4.0's"),
        ("github-actions", Some(id(9)), "it claims workflow run 9 was for commit 111111111111"),
    ];
    for (i, (app, ext, why)) in cases.iter().enumerate() {
        let name = format!("{NAME}-{i}");
        r.fake.add_check_run(SHA, &name, "success", app, ext.as_deref());
        let (passed, counting, refused) = r.judged(&name);
        assert!(!passed && counting.is_none(), "case {i} counted");
        assert!(refused.as_deref().is_some_and(|r| r.contains(why)), "case {i}: {refused:?} should say {why:?}");
    }
    // Claiming an untrusted run from inside the trusted suite is a mismatch.
    r.fake.add_check_run_in_run(7, "release-gate/claims-8", "success", Some(&id(8)));
    let (_, counting, refused) = r.judged("release-gate/claims-8");
    assert!(counting.is_none(), "a claim of another workflow's run");
    assert!(
        refused.as_deref().is_some_and(|w| w.contains("it claims workflow run 8 is of `.github/workflows/anything.yml`")),
        "{refused:?}"
    );
    // An attempt the run never had.
    r.fake.add_check_run_in_run(7, "release-gate/attempt", "success", Some(&id_for("2.4.0", 7, 2)));
    let (_, counting, refused) = r.judged("release-gate/attempt");
    assert!(counting.is_none());
    assert!(refused.as_deref().is_some_and(|w| w.contains("claims attempt 2 of workflow run 7, which has had 1")), "{refused:?}");
    r.fake.set_run_attempt(7, 2);
    assert_eq!(r.judged("release-gate/attempt").1.as_deref(), Some("success"), "once re-run, attempt 2 is real");

    // The real one counts.
    r.fake.add_check_run(SHA, NAME, "success", "github-actions", Some(&id(7)));
    assert!(r.judged(NAME).0, "the trusted workflow's success counts");
    // The same release's result for another release never counts: release-scoped.
    assert!(!r.read("2.4.1").counting.contains_key(NAME), "2.4.0's check run is not 2.4.1's evidence");
    assert!(r.fake.violations().is_empty(), "{:?}", r.fake.violations());
}

#[test]
fn a_check_run_filed_under_another_workflows_suite_does_not_count_whatever_it_claims() {
    let r = Reader::new();
    // The attacker's workflow ran first on the commit: GitHub files every
    // token-made check run under its suite, the forged one included.
    r.fake.add_run(8, ".github/workflows/evil.yml", SHA, "push");
    r.fake.add_run(7, TRUSTED, SHA, "push");
    r.fake.add_check_run(SHA, NAME, "success", "github-actions", Some(&id(7)));
    let (passed, counting, refused) = r.judged(NAME);
    assert!(!passed && counting.is_none(), "the external id names the trusted run, the suite does not");
    let why = refused.unwrap_or_default();
    assert!(why.contains("GitHub filed it under workflow run 8 is of `.github/workflows/evil.yml`"), "{why}");
    assert!(why.contains("evaluation.trusted-workflows"), "the refusal says what to do: {why}");
    // A check run in the trusted run's own suite counts.
    r.fake.add_check_run_in_run(7, NAME, "success", Some(&id(7)));
    assert!(r.judged(NAME).0);
}

#[test]
fn a_forged_success_beside_the_trusted_runs_real_failure_counts_for_nothing() {
    let r = Reader::new();
    r.fake.add_run(7, TRUSTED, SHA, "push");
    // The trusted run's gate failed.
    let real = r.fake.add_check_run(SHA, NAME, "failure", "github-actions", Some(&id(7)));
    r.fake.set_completed_at(real, "2026-12-01T13:30:00Z");
    assert_eq!(r.judged(NAME).1.as_deref(), Some("failure"));
    // Someone with `checks: write` adds a later success claiming the same
    // run and attempt; GitHub files it under the same suite.
    let forged = r.fake.add_check_run(SHA, NAME, "success", "github-actions", Some(&id(7)));
    r.fake.set_completed_at(forged, "2026-12-01T13:45:00Z");
    let (passed, counting, refused) = r.judged(NAME);
    assert!(!passed && counting.is_none(), "two results for one attempt: neither counts");
    assert!(
        refused.as_deref().is_some_and(|w| w.contains("2 check runs called `release-gate/freeze-check` claim attempt 1")),
        "{refused:?}"
    );
}

#[test]
fn the_newest_result_by_completion_time_decides_whatever_order_github_lists() {
    let r = Reader::new();
    r.fake.add_run(7, TRUSTED, SHA, "push");
    r.fake.set_run_attempt(7, 3);
    // Three attempts of the job, created out of order: the fake lists them scrambled too.
    let ids = [
        (r.fake.add_check_run(SHA, NAME, "success", "github-actions", Some(&id_for("2.4.0", 7, 3))), "2026-12-01T13:10:00Z"),
        (r.fake.add_check_run(SHA, NAME, "failure", "github-actions", Some(&id_for("2.4.0", 7, 2))), "2026-12-01T13:50:00Z"),
        (r.fake.add_check_run(SHA, NAME, "success", "github-actions", Some(&id_for("2.4.0", 7, 1))), "2026-12-01T13:30:00Z"),
    ];
    for (id, at) in ids {
        r.fake.set_completed_at(id, at);
    }
    let runs = r.read("2.4.0");
    let newest = runs.counting.get(NAME).expect("counts");
    assert_eq!((newest.conclusion.as_str(), newest.completed_at.as_str()), ("failure", "2026-12-01T13:50:00Z"));
    assert_eq!(newest.producer, 7);
}
