#!/usr/bin/env bash
# Lints template.yaml with cfn-lint and `sam validate --lint`; both must pass.
#
#   lint-template.sh [TEMPLATE]     default: template.yaml at the repository root
#
# cfn-lint and aws-sam-cli come from PyPI into the git-ignored .venv/ (shared
# with moto and the other tools), pinned below, and are installed only when
# that exact version is missing. Neither check needs AWS credentials: `sam
# validate` only wants a region, given here. SAM's telemetry is off.
set -euo pipefail

readonly CFN_LINT="cfn-lint==1.58.0"
readonly SAM_CLI="aws-sam-cli==1.170.0"
readonly REGION="eu-west-2"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly VENV="$root/.venv"
template="$(realpath "${1:-$root/template.yaml}")"

log() { echo "lint-template: $*" >&2; }
die() {
  log "$*"
  exit 1
}

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed; install Debian's python3-venv"
fi

# Installs a pinned PyPI package unless that exact version is there already.
pip_pin() {
  local spec="$1" name="${1%%==*}" version="${1##*==}"
  if [[ "$("$VENV/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')" != "$version" ]]; then
    log "installing $spec"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$spec" >&2
  fi
}
pip_pin "$CFN_LINT"
pip_pin "$SAM_CLI"

export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="$REGION" AWS_REGION="$REGION"

log "cfn-lint $(basename "$template")"
"$VENV/bin/cfn-lint" "$template"

log "sam validate --lint $(basename "$template")"
# sam writes its own banner and result to stderr/stdout; keep both.
"$VENV/bin/sam" validate --lint --template "$template" --region "$REGION"

echo "template lint: cfn-lint and sam validate --lint pass on $(basename "$template")"
