package status

import (
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Process is the server's own resource use, for spotting leaks from the
// outside: a soak test or a user watching /status over days.
type Process struct {
	// PID tells which process a document comes from (a restarted plugin
	// is another one).
	PID        int   `json:"pid"`
	Goroutines int   `json:"goroutines"`
	OpenFiles  int   `json:"openFiles"`           // file descriptors, sockets included; -1 if unknown
	RSSBytes   int64 `json:"rssBytes"`            // resident memory; -1 if unknown
	HeapBytes  int64 `json:"heapBytes,omitempty"` // live Go heap (approximate)
}

// ReadProcess measures this process. It reads /proc, so it costs a
// directory listing per call: fine for a status request, not per frame.
func ReadProcess() Process {
	p := Process{PID: os.Getpid(), Goroutines: runtime.NumGoroutine(), OpenFiles: -1, RSSBytes: -1}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		p.OpenFiles = len(fds) - 1 // without the descriptor ReadDir itself had open
	}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				p.RSSBytes = pages * int64(os.Getpagesize())
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.HeapBytes = int64(ms.HeapAlloc)
	return p
}
