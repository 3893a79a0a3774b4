#!/usr/bin/env bash
# Install the Jest and Vitest that the `--run` tests (tests/assist/test_run_jest_vitest.py) link
# into their tiny fixture projects.
#
#   scripts/install-js-test-runners.sh
#
# Needs the Node that scripts/install-vscode-e2e.sh puts behind shims in $SEEKCODE_E2E_HOME/bin.
# Idempotent and quick when done; network only to the npm registry. Everything lives in
# $SEEKCODE_JS_RUNNERS (default ~/.cache/seekcode/js-runners), outside the repository.
set -euo pipefail

JEST_VERSION="30.5.2"
VITEST_VERSION="5.1.2"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/seekcode"
E2E_HOME="${SEEKCODE_E2E_HOME:-$CACHE/vscode-e2e}"
RUNNERS="${SEEKCODE_JS_RUNNERS:-$CACHE/js-runners}"
STAMP="$RUNNERS/.installed-jest-$JEST_VERSION-vitest-$VITEST_VERSION"

log() { echo "install-js-test-runners: $*" >&2; }
if [ -f "$STAMP" ]; then
  exit 0
fi
export PATH="$E2E_HOME/bin:$PATH"
if ! command -v npm >/dev/null; then
  log "no npm in $E2E_HOME/bin; run scripts/install-vscode-e2e.sh first (it installs Node)"
  exit 1
fi
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

mkdir -p "$RUNNERS"
[ -f "$RUNNERS/package.json" ] || echo '{"private": true}' >"$RUNNERS/package.json"
log "npm install jest@$JEST_VERSION vitest@$VITEST_VERSION into $RUNNERS"
(cd "$RUNNERS" && npm install --no-save --loglevel=error "jest@$JEST_VERSION" "vitest@$VITEST_VERSION" >/dev/null)
"$RUNNERS/node_modules/.bin/jest" --version >/dev/null
"$RUNNERS/node_modules/.bin/vitest" --version >/dev/null
rm -f "$RUNNERS"/.installed-*
touch "$STAMP"
log "ready: $RUNNERS/node_modules"
