package camera

import (
	"context"
	"sync"
)

// encodePool encodes raw frames on a few goroutines and delivers the results
// in submission order, so frames leave in capture order even when a later
// frame encodes faster. It never blocks the capture loop: when all workers
// are busy, the new frame is refused and counted as dropped.
type encodePool struct {
	jobs    chan func()
	results chan chan poolResult
	wg      sync.WaitGroup
}

type poolResult struct {
	out any
	err error
}

// newEncodePool starts workers goroutines; deliver is called with each
// result, in order, from one goroutine.
func newEncodePool(ctx context.Context, workers int, deliver func(out any, err error)) *encodePool {
	p := &encodePool{
		jobs: make(chan func(), workers),
		// One slot per frame in flight: queued, being encoded, or encoded
		// and waiting for an earlier frame.
		results: make(chan chan poolResult, 2*workers),
	}
	for range workers {
		p.wg.Go(func() {
			for job := range p.jobs {
				job()
			}
		})
	}
	p.wg.Go(func() {
		for res := range p.results {
			select {
			case r := <-res:
				deliver(r.out, r.err)
			case <-ctx.Done():
				// Drain without delivering: workers still finish their jobs.
				<-res
			}
		}
	})
	return p
}

// submit queues work; it reports false (and does nothing) when the pool is
// full.
func (p *encodePool) submit(work func() (any, error)) bool {
	res := make(chan poolResult, 1)
	select {
	case p.results <- res:
	default:
		return false
	}
	job := func() {
		out, err := work()
		res <- poolResult{out, err}
	}
	select {
	case p.jobs <- job:
		return true
	default:
		// Cannot happen while results has room for every queued job, but
		// a refused job must still resolve its slot.
		res <- poolResult{nil, errPoolFull}
		return false
	}
}

// close waits for queued work to be delivered and stops the goroutines.
func (p *encodePool) close() {
	close(p.jobs)
	close(p.results)
	p.wg.Wait()
}

type poolError string

func (e poolError) Error() string { return string(e) }

const errPoolFull = poolError("encoder busy: frame dropped")
