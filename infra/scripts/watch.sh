#!/usr/bin/env bash
# The function binaries under `cargo lambda watch`, routed by the workspace's
# router metadata (root Cargo.toml), with no Docker and no AWS account.
#
#   watch.sh                          serve on 127.0.0.1:9000 until stopped
#   watch.sh walkthrough [STORE]      a journey through five functions on a free port; exits 0 if it held
#
# STORE (or SEATKEEPER_STORE) is `sqlite` (the default; the file lives in
# SEATKEEPER_DATA_DIR, default data/watch) or `dynamodb`. For `dynamodb`
# point AWS_ENDPOINT_URL_DYNAMODB at DynamoDB Local (the walkthrough starts
# one itself); the functions create the table TABLE_NAME when it is missing.
# E-mail lands in SEATKEEPER_DATA_DIR/outbox.jsonl. Bearer tokens come from
# watch-token.sh. cargo-lambda comes from PyPI into the git-ignored .venv/.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

pip_pin "$CARGO_LAMBDA"
export PATH="$VENV/bin:$PATH"

# The functions the router metadata (root Cargo.toml) sends requests to, one a
# line: every function the walkthrough can call, built up front so that no
# request waits for a compile.
http_functions() {
  cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
router = json.load(sys.stdin)["metadata"]["lambda"]["watch"]["router"]
print("\n".join(sorted({r["function"] for routes in router.values() for r in routes})))'
}

serve_watch() {
  local port="$1"
  log "cargo lambda watch on 127.0.0.1:$port (store: ${SEATKEEPER_STORE:-sqlite})"
  exec cargo lambda watch --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$port"
}

walkthrough() {
  local store="${1:-sqlite}" port pid
  work="$(mktemp -d)" # global: the EXIT trap runs after this function's locals are gone
  export SEATKEEPER_STORE="$store" SEATKEEPER_DATA_DIR="$work/data"
  pids=()
  # shellcheck disable=SC2154 # p is the trap's own loop variable
  trap 'for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

  if [[ "$store" == dynamodb ]]; then
    local dynamo_port
    dynamo_port="$(free_port)"
    setsid bash infra/scripts/dynamodb-local.sh start "$dynamo_port" --watch $$ >"$work/dynamodb.log" 2>&1 &
    pids+=($!)
    wait_for_port "$dynamo_port" "${pids[-1]}" "DynamoDB Local" 120
    export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$dynamo_port" TABLE_NAME="seatkeeper-watch"
    export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=eu-west-2
  fi

  local list functions bins=()
  list="$(http_functions)"
  mapfile -t functions <<<"$list"
  log "building ${functions[*]} with the watch feature"
  for f in "${functions[@]}"; do bins+=(--bin "$f"); done
  cargo build --quiet --features watch "${bins[@]}"

  port="$(free_port)"
  setsid bash "$root/infra/scripts/watch.sh" serve "$port" >"$work/watch.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_for_port "$port" "$pid" "cargo lambda watch" 120

  local out
  if ! out="$(journey "http://127.0.0.1:$port")"; then
    printf '%s\n' "$out" >&2
    tail -n 40 "$work/watch.log" >&2
    die "the journey through cargo lambda watch failed (store: $store)"
  fi
  printf '%s\n' "$out"
  # The store the environment named is the one that was used.
  local sqlite_file="$SEATKEEPER_DATA_DIR/seatkeeper.sqlite"
  case "$store" in
    sqlite) [[ -s "$sqlite_file" ]] || die "no SQLite file at $sqlite_file" ;;
    dynamodb) [[ ! -e "$sqlite_file" ]] || die "SQLite was used, not DynamoDB Local" ;;
  esac
  echo "watch walkthrough ($store): every route answered through cargo lambda watch"
}

# status BODY for one request; the body on the next line.
call() {
  local method="$1" url="$2" token="$3" body="${4:-}"
  local args=(-s -m 300 -X "$method" -w '\n%{http_code}' "$url")
  [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
  [[ -n "$body" ]] && args+=(-H 'content-type: application/json' -d "$body")
  curl "${args[@]}"
}

pick() { grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }
pick_number() { grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2; }

# Checks that the last line of $reply (the status) is $1, then drops it.
expect_status() {
  local want="$1" what="$2" status
  status="$(tail -n 1 <<<"$reply")"
  reply="$(sed '$d' <<<"$reply")"
  if [[ "$status" != "$want" ]]; then
    echo "FAILED: $what: HTTP $status, wanted $want: $reply"
    return 1
  fi
  echo "ok: $what (HTTP $status)"
}

journey() {
  local b="$1" tokens="infra/scripts/watch-token.sh" reply am lead ann company order quote invoice
  local term_start
  term_start="$(date -u -d '-30 days' +%F)"

  reply="$(call GET "$b/v1/access" "")"
  expect_status 401 "read-api refuses a request without a token"

  am="$(bash "$tokens" account_manager am@vendor.io)"
  reply="$(call POST "$b/v1/companies" "$am" '{
    "name": "Acme Ltd", "account_manager_email": "am@vendor.io",
    "plan": {"kind": "premium", "term_start": "'"$term_start"'"},
    "licence_types": [{"type": "standard", "policy": "co_term", "annual_fee_minor": 12000, "currency": "GBP", "seats": 20}],
    "managers": [{"email": "lead@acme.io", "name": "Lee Lead"}]}')"
  expect_status 201 "admin-api creates the company"
  company="$(pick id <<<"$reply")"

  lead="$(bash "$tokens" manager lead@acme.io "$company")"
  reply="$(call GET "$b/v1/companies/$company" "$lead")"
  expect_status 200 "read-api shows the company to its manager"

  reply="$(call GET "$b/v1/companies/$company/quote?licence_type=standard&quantity=10" "$lead")"
  expect_status 200 "request-upgrade quotes 10 seats"
  quote="$(pick_number amount_minor <<<"$reply")"

  reply="$(call POST "$b/v1/companies/$company/orders" "$lead" \
    '{"licence_type":"standard","quantity":10,"kind":"upgrade","agree_to_pay":true}')"
  expect_status 201 "request-upgrade takes the order"
  order="$(pick id <<<"$reply")"

  reply="$(call POST "$b/v1/companies/$company/orders/$order/assign" "$lead" '{}')"
  expect_status 403 "assign-order refuses the company's own manager"

  reply="$(call POST "$b/v1/companies/$company/orders/$order/assign" "$am" '{}')"
  expect_status 200 "assign-order assigns it for the account manager"
  invoice="$(pick_number amount_minor <<<"$reply")"
  if [[ -z "$quote" || "$quote" != "$invoice" ]]; then
    echo "FAILED: the invoice ($invoice) is not the quote ($quote)"
    return 1
  fi
  echo "ok: the invoice is the quote: $invoice"
  grep -q '"purchased":30' <<<"$reply" || { echo "FAILED: purchased is not 30: $reply"; return 1; }
  echo "ok: purchased grew from 20 to 30"

  reply="$(call POST "$b/v1/companies/$company/members" "$lead" '{"email":"ann@acme.io","name":"Ann","role":"learner"}')"
  expect_status 201 "allocate adds a learner"
  reply="$(call POST "$b/v1/companies/$company/allocations" "$lead" '{"licence_type":"standard","emails":["ann@acme.io"]}')"
  expect_status 200 "allocate gives the learner a seat"

  ann="$(bash "$tokens" learner ann@acme.io "$company")"
  reply="$(call GET "$b/v1/access" "$ann")"
  expect_status 200 "read-api answers the learner's access"
  grep -q '"allowed":true' <<<"$reply" || { echo "FAILED: the learner may not log in: $reply"; return 1; }
  echo "ok: the learner may log in"

  grep -q '"kind":"order_assigned"' "$SEATKEEPER_DATA_DIR/outbox.jsonl" ||
    { echo "FAILED: no order_assigned e-mail in the outbox"; return 1; }
  echo "ok: the managers were e-mailed the invoice (outbox)"
}

case "${1:-}" in
  "") serve_watch 9000 ;;
  serve) serve_watch "$2" ;;
  walkthrough) walkthrough "${2:-${SEATKEEPER_STORE:-sqlite}}" ;;
  *) usage ;;
esac
