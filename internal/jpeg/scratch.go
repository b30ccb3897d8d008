package jpeg

import "sync"

// scratchPool recycles the intermediate planes of EncodeRaw and
// TransformJPEG. A camera delivers frames of one size, so after the first
// frames every Get finds a buffer that fits and encoding allocates only its
// output. Pointers to slices are pooled because putting a slice header in
// an interface would allocate on every Put.
var scratchPool sync.Pool

// getScratch returns a buffer of n bytes with unspecified contents.
func getScratch(n int) *[]byte {
	p, _ := scratchPool.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	if cap(*p) < n {
		*p = make([]byte, n)
	}
	*p = (*p)[:n]
	return p
}

func putScratch(p *[]byte) {
	if p != nil {
		scratchPool.Put(p)
	}
}
