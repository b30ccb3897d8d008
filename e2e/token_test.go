package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usbstream/internal/dsf/dsftest"
)

// codeOf GETs url without credentials and returns the status.
func codeOf(t *testing.T, url string) int {
	t.Helper()
	code, _ := getAuth(t, url, "", "")
	return code
}

// The token follows the configuration while usbStream runs: derived from
// the user and password, it changes with the password; a -token replaces
// it; a -token alone still protects the port. No token of any of them is
// ever in the log, at -verbose, though the stream URLs that carried them
// are logged.
func TestTokenFollowsReloadsAndIsNeverLogged(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "usbStream.config")
	logFile := filepath.Join(dir, "usbStream.log")
	base := "-source test\n-resolution 160x120\n-framerate 10\n-user lapse\n"
	os.WriteFile(cfg, []byte(base+"-password pw1\n"), 0o644)
	s := start(t, "-dsf", "none", "-verbose", "-logfile", logFile, "-file", cfg)

	derived1, _ := tokenOf(t, s, "lapse", "pw1")
	for _, path := range []string{"/snapshot?token=", "/stream?token=", "/?action=snapshot&token=", "/?token="} {
		if code := codeOf(t, s.base+path+derived1); code != 200 {
			t.Errorf("%s with the derived token: %d", path, code)
		}
	}
	if code := codeOf(t, s.base+"/snapshot?token="+derived1[:31]); code != 401 {
		t.Errorf("a wrong token: %d", code)
	}

	saveLikeDWC(t, cfg, base+"-password pw2\n")
	var derived2 string
	eventually(t, 10*time.Second, "the new password in force", func() bool {
		code, _ := getAuth(t, s.base+"/status", "lapse", "pw2")
		return code == 200
	})
	derived2, _ = tokenOf(t, s, "lapse", "pw2")
	if derived2 == derived1 {
		t.Fatal("the derived token did not change with the password")
	}
	if code := codeOf(t, s.base+"/snapshot?token="+derived1); code != 401 {
		t.Errorf("the old derived token after the password changed: %d", code)
	}
	if code := codeOf(t, s.base+"/stream?token="+derived2); code != 200 {
		t.Errorf("the new derived token: %d", code)
	}

	const explicit = "Zq7-explicit-token-0123"
	saveLikeDWC(t, cfg, base+"-password pw2\n-token "+explicit+"\n")
	eventually(t, 10*time.Second, "-token in force", func() bool { return codeOf(t, s.base+"/snapshot?token="+explicit) == 200 })
	if got, _ := tokenOf(t, s, "lapse", "pw2"); got != explicit {
		t.Errorf("/status token %q, want the -token", got)
	}
	if code := codeOf(t, s.base+"/snapshot?token="+derived2); code != 401 {
		t.Errorf("the derived token beside a -token: %d", code)
	}
	if code, _ := getAuth(t, s.base+"/snapshot", "lapse", "pw2"); code != 200 {
		t.Errorf("basic auth beside a -token: %d", code)
	}

	// A -token alone: the token or nothing.
	saveLikeDWC(t, cfg, "-source test\n-resolution 160x120\n-framerate 10\n-token "+explicit+"\n")
	eventually(t, 10*time.Second, "basic auth gone", func() bool {
		code, _ := getAuth(t, s.base+"/snapshot", "lapse", "pw2")
		return code == 401
	})
	for _, path := range []string{"/snapshot", "/stream", "/", "/status"} {
		if code := codeOf(t, s.base+path); code != 401 {
			t.Errorf("%s without the token, -token alone: %d", path, code)
		}
	}
	if code := codeOf(t, s.base+"/stream?token="+explicit); code != 200 {
		t.Errorf("the stream with the token alone: %d", code)
	}
	// And a save that loses it is refused, as one that loses -user/-password.
	saveLikeDWC(t, cfg, "-source test\n-resolution 160x120\n-framerate 10\n")
	// Wait for the refusal itself, so that the check below is made after
	// the reload was decided, not before it happened.
	eventually(t, 5*time.Second, "the save refused", func() bool {
		return strings.Contains(s.output.String(), "has no -token")
	})
	if code := codeOf(t, s.base+"/snapshot"); code != 401 {
		t.Errorf("a save without -token opened the port: %d", code)
	}

	s.stop(t)
	logged, _ := os.ReadFile(logFile)
	for what, text := range map[string]string{"stderr": s.output.String(), "the log file": string(logged)} {
		for name, tok := range map[string]string{"derived": derived1, "derived after the change": derived2, "-token": explicit} {
			if strings.Contains(text, tok) || strings.Contains(text, tok[:12]) {
				t.Errorf("%s shows the %s token:\n%s", what, name, text)
			}
		}
	}
	if !strings.Contains(string(logged), "/stream?token=***") {
		t.Errorf("the log file has no stream URL (with the token hidden), so this test proves nothing:\n%s", logged)
	}
	if !strings.Contains(string(logged), "has no -token") {
		t.Errorf("the log has no refusal of the save that lost -token:\n%s", logged)
	}
}

// Under DSF the token reaches DWC: in the plugin data (for the tab), and
// from GET /machine/usbStream/status to a DWC session; a request with no
// session (anyone who reaches DWC's port) gets the status without it.
func TestDSFStatusGivesTheTokenToDWCSessionsOnly(t *testing.T) {
	l := newDSFLayout(t, dsftest.Profile36, "-source test\n-resolution 160x120\n-framerate 10\n-user lapse\n-password pw\n")
	_, s := l.startPlugin(t)
	token, _ := tokenOf(t, s, "lapse", "pw")

	eventually(t, 10*time.Second, "the token in the plugin data", func() bool {
		d, ok := pluginData(t, l.twin)
		return ok && d.HTTP.Token == token && d.HTTP.TokenPaths["stream"] == "/stream?token="+token
	})

	var code int
	var body []byte
	eventually(t, 10*time.Second, "the status endpoint routed by DWS", func() bool {
		code, _, body = viaDWS(t, l.twin, "/machine/usbStream/status")
		return code == 200
	})
	var d statusDoc
	if code != 200 || json.Unmarshal(body, &d) != nil || !d.HTTP.Auth || d.HTTP.Token != "" || d.HTTP.TokenPaths != nil ||
		strings.Contains(string(body), token) {
		t.Errorf("status without a DWC session: %d %s", code, body)
	}

	resp, body := dwsGetter(t, l.twin)("/machine/usbStream/status", true)
	d = statusDoc{}
	if resp.StatusCode != 200 || json.Unmarshal(body, &d) != nil || d.HTTP.Token != token {
		t.Errorf("status with a DWC session: %d %s", resp.StatusCode, body)
	}
}
