//go:build turbojpeg && cgo

package jpeg

/*
#include <stdlib.h>
#include <malloc.h>

static long long usbtj_heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 mi = mallinfo2();
	return (long long)(mi.uordblks + mi.hblkhd);
#else
	return -1;
#endif
}
*/
import "C"

// cHeapInUse returns the bytes the C allocator has handed out and not got
// back (small blocks in the main arena plus mmapped large ones), or -1
// where glibc's mallinfo2 is missing. The leak test compares it before and
// after many operations; test files cannot use cgo, so it lives here.
func cHeapInUse() int64 { return int64(C.usbtj_heap_in_use()) }
