package meter

import (
	"testing"
	"time"
)

func TestRateCountsEventsPerWindow(t *testing.T) {
	var r Rate
	t0 := time.Unix(1000, 0)
	// 30 events spread over the first second.
	for i := 0; i < 30; i++ {
		r.Tick(t0.Add(time.Duration(i) * time.Second / 30))
	}
	if got := r.PerSecond(t0.Add(500 * time.Millisecond)); got != 0 {
		t.Fatalf("rate before the first window completed = %v, want 0", got)
	}
	if got := r.PerSecond(t0.Add(time.Second)); got != 30 {
		t.Fatalf("rate after one window = %v, want 30", got)
	}
}

func TestRateFallsToZeroWhenEventsStop(t *testing.T) {
	var r Rate
	t0 := time.Unix(1000, 0)
	for i := 0; i <= 10; i++ {
		r.Tick(t0.Add(time.Duration(i) * 100 * time.Millisecond))
	}
	// The tick at 1 s closes the first window: ten events in one second.
	if got := r.PerSecond(t0.Add(1100 * time.Millisecond)); got != 10 {
		t.Fatalf("rate while ticking = %v, want 10", got)
	}
	if got := r.PerSecond(t0.Add(5 * time.Second)); got != 0 {
		t.Fatalf("rate after events stopped = %v, want 0", got)
	}
}
