#!/usr/bin/env bash
# Runs the README's curl walkthrough, as written, against the README's run
# command (`make run`) on a free port and an empty data directory, and checks
# the figures it promises. Part of `make test`.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

port=$(free_port 2>/dev/null || echo 3917)
data=$(mktemp -d)
server_log="$data/server.log"
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT

SEATKEEPER_PORT=$port SEATKEEPER_DATA_DIR="$data/data" make --no-print-directory run >"$server_log" 2>&1 &
server=$!
# Long enough for `make run` to compile the server first.
wait_for_port "$port" "$server" "the server" 300 "$server_log"

# The walkthrough block, as the README has it, pointed at this run's port.
script=$(sed -n '/<!-- walkthrough:start -->/,/<!-- walkthrough:end -->/p' README.md | sed '/^```/d;/^<!--/d' |
  sed "s#B=http://127.0.0.1:3000#B=http://127.0.0.1:$port#")
out=$(bash -euo pipefail -c "$script")

fail=0
expect() {
  if grep -qF -- "$1" <<<"$out"; then echo "ok: $2"; else echo "MISSING: $2 ($1)" >&2; fail=1; fi
}
expect '"days_remaining":130' "the quote counts 130 days remaining"
expect '"amount_minor":42740' "the quote and the invoice are 42740"
expect '"purchased":30' "purchased grows from 20 to 30"
expect '"kind":"order_assigned"' "the managers were e-mailed the invoice"
expect '"allocated":["ann@acme.io"]' "the learner was allocated a seat"
expect '"allowed":true' "the learner may log in"
if [[ $fail -ne 0 ]]; then
  printf '%s\n' "$out" >&2
  exit 1
fi
echo "README walkthrough: every step answered as written"
