# Shared by build.sh and the measurement scripts (tools/bench/*.sh, tools/soak/run.sh);
# source it, do not run it.

# Build with the Go release go.mod asks for (its standard library's security
# fixes), fetched from the module proxy when the installed go is older; a Go
# configured with GOTOOLCHAIN=local would otherwise refuse to build.
export GOTOOLCHAIN=auto

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

# make_720p_mjpeg DIR: prints the path of a 1280x720 MJPEG file in DIR (90
# frames, ~47 KB each: testsrc2 at -q:v 5, a typical UVC camera's MJPEG at
# that size), made with ffmpeg the first time.
make_720p_mjpeg() {
  local src=$1/720p.mjpeg
  if [[ ! -s $src ]]; then
    ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 -frames:v 90 -q:v 5 -f mjpeg "$src"
  fi
  echo "$src"
}

# turbo_cflags TRIPLET DEBARCH: C flags that let the cgo code report the libjpeg-turbo
# version it is linked with. The version is in jconfig.h, which comes with
# libjpeg62-turbo-dev; for foreign architectures that package drags in
# libc6-dev:<arch>, which clashes with the cross libc, so we take the version
# from the installed libturbojpeg0-dev instead (it is the library linked).
turbo_cflags() {
  local t=$1 debarch=$2 v
  if [[ -f /usr/include/$t/jconfig.h ]]; then
    echo "-O2 -g -idirafter /usr/include/$t"
    return
  fi
  v=$(dpkg-query -W -f='${Version}' "libturbojpeg0-dev:$debarch" 2>/dev/null || true)
  v=${v#*:} v=${v%%-*} # 1:2.1.5-2 -> 2.1.5
  if [[ "$v" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
    echo "-O2 -g -DLIBJPEG_TURBO_VERSION_NUMBER=$((BASH_REMATCH[1] * 1000000 + BASH_REMATCH[2] * 1000 + BASH_REMATCH[3]))"
  else
    echo "-O2 -g"
  fi
}
