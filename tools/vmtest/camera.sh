#!/usr/bin/env bash
# Runs internal/camera's tests against the real vivid V4L2 driver inside the
# qemu VM (two capture-only vivid instances). Extra arguments go to run.sh,
# e.g. --timeout 900. The last line is "vmtest: PASS (...)" or "vmtest: FAIL (...)".
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CGO_ENABLED=0 go test -c -o "$out/camera.test" ./internal/camera
status=0
tools/vmtest/run.sh --bin "$out/camera.test" --vivid-params "n_devs=2 node_types=0x1,0x1" "$@" \
	-- /bin/camera.test -test.v -test.timeout 400s || status=$?
exit "$status"
