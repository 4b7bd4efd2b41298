#!/usr/bin/env python3
"""smoke-gate's JUnit reading beside PyPI `junitparser` + lxml (what
EnricoMi's publish-unit-test-result-action uses), in one run, on the same
reports, in the four shapes reporters write (issue "No false GO", speed on
every dialect):

    python3 benches/smoke_gate.py [--cases 200000] [--repeats 7] [--shape NAME]

Shapes, CASES test cases each, 0.5 % failures with tracebacks, 1 % skipped:
- pytest: pytest's xunit2, `<testcase classname= name= time= />`;
- surefire: Maven Surefire, a bare `<testsuite>` root, every case with a
  `<system-out>` CDATA section of two lines;
- jest: jest-junit, `<testcase …>` and `</testcase>` on separate lines,
  one suite per test file;
- gotestsum: gotestsum's JUnit, tab-indented, `<testcase …></testcase>`,
  one suite per package with `<properties>`.

Each tool runs as its own process, in turns, best of REPEATS, and its peak
memory is measured in one more run under /usr/bin/time:
- smoke-gate (release build; the whole gate: parse, count, failures with
  locations, report written), `--stage bench --reports FILE`;
- junitparser 5 with lxml: `JUnitXml.fromfile`, then every case visited
  and its result read (what a reporter does to count and list failures).

Targets: ≥ 30× faster than junitparser on every shape; smoke-gate's peak
memory ≤ 64 MiB. Prints a table and the ratios; exits 1 when a target is
missed.
"""

from __future__ import annotations

import argparse
import json
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


def outcome(i: int) -> str:
    if i % 200 == 17:
        return "failed"
    if i % 97 == 5:
        return "skipped"
    return "passed"


def pytest(f, cases: int) -> None:
    f.write('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">')
    f.write(f'<testsuite name="pytest" errors="0" failures="{sum(outcome(i) == "failed" for i in range(cases))}" skipped="0" tests="{cases}" time="1234.5" timestamp="2026-12-01T12:00:00.000000+00:00" hostname="ci">')
    for i in range(cases):
        mod = f"tests.integration.test_venue_{i // 400:04d}"
        name = f"test_order_flow_scenario_{i:06d}[limit-buy-xnys]"
        attrs = f'classname="{mod}" name="{name}" time="0.{i % 997:03d}"'
        o = outcome(i)
        if o == "failed":
            f.write(
                f'<testcase {attrs}><failure message="AssertionError: fill price 101.25 != 101.20">def {name.split("[")[0]}(venue):\n'
                f"&gt;       assert fill.price == expected\nE       AssertionError: fill price 101.25 != 101.20\n\n"
                f"tests/integration/test_venue_{i // 400:04d}.py:{(i % 400) * 7 + 9}: AssertionError</failure></testcase>"
            )
        elif o == "skipped":
            f.write(f'<testcase {attrs}><skipped type="pytest.skip" message="venue simulator busy">skipped</skipped></testcase>')
        else:
            f.write(f"<testcase {attrs} />")
    f.write("</testsuite></testsuites>")


def surefire(f, cases: int) -> None:
    failures = sum(outcome(i) == "failed" for i in range(cases))
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    f.write(f'<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="3.0" name="com.tradepulse.router.RouterTest" time="812.4" tests="{cases}" errors="0" skipped="0" failures="{failures}">\n')
    f.write('  <properties>\n    <property name="java.version" value="21.0.2"/>\n  </properties>\n')
    for i in range(cases):
        cls = f"com.tradepulse.router.scenario{i // 500:03d}.RouterScenarioTest"
        attrs = f'name="routesOrder{i:06d}ToBestVenue" classname="{cls}" time="0.{i % 997:03d}"'
        o = outcome(i)
        out = f"      <system-out><![CDATA[routing order {i} to XNYS at 101.20\nfilled 100 @ 101.20 in 0.{i % 97:02d} ms\n]]></system-out>\n"
        if o == "failed":
            f.write(
                f'  <testcase {attrs}>\n    <failure message="expected: &lt;XNYS&gt; but was: &lt;ARCX&gt;" type="org.opentest4j.AssertionFailedError"><![CDATA[org.opentest4j.AssertionFailedError: expected: <XNYS> but was: <ARCX>\n'
                f"\tat com.tradepulse.router.scenario{i // 500:03d}.RouterScenarioTest.routesOrder{i:06d}ToBestVenue(RouterScenarioTest.java:{i % 300 + 20})\n]]></failure>\n{out}  </testcase>\n"
            )
        elif o == "skipped":
            f.write(f'  <testcase {attrs}>\n    <skipped message="venue simulator busy"/>\n  </testcase>\n')
        else:
            f.write(f"  <testcase {attrs}>\n{out}  </testcase>\n")
    f.write("</testsuite>\n")


def jest(f, cases: int) -> None:
    failures = sum(outcome(i) == "failed" for i in range(cases))
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    f.write(f'<testsuites name="jest tests" tests="{cases}" failures="{failures}" errors="0" time="904.2">\n')
    per = 50
    for s in range(0, cases, per):
        n = min(per, cases - s)
        sf = sum(outcome(i) == "failed" for i in range(s, s + n))
        sk = sum(outcome(i) == "skipped" for i in range(s, s + n))
        f.write(f'  <testsuite name="blotter panel {s // per:05d}" errors="0" failures="{sf}" skipped="{sk}" timestamp="2026-12-01T12:00:00" time="2.1" tests="{n}">\n')
        for i in range(s, s + n):
            title = f"blotter panel {s // per:05d} renders the order list for account {i:06d}"
            attrs = f'classname="{title}" name="{title}" time="0.{i % 997:03d}"'
            o = outcome(i)
            if o == "failed":
                f.write(
                    f"    <testcase {attrs}>\n      <failure>Error: expect(received).toBe(expected) // Object.is equality\n\nExpected: 3\nReceived: 2\n"
                    f"    at Object.&lt;anonymous&gt; (/home/runner/work/web/web/src/blotter/panel{s // per:05d}.test.tsx:{i % 90 + 10}:23)</failure>\n    </testcase>\n"
                )
            elif o == "skipped":
                f.write(f"    <testcase {attrs}>\n      <skipped/>\n    </testcase>\n")
            else:
                f.write(f"    <testcase {attrs}>\n    </testcase>\n")
        f.write("  </testsuite>\n")
    f.write("</testsuites>\n")


def gotestsum(f, cases: int) -> None:
    failures = sum(outcome(i) == "failed" for i in range(cases))
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    f.write(f'<testsuites tests="{cases}" failures="{failures}" errors="0" time="612.300000">\n')
    per = 400
    for s in range(0, cases, per):
        n = min(per, cases - s)
        pkg = f"github.com/tradepulse/platform/venues/feed{s // per:04d}"
        sf = sum(outcome(i) == "failed" for i in range(s, s + n))
        f.write(f'\t<testsuite tests="{n}" failures="{sf}" time="1.230000" name="{pkg}" timestamp="2026-12-01T12:00:00Z">\n')
        f.write('\t\t<properties>\n\t\t\t<property name="go.version" value="go1.23.4 linux/amd64"></property>\n\t\t</properties>\n')
        for i in range(s, s + n):
            attrs = f'classname="{pkg}" name="TestFeedHandlesTick{i:06d}/subcase_limit" time="0.{i % 997:03d}000"'
            o = outcome(i)
            if o == "failed":
                f.write(f'\t\t<testcase {attrs}>\n\t\t\t<failure message="Failed" type="">=== RUN   TestFeedHandlesTick{i:06d}\n    feed_test.go:{i % 300 + 10}: tick lost: want 101.20, got 0\n--- FAIL: TestFeedHandlesTick{i:06d} (0.00s)\n</failure>\n\t\t</testcase>\n')
            elif o == "skipped":
                f.write(f'\t\t<testcase {attrs}>\n\t\t\t<skipped message="=== RUN   TestX\n    feed_test.go:9: no venue\n--- SKIP"></skipped>\n\t\t</testcase>\n')
            else:
                f.write(f"\t\t<testcase {attrs}></testcase>\n")
        f.write("\t</testsuite>\n")
    f.write("</testsuites>\n")


SHAPES = {"pytest": pytest, "surefire": surefire, "jest": jest, "gotestsum": gotestsum}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--shape", choices=list(SHAPES), action="append")
    a = ap.parse_args()
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "junitparser==5.0.3", "lxml==6.1.3"], check=True)
    print("building smoke-gate (release)…", flush=True)
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "smoke-gate"], cwd=ROOT, check=True)
    gate = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "smoke-gate"
    work = Path(tempfile.mkdtemp(prefix="release-gate-bench-junit-"))
    script = work / "parse.py"
    script.write_text(JUNITPARSER)
    failed = sum(outcome(i) == "failed" for i in range(a.cases))
    skipped = sum(outcome(i) == "skipped" for i in range(a.cases))

    rows = []
    ok = True
    for name in a.shape or list(SHAPES):
        report = work / f"{name}.xml"
        with open(report, "w") as f:
            SHAPES[name](f, a.cases)
        size = report.stat().st_size
        subprocess.run(["cat", str(report)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        # A new report directory each time: every run is a first attempt.
        # In turns, so a change in the machine's speed reaches both tools alike.
        gate_cmd = [str(gate), "--release", "bench", "--stage", "bench", "--reports", report.name, "--format", "json", "--report-dir"]
        peer_cmd = [sys.executable, str(script), str(report)]
        sg, jp = [], []
        for i in range(a.repeats):
            sg.append(timed([*gate_cmd, str(work / f"out-{name}-{i}")], work))
            jp.append(timed(peer_cmd, work))
        sg_t, jp_t = min(x[0] for x in sg), min(x[0] for x in jp)
        sg_m = timed([*gate_cmd, str(work / f"out-{name}-memory")], work, memory=True)[1]
        jp_m = timed(peer_cmd, work, memory=True)[1]
        # Both must have seen the same report.
        assert jp[0][2].split() == [str(a.cases), str(failed), str(skipped)], (name, jp[0][2])
        data = json.loads(sg[0][2])["data"]["tests"]
        assert (data["total"], data["failed"], data["skipped"]) == (a.cases, failed, skipped), (name, data)
        ratio = jp_t / max(sg_t, 1e-3)
        met = ratio >= 30 and sg_m / 1024 <= 64
        ok &= met
        rows.append((name, size, sg_t, sg_m, jp_t, jp_m, ratio, met))
        print(f"{name}: {ratio:.1f}×", flush=True)

    print(f"\n{a.cases} test cases per report, {failed} failures, {skipped} skipped; best of {a.repeats}\n")
    print("| shape | size | smoke-gate | peak | junitparser 5.0.3 + lxml 6.1.3 | peak | ratio |\n| --- | --- | --- | --- | --- | --- | --- |")
    for name, size, sg_t, sg_m, jp_t, jp_m, ratio, met in rows:
        print(f"| {name} | {size / 1e6:.1f} MB | {sg_t * 1000:.1f} ms | {sg_m / 1024:.1f} MiB | {jp_t * 1000:.0f} ms | {jp_m / 1024:.1f} MiB | **{ratio:.1f}×**{'' if met else ' (missed)'} |")
    print(f"\ntargets: ≥ 30× junitparser on every shape, ≤ 64 MiB → {'met' if ok else 'TARGET MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
