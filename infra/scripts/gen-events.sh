#!/usr/bin/env bash
# Regenerates the sample Lambda event payloads in tests/fixtures/events/ with
# `sam local generate-event`, so the fixtures are AWS's own shapes rather than
# hand-written ones. Tests load them and fill in claims, paths and bodies.
#
#   gen-events.sh          write the fixtures (installs aws-sam-cli if missing)
#
# `sam` comes from the git-ignored virtualenv .venv/ at the repository root;
# aws-sam-cli, pinned in versions.sh, is installed there with pip unless that
# version is there already (it is the one lint-template.sh uses).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
readonly OUT="$root/tests/fixtures/events"

ensure_sam
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
