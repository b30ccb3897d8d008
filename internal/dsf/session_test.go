package dsf_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"usbstream/internal/dsf"
	"usbstream/internal/dsf/dsftest"
)

const manifest = `{"id":"usbStream","name":"usbStream","author":"t","version":"1.0.0","sbcRequired":true,
"sbcDsfVersion":"3.6","sbcExecutable":"usbStream","sbcPermissions":["commandExecution","objectModelRead",
"objectModelReadWrite","registerHttpEndpoints","networkAccess","webcamAccess","readSystem"],"data":{"status":null}}`

func twin(t *testing.T, opt dsftest.Options) *dsftest.Twin {
	t.Helper()
	dir, err := os.MkdirTemp("", "dsf") // short: UNIX socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	opt.Dir, opt.Manifest = dir, []byte(manifest)
	tw, err := dsftest.Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	return tw
}

// The session tests run on the real clock: the twin talks over real UNIX
// sockets, and a goroutine blocked on a socket is not durably blocked for
// testing/synctest, so a bubble's fake clock would never advance. They wait
// for events (polling, at most 5 s), not for measurement windows.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConnCommandsAgainstTwin(t *testing.T) {
	for _, p := range []dsftest.Profile{dsftest.Profile35, dsftest.Profile36} {
		t.Run(string(p), func(t *testing.T) {
			tw := twin(t, dsftest.Options{Profile: p})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := dsf.Dial(ctx, tw.SocketPath())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sock, err := c.AddHttpEndpoint(ctx, "GET", "usbStream", "status", false)
			if want := filepath.Join(filepath.Dir(tw.SocketPath()), "usbStream", "status-GET.sock"); err != nil || sock != want {
				t.Fatalf("AddHttpEndpoint = %q, %v; want %q", sock, err, want)
			}
			if _, err := c.AddHttpEndpoint(ctx, "GET", "file", "x", false); err == nil {
				t.Fatal("reserved namespace accepted")
			}
			if err := c.SetPluginData(ctx, "usbStream", "status", map[string]any{"state": "streaming", "fps": 30}); err != nil {
				t.Fatal(err)
			}
			raw, _ := tw.PluginData("status")
			var got map[string]any
			if json.Unmarshal(raw, &got); got["state"] != "streaming" {
				t.Fatalf("plugin data %s", raw)
			}
			err = c.SetPluginData(ctx, "usbStream", "nope", 1)
			var dcsErr *dsf.Error
			if !asError(err, &dcsErr) || dcsErr.Type != "ArgumentException" {
				t.Fatalf("undeclared key: %v", err)
			}
			if err := c.WriteMessage(ctx, dsf.Warning, "[usbStream] camera lost", ""); err != nil {
				t.Fatal(err)
			}
			if m := tw.Messages(); len(m) != 1 || m[0].Type != 1 || m[0].Content != "[usbStream] camera lost" || !m[0].OutputMessage {
				t.Fatalf("messages %+v", m)
			}
			path, err := c.ResolvePath(ctx, "0:/sys/usbStream/usbStream.log")
			if err != nil || path != filepath.Join(tw.SDRoot(), "sys/usbStream/usbStream.log") {
				t.Fatalf("ResolvePath = %q, %v", path, err)
			}
			if removed, err := c.RemoveHttpEndpoint(ctx, "GET", "usbStream", "status"); !removed || err != nil {
				t.Fatalf("RemoveHttpEndpoint = %v, %v", removed, err)
			}
			if removed, err := c.RemoveHttpEndpoint(ctx, "GET", "usbStream", "status"); removed || err != nil {
				t.Fatalf("second RemoveHttpEndpoint = %v, %v", removed, err)
			}
			// The connection stays usable after errors.
			if err := c.SetPluginData(ctx, "usbStream", "status", "after errors"); err != nil {
				t.Fatal(err)
			}
			if raw, _ := tw.PluginData("status"); string(raw) != `"after errors"` {
				t.Fatalf("plugin data after errors %s", raw)
			}
		})
	}
}

func asError(err error, target **dsf.Error) bool {
	e, ok := err.(*dsf.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestDialRefusedUntilPIDRegistered(t *testing.T) {
	for _, p := range []dsftest.Profile{dsftest.Profile35, dsftest.Profile36} {
		t.Run(string(p), func(t *testing.T) { testDialRefused(t, p) })
	}
}

func testDialRefused(t *testing.T, p dsftest.Profile) {
	tw := twin(t, dsftest.Options{Profile: p, RejectUnregistered: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := dsf.Dial(ctx, tw.SocketPath()); !dsf.IsUnauthorized(err) {
		t.Fatalf("before the PID is known: %v, want UnauthorizedAccessException", err)
	}
	tw.SetPluginPID(os.Getpid())
	c, err := dsf.Dial(ctx, tw.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Known as the plugin now: no plugin id needed... but we always send it.
	if err := c.SetPluginData(ctx, "usbStream", "status", "ok"); err != nil {
		t.Fatal(err)
	}
}

func TestConnNoticesDCSGoingAway(t *testing.T) {
	tw := twin(t, dsftest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dsf.Dial(ctx, tw.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tw.Stop()
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("an idle connection did not notice DCS stopping")
	}
	if _, err := c.ResolvePath(ctx, "0:/sys"); err == nil {
		t.Fatal("command on a dead connection succeeded")
	}
	tw.Resume()
}

// The session registers and serves endpoints, publishes data, survives DCS
// restarts (re-registering, re-publishing) and says goodbye at the end.
func TestSessionLifecycle(t *testing.T) {
	tw := twin(t, dsftest.Options{RejectUnregistered: true})
	s := dsf.NewSession(dsf.SessionOptions{Socket: tw.SocketPath(), Plugin: "usbStream",
		Endpoints: []dsf.EndpointSpec{{Method: "GET", Path: "hello", Handler: func(_ context.Context, r *dsf.Request) dsf.Response {
			return dsf.Response{Type: dsf.PlainText, Body: "hello " + r.Query("name")}
		}}}, Log: zap.NewNop()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	s.SetData("status", map[string]int{"n": 1})
	time.Sleep(600 * time.Millisecond) // refused meanwhile: the startup race
	tw.SetPluginPID(os.Getpid())
	waitFor(t, "registered", func() bool { return len(tw.Endpoints()) == 1 && s.Status().Connected })
	get := func() string {
		resp, err := httpGet(tw.HTTPURL() + "/machine/usbStream/hello?name=dwc")
		if err != nil {
			return err.Error()
		}
		return resp
	}
	waitFor(t, "the endpoint answers through DWS", func() bool { return get() == "hello dwc" })
	for i := range 3 {
		tw.Restart(200 * time.Millisecond)
		tw.SetPluginPID(os.Getpid())
		waitFor(t, fmt.Sprintf("restart %d: endpoint and data back", i), func() bool {
			raw, ok := tw.PluginData("status")
			return len(tw.Endpoints()) == 1 && ok && string(raw) == `{"n":1}`
		})
		waitFor(t, "answers after the restart", func() bool { return get() == "hello dwc" })
	}
	// A repeat of the last message is held back, one after another is not
	// (the newest line must be true), bursts are capped.
	s.Message(dsf.Warning, "same")
	s.Message(dsf.Warning, "same")
	s.Message(dsf.Info, "other")
	s.Message(dsf.Warning, "same")
	for i := range 20 {
		s.Message(dsf.Info, fmt.Sprint("burst ", i))
	}
	waitFor(t, "messages", func() bool { return len(tw.Messages()) >= 10 })
	time.Sleep(200 * time.Millisecond)
	m := tw.Messages()
	if len(m) != 10 || m[0].Content != "same" || m[1].Content != "other" || m[2].Content != "same" || m[3].Content != "burst 0" {
		t.Fatalf("%d messages sent: %+v; want same, other, same, then bursts up to the cap of 10", len(m), m)
	}
	socket := tw.Endpoints()[0].UnixSocket
	cancel()
	select {
	case <-done:
	case <-time.After(dsf.ShutdownTimeout + time.Second):
		t.Fatal("Run did not end")
	}
	if len(tw.Endpoints()) != 0 {
		t.Fatal("endpoint still registered after the session ended")
	}
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Fatalf("socket left: %v", err)
	}
}

func httpGet(url string) (string, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
