# Seatkeeper's commands. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test lint fmt deps run openapi lambda-isolation bench

## The whole API on http://127.0.0.1:3000, on SQLite in ./data (SEATKEEPER_PORT
## and SEATKEEPER_DATA_DIR override). Needs only Rust.
run:
	$(CARGO) run -p local-server --bin seatkeeper-local

## Every test: installs what the tests need (Java, DynamoDB Local, moto), lints,
## checks no local-only code reaches a Lambda, runs the workspace's tests, then
## runs the README's walkthrough against `make run`.
test: deps lint lambda-isolation
	$(CARGO) test --workspace --all-targets
	bash infra/scripts/readme-walkthrough.sh

## Benchmarks (release build) that print figures: the daily check over
## 100 000 members with 1 000 due.
bench:
	$(CARGO) bench --bench expiry

lambda-isolation:
	bash infra/scripts/check-lambda-isolation.sh

## DynamoDB Local (and Java where missing), cached in .cache/; moto's server
## (for tests/aws), in the git-ignored .venv/.
deps:
	bash infra/scripts/dynamodb-local.sh install >/dev/null
	bash infra/scripts/moto.sh install >/dev/null

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Validates docs/openapi.yaml and docs/openapi-local.yaml as OpenAPI 3.1, with
## openapi-spec-validator from the git-ignored .venv/ (installed there when missing).
OPENAPI_SPEC_VALIDATOR := openapi-spec-validator==0.9.0
openapi:
	@test -x .venv/bin/openapi-spec-validator || { \
	  test -x .venv/bin/python || python3 -m venv .venv; \
	  .venv/bin/python -m pip install --quiet '$(OPENAPI_SPEC_VALIDATOR)'; }
	.venv/bin/openapi-spec-validator --schema 3.1 docs/openapi.yaml docs/openapi-local.yaml
