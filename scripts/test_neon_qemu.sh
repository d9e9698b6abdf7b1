#!/usr/bin/env bash
# Test the aarch64 NEON kernels on an x86-64 machine: cross-compile
# tests/test_neon.c with the kernels it needs (no cJSON or stb: the kernels
# need only util.c) and run it under user-mode qemu, twice:
#   -O2                             baseline ARMv8.0 (SMULL/SADALP integer dots)
#   -O2 -march=armv8.2-a+dotprod    the SDOT path
# Needs Debian's gcc-aarch64-linux-gnu and qemu-user. Fails (exit 1) when
# they are missing: ctest registers this test only when both are found.
#
# usage: scripts/test_neon_qemu.sh [build-dir]   (default: a temporary directory)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
CC="${AARCH64_CC:-aarch64-linux-gnu-gcc}"
QEMU="${QEMU_AARCH64:-qemu-aarch64}"
SYSROOT="${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}"

for tool in "$CC" "$QEMU"; do
    command -v "$tool" >/dev/null || { echo "test_neon_qemu: $tool not found (apt-get install gcc-aarch64-linux-gnu qemu-user)" >&2; exit 1; }
done

if [ $# -ge 1 ]; then
    out="$1"
    mkdir -p "$out"
else
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
fi

# the project's flags (CMakeLists.txt): ISO C11, so no FMA contraction
flags=(-std=c11 -O2 -Wall -Wextra -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$root/include" -I"$root/src" -I"$root/src/formats")

# the reference side (scalar kernels, row conversions, fp16 helpers) is
# compiled once for baseline ARMv8.0 and linked into both variants
common=()
for src in src/kernels/kernels_scalar.c src/kernels/kernels.c src/util.c; do
    obj="$out/$(basename "$src" .c).o"
    "$CC" "${flags[@]}" -c -o "$obj" "$root/$src"
    common+=("$obj")
done

status=0
for variant in base dotprod; do
    extra=()
    [ "$variant" = dotprod ] && extra=(-march=armv8.2-a+dotprod)
    exe="$out/test_neon_$variant"
    echo "== $variant: $CC ${flags[*]} ${extra[*]}"
    "$CC" "${flags[@]}" "${extra[@]}" -o "$exe" "$root/tests/test_neon.c" "$root/src/kernels/kernels_neon.c" \
        "${common[@]}" -lm
    # qemu's default CPU (max) has every extension the dotprod build uses
    if ! GPT_KERNELS= "$QEMU" -L "$SYSROOT" "$exe"; then
        echo "test_neon_qemu: $variant FAILED" >&2
        status=1
    fi
done
exit $status
