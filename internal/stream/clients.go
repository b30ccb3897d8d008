package stream

import (
	"errors"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"usbstream/internal/meter"
)

// Registry tracks the connected clients for /status. Adding and removing is
// per connection, never per frame.
type Registry struct {
	mu       sync.Mutex
	clients  map[uint64]*Client
	perHost  map[string]int
	nextID   uint64
	lastLeft time.Time
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{clients: make(map[uint64]*Client), perHost: make(map[string]int)}
}

// Limits bound the clients served at once; 0 means no bound.
type Limits struct {
	Total   int // all clients
	PerHost int // clients from one IP address
}

// Errors from Admit.
var (
	ErrFull     = errors.New("too many clients")
	ErrHostFull = errors.New("too many clients from this address")
)

// Client is one connected reader. Its counters are updated by the goroutine
// serving it and read by /status.
type Client struct {
	ID          uint64
	Remote      string
	Path        string
	Kind        string // "stream" or "snapshot"
	MaxFPS      float64
	ConnectedAt time.Time
	host        string // for the per-address count

	frames  atomic.Uint64 // new frames sent
	repeats atomic.Uint64 // keep-alive re-sends of an unchanged frame
	skipped atomic.Uint64 // frames published while this client was busy
	bytes   atomic.Uint64
	rate    meter.Rate
	// Age of the last new frame when its write finished, and the most of
	// any frame: on a slow link, how fresh what the viewer sees is.
	lastAge, maxAge atomic.Int64 // nanoseconds
}

// sentAge records the age of a frame whose write has just finished.
func (c *Client) sentAge(age time.Duration) {
	c.lastAge.Store(int64(age))
	for {
		m := c.maxAge.Load()
		if int64(age) <= m || c.maxAge.CompareAndSwap(m, int64(age)) {
			return
		}
	}
}

// ClientInfo is a client as /status shows it.
type ClientInfo struct {
	ID     uint64  `json:"id"`
	Remote string  `json:"remote"`
	Path   string  `json:"path"`
	Kind   string  `json:"kind"`
	MaxFPS float64 `json:"maxFps,omitempty"`
	FPS    float64 `json:"fps"`
	Frames uint64  `json:"frames"`
	// Repeats counts the keep-alive re-sends of the last frame while no new
	// one came: rising while Frames stands still, the viewer is looking at
	// a camera that stopped sending. Streams only.
	Repeats uint64 `json:"repeats"`
	Skipped uint64 `json:"skipped"`
	Bytes   uint64 `json:"bytes"`
	// FrameAgeMs is how old the last frame sent was when its write
	// finished (capture to the kernel taking it); MaxFrameAgeMs the most
	// since the client connected. Streams only.
	FrameAgeMs    float64   `json:"frameAgeMs,omitempty"`
	MaxFrameAgeMs float64   `json:"maxFrameAgeMs,omitempty"`
	ConnectedAt   time.Time `json:"connectedAt"`
}

// Admit registers a new client unless that would pass a limit; checking and
// adding under one lock keeps a burst of requests from overshooting it.
// The caller must Remove an admitted client when it leaves.
func (r *Registry) Admit(remote, path, kind string, maxFPS float64, lim Limits) (*Client, error) {
	host := hostOf(remote)
	r.mu.Lock()
	defer r.mu.Unlock()
	if lim.Total > 0 && len(r.clients) >= lim.Total {
		return nil, ErrFull
	}
	if lim.PerHost > 0 && r.perHost[host] >= lim.PerHost {
		return nil, ErrHostFull
	}
	r.nextID++
	c := &Client{ID: r.nextID, Remote: remote, Path: path, Kind: kind, MaxFPS: maxFPS, ConnectedAt: time.Now(), host: host}
	r.clients[c.ID] = c
	r.perHost[host]++
	return c, nil
}

// Remove forgets c.
func (r *Registry) Remove(c *Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.clients[c.ID]; !ok {
		return
	}
	delete(r.clients, c.ID)
	if r.perHost[c.host]--; r.perHost[c.host] <= 0 {
		delete(r.perHost, c.host)
	}
	r.lastLeft = time.Now()
}

// hostOf is the IP address of a remote "host:port"; anything else (a
// UNIX-socket peer, a test's made-up address) is its own host.
func hostOf(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

// Wanted reports whether frames may be wanted at now: a client is connected,
// or one left less than linger ago (a timelapse that polls snapshots, a
// browser reloading). Sources that must encode each frame skip the work
// otherwise.
func (r *Registry) Wanted(now time.Time, linger time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.clients) > 0 || (!r.lastLeft.IsZero() && now.Sub(r.lastLeft) < linger)
}

// List returns the connected clients, oldest first.
func (r *Registry) List(now time.Time) []ClientInfo {
	r.mu.Lock()
	list := make([]ClientInfo, 0, len(r.clients))
	for _, c := range r.clients {
		list = append(list, c.Info(now))
	}
	r.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	return list
}

// Info returns the client's figures at now.
func (c *Client) Info(now time.Time) ClientInfo {
	return ClientInfo{
		ID: c.ID, Remote: c.Remote, Path: c.Path, Kind: c.Kind, MaxFPS: c.MaxFPS,
		FPS:           c.rate.PerSecond(now),
		Frames:        c.frames.Load(),
		Repeats:       c.repeats.Load(),
		Skipped:       c.skipped.Load(),
		Bytes:         c.bytes.Load(),
		FrameAgeMs:    millis(c.lastAge.Load()),
		MaxFrameAgeMs: millis(c.maxAge.Load()),
		ConnectedAt:   c.ConnectedAt,
	}
}

// Sent records a frame sent to the client outside a stream (a snapshot).
func (c *Client) Sent(n int) {
	c.frames.Add(1)
	c.bytes.Add(uint64(n))
	c.rate.Tick(time.Now())
}

// millis turns nanoseconds into milliseconds with a tenth's precision.
func millis(ns int64) float64 { return float64(ns/1e5) / 10 }
