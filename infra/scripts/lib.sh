# shellcheck shell=bash
# Shared by the scripts here; sourced, not run:
#
#   readonly LOG_NAME="moto"    # the prefix of log lines
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Sets `root`, the repository root, and `VENV`, the git-ignored virtualenv
# the Python tools share. The sourcing script's lines 4-6 are its usage.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$root/.venv"
# cargo-lambda, for build-lambda.sh and watch.sh; bump on purpose.
CARGO_LAMBDA="cargo-lambda==1.9.2"

log() { echo "$LOG_NAME: $*" >&2; }
die() {
  log "$*"
  exit 1
}

usage() {
  sed -n '4,6p' "${BASH_SOURCE[-1]}" | sed 's/^#  *//' >&2
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

# Two test processes may install at once: one installs, the other waits.
# Holds the lock .cache/NAME.lock until the script exits (when flock exists);
# the caller then checks again whether the other process installed it.
lock_install() {
  local name="$1"
  mkdir -p "$root/.cache"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$root/.cache/$name.lock"
    flock 9
  fi
}

# Runs the server command CMD... in the foreground; with a WATCH pid, stops it
# once process WATCH is gone, and exits with its status if it dies first.
serve() {
  local watch="$1"
  shift
  if [[ -z "$watch" ]]; then
    exec "$@"
  fi

  # Watchdog mode: a test process cannot reliably kill a server it keeps in a
  # static, so the server goes away by itself once that process is gone.
  "$@" &
  server_pid=$! # global: the EXIT trap runs after this function's locals are gone
  trap 'kill "$server_pid" 2>/dev/null || true' EXIT
  trap 'exit 143' TERM INT HUP
  while kill -0 "$watch" 2>/dev/null && kill -0 "$server_pid" 2>/dev/null; do
    sleep 1
  done
  if ! kill -0 "$server_pid" 2>/dev/null; then
    # The server died on its own: report its status.
    local status=0
    wait "$server_pid" || status=$?
    trap - EXIT
    exit "$status"
  fi
}

# Creates the shared virtualenv when missing.
ensure_venv() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed; install Debian's python3-venv"
  fi
}

# Installs a pinned PyPI package (NAME==VERSION) into the virtualenv unless
# that exact version is there already.
pip_pin() {
  local spec="$1" name="${1%%==*}" version="${1##*==}"
  ensure_venv
  if [[ "$("$VENV/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')" != "$version" ]]; then
    log "installing $spec"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$spec" >&2
  fi
}
