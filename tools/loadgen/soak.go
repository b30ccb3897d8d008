package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const soakUsageText = `loadgen soak: run usbStream for a long time under a changing client population
and report its frame rate, CPU, memory, goroutines and open files over time.

Usage: go run ./tools/loadgen soak [flags]

The population follows a wave: the number of stream viewers rises from
-min-viewers to -max-viewers and back every -period, viewers leaving half with a
clean close and half with a reset. One reference viewer stays connected from
start to end. Every second -churn short-lived clients come and go (read two
parts and close; reset after the response head; send half a request and hang
up; fetch a snapshot), and a timelapse-like poller fetches a snapshot every
-snapshot-every. Every -interval a row is printed: viewers, the slowest and the
reference viewer's frames per second over the interval (only viewers connected
for the whole interval count), the server's CPU (of one core), RSS, live heap,
goroutines and open files (the last three from /status).

At the end every client leaves and, after a short pause, the server's goroutines
and open files are compared with the figures taken before the first client.

Exit status: 0 if all went well; 1 if the server died or answered with an
error, a stream broke its framing or ended by itself, a snapshot failed, the
slowest full-interval viewer fell below -min-fps, RSS grew by more than
-max-rss-growth from the first period to the last, or goroutines or open files
did not return to the baseline; 2 for bad flags.

Flags:
`

// Bounds that keep a soak finite in time and in clients.
const (
	maxSoakDuration = 24 * time.Hour
	maxSoakViewers  = 1000
	maxChurnPerSec  = 200
	settleAfterSoak = 3 * time.Second
	leaveTimeout    = 10 * time.Second
	// baselineSlack allows for goroutines and descriptors that are not tied
	// to clients and may come and go (a DSF reconnect attempt, a log file
	// being rotated).
	baselineSlack = 2
)

type soakOptions struct {
	URL, User, Password string
	PID                 int
	Duration, Interval  time.Duration
	Period              time.Duration
	MinViewers          int
	MaxViewers          int
	Churn               int
	SnapshotEvery       time.Duration
	MinFPS              float64
	MaxRSSGrowthMiB     float64
	CSV                 string
}

func defaultSoakOptions() soakOptions {
	return soakOptions{
		URL:             "http://127.0.0.1:8085/stream",
		Duration:        time.Hour,
		Interval:        time.Minute,
		MinViewers:      1,
		MaxViewers:      40,
		Churn:           5,
		SnapshotEvery:   2 * time.Second,
		MaxRSSGrowthMiB: 16,
	}
}

func (o *soakOptions) validate() error {
	if o.Period == 0 {
		o.Period = o.Duration / 3
	}
	switch {
	case o.Duration < 10*time.Second || o.Duration > maxSoakDuration:
		return fmt.Errorf("-duration %s: want 10s to %s", o.Duration, maxSoakDuration)
	case o.Interval < time.Second || o.Interval > o.Duration/2:
		return fmt.Errorf("-interval %s: want 1s to half of -duration (%s)", o.Interval, o.Duration/2)
	case o.Period < 2*o.Interval || o.Period > o.Duration:
		return fmt.Errorf("-period %s: want 2 x -interval (%s) to -duration (%s)", o.Period, 2*o.Interval, o.Duration)
	case o.MinViewers < 0 || o.MaxViewers < o.MinViewers || o.MaxViewers > maxSoakViewers:
		return fmt.Errorf("-min-viewers %d, -max-viewers %d: want 0 <= min <= max <= %d", o.MinViewers, o.MaxViewers, maxSoakViewers)
	case o.Churn < 0 || o.Churn > maxChurnPerSec:
		return fmt.Errorf("-churn %d: want 0 to %d short clients per second", o.Churn, maxChurnPerSec)
	case o.SnapshotEvery < 0 || (o.SnapshotEvery > 0 && o.SnapshotEvery < 100*time.Millisecond):
		return fmt.Errorf("-snapshot-every %s: want 0 (none) or at least 100ms", o.SnapshotEvery)
	case o.MinFPS < 0:
		return fmt.Errorf("-min-fps %g: want 0 or more", o.MinFPS)
	case o.MaxRSSGrowthMiB <= 0:
		return fmt.Errorf("-max-rss-growth %g: want more than 0 MiB", o.MaxRSSGrowthMiB)
	case o.PID < 0:
		return fmt.Errorf("-pid %d: want a process id, or 0 to find the process listening on the URL's port", o.PID)
	}
	return nil
}

func soakMain(args []string, stdout, stderr io.Writer) int {
	opt := defaultSoakOptions()
	fs := flag.NewFlagSet("loadgen soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), soakUsageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&opt.URL, "url", opt.URL, "stream `URL` (http, loopback only); /snapshot and /status are taken from its host")
	fs.StringVar(&opt.User, "user", "", "basic-auth user name")
	fs.StringVar(&opt.Password, "password", "", "basic-auth password")
	fs.IntVar(&opt.PID, "pid", 0, "server process id; 0: find the process listening on the URL's port")
	fs.DurationVar(&opt.Duration, "duration", opt.Duration, "length of the soak (10s to 24h)")
	fs.DurationVar(&opt.Interval, "interval", opt.Interval, "time between two report rows")
	fs.DurationVar(&opt.Period, "period", 0, "length of one rise and fall of the viewer count (default: -duration / 3)")
	fs.IntVar(&opt.MinViewers, "min-viewers", opt.MinViewers, "stream viewers at the trough of the wave, besides the reference viewer")
	fs.IntVar(&opt.MaxViewers, "max-viewers", opt.MaxViewers, "stream viewers at the crest of the wave, besides the reference viewer")
	fs.IntVar(&opt.Churn, "churn", opt.Churn, "short-lived clients started per second")
	fs.DurationVar(&opt.SnapshotEvery, "snapshot-every", opt.SnapshotEvery, "time between the poller's snapshots (0: no poller)")
	fs.Float64Var(&opt.MinFPS, "min-fps", 0, "exit 1 if a viewer connected for a whole interval got fewer new frames per second than `X`")
	fs.Float64Var(&opt.MaxRSSGrowthMiB, "max-rss-growth", opt.MaxRSSGrowthMiB, "exit 1 if the highest RSS of the last period exceeds that of the first by more than `MiB`")
	fs.StringVar(&opt.CSV, "csv", "", "also write the rows to this CSV `file`")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen soak: unexpected argument %q (flags only; see -h)\n", fs.Arg(0))
		return 2
	}
	if err := opt.validate(); err != nil {
		fmt.Fprintf(stderr, "loadgen soak: %v\n", err)
		return 2
	}
	if _, err := newTarget(opt.URL, "", ""); err != nil {
		fmt.Fprintf(stderr, "loadgen soak: -url %v\n", err)
		return 2
	}
	s, err := newSoak(opt)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen soak: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var csv io.Writer
	if opt.CSV != "" {
		f, err := os.Create(opt.CSV)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen soak: %v\n", err)
			return 2
		}
		defer f.Close()
		csv = f
	}
	problems := s.run(ctx, stdout, csv)
	if len(problems) > 0 {
		fmt.Fprintln(stdout, "\nFAIL")
		for _, p := range problems {
			fmt.Fprintln(stdout, "- "+p)
		}
		return 1
	}
	fmt.Fprintln(stdout, "\nPASS")
	return 0
}

// soak is one run's shared state. Counters are atomic because every client
// goroutine updates them; mu guards the viewer set and the error samples.
type soak struct {
	opt        soakOptions
	r          *runner // for its stream and snapshot requests
	statusURL  string
	httpClient *http.Client
	pid        int

	mu      sync.Mutex
	viewers map[int]*soakViewer
	nextID  int
	errs    []string
	nErrs   int

	connects, churned, snapsOK, snapsFailed atomic.Int64
	churnSeq                                atomic.Uint64
	parseErrors, lost, refused              atomic.Int64
	snapMaxMicros                           atomic.Int64 // reset every row
}

type soakViewer struct {
	id        int
	frames    atomic.Int64
	start     time.Time // when its first frame arrived
	cancel    context.CancelFunc
	reference bool
}

func newSoak(opt soakOptions) (*soak, error) {
	stream, err := newTarget(opt.URL, opt.User, opt.Password)
	if err != nil {
		return nil, fmt.Errorf("-url %v", err)
	}
	snap, err := newTarget(snapshotURLFor(opt.URL), opt.User, opt.Password)
	if err != nil {
		return nil, err
	}
	ropt := defaultOptions()
	ropt.URL = opt.URL
	r := &runner{opt: ropt, stream: stream, snap: snap}
	u, _ := url.Parse(opt.URL)
	u.Path, u.RawPath, u.RawQuery, u.Fragment = "/status", "", "", ""
	if opt.User != "" {
		u.User = url.UserPassword(opt.User, opt.Password)
	}
	pid := opt.PID
	if pid == 0 {
		var note string
		if pid, note = discoverPID(stream.port); pid == 0 {
			return nil, errors.New(note)
		}
	}
	if _, _, err := procCPU(pid); err != nil {
		return nil, fmt.Errorf("server process %d: %v", pid, err)
	}
	return &soak{
		opt: opt, r: r, statusURL: u.String(), pid: pid,
		httpClient: &http.Client{Timeout: 5 * time.Second},
		viewers:    map[int]*soakViewer{},
	}, nil
}

func (s *soak) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nErrs++
	if len(s.errs) < maxSamples {
		s.errs = append(s.errs, fmt.Sprintf(format, args...))
	}
}

// serverFigures is what /status and /proc say about the server at one moment.
type serverFigures struct {
	at                     time.Time
	cpu                    time.Duration
	rssKiB                 int64
	heapBytes              int64
	goroutines, openFiles  int
	sourceFPS              float64
	sourceState, statusErr string
	clients                clientTotals
	frames                 map[int]viewerFrames // taken at the same moment as at
}

// clientTotals are the soak's own counters since the start; a row shows
// the difference between two samples.
type clientTotals struct{ connects, churned, snapsOK, snapsFailed int64 }

func (s *soak) sample() serverFigures {
	f := serverFigures{at: time.Now(), frames: s.frameCounts(), clients: clientTotals{
		connects: s.connects.Load(), churned: s.churned.Load(),
		snapsOK: s.snapsOK.Load(), snapsFailed: s.snapsFailed.Load(),
	}}
	var err error
	if f.cpu, _, err = procCPU(s.pid); err != nil {
		f.statusErr = fmt.Sprintf("server process %d: %v", s.pid, err)
		return f
	}
	if st, err := procStatus(s.pid); err == nil {
		f.rssKiB = st.rssKiB
	}
	resp, err := s.httpClient.Get(s.statusURL)
	if err != nil {
		f.statusErr = fmt.Sprintf("/status: %v", err)
		return f
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		f.statusErr = fmt.Sprintf("/status: HTTP %s", resp.Status)
		return f
	}
	var doc struct {
		Source struct {
			State       string  `json:"state"`
			MeasuredFPS float64 `json:"measuredFps"`
		} `json:"source"`
		Process struct {
			Goroutines int   `json:"goroutines"`
			OpenFiles  int   `json:"openFiles"`
			HeapBytes  int64 `json:"heapBytes"`
		} `json:"process"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&doc); err != nil {
		f.statusErr = fmt.Sprintf("/status: %v", err)
		return f
	}
	f.goroutines, f.openFiles, f.heapBytes = doc.Process.Goroutines, doc.Process.OpenFiles, doc.Process.HeapBytes
	f.sourceFPS, f.sourceState = doc.Source.MeasuredFPS, doc.Source.State
	return f
}

// targetViewers is the wave: min at the start of each period, max halfway.
func (s *soak) targetViewers(elapsed time.Duration) int {
	phase := float64(elapsed%s.opt.Period) / float64(s.opt.Period)
	span := float64(s.opt.MaxViewers - s.opt.MinViewers)
	return s.opt.MinViewers + int(math.Round(span*(1-math.Cos(2*math.Pi*phase))/2))
}

// soakRow is one printed line.
type soakRow struct {
	elapsed                  time.Duration
	viewers, fullViewers     int
	minFPS, refFPS, srcFPS   float64
	cpuPct                   float64
	rssMiB, heapMiB          float64
	goroutines, openFiles    int
	connects, churned, snaps int64
	snapFailed               int64
	snapMaxMs                float64
}

func (s *soak) run(ctx context.Context, out, csv io.Writer) []string {
	var problems []string
	base := s.sample()
	if base.statusErr != "" {
		return []string{"before the first client: " + base.statusErr}
	}
	fmt.Fprintf(out, "# soak of %s (pid %d) for %s: viewers %d..%d over %s periods, %d short clients/s, snapshot every %s\n",
		s.opt.URL, s.pid, s.opt.Duration, s.opt.MinViewers, s.opt.MaxViewers, s.opt.Period, s.opt.Churn, s.opt.SnapshotEvery)
	fmt.Fprintf(out, "# baseline: goroutines %d, open files %d, RSS %.1f MiB\n\n", base.goroutines, base.openFiles, float64(base.rssKiB)/1024)
	fmt.Fprintln(out, "| time | viewers (whole interval) | slowest viewer fps | reference fps | source fps | CPU % | RSS MiB | heap MiB | goroutines | open files | connects | short clients | snapshots (failed, slowest ms) |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	if csv != nil {
		fmt.Fprintln(csv, "seconds,viewers,full_interval_viewers,min_fps,reference_fps,source_fps,cpu_percent,rss_mib,heap_mib,goroutines,open_files,connects,short_clients,snapshots,snapshots_failed,snapshot_max_ms")
	}

	// Contexts here are cancelled, never given deadlines: a dial whose
	// deadline comes from its context can fail with "i/o timeout" a moment
	// before that context reports itself done, which would count as a
	// server failure.
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	clientCtx, cancelClients := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(s.opt.Duration)
	s.addViewer(clientCtx, &wg, true)
	if s.opt.SnapshotEvery > 0 {
		wg.Go(func() { s.poll(pollCtx) })
	}

	var rows []soakRow
	prev := base
	prev.frames = s.frameCounts() // the reference viewer joined after base
	notStreaming := 0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	nextRow := start.Add(s.opt.Interval)
	maxTicks := int(s.opt.Duration/time.Second) + 2
ticks:
	for range maxTicks {
		var now time.Time
		select {
		case now = <-tick.C:
		case <-ctx.Done():
			break ticks
		}
		s.adjustViewers(clientCtx, &wg, s.targetViewers(now.Sub(start)))
		for range s.opt.Churn {
			kind := int(s.churnSeq.Add(1) % 4)
			wg.Go(func() { s.shortClient(clientCtx, kind) })
		}
		if now.Before(nextRow) {
			continue
		}
		nextRow = nextRow.Add(s.opt.Interval)
		cur := s.sample()
		if cur.statusErr != "" {
			problems = append(problems, fmt.Sprintf("at %s: %s", now.Sub(start).Round(time.Second), cur.statusErr))
			break
		}
		row := s.row(prev, cur, start)
		rows = append(rows, row)
		writeSoakRow(out, csv, row)
		if s.opt.MinFPS > 0 && row.fullViewers > 0 && row.minFPS < s.opt.MinFPS {
			problems = append(problems, fmt.Sprintf("at %s the slowest viewer got %.1f fps, below -min-fps %g",
				row.elapsed.Round(time.Second), row.minFPS, s.opt.MinFPS))
		}
		if cur.sourceState != "streaming" {
			if notStreaming == 0 {
				problems = append(problems, fmt.Sprintf("at %s the source was %q, not streaming",
					row.elapsed.Round(time.Second), cur.sourceState))
			}
			notStreaming++
		}
		prev = cur
		if !nextRow.Before(end.Add(s.opt.Interval / 2)) {
			break
		}
	}
	stopPoll()
	if ctx.Err() != nil {
		problems = append(problems, "interrupted")
	}

	// Everyone leaves; then the server must be back where it started.
	cancelClients()
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(leaveTimeout):
		problems = append(problems, fmt.Sprintf("clients still busy %s after the end", leaveTimeout))
	}
	time.Sleep(settleAfterSoak)
	after := s.sample()
	if after.statusErr != "" {
		problems = append(problems, "after the soak: "+after.statusErr)
	} else {
		fmt.Fprintf(out, "\n# after every client left: goroutines %d (baseline %d), open files %d (baseline %d), RSS %.1f MiB\n",
			after.goroutines, base.goroutines, after.openFiles, base.openFiles, float64(after.rssKiB)/1024)
		if after.goroutines > base.goroutines+baselineSlack {
			problems = append(problems, fmt.Sprintf("goroutines %d after the soak, baseline %d", after.goroutines, base.goroutines))
		}
		if after.openFiles > base.openFiles+baselineSlack {
			problems = append(problems, fmt.Sprintf("open files %d after the soak, baseline %d", after.openFiles, base.openFiles))
		}
	}
	problems = append(problems, s.rssProblems(out, rows)...)
	fmt.Fprintf(out, "# totals: %d stream connects, %d short clients, %d snapshots (%d failed), %d framing errors, %d streams ended by the server, %d refused\n",
		s.connects.Load(), s.churned.Load(), s.snapsOK.Load()+s.snapsFailed.Load(), s.snapsFailed.Load(),
		s.parseErrors.Load(), s.lost.Load(), s.refused.Load())
	if n := s.refused.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("%d requests refused with 503 too many clients: raise the server's -maxclients (or -maxclientsperip) or lower -max-viewers", n))
	}
	s.mu.Lock()
	if s.nErrs > 0 {
		problems = append(problems, fmt.Sprintf("%d client errors, e.g.: %s", s.nErrs, strings.Join(s.errs, "; ")))
	}
	s.mu.Unlock()
	return problems
}

// rssProblems compares the highest RSS of the first period with that of the
// last: memory that grows with uptime shows as a rising crest.
func (s *soak) rssProblems(out io.Writer, rows []soakRow) []string {
	perPeriod := int(s.opt.Period / s.opt.Interval)
	if perPeriod < 1 || len(rows) < 2*perPeriod {
		fmt.Fprintln(out, "# RSS trend: fewer than two periods of rows; not judged")
		return nil
	}
	crest := func(rs []soakRow) float64 {
		m := 0.0
		for _, r := range rs {
			m = max(m, r.rssMiB)
		}
		return m
	}
	first, last := crest(rows[:perPeriod]), crest(rows[len(rows)-perPeriod:])
	fmt.Fprintf(out, "# RSS crest: first period %.1f MiB, last period %.1f MiB\n", first, last)
	if last > first+s.opt.MaxRSSGrowthMiB {
		return []string{fmt.Sprintf("RSS crest grew from %.1f MiB in the first period to %.1f MiB in the last (limit +%g MiB)",
			first, last, s.opt.MaxRSSGrowthMiB)}
	}
	return nil
}

func (s *soak) row(prev, cur serverFigures, start time.Time) soakRow {
	wall := cur.at.Sub(prev.at).Seconds()
	row := soakRow{
		elapsed:    cur.at.Sub(start),
		cpuPct:     100 * (cur.cpu - prev.cpu).Seconds() / wall,
		rssMiB:     float64(cur.rssKiB) / 1024,
		heapMiB:    float64(cur.heapBytes) / (1 << 20),
		goroutines: cur.goroutines, openFiles: cur.openFiles,
		srcFPS:   cur.sourceFPS,
		connects: cur.clients.connects - prev.clients.connects,
		churned:  cur.clients.churned - prev.clients.churned,
		snaps:    cur.clients.snapsOK - prev.clients.snapsOK, snapFailed: cur.clients.snapsFailed - prev.clients.snapsFailed,
		snapMaxMs: float64(s.snapMaxMicros.Swap(0)) / 1000,
		minFPS:    math.Inf(1),
	}
	// A viewer counts when it had its first frame before the interval began
	// and is still there at its end.
	for id, f := range cur.frames {
		p, ok := prev.frames[id]
		if !ok || f.start.After(prev.at) {
			continue
		}
		fps := float64(f.frames-p.frames) / wall
		row.fullViewers++
		row.minFPS = min(row.minFPS, fps)
		if f.reference {
			row.refFPS = fps
		}
	}
	if row.fullViewers == 0 {
		row.minFPS = 0
	}
	row.viewers = len(cur.frames)
	return row
}

func writeSoakRow(out, csv io.Writer, r soakRow) {
	fmt.Fprintf(out, "| %s | %d (%d) | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %d | %d | %d | %d (%d, %.0f) |\n",
		r.elapsed.Round(time.Second), r.viewers, r.fullViewers, r.minFPS, r.refFPS, r.srcFPS, r.cpuPct, r.rssMiB, r.heapMiB,
		r.goroutines, r.openFiles, r.connects, r.churned, r.snaps, r.snapFailed, r.snapMaxMs)
	if csv != nil {
		fmt.Fprintf(csv, "%.0f,%d,%d,%.2f,%.2f,%.2f,%.1f,%.2f,%.2f,%d,%d,%d,%d,%d,%d,%.1f\n",
			r.elapsed.Seconds(), r.viewers, r.fullViewers, r.minFPS, r.refFPS, r.srcFPS, r.cpuPct, r.rssMiB, r.heapMiB,
			r.goroutines, r.openFiles, r.connects, r.churned, r.snaps, r.snapFailed, r.snapMaxMs)
	}
}

type viewerFrames struct {
	frames    int64
	start     time.Time
	reference bool
}

func (s *soak) frameCounts() map[int]viewerFrames {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[int]viewerFrames, len(s.viewers))
	for id, v := range s.viewers {
		if !v.start.IsZero() {
			m[id] = viewerFrames{frames: v.frames.Load(), start: v.start, reference: v.reference}
		}
	}
	return m
}

// adjustViewers starts or stops viewers to reach want, besides the
// reference viewer. The longest-connected leave first.
func (s *soak) adjustViewers(ctx context.Context, wg *sync.WaitGroup, want int) {
	s.mu.Lock()
	var ids []int
	for id, v := range s.viewers {
		if !v.reference {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	sort.Ints(ids)
	for len(ids) < want {
		s.addViewer(ctx, wg, false)
		ids = append(ids, -1)
	}
	for _, id := range ids[:max(0, len(ids)-want)] {
		s.mu.Lock()
		if v := s.viewers[id]; v != nil {
			v.cancel()
		}
		s.mu.Unlock()
	}
}

func (s *soak) addViewer(ctx context.Context, wg *sync.WaitGroup, reference bool) {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	v := &soakViewer{id: s.nextID, cancel: cancel, reference: reference}
	s.nextID++
	s.viewers[v.id] = v
	s.mu.Unlock()
	wg.Go(func() {
		defer func() {
			cancel()
			s.mu.Lock()
			delete(s.viewers, v.id)
			s.mu.Unlock()
		}()
		s.view(ctx, v)
	})
}

// view reads a stream until ctx ends; a stream that ends by itself is a
// failure. Odd viewers leave with a reset, even ones with a clean close.
func (s *soak) view(ctx context.Context, v *soakViewer) {
	conn, br, boundary, err := s.open(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.noteOpenError("viewer", err)
		}
		return
	}
	s.connects.Add(1)
	defer func() {
		if v.id%2 == 1 {
			conn.(*net.TCPConn).SetLinger(0)
		}
		conn.Close()
	}()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	pr := newPartReader(br, boundary, s.r.opt.maxPartSize)
	lastTS := int64(-1)
	limit := 1000 + int(float64(maxPartsPerSec)*s.opt.Duration.Seconds())
	for range limit {
		// Deadline first, then the check: a cancel after the check sets
		// its own deadline (now) after this one.
		conn.SetReadDeadline(time.Now().Add(s.r.opt.ConnectTimeout))
		if ctx.Err() != nil {
			return
		}
		p, err := pr.next()
		if err != nil {
			if isParseError(err) {
				s.parseErrors.Add(1)
				s.fail("viewer %d: %v", v.id, err)
				continue
			}
			if ctx.Err() == nil {
				s.lost.Add(1)
				s.fail("viewer %d: stream ended after %d frames: %s", v.id, v.frames.Load(), describeEnd(err))
			}
			return
		}
		if p.timestamp != lastTS {
			if v.frames.Load() == 0 {
				s.mu.Lock()
				v.start = p.received
				s.mu.Unlock()
			}
			v.frames.Add(1)
		}
		lastTS = p.timestamp
	}
}

// open connects, sends the stream request and reads the response head.
func (s *soak) open(ctx context.Context) (net.Conn, *bufio.Reader, string, error) {
	conn, err := (&net.Dialer{Timeout: s.r.opt.ConnectTimeout}).DialContext(ctx, "tcp", s.r.stream.dialAddr)
	if err != nil {
		return nil, nil, "", err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	conn.SetDeadline(time.Now().Add(s.r.opt.ConnectTimeout))
	br := bufio.NewReaderSize(conn, s.r.opt.bufferSize)
	boundary, err := s.r.openStream(conn, br)
	if err != nil {
		conn.Close()
		return nil, nil, "", err
	}
	stop()
	conn.SetDeadline(time.Time{})
	if err := ctx.Err(); err != nil {
		conn.Close()
		return nil, nil, "", err
	}
	return conn, br, boundary, nil
}

// noteOpenError counts a 503 from a client limit apart from other
// failures (a 503 with the placeholder picture means the source is offline).
func (s *soak) noteOpenError(who string, err error) {
	if isRefusal(err) {
		s.refused.Add(1)
		return
	}
	s.fail("%s: %v", who, err)
}

func isRefusal(err error) bool { return strings.Contains(err.Error(), "too many clients") }

// shortClient is one of the ways real clients come and go.
// Each is bounded by its connection's deadlines, not by a context timeout
// (see run).
func (s *soak) shortClient(ctx context.Context, kind int) {
	s.churned.Add(1)
	switch kind {
	case 0, 1: // read two parts, then close (0) or reset (1) mid-stream
		conn, br, boundary, err := s.open(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.noteOpenError("short client", err)
			}
			return
		}
		defer conn.Close()
		if kind == 1 {
			conn.(*net.TCPConn).SetLinger(0)
			return
		}
		conn.SetReadDeadline(time.Now().Add(s.r.opt.ConnectTimeout))
		pr := newPartReader(br, boundary, s.r.opt.maxPartSize)
		for range 2 {
			if _, err := pr.next(); err != nil {
				if ctx.Err() == nil {
					s.fail("short client: %v", err)
				}
				return
			}
		}
	case 2: // half a request, then hang up
		conn, err := (&net.Dialer{Timeout: s.r.opt.ConnectTimeout}).DialContext(ctx, "tcp", s.r.stream.dialAddr)
		if err != nil {
			if ctx.Err() == nil {
				s.fail("half request: %v", err)
			}
			return
		}
		conn.Write(s.r.stream.request[:len(s.r.stream.request)/2])
		conn.Close()
	case 3:
		s.snapshot(ctx, "short snapshot")
	}
}

func (s *soak) snapshot(ctx context.Context, who string) {
	t0 := time.Now()
	err := s.r.fetchSnapshot(ctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		if isRefusal(err) {
			s.refused.Add(1)
			return
		}
		s.snapsFailed.Add(1)
		s.fail("%s: %v", who, err)
		return
	}
	s.snapsOK.Add(1)
	us := time.Since(t0).Microseconds()
	for {
		cur := s.snapMaxMicros.Load()
		if us <= cur || s.snapMaxMicros.CompareAndSwap(cur, us) {
			break
		}
	}
}

// poll fetches a snapshot every -snapshot-every, as DuetLapse3 does.
func (s *soak) poll(ctx context.Context) {
	t := time.NewTicker(s.opt.SnapshotEvery)
	defer t.Stop()
	n := int(s.opt.Duration/s.opt.SnapshotEvery) + 1
	for range n {
		select {
		case <-t.C:
			s.snapshot(ctx, "snapshot poller")
		case <-ctx.Done():
			return
		}
	}
}
