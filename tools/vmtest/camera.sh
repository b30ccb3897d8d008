#!/usr/bin/env bash
# Runs the camera tests against the real vivid V4L2 driver inside the qemu
# VM (two capture-only vivid instances): internal/camera's tests, then the
# whole usbStream binary driven over HTTP (sbc's TestVivid* tests). Extra
# arguments go to run.sh, e.g. --timeout 900. The last line is
# "vmtest: PASS (...)" or "vmtest: FAIL (...)"; the exit status says the same.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=auto # the Go release go.mod asks for (see tools/lib.sh)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export CGO_ENABLED=0
go test -c -o "$out/camera.test" ./internal/camera
go test -c -o "$out/sbc.test" ./sbc
go build -o "$out/usbStream" ./sbc
status=0
# --apparmor: the guest looks like a DSF machine with AppArmor enforcing, so
# tests can load DSF's profile for usbStream; unconfined processes (all of
# these tests unless they confine something) are unaffected by it. The
# profile is generated from plugin.json, hence USBSTREAM_MANIFEST.
tools/vmtest/run.sh --apparmor --bin "$out/camera.test" --bin "$out/sbc.test" --bin "$out/usbStream" \
	--vivid-params "n_devs=2 node_types=0x1,0x1" --env USBSTREAM_BINARY=/bin/usbStream \
	--file plugin.json:/data/plugin.json --env USBSTREAM_MANIFEST=/data/plugin.json "$@" \
	-- sh -c '/bin/camera.test -test.v -test.timeout 300s && /bin/sbc.test -test.v -test.run Vivid -test.timeout 400s' \
	|| status=$?
exit "$status"
