#!/usr/bin/env python3
"""artifact-verify's hashing beside `openssl dgst -sha256` and `sha256sum`,
in one run, on the same files (issue: artifact-verify, "Performance").

    python3 benches/artifact_verify.py [--dir DIR] [--count 8] [--file-mib 512] [--large-mib 4096]

Makes COUNT files of FILE_MIB MiB and one of LARGE_MIB MiB (kept in DIR for
later runs), warms the page cache, then times with /usr/bin/time:

- one large file: artifact-verify (full gate: signed manifest, digest, size)
  vs `openssl dgst -sha256 FILE` vs `sha256sum FILE`;
- many files: artifact-verify (hashes one file per core) vs openssl over the
  same files one after another (its single stream) vs sha256sum;
- peak memory of artifact-verify on a FILE_MIB file and on the LARGE_MIB file.

Targets: large file ≥ 0.9× openssl's speed; many files ≥ 1.7× openssl's
single-stream speed on 2 cores; peak memory independent of file size.
Prints the figures and the ratios; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sh(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({out.returncode}): {out.stderr[-2000:]}")
    secs, rss = out.stderr.strip().splitlines()[-1].split()
    return float(secs), int(rss)


def best(cmd: list[str], repeats: int, cwd: Path | None = None) -> tuple[float, int]:
    runs = [timed(cmd, cwd) for _ in range(repeats)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def make(path: Path, mib: int) -> None:
    if path.exists() and path.stat().st_size == mib << 20:
        return
    block = bytearray(os.urandom(1 << 20))
    with open(path, "wb") as f:
        for i in range(mib):
            block[:8] = i.to_bytes(8, "little")  # every MiB differs
            f.write(block)


def sha256(path: Path) -> str:
    return sh("openssl", "dgst", "-sha256", "-r", str(path)).stdout.split()[0]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "release-gate-bench-artifacts")
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--file-mib", type=int, default=512)
    ap.add_argument("--large-mib", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=3, help="best of N for artifact-verify and openssl")
    a = ap.parse_args()

    print("building artifact-verify (release)…", flush=True)
    sh("cargo", "build", "--release", "--locked", "-q", "-p", "artifact-verify", cwd=ROOT)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    gate = str(target / "release" / "artifact-verify")

    repo = a.dir
    dist = repo / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    print(f"making {a.count} × {a.file_mib} MiB and 1 × {a.large_mib} MiB in {dist}…", flush=True)
    small = [dist / f"part-{i}.bin" for i in range(a.count)]
    for p in small:
        make(p, a.file_mib)
    large = dist / "large.bin"
    make(large, a.large_mib)

    # A signed manifest per scenario, as a release would have.
    keys = repo / ".keys"
    keys.mkdir(exist_ok=True)
    key = keys / "captain"
    if not key.exists():
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "captain", "-f", str(key))
    pub = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    (repo / ".github").mkdir(exist_ok=True)
    (repo / ".github" / "signers").write_text(f'captain namespaces="release-gate-manifest" {pub}\n')
    (repo / ".github" / "release-gate.yml").write_text(
        "artifact-verify:\n  allowed-signers: .github/signers\n  require: {sbom: [], provenance: [], signature: []}\n"
    )
    digests = {p: sha256(p) for p in [*small, large]}

    def manifest(release: str, files: list[Path]) -> None:
        d = repo / "releases" / release
        d.mkdir(parents=True, exist_ok=True)
        lines = ["artifacts:"]
        for p in files:
            lines.append(f"  - {{name: {p.stem}, kind: other, location: dist/{p.name}, sha256: {digests[p]}, size: {p.stat().st_size}}}")
        m = d / "artifacts.yaml"
        m.write_text("\n".join(lines) + "\n")
        sig = Path(f"{m}.sig")
        sig.unlink(missing_ok=True)
        sh("ssh-keygen", "-Y", "sign", "-n", "release-gate-manifest", "-f", str(key), str(m))

    manifest("large", [large])
    manifest("many", small)
    manifest("one", small[:1])

    print("warming the page cache…", flush=True)
    for p in [*small, large]:
        subprocess.run(["cat", str(p)], stdout=subprocess.DEVNULL, check=True)

    def gate_cmd(release: str) -> list[str]:
        return [gate, "--root", str(repo), "--release", release, "--format", "json", "--report-dir", str(repo / "reports")]

    cores = os.cpu_count() or 1
    gib_large = a.large_mib / 1024
    gib_many = a.count * a.file_mib / 1024
    rows = []
    av_l = best(gate_cmd("large"), a.repeats)
    os_l = best(["openssl", "dgst", "-sha256", str(large)], a.repeats)
    ss_l = best(["sha256sum", str(large)], 1)
    av_m = best(gate_cmd("many"), a.repeats)
    os_m = best(["openssl", "dgst", "-sha256", *map(str, small)], a.repeats)
    ss_m = best(["sha256sum", *map(str, small)], 1)
    av_one = best(gate_cmd("one"), 1)
    for name, gib, av, ossl, ss in (
        (f"1 × {a.large_mib} MiB", gib_large, av_l, os_l, ss_l),
        (f"{a.count} × {a.file_mib} MiB", gib_many, av_m, os_m, ss_m),
    ):
        rows.append((name, gib, av, ossl, ss))

    print(f"\n{cores} cores; warm page cache; best of {a.repeats} (sha256sum: 1 run)\n")
    print(f"| files | artifact-verify | openssl dgst -sha256 | sha256sum | vs openssl | vs sha256sum |")
    print(f"| --- | --- | --- | --- | --- | --- |")
    for name, gib, av, ossl, ss in rows:
        print(
            f"| {name} | {av[0]:.2f} s ({gib / av[0]:.2f} GiB/s, {av[1] / 1024:.1f} MiB) | {ossl[0]:.2f} s ({gib / ossl[0]:.2f} GiB/s) "
            f"| {ss[0]:.2f} s ({gib / ss[0]:.2f} GiB/s) | {ossl[0] / av[0]:.2f}× | {ss[0] / av[0]:.2f}× |"
        )
    print(f"\npeak memory of artifact-verify: {av_one[1] / 1024:.1f} MiB on a {a.file_mib} MiB file, {av_l[1] / 1024:.1f} MiB on the {a.large_mib} MiB file")

    large_ratio = os_l[0] / av_l[0]
    many_ratio = os_m[0] / av_m[0]
    mem_ratio = av_l[1] / max(av_one[1], 1)
    ok = large_ratio >= 0.9 and (cores < 2 or many_ratio >= 1.7) and mem_ratio < 1.25
    print(
        f"\nlarge file: {large_ratio:.2f}× openssl (target ≥ 0.9×); many files: {many_ratio:.2f}× openssl's single stream "
        f"(target ≥ 1.7× on 2 cores); memory {a.large_mib} MiB vs {a.file_mib} MiB file: {mem_ratio:.2f}× (flat: < 1.25×) → "
        f"{'targets met' if ok else 'TARGET MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
