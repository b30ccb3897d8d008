// Command mjpegstat measures MJPEG-over-HTTP streams for the issue 14
// benchmarks in BENCHMARKS.md ("ARM and TCG"): it opens N viewers on one
// /stream URL, parses every part by its Content-Length, and over one or more
// measurement windows reports the frames each viewer got per second, the
// distinct frames the server delivered, the age of every part when its last
// byte arrived (from a timestamp header, on a clock the caller names), and
// the CPU time the server process used per distinct frame (utime+stime from
// /proc/PID/stat). It is built static and runs inside the vmtest VMs:
//
//	mjpegstat -n 10 -pid 123 http://127.0.0.1:8080/stream
//	mjpegstat -header X-UStreamer-Grab-Time -clock monotonic -pid 123 \
//	    'http://127.0.0.1:8080/stream?extra_headers=1'
//	mjpegstat -setctrl /dev/video0:0x00f0f018=1   # vivid: Timestamp Source = Start of Exposure
//	mjpegstat -median vm.txt   # per label, the median of the window lines in a log
//
// usbStream's X-Timestamp is the capture time on the wall clock
// (CLOCK_REALTIME, "-clock realtime"); ustreamer's X-Timestamp is its send
// time, and its X-UStreamer-Grab-Time (with ?extra_headers=1) is the moment
// it dequeued the buffer, on CLOCK_MONOTONIC ("-clock monotonic"). Client and
// server must share the clock, so they run on the same machine.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

type part struct {
	viewer int
	stamp  string  // the header's text: identifies a frame across viewers
	age    float64 // seconds from the stamp to the receipt of the last byte
	at     time.Time
}

type collector struct {
	mu    sync.Mutex
	parts []part
	errs  []string
}

func (c *collector) add(p part) {
	c.mu.Lock()
	c.parts = append(c.parts, p)
	c.mu.Unlock()
}

func (c *collector) fail(v int, err error) {
	c.mu.Lock()
	c.errs = append(c.errs, fmt.Sprintf("viewer %d: %v", v, err))
	c.mu.Unlock()
}

// take returns and forgets the parts collected so far.
func (c *collector) take() ([]part, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, e := c.parts, c.errs
	c.parts, c.errs = nil, nil
	return p, e
}

func now(monotonic bool) float64 {
	if !monotonic {
		return float64(time.Now().UnixMicro()) / 1e6
	}
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

// view reads one stream until it fails. Parts marked X-Placeholder (usbStream's
// "camera offline" picture) are not frames and are skipped.
func view(id int, url, header string, monotonic bool, c *collector) {
	resp, err := http.Get(url)
	if err != nil {
		c.fail(id, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		c.fail(id, fmt.Errorf("HTTP %s", resp.Status))
		return
	}
	r := bufio.NewReaderSize(resp.Body, 256<<10)
	length, stamp, placeholder := -1, "", false
	body := make([]byte, 0, 512<<10)
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			c.fail(id, err)
			return
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if length < 0 {
				continue // the blank line between a body and its boundary
			}
			if cap(body) < length {
				body = make([]byte, 0, length)
			}
			if _, err := io.ReadFull(r, body[:length]); err != nil {
				c.fail(id, err)
				return
			}
			t := now(monotonic)
			if !placeholder && stamp != "" {
				s, err := strconv.ParseFloat(stamp, 64)
				if err != nil {
					c.fail(id, fmt.Errorf("%s %q: %v", header, stamp, err))
					return
				}
				c.add(part{viewer: id, stamp: stamp, age: t - s, at: time.Now()})
			}
			length, stamp, placeholder = -1, "", false
		case bytes.HasPrefix(line, []byte("--")):
			length, stamp, placeholder = -1, "", false
		default:
			k, v, ok := strings.Cut(string(line), ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			switch {
			case strings.EqualFold(k, "Content-Length"):
				if length, err = strconv.Atoi(v); err != nil {
					c.fail(id, fmt.Errorf("Content-Length %q", v))
					return
				}
			case strings.EqualFold(k, header):
				stamp = v
			case strings.EqualFold(k, "X-Placeholder"):
				placeholder = true
			}
		}
	}
}

// cpuTicks is utime+stime of PID in clock ticks (USER_HZ, 100 on Linux).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s, nil
}

const userHZ = 100

type result struct {
	fpsMin, fpsMed, distinctFPS   float64
	p50, p95, max                 float64 // ms
	parts, distinct               int
	cpuSec, cpuPct, cpuMsPerFrame float64
}

func pct(s []float64, p float64) float64 {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func summarize(parts []part, viewers int, window time.Duration, ticks int64) result {
	per := make([]float64, viewers)
	seen := map[string]bool{}
	var ages []float64
	for _, p := range parts {
		per[p.viewer]++
		seen[p.stamp] = true
		ages = append(ages, p.age*1000)
	}
	sec := window.Seconds()
	for i := range per {
		per[i] /= sec
	}
	slices.Sort(per)
	slices.Sort(ages)
	r := result{
		fpsMin: per[0], fpsMed: pct(per, 0.5), distinctFPS: float64(len(seen)) / sec,
		p50: pct(ages, 0.5), p95: pct(ages, 0.95), parts: len(parts), distinct: len(seen),
	}
	if len(ages) > 0 {
		r.max = ages[len(ages)-1]
	}
	if ticks >= 0 {
		r.cpuSec = float64(ticks) / userHZ
		r.cpuPct = 100 * r.cpuSec / sec
		if len(seen) > 0 {
			r.cpuMsPerFrame = 1000 * r.cpuSec / float64(len(seen))
		}
	}
	return r
}

func (r result) String() string {
	s := fmt.Sprintf("fps/viewer min %.2f median %.2f | distinct frames %d (%.2f/s) | age p50 %.1f ms p95 %.1f ms max %.1f ms (%d parts)",
		r.fpsMin, r.fpsMed, r.distinct, r.distinctFPS, r.p50, r.p95, r.max, r.parts)
	if r.cpuSec > 0 || r.cpuMsPerFrame > 0 {
		s += fmt.Sprintf(" | server CPU %.2f s (%.1f %% of one CPU), %.2f ms per distinct frame", r.cpuSec, r.cpuPct, r.cpuMsPerFrame)
	}
	return s
}

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// setCtrl sets a V4L2 control with VIDIOC_S_CTRL and reads it back.
func setCtrl(spec string) error {
	dev, rest, ok := strings.Cut(spec, ":")
	ids, vals, ok2 := strings.Cut(rest, "=")
	if !ok || !ok2 {
		return fmt.Errorf("-setctrl %q: want DEVICE:ID=VALUE", spec)
	}
	id, err := strconv.ParseUint(ids, 0, 32)
	if err != nil {
		return err
	}
	val, err := strconv.ParseInt(vals, 0, 32)
	if err != nil {
		return err
	}
	fd, err := unix.Open(dev, unix.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// struct v4l2_control { __u32 id; __s32 value; }: 8 bytes on every arch.
	ctl := struct {
		id    uint32
		value int32
	}{uint32(id), int32(val)}
	const sCtrl, gCtrl = 0xc008561c, 0xc008561b // _IOWR('V', 28 / 27, struct v4l2_control)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), sCtrl, uintptr(unsafe.Pointer(&ctl))); e != 0 {
		return fmt.Errorf("VIDIOC_S_CTRL %#x=%d on %s: %v", id, val, dev, e)
	}
	ctl.value = -12345
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), gCtrl, uintptr(unsafe.Pointer(&ctl))); e != 0 {
		return fmt.Errorf("VIDIOC_G_CTRL %#x on %s: %v", id, dev, e)
	}
	fmt.Printf("mjpegstat: %s control %#x = %d\n", dev, id, ctl.value)
	return nil
}

func main() {
	n := flag.Int("n", 1, "viewers")
	warmup := flag.Duration("warmup", 3*time.Second, "time before the first window")
	window := flag.Duration("duration", 10*time.Second, "length of each measurement window")
	windows := flag.Int("windows", 3, "measurement windows, one after the other; the last line is their median")
	header := flag.String("header", "X-Timestamp", "part header holding the frame's time in seconds")
	clock := flag.String("clock", "realtime", "clock of that header: realtime or monotonic")
	pid := flag.Int("pid", 0, "server process whose CPU time to report")
	label := flag.String("label", "", "prefix for the output lines")
	ctrl := flag.String("setctrl", "", "DEVICE:ID=VALUE: set a V4L2 control, print it and exit")
	med := flag.String("median", "", "FILE: print, per label, the median of the window lines in FILE and exit")
	flag.Parse()
	if *med != "" {
		if err := medianOfLog(*med); err != nil {
			fmt.Fprintln(os.Stderr, "mjpegstat:", err)
			os.Exit(1)
		}
		return
	}
	if *ctrl != "" {
		if err := setCtrl(*ctrl); err != nil {
			fmt.Fprintln(os.Stderr, "mjpegstat:", err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() != 1 || (*clock != "realtime" && *clock != "monotonic") || *n < 1 || *windows < 1 {
		flag.Usage()
		os.Exit(2)
	}
	mono := *clock == "monotonic"
	c := &collector{}
	for i := range *n {
		go view(i, flag.Arg(0), *header, mono, c)
	}
	time.Sleep(*warmup)
	c.take()
	var rs []result
	failed := false
	for w := range *windows {
		t0, _ := cpuTicks(*pid)
		start := time.Now()
		time.Sleep(*window)
		parts, errs := c.take()
		el := time.Since(start)
		ticks := int64(-1)
		if *pid > 0 {
			t1, err := cpuTicks(*pid)
			if err != nil {
				fmt.Fprintln(os.Stderr, "mjpegstat:", err)
				failed = true
			}
			ticks = t1 - t0
		}
		for _, e := range errs {
			fmt.Fprintln(os.Stderr, "mjpegstat:", e)
			failed = true
		}
		r := summarize(parts, *n, el, ticks)
		rs = append(rs, r)
		fmt.Printf("%swindow %d/%d: viewers %d, %.1f s, %s\n", *label, w+1, *windows, *n, el.Seconds(), r)
	}
	fmt.Printf("%smedian of %d windows: viewers %d, %s\n", *label, len(rs), *n, medianResult(rs))
	if failed {
		os.Exit(1)
	}
}

func medianResult(rs []result) result {
	return result{
		fpsMin:        median(rs, func(r result) float64 { return r.fpsMin }),
		fpsMed:        median(rs, func(r result) float64 { return r.fpsMed }),
		distinctFPS:   median(rs, func(r result) float64 { return r.distinctFPS }),
		p50:           median(rs, func(r result) float64 { return r.p50 }),
		p95:           median(rs, func(r result) float64 { return r.p95 }),
		max:           median(rs, func(r result) float64 { return r.max }),
		parts:         int(median(rs, func(r result) float64 { return float64(r.parts) })),
		distinct:      int(median(rs, func(r result) float64 { return float64(r.distinct) })),
		cpuSec:        median(rs, func(r result) float64 { return r.cpuSec }),
		cpuPct:        median(rs, func(r result) float64 { return r.cpuPct }),
		cpuMsPerFrame: median(rs, func(r result) float64 { return r.cpuMsPerFrame }),
	}
}

// windowLine matches the lines main prints for each window (result.String).
var windowLine = regexp.MustCompile(`^(.*)window \d+/\d+: viewers (\d+), [0-9.]+ s, ` +
	`fps/viewer min ([0-9.]+) median ([0-9.]+) \| distinct frames (\d+) \(([0-9.]+)/s\) \| ` +
	`age p50 ([-0-9.]+) ms p95 ([-0-9.]+) ms max ([-0-9.]+) ms \((\d+) parts\)` +
	`(?: \| server CPU ([0-9.]+) s \(([0-9.]+) % of one CPU\), ([0-9.]+) ms per distinct frame)?`)

// medianOfLog groups the window lines of a log (e.g. several rounds of a
// benchmark, one window each) by label and prints each group's median.
func medianOfLog(name string) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	var labels []string
	groups := map[string][]result{}
	viewers := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := windowLine.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil {
			continue
		}
		f := func(i int) float64 { v, _ := strconv.ParseFloat(m[i], 64); return v }
		r := result{fpsMin: f(3), fpsMed: f(4), distinct: int(f(5)), distinctFPS: f(6), p50: f(7), p95: f(8),
			max: f(9), parts: int(f(10)), cpuSec: f(11), cpuPct: f(12), cpuMsPerFrame: f(13)}
		if _, ok := groups[m[1]]; !ok {
			labels = append(labels, m[1])
		}
		groups[m[1]] = append(groups[m[1]], r)
		viewers[m[1]] = m[2]
	}
	if len(labels) == 0 {
		return fmt.Errorf("%s: no window lines", name)
	}
	for _, l := range labels {
		fmt.Printf("%smedian of %d windows: viewers %s, %s\n", l, len(groups[l]), viewers[l], medianResult(groups[l]))
	}
	return nil
}
