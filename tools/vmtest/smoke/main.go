// Command smoke proves the vmtest harness end to end: inside the VM it
// captures from vivid through github.com/blackjack/webcam (the library
// usbStream's camera code uses), simulates a USB unplug with vivid's
// Disconnect control, and unloads and reloads the vivid module.
//
// It is built statically and run by tools/vmtest/smoke.sh; it refuses to run
// outside the VM because it unloads kernel modules.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"github.com/blackjack/webcam"
	"golang.org/x/sys/unix"
)

const (
	width  = 640
	height = 480
	// YUYV is 4:2:2, two bytes per pixel, so every complete frame has
	// exactly this size; a short frame would mean a broken capture path.
	frameBytes = width * height * 2

	fourccYUYV = webcam.PixelFormat('Y' | 'U'<<8 | 'Y'<<16 | 'V'<<24)

	// vivid's private "Disconnect" button (VIVID_CID_VIVID_BASE + 65).
	// Pressing it unregisters the device nodes the way a USB unplug does,
	// and vivid re-registers them once the last file handle is closed.
	cidDisconnect  = 0x00f0f041
	ctrlTypeButton = 4

	// _IOWR('V', 36, struct v4l2_queryctrl), the struct being 68 bytes.
	vidiocQueryctrl = 0xc0445624
)

// v4l2QueryCtrl mirrors struct v4l2_queryctrl from linux/videodev2.h.
type v4l2QueryCtrl struct {
	ID           uint32
	Type         uint32
	Name         [32]byte
	Minimum      int32
	Maximum      int32
	Step         int32
	DefaultValue int32
	Flags        uint32
	Reserved     [2]uint32
}

var (
	device    = flag.String("device", "/dev/video0", "vivid capture node to test")
	frames    = flag.Int("frames", 10, "frames to capture in each capture step")
	wantNodes = flag.Int("want-nodes", 0, "if > 0, the number of /dev/video* nodes expected (checks that module parameters arrived)")
	reload    = flag.Bool("reload", true, "also rmmod and re-insmod vivid")
	vividKO   = flag.String("vivid-ko", "/lib/modules/vivid.ko", "where the harness keeps vivid.ko in the guest")
)

type check struct {
	name string
	run  func() error
}

// runChecks reports each check on its own line so that a console log shows
// how far the run got. Later checks build on the state earlier ones leave
// behind, so it stops at the first failure.
func runChecks(checks []check) bool {
	for _, c := range checks {
		start := time.Now()
		err := c.run()
		d := time.Since(start).Round(time.Millisecond)
		if err != nil {
			fmt.Printf("FAIL: %s (%v): %v\n", c.name, d, err)
			return false
		}
		fmt.Printf("PASS: %s (%v)\n", c.name, d)
	}
	return true
}

func main() {
	flag.Parse()
	if os.Getenv("VMTEST") != "1" {
		fmt.Fprintln(os.Stderr, "smoke: refusing to run outside the vmtest VM (it unloads kernel modules); use tools/vmtest/smoke.sh")
		os.Exit(2)
	}
	var cam *webcam.Webcam
	closeCam := func() {
		if cam != nil {
			cam.Close()
			cam = nil
		}
	}
	checks := []check{
		{"list video nodes", func() error {
			nodes, err := listNodes()
			if err == nil && *wantNodes > 0 && len(nodes) != *wantNodes {
				err = fmt.Errorf("found %d nodes, want %d (VIVID_PARAMS=%q)", len(nodes), *wantNodes, os.Getenv("VIVID_PARAMS"))
			}
			return err
		}},
		{"vivid has the Disconnect button at 0x00f0f041", checkDisconnectControl},
		{fmt.Sprintf("open %s and set %dx%d YUYV", *device, width, height), func() (err error) {
			cam, err = openYUYV(*device)
			return err
		}},
		{fmt.Sprintf("capture %d frames of %d bytes", *frames, frameBytes), func() error {
			return capture(cam, *frames)
		}},
		{"Disconnect makes the next read fail with ENODEV", func() error {
			if err := cam.SetControl(cidDisconnect, 1); err != nil {
				return fmt.Errorf("pressing Disconnect: %w", err)
			}
			_, err := readFrame(cam)
			if err == nil {
				return errors.New("read still succeeds after Disconnect")
			}
			if !errors.Is(err, unix.ENODEV) {
				return fmt.Errorf("read failed with %v, want ENODEV", err)
			}
			return nil
		}},
		{"close, reopen and capture again after Disconnect", func() (err error) {
			// Closing the last handle is what makes vivid re-register
			// the node, as replugging would.
			closeCam()
			if cam, err = openYUYV(*device); err != nil {
				return err
			}
			return capture(cam, *frames)
		}},
	}
	if *reload {
		checks = append(checks,
			check{"rmmod vivid is refused while a node is open", func() error {
				out, err := exec.Command("rmmod", "vivid").CombinedOutput()
				if err == nil {
					return errors.New("rmmod vivid succeeded with an open node")
				}
				fmt.Printf("  rmmod said: %s\n", strings.TrimSpace(string(out)))
				return nil
			}},
			check{"rmmod vivid removes the nodes", func() error {
				closeCam()
				if out, err := exec.Command("rmmod", "vivid").CombinedOutput(); err != nil {
					return fmt.Errorf("rmmod vivid: %v: %s", err, out)
				}
				if nodes, _ := filepath.Glob("/dev/video*"); len(nodes) != 0 {
					return fmt.Errorf("nodes left after rmmod: %v", nodes)
				}
				return nil
			}},
			check{"insmod vivid.ko brings the nodes back, capture again", func() (err error) {
				// Reuse the boot-time parameters so the devices come back
				// in the same shape.
				args := append([]string{*vividKO}, strings.Fields(os.Getenv("VIVID_PARAMS"))...)
				if out, err := exec.Command("insmod", args...).CombinedOutput(); err != nil {
					return fmt.Errorf("insmod %v: %v: %s", args, err, out)
				}
				if _, err := listNodes(); err != nil {
					return err
				}
				if cam, err = openYUYV(*device); err != nil {
					return err
				}
				return capture(cam, *frames)
			}},
		)
	}
	ok := runChecks(checks)
	closeCam()
	if !ok {
		fmt.Println("smoke: FAIL")
		os.Exit(1)
	}
	fmt.Println("smoke: PASS")
}

func listNodes() ([]string, error) {
	nodes, err := filepath.Glob("/dev/video*")
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, errors.New("no /dev/video* nodes")
	}
	for _, n := range nodes {
		name, _ := os.ReadFile(filepath.Join("/sys/class/video4linux", filepath.Base(n), "name"))
		fmt.Printf("  %s: %s\n", n, strings.TrimSpace(string(name)))
	}
	return nodes, nil
}

// checkDisconnectControl queries the control directly because webcam's
// GetControls leaves out button controls; a changed id in a future kernel
// should fail here with a clear message, not later as a confusing EINVAL.
func checkDisconnectControl() error {
	fd, err := unix.Open(*device, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	q := v4l2QueryCtrl{ID: cidDisconnect}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), vidiocQueryctrl, uintptr(unsafe.Pointer(&q))); errno != 0 {
		return fmt.Errorf("VIDIOC_QUERYCTRL 0x%08x: %w", uint32(cidDisconnect), errno)
	}
	name := string(q.Name[:])
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if name != "Disconnect" || q.Type != ctrlTypeButton {
		return fmt.Errorf("control 0x%08x is %q of type %d, want the Disconnect button", uint32(cidDisconnect), name, q.Type)
	}
	return nil
}

func openYUYV(path string) (*webcam.Webcam, error) {
	cam, err := webcam.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if _, ok := cam.GetSupportedFormats()[fourccYUYV]; !ok {
		cam.Close()
		return nil, fmt.Errorf("%s does not offer YUYV", path)
	}
	f, w, h, err := cam.SetImageFormat(fourccYUYV, width, height)
	if err == nil && (f != fourccYUYV || w != width || h != height) {
		err = fmt.Errorf("driver chose %#x %dx%d", uint32(f), w, h)
	}
	if err == nil {
		// webcam asks for 256 buffers by default; a few are plenty and
		// keep vmalloc use small in a 512 MB guest.
		err = cam.SetBufferCount(4)
	}
	if err == nil {
		err = cam.StartStreaming()
	}
	if err != nil {
		cam.Close()
		return nil, fmt.Errorf("set up %s: %w", path, err)
	}
	return cam, nil
}

func capture(cam *webcam.Webcam, n int) error {
	for i := 0; i < n; i++ {
		f, err := readFrame(cam)
		if err != nil {
			return fmt.Errorf("frame %d: %w", i, err)
		}
		if len(f) != frameBytes {
			return fmt.Errorf("frame %d: %d bytes, want %d", i, len(f), frameBytes)
		}
	}
	return nil
}

// readFrame waits for one frame. Under TCG vivid may need far longer than a
// real camera's frame interval, hence the generous deadline.
func readFrame(cam *webcam.Webcam) ([]byte, error) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		err := cam.WaitForFrame(5)
		var timeout *webcam.Timeout
		if errors.As(err, &timeout) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("poll: %w", err)
		}
		f, err := cam.ReadFrame()
		if errors.Is(err, unix.EAGAIN) {
			// poll can report readiness before a buffer is complete.
			continue
		}
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	return nil, errors.New("no frame within 30 s")
}
