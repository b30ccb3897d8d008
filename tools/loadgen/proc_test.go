package main

import (
	"os"
	"slices"
	"testing"
	"time"

	"usbstream/internal/nettest"
)

func TestParseStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (usb (Stream) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 130 0 0 20 0 9 0 100 1000000 500 " +
		"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	cpu, threads, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if cpu != 3800*time.Millisecond || threads != 9 {
		t.Fatalf("cpu %v threads %d, want 3.8s and 9", cpu, threads)
	}
	if _, _, err := parseStat([]byte("1 (x) S 1 2")); err == nil {
		t.Fatal("short stat line accepted")
	}
}

func TestParseStatus(t *testing.T) {
	m := parseStatus([]byte("Name:\tusbStream\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t7\n"))
	if m != (memSample{rssKiB: 10240, hwmKiB: 20480, threads: 7}) {
		t.Fatalf("got %+v", m)
	}
}

func TestOwnProcessFigures(t *testing.T) {
	cpu, threads, err := procCPU(os.Getpid())
	if err != nil || threads < 1 || cpu < 0 {
		t.Fatalf("procCPU(self) = %v, %d, %v", cpu, threads, err)
	}
	st, err := procStatus(os.Getpid())
	if err != nil || st.rssKiB <= 0 || st.hwmKiB < st.rssKiB || st.threads < 1 {
		t.Fatalf("procStatus(self) = %+v, %v", st, err)
	}
}

func TestFindListenerFindsThisProcess(t *testing.T) {
	_, port := nettest.Taken(t)
	pids, err := findListener(port)
	if err != nil || !slices.Contains(pids, os.Getpid()) {
		t.Fatalf("findListener(%d) = %v, %v; want to include pid %d", port, pids, err, os.Getpid())
	}
}

func TestListeningInodes(t *testing.T) {
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F95 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0
   1: 0100007F:1F95 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0 20 4 30 10 -1
   2: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0 100 0 0 10 0
`
	if got := listeningInodes([]byte(tcp), 8085); !slices.Equal(got, []string{"111"}) {
		t.Fatalf("got %v, want [111]: only the LISTEN socket on 8085", got)
	}
}
