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

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly VENV="$root/.venv"
readonly MOTO_SERVER="$VENV/bin/moto_server"

log() { echo "moto: $*" >&2; }
die() {
  log "$*"
  exit 1
}

usage() {
  sed -n '4,6p' "${BASH_SOURCE[0]}" | sed 's/^#  *//' >&2
  exit 2
}

# Installs Debian packages, as root or through sudo.
apt_install() {
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "$* missing and this is not root; install them with apt-get"
    sudo=(sudo)
  fi
  log "installing $*"
  "${sudo[@]}" apt-get update -qq >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

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
  mkdir -p "$root/.cache"
  # Two test processes may install at once: one installs, the other waits.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$root/.cache/moto.lock"
    flock 9
    is_installed && return 0
  fi
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

  if [[ -z "$watch" ]]; then
    exec "${moto_cmd[@]}"
  fi

  # Watchdog mode: a test process cannot reliably kill a server it keeps in a
  # static, so the server goes away by itself once that process is gone.
  "${moto_cmd[@]}" &
  moto_pid=$! # global: the EXIT trap runs after this function's locals are gone
  trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
  trap 'exit 143' TERM INT HUP
  while kill -0 "$watch" 2>/dev/null && kill -0 "$moto_pid" 2>/dev/null; do
    sleep 1
  done
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    # moto died on its own: report its status.
    local status=0
    wait "$moto_pid" || status=$?
    trap - EXIT
    exit "$status"
  fi
}

case "${1:-}" in
  install) cmd_install ;;
  start)
    shift
    cmd_start "$@"
    ;;
  *) usage ;;
esac
