# Seatkeeper's commands. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test test-browser test-large lint fmt deps run watch openapi lambda-isolation template-lint build-lambda bench bench-coldstart fuzz

## The whole API on http://127.0.0.1:3000, on SQLite in ./data (SEATKEEPER_PORT
## and SEATKEEPER_DATA_DIR override). Needs only Rust.
run:
	$(CARGO) run -p local-server --bin seatkeeper-local

## The function binaries themselves under `cargo lambda watch` on
## http://127.0.0.1:9000, routed by the workspace's router metadata; SQLite in
## data/watch unless SEATKEEPER_STORE=dynamodb (docs/DEPLOY.md). Tokens:
## infra/scripts/watch-token.sh.
watch:
	bash infra/scripts/watch.sh

## Every test: installs what the tests need (Java, DynamoDB Local, moto), lints,
## checks no local-only code reaches a Lambda, lints template.yaml (cfn-lint,
## sam validate --lint), runs the workspace's tests, runs the README's
## walkthrough against `make run`, then a journey through `cargo lambda watch`
## on SQLite and on DynamoDB Local, and last the console's browser tests
## (`make test-browser`). The workspace's tests include the fuzzer's short
## pass (fuzz/tests/short_pass.rs; `make fuzz` for the long one).
test: deps lint lambda-isolation template-lint
	$(CARGO) test --workspace --all-targets
	$(CARGO) test -p seatkeeper-edge --features watch --lib
	bash infra/scripts/readme-walkthrough.sh
	bash infra/scripts/watch.sh walkthrough sqlite
	bash infra/scripts/watch.sh walkthrough dynamodb
	$(MAKE) --no-print-directory test-browser

## The console's journeys in headless Chromium (tests/browser/README.md):
## installs Debian's chromium and the pinned npm packages when missing, starts
## the local server on a free port and an empty data directory, runs them with
## axe-core on every page; screenshots in target/browser-screenshots/.
test-browser:
	bash infra/scripts/browser-tests.sh

## The tests too long for every run (minutes each, on DynamoDB Local): a
## 100 000-row CSV renewal confirmed through repeated 202 answers.
test-large: deps
	$(CARGO) test --test contract -- --ignored --nocapture

## Every figure of issue #15 against its goal, in one table that also goes
## into docs/BENCHMARKS.md (optimised builds; a few minutes): the daily check
## over 100 000 members with 1 000 due; a 100 000-row CSV previewed (MB/s,
## peak memory) and confirmed; the local server under wrk (installed when
## missing) for companies of 1, 10 000 and 100 000 members; the cold starts
## (bench-coldstart); the arm64 sizes `make build-lambda` left. `make test`
## runs only the benches' short pass (no `--bench` argument: small sizes).
bench:
	bash infra/scripts/bench.sh

## Init and first-invoke time of each function's release binary beside a
## bare lambda_runtime binary, on a Runtime API emulator on loopback.
bench-coldstart:
	bash infra/scripts/coldstart.sh

## Fuzzing (docs/FUZZING.md): the CSV preview and every JSON body, from a
## fixed seed (FUZZ_SEED overrides), FUZZ_CASES inputs per target and
## FUZZ_HANDLER_CASES through the real handlers on SQLite; an optimised build
## in which a panic unwinds and is counted. Prints inputs, panics, outcomes
## and time per target; fails on any panic or broken promise. `make test`
## runs a short pass of the same targets (fuzz/tests/short_pass.rs).
FUZZ_CASES ?= 1000000
FUZZ_HANDLER_CASES ?= 100000
fuzz:
	FUZZ_CASES=$(FUZZ_CASES) FUZZ_HANDLER_CASES=$(FUZZ_HANDLER_CASES) \
		$(CARGO) run -q --profile fuzz -p seatkeeper-fuzz

lambda-isolation:
	bash infra/scripts/check-lambda-isolation.sh

## cfn-lint and `sam validate --lint` on template.yaml, both from PyPI in the
## git-ignored .venv/ (installed there when missing). Needs no AWS credentials.
template-lint:
	bash infra/scripts/lint-template.sh

## Every function as an arm64 `target/lambda/<name>/bootstrap` with
## cargo-lambda and ziglang from PyPI (in .venv/), one `-p <name>` at a time,
## then each binary's size (docs/DEPLOY.md). ARCH=x86-64 builds for x86_64;
## arm64 needs the aarch64 standard library (`rustup target add aarch64-unknown-linux-gnu`).
build-lambda:
	bash infra/scripts/build-lambda.sh

## DynamoDB Local (and Java where missing), cached in .cache/; moto's server
## (for tests/aws), in the git-ignored .venv/.
deps:
	bash infra/scripts/dynamodb-local.sh install >/dev/null
	bash infra/scripts/moto.sh install >/dev/null

lint:
	$(CARGO) fmt --all -- --check
	python3 infra/scripts/module-cycles.py core/src infra/adapters/src functions/edge/src functions/console/src
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p seatkeeper-edge --all-targets --features watch -- -D warnings

fmt:
	$(CARGO) fmt --all

## Validates docs/openapi.yaml and docs/openapi-local.yaml as OpenAPI 3.1, with
## openapi-spec-validator from the git-ignored .venv/ (installed there when
## missing; pinned, like every tool, in infra/scripts/versions.sh).
openapi:
	bash infra/scripts/openapi.sh
