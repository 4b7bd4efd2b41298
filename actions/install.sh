#!/usr/bin/env bash
# Shared by every release-gate action: puts the gate's binary in place and
# prints its path as the step output `bin`.
#
# On a released ref, actions/VERSION and actions/SHA256SUMS are committed
# beside this script (by .github/workflows/release.yml, on the commit the
# immutable vX.Y.Z tag names). The release archive for this runner's OS and
# architecture is then downloaded (HTTPS only, TLS 1.2 or later) from
# RELEASE_GATE_DOWNLOAD_BASE and its SHA-256 checked against the one
# committed here; the binaries unpacked from it go to the runner's tool
# cache. A cached binary is checked against its own SHA-256 (also committed
# here, one line per `<target>/<binary>`) before *every* run: a binary or
# archive that does not match is refused and nothing is run.
#
# RELEASE_GATE_VERIFY_ATTESTATION=true also checks the archive's
# build-provenance attestation with `gh attestation verify` (gh and a token
# in GH_TOKEN needed).
#
# RELEASE_GATE_FALLBACK says what happens without a prebuilt binary:
#   none   fail, naming what is missing (no silent source build);
#   cargo  build the gate from source with cargo;
#   auto   (default) none on a released ref, cargo when the action runs from
#          a checkout without actions/VERSION (`uses: ./actions/<gate>`).
set -euo pipefail

gate="${1:?usage: install.sh <gate>}"
actions_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(dirname "$actions_dir")"
base="${RELEASE_GATE_DOWNLOAD_BASE:-https://github.com/tradepulse/release-gate/releases/download}"

fail() {
  echo "::error title=release-gate install::$*"
  exit 1
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

case "${RUNNER_OS:-$(uname -s)}/${RUNNER_ARCH:-$(uname -m)}" in
  Linux/X64 | Linux/x86_64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64 | Linux/aarch64) target=aarch64-unknown-linux-musl ;;
  macOS/X64 | Darwin/x86_64) target=x86_64-apple-darwin ;;
  macOS/ARM64 | Darwin/arm64) target=aarch64-apple-darwin ;;
  Windows/X64) target=x86_64-pc-windows-msvc ;;
  *) target="" ;;
esac
exe=""
[ "$target" = x86_64-pc-windows-msvc ] && exe=".exe"

version=""
[ -f "$actions_dir/VERSION" ] && version="$(tr -d '[:space:]' <"$actions_dir/VERSION")"
asset="release-gate-${version}-${target}.tar.gz"
expected=""
if [ -n "$version" ] && [ -n "$target" ] && [ -f "$actions_dir/SHA256SUMS" ]; then
  expected="$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1 }' "$actions_dir/SHA256SUMS")"
fi

case "${RELEASE_GATE_VERIFY_ATTESTATION:-false}" in
  true | false) ;;
  *) fail "the verify-attestation input must be true or false (got '${RELEASE_GATE_VERIFY_ATTESTATION}')" ;;
esac
fallback="${RELEASE_GATE_FALLBACK:-auto}"
case "$fallback" in
  auto) if [ -n "$version" ]; then fallback=none; else fallback=cargo; fi ;;
  none | cargo) ;;
  *) fail "the fallback input must be auto, cargo or none (got '${fallback}')" ;;
esac

if [ -n "$expected" ]; then
  expected_bin="$(awk -v b="$target/$gate$exe" '$2 == b { print $1 }' "$actions_dir/SHA256SUMS")"
  [ -n "$expected_bin" ] || fail "actions/SHA256SUMS at this ref lists ${asset} but no checksum for ${target}/${gate}${exe}; pin a released vX.Y.Z commit"
  cache_dir="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/release-gate/${version}/${target}"
  bin="$cache_dir/$gate$exe"
  if [ -f "$bin" ]; then
    actual="$(sha256_of "$bin")"
    [ "$actual" = "$expected_bin" ] ||
      fail "the cached ${bin} has SHA-256 ${actual}, but actions/SHA256SUMS at this ref records ${expected_bin}: the tool cache was altered, so nothing was run. Delete ${cache_dir} to download the release again"
    echo "release-gate ${version}: the cached ${gate}${exe} matches actions/SHA256SUMS"
  else
    work="$(mktemp -d "${RUNNER_TEMP:-/tmp}/release-gate.XXXXXX")"
    url="${base%/}/v${version}/${asset}"
    case "$url" in
      https://*) ;;
      *) fail "download-base-url must be an https:// URL (got ${base})" ;;
    esac
    echo "release-gate ${version}: downloading ${url}"
    curl --proto '=https' --tlsv1.2 --fail --silent --show-error --location --retry 3 --output "$work/$asset" "$url" ||
      fail "could not download ${url}; check the download-base-url input or the runner's network"
    actual="$(sha256_of "$work/$asset")"
    if [ "$actual" != "$expected" ]; then
      rm -rf "$work"
      fail "${asset} has SHA-256 ${actual}, but actions/SHA256SUMS at this ref records ${expected}: the download was corrupted or tampered with, so it was not run. Retry, or pin the action to a released commit"
    fi
    if [ "${RELEASE_GATE_VERIFY_ATTESTATION:-false}" = true ]; then
      command -v gh >/dev/null 2>&1 ||
        fail "verify-attestation is true but the gh CLI is not installed on this runner; install gh or set verify-attestation: false"
      gh attestation verify "$work/$asset" --repo tradepulse/release-gate \
        --signer-workflow tradepulse/release-gate/.github/workflows/release.yml ||
        fail "${asset}'s build-provenance attestation did not verify against tradepulse/release-gate's release workflow, so it was not run"
    fi
    mkdir -p "$work/x"
    tar -xzf "$work/$asset" -C "$work/x"
    [ -f "$work/x/$gate$exe" ] || fail "${asset} does not contain ${gate}${exe}"
    [ "$(sha256_of "$work/x/$gate$exe")" = "$expected_bin" ] ||
      fail "${gate}${exe} in ${asset} does not match its checksum in actions/SHA256SUMS, so it was not run"
    mkdir -p "$(dirname "$cache_dir")"
    rm -rf "$cache_dir"
    mv "$work/x" "$cache_dir"
    rm -rf "$work"
  fi
elif [ "$fallback" = none ]; then
  if [ -n "$version" ]; then
    fail "release-gate ${version} has no prebuilt ${gate} for ${RUNNER_OS:-this OS}/${RUNNER_ARCH:-this CPU} (actions/SHA256SUMS lists none), and the fallback input is none; set fallback: cargo to build it from source"
  fi
  fail "this ref of release-gate is not a release (no actions/VERSION), so there is no binary to download, and the fallback input is none; pin a released vX.Y.Z commit, or set fallback: cargo to build from source"
else
  command -v cargo >/dev/null 2>&1 ||
    fail "no prebuilt ${gate} for ${RUNNER_OS:-this OS}/${RUNNER_ARCH:-this CPU} at this ref, and cargo is not installed to build it (fallback: cargo); use a released ref or install Rust first"
  profile="${RELEASE_GATE_BUILD_PROFILE:-release}"
  echo "release-gate: building ${gate} from source (cargo, profile ${profile})"
  cargo build --quiet --locked --profile "$profile" --bin "$gate" --manifest-path "$repo_root/Cargo.toml"
  dir="$profile"
  [ "$profile" = dev ] && dir=debug
  bin="${CARGO_TARGET_DIR:-$repo_root/target}/$dir/$gate$exe"
fi

[ -x "$bin" ] || fail "${bin} is missing after installation"
echo "bin=$bin" >>"$GITHUB_OUTPUT"
