package logging

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestFileAppendsAcrossOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "usbStream.log")
	for _, line := range []string{"first run\n", "second run\n"} {
		f, err := OpenFile(path, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(line))
		f.Close()
	}
	got, _ := os.ReadFile(path)
	if string(got) != "first run\nsecond run\n" {
		t.Fatalf("log file = %q, want both runs appended", got)
	}
}

func TestFileRotatesAtLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usbStream.log")
	f, err := OpenFile(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := strings.Repeat("x", 39) + "\n"
	for i := 0; i < 7; i++ {
		f.Write([]byte(line))
	}
	cur, _ := os.Stat(path)
	old, err := os.Stat(path + ".1")
	if err != nil {
		t.Fatalf("no rotated file: %v", err)
	}
	if cur.Size() > 100 || old.Size() > 100 {
		t.Fatalf("sizes %d and %d exceed the 100-byte limit", cur.Size(), old.Size())
	}
	if total := cur.Size() + old.Size(); total != 3*40 {
		// 7 lines of 40 bytes, limit 100: the .1 file holds lines 5-6 and
		// the current file line 7; anything else means lost or extra lines.
		t.Fatalf("kept %d bytes, want 120 (the last three lines)", total)
	}
}

func TestNewFallsBackToStderrWhenFileUnwritable(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o644)
	log, out, warning := New(false, filepath.Join(blocker, "usbStream.log"))
	defer out.Close()
	if warning == nil || !strings.Contains(warning.Error(), "stderr only") {
		t.Fatalf("warning = %v, want a stderr-only warning", warning)
	}
	if log == nil {
		t.Fatal("no logger returned")
	}
	log.Info("still logs")
}

func TestOutputSwitchesFileAndLevel(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	log, out, warning := New(false, a)
	defer out.Close()
	if warning != nil {
		t.Fatal(warning)
	}
	log.Debug("hidden")
	log.Info("one")
	if err := out.Set(true, b); err != nil {
		t.Fatal(err)
	}
	log.Debug("two")
	if err := out.Set(false, ""); err != nil || out.Path() != "" {
		t.Fatalf("%v %q", err, out.Path())
	}
	log.Info("three")
	got := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	if s := got(a); !strings.Contains(s, "one") || strings.Contains(s, "hidden") || strings.Contains(s, "two") {
		t.Fatalf("a.log: %q", s)
	}
	if s := got(b); !strings.Contains(s, "two") || strings.Contains(s, "three") {
		t.Fatalf("b.log: %q", s)
	}
}

// A FIFO as the log blocks an ordinary open until something reads it; it
// must be refused at once, as must a folder. /dev/null is a fine log.
func TestOpenFileRefusesFIFOs(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "usbStream.log")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := OpenFile("/dev/null", 1<<20); err != nil {
		t.Errorf("/dev/null: %v", err)
	} else {
		f.Close()
	}
	for _, path := range []string{fifo, dir} {
		done := make(chan error, 1)
		go func() {
			f, err := OpenFile(path, 1<<20)
			if err == nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("OpenFile(%s) = %v, want ErrNotRegular", path, err)
			}
		case <-time.After(2 * time.Second):
			if r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
				defer r.Close()
			}
			t.Fatalf("OpenFile(%s) blocks", path)
		}
	}
	// Through Output, as -logfile does: stderr only, and why.
	_, out, warning := New(false, fifo)
	defer out.Close()
	if warning == nil || !strings.Contains(warning.Error(), "not a regular file") || out.Path() != "" {
		t.Errorf("New with a FIFO: warning %v, path %q", warning, out.Path())
	}
}

// No line reaches the file with a secret in it, however it got there.
func TestSecretsAreRedacted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usbStream.log")
	log, out, err := New(true, path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	out.SetSecrets("S3cr3t\"pw", "0123456789abcdef0123456789abcdef", "pw")
	log.Info("password S3cr3t\"pw in the message")
	log.Warn("a field", zap.String("value", `S3cr3t"pw`), zap.Error(errors.New("door /0123456789abcdef0123456789abcdef/snapshot")))
	log.Debug("a short one is kept: pw")
	log.Sync()
	got, _ := os.ReadFile(path)
	if strings.Contains(string(got), "S3cr3t") || strings.Contains(string(got), "0123456789abcdef") {
		t.Fatalf("a secret is in the log:\n%s", got)
	}
	if strings.Count(string(got), "***") != 3 || !strings.Contains(string(got), "kept: pw") {
		t.Fatalf("log:\n%s", got)
	}
	out.SetSecrets()
	log.Info("S3cr3t\"pw no longer secret")
	log.Sync()
	if got, _ := os.ReadFile(path); !strings.Contains(string(got), "S3cr3t\"pw no longer") {
		t.Fatalf("log after SetSecrets():\n%s", got)
	}
}
