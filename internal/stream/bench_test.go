package stream

import (
	"context"
	"io"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"usbstream/internal/frame"
)

// discardConn accepts every write at once.
type discardConn struct{}

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

var _ io.Writer = discardConn{}

// BenchmarkFanOut measures publishing one frame and having every reader
// write it (to a connection that never blocks): the per-frame cost of the
// hub and reader loop alone, without the kernel's socket work.
func BenchmarkFanOut(b *testing.B) {
	for _, readers := range []int{1, 50, 200} {
		b.Run(strconv.Itoa(readers)+"readers", func(b *testing.B) {
			h := NewHub()
			ctx, cancel := context.WithCancel(context.Background())
			counted := make([]*Client, readers)
			var wg sync.WaitGroup
			for i := range counted {
				counted[i] = &Client{}
				c := counted[i]
				wg.Go(func() { h.Serve(ctx, discardConn{}, c, ReaderOptions{Keepalive: time.Hour}) })
			}
			jpg := make([]byte, 50_000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.Publish(&frame.Frame{JPEG: jpg, Captured: time.Now()})
				// Wait until every reader has sent this frame, so each
				// iteration is one complete fan-out.
				for _, c := range counted {
					for c.frames.Load()+c.skipped.Load() < uint64(i+1) {
						runtime.Gosched()
					}
				}
			}
			b.StopTimer()
			cancel()
			wg.Wait()
		})
	}
}

func BenchmarkAppendPartHeader(b *testing.B) {
	f := &frame.Frame{JPEG: make([]byte, 50_000), Captured: time.Now()}
	buf := make([]byte, 0, 160)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendPartHeader(buf[:0], f, false)
	}
}
