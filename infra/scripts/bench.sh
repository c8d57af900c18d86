#!/usr/bin/env bash
# `make bench`: every figure of issue #15 against its goal, in one table, and
# that table into docs/BENCHMARKS.md (between its `make bench` markers).
#
#   bench.sh            the benches, the cold starts, the Lambda sizes
#
# COLDSTART="read-api ..." limits the cold starts to those functions (each
# is a release build of its own: minutes apiece on a small machine).
#
# Runs, on optimised builds: benches/expiry.rs, benches/import.rs,
# benches/http.rs (the local server under wrk, on loopback; wrk comes from
# Debian's packages, installed here when missing), then
# `coldstart.sh` (release builds for this machine), then reads the arm64
# sizes that `make build-lambda` left (a function not built shows as not
# measured). The raw log is kept in ${CARGO_TARGET_DIR:-target}/bench.log.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

if ! command -v wrk >/dev/null 2>&1; then
  lock_install wrk
  command -v wrk >/dev/null 2>&1 || apt_install wrk
fi

target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
out="$target/bench.log"
: >"$out"
cargo bench --bench expiry --bench import --bench http 2>&1 | tee -a "$out"
# shellcheck disable=SC2086 # COLDSTART is a list of names
bash infra/scripts/coldstart.sh ${COLDSTART:-} 2>&1 | tee -a "$out"

list="$(lambda_functions)"
mapfile -t functions <<<"$list"
for function in "${functions[@]}"; do
  bootstrap="$target/lambda/$function/bootstrap"
  if [[ -f "$bootstrap" ]]; then
    printf 'figure\tsize.%s\t%s\n' "$function" \
      "$(python3 -c 'import os, sys; print(f"{os.path.getsize(sys.argv[1]) / 1048576:.2f}")' "$bootstrap")" >>"$out"
  else
    log "no $bootstrap: run make build-lambda for its size"
  fi
done

echo
python3 infra/scripts/bench-table.py "$out" --write docs/BENCHMARKS.md
