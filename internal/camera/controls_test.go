package camera

import (
	"strings"
	"testing"

	"go.uber.org/zap"

	"usbstream/internal/jpeg"
)

var uvcControls = []Control{
	{ID: 0x00980900, Key: "brightness", Name: "Brightness", Type: "int", Min: 0, Max: 255, Step: 1, Default: 128},
	{ID: 0x009a0901, Key: "auto_exposure", Name: "Auto Exposure", Type: "menu", Min: 0, Max: 3, Default: 3,
		Menu: []MenuItem{{1, "Manual Mode"}, {3, "Aperture Priority Mode"}}},
	{ID: 0x009a0902, Key: "exposure_time_absolute", Name: "Exposure Time, Absolute", Type: "int", Min: 3, Max: 2047, Default: 250},
	{ID: 0x009a090c, Key: "focus_automatic_continuous", Name: "Focus, Automatic Continuous", Type: "bool", Max: 1, Default: 1},
}

func TestResolveValue(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"brightness", "200"}, {"Brightness", "0"}, {"auto_exposure", "manual mode"}, {"Auto Exposure", "3"},
		{"focus_automatic_continuous", "off"},
	} {
		c, ok := findControl(uvcControls, tc.name)
		if !ok {
			t.Fatalf("control %q not found", tc.name)
		}
		if _, err := resolveValue(c, tc.value); err != nil {
			t.Errorf("%s=%s: %v", tc.name, tc.value, err)
		}
	}
	for _, tc := range []struct{ name, value, hint string }{
		{"brightness", "300", "out of range: 0 to 255 (default 128)"},
		{"brightness", "bright", "whole number from 0 to 255"},
		{"auto_exposure", "2", "1 (Manual Mode), 3 (Aperture Priority Mode)"},
		{"focus_automatic_continuous", "maybe", "on or off"},
	} {
		c, _ := findControl(uvcControls, tc.name)
		if _, err := resolveValue(c, tc.value); err == nil || !strings.Contains(err.Error(), tc.hint) {
			t.Errorf("%s=%s: error %v, want one saying %q", tc.name, tc.value, err, tc.hint)
		}
	}
}

func TestExposureSettingsFollowTheOriginal(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	cases := []struct {
		manexp, exposure *float64
		want             string
	}{
		{nil, f(100), ""}, // -exposure alone is ignored, as in the original
		{f(0.25), nil, "auto_exposure=1"},
		{f(1), f(100), "auto_exposure=1 exposure_time_absolute=100"},
		{f(0.75), nil, "auto_exposure=3"},
		{f(3), nil, "auto_exposure=3"},
	}
	for _, tc := range cases {
		settings, err := exposureSettings(uvcControls, tc.manexp, tc.exposure)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, s := range settings {
			parts = append(parts, s.Name+"="+s.Value)
		}
		if got := strings.Join(parts, " "); got != tc.want {
			t.Errorf("manexp %v exposure %v: %q, want %q", tc.manexp, tc.exposure, got, tc.want)
		}
	}
	if _, err := exposureSettings(uvcControls, f(2), nil); err == nil {
		t.Error("-manexp 2 accepted")
	}
}

// fakeControls records control writes, standing in for an open camera.
type fakeControls map[uint32]int32

func (f fakeControls) GetControl(id uint32) (int32, error) { return f[id], nil }
func (f fakeControls) SetControl(id uint32, v int32) error {
	f[id] = v
	return nil
}

func TestApplyControlsAndRestore(t *testing.T) {
	manual := 1.0
	s := New(Options{ManExp: &manual, Controls: []ControlSetting{{"Brightness", "200"}, {"nonsense", "1"}, {"brightness", "999"}}}, zap.NewNop())
	cam := fakeControls{0x00980900: 128, 0x009a0901: 3}
	restore := s.applyControls(cam, Device{Path: "/dev/video0", Controls: uvcControls})
	if cam[0x00980900] != 200 || cam[0x009a0901] != 1 {
		t.Fatalf("after apply: %v", cam)
	}
	restore()
	if cam[0x00980900] != 128 || cam[0x009a0901] != 3 {
		t.Fatalf("after restore: %v, want the values found before", cam)
	}
}

func TestCameraFlipUsesFlipControls(t *testing.T) {
	flipControls := append([]Control{
		{ID: 0x00980914, Key: "horizontal_flip", Name: "Horizontal Flip", Type: "bool", Max: 1},
		{ID: 0x00980915, Key: "vertical_flip", Name: "Vertical Flip", Type: "bool", Max: 1},
	}, uvcControls...)
	s := New(Options{}, zap.NewNop())
	for _, tc := range []struct {
		tr         jpeg.Transform
		controls   []Control
		hw, vw     int32 // flip control values while streaming
		softwareOK bool  // software transform left is the identity
	}{
		{jpeg.Transform{FlipH: true}, flipControls, 1, 0, true},
		{jpeg.Transform{Rotate: 180}, flipControls, 1, 1, true},
		{jpeg.Transform{Rotate: 180, FlipV: true}, flipControls, 1, 0, true},
		{jpeg.Transform{Rotate: 90}, flipControls, 0, 0, false},
		{jpeg.Transform{FlipV: true}, uvcControls, 0, 0, false}, // the camera has no flip: software
	} {
		cam := fakeControls{0x00980914: 0, 0x00980915: 0}
		soft, restore := s.cameraFlip(cam, Device{Controls: tc.controls}, tc.tr)
		if soft.IsIdentity() != tc.softwareOK || (!tc.softwareOK && soft != tc.tr) {
			t.Errorf("%+v: software does %+v", tc.tr, soft)
		}
		if cam[0x00980914] != tc.hw || cam[0x00980915] != tc.vw {
			t.Errorf("%+v: flips %v, want h=%d v=%d", tc.tr, cam, tc.hw, tc.vw)
		}
		restore()
		if cam[0x00980914] != 0 || cam[0x00980915] != 0 {
			t.Errorf("%+v: after restore %v", tc.tr, cam)
		}
	}
	// Flips toggle what the camera already does.
	cam := fakeControls{0x00980914: 0, 0x00980915: 1}
	s.cameraFlip(cam, Device{Controls: flipControls}, jpeg.Transform{FlipV: true})
	if cam[0x00980915] != 0 {
		t.Errorf("vertical flip of a camera already flipped: %v", cam)
	}
}
