//! What each GitHub operation does to the fake's state, once the request
//! has passed the OpenAPI checks ([`crate::server`]): the answers, in
//! GitHub's shapes.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::{State, StoredFile, blob_sha, openapi};

/// A workflow run as `GET /repos/{o}/{r}/actions/runs/{id}` answers it.
pub(crate) fn run_json(id: u64, path: &str, head_sha: &str, event: &str, check_suite: u64) -> Value {
    json!({"id": id, "name": path.rsplit('/').next().unwrap_or(path), "node_id": format!("WFR_{id}"), "path": path, "head_sha": head_sha,
           "event": event, "head_branch": "main", "status": "completed", "conclusion": "success", "workflow_id": 1,
           "check_suite_id": check_suite, "check_suite_node_id": format!("CS_{check_suite}"),
           "html_url": format!("https://github.com/o/r/actions/runs/{id}"), "run_number": id, "run_attempt": 1,
           "created_at": now(), "updated_at": now(),
           "repository": {"id": 1, "full_name": "o/r"}, "head_repository": {"id": 1, "full_name": "o/r"}})
}

/// A completed check run another workflow or app left on `sha`, in `suite`; its id.
pub(crate) fn push_check_run(
    state: &mut State,
    sha: &str,
    name: &str,
    conclusion: &str,
    app: &str,
    external_id: Option<&str>,
    suite: u64,
) -> u64 {
    state.next_id += 1;
    let id = state.next_id;
    state.check_runs.push(json!({
        "id": id, "head_sha": sha, "node_id": format!("CR_{id}"), "external_id": external_id, "name": name,
        "url": format!("https://api.github.com/repos/o/r/check-runs/{id}"), "html_url": format!("https://github.com/o/r/runs/{id}"),
        "details_url": null, "status": "completed", "conclusion": conclusion, "started_at": now(), "completed_at": now(),
        "check_suite": {"id": suite}, "app": app_json(app), "pull_requests": [],
        "output": {"title": name, "summary": "", "text": null, "annotations_count": 0, "annotations_url": ""}, "_annotations": [],
    }));
    id
}

/// An app as check runs name it; the token the gates use in Actions is `github-actions`'s.
pub(crate) fn app_json(slug: &str) -> Value {
    json!({"id": slug.len(), "slug": slug, "node_id": format!("A_{slug}"), "name": slug, "owner": user("github"),
           "description": "", "external_url": "", "html_url": format!("https://github.com/apps/{slug}"),
           "created_at": "2018-01-01T00:00:00Z", "updated_at": "2018-01-01T00:00:00Z", "permissions": {}, "events": []})
}

pub(crate) fn user(login: &str) -> Value {
    json!({"login": login, "id": login.len(), "type": if login.ends_with("[bot]") { "Bot" } else { "User" }})
}

pub(crate) fn gh_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.as_u16().to_string()})),
    )
        .into_response()
}

pub(crate) fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(crate) fn paginate(items: Vec<Value>, query: &[(String, String)]) -> Vec<Value> {
    let get = |k: &str| query.iter().find(|(n, _)| n == k).and_then(|(_, v)| v.parse::<usize>().ok());
    let per_page = get("per_page").unwrap_or(30).clamp(1, 100);
    let page = get("page").unwrap_or(1).max(1);
    items.into_iter().skip((page - 1) * per_page).take(per_page).collect()
}

/// Applies a validated request to the state.
pub(crate) fn apply(
    state: &mut State,
    method: &Method,
    op: &openapi::Operation,
    query: &[(String, String)],
    body: Option<&Value>,
) -> Response {
    let p = |k: &str| op.params.get(k).cloned().unwrap_or_default();
    let empty = json!({});
    let body = body.unwrap_or(&empty);
    let (owner, repo) = (p("owner"), p("repo"));
    let api = format!("https://api.github.com/repos/{owner}/{repo}");
    match (method.as_str(), op.template.as_str()) {
        ("POST", "/repos/{owner}/{repo}/check-runs") => {
            // The creator cannot choose the suite: GitHub files it (see `State::suite_for`).
            let suite = state.suite_for(body["head_sha"].as_str().unwrap_or_default(), "github-actions");
            state.next_id += 1;
            let id = state.next_id;
            let mut run = json!({
                "id": id, "head_sha": body["head_sha"], "node_id": format!("CR_{id}"), "external_id": body.get("external_id").cloned().unwrap_or(Value::Null),
                "url": format!("{api}/check-runs/{id}"), "html_url": format!("https://github.com/{owner}/{repo}/runs/{id}"),
                "details_url": body.get("details_url").cloned().unwrap_or(Value::Null),
                "status": if body.get("conclusion").is_some() { json!("completed") } else { body.get("status").cloned().unwrap_or(json!("queued")) },
                "conclusion": body.get("conclusion").cloned().unwrap_or(Value::Null),
                "started_at": now(), "completed_at": body.get("completed_at").cloned().unwrap_or(Value::Null),
                "name": body["name"], "check_suite": {"id": suite}, "app": app_json("github-actions"), "pull_requests": [],
                "output": {"title": null, "summary": null, "text": null, "annotations_count": 0, "annotations_url": format!("{api}/check-runs/{id}/annotations")},
                "_annotations": [],
            });
            merge_output(&mut run, body.get("output"));
            state.check_runs.push(run.clone());
            (StatusCode::CREATED, axum::Json(strip_private(run))).into_response()
        }
        ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}") => {
            let id: u64 = p("check_run_id").parse().unwrap_or(0);
            let Some(run) = state.check_runs.iter_mut().find(|r| r["id"] == id) else {
                return gh_error(StatusCode::NOT_FOUND, "Not Found");
            };
            for k in ["name", "details_url", "external_id", "status", "conclusion", "completed_at"] {
                if let Some(v) = body.get(k) {
                    run[k] = v.clone();
                }
            }
            if body.get("conclusion").is_some() {
                run["status"] = json!("completed");
            }
            merge_output(run, body.get("output"));
            (StatusCode::OK, axum::Json(strip_private(run.clone()))).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}/annotations") => {
            let id: u64 = p("check_run_id").parse().unwrap_or(0);
            let list =
                state.check_runs.iter().find(|r| r["id"] == id).and_then(|r| r["_annotations"].as_array().cloned()).unwrap_or_default();
            axum::Json(Value::Array(paginate(list, query))).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/commits/{ref}") => {
            let Some(sha) = state.resolve(&p("ref")) else {
                return gh_error(StatusCode::UNPROCESSABLE_ENTITY, &format!("No commit found for SHA: {}", p("ref")));
            };
            let date = state.commit_dates.get(&sha).cloned().unwrap_or_else(now);
            let person = json!({"name": "Release Captain", "email": "captain@tradepulse.example", "date": date});
            axum::Json(json!({
                "sha": sha, "node_id": format!("C_{sha}"), "url": format!("{api}/commits/{sha}"),
                "html_url": format!("https://github.com/{owner}/{repo}/commit/{sha}"), "comments_url": format!("{api}/commits/{sha}/comments"),
                "commit": {"url": format!("{api}/git/commits/{sha}"), "author": person, "committer": person, "message": "commit",
                           "comment_count": 0, "tree": {"sha": sha, "url": ""}, "verification": {"verified": true, "reason": "valid", "signature": null, "payload": null}},
                "author": null, "committer": null, "parents": [], "files": [],
            }))
            .into_response()
        }
        ("GET", "/repos/{owner}/{repo}/issues") => {
            let labels: Vec<String> = query
                .iter()
                .find(|(k, _)| k == "labels")
                .map(|(_, v)| v.split(',').map(str::to_owned).filter(|l| !l.is_empty()).collect())
                .unwrap_or_default();
            let state_q = query.iter().find(|(k, _)| k == "state").map_or("open", |(_, v)| v.as_str()).to_owned();
            let list: Vec<Value> = state
                .issues
                .iter()
                .filter(|i| state_q == "all" || i["state"] == state_q.as_str())
                .filter(|i| labels.iter().all(|l| i["labels"].as_array().is_some_and(|a| a.iter().any(|x| x["name"] == l.as_str()))))
                .cloned()
                .collect();
            axum::Json(Value::Array(paginate(list, query))).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs") => {
            let sha = p("ref");
            let name = query.iter().find(|(k, _)| k == "check_name").map(|(_, v)| v.clone());
            let mut runs: Vec<Value> = state
                .check_runs
                .iter()
                .filter(|r| r["head_sha"] == sha.as_str() && name.as_ref().is_none_or(|n| r["name"] == n.as_str()))
                .map(|r| strip_private(r.clone()))
                .collect();
            // GitHub documents no order: listed scrambled (stably), so no
            // reader can lean on newest-first.
            runs.sort_by_key(|r| r["id"].as_u64().unwrap_or(0).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17));
            let total = runs.len();
            axum::Json(json!({"total_count": total, "check_runs": paginate(runs, query)})).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments") => {
            let n: u64 = p("issue_number").parse().unwrap_or(0);
            let list: Vec<Value> = state.comments.iter().filter(|c| c["_issue"] == n).map(|c| strip_private(c.clone())).collect();
            axum::Json(Value::Array(paginate(list, query))).into_response()
        }
        ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments") => {
            let n: u64 = p("issue_number").parse().unwrap_or(0);
            state.next_id += 1;
            let id = state.next_id;
            let c = json!({
                "id": id, "node_id": format!("IC_{id}"), "_issue": n, "body": body["body"], "user": user("github-actions[bot]"),
                "url": format!("{api}/issues/comments/{id}"), "html_url": format!("https://github.com/{owner}/{repo}/pull/{n}#issuecomment-{id}"),
                "issue_url": format!("{api}/issues/{n}"), "created_at": now(), "updated_at": now(), "author_association": "NONE",
            });
            state.comments.push(c.clone());
            (StatusCode::CREATED, axum::Json(strip_private(c))).into_response()
        }
        ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}") => {
            let id: u64 = p("comment_id").parse().unwrap_or(0);
            let Some(c) = state.comments.iter_mut().find(|c| c["id"] == id) else {
                return gh_error(StatusCode::NOT_FOUND, "Not Found");
            };
            c["body"] = body["body"].clone();
            c["updated_at"] = json!(now());
            axum::Json(strip_private(c.clone())).into_response()
        }
        ("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}") => {
            let id: u64 = p("comment_id").parse().unwrap_or(0);
            let before = state.comments.len();
            state.comments.retain(|c| c["id"] != id);
            if state.comments.len() == before {
                return gh_error(StatusCode::NOT_FOUND, "Not Found");
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}") => {
            let n: u64 = p("pull_number").parse().unwrap_or(0);
            match state.pulls.get(&n) {
                Some(pr) => axum::Json(pr.clone()).into_response(),
                None => gh_error(StatusCode::NOT_FOUND, "Not Found"),
            }
        }
        ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews") => {
            let n: u64 = p("pull_number").parse().unwrap_or(0);
            axum::Json(Value::Array(paginate(state.reviews.get(&n).cloned().unwrap_or_default(), query))).into_response()
        }
        ("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}") => {
            let key = format!("{}/{}", p("org"), p("team_slug"));
            let login = p("username");
            if state.teams.get(&key).is_some_and(|m| m.iter().any(|u| u.eq_ignore_ascii_case(&login))) {
                axum::Json(json!({"url": "", "role": "member", "state": "active"})).into_response()
            } else {
                gh_error(StatusCode::NOT_FOUND, "Not Found")
            }
        }
        ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission") => {
            let login = p("username");
            let role = state.permissions.get(&login.to_lowercase()).cloned().unwrap_or_else(|| "read".into());
            let permission = match role.as_str() {
                "maintain" => "write",
                "triage" => "read",
                other => other,
            };
            axum::Json(json!({"permission": permission, "role_name": role, "user": user(&login)})).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/actions/runs") => {
            let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let (suite, sha) = (get("check_suite_id").and_then(|s| s.parse::<u64>().ok()), get("head_sha"));
            let list: Vec<Value> = state
                .runs
                .values()
                .filter(|r| suite.is_none_or(|s| r["check_suite_id"] == s) && sha.as_ref().is_none_or(|h| r["head_sha"] == h.as_str()))
                .cloned()
                .collect();
            let total = list.len();
            axum::Json(json!({"total_count": total, "workflow_runs": paginate(list, query)})).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts") => {
            let id: u64 = p("run_id").parse().unwrap_or(0);
            let name = query.iter().find(|(k, _)| k == "name").map(|(_, v)| v.clone());
            // Newest first, as GitHub lists them by default.
            let list: Vec<Value> = state
                .artifacts
                .iter()
                .rev()
                .filter(|a| a["workflow_run"]["id"] == id && name.as_ref().is_none_or(|n| a["name"] == n.as_str()))
                .cloned()
                .collect();
            let total = list.len();
            axum::Json(json!({"total_count": total, "artifacts": paginate(list, query)})).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}") => {
            let id: u64 = p("artifact_id").parse().unwrap_or(0);
            match state.artifacts.iter().find(|a| a["id"] == id) {
                None => gh_error(StatusCode::NOT_FOUND, "Not Found"),
                Some(a) if a["expired"] == true => gh_error(StatusCode::GONE, "Artifact has expired"),
                Some(_) if p("archive_format") != "zip" => gh_error(StatusCode::NOT_FOUND, "Not Found"),
                // A short-lived, signed storage URL on another host (here: the fake's own, outside the API prefix).
                Some(_) => {
                    (StatusCode::FOUND, [(axum::http::header::LOCATION, format!("{}/_storage/artifacts/{id}.zip?sig=fake", state.own_url))])
                        .into_response()
                }
            }
        }
        ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}") => {
            let id: u64 = p("run_id").parse().unwrap_or(0);
            match state.runs.get(&id) {
                Some(run) => axum::Json(run.clone()).into_response(),
                None => gh_error(StatusCode::NOT_FOUND, "Not Found"),
            }
        }
        ("GET", "/repos/{owner}/{repo}/contents/{path}") => {
            // A ref is a branch (its head now) or a commit (its files then, never later ones).
            let wanted = query.iter().find(|(k, _)| k == "ref").map(|(_, v)| v.clone()).unwrap_or_else(|| "main".into());
            let path = p("path");
            let Some(commit) = state.resolve(&wanted) else {
                return gh_error(StatusCode::NOT_FOUND, &format!("No commit found for the ref {wanted}"));
            };
            match state.trees.get(&commit).and_then(|t| t.get(&path)) {
                Some(f) => axum::Json(file_json(&api, &owner, &repo, &wanted, &path, f)).into_response(),
                None => gh_error(StatusCode::NOT_FOUND, "Not Found"),
            }
        }
        ("PUT", "/repos/{owner}/{repo}/contents/{path}") => {
            use base64::Engine as _;
            let branch = body["branch"].as_str().unwrap_or("main").to_owned();
            let path = p("path");
            if state.protected.contains(&branch) {
                return gh_error(
                    StatusCode::CONFLICT,
                    "Repository rule violations found\n\nChanges must be made through a pull request.\n\n",
                );
            }
            let Some(head) = state.branches.get(&branch).cloned() else {
                return gh_error(StatusCode::NOT_FOUND, &format!("Branch {branch} not found"));
            };
            let existing = state.file_at(&head, &path).cloned();
            match (&existing, body["sha"].as_str()) {
                (Some(_), None) => return gh_error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request.\n\n\"sha\" wasn't supplied."),
                (Some(f), Some(sha)) if f.sha != sha => return gh_error(StatusCode::CONFLICT, &format!("{path} does not match {sha}")),
                (None, Some(sha)) => return gh_error(StatusCode::CONFLICT, &format!("{path} does not match {sha}")),
                _ => {}
            }
            let text = body["content"].as_str().unwrap_or_default().replace(['\n', '\r'], "");
            let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text) else {
                return gh_error(StatusCode::UNPROCESSABLE_ENTITY, "content is not valid Base64");
            };
            let content = String::from_utf8_lossy(&bytes).into_owned();
            let stored = StoredFile { sha: blob_sha(content.as_bytes()), content };
            let commit = state.commit(&branch, &path, Some(&stored.content), None);
            state.commits.push((branch.clone(), path.clone(), body["message"].as_str().unwrap_or_default().to_owned()));
            let status = if existing.is_some() { StatusCode::OK } else { StatusCode::CREATED };
            (
                status,
                axum::Json(json!({
                    "content": file_json(&api, &owner, &repo, &branch, &path, &stored),
                    "commit": {"sha": commit, "node_id": "C", "url": format!("{api}/git/commits/{commit}"), "html_url": format!("https://github.com/{owner}/{repo}/commit/{commit}"),
                        "author": {"date": now(), "name": "github-actions[bot]", "email": "41898282+github-actions[bot]@users.noreply.github.com"},
                        "committer": {"date": now(), "name": "GitHub", "email": "noreply@github.com"},
                        "message": body["message"], "tree": {"url": "", "sha": commit}, "parents": [{"url": "", "html_url": "", "sha": head}],
                        "verification": {"verified": true, "reason": "valid", "signature": null, "payload": null}},
                })),
            )
                .into_response()
        }
        ("GET", "/repos/{owner}/{repo}/git/ref/{ref}") => {
            let r = p("ref");
            if let Some(tag) = r.strip_prefix("tags/") {
                return match state.tags.get(tag) {
                    Some(sha) => {
                        axum::Json(json!({"ref": format!("refs/tags/{tag}"), "node_id": "R", "url": format!("{api}/git/refs/tags/{tag}"),
                        "object": {"type": "commit", "sha": sha, "url": format!("{api}/git/commits/{sha}")}}))
                        .into_response()
                    }
                    None => gh_error(StatusCode::NOT_FOUND, "Not Found"),
                };
            }
            let branch = r.strip_prefix("heads/").unwrap_or(&r).to_owned();
            match state.branches.get(&branch) {
                Some(sha) => axum::Json(
                    json!({"ref": format!("refs/heads/{branch}"), "node_id": "R", "url": format!("{api}/git/refs/heads/{branch}"),
                    "object": {"type": "commit", "sha": sha, "url": format!("{api}/git/commits/{sha}")}}),
                )
                .into_response(),
                None => gh_error(StatusCode::NOT_FOUND, "Not Found"),
            }
        }
        ("POST", "/repos/{owner}/{repo}/git/refs") => {
            let r = body["ref"].as_str().unwrap_or_default();
            let Some(branch) = r.strip_prefix("refs/heads/") else {
                return gh_error(StatusCode::UNPROCESSABLE_ENTITY, "Reference name must start with refs/");
            };
            if state.branches.contains_key(branch) {
                return gh_error(StatusCode::UNPROCESSABLE_ENTITY, "Reference already exists");
            }
            let sha = body["sha"].as_str().unwrap_or_default().to_owned();
            if !state.trees.contains_key(&sha) {
                return gh_error(StatusCode::UNPROCESSABLE_ENTITY, "Object does not exist");
            }
            state.branches.insert(branch.to_owned(), sha.clone());
            (
                StatusCode::CREATED,
                axum::Json(
                    json!({"ref": r, "node_id": "R", "url": format!("{api}/git/{r}"), "object": {"type": "commit", "sha": sha, "url": ""}}),
                ),
            )
                .into_response()
        }
        ("GET", "/repos/{owner}/{repo}/pulls") => {
            let head = query.iter().find(|(k, _)| k == "head").map(|(_, v)| v.clone());
            let list: Vec<Value> = state
                .pulls
                .values()
                .filter(|pr| head.as_ref().is_none_or(|h| h.split(':').next_back() == pr["head"]["ref"].as_str()) && pr["state"] == "open")
                .cloned()
                .collect();
            axum::Json(Value::Array(paginate(list, query))).into_response()
        }
        ("POST", "/repos/{owner}/{repo}/pulls") => {
            let head = body["head"].as_str().unwrap_or_default().to_owned();
            if state.pulls.values().any(|pr| pr["head"]["ref"] == head.as_str() && pr["state"] == "open") {
                return gh_error(StatusCode::UNPROCESSABLE_ENTITY, &format!("A pull request already exists for {owner}:{head}."));
            }
            let n = state.pulls.keys().max().copied().unwrap_or(0) + 1;
            let sha = state.branches.get(&head).cloned().unwrap_or_default();
            let pr = json!({
                "number": n, "state": "open", "title": body["title"], "body": body.get("body").cloned().unwrap_or(Value::Null),
                "user": user("github-actions[bot]"), "labels": [], "html_url": format!("https://github.com/{owner}/{repo}/pull/{n}"),
                "url": format!("{api}/pulls/{n}"), "id": n, "node_id": format!("PR_{n}"),
                "head": {"ref": head, "sha": sha, "label": format!("{owner}:{head}")},
                "base": {"ref": body["base"], "sha": state.branches.get(body["base"].as_str().unwrap_or_default()).cloned().unwrap_or_default(), "label": ""},
            });
            state.pulls.insert(n, pr.clone());
            (StatusCode::CREATED, axum::Json(pr)).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls") => {
            let sha = p("commit_sha");
            let list: Vec<Value> = state
                .pulls
                .values()
                .filter(|pr| pr["merge_commit_sha"] == sha.as_str() || pr["head"]["sha"] == sha.as_str())
                .cloned()
                .collect();
            axum::Json(Value::Array(paginate(list, query))).into_response()
        }
        ("GET", "/repos/{owner}/{repo}/deployments") => {
            let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let (sha, env) = (get("sha"), get("environment"));
            let list: Vec<Value> = state
                .deployments
                .iter()
                .rev()
                .filter(|d| {
                    sha.as_ref().is_none_or(|s| d["sha"] == s.as_str()) && env.as_ref().is_none_or(|e| d["environment"] == e.as_str())
                })
                .map(|d| strip_private(d.clone()))
                .collect();
            axum::Json(Value::Array(paginate(list, query))).into_response()
        }
        ("POST", "/repos/{owner}/{repo}/deployments") => {
            state.next_id += 1;
            let id = state.next_id;
            let sha = body["ref"].as_str().unwrap_or_default().to_owned();
            let d = json!({
                "id": id, "node_id": format!("DE_{id}"), "sha": sha, "ref": body["ref"], "task": "deploy", "payload": {},
                "original_environment": body["environment"], "environment": body.get("environment").cloned().unwrap_or(json!("production")),
                "description": body.get("description").cloned().unwrap_or(Value::Null), "creator": user("github-actions[bot]"),
                "created_at": now(), "updated_at": now(), "url": format!("{api}/deployments/{id}"),
                "statuses_url": format!("{api}/deployments/{id}/statuses"), "repository_url": api.clone(),
                "transient_environment": body.get("transient_environment").cloned().unwrap_or(json!(false)),
                "production_environment": body.get("production_environment").cloned().unwrap_or(json!(false)),
                "_statuses": [],
            });
            state.deployments.push(d.clone());
            (StatusCode::CREATED, axum::Json(strip_private(d))).into_response()
        }
        ("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses") => {
            let id: u64 = p("deployment_id").parse().unwrap_or(0);
            state.next_id += 1;
            let sid = state.next_id;
            let Some(d) = state.deployments.iter_mut().find(|d| d["id"] == id) else {
                return gh_error(StatusCode::NOT_FOUND, "Not Found");
            };
            let status = json!({
                "id": sid, "node_id": format!("DES_{sid}"), "state": body["state"], "creator": user("github-actions[bot]"),
                "description": body.get("description").cloned().unwrap_or(json!("")), "environment": d["environment"],
                "target_url": "", "log_url": body.get("log_url").cloned().unwrap_or(json!("")),
                "environment_url": body.get("environment_url").cloned().unwrap_or(json!("")),
                "created_at": now(), "updated_at": now(), "url": format!("{api}/deployments/{id}/statuses/{sid}"),
                "deployment_url": format!("{api}/deployments/{id}"), "repository_url": api.clone(),
            });
            if let Some(list) = d["_statuses"].as_array_mut() {
                list.push(status.clone());
            }
            (StatusCode::CREATED, axum::Json(status)).into_response()
        }
        ("PUT", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/disable") => {
            let w = p("workflow_id");
            if !state.disabled_workflows.contains(&w) {
                state.disabled_workflows.push(w);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("PUT", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/enable") => {
            let w = p("workflow_id");
            state.disabled_workflows.retain(|d| *d != w);
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches") => {
            let w = p("workflow_id");
            if state.disabled_workflows.contains(&w) {
                return gh_error(StatusCode::UNPROCESSABLE_ENTITY, &format!("Workflow {w} is disabled"));
            }
            state.dispatches.push((w, body.clone()));
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "/repos/{owner}/{repo}/issues") => {
            let n = state.issues.len() as u64 + 1000;
            let labels: Vec<Value> = body
                .get("labels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|l| json!({"id": 1, "name": l, "color": "ededed"}))
                .collect();
            let issue = json!({"number": n, "id": n, "node_id": format!("I_{n}"), "title": body["title"], "body": body.get("body").cloned().unwrap_or(Value::Null),
                "assignees": body.get("assignees").cloned().unwrap_or(json!([])), "state": "open", "user": user("github-actions[bot]"),
                "url": format!("{api}/issues/{n}"), "html_url": format!("https://github.com/{owner}/{repo}/issues/{n}"), "labels": labels,
                "created_at": now(), "updated_at": now()});
            state.issues.push(issue.clone());
            (StatusCode::CREATED, axum::Json(issue)).into_response()
        }
        ("POST", "/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule") => {
            let id: u64 = p("run_id").parse().unwrap_or(0);
            state.protection_reviews.push((id, body.clone()));
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "/app/installations/{installation_id}/access_tokens") => {
            let id: u64 = p("installation_id").parse().unwrap_or(0);
            if !state.installations.contains_key(&id) {
                return gh_error(StatusCode::NOT_FOUND, "Not Found");
            }
            state.next_id += 1;
            let token = format!("ghs_fakeinstallation{id}x{}", state.next_id);
            state.installation_tokens.insert(token.clone(), id);
            let expires = jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_hours(1)).unwrap_or(jiff::Timestamp::now());
            (
                StatusCode::CREATED,
                axum::Json(json!({"token": token, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "permissions": {"actions": "read", "deployments": "write", "contents": "read", "checks": "read"}, "repository_selection": "selected"})),
            )
                .into_response()
        }
        (m, t) => gh_error(StatusCode::NOT_IMPLEMENTED, &format!("the fake does not implement {m} {t}")),
    }
}

pub(crate) fn file_json(api: &str, owner: &str, repo: &str, branch: &str, path: &str, f: &StoredFile) -> Value {
    use base64::Engine as _;
    let name = path.rsplit('/').next().unwrap_or(path);
    json!({
        "type": "file", "encoding": "base64", "size": f.content.len(), "name": name, "path": path,
        "content": base64::engine::general_purpose::STANDARD.encode(f.content.as_bytes()), "sha": f.sha,
        "url": format!("{api}/contents/{path}?ref={branch}"), "git_url": format!("{api}/git/blobs/{}", f.sha),
        "html_url": format!("https://github.com/{owner}/{repo}/blob/{branch}/{path}"),
        "download_url": format!("https://raw.githubusercontent.com/{owner}/{repo}/{branch}/{path}"),
        "_links": {"self": format!("{api}/contents/{path}?ref={branch}"), "git": format!("{api}/git/blobs/{}", f.sha), "html": format!("https://github.com/{owner}/{repo}/blob/{branch}/{path}")},
    })
}

pub(crate) fn merge_output(run: &mut Value, output: Option<&Value>) {
    let Some(output) = output else { return };
    for k in ["title", "summary", "text"] {
        if let Some(v) = output.get(k) {
            run["output"][k] = v.clone();
        }
    }
    if let Some(list) = output.get("annotations").and_then(Value::as_array)
        && let Some(store) = run["_annotations"].as_array_mut()
    {
        store.extend(list.iter().cloned());
        let n = store.len();
        run["output"]["annotations_count"] = json!(n);
    }
}

pub(crate) fn strip_private(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.retain(|k, _| !k.starts_with('_') || k == "_links");
    }
    v
}
