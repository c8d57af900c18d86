#!/usr/bin/env bash
# Validates docs/openapi.yaml and docs/openapi-local.yaml as OpenAPI 3.1 with
# openapi-spec-validator, pinned in versions.sh and installed into the
# git-ignored .venv/ unless that version is there already (`make openapi`).
#
#   openapi.sh
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

pip_pin "$OPENAPI_SPEC_VALIDATOR"
"$VENV/bin/openapi-spec-validator" --schema 3.1 docs/openapi.yaml docs/openapi-local.yaml
