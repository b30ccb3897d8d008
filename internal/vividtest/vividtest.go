// Package vividtest holds what the tests against the kernel's vivid driver
// (inside tools/vmtest's VM) share: vivid's private controls, setting and
// reading a control through a handle of the test's own, the number of
// unplug cycles to run, and how long to wait in a VM whose speed depends on
// how busy its host is.
package vividtest

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/blackjack/webcam"
)

// vivid's control ids (drivers/media/test-drivers/vivid/vivid-ctrls.c).
const (
	// Disconnect is a button: it unregisters the node, like a USB unplug.
	Disconnect = 0x00f0f041
	// DroppedPercent is "Percentage of Dropped Buffers".
	DroppedPercent = 0x00f0f040
	// BufferError is a button, "Inject V4L2_BUF_FLAG_ERROR": the next
	// buffer comes back marked as corrupted, as a UVC camera's does after
	// USB packet loss.
	BufferError = 0x00f0f042
	// TimestampSource is a menu: 0 "End of Frame" (the default) or 1
	// "Start of Exposure". At the default vivid stamps a buffer with the
	// end of a frame period that is still to come, so its timestamps are
	// ahead of the clock and internal/camera's captureTime falls back to
	// the dequeue time; with Start of Exposure they are in the past, as a
	// UVC camera's are, and X-Timestamp comes from the buffer.
	TimestampSource = 0x00f0f018
)

// Set sets control id of dev through a handle of the test's own, as
// v4l2-ctl would, and closes it.
func Set(t testing.TB, dev string, id webcam.ControlID, value int32) {
	t.Helper()
	cam, err := webcam.Open(dev)
	if err != nil {
		t.Fatalf("open %s: %v", dev, err)
	}
	defer cam.Close()
	if err := cam.SetControl(id, value); err != nil {
		t.Fatalf("%s: set control %#x=%d: %v", dev, id, value, err)
	}
}

// Get reads control id of dev through a handle of the test's own.
func Get(t testing.TB, dev string, id webcam.ControlID) int32 {
	t.Helper()
	cam, err := webcam.Open(dev)
	if err != nil {
		t.Fatalf("open %s: %v", dev, err)
	}
	defer cam.Close()
	v, err := cam.GetControl(id)
	if err != nil {
		t.Fatalf("%s: get control %#x: %v", dev, id, err)
	}
	return v
}

// ExposureTimestamps makes dev stamp its buffers with the start of
// exposure for the rest of the test (see TimestampSource), so that capture
// times come from the driver's timestamps, and puts the old setting back
// when the test ends.
func ExposureTimestamps(t testing.TB, dev string) {
	t.Helper()
	was := Get(t, dev, TimestampSource)
	Set(t, dev, TimestampSource, 1)
	t.Cleanup(func() { Set(t, dev, TimestampSource, was) })
}

// Cycles is how many unplug/replug cycles the disconnect tests run:
// $VIVID_CYCLES (tools/vmtest/camera.sh sets 10 in the ARM VMs), default 20.
func Cycles(t testing.TB) int {
	t.Helper()
	v := os.Getenv("VIVID_CYCLES")
	if v == "" {
		return 20
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 3 {
		t.Fatalf("VIVID_CYCLES=%q: want a whole number of at least 3", v)
	}
	return n
}

// Patience is how long a VM test allows for something that took `first`
// the first time in this run: factor times that, and never less than
// floor. Under qemu's TCG on a shared host everything takes longer when
// the host is busy, the first time included, so a limit relative to the
// VM's own speed fails on bugs, not on load; floor keeps a limit from
// being stricter than one that holds on an idle host.
func Patience(first time.Duration, factor int, floor time.Duration) time.Duration {
	return max(floor, time.Duration(factor)*first)
}

// Median is the middle of d (the upper one of two).
func Median(d []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(d))
	return s[len(s)/2]
}

// CheckTypicalReopen fails the test when the median reopen in back took
// longer than twice the first open plus the supervisor's longest pause
// between retries (1 s): a reopen does what the first open did (discovery,
// open, the first frame), after at most that pause. The per-cycle limit,
// much looser, only catches a hang; this catches a reopen that got slow
// (a longer back-off, a retry lost) in every VM whose first open was fast.
func CheckTypicalReopen(t testing.TB, back []time.Duration, firstOpen time.Duration) {
	t.Helper()
	if m, limit := Median(back), 2*firstOpen+time.Second; m > limit {
		t.Errorf("the median reopen took %v, want at most %v (twice the first open's %v, plus 1 s between retries); all: %v",
			m, limit, firstOpen, back)
	}
}
