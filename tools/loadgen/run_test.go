package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func testOptions(url string) options {
	o := defaultOptions()
	o.URL = url
	o.Clients = 2
	o.Warmup = 300 * time.Millisecond
	o.Ramp = 100 * time.Millisecond
	o.Duration = time.Second
	o.Snapshots = 0
	return o
}

func mustRun(t *testing.T, opt options) *Report {
	t.Helper()
	rep, err := run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestRunMeasuresFastAndSlowClients(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, nil)
	frameBytes := 0 // mean size: the server cycles through the test JPEGs
	for _, j := range testJPEGs() {
		frameBytes += len(j) / len(testJPEGs())
	}
	opt := testOptions(srv.URL)
	opt.Clients = 6
	opt.Slow = 1
	// A quarter of what a 30 fps stream needs: the slow client cannot keep up.
	opt.SlowRate = int64(frameBytes * 30 / 4)
	opt.Warmup = 500 * time.Millisecond
	opt.Ramp = 200 * time.Millisecond
	opt.Duration = 2 * time.Second
	opt.Snapshots = 5
	rep := mustRun(t, opt)

	if !rep.OK || rep.Connected != 6 || rep.Failed != 0 || rep.Lost != 0 || rep.ParseErrors != 0 {
		t.Fatalf("problems %v; connected %d failed %d lost %d parse errors %d %v",
			rep.Problems, rep.Connected, rep.Failed, rep.Lost, rep.ParseErrors, rep.ParseSamples)
	}
	// The server sends 30 fps; the lower bound leaves room for a busy
	// machine, the upper one is what the server can send at most.
	if f := rep.Fast; f.Clients != 5 || f.FPSMin < 15 || f.FPSMax > 31 {
		t.Errorf("fast clients: %d with fps %.2f..%.2f, want 5 within 15..31", f.Clients, f.FPSMin, f.FPSMax)
	}
	if s := rep.Slow; s == nil || s.Clients != 1 || s.FPSMax <= 0 || s.FPSMax > 15 {
		t.Errorf("slow clients: %+v, want 1 client reported apart, above 0 and well below 30 fps", s)
	}
	if rep.Fast.Repeats != 0 {
		t.Errorf("%d repeats from a server that sends none", rep.Fast.Repeats)
	}
	if l := rep.Fast.Latency; l.Count != uint64(rep.Fast.Frames) || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max || l.Max > 500_000 {
		t.Errorf("fast latency %+v for %d frames", l, rep.Fast.Frames)
	}
	if rep.Slow != nil && rep.Slow.Latency.P50 < rep.Fast.Latency.P99 {
		t.Errorf("slow client's median latency %d µs is below the fast clients' p99 %d µs", rep.Slow.Latency.P50, rep.Fast.Latency.P99)
	}
	wantMB := float64(rep.Fast.Frames*int64(frameBytes)) / rep.WindowSec / 1e6
	if rep.Fast.MBPerSec < wantMB || rep.Fast.MBPerSec > wantMB*1.1 {
		t.Errorf("fast throughput %.3f MB/s, want just above %.3f (JPEGs plus headers)", rep.Fast.MBPerSec, wantMB)
	}
	if s := rep.Snapshots; s.OK != 5 || s.Failed != 0 || s.P50 <= 0 {
		t.Errorf("snapshots %+v, want 5 ok", s)
	}
	// The test server runs in this process, so discovery by port finds it.
	if rep.Server == nil || rep.Server.PID != os.Getpid() || rep.Server.PeakRSSKiB <= 0 || rep.Server.ThreadsEnd < 1 || rep.Server.Error != "" {
		t.Errorf("server figures %+v (note %q), want this process's", rep.Server, rep.ServerNote)
	}
	if rep.WindowSec < 1.9 || rep.WindowSec > 2.3 {
		t.Errorf("window %.3f s, want about 2", rep.WindowSec)
	}

	var js bytes.Buffer
	if err := rep.writeJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON output does not parse: %v\n%s", err, js.Bytes())
	}
	if back.Fast.FPSMedian != rep.Fast.FPSMedian || back.Slow == nil || len(back.PerClient) != 6 || !back.OK {
		t.Errorf("JSON round trip lost figures: %+v", back)
	}
	var generic map[string]any
	json.Unmarshal(js.Bytes(), &generic)
	for _, key := range []string{"fast", "slow", "snapshots", "server", "loadgen_cpu_percent", "parse_errors", "ok"} {
		if _, ok := generic[key]; !ok {
			t.Errorf("JSON has no %q", key)
		}
	}
	var table bytes.Buffer
	rep.writeTable(&table)
	for _, want := range []string{"fast clients (5)", "slow clients (1", "latency", "snapshots     5 ok", "result        OK"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	t.Logf("\n%s", table.String())
}

func TestRunCountsRepeatsApart(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, func(s *testServer) { s.repeat = true })
	rep := mustRun(t, testOptions(srv.URL))
	f := rep.Fast
	// The server sends 30 parts a second, every other one a repeat: at most
	// 15 new frames a second (16 for rounding). The lower bound is loose,
	// as a busy machine may serve the test server's parts late; that the
	// repeats are told apart is the count of repeats below.
	if !rep.OK || f.FPSMin < 5 || f.FPSMax > 16 {
		t.Fatalf("fps %.2f..%.2f (problems %v), want 5..16: only every other part is a new frame", f.FPSMin, f.FPSMax, rep.Problems)
	}
	if d := f.Repeats - f.Frames; d < -2 || d > 2 || f.Latency.Count != uint64(f.Frames) {
		t.Fatalf("%d frames, %d repeats, %d latencies; want as many repeats as frames, latencies for frames only",
			f.Frames, f.Repeats, f.Latency.Count)
	}
}

func TestRunReportsParseErrorsAndFailsCLI(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, func(s *testServer) {
		s.mangle = func(n int, p []byte) []byte {
			if n%5 == 4 { // drop the CRLF after every fifth JPEG
				i := bytes.LastIndex(p, []byte("\r\n--"))
				return append(p[:i:i], p[i+2:]...)
			}
			return p
		}
	})
	var out, errOut bytes.Buffer
	code := mainWithArgs([]string{"-url", srv.URL, "-clients", "2", "-duration", "1s", "-warmup", "200ms",
		"-ramp", "0", "-snapshots", "0", "-json"}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit status %d, want 1; stderr %s", code, errOut.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("JSON output does not parse: %v\n%s", err, out.String())
	}
	if rep.OK || rep.ParseErrors < 4 || len(rep.ParseSamples) == 0 || !strings.Contains(rep.ParseSamples[0], "no-crlf") {
		t.Fatalf("ok %v, %d parse errors, samples %q; want several no-crlf errors", rep.OK, rep.ParseErrors, rep.ParseSamples)
	}
	if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, "parse errors") }) {
		t.Fatalf("problems %v do not mention the parse errors", rep.Problems)
	}
	// Resync keeps the other parts counted: 4 of every 5 are good.
	if rep.Fast.FPSMin < 20 {
		t.Fatalf("fps %.2f after resync, want about 24", rep.Fast.FPSMin)
	}
}

func TestRunReportsLostAndFailedClients(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, func(s *testServer) { s.closeAfter = 20 })
	rep := mustRun(t, testOptions(srv.URL))
	if rep.OK || rep.Lost != 2 || rep.Fast.Lost != 2 || len(rep.LostSamples) != 2 {
		t.Fatalf("lost %d (samples %q), ok %v; want both clients lost and the run failed", rep.Lost, rep.LostSamples, rep.OK)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/stream"
	ln.Close()
	opt := testOptions(closed)
	opt.Clients, opt.Warmup, opt.Ramp, opt.Duration, opt.Snapshots = 3, 0, 0, 200*time.Millisecond, 2
	rep = mustRun(t, opt)
	if rep.OK || rep.Failed != 3 || rep.Connected != 0 || rep.Snapshots.Failed != 2 || len(rep.ConnectSamples) != 3 {
		t.Fatalf("failed %d connected %d snapshot failures %d ok %v; want all failed", rep.Failed, rep.Connected, rep.Snapshots.Failed, rep.OK)
	}
	if rep.Server != nil || rep.ServerNote == "" {
		t.Fatalf("server %+v note %q: want no figures and a note when nothing listens", rep.Server, rep.ServerNote)
	}
	var out, errOut bytes.Buffer
	if code := mainWithArgs([]string{"-url", closed, "-clients", "1", "-duration", "100ms", "-warmup", "0", "-ramp", "0", "-snapshots", "0"}, &out, &errOut); code != 1 {
		t.Fatalf("exit status %d for a refused connection, want 1", code)
	}
	if !strings.Contains(out.String(), "FAIL") {
		t.Fatalf("table does not say FAIL:\n%s", out.String())
	}
}

func TestRunBasicAuth(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, func(s *testServer) { s.user, s.pass, s.quoted = "duet", "pa:ss", true })
	opt := testOptions(srv.URL)
	opt.Duration, opt.Snapshots = 500*time.Millisecond, 2
	opt.User, opt.Password = "duet", "pa:ss"
	if rep := mustRun(t, opt); !rep.OK || rep.Connected != 2 || rep.Snapshots.OK != 2 {
		t.Fatalf("with credentials: problems %v, connected %d, snapshots %+v", rep.Problems, rep.Connected, rep.Snapshots)
	}
	opt.Password = "wrong"
	rep := mustRun(t, opt)
	if rep.OK || rep.Failed != 2 || !strings.Contains(rep.ConnectSamples[0], "401") {
		t.Fatalf("with a wrong password: failed %d, samples %q; want 401 failures", rep.Failed, rep.ConnectSamples)
	}
}

func TestMinFPSFailsTheRun(t *testing.T) {
	rep := &Report{Clients: 1, Connected: 1, MinFPS: 25, Fast: Group{Clients: 1, Connected: 1, FPSMin: 24.5}}
	if p := rep.problems(); len(p) != 1 || !strings.Contains(p[0], "-min-fps") {
		t.Fatalf("problems %v, want the -min-fps one", p)
	}
	rep.Fast.FPSMin = 25
	if p := rep.problems(); len(p) != 0 {
		t.Fatalf("problems %v at exactly -min-fps", p)
	}
}

func TestOnlyLoopbackTargets(t *testing.T) {
	for _, u := range []string{"http://192.0.2.1:8085/stream", "http://example.com/stream", "http://[::1]:8085/stream",
		"http://0.0.0.0:8085/stream", "https://127.0.0.1/stream", "http://10.0.0.1/"} {
		if _, err := newTarget(u, "", ""); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8085/stream", "http://localhost:9/x?y=1", "http://127.1.2.3/"} {
		if _, err := newTarget(u, "", ""); err != nil {
			t.Errorf("%s rejected: %v", u, err)
		}
	}
	var out, errOut bytes.Buffer
	if code := mainWithArgs([]string{"-url", "http://192.0.2.1/stream"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "loopback") {
		t.Fatalf("exit %d, stderr %q; want 2 and a loopback message", code, errOut.String())
	}
}

func TestTargetRequest(t *testing.T) {
	tg, err := newTarget("http://u:p@localhost:8085/stream?fps=5", "", "")
	if err != nil {
		t.Fatal(err)
	}
	want := "GET /stream?fps=5 HTTP/1.1\r\nHost: localhost:8085\r\nUser-Agent: usbstream-loadgen\r\nAccept: */*\r\n" +
		"Authorization: Basic dTpw\r\nConnection: close\r\n\r\n"
	if string(tg.request) != want || tg.dialAddr != "127.0.0.1:8085" || strings.Contains(tg.url, "u:p") {
		t.Fatalf("request %q dial %s url %s", tg.request, tg.dialAddr, tg.url)
	}
	if got := snapshotURLFor("http://127.0.0.1:8085/stream?fps=5"); got != "http://127.0.0.1:8085/snapshot" {
		t.Fatalf("default snapshot URL %s", got)
	}
}

func TestOptionValidation(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "11m"}, {"-duration", "0"}, {"-clients", "0"}, {"-ramp", "3s"},
		{"-slow", "11"}, {"-slow", "1", "-slow-rate", "10"}, {"-rcvbuf", "-1"}, {"-snapshots", "-1"}, {"-pid", "-3"}, {"extra"},
	} {
		var out, errOut bytes.Buffer
		if code := mainWithArgs(args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := mainWithArgs([]string{"-h"}, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "-slow-rate") {
		t.Errorf("-h: exit %d, usage %q", code, errOut.String())
	}
}
