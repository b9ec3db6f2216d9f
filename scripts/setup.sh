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
# pip's output (and the build backend's warnings) goes to a log, shown only when the installation fails.
log=.venv/setup.log
pip_install() {
  .venv/bin/python -m pip install -q --disable-pip-version-check "$@" >>"$log" 2>&1
}
: > "$log"
pip_install --upgrade pip || true
# torch is pinned to the CPU build that lies on local disk; installing it first keeps pip from
# resolving a multi-GB CUDA build for it.
if ! pip_install "torch==2.13.0" || ! pip_install -e ".$extras" \
  || ! .venv/bin/python -c "import infill_lsp, engine, torch, transformers, tree_sitter" >>"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "setup: installation failed (pip's whole output: $log)" >&2
  exit 1
fi
echo "$want" > "$stamp"
echo "setup: done"
