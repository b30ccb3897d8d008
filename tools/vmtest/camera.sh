#!/usr/bin/env bash
# Runs the camera tests against the real vivid V4L2 driver inside the qemu
# VM (two capture-only vivid instances): internal/camera's tests, then the
# whole usbStream binary driven over HTTP (e2e's TestVivid* tests, which
# build only with -tags vm).
#
#   tools/vmtest/camera.sh [--arch amd64|arm64|arm|arm-on-arm64] [--zip ZIP] [run.sh options...]
#
# --arch amd64 (the default): the x86_64 VM with --apparmor, and the binary
# is a pure-Go build of this checkout. --arch arm64 / arm: the ARM VMs, and
# the binary is the release one from a plugin zip (dsf/<arm64|arm>/usbStream,
# static, libjpeg-turbo with NEON), taken out of the zip inside the guest;
# --zip picks the zip (default: dist/usbStream-$(cat VERSION)-dsf3.6.zip, or
# -dsf3.5.zip if there is no 3.6 one; ./build.sh makes them).
# --arch arm-on-arm64: the arm binary and tests in the arm64 VM (a 32-bit
# Raspberry Pi OS on a Pi 4/5 runs a 64-bit kernel). The test
# binaries are cross-compiled for the guest (CGO_ENABLED=0, GOARM=7 on arm)
# and run 10 unplug cycles instead of 20 there (VIVID_CYCLES). Extra
# arguments go to run.sh, e.g. --timeout 1500; so does VMTEST_TESTS, a
# -test.run pattern for both test binaries (default: all of internal/camera's
# tests, e2e's Vivid ones). The last line is "vmtest: PASS (...)" or
# "vmtest: FAIL (...)"; the exit status says the same.
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=auto # the Go release go.mod asks for (see tools/lib.sh)
arch=${VMTEST_ARCH:-amd64} zip= pass=()
while (($#)); do
	case $1 in
	--arch) arch=${2:?--arch wants amd64, arm64 or arm}; shift 2 ;;
	--arch=*) arch=${1#--arch=}; shift ;;
	--zip) zip=${2:?--zip wants a plugin zip}; shift 2 ;;
	--zip=*) zip=${1#--zip=}; shift ;;
	*) pass+=("$1"); shift ;;
	esac
done
[[ -z $zip || $zip == /* ]] || zip=$caller/$zip # as the caller meant it
fail() { echo "camera.sh: $*" >&2; echo "vmtest: FAIL (camera.sh: $*)"; exit 125; }
# vmarch is the machine, dsfarch the binary run on it. arm-on-arm64 is the
# 32-bit userland on a 64-bit kernel, as Raspberry Pi OS (32-bit) boots a
# Pi 4 or 5: the arm binary's ioctls go through the kernel's compat layer.
case $arch in
amd64) goenv=(GOARCH=amd64) vmarch=amd64 ;;
arm64) goenv=(GOARCH=arm64) dsfarch=arm64 vmarch=arm64 ;;
arm) goenv=(GOARCH=arm GOARM=7) dsfarch=arm vmarch=arm ;;
arm-on-arm64) goenv=(GOARCH=arm GOARM=7) dsfarch=arm vmarch=arm64 ;;
*) fail "--arch wants amd64, arm64, arm or arm-on-arm64, got '$arch'" ;;
esac
[[ $arch != amd64 || -z $zip ]] || fail "--zip is for --arch arm64 and arm (the amd64 VM runs a pure-Go build)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export CGO_ENABLED=0
env "${goenv[@]}" go test -c -o "$out/camera.test" ./internal/camera || fail "building internal/camera's tests for $arch failed"
env "${goenv[@]}" go test -c -tags vm -o "$out/e2e.test" ./e2e || fail "building e2e's vm tests for $arch failed"
tests=${VMTEST_TESTS:-}
camera_run="${tests:+-test.run '$tests'}" e2e_run="-test.run '${tests:-Vivid}'"
status=0
if [[ $arch == amd64 ]]; then
	go build -o "$out/usbStream" ./sbc || fail "building usbStream failed"
	# --apparmor: the guest looks like a DSF machine with AppArmor enforcing, so
	# tests can load DSF's profile for usbStream; unconfined processes (all of
	# these tests unless they confine something) are unaffected by it. The
	# profile is generated from plugin.json, hence USBSTREAM_MANIFEST.
	tools/vmtest/run.sh --arch amd64 --apparmor --bin "$out/camera.test" --bin "$out/e2e.test" --bin "$out/usbStream" \
		--vivid-params "n_devs=2 node_types=0x1,0x1" --env USBSTREAM_BINARY=/bin/usbStream \
		--file plugin.json:/data/plugin.json --env USBSTREAM_MANIFEST=/data/plugin.json "${pass[@]}" \
		-- sh -c "/bin/camera.test -test.v -test.timeout 300s $camera_run && /bin/e2e.test -test.v $e2e_run -test.timeout 400s" \
		|| status=$?
	exit "$status"
fi
if [[ -z $zip ]]; then
	version=$(cat VERSION)
	for v in 3.6 3.5; do
		[[ -f dist/usbStream-$version-dsf$v.zip ]] && { zip=dist/usbStream-$version-dsf$v.zip; break; }
	done
	[[ -n $zip ]] || fail "no dist/usbStream-$version-dsf3.6.zip or -dsf3.5.zip: run ./build.sh, or pass --zip"
fi
[[ -f $zip ]] || fail "no such zip: $zip"
echo "camera.sh: $arch VM, usbStream from $zip (dsf/$dsfarch/usbStream)" >&2
# The guest's busybox unzip takes the release binary out of the zip, so what
# runs is byte for byte what users install; its checksum goes to the log.
# Under TCG on ARM everything takes several times longer than on x86, hence
# the longer limits. USBSTREAM_ENCODER makes the streaming test check that
# the binary is the release build (libjpeg-turbo), not a pure-Go one.
tools/vmtest/run.sh --arch "$vmarch" --timeout 1500 --bin "$out/camera.test" --bin "$out/e2e.test" \
	--file "$zip:/data/usbStream.zip" --vivid-params "n_devs=2 node_types=0x1,0x1" \
	--env USBSTREAM_BINARY=/bin/usbStream --env VIVID_CYCLES=10 --env USBSTREAM_ENCODER=libjpeg-turbo "${pass[@]}" \
	-- sh -c "unzip -p /data/usbStream.zip dsf/$dsfarch/usbStream >/bin/usbStream && chmod 755 /bin/usbStream &&
		{ [ -s /bin/usbStream ] || { echo 'the zip has no dsf/$dsfarch/usbStream'; exit 1; }; } &&
		echo \"release binary: \$(sha256sum /bin/usbStream) \$(/bin/usbStream -version)\" &&
		/bin/camera.test -test.v -test.timeout 600s $camera_run && /bin/e2e.test -test.v $e2e_run -test.timeout 800s" \
	|| status=$?
exit "$status"
