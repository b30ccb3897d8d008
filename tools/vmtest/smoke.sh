#!/usr/bin/env bash
# Proves the vmtest harness end to end: builds tools/vmtest/smoke statically
# and runs it in the VM against vivid (capture, simulated unplug, module
# unload/reload). Extra arguments go to run.sh before "--", e.g.
#
#   tools/vmtest/smoke.sh --timeout 300 -k
#
# By default two vivid instances with only a capture node each
# (node_types=0x1) make /dev/video0 and /dev/video1 capture devices, which
# also checks that module parameters reach the guest (-want-nodes 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=auto # the Go release go.mod asks for (see tools/lib.sh)

out=$(mktemp -d "${TMPDIR:-/tmp}/vmtest-smoke.XXXXXX")
trap 'rm -rf "$out"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$out/vmtest-smoke" ./tools/vmtest/smoke

# An explicit VIVID_PARAMS (even empty) replaces the default, and then the
# node count is not known in advance.
params=${VIVID_PARAMS-n_devs=2 node_types=0x1,0x1}
want=()
[[ -n ${VIVID_PARAMS+set} ]] || want=(-want-nodes 2)

# No exec: the EXIT trap must still remove the build directory.
status=0
tools/vmtest/run.sh --bin "$out/vmtest-smoke" --vivid-params "$params" "$@" \
	-- /bin/vmtest-smoke "${want[@]}" || status=$?
exit "$status"
