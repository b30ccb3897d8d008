#!/usr/bin/env bash
# Compares internal/camera's V4L2 structs with the C layout of
# linux/videodev2.h on every architecture we ship: layout.c is built with
# the native gcc and Debian's cross compilers and run (under qemu-user for
# arm and arm64), internal/camera's TestLayoutMatchesC is cross-compiled
# for the same GOARCH and run the same way against that output. 32-bit arm
# is checked against the old 32-bit time ABI, which our ioctls use, and
# told apart from the _TIME_BITS=64 one (internal/camera/v4l2.go says why).
#
#   tools/v4l2layout/run.sh        # needs gcc-arm-linux-gnueabihf,
#                                  # gcc-aarch64-linux-gnu, qemu-user-static
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=auto CGO_ENABLED=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
src=tools/v4l2layout/layout.c

check() { # GOARCH, C layout, other C layout or "", runner...
  local goarch=$1 layout=$2 other=$3
  shift 3
  GOARCH=$goarch GOARM=7 go test -c -o "$out/camera-$goarch.test" ./internal/camera
  V4L2_C_LAYOUT=$layout V4L2_C_LAYOUT_OTHER=$other "$@" "$out/camera-$goarch.test" \
    -test.run '^TestLayoutMatchesC$' -test.v | tee "$out/$goarch.log"
  grep -q -- '--- PASS: TestLayoutMatchesC' "$out/$goarch.log" || { echo "v4l2layout: FAIL $goarch"; exit 1; }
}

gcc -o "$out/layout-amd64" "$src"
"$out/layout-amd64" >"$out/amd64.txt"
check amd64 "$out/amd64.txt" ""

aarch64-linux-gnu-gcc -static -o "$out/layout-arm64" "$src"
qemu-aarch64-static "$out/layout-arm64" >"$out/arm64.txt"
check arm64 "$out/arm64.txt" "" qemu-aarch64-static

arm-linux-gnueabihf-gcc -static -o "$out/layout-arm" "$src"
arm-linux-gnueabihf-gcc -static -D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64 -o "$out/layout-arm-time64" "$src"
qemu-arm-static "$out/layout-arm" >"$out/arm.txt"
qemu-arm-static "$out/layout-arm-time64" >"$out/arm-time64.txt"
check arm "$out/arm.txt" "$out/arm-time64.txt" qemu-arm-static

echo "v4l2layout: PASS (amd64, arm64, arm with 32-bit time; arm's 64-bit-time layout told apart)"
