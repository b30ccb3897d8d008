// Package filereplay replays JPEG frames from disk at a fixed rate, looping
// forever: a folder of .jpg/.jpeg files, one JPEG, or an MJPEG stream file.
// It stands in for a camera in demos and tests, and replays a recording of a
// problem camera.
package filereplay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"usbstream/internal/frame"
	"usbstream/internal/jpeg"
	"usbstream/internal/source"
)

const (
	// MaxFrameSize is the largest frame replayed. Larger ones are dropped,
	// so a corrupt or hostile file cannot make the reader hold more; a 4K
	// picture at JPEG quality 100 is under 10 MB, camera frames far less.
	MaxFrameSize = 16 << 20

	// defaultReadBudget is how much one frame may cost in reading: past it
	// without a usable frame (a folder of huge files, each walked once to
	// learn where it ends) the tick goes without a frame and reading
	// resumes on the next, so the work per tick stays bounded.
	defaultReadBudget = 4 * MaxFrameSize
)

// Source replays the JPEGs at a path. Create it with New.
type Source struct {
	path string
	fps  float64

	// now and newTicker are the clock; tests replace them to step frames by
	// hand instead of waiting for real time.
	now       func() time.Time
	newTicker func(time.Duration) (ticks <-chan time.Time, stop func())
	// readBudget is defaultReadBudget; tests lower it.
	readBudget int64

	// transform, quality and demand: see Transformed.
	transform jpeg.Transform
	quality   int
	demand    func() bool

	mu            sync.Mutex
	width, height int
	published     bool // a frame was handed out since New

	// memo is what passes learnt about each file, kept across Runs so that
	// the supervisor's retries after a pass without frames do not read a
	// huge file again. Only Run touches it, and Runs do not overlap.
	memo map[string]learnt
}

// New returns a replay of path at fps frames per second. path is a folder
// (every *.jpg and *.jpeg in it, any case, in name order; subfolders and
// hidden files such as macOS "._" files are ignored) or a file holding one
// JPEG or an MJPEG stream. Only regular files are read (symlinks to them
// too): a FIFO, a device or a socket in the folder is skipped and reported
// through sink.Skipped. A non-positive fps selects source.DefaultFPS.
// Nothing is read until Run.
func New(path string, fps float64) *Source {
	return &Source{
		path: path, fps: source.PacedFPS(fps),
		now:        time.Now,
		newTicker:  source.RealTicker,
		readBudget: defaultReadBudget,
	}
}

// Transformed makes the replay turn and flip its frames as a camera's MJPEG
// frames are (-rotate, -flip): decoded, transformed and encoded at quality,
// and only while demand says someone may want them (nil: always), since
// that costs a decode and an encode per frame. It returns s.
func (s *Source) Transformed(t jpeg.Transform, quality int, demand func() bool) *Source {
	s.transform, s.quality, s.demand = t, quality, demand
	return s
}

// Info describes the replay. Width and Height are those of the last frame
// replayed, 0 until Run has read one.
func (s *Source) Info() source.Info {
	s.mu.Lock()
	w, h := s.width, s.height
	s.mu.Unlock()
	return source.Info{Kind: "file", Device: s.path, Format: "JPEG", Width: w, Height: h, FPS: s.fps}
}

// Run replays frames until ctx is cancelled (it returns nil) or the path
// cannot be replayed: it does not exist, cannot be read, is not a regular
// file or folder, or a full pass over it found no usable frame. The supervisor retries then, so a folder that is
// filled later starts playing.
//
// The first frame is sent at once, then one per tick. A time.Ticker keeps at
// most one tick pending, so slow storage lowers the rate instead of building
// a backlog. Frames are read one at a time, each into a new slice (it is
// handed to the sink and shared by clients), so memory does not depend on
// the file's size. Unusable frames are reported to sink.Dropped and skipped.
func (s *Source) Run(ctx context.Context, sink source.Sink) error {
	if ctx.Err() != nil {
		return nil
	}
	if s.memo == nil {
		s.memo = make(map[string]learnt)
	}
	p, err := openPlaylist(s.path, s.memo)
	if err != nil {
		return err
	}
	p.budget = s.readBudget
	defer p.close()
	ticks, stop := s.newTicker(max(time.Millisecond, time.Duration(float64(time.Second)/s.fps)))
	defer stop()
	for {
		f, err := p.next(ctx, sink, s.now)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if f != nil {
			s.publish(f, sink)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
		}
	}
}

// publish hands f to sink, transformed if asked; frames nobody wants are
// counted as idle instead of transformed. The first frame is always made,
// so a client finds one at once.
func (s *Source) publish(f *frame.Frame, sink source.Sink) {
	w, h := f.Width, f.Height
	if s.transform.SwapsSize() {
		w, h = h, w
	}
	s.mu.Lock()
	s.width, s.height = w, h
	first := !s.published
	s.published = true
	s.mu.Unlock()
	if s.transform.IsIdentity() {
		sink.Frame(f)
		return
	}
	if !first && s.demand != nil && !s.demand() {
		sink.Idle(f.Captured)
		return
	}
	out, err := jpeg.TransformJPEG(f.JPEG, s.transform, s.quality)
	if err != nil {
		sink.Dropped(fmt.Errorf("file replay: cannot rotate or flip a frame: %w", err))
		return
	}
	f.JPEG, f.Width, f.Height = out, w, h
	sink.Frame(f)
}

// playlist reads the frames of one pass over the path after another.
type playlist struct {
	path string
	dir  bool

	files []string // this pass, for a folder
	idx   int      // next file to open
	name  string   // file being read, for messages
	f     *os.File
	split *splitter

	passStarted bool
	passFrames  int   // usable frames in this pass
	fileFrames  int   // frames, usable or not, in the current file
	lastProblem error // why the last frame or file was unusable
	read        int64 // bytes read from files, for budget
	budget      int64 // Source.readBudget

	stamp fileStamp // of the file being read
	// rest is where the current file's usable data ends (-1: at its end)
	// and why, when a pass found that reading on would not find a frame.
	rest       int64
	restReason error
	// memo keeps, per file, where its oversized frames are and where its
	// usable data ends, so that the next pass skips them instead of
	// reading them again.
	memo map[string]learnt
}

// fileStamp tells whether a file changed between two passes.
type fileStamp struct{ size, modNanos int64 }

func stampOf(fi fs.FileInfo) fileStamp {
	return fileStamp{size: fi.Size(), modNanos: fi.ModTime().UnixNano()}
}

type learnt struct {
	stamp      fileStamp
	oversized  map[int64]knownOversized
	rest       int64 // as playlist.rest
	restReason error
}

// counted is a file read up to a limit, counting what is read.
type counted struct {
	*io.SectionReader
	n *int64
}

func (c counted) Read(b []byte) (int, error) {
	n, err := c.SectionReader.Read(b)
	*c.n += int64(n)
	return n, err
}

// notRegularError refuses a file that is not a regular file: opening a FIFO
// blocks until a writer comes, reading a device may never end (/dev/zero)
// or have effects, and neither can be replayed.
type notRegularError struct {
	what   string // "a named pipe (FIFO)", ...
	target string // where the symlink named points, if it is one
}

func (e *notRegularError) Error() string {
	if e.target != "" {
		return fmt.Sprintf("is a symlink to %s, which is %s; only regular files are replayed", e.target, e.what)
	}
	return fmt.Sprintf("is %s; only regular files are replayed", e.what)
}

func notRegular(path string, mode fs.FileMode) error {
	var what string
	switch {
	case mode&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case mode&fs.ModeCharDevice != 0:
		what = "a character device"
	case mode&fs.ModeDevice != 0:
		what = "a block device"
	case mode&fs.ModeSocket != 0:
		what = "a socket"
	case mode.IsDir():
		what = "a folder"
	default:
		what = "not a regular file"
	}
	target, _ := os.Readlink(path)
	return &notRegularError{what: what, target: target}
}

// openRegular opens path for reading if it is a regular file, and never
// blocks on one that is not. The check before the open keeps devices from
// being opened at all; O_NONBLOCK makes an open of a FIFO put there since
// return at once instead of waiting for a writer, and the check after it,
// on the open file, catches that swap.
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, notRegular(path, fi.Mode())
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	if fi, err = f.Stat(); err == nil && !fi.Mode().IsRegular() {
		err = notRegular(path, fi.Mode())
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

func openPlaylist(path string, memo map[string]learnt) (*playlist, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("file replay: %s does not exist", path)
	}
	if err != nil {
		return nil, fmt.Errorf("file replay: %w", err)
	}
	p := &playlist{path: path, dir: fi.IsDir(), memo: memo}
	if p.dir {
		// Listing now reports an empty or unreadable folder at once.
		if err := p.newPass(); err != nil {
			return nil, err
		}
		return p, nil
	}
	f, fi, err := openRegular(path)
	var nr *notRegularError
	if errors.As(err, &nr) {
		return nil, fmt.Errorf("file replay: %s %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("file replay: %w", err)
	}
	p.name, p.passStarted = path, true
	p.attach(f, fi)
	return p, nil
}

// attach starts reading f, just opened or rewound, from its start. It reads
// no further than the size f has now, so a file that grows while it is read
// (a capture still being written) cannot keep the reader in it; the growth
// is read on the next pass. What an earlier pass learnt applies while the
// file is unchanged.
func (p *playlist) attach(f *os.File, fi fs.FileInfo) {
	p.f, p.fileFrames, p.stamp = f, 0, stampOf(fi)
	p.rest, p.restReason = -1, nil
	limit := fi.Size()
	l, known := p.memo[p.name]
	if known && l.stamp != p.stamp {
		delete(p.memo, p.name)
		known = false
	}
	if known && l.rest >= 0 {
		p.rest, p.restReason = l.rest, l.restReason
		limit = min(limit, l.rest)
	}
	r := counted{io.NewSectionReader(f, 0, limit), &p.read}
	if p.split == nil {
		p.split = newSplitter(r, MaxFrameSize)
	} else {
		p.split.reset(r)
	}
	if known {
		p.split.oversized = l.oversized
	}
}

// remember keeps what this pass learnt about the current file for the next.
func (p *playlist) remember() {
	if len(p.split.oversized) == 0 && p.rest < 0 {
		delete(p.memo, p.name)
		return
	}
	p.memo[p.name] = learnt{stamp: p.stamp, oversized: p.split.oversized, rest: p.rest, restReason: p.restReason}
}

func (p *playlist) close() {
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
}

// newPass lists the folder again, so files added or removed since the last
// pass are taken into account.
func (p *playlist) newPass() error {
	if p.passStarted && p.passFrames == 0 {
		return p.noFrames()
	}
	entries, err := os.ReadDir(p.path)
	if err != nil {
		return fmt.Errorf("file replay: cannot list the folder: %w", err)
	}
	p.files = p.files[:0]
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if e.IsDir() || strings.HasPrefix(name, ".") || (ext != ".jpg" && ext != ".jpeg") {
			continue
		}
		p.files = append(p.files, name)
	}
	if len(p.files) == 0 {
		return fmt.Errorf("file replay: folder %s has no .jpg or .jpeg files", p.path)
	}
	slices.Sort(p.files)
	for name := range p.memo {
		if _, found := slices.BinarySearch(p.files, name); !found {
			delete(p.memo, name)
		}
	}
	p.idx, p.passFrames, p.passStarted, p.lastProblem = 0, 0, true, nil
	return nil
}

func (p *playlist) noFrames() error {
	what := "file"
	if p.dir {
		what = "folder"
	}
	if p.lastProblem != nil {
		return fmt.Errorf("file replay: no usable JPEG frame in %s %s (last problem: %v)", what, p.path, p.lastProblem)
	}
	return fmt.Errorf("file replay: no JPEG frame in %s %s", what, p.path)
}

// next returns the next usable frame, reporting unusable ones to sink, or
// nil when the read budget ran out before one was found.
func (p *playlist) next(ctx context.Context, sink source.Sink, now func() time.Time) (*frame.Frame, error) {
	drop := func(err error) {
		p.lastProblem = fmt.Errorf("%s: %w", p.name, err)
		sink.Dropped(p.lastProblem)
	}
	// A file problem is reported as skipped, not as a dropped frame: it
	// comes back on every pass, and the supervisor warns about it once.
	skip := func(err error) {
		p.lastProblem = fmt.Errorf("%s: %w", p.name, err)
		sink.Skipped(p.name, err)
	}
	started := p.read
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if p.read-started > p.budget {
			return nil, nil
		}
		if p.f == nil {
			if err := p.openNext(skip); err != nil {
				return nil, err
			}
			continue
		}
		b, err := p.split.next(ctx)
		var fe *frameError
		var re *restError
		switch {
		case err == nil:
			p.fileFrames++
		case errors.Is(err, io.EOF):
			if err := p.endOfFile(drop, skip); err != nil {
				return nil, err
			}
			continue
		case errors.As(err, &re):
			p.rest, p.restReason = re.offset, err
			if err := p.endOfFile(drop, skip); err != nil {
				return nil, err
			}
			continue
		case errors.As(err, &fe):
			p.fileFrames++
			drop(err)
			continue
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case p.dir:
			// One unreadable file does not stop the folder.
			skip(err)
			p.close()
			continue
		default:
			return nil, fmt.Errorf("file replay: reading %s: %w", p.path, err)
		}
		read := now()
		if err := jpeg.Check(b); err != nil {
			drop(err)
			continue
		}
		w, h, err := jpeg.Dimensions(b)
		if err != nil {
			drop(err)
			continue
		}
		p.passFrames++
		return &frame.Frame{JPEG: b, Captured: read, Width: w, Height: h}, nil
	}
}

// openNext opens the folder's next file, starting a new pass after the last.
func (p *playlist) openNext(skip func(error)) error {
	if p.idx >= len(p.files) {
		if err := p.newPass(); err != nil {
			return err
		}
	}
	p.name = p.files[p.idx]
	p.idx++
	f, fi, err := openRegular(filepath.Join(p.path, p.name))
	if err != nil {
		// Not a regular file, removed since the listing, or unreadable:
		// skip it this pass.
		skip(err)
		return nil
	}
	p.attach(f, fi)
	return nil
}

// endOfFile moves on after the current file is exhausted, or its rest given
// up: to the next file of a folder, or back to the start of a single file.
func (p *playlist) endOfFile(drop, skip func(error)) error {
	if p.rest >= 0 {
		// Again on every pass, for /status's last problem; the supervisor
		// warns only the first time.
		skip(p.restReason)
	}
	p.remember()
	if p.dir {
		if p.fileFrames == 0 && p.rest < 0 {
			// Otherwise a text file named .jpg would be skipped silently.
			drop(errors.New("no JPEG frame in the file"))
		}
		p.close()
		return nil
	}
	if p.passFrames == 0 {
		return p.noFrames()
	}
	fi, err := p.f.Stat()
	if err != nil {
		return fmt.Errorf("file replay: %s: %w", p.path, err)
	}
	p.attach(p.f, fi)
	p.passFrames, p.lastProblem = 0, nil
	return nil
}
