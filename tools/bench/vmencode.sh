#!/usr/bin/env bash
# Encode time per 1280x720 YUYV frame (internal/jpeg's BenchmarkEncodeRaw)
# inside the vmtest VMs (qemu TCG: compares builds, not a Raspberry Pi's
# speed), for the two builds of each architecture:
#   go     CGO_ENABLED=0, as ./build.sh --pure-go builds (GOARM=7 on arm here,
#          like the release binary, so only the encoder differs);
#   turbo  -tags turbojpeg, cgo with Debian's cross gcc and the static
#          libturbojpeg.a (NEON on arm/arm64, SIMD on x86_64), linked like
#          ./build.sh links the release binary (-linkmode external
#          -extldflags -static, netgo, osusergo).
# Both are `go test -c` binaries of ./internal/jpeg, run in one VM boot per
# architecture with -test.bench; x86_64's also run natively on this host for
# reference. Results: bench/out/vmencode/, and a median table at the end.
#
#   tools/bench/vmencode.sh                    # arm arm64 amd64
#   tools/bench/vmencode.sh arm64              # one VM
#   COUNT=5 BENCHTIME=5s tools/bench/vmencode.sh
#
# Needs what ./build.sh needs for the release binaries (cross gcc,
# libturbojpeg0-dev:armhf/arm64) and what tools/vmtest/run.sh needs.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/lib.sh
out=bench/out/vmencode
mkdir -p "$out"
count=${COUNT:-3}
benchtime=${BENCHTIME:-3s}
# Each /-separated part of -test.bench is a regexp of its own: ^YUYV$ keeps
# out YUYV-rot90.
bench=${BENCH:-'EncodeRaw/^YUYV$/^1280x720$'}
arches=("$@")
((${#arches[@]})) || arches=(arm arm64 amd64)

declare -A TRIPLET=([arm]=arm-linux-gnueabihf [arm64]=aarch64-linux-gnu [amd64]=x86_64-linux-gnu)
declare -A DEBARCH=([arm]=armhf [arm64]=arm64 [amd64]=amd64)

build() {
  local arch=$1 goarm=
  [[ $arch == arm ]] && goarm=7
  echo "vmencode: building $out/$arch/jpeg-go.test and jpeg-turbo.test" >&2
  mkdir -p "$out/$arch"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=$goarm \
    go test -c -trimpath -o "$out/$arch/jpeg-go.test" ./internal/jpeg
  CGO_ENABLED=1 GOOS=linux GOARCH=$arch GOARM=$goarm CC="${TRIPLET[$arch]}-gcc" \
    CGO_CFLAGS="$(turbo_cflags "${TRIPLET[$arch]}" "${DEBARCH[$arch]}")" \
    go test -c -trimpath -tags turbojpeg,netgo,osusergo \
    -ldflags "-linkmode external -extldflags -static" -o "$out/$arch/jpeg-turbo.test" ./internal/jpeg
  if LC_ALL=C readelf -l "$out/$arch/jpeg-turbo.test" | grep -q INTERP; then
    echo "vmencode: $out/$arch/jpeg-turbo.test is not static" >&2
    exit 1
  fi
}

# The guest (busybox sh) runs both binaries; each line of benchmark output is
# prefixed with the flavour so that the host can tell them apart.
guest='for f in go turbo; do
  /bin/jpeg-$f.test -test.run "^$" -test.bench "$0" -test.benchtime "$1" -test.count "$2" 2>&1 | sed "s/^/$f: /"
done'

{
  machine_line
  echo "# qemu TCG; BenchmarkEncodeRaw -test.bench '$bench' -test.benchtime $benchtime -test.count $count"
} | tee "$out/machine.txt"
for arch in "${arches[@]}"; do
  [[ -n ${TRIPLET[$arch]-} ]] || { echo "vmencode: unknown arch $arch (arm, arm64, amd64)" >&2; exit 2; }
  build "$arch"
  echo "== VM $arch"
  tools/vmtest/run.sh --arch "$arch" --timeout 900 \
    --bin "$out/$arch/jpeg-go.test" --bin "$out/$arch/jpeg-turbo.test" \
    -- sh -c "$guest" "$bench" "$benchtime" "$count" | tee "$out/vm-$arch.txt"
  if [[ $arch == amd64 && $(uname -m) == x86_64 ]]; then
    echo "== host (native, not emulated)"
    for f in go turbo; do
      "$out/amd64/jpeg-$f.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" \
        -test.count "$count" 2>&1 | sed "s/^/$f: /"
    done | tee "$out/host-amd64.txt"
  fi
done

# Median ns/op of each (machine, flavour).
echo
echo "median encode time per 1280x720 YUYV frame (quality 80), $count runs:"
for f in "$out"/vm-*.txt "$out"/host-amd64.txt; do
  [[ -f $f ]] || continue
  for flavour in go turbo; do
    mapfile -t v < <(grep -a "^$flavour: BenchmarkEncodeRaw/YUYV/" "$f" |
      awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "ns/op") printf "%.1f\n", $i / 1e6 }' | sort -n)
    ((${#v[@]})) || continue
    printf '  %-12s %-6s %8s ms  (runs: %s)\n' "$(basename "$f" .txt)" "$flavour" "${v[$(((${#v[@]} - 1) / 2))]}" "${v[*]}"
  done
done | tee "$out/summary.txt"
