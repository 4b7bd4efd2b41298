#!/usr/bin/env bash
# Shared by every release-gate action: runs the installed gate with the
# inputs the action passed through `env:`. Empty inputs are unset so that the
# gate's own defaults apply.
set -euo pipefail
for name in $(compgen -e); do
  case "$name" in
    RELEASE_GATE_* | GITHUB_TOKEN)
      [ -n "${!name}" ] || unset "$name"
      ;;
  esac
done
bin="${RELEASE_GATE_BIN:?the install step did not report a binary}"
unset RELEASE_GATE_BIN
exec "$bin" "$@"
