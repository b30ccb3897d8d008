package dsftest

import (
	"encoding/json"
	"os"
	"runtime"
	"testing"
	"time"
)

// A DCS restart drops every connection, takes the socket away for a while
// and rebuilds the model: no endpoints, data back to the manifest, pid -1.
func TestRestart(t *testing.T) {
	tw := startTwin(t, Options{})
	tw.SetPluginPID(os.Getpid())
	c := command(t, tw)
	sock := addEndpoint(t, tw, c, "GET", "status", false)
	serveEndpoint(t, sock, func(json.RawMessage) string { return `{"statusCode":200,"response":"ok","responseType":"plaintext"}` })
	if !isSuccess(c.call(`{"command":"SetPluginData","key":"status","value":{"up":true}}`)) {
		t.Fatal("SetPluginData")
	}
	c.call(`{"command":"WriteMessage","type":0,"content":"hello"}`)

	done := make(chan error, 1)
	go func() { done <- tw.Restart(300 * time.Millisecond) }()
	c.expectEOF()
	eventually(t, "the socket file to go", func() bool { _, err := os.Stat(tw.SocketPath()); return os.IsNotExist(err) })
	// DWS still routes to the old endpoint while DCS is away.
	if resp, body := do(t, "GET", tw.HTTPURL()+"/machine/usbStream/status", "", nil); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("during restart: %d %q", resp.StatusCode, body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("Restart did not return")
	}
	if v, _ := tw.PluginData("status"); string(v) != "null" {
		t.Fatalf("data after restart %s", v)
	}
	if len(tw.Endpoints()) != 0 {
		t.Fatal("endpoints survived the restart")
	}
	if len(tw.Messages()) != 1 {
		t.Fatal("message history lost")
	}
	nc := dial(t, tw.SocketPath())
	if init := decode(t, nc.recv()); init["id"] != json.Number("2") {
		t.Fatalf("ids do not restart: %v", init)
	}
	// pid is -1 again, so this process is no plugin any more.
	nc.call(`{"mode":"Command","version":12}`)
	wantError(t, nc.call(`{"command":"SetPluginData","key":"status","value":1}`), "UnauthorizedAccessException", "Failed to determine plugin ID")
	// Once DWS has reconnected, the old route is gone.
	eventually(t, "the route to go", func() bool {
		resp, _ := do(t, "GET", tw.HTTPURL()+"/machine/usbStream/status", "", nil)
		return resp.StatusCode == 404
	})
	// The stale endpoint is re-registered at the same path.
	if got := result(t, nc.call(`{"command":"AddHttpEndpoint","namespace":"usbStream","path":"status"}`)); got != sock {
		t.Fatalf("re-registered at %v", got)
	}
}

func TestStopResume(t *testing.T) {
	tw := startTwin(t, Options{})
	c := command(t, tw)
	c.call(`{"command":"SetPluginData","plugin":"usbStream","key":"status","value":7}`)
	tw.Stop()
	c.expectEOF()
	if _, err := os.Stat(tw.SocketPath()); !os.IsNotExist(err) {
		t.Fatal("socket file left while stopped")
	}
	if tw.Connections() != 0 {
		t.Fatal("connections left")
	}
	if err := tw.Resume(); err != nil {
		t.Fatal(err)
	}
	command(t, tw)
	if v, _ := tw.PluginData("status"); string(v) != "7" {
		t.Fatalf("Stop/Resume lost data: %s", v)
	}
}

// Close must not leave goroutines behind, even with a request hanging on
// an endpoint that never answers.
func TestCloseLeavesNothingRunning(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := shortDir(t)
	tw, err := Start(Options{Dir: dir, Manifest: []byte(testManifest)})
	if err != nil {
		t.Fatal(err)
	}
	c := command(t, tw)
	sock := addEndpoint(t, tw, c, "GET", "hang", false)
	ln := listenUnix(t, sock)
	accepted := make(chan struct{})
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			close(accepted)
			buf := make([]byte, 1024)
			for {
				if _, err := conn.Read(buf); err != nil {
					conn.Close()
					return
				}
			}
		}
	}()
	reqDone := make(chan struct{})
	go func() {
		defer close(reqDone)
		resp, err := httpClient.Get(tw.HTTPURL() + "/machine/usbStream/hang")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-accepted

	closed := make(chan struct{})
	go func() { tw.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatal("Close hangs")
	}
	<-reqDone
	if _, err := os.Stat(sock); err != nil {
		t.Fatal("Close removed the plugin's socket file")
	}
	ln.Close()
	c.conn.Close()
	httpClient.CloseIdleConnections()
	eventually(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	if _, err := os.Stat(tw.SocketPath()); !os.IsNotExist(err) {
		t.Fatal("DCS socket file left")
	}
}
