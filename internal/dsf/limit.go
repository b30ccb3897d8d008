package dsf

import (
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// maxQuoted is how much of a text DSF sent is repeated in an error or a log
// line. A broken or hostile peer can send megabytes in one message, and
// every error here ends up in the log, /status and plugin data.
const maxQuoted = 300

// clip shortens text that came from DSF to maxQuoted bytes (on a character
// boundary) and says how long it was, so that the start is still there to
// recognise.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes in all)", s[:cut], len(s))
}

// Clip is clip for callers that log what DSF answered.
func Clip(s string) string { return clip(s) }

// clipErr is err with its text clipped. encoding/json quotes what it could
// not decode (a number literal, the keys leading to it), so its errors are
// as large as the input.
func clipErr(err error) string { return clip(err.Error()) }

// limiter is the policy for what goes to DWC's console, also applied to
// warnings about what DSF sends: a repeat of the one before within repeat
// is held back, and at most perMinute pass in any minute. Only a repeat of
// the very last one is held back, so that the newest line is never stale.
type limiter struct {
	repeat    time.Duration
	perMinute int

	mu     sync.Mutex
	last   string
	lastAt time.Time
	recent []time.Time
	held   int // held back since the last one that passed
}

func newLimiter() *limiter {
	return &limiter{repeat: messageRepeatWindow, perMinute: messagesPerMinute}
}

// allow says whether key may go out now and, if so, how many were held
// back before it.
func (l *limiter) allow(key string, now time.Time) (ok bool, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if key == l.last && now.Sub(l.lastAt) < l.repeat {
		l.held++
		return false, 0
	}
	l.recent = slices.DeleteFunc(l.recent, func(t time.Time) bool { return now.Sub(t) >= time.Minute })
	if len(l.recent) >= l.perMinute {
		l.held++
		return false, 0
	}
	l.recent = append(l.recent, now)
	l.last, l.lastAt = key, now
	held, l.held = l.held, 0
	return true, held
}

// limitedLog logs what DSF's input or DSF's comings and goings cause. A
// peer that sends garbage in a loop, or a DCS that keeps dropping us, would
// otherwise write a line per attempt; lines held back go to debug level,
// and the next line that passes says how many there were (debug level
// shows them all).
type limitedLog struct {
	log *zap.Logger
	lim *limiter
}

func (l limitedLog) warn(msg string, fields ...zap.Field) { l.write(zap.WarnLevel, msg, fields) }
func (l limitedLog) info(msg string, fields ...zap.Field) { l.write(zap.InfoLevel, msg, fields) }

func (l limitedLog) write(level zapcore.Level, msg string, fields []zap.Field) {
	ok, held := l.lim.allow(msg, time.Now())
	if !ok {
		l.log.Debug(msg, fields...)
		return
	}
	if held > 0 {
		// Counted over all of DSF's lines, not only this one's.
		fields = append(fields, zap.Int("dsfLinesHeldBack", held))
	}
	l.log.Log(level, msg, fields...)
}
