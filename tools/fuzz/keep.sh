#!/usr/bin/env bash
# Copies a few inputs from Go's fuzz cache into the committed seed corpora,
# so that CI's short runs (tools/fuzz/run.sh 10s) start from what the long
# runs found instead of from scratch.
#
#   tools/fuzz/keep.sh          # up to 12 entries per target
#   tools/fuzz/keep.sh 5
#
# For each target it takes the entries the fuzzer added last (the cache keeps
# only inputs that reached new coverage; the late ones are the hard-to-reach
# ones), skipping files over MAX_BYTES (default 4096) and inputs already in
# testdata/fuzz/<Target>/. Files keep Go's hash names. Run `go test ./...`
# (and `go test -tags turbojpeg ./internal/jpeg/...`) afterwards, then review
# and commit what it copied.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=auto # the Go release go.mod asks for (see tools/lib.sh)

n=${1:-12}
max=${MAX_BYTES:-4096}
mod=$(go list -m)
cache=$(go env GOCACHE)/fuzz/$mod

list=$(go test -list '^Fuzz' ./...)
pending=()
while IFS= read -r line; do
  case "$line" in
    Fuzz*) pending+=("$line") ;;
    "ok "*)
      pkg=$(awk '{print $2}' <<<"$line")
      dir=.${pkg#"$mod"}
      for t in "${pending[@]}"; do
        src=$cache${pkg#"$mod"}/$t
        dst=$dir/testdata/fuzz/$t
        [[ -d "$src" ]] || { echo "$t: nothing in $src"; continue; }
        mkdir -p "$dst"
        copied=0
        have=$(for g in "$dst"/*; do [[ -f "$g" ]] && sha256sum <"$g" | cut -d' ' -f1; done || true)
        # Newest first.
        while IFS= read -r f; do
          ((copied < n)) || break
          [[ $(stat -c %s "$src/$f") -le $max ]] || continue
          [[ -e "$dst/$f" ]] && continue
          # Skip an input testdata already holds under another name.
          sum=$(sha256sum <"$src/$f" | cut -d' ' -f1)
          grep -qxF "$sum" <<<"$have" && continue
          cp "$src/$f" "$dst/$f"
          copied=$((copied + 1))
        done < <(ls -t "$src")
        echo "$t: copied $copied of $(ls "$src" | wc -l) cached entries to $dst"
      done
      pending=()
      ;;
  esac
done <<<"$list"
