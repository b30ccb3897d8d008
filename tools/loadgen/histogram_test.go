package main

import (
	"math/rand/v2"
	"testing"
)

func TestHistogramBucketsCoverEveryValue(t *testing.T) {
	prevTop := int64(-1)
	for i := range histOverflow {
		top := bucketTop(i)
		if top <= prevTop {
			t.Fatalf("bucket %d tops at %d, not above bucket %d's %d", i, top, i-1, prevTop)
		}
		for _, v := range []int64{prevTop + 1, top} {
			if got := bucketOf(v); got != i {
				t.Fatalf("value %d lands in bucket %d, want %d", v, got, i)
			}
		}
		// Width relative to the values held: the promised 0.1 %.
		if lo := prevTop + 1; lo >= histExact && float64(top-lo+1)/float64(lo) > 0.001 {
			t.Fatalf("bucket %d [%d, %d] is wider than 0.1 %%", i, lo, top)
		}
		prevTop = top
	}
	if prevTop != histMaxUS {
		t.Fatalf("last bucket tops at %d, want %d", prevTop, histMaxUS)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for _, v := range rand.New(rand.NewPCG(3, 4)).Perm(1000) {
		h.record(int64(v + 1)) // 1..1000 µs, each once
	}
	for q, want := range map[float64]int64{0.5: 500, 0.9: 900, 0.99: 990, 1: 1000} {
		if got := h.quantile(q); got != want {
			t.Errorf("quantile(%v) = %d, want %d", q, got, want)
		}
	}
	if h.count() != 1000 || h.max.Load() != 1000 {
		t.Errorf("count %d max %d, want 1000 and 1000", h.count(), h.max.Load())
	}

	var big histogram
	big.record(1_234_567)
	big.record(25_000_000) // beyond the range: overflow bucket, exact max
	big.record(-5)
	if got := big.quantile(0.5); got < 1_234_567 || got > 1_235_800 {
		t.Errorf("median %d, want 1234567 within 0.1 %%", got)
	}
	if got := big.quantile(1); got != 25_000_000 {
		t.Errorf("max quantile %d, want the exact overflow value", got)
	}
	if big.negative.Load() != 1 || big.quantile(0.01) != 0 {
		t.Errorf("negative value: counted %d, lowest quantile %d; want 1 and 0", big.negative.Load(), big.quantile(0.01))
	}
	var empty histogram
	if empty.quantile(0.99) != 0 {
		t.Error("empty histogram has a non-zero quantile")
	}
}
