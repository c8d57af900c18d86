#!/usr/bin/env bash
# moto's server (AWS service mocks) for the AWS tests, with no Docker.
#
#   moto.sh install                   install on first use; print the moto_server path
#   moto.sh start PORT                run it in the foreground on 127.0.0.1:PORT
#   moto.sh start PORT --watch PID    same, but stop it once process PID is gone
#
# moto (pinned in versions.sh as MOTO) lives in the virtualenv .venv/ at the
# repository root (git-ignored), which other tools may share; it is created
# with `python3 -m venv` when missing, and Debian's python3-venv is installed
# when that cannot work.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
readonly MOTO_SERVER="$VENV/bin/moto_server"

is_installed() {
  [[ -x "$MOTO_SERVER" ]]
}

install_moto() {
  is_installed && return 0
  lock_install moto
  is_installed && return 0
  pip_install "$MOTO"
  is_installed || die "no $MOTO_SERVER after installing $MOTO"
}

cmd_install() {
  install_moto
  echo "$MOTO_SERVER"
}

# cmd_start PORT WATCH_PID
cmd_start() {
  install_moto
  serve "$2" "$MOTO_SERVER" -H 127.0.0.1 -p "$1"
}

server_cli "$@"
