package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is the result of a run, printed as a table or, with -json, as one
// JSON object. Latencies are in microseconds, rates per second of the
// measurement window.
type Report struct {
	URL            string   `json:"url"`
	SnapshotURL    string   `json:"snapshot_url,omitempty"`
	Clients        int      `json:"clients"`
	SlowClients    int      `json:"slow_clients"`
	SlowRate       int64    `json:"slow_rate_bytes_per_sec,omitempty"`
	WarmupSec      float64  `json:"warmup_sec"`
	RampSec        float64  `json:"ramp_sec"`
	WindowSec      float64  `json:"window_sec"`
	Connected      int      `json:"connected"`
	Failed         int      `json:"failed"`
	Lost           int      `json:"lost"`
	BytesPerSec    float64  `json:"bytes_per_sec"`
	MBPerSec       float64  `json:"mb_per_sec"`
	ParseErrors    int64    `json:"parse_errors"`
	PartLimitHit   int      `json:"part_limit_hit,omitempty"`
	Fast           Group    `json:"fast"`
	Slow           *Group   `json:"slow,omitempty"`
	Snapshots      Snaps    `json:"snapshots"`
	Server         *Server  `json:"server,omitempty"`
	ServerNote     string   `json:"server_note,omitempty"`
	LoadgenCPU     float64  `json:"loadgen_cpu_percent"`
	MinFPS         float64  `json:"min_fps,omitempty"`
	Problems       []string `json:"problems"`
	OK             bool     `json:"ok"`
	ParseSamples   []string `json:"parse_error_samples,omitempty"`
	ConnectSamples []string `json:"connect_error_samples,omitempty"`
	LostSamples    []string `json:"lost_samples,omitempty"`
	PerClient      []Client `json:"per_client"`
}

// Group holds the figures of the fast or of the throttled clients.
type Group struct {
	Clients     int     `json:"clients"`
	Connected   int     `json:"connected"`
	Failed      int     `json:"failed"`
	Lost        int     `json:"lost"`
	FPSMin      float64 `json:"fps_min"`
	FPSMedian   float64 `json:"fps_median"`
	FPSMax      float64 `json:"fps_max"`
	Frames      int64   `json:"frames"`
	Repeats     int64   `json:"repeats"`
	Bytes       int64   `json:"bytes"`
	MBPerSec    float64 `json:"mb_per_sec"`
	ParseErrors int64   `json:"parse_errors"`
	Latency     Latency `json:"latency"`
}

// Latency summarises a histogram; values are microseconds.
type Latency struct {
	Count    uint64 `json:"count"`
	P50      int64  `json:"p50_us"`
	P90      int64  `json:"p90_us"`
	P99      int64  `json:"p99_us"`
	Max      int64  `json:"max_us"`
	Negative uint64 `json:"negative,omitempty"`
}

// Snaps are the snapshot requests' figures.
type Snaps struct {
	Requested int      `json:"requested"`
	OK        int64    `json:"ok"`
	Failed    int64    `json:"failed"`
	P50       int64    `json:"p50_us"`
	P99       int64    `json:"p99_us"`
	Max       int64    `json:"max_us"`
	Samples   []string `json:"error_samples,omitempty"`
}

// Server is the server process's resource use during the window.
type Server struct {
	PID        int     `json:"pid"`
	CPUPercent float64 `json:"cpu_percent"`
	PeakRSSKiB int64   `json:"peak_rss_kib"`
	VmHWMKiB   int64   `json:"vmhwm_kib"`
	ThreadsMax int     `json:"threads_max"`
	ThreadsEnd int     `json:"threads_end"`
	Error      string  `json:"error,omitempty"`
}

// Client is one stream client's result.
type Client struct {
	ID          int     `json:"id"`
	Slow        bool    `json:"slow,omitempty"`
	Connected   bool    `json:"connected"`
	FPS         float64 `json:"fps"`
	Frames      int64   `json:"frames"`
	Repeats     int64   `json:"repeats"`
	Bytes       int64   `json:"bytes"`
	ParseErrors int64   `json:"parse_errors,omitempty"`
	Error       string  `json:"error,omitempty"`
}

func (r *runner) report(m measurement, pid int, pidNote string) *Report {
	// Frames and bytes are gated on exactly [mStart, mEnd), so rates divide
	// by the nominal window; CPU times were sampled over m.window, which the
	// sampler's wake-up delays make slightly longer.
	sec := r.opt.Duration.Seconds()
	cpuWindow := m.window
	rep := &Report{
		URL:       r.stream.url,
		Clients:   r.opt.Clients,
		WarmupSec: r.opt.Warmup.Seconds(),
		RampSec:   r.opt.Ramp.Seconds(),
		WindowSec: sec,
		MinFPS:    r.opt.MinFPS,
	}
	if r.opt.Slow > 0 {
		rep.SlowClients, rep.SlowRate = r.opt.Slow, r.opt.SlowRate
	}
	var fast, slow []Client
	for i := range r.clients {
		c := &r.clients[i]
		cr := Client{ID: c.id, Slow: c.slow, Connected: c.connected, FPS: float64(c.frames) / sec,
			Frames: c.frames, Repeats: c.repeats, Bytes: c.bytes, ParseErrors: c.parseErrors}
		switch {
		case c.connectErr != "":
			cr.Error = "connect: " + c.connectErr
			if len(rep.ConnectSamples) < maxSamples {
				rep.ConnectSamples = append(rep.ConnectSamples, fmt.Sprintf("client %d: %s", c.id, c.connectErr))
			}
		case c.lostErr != "":
			cr.Error = "lost: " + c.lostErr
			if len(rep.LostSamples) < maxSamples {
				rep.LostSamples = append(rep.LostSamples, fmt.Sprintf("client %d: %s", c.id, c.lostErr))
			}
		}
		if c.partLimit {
			rep.PartLimitHit++
		}
		rep.PerClient = append(rep.PerClient, cr)
		if c.slow {
			slow = append(slow, cr)
		} else {
			fast = append(fast, cr)
		}
	}
	rep.Fast = group(fast, &r.fastLat, sec)
	if len(slow) > 0 {
		g := group(slow, &r.slowLat, sec)
		rep.Slow = &g
	}
	for _, g := range []*Group{&rep.Fast, rep.Slow} {
		if g != nil {
			rep.Connected += g.Connected
			rep.Failed += g.Failed
			rep.Lost += g.Lost
			rep.ParseErrors += g.ParseErrors
			rep.BytesPerSec += float64(g.Bytes) / sec
		}
	}
	rep.MBPerSec = rep.BytesPerSec / 1e6
	rep.ParseSamples = r.parseSamples

	if r.snap != nil {
		rep.SnapshotURL = r.snap.url
		rep.Snapshots = Snaps{Requested: r.opt.Snapshots, OK: r.snapOK.Load(), Failed: r.snapFailed.Load(),
			P50: r.snapLat.quantile(0.50), P99: r.snapLat.quantile(0.99), Max: r.snapLat.max.Load(),
			Samples: r.snapSamples}
	}

	if pid > 0 {
		s := &Server{PID: pid, CPUPercent: percentOf(m.serverCPU, cpuWindow), PeakRSSKiB: m.peakRSSKiB,
			VmHWMKiB: m.hwmKiB, ThreadsMax: m.threadsMax, ThreadsEnd: m.threadEnd}
		if m.serverErr != nil {
			s.Error = m.serverErr.Error()
		}
		rep.Server = s
	}
	rep.ServerNote = pidNote
	rep.LoadgenCPU = percentOf(m.selfCPU, cpuWindow)
	rep.Problems = rep.problems()
	rep.OK = len(rep.Problems) == 0
	return rep
}

func percentOf(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return 100 * cpu.Seconds() / wall.Seconds()
}

func group(cs []Client, lat *histogram, sec float64) Group {
	g := Group{Clients: len(cs)}
	var fps []float64
	for _, c := range cs {
		if !c.Connected {
			g.Failed++
			continue
		}
		g.Connected++
		if strings.HasPrefix(c.Error, "lost:") {
			g.Lost++
		}
		fps = append(fps, c.FPS)
		g.Frames += c.Frames
		g.Repeats += c.Repeats
		g.Bytes += c.Bytes
		g.ParseErrors += c.ParseErrors
	}
	if len(fps) > 0 {
		slices.Sort(fps)
		g.FPSMin, g.FPSMax = fps[0], fps[len(fps)-1]
		mid := len(fps) / 2
		g.FPSMedian = fps[mid]
		if len(fps)%2 == 0 {
			g.FPSMedian = (fps[mid-1] + fps[mid]) / 2
		}
	}
	g.MBPerSec = float64(g.Bytes) / sec / 1e6
	g.Latency = Latency{Count: lat.count(), P50: lat.quantile(0.50), P90: lat.quantile(0.90),
		P99: lat.quantile(0.99), Max: lat.max.Load(), Negative: lat.negative.Load()}
	return g
}

// problems lists what makes the exit status 1. Slow clients dropped by the
// server are not among them: dropping a reader that cannot keep up is the
// server's policy, and the report shows it.
func (rep *Report) problems() []string {
	p := []string{}
	if rep.Failed > 0 {
		p = append(p, fmt.Sprintf("%d of %d clients failed to connect", rep.Failed, rep.Clients))
	}
	if rep.ParseErrors > 0 {
		p = append(p, fmt.Sprintf("%d parse errors", rep.ParseErrors))
	}
	if rep.Fast.Lost > 0 {
		p = append(p, fmt.Sprintf("%d fast clients lost their stream before the end", rep.Fast.Lost))
	}
	if rep.Snapshots.Failed > 0 {
		p = append(p, fmt.Sprintf("%d of %d snapshots failed", rep.Snapshots.Failed, rep.Snapshots.Requested))
	}
	if rep.MinFPS > 0 && rep.Fast.Connected > 0 && rep.Fast.FPSMin < rep.MinFPS {
		p = append(p, fmt.Sprintf("a fast client got %.2f fps, below -min-fps %g", rep.Fast.FPSMin, rep.MinFPS))
	}
	return p
}

func (rep *Report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func ms(us int64) string { return fmt.Sprintf("%.2f ms", float64(us)/1000) }

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func (rep *Report) writeTable(w io.Writer) error {
	var b strings.Builder
	f := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	f("usbStream loadgen  %s\n", rep.URL)
	f("window        %.2f s measured after %.3g s warm-up (connections opened over %.3g s)\n",
		rep.WindowSec, rep.WarmupSec, rep.RampSec)
	f("clients       %d: %d connected, %d failed to connect, %d lost during the run\n",
		rep.Clients, rep.Connected, rep.Failed, rep.Lost)
	f("throughput    %.2f MB/s in total\n", rep.MBPerSec)
	writeGroup := func(name string, g *Group) {
		f("%s\n", name)
		f("  fps         min %.2f   median %.2f   max %.2f   (new frames per client per second)\n",
			g.FPSMin, g.FPSMedian, g.FPSMax)
		f("  frames      %d new, %d repeats\n", g.Frames, g.Repeats)
		f("  throughput  %.2f MB/s\n", g.MBPerSec)
		l := g.Latency
		f("  latency     p50 %s   p90 %s   p99 %s   max %s   (%d frames, receipt - X-Timestamp)\n",
			ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max), l.Count)
		if l.Negative > 0 {
			f("              %d frames arrived before their X-Timestamp (clock mismatch?)\n", l.Negative)
		}
		if g.ParseErrors > 0 {
			f("  parse errs  %d\n", g.ParseErrors)
		}
	}
	if rep.Slow == nil {
		writeGroup(fmt.Sprintf("clients (%d)", rep.Fast.Clients), &rep.Fast)
	} else {
		writeGroup(fmt.Sprintf("fast clients (%d)", rep.Fast.Clients), &rep.Fast)
		writeGroup(fmt.Sprintf("slow clients (%d, reading at most %d B/s; %d lost)", rep.Slow.Clients, rep.SlowRate, rep.Slow.Lost), rep.Slow)
	}
	f("parse errors  %d (whole run, warm-up included)\n", rep.ParseErrors)
	for _, s := range rep.ParseSamples {
		f("  %s\n", s)
	}
	if rep.PartLimitHit > 0 {
		f("part limit    %d clients stopped after %d parts per second of run time\n", rep.PartLimitHit, maxPartsPerSec)
	}
	if s := rep.Snapshots; s.Requested > 0 {
		f("snapshots     %d ok, %d failed of %d   p50 %s   p99 %s   max %s   (connect to last byte)\n",
			s.OK, s.Failed, s.Requested, ms(s.P50), ms(s.P99), ms(s.Max))
		for _, e := range s.Samples {
			f("  %s\n", e)
		}
	} else {
		f("snapshots     none requested\n")
	}
	if s := rep.Server; s != nil {
		f("server        pid %d: CPU %.1f %% of one core, RSS peak %s (VmHWM %s), threads %d (max %d)\n",
			s.PID, s.CPUPercent, mib(s.PeakRSSKiB), mib(s.VmHWMKiB), s.ThreadsEnd, s.ThreadsMax)
		if s.Error != "" {
			f("              %s\n", s.Error)
		}
	} else {
		f("server        %s\n", rep.ServerNote)
	}
	f("loadgen       CPU %.1f %% of one core\n", rep.LoadgenCPU)
	for _, s := range rep.ConnectSamples {
		f("connect       %s\n", s)
	}
	for _, s := range rep.LostSamples {
		f("lost          %s\n", s)
	}
	if rep.OK {
		f("result        OK\n")
	} else {
		f("result        FAIL: %s\n", strings.Join(rep.Problems, "; "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
