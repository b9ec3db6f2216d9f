#!/usr/bin/env bash
# Checks of the VS Code extension: clean install from the lockfile, type-check, unit tests.
# Prints node's test summary; exits non-zero when any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "editors/vscode: node and npm are needed for these checks (node >= 20)" >&2
  exit 1
fi
export npm_config_loglevel=error npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
echo "editors/vscode: npm ci"
# --ignore-scripts: nothing the checks use needs an install script (vsce's optional keytar would
# try to download a prebuilt binary)
npm ci --ignore-scripts
echo "editors/vscode: tsc --noEmit"
./node_modules/.bin/tsc --noEmit -p .
echo "editors/vscode: unit tests"
rm -rf out-test
./node_modules/.bin/tsc -p tsconfig.test.json
node --test --test-reporter=spec out-test/test/*.test.js
