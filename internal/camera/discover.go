// Package camera finds V4L2 cameras, chooses a format, size and frame rate
// by the original usbStream's rules, and captures frames from them as a
// source.Source.
package camera

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/blackjack/webcam"
	"golang.org/x/sys/unix"
)

// Device is one video-capture node and everything it supports. JSON names
// are part of the status document the DWC tab reads.
type Device struct {
	Path    string   `json:"path"`
	Index   int      `json:"index"` // 0-based over capture devices, as -camera N counts
	Name    string   `json:"name"`  // the card name, e.g. "HD Pro Webcam C920"
	Driver  string   `json:"driver"`
	BusInfo string   `json:"busInfo"`
	ByID    []string `json:"byId,omitempty"`   // /dev/v4l/by-id/... links to this node
	ByPath  []string `json:"byPath,omitempty"` // /dev/v4l/by-path/... links to this node
	Formats []Format `json:"formats"`
	// Controls are listed with current values when discovered.
	Controls []Control `json:"controls,omitempty"`
	// number is the device number ("81:0"), which names the device however
	// a path to it is spelt.
	number string
}

// Format is one pixel format with its frame sizes.
type Format struct {
	FourCC      string `json:"fourcc"` // "MJPG", "YUYV", ...
	Description string `json:"description"`
	Sizes       []Size `json:"sizes"`
}

// Size is a frame size with the frame rates offered at it. A stepwise or
// continuous range is expanded by the caller's rules; its bounds are kept.
type Size struct {
	Width  int       `json:"width"`
	Height int       `json:"height"`
	FPS    []float64 `json:"fps,omitempty"`
	// Stepwise ranges (rare on USB cameras) are kept as bounds.
	MaxWidth  int `json:"maxWidth,omitempty"`
	MaxHeight int `json:"maxHeight,omitempty"`
	StepW     int `json:"stepWidth,omitempty"`
	StepH     int `json:"stepHeight,omitempty"`
}

// Control is one V4L2 control.
type Control struct {
	ID        uint32     `json:"id"`
	Key       string     `json:"key"`  // as v4l2-ctl prints it: "exposure_time_absolute"
	Name      string     `json:"name"` // as the driver names it: "Exposure Time, Absolute"
	Type      string     `json:"type"`
	Min       int64      `json:"min"`
	Max       int64      `json:"max"`
	Step      int64      `json:"step"`
	Default   int64      `json:"default"`
	Value     *int64     `json:"value,omitempty"`
	ReadOnly  bool       `json:"readOnly,omitempty"`
	WriteOnly bool       `json:"writeOnly,omitempty"`
	Inactive  bool       `json:"inactive,omitempty"`
	Menu      []MenuItem `json:"menu,omitempty"`
}

// MenuItem is one choice of a menu control.
type MenuItem struct {
	Index int64  `json:"index"`
	Name  string `json:"name"`
}

// controlKey turns a control's display name into v4l2-ctl's key: lower case,
// every run of other characters one underscore, none at the ends.
func controlKey(name string) string {
	var b strings.Builder
	underscore := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if underscore && b.Len() > 0 {
				b.WriteByte('_')
			}
			underscore = false
			b.WriteRune(r)
			continue
		}
		underscore = true
	}
	return b.String()
}

// FourCC renders a V4L2 pixel format code as text.
func FourCC(code uint32) string {
	b := []byte{byte(code), byte(code >> 8), byte(code >> 16), byte(code >> 24)}
	return strings.TrimRight(string(b), " \x00")
}

// fourCCCode is the inverse of FourCC.
func fourCCCode(s string) uint32 {
	var b [4]byte
	copy(b[:], s+"    ")
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// Where discovery looks. Under DSF's AppArmor profile a plugin may read
// anything below /sys and /run/udev/data and open /dev/video*, but not list
// /dev or /dev/v4l/by-id: so the nodes come from sysfs and their stable
// names from udev's database, with /dev itself only as a fallback for
// machines without them (a container, a system without udev).
type places struct {
	sysClass string // /sys/class/video4linux
	dev      string // /dev
	udevData string // /run/udev/data
}

var system = places{sysClass: "/sys/class/video4linux", dev: "/dev", udevData: "/run/udev/data"}

// List finds every video-capture node, in the order of their /dev/videoN
// numbers, and reads what each supports.
func List() ([]Device, error) {
	return list(system)
}

func list(at places) ([]Device, error) {
	nodes, err := findNodes(at)
	if err != nil {
		return nil, err
	}
	// Listing /dev/v4l is only for machines without udev: under DSF's
	// AppArmor profile every try would be a denial in the kernel log.
	var devLinks map[string]map[string][]string
	if !udevRuns(at) {
		devLinks = stableLinks(filepath.Join(at.dev, "v4l"))
	}
	devices := []Device{} // JSON [] rather than null when there is none
	var problems []string
	for _, n := range nodes {
		d, ok, err := probe(n.path)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if !ok {
			continue
		}
		d.Index = len(devices)
		d.number = n.number
		byID, byPath := udevLinks(at, n.number)
		d.ByID = mergeLinks(byID, devLinks[n.path]["by-id"])
		d.ByPath = mergeLinks(byPath, devLinks[n.path]["by-path"])
		devices = append(devices, d)
	}
	if len(devices) == 0 && len(problems) > 0 {
		return nil, fmt.Errorf("no usable camera: %s", strings.Join(problems, "; "))
	}
	return devices, nil
}

// node is one V4L2 video device node.
type node struct {
	path   string // /dev/video0
	number string // its device number, "81:0"; "" when unknown
}

// findNodes lists the video nodes from sysfs. A missing video4linux class
// means no V4L2 device (the module loads with the first camera); only
// without sysfs at all (a container) are the nodes looked for in /dev,
// which DSF's AppArmor profile forbids to list.
func findNodes(at places) ([]node, error) {
	var nodes []node
	entries, sysErr := os.ReadDir(at.sysClass)
	if errors.Is(sysErr, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Dir(at.sysClass)); err == nil {
			sysErr = nil // sysfs is there: no camera yet
		}
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "video") {
			continue // v4l-subdev*, vbi*, radio*, swradio*, v4l-touch*: no cameras
		}
		dir := filepath.Join(at.sysClass, e.Name())
		n := node{path: filepath.Join(at.dev, e.Name())}
		if b, err := os.ReadFile(filepath.Join(dir, "dev")); err == nil {
			n.number = strings.TrimSpace(string(b))
		}
		// DEVNAME is the node's name below /dev; it is the entry's name
		// unless a driver asked for a subdirectory.
		if b, err := os.ReadFile(filepath.Join(dir, "uevent")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if name, ok := strings.CutPrefix(line, "DEVNAME="); ok && name != "" && !strings.Contains(name, "..") {
					n.path = filepath.Join(at.dev, name)
				}
			}
		}
		nodes = append(nodes, n)
	}
	if sysErr != nil {
		paths, err := filepath.Glob(filepath.Join(at.dev, "video*"))
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			nodes = append(nodes, node{path: p, number: deviceNumber(p)})
		}
	}
	sort.Slice(nodes, func(i, j int) bool { return nodeNumber(nodes[i].path) < nodeNumber(nodes[j].path) })
	return nodes, nil
}

func nodeNumber(path string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(path), "video"))
	if err != nil {
		return 1 << 30
	}
	return n
}

// deviceNumber is the "major:minor" of the character device path leads to
// (following links), "" when it cannot be opened. It opens the device
// rather than stat'ing the path, because DSF's AppArmor profile allows the
// open of /dev/video* and nothing on /dev/v4l itself.
func deviceNumber(path string) string {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return ""
	}
	return fmt.Sprintf("%d:%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)))
}

// udevRuns reports whether udev keeps its database here, so the stable
// names come from it. (stat is not mediated by AppArmor.)
func udevRuns(at places) bool {
	st, err := os.Stat(at.udevData)
	return err == nil && st.IsDir()
}

// udevLinks reads the /dev/v4l/by-id and by-path names udev made for the
// device numbered number, from udev's database (lines "S:v4l/by-id/...").
func udevLinks(at places, number string) (byID, byPath []string) {
	if number == "" {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join(at.udevData, "c"+number))
	if err != nil {
		return nil, nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		link, ok := strings.CutPrefix(strings.TrimSpace(line), "S:")
		if !ok || strings.Contains(link, "..") {
			continue
		}
		switch {
		case strings.HasPrefix(link, "v4l/by-id/"):
			byID = append(byID, filepath.Join(at.dev, link))
		case strings.HasPrefix(link, "v4l/by-path/"):
			byPath = append(byPath, filepath.Join(at.dev, link))
		}
	}
	return byID, byPath
}

// mergeLinks joins two lists of names, sorted, without repeats.
func mergeLinks(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// stableLinks maps each node to its /dev/v4l/by-id and by-path names, which
// stay the same across reboots and replugging while /dev/videoN may not.
// It lists /dev/v4l, which DSF's AppArmor profile forbids (udevLinks
// covers that case); it finds links made without udev.
func stableLinks(v4lDir string) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for _, kind := range []string{"by-id", "by-path"} {
		entries, _ := os.ReadDir(filepath.Join(v4lDir, kind))
		for _, e := range entries {
			link := filepath.Join(v4lDir, kind, e.Name())
			target, err := filepath.EvalSymlinks(link)
			if err != nil {
				continue
			}
			if out[target] == nil {
				out[target] = map[string][]string{}
			}
			out[target][kind] = append(out[target][kind], link)
		}
	}
	return out
}

// probe reads one node; ok is false for nodes that are not video capture
// (UVC metadata nodes, output devices, radio, ...).
func probe(node string) (Device, bool, error) {
	fd, err := unix.Open(node, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return Device{}, false, fmt.Errorf("%s: %w", node, err)
	}
	c, err := queryCap(fd)
	if err != nil || !c.isCapture() {
		unix.Close(fd)
		return Device{}, false, nil
	}
	d := Device{Path: node, Name: c.Card, Driver: c.Driver, BusInfo: c.BusInfo}
	d.Controls = queryControls(fd)
	for i := range d.Controls {
		c := &d.Controls[i]
		if c.WriteOnly || c.Type == "button" || c.Type == "string" {
			continue
		}
		if v, err := getControl(fd, c.ID); err == nil {
			v64 := int64(v)
			c.Value = &v64
		}
	}
	unix.Close(fd)

	// The enumeration of formats, sizes and rates is blackjack/webcam's, on
	// a handle of its own, opened after ours is closed.
	cam, err := webcam.Open(node)
	if err != nil {
		return Device{}, false, fmt.Errorf("%s: %w", node, err)
	}
	defer cam.Close()
	d.Formats = formats(cam)
	return d, true, nil
}

// formats enumerates formats, sizes and frame rates, sorted by preference
// of the formats' order on the device and by size, largest first.
func formats(cam *webcam.Webcam) []Format {
	var out []Format
	for code, desc := range cam.GetSupportedFormats() {
		f := Format{FourCC: FourCC(uint32(code)), Description: desc}
		for _, fs := range cam.GetSupportedFrameSizes(code) {
			s := Size{Width: int(fs.MinWidth), Height: int(fs.MinHeight)}
			if fs.StepWidth != 0 || fs.MaxWidth != fs.MinWidth || fs.MaxHeight != fs.MinHeight {
				s.MaxWidth, s.MaxHeight = int(fs.MaxWidth), int(fs.MaxHeight)
				s.StepW, s.StepH = int(fs.StepWidth), int(fs.StepHeight)
			}
			for _, r := range cam.GetSupportedFramerates(code, fs.MinWidth, fs.MinHeight) {
				// Intervals are seconds per frame: the shortest one is the
				// highest rate. A stepwise range adds its lowest rate too.
				if r.MinNumerator != 0 && r.MinDenominator != 0 {
					s.FPS = append(s.FPS, float64(r.MinDenominator)/float64(r.MinNumerator))
				}
				if (r.StepNumerator != 0 || r.StepDenominator != 0) && r.MaxNumerator != 0 && r.MaxDenominator != 0 {
					s.FPS = append(s.FPS, float64(r.MaxDenominator)/float64(r.MaxNumerator))
				}
			}
			sort.Sort(sort.Reverse(sort.Float64Slice(s.FPS)))
			f.Sizes = append(f.Sizes, s)
		}
		sort.SliceStable(f.Sizes, func(i, j int) bool { return area(f.Sizes[i]) > area(f.Sizes[j]) })
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FourCC < out[j].FourCC })
	return out
}

func area(s Size) int { return s.Width * s.Height }
