//go:build turbojpeg && cgo

package jpeg

/*
// A plain build links Debian's libturbojpeg0 dynamically. build.sh links
// the same -lturbojpeg statically (-linkmode external -extldflags -static
// picks libturbojpeg.a), so release binaries run on an SBC image without
// the library installed.
#cgo LDFLAGS: -lturbojpeg

#include <stdlib.h>
#include <turbojpeg.h>

// jconfig.h (libjpeg-turbo's build configuration) carries the version the
// TurboJPEG 2.x header lacks; it comes with libjpeg62-turbo-dev, which not
// every build machine has.
#if defined(__has_include)
#if __has_include(<jconfig.h>)
#include <jconfig.h>
#endif
#endif
static int usbtj_version(void) {
#ifdef LIBJPEG_TURBO_VERSION_NUMBER
	return LIBJPEG_TURBO_VERSION_NUMBER;
#else
	return 0;
#endif
}

// usbtj is one TurboJPEG instance and what it owns, kept in C memory so that
// Go never hands C a pointer to Go memory holding C pointers (and so that
// out-parameters do not make Go locals escape to the heap).
typedef struct {
	tjhandle h;
	// Output buffer, allocated and grown by TurboJPEG and handed back to it
	// on the next call, so a steady stream of frames stops allocating in C.
	unsigned char *buf;
	unsigned long size;
	// Header of the last usbtj_header call.
	int width, height, subsamp, colorspace;
} usbtj;

// A transformer instance can both compress and decompress, so one pool of
// them serves every operation.
static usbtj *usbtj_new(void) {
	usbtj *s = calloc(1, sizeof *s);
	if (s == NULL) return NULL;
	s->h = tjInitTransform();
	if (s->h == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

static void usbtj_free(usbtj *s) {
	tjDestroy(s->h);
	tjFree(s->buf);
	free(s);
}

// The plane and stride arrays live on the C stack: built in Go they would
// be Go memory holding Go pointers, which cgo forbids passing.
static int usbtj_compress_planes(usbtj *s, const unsigned char *y, const unsigned char *cb,
		const unsigned char *cr, int ys, int cs, int width, int height, int subsamp, int quality) {
	const unsigned char *planes[3] = {y, cb, cr};
	int strides[3] = {ys, cs, cs};
	return tjCompressFromYUVPlanes(s->h, planes, width, strides, height, subsamp,
		&s->buf, &s->size, quality, 0);
}

static int usbtj_compress_packed(usbtj *s, const unsigned char *pix, int width, int pitch,
		int height, int format, int subsamp, int quality) {
	return tjCompress2(s->h, pix, width, pitch, height, format, &s->buf, &s->size,
		subsamp, quality, 0);
}

// tjDecompressHeader3 returns success without setting anything when the
// data ends before a scan ("tables only"); zeroed fields make that visible.
static int usbtj_header(usbtj *s, const unsigned char *jpg, unsigned long n) {
	s->width = s->height = 0;
	s->subsamp = s->colorspace = -1;
	return tjDecompressHeader3(s->h, jpg, n, &s->width, &s->height, &s->subsamp, &s->colorspace);
}

// Warnings (corrupt or truncated data) stop decoding: a frame the camera
// mangled is dropped like image/jpeg drops it, not published half grey.
static int usbtj_decompress_planes(usbtj *s, const unsigned char *jpg, unsigned long n,
		unsigned char *y, unsigned char *cb, unsigned char *cr, int ys, int cs, int width, int height) {
	unsigned char *planes[3] = {y, cb, cr};
	int strides[3] = {ys, cs, cs};
	return tjDecompressToYUVPlanes(s->h, jpg, n, planes, width, strides, height,
		TJFLAG_STOPONWARNING);
}

static int usbtj_decompress_rgb(usbtj *s, const unsigned char *jpg, unsigned long n,
		unsigned char *dst, int width, int height) {
	return tjDecompress2(s->h, jpg, n, dst, width, width * 3, height, TJPF_RGB,
		TJFLAG_STOPONWARNING);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"image/draw"
	"runtime"
	"sync"
	"unsafe"
)

// Implementation names the JPEG codec compiled in, for the startup log. The
// version is that of the headers built against, which is the library's
// own when it is linked statically.
func Implementation() string {
	v := int(C.usbtj_version())
	if v == 0 {
		return "libjpeg-turbo (version unknown)"
	}
	return fmt.Sprintf("libjpeg-turbo %d.%d.%d", v/1000000, v/1000%1000, v%1000)
}

// tj is a pooled TurboJPEG instance. A TurboJPEG handle must not be used
// by two goroutines at once, and creating one allocates over 100 KB of
// libjpeg state, so every call borrows one from the pool. Instances the
// pool drops are freed by a cleanup once unreachable.
type tj struct {
	s       *C.usbtj
	cleanup runtime.Cleanup
	// failed is set by any failed call. TurboJPEG 2.1 does not always reset
	// a handle after an error (a header cut short leaves the next header
	// read on that handle returning no size), so failed handles are freed
	// instead of pooled. Failures are corrupt frames: rare enough that a new
	// handle for the next frame costs nothing that matters.
	failed bool
}

var tjPool = sync.Pool{New: func() any {
	if t := newTJ(); t != nil {
		return t
	}
	return nil // a typed nil would pass getTJ's check
}}

func newTJ() *tj {
	s := C.usbtj_new()
	if s == nil {
		return nil
	}
	t := &tj{s: s}
	t.cleanup = runtime.AddCleanup(t, func(s *C.usbtj) { C.usbtj_free(s) }, s)
	return t
}

// free releases t at once instead of when the garbage collector finds it
// unreachable; t must not be used afterwards. Only the leak test needs it.
func (t *tj) free() {
	t.cleanup.Stop()
	C.usbtj_free(t.s)
	t.s = nil
}

func getTJ() (*tj, error) {
	t, _ := tjPool.Get().(*tj)
	if t == nil {
		return nil, errors.New("libjpeg-turbo: cannot create a TurboJPEG instance")
	}
	return t, nil
}

// put returns t to the pool, or frees it after a failure. It must come
// after t's last C call: it is what keeps t reachable, so that the cleanup
// cannot free t.s mid-call.
func (t *tj) put() {
	if t.failed {
		t.free()
		return
	}
	tjPool.Put(t)
}

// err describes the failure of the last call on t and marks t failed. The
// message lives in the handle, so err must run before t.put.
func (t *tj) err(op string) error {
	t.failed = true
	return fmt.Errorf("libjpeg-turbo %s: %s", op, C.GoString(C.tjGetErrorStr2(t.s.h)))
}

// output copies the JPEG the last call left in t's buffer into Go memory:
// the one allocation per frame.
func (t *tj) output() []byte {
	return C.GoBytes(unsafe.Pointer(t.s.buf), C.int(t.s.size))
}

func cbytes(b []byte) *C.uchar { return (*C.uchar)(unsafe.SliceData(b)) }

// encode is the libjpeg-turbo encoder: YCbCr and Gray pictures are
// compressed from their planes, keeping their subsampling, RGBA from its
// pixels, and anything else after converting to RGBA.
func encode(img image.Image, quality int) ([]byte, error) {
	if p, ok := planesOf(img); ok {
		if !p.aligned() {
			// TurboJPEG reads whole chroma samples, past an odd edge.
			q, buf := p.transformed(orient{})
			defer putScratch(buf)
			p = q
		}
		return encodePlanes(&p, quality)
	}
	b := img.Bounds()
	rgba, ok := img.(*image.RGBA)
	if !ok {
		buf := getScratch(4 * b.Dx() * b.Dy())
		defer putScratch(buf)
		rgba = &image.RGBA{Pix: *buf, Stride: 4 * b.Dx(), Rect: b}
		draw.Draw(rgba, b, img, b.Min, draw.Src)
	}
	pix := rgba.Pix[rgba.PixOffset(b.Min.X, b.Min.Y):]
	// image/jpeg ignores alpha as well; RGBX reads the same bytes.
	return compressPacked(pix, b.Dx(), b.Dy(), rgba.Stride, C.TJPF_RGBX, quality)
}

func encodePlanes(p *planes, quality int) ([]byte, error) {
	t, err := getTJ()
	if err != nil {
		return nil, err
	}
	defer t.put()
	return t.compressPlanes(p, quality)
}

func encodePacked(pix []byte, w, h, stride int, bgr bool, quality int) ([]byte, error) {
	format := C.int(C.TJPF_RGB)
	if bgr {
		format = C.TJPF_BGR
	}
	return compressPacked(pix, w, h, stride, format, quality)
}

// compressPacked encodes packed pixels as 4:2:0, what image/jpeg writes and
// what the raw YUV formats become.
func compressPacked(pix []byte, w, h, stride int, format C.int, quality int) ([]byte, error) {
	t, err := getTJ()
	if err != nil {
		return nil, err
	}
	defer t.put()
	return t.compressPacked(pix, w, h, stride, format, C.TJSAMP_420, quality)
}

func (t *tj) compressPlanes(p *planes, quality int) ([]byte, error) {
	if C.usbtj_compress_planes(t.s, cbytes(p.y), cbytes(p.cb), cbytes(p.cr), C.int(p.ys), C.int(p.cs),
		C.int(p.w), C.int(p.h), C.int(p.sub), C.int(quality)) != 0 {
		return nil, t.err("encode")
	}
	return t.output(), nil
}

func (t *tj) compressPacked(pix []byte, w, h, stride int, format, sub C.int, quality int) ([]byte, error) {
	if C.usbtj_compress_packed(t.s, cbytes(pix), C.int(w), C.int(stride), C.int(h), format,
		sub, C.int(quality)) != 0 {
		return nil, t.err("encode")
	}
	return t.output(), nil
}

func transformJPEG(jpg []byte, w, h int, o orient, quality int) ([]byte, error) {
	t, err := getTJ()
	if err != nil {
		return nil, err
	}
	defer t.put()
	return t.transform(jpg, w, h, o, quality)
}

func (t *tj) transform(jpg []byte, w, h int, o orient, quality int) ([]byte, error) {
	if C.usbtj_header(t.s, cbytes(jpg), C.ulong(len(jpg))) != 0 {
		return nil, t.err("read header")
	}
	if int(t.s.width) != w || int(t.s.height) != h {
		// Dimensions and libjpeg read the same header, so disagreeing
		// means libjpeg found no scan after it: the frame was cut short.
		t.failed = true
		return nil, fmt.Errorf("corrupt JPEG: no image data after the %dx%d frame header", w, h)
	}
	sub := int(t.s.subsamp)
	cs := int(t.s.colorspace)
	if (cs == C.TJCS_YCbCr || cs == C.TJCS_GRAY) && (sub == int(sub444) || sub == int(sub422) ||
		sub == int(sub420) || sub == int(subGray) || sub == int(sub440)) {
		return t.transformPlanes(jpg, w, h, subsamp(sub), o, quality)
	}
	return t.transformRGB(jpg, w, h, o, quality)
}

// transformPlanes decodes into planes, transforms them and encodes them,
// with no colour conversion either way.
func (t *tj) transformPlanes(jpg []byte, w, h int, sub subsamp, o orient, quality int) ([]byte, error) {
	p, buf := newPlanes(w, h, sub)
	defer putScratch(buf)
	if C.usbtj_decompress_planes(t.s, cbytes(jpg), C.ulong(len(jpg)), cbytes(p.y), cbytes(p.cb), cbytes(p.cr),
		C.int(p.ys), C.int(p.cs), C.int(w), C.int(h)) != 0 {
		return nil, t.err("decode")
	}
	q, qbuf := p.transformed(o)
	defer putScratch(qbuf)
	return t.compressPlanes(&q, quality)
}

// transformRGB handles what has no plane layout here (4:1:1, RGB or CMYK
// JPEGs; cameras send none of them) through packed RGB.
func (t *tj) transformRGB(jpg []byte, w, h int, o orient, quality int) ([]byte, error) {
	buf := getScratch(2 * 3 * w * h)
	defer putScratch(buf)
	src, dst := (*buf)[:3*w*h], (*buf)[3*w*h:]
	if C.usbtj_decompress_rgb(t.s, cbytes(jpg), C.ulong(len(jpg)), cbytes(src), C.int(w), C.int(h)) != 0 {
		return nil, t.err("decode")
	}
	tw, th := o.size(w, h)
	transformPlane(dst, 3*tw, src, 3*w, w, h, 3, o)
	return t.compressPacked(dst, tw, th, 3*tw, C.TJPF_RGB, C.TJSAMP_420, quality)
}

// aligned reports whether w and h are whole chroma samples, so that the
// padded size TurboJPEG reads is the picture itself.
func (p *planes) aligned() bool {
	hs, vs := p.sub.factors()
	return p.w%hs == 0 && p.h%vs == 0
}
