# Shared by the measurement scripts (tools/bench/run.sh, tools/soak/run.sh);
# source it, do not run it.

# wait_for_status PORT: waits up to 10 s for usbStream's /status on loopback.
wait_for_status() {
  for _ in $(seq 100); do
    wget -q -O /dev/null "http://127.0.0.1:$1/status" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "usbStream did not answer on port $1 within 10 s" >&2
  return 1
}

# machine_line: when and on what a measurement ran, for its report.
machine_line() {
  echo "# $(date -u +%FT%TZ), $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
}
