#!/usr/bin/env bash
# Capture-to-client latency of the release binary in each vmtest VM (qemu
# TCG: compares builds and machines' emulation, not a Raspberry Pi's speed).
# In each VM, dist/dsf/<arch>/usbStream (./build.sh; built here if missing)
# captures vivid's YUYV 640x480 at 25 fps with vivid's Timestamp Source set
# to Start of Exposure, one viewer (tools/bench/mjpegstat, static) reads
# /stream on loopback, and the age of every part at the receipt of its last
# byte (receipt - X-Timestamp, both CLOCK_REALTIME in the guest) is reported
# for three 10 s windows after a 5 s warm-up, with their median.
#
#   tools/bench/vmlatency.sh                 # amd64 arm64 arm, one VM after the other
#   tools/bench/vmlatency.sh arm
#   RES=1280x720 FPS=12.5 tools/bench/vmlatency.sh amd64
#   DIST=/other/dist tools/bench/vmlatency.sh   # another build's binaries
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/lib.sh
out=bench/out/vmlatency
mkdir -p "$out"
dist=${DIST:-dist}
arches=("$@")
((${#arches[@]})) || arches=(amd64 arm64 arm)
declare -A DSFARCH=([amd64]=x86_64 [arm64]=arm64 [arm]=arm)

machine_line | tee "$out/machine.txt"
for arch in "${arches[@]}"; do
  [[ -n ${DSFARCH[$arch]-} ]] || { echo "vmlatency: unknown arch $arch (amd64, arm64, arm)" >&2; exit 2; }
  bin=$dist/dsf/${DSFARCH[$arch]}/usbStream
  [[ -x $bin ]] || ./build.sh bin "${DSFARCH[$arch]}"
  goarm=
  [[ $arch == arm ]] && goarm=7
  mkdir -p "$out/$arch"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=$goarm go build -trimpath -o "$out/$arch/mjpegstat" ./tools/bench/mjpegstat
  echo "== VM $arch: $("$bin" -version 2>/dev/null || file -b "$bin" | cut -d, -f1-2)"
  tools/vmtest/run.sh --arch "$arch" --timeout 600 --bin "$bin" --bin "$out/$arch/mjpegstat" \
    --file tools/bench/vmlatency-guest.sh --env "LABEL=$arch: " \
    --env "RES=${RES:-640x480}" --env "FPS=${FPS:-25}" \
    -- sh /data/vmlatency-guest.sh | tee "$out/vm-$arch.txt"
done
echo
grep -h 'median of' "$out"/vm-*.txt | tee "$out/summary.txt"
