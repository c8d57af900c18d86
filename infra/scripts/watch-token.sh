#!/usr/bin/env bash
# Prints a bearer token for `cargo lambda watch`: an unsigned JWT carrying
# the claims Cognito would issue. Under watch the edge reads them unverified,
# standing in for API Gateway's JWT authorizer (functions/edge/src/watch.rs);
# a deployed function never accepts such a token.
#
#   watch-token.sh ROLE EMAIL [COMPANY_ID] [PARTNER_ID]
#
# ROLE is account_manager, partner_admin, manager or learner.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -ge 2 && $# -le 4 ]] || usage

python3 - "$@" <<'PY'
import base64, json, sys

role, email = sys.argv[1], sys.argv[2]
claims = {"sub": "watch-" + email, "email": email, "email_verified": True, "custom:role": role}
if len(sys.argv) > 3 and sys.argv[3]:
    claims["custom:company_id"] = sys.argv[3]
if len(sys.argv) > 4 and sys.argv[4]:
    claims["custom:partner_id"] = sys.argv[4]

def part(value):
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

print(part({"alg": "none", "typ": "JWT"}) + "." + part(claims) + ".")
PY
