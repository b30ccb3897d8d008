package camera

// The V4L2 calls capture makes, all on one descriptor (device): device
// capabilities (to skip UVC metadata nodes), setting and reading the format
// and frame rate, controls with their defaults and menus, and streaming
// that keeps each buffer's capture timestamp and sequence number. Discovery
// (probe) still enumerates formats, sizes and rates through
// github.com/blackjack/webcam. Struct layouts follow linux/videodev2.h; Go's natural
// alignment reproduces the C layout on amd64, arm64 and 32-bit arm, as in
// blackjack/webcam (checked against the C compilers by
// tools/v4l2layout/run.sh).

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/blackjack/webcam/ioctl"
	"golang.org/x/sys/unix"
)

const (
	bufTypeVideoCapture = 1
	memoryMMAP          = 1
	fieldAny            = 0

	capVideoCapture = 0x00000001
	capStreaming    = 0x04000000
	capDeviceCaps   = 0x80000000

	ctrlFlagDisabled     = 0x0001
	ctrlFlagReadOnly     = 0x0004
	ctrlFlagInactive     = 0x0010
	ctrlFlagWriteOnly    = 0x0040
	ctrlFlagNextCtrl     = 0x80000000
	ctrlFlagNextCompound = 0x40000000

	bufFlagError              = 0x0040
	bufFlagTimestampMask      = 0xe000
	bufFlagTimestampMonotonic = 0x2000
)

// Control types from videodev2.h.
const (
	ctrlTypeInteger     = 1
	ctrlTypeBoolean     = 2
	ctrlTypeMenu        = 3
	ctrlTypeButton      = 4
	ctrlTypeInteger64   = 5
	ctrlTypeCtrlClass   = 6
	ctrlTypeString      = 7
	ctrlTypeBitmask     = 8
	ctrlTypeIntegerMenu = 9
)

type v4l2Capability struct {
	driver       [16]byte
	card         [32]byte
	busInfo      [32]byte
	version      uint32
	capabilities uint32
	deviceCaps   uint32
	reserved     [3]uint32
}

type v4l2PixFormat struct {
	width, height, pixelformat, field uint32
	bytesperline, sizeimage           uint32
	colorspace, priv, flags           uint32
	ycbcrEnc, quantization, xferFunc  uint32
}

// v4l2Format is struct v4l2_format with the pix member of its union; the
// union is 200 bytes and pointer-aligned.
type v4l2Format struct {
	typ uint32
	fmt struct {
		_   [0]uintptr // first: a trailing zero-size field would add padding
		pix v4l2PixFormat
		_   [200 - unsafe.Sizeof(v4l2PixFormat{})]byte
	}
}

type v4l2Fract struct {
	numerator, denominator uint32
}

type v4l2CaptureParm struct {
	capability, captureMode   uint32
	timePerFrame              v4l2Fract
	extendedMode, readBuffers uint32
	reserved                  [4]uint32
}

// v4l2StreamParm is struct v4l2_streamparm with the capture member of its
// union; the union is 200 bytes and, unlike v4l2_format's, holds only
// 32-bit fields, so it is 4-byte aligned.
type v4l2StreamParm struct {
	typ  uint32
	parm struct {
		capture v4l2CaptureParm
		_       [200 - unsafe.Sizeof(v4l2CaptureParm{})]byte
	}
}

type v4l2Control struct {
	id    uint32
	value int32
}

type v4l2QueryExtCtrl struct {
	id, typ      uint32
	name         [32]byte
	minimum      int64
	maximum      int64
	step         uint64
	defaultValue int64
	flags        uint32
	elemSize     uint32
	elems        uint32
	nrOfDims     uint32
	dims         [4]uint32
	reserved     [32]uint32
}

// v4l2QueryMenu is packed in C: name and the int64 value share 32 bytes at
// offset 8, then a u32.
type v4l2QueryMenu struct {
	id, index uint32
	name      [32]byte
	reserved  uint32
}

type v4l2RequestBuffers struct {
	count, typ, memory, capabilities uint32
	flags                            uint8
	reserved                         [3]uint8
}

type v4l2Timecode struct {
	typ, flags                      uint32
	frames, seconds, minutes, hours uint8
	userbits                        [4]uint8
}

// v4l2Buffer is struct v4l2_buffer as the kernel's uapi header lays it out
// for a userland with the architecture's default time_t. On 64-bit targets
// that is the only layout (88 bytes). On 32-bit arm, unix.Timeval has
// int32 fields, so this is the old 32-bit time ABI (68 bytes, timestamp at
// 20, DQBUF 0xc0445611) that Debian 12's and Raspberry Pi OS's armhf glibc
// use by default; a C program built with -D_TIME_BITS=64 gets the 80-byte
// layout and other ioctl numbers. The kernel accepts both: a 32-bit kernel
// maps the VIDIOC_*_TIME32 numbers onto its native ones
// (drivers/media/v4l2-core/v4l2-ioctl.c, video_translate_cmd, with
// CONFIG_COMPAT_32BIT_TIME, set in Debian's and the Pi's kernels), and an
// arm64 kernel running the arm binary converts them in
// v4l2-compat-ioctl32.c. The timestamps are CLOCK_MONOTONIC, so 32-bit
// seconds do not run out in 2038. tools/v4l2layout/run.sh checks all of
// this against the C compiler for each architecture.
type v4l2Buffer struct {
	index, typ, bytesused, flags, field uint32
	timestamp                           unix.Timeval
	timecode                            v4l2Timecode
	sequence, memory                    uint32
	m                                   uintptr // union: offset, userptr, planes, fd
	length, reserved2                   uint32
	requestFD                           int32
}

var (
	vidiocQueryCap    = ioctl.IoR('V', 0, unsafe.Sizeof(v4l2Capability{}))
	vidiocGFmt        = ioctl.IoRW('V', 4, unsafe.Sizeof(v4l2Format{}))
	vidiocSFmt        = ioctl.IoRW('V', 5, unsafe.Sizeof(v4l2Format{}))
	vidiocReqBufs     = ioctl.IoRW('V', 8, unsafe.Sizeof(v4l2RequestBuffers{}))
	vidiocQueryBuf    = ioctl.IoRW('V', 9, unsafe.Sizeof(v4l2Buffer{}))
	vidiocQBuf        = ioctl.IoRW('V', 15, unsafe.Sizeof(v4l2Buffer{}))
	vidiocDQBuf       = ioctl.IoRW('V', 17, unsafe.Sizeof(v4l2Buffer{}))
	vidiocStreamOn    = ioctl.IoW('V', 18, unsafe.Sizeof(int32(0)))
	vidiocStreamOff   = ioctl.IoW('V', 19, unsafe.Sizeof(int32(0)))
	vidiocGParm       = ioctl.IoRW('V', 21, unsafe.Sizeof(v4l2StreamParm{}))
	vidiocSParm       = ioctl.IoRW('V', 22, unsafe.Sizeof(v4l2StreamParm{}))
	vidiocGCtrl       = ioctl.IoRW('V', 27, unsafe.Sizeof(v4l2Control{}))
	vidiocSCtrl       = ioctl.IoRW('V', 28, unsafe.Sizeof(v4l2Control{}))
	vidiocQueryMenu   = ioctl.IoRW('V', 37, unsafe.Sizeof(v4l2QueryMenu{}))
	vidiocQueryExtCtl = ioctl.IoRW('V', 103, unsafe.Sizeof(v4l2QueryExtCtrl{}))
)

func xioctl(fd int, op uintptr, arg unsafe.Pointer) error {
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), op, uintptr(arg))
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		default:
			return errno
		}
	}
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// capability is what VIDIOC_QUERYCAP says about one device node.
type capability struct {
	Driver, Card, BusInfo string
	// Caps are the node's own capabilities (device_caps); the device-wide
	// ones would claim video capture for a UVC metadata node too.
	Caps uint32
}

func (c capability) isCapture() bool {
	return c.Caps&capVideoCapture != 0 && c.Caps&capStreaming != 0
}

func queryCap(fd int) (capability, error) {
	var c v4l2Capability
	if err := xioctl(fd, vidiocQueryCap, unsafe.Pointer(&c)); err != nil {
		return capability{}, fmt.Errorf("VIDIOC_QUERYCAP: %w", err)
	}
	caps := c.capabilities
	if caps&capDeviceCaps != 0 {
		caps = c.deviceCaps
	}
	return capability{Driver: cString(c.driver[:]), Card: cString(c.card[:]), BusInfo: cString(c.busInfo[:]), Caps: caps}, nil
}

// device is an open V4L2 capture node. Capture makes every call on this
// one descriptor, and the function that opened it closes it, once.
type device struct {
	fd int
}

// openDevice opens path for capture; a node that cannot capture by
// streaming (a UVC metadata node, an output) is refused.
func openDevice(path string) (*device, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	c, err := queryCap(fd)
	if err == nil && !c.isCapture() {
		err = errors.New("not a video capture device with streaming I/O")
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &device{fd: fd}, nil
}

func (d *device) close() { unix.Close(d.fd) }

// setFormat asks for fourcc at width x height (VIDIOC_S_FMT). The driver
// may choose another size; format says what it chose.
func (d *device) setFormat(fourcc uint32, width, height int) error {
	f := v4l2Format{typ: bufTypeVideoCapture}
	f.fmt.pix = v4l2PixFormat{width: uint32(width), height: uint32(height), pixelformat: fourcc, field: fieldAny}
	if err := xioctl(d.fd, vidiocSFmt, unsafe.Pointer(&f)); err != nil {
		return fmt.Errorf("VIDIOC_S_FMT: %w", err)
	}
	return nil
}

func (d *device) format() (pixFormat, error) { return getFormat(d.fd) }

// setFrameRate asks for fps frames per second (VIDIOC_S_PARM), as a time
// per frame of 1000/(1000·fps) s so that fractional rates survive.
func (d *device) setFrameRate(fps float64) error {
	p := v4l2StreamParm{typ: bufTypeVideoCapture}
	p.parm.capture.timePerFrame = v4l2Fract{numerator: 1000, denominator: uint32(1000 * fps)}
	if err := xioctl(d.fd, vidiocSParm, unsafe.Pointer(&p)); err != nil {
		return fmt.Errorf("VIDIOC_S_PARM: %w", err)
	}
	return nil
}

// frameRate is the rate the driver streams at now (VIDIOC_G_PARM).
func (d *device) frameRate() (float64, error) {
	p := v4l2StreamParm{typ: bufTypeVideoCapture}
	if err := xioctl(d.fd, vidiocGParm, unsafe.Pointer(&p)); err != nil {
		return 0, fmt.Errorf("VIDIOC_G_PARM: %w", err)
	}
	tpf := p.parm.capture.timePerFrame
	if tpf.numerator == 0 || tpf.denominator == 0 {
		return 0, fmt.Errorf("VIDIOC_G_PARM: no frame interval (%d/%d)", tpf.numerator, tpf.denominator)
	}
	return float64(tpf.denominator) / float64(tpf.numerator), nil
}

// GetControl reads control id (VIDIOC_G_CTRL).
func (d *device) GetControl(id uint32) (int32, error) { return getControl(d.fd, id) }

// SetControl sets control id (VIDIOC_S_CTRL).
func (d *device) SetControl(id uint32, value int32) error {
	c := v4l2Control{id: id, value: value}
	if err := xioctl(d.fd, vidiocSCtrl, unsafe.Pointer(&c)); err != nil {
		return fmt.Errorf("VIDIOC_S_CTRL: %w", err)
	}
	return nil
}

func getControl(fd int, id uint32) (int32, error) {
	c := v4l2Control{id: id}
	if err := xioctl(fd, vidiocGCtrl, unsafe.Pointer(&c)); err != nil {
		return 0, fmt.Errorf("VIDIOC_G_CTRL: %w", err)
	}
	return c.value, nil
}

// pixFormat is the capture format the driver has set.
type pixFormat struct {
	FourCC        uint32
	Width, Height int
	BytesPerLine  int
	SizeImage     int
}

func getFormat(fd int) (pixFormat, error) {
	f := v4l2Format{typ: bufTypeVideoCapture}
	if err := xioctl(fd, vidiocGFmt, unsafe.Pointer(&f)); err != nil {
		return pixFormat{}, fmt.Errorf("VIDIOC_G_FMT: %w", err)
	}
	p := f.fmt.pix
	return pixFormat{FourCC: p.pixelformat, Width: int(p.width), Height: int(p.height),
		BytesPerLine: int(p.bytesperline), SizeImage: int(p.sizeimage)}, nil
}

// queryControls lists every control of a device with its range, default
// and flags, including menu entries.
func queryControls(fd int) []Control {
	var list []Control
	q := v4l2QueryExtCtrl{id: ctrlFlagNextCtrl | ctrlFlagNextCompound}
	for i := 0; i < 1024; i++ { // bounded: a broken driver must not loop forever
		if xioctl(fd, vidiocQueryExtCtl, unsafe.Pointer(&q)) != nil {
			break
		}
		id := q.id
		if q.flags&ctrlFlagDisabled == 0 && q.typ != ctrlTypeCtrlClass && q.nrOfDims == 0 {
			c := Control{
				ID: id, Name: cString(q.name[:]), Type: controlTypeName(q.typ),
				Min: q.minimum, Max: q.maximum, Step: int64(q.step), Default: q.defaultValue,
				ReadOnly: q.flags&ctrlFlagReadOnly != 0, WriteOnly: q.flags&ctrlFlagWriteOnly != 0,
				Inactive: q.flags&ctrlFlagInactive != 0,
			}
			c.Key = controlKey(c.Name)
			if q.typ == ctrlTypeMenu || q.typ == ctrlTypeIntegerMenu {
				c.Menu = queryMenu(fd, id, q.minimum, q.maximum, q.typ == ctrlTypeIntegerMenu)
			}
			list = append(list, c)
		}
		q = v4l2QueryExtCtrl{id: id | ctrlFlagNextCtrl | ctrlFlagNextCompound}
	}
	return list
}

func queryMenu(fd int, id uint32, lo, hi int64, integer bool) []MenuItem {
	var items []MenuItem
	for i := lo; i <= hi && i-lo < 256; i++ {
		m := v4l2QueryMenu{id: id, index: uint32(i)}
		if xioctl(fd, vidiocQueryMenu, unsafe.Pointer(&m)) != nil {
			continue // menus may have holes
		}
		name := cString(m.name[:])
		if integer {
			v := *(*int64)(unsafe.Pointer(&m.name[0]))
			name = fmt.Sprint(v)
		}
		items = append(items, MenuItem{Index: i, Name: name})
	}
	return items
}

func controlTypeName(t uint32) string {
	switch t {
	case ctrlTypeInteger, ctrlTypeInteger64:
		return "int"
	case ctrlTypeBoolean:
		return "bool"
	case ctrlTypeMenu:
		return "menu"
	case ctrlTypeIntegerMenu:
		return "intmenu"
	case ctrlTypeButton:
		return "button"
	case ctrlTypeString:
		return "string"
	case ctrlTypeBitmask:
		return "bitmask"
	}
	return fmt.Sprintf("type%d", t)
}

// stream is an mmap capture queue on an open device, whose descriptor it
// borrows: close releases the buffers, the device's owner closes the fd.
type stream struct {
	fd      int
	buffers [][]byte
	on      bool
	// maxAge is the oldest a buffer timestamp may plausibly be when we
	// dequeue it; see captureTime.
	maxAge time.Duration
}

// startStream maps count buffers, queues them and starts capture. fps, if
// known, bounds the plausible age of buffer timestamps.
func startStream(fd int, count int, fps float64) (*stream, error) {
	req := v4l2RequestBuffers{count: uint32(count), typ: bufTypeVideoCapture, memory: memoryMMAP}
	if err := xioctl(fd, vidiocReqBufs, unsafe.Pointer(&req)); err != nil {
		return nil, fmt.Errorf("VIDIOC_REQBUFS: %w", err)
	}
	if req.count < 1 {
		return nil, errors.New("VIDIOC_REQBUFS: the driver granted no buffers")
	}
	s := &stream{fd: fd, maxAge: time.Second}
	for i := uint32(0); i < req.count; i++ {
		b := v4l2Buffer{index: i, typ: bufTypeVideoCapture, memory: memoryMMAP}
		if err := xioctl(fd, vidiocQueryBuf, unsafe.Pointer(&b)); err != nil {
			s.close()
			return nil, fmt.Errorf("VIDIOC_QUERYBUF: %w", err)
		}
		mem, err := unix.Mmap(fd, int64(b.m), int(b.length), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("mmap: %w", err)
		}
		s.buffers = append(s.buffers, mem)
		if err := xioctl(fd, vidiocQBuf, unsafe.Pointer(&b)); err != nil {
			s.close()
			return nil, fmt.Errorf("VIDIOC_QBUF: %w", err)
		}
	}
	typ := int32(bufTypeVideoCapture)
	if err := xioctl(fd, vidiocStreamOn, unsafe.Pointer(&typ)); err != nil {
		s.close()
		return nil, fmt.Errorf("VIDIOC_STREAMON: %w", err)
	}
	s.on = true
	if fps > 0 {
		s.maxAge = time.Duration(float64(2*time.Second)/fps) + 200*time.Millisecond
	}
	return s, nil
}

// errDisconnected means the device went away (unplugged).
var errDisconnected = errors.New("camera disconnected")

// errNoFrame means the wait timed out without a frame.
var errNoFrame = errors.New("no frame within the timeout")

// errBadBuffer means the driver flagged the buffer as corrupted (USB
// packet loss, mostly): the frame is dropped, the stream goes on.
var errBadBuffer = errors.New("the driver marked the frame as corrupted")

// next waits up to timeout for a frame, copies it out, requeues the buffer
// at once and returns the copy with its capture time in wall-clock time.
// Copying is what lets the frame outlive the buffer: it is handed to every
// client while the driver refills the buffer.
func (s *stream) next(timeout time.Duration) ([]byte, time.Time, uint32, error) {
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int(timeout/time.Millisecond))
	if err == unix.EINTR {
		return nil, time.Time{}, 0, errNoFrame
	}
	if err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("poll: %w", err)
	}
	if n == 0 {
		return nil, time.Time{}, 0, errNoFrame
	}
	if ev := fds[0].Revents; ev&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 && ev&unix.POLLIN == 0 {
		if ev&unix.POLLHUP != 0 {
			return nil, time.Time{}, 0, errDisconnected
		}
		return nil, time.Time{}, 0, fmt.Errorf("camera reported an error (poll events %#x)", ev)
	}
	b := v4l2Buffer{typ: bufTypeVideoCapture, memory: memoryMMAP}
	if err := xioctl(s.fd, vidiocDQBuf, unsafe.Pointer(&b)); err != nil {
		if err == unix.EAGAIN {
			return nil, time.Time{}, 0, errNoFrame
		}
		return nil, time.Time{}, 0, fmt.Errorf("VIDIOC_DQBUF: %w", err)
	}
	received := time.Now()
	// QBUF writes the buffer's new state back into b: sequence 0, no error
	// flag. What the driver said of the frame is in done.
	done := b
	var data []byte
	if int(b.index) < len(s.buffers) {
		buf := s.buffers[b.index]
		used := min(int(b.bytesused), len(buf))
		data = append([]byte(nil), buf[:used]...)
	}
	if err := xioctl(s.fd, vidiocQBuf, unsafe.Pointer(&b)); err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("VIDIOC_QBUF: %w", err)
	}
	if done.flags&bufFlagError != 0 {
		return nil, time.Time{}, done.sequence, errBadBuffer
	}
	return data, captureTime(done, received, s.maxAge), done.sequence, nil
}

// sequenceGaps counts the frames a driver captured but never handed over,
// from the sequence numbers of the buffers it does: V4L2 numbers every
// frame, delivered or not (a frame is lost when no buffer was free, or on
// the bus), so a step of k+1 means k frames lost. The zero value is for a
// newly started stream: its first frame sets where the count starts, since
// what happened before (another open) is no drop.
type sequenceGaps struct {
	last    uint32
	started bool
}

// skipped returns how many frames the driver dropped before the one
// numbered seq.
func (g *sequenceGaps) skipped(seq uint32) uint32 {
	if !g.started {
		g.started, g.last = true, seq
		return 0
	}
	gap := seq - g.last - 1 // modulo 2^32, so right across the wraparound
	g.last = seq
	if gap >= 1<<31 {
		// seq is not after the last one: a driver that started counting
		// again, or one that numbers nothing (always 0). Counting on from
		// here beats reporting four billion drops.
		return 0
	}
	return gap
}

// captureTime converts a buffer's monotonic timestamp to wall-clock time.
// Drivers stamp the moment the frame was captured, which is earlier than
// when we dequeued it by up to a frame interval or two. A timestamp older
// than maxAge is a driver quirk (vivid stamps the first buffers after a
// restart with a stale time) and is replaced by the dequeue time, so that
// X-Timestamp never claims a frame is seconds old when it is not.
func captureTime(b v4l2Buffer, received time.Time, maxAge time.Duration) time.Time {
	if b.flags&bufFlagTimestampMask != bufFlagTimestampMonotonic {
		return received
	}
	var now unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &now) != nil {
		return received
	}
	age := time.Duration(now.Nano() - b.timestamp.Nano())
	if age < 0 || age > maxAge {
		return received
	}
	return received.Add(-age)
}

func (s *stream) close() {
	if s.on {
		typ := int32(bufTypeVideoCapture)
		xioctl(s.fd, vidiocStreamOff, unsafe.Pointer(&typ))
		s.on = false
	}
	for _, b := range s.buffers {
		unix.Munmap(b)
	}
	s.buffers = nil
	// Releasing the buffers lets the next open negotiate a new format.
	req := v4l2RequestBuffers{count: 0, typ: bufTypeVideoCapture, memory: memoryMMAP}
	xioctl(s.fd, vidiocReqBufs, unsafe.Pointer(&req))
}
