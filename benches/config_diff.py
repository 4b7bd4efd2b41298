#!/usr/bin/env python3
"""config-diff beside Python deepdiff, in one run, on the same pair of files.

Generates two ~50 MB YAML files (100,000 list items with identifiers, a few
hundred differences: changed values, added, removed and moved items), then
times `config-diff --staging A --production B` (release build) and
`DeepDiff(yaml.load(A), yaml.load(B))` (PyYAML's C loader when available),
each as its own process, and prints wall time, peak memory and the ratios.

Usage: python3 benches/config_diff.py [--items 100000]
Installs deepdiff and pyyaml with pip if they are missing.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def item(i: int, rnd: random.Random) -> str:
    return (
        f"  - id: INST{i:07d}\n"
        f"    symbol: SYM{i:07d}\n"
        f"    venue: {rnd.choice(['XNYS', 'XNAS', 'XLON', 'XETR', 'XTKS'])}\n"
        f"    tick_size: {rnd.choice(['0.01', '0.005', '0.0001'])}\n"
        f"    lot_size: {rnd.choice([1, 10, 100])}\n"
        f"    limits:\n"
        f"      max_qty: {rnd.randint(1000, 100000)}\n"
        f"      max_notional: {rnd.randint(100000, 5000000)}\n"
        f"      price_band_bps: {rnd.randint(50, 500)}\n"
        f"    trading_hours: {{open: \"09:30\", close: \"16:00\", tz: America/New_York}}\n"
        f"    tags: [{rnd.choice(['equity', 'etf', 'adr'])}, {rnd.choice(['large', 'mid', 'small'])}, tier{rnd.randint(1, 3)}]\n"
        f"    description: \"{'instrument ' * rnd.randint(10, 20)}{i}\"\n"
        f"    enabled: {rnd.choice(['true', 'false'])}\n"
    )


def generate(dir: Path, n: int) -> tuple[Path, Path, int]:
    rnd = random.Random(42)
    items = [item(i, rnd) for i in range(n)]
    prod = list(items)
    rnd2 = random.Random(7)
    changes = 0
    for i in rnd2.sample(range(n), 300):
        prod[i] = prod[i].replace("    enabled: true", "    enabled: false") if "enabled: true" in prod[i] else prod[i].replace("price_band_bps: ", "price_band_bps: 1")
        changes += 1
    removed = set(rnd2.sample(range(n), 50))
    prod = [x for i, x in enumerate(prod) if i not in removed]
    for j in range(50):
        prod.insert(rnd2.randrange(len(prod)), item(n + j, rnd2))
    for _ in range(20):
        x = prod.pop(rnd2.randrange(len(prod)))
        prod.insert(rnd2.randrange(len(prod)), x)
    a, b = dir / "staging.yaml", dir / "production.yaml"
    a.write_text("instruments:\n" + "".join(items))
    b.write_text("instruments:\n" + "".join(prod))
    return a, b, changes + 50 + 50 + 20


def measure(cmd: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (KiB) and exit code of one process, via GNU time."""
    started = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    elapsed = time.monotonic() - started
    rss = int(proc.stderr.strip().splitlines()[-1])
    return elapsed, rss, proc.returncode


DEEPDIFF = """
import sys, yaml
from deepdiff import DeepDiff
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
a = yaml.load(open(sys.argv[1]), Loader=Loader)
b = yaml.load(open(sys.argv[2]), Loader=Loader)
d = DeepDiff(a, b)
print(sum(len(v) for v in d.values()), "deepdiff entries")
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100_000)
    args = ap.parse_args()
    try:
        import deepdiff  # noqa: F401
        import yaml  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "deepdiff==9.1.0", "pyyaml==6.0.4"], check=True)
    subprocess.run(["cargo", "build", "--quiet", "--release", "--locked", "-p", "config-diff"], cwd=ROOT, check=True)
    binary = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "config-diff"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        a, b, planted = generate(tmp, args.items)
        size = a.stat().st_size + b.stat().st_size
        print(f"input: 2 files, {a.stat().st_size / 1e6:.1f} MB + {b.stat().st_size / 1e6:.1f} MB, {args.items} items, {planted} planted differences")
        cd = [str(binary), "--release", "bench", "--root", str(tmp), "--staging", "staging.yaml", "--production", "production.yaml",
              "--report-dir", str(tmp / "out"), "--format", "json"]
        t_cd, m_cd, rc = measure(cd)
        if rc not in (0, 1):
            print(f"config-diff failed with exit {rc}", file=sys.stderr)
            return 1
        t_dd, m_dd, rc = measure([sys.executable, "-c", DEEPDIFF, str(a), str(b)])
        if rc != 0:
            print("deepdiff failed", file=sys.stderr)
            return 1
    print(f"config-diff: {t_cd:7.2f} s  peak {m_cd / 1024:7.1f} MiB ({m_cd * 1024 / size:.2f}x input)")
    print(f"deepdiff:    {t_dd:7.2f} s  peak {m_dd / 1024:7.1f} MiB ({m_dd * 1024 / size:.2f}x input)")
    print(f"ratio: config-diff is {t_dd / t_cd:.1f}x faster than deepdiff (target >= 20x); peak memory {m_cd * 1024 / size:.2f}x input (target <= 4x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
