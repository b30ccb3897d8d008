package main

import (
	"context"
	"image/color"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The viewer page in a real browser: a 4:3 red stream in a 16:9 window is
// fitted to the height, centred, with black bars left and right.
func TestViewerPageInChromium(t *testing.T) {
	chromium := need(t, "chromium")
	dir := t.TempDir()
	writeJPEGs(t, dir, 640, 480, color.RGBA{220, 20, 20, 255})
	s := start(t, "-source", "file:"+dir, "-framerate", "10")

	shot := filepath.Join(t.TempDir(), "viewer.png")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--window-size=800,450", "--virtual-time-budget=3000",
		"--screenshot="+shot, s.base+"/")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	img := decodePNG(t, shot)
	isRed := func(x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		return r>>8 > 180 && g>>8 < 60 && b>>8 < 60
	}
	isBlack := func(x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		return r>>8 < 16 && g>>8 < 16 && b>>8 < 16
	}
	// 640x480 fitted into 800x450 is 600x450, from x=100 to x=700.
	for _, p := range [][2]int{{400, 225}, {110, 10}, {690, 440}} {
		if !isRed(p[0], p[1]) {
			t.Fatalf("pixel %v is %v, want the red stream image", p, img.At(p[0], p[1]))
		}
	}
	for _, p := range [][2]int{{20, 225}, {780, 225}, {50, 10}} {
		if !isBlack(p[0], p[1]) {
			t.Fatalf("pixel %v is %v, want the black background beside the image", p, img.At(p[0], p[1]))
		}
	}
}
