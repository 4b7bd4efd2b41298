//! What the release workflow leaves on GitHub for a commit, made from the
//! bundled example's real reports: each gate's check run (in the workflow
//! run's own check suite, with the row the gate embeds), and the decision
//! log decision-log-commit writes online, rendered by its own code.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use github_fake::Fake;
use release_gate_core::publish::ExternalId;
use release_gate_core::report::{Report, Verdict};
use serde_json::json;

/// When the example's release workflow ran (a Tuesday, inside the primary window).
pub const OPEN: &str = "2026-12-01T13:30:00Z";

/// A copy of the example with 2.4.0 and 2.5.0 run through every gate (its
/// earlier local reports left out).
pub fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    github_fake::support::copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tradepulse"), dir.path(), "release-gate")
        .unwrap();
    for release in ["2.4.0", "2.5.0"] {
        let out = github_fake::support::clean_command(Path::new(env!("CARGO_BIN_EXE_release-gate")))
            .args(["run", "--root"])
            .arg(dir.path())
            .args(["--release", release])
            .output()
            .unwrap();
        assert!(out.status.code().is_some_and(|c| c < 2), "{}", String::from_utf8_lossy(&out.stderr));
    }
    dir
}

fn reports(dir: &Path, release: &str) -> Vec<Report> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.join("reports/release-gate").join(release)).unwrap() {
        let p = e.unwrap().path();
        let r = Report::read(&p).unwrap();
        if !matches!(r.gate.as_str(), "decision-log-commit" | "deploy-check" | "release-guard") {
            out.push(r);
        }
    }
    out
}

/// The gates' check runs for `release` on `sha`, published by workflow run `run`.
pub fn publish_reports(fake: &Fake, dir: &Path, release: &str, sha: &str, run: u64) {
    for r in reports(dir, release) {
        let conclusion = match r.verdict {
            Verdict::Pass => "success",
            Verdict::Warn => "neutral",
            Verdict::Fail => "failure",
        };
        let ext = ExternalId {
            release: release.to_owned(),
            run_id: Some(run.to_string()),
            run_attempt: "1".into(),
            generated_at: r.generated_at.clone(),
            outcome: r.outputs.get("outcome").cloned(),
            decision: r.outputs.get("decision").cloned(),
        }
        .render();
        let id = fake.add_check_run_in_run(run, &r.check_name(), conclusion, Some(&ext));
        let row = release_gate_core::comment::Row::from_report(&r).embed();
        fake.with(|s| {
            for c in s.check_runs.iter_mut().filter(|c| c["id"] == id) {
                c["head_sha"] = json!(sha);
                c["output"]["title"] = json!(r.title);
                c["output"]["summary"] = json!(row);
                c["completed_at"] = json!(r.generated_at);
            }
        });
    }
}

/// The decision log decision-log-commit writes online for `sha` at `now`:
/// every gate recorded on `sha`, the checklist read from `dir`'s files, the
/// GO (or NO-GO) recorded in the lifecycle for `sha`.
pub fn online_log(dir: &Path, release: &str, sha: &str, now: &str) -> String {
    let root = release_gate_core::paths::Root::new(dir, None).unwrap();
    let text = std::fs::read_to_string(dir.join(".github/release-gate.yml")).unwrap();
    let policy = release_gate_core::policy::from_text::<decision_log_commit::LogPolicy>(Some(&text), Path::new("p.yml")).unwrap().section;
    let mut entries = BTreeMap::new();
    for mut r in reports(dir, release) {
        r.commit = Some(sha.to_owned());
        r.dry_run = false;
        let e = decision_log_commit::entry_of(&r, Some(format!("https://github.com/o/r/runs/{}", r.key()))).unwrap();
        entries.insert(e.key.clone(), e);
    }
    let (links, runs) = (BTreeMap::new(), release_gate_core::evidence::CheckRuns::default());
    let log = format!("reports/release-decisions/{release}.md");
    let ctx = decision_log_commit::RenderCtx {
        release,
        log: &log,
        commit: Some(sha.to_owned()),
        online: true,
        files: decision_log_commit::evidence::Files::Local(&root),
        links: &links,
        check_runs: &runs,
        recording: Some(decision_log_commit::Recording {
            by: "release-captain".into(),
            via: "decision-log-commit in https://github.com/o/r/actions/runs/7".into(),
        }),
        now: now.parse().unwrap(),
        run_url: Some("https://github.com/o/r/actions/runs/7".into()),
        policy: &policy,
        fallback: BTreeMap::new(),
    };
    decision_log_commit::render(None, &entries, &ctx, &decision_log_commit::Hand::default()).unwrap().0
}

/// Commits every file of `dir` (the example repository, its reports
/// aside) to `branch` as the commit `sha`: what the deploy checks out.
pub fn commit_tree(fake: &Fake, dir: &Path, branch: &str, sha: &str) {
    fn walk(fake: &Fake, base: &Path, at: &Path, branch: &str, sha: &str) {
        for e in std::fs::read_dir(at).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            if rel == ".git" || rel.starts_with("reports/release-gate") || rel.starts_with("reports/release-decisions") {
                continue;
            }
            if p.is_dir() {
                walk(fake, base, &p, branch, sha);
            } else if let Ok(text) = std::fs::read_to_string(&p) {
                fake.put_file_as(branch, &rel, &text, sha);
            }
        }
    }
    walk(fake, dir, dir, branch, sha);
}
