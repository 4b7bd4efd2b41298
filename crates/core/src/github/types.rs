//! GitHub's answers as the gates use them: only the fields read, typed.
//! A field GitHub documents as nullable is an `Option`.

use serde::Deserialize;

pub use crate::context::{Branch, Label, PullRequest, RepoRef, User};

/// A pull request review.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Review {
    /// Reviewer (absent for deleted users).
    pub user: Option<User>,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    pub state: String,
    /// The commit reviewed.
    pub commit_id: Option<String>,
    /// When.
    pub submitted_at: Option<String>,
    /// Link.
    #[serde(default)]
    pub html_url: String,
    /// The reviewer's association with the repository (`OWNER`, `MEMBER`,
    /// `COLLABORATOR`, `CONTRIBUTOR`, `NONE`, …).
    #[serde(default)]
    pub author_association: Option<String>,
}

/// A user's permission on the repository, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    /// No access.
    None,
    /// Read.
    Read,
    /// Triage.
    Triage,
    /// Write (push).
    Write,
    /// Maintain.
    Maintain,
    /// Admin.
    Admin,
}

impl Permission {
    /// From the collaborator-permission answer: `role_name` when present
    /// (it distinguishes triage and maintain), else `permission`.
    pub fn parse(role_name: Option<&str>, permission: &str) -> Self {
        match role_name.unwrap_or(permission) {
            "admin" => Permission::Admin,
            "maintain" => Permission::Maintain,
            "write" | "push" => Permission::Write,
            "triage" => Permission::Triage,
            "read" | "pull" => Permission::Read,
            _ => match permission {
                "admin" => Permission::Admin,
                "write" => Permission::Write,
                "read" => Permission::Read,
                _ => Permission::None,
            },
        }
    }

    /// As GitHub names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::None => "none",
            Permission::Read => "read",
            Permission::Triage => "triage",
            Permission::Write => "write",
            Permission::Maintain => "maintain",
            Permission::Admin => "admin",
        }
    }
}

/// The app that created a check run.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct App {
    /// e.g. `github-actions`.
    pub slug: Option<String>,
}

/// A check run's output.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct CheckOutput {
    /// Title.
    pub title: Option<String>,
    /// Summary.
    pub summary: Option<String>,
}

/// A check run.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CheckRun {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Commit.
    pub head_sha: String,
    /// `queued`, `in_progress`, `completed`.
    pub status: String,
    /// `success`, `failure`, `neutral`, …, when completed.
    pub conclusion: Option<String>,
    /// Web link.
    pub html_url: Option<String>,
    /// The link the creator set (a workflow run).
    pub details_url: Option<String>,
    /// The creator's own id.
    pub external_id: Option<String>,
    /// When it started.
    pub started_at: Option<String>,
    /// When it completed.
    pub completed_at: Option<String>,
    /// Output.
    #[serde(default)]
    pub output: CheckOutput,
    /// The app that created it.
    pub app: Option<App>,
    /// The check suite GitHub filed it under (the creator cannot choose it).
    #[serde(default)]
    pub check_suite: Option<SuiteRef>,
}

/// A check suite as a check run names it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SuiteRef {
    /// Id.
    pub id: u64,
}

/// An issue or pull request comment.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Comment {
    /// Id.
    pub id: u64,
    /// Body.
    pub body: Option<String>,
    /// Author.
    pub user: Option<User>,
    /// Web link.
    #[serde(default)]
    pub html_url: String,
}

/// A GitHub Actions workflow run.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct WorkflowRun {
    /// Id.
    pub id: u64,
    /// The workflow file, e.g. `.github/workflows/release-validation.yml`.
    pub path: String,
    /// The commit it ran for.
    pub head_sha: String,
    /// The event that started it.
    pub event: String,
    /// The branch it ran for.
    pub head_branch: Option<String>,
    /// Its attempts so far (a re-run adds one).
    #[serde(default)]
    pub run_attempt: Option<u64>,
    /// Its own check suite.
    #[serde(default)]
    pub check_suite_id: Option<u64>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<String>,
    /// The repository its commit came from (a fork's, for a pull request from one).
    #[serde(default)]
    pub head_repository: Option<RepoName>,
}

/// A repository as runs name it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RepoName {
    /// `owner/repo`.
    pub full_name: String,
}

/// A workflow run's artifact (`GET /repos/{o}/{r}/actions/runs/{id}/artifacts`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Artifact {
    /// Id.
    pub id: u64,
    /// Its name, as `actions/upload-artifact` was given it.
    pub name: String,
    /// The archive's size.
    pub size_in_bytes: u64,
    /// Whether it has expired (its archive is gone).
    pub expired: bool,
    /// When it was uploaded.
    #[serde(default)]
    pub created_at: Option<String>,
    /// The archive's digest (`sha256:<hex>`), where GitHub records one.
    #[serde(default)]
    pub digest: Option<String>,
    /// The run that uploaded it.
    #[serde(default)]
    pub workflow_run: Option<ArtifactRun>,
}

/// The run an artifact names.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ArtifactRun {
    /// The run's id.
    #[serde(default)]
    pub id: Option<u64>,
    /// The commit it ran for.
    #[serde(default)]
    pub head_sha: Option<String>,
}

/// A file read through the contents API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Its blob sha (the precondition for writing it).
    pub sha: String,
}

/// A pull request as lists and creation return it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PullSummary {
    /// Number.
    pub number: u64,
    /// Web link.
    #[serde(default)]
    pub html_url: String,
}

/// A deployment.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Deployment {
    /// Id.
    pub id: u64,
    /// The commit deployed.
    pub sha: String,
    /// The environment.
    pub environment: String,
    /// When it was created.
    #[serde(default)]
    pub created_at: String,
}

/// A pull request found for a commit (`commits/{sha}/pulls`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CommitPull {
    /// Number.
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    /// When it was merged, if it was.
    #[serde(default)]
    pub merged_at: Option<String>,
    /// The merge commit (or the would-be one).
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
}

/// An installation access token.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct InstallationToken {
    /// The token.
    pub token: String,
    /// When it expires, RFC 3339.
    pub expires_at: String,
}
