#!/usr/bin/env bash
# Shared by every release-gate action: puts the gate's binary in place and
# prints its path as the step output `bin`.
#
# On a released ref, actions/VERSION and actions/SHA256SUMS are committed
# beside this script (by .github/workflows/release.yml). The archive for this
# runner's OS and architecture is then taken from the runner's tool cache, or
# downloaded from RELEASE_GATE_DOWNLOAD_BASE and checked against the SHA-256
# committed here: a download that does not match is refused. Without a
# prebuilt binary for this platform, or when the action runs from a checkout
# (`uses: ./actions/<gate>`), the gate is built from source with cargo.
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

if [ -n "$expected" ]; then
  cache_dir="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/release-gate/${version}/${target}"
  if [ -x "$cache_dir/$gate$exe" ] && [ "$(cat "$cache_dir/.sha256" 2>/dev/null)" = "$expected" ]; then
    echo "release-gate ${version}: using the cached ${target} binaries"
  else
    work="$(mktemp -d "${RUNNER_TEMP:-/tmp}/release-gate.XXXXXX")"
    url="${base%/}/v${version}/${asset}"
    echo "release-gate ${version}: downloading ${url}"
    curl --fail --silent --show-error --location --retry 3 --output "$work/$asset" "$url" ||
      fail "could not download ${url}; check the download-base-url input or the runner's network"
    actual="$(sha256_of "$work/$asset")"
    if [ "$actual" != "$expected" ]; then
      rm -rf "$work"
      fail "${asset} has SHA-256 ${actual}, but actions/SHA256SUMS at this ref records ${expected}: the download was corrupted or tampered with, so it was not run. Retry, or pin the action to a released commit"
    fi
    mkdir -p "$work/x"
    tar -xzf "$work/$asset" -C "$work/x"
    [ -x "$work/x/$gate$exe" ] || fail "${asset} does not contain ${gate}${exe}"
    mkdir -p "$(dirname "$cache_dir")"
    rm -rf "$cache_dir"
    mv "$work/x" "$cache_dir"
    echo "$expected" >"$cache_dir/.sha256"
    rm -rf "$work"
  fi
  bin="$cache_dir/$gate$exe"
else
  command -v cargo >/dev/null 2>&1 ||
    fail "no prebuilt ${gate} for ${RUNNER_OS:-this OS}/${RUNNER_ARCH:-this CPU} at this ref, and cargo is not installed to build it; use a released ref (e.g. @v1) or install Rust first"
  profile="${RELEASE_GATE_BUILD_PROFILE:-release}"
  echo "release-gate: building ${gate} from source (cargo, profile ${profile})"
  cargo build --quiet --locked --profile "$profile" --bin "$gate" --manifest-path "$repo_root/Cargo.toml"
  dir="$profile"
  [ "$profile" = dev ] && dir=debug
  bin="${CARGO_TARGET_DIR:-$repo_root/target}/$dir/$gate$exe"
fi

[ -x "$bin" ] || fail "${bin} is missing after installation"
echo "bin=$bin" >>"$GITHUB_OUTPUT"
