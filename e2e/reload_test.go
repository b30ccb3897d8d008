package e2e

// Live config reload, end to end: the real binary watches a real file that
// the test saves the ways DWC and other tools do, while a real stream
// client stays connected.

import (
	"fmt"
	"image"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"usbstream/internal/nettest"
)

func TestReloadAppliesSavesWhileClientsStay(t *testing.T) {
	base := "-source test\n-resolution 320x240\n-framerate 10\n"
	s, cfgPath := startOnConfig(t, base)
	w := watch(t, s.base+"/stream")
	if sz := latestSize(t, w, time.Now().Add(-time.Hour)); sz != image.Pt(320, 240) {
		t.Fatalf("first frames are %v", sz)
	}

	// DWC's way: .part then rename. A quarter turn turns the test pattern.
	saved := time.Now()
	saveLikeDWC(t, cfgPath, base+"-rotate 90\n")
	d := waitStatus(t, s.base, "", "", "rotate 90 applied", func(d statusDoc) bool { return d.Config.OK && d.Config.LoadedAt.After(saved) })
	if strings.Join(d.Config.Changed, " ") != "-rotate" {
		t.Fatalf("changed %v, want -rotate", d.Config.Changed)
	}
	if sz := latestSize(t, w, time.Now().Add(300*time.Millisecond)); sz != image.Pt(240, 320) {
		t.Fatalf("after -rotate 90 frames are %v", sz)
	}

	// In place, as rr_upload and text editors write.
	saved = time.Now()
	os.WriteFile(cfgPath, []byte(base+"-rotate 90\n-quality 40\n"), 0o644)
	waitStatus(t, s.base, "", "", "quality applied", func(d statusDoc) bool {
		return d.Config.LoadedAt.After(saved) && strings.Join(d.Config.Changed, " ") == "-quality"
	})

	// A mistake: nothing changes, the status says where.
	saved = time.Now()
	saveLikeDWC(t, cfgPath, base+"-rotate 45\n")
	d = waitStatus(t, s.base, "", "", "the error", func(d statusDoc) bool { return !d.Config.OK })
	if !strings.Contains(d.Config.Error, "usbStream.config:4: -rotate 45") {
		t.Fatalf("error %q does not name file:line and the option", d.Config.Error)
	}
	if sz := latestSize(t, w, time.Now()); sz != image.Pt(240, 320) {
		t.Fatalf("an invalid file changed the stream: frames are %v", sz)
	}
	if !strings.Contains(s.output.String(), "still running with the last good configuration") {
		t.Fatalf("no log line about the invalid file\n%s", s.output)
	}

	// Deleted: keep going. Recreated: applied.
	os.Remove(cfgPath)
	time.Sleep(400 * time.Millisecond)
	if statusOf(t, s.base, "", "").Config.Error == "" {
		t.Fatal("deleting the file cleared the previous error without a new config")
	}
	saved = time.Now()
	os.WriteFile(cfgPath, []byte(base), 0o644)
	waitStatus(t, s.base, "", "", "recreated file applied", func(d statusDoc) bool { return d.Config.OK && d.Config.LoadedAt.After(saved) })
	if sz := latestSize(t, w, time.Now().Add(300*time.Millisecond)); sz != image.Pt(320, 240) {
		t.Fatalf("after the file came back frames are %v", sz)
	}

	// The client saw every change on the same connection.
	if err := w.broken(); err != nil {
		t.Fatalf("the stream client was disconnected: %v", err)
	}
}

// 100 saves in 10 s, valid and invalid mixed: no crash, and the last one
// wins.
func TestReloadManySaves(t *testing.T) {
	s, cfgPath := startOnConfig(t, "-source test\n-resolution 160x120\n")
	for i := range 100 {
		content := fmt.Sprintf("-source test\n-resolution 160x120\n-quality %d\n", 10+i%80)
		if i%7 == 3 {
			content += "-rotate 45\n" // invalid
		}
		if i%2 == 0 {
			saveLikeDWC(t, cfgPath, content)
		} else {
			os.WriteFile(cfgPath, []byte(content), 0o644)
		}
		time.Sleep(100 * time.Millisecond)
	}
	saveLikeDWC(t, cfgPath, "-source test\n-resolution 160x120\n-framerate 5\n")
	if st, won := pollStatus(t, s.base, "", "", 3*time.Second, func(st statusDoc) bool {
		return st.Config.OK && st.Source.TargetFPS == 5
	}); !won {
		t.Fatalf("the last save did not win: %+v %+v", st.Config, st.Source)
	}
}

// A new port opens first, then the old one closes; a port another program
// holds is refused and the old one kept.
func TestReloadMovesThePort(t *testing.T) {
	base := "-source test\n-resolution 160x120\n"
	s, cfgPath := startOnConfig(t, base)

	_, takenPort := nettest.Taken(t)
	saveLikeDWC(t, cfgPath, base+fmt.Sprintf("-port %d\n", takenPort))
	d := waitStatus(t, s.base, "", "", "port-in-use error", func(d statusDoc) bool { return d.HTTP.Error != "" })
	if !strings.Contains(d.HTTP.Error, "already in use") {
		t.Fatalf("error %q", d.HTTP.Error)
	}
	if d.HTTP.Port == takenPort {
		t.Fatal("status claims the taken port")
	}

	newPort := nettest.FreePort(t)
	saveLikeDWC(t, cfgPath, base+fmt.Sprintf("-port %d\n", newPort))
	newBase := fmt.Sprintf("http://127.0.0.1:%d", newPort)
	deadline := time.Now().Add(2 * time.Second)
	for {
		resp, err := http.Get(newBase + "/status")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new port %d not serving: %v\n%s", newPort, err, s.output)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := statusOf(t, newBase, "", ""); d.HTTP.Port != newPort || d.HTTP.Error != "" {
		t.Fatalf("status after the move: %+v", d.HTTP)
	}
	if _, err := http.Get(s.base + "/status"); err == nil {
		t.Fatal("the old port still answers")
	}
	s.base = newBase // so that the cleanup's checks use the live port
}

// The client limits apply to the next request after a save; streams already
// open are never cut by a lower limit.
func TestReloadChangesClientLimits(t *testing.T) {
	s, cfgPath := startOnConfig(t, "-source test\n-resolution 160x120\n-maxclientsperip 1\n")
	first, err := http.Get(s.base + "/stream")
	if err != nil || first.StatusCode != 200 {
		t.Fatalf("first stream: %v %v", first, err)
	}
	defer first.Body.Close()
	second := func() (int, string) {
		resp, err := http.Get(s.base + "/snapshot")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := make([]byte, 200)
		n, _ := io.ReadFull(resp.Body, b)
		return resp.StatusCode, string(b[:n])
	}
	if code, body := second(); code != 503 || !strings.Contains(body, "-maxclientsperip") {
		t.Fatalf("second client from the same address with -maxclientsperip 1: %d %q", code, body)
	}

	saveLikeDWC(t, cfgPath, "-source test\n-resolution 160x120\n-maxclientsperip 0\n-maxclients 1\n")
	d := waitStatus(t, s.base, "", "", "-maxclients 1", func(d statusDoc) bool {
		return d.Config.OK && strings.Contains(strings.Join(d.Config.Changed, " "), "-maxclients")
	})
	if code, body := second(); code != 503 || !strings.Contains(body, "-maxclients)") {
		t.Fatalf("with -maxclients 1 and one stream open: %d %q", code, body)
	}
	// The open stream still delivers frames.
	buf := make([]byte, 4096)
	if n, err := io.ReadAtLeast(first.Body, buf, len(buf)); err != nil {
		t.Fatalf("the open stream stopped after the reload: %d bytes, %v", n, err)
	}

	saveLikeDWC(t, cfgPath, "-source test\n-resolution 160x120\n")
	waitStatus(t, s.base, "", "", "defaults", func(next statusDoc) bool {
		return next.Config.OK && next.Config.LoadedAt.After(d.Config.LoadedAt)
	})
	if code, body := second(); code != 200 {
		t.Fatalf("with the limits back at their defaults: %d %q", code, body)
	}
}
