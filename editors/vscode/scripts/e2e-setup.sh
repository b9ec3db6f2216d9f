#!/usr/bin/env bash
# Set up the real-VS-Code test (tests/test_vscode_e2e.py): the Debian packages, code-server 4.99.4
# (VS Code 1.99.3) with playwright-core, and this checkout's extension packaged and installed into it.
# Idempotent: each part is skipped when its stamp says it is done, so a second run is a no-op.
#
# code-server and playwright-core are pinned by e2e/package-lock.json and installed once per machine
# under ${INFILL_E2E_CACHE:-${XDG_CACHE_HOME:-~/.cache}/infill-e2e}; the .vsix and the extensions
# folder are this checkout's, under editors/vscode/.e2e/ (git-ignored), with .e2e/paths.json saying
# where everything is.
#
# Exit status: 0 ready; 2 cannot be set up here (not root and Debian packages missing, or no node 20),
# with what to install on stderr; 1 a step failed (its log's tail on stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)

CODE_SERVER_VERSION=4.99.4
DEBIAN_PACKAGES=(libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config build-essential ripgrep chromium)
CHROMIUM=/usr/bin/chromium
state=$here/.e2e
cache=${INFILL_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/infill-e2e}
export npm_config_loglevel=error npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

worked=""
say() {
  echo "e2e-setup: $*"
  worked=1
}

# Runs a step (a command or a function, under set -e) with its output in a log; on failure shows the
# log's tail and exits 1.
logged() {
  local log=$1 status=0
  shift
  set +e
  (set -e; "$@") >"$log" 2>&1
  status=$?
  set -e
  if [ $status != 0 ]; then
    echo "e2e-setup: failed: $* (log: $log)" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}

missing_debian_packages() {
  local package
  for package in "${DEBIAN_PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" != "installed" ]; then
      echo "$package"
    fi
  done
}

install_debian_packages() {
  local missing
  missing=$(missing_debian_packages | xargs)
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "e2e-setup: missing Debian packages; as root: apt-get install $missing" >&2
    exit 2
  fi
  say "installing Debian packages: $missing"
  mkdir -p "$state"
  logged "$state/apt.log" apt-get update
  # shellcheck disable=SC2086  # one word per package
  logged "$state/apt.log" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
}

check_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "e2e-setup: node 20 and npm are needed (code-server $CODE_SERVER_VERSION runs on node 20)" >&2
    exit 2
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" != 20 ]; then
    echo "e2e-setup: code-server $CODE_SERVER_VERSION needs node 20; this is node $(node --version)" >&2
    exit 2
  fi
  # native modules build against the installed headers (nothing to download) where there are some
  if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
    export npm_config_nodedir=/usr
  fi
}

# What code-server's postinstall.sh does, without its downloads: the install scripts are skipped and
# the native modules are built here from source, ripgrep comes from Debian.
install_code_server() {
  local dir=$1 vscode=$1/node_modules/code-server/lib/vscode
  cp e2e/package.json e2e/package-lock.json "$dir/"
  (cd "$dir" && npm ci --ignore-scripts)
  (cd "$vscode" && npm install --omit=dev --ignore-scripts)
  mkdir -p "$vscode/node_modules/@vscode/ripgrep/bin"
  cp "$(command -v rg)" "$vscode/node_modules/@vscode/ripgrep/bin/rg"
  # from source: kerberos would first try to download a prebuilt binary
  (cd "$vscode" && npm_config_yes=true npm_config_build_from_source=true npm rebuild kerberos)
  (cd "$vscode" && npm_config_yes=true npm rebuild node-pty @parcel/watcher @vscode/spdlog @vscode/deviceid native-watchdog)
  ln -sfn node_modules "$vscode/node_modules.asar"
  ln -sfn code-linux.sh "$vscode/bin/remote-cli/code-server"
  ln -sfn browser-linux.sh "$vscode/bin/helpers/browser.sh"
  (cd "$vscode/extensions" && npm install --omit=dev)
  (cd "$dir" && npm_config_build_from_source=true npm rebuild argon2)
  XDG_CONFIG_HOME="$dir/config" node "$dir/node_modules/code-server/out/node/entry.js" --version
}

setup_code_server() {
  local key dir
  # the install is redone when the lockfile or the install steps change, not for other edits here
  key=$( (cat e2e/package-lock.json; declare -f install_code_server) | sha256sum | cut -c1-16)
  dir=$cache/code-server-$CODE_SERVER_VERSION-$key
  code_server=$dir/node_modules/code-server/out/node/entry.js
  node_modules=$dir/node_modules
  mkdir -p "$cache"
  exec 9>"$cache/.lock" # one install at a time, for checkouts that share the cache
  flock 9
  if [ -f "$dir/.installed" ]; then
    flock -u 9
    return 0
  fi
  say "installing code-server $CODE_SERVER_VERSION and playwright-core into $dir (about a minute, once)"
  rm -rf "$dir"
  mkdir -p "$dir"
  logged "$dir.log" install_code_server "$dir"
  touch "$dir/.installed"
  # one install is kept: the others were for another lockfile or other install steps
  find "$cache" -mindepth 1 -maxdepth 1 -name 'code-server-*' ! -name "$(basename "$dir")*" -exec rm -rf {} +
  flock -u 9
}

package_extension() {
  local key
  key=$(cat package.json package-lock.json tsconfig.json .vscodeignore README.md LICENSE src/*.ts images/* \
    | sha256sum | cut -c1-16)
  vsix=$here/dist/infill-$(node -p 'require("./package.json").version').vsix
  extensions=$state/extensions
  if [ -f "$vsix" ] && [ "$(cat "$state/vsix.stamp" 2>/dev/null)" = "$key" ] \
    && [ "$(cat "$extensions/.stamp" 2>/dev/null)" = "$key" ]; then
    return 0
  fi
  mkdir -p "$state"
  if [ ! -x node_modules/.bin/vsce ] || [ ! -x node_modules/.bin/esbuild ] || [ ! -x node_modules/.bin/tsc ]; then
    say "npm ci (the extension's build tools)"
    logged "$state/npm-ci.log" npm ci --ignore-scripts
  fi
  say "packaging the extension: $(basename "$vsix")"
  logged "$state/package.log" npm run package
  echo "$key" >"$state/vsix.stamp"
  say "installing it into code-server"
  rm -rf "$extensions" "$state/install-profile"
  logged "$state/install.log" env XDG_CONFIG_HOME="$state/install-profile/config" node "$code_server" \
    --extensions-dir "$extensions" --user-data-dir "$state/install-profile/data" --install-extension "$vsix"
  rm -rf "$state/install-profile"
  echo "$key" >"$extensions/.stamp"
}

write_paths() {
  local paths
  paths=$(CODE_SERVER="$code_server" NODE_MODULES="$node_modules" EXTENSIONS="$extensions" VSIX="$vsix" \
    CHROMIUM="$CHROMIUM" node -p 'const e = process.env; JSON.stringify({code_server: e.CODE_SERVER,
      node_modules: e.NODE_MODULES, extensions: e.EXTENSIONS, vsix: e.VSIX, chromium: e.CHROMIUM})')
  if [ "$(cat "$state/paths.json" 2>/dev/null)" != "$paths" ]; then
    echo "$paths" >"$state/paths.json"
  fi
}

started=$SECONDS
check_node
install_debian_packages
setup_code_server
package_extension
write_paths
echo "e2e-setup: ready${worked:+ in $((SECONDS - started)) s} (code-server $CODE_SERVER_VERSION, $(basename "$vsix"))"
