#!/usr/bin/env bash
# Regenerates the sample Lambda event payloads in tests/fixtures/events/ with
# `sam local generate-event`, so the fixtures are AWS's own shapes rather than
# hand-written ones. Tests load them and fill in claims, paths and bodies.
#
#   gen-events.sh          write the fixtures (installs aws-sam-cli if missing)
#
# `sam` comes from the git-ignored virtualenv .venv/ at the repository root;
# when it is missing, aws-sam-cli is installed there with pip.
set -euo pipefail

# Pinned so that every machine generates the same payloads; bump on purpose.
readonly SAM_CLI="aws-sam-cli==1.170.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly VENV="$root/.venv"
readonly OUT="$root/tests/fixtures/events"

log() { echo "gen-events: $*" >&2; }

if [[ ! -x "$VENV/bin/sam" ]]; then
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi
  log "installing $SAM_CLI into $VENV"
  "$VENV/bin/python" -m pip install --quiet "$SAM_CLI"
fi

# No telemetry, no update check: the run must not depend on anything but PyPI.
export SAM_CLI_TELEMETRY=0
export SAM_CLI_DISABLE_VERSION_CHECK=1

mkdir -p "$OUT"

# generate FILE SERVICE EVENT: one `sam local generate-event`, checked to be JSON.
generate() {
  local file="$1" service="$2" event="$3" tmp
  tmp="$(mktemp)"
  "$VENV/bin/sam" local generate-event "$service" "$event" >"$tmp"
  "$VENV/bin/python" -m json.tool "$tmp" >/dev/null
  chmod 644 "$tmp"
  mv "$tmp" "$OUT/$file"
  log "wrote tests/fixtures/events/$file ($service $event)"
}

generate http-api-proxy.json apigateway http-api-proxy
generate s3-put.json s3 put
generate scheduled-event.json cloudwatch scheduled-event
