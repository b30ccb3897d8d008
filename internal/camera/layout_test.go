package camera

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// goLayout is what layout.c prints, computed from our Go declarations.
func goLayout() map[string]uint64 {
	var (
		c  v4l2Capability
		p  v4l2PixFormat
		f  v4l2Format
		q  v4l2QueryExtCtrl
		m  v4l2QueryMenu
		r  v4l2RequestBuffers
		tc v4l2Timecode
		b  v4l2Buffer
		sp v4l2StreamParm
		ct v4l2Control
	)
	cp := &sp.parm.capture
	u := func(v uintptr) uint64 { return uint64(v) }
	return map[string]uint64{
		"timebits": u(8 * unsafe.Sizeof(unix.Timeval{}.Sec)),

		"sizeof v4l2_capability":                u(unsafe.Sizeof(c)),
		"offsetof v4l2_capability.driver":       u(unsafe.Offsetof(c.driver)),
		"offsetof v4l2_capability.card":         u(unsafe.Offsetof(c.card)),
		"offsetof v4l2_capability.bus_info":     u(unsafe.Offsetof(c.busInfo)),
		"offsetof v4l2_capability.version":      u(unsafe.Offsetof(c.version)),
		"offsetof v4l2_capability.capabilities": u(unsafe.Offsetof(c.capabilities)),
		"offsetof v4l2_capability.device_caps":  u(unsafe.Offsetof(c.deviceCaps)),
		"offsetof v4l2_capability.reserved":     u(unsafe.Offsetof(c.reserved)),

		"sizeof v4l2_pix_format":                u(unsafe.Sizeof(p)),
		"offsetof v4l2_pix_format.width":        u(unsafe.Offsetof(p.width)),
		"offsetof v4l2_pix_format.height":       u(unsafe.Offsetof(p.height)),
		"offsetof v4l2_pix_format.pixelformat":  u(unsafe.Offsetof(p.pixelformat)),
		"offsetof v4l2_pix_format.field":        u(unsafe.Offsetof(p.field)),
		"offsetof v4l2_pix_format.bytesperline": u(unsafe.Offsetof(p.bytesperline)),
		"offsetof v4l2_pix_format.sizeimage":    u(unsafe.Offsetof(p.sizeimage)),
		"offsetof v4l2_pix_format.colorspace":   u(unsafe.Offsetof(p.colorspace)),
		"offsetof v4l2_pix_format.priv":         u(unsafe.Offsetof(p.priv)),
		"offsetof v4l2_pix_format.flags":        u(unsafe.Offsetof(p.flags)),
		"offsetof v4l2_pix_format.ycbcr_enc":    u(unsafe.Offsetof(p.ycbcrEnc)),
		"offsetof v4l2_pix_format.quantization": u(unsafe.Offsetof(p.quantization)),
		"offsetof v4l2_pix_format.xfer_func":    u(unsafe.Offsetof(p.xferFunc)),

		"sizeof v4l2_format":           u(unsafe.Sizeof(f)),
		"offsetof v4l2_format.type":    u(unsafe.Offsetof(f.typ)),
		"offsetof v4l2_format.fmt":     u(unsafe.Offsetof(f.fmt)),
		"offsetof v4l2_format.fmt.pix": u(unsafe.Offsetof(f.fmt) + unsafe.Offsetof(f.fmt.pix)),

		"sizeof v4l2_query_ext_ctrl":                 u(unsafe.Sizeof(q)),
		"offsetof v4l2_query_ext_ctrl.id":            u(unsafe.Offsetof(q.id)),
		"offsetof v4l2_query_ext_ctrl.type":          u(unsafe.Offsetof(q.typ)),
		"offsetof v4l2_query_ext_ctrl.name":          u(unsafe.Offsetof(q.name)),
		"offsetof v4l2_query_ext_ctrl.minimum":       u(unsafe.Offsetof(q.minimum)),
		"offsetof v4l2_query_ext_ctrl.maximum":       u(unsafe.Offsetof(q.maximum)),
		"offsetof v4l2_query_ext_ctrl.step":          u(unsafe.Offsetof(q.step)),
		"offsetof v4l2_query_ext_ctrl.default_value": u(unsafe.Offsetof(q.defaultValue)),
		"offsetof v4l2_query_ext_ctrl.flags":         u(unsafe.Offsetof(q.flags)),
		"offsetof v4l2_query_ext_ctrl.elem_size":     u(unsafe.Offsetof(q.elemSize)),
		"offsetof v4l2_query_ext_ctrl.elems":         u(unsafe.Offsetof(q.elems)),
		"offsetof v4l2_query_ext_ctrl.nr_of_dims":    u(unsafe.Offsetof(q.nrOfDims)),
		"offsetof v4l2_query_ext_ctrl.dims":          u(unsafe.Offsetof(q.dims)),
		"offsetof v4l2_query_ext_ctrl.reserved":      u(unsafe.Offsetof(q.reserved)),

		// name and the int64 value share the union at offset 8; we read a
		// menu entry's value from the name bytes (controls.go).
		"sizeof v4l2_querymenu":            u(unsafe.Sizeof(m)),
		"offsetof v4l2_querymenu.id":       u(unsafe.Offsetof(m.id)),
		"offsetof v4l2_querymenu.index":    u(unsafe.Offsetof(m.index)),
		"offsetof v4l2_querymenu.name":     u(unsafe.Offsetof(m.name)),
		"offsetof v4l2_querymenu.value":    u(unsafe.Offsetof(m.name)),
		"offsetof v4l2_querymenu.reserved": u(unsafe.Offsetof(m.reserved)),

		"sizeof v4l2_requestbuffers":                u(unsafe.Sizeof(r)),
		"offsetof v4l2_requestbuffers.count":        u(unsafe.Offsetof(r.count)),
		"offsetof v4l2_requestbuffers.type":         u(unsafe.Offsetof(r.typ)),
		"offsetof v4l2_requestbuffers.memory":       u(unsafe.Offsetof(r.memory)),
		"offsetof v4l2_requestbuffers.capabilities": u(unsafe.Offsetof(r.capabilities)),
		"offsetof v4l2_requestbuffers.flags":        u(unsafe.Offsetof(r.flags)),
		"offsetof v4l2_requestbuffers.reserved":     u(unsafe.Offsetof(r.reserved)),

		"sizeof v4l2_timecode":            u(unsafe.Sizeof(tc)),
		"offsetof v4l2_timecode.type":     u(unsafe.Offsetof(tc.typ)),
		"offsetof v4l2_timecode.flags":    u(unsafe.Offsetof(tc.flags)),
		"offsetof v4l2_timecode.frames":   u(unsafe.Offsetof(tc.frames)),
		"offsetof v4l2_timecode.seconds":  u(unsafe.Offsetof(tc.seconds)),
		"offsetof v4l2_timecode.minutes":  u(unsafe.Offsetof(tc.minutes)),
		"offsetof v4l2_timecode.hours":    u(unsafe.Offsetof(tc.hours)),
		"offsetof v4l2_timecode.userbits": u(unsafe.Offsetof(tc.userbits)),

		"sizeof v4l2_buffer":                     u(unsafe.Sizeof(b)),
		"offsetof v4l2_buffer.index":             u(unsafe.Offsetof(b.index)),
		"offsetof v4l2_buffer.type":              u(unsafe.Offsetof(b.typ)),
		"offsetof v4l2_buffer.bytesused":         u(unsafe.Offsetof(b.bytesused)),
		"offsetof v4l2_buffer.flags":             u(unsafe.Offsetof(b.flags)),
		"offsetof v4l2_buffer.field":             u(unsafe.Offsetof(b.field)),
		"offsetof v4l2_buffer.timestamp":         u(unsafe.Offsetof(b.timestamp)),
		"offsetof v4l2_buffer.timestamp.tv_usec": u(unsafe.Offsetof(b.timestamp) + unsafe.Offsetof(b.timestamp.Usec)),
		"offsetof v4l2_buffer.timecode":          u(unsafe.Offsetof(b.timecode)),
		"offsetof v4l2_buffer.sequence":          u(unsafe.Offsetof(b.sequence)),
		"offsetof v4l2_buffer.memory":            u(unsafe.Offsetof(b.memory)),
		"offsetof v4l2_buffer.m":                 u(unsafe.Offsetof(b.m)),
		"offsetof v4l2_buffer.length":            u(unsafe.Offsetof(b.length)),
		"offsetof v4l2_buffer.reserved2":         u(unsafe.Offsetof(b.reserved2)),
		"offsetof v4l2_buffer.request_fd":        u(unsafe.Offsetof(b.requestFD)),

		"sizeof v4l2_streamparm":                             u(unsafe.Sizeof(sp)),
		"offsetof v4l2_streamparm.type":                      u(unsafe.Offsetof(sp.typ)),
		"offsetof v4l2_streamparm.parm":                      u(unsafe.Offsetof(sp.parm)),
		"offsetof v4l2_streamparm.parm.capture":              u(unsafe.Offsetof(sp.parm) + unsafe.Offsetof(sp.parm.capture)),
		"sizeof v4l2_captureparm":                            u(unsafe.Sizeof(*cp)),
		"offsetof v4l2_captureparm.capability":               u(unsafe.Offsetof(cp.capability)),
		"offsetof v4l2_captureparm.capturemode":              u(unsafe.Offsetof(cp.captureMode)),
		"offsetof v4l2_captureparm.timeperframe":             u(unsafe.Offsetof(cp.timePerFrame)),
		"offsetof v4l2_captureparm.timeperframe.denominator": u(unsafe.Offsetof(cp.timePerFrame) + unsafe.Offsetof(cp.timePerFrame.denominator)),
		"offsetof v4l2_captureparm.extendedmode":             u(unsafe.Offsetof(cp.extendedMode)),
		"offsetof v4l2_captureparm.readbuffers":              u(unsafe.Offsetof(cp.readBuffers)),
		"offsetof v4l2_captureparm.reserved":                 u(unsafe.Offsetof(cp.reserved)),

		"sizeof v4l2_control":         u(unsafe.Sizeof(ct)),
		"offsetof v4l2_control.id":    u(unsafe.Offsetof(ct.id)),
		"offsetof v4l2_control.value": u(unsafe.Offsetof(ct.value)),

		"ioctl VIDIOC_QUERYCAP":       u(vidiocQueryCap),
		"ioctl VIDIOC_G_FMT":          u(vidiocGFmt),
		"ioctl VIDIOC_S_FMT":          u(vidiocSFmt),
		"ioctl VIDIOC_G_PARM":         u(vidiocGParm),
		"ioctl VIDIOC_S_PARM":         u(vidiocSParm),
		"ioctl VIDIOC_G_CTRL":         u(vidiocGCtrl),
		"ioctl VIDIOC_S_CTRL":         u(vidiocSCtrl),
		"ioctl VIDIOC_REQBUFS":        u(vidiocReqBufs),
		"ioctl VIDIOC_QUERYBUF":       u(vidiocQueryBuf),
		"ioctl VIDIOC_QBUF":           u(vidiocQBuf),
		"ioctl VIDIOC_DQBUF":          u(vidiocDQBuf),
		"ioctl VIDIOC_STREAMON":       u(vidiocStreamOn),
		"ioctl VIDIOC_STREAMOFF":      u(vidiocStreamOff),
		"ioctl VIDIOC_QUERYMENU":      u(vidiocQueryMenu),
		"ioctl VIDIOC_QUERY_EXT_CTRL": u(vidiocQueryExtCtl),
	}
}

// readLayout parses layout.c's output: "sizeof NAME N", "offsetof NAME N",
// "ioctl NAME N" and "timebits N" lines.
func readLayout(t *testing.T, path string) map[string]uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		i := strings.LastIndexByte(line, ' ')
		n, err := strconv.ParseUint(line[i+1:], 10, 64)
		if i < 0 || err != nil {
			t.Fatalf("%s: bad line %q", path, line)
		}
		out[line[:i]] = n
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The Go structs must be laid out as the C compiler for the same
// architecture lays out linux/videodev2.h: a wrong size changes the ioctl
// numbers, and nothing works. tools/v4l2layout/run.sh builds layout.c with
// each cross compiler, runs it and this test (cross-compiled, under
// qemu-user) for amd64, arm64 and 32-bit arm, with V4L2_C_LAYOUT naming the
// C side's output; V4L2_C_LAYOUT_OTHER names the output of the other 32-bit
// time ABI, which must differ (see v4l2Buffer for the one we use).
func TestLayoutMatchesC(t *testing.T) {
	path := os.Getenv("V4L2_C_LAYOUT")
	if path == "" {
		t.Skip("needs the C compiler's layout: tools/v4l2layout/run.sh")
	}
	want, got := readLayout(t, path), goLayout()
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: in the C layout (%d) but not checked on the Go side", name, w)
		case g != w:
			t.Errorf("%s: Go %d, C %d", name, g, w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: checked on the Go side but not printed by layout.c", name)
		}
	}
	if other := os.Getenv("V4L2_C_LAYOUT_OTHER"); other != "" {
		o := readLayout(t, other)
		if o["sizeof v4l2_buffer"] == got["sizeof v4l2_buffer"] || o["ioctl VIDIOC_DQBUF"] == got["ioctl VIDIOC_DQBUF"] {
			t.Errorf("the other time ABI (%d-bit) has the same v4l2_buffer (%d bytes, DQBUF %#x): the test cannot tell them apart",
				o["timebits"], o["sizeof v4l2_buffer"], o["ioctl VIDIOC_DQBUF"])
		}
	}
	t.Logf("%d sizes, offsets and ioctl numbers match (%d-bit time)", len(want), got["timebits"])
}
