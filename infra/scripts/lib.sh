# shellcheck shell=bash
# The one library of the scripts here; sourced, not run:
#
#   # shellcheck source-path=SCRIPTDIR source=lib.sh
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Sets `root`, the repository root, `VENV`, the git-ignored virtualenv the
# Python tools share, and the tool pins of versions.sh. Log lines start with
# LOG_NAME, by default the script's name without `.sh`. `usage` prints the
# lines of the script's opening comment that start with `#   ` and name it.

# shellcheck source-path=SCRIPTDIR source=versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$root/.venv"
LOG_NAME="${LOG_NAME:-$(basename "${BASH_SOURCE[-1]}" .sh)}"

log() { echo "$LOG_NAME: $*" >&2; }
die() {
  log "$*"
  exit 1
}

usage() {
  local script="${BASH_SOURCE[-1]}"
  awk -v name="$(basename "$script")" '
    NR > 1 && !/^#/ { exit }
    /^#   / && index($0, name) { sub(/^#  */, ""); print }' "$script" >&2
  exit 2
}

# The Lambda functions, one a line: the packages under functions/ that have a
# src/main.rs (functions/edge, the library they share, has none), so that a
# new function needs no list updated. Scripts and template.yaml take the
# directory, the package and its binary to share one name; a Cargo.toml that
# names another stops the caller, as does finding none. Call it as
# `list="$(lambda_functions)"` so that `set -e` sees a failure.
lambda_functions() {
  local main dir names found=0
  for main in "$root"/functions/*/src/main.rs; do
    [[ -f "$main" ]] || continue
    dir="${main%/src/main.rs}"
    dir="${dir##*/}"
    names="$(awk '
      /^\[/ { named = ($0 == "[package]" || $0 == "[[bin]]") }
      named && /^name *=/ { sub(/^name *= *"/, ""); sub(/".*/, ""); print }' \
      "$root/functions/$dir/Cargo.toml" | sort -u)"
    [[ "$names" == "$dir" ]] ||
      die "functions/$dir/Cargo.toml: the package and its binary must both be named $dir, not: ${names//$'\n'/ }"
    echo "$dir"
    found=$((found + 1))
  done
  [[ $found -gt 0 ]] || die "no Lambda functions: nothing matches functions/*/src/main.rs under $root"
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

# The command line of the servers the tests start (tests/support/emulator.rs):
#   install                   -> cmd_install
#   start PORT [--watch PID]  -> cmd_start PORT PID (PID empty without --watch)
# cmd_install and cmd_start are the calling script's own.
server_cli() {
  case "${1:-}" in
    install) cmd_install ;;
    start)
      local port="${2:-}" watch=""
      [[ "$port" =~ ^[0-9]+$ ]] || usage
      if [[ $# -gt 2 ]]; then
        [[ "$3" == "--watch" && "${4:-}" =~ ^[0-9]+$ ]] || usage
        watch="$4"
      fi
      cmd_start "$port" "$watch"
      ;;
    *) usage ;;
  esac
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

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to SECONDS for a listener on 127.0.0.1:PORT. Dies if process PID
# exits first or time runs out, showing the file LOG first when given.
wait_for_port() {
  local port="$1" pid="$2" what="$3" seconds="$4" server_log="${5:-}" i problem
  problem="$what did not listen on $port within ${seconds}s"
  for ((i = 0; i < seconds * 2; i++)); do
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      problem="$what exited before listening"
      break
    fi
    sleep 0.5
  done
  if [[ -n "$server_log" ]]; then cat "$server_log" >&2; fi
  die "$problem"
}

# Creates the shared virtualenv when missing. `python3 -m venv` needs
# ensurepip, which Debian splits into python3-venv: installed when missing,
# since without it venv leaves a half-made virtualenv behind.
ensure_venv() {
  [[ -x "$VENV/bin/python" ]] && return 0
  if ! command -v python3 >/dev/null 2>&1; then
    apt_install python3 python3-venv
  elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  command -v python3 >/dev/null 2>&1 || die "python3 is still missing after installing it"
  log "creating the virtualenv $VENV"
  python3 -m venv "$VENV" >&2 || die "python3 -m venv $VENV failed"
}

# Installs the package SPEC (a pin from versions.sh) into the virtualenv.
pip_install() {
  ensure_venv
  log "installing $1 into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$1" >&2 ||
    die "pip install $1 failed"
}

# Installs SPEC (NAME[EXTRAS]==VERSION) unless that exact version is there.
pip_pin() {
  local spec="$1" name version
  name="${spec%%==*}"
  name="${name%%\[*}"
  version="${spec##*==}"
  ensure_venv
  if [[ "$("$VENV/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')" != "$version" ]]; then
    pip_install "$spec"
  fi
}

# sam from the virtualenv, with no telemetry and no update check: a run must
# reach nothing but the package index, and only to install.
ensure_sam() {
  pip_pin "$SAM_CLI"
  export SAM_CLI_TELEMETRY=0 SAM_CLI_DISABLE_VERSION_CHECK=1
}
