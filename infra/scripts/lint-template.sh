#!/usr/bin/env bash
# Lints template.yaml with cfn-lint and `sam validate --lint`; both must pass.
#
#   lint-template.sh [TEMPLATE]     default: template.yaml at the repository root
#
# cfn-lint and aws-sam-cli come from PyPI into the git-ignored .venv/ (shared
# with moto and the other tools), pinned in versions.sh, and are installed
# only when that exact version is missing. Neither check needs AWS
# credentials: `sam validate` only wants a region, given here. SAM's
# telemetry and update check are off.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
readonly REGION="eu-west-2"
template="$(realpath "${1:-$root/template.yaml}")"

pip_pin "$CFN_LINT"
ensure_sam

export AWS_DEFAULT_REGION="$REGION" AWS_REGION="$REGION"

log "cfn-lint $(basename "$template")"
"$VENV/bin/cfn-lint" "$template"

log "sam validate --lint $(basename "$template")"
# sam writes its own banner and result to stderr/stdout; keep both.
"$VENV/bin/sam" validate --lint --template "$template" --region "$REGION"

echo "template lint: cfn-lint and sam validate --lint pass on $(basename "$template")"
