//go:build turbojpeg && cgo && benchlossless

package jpeg

// This file is only built for the benchmark that compares TransformJPEG with
// libjpeg-turbo's lossless DCT-domain transform (it needs cgo, which test
// files cannot use):
//
//	go test -tags turbojpeg,benchlossless -run Lossless -bench TransformJPEG ./internal/jpeg
//
// TransformJPEG does not use the lossless transform: decode-encode was
// faster at every size measured (BenchmarkTransformJPEG, development
// machine: 2-core EPYC VM, libjpeg-turbo 2.1.5, 4:2:2 camera-like frames at
// quality 80, medians of 10 runs, ms per frame):
//
//	                      640x480      1280x720     1920x1080
//	                      90°   180°   90°   180°   90°    180°
//	lossless              2.10  1.81   6.34  5.19   17.8   12.1
//	decode-encode         1.59  1.50   4.97  4.59   12.5   11.2
//	lossless, one arena   1.16  0.95   3.63  3.00   19.7*  6.9
//
// (* bimodal: 9.8 in its fast runs.)
//
// Lossless skips the DCTs, but libjpeg allocates the whole picture's
// coefficients on every call (8 MB for 1080p 4:2:2, twice that when the
// transform needs a second array), and glibc's default allocator gives the
// memory back to the kernel after each frame, so every frame page-faults it
// in again; its times also swing by 2x between runs. Decode-encode works in
// pooled Go scratch planes. Only 180° at 1080p is close: a later 5-run
// session measured lossless 10.6 against 12.1. There the tie goes to
// decode-encode, whose times vary by a few per cent.
//
// With glibc.malloc.arena_max=1 (last row) or fixed mmap and trim
// thresholds, lossless is 25-40 % faster except for quarter turns at 1080p,
// at the cost of every malloc arena keeping that memory resident. That is a
// process-wide choice for the application; after it, measure again on the
// SBC and decide from the figures.

/*
#include <turbojpeg.h>

// PERFECT: fail rather than leave untransformed edge strips (TRIM would
// crop them, which TransformJPEG never does). COPYNONE: an EXIF
// orientation or thumbnail would be wrong afterwards. The output goes to
// the instance's own buffer, as every other operation's does.
static int usbtj_lossless(tjhandle h, const unsigned char *jpg, unsigned long n, int op,
		unsigned char **buf, unsigned long *size) {
	tjtransform t = {0};
	t.op = op;
	t.options = TJXOPT_PERFECT | TJXOPT_COPYNONE;
	return tjTransform(h, jpg, n, 1, buf, size, &t, TJFLAG_STOPONWARNING);
}
*/
import "C"

// TransformJPEGLossless is TransformJPEG through libjpeg-turbo's lossless
// transform, for the benchmark only. It fails on a frame whose partial MCUs
// the transform would move to the top or left edge.
func TransformJPEGLossless(jpg []byte, tr Transform) ([]byte, error) {
	o, err := tr.orient()
	if err != nil || o.identity() {
		return jpg, err
	}
	jpg = EnsureHuffmanTables(jpg)
	t, err := getTJ()
	if err != nil {
		return nil, err
	}
	defer t.put()
	if C.usbtj_lossless(t.s.h, cbytes(jpg), C.ulong(len(jpg)), o.tjxop(), &t.s.buf, &t.s.size) != 0 {
		return nil, t.err("lossless transform")
	}
	return t.output(), nil
}

// tjxop maps an orient to TurboJPEG's lossless transform operation.
func (o orient) tjxop() C.int {
	switch o {
	case orient{mirrorX: true}:
		return C.TJXOP_HFLIP
	case orient{mirrorY: true}:
		return C.TJXOP_VFLIP
	case orient{mirrorX: true, mirrorY: true}:
		return C.TJXOP_ROT180
	case orient{swap: true}:
		return C.TJXOP_TRANSPOSE
	case orient{swap: true, mirrorX: true}:
		return C.TJXOP_ROT90
	case orient{swap: true, mirrorY: true}:
		return C.TJXOP_ROT270
	case orient{swap: true, mirrorX: true, mirrorY: true}:
		return C.TJXOP_TRANSVERSE
	}
	return C.TJXOP_NONE
}
