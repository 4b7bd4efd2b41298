#!/usr/bin/env python3
"""smoke-gate's JUnit parsing beside PyPI `junitparser` (what EnricoMi's
publish-unit-test-result-action uses), in one run, on the same report
(issue: smoke-gate, "Performance").

    python3 benches/smoke_gate.py [--cases 200000] [--repeats 7]

Generates a JUnit report of CASES test cases (about 36 MB at 200,000: a
pytest-shaped report with classnames, files, lines, 0.5 % failures with
tracebacks, some skips), then times each tool as its own process, in
turns, best of REPEATS (and measures its peak memory in one more run,
under /usr/bin/time):

- smoke-gate (release build; the whole gate: parse, count, failures with
  locations, report written), `--stage bench --reports FILE`;
- junitparser 5 with lxml installed (as EnricoMi's action installs it;
  without lxml junitparser falls back to the slower `xml.etree`):
  `JUnitXml.fromfile`, then every case visited and its result read (what
  a reporter does to count and list failures).

Targets: ≥ 30× faster than junitparser; smoke-gate's peak memory ≤ 64 MiB.
Prints both and the ratio; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

JUNITPARSER = r"""
import sys
from junitparser import JUnitXml, Failure, Error, Skipped
import junitparser.junitparser as jp
assert jp.etree.__name__ == "lxml.etree", "junitparser is not using lxml"
xml = JUnitXml.fromfile(sys.argv[1])
tests = failed = skipped = 0
for suite in xml:
    for case in suite:
        tests += 1
        for r in case.result:
            if isinstance(r, (Failure, Error)):
                failed += 1
                _ = (case.classname, case.name, r.message, r.text)
            elif isinstance(r, Skipped):
                skipped += 1
print(tests, failed, skipped)
"""


def timed(cmd: list[str], cwd: Path, memory: bool = False) -> tuple[float, int, str]:
    """Wall time of one run, or (memory=True) its peak RSS in KiB under
    /usr/bin/time (a run of its own: the extra process is not timed).
    Output goes to a file, so no pipe is timed with it."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        code = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd] if memory else cmd, cwd=cwd, stdout=out, stderr=err).returncode
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        errors = err.read()
        if code not in (0, 1):
            raise SystemExit(f"{cmd[0]} failed ({code}): {errors[-2000:]}")
        return wall, int(errors.strip().splitlines()[-1]) if memory else 0, out.read()


def generate(path: Path, cases: int) -> tuple[int, int]:
    failed = skipped = 0
    with open(path, "w") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">')
        f.write(f'<testsuite name="pytest" errors="0" failures="0" skipped="0" tests="{cases}" time="1234.5" timestamp="2026-12-01T12:00:00.000000+00:00" hostname="ci">\n')
        for i in range(cases):
            mod = f"tests.integration.test_venue_{i // 400:04d}"
            name = f"test_order_flow_scenario_{i:06d}[limit-buy-xnys]"
            attrs = f'classname="{mod}" name="{name}" file="tests/integration/test_venue_{i // 400:04d}.py" line="{(i % 400) * 7 + 3}" time="0.{i % 997:03d}"'
            if i % 200 == 17:
                failed += 1
                f.write(
                    f'<testcase {attrs}><failure message="AssertionError: fill price 101.25 != 101.20">def {name.split("[")[0]}(venue):\n'
                    f'&gt;       assert fill.price == expected\nE       AssertionError: fill price 101.25 != 101.20\n\n'
                    f'tests/integration/test_venue_{i // 400:04d}.py:{(i % 400) * 7 + 9}: AssertionError</failure></testcase>\n'
                )
            elif i % 97 == 5:
                skipped += 1
                f.write(f'<testcase {attrs}><skipped type="pytest.skip" message="venue simulator busy">skipped</skipped></testcase>\n')
            else:
                f.write(f"<testcase {attrs} />\n")
        f.write("</testsuite></testsuites>\n")
    return failed, skipped


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "junitparser==5.0.3", "lxml==6.1.3"], check=True)
    print("building smoke-gate (release)…", flush=True)
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "smoke-gate"], cwd=ROOT, check=True)
    gate = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "smoke-gate"

    work = Path(tempfile.mkdtemp(prefix="release-gate-bench-junit-"))
    report = work / "junit.xml"
    failed, skipped = generate(report, a.cases)
    size = report.stat().st_size
    script = work / "parse.py"
    script.write_text(JUNITPARSER)
    subprocess.run(["cat", str(report)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache

    # A new report directory each time: every run is a first attempt (an
    # earlier report there would be read as this stage's history).
    # Taken in turns, so a change in the machine's speed during the run
    # (other tenants, clock) reaches both tools alike.
    gate_cmd = [str(gate), "--release", "bench", "--stage", "bench", "--reports", "junit.xml", "--format", "json", "--report-dir"]
    peer_cmd = [sys.executable, str(script), str(report)]
    sg, jp = [], []
    for i in range(a.repeats):
        sg.append(timed([*gate_cmd, str(work / f"out-{i}")], work))
        jp.append(timed(peer_cmd, work))
    sg_t, jp_t = min(x[0] for x in sg), min(x[0] for x in jp)
    sg_m = timed([*gate_cmd, str(work / "out-memory")], work, memory=True)[1]
    jp_m = timed(peer_cmd, work, memory=True)[1]
    # Both must have seen the same report.
    jp_counts = jp[0][2].split()
    assert jp_counts == [str(a.cases), str(failed), str(skipped)], jp_counts
    import json

    data = json.loads(sg[0][2])["data"]["tests"]
    assert (data["total"], data["failed"], data["skipped"]) == (a.cases, failed, skipped), data

    ratio = jp_t / max(sg_t, 1e-3)
    print(f"\nreport: {a.cases} test cases, {size / 1e6:.1f} MB, {failed} failures, {skipped} skipped; best of {a.repeats}\n")
    print("| tool | wall time | peak memory |\n| --- | --- | --- |")
    print(f"| smoke-gate | {sg_t * 1000:.1f} ms | {sg_m / 1024:.1f} MiB |")
    print(f"| junitparser 5.0.3 + lxml 6.1.3 | {jp_t * 1000:.0f} ms | {jp_m / 1024:.1f} MiB |")
    ok = ratio >= 30 and sg_m / 1024 <= 64
    print(f"\nsmoke-gate is {ratio:.1f}× faster than junitparser (target ≥ 30×), peak {sg_m / 1024:.1f} MiB (target ≤ 64 MiB) → {'targets met' if ok else 'TARGET MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
