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
)

// Source replays the JPEGs at a path. Create it with New.
type Source struct {
	path string
	fps  float64

	// now and newTicker are the clock; tests replace them to step frames by
	// hand instead of waiting for real time.
	now       func() time.Time
	newTicker func(time.Duration) (ticks <-chan time.Time, stop func())

	mu            sync.Mutex
	width, height int
}

// New returns a replay of path at fps frames per second. path is a folder
// (every *.jpg and *.jpeg in it, any case, in name order; subfolders and
// hidden files such as macOS "._" files are ignored) or a file holding one
// JPEG or an MJPEG stream. A non-positive fps selects source.DefaultFPS. Nothing
// is read until Run.
func New(path string, fps float64) *Source {
	return &Source{
		path: path, fps: source.PacedFPS(fps),
		now:       time.Now,
		newTicker: source.RealTicker,
	}
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
// cannot be replayed: it does not exist, cannot be read, or a full pass over
// it found no usable frame. The supervisor retries then, so a folder that is
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
	p, err := openPlaylist(s.path)
	if err != nil {
		return err
	}
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
		s.mu.Lock()
		s.width, s.height = f.Width, f.Height
		s.mu.Unlock()
		sink.Frame(f)
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
		}
	}
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

	stamp fileStamp // of the file being read
	// learnt keeps, per file of a folder, where its oversized frames are,
	// so that the next pass skips them instead of reading them again.
	learnt map[string]learnt
}

// fileStamp tells whether a file changed between two passes.
type fileStamp struct{ size, modNanos int64 }

func stampOf(f *os.File) fileStamp {
	fi, err := f.Stat()
	if err != nil {
		return fileStamp{size: -1}
	}
	return fileStamp{size: fi.Size(), modNanos: fi.ModTime().UnixNano()}
}

type learnt struct {
	stamp     fileStamp
	oversized map[int64]knownOversized
}

func openPlaylist(path string) (*playlist, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("file replay: %s does not exist", path)
	}
	if err != nil {
		return nil, fmt.Errorf("file replay: %w", err)
	}
	p := &playlist{path: path, dir: fi.IsDir()}
	if p.dir {
		// Listing now reports an empty or unreadable folder at once.
		if err := p.newPass(); err != nil {
			return nil, err
		}
		return p, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("file replay: %w", err)
	}
	p.f, p.name, p.passStarted, p.stamp = f, path, true, stampOf(f)
	p.split = newSplitter(f, MaxFrameSize)
	return p, nil
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
	for name := range p.learnt {
		if _, found := slices.BinarySearch(p.files, name); !found {
			delete(p.learnt, name)
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

// next returns the next usable frame, reporting unusable ones to sink.
func (p *playlist) next(ctx context.Context, sink source.Sink, now func() time.Time) (*frame.Frame, error) {
	drop := func(err error) {
		p.lastProblem = fmt.Errorf("%s: %w", p.name, err)
		sink.Dropped(p.lastProblem)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if p.f == nil {
			if err := p.openNext(drop); err != nil {
				return nil, err
			}
			continue
		}
		b, err := p.split.next(ctx)
		var fe *frameError
		switch {
		case err == nil:
			p.fileFrames++
		case errors.Is(err, io.EOF):
			if err := p.endOfFile(drop); err != nil {
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
			drop(err)
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
func (p *playlist) openNext(drop func(error)) error {
	if p.idx >= len(p.files) {
		if err := p.newPass(); err != nil {
			return err
		}
	}
	p.name = p.files[p.idx]
	p.idx++
	f, err := os.Open(filepath.Join(p.path, p.name))
	if err != nil {
		// Removed since the listing, or unreadable: skip it this pass.
		drop(err)
		return nil
	}
	p.f, p.fileFrames, p.stamp = f, 0, stampOf(f)
	if p.split == nil {
		p.split = newSplitter(f, MaxFrameSize)
	} else {
		p.split.reset(f)
	}
	if l, ok := p.learnt[p.name]; ok && l.stamp == p.stamp {
		p.split.oversized = l.oversized
	}
	return nil
}

// endOfFile moves on after the current file is exhausted: to the next file
// of a folder, or back to the start of a single file.
func (p *playlist) endOfFile(drop func(error)) error {
	if p.dir {
		if p.fileFrames == 0 {
			// Otherwise a text file named .jpg would be skipped silently.
			drop(errors.New("no JPEG frame in the file"))
		}
		if len(p.split.oversized) > 0 {
			if p.learnt == nil {
				p.learnt = make(map[string]learnt)
			}
			p.learnt[p.name] = learnt{stamp: p.stamp, oversized: p.split.oversized}
		} else {
			delete(p.learnt, p.name)
		}
		p.close()
		return nil
	}
	if p.passFrames == 0 {
		return p.noFrames()
	}
	if _, err := p.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("file replay: cannot rewind %s: %w", p.path, err)
	}
	// What the last pass learnt about oversized frames holds only while
	// the file is unchanged.
	if stamp := stampOf(p.f); stamp == p.stamp {
		p.split.rewind(p.f)
	} else {
		p.split.reset(p.f)
		p.stamp = stamp
	}
	p.passFrames, p.lastProblem = 0, nil
	return nil
}
