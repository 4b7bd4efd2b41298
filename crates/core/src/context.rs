//! What the runner tells a gate: repository, commit, event payload, API
//! base URL, output files and the token. Read once, at the edge, from an
//! environment lookup so tests pass plain maps.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::mask::Secret;

/// Why the runner's context could not be read.
#[derive(Debug, Error)]
pub enum ContextError {
    /// The `commit` input is not a commit this run may publish on.
    #[error("commit input {given:?}: {why}")]
    BadCommit {
        /// What was given.
        given: String,
        /// Why it cannot be used.
        why: String,
    },
    /// The event payload could not be read.
    #[error("cannot read event payload {path}: {cause}; pass --event with a GitHub event JSON file")]
    ReadEvent {
        /// Payload path.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The event payload is not JSON of the expected shape.
    #[error("{path}:{line}:{column}: event payload is not a GitHub event: {message}; pass the file GitHub wrote to $GITHUB_EVENT_PATH")]
    BadEvent {
        /// Payload path.
        path: PathBuf,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What serde said.
        message: String,
    },
    /// `GITHUB_REPOSITORY` is not `owner/name`.
    #[error("GITHUB_REPOSITORY {0:?} is not of the form owner/name")]
    BadRepository(String),
}

/// A label on a pull request.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Label {
    /// The label's name.
    pub name: String,
    /// The label's description (smoke-gate reads an external-cause link there).
    #[serde(default)]
    pub description: Option<String>,
}

/// A GitHub user.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct User {
    /// Login.
    pub login: String,
    /// `User`, `Bot` or `Organization`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// A branch reference in a pull request.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Branch {
    /// Branch name.
    #[serde(rename = "ref")]
    pub name: String,
    /// Commit.
    pub sha: String,
    /// Repository the branch lives in (absent when a fork was deleted).
    pub repo: Option<RepoRef>,
}

/// A repository as payloads name it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RepoRef {
    /// `owner/name`.
    pub full_name: String,
}

/// The parts of a pull request the gates use.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PullRequest {
    /// PR number.
    pub number: u64,
    /// Title.
    pub title: String,
    /// Body (may be null).
    pub body: Option<String>,
    /// Author.
    pub user: User,
    /// Labels at the time of the event.
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Head branch.
    pub head: Branch,
    /// Base branch.
    pub base: Branch,
    /// Web URL.
    #[serde(default)]
    pub html_url: String,
}

impl PullRequest {
    /// Whether the head branch lives in another repository (a fork).
    pub fn is_fork(&self) -> bool {
        match (&self.head.repo, &self.base.repo) {
            (Some(h), Some(b)) => h.full_name != b.full_name,
            (None, _) => true,
            _ => false,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Payload {
    pull_request: Option<PullRequest>,
    merge_group: Option<MergeGroup>,
    workflow_run: Option<HeadSha>,
    release: Option<ReleaseEvent>,
    deployment: Option<DeploymentEvent>,
}

#[derive(Debug, Deserialize)]
struct ReleaseEvent {
    tag_name: String,
}

#[derive(Debug, Deserialize)]
struct DeploymentEvent {
    #[serde(rename = "ref")]
    git_ref: String,
}

#[derive(Debug, Deserialize)]
struct HeadSha {
    head_sha: String,
}

#[derive(Debug, Deserialize)]
struct MergeGroup {
    head_sha: String,
    base_sha: String,
}

/// The runner's context, or what flags gave offline.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `owner/name`, when known.
    pub repository: Option<(String, String)>,
    /// Commit the checks are about: the PR's head, the merge group's head, or `GITHUB_SHA`.
    pub sha: Option<String>,
    /// `GITHUB_REF`.
    pub git_ref: Option<String>,
    /// `GITHUB_EVENT_NAME`.
    pub event_name: Option<String>,
    /// The pull request, for pull_request and pull_request_target events.
    pub pull_request: Option<PullRequest>,
    /// API base URL (GitHub Enterprise Server: `https://HOST/api/v3`).
    pub api_url: String,
    /// Web base URL.
    pub server_url: String,
    /// `GITHUB_RUN_ID`.
    pub run_id: Option<String>,
    /// `GITHUB_RUN_ATTEMPT`.
    pub run_attempt: Option<String>,
    /// `$GITHUB_OUTPUT`.
    pub output_file: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`.
    pub summary_file: Option<PathBuf>,
    /// Whether we run inside GitHub Actions (workflow commands are understood).
    pub in_actions: bool,
    /// The token; empty offline.
    pub token: Secret,
    /// On `workflow_run` events, the commit the finished run was for.
    pub workflow_run_head: Option<String>,
    /// On pull-request and merge-group events, the base commit: the policy
    /// in force is read there, not from the change under review.
    pub base_sha: Option<String>,
    /// `GITHUB_WORKFLOW_REF`: `owner/repo/.github/workflows/x.yml@refs/heads/main`.
    pub workflow_ref: Option<String>,
    /// `GITHUB_REF_NAME`: the branch or tag the run is for.
    pub ref_name: Option<String>,
    /// `GITHUB_WORKSPACE`: on a runner, the checkout every path must stay in.
    pub workspace: Option<PathBuf>,
    /// `RELEASE_GATE_HTTP_*`: retries and the overall deadline of GitHub calls.
    pub retry: crate::github::RetryPolicy,
    /// The ref the event is about when it is not the run's: a `release`
    /// event's tag, a `deployment` event's ref.
    pub event_ref: Option<String>,
    /// `GITHUB_ACTOR`: who started the workflow run (recorded in the
    /// release's lifecycle).
    pub actor: Option<String>,
    /// `RELEASE_GATE_S3_ATTEMPTS` (default 4): attempts per S3 request.
    pub s3_attempts: u32,
    /// `RELEASE_GATE_S3_TIMEOUT_S` (default 60): each S3 attempt's timeout.
    pub s3_attempt_timeout: std::time::Duration,
}

impl Context {
    /// Reads the context through `env`, with an explicit event path and
    /// token taking precedence over the environment.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>, event_path: Option<&Path>, token: Option<String>) -> Result<Self, ContextError> {
        let get = |k: &str| env(k).filter(|v| !v.is_empty());
        let repository = match get("GITHUB_REPOSITORY") {
            Some(full) => match full.split_once('/') {
                Some((o, r)) if !o.is_empty() && !r.is_empty() && !r.contains('/') => Some((o.to_owned(), r.to_owned())),
                _ => return Err(ContextError::BadRepository(full)),
            },
            None => None,
        };
        let event_path = event_path.map(Path::to_path_buf).or_else(|| get("GITHUB_EVENT_PATH").map(PathBuf::from));
        let payload = match &event_path {
            Some(path) => Some(read_payload(path)?),
            None => None,
        };
        let event_name = get("GITHUB_EVENT_NAME");
        let pull_request = payload.as_ref().and_then(|p| p.pull_request.clone());
        // Checks belong on the PR's head commit, not the synthetic merge commit
        // that GITHUB_SHA names on pull_request events.
        // On `workflow_run`, GITHUB_SHA is the default branch's head: the
        // results belong to the commit the finished run was for.
        let workflow_run_head = payload.as_ref().and_then(|p| p.workflow_run.as_ref().map(|w| w.head_sha.clone()));
        let sha = pull_request
            .as_ref()
            .map(|pr| pr.head.sha.clone())
            .or_else(|| payload.as_ref().and_then(|p| p.merge_group.as_ref().map(|m| m.head_sha.clone())))
            .or_else(|| workflow_run_head.clone())
            .or_else(|| get("GITHUB_SHA"));
        // The `commit` input (RELEASE_GATE_COMMIT): a full SHA; on
        // `workflow_run`, only the finished run's own commit.
        let sha = match get("RELEASE_GATE_COMMIT") {
            None => sha,
            Some(c) => {
                let bad = |why: &str| ContextError::BadCommit { given: c.clone(), why: why.to_owned() };
                if c.len() != 40 || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad("expected a full 40-character commit SHA"));
                }
                if let Some(head) = &workflow_run_head
                    && !head.eq_ignore_ascii_case(&c)
                {
                    return Err(bad(&format!(
                        "on workflow_run the results belong to the finished run's commit {head}; leave the input empty or pass that"
                    )));
                }
                Some(c.to_ascii_lowercase())
            }
        };
        let token = token.or_else(|| get("GITHUB_TOKEN")).filter(|t| !t.is_empty());
        Ok(Self {
            repository,
            sha,
            git_ref: get("GITHUB_REF"),
            event_name,
            pull_request: pull_request.clone(),
            api_url: get("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".to_owned()).trim_end_matches('/').to_owned(),
            server_url: get("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".to_owned()).trim_end_matches('/').to_owned(),
            run_id: get("GITHUB_RUN_ID"),
            run_attempt: get("GITHUB_RUN_ATTEMPT"),
            output_file: get("GITHUB_OUTPUT").map(PathBuf::from),
            summary_file: get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            in_actions: get("GITHUB_ACTIONS").as_deref() == Some("true"),
            token: token.map(Secret::new).unwrap_or_default(),
            workflow_run_head,
            base_sha: pull_request
                .as_ref()
                .map(|pr| pr.base.sha.clone())
                .or_else(|| payload.as_ref().and_then(|p| p.merge_group.as_ref().map(|m| m.base_sha.clone()))),
            workflow_ref: get("GITHUB_WORKFLOW_REF"),
            ref_name: get("GITHUB_REF_NAME"),
            workspace: get("GITHUB_WORKSPACE").map(PathBuf::from),
            event_ref: payload
                .as_ref()
                .and_then(|p| p.release.as_ref().map(|r| r.tag_name.clone()).or_else(|| p.deployment.as_ref().map(|d| d.git_ref.clone()))),
            retry: crate::github::RetryPolicy::from_env(env),
            actor: get("GITHUB_ACTOR"),
            s3_attempts: get("RELEASE_GATE_S3_ATTEMPTS").and_then(|v| v.parse().ok()).unwrap_or(4),
            s3_attempt_timeout: std::time::Duration::from_secs(get("RELEASE_GATE_S3_TIMEOUT_S").and_then(|v| v.parse().ok()).unwrap_or(60)),
        })
    }

    /// A local, offline context: no runner, no event, no token, whatever
    /// the process environment holds (`release-gate run`).
    pub fn offline() -> Self {
        // With nothing to read, only the defaults apply: this cannot fail.
        Self::from_env(&|_| None, None, None).unwrap_or_default()
    }

    /// Reads the context from the process environment.
    pub fn from_process(event_path: Option<&Path>, token: Option<String>) -> Result<Self, ContextError> {
        Self::from_env(&|k| std::env::var(k).ok(), event_path, token)
    }

    /// Whether the gate can talk to GitHub: a token, a repository and a commit.
    pub fn online(&self) -> bool {
        !self.token.is_empty() && self.repository.is_some() && self.sha.is_some()
    }

    /// Whether the event is about a proposed change (a pull request or a
    /// merge group), whose own files must not decide its checks.
    pub fn proposed_change(&self) -> bool {
        self.base_sha.is_some()
            && matches!(self.event_name.as_deref(), Some("pull_request" | "pull_request_target" | "pull_request_review" | "merge_group"))
    }

    /// The workflow file of this run (`.github/workflows/x.yml`), from `GITHUB_WORKFLOW_REF`.
    pub fn workflow_path(&self) -> Option<String> {
        let r = self.workflow_ref.as_deref()?;
        let path = r.split('@').next()?;
        let mut parts = path.splitn(3, '/');
        let (_, _, file) = (parts.next()?, parts.next()?, parts.next()?);
        Some(file.to_owned())
    }

    /// The release the event names when none is given: the release or
    /// deployment's ref, else the run's branch or tag (`release/2.4.0`, `v2.4.0`).
    pub fn release_from_event(&self) -> Option<String> {
        [self.event_ref.as_deref(), self.ref_name.as_deref(), self.git_ref.as_deref()]
            .into_iter()
            .flatten()
            .find_map(|r| crate::release::from_ref(&crate::release::DEFAULT_REFS, r))
    }

    /// Link to the workflow run, when known.
    pub fn run_url(&self) -> Option<String> {
        let (owner, repo) = self.repository.as_ref()?;
        let id = self.run_id.as_ref()?;
        Some(format!("{}/{owner}/{repo}/actions/runs/{id}", self.server_url))
    }
}

fn read_payload(path: &Path) -> Result<Payload, ContextError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ContextError::ReadEvent { path: path.to_owned(), cause })?;
    serde_json::from_str(&text).map_err(|e| ContextError::BadEvent {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Write as _;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn workflow_run_results_go_on_the_finished_runs_commit_and_the_commit_input_cannot_move_them() {
        let head = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        f.write_all(format!(r#"{{"workflow_run": {{"id": 9, "head_sha": "{head}", "head_branch": "f", "event": "pull_request", "path": ".github/workflows/v.yml"}}}}"#).as_bytes())
            .expect("write");
        let default_branch = "1111111111111111111111111111111111111111";
        let ctx = |commit: Option<&str>| {
            let mut env = vec![("GITHUB_SHA", default_branch), ("GITHUB_EVENT_NAME", "workflow_run")];
            if let Some(c) = commit {
                env.push(("RELEASE_GATE_COMMIT", c));
            }
            Context::from_env(&env_of(&env), Some(f.path()), None)
        };
        assert_eq!(ctx(None).expect("ctx").sha.as_deref(), Some(head), "never GITHUB_SHA on workflow_run");
        assert_eq!(ctx(Some(&head.to_uppercase())).expect("same commit").sha.as_deref(), Some(head));
        let moved = ctx(Some(default_branch)).expect_err("another commit");
        assert!(moved.to_string().contains("finished run's commit"), "{moved}");
        assert!(ctx(Some("main")).expect_err("not a sha").to_string().contains("40-character"));
        // Outside workflow_run, a full SHA names the commit the results are for.
        let other = "2222222222222222222222222222222222222222";
        let push = Context::from_env(&env_of(&[("GITHUB_SHA", default_branch), ("RELEASE_GATE_COMMIT", other)]), None, None).expect("push");
        assert_eq!(push.sha.as_deref(), Some(other));
    }

    #[test]
    fn offline_without_runner_variables() {
        let ctx = Context::from_env(&env_of(&[]), None, None).expect("ctx");
        assert!(!ctx.online());
        assert_eq!(ctx.api_url, "https://api.github.com");
        assert!(ctx.pull_request.is_none());
    }

    #[test]
    fn the_release_comes_from_the_deployment_the_release_or_the_branch() {
        let ctx = |env: &[(&str, &str)], payload: Option<&str>| {
            let mut f = tempfile::NamedTempFile::new().expect("tmp");
            if let Some(p) = payload {
                f.write_all(p.as_bytes()).expect("write");
            }
            Context::from_env(&env_of(env), payload.map(|_| f.path()), None).expect("ctx").release_from_event()
        };
        assert_eq!(ctx(&[("GITHUB_REF_NAME", "release/2.4.0")], None).as_deref(), Some("2.4.0"));
        assert_eq!(ctx(&[("GITHUB_REF", "refs/tags/v2.5.0")], None).as_deref(), Some("2.5.0"));
        assert_eq!(ctx(&[("GITHUB_REF_NAME", "main")], Some(r#"{"release": {"tag_name": "v3.0.0"}}"#)).as_deref(), Some("3.0.0"));
        assert_eq!(
            ctx(&[("GITHUB_REF_NAME", "main")], Some(r#"{"deployment": {"ref": "release/2.6.0", "sha": "x"}}"#)).as_deref(),
            Some("2.6.0")
        );
        assert_eq!(ctx(&[("GITHUB_REF_NAME", "main")], None), None, "main names no release");
    }

    #[test]
    fn pull_request_head_sha_wins_over_merge_sha() {
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        write!(
            f,
            r#"{{"action":"opened","pull_request":{{"number":7,"title":"REL-1 bump","body":null,"user":{{"login":"carol"}},
            "labels":[{{"name":"release-2.4.0"}}],"html_url":"https://ghe.example/o/r/pull/7",
            "head":{{"ref":"feature","sha":"aaaa","repo":{{"full_name":"fork/r"}}}},
            "base":{{"ref":"release/2.4","sha":"bbbb","repo":{{"full_name":"o/r"}}}}}}}}"#
        )
        .expect("write");
        let env = env_of(&[
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_SHA", "merge"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_API_URL", "https://ghe.example/api/v3/"),
            ("GITHUB_TOKEN", "ghs_secretvalue"),
        ]);
        let ctx = Context::from_env(&env, Some(f.path()), None).expect("ctx");
        assert_eq!(ctx.sha.as_deref(), Some("aaaa"));
        assert_eq!(ctx.api_url, "https://ghe.example/api/v3");
        let pr = ctx.pull_request.as_ref().expect("pr");
        assert!(pr.is_fork());
        assert!(ctx.online());
        assert!(!format!("{ctx:?}").contains("ghs_secretvalue"));
    }

    #[test]
    fn merge_group_and_bad_payloads() {
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        write!(f, r#"{{"merge_group":{{"head_sha":"mg1","base_sha":"base1","head_ref":"gh-readonly-queue/main/pr-1"}}}}"#).expect("write");
        let ctx = Context::from_env(
            &env_of(&[
                ("GITHUB_SHA", "x"),
                ("GITHUB_EVENT_NAME", "merge_group"),
                ("GITHUB_WORKFLOW_REF", "o/r/.github/workflows/rv.yml@refs/heads/main"),
            ]),
            Some(f.path()),
            None,
        )
        .expect("ctx");
        assert_eq!(ctx.sha.as_deref(), Some("mg1"));
        assert_eq!(ctx.base_sha.as_deref(), Some("base1"));
        assert!(ctx.proposed_change());
        assert_eq!(ctx.workflow_path().as_deref(), Some(".github/workflows/rv.yml"));

        let mut bad = tempfile::NamedTempFile::new().expect("tmp");
        write!(bad, "{{\n  \"pull_request\": 5\n}}").expect("write");
        let err = Context::from_env(&env_of(&[]), Some(bad.path()), None).expect_err("bad").to_string();
        assert!(err.contains(":2:"), "{err}");
        assert!(matches!(Context::from_env(&env_of(&[("GITHUB_REPOSITORY", "nope")]), None, None), Err(ContextError::BadRepository(_))));
    }
}
