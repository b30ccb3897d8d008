package dsf_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"usbstream/internal/dsf"
	"usbstream/internal/dsf/dsftest"
)

// A file where DCS puts an endpoint's socket is not deleted: that endpoint
// is refused with a warning and unregistered (DWS answers 404 rather than
// 500 for it), and the other endpoints work.
func TestSessionLeavesAFileAtTheSocketPath(t *testing.T) {
	tw := twin(t, dsftest.Options{})
	dir := filepath.Join(filepath.Dir(tw.SocketPath()), "usbStream")
	os.MkdirAll(dir, 0o770)
	file := filepath.Join(dir, "status-GET.sock")
	os.WriteFile(file, []byte("not a socket"), 0o644)
	core, logs := observer.New(zap.DebugLevel)
	hello := func(context.Context, *dsf.Request) dsf.Response { return dsf.Response{Body: "hello"} }
	s := dsf.NewSession(dsf.SessionOptions{Socket: tw.SocketPath(), Plugin: "usbStream", Log: zap.New(core),
		Endpoints: []dsf.EndpointSpec{{Method: "GET", Path: "status", Handler: hello}, {Method: "GET", Path: "hello", Handler: hello}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the other endpoint answers through DWS", func() bool {
		b, err := httpGet(tw.HTTPURL() + "/machine/usbStream/hello")
		return err == nil && b == "hello"
	})
	if b, err := os.ReadFile(file); err != nil || string(b) != "not a socket" {
		t.Fatalf("the file at the socket path: %q, %v", b, err)
	}
	if eps := tw.Endpoints(); len(eps) != 1 || eps[0].Path != "hello" {
		t.Fatalf("registered endpoints %+v; want only hello", eps)
	}
	found := false
	for _, e := range logs.FilterLevelExact(zap.WarnLevel).All() {
		if strings.Contains(fmt.Sprint(e.ContextMap()), file) && strings.Contains(fmt.Sprint(e.ContextMap()), "regular file") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no warning names the file: %v", logs.All())
	}
}

// A DCS that answers with megabytes of error text and drops every
// connection: the errors in the log and in Status are clipped, the
// warnings are few, and the session does not redial in a tight loop.
func TestSessionAgainstAHostileDCS(t *testing.T) {
	tw := twin(t, dsftest.Options{})
	huge := strings.Repeat("E", 2<<20)
	tw.SetReplyHook(func(command string, reply []byte) []byte {
		switch command {
		case "AddHttpEndpoint":
			return []byte(`{"success":false,"errorType":"` + huge[:100<<10] + `","errorMessage":"` + huge + `"}`)
		case "SetPluginData":
			return nil // dropped
		}
		return reply
	})
	core, logs := observer.New(zap.DebugLevel)
	ok := func(context.Context, *dsf.Request) dsf.Response { return dsf.Response{Body: "ok"} }
	s := dsf.NewSession(dsf.SessionOptions{Socket: tw.SocketPath(), Plugin: "usbStream", Log: zap.New(core),
		Endpoints: []dsf.EndpointSpec{{Method: "GET", Path: "a", Handler: ok}, {Method: "GET", Path: "b", Handler: ok},
			{Method: "GET", Path: "c", Handler: ok}}})
	s.SetData("status", "x")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	const span = 4 * time.Second
	longestStatus := 0
	for end := time.Now().Add(span); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		longestStatus = max(longestStatus, len(s.Status().Error))
	}
	cancel()
	<-done
	var lines, longest int
	for _, e := range logs.All() {
		size := len(e.Message) + len(fmt.Sprint(e.ContextMap()))
		longest = max(longest, size)
		if e.Level >= zap.InfoLevel {
			lines++
		}
	}
	adds := 0
	for _, c := range tw.Commands() {
		if strings.Contains(string(c), `"AddHttpEndpoint"`) {
			adds++
		}
	}
	t.Logf("in %v: %d registrations tried, %d lines at info or above, longest entry %d bytes, longest status error %d bytes",
		span, adds, lines, longest, longestStatus)
	if longest > 2000 || longestStatus > 2000 {
		t.Fatalf("a log entry of %d bytes, a status error of %d bytes: DCS's text was not clipped", longest, longestStatus)
	}
	if lines > 12 {
		t.Fatalf("%d lines at info or above in %v; want at most 12", lines, span)
	}
	// Redialled with the pause doubling from 250 ms to 2 s: about 5
	// connections, 3 registrations each.
	if adds > 3*8 {
		t.Fatalf("%d registrations in %v: redialling in a tight loop", adds, span)
	}
}

// A path DCS sends back is used to create, write and delete files: one
// that is not an absolute path of a sane length is refused, clipped.
func TestConnRefusesUnusablePathsFromDCS(t *testing.T) {
	tw := twin(t, dsftest.Options{})
	var result string
	tw.SetReplyHook(func(command string, reply []byte) []byte {
		return []byte(`{"success":true,"result":"` + result + `"}`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dsf.Dial(ctx, tw.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, bad := range []string{"", "relative/usbStream.log", "/", "/run/dsf/../../etc/passwd", "/" + strings.Repeat("d", 100<<10)} {
		result = bad
		p, err := c.ResolvePath(ctx, "0:/sys/usbStream/usbStream.log")
		if err == nil || len(err.Error()) > 1000 {
			t.Fatalf("ResolvePath answered %.100q: got %.100q, error of %d bytes %.300v", bad, p, len(fmt.Sprint(err)), err)
		}
		s, err := c.AddHttpEndpoint(ctx, "GET", "usbStream", "status", false)
		if err == nil || len(err.Error()) > 1000 {
			t.Fatalf("AddHttpEndpoint answered %.100q: got %.100q, error of %d bytes %.300v", bad, s, len(fmt.Sprint(err)), err)
		}
	}
	result = filepath.Join(tw.SDRoot(), "sys/usbStream/usbStream.log")
	if p, err := c.ResolvePath(ctx, "0:/sys/usbStream/usbStream.log"); err != nil || p != result {
		t.Fatalf("a good path: %q, %v", p, err)
	}
}
