#!/usr/bin/env bash
# Proves that run.sh --apparmor gives a guest in which the AppArmor profile
# DSF generates for usbStream (apparmor-selftest.profile, DSF's template
# as is) loads with apparmor_parser and is enforced: a program started from
# the plugin's directory runs confined, reads of files the profile does not
# name fail while unconfined ones work, and each file-system call usbStream
# relies on is checked on its own with tools/vmtest/aaprobe. The guest half
# is apparmor-selftest-guest.sh. Extra arguments go to run.sh before "--",
# e.g.
#
#   tools/vmtest/apparmor-selftest.sh --timeout 300 -k
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=auto # the Go release go.mod asks for (see tools/lib.sh)

out=$(mktemp -d "${TMPDIR:-/tmp}/vmtest-apparmor.XXXXXX")
trap 'rm -rf "$out"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$out/aaprobe" ./tools/vmtest/aaprobe

# One capture-only vivid node: /dev/video0 is vivid-000-vid-cap.
# No exec: the EXIT trap must still remove the build directory.
status=0
tools/vmtest/run.sh --apparmor --bin "$out/aaprobe" --vivid-params "n_devs=1 node_types=0x1" \
	--file tools/vmtest/apparmor-selftest.profile:/data/usbStream.profile \
	--file tools/vmtest/apparmor-selftest-guest.sh:/data/apparmor-selftest.sh "$@" \
	-- sh /data/apparmor-selftest.sh || status=$?
exit "$status"
