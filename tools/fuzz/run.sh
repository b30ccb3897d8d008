#!/usr/bin/env bash
# Runs every Go fuzz target in the module, one at a time, each for the given
# time, and prints per target the executions, the new corpus entries and
# PASS/FAIL. Exits non-zero if any target fails (or a package does not build).
#
#   tools/fuzz/run.sh                     # 10s per target (CI's short run)
#   tools/fuzz/run.sh 15m                 # the long run in RELIABILITY.md
#   tools/fuzz/run.sh 5m '^FuzzCheck$'    # only targets matching a regexp
#   GOFLAGS=-tags=turbojpeg tools/fuzz/run.sh 1m FuzzTransformJPEG
#
# The first argument is passed to -fuzztime, so Go's "1000000x" (a number of
# executions instead of a time) works too. FUZZ_PARALLEL sets -parallel
# (default 2); FUZZ_MINIMIZE sets -fuzzminimizetime (default 5s: Go's 60 s
# per new input left FuzzSplitter minimizing, at 0 executions a second, for
# most of a 5-minute run); FUZZ_LOGDIR=<dir> keeps each target's go test
# output there.
# Targets are discovered with `go test -list '^Fuzz' ./...`, so a new Fuzz*
# function is picked up without editing this script.
#
# A failing input is kept where Go writes it, in
# <package>/testdata/fuzz/<Target>/<hash>; from then on plain `go test` fails
# on it until the code is fixed. The reproducer line is printed below.
# New interesting inputs go to Go's cache, $(go env GOCACHE)/fuzz/<module>/...,
# not to testdata.
set -uo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=auto # the Go release go.mod asks for (see tools/lib.sh)

mod=$(go list -m) || exit 2
fuzztime=${1:-10s}
filter=${2:-.}
parallel=${FUZZ_PARALLEL:-2}
minimize=${FUZZ_MINIMIZE:-5s}

list=$(go test -list '^Fuzz' ./... 2>&1)
if [[ $? -ne 0 ]]; then
  echo "$list" | grep -v '^Fuzz' >&2
  echo "fuzz: listing the targets failed" >&2
  exit 2
fi

# `go test -list` prints a package's matching names before its "ok <pkg>" line.
targets=()
pending=()
while IFS= read -r line; do
  case "$line" in
    Fuzz*) pending+=("$line") ;;
    "ok "*)
      pkg=$(awk '{print $2}' <<<"$line")
      for t in "${pending[@]}"; do
        [[ "$t" =~ $filter ]] && targets+=("$pkg $t")
      done
      pending=()
      ;;
  esac
done <<<"$list"

if ((${#targets[@]} == 0)); then
  echo "fuzz: no target matches '$filter'" >&2
  exit 2
fi

log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
if [[ -n "${FUZZ_LOGDIR:-}" ]]; then
  mkdir -p "$FUZZ_LOGDIR" || exit 2
  log=$FUZZ_LOGDIR
  trap - EXIT
fi
# deadline_race LOG: the run's only failure is Go's own "context deadline
# exceeded" at the end of -fuzztime, with no failing input written and no
# panic: the coordinator race, not a finding.
deadline_race() {
  ! grep -qE 'Failing input written|^panic:|^\s+[a-z_]+_test\.go:[0-9]+:' "$1" &&
    [[ "$(grep -A1 -E '^--- FAIL: ' "$1" | tail -n 1)" == *"    context deadline exceeded" ]] &&
    [[ "$(grep -cE '^--- FAIL: ' "$1")" == 1 ]]
}

summary=()
failed=0
i=0
for entry in "${targets[@]}"; do
  pkg=${entry% *}
  t=${entry#* }
  dir=.${pkg#"$mod"} # usbstream/internal/jpeg -> ./internal/jpeg
  i=$((i + 1))
  cmd=(go test -run='^$' -fuzz="^$t\$" -fuzztime="$fuzztime" -fuzzminimizetime="$minimize" -parallel="$parallel" "$dir")
  echo "=== [$i/${#targets[@]}] $pkg $t: go test -run='^\$' -fuzz='^$t\$' -fuzztime=$fuzztime -fuzzminimizetime=$minimize -parallel=$parallel $dir"
  start=$(date +%s)
  "${cmd[@]}" >"$log/$t" 2>&1
  rc=$?
  secs=$(($(date +%s) - start))
  # The last stats line, e.g.
  # fuzz: elapsed: 10s, execs: 123456 (12345/sec), new interesting: 3 (total: 41)
  stats=$(grep -E '^fuzz: elapsed: .*execs: ' "$log/$t" | tail -n 1)
  execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$stats")
  newc=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$stats")
  total=$(sed -nE 's/.*\(total: ([0-9]+)\).*/\1/p' <<<"$stats")
  if ((rc == 0)) && grep -q '^PASS' "$log/$t"; then
    result=PASS
  elif deadline_race "$log/$t"; then
    # Go's fuzz coordinator can report the end of -fuzztime itself as a
    # failure (golang/go#75804, fixed in Go 1.27): no input failed.
    result="PASS (stopped by golang/go#75804, no failing input)"
  else
    result=FAIL
    failed=1
    # Show what went wrong: the failure, the panic and stack if any.
    grep -vE '^fuzz: elapsed: ' "$log/$t" | tail -n 60
    input=$(sed -nE 's/.*Failing input written to (.*)$/\1/p' "$log/$t" | tail -n 1)
    rerun=$(grep -oE 'go test -run=[^ ]+' "$log/$t" | tail -n 1)
    if [[ -n "$input" ]]; then
      echo "--- failing input kept in ${dir#./}/$input"
    fi
    if [[ -n "$rerun" ]]; then
      echo "--- reproduce from the repository root: $rerun $dir"
    fi
  fi
  line=$(printf '%-24s %-32s %6ss %12s execs %5s new (corpus %s)  %s' \
    "$t" "$dir" "$secs" "${execs:-?}" "${newc:-?}" "${total:-?}" "$result")
  echo "--- $line"
  summary+=("$line")
done

echo
echo "fuzz summary (-fuzztime=$fuzztime -fuzzminimizetime=$minimize -parallel=$parallel):"
printf '  %s\n' "${summary[@]}"
if ((failed)); then
  echo "fuzz: FAIL"
  exit 1
fi
echo "fuzz: PASS"
