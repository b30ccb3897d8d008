package httpapi

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// imageForms are every URL form of the stream and the snapshot.
var imageForms = []string{"/stream", "/stream.mjpg", "/stream_0.42", "/?action=stream", "/?action=stream_0",
	"/snapshot", "/snapshot.jpg", "/snapshot.jpg_0.5", "/?action=snapshot", "/?action=snapshot_0.123&dummy=0.55"}

// Without any auth the pictures may be read by any page, as
// mjpg-streamer allows (a dashboard's canvas, a failure-detection page's
// fetch); the viewer, /status and /cameras are not opened to other pages.
func TestOpenImageRoutesAllowAnyOrigin(t *testing.T) {
	f := newFixture(t, Options{})
	f.publish(jpegBody, time.Now())
	for _, path := range imageForms {
		resp, _ := f.get(t, "HEAD", path, "Origin", "http://dashboard.example")
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("HEAD %s: Access-Control-Allow-Origin %q, want *", path, got)
		}
		if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "" {
			t.Errorf("HEAD %s: Access-Control-Allow-Credentials %q with *", path, got)
		}
	}
	for _, path := range []string{"/", "/status", "/cameras", "/nothing"} {
		resp, _ := f.get(t, "GET", path, "Origin", "http://dashboard.example")
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q, want none", path, got)
		}
	}
}

// With auth of either kind, * is never sent, not even to a request that
// brings the right credentials: a page from anywhere must not read what
// the owner's browser may show. An explicit -allow-origin still applies.
func TestProtectedImageRoutesAllowNoOrigin(t *testing.T) {
	for name, opt := range map[string]Options{
		"basic":       {User: "printer", Password: "pw"},
		"token":       {Token: testToken},
		"basic+token": {User: "printer", Password: "pw", Token: testToken},
	} {
		f := newFixture(t, opt)
		f.publish(jpegBody, time.Now())
		for _, path := range imageForms {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + "token=" + url.QueryEscape(testToken)
			resp, _ := f.get(t, "HEAD", path, "Origin", "http://dashboard.example", "Authorization", "Basic cHJpbnRlcjpwdw==")
			if resp.StatusCode != 200 {
				t.Errorf("%s: HEAD %s: %d", name, path, resp.StatusCode)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("%s: HEAD %s: Access-Control-Allow-Origin %q, want none", name, path, got)
			}
		}
		f.api.SetAccess(Access{User: opt.User, Password: opt.Password, Token: opt.Token, AllowOrigin: "http://duet.local"})
		resp, _ := f.get(t, "HEAD", "/snapshot", "Origin", "http://duet.local", "Authorization", "Bearer "+testToken)
		if resp.Header.Get("Access-Control-Allow-Origin") != "http://duet.local" ||
			resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("%s: -allow-origin http://duet.local: %v", name, resp.Header)
		}
	}
}

// -allow-origin overrides the default on an open port too.
func TestAllowOriginOverridesTheDefault(t *testing.T) {
	f := newFixture(t, Options{AllowOrigin: "http://duet.local"})
	f.publish(jpegBody, time.Now())
	resp, _ := f.get(t, "GET", "/snapshot", "Origin", "http://duet.local")
	if resp.Header.Get("Access-Control-Allow-Origin") != "http://duet.local" {
		t.Errorf("snapshot: %v", resp.Header)
	}
	// A reload that drops -allow-origin brings the default back.
	f.api.SetAccess(Access{})
	resp, _ = f.get(t, "GET", "/snapshot", "Origin", "http://duet.local")
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("snapshot after -allow-origin was removed: %v", resp.Header)
	}
}

// -allow-origin none closes cross-origin reads of an open port, whose
// pictures any page may read by default.
func TestAllowOriginNoneSendsNothing(t *testing.T) {
	f := newFixture(t, Options{AllowOrigin: "none"})
	f.publish(jpegBody, time.Now())
	for _, path := range imageForms {
		resp, _ := f.get(t, "HEAD", path, "Origin", "http://dashboard.example")
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("HEAD %s: Access-Control-Allow-Origin %q with -allow-origin none", path, got)
		}
	}
	resp, _ := f.get(t, "OPTIONS", "/snapshot", "Origin", "http://dashboard.example")
	if got := resp.Header.Get("Access-Control-Allow-Methods"); got != "" {
		t.Errorf("preflight answered with Access-Control-Allow-Methods %q", got)
	}
}

// httpViewer sends everything after -http on its config line, so a
// comment after the URL arrives as trailing spaces (%20) in the path, or
// in the last query value.
func TestTrailingWhitespaceInPathIsTolerated(t *testing.T) {
	cases := map[string]route{
		"/%20%20%20":                 routeViewer,
		"/stream%20%20%20":           routeStream,
		"/stream%09":                 routeStream,
		"/snapshot.jpg%20":           routeSnapshot,
		"/?action=stream%20%20%20":   routeStream,
		"/?action=snapshot%20%09":    routeSnapshot,
		"/status%20":                 routeStatus,
		"/stream%20x":                routeNotFound,
		"/%20stream":                 routeNotFound,
		"/?action=stream%20snapshot": routeNotFound,
	}
	checkClassify(t, cases)
	// And end to end, with a token that has the spaces after it.
	f := newFixture(t, Options{Token: testToken})
	f.publish(jpegBody, time.Now())
	if resp, _ := f.get(t, "GET", "/snapshot?token="+testToken+"%20%20%20"); resp.StatusCode != 200 {
		t.Errorf("a token with trailing spaces: %d", resp.StatusCode)
	}
	if resp, _ := f.get(t, "GET", "/?token="+testToken+"%20%20"); resp.StatusCode != 200 {
		t.Errorf("the viewer with a token with trailing spaces: %d", resp.StatusCode)
	}
}
