package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
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

// -version names the Go release the binary was built with, whose standard
// library is part of what ships.
func TestVersionPrintsGoVersion(t *testing.T) {
	out, err := exec.Command(binary, "-version").CombinedOutput()
	if err != nil {
		t.Fatalf("-version: %v\n%s", err, out)
	}
	want := fmt.Sprintf("usbStream %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if string(out) != want {
		t.Fatalf("-version printed %q, want %q", out, want)
	}
}
