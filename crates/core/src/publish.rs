//! Every surface a report is shown on: the JSON file, `$GITHUB_OUTPUT`,
//! `$GITHUB_STEP_SUMMARY`, workflow-command annotations, the check run and
//! the sticky PR comment. Gates never publish themselves; they hand their
//! report here.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::cli::CommentMode;
use crate::comment;
use crate::context::Context;
use crate::github::calls::Created;
use crate::github::{ApiError, GitHub};
use crate::policy::CommentLayout;
use crate::render;
use crate::report::{Annotation, Level, Report, Verdict};

/// GitHub's limit for check-run summary and text, in bytes here to be safe.
pub const CHECK_TEXT_LIMIT: usize = 65_535;
/// GitHub's limit for an issue comment body.
pub const COMMENT_LIMIT: usize = 65_536;
/// GitHub's limit for one step's job summary.
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;
/// Annotations accepted per check-run request.
pub const ANNOTATIONS_PER_REQUEST: usize = 50;
/// GitHub shows at most this many workflow-command annotations per type and step.
pub const WORKFLOW_ANNOTATIONS_PER_TYPE: usize = 10;

/// How a report is shown on GitHub.
#[derive(Debug, Clone)]
pub struct Options {
    /// Check run name.
    pub check_name: String,
    /// Sticky comment behaviour.
    pub comment_mode: CommentMode,
    /// One comment for the release, or one per gate.
    pub comment_layout: CommentLayout,
}

/// What publishing did, for logs and tests.
#[derive(Debug, Default)]
pub struct Published {
    /// Check run id, when one was written.
    pub check_run_id: Option<u64>,
    /// Check run web link, when one was written.
    pub check_run_url: Option<String>,
    /// Comment id, when one was written.
    pub comment_id: Option<u64>,
    /// Comment web link, when one was written.
    pub comment_url: Option<String>,
    /// Why a surface was skipped (a token without permission).
    pub degraded: Option<String>,
}

/// A file of the job's that cannot be written (the report, the step
/// outputs, the job summary).
#[derive(Debug, thiserror::Error)]
#[error("cannot write {what}{path}")]
pub struct WriteError {
    /// What it is, with a trailing space (`step outputs to `), or empty.
    what: &'static str,
    /// The file.
    path: String,
    /// The cause.
    source: std::io::Error,
}

impl WriteError {
    fn at(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.display().to_string();
        move |source| Self { what, path, source }
    }
}

/// Writes `<dir>/<gate>.json` (through a temporary file and a rename, see
/// [`crate::paths::write_atomic`]) and returns its path.
pub fn write_report(report: &Report, dir: &Path) -> Result<PathBuf, WriteError> {
    let path = report.path_in(dir);
    // Strings, numbers and string-keyed maps: serialising cannot fail.
    let mut json = serde_json::to_vec_pretty(report).unwrap_or_default();
    json.push(b'\n');
    crate::paths::write_atomic(&path, &json).map_err(WriteError::at("", &path))?;
    Ok(path)
}

/// Appends `name=value` pairs to `$GITHUB_OUTPUT`, each with a heredoc
/// delimiter that does not occur in its value.
pub fn write_outputs(file: &Path, pairs: &[(String, String)]) -> Result<(), WriteError> {
    let mut text = String::new();
    for (name, value) in pairs {
        let delimiter = delimiter_for(value);
        text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
    }
    append(file, &text).map_err(WriteError::at("step outputs to ", file))
}

fn delimiter_for(value: &str) -> String {
    let seed = jiff::Timestamp::now().as_nanosecond() as u128 ^ (u128::from(std::process::id()) << 64);
    let mut n = seed;
    loop {
        let d = format!("ghadelimiter_{:032x}", n);
        if !value.contains(&d) {
            return d;
        }
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    }
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(text.as_bytes())
}

/// Appends the Markdown to the job summary, cut to the 1 MiB step limit.
pub fn write_summary(file: &Path, markdown: &str, report_path: &Path) -> Result<(), WriteError> {
    let body = render::truncate(markdown, STEP_SUMMARY_LIMIT - 1024, &report_path.display().to_string());
    append(file, &format!("{body}\n")).map_err(WriteError::at("the job summary ", file))
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Workflow commands (`::error file=,line=::`) for the report's annotations,
/// at most 10 per level as GitHub shows no more; the rest are counted in a notice.
pub fn workflow_commands(report: &Report) -> String {
    let mut out = String::new();
    let mut shown = [0usize; 3];
    let mut hidden = 0usize;
    for a in &report.annotations {
        let (idx, cmd) = match a.level {
            Level::Failure => (0, "error"),
            Level::Warning => (1, "warning"),
            Level::Notice => (2, "notice"),
        };
        if shown[idx] >= WORKFLOW_ANNOTATIONS_PER_TYPE {
            hidden += 1;
            continue;
        }
        shown[idx] += 1;
        out.push_str(&format!(
            "::{cmd} file={},line={},endLine={},title={}::{}\n",
            escape_property(&a.path),
            a.start_line,
            a.end_line,
            escape_property(&a.title),
            escape_data(&a.message)
        ));
    }
    if hidden > 0 {
        out.push_str(&format!(
            "::notice title=release-gate::{hidden} more annotations are on the {} check run\n",
            escape_data(&report.gate)
        ));
    }
    out
}

fn conclusion(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "success",
        // Neutral satisfies a required check yet stands out in the PR.
        Verdict::Warn => "neutral",
        Verdict::Fail => "failure",
    }
}

fn annotation_json(a: &Annotation) -> Value {
    json!({
        "path": a.path,
        "start_line": a.start_line,
        "end_line": a.end_line.max(a.start_line),
        "annotation_level": match a.level { Level::Failure => "failure", Level::Warning => "warning", Level::Notice => "notice" },
        "title": a.title,
        "message": a.message,
    })
}

/// What a check run's `external_id` records: the release, the workflow run
/// and attempt that published it, the instant evaluated and the gate's
/// outcome (its `outcome` output, e.g. smoke-gate's `passed`/`failed`).
/// Written and read here only; readers never parse a check run's prose.
/// What it claims is a claim: [`crate::evidence`] decides whose it is from
/// the check suite GitHub filed it under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalId {
    /// The release the gate evaluated.
    pub release: String,
    /// `GITHUB_RUN_ID`, `None` outside Actions.
    pub run_id: Option<String>,
    /// `GITHUB_RUN_ATTEMPT`.
    pub run_attempt: String,
    /// The report's `generated_at`.
    pub generated_at: String,
    /// The gate's outcome, when it has one.
    pub outcome: Option<String>,
    /// The gate's decision (smoke-gate's `promote`/`hold`/`rollback`), when it has one.
    pub decision: Option<String>,
}

impl ExternalId {
    const PREFIX: &'static str = "release-gate/v3";

    /// `release-gate/v3 release=2.4.0 run=123 attempt=1 at=2026-12-01T13:30:00Z outcome=failed`.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} release={} run={} attempt={} at={}",
            Self::PREFIX,
            self.release,
            self.run_id.as_deref().unwrap_or("local"),
            self.run_attempt,
            self.generated_at
        );
        if let Some(o) = &self.outcome {
            s.push_str(&format!(" outcome={o}"));
        }
        if let Some(d) = &self.decision {
            s.push_str(&format!(" decision={d}"));
        }
        s
    }

    /// Reads one back; `None` for anything this version did not write.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split_whitespace();
        if parts.next()? != Self::PREFIX {
            return None;
        }
        let (mut release, mut run_id, mut run_attempt, mut generated_at, mut outcome, mut decision) = (None, None, None, None, None, None);
        for p in parts {
            match p.split_once('=')? {
                ("release", v) => release = Some(v.to_owned()),
                ("run", v) => run_id = Some(v.to_owned()).filter(|v| v != "local"),
                ("attempt", v) => run_attempt = Some(v.to_owned()),
                ("at", v) => generated_at = Some(v.to_owned()),
                ("outcome", v) => outcome = Some(v.to_owned()),
                ("decision", v) => decision = Some(v.to_owned()),
                _ => return None,
            }
        }
        Some(Self { release: release?, run_id, run_attempt: run_attempt?, generated_at: generated_at?, outcome, decision })
    }

    /// Whether it was published by this very run (same workflow run and attempt).
    pub fn is_run(&self, ctx: &Context) -> bool {
        self.run_id == ctx.run_id && self.run_attempt == ctx.run_attempt.as_deref().unwrap_or("1")
    }
}

/// The hidden marker that finds this gate's sticky comment again.
pub fn sticky_marker(check_name: &str) -> String {
    format!("<!-- release-gate sticky: {check_name} -->")
}

/// Writes the check run and the sticky comment. A token without permission
/// (fork PRs) degrades to one warning; an unreachable API is an error.
pub async fn to_github(gh: &GitHub, ctx: &Context, report: &Report, opts: &Options, report_path: &Path) -> Result<Published, ApiError> {
    let mut published = Published::default();
    let mut forbidden = Vec::new();
    match check_run(gh, ctx, report, opts, report_path).await {
        Ok(Some(c)) => {
            published.check_run_id = Some(c.id);
            published.check_run_url = c.html_url;
        }
        Ok(None) => {}
        Err(ApiError::Forbidden { call, message }) | Err(ApiError::Status { call, message, status: 401 }) => {
            forbidden.push(format!("check run ({call}: {message})"));
        }
        Err(ApiError::NotFound { call }) => forbidden.push(format!("check run ({call}: not found)")),
        Err(e) => return Err(e),
    }
    if let Some(pr) = &ctx.pull_request {
        let written = match (opts.comment_layout, published.check_run_id, ctx.sha.as_deref()) {
            (CommentLayout::Combined, Some(id), Some(sha)) => combined_comment(gh, pr.number, sha, id, report, opts).await,
            // Without a check run there is nothing to combine: the gate's own comment.
            _ => sticky_comment(gh, pr.number, report, opts, report_path).await,
        };
        match written {
            Ok(Some(c)) => {
                published.comment_id = Some(c.id);
                published.comment_url = c.html_url;
            }
            Ok(None) => {}
            Err(ApiError::Forbidden { call, message }) => forbidden.push(format!("PR comment ({call}: {message})")),
            Err(ApiError::NotFound { call }) => forbidden.push(format!("PR comment ({call}: not found)")),
            Err(e) => return Err(e),
        }
    }
    if !forbidden.is_empty() {
        published.degraded = Some(format!(
            "the token could not write the {}; this is expected on pull requests from forks. The result is in the job summary and step outputs; the gate's verdict still decides this step. To publish, grant `checks: write` and `pull-requests: write` in the workflow's permissions",
            forbidden.join(" or the ")
        ));
    }
    Ok(published)
}

async fn check_run(gh: &GitHub, ctx: &Context, report: &Report, opts: &Options, report_path: &Path) -> Result<Option<Created>, ApiError> {
    let Some(sha) = ctx.sha.as_deref() else { return Ok(None) };
    let full = report_path.display().to_string();
    let title = if report.title.is_empty() { format!("{}: {}", report.gate, report.verdict.as_str()) } else { report.title.clone() };
    // The row the combined release comment reads back, hidden at the top.
    let row = comment::Row::from_report(report).embed();
    let summary = format!(
        "{row}\n{}",
        render::truncate(&(render::summary(report) + &render::footer(report)), CHECK_TEXT_LIMIT - row.len() - 1, &full)
    );
    let text = render::details(report);
    let mut output = json!({ "title": title, "summary": summary });
    if !text.trim().is_empty() {
        output["text"] = Value::String(render::truncate(&text, CHECK_TEXT_LIMIT, &full));
    }
    let mut batches = report.annotations.chunks(ANNOTATIONS_PER_REQUEST);
    if let Some(first) = batches.next() {
        output["annotations"] = first.iter().map(annotation_json).collect();
    }
    // external_id lets a create that lost its response be found again, and
    // carries the run and the gate's outcome for those who read it back.
    let external_id = ExternalId {
        release: report.release.clone(),
        run_id: ctx.run_id.clone(),
        run_attempt: ctx.run_attempt.clone().unwrap_or_else(|| "1".into()),
        generated_at: report.generated_at.clone(),
        outcome: report.outputs.get("outcome").cloned(),
        decision: report.outputs.get("decision").filter(|d| !d.contains(char::is_whitespace)).cloned(),
    }
    .render();
    let mut body = json!({
        "name": opts.check_name,
        "head_sha": sha,
        "status": "completed",
        "conclusion": conclusion(report.verdict),
        "completed_at": report.generated_at,
        "external_id": external_id,
        "output": output,
    });
    if let Some(url) = ctx.run_url() {
        body["details_url"] = Value::String(url);
    }
    let created = match gh.create_check_run(&body).await {
        Ok(c) => c,
        Err(ApiError::Ambiguous { call, detail }) => {
            eprintln!("release-gate: {call}: {detail}; looking for the check run before trying again");
            match find_check_run(gh, sha, &opts.check_name, &external_id).await? {
                Some(c) => c,
                None => gh.create_check_run(&body).await?,
            }
        }
        Err(e) => return Err(e),
    };
    let id = created.id;
    // GitHub appends annotations sent by later updates; 50 per request.
    for batch in batches {
        let update = json!({
            "output": {
                "title": body["output"]["title"],
                "summary": body["output"]["summary"],
                "annotations": batch.iter().map(annotation_json).collect::<Vec<_>>(),
            }
        });
        gh.update_check_run(id, &update).await?;
    }
    Ok(Some(created))
}

async fn find_check_run(gh: &GitHub, sha: &str, name: &str, external_id: &str) -> Result<Option<Created>, ApiError> {
    Ok(gh
        .check_runs(sha, Some(name))
        .await?
        .into_iter()
        .find(|r| r.external_id.as_deref() == Some(external_id))
        .map(|r| Created { id: r.id, html_url: r.html_url }))
}

async fn sticky_comment(
    gh: &GitHub,
    number: u64,
    report: &Report,
    opts: &Options,
    report_path: &Path,
) -> Result<Option<Created>, ApiError> {
    if opts.comment_mode == CommentMode::Off {
        return Ok(None);
    }
    let marker = sticky_marker(&opts.check_name);
    let existing = find_comment(gh, number, &marker).await?;
    if existing.is_none() && opts.comment_mode == CommentMode::OnFailure && report.verdict != Verdict::Fail {
        return Ok(None);
    }
    let budget = COMMENT_LIMIT - marker.len() - 2;
    let body = format!("{marker}\n{}", render::truncate(&render::markdown(report), budget, &report_path.display().to_string()));
    if let Some(c) = existing {
        gh.update_comment(c.id, &body).await?;
        return Ok(Some(c));
    }
    match gh.create_comment(number, &body).await {
        Ok(c) => Ok(Some(c)),
        Err(ApiError::Ambiguous { call, detail }) => {
            eprintln!("release-gate: {call}: {detail}; looking for the comment before trying again");
            match find_comment(gh, number, &marker).await? {
                Some(c) => Ok(Some(c)),
                None => Ok(Some(gh.create_comment(number, &body).await?)),
            }
        }
        Err(e) => Err(e),
    }
}

/// The combined release comment: rows read back from the commit's check
/// runs (those of the app that wrote this gate's, for this release, the
/// latest per gate), rendered, and written to the comment found by marker
/// and author. Gates finishing at once race on the comment, not on the
/// rows: after writing, the check runs are read again and the comment
/// rewritten until it shows what they hold (at most four rounds).
async fn combined_comment(
    gh: &GitHub,
    number: u64,
    sha: &str,
    own: u64,
    report: &Report,
    opts: &Options,
) -> Result<Option<Created>, ApiError> {
    if opts.comment_mode == CommentMode::Off {
        return Ok(None);
    }
    let marker = comment::marker(&report.release);
    let me = gh.identity().await?;
    let mut runs = listed_with(gh, sha, own).await?;
    let mut written = None;
    for _ in 0..4 {
        let rows = combined_rows(&runs, own, &report.release);
        let body = comment::render(&report.release, &rows);
        let existing = find_own_comments(gh, number, &marker, me.as_deref()).await?.into_iter().next();
        let any_refusal = rows.iter().any(|r| r.verdict == Verdict::Fail);
        match existing {
            None if opts.comment_mode == CommentMode::OnFailure && !any_refusal => return Ok(None),
            Some((c, text)) if text == body => return Ok(Some(c)),
            Some((c, _)) => {
                gh.update_comment(c.id, &body).await?;
                written = Some(c);
            }
            None => written = Some(gh.create_comment(number, &body).await?),
        }
        // Two gates that found no comment both created one: the oldest stays.
        let mine = find_own_comments(gh, number, &marker, me.as_deref()).await?;
        for (dup, _) in mine.iter().skip(1) {
            gh.delete_comment(dup.id).await?;
        }
        let kept = mine.into_iter().next().map(|(c, _)| c);
        let again = listed_with(gh, sha, own).await?;
        if kept.as_ref().map(|c| c.id) == written.as_ref().map(|c| c.id) && combined_rows(&again, own, &report.release) == rows {
            return Ok(written);
        }
        runs = again;
    }
    Ok(written)
}

/// The commit's check runs, once the list shows this gate's own (a list
/// read right after the create may not have it yet: read again, briefly).
async fn listed_with(gh: &GitHub, sha: &str, own: u64) -> Result<Vec<crate::github::types::CheckRun>, ApiError> {
    let mut runs = gh.check_runs(sha, None).await?;
    for wait_ms in [250, 500, 1000, 2000] {
        if runs.iter().any(|r| r.id == own) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
        runs = gh.check_runs(sha, None).await?;
    }
    Ok(runs)
}

/// The latest row per gate from the check runs the same app wrote for this
/// release; none when this gate's own run is not listed (whose app is
/// unknown then), rather than rows from anyone.
fn combined_rows(runs: &[crate::github::types::CheckRun], own: u64, release: &str) -> Vec<comment::Row> {
    let app = |r: &crate::github::types::CheckRun| r.app.as_ref().and_then(|a| a.slug.clone());
    let Some(own_app) = runs.iter().find(|r| r.id == own).map(app) else { return Vec::new() };
    let mut latest: std::collections::BTreeMap<String, (u64, comment::Row)> = std::collections::BTreeMap::new();
    for r in runs.iter().filter(|r| app(r) == own_app) {
        let Some(mut row) = r.output.summary.as_deref().and_then(comment::Row::find_in) else { continue };
        if row.release != release {
            continue;
        }
        row.url = r.html_url.clone();
        match latest.get(&row.key) {
            Some((id, _)) if *id > r.id => {}
            _ => {
                latest.insert(row.key.clone(), (r.id, row));
            }
        }
    }
    latest.into_values().map(|(_, row)| row).collect()
}

/// The release's comments, oldest first: the marker first, written by this
/// token's identity (for an installation token, which cannot name itself, a bot).
async fn find_own_comments(gh: &GitHub, number: u64, marker: &str, me: Option<&str>) -> Result<Vec<(Created, String)>, ApiError> {
    Ok(gh
        .comments(number)
        .await?
        .into_iter()
        .filter_map(|c| {
            let body = c.body.clone()?;
            let author = c.user.as_ref()?;
            let ours = match me {
                Some(login) => author.login == login,
                None => author.kind.as_deref() == Some("Bot"),
            };
            (ours && body.starts_with(marker))
                .then(|| (Created { id: c.id, html_url: Some(c.html_url.clone()).filter(|u| !u.is_empty()) }, body))
        })
        .collect())
}

async fn find_comment(gh: &GitHub, number: u64, marker: &str) -> Result<Option<Created>, ApiError> {
    Ok(gh
        .comments(number)
        .await?
        .into_iter()
        .find(|c| c.body.as_deref().is_some_and(|b| b.starts_with(marker)))
        .map(|c| Created { id: c.id, html_url: Some(c.html_url).filter(|u| !u.is_empty()) }))
}

/// Percent-encodes a query value (the one encoder is the GitHub client's).
pub use crate::github::calls::url_encode;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_use_a_delimiter_absent_from_the_value() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("out");
        write_outputs(&file, &[("a".into(), "one\ntwo".into()), ("b".into(), "x".into())]).expect("write");
        let text = fs::read_to_string(&file).expect("read");
        let first = text.lines().next().expect("line");
        let delim = first.strip_prefix("a<<").expect("heredoc");
        assert!(delim.starts_with("ghadelimiter_"));
        assert!(text.contains(&format!("a<<{delim}\none\ntwo\n{delim}\n")));
    }

    #[test]
    fn workflow_commands_escape_and_cap() {
        let ts: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().expect("ts");
        let mut r = Report::new("config-diff", "1", ts, None);
        for i in 0..12 {
            r.annotations.push(Annotation {
                path: "a,b:c.yml".into(),
                start_line: i + 1,
                end_line: i + 1,
                level: Level::Failure,
                title: "t".into(),
                message: "100%\nbad".into(),
            });
        }
        let out = workflow_commands(&r);
        assert_eq!(out.lines().filter(|l| l.starts_with("::error ")).count(), 10);
        assert!(out.contains("::error file=a%2Cb%3Ac.yml,line=1,endLine=1,title=t::100%25%0Abad\n"));
        assert!(out.contains("::notice title=release-gate::2 more annotations"));
    }

    #[test]
    fn external_ids_round_trip() {
        let id = ExternalId {
            release: "2.4.0".into(),
            run_id: Some("42".into()),
            run_attempt: "2".into(),
            generated_at: "2026-12-01T13:30:00Z".into(),
            outcome: Some("failed".into()),
            decision: Some("rollback".into()),
        };
        assert_eq!(ExternalId::parse(&id.render()), Some(id.clone()));
        let local = ExternalId { run_id: None, outcome: None, decision: None, ..id };
        assert_eq!(local.render(), "release-gate/v3 release=2.4.0 run=local attempt=2 at=2026-12-01T13:30:00Z");
        assert_eq!(ExternalId::parse(&local.render()), Some(local));
        for other in [
            "",
            "release-gate:x:1:1:t",
            "release-gate/v3 run=1",
            "release-gate/v3 release=2.4.0 run=1 attempt=1 at=t bogus=1",
            // An earlier version's, which names no release: never this release's evidence.
            "release-gate/v2 run=1 attempt=1 at=2026-12-01T13:30:00Z",
            "release-gate/v3 run=1 attempt=1 at=2026-12-01T13:30:00Z",
        ] {
            assert_eq!(ExternalId::parse(other), None, "{other}");
        }
    }

    #[test]
    fn a_report_is_written_whole_with_no_temp_file_left() {
        let dir = tempfile::tempdir().expect("tmp");
        let ts: jiff::Timestamp = "2026-12-01T13:30:00Z".parse().expect("timestamp");
        let path = write_report(&Report::new("freeze-check", "2.4.0", ts, None), &dir.path().join("sub")).expect("write");
        assert_eq!(Report::read(&path).expect("reads back").release, "2.4.0");
        let names: Vec<_> = fs::read_dir(path.parent().expect("parent")).expect("ls").map(|e| e.expect("e").file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("freeze-check.json")]);
    }
}
