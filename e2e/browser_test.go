package e2e

// usbStream in a real browser: the viewer page; auth and cross-origin
// reads, as DWC's webcam panel (an <img>), httpViewer (an <iframe>) and
// another page (a dashboard's fetch() and canvas) get them from usbStream,
// each page served from another loopback origin than usbStream's, as DWC's
// page is.

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image/color"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumArgs are the flags every test run of Chromium gets: no network
// but the test's own loopback servers, a fresh profile.
func chromiumArgs(t *testing.T) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir()}
}

// servePage serves page at / of a new loopback server: another origin
// than usbStream's.
func servePage(t *testing.T, page string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, page)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// runChromium runs Chromium on url with extra flags and returns its
// standard output.
func runChromium(t *testing.T, chromium, url string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append(append(chromiumArgs(t), extra...), url)
	out, err := exec.CommandContext(ctx, chromium, args...).Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	return string(out)
}

// With -user/-password, Chromium shows the stream in an <img> and the
// viewer page in an <iframe> with the token URLs /status gives, and shows
// neither with the user and password in the URL: it blocks such
// subresources, which is why the token exists.
func TestTokenURLsWorkInChromiumWhereCredentialsDoNot(t *testing.T) {
	chromium := need(t, "chromium")
	dir := t.TempDir()
	writeJPEGs(t, dir, 640, 480, color.RGBA{220, 20, 20, 255})
	s := start(t, "-source", "file:"+dir, "-framerate", "10", "-user", "lapse", "-password", "pw")
	token, paths := tokenOf(t, s, "lapse", "pw")
	if paths["stream"] != "/stream?token="+token || paths["viewer"] != "/?token="+token ||
		paths["snapshot"] != "/snapshot?token="+token {
		t.Fatalf("tokenPaths %v", paths)
	}
	withCreds := strings.Replace(s.base, "http://", "http://lapse:pw@", 1)
	box := func(left int) string {
		return fmt.Sprintf("position:fixed;top:0;left:%dpx;width:200px;height:150px;border:0;margin:0", left)
	}
	page := fmt.Sprintf(`<!DOCTYPE html><html><body style="margin:0;background:#0000ff">
<img src="%s" style="%s">
<img src="%s" style="%s">
<iframe src="%s" style="%s"></iframe>
<iframe src="%s" style="%s"></iframe>
</body></html>`,
		html.EscapeString(s.base+paths["stream"]), box(0),
		html.EscapeString(withCreds+"/stream"), box(200),
		html.EscapeString(s.base+paths["viewer"]), box(400),
		html.EscapeString(withCreds+"/"), box(600))
	shot := filepath.Join(t.TempDir(), "auth.png")
	runChromium(t, chromium, servePage(t, page), "--window-size=800,150", "--virtual-time-budget=4000",
		"--screenshot="+shot)
	img := decodePNG(t, shot)
	red := func(x int) bool {
		r, g, b, _ := img.At(x, 75).RGBA()
		return r>>8 > 180 && g>>8 < 60 && b>>8 < 60
	}
	for x, what := range map[int]string{100: "<img> of the token stream URL", 500: "<iframe> of the token viewer URL"} {
		if !red(x) {
			t.Errorf("%s shows %v, want the red stream", what, img.At(x, 75))
		}
	}
	for x, what := range map[int]string{300: "<img> of http://user:pw@.../stream", 700: "<iframe> of http://user:pw@.../"} {
		if red(x) {
			t.Errorf("%s shows the stream: Chromium no longer blocks credentials in subresource URLs, "+
				"and this test no longer proves the token's need", what)
		}
	}
	// /status shows the token in http.token and http.tokenPaths only.
	if _, body := getAuth(t, s.base+"/status", "lapse", "pw"); strings.Count(string(body), token) != 4 {
		t.Errorf("/status shows the token %d times, want 4 (token and tokenPaths):\n%s",
			strings.Count(string(body), token), body)
	}
}

// crossOriginPage fetch()es the snapshot and draws the stream, loaded
// with crossorigin="anonymous", into a canvas whose pixels it reads back:
// both need the server's permission (CORS). The outcome is written into
// #out for --dump-dom.
const crossOriginPage = `<!DOCTYPE html><html><body><pre id="out">pending</pre><script>
"use strict";
const snapshot = %q, streamURL = %q;
const results = {};
function done(k, v) {
  if (k in results) return;
  results[k] = v;
  if (Object.keys(results).length === 2) document.getElementById("out").textContent = "RESULT " + JSON.stringify(results);
}
fetch(snapshot).then((r) => r.blob()).then((b) => done("fetch", "ok " + b.type + " " + b.size),
  (e) => done("fetch", "error " + e.name));
const img = new Image();
img.crossOrigin = "anonymous";
img.onerror = () => done("canvas", "error loading");
// A multipart stream may not fire load for every browser version: poll
// for its first frame as well.
const draw = () => {
  if (!(img.naturalWidth > 0)) return;
  try {
    const c = document.createElement("canvas");
    c.width = 8; c.height = 8;
    const g = c.getContext("2d");
    g.drawImage(img, 0, 0, 8, 8);
    const d = g.getImageData(4, 4, 1, 1).data;
    done("canvas", "ok " + d[0] + " " + d[1] + " " + d[2]);
  } catch (e) {
    done("canvas", "error " + e.name);
  }
};
img.onload = draw;
setInterval(draw, 100);
img.src = streamURL;
</script></body></html>`

var resultRE = regexp.MustCompile(`RESULT (\{.*?\})`)

// crossOriginRead loads crossOriginPage from another origin and returns
// what the page could read.
func crossOriginRead(t *testing.T, chromium, snapshot, stream string) (fetch, canvas string) {
	t.Helper()
	page := servePage(t, fmt.Sprintf(crossOriginPage, snapshot, stream))
	out := runChromium(t, chromium, page, "--virtual-time-budget=5000", "--dump-dom")
	m := resultRE.FindStringSubmatch(html.UnescapeString(out))
	if m == nil {
		t.Fatalf("the page reported nothing:\n%s", out)
	}
	var r struct{ Fetch, Canvas string }
	if err := json.Unmarshal([]byte(m[1]), &r); err != nil {
		t.Fatalf("%s: %v", m[1], err)
	}
	return r.Fetch, r.Canvas
}

// Without auth, a page from another origin may fetch() the snapshot and
// read the stream's pixels back from a canvas, as with mjpg-streamer; with
// auth (and no -allow-origin) it may not, even with the token that lets
// the request itself in.
func TestCrossOriginReadInChromium(t *testing.T) {
	chromium := need(t, "chromium")
	dir := t.TempDir()
	writeJPEGs(t, dir, 64, 48, color.RGBA{220, 20, 20, 255})

	open := start(t, "-source", "file:"+dir, "-framerate", "10")
	fetch, canvas := crossOriginRead(t, chromium, open.base+"/snapshot", open.base+"/stream")
	if !strings.HasPrefix(fetch, "ok image/jpeg ") {
		t.Errorf("no auth: fetch of /snapshot: %s", fetch)
	}
	var r, g, b int
	if _, err := fmt.Sscanf(canvas, "ok %d %d %d", &r, &g, &b); err != nil || r < 180 || g > 60 || b > 60 {
		t.Errorf("no auth: the stream's pixels from the canvas: %s, want red", canvas)
	}
	// mjpg-streamer's URL forms too.
	fetch, canvas = crossOriginRead(t, chromium, open.base+"/?action=snapshot", open.base+"/?action=stream")
	if !strings.HasPrefix(fetch, "ok image/jpeg ") || !strings.HasPrefix(canvas, "ok ") {
		t.Errorf("no auth, /?action= forms: fetch %s, canvas %s", fetch, canvas)
	}

	locked := start(t, "-source", "file:"+dir, "-framerate", "10", "-user", "lapse", "-password", "pw")
	token, _ := tokenOf(t, locked, "lapse", "pw")
	q := "?token=" + token
	fetch, canvas = crossOriginRead(t, chromium, locked.base+"/snapshot"+q, locked.base+"/stream"+q)
	if fetch != "error TypeError" {
		t.Errorf("with auth: fetch of /snapshot from another origin: %s, want a CORS error", fetch)
	}
	if canvas != "error loading" {
		t.Errorf("with auth: the stream with crossorigin from another origin: %s, want a CORS error", canvas)
	}
}

// The viewer page in a real browser: a 4:3 red stream in a 16:9 window is
// fitted to the height, centred, with black bars left and right.
func TestViewerPageInChromium(t *testing.T) {
	chromium := need(t, "chromium")
	dir := t.TempDir()
	writeJPEGs(t, dir, 640, 480, color.RGBA{220, 20, 20, 255})
	s := start(t, "-source", "file:"+dir, "-framerate", "10")

	shot := filepath.Join(t.TempDir(), "viewer.png")
	runChromium(t, chromium, s.base+"/", "--window-size=800,450", "--virtual-time-budget=3000", "--screenshot="+shot)
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
