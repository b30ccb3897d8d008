//go:build zip

package e2e

// The released zip, installed and started the way DSF does it: files put
// where DSF's installer puts them, the executable for this machine started
// by the twin's plugin service with the manifest's arguments, stopped with
// SIGTERM and a 4 s SIGKILL deadline. .ci/run runs it after ./build.sh for
// each zip: go test -tags zip -run TestInstalledZipRunsUnderDSF ./e2e -zip ZIP

import (
	"archive/zip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"usbstream/internal/dsf/dsftest"
	"usbstream/internal/nettest"
)

var zipPath = flag.String("zip", "", "the plugin zip to install (built by ./build.sh)")

// dsfArch is the folder DSF picks the executable from
// (DuetPluginService/Commands/InstallPlugin.cs).
func dsfArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "386":
		return "x86"
	}
	return runtime.GOARCH
}

// installZip extracts a plugin zip the way DSF's installer maps entries:
// dsf/ → plugins/<id>/dsf/, sd/ → the SD root, plugin.json → manifest.
func installZip(t *testing.T, zipPath, pluginDir, sdRoot string) []byte {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var manifest []byte
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var dest string
		switch {
		case f.Name == "plugin.json":
			manifest = data
			continue
		case strings.HasPrefix(f.Name, "dsf/"):
			dest = filepath.Join(pluginDir, f.Name)
		case strings.HasPrefix(f.Name, "sd/"):
			dest = filepath.Join(sdRoot, strings.TrimPrefix(f.Name, "sd/"))
		default:
			continue // dwc/: served by DWS, not needed here
		}
		os.MkdirAll(filepath.Dir(dest), 0o775)
		if err := os.WriteFile(dest, data, 0o664); err != nil {
			t.Fatal(err)
		}
	}
	if manifest == nil {
		t.Fatal("no plugin.json in the zip")
	}
	return manifest
}

func TestInstalledZipRunsUnderDSF(t *testing.T) {
	if *zipPath == "" {
		t.Fatal("the zip tag's test needs -zip PATH, a zip ./build.sh built")
	}
	root, err := os.MkdirTemp("", "dsf")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(root)
	pluginDir := filepath.Join(root, "plugins", "usbStream")
	sdRoot := filepath.Join(root, "sd")
	manifest := installZip(t, *zipPath, pluginDir, sdRoot)
	var m struct {
		Version                string
		SbcExecutable          string
		SbcExecutableArguments string
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(pluginDir, "dsf", dsfArch(), m.SbcExecutable)
	// The installer makes the executables mode 770
	// (DuetPluginService/Commands/InstallPlugin.cs).
	if err := os.Chmod(exe, 0o770); err != nil {
		t.Fatalf("no executable for %s in the zip: %v", dsfArch(), err)
	}

	twin, err := dsftest.Start(dsftest.Options{Dir: root, Manifest: manifest, RejectUnregistered: true})
	if err != nil {
		t.Fatal(err)
	}
	defer twin.Close()
	// The manifest's arguments name /opt/dsf/sd; here the SD root is the
	// twin's. The test's own options come after -file, so they override
	// the shipped config (the port, the camera this machine lacks).
	args := strings.Fields(strings.ReplaceAll(m.SbcExecutableArguments, "/opt/dsf/sd", sdRoot))
	port := nettest.FreePort(t)
	args = append(args, "-host", "127.0.0.1", "-port", fmt.Sprint(port), "-source", "test", "-dsf", twin.SocketPath())
	s := serverFor(exec.Command(exe, args...), port)
	proc, err := twin.StartPlugin(s.cmd, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "endpoints and plugin data", func() bool {
		d, ok := pluginData(t, twin)
		return endpointCount(twin) == 3 && ok && d.Source.State == "streaming"
	})
	var body []byte
	eventually(t, 3*time.Second, "status through DWS", func() bool {
		var code int
		code, _, body = viaDWS(t, twin, "/machine/usbStream/status")
		return code == 200
	})
	var st statusDoc
	json.Unmarshal(body, &st)
	if st.Version != m.Version || st.HTTP.Port != port {
		t.Fatalf("installed binary reports version %q port %d, manifest %q, port %d", st.Version, st.HTTP.Port, m.Version, port)
	}
	if _, err := os.Stat(filepath.Join(sdRoot, "sys", "usbStream", "usbStream.log")); err != nil {
		t.Fatalf("no log on the SD card: %v\n%s", err, s.output.String())
	}
	began := time.Now()
	if err := proc.Stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, s.output.String())
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Fatalf("stopping took %v; DSF kills after 4 s", took)
	}
	if n := endpointCount(twin); n != 0 {
		t.Fatalf("%d endpoints left after stop", n)
	}
}
