package camera

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteReport prints what -list shows: every camera with its names,
// formats, sizes, frame rates and controls, in the terms the options use.
func WriteReport(w io.Writer, devices []Device) {
	if len(devices) == 0 {
		fmt.Fprintln(w, "No camera found (no video-capture device under /dev/video*).")
		return
	}
	for _, d := range devices {
		fmt.Fprintf(w, "Camera %d: %s\n", d.Index, d.Name)
		fmt.Fprintf(w, "  device   %s   (driver %s, bus %s)\n", d.Path, d.Driver, d.BusInfo)
		for _, l := range d.ByID {
			fmt.Fprintf(w, "  by-id    %s\n", l)
		}
		for _, l := range d.ByPath {
			fmt.Fprintf(w, "  by-path  %s\n", l)
		}
		for _, f := range d.Formats {
			note := ""
			if !servable(f.FourCC) {
				note = "   (usbStream cannot serve this format)"
			}
			fmt.Fprintf(w, "  format %s: %s%s\n", f.FourCC, f.Description, note)
			for _, s := range f.Sizes {
				size := fmt.Sprintf("%dx%d", s.Width, s.Height)
				if s.MaxWidth > 0 {
					size = fmt.Sprintf("%dx%d to %dx%d step %dx%d", s.Width, s.Height, s.MaxWidth, s.MaxHeight, s.StepW, s.StepH)
				}
				fmt.Fprintf(w, "    %-12s %s\n", size, fpsList(s.FPS))
			}
		}
		if len(d.Controls) > 0 {
			fmt.Fprintln(w, "  controls (use with -control NAME=VALUE):")
		}
		for _, c := range d.Controls {
			fmt.Fprintf(w, "    %-32s %s\n", c.Key, controlSummary(c))
		}
		fmt.Fprintln(w)
	}
}

func fpsList(fps []float64) string {
	if len(fps) == 0 {
		return ""
	}
	var parts []string
	for _, f := range fps {
		parts = append(parts, strconv.FormatFloat(f, 'f', -1, 64))
	}
	return strings.Join(parts, ", ") + " fps"
}

func controlSummary(c Control) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", c.Type)
	switch c.Type {
	case "int":
		fmt.Fprintf(&b, " %d..%d", c.Min, c.Max)
		if c.Step > 1 {
			fmt.Fprintf(&b, " step %d", c.Step)
		}
	case "menu", "intmenu":
		var items []string
		for _, m := range c.Menu {
			items = append(items, fmt.Sprintf("%d=%s", m.Index, m.Name))
		}
		fmt.Fprintf(&b, " [%s]", strings.Join(items, ", "))
	}
	if c.Type != "button" {
		fmt.Fprintf(&b, " default %d", c.Default)
	}
	if c.Value != nil {
		fmt.Fprintf(&b, " value %d", *c.Value)
	}
	var flags []string
	if c.ReadOnly {
		flags = append(flags, "read-only")
	}
	if c.Inactive {
		flags = append(flags, "inactive")
	}
	if len(flags) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(flags, ", "))
	}
	return b.String()
}
