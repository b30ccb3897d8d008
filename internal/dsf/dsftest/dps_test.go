package dsftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary double as a plugin process for the DPS
// emulation tests.
func TestMain(m *testing.M) {
	switch os.Getenv("DSFTEST_HELPER") {
	case "plugin":
		helperPlugin(os.Getenv("DSFTEST_SOCK"))
		return
	case "exit2":
		fmt.Println("bad config")
		os.Exit(2)
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Minute)
		return
	}
	os.Exit(m.Run())
}

// helperPlugin connects like a careful plugin: it retries while DCS does
// not know its pid yet, then sets its data without naming itself, and exits
// cleanly on SIGTERM.
func helperPlugin(sock string) {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	rejected := 0
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		br := bufio.NewReader(conn)
		init, err := readObject(br)
		var m map[string]any
		json.Unmarshal(init, &m)
		if err != nil || m["version"] == nil {
			rejected++
			conn.Close()
			time.Sleep(20 * time.Millisecond)
			continue
		}
		io.WriteString(conn, `{"mode":"Command","version":12}`)
		readObject(br)
		io.WriteString(conn, `{"command":"SetPluginData","key":"status","value":"running"}`)
		reply, _ := readObject(br)
		fmt.Printf("%d %s\n", rejected, reply)
		<-term
		fmt.Println("term")
		return
	}
	fmt.Println("gave up")
}

// lines collects a process's output line by line; unlike StdoutPipe it
// keeps what was written after the process has exited.
type lines struct {
	mu  sync.Mutex
	buf []byte
	ch  chan string
}

func (l *lines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		l.ch <- string(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
}

func (l *lines) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-l.ch:
		return s
	case <-time.After(wait):
		t.Fatal("no output from the plugin process")
		return ""
	}
}

func helperCmd(mode, sock string) (*exec.Cmd, *lines) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DSFTEST_HELPER="+mode, "DSFTEST_SOCK="+sock)
	out := &lines{ch: make(chan string, 16)}
	cmd.Stdout = out
	cmd.Stderr = os.Stderr
	return cmd, out
}

func pluginPID(t *testing.T, tw *Twin) json.Number {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return json.Number(itoa(tw.pid))
}

func TestStartPluginStartupRace(t *testing.T) {
	tw := startTwin(t, Options{RejectUnregistered: true})
	cmd, out := helperCmd("plugin", tw.SocketPath())
	p, err := tw.StartPlugin(cmd, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	line := out.next(t)
	var rejected int
	var reply string
	fmt.Sscanf(line, "%d %s", &rejected, &reply)
	if rejected == 0 || reply != `{"success":true}` {
		t.Fatalf("plugin said %q (exit %v)", line, p.Wait())
	}
	if v, _ := tw.PluginData("status"); string(v) != `"running"` {
		t.Fatalf("data %s", v)
	}
	if got := pluginPID(t, tw); got != json.Number(itoa(p.Pid())) {
		t.Fatalf("pid %s", got)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	if s := out.next(t); s != "term" {
		t.Fatalf("plugin said %q", s)
	}
	if got := pluginPID(t, tw); got != "-1" {
		t.Fatalf("pid after stop %s", got)
	}
}

func TestStopPluginKillsAfterTimeout(t *testing.T) {
	tw := startTwin(t, Options{})
	cmd, out := helperCmd("stubborn", tw.SocketPath())
	p, err := tw.StartPlugin(cmd, 0)
	if err != nil {
		t.Fatal(err)
	}
	out.next(t)
	p.StopTimeout = 200 * time.Millisecond
	start := time.Now()
	err = p.Stop()
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("want SIGKILL, got %v", err)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Fatal("killed before the timeout")
	}
	if got := pluginPID(t, tw); got != "-1" {
		t.Fatalf("pid %s", got)
	}
}

// Close stops a plugin that is still running.
func TestCloseStopsPlugin(t *testing.T) {
	tw, err := Start(Options{Dir: shortDir(t), Manifest: []byte(testManifest)})
	if err != nil {
		t.Fatal(err)
	}
	cmd, out := helperCmd("plugin", tw.SocketPath())
	p, err := tw.StartPlugin(cmd, 0)
	if err != nil {
		t.Fatal(err)
	}
	out.next(t)
	tw.Close()
	select {
	case <-p.Done():
	default:
		t.Fatal("plugin still running after Close")
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("exit %v", err)
	}
}

// DCS restarts an sbcAutoRestart plugin that exits on its own, after 2 s,
// again and again (SetPluginProcess.cs has no limit), even when it exits
// before DCS knew its pid; a plugin stopped by the user stays stopped.
func TestAutoRestartLoopsOnExit(t *testing.T) {
	tw := startTwin(t, Options{AutoRestartInterval: 200 * time.Millisecond})
	cmd, out := helperCmd("exit2", tw.SocketPath())
	first, err := tw.StartPlugin(cmd, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if s := out.next(t); s != "bad config" {
			t.Fatalf("plugin said %q", s)
		}
	}
	if n, err := tw.AutoRestarts(); n < 2 || err != nil {
		t.Fatalf("%d automatic restarts after three runs (%v)", n, err)
	}
	if ee, ok := first.Wait().(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("first run: %v", first.Wait())
	}
	if last := tw.Plugin(); last == first || last.Pid() == first.Pid() {
		t.Fatal("Plugin() is not the restarted process")
	}

	tw2 := startTwin(t, Options{AutoRestartInterval: 100 * time.Millisecond})
	cmd, out = helperCmd("plugin", tw2.SocketPath())
	p, err := tw2.StartPlugin(cmd, 0)
	if err != nil {
		t.Fatal(err)
	}
	out.next(t)
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n, _ := tw2.AutoRestarts(); n != 0 || tw2.Plugin() != p {
		t.Fatalf("a stopped plugin was restarted %d times", n)
	}
}
