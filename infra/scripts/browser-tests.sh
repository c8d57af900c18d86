#!/usr/bin/env bash
# The console's browser tests (tests/browser): headless Chromium driven by
# Playwright, axe-core on every page, against the local server.
#
#   browser-tests.sh install   install Debian's chromium and the tests' npm packages (idempotent)
#   browser-tests.sh [run [FILE...]]
#                              install, build and start the local server on a free port and an
#                              empty data directory, run the tests (or only FILE..., paths under
#                              tests/browser), stop the server
#
# Chromium is Debian's package (/usr/bin/chromium; CHROMIUM_PATH overrides);
# Playwright is playwright-core from the npm registry, which downloads no
# browser. The packages are pinned by tests/browser/package-lock.json and
# installed with `npm ci` into the git-ignored tests/browser/node_modules.
# Screenshots go to target/browser-screenshots/ (SCREENSHOT_DIR overrides).
# Node's test runner prints the TAP summary (`# pass N`, `# fail N`); the
# script exits non-zero on any failure.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

readonly TESTS="$root/tests/browser"
readonly STAMP="$TESTS/node_modules/.installed-lock"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
export CHROMIUM_PATH

node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 10) ? 0 : 1)'
}

npm_ok() {
  [[ -f "$STAMP" ]] && cmp -s "$STAMP" "$TESTS/package-lock.json"
}

install() {
  if [[ ! -x "$CHROMIUM_PATH" ]] || ! node_ok; then
    lock_install browser
    [[ -x "$CHROMIUM_PATH" ]] || apt_install chromium
    node_ok || apt_install nodejs npm
  fi
  [[ -x "$CHROMIUM_PATH" ]] || die "no Chromium at $CHROMIUM_PATH"
  node_ok || die "the browser tests need Node.js 20.10 or newer (node --test --test-concurrency); found $(node --version 2>/dev/null || echo none)"
  if ! npm_ok; then
    lock_install browser-npm
    if ! npm_ok; then
      log "npm ci in tests/browser"
      (cd "$TESTS" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci in tests/browser failed"
      cp "$TESTS/package-lock.json" "$STAMP"
    fi
  fi
}

run() {
  local files=("$@")
  [[ ${#files[@]} -gt 0 ]] || files=("$TESTS"/journeys/*.test.mjs)
  install
  local port server_log bin target
  port=$(free_port 2>/dev/null || echo 3927)
  # Global, not local: the EXIT trap runs after this function's locals are gone.
  data=$(mktemp -d)
  server_log="$data/server.log"
  # The server binary, built once and run directly (not under `cargo run`),
  # so that the trap stops the server itself.
  log "building the local server"
  cargo build -q -p local-server --bin seatkeeper-local >&2
  target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  bin="$target/debug/seatkeeper-local"
  [[ -x "$bin" ]] || die "no $bin after cargo build"
  SEATKEEPER_PORT=$port SEATKEEPER_DATA_DIR="$data/data" "$bin" >"$server_log" 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
  wait_for_port "$port" "$server" "the local server" 60 "$server_log"

  export SEATKEEPER_URL="http://127.0.0.1:$port"
  export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$root/target/browser-screenshots}"
  mkdir -p "$SCREENSHOT_DIR"
  find "$SCREENSHOT_DIR" -maxdepth 1 -name '*.png' -delete
  log "running the browser tests against $SEATKEEPER_URL with $("$CHROMIUM_PATH" --version 2>/dev/null | head -n 1); screenshots in $SCREENSHOT_DIR"
  local status=0
  # Node's TAP summary (# pass N, # fail N) closes the output of a passing run.
  (cd "$TESTS" && node --test --test-concurrency=1 --test-reporter=tap "${files[@]}") || status=$?
  if [[ $status -ne 0 ]]; then
    log "the local server's log:"
    tail -n 40 "$server_log" >&2
    die "browser tests failed"
  fi
}

case "${1:-run}" in
  install) install ;;
  run) shift || true; run "$@" ;;
  *) usage ;;
esac
