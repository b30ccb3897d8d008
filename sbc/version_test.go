package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// VERSION is the one place the version is set; build.sh stamps it into
// release binaries, manifests and zip names. The defaults in the tree must
// agree with it so that a plain `go build` and the manifest do not drift.
func TestVersionMatchesVERSIONFile(t *testing.T) {
	b, err := os.ReadFile("../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(b))
	if version != want+"-dev" {
		t.Errorf("sbc's default version %q, want %q", version, want+"-dev")
	}
	var m struct{ Version string }
	raw, _ := os.ReadFile("../plugin.json")
	if err := json.Unmarshal(raw, &m); err != nil || m.Version != want {
		t.Errorf("plugin.json version %q (%v), want %q", m.Version, err, want)
	}
}
