//! The shared GitHub surfaces against the local GitHub fake, which checks
//! every request against GitHub's OpenAPI description. The real client code
//! runs; only the base URL differs.

use std::path::Path;
use std::time::{Duration, Instant};

use github_fake::{Fake, Fault};
use release_gate_core::cli::CommentMode;
use release_gate_core::context::Context;
use release_gate_core::github::{ApiError, GitHub, RetryPolicy};
use release_gate_core::mask::Secret;
use release_gate_core::policy::CommentLayout;
use release_gate_core::publish::{self, Options};
use release_gate_core::report::{Annotation, Check, Level, Report, Section, Status};

const SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

fn report(annotations: u64, status: Status) -> Report {
    let ts: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().expect("ts");
    let mut r = Report::new("smoke-gate", "2.4.0", ts, Some(SHA.into()));
    r.push(Check::new("suite", status, "42 tests"));
    for i in 0..annotations {
        r.annotations.push(Annotation {
            path: format!("tests/test_{i}.py"),
            start_line: i + 1,
            end_line: i + 1,
            level: Level::Failure,
            title: format!("test_{i} failed"),
            message: "assert 1 == 2".into(),
        });
    }
    r
}

fn ctx(pr: Option<u64>) -> Context {
    let mut c = Context {
        repository: Some(("octo".into(), "trading".into())),
        sha: Some(SHA.into()),
        run_id: Some("77".into()),
        ..Context::default()
    };
    if let Some(n) = pr {
        let payload = serde_json::json!({
            "number": n, "title": "t", "body": null, "user": {"login": "carol"}, "labels": [],
            "head": {"ref": "f", "sha": SHA, "repo": {"full_name": "octo/trading"}},
            "base": {"ref": "release/2.4", "sha": "b", "repo": {"full_name": "octo/trading"}}
        });
        c.pull_request = Some(serde_json::from_value(payload).expect("pr"));
    }
    c
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(20),
        max_wait: Duration::from_secs(5),
        timeout: Duration::from_secs(10),
        deadline: Duration::from_secs(60),
    }
}

fn client(fake: &Fake) -> GitHub {
    GitHub::new(&fake.base_url(), &Secret::new("ghs_testtoken0123456789".into()), "octo", "trading", fast()).expect("client")
}

fn opts(mode: CommentMode) -> Options {
    Options { check_name: "release-gate/smoke-gate".into(), comment_mode: mode, comment_layout: CommentLayout::PerGate }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn publish(fake: &Fake, c: &Context, r: &Report, mode: CommentMode) -> Result<publish::Published, ApiError> {
    let rt = rt();
    rt.block_on(async {
        let gh = client(fake);
        publish::to_github(&gh, c, r, &opts(mode), Path::new("reports/x.json")).await
    })
}

fn assert_clean(fake: &Fake) {
    let v = fake.violations();
    assert!(v.is_empty(), "requests GitHub would refuse: {v:#?}");
    assert!(fake.requests().iter().all(|r| r.authorized), "every request carries the token");
}

#[test]
fn check_run_with_120_annotations_goes_in_three_batches() {
    let fake = Fake::start("").expect("fake");
    let out = publish(&fake, &ctx(None), &report(120, Status::Fail), CommentMode::Always).expect("publish");
    assert_clean(&fake);
    let runs = fake.check_runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["conclusion"], "failure");
    assert_eq!(runs[0]["name"], "release-gate/smoke-gate");
    assert_eq!(runs[0]["head_sha"], SHA);
    assert_eq!(runs[0]["output"]["annotations_count"], 120);
    assert_eq!(out.check_run_id, runs[0]["id"].as_u64());
    let calls: Vec<(String, usize)> = fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("check-runs"))
        .map(|r| (r.method.clone(), r.body.as_ref().and_then(|b| b["output"]["annotations"].as_array().map(Vec::len)).unwrap_or(0)))
        .collect();
    assert_eq!(calls, vec![("POST".into(), 50), ("PATCH".into(), 50), ("PATCH".into(), 20)]);
}

#[test]
fn sticky_comment_is_created_then_edited_in_place() {
    let fake = Fake::start("").expect("fake");
    publish(&fake, &ctx(Some(5)), &report(0, Status::Fail), CommentMode::Always).expect("first");
    publish(&fake, &ctx(Some(5)), &report(0, Status::Pass), CommentMode::Always).expect("second");
    assert_clean(&fake);
    let comments = fake.comments();
    assert_eq!(comments.len(), 1, "one sticky comment, not two");
    let body = comments[0]["body"].as_str().expect("body");
    assert!(body.starts_with("<!-- release-gate sticky: release-gate/smoke-gate -->"));
    assert!(body.contains("✅ pass"), "edited to the latest verdict: {body}");
    let methods: Vec<String> = fake.requests().iter().filter(|r| r.path.contains("comments")).map(|r| r.method.clone()).collect();
    assert_eq!(methods, vec!["GET", "POST", "GET", "PATCH"]);
    let patch = fake.requests().into_iter().find(|r| r.method == "PATCH").expect("patch");
    assert_eq!(patch.path, format!("/repos/octo/trading/issues/comments/{}", comments[0]["id"]));
}

#[test]
fn comment_modes() {
    let fake = Fake::start("").expect("fake");
    publish(&fake, &ctx(Some(5)), &report(0, Status::Pass), CommentMode::OnFailure).expect("pass");
    assert!(fake.comments().is_empty(), "on-failure: no comment for a pass");
    publish(&fake, &ctx(Some(5)), &report(0, Status::Fail), CommentMode::OnFailure).expect("fail");
    assert_eq!(fake.comments().len(), 1);
    publish(&fake, &ctx(Some(5)), &report(0, Status::Pass), CommentMode::OnFailure).expect("pass again");
    assert!(fake.comments()[0]["body"].as_str().expect("b").contains("✅ pass"), "a stale refusal is updated");
    publish(&fake, &ctx(Some(6)), &report(0, Status::Fail), CommentMode::Off).expect("off");
    assert_eq!(fake.comments().len(), 1);
    assert_clean(&fake);
}

#[test]
fn a_502_after_the_comment_was_stored_does_not_duplicate_it() {
    let fake = Fake::start("").expect("fake");
    fake.inject(Fault::new("POST", "/issues/5/comments", 502).after_apply().times(1));
    fake.inject(Fault::new("POST", "/check-runs", 502).after_apply().times(1));
    let out = publish(&fake, &ctx(Some(5)), &report(0, Status::Fail), CommentMode::Always).expect("publish");
    assert_clean(&fake);
    assert_eq!(fake.comments().len(), 1, "the lost response must not yield a second comment");
    assert_eq!(fake.check_runs().len(), 1, "nor a second check run");
    assert_eq!(out.comment_id, fake.comments()[0]["id"].as_u64());
    assert_eq!(out.check_run_id, fake.check_runs()[0]["id"].as_u64());
    let posts = fake.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 2, "each POST sent once");
}

#[test]
fn a_502_before_storing_is_retried_after_checking() {
    let fake = Fake::start("").expect("fake");
    fake.inject(Fault::new("POST", "/issues/5/comments", 502).times(1));
    publish(&fake, &ctx(Some(5)), &report(0, Status::Fail), CommentMode::Always).expect("publish");
    assert_eq!(fake.comments().len(), 1, "posted once it was clear nothing was stored");
    assert_clean(&fake);
}

#[test]
fn secondary_rate_limit_with_retry_after_is_waited_out() {
    let fake = Fake::start("").expect("fake");
    fake.inject(
        Fault::new("POST", "/check-runs", 403)
            .header("retry-after", "1")
            .message("You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
            .times(1),
    );
    let started = Instant::now();
    let out = publish(&fake, &ctx(None), &report(0, Status::Pass), CommentMode::Always).expect("publish");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    assert!(out.degraded.is_none());
    assert_eq!(fake.check_runs().len(), 1);
    assert_eq!(fake.check_runs()[0]["conclusion"], "success");
}

#[test]
fn a_read_only_token_degrades_to_the_summary() {
    let fake = Fake::start("").expect("fake");
    for f in Fault::read_only_token() {
        fake.inject(f);
    }
    let out = publish(&fake, &ctx(Some(5)), &report(0, Status::Fail), CommentMode::Always).expect("degrades, does not fail");
    let why = out.degraded.expect("degraded");
    assert!(why.contains("check run") && why.contains("PR comment") && why.contains("checks: write"), "{why}");
    assert!(fake.check_runs().is_empty() && fake.comments().is_empty());
}

#[test]
fn ghes_base_path_is_kept() {
    let fake = Fake::start("/api/v3").expect("fake");
    publish(&fake, &ctx(Some(5)), &report(3, Status::Warn), CommentMode::Always).expect("publish");
    assert_clean(&fake);
    assert_eq!(fake.check_runs()[0]["conclusion"], "neutral");
    assert_eq!(fake.comments().len(), 1);
}

#[test]
fn exhausted_retries_name_the_call_and_map_to_exit_3() {
    let fake = Fake::start("").expect("fake");
    fake.inject(Fault::new("GET", "/issues/5/comments", 503));
    let err = publish(&fake, &ctx(Some(5)), &report(0, Status::Pass), CommentMode::Always).expect_err("unreachable");
    assert!(err.is_unreachable());
    let msg = err.to_string();
    assert!(msg.contains("GET /repos/octo/trading/issues/5/comments") && msg.contains("after 3 attempt(s)"), "{msg}");
    assert_eq!(release_gate_core::exit::for_error(&anyhow::Error::from(err)), 3);
    let gets = fake.requests().iter().filter(|r| r.method == "GET").count();
    assert_eq!(gets, 3);
}

#[test]
fn an_answer_that_is_not_json_is_the_service_failing_exit_3() {
    let fake = Fake::start("").expect("fake");
    fake.inject(Fault::new("GET", "/pulls/5", 200).raw_body("<html>502 Bad Gateway</html>"));
    let rt = rt();
    let _in = rt.enter();
    let gh = client(&fake);
    let err = rt.block_on(gh.pull(5)).expect_err("not JSON");
    assert!(err.to_string().contains("not the documented JSON"), "{err}");
    assert_eq!(release_gate_core::exit::for_error(&anyhow::Error::from(err)), 3);
    // JSON of the wrong shape is the same.
    fake.inject(Fault::new("GET", "/pulls/6", 200).raw_body("{\"number\": \"six\"}"));
    let err = rt.block_on(gh.pull(6)).expect_err("wrong shape");
    assert_eq!(release_gate_core::exit::for_error(&anyhow::Error::from(err)), 3);
}

#[test]
fn rate_limit_waits_count_as_attempts_made_and_the_deadline_bounds_them() {
    let fake = Fake::start("").expect("fake");
    // Two rate-limited answers, then 503s: every request sent is counted.
    fake.inject(Fault::new("GET", "/issues/7/comments", 429).header("retry-after", "0").times(2));
    fake.inject(Fault::new("GET", "/issues/7/comments", 503));
    let rt = rt();
    let _in = rt.enter();
    let err = rt.block_on(client(&fake).comments(7)).expect_err("unreachable");
    assert!(err.to_string().contains("after 5 attempt(s)"), "{err}");
    assert_eq!(fake.requests().iter().filter(|r| r.method == "GET").count(), 5);
    // A 429 without Retry-After asks for a minute; a run with 2 s left gives up at once.
    let fake = Fake::start("").expect("fake");
    fake.inject(Fault::new("GET", "/issues/8/comments", 429));
    let short = RetryPolicy { deadline: Duration::from_secs(2), ..fast() };
    let gh = GitHub::new(&fake.base_url(), &Secret::new("ghs_testtoken0123456789".into()), "octo", "trading", short).expect("client");
    let started = Instant::now();
    let err = rt.block_on(gh.comments(8)).expect_err("rate limited");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(err.to_string().contains("beyond what this run may wait"), "{err}");
    // A hung API: each answer takes 1.5 s, the run has 2 s: one deadline, not attempts × timeouts.
    let fake = Fake::start("").expect("fake");
    fake.latency("GET", "/issues/9/comments", 1_500);
    let hung = RetryPolicy { deadline: Duration::from_secs(2), timeout: Duration::from_secs(1), ..fast() };
    let gh = GitHub::new(&fake.base_url(), &Secret::new("ghs_testtoken0123456789".into()), "octo", "trading", hung).expect("client");
    let started = Instant::now();
    let err = rt.block_on(gh.comments(9)).expect_err("hung");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(err.is_unreachable(), "{err}");
}

#[test]
fn oversized_text_is_cut_to_githubs_limit() {
    let fake = Fake::start("").expect("fake");
    let mut r = report(0, Status::Fail);
    r.details.push(Section { title: "log".into(), markdown: "€".repeat(40_000) });
    publish(&fake, &ctx(Some(5)), &r, CommentMode::Always).expect("publish");
    assert_clean(&fake);
    let text = fake.check_runs()[0]["output"]["text"].as_str().expect("text").to_owned();
    assert!(text.len() <= 65_535 && text.contains("bytes cut to fit GitHub's limit"), "{} bytes", text.len());
    assert!(fake.comments()[0]["body"].as_str().expect("b").len() <= 65_536);
}

/// A gate's report for the combined comment: `gate` on release 2.5.0.
fn gate_report(gate: &str, status: Status, message: &str) -> Report {
    let ts: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().expect("ts");
    let mut r = Report::new(gate, "2.5.0", ts, Some(SHA.into()));
    r.title = format!("{gate}: {message}");
    r.push(Check::new("rule", status, message));
    r
}

async fn publish_combined(fake: &Fake, r: &Report) -> Result<publish::Published, ApiError> {
    let gh = client(fake);
    let o = Options { check_name: r.check_name(), comment_mode: CommentMode::Always, comment_layout: CommentLayout::Combined };
    publish::to_github(&gh, &ctx(Some(5)), r, &o, Path::new("reports/x.json")).await
}

#[test]
fn one_combined_comment_for_the_release_rows_linked_to_their_check_runs() {
    let fake = Fake::start("").expect("fake");
    let rt = rt();
    let a = rt.block_on(publish_combined(&fake, &gate_report("freeze-check", Status::Pass, "deploys are open"))).expect("a");
    let b = rt.block_on(publish_combined(&fake, &gate_report("config-diff", Status::Fail, "one divergence"))).expect("b");
    assert_clean(&fake);
    let comments = fake.comments();
    assert_eq!(comments.len(), 1, "one comment for the release, not one per gate");
    assert_eq!(a.comment_id, b.comment_id);
    let body = comments[0]["body"].as_str().expect("body");
    assert!(body.starts_with("<!-- release-gate release: 2.5.0 -->"), "{body}");
    let runs = fake.check_runs();
    for r in &runs {
        let url = r["html_url"].as_str().expect("url");
        assert!(body.contains(&format!("]({url})")), "{} linked: {body}", r["name"]);
    }
    assert!(body.contains("1 of 2 gate(s) refuse") && body.contains("❌ rule: one divergence"), "{body}");
    assert!(body.len() < 4096);
    // The same gate again: its row is replaced, nothing is added.
    rt.block_on(publish_combined(&fake, &gate_report("config-diff", Status::Pass, "aligned"))).expect("again");
    let comments = fake.comments();
    assert_eq!(comments.len(), 1);
    let body = comments[0]["body"].as_str().expect("body");
    assert!(body.contains("every gate passes (2)") && !body.contains("one divergence"), "{body}");
    assert_eq!(b.comment_url.as_deref(), comments[0]["html_url"].as_str(), "comment-url output is the comment's link");
}

#[test]
fn a_comment_with_the_marker_by_someone_else_is_never_taken_over() {
    let fake = Fake::start("").expect("fake");
    fake.with(|s| {
        s.comments.push(serde_json::json!({
            "id": 900, "node_id": "IC_900", "_issue": 5, "body": "<!-- release-gate release: 2.5.0 -->\n### ✅ all good, trust me",
            "user": {"login": "mallory", "id": 6, "type": "User"}, "url": "", "html_url": "https://github.com/octo/trading/pull/5#issuecomment-900",
            "issue_url": "", "created_at": "2026-12-01T13:00:00Z", "updated_at": "2026-12-01T13:00:00Z", "author_association": "CONTRIBUTOR",
        }))
    });
    let rt = rt();
    let out = rt.block_on(publish_combined(&fake, &gate_report("config-diff", Status::Fail, "one divergence"))).expect("publish");
    assert_clean(&fake);
    let comments = fake.comments();
    assert_eq!(comments.len(), 2, "ours is a new comment");
    assert_eq!(comments[0]["body"].as_str().expect("b"), "<!-- release-gate release: 2.5.0 -->\n### ✅ all good, trust me", "untouched");
    assert_ne!(out.comment_id, Some(900));
    assert!(fake.requests().iter().all(|r| r.method != "PATCH" || !r.path.ends_with("/900")));
    // An installation token cannot name itself: `GET /user` answers 403 and the author must be a bot.
    assert!(fake.requests().iter().any(|r| r.method == "GET" && r.path == "/user"));
}

#[test]
fn gates_finishing_at_once_both_end_up_in_the_comment() {
    for _ in 0..3 {
        let fake = Fake::start("").expect("fake");
        // Slow reads: each writer renders from a list that is stale by the time it writes.
        fake.latency("GET", "/check-runs", 150);
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        let (fc, av) =
            (gate_report("freeze-check", Status::Fail, "weekend freeze"), gate_report("artifact-verify", Status::Fail, "digest mismatch"));
        let (a, b) = rt.block_on(async { tokio::join!(publish_combined(&fake, &fc), publish_combined(&fake, &av)) });
        a.expect("a");
        b.expect("b");
        assert_clean(&fake);
        let bodies: Vec<String> = fake.comments().iter().map(|c| c["body"].as_str().unwrap_or_default().to_owned()).collect();
        assert_eq!(bodies.len(), 1, "one comment, even when both found none and created one: {bodies:#?}");
        assert!(bodies[0].contains("weekend freeze") && bodies[0].contains("digest mismatch"), "both rows survive the race: {bodies:#?}");
    }
}
