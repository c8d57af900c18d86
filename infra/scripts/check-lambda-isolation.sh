#!/usr/bin/env bash
# Proves the local-only code never reaches a Lambda binary: for each function
# package, as `cargo lambda build -p <fn>` resolves it, the dependency tree
# holds no local-server crate (the /local/token route and the code that
# accepts its tokens); seatkeeper-edge is built with its `aws` feature and
# at most `aws-s3` and `aws-ses` (never `local`, the event builder), and no
# SDK client it does not wire; and the function's own source names no
# local-only stand-in (the event builder, /local/ routes): the console's
# role-picker sign-in lives in the local server, never in the console
# binary, which signs in only through Cognito. The functions are those
# lambda_functions (lib.sh) finds, so a new one is checked without being
# listed here.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

list="$(lambda_functions)"
mapfile -t functions <<<"$list"
status=0
for function in "${functions[@]}"; do
  # One line per package, with the features it is built with: `name vX (path) [f1,f2]`.
  tree=$(cargo tree -q -p "$function" -e normal --prefix none -f '{p} [{f}]')
  if grep -q "^local-server " <<<"$tree"; then
    echo "FAIL: $function depends on local-server" >&2
    status=1
  fi
  if grep -rlE 'local_event|/local/|local-server|local_server' "functions/$function/src" >&2; then
    echo "FAIL: $function's source names local-only code (files above)" >&2
    status=1
  fi
  edge=$(grep -m1 "^seatkeeper-edge " <<<"$tree" || true)
  features="${edge##*[}"
  features="${features%]}"
  IFS=, read -ra wired <<<"$features"
  if [[ " ${wired[*]} " != *" aws "* ]]; then
    echo "FAIL: $function builds seatkeeper-edge without its aws feature: $edge" >&2
    status=1
  fi
  for feature in "${wired[@]}"; do
    case "$feature" in
      aws | aws-s3 | aws-ses) ;;
      *)
        echo "FAIL: $function builds seatkeeper-edge with $feature (only aws, aws-s3, aws-ses): $edge" >&2
        status=1
        ;;
    esac
  done
  # A client the function does not wire is not linked either (#15).
  for pair in aws-ses:aws-sdk-sesv2 aws-s3:aws-sdk-s3; do
    if [[ " ${wired[*]} " != *" ${pair%%:*} "* ]] && grep -q "^${pair#*:} " <<<"$tree"; then
      echo "FAIL: $function links ${pair#*:} without seatkeeper-edge's ${pair%%:*}" >&2
      status=1
    fi
  done
done
[[ $status -eq 0 ]] || die "local-only code reaches a Lambda (${#functions[@]} functions checked)"
echo "lambda isolation: ${#functions[@]} functions, no local-only code"
