package camera

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Select picks the camera named by spec, which is what -camera holds:
// "" for automatic (the only camera), a 0-based index, a device path
// (/dev/video0 or a /dev/v4l/by-id or by-path link), or a case-insensitive
// part of the camera's name.
func Select(devices []Device, spec string) (Device, error) {
	if len(devices) == 0 {
		return Device{}, ErrNoCamera
	}
	switch {
	case spec == "":
		if len(devices) == 1 {
			return devices[0], nil
		}
		return Device{}, fmt.Errorf("%d cameras found; choose one with -camera (index, path or name):\n%s",
			len(devices), describe(devices))
	case isIndex(spec):
		i, _ := strconv.Atoi(spec)
		if i < len(devices) {
			return devices[i], nil
		}
		return Device{}, fmt.Errorf("-camera %d: there are only %d cameras:\n%s", i, len(devices), describe(devices))
	case strings.HasPrefix(spec, "/"):
		for _, d := range devices {
			if d.Path == spec || slices.Contains(d.ByID, spec) || slices.Contains(d.ByPath, spec) {
				return d, nil
			}
		}
		// Another spelling of a node (a link udev did not make, a path
		// with "..") is known by the device it opens.
		if number := deviceNumber(spec); number != "" {
			for _, d := range devices {
				if d.number == number {
					return d, nil
				}
			}
		}
		return Device{}, fmt.Errorf("-camera %s: no such camera (now connected:\n%s)", spec, describe(devices))
	}
	var matches []Device
	for _, d := range devices {
		if strings.Contains(strings.ToLower(d.Name), strings.ToLower(spec)) {
			matches = append(matches, d)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return Device{}, fmt.Errorf("-camera %q: no camera's name contains it; connected:\n%s", spec, describe(devices))
	}
	return Device{}, fmt.Errorf("-camera %q matches %d cameras; use an index or a /dev/v4l/by-id path:\n%s",
		spec, len(matches), describe(matches))
}

func isIndex(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil && !strings.HasPrefix(s, "-")
}

// describe lists cameras one per line, the way a user can name them.
func describe(devices []Device) string {
	var b strings.Builder
	for _, d := range devices {
		fmt.Fprintf(&b, "  %d: %s (%s", d.Index, d.Name, d.Path)
		if len(d.ByID) > 0 {
			fmt.Fprintf(&b, ", %s", d.ByID[0])
		}
		b.WriteString(")\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}
