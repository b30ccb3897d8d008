package dsftest

import (
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// DWC's editor saves through PUT /machine/file: .part, then a rename over
// the target, so the file gets a new inode.
func TestPutFileRenames(t *testing.T) {
	tw := startTwin(t, Options{})
	target := filepath.Join(tw.SDRoot(), "sys/usbStream/usbStream.config")
	u := tw.HTTPURL() + "/machine/file/" + url.PathEscape("0:/sys/usbStream/usbStream.config")

	resp, body := do(t, "PUT", u, "-port 8090\n", nil)
	if resp.StatusCode != 201 || body != "" || resp.Header.Get("Location") != "0:/sys/usbStream/usbStream.config" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
	}
	if b, _ := os.ReadFile(target); string(b) != "-port 8090\n" {
		t.Fatalf("content %q", b)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode())
	}
	before := inode(t, target)
	key := sessionKey(t, tw, "")
	if resp, _ := do(t, "PUT", u, "-port 8091\n", map[string]string{"X-Session-Key": key}); resp.StatusCode != 201 {
		t.Fatalf("second save %d", resp.StatusCode)
	}
	if b, _ := os.ReadFile(target); string(b) != "-port 8091\n" {
		t.Fatalf("content %q", b)
	}
	if inode(t, target) == before {
		t.Fatal("saved in place; DWS replaces the file by rename")
	}
	if _, err := os.Stat(target + ".part"); !os.IsNotExist(err) {
		t.Fatal(".part left behind")
	}
	if resp, body := do(t, "GET", u, "", nil); resp.StatusCode != 200 || body != "-port 8091\n" {
		t.Fatalf("GET %d %q", resp.StatusCode, body)
	}

	if resp, body := do(t, "PUT", tw.HTTPURL()+"/machine/file/"+url.PathEscape("1:/x"), "x", nil); resp.StatusCode != 500 || body != "Invalid drive index" {
		t.Fatalf("bad drive: %d %q", resp.StatusCode, body)
	}
	for _, k := range []string{"", "made-up"} {
		if resp, _ := do(t, "PUT", u, "x", map[string]string{"X-Session-Key": k}); resp.StatusCode != 401 {
			t.Fatalf("key %q that DWS did not issue: %d", k, resp.StatusCode)
		}
	}
	// Without DCS: no anonymous session can be made, and a known session
	// cannot resolve the path.
	tw.Stop()
	if resp, _ := do(t, "PUT", u, "x", nil); resp.StatusCode != 401 {
		t.Fatalf("DCS down, no key: %d", resp.StatusCode)
	}
	if resp, body := do(t, "PUT", u, "x", map[string]string{"X-Session-Key": key}); resp.StatusCode != 503 || body != dcsDownMessage {
		t.Fatalf("DCS down: %d %q", resp.StatusCode, body)
	}
	if b, _ := os.ReadFile(target); string(b) != "-port 8091\n" {
		t.Fatalf("content changed while DCS was down: %q", b)
	}
}

// The legacy rr_upload writes in place (same inode).
func TestRRUploadInPlace(t *testing.T) {
	tw := startTwin(t, Options{})
	target := filepath.Join(tw.SDRoot(), "sys/usbStream/usbStream.config")
	os.MkdirAll(filepath.Dir(target), 0o755)
	os.WriteFile(target, []byte("old content that is longer"), 0o644)
	before := inode(t, target)
	resp, body := do(t, "POST", tw.HTTPURL()+"/rr_upload?name="+url.QueryEscape("0:/sys/usbStream/usbStream.config"), "new", nil)
	if resp.StatusCode != 200 || body != `{"err":0}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
	if inode(t, target) != before {
		t.Fatal("rr_upload replaced the file")
	}
	if _, body := do(t, "POST", tw.HTTPURL()+"/rr_upload?name=0:/x&crc32=00000000", "new", nil); body != `{"err":1}` {
		t.Fatalf("bad crc: %q", body)
	}
	if _, body := do(t, "POST", tw.HTTPURL()+"/rr_upload", "new", nil); body != `{"err":1}` {
		t.Fatalf("no name: %q", body)
	}
}
