package camera

import (
	"strings"
	"testing"

	"github.com/blackjack/webcam"
	"go.uber.org/zap"
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
type fakeControls map[webcam.ControlID]int32

func (f fakeControls) GetControl(id webcam.ControlID) (int32, error) { return f[id], nil }
func (f fakeControls) SetControl(id webcam.ControlID, v int32) error {
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
