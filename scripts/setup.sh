#!/usr/bin/env bash
# Create .venv and install infill into it (with the dev tools when asked); a no-op when nothing changed.
# Usage: scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
want=$(sha256sum < pyproject.toml | cut -c1-16)
# A dev install also satisfies a plain one.
if [ -f .venv/.infill-installed-dev ] && [ "$(cat .venv/.infill-installed-dev)" = "$want" ]; then
  exit 0
fi
if [ -n "$extras" ]; then
  stamp=.venv/.infill-installed-dev
else
  stamp=.venv/.infill-installed
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
  fi
fi
echo "setup: installing infill$extras into .venv (first run takes a minute or two)"
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
# torch is pinned to the CPU build that lies on local disk; installing it first keeps pip from
# resolving a multi-GB CUDA build for it.
.venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import infill_lsp, engine, torch, transformers, tree_sitter" \
  || { echo "setup: installation failed" >&2; exit 1; }
echo "$want" > "$stamp"
echo "setup: done"
