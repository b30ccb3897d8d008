#!/usr/bin/env bash
# Frame age against link rate (BENCHMARKS.md, "Slow links"): usbStream
# replays a 1280x720 MJPEG (~47 KB frames) at 30 fps; one viewer reads it
# at each rate, and the age of every frame it completes is measured (its
# X-Timestamp, the capture time, to the receipt of its last byte).
#
# Two ways to be slow, each in its own run:
#   reader  the viewer reads at the rate itself (loopback, loadgen -slow),
#           with a 16 KiB receive buffer so that the bytes wait at the
#           sender as they do behind a slow link, not in the viewer's kernel;
#   link    the viewer reads as fast as it can, and the link is slow: server
#           and viewer run in a network namespace of their own whose
#           loopback sends through tc's token bucket (tbf) at the rate, with
#           a 50 ms queue and a 1500-byte MTU. Nothing leaves the namespace.
#
#   tools/bench/slowlink.sh                     # both, rates 50 KB/s to 10 MB/s
#   RATES="100000 400000" MODES=link tools/bench/slowlink.sh
#   BIN=/path/to/older/usbStream tools/bench/slowlink.sh   # the same for another build
#
# Needs ffmpeg, python3, and for the link mode root, ip and tc (iproute2).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/lib.sh
out=bench/out
mkdir -p "$out"
rates=${RATES:-50000 100000 200000 400000 800000 2000000 10000000}
modes=${MODES:-reader link}
duration=${DURATION:-15s}
port=${PORT:-18086}

if [[ -z ${BIN:-} ]]; then
  go build -o "$out/usbStream" ./sbc
  BIN=$out/usbStream
fi
go build -o "$out/loadgen" ./tools/loadgen
src=$(make_720p_mjpeg "$out")

ns=usbstream-slowlink-$$
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

# in_ns runs a command in the namespace for the link mode, else as is.
in_ns() {
  if [[ $mode == link ]]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

machine_line
echo "| mode | rate | frames/s | frame age p50 / p99 / max | one frame's transfer + one interval |"
echo "|---|---|---|---|---|"
for mode in $modes; do
  if [[ $mode == link ]]; then
    ip netns add "$ns"
    ip -n "$ns" link set lo mtu 1500 up
  fi
  # Not through in_ns: $! must be usbStream itself (ip netns exec execs it).
  server=("$BIN" -source "file:$src" -framerate 30 -host 127.0.0.1 -port "$port")
  if [[ $mode == link ]]; then
    ip netns exec "$ns" "${server[@]}" 2>"$out/slowlink-$mode-server.log" &
  else
    "${server[@]}" 2>"$out/slowlink-$mode-server.log" &
  fi
  pid=$!
  in_ns bash -c "source tools/lib.sh; wait_for_status $port"
  for rate in $rates; do
    args=(-url "http://127.0.0.1:$port/stream" -duration "$duration" -warmup 3s -ramp 0s -snapshots 0 -json -pid "$pid")
    if [[ $mode == link ]]; then
      burst=$((rate / 50 > 3000 ? rate / 50 : 3000))
      ip netns exec "$ns" tc qdisc replace dev lo root tbf rate "$((rate * 8))bit" burst "$burst" latency 50ms
      args+=(-clients 1)
    else
      args+=(-clients 1 -slow 1 -slow-rate "$rate" -rcvbuf 16384)
    fi
    in_ns "$out/loadgen" "${args[@]}" >"$out/slowlink-$mode-$rate.json" || true
    python3 - "$mode" "$rate" "$out/slowlink-$mode-$rate.json" <<'PY'
import json, sys
mode, rate, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rep = json.load(open(path))
g = rep.get("slow") or rep["fast"]
lat = g["latency"]
frame = g["bytes"] / max(1, g["frames"] + g["repeats"])  # bytes per part received
bound = frame / rate + 1 / 30
ms = lambda us: f"{us / 1000:.0f}"
fps = g["fps_median"]
print(f"| {mode} | {rate / 1000:g} KB/s | {fps:.2f} | {ms(lat['p50_us'])} / {ms(lat['p99_us'])} / {ms(lat['max_us'])} ms"
      f" | {bound * 1000:.0f} ms ({frame / 1000:.0f} KB frames){'; lost' if g.get('lost') else ''} |")
PY
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  pid=
  [[ $mode == link ]] && ip netns del "$ns"
done
