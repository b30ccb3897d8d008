package configwatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"usbstream/internal/config"
)

const (
	debounce = 200 * time.Millisecond // what the app uses
	// waitLimit bounds every wait for something that should happen. It
	// catches hangs only: how fast a save is delivered is a figure (logged
	// by TestSaveLatency), not a pass/fail timing on a shared machine.
	waitLimit = 10 * time.Second
	// quiet is how long to watch for a delivery that must not come: the
	// debounce, the read, and margin.
	quiet = debounce + 600*time.Millisecond
	name  = "usbStream.config"
)

type delivery struct {
	content string
	at      time.Time
}

type harness struct {
	t      *testing.T
	got    chan delivery
	errs   chan error // what onError was given
	logs   *observer.ObservedLogs
	cancel context.CancelFunc
	done   chan error
}

// start runs a Watcher on path; last, when not nil, is given to SetLast.
// Cleanup stops it and checks that it leaves no goroutine or inotify watch.
func start(t *testing.T, path string, last *string) *harness {
	t.Helper()
	return startWith(t, path, last, func() {})
}

// startWith is start with after called at the end of each onChange, to hold
// Run's goroutine while the test changes things.
func startWith(t *testing.T, path string, last *string, after func()) *harness {
	t.Helper()
	baseline := runtime.NumGoroutine()
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(zapcore.NewTee(core, zaptest.NewLogger(t, zaptest.Level(zapcore.DebugLevel)).Core()))
	w := New(path, debounce, log)
	if last != nil {
		w.SetLast([]byte(*last))
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, got: make(chan delivery, 1000), errs: make(chan error, 1000), logs: logs, cancel: cancel,
		done: make(chan error, 1)}
	go func() {
		h.done <- w.Run(ctx, func(c []byte) {
			h.got <- delivery{string(c), time.Now()}
			after()
		}, func(err error) { h.errs <- err })
	}()
	t.Cleanup(func() {
		h.stop()
		waitUntil(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline })
		waitUntil(t, "no inotify watch left", func() bool { return len(inotifyWatches(t)) == 0 })
	})
	return h
}

// stop cancels Run and returns how long it took to end.
func (h *harness) stop() time.Duration {
	h.t.Helper()
	h.cancel()
	t0 := time.Now()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
		h.done <- err // for a second stop
	case <-time.After(waitLimit):
		h.t.Fatalf("Run did not end within %v of cancel", waitLimit)
	}
	return time.Since(t0)
}

// expect waits for the next delivery, which must be want, and returns how long
// after saved it came.
func (h *harness) expect(want string, saved time.Time) time.Duration {
	h.t.Helper()
	select {
	case d := <-h.got:
		if d.content != want {
			h.t.Fatalf("delivered %q, want %q", d.content, want)
		}
		return d.at.Sub(saved)
	case <-time.After(waitLimit):
		h.t.Fatalf("%q not delivered within %v", want, waitLimit)
	}
	return 0
}

func (h *harness) expectNone() {
	h.t.Helper()
	select {
	case d := <-h.got:
		h.t.Fatalf("unexpected delivery of %q", d.content)
	case <-time.After(quiet):
	}
}

// infoMessages is what was logged at info level or above, by message.
func (h *harness) infoMessages() []string {
	var msgs []string
	for _, e := range h.logs.All() {
		if e.Level >= zapcore.InfoLevel {
			msgs = append(msgs, e.Message)
		}
	}
	return msgs
}

func inPlace(t *testing.T, path, content string) time.Time {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

// dwcSave saves the way DWS does for DWC's editor.
func dwcSave(t *testing.T, path, content string) time.Time {
	t.Helper()
	if err := os.WriteFile(path+".part", []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".part", path); err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inotifyWatches lists the inodes under inotify watch in this process, from
// the kernel's view, so that a leaked or misplaced watch shows.
func inotifyWatches(t *testing.T) []uint64 {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fdinfo")
	if err != nil {
		t.Skipf("cannot see inotify watches: %v", err)
	}
	var inodes []uint64
	for _, fd := range fds {
		info, err := os.ReadFile(filepath.Join("/proc/self/fdinfo", fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		for line := range strings.Lines(string(info)) {
			var wd, ino uint64 // both in hex
			if _, err := fmt.Sscanf(line, "inotify wd:%x ino:%x", &wd, &ino); err == nil {
				inodes = append(inodes, ino)
			}
		}
	}
	return inodes
}

// waitWatching waits until the only inotify watch is on dir.
func waitWatching(t *testing.T, dir string) {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	ino := st.Sys().(*syscall.Stat_t).Ino
	var seen []uint64
	deadline := time.Now().Add(waitLimit)
	for {
		if seen = inotifyWatches(t); slices.Equal(seen, []uint64{ino}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("watches on inodes %x, want only %s (%x)", seen, dir, ino)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ptr(s string) *string { return &s }

// setup makes dir/usbStream.config holding content.
func setup(t *testing.T, content string) (dir, path string) {
	dir = t.TempDir()
	path = filepath.Join(dir, name)
	inPlace(t, path, content)
	return dir, path
}

func TestInPlaceWrite(t *testing.T) {
	dir, path := setup(t, "A")
	h := start(t, path, ptr("A"))
	waitWatching(t, dir)
	for _, c := range []string{"B", "C"} {
		t.Logf("in-place save → delivery: %v", h.expect(c, inPlace(t, path, c)))
	}
}

func TestDWCRenameSave(t *testing.T) {
	dir, path := setup(t, "A")
	h := start(t, path, ptr("A"))
	waitWatching(t, dir)
	// Several saves: each replaces the inode, which must not lose the watch.
	for _, c := range []string{"B", "C", "D"} {
		t.Logf("rename save → delivery: %v", h.expect(c, dwcSave(t, path, c)))
	}
	waitWatching(t, dir)
}

func TestPartAndOtherFilesIgnored(t *testing.T) {
	dir, path := setup(t, "A")
	h := start(t, path, ptr("A"))
	waitWatching(t, dir)
	for i := range 5 {
		inPlace(t, path+".part", fmt.Sprint("part ", i))
		inPlace(t, filepath.Join(dir, "other.config"), fmt.Sprint("other ", i))
		inPlace(t, filepath.Join(dir, "usbStream.config.bak"), fmt.Sprint("bak ", i))
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.expectNone()

	// Nor may they hold back a real save by keeping the debounce going.
	saved := inPlace(t, path, "B")
	stop := make(chan struct{})
	spammed := make(chan struct{})
	go func() {
		defer close(spammed)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				os.WriteFile(path+".part", []byte(fmt.Sprint("part ", i)), 0o644)
			}
		}
	}()
	defer func() {
		close(stop)
		<-spammed
	}()
	lat := h.expect("B", saved)
	t.Logf("save among .part writes → delivery: %v", lat)
}

// Under DSF the log file sits beside the config: writes to it, its
// rotation and any other file in the folder must not produce a single log
// line, at any level, or a -verbose log would feed itself.
func TestOtherFilesInTheFolderAreNotLogged(t *testing.T) {
	dir, path := setup(t, "A")
	h := start(t, path, ptr("A"))
	waitWatching(t, dir)
	// The look at the file right after the watch is placed comes first.
	waitUntil(t, "the first look at the file", func() bool {
		return h.logs.FilterMessage("config file saved unchanged").Len() == 1
	})
	settled := len(h.logs.All())
	logFile := filepath.Join(dir, "usbStream.log")
	for i := range 200 {
		f, err := os.OpenFile(logFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "log line %d\n", i)
		f.Close()
		if i%50 == 49 { // rotation, as logging does it
			os.Rename(logFile, logFile+".1")
		}
	}
	os.Chmod(logFile+".1", 0o600)
	h.expectNone()
	for _, e := range h.logs.All()[settled:] {
		t.Errorf("logged %q %v for a file that is not the config", e.Message, e.ContextMap())
	}
	// The config file's own events are still seen (and may be logged).
	saved := inPlace(t, path, "B")
	h.expect("B", saved)
}

func TestDeleteThenRecreate(t *testing.T) {
	dir, path := setup(t, "A")
	h := start(t, path, ptr("A"))
	waitWatching(t, dir)

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	h.expectNone()
	if got := h.infoMessages(); !slices.Equal(got, []string{"config file deleted; keeping the last configuration"}) {
		t.Errorf("info logs after deletion: %q", got)
	}
	t.Logf("recreated in place → delivery: %v", h.expect("B", inPlace(t, path, "B")))

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	h.expectNone()
	t.Logf("recreated by rename → delivery: %v", h.expect("C", dwcSave(t, path, "C")))
}

func TestDirectoryDeletedAndRecreated(t *testing.T) {
	root := t.TempDir()
	sys := filepath.Join(root, "sys")
	dir := filepath.Join(sys, "usbStream")
	path := filepath.Join(dir, name)
	mkdir := func(d string) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mkdir(dir)
	inPlace(t, path, "A")
	h := start(t, path, ptr("A"))
	waitWatching(t, dir)

	// The directory goes; the watch falls back to its parent and comes
	// back when it reappears.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	waitWatching(t, sys)
	mkdir(dir)
	waitWatching(t, dir)
	t.Logf("after directory recreated: %v", h.expect("B", dwcSave(t, path, "B")))

	// Two levels go, and come back with the file at once, before the watch
	// can be back on the directory to see the file arrive.
	if err := os.RemoveAll(sys); err != nil {
		t.Fatal(err)
	}
	waitWatching(t, root)
	mkdir(dir)
	t.Logf("after two levels recreated: %v", h.expect("C", inPlace(t, path, "C")))
	waitWatching(t, dir)

	// Gone and back before the watcher hears of it: the new directory
	// needs a new watch even though the path is the same.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	mkdir(dir)
	waitWatching(t, dir)
	t.Logf("after directory quickly recreated: %v", h.expect("C2", dwcSave(t, path, "C2")))

	// Moved away: a save into the moved directory is not ours; moving it
	// back brings that content.
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	waitWatching(t, sys)
	inPlace(t, filepath.Join(dir+".old", name), "D")
	h.expectNone()
	if err := os.Rename(dir+".old", dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("after directory moved back: %v", h.expect("D", time.Now()))
	waitWatching(t, dir)

	for _, m := range h.infoMessages() {
		if m != "config file changed" && m != "config file deleted; keeping the last configuration" {
			t.Errorf("unexpected info log %q", m)
		}
	}
}

func TestDirectoryReplacedWhileBusy(t *testing.T) {
	dir, path := setup(t, "A")
	release := make(chan struct{})
	h := startWith(t, path, ptr("A"), func() { <-release })
	waitWatching(t, dir)
	h.expect("B", inPlace(t, path, "B"))

	// onChange is still running, so the watcher hears of the removal only
	// once the same path is a directory again; the dead watch must not be
	// taken for a live one.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	close(release)
	waitWatching(t, dir)
	h.expect("C", dwcSave(t, path, "C"))
}

func TestDirectoryMissingAtStart(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b", "usbStream")
	path := filepath.Join(dir, name)
	h := start(t, path, nil)
	waitWatching(t, root)
	h.expectNone()
	select {
	case err := <-h.done:
		t.Fatalf("Run ended with a missing directory: %v", err)
	default:
	}

	if err := os.Mkdir(filepath.Join(root, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	waitWatching(t, filepath.Join(root, "a"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	waitWatching(t, dir)
	t.Logf("first save after the directory appeared: %v", h.expect("A", dwcSave(t, path, "A")))
	if got := h.infoMessages(); !slices.Equal(got, []string{"config file changed"}) {
		t.Errorf("info logs: %q", got)
	}
}

func TestBurstDeliversLastSave(t *testing.T) {
	dir, path := setup(t, "initial")
	h := start(t, path, ptr("initial"))
	waitWatching(t, dir)

	// 100 saves in about a second, both ways, of varying length so that a
	// half-written in-place save would differ from the last one.
	var last string
	var saved time.Time
	for i := range 100 {
		last = fmt.Sprintf("-rotate 90\n# save %d\n%s", i, strings.Repeat("x", i*37%500))
		if i%2 == 0 {
			saved = inPlace(t, path, last)
		} else {
			saved = dwcSave(t, path, last)
		}
		time.Sleep(10 * time.Millisecond)
	}

	var got []delivery
	timeout := time.After(waitLimit)
	for len(got) == 0 || got[len(got)-1].content != last {
		select {
		case d := <-h.got:
			got = append(got, d)
		case <-timeout:
			t.Fatalf("last save not delivered within %v (got %d deliveries)", waitLimit, len(got))
		}
	}
	h.expectNone()
	lat := got[len(got)-1].at.Sub(saved)
	t.Logf("100 saves → %d deliveries; last save → delivery: %v", len(got), lat)
	if len(got) > 5 {
		t.Errorf("%d deliveries for a burst, want a few", len(got))
	}
	if n := len(h.infoMessages()); n != len(got) {
		t.Errorf("%d info logs for %d deliveries; events must log at debug", n, len(got))
	}
}

func TestUnchangedNotRedelivered(t *testing.T) {
	dir, path := setup(t, "A")
	h := start(t, path, ptr("A"))
	waitWatching(t, dir)

	inPlace(t, path, "A")
	dwcSave(t, path, "A")
	h.expectNone()
	h.expect("B", inPlace(t, path, "B"))
	dwcSave(t, path, "B")
	h.expectNone()
	h.expect("A", dwcSave(t, path, "A"))
}

func TestSetLastSuppressesInitialContent(t *testing.T) {
	t.Run("without SetLast the initial content is delivered", func(t *testing.T) {
		_, path := setup(t, "A")
		h := start(t, path, nil)
		h.expect("A", time.Now())
		h.expectNone()
	})
	t.Run("with SetLast it is not", func(t *testing.T) {
		_, path := setup(t, "A")
		h := start(t, path, ptr("A"))
		h.expectNone()
	})
	t.Run("an empty file is content too", func(t *testing.T) {
		_, path := setup(t, "")
		h := start(t, path, nil)
		h.expect("", time.Now())
		h.expectNone()
	})
	t.Run("a save between the app's read and Run is caught", func(t *testing.T) {
		_, path := setup(t, "B")
		h := start(t, path, ptr("A"))
		h.expect("B", time.Now())
	})
}

func TestTooLargeNotDelivered(t *testing.T) {
	dir, path := setup(t, "A")
	h := start(t, path, ptr("A"))
	waitWatching(t, dir)

	inPlace(t, path, strings.Repeat("#", config.MaxFileSize+1))
	h.expectNone()
	if err := h.expectError(); !errors.Is(err, config.ErrTooLarge) {
		t.Errorf("onError got %v, want too large", err)
	}
	h.expect("B", dwcSave(t, path, "B"))
}

// expectError waits for the next onError.
func (h *harness) expectError() error {
	h.t.Helper()
	select {
	case err := <-h.errs:
		return err
	case <-time.After(waitLimit):
		h.t.Fatalf("no error reported within %v", waitLimit)
	}
	return nil
}

// A FIFO in the config file's place is reported at once, without blocking
// the watcher: the next save is delivered, and Run ends promptly.
func TestFIFOInPlaceOfTheFile(t *testing.T) {
	dir, path := setup(t, "A")
	h := start(t, path, ptr("A"))
	waitWatching(t, dir)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fifo, path); err != nil {
		t.Fatal(err)
	}
	if err := h.expectError(); !errors.Is(err, config.ErrNotRegular) || !strings.Contains(err.Error(), "named pipe") {
		t.Fatalf("onError got %v", err)
	}
	h.expect("B", dwcSave(t, path, "B"))

	// And with the FIFO there at the moment of cancel.
	os.Remove(path)
	syscall.Mkfifo(path, 0o644)
	h.expectError()
	if took := h.stop(); took > 500*time.Millisecond {
		t.Errorf("Run took %v to end after cancel with a FIFO as the config", took)
	}
}

// After an error the same content as before is delivered again, so that
// the caller learns the file is usable and can clear the error it showed.
func TestContentAfterAnErrorIsDelivered(t *testing.T) {
	dir, path := setup(t, "A")
	h := start(t, path, ptr("A"))
	waitWatching(t, dir)
	os.Remove(path)
	os.Mkdir(path, 0o755)
	if err := h.expectError(); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Fatalf("onError got %v", err)
	}
	os.Remove(path)
	h.expect("A", dwcSave(t, path, "A"))
}

func TestCancelEndsRunPromptly(t *testing.T) {
	dir, path := setup(t, "A")
	h := start(t, path, ptr("A"))
	waitWatching(t, dir)
	inPlace(t, path, "B") // a read is pending
	took := h.stop()
	t.Logf("Run ended %v after cancel", took)
	if took > 500*time.Millisecond {
		t.Errorf("Run took %v to end after cancel", took)
	}
	// Cleanup checks goroutines and inotify watches.
}

func TestSaveLatency(t *testing.T) {
	dir, path := setup(t, "A")
	h := start(t, path, ptr("A"))
	waitWatching(t, dir)

	var lats []time.Duration
	for i := range 8 {
		c := fmt.Sprint("save ", i)
		save := inPlace
		if i%2 == 1 {
			save = dwcSave
		}
		lats = append(lats, h.expect(c, save(t, path, c)))
	}
	slices.Sort(lats)
	t.Logf("save → delivery over %d saves (debounce %v): min %v, median %v, max %v",
		len(lats), debounce, lats[0], lats[len(lats)/2], lats[len(lats)-1])
}
