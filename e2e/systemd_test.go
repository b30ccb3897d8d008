package e2e

// contrib/usbStream.service, the unit for a standalone install: systemd
// accepts it, and its restart rules and the binary's exit statuses fit
// together so that no mistake becomes a restart loop.

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"usbstream/internal/nettest"
)

// unitSettings reads the [Service] section's Key=Value lines (the last one
// of a key wins, as in systemd; "Key=" resets).
func unitSettings(unit []byte) map[string]string {
	out := map[string]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(unit))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			out[k] = v
		}
	}
	return out
}

func TestSystemdUnit(t *testing.T) {
	analyze := need(t, "systemd-analyze")
	text := repoFile(t, "contrib/usbStream.service")
	svc := unitSettings(text)
	const installed = "/usr/local/bin/usbStream"
	exec0 := strings.Fields(svc["ExecStart"])
	if len(exec0) < 3 || exec0[0] != installed || exec0[1] != "-file" {
		t.Fatalf("ExecStart=%s, want %s -file CONFIG", svc["ExecStart"], installed)
	}

	// systemd's own parser, with ExecStart pointing at this build (verify
	// checks that the program exists). Any remark is a failure: a
	// misspelt key is only a warning to systemd, and then ignored.
	copyPath := filepath.Join(t.TempDir(), "usbStream.service")
	os.WriteFile(copyPath, []byte(strings.ReplaceAll(string(text), installed, binary)), 0o644)
	out, err := exec.Command(analyze, "verify", "--man=no", copyPath).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	// Restart after failures, never after status 2.
	if svc["Restart"] != "always" || !strings.Contains(" "+svc["RestartPreventExitStatus"]+" ", " 2 ") {
		t.Fatalf("Restart=%s RestartPreventExitStatus=%s", svc["Restart"], svc["RestartPreventExitStatus"])
	}
	// What the unit starts, as systemd starts it (no terminal): a config
	// file with an error keeps it running, so systemd never restarts it...
	cfg := filepath.Join(t.TempDir(), "usbStream.config")
	os.WriteFile(cfg, []byte("-rotate 45\n"), 0o644)
	port := nettest.FreePort(t)
	s := spawn(t, exec.Command(binary, "-file", cfg, "-host", "127.0.0.1", "-port", strconv.Itoa(port), "-dsf", "none"), port)
	if exited, err := s.waitExit(2 * time.Second); exited {
		t.Fatalf("exited with a broken config file, which systemd would restart every %ss: %v\n%s",
			svc["RestartSec"], err, s.output)
	}
	s.cmd.Process.Signal(os.Interrupt)
	if exited, err := s.waitExit(5 * time.Second); !exited || err != nil {
		t.Fatalf("exit after SIGINT: exited %v, %v", exited, err)
	}
	// ...and a broken command line exits with the status the unit does
	// not restart on.
	err = exec.Command(binary, "-file", cfg, "-nosuchoption").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("bad command line: %v, want status 2", err)
	}
}
