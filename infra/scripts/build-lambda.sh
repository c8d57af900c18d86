#!/usr/bin/env bash
# Builds every Lambda function as a `bootstrap` with cargo-lambda, then prints
# each binary's size (stripped: the release profile has `strip = true`) as the
# table in docs/DEPLOY.md.
#
#   build-lambda.sh                 every function (functions/*/src/main.rs), for arm64
#   build-lambda.sh NAME...         only these packages
#   ARCH=x86-64 build-lambda.sh     for x86_64 instead (arm64 is what template.yaml deploys)
#
# cargo-lambda and ziglang (the cross linker) come from PyPI into the
# git-ignored .venv/, pinned in versions.sh. Each package is built on its own
# (`-p NAME`), so its features resolve as `sam build` resolves them, never
# unified with the local server's. Output: target/lambda/NAME/bootstrap
# (under CARGO_TARGET_DIR when set).
#
# Cross-compiling needs the Rust standard library for the target. Where it is
# missing and rustup exists, this adds it (`rustup target add`); where that
# cannot be done the build stops here and says so, rather than letting
# cargo-lambda try to download it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

case "${ARCH:-arm64}" in
  arm64 | aarch64) flag=--arm64 triple=aarch64-unknown-linux-gnu ;;
  x86-64 | x86_64) flag=--x86-64 triple=x86_64-unknown-linux-gnu ;;
  *) die "ARCH must be arm64 or x86-64, not ${ARCH}" ;;
esac

sysroot="$(rustc --print sysroot)"
if [[ ! -d "$sysroot/lib/rustlib/$triple/lib" ]] && command -v rustup >/dev/null; then
  log "rustup target add $triple"
  rustup target add "$triple" || log "rustup could not add $triple"
fi
if [[ ! -d "$sysroot/lib/rustlib/$triple/lib" ]]; then
  die "the Rust standard library for $triple is not installed in $sysroot.
  Install it with: rustup target add $triple
  (or build for this machine's own architecture with ARCH=x86-64; template.yaml deploys arm64)"
fi

pip_pin "$CARGO_LAMBDA"
pip_pin "$ZIGLANG"
# cargo finds `cargo-lambda` on PATH; cargo-zigbuild finds zig through the
# venv's python (`python3 -m ziglang`).
export PATH="$VENV/bin:$PATH"

if [[ $# -gt 0 ]]; then
  packages=("$@")
else
  list="$(lambda_functions)"
  mapfile -t packages <<<"$list"
fi

for package in "${packages[@]}"; do
  log "cargo lambda build --release $flag -p $package"
  cargo lambda build --release "$flag" -p "$package"
done

# The sizes table of docs/DEPLOY.md: stripped bytes, MiB, and the deflated
# zip Lambda is given. cargo-lambda writes under the cargo target directory.
lambda_dir="${CARGO_TARGET_DIR:-target}/lambda"
for package in "${packages[@]}"; do
  bootstrap="$lambda_dir/$package/bootstrap"
  [[ -f "$bootstrap" ]] || die "$bootstrap was not built"
  # A position-independent one means its package lost the build script
  # that links it non-PIE (functions/non_pie.rs): init pays relocations again.
  if command -v readelf >/dev/null 2>&1 && ! readelf -h "$bootstrap" | grep -q 'Type: *EXEC'; then
    die "$bootstrap is position independent: its Cargo.toml needs build = \"../non_pie.rs\""
  fi
done
echo
python3 - "$lambda_dir" "${packages[@]}" <<'PY'
import io, os, sys, zipfile

def spaced(n):
    return f"{n:,}".replace(",", " ")

print("| function | bootstrap (bytes) | MiB | zip (bytes) |")
print("|---|---:|---:|---:|")
for package in sorted(sys.argv[2:]):
    path = f"{sys.argv[1]}/{package}/bootstrap"
    size = os.path.getsize(path)
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, "bootstrap")
    print(f"| `{package}` | {spaced(size)} | {size / 1048576:.1f} | {spaced(len(packed.getvalue()))} |")
PY
if command -v file >/dev/null 2>&1; then
  echo
  for package in "${packages[@]}"; do
    file -b "$lambda_dir/$package/bootstrap" | sed "s|^|$package: |"
  done
fi
