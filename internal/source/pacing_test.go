package source

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestRateCap(t *testing.T) {
	start := time.Unix(1000, 0)
	count := func(cap RateCap, inFPS float64, seconds int, jitter time.Duration) int {
		r := rand.New(rand.NewPCG(1, 2))
		n := 0
		frames := int(inFPS * float64(seconds))
		for i := range frames {
			t := start.Add(time.Duration(float64(i) * float64(time.Second) / inFPS))
			if jitter > 0 {
				t = t.Add(time.Duration(r.Int64N(int64(2*jitter))) - jitter)
			}
			if cap.Allow(t) {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		cap, in  float64
		jitter   time.Duration
		min, max int // frames kept in 10 s
	}{
		{24, 30, 0, 239, 241},
		{24, 30, 3 * time.Millisecond, 238, 242},
		{10, 30, 2 * time.Millisecond, 99, 101},
		{30, 30, 4 * time.Millisecond, 300, 300}, // at the cap: nothing dropped despite jitter
		{30, 25, 0, 250, 250},                    // below the cap: nothing dropped
		{0, 30, 0, 300, 300},                     // no cap
	} {
		got := count(NewRateCap(tc.cap), tc.in, 10, tc.jitter)
		if got < tc.min || got > tc.max {
			t.Errorf("cap %g on %g fps (jitter %s): %d frames in 10 s, want %d..%d", tc.cap, tc.in, tc.jitter, got, tc.min, tc.max)
		}
	}
}

func TestRateCapRestartsAfterAGap(t *testing.T) {
	c := NewRateCap(10)
	t0 := time.Unix(1000, 0)
	if !c.Allow(t0) {
		t.Fatal("first frame dropped")
	}
	// A 5 s outage must not leave a backlog of due slots.
	kept := 0
	for i := range 8 {
		if c.Allow(t0.Add(5*time.Second + time.Duration(i)*10*time.Millisecond)) {
			kept++
		}
	}
	if kept != 1 {
		t.Fatalf("kept %d frames in 70 ms after a gap, want 1", kept)
	}
}
