package camera

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// The C sizes of the V4L2 structs on 64-bit Linux (pahole/videodev2.h):
// a wrong Go layout would send the driver a different ioctl number.
// The sizes linux/videodev2.h gives on 64-bit targets and on 32-bit arm
// with its default (32-bit) time_t; TestLayoutMatchesC checks every offset
// against the C compiler itself.
func TestStructSizesMatchVideodev2(t *testing.T) {
	want := map[string]uintptr{"v4l2_capability": 104, "v4l2_format": 208, "v4l2_requestbuffers": 20,
		"v4l2_buffer": 88, "v4l2_query_ext_ctrl": 232, "v4l2_querymenu": 44, "v4l2_streamparm": 204, "v4l2_control": 8}
	if unsafe.Sizeof(uintptr(0)) == 4 {
		want["v4l2_format"], want["v4l2_buffer"] = 204, 68
	}
	for name, got := range map[string]uintptr{
		"v4l2_capability":     unsafe.Sizeof(v4l2Capability{}),
		"v4l2_format":         unsafe.Sizeof(v4l2Format{}),
		"v4l2_requestbuffers": unsafe.Sizeof(v4l2RequestBuffers{}),
		"v4l2_buffer":         unsafe.Sizeof(v4l2Buffer{}),
		"v4l2_query_ext_ctrl": unsafe.Sizeof(v4l2QueryExtCtrl{}),
		"v4l2_querymenu":      unsafe.Sizeof(v4l2QueryMenu{}),
		"v4l2_streamparm":     unsafe.Sizeof(v4l2StreamParm{}),
		"v4l2_control":        unsafe.Sizeof(v4l2Control{}),
	} {
		if got != want[name] {
			t.Errorf("sizeof(%s) = %d, want %d", name, got, want[name])
		}
	}
}

func TestControlKeyMatchesV4L2Ctl(t *testing.T) {
	for name, want := range map[string]string{
		"Brightness":                      "brightness",
		"Exposure, Auto":                  "exposure_auto",
		"Exposure (Absolute)":             "exposure_absolute",
		"White Balance Temperature, Auto": "white_balance_temperature_auto",
		"Auto Exposure":                   "auto_exposure",
		"Exposure Time, Absolute":         "exposure_time_absolute",
		"Percentage of Dropped Buffers":   "percentage_of_dropped_buffers",
		"  Power Line Frequency ":         "power_line_frequency",
	} {
		if got := controlKey(name); got != want {
			t.Errorf("controlKey(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestFourCC(t *testing.T) {
	for _, s := range []string{"MJPG", "YUYV", "NV12", "GREY"} {
		if got := FourCC(fourCCCode(s)); got != s {
			t.Errorf("round trip of %s = %s", s, got)
		}
	}
	if got := FourCC(0x56595559); got != "YUYV" {
		t.Errorf("FourCC(V4L2_PIX_FMT_YUYV) = %q", got)
	}
}

// webcamLike is a typical UVC webcam: MJPG at every size at 30 fps, YUYV
// only slow at large sizes.
var webcamLike = Device{Path: "/dev/video0", Name: "HD Pro Webcam C920", Formats: []Format{
	{FourCC: "MJPG", Sizes: []Size{
		{Width: 1920, Height: 1080, FPS: []float64{30, 24, 15}},
		{Width: 1280, Height: 720, FPS: []float64{30, 15}},
		{Width: 800, Height: 600, FPS: []float64{30}},
		{Width: 640, Height: 480, FPS: []float64{30, 15}},
		{Width: 320, Height: 240, FPS: []float64{30}},
	}},
	{FourCC: "YUYV", Sizes: []Size{
		{Width: 1920, Height: 1080, FPS: []float64{5}},
		{Width: 1280, Height: 720, FPS: []float64{10}},
		{Width: 640, Height: 480, FPS: []float64{30}},
	}},
	{FourCC: "H264", Sizes: []Size{{Width: 1920, Height: 1080, FPS: []float64{30}}}},
}}

func TestNegotiate(t *testing.T) {
	cases := []struct {
		name     string
		dev      Device
		req      Request
		want     string // format WxH@fps
		noteHint string
	}{
		{"default is the largest MJPG size", webcamLike, Request{Format: "MJPG", FPS: 24}, "MJPG 1920x1080@24", ""},
		{"-size 4 exists", webcamLike, Request{Format: "MJPG", Width: 1280, Height: 720, FPS: 24}, "MJPG 1280x720@30", ""},
		{"-size 2 (1920x1800) gives 1920x1080", webcamLike, Request{Format: "MJPG", Width: 1920, Height: 1800, FPS: 24}, "MJPG 1920x1080@24", "next lower"},
		{"-size 6 (720x480) gives 640x480", webcamLike, Request{Format: "MJPG", Width: 720, Height: 480, FPS: 24}, "MJPG 640x480@30", "next lower"},
		{"smaller than any", webcamLike, Request{Format: "MJPG", Width: 160, Height: 120, FPS: 24}, "MJPG 320x240@30", "smallest"},
		{"YUYV default skips sizes below 15 fps", webcamLike, Request{Format: "YUYV", FPS: 24}, "YUYV 640x480@30", ""},
		{"YUY2 via config alias is YUYV", webcamLike, Request{Format: "YUYV", Width: 1280, Height: 720, FPS: 24}, "YUYV 1280x720@10", ""},
		{"H264 falls back to MJPG", webcamLike, Request{Format: "H264", FPS: 24}, "MJPG 1920x1080@24", "cannot serve"},
		{"NV12 missing falls back to MJPG", webcamLike, Request{Format: "NV12", FPS: 24}, "MJPG 1920x1080@24", "does not offer"},
		{"fps above every rate takes the highest", webcamLike, Request{Format: "MJPG", Width: 800, Height: 600, FPS: 60}, "MJPG 800x600@30", ""},
		{"raw-only camera", Device{Path: "/dev/video2", Formats: []Format{{FourCC: "YU12", Sizes: []Size{{Width: 640, Height: 360, FPS: []float64{25}}}}}},
			Request{Format: "MJPG", FPS: 24}, "YU12 640x360@25", "does not offer"},
		{"stepwise range contains the request", Device{Path: "/dev/video3", Formats: []Format{{FourCC: "YUYV", Sizes: []Size{
			{Width: 16, Height: 16, MaxWidth: 1920, MaxHeight: 1080, StepW: 16, StepH: 8}}}}},
			Request{Format: "YUYV", Width: 1280, Height: 720}, "YUYV 1280x720@0", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := negotiate(tc.dev, tc.req, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := c.Format + " " + strconv.Itoa(c.Width) + "x" + strconv.Itoa(c.Height) + "@" + strconv.Itoa(int(c.FPS))
			if got != tc.want {
				t.Fatalf("got %s, want %s (notes %v)", got, tc.want, c.Notes)
			}
			notes := strings.Join(c.Notes, "; ")
			if (tc.noteHint == "") != (notes == "") || !strings.Contains(notes, tc.noteHint) {
				t.Fatalf("notes %q, want one mentioning %q", notes, tc.noteHint)
			}
		})
	}
}

func TestNegotiatePassesOverFormatsThatFailed(t *testing.T) {
	c, err := negotiate(webcamLike, Request{Format: "MJPG", FPS: 24}, map[string]bool{"MJPG": true})
	if err != nil || c.Format != "YUYV" || !strings.Contains(strings.Join(c.Notes, ";"), "did not deliver") {
		t.Fatalf("MJPG failed: %+v %v, want YUYV with a note", c, err)
	}
	_, err = negotiate(webcamLike, Request{Format: "MJPG"}, map[string]bool{"MJPG": true, "YUYV": true})
	if err == nil || !strings.Contains(err.Error(), "no usable frame in any format") {
		t.Fatalf("every format failed: %v", err)
	}
}

func TestNegotiateNoServableFormat(t *testing.T) {
	d := Device{Path: "/dev/video9", Formats: []Format{{FourCC: "H264", Sizes: []Size{{Width: 1920, Height: 1080}}}}}
	_, err := negotiate(d, Request{Format: "MJPG"}, nil)
	if err == nil || !strings.Contains(err.Error(), "H264") || !strings.Contains(err.Error(), "/dev/video9") {
		t.Fatalf("err = %v, want one naming the device and what it offers", err)
	}
}

func TestSelect(t *testing.T) {
	devs := []Device{
		{Index: 0, Path: "/dev/video0", Name: "HD Pro Webcam C920", ByID: []string{"/dev/v4l/by-id/usb-046d_C920-video-index0"}},
		{Index: 1, Path: "/dev/video2", Name: "USB2.0 Camera"},
	}
	for spec, want := range map[string]string{"0": "/dev/video0", "1": "/dev/video2", "/dev/video2": "/dev/video2",
		"c920": "/dev/video0", "usb2.0": "/dev/video2"} {
		d, err := Select(devs, spec)
		if err != nil || d.Path != want {
			t.Errorf("Select(%q) = %s, %v; want %s", spec, d.Path, err, want)
		}
	}
	for spec, hint := range map[string]string{"": "2 cameras found", "5": "only 2 cameras", "cam": "matches 2",
		"logitech": "no camera's name", "/dev/video7": "no such camera"} {
		if _, err := Select(devs, spec); err == nil || !strings.Contains(err.Error(), hint) ||
			!strings.Contains(err.Error(), "0: HD Pro Webcam C920 (/dev/video0, /dev/v4l/by-id/usb-046d_C920-video-index0)") && spec != "cam" {
			t.Errorf("Select(%q) error = %v, want %q and the list of cameras", spec, err, hint)
		}
	}
	if d, err := Select(devs[:1], ""); err != nil || d.Path != "/dev/video0" {
		t.Errorf("automatic with one camera = %v, %v", d.Path, err)
	}
	if _, err := Select(nil, ""); err != ErrNoCamera {
		t.Errorf("no cameras: %v", err)
	}
}

func TestWriteReport(t *testing.T) {
	var b strings.Builder
	d := webcamLike
	d.ByID = []string{"/dev/v4l/by-id/usb-046d_C920-video-index0"}
	d.Controls = uvcControls
	WriteReport(&b, []Device{d})
	out := b.String()
	for _, want := range []string{
		"Camera 0: HD Pro Webcam C920", "by-id    /dev/v4l/by-id/usb-046d_C920-video-index0",
		"format MJPG", "1920x1080    30, 24, 15 fps", "format H264", "cannot serve",
		"brightness", "int 0..255 default 128", "auto_exposure", "[1=Manual Mode, 3=Aperture Priority Mode]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	WriteReport(&b, nil)
	if !strings.Contains(b.String(), "No camera found") {
		t.Errorf("empty report: %q", b.String())
	}
}

func TestCaptureTimeUsesPlausibleBufferTimestamps(t *testing.T) {
	var now unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &now)
	received := time.Now()
	stamp := func(age time.Duration) v4l2Buffer {
		ts := unix.NsecToTimeval(now.Nano() - age.Nanoseconds())
		return v4l2Buffer{flags: bufFlagTimestampMonotonic, timestamp: ts}
	}
	got := captureTime(stamp(40*time.Millisecond), received, time.Second)
	if d := received.Sub(got); d < 30*time.Millisecond || d > 200*time.Millisecond {
		t.Fatalf("a 40 ms old buffer is dated %v before its dequeue", d)
	}
	if got := captureTime(stamp(5*time.Second), received, time.Second); !got.Equal(received) {
		t.Fatalf("an implausibly old timestamp was used: %v", received.Sub(got))
	}
	if got := captureTime(v4l2Buffer{}, received, time.Second); !got.Equal(received) {
		t.Fatal("a buffer without a monotonic timestamp must be dated when dequeued")
	}
}

func TestPickWaitsForTheSameCamera(t *testing.T) {
	s := New(Options{Spec: "0"}, zap.NewNop())
	a := Device{Index: 0, Path: "/dev/video0", Name: "Cam A", BusInfo: "usb-1"}
	b := Device{Index: 1, Path: "/dev/video2", Name: "Cam B", BusInfo: "usb-2"}
	if d, err := s.pick([]Device{a, b}); err != nil || d.Path != a.Path {
		t.Fatalf("first pick = %v, %v", d.Path, err)
	}
	// Cam A unplugged: Cam B is now index 0, but must not be picked.
	b.Index = 0
	if d, err := s.pick([]Device{b}); err == nil || !strings.Contains(err.Error(), "Cam A") {
		t.Fatalf("pick while the camera is away = %v, %v; want a wait for Cam A", d.Path, err)
	}
	// Cam A back under another node name.
	a.Path, a.Index = "/dev/video4", 1
	if d, err := s.pick([]Device{b, a}); err != nil || d.Path != "/dev/video4" {
		t.Fatalf("pick after replug = %v, %v", d.Path, err)
	}
}
