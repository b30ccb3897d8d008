package camera

import (
	"errors"
	"fmt"
	"slices"

	"usbstream/internal/source"
)

// Request is what the configuration asks of a camera.
type Request struct {
	// Format is the preferred pixel format (config canonical names: MJPG,
	// JPEG, YUYV, NV12, YU12, GREY, RGB3, BGR3, H264).
	Format string
	// Width and Height are the wanted size (from -resolution or the -size
	// table); zero means "the default rule".
	Width, Height int
	// FPS is the wanted frame rate.
	FPS float64
}

func (r Request) status() *source.Request {
	return &source.Request{Format: r.Format, Width: r.Width, Height: r.Height, FPS: r.FPS}
}

// Choice is what negotiation settled on, with why.
type Choice struct {
	Format string  `json:"format"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
	FPS    float64 `json:"fps"` // the camera's rate closest to the request, 0 if it lists none
	Notes  []string
	fourcc uint32
}

// MinDefaultFPS is the lowest rate the default size rule accepts: the
// largest size that still gives smooth enough video for a printer camera.
const MinDefaultFPS = 15

// formatFallback is tried in order after the requested format: MJPEG costs
// nothing to serve, YUYV is what every UVC camera offers.
var formatFallback = []string{"MJPG", "JPEG", "YUYV"}

// rawFormats are the uncompressed formats usbStream can encode.
var rawFormats = []string{"YUYV", "NV12", "YU12", "GREY", "RGB3", "BGR3"}

// servable reports whether usbStream can serve frames in format f.
func servable(f string) bool {
	return f == "MJPG" || f == "JPEG" || slices.Contains(rawFormats, f)
}

// negotiate picks the format, size and rate for d by the original
// usbStream's rules, passing over the formats in avoid (which the camera
// lists but failed to deliver):
//   - format: the requested one if the camera has it and usbStream can
//     serve it, else MJPG, then YUYV, then any other servable format;
//   - size: the requested one if offered, else the next lower offered size
//     (the largest that fits within the request); with no request, the
//     largest size that reaches MinDefaultFPS;
//   - rate: the offered rate closest to the request, preferring at least
//     the requested rate.
func negotiate(d Device, r Request, avoid map[string]bool) (Choice, error) {
	var c Choice
	f, note, err := pickFormat(d, r.Format, avoid)
	if err != nil {
		return c, err
	}
	if note != "" {
		c.Notes = append(c.Notes, note)
	}
	c.Format, c.fourcc = f.FourCC, fourCCCode(f.FourCC)

	size, note := pickSize(f, r)
	if note != "" {
		c.Notes = append(c.Notes, note)
	}
	c.Width, c.Height = size.Width, size.Height
	c.FPS = pickFPS(size.FPS, r.FPS)
	return c, nil
}

func pickFormat(d Device, want string, avoid map[string]bool) (Format, string, error) {
	find := func(name string) (Format, bool) {
		for _, f := range d.Formats {
			if f.FourCC == name && len(f.Sizes) > 0 && !avoid[name] {
				return f, true
			}
		}
		return Format{}, false
	}
	if f, ok := find(want); ok && servable(want) {
		return f, "", nil
	}
	candidates := append([]string{}, formatFallback...)
	candidates = append(candidates, rawFormats...)
	for _, name := range candidates {
		if f, ok := find(name); ok {
			why := "the camera does not offer it"
			if avoid[want] {
				why = "the camera did not deliver it"
			} else if _, has := find(want); has {
				why = "usbStream cannot serve it"
			}
			return f, fmt.Sprintf("format %s requested but %s; using %s", want, why, name), nil
		}
	}
	if len(avoid) > 0 {
		return Format{}, "", fmt.Errorf("%s delivered no usable frame in any format usbStream can serve", d.Path)
	}
	var offered []string
	for _, f := range d.Formats {
		offered = append(offered, f.FourCC)
	}
	return Format{}, "", fmt.Errorf("%s offers no format usbStream can serve (it offers %v; usbStream serves MJPG, JPEG and %v)",
		d.Path, offered, rawFormats)
}

// sizes expands a format's sizes into concrete candidates. A stepwise range
// contributes the requested size when it fits, and its largest size.
func sizes(f Format, r Request) []Size {
	var out []Size
	for _, s := range f.Sizes {
		if s.MaxWidth == 0 {
			out = append(out, s)
			continue
		}
		out = append(out, Size{Width: s.MaxWidth, Height: s.MaxHeight, FPS: s.FPS})
		if r.Width > 0 && inRange(s, r.Width, r.Height) {
			out = append(out, Size{Width: r.Width, Height: r.Height, FPS: s.FPS})
		}
	}
	return out
}

func inRange(s Size, w, h int) bool {
	okW := w >= s.Width && w <= s.MaxWidth && (s.StepW <= 1 || (w-s.Width)%s.StepW == 0)
	okH := h >= s.Height && h <= s.MaxHeight && (s.StepH <= 1 || (h-s.Height)%s.StepH == 0)
	return okW && okH
}

func pickSize(f Format, r Request) (Size, string) {
	all := sizes(f, r)
	largestFirst := func(a, b Size) int { return area(b) - area(a) }
	slices.SortStableFunc(all, largestFirst)
	if r.Width > 0 && r.Height > 0 {
		for _, s := range all {
			if s.Width == r.Width && s.Height == r.Height {
				return s, ""
			}
		}
		for _, s := range all {
			if s.Width <= r.Width && s.Height <= r.Height {
				return s, fmt.Sprintf("size %dx%d is not offered in %s; using the next lower, %dx%d",
					r.Width, r.Height, f.FourCC, s.Width, s.Height)
			}
		}
		s := all[len(all)-1]
		return s, fmt.Sprintf("size %dx%d is smaller than any %s size; using the smallest, %dx%d",
			r.Width, r.Height, f.FourCC, s.Width, s.Height)
	}
	for _, s := range all {
		if len(s.FPS) == 0 || slices.Max(s.FPS) >= MinDefaultFPS {
			return s, ""
		}
	}
	return all[0], fmt.Sprintf("no %s size reaches %d fps; using the largest, %dx%d", f.FourCC, MinDefaultFPS,
		all[0].Width, all[0].Height)
}

// pickFPS returns the lowest offered rate at or above want, else the
// highest offered; 0 when the camera lists none.
func pickFPS(offered []float64, want float64) float64 {
	if len(offered) == 0 {
		return 0
	}
	best := 0.0
	for _, f := range offered {
		if f >= want-0.01 && (best == 0 || f < best) {
			best = f
		}
	}
	if best == 0 {
		best = slices.Max(offered)
	}
	return best
}

// ErrNoCamera is returned when no video-capture device exists.
var ErrNoCamera = errors.New("no camera found (no video-capture device under /dev/video*)")
