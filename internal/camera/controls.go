package camera

import (
	"fmt"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"usbstream/internal/jpeg"
)

// ControlSetting is one requested control value: Name is v4l2-ctl's key
// (exposure_time_absolute) or the driver's display name; Value is a number,
// a menu entry's name, or on/off/true/false for booleans.
type ControlSetting struct {
	Name  string
	Value string
}

// controlIO is the part of an open camera (device) that reads and writes
// controls.
type controlIO interface {
	GetControl(id uint32) (int32, error)
	SetControl(id uint32, value int32) error
}

// findControl looks a control up by key or display name, any case.
func findControl(controls []Control, name string) (Control, bool) {
	key := controlKey(name)
	for _, c := range controls {
		if c.Key == key || strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return Control{}, false
}

// resolveValue turns a setting's text into the control's integer value,
// with an error that states the valid values.
func resolveValue(c Control, text string) (int64, error) {
	text = strings.TrimSpace(text)
	if c.Type == "bool" {
		switch strings.ToLower(text) {
		case "1", "true", "on", "yes":
			return 1, nil
		case "0", "false", "off", "no":
			return 0, nil
		}
		return 0, fmt.Errorf("control %s=%s: want on or off", c.Key, text)
	}
	for _, m := range c.Menu {
		if strings.EqualFold(m.Name, text) || controlKey(m.Name) == controlKey(text) {
			return m.Index, nil
		}
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		if len(c.Menu) > 0 {
			return 0, fmt.Errorf("control %s=%s: want one of %s", c.Key, text, menuChoices(c))
		}
		return 0, fmt.Errorf("control %s=%s: want a whole number from %d to %d", c.Key, text, c.Min, c.Max)
	}
	if v < c.Min || v > c.Max {
		return 0, fmt.Errorf("control %s=%d is out of range: %d to %d (default %d)", c.Key, v, c.Min, c.Max, c.Default)
	}
	if len(c.Menu) > 0 {
		for _, m := range c.Menu {
			if m.Index == v {
				return v, nil
			}
		}
		return 0, fmt.Errorf("control %s=%d: want one of %s", c.Key, v, menuChoices(c))
	}
	return v, nil
}

func menuChoices(c Control) string {
	var parts []string
	for _, m := range c.Menu {
		parts = append(parts, fmt.Sprintf("%d (%s)", m.Index, m.Name))
	}
	return strings.Join(parts, ", ")
}

// exposureSettings maps the original's OpenCV-style -manexp/-exposure onto
// the camera's V4L2 controls: 0.25 or 1 selects manual exposure, 0.75 or 3
// automatic; -exposure applies only together with -manexp, as before.
func exposureSettings(controls []Control, manexp, exposure *float64) ([]ControlSetting, error) {
	if manexp == nil {
		return nil, nil
	}
	auto, ok := findControl(controls, "exposure_auto")
	if !ok {
		auto, ok = findControl(controls, "auto_exposure")
	}
	if !ok {
		return nil, fmt.Errorf("-manexp: the camera has no auto-exposure control")
	}
	var mode int64
	switch *manexp {
	case 0.25, 1:
		mode = 1 // V4L2_EXPOSURE_MANUAL
	case 0.75, 3:
		mode = 3 // V4L2_EXPOSURE_APERTURE_PRIORITY: what UVC cameras call auto
		if _, err := resolveValue(auto, "3"); err != nil {
			mode = 0 // V4L2_EXPOSURE_AUTO
		}
	default:
		return nil, fmt.Errorf("-manexp %g: want 0.25 or 1 (manual) or 0.75 or 3 (automatic)", *manexp)
	}
	settings := []ControlSetting{{Name: auto.Key, Value: strconv.FormatInt(mode, 10)}}
	if exposure != nil {
		abs, ok := findControl(controls, "exposure_absolute")
		if !ok {
			abs, ok = findControl(controls, "exposure_time_absolute")
		}
		if !ok {
			return settings, fmt.Errorf("-exposure: the camera has no absolute exposure control")
		}
		settings = append(settings, ControlSetting{Name: abs.Key, Value: strconv.FormatInt(int64(*exposure), 10)})
	}
	return settings, nil
}

// applyControls sets the requested controls on an opened camera and returns
// a function that puts back the values found before, as the original did
// for exposure. Problems are logged; they never stop the stream.
func (s *Source) applyControls(cam controlIO, dev Device) (restore func()) {
	settings, err := exposureSettings(dev.Controls, s.opt.ManExp, s.opt.Exposure)
	if err != nil {
		s.log.Warn(err.Error(), zap.String("device", dev.Path))
	}
	settings = append(settings, s.opt.Controls...)
	type saved struct {
		c Control
		v int32
	}
	var undo []saved
	for _, set := range settings {
		c, ok := findControl(dev.Controls, set.Name)
		if !ok {
			s.log.Warn("unknown camera control "+set.Name, zap.String("device", dev.Path), zap.String("controls", controlKeys(dev.Controls)))
			continue
		}
		v, err := resolveValue(c, set.Value)
		if err != nil {
			s.log.Warn(err.Error(), zap.String("device", dev.Path))
			continue
		}
		if old, err := cam.GetControl(c.ID); err == nil {
			undo = append(undo, saved{c, old})
			s.log.Info("camera control", zap.String("control", c.Key), zap.Int32("was", old), zap.Int64("set", v))
		}
		if err := cam.SetControl(c.ID, int32(v)); err != nil {
			s.log.Warn("cannot set camera control", zap.String("control", c.Key), zap.Int64("value", v), zap.Error(err))
		}
	}
	return func() {
		for i := len(undo) - 1; i >= 0; i-- {
			cam.SetControl(undo[i].c.ID, undo[i].v)
		}
	}
}

// cameraFlip leaves a mirror-only transform (-flip, -rotate 180) to the
// camera's own flip controls, which cost nothing per frame, and returns what
// software must still do plus a function that puts the controls back. Each
// flip toggles the camera's current setting, so a sensor that the maker
// mounted mirrored stays corrected. Quarter turns stay in software.
func (s *Source) cameraFlip(cam controlIO, dev Device, t jpeg.Transform) (jpeg.Transform, func()) {
	noop := func() {}
	h, v, ok := t.Mirrors()
	if !ok || (!h && !v) {
		return t, noop
	}
	var flips []Control
	for _, f := range []struct {
		key  string
		want bool
	}{{"horizontal_flip", h}, {"vertical_flip", v}} {
		if !f.want {
			continue
		}
		c, found := findControl(dev.Controls, f.key)
		if !found || c.Min != 0 || c.Max != 1 {
			return t, noop
		}
		flips = append(flips, c)
	}
	var old []int32
	restore := func() {
		for i := len(old) - 1; i >= 0; i-- {
			cam.SetControl(flips[i].ID, old[i])
		}
	}
	var keys []string
	for _, c := range flips {
		v, err := cam.GetControl(c.ID)
		if err == nil {
			err = cam.SetControl(c.ID, 1-min(max(v, 0), 1))
		}
		if err != nil {
			restore()
			s.log.Info("the camera's flip control failed; flipping in software", zap.String("control", c.Key), zap.Error(err))
			return t, noop
		}
		old = append(old, v)
		keys = append(keys, c.Key)
	}
	s.log.Info("flipping in the camera", zap.String("device", dev.Path), zap.Strings("controls", keys))
	return jpeg.Transform{}, restore
}

func controlKeys(controls []Control) string {
	var keys []string
	for _, c := range controls {
		keys = append(keys, c.Key)
	}
	return strings.Join(keys, " ")
}
