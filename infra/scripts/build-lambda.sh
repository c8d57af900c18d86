#!/usr/bin/env bash
# Builds every Lambda function as a `bootstrap` with cargo-lambda, then prints
# each binary's size (stripped: the release profile has `strip = true`).
#
#   build-lambda.sh                 every package under functions/ but edge, for arm64
#   build-lambda.sh NAME...         only these packages
#   ARCH=x86-64 build-lambda.sh     for x86_64 instead (arm64 is what template.yaml deploys)
#
# cargo-lambda and ziglang (the cross linker) come from PyPI into the
# git-ignored .venv/, pinned below. Each package is built on its own
# (`-p NAME`), so its features resolve as `sam build` resolves them, never
# unified with the local server's. Output: target/lambda/NAME/bootstrap.
#
# Cross-compiling needs the Rust standard library for the target:
# `rustup target add aarch64-unknown-linux-gnu` on a machine whose rustup can
# download it. Without it the build stops here and says so, rather than
# letting cargo-lambda try to download it.
set -euo pipefail

readonly CARGO_LAMBDA="cargo-lambda==1.9.2"
readonly ZIGLANG="ziglang==0.14.1"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly VENV="$root/.venv"
cd "$root"

log() { echo "build-lambda: $*" >&2; }
die() {
  log "$*"
  exit 1
}

ensure_venv() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed; install Debian's python3-venv"
  fi
}

# Installs a pinned PyPI package unless that exact version is there already.
pip_pin() {
  local spec="$1" name="${1%%==*}" version="${1##*==}"
  if [[ "$("$VENV/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')" != "$version" ]]; then
    log "installing $spec"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$spec" >&2
  fi
}

case "${ARCH:-arm64}" in
  arm64 | aarch64) flag=--arm64 triple=aarch64-unknown-linux-gnu ;;
  x86-64 | x86_64) flag=--x86-64 triple=x86_64-unknown-linux-gnu ;;
  *) die "ARCH must be arm64 or x86-64, not ${ARCH}" ;;
esac

sysroot="$(rustc --print sysroot)"
if [[ ! -d "$sysroot/lib/rustlib/$triple/lib" ]]; then
  die "the Rust standard library for $triple is not installed in $sysroot.
  Install it with: rustup target add $triple
  (or build for this machine's own architecture with ARCH=x86-64; template.yaml deploys arm64)"
fi

ensure_venv
pip_pin "$CARGO_LAMBDA"
pip_pin "$ZIGLANG"
# cargo finds `cargo-lambda` on PATH; cargo-zigbuild finds zig through the
# venv's python (`python3 -m ziglang`).
export PATH="$VENV/bin:$PATH"

if [[ $# -gt 0 ]]; then
  packages=("$@")
else
  packages=()
  for manifest in functions/*/Cargo.toml; do
    dir="$(basename "$(dirname "$manifest")")"
    [[ "$dir" == edge ]] && continue
    packages+=("$dir")
  done
fi

for package in "${packages[@]}"; do
  log "cargo lambda build --release $flag -p $package"
  cargo lambda build --release "$flag" -p "$package"
done

printf '\n%-22s %12s  %s\n' function bytes MiB
for package in "${packages[@]}"; do
  binary="target/lambda/$package/bootstrap"
  [[ -f "$binary" ]] || die "$binary was not built"
  bytes="$(stat -c %s "$binary")"
  printf '%-22s %12s  %s\n' "$package" "$bytes" "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')"
done
if command -v file >/dev/null 2>&1; then
  echo
  for package in "${packages[@]}"; do
    file -b "target/lambda/$package/bootstrap" | sed "s|^|$package: |"
  done
fi
