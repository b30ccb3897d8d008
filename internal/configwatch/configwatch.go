// Package configwatch tells the application when the config file has a new,
// settled content.
//
// It watches the file's directory, not the file: DWC saves by writing
// <name>.part and renaming it over the file, which gives the file a new inode
// and kills any watch on the old one. Older tools write in place (truncate,
// then write), so a reader can catch a half-written file; waiting until the
// file has been quiet for a while makes that unlikely, and the caller keeps
// its last good configuration if parsing still fails.
package configwatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"usbstream/internal/config"
)

// retryArm is how long to wait before trying again to place a watch that the
// kernel refused (e.g. the inotify watch limit): slow enough not to spin,
// soon enough that reloading comes back on its own.
const retryArm = 5 * time.Second

// Watcher watches one config file for saves.
type Watcher struct {
	path     string
	dir      string
	debounce time.Duration
	log      *zap.Logger

	mu       sync.Mutex
	last     []byte
	haveLast bool // an empty file is content too, so nil last is not "none"

	// Owned by Run's goroutine.
	watched  string // the one directory under watch: dir, or its nearest existing ancestor while dir is missing; "" for none
	present  bool   // whether the file was there when last looked at, so a deletion is logged once
	unusable bool   // the last read failed although the file is there (permissions), so a chmod or chown may mend it
}

// New prepares a watcher for the file at path (absolute). debounce is how
// long the file must be quiet before it is read.
func New(path string, debounce time.Duration, log *zap.Logger) *Watcher {
	path = filepath.Clean(path)
	if abs, err := filepath.Abs(path); err == nil {
		path = abs // event names are absolute
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Watcher{
		path:     path,
		dir:      filepath.Dir(path),
		debounce: debounce,
		log:      log.With(zap.String("file", path)),
	}
}

// SetLast records content as already applied, so that the file holding it is
// not reported as a change.
func (w *Watcher) SetLast(content []byte) {
	w.mu.Lock()
	w.last, w.haveLast = bytes.Clone(content), true
	w.mu.Unlock()
}

// Run watches until ctx ends. onChange is called from Run's goroutine with
// the file's whole content each time a save has settled and the content
// differs from the last content delivered or given to SetLast. onError (if
// not nil) is called instead when the file is there but cannot be used: not
// readable, not a regular file (a FIFO, a device), too large; the next
// readable content is then delivered even if it is the last one, so that the
// caller can clear the error. Run returns an error only if watching cannot
// start at all; a missing file or directory is not an error. Call Run once.
func (w *Watcher) Run(ctx context.Context, onChange func(content []byte), onError func(error)) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("cannot watch the config file %s: %w", w.path, err)
	}
	defer fw.Close()

	_, err = os.Stat(w.path)
	w.present = err == nil
	w.watched = ""

	retry := time.NewTimer(retryArm)
	retry.Stop()
	defer retry.Stop()
	arm := func() bool {
		reached, err := w.arm(fw)
		if err != nil {
			w.log.Warn("cannot watch the config folder; retrying", zap.Duration("in", retryArm), zap.Error(err))
			retry.Reset(retryArm)
		}
		return reached
	}
	arm()
	// The caller read the file before the watch existed: a save in between
	// would otherwise go unnoticed.
	settle := time.NewTimer(w.debounce)
	defer settle.Stop()

	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return nil
			}
			if w.handle(ev, arm) {
				settle.Reset(w.debounce)
			}
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			w.log.Warn("config file watch error", zap.Error(err))
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Lost events may have included the directory's deletion,
				// leaving a dead watch: place it afresh and look at the file.
				if w.watched != "" {
					_ = fw.Remove(w.watched)
					w.watched = ""
				}
				arm()
				settle.Reset(w.debounce)
			}
		case <-retry.C:
			if arm() {
				settle.Reset(w.debounce)
			}
		case <-settle.C:
			w.read(onChange, onError)
		}
	}
}

// handle reports whether ev means the file should be read once things are
// quiet.
func (w *Watcher) handle(ev fsnotify.Event, arm func() bool) bool {
	name := filepath.Clean(ev.Name)
	switch {
	case name == w.path:
		w.log.Debug("config file event", zap.Stringer("op", ev.Op))
		// Chmod alone does not change the content, but it can make an
		// unreadable file readable. An editor's temporary file renamed onto
		// the config arrives here as a Create.
		return ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) ||
			(w.unusable && ev.Has(fsnotify.Chmod))
	case name == w.dir || strings.HasPrefix(w.dir, name+string(filepath.Separator)):
		w.log.Debug("config folder event", zap.String("name", name), zap.Stringer("op", ev.Op))
		// Something on the way to the directory appeared or went, so the
		// watch may have to move.
		if name == w.watched && (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) {
			w.watched = "" // the kernel dropped its watch with it
		}
		// Reaching the directory means the file may have been written
		// before the watch was there to see it.
		return arm()
	}
	// Anything else in the folder is not ours to read or to log: under DSF
	// the log file lives beside the config, and a line about each of its
	// writes would be a write of its own.
	return false
}

// arm points the single watch at w.dir or, while that is missing, at its
// nearest existing ancestor, where the directory's (re)creation shows. It
// reports whether the watch has just moved onto w.dir.
func (w *Watcher) arm(fw *fsnotify.Watcher) (reached bool, err error) {
	// Each pass either settles or follows a directory that appeared or
	// vanished meanwhile; the bound only stops a pathological race.
	for range 16 {
		target := nearestDir(w.dir)
		if target == w.watched {
			return reached, nil
		}
		if err = fw.Add(target); err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				continue // gone between the look and the watch
			}
			return reached, err
		}
		if w.watched != "" {
			// Add first, then remove, so that no event falls in a gap.
			_ = fw.Remove(w.watched)
		}
		w.log.Debug("watching for the config file", zap.String("folder", target))
		w.watched = target
		reached = target == w.dir
	}
	return reached, fmt.Errorf("%s keeps appearing and vanishing", w.dir)
}

// nearestDir returns dir or its nearest ancestor that is a directory.
func nearestDir(dir string) string {
	for {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

func (w *Watcher) read(onChange func([]byte), onError func(error)) {
	// ReadFile opens only regular files and never blocks: a FIFO put in the
	// config's place would otherwise hold this goroutine, and with it every
	// later save and the exit, for good.
	content, err := config.ReadFile(w.path)
	w.unusable = err != nil && !errors.Is(err, fs.ErrNotExist)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if w.present {
			w.log.Info("config file deleted; keeping the last configuration")
		} else {
			w.log.Debug("config file still missing")
		}
		w.present = false
		return
	case err != nil:
		w.present = true
		w.mu.Lock()
		w.haveLast = false
		w.mu.Unlock()
		if onError == nil {
			w.log.Warn("cannot read the changed config file; keeping the last configuration", zap.Error(err))
			return
		}
		// The caller shows and logs it as it does any config error.
		w.log.Debug("cannot read the changed config file", zap.Error(err))
		onError(err)
		return
	}
	w.present = true

	w.mu.Lock()
	same := w.haveLast && bytes.Equal(content, w.last)
	if !same {
		w.last, w.haveLast = content, true
	}
	w.mu.Unlock()
	if same {
		w.log.Debug("config file saved unchanged")
		return
	}
	w.log.Info("config file changed", zap.Int("bytes", len(content)))
	onChange(bytes.Clone(content)) // the caller may keep or change it; last must stay as read
}
