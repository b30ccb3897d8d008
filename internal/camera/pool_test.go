package camera

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestEncodePoolKeepsOrderAndNeverBlocks(t *testing.T) {
	before := runtime.NumGoroutine()
	var mu sync.Mutex
	var got []int
	p := newEncodePool(context.Background(), 3, func(out any, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			got = append(got, out.(int))
		}
	})
	accepted := 0
	for i := 0; i < 50; i++ {
		n := i
		// Later frames finish first: order must still be submission order.
		if p.submit(func() (any, error) { time.Sleep(time.Duration(5-n%5) * time.Millisecond); return n, nil }) {
			accepted++
		}
	}
	p.close()
	if len(got) != accepted || accepted == 0 || accepted == 50 {
		t.Fatalf("delivered %d of %d accepted (of 50 offered at once): want all accepted delivered and some refused", len(got), accepted)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("out of order: %v", got)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if runtime.NumGoroutine() > before {
		t.Fatalf("goroutines leaked: %d > %d", runtime.NumGoroutine(), before)
	}
}
