// Package camera finds V4L2 cameras, chooses a format, size and frame rate
// by the original usbStream's rules, and captures frames from them as a
// source.Source.
package camera

import (
	"fmt"
	"os"
	"path/filepath"
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

// List finds every video-capture node under /dev, in the order of their
// /dev/videoN numbers, and reads what each supports.
func List() ([]Device, error) {
	return list("/dev")
}

func list(devDir string) ([]Device, error) {
	nodes, err := filepath.Glob(filepath.Join(devDir, "video*"))
	if err != nil {
		return nil, err
	}
	sort.Slice(nodes, func(i, j int) bool { return nodeNumber(nodes[i]) < nodeNumber(nodes[j]) })
	links := stableLinks(filepath.Join(devDir, "v4l"))
	devices := []Device{} // JSON [] rather than null when there is none
	var problems []string
	for _, node := range nodes {
		d, ok, err := probe(node)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if !ok {
			continue
		}
		d.Index = len(devices)
		d.ByID, d.ByPath = links[node]["by-id"], links[node]["by-path"]
		devices = append(devices, d)
	}
	if len(devices) == 0 && len(problems) > 0 {
		return nil, fmt.Errorf("no usable camera: %s", strings.Join(problems, "; "))
	}
	return devices, nil
}

func nodeNumber(path string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(path), "video"))
	if err != nil {
		return 1 << 30
	}
	return n
}

// stableLinks maps each node to its /dev/v4l/by-id and by-path names, which
// stay the same across reboots and replugging while /dev/videoN may not.
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
	unix.Close(fd)

	cam, err := webcam.Open(node)
	if err != nil {
		return Device{}, false, fmt.Errorf("%s: %w", node, err)
	}
	defer cam.Close()
	d.Formats = formats(cam)
	for i := range d.Controls {
		c := &d.Controls[i]
		if c.WriteOnly || c.Type == "button" || c.Type == "string" {
			continue
		}
		if v, err := cam.GetControl(webcam.ControlID(c.ID)); err == nil {
			v64 := int64(v)
			c.Value = &v64
		}
	}
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
