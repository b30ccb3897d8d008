#!/usr/bin/env bash
# Installs go2rtc, the relay README's "Many viewers: a relay in front" sets
# up and e2e/relay_test.go drives, as $(go env GOPATH)/bin/go2rtc. A binary
# of the same version already there is kept, so a second run costs nothing.
#
#   tools/relay/install.sh
#
# go2rtc is a Go module, so it comes from the Go module proxy like our own
# dependencies. `go install github.com/AlexxIT/go2rtc@VERSION` would be the
# usual way, but it asks the proxy for the module's list of versions (to
# report a deprecation), and the proxy refuses that list for this module
# while it serves the version itself; building inside the downloaded module
# uses the module's own go.mod and go.sum, as go install would.
set -euo pipefail
export GOTOOLCHAIN=auto
version=v1.9.9
bin="$(go env GOPATH)/bin/go2rtc"

if [[ -x $bin ]] && [[ $("$bin" -version 2>/dev/null) == "go2rtc version ${version#v} "* ]]; then
  echo "relay: $("$bin" -version) already in $bin"
  exit 0
fi
start=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=$(cd "$work" && go mod download -json "github.com/AlexxIT/go2rtc@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
if [[ ! -f $dir/go.mod ]]; then
  echo "relay: github.com/AlexxIT/go2rtc@$version could not be downloaded" >&2
  exit 1
fi
mkdir -p "$(dirname "$bin")"
# CGO_ENABLED=0 as go2rtc's own release builds: one of its packages holds a
# C program that generates V4L2 constants, which a cgo build refuses to
# compile into a package that does not use cgo.
(cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/go2rtc" .)
mv "$work/go2rtc" "$bin"
echo "relay: $("$bin" -version) installed in $bin in $((SECONDS - start)) s"
