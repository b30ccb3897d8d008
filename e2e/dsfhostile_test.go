package e2e

// Hostile input from the DSF side against the real binary and the DSF
// twin: oversized requests on the endpoint sockets (what DWS forwards from
// any browser, or any member of group dsf sends), garbage there, and a DCS
// that answers megabytes of error text and drops the connection.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"usbstream/internal/dsf/dsftest"
)

// procKiB reads a figure such as VmRSS or VmHWM (the peak) of pid.
func procKiB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// startWithTwin runs the binary against a twin and returns the socket of
// its status endpoint once the three endpoints are registered.
func startWithTwin(t *testing.T) (*dsftest.Twin, *server, string) {
	t.Helper()
	twin := startTwin(t, dsftest.Profile36, false)
	s := start(t, "-source", "test", "-resolution", "160x120", "-framerate", "10", "-dsf", twin.SocketPath())
	eventually(t, 5*time.Second, "endpoints registered", func() bool { return endpointCount(twin) == 3 })
	for _, e := range twin.Endpoints() {
		if e.Path == "status" {
			return twin, s, e.UnixSocket
		}
	}
	t.Fatal("no status endpoint")
	return nil, nil, ""
}

// endpointRequest writes a ReceivedHttpRequest whose body is size bytes,
// streamed without holding it, and reads the answer as DWS does (after
// writing everything). It returns the status code, or 0 and why not.
func endpointRequest(socket string, size int, body string) (int, string) {
	c, err := net.Dial("unix", socket)
	if err != nil {
		return 0, err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	w := bufio.NewWriterSize(c, 64<<10)
	io.WriteString(w, `{"sessionId":-1,"queries":{},"headers":{"Host":"x"},"contentType":null,"body":"`)
	chunk := strings.Repeat("a", 64<<10)
	for left := size; left > 0; left -= len(chunk) {
		if _, err := w.WriteString(chunk[:min(left, len(chunk))]); err != nil {
			return 0, "writing the request: " + err.Error()
		}
	}
	io.WriteString(w, body+`"}`)
	if err := w.Flush(); err != nil {
		return 0, "writing the request: " + err.Error()
	}
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Response   string `json:"response"`
	}
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return 0, "no answer: " + err.Error()
	}
	return resp.StatusCode, resp.Response
}

// Oversized requests on an endpoint socket, 10 and then 100 at once, each
// just under the old 16 MiB cap per message: refused with a clear answer
// while the process's peak memory barely moves, and the endpoints serve
// on.
func TestDSFOversizedEndpointRequests(t *testing.T) {
	twin, s, socket := startWithTwin(t)
	pid := s.pid()
	base := procKiB(t, pid, "VmHWM")
	t.Logf("before: VmRSS %d KiB, peak %d KiB", procKiB(t, pid, "VmRSS"), base)
	const size = 16<<20 - 4<<10
	for _, n := range []int{10, 100} {
		began := time.Now()
		codes := map[int]int{}
		var why []string
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				code, text := endpointRequest(socket, size, "")
				mu.Lock()
				defer mu.Unlock()
				codes[code]++
				if code != 413 && code != 503 && len(why) < 3 {
					why = append(why, fmt.Sprintf("%d %.200s", code, text))
				}
			})
		}
		wg.Wait()
		peak := procKiB(t, pid, "VmHWM")
		t.Logf("%d requests of %d MiB at once: answers %v in %v; peak RSS %d KiB (%+d KiB over the start), RSS now %d KiB",
			n, size>>20, codes, time.Since(began).Round(time.Millisecond), peak, peak-base, procKiB(t, pid, "VmRSS"))
		if codes[413]+codes[503] != n {
			t.Errorf("%d oversized requests: answers %v (%q); want every one refused with 413 or 503", n, codes, why)
		}
		if peak-base > 32<<10 {
			t.Fatalf("%d oversized requests took the peak RSS %d MiB above the start; bound 32 MiB", n, (peak-base)>>10)
		}
	}
	// Through DWS a browser gets the reason.
	req, _ := http.NewRequest(http.MethodGet, twin.HTTPURL()+"/machine/usbStream/status", strings.NewReader(strings.Repeat("b", 4<<20)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(text), "too large") {
		t.Fatalf("a 4 MB request through DWS: %s %.200q", resp.Status, text)
	}
	if code, _, _ := viaDWS(t, twin, "/machine/usbStream/status"); code != 200 {
		t.Fatalf("an ordinary request afterwards: %d", code)
	}
}

// A burst of garbage on the endpoint sockets, then a DCS that answers
// every registration with half a megabyte of error text, resolves the log
// path to a 100 KB one and drops the connection at the first plugin data:
// a few short log lines, not a line per attempt, and back to normal when
// DCS is.
func TestDSFGarbageBurstIsLoggedBriefly(t *testing.T) {
	twin, s, socket := startWithTwin(t)
	time.Sleep(300 * time.Millisecond) // the start's own lines
	mark := len(s.output.String())
	garbage := []string{
		`{"sessionId":` + strings.Repeat("9", 100<<10) + `}`,
		`{"headers":{"` + strings.Repeat("k", 50<<10) + `":1}}`,
		`{"sessionId":"x"}`, `{]}`, `{"queries":[1]}`, `{"body":1e999}`,
	}
	const n, workers = 500, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				code := 0
				if c, err := net.Dial("unix", socket); err == nil {
					c.SetDeadline(time.Now().Add(10 * time.Second))
					io.WriteString(c, garbage[i%len(garbage)])
					var resp struct{ StatusCode int }
					json.NewDecoder(c).Decode(&resp)
					code = resp.StatusCode
					c.Close()
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	time.Sleep(200 * time.Millisecond)
	endpointLog := s.output.String()[mark:]
	if codes[400] != n {
		t.Errorf("%d garbage requests answered %v; want 400 for each", n, codes)
	}

	mark = len(s.output.String())
	huge := strings.Repeat("E", 512<<10)
	twin.SetReplyHook(func(command string, reply []byte) []byte {
		switch command {
		case "AddHttpEndpoint":
			return []byte(`{"success":false,"errorType":"ArgumentException","errorMessage":"` + huge + `"}`)
		case "ResolvePath":
			return []byte(`{"success":true,"result":"/` + strings.Repeat("p", 100<<10) + `"}`)
		case "SetPluginData":
			return nil
		}
		return reply
	})
	if err := twin.Restart(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	dcsLog := s.output.String()[mark:]

	for _, c := range []struct{ what, log string }{{fmt.Sprintf("%d garbage requests on the endpoint socket", n), endpointLog},
		{"5 s of a hostile DCS", dcsLog}} {
		lines := strings.Split(strings.TrimSuffix(c.log, "\n"), "\n")
		longest := 0
		for _, l := range lines {
			longest = max(longest, len(l))
		}
		t.Logf("%s: %d log bytes in %d lines, the longest %d bytes", c.what, len(c.log), len(lines), longest)
		if testing.Verbose() {
			t.Logf("the lines:\n%s", c.log)
		}
		if len(c.log) > 16<<10 || longest > 2000 {
			t.Errorf("%s: %d log bytes, the longest line %d bytes; want under 16 KiB and 2000 bytes", c.what, len(c.log), longest)
		}
	}
	// DCS mended: registered, published and routed again.
	twin.SetReplyHook(nil)
	if err := twin.Restart(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "back to normal with DCS", func() bool {
		d, ok := pluginData(t, twin)
		if endpointCount(twin) != 3 || !ok || d.Source.State != "streaming" {
			return false
		}
		code, _, _ := viaDWS(t, twin, "/machine/usbStream/status")
		return code == 200
	})
}
