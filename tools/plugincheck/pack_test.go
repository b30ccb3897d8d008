package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stage lays out dist/-like trees: dsf/<arch>/usbStream and dwc/js/<chunk>.
func stage(t *testing.T) (dsf, dwc string) {
	t.Helper()
	b := testBins(t)
	root := t.TempDir()
	dsf, dwc = filepath.Join(root, "dsf"), filepath.Join(root, "dwc")
	for _, arch := range requiredArchs {
		os.MkdirAll(filepath.Join(dsf, arch), 0o755)
		// 0700: the zip must say 0755 whatever the umask left.
		if err := os.WriteFile(filepath.Join(dsf, arch, "usbStream"), b[arch], 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dwc, "js"), 0o755)
	if err := os.WriteFile(filepath.Join(dwc, "js", "usbStream.0123abcd.js"), []byte(goodChunk), 0o600); err != nil {
		t.Fatal(err)
	}
	return dsf, dwc
}

// The repository's own manifest template and default config, packed the way
// build.sh packs them, pass every rule; the same inputs give the same bytes.
func TestPackRepositoryTemplate(t *testing.T) {
	dsf, dwc := stage(t)
	out := t.TempDir()
	var zips [][]byte
	for i, dsfVersion := range []string{"3.5", "3.6", "3.6"} {
		name := filepath.Join(out, "usbStream-0.2.0-dsf"+dsfVersion+".zip")
		if i == 2 {
			// Repack into another folder: identical output expected.
			name = filepath.Join(t.TempDir(), "usbStream-0.2.0-dsf3.6.zip")
		}
		rep, err := Pack(PackSpec{
			Manifest: "../../plugin.json",
			Set:      map[string]string{"version": "0.2.0", "dwcVersion": dsfVersion, "sbcDsfVersion": dsfVersion},
			Trees:    map[string]string{"dsf": dsf, "dwc": dwc, "sd": "../../sd"},
			Out:      name,
			MTime:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) > 0 {
			t.Fatalf("%s: %v", name, rep.Problems)
		}
		z, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		zips = append(zips, z)

		zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
			wantMode := "-rw-r--r--"
			if strings.HasPrefix(f.Name, "dsf/") {
				wantMode = "-rwxr-xr-x"
			}
			if f.Mode().String() != wantMode {
				t.Errorf("%s: mode %v, want %s", f.Name, f.Mode(), wantMode)
			}
			if f.Name == "plugin.json" {
				rc, _ := f.Open()
				var m map[string]any
				if err := json.NewDecoder(rc).Decode(&m); err != nil {
					t.Fatal(err)
				}
				rc.Close()
				if m["version"] != "0.2.0" || m["dwcVersion"] != dsfVersion || m["sbcDsfVersion"] != dsfVersion {
					t.Errorf("manifest: version %v dwcVersion %v sbcDsfVersion %v", m["version"], m["dwcVersion"], m["sbcDsfVersion"])
				}
			}
		}
		want := "plugin.json dsf/arm/usbStream dsf/arm64/usbStream dsf/x86_64/usbStream dwc/js/usbStream.0123abcd.js sd/sys/usbStream/usbStream.config"
		if got := strings.Join(names, " "); got != want {
			t.Errorf("entries\n got %s\nwant %s", got, want)
		}
	}
	if !bytes.Equal(zips[1], zips[2]) {
		t.Error("packing the same inputs twice gave different zips")
	}
}

// A zip that breaks a rule is never written: no OUT, no temporary file.
func TestPackRefusesBadZip(t *testing.T) {
	dsf, dwc := stage(t)
	os.Remove(filepath.Join(dsf, "arm64", "usbStream"))
	out := t.TempDir()
	name := filepath.Join(out, "usbStream-0.2.0-dsf3.6.zip")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-pack", name, "-manifest", "../../plugin.json",
		"-set", "version=0.2.0", "-set", "dwcVersion=3.6", "-set", "sbcDsfVersion=3.6",
		"-tree", "dsf=" + dsf, "-tree", "dwc=" + dwc, "-tree", "sd=../../sd"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), name+": binary.missing: dsf/arm64/usbStream is missing") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestSetManifestKeepsOrder(t *testing.T) {
	in := []byte(`{"id":"usbStream","version":"0.1.0","tags":["a", "b"],"data":{"status":null}}`)
	out, err := setManifest(in, map[string]string{"version": "0.2.0", "dwcVersion": "3.5"})
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"id\": \"usbStream\",\n  \"version\": \"0.2.0\",\n  \"tags\": [\n    \"a\",\n    \"b\"\n  ],\n" +
		"  \"data\": {\n    \"status\": null\n  },\n  \"dwcVersion\": \"3.5\"\n}\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if _, err := setManifest([]byte(`{"id":"a","id":"b"}`), nil); err == nil {
		t.Error("duplicate key accepted")
	}
}
