#!/usr/bin/env bash
# govulncheck over usbStream's code, both builds (pure Go and -tags
# turbojpeg), with the Go toolchain go.mod names, against the newest Go
# vulnerability database on the Go module proxy.
#
#   tools/vulncheck/run.sh
#
# vuln.go.dev is not reachable from CI, but the database's source,
# golang.org/x/vulndb, is a module: its data/osv holds every report as an OSV
# file, and govulncheck reads such a folder with -db file://. Before the real
# scan a canary module calls a function with a known report
# (golang.org/x/text v0.3.5, language.Parse, GO-2021-0113): if that is not
# found the database or the scan is broken, and a clean result would mean
# nothing.
#
# Exit status 0: no known vulnerability reachable from our code; 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export GOTOOLCHAIN=auto # the Go release go.mod asks for: its standard library is what ships
govulncheck=golang.org/x/vuln/cmd/govulncheck@v1.9.0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db_version=$(cd "$work" && go list -m -f '{{.Version}}' golang.org/x/vulndb@latest)
db_dir=$(cd "$work" && go mod download -json "golang.org/x/vulndb@$db_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
reports=$(find "$db_dir/data/osv" -name 'GO-*.json' | wc -l)
if ((reports < 1000)); then
  echo "vulncheck: only $reports reports in $db_dir/data/osv; the database looks broken" >&2
  exit 1
fi
db_time=$(cd "$work" && go list -m -f '{{.Time}}' "golang.org/x/vulndb@$db_version")
echo "vulncheck: database golang.org/x/vulndb@$db_version ($reports reports, $db_time), $(go version | cut -d' ' -f3)"

# The canary must be found.
mkdir "$work/canary"
cat >"$work/canary/main.go" <<'EOF'
package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() { fmt.Println(language.Parse("en-US")) }
EOF
(
  cd "$work/canary"
  go mod init canary >/dev/null 2>&1
  go get golang.org/x/text@v0.3.5 >/dev/null 2>&1
  go run "$govulncheck" -db "file://$db_dir/data/osv" . >"$work/canary.txt" 2>&1 || true
)
if ! grep -q "GO-2021-0113" "$work/canary.txt"; then
  echo "vulncheck: the canary's known vulnerability GO-2021-0113 was not reported; the scan cannot be trusted:" >&2
  cat "$work/canary.txt" >&2
  exit 1
fi
echo "vulncheck: canary found (GO-2021-0113 in golang.org/x/text@v0.3.5)"

rc=0
for tags in "" turbojpeg; do
  echo "vulncheck: usbStream${tags:+ -tags $tags}"
  (cd "$root" && go run "$govulncheck" -db "file://$db_dir/data/osv" ${tags:+-tags "$tags"} ./...) || rc=1
done
exit "$rc"
