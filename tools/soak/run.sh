#!/usr/bin/env bash
# Soak: usbStream under a changing client population for a long time, with
# fps, CPU, RSS, heap, goroutines and open files reported over time
# (RELIABILITY.md has the results and what is judged).
#
#   tools/soak/run.sh            # 1 hour, a row a minute, 20-minute waves of 1..40 viewers
#   tools/soak/run.sh 4m         # the CI version: a row every 10 s, 80 s waves
#   SOURCE=file:cam.mjpeg TAGS=turbojpeg tools/soak/run.sh 8h
#
# The server is the real binary with the built-in test source (1280x720 at
# 24 fps, a raw camera's path: every frame is encoded once), on loopback.
# Results go to soak/out/: the table (soak-<time>.md), the rows as CSV and
# the server's log. Exit status 0 only if the soak passed, the server logged
# no error and it stopped cleanly on SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/lib.sh
duration=${1:-1h}
case "$duration" in
  [0-9]*h) secs=$((${duration%h} * 3600)) ;;
  [0-9]*m) secs=$((${duration%m} * 60)) ;;
  [0-9]*s) secs=${duration%s} ;;
  *) secs=0 ;;
esac
if ! [[ "$duration" =~ ^[0-9]+[hms]$ ]] || ((secs < 60 || secs > 86400)); then
  echo "soak: want a duration like 1h, 4m or 90s, from 1m to 24h; got $duration" >&2
  exit 2
fi
# A row a minute for an hour or more; about 24 rows for shorter runs.
interval=${INTERVAL:-$((secs >= 3600 ? 60 : secs / 24))s}
period=${PERIOD:-$((secs >= 3600 ? 1200 : secs / 3))s}
port=${PORT:-18086}
source=${SOURCE:-test}
out=soak/out
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)

go build ${TAGS:+-tags "$TAGS"} -o "$out/usbStream" ./sbc
go build -o "$out/loadgen" ./tools/loadgen
ulimit -n 65536 2>/dev/null || true
"$out/usbStream" -source "$source" -host 127.0.0.1 -port "$port" -dsf none 2>"$out/server-$stamp.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_for_status "$port"

{
  machine_line
  echo "# $("$out/usbStream" -version 2>&1 | head -n 1), -source $source${TAGS:+, -tags $TAGS}"
} | tee "$out/soak-$stamp.md"
rc=0
"$out/loadgen" soak -url "http://127.0.0.1:$port/stream" -pid "$pid" -duration "$duration" \
  -interval "$interval" -period "$period" -min-viewers 1 -max-viewers "${VIEWERS:-40}" -churn 5 \
  -snapshot-every 2s -min-fps "${MIN_FPS:-10}" -csv "$out/soak-$stamp.csv" | tee -a "$out/soak-$stamp.md" || rc=$?

kill -TERM "$pid"
for _ in $(seq 50); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  echo "soak: usbStream still running 5 s after SIGTERM" | tee -a "$out/soak-$stamp.md"
  rc=1
elif ! wait "$pid"; then
  echo "soak: usbStream exited with status $? after SIGTERM" | tee -a "$out/soak-$stamp.md"
  rc=1
fi
trap - EXIT
if grep -E $'\t(ERROR|DPANIC|PANIC|FATAL)\t|^panic:' "$out/server-$stamp.log"; then
  echo "soak: the server logged the errors above" | tee -a "$out/soak-$stamp.md"
  rc=1
fi
echo "soak: $([[ $rc == 0 ]] && echo PASS || echo FAIL); table in $out/soak-$stamp.md, rows in $out/soak-$stamp.csv, server log in $out/server-$stamp.log"
exit "$rc"
