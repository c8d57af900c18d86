#!/usr/bin/env bash
# moto's server (AWS service mocks) for the AWS tests, with no Docker.
#
#   moto.sh install                   install on first use; print the moto_server path
#   moto.sh start PORT                run it in the foreground on 127.0.0.1:PORT
#   moto.sh start PORT --watch PID    same, but stop it once process PID is gone
#
# moto lives in the virtualenv .venv/ at the repository root (git-ignored),
# which other tools may share; it is created with `python3 -m venv` when
# missing, and Debian's python3-venv is installed when that cannot work.
set -euo pipefail

# Pinned so that every machine runs the same moto; bump on purpose.
readonly PIP_PACKAGE="moto[server]==5.2.5"

readonly LOG_NAME="moto"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
readonly VENV="$root/.venv"
readonly MOTO_SERVER="$VENV/bin/moto_server"

is_installed() {
  [[ -x "$MOTO_SERVER" ]]
}

# `python3 -m venv` needs ensurepip, which Debian splits into python3-venv.
ensure_python() {
  if ! command -v python3 >/dev/null 2>&1; then
    apt_install python3 python3-venv
  elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  command -v python3 >/dev/null 2>&1 || die "python3 is still missing after installing it"
}

install_moto() {
  is_installed && return 0
  lock_install moto
  is_installed && return 0
  if [[ ! -x "$VENV/bin/python" ]]; then
    ensure_python
    log "creating the virtualenv $VENV"
    # Debian's python3 without python3-venv leaves a half-made venv behind:
    # that case is caught by ensure_python, and a rerun completes it.
    python3 -m venv "$VENV" >&2 || die "python3 -m venv $VENV failed"
  fi
  log "installing $PIP_PACKAGE into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PIP_PACKAGE" >&2 ||
    die "pip install $PIP_PACKAGE failed"
  is_installed || die "no $MOTO_SERVER after installing $PIP_PACKAGE"
}

cmd_install() {
  install_moto
  echo "$MOTO_SERVER"
}

cmd_start() {
  local port="${1:-}" watch=""
  [[ "$port" =~ ^[0-9]+$ ]] || usage
  shift
  if [[ $# -gt 0 ]]; then
    [[ "$1" == "--watch" && "${2:-}" =~ ^[0-9]+$ ]] || usage
    watch="$2"
  fi

  install_moto
  local moto_cmd=("$MOTO_SERVER" -H 127.0.0.1 -p "$port")

  serve "$watch" "${moto_cmd[@]}"
}

case "${1:-}" in
  install) cmd_install ;;
  start)
    shift
    cmd_start "$@"
    ;;
  *) usage ;;
esac
