#!/usr/bin/env bash
# Builds usbStream's DSF plugin zips: static binaries for the SBC architectures
# DSF knows, the DWC tab, and one zip per DSF/DWC minor version. Run ./build.sh -h.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: ./build.sh [--pure-go] [--dwc-dir DIR] [command [args]]

Commands (no command = bin + dwc + zip):
  bin [arch...]  build dist/dsf/<arch>/usbStream for arm, arm64, x86_64 (default: all three)
  dwc            build the DWC tab: cd dwc-src && npm ci && node build.mjs ../dist/dwc
  zip            pack dist/usbStream-<version>-dsf3.5.zip and -dsf3.6.zip from the parts
                 already in dist/ (checked with tools/plugincheck before they are written)
  check ZIP...   check plugin zips (go run ./tools/plugincheck ZIP...)
  test           go test ./tools/plugincheck, then run every binary in dist/dsf (arm, arm64
                 through qemu-arm-static / qemu-aarch64-static: apt-get install qemu-user-static):
                 -version, a /snapshot from -source test must be a JPEG, SIGTERM must end it;
                 and the arm binary on an emulated ARMv6 CPU behaves as documented below

Options:
  --pure-go      CGO_ENABLED=0 binaries without libjpeg-turbo (no cross compilers needed).
                 They stream MJPEG cameras just as fast, but encode (YUYV cameras, rotation)
                 about 7 times slower. arm is then built for ARMv6 and runs on every Pi.
  --dwc-dir DIR  take the DWC part for 'zip' from DIR (holding js/usbStream.<hash>.js)
                 instead of dist/dwc
  -h, --help     this text

The version comes from the file VERSION; it is stamped into the binaries
(-X main.version), the manifests and the zip names.

Binaries (default): libjpeg-turbo linked in statically (-tags turbojpeg), built
with Debian's cross compilers; build.sh prints the apt-get command if they are
missing. arm is ARMv7 (GOARM=7, Debian armhf): Raspberry Pi 2, 3, 4, Zero 2 W
(and Pi 3/4/5 on a 32-bit OS). Debian's armhf libc and libturbojpeg are ARMv7
Thumb-2 code, so on an ARMv6 Pi 1 / Zero / Zero W the binary dies at once with
"Illegal instruction"; DSF does not run there either (.NET needs ARMv7). For a
standalone install on those, use --pure-go (GOARM=6).

Environment: DIST (output folder, default ./dist), SOURCE_DATE_EPOCH (zip entry
times; default the last commit's time).
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CALLER=$PWD
# abspath PATH: PATH as the caller meant it (relative to their cwd).
abspath() { if [[ $1 == /* ]]; then echo "$1"; else echo "$CALLER/$1"; fi; }
DIST=$(abspath "${DIST:-$ROOT/dist}")
cd "$ROOT" # every other path below is relative to the repository, whatever the caller's cwd
# Release binaries carry the standard library of the toolchain go.mod names
# (a patch release with the security fixes tools/vulncheck/run.sh checks
# for), fetched from the module proxy when the installed Go is older.
export GOTOOLCHAIN=auto
ARCHES=(arm arm64 x86_64)
DSF_VERSIONS=(3.5 3.6)

die() { echo "build.sh: $*" >&2; exit 1; }
say() { echo "==> $*"; }
# loud prints a banner that is hard to miss in a CI log.
loud() { printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!!! %s\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' "$*" >&2; }

VERSION=$(tr -d ' \t\r\n' <VERSION)
# The version becomes part of a file name and of -ldflags: keep it simple.
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] ||
  die "VERSION holds \"$VERSION\"; want e.g. 0.2.0 or 0.2.0-rc.1"

# Per architecture (the dsf/<arch>/ folder name of DSF's
# src/DuetPluginService/Commands/StartPlugin.cs): Go's GOARCH, Debian's
# architecture and GNU triplet, and the package with that triplet's gcc.
declare -A GOARCH=([arm]=arm [arm64]=arm64 [x86_64]=amd64)
declare -A DEBARCH=([arm]=armhf [arm64]=arm64 [x86_64]=amd64)
declare -A TRIPLET=([arm]=arm-linux-gnueabihf [arm64]=aarch64-linux-gnu [x86_64]=x86_64-linux-gnu)
declare -A GCCPKG=([arm]=gcc-arm-linux-gnueabihf [arm64]=gcc-aarch64-linux-gnu [x86_64]=gcc-x86-64-linux-gnu)
declare -A LIBCPKG=([arm]=libc6-dev-armhf-cross [arm64]=libc6-dev-arm64-cross [x86_64]=libc6-dev-amd64-cross)
declare -A QEMU=([arm]=qemu-arm-static [arm64]=qemu-aarch64-static [x86_64]=qemu-x86_64-static)
declare -A ELFMACHINE=([arm]=ARM [arm64]=AArch64 [x86_64]="Advanced Micro Devices X86-64")
HOSTARCH=$(dpkg --print-architecture 2>/dev/null || echo unknown)

PURE=0
DWC_DIR=
args=()
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --pure-go) PURE=1 ;;
    --dwc-dir) [[ $# -ge 2 ]] || die "--dwc-dir needs a folder"; DWC_DIR=$(abspath "$2"); shift ;;
    --) shift; args+=("$@"); break ;;
    -*) die "unknown option $1 (see ./build.sh -h)" ;;
    *) args+=("$1") ;;
  esac
  shift
done
set -- "${args[@]}"

# ---------------------------------------------------------------------------
# Binaries

# missing_for ARCH prints the apt packages a static libjpeg-turbo build for
# ARCH lacks (nothing if all is there).
missing_for() {
  local arch=$1 t=${TRIPLET[$1]} d=${DEBARCH[$1]} cc="${TRIPLET[$1]}-gcc"
  local native=0
  [[ "$d" == "$HOSTARCH" ]] && native=1
  # The static C library is needed as well; Debian's gcc packages only
  # recommend it.
  if ! command -v "$cc" >/dev/null; then
    if ((native)); then echo gcc libc6-dev; else echo "${GCCPKG[$arch]} ${LIBCPKG[$arch]}"; fi
  elif [[ "$("$cc" -print-file-name=libc.a)" != /* ]]; then
    if ((native)); then echo libc6-dev; else echo "${LIBCPKG[$arch]}"; fi
  fi
  if [[ ! -f /usr/lib/$t/libturbojpeg.a || ! -f /usr/include/turbojpeg.h ]]; then
    if ((native)); then echo libturbojpeg0-dev; else echo "libturbojpeg0-dev:$d"; fi
  fi
}

# need_toolchain ARCH...: exit with the one apt command that installs what is
# missing for a static libjpeg-turbo build.
need_toolchain() {
  local pkgs=() foreign=() arch p enabled
  enabled=" $(dpkg --print-foreign-architectures 2>/dev/null | tr '\n' ' ') "
  for arch in "$@"; do
    for p in $(missing_for "$arch"); do pkgs+=("$p"); done
    if [[ "${DEBARCH[$arch]}" != "$HOSTARCH" && "$enabled" != *" ${DEBARCH[$arch]} "* ]]; then
      foreign+=("${DEBARCH[$arch]}")
    fi
  done
  ((${#pkgs[@]})) || return 0
  local cmd=""
  for p in "${foreign[@]}"; do cmd+="dpkg --add-architecture $p && "; done
  # ';' after update: a mirror hiccup on one foreign index (seen with
  # bookworm-security armhf) makes update exit non-zero, yet the install works.
  cmd+="apt-get update; apt-get install -y --no-install-recommends ${pkgs[*]}"
  {
    echo "build.sh: the static libjpeg-turbo build for ${*} needs cross compilers and libraries that are missing."
    echo "Install them (Debian 12, as root):"
    echo
    echo "  $cmd"
    echo
    echo "or build pure-Go binaries without libjpeg-turbo: ./build.sh --pure-go ${args[*]-}"
  } >&2
  exit 1
}

# turbo_cflags (tools/lib.sh): the C flags for the cgo code's libjpeg-turbo.
source tools/lib.sh

# verify_binary ARCH FILE: the right machine and no ELF interpreter (static).
verify_binary() {
  local arch=$1 f=$2 machine
  if command -v readelf >/dev/null; then
    machine=$(LC_ALL=C readelf -h "$f" | sed -n 's/^ *Machine: *//p')
    [[ "$machine" == "${ELFMACHINE[$arch]}" ]] || die "$f is for \"$machine\", not ${ELFMACHINE[$arch]}"
    if LC_ALL=C readelf -l "$f" | grep -q 'INTERP'; then
      die "$f is dynamically linked ($(LC_ALL=C readelf -l "$f" | grep -o 'interpreter: [^]]*'))"
    fi
  elif command -v file >/dev/null; then
    file -b "$f" | grep -q 'statically linked' || die "$f is not statically linked: $(file -b "$f")"
  else
    echo "build.sh: neither readelf nor file is installed; $f was not verified" >&2
  fi
}

build_bins() {
  local arches=("$@") arch
  ((${#arches[@]})) || arches=("${ARCHES[@]}")
  for arch in "${arches[@]}"; do
    [[ -n "${GOARCH[$arch]-}" ]] || die "unknown architecture \"$arch\"; choose from ${ARCHES[*]}"
  done
  ((PURE)) || need_toolchain "${arches[@]}"
  if ((PURE)); then
    loud "PURE-GO BUILD: no libjpeg-turbo; encoding (YUYV cameras, rotation) is about 7x slower."
  fi

  local ldflags="-s -w -X main.version=$VERSION" out tmp start flavour goarm
  for arch in "${arches[@]}"; do
    out=$DIST/dsf/$arch/usbStream
    mkdir -p "$(dirname "$out")" "$DIST/.build"
    tmp=$(mktemp "$out.XXXXXX")
    start=$SECONDS
    goarm=
    if ((PURE)); then
      # GOARM=6: runs on every Raspberry Pi including Pi 1 / Zero, at no
      # measurable cost on newer ones.
      [[ $arch == arm ]] && goarm=6
      flavour="pure Go"
      CGO_ENABLED=0 GOOS=linux GOARCH=${GOARCH[$arch]} GOARM=$goarm \
        go build -trimpath -ldflags "$ldflags" -o "$tmp" ./sbc
    else
      [[ $arch == arm ]] && goarm=7
      flavour="libjpeg-turbo (static)"
      # -extldflags -static makes the external linker take libturbojpeg.a
      # and libc.a for the -lturbojpeg in internal/jpeg's cgo directive.
      # netgo/osusergo keep Go off glibc's NSS, which cannot work statically.
      CGO_ENABLED=1 GOOS=linux GOARCH=${GOARCH[$arch]} GOARM=$goarm CC="${TRIPLET[$arch]}-gcc" \
        CGO_CFLAGS="$(turbo_cflags "${TRIPLET[$arch]}" "${DEBARCH[$arch]}")" \
        go build -trimpath -tags turbojpeg,netgo,osusergo \
        -ldflags "$ldflags -linkmode external -extldflags -static" -o "$tmp" ./sbc
    fi
    verify_binary "$arch" "$tmp"
    chmod 0755 "$tmp"
    mv -f "$tmp" "$out"
    # Recorded outside dist/dsf (which goes into the zip as it is), so that
    # 'zip' can refuse binaries of another version and say what they are.
    printf 'version=%s\nflavour=%s\ngoarm=%s\n' "$VERSION" "$flavour" "$goarm" >"$DIST/.build/$arch"
    say "$out: $(stat -c %s "$out") bytes, $flavour${goarm:+, GOARM=$goarm}, static, $((SECONDS - start)) s"
  done
}

# ---------------------------------------------------------------------------
# DWC tab

build_dwc() {
  [[ -f dwc-src/build.mjs ]] ||
    die "dwc-src/build.mjs does not exist (the DWC tab is not written yet); the full build needs it. Partial builds still work: ./build.sh bin, ./build.sh zip --dwc-dir DIR"
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    die "node and npm are needed for the DWC tab (apt-get install nodejs npm)"
  fi
  # A chunk from an earlier build has another hash; two chunks would make
  # the zip invalid (DWC loads only one), so start empty.
  rm -rf "$DIST/dwc"
  mkdir -p "$DIST/dwc"
  (cd dwc-src && npm ci --no-audit --no-fund && node build.mjs "$DIST/dwc")
  local chunks
  chunks=$(find "$DIST/dwc" -type f -name '*usbStream*.js' | wc -l)
  [[ $chunks -eq 1 ]] || die "dwc-src/build.mjs left $chunks usbStream*.js files in $DIST/dwc, want exactly 1"
}

# ---------------------------------------------------------------------------
# Zips

plugincheck() {
  # Built once per run instead of 'go run' per zip.
  local bin=$DIST/.build/plugincheck
  if [[ ! -x $bin || -n "$(find tools/plugincheck -newer "$bin" -name '*.go' | head -n1)" ]]; then
    mkdir -p "$DIST/.build"
    go build -o "$bin" ./tools/plugincheck
  fi
  "$bin" "$@"
}

make_zips() {
  local dwc=${DWC_DIR:-$DIST/dwc} arch info pure=()
  for arch in "${ARCHES[@]}"; do
    [[ -f $DIST/dsf/$arch/usbStream ]] || die "$DIST/dsf/$arch/usbStream is missing; run ./build.sh bin first"
    info=$DIST/.build/$arch
    if [[ ! -f $info ]] || ! grep -qxF "version=$VERSION" "$info"; then
      die "$DIST/dsf/$arch/usbStream was not built for version $VERSION (VERSION changed?); run ./build.sh bin"
    fi
    grep -qx 'flavour=pure Go' "$info" && pure+=("$arch")
  done
  [[ -d $dwc ]] || die "no DWC part in $dwc; run ./build.sh dwc (or give --dwc-dir DIR)"
  # Only the binaries go in: dist/dsf/<arch>/ holds nothing else.
  local extra
  extra=$(find "$DIST/dsf" -type f ! -path '*/usbStream' | head -n3)
  [[ -z $extra ]] || die "unexpected files in $DIST/dsf (would go into the zip): $extra"

  # Fixed entry times make the zips reproducible: the last commit's time
  # unless SOURCE_DATE_EPOCH says otherwise.
  local epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 946684800)}
  local v zip
  for v in "${DSF_VERSIONS[@]}"; do
    zip=$DIST/usbStream-$VERSION-dsf$v.zip
    # Written to a temporary name, checked, and only then renamed to $zip.
    plugincheck -pack "$zip" -manifest plugin.json -mtime "$epoch" \
      -set "version=$VERSION" -set "dwcVersion=$v" -set "sbcDsfVersion=$v" \
      -tree "dsf=$DIST/dsf" -tree "dwc=$dwc" -tree "sd=sd"
  done
  if ((${#pure[@]})); then
    loud "THE ZIPS HOLD PURE-GO BINARIES (${pure[*]}): no libjpeg-turbo, encoding is about 7x slower."
  fi
  for v in "${DSF_VERSIONS[@]}"; do
    zip=$DIST/usbStream-$VERSION-dsf$v.zip
    say "$zip: $(stat -c %s "$zip") bytes"
  done
}

# ---------------------------------------------------------------------------
# Tests: plugincheck's Go tests, then every built binary really runs.

free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    # A refused connection means nobody listens there.
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free loopback port found"
}

ms() { echo $(($(date +%s%N) / 1000000)); }

fetch() { # fetch URL FILE
  if command -v curl >/dev/null; then curl -fsS -m 5 -o "$2" "$1"
  else wget -q -T 5 -O "$2" "$1"; fi
}

# runner ARCH: how to execute that architecture's binary here. binfmt_misc
# is often not active in containers, so qemu-user is called explicitly.
runner() {
  if [[ ${DEBARCH[$1]} == "$HOSTARCH" ]]; then echo ""; return; fi
  command -v "${QEMU[$1]}" >/dev/null || { echo "MISSING"; return; }
  echo "${QEMU[$1]}"
}

# run_check ARCH: -version, then -source test, /snapshot must be a whole
# JPEG, then SIGTERM must end it cleanly. Prints one PASS/FAIL line.
run_check() {
  local arch=$1 bin=$DIST/dsf/$1/usbStream run out port pid log snap t0 t1 t2 rc enc first2 last2 size
  if [[ ! -f $bin ]]; then echo "FAIL $arch: $bin not built (./build.sh bin)"; return 1; fi
  run=$(runner "$arch")
  if [[ $run == MISSING ]]; then echo "FAIL $arch: ${QEMU[$arch]} not installed (apt-get install qemu-user-static)"; return 1; fi

  out=$($run "$bin" -version 2>&1) || { echo "FAIL $arch: -version: $out"; return 1; }
  # The Go release must be the one go.mod asks for: it carries the standard
  # library's security fixes.
  local want="usbStream $VERSION (go$(sed -n 's/^go //p' go.mod) linux/${GOARCH[$arch]})"
  [[ $out == "$want" ]] || { echo "FAIL $arch: -version printed \"$out\", want \"$want\""; return 1; }

  port=$(free_port)
  log=$(mktemp) snap=$(mktemp)
  # shellcheck disable=SC2086 # $run is empty or one word
  $run "$bin" -source test -port "$port" -dsf none -host 127.0.0.1 -logfile none >"$log" 2>&1 &
  pid=$!
  t0=$(ms)
  # qemu makes startup slow; the first frame can take a few seconds.
  for _ in $(seq 100); do
    fetch "http://127.0.0.1:$port/snapshot" "$snap" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  first2=$(od -An -tx1 -N2 "$snap" | tr -d ' \n')
  last2=$(tail -c2 "$snap" | od -An -tx1 | tr -d ' \n')
  t1=$(ms)
  kill -TERM "$pid" 2>/dev/null || true
  rc=0
  wait "$pid" || rc=$?
  t2=$(ms)
  enc=$(sed -n 's/.*JPEG encoder: //p' "$log" | head -n1)
  size=$(stat -c %s "$snap")
  if [[ $first2 != ffd8 || $last2 != ffd9 ]]; then
    echo "FAIL $arch: /snapshot is not a JPEG (${size} bytes, starts ${first2:-nothing}, ends ${last2:-nothing}); log:"; sed 's/^/    /' "$log"
    rm -f "$log" "$snap"; return 1
  fi
  if ((rc != 0)); then
    echo "FAIL $arch: exit status $rc after SIGTERM; log:"; sed 's/^/    /' "$log"
    rm -f "$log" "$snap"; return 1
  fi
  if grep -qx 'flavour=libjpeg-turbo (static)' "$DIST/.build/$arch" 2>/dev/null && [[ $enc != libjpeg-turbo* ]]; then
    echo "FAIL $arch: built with libjpeg-turbo but the encoder is \"$enc\""; rm -f "$log" "$snap"; return 1
  fi
  echo "PASS $arch: ${run:-native} -version ok; /snapshot ${size} bytes FF D8..FF D9; encoder ${enc:-?}; first snapshot after $((t1 - t0)) ms; SIGTERM -> exit 0 in $((t2 - t1)) ms"
  rm -f "$log" "$snap"
}

# armv6_check: the documented minimum CPU holds. The libjpeg-turbo arm
# binary must die with SIGILL on an ARMv6 CPU (Pi 1 / Zero), the pure-Go
# (GOARM=6) one must run there.
armv6_check() {
  local bin=$DIST/dsf/arm/usbStream rc=0 out
  [[ -f $bin ]] && command -v qemu-arm-static >/dev/null || return 0
  out=$(qemu-arm-static -cpu arm1176 "$bin" -version 2>&1) || rc=$?
  if grep -qx 'goarm=6' "$DIST/.build/arm" 2>/dev/null; then
    if ((rc == 0)); then echo "PASS arm on ARMv6 (qemu -cpu arm1176, Pi 1/Zero): runs (GOARM=6)"
    else echo "FAIL arm on ARMv6: GOARM=6 build does not run: $out"; return 1; fi
  else
    if ((rc == 132)); then echo "PASS arm on ARMv6 (qemu -cpu arm1176, Pi 1/Zero): Illegal instruction, as documented (ARMv7 minimum)"
    else echo "FAIL arm on ARMv6: expected SIGILL (exit 132), got exit $rc: $out"; return 1; fi
  fi
}

run_tests() {
  say "go test ./tools/plugincheck"
  go test ./tools/plugincheck
  say "running the binaries in $DIST/dsf"
  local arch failed=0
  for arch in "${ARCHES[@]}"; do run_check "$arch" || failed=1; done
  armv6_check || failed=1
  ((failed == 0)) || die "binary checks FAILED"
  say "all checks passed"
}

# ---------------------------------------------------------------------------

cmd=${1:-all}
(($#)) && shift
case "$cmd" in
  all)
    (($# == 0)) || die "no arguments expected without a command"
    start=$SECONDS
    # Fail early: without the DWC source there is no complete zip to make.
    [[ -f dwc-src/build.mjs ]] || build_dwc
    build_bins
    build_dwc
    make_zips
    say "full build done in $((SECONDS - start)) s"
    ;;
  bin) build_bins "$@" ;;
  dwc) build_dwc ;;
  zip) make_zips ;;
  check)
    (($#)) || die "check needs one or more zip files"
    zips=()
    for z in "$@"; do zips+=("$(abspath "$z")"); done
    plugincheck "${zips[@]}"
    ;;
  test) run_tests ;;
  *) die "unknown command \"$cmd\" (see ./build.sh -h)" ;;
esac
