#!/usr/bin/env bash
# Set everything up and run the whole test suite: Python tests, lint, and the editor clients' checks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
status=0
.venv/bin/ruff check infill_lsp engine grammars tests infill_tools || status=1
if [ -x editors/vscode/scripts/check.sh ]; then
  bash editors/vscode/scripts/check.sh || status=1
fi
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" || status=$?
exit $status
