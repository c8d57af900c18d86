# Seatkeeper's commands. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test lint fmt deps run

## Every test: installs what the tests need (Java, DynamoDB Local), lints, then runs the workspace's tests.
test: deps lint
	$(CARGO) test --workspace --all-targets

## DynamoDB Local (and Java where missing), cached in .cache/.
deps:
	bash infra/scripts/dynamodb-local.sh install >/dev/null

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
