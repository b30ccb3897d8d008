package e2e

// The test pattern is what a newcomer runs first: unwatched, it must not
// keep a core busy rendering frames nobody sees.

import (
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cpuTicks is the user plus system time the process used so far, in clock
// ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

func TestTestPatternIdlesWithoutViewers(t *testing.T) {
	s := start(t, "-source", "test", "-resolution", "1280x720", "-framerate", "24")
	pid := s.pid()
	cpuOver := func(d time.Duration) int64 {
		before := cpuTicks(t, pid)
		time.Sleep(d)
		return cpuTicks(t, pid) - before
	}
	idle := cpuOver(3 * time.Second)

	resp, err := http.Get(s.base + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	go io.Copy(io.Discard, resp.Body)
	time.Sleep(500 * time.Millisecond)
	watched := cpuOver(3 * time.Second)

	st := getStatus(t, s)
	t.Logf("CPU over 3 s: %d ticks unwatched, %d ticks with one viewer; state %s", idle, watched, st.Source.State)
	if st.Source.State != "streaming" {
		t.Fatalf("state %q while unwatched and then watched, want streaming", st.Source.State)
	}
	// What the machine spends rendering for one viewer is the measure: an
	// unwatched pattern must cost a small part of it.
	if idle*4 > watched {
		t.Fatalf("unwatched the test pattern used %d ticks of CPU in 3 s, watched %d: it renders frames nobody sees", idle, watched)
	}
}
