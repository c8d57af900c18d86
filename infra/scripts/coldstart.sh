#!/usr/bin/env bash
# `make bench-coldstart`: init and first-invoke times of every function's
# release binary and of a bare `lambda_runtime` binary, side by side, against
# the Lambda Runtime API emulator of infra/coldstart on loopback.
#
#   coldstart.sh            every function, RUNS (15) cold starts each
#   coldstart.sh NAME...    only these functions (and the bare binary)
#   PROFILE=bench coldstart.sh   the bench profile instead of release (no
#                                LTO: minutes less to build; both sides alike)
#
# Builds for this machine (the same release profile as the arm64 Lambdas),
# each function on its own `-p` so its features resolve as `sam build`
# resolves them. The environment is a deployed function's, with fake
# credentials and region; no AWS and no store is reached: the HTTP functions
# get a request without claims (answered 401 by the edge), import-renewals an
# S3 event for a key that is no import (ignored), daily-expiry-check an event
# whose time is malformed (answered with an error). So the first invoke
# measures the runtime and the handler, not a store round trip.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

target="${CARGO_TARGET_DIR:-target}"
events="$target/coldstart-events"
mkdir -p "$events"
if [[ $# -gt 0 ]]; then
  functions=("$@")
else
  list="$(lambda_functions)"
  mapfile -t functions <<<"$list"
fi

profile="${PROFILE:-release}"
log "cargo build --profile $profile -p coldstart"
cargo build --profile "$profile" -p coldstart
for function in "${functions[@]}"; do
  log "cargo build --profile $profile -p $function"
  cargo build --profile "$profile" -p "$function"
done
# The bench profile's binaries land in release/ too.
bin="$target/release"

python3 - "$events" <<'PY'
import json, sys
out = sys.argv[1]
with open("tests/fixtures/events/http-api-proxy.json") as f:
    http = json.load(f)
context = http.get("requestContext", {})
context.pop("authorizer", None)
context.setdefault("http", {}).update(method="GET", path="/v1/access")
http.update(rawPath="/v1/access", rawQueryString="", body=None)
http.pop("queryStringParameters", None)
http["headers"] = {k: v for k, v in http.get("headers", {}).items() if k.lower() != "authorization"}
json.dump(http, open(f"{out}/http.json", "w"))
with open("tests/fixtures/events/s3-put.json") as f:
    s3 = json.load(f)
for record in s3.get("Records", []):
    record["s3"]["object"]["key"] = "not-an-import.csv"
json.dump(s3, open(f"{out}/s3.json", "w"))
json.dump({"time": "not a time"}, open(f"{out}/schedule.json", "w"))
json.dump({}, open(f"{out}/bare.json", "w"))
PY

args=("bare=$bin/bare-lambda=$events/bare.json")
for function in "${functions[@]}"; do
  case "$function" in
    import-renewals) event=s3.json ;;
    daily-expiry-check) event=schedule.json ;;
    *) event=http.json ;;
  esac
  args+=("$function=$bin/$function=$events/$event")
done

# shellcheck disable=SC2016 # $LATEST is Lambda's literal version name
env TABLE_NAME=seatkeeper SENDER_EMAIL=noreply@example.com APP_BASE_URL=https://app.example.com \
  IMPORTS_BUCKET=imports SESSION_KEY=coldstart-session-key-0123456789abcdef0123456789 \
  COGNITO_DOMAIN=https://auth.example.com COGNITO_CLIENT_ID=coldstart \
  COGNITO_ISSUER=https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_coldstart \
  AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=coldstart AWS_SECRET_ACCESS_KEY=coldstart \
  AWS_EC2_METADATA_DISABLED=true AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 AWS_LAMBDA_FUNCTION_VERSION='$LATEST' \
  AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/coldstart AWS_LAMBDA_LOG_STREAM_NAME=coldstart \
  "$bin/coldstart" --runs "${RUNS:-15}" "${args[@]}"
