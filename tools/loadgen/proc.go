package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. The
// standard library cannot call sysconf(_SC_CLK_TCK), and Linux fixes it at
// 100 on every architecture usbStream targets (amd64, arm, arm64).
const clockTicks = 100

// procCPU returns a process's user+system CPU time and thread count from
// /proc/PID/stat.
func procCPU(pid int) (time.Duration, int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStat(b)
}

// parseStat reads /proc/PID/stat. The command name in field 2 may contain
// spaces and parentheses, so fields are counted from the last ')'.
func parseStat(b []byte) (time.Duration, int, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed stat line")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime 15, num_threads 20.
	if len(f) < 18 {
		return 0, 0, fmt.Errorf("stat line has %d fields after the name, want at least 18", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	threads, err3 := strconv.Atoi(f[17])
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, fmt.Errorf("malformed utime, stime or num_threads in stat line")
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, threads, nil
}

// memSample is what /proc/PID/status says about memory and threads.
type memSample struct {
	rssKiB, hwmKiB int64
	threads        int
}

func procStatus(pid int) (memSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memSample{}, err
	}
	return parseStatus(b), nil
}

func parseStatus(b []byte) memSample {
	var m memSample
	for line := range bytes.Lines(b) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(value)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(string(f[0]), 10, 64)
		switch string(name) {
		case "VmRSS":
			m.rssKiB = n
		case "VmHWM":
			m.hwmKiB = n
		case "Threads":
			m.threads = int(n)
		}
	}
	return m
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// findListener returns the processes holding a listening TCP socket on port,
// found by matching the socket inodes of /proc/net/tcp{,6} against the
// /proc/PID/fd links. Processes of other users are skipped silently when
// their fds cannot be read, so an empty result may mean "no permission".
func findListener(port int) ([]int, error) {
	inodes := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, ino := range listeningInodes(b, port) {
			inodes[ino] = true
		}
	}
	if len(inodes) == 0 {
		return nil, fmt.Errorf("no listening TCP socket on port %d in /proc/net/tcp", port)
	}
	dirs, err := filepath.Glob("/proc/[0-9]*/fd")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, dir := range dirs {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(dir, fd.Name()))
			if err != nil {
				continue
			}
			ino, ok := strings.CutPrefix(link, "socket:[")
			if ok && inodes[strings.TrimSuffix(ino, "]")] {
				pids = append(pids, pid)
				break
			}
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// listeningInodes parses /proc/net/tcp or tcp6 and returns the inodes of the
// sockets in state LISTEN (0A) on port, whatever address they are bound to.
func listeningInodes(b []byte, port int) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Scan() // header line
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err == nil && int(p) == port {
			out = append(out, f[9])
		}
	}
	return out
}
