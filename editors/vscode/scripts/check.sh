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
# --ignore-scripts: nothing the checks use needs an install script (vsce's optional keytar would
# try to download a prebuilt binary). A clean install from the lockfile, skipped when node_modules was
# installed from this very lockfile (the stamp holds its hash).
want=$(sha256sum < package-lock.json | cut -c1-16)
if [ -f node_modules/.infill-lock-stamp ] && [ "$(cat node_modules/.infill-lock-stamp)" = "$want" ]; then
  echo "editors/vscode: node_modules is up to date with package-lock.json"
else
  echo "editors/vscode: npm ci"
  npm ci --ignore-scripts
  echo "$want" > node_modules/.infill-lock-stamp
fi
echo "editors/vscode: tsc --noEmit"
./node_modules/.bin/tsc --noEmit -p .
echo "editors/vscode: unit tests"
rm -rf out-test
./node_modules/.bin/tsc -p tsconfig.test.json
node --test --test-reporter=spec out-test/test/*.test.js
