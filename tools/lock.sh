#!/usr/bin/env bash
# Regenerates requirements.lock (run it as `make lock`): every package `make setup` installs, i.e. the dependencies
# of warta[train,dev,distributed] in pyproject.toml, pinned to one version each with their sha256 hashes, for
# CPython 3.11 on x86_64 Linux (manylinux_2_28: glibc 2.28 or newer), with torch as 2.13.0+cpu
# (tools/lock-constraints.txt). It resolves with a pinned uv, installed into build/lock-tools.
#
#   tools/lock.sh                          # after a change to pyproject.toml: pins already in the lock are kept
#   tools/lock.sh --upgrade                # every package to its newest release that pyproject.toml allows
#   tools/lock.sh --upgrade-package NAME   # only NAME (and what it needs)
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
PYTHON=${PYTHON:-python3}
# uv reads no pip configuration, so it is shown the directory that holds the torch CPU wheel.
TORCH_WHEELS=${TORCH_WHEELS:-/opt/wheels}
TOOLS=build/lock-tools
LOCK=requirements.lock

if ! compgen -G "$TORCH_WHEELS/torch-2.13.0+cpu-*.whl" >/dev/null; then
  echo "lock: no torch-2.13.0+cpu wheel in $TORCH_WHEELS (set TORCH_WHEELS to the directory that has it)" >&2
  exit 1
fi
if ! "$TOOLS/bin/uv" --version 2>/dev/null | grep -q "^uv $UV_VERSION "; then
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet "uv==$UV_VERSION"
fi

# Resolve into a copy (uv keeps the pins it finds there), check it, then replace the lock.
new=$(mktemp "$LOCK.XXXXXX")
trap 'rm -f "$new"' EXIT
[[ -f $LOCK ]] && cp "$LOCK" "$new"
"$TOOLS/bin/uv" pip compile pyproject.toml \
  --extra train --extra dev --extra distributed \
  --constraint tools/lock-constraints.txt \
  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --find-links "$TORCH_WHEELS" \
  --generate-hashes --custom-compile-command "make lock" \
  --quiet --output-file "$new" "$@"

if ! grep -q '^torch==2\.13\.0+cpu ' "$new" || grep -qi '^nvidia-' "$new"; then
  echo "lock: the resolution does not use the torch 2.13.0 CPU build; $LOCK left as it was" >&2
  exit 1
fi
chmod 644 "$new"
mv "$new" "$LOCK"
trap - EXIT
echo "lock: $LOCK has $(grep -c '^[A-Za-z0-9]' "$LOCK") pinned packages"
