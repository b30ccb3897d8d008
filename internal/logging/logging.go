// Package logging builds the process logger: human-readable lines on stderr
// and, optionally, in a size-capped log file that survives restarts.
package logging

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// MaxFileSize is where the log file is rotated: a printer's SBC runs for
// months and its SD card is small.
const MaxFileSize = 10 << 20

// Output is where the logger writes and at which level; a config reload
// changes both without recreating the logger that every package holds.
type Output struct {
	level   zap.AtomicLevel
	file    switchable
	secrets atomic.Pointer[[][]byte] // what no line may contain; see SetSecrets

	mu   sync.Mutex
	path string
}

// New returns a logger writing to stderr and, when path is set, appending to
// that file. Debug lines are included when verbose is set. A log file that
// cannot be opened is not fatal: the logger falls back to stderr and the
// returned warning says why.
func New(verbose bool, path string) (log *zap.Logger, out *Output, warning error) {
	out = &Output{level: zap.NewAtomicLevel()}
	encCfg := zap.NewDevelopmentEncoderConfig()
	encCfg.EncodeTime = zapcore.TimeEncoderOfLayout("2006-01-02 15:04:05.000")
	enc := zapcore.NewConsoleEncoder(encCfg)
	log = zap.New(zapcore.NewTee(
		zapcore.NewCore(enc, zapcore.Lock(redacting{os.Stderr, out}), out.level),
		zapcore.NewCore(enc, redacting{&out.file, out}, out.level),
	))
	warning = out.Set(verbose, path)
	return log, out, warning
}

// Set switches the level and the log file. A file that cannot be opened
// leaves stderr only, and the error says why.
func (o *Output) Set(verbose bool, path string) error {
	if verbose {
		o.level.SetLevel(zap.DebugLevel)
	} else {
		o.level.SetLevel(zap.InfoLevel)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if path == o.path {
		return nil
	}
	o.path = path
	if path == "" {
		o.file.swap(nil)
		return nil
	}
	f, err := OpenFile(path, MaxFileSize)
	if err != nil {
		o.file.swap(nil)
		return fmt.Errorf("logging to stderr only: %w", err)
	}
	o.file.swap(f)
	return nil
}

// MinSecret is the shortest secret SetSecrets removes from lines: a
// shorter one is a common piece of words, and removing it would garble the
// log more than it protects.
const MinSecret = 4

// SetSecrets replaces the strings that no log line may contain (the
// password, the snapshot door's token). A line that has one anyway, through
// some path no one foresaw (an error quoting a value, a library's message),
// is written with it replaced by ***. It is the last line of defence: the
// messages themselves are written not to contain secrets.
func (o *Output) SetSecrets(secrets ...string) {
	var list [][]byte
	for _, s := range secrets {
		if len(s) < MinSecret {
			continue
		}
		list = append(list, []byte(s))
		// The console encoder escapes quotes, backslashes and control
		// characters inside field values.
		if q := strconv.Quote(s); q[1:len(q)-1] != s {
			list = append(list, []byte(q[1:len(q)-1]))
		}
	}
	o.secrets.Store(&list)
}

// redacting writes encoded log lines to w without o's secrets.
type redacting struct {
	w zapcore.WriteSyncer
	o *Output
}

func (r redacting) Write(p []byte) (int, error) {
	if list := r.o.secrets.Load(); list != nil {
		out, changed := p, false
		for _, s := range *list {
			if bytes.Contains(out, s) {
				out, changed = bytes.ReplaceAll(out, s, []byte("***")), true
			}
		}
		if changed {
			if _, err := r.w.Write(out); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return r.w.Write(p)
}

func (r redacting) Sync() error { return r.w.Sync() }

// Path is the log file in use, "" for none.
func (o *Output) Path() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.file.current() == nil {
		return ""
	}
	return o.path
}

// Close closes the log file.
func (o *Output) Close() { o.file.swap(nil) }

// switchable is a log file that can be replaced (or removed) while loggers
// write to it.
type switchable struct {
	mu sync.RWMutex
	f  *File
}

func (s *switchable) Write(p []byte) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.f == nil {
		return len(p), nil
	}
	return s.f.Write(p)
}

func (s *switchable) Sync() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.f == nil {
		return nil
	}
	return s.f.Sync()
}

func (s *switchable) swap(f *File) {
	s.mu.Lock()
	old := s.f
	s.f = f
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

func (s *switchable) current() *File {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.f
}

// File is an append-only log file that is moved to "<path>.1" (replacing
// the previous one) when it reaches its size limit, so at most twice the
// limit is ever used on disk.
type File struct {
	mu      sync.Mutex
	path    string
	limit   int64
	f       *os.File
	size    int64
	failed  bool // a write failed; reported once on stderr
	dropped int
}

// OpenFile opens (creating it and its folder if needed) or appends to path.
func OpenFile(path string, limit int64) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the log folder: %w", err)
	}
	lf := &File{path: path, limit: limit}
	if err := lf.open(); err != nil {
		return nil, err
	}
	return lf, nil
}

// ErrNotRegular is wrapped by OpenFile's error for a path that exists but
// is neither a regular file nor a character device.
var ErrNotRegular = errors.New("not a regular file")

// usable reports whether a log may be written to a file of mode m: a
// regular file, or a character device such as /dev/null or /dev/full, which
// takes writes without blocking. Opening a FIFO for writing blocks until
// something reads it, which would hold the start, a reload and the exit for
// good, and once open every log line waits for its reader; a block device
// or a folder is no log.
func usable(m os.FileMode) bool { return m.IsRegular() || m&os.ModeCharDevice != 0 }

// open checks the kind before the open, opens without blocking
// (O_NONBLOCK: a FIFO without a reader fails with ENXIO), and checks the
// kind again on what was opened, in case the path was replaced in between.
func (lf *File) open() error {
	if st, err := os.Stat(lf.path); err == nil && !usable(st.Mode()) {
		return fmt.Errorf("cannot open the log file %s: %w (%s)", lf.path, ErrNotRegular, st.Mode().Type())
	}
	f, err := os.OpenFile(lf.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0o644)
	if err != nil {
		return fmt.Errorf("cannot open the log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("cannot open the log file: %w", err)
	}
	if !usable(st.Mode()) {
		f.Close()
		return fmt.Errorf("cannot open the log file %s: %w (%s)", lf.path, ErrNotRegular, st.Mode().Type())
	}
	lf.f, lf.size = f, st.Size()
	return nil
}

// Write appends p, rotating first when p would pass the limit. A failing
// disk never blocks or fails the caller: the line is dropped and the first
// failure is reported on stderr.
func (lf *File) Write(p []byte) (int, error) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.size > 0 && lf.size+int64(len(p)) > lf.limit {
		lf.rotate()
	}
	if lf.f == nil {
		lf.drop(fmt.Errorf("log file %s is not open", lf.path))
		return len(p), nil
	}
	n, err := lf.f.Write(p)
	lf.size += int64(n)
	if err != nil {
		lf.drop(err)
	} else if lf.failed {
		fmt.Fprintf(os.Stderr, "log file %s is writable again (%d lines were lost)\n", lf.path, lf.dropped)
		lf.failed, lf.dropped = false, 0
	}
	return len(p), nil
}

func (lf *File) drop(err error) {
	lf.dropped++
	if !lf.failed {
		lf.failed = true
		fmt.Fprintf(os.Stderr, "cannot write the log file, logging to stderr only until it works again: %v\n", err)
	}
}

func (lf *File) rotate() {
	if lf.f != nil {
		lf.f.Close()
		lf.f = nil
	}
	if err := os.Rename(lf.path, lf.path+".1"); err != nil {
		lf.drop(err)
	}
	if err := lf.open(); err != nil {
		lf.drop(err)
	}
}

// Sync flushes the file to disk.
func (lf *File) Sync() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		return nil
	}
	return lf.f.Sync()
}

// Close closes the file.
func (lf *File) Close() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		return nil
	}
	err := lf.f.Close()
	lf.f = nil
	return err
}
