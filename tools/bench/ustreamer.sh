#!/usr/bin/env bash
# ustreamer (Debian 12's, 4.9) against usbStream (the release binary,
# dist/dsf/x86_64/usbStream from ./build.sh) in one boot of the x86_64
# vmtest VM (qemu TCG, --smp 2), one after the other on the same vivid
# device: YUYV 1280x720 at vivid's 12.5 fps (the most it gives at that
# size), quality 80, with 1 and 10 viewers (tools/bench/mjpegstat). Per run:
# frames per viewer per second, server CPU per distinct frame delivered
# (utime+stime from /proc/PID/stat over the window), and each part's age at
# receipt; see tools/bench/ustreamer-guest.sh for the clocks. Three rounds
# (ROUNDS) of ustreamer, usbStream, usbStream with capture stamps, one 10 s
# window each after a 5 s warm-up; the summary is the median per label.
#
#   tools/bench/ustreamer.sh
#   VIEWERS="1 10 50" ROUNDS=5 tools/bench/ustreamer.sh
#
# ustreamer runs dynamically linked: its package comes from `apt-get
# download ustreamer`, and the shared libraries it needs (libevent, libjpeg,
# libbsd, libc, ...) are copied from this host as ldd finds them into the
# guest's /lib/x86_64-linux-gnu, the ELF interpreter into /lib64.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/lib.sh
out=bench/out/ustreamer
mkdir -p "$out"
bin=${BIN:-dist/dsf/x86_64/usbStream}
[[ -x $bin ]] || ./build.sh bin x86_64

if [[ ! -x $out/root/usr/bin/ustreamer ]]; then
  (cd "$out" && rm -f ustreamer_*.deb && apt-get download ustreamer)
  rm -rf "$out/root"
  dpkg-deb -x "$out"/ustreamer_*.deb "$out/root"
fi
us=$out/root/usr/bin/ustreamer
if ldd "$us" | grep -q 'not found'; then
  echo "ustreamer.sh: libraries ustreamer needs are missing here:" >&2
  ldd "$us" | grep 'not found' >&2
  echo "install them, e.g.: apt-get install libevent-2.1-7 libevent-pthreads-2.1-7 libjpeg62-turbo libbsd0" >&2
  exit 1
fi
files=(--file "$us:/usr/bin/ustreamer")
while read -r lib; do
  case $lib in
  */ld-linux*) files+=(--file "$(readlink -f "$lib"):/lib64/$(basename "$lib")") ;;
  *) files+=(--file "$(readlink -f "$lib"):/lib/x86_64-linux-gnu/$(basename "$lib")") ;;
  esac
done < <(ldd "$us" | grep -o '/[^ ]*')

CGO_ENABLED=0 go build -trimpath -o "$out/mjpegstat" ./tools/bench/mjpegstat
{ machine_line; echo "# host load average before: $(cut -d' ' -f1-3 /proc/loadavg)"; } | tee "$out/machine.txt"
envs=()
for v in VIEWERS ROUNDS DURATION WARMUP RES FPS QUALITY; do
  [[ -n ${!v-} ]] && envs+=(--env "$v=${!v}")
done
tools/vmtest/run.sh --arch amd64 --smp "${SMP:-2}" --mem 1024 --timeout 900 \
  --bin "$bin" --bin "$out/mjpegstat" --file tools/bench/ustreamer-guest.sh "${files[@]}" "${envs[@]}" \
  -- sh /data/ustreamer-guest.sh | tee "$out/vm.txt"
echo "# host load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
echo
go run ./tools/bench/mjpegstat -median "$out/vm.txt" | tee "$out/summary.txt"
