#!/usr/bin/env bash
# Reproduces the load figures in BENCHMARKS.md: usbStream replays a 1280x720
# MJPEG (~47 KB frames) at 30 fps pinned to core 0, the load generator runs
# pinned to core 1 against it on loopback, for each client count.
#
#   tools/bench/run.sh                 # N = 10 50 200 500, 20 s each
#   CLIENTS="200" DURATION=60s tools/bench/run.sh
#
# Needs ffmpeg (to make the source file) and taskset (util-linux).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/lib.sh
out=bench/out
mkdir -p "$out"
clients=${CLIENTS:-10 50 200 500}
duration=${DURATION:-20s}
port=${PORT:-18085}

# BIN=/path/to/usbStream measures another build (e.g. an older one) the same way.
if [[ -z ${BIN:-} ]]; then
  go build -o "$out/usbStream" ./sbc
  BIN=$out/usbStream
fi
go build -o "$out/loadgen" ./tools/loadgen
src=$(make_720p_mjpeg "$out")

ulimit -n 65536 2>/dev/null || true
# -maxclients above the largest N: the default (100) would refuse the rest.
taskset -c 0 "$BIN" -source "file:$src" -framerate 30 -maxclients 1000 -host 127.0.0.1 -port "$port" 2>"$out/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
wait_for_status "$port"

machine_line
for n in $clients; do
  echo "## N = $n"
  taskset -c 1 "$out/loadgen" -url "http://127.0.0.1:$port/stream" -clients "$n" -duration "$duration" \
    -warmup 3s -ramp 2s -pid "$pid" -snapshots 100 | tee "$out/load-$n.txt" || echo "(loadgen exit $?)"
done
