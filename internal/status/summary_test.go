package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"usbstream/internal/source"
	"usbstream/internal/stream"
)

// everything is a Status with every field set, omitempty ones included.
func everything() Status {
	at := time.Date(2026, 11, 24, 21, 6, 51, 0, time.UTC)
	later := at.Add(time.Minute)
	st := Status{
		Version: "0.2.0", StartedAt: at, Uptime: 60.5,
		Source: source.Status{
			Info: source.Info{Kind: "camera", Device: "/dev/video0", Name: "HD Pro Webcam C920", Format: "MJPG",
				Width: 1280, Height: 720, FPS: 30, Requested: &source.Request{Format: "MJPG", Width: 1280, Height: 720, FPS: 30},
				Notes: []string{"size 1280x800 is not offered in MJPG; using the next lower, 1280x720"},
				Modes: []source.Mode{{Format: "MJPG", Width: 1280, Height: 720, FPS: []float64{30, 15}}}},
			State: source.Lost, Waiting: true, Error: "waiting for camera \"C920\" (usb-1) to come back", Since: later,
			MeasuredFPS: 29.6, FramesCaptured: 1800, FramesDropped: 3, DriverDrops: 7, LastFrameAt: &later,
			SizeChanges: 1, LastSizeChange: &source.SizeChange{From: "640x480", To: "1280x720", At: later},
		},
		HTTP: HTTP{Host: "0.0.0.0", Port: 8090, StreamPath: "/stream", SnapshotPath: "/snapshot", Auth: true, Basic: true,
			StreamURL: "http://printer.local:8090/stream", Error: "port 8090: address already in use"},
		Config: Config{File: "/opt/dsf/sd/sys/usbStream/usbStream.config", LoadedAt: at, OK: false,
			Error: "usbStream.config:3: -rotate 45: must be 0, 90, 180 or 270", Defaults: true, FailedAt: &later,
			Changed: []string{"fps"}},
		DSF:     DSF{Enabled: true, Connected: true, Socket: "/run/dsf/dcs.sock", Since: at, Error: "none"},
		Process: Process{PID: 4242, Goroutines: 12, OpenFiles: 20, RSSBytes: 1 << 24, HeapBytes: 1 << 22},
	}
	st.HTTP.SetToken("0123456789abcdef0123456789abcdef")
	for i := range maxSummaryClients + 5 {
		st.Clients = append(st.Clients, stream.ClientInfo{ID: uint64(i), Remote: fmt.Sprintf("192.168.1.%d:5000", i),
			Path: "/stream", Kind: "stream", MaxFPS: 10, FPS: 9.6, Frames: 100, Skipped: 2, Bytes: 1 << 20,
			FrameAgeMs: 40, MaxFrameAgeMs: 90, ConnectedAt: at})
	}
	st.ClientCount = len(st.Clients)
	return st
}

func jsonTree(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		t.Fatal(err)
	}
	return tree
}

// roundedInSummary are the values the summary rounds to whole numbers.
var roundedInSummary = []string{"source.measuredFps", "clients[].fps"}

// inside checks that every value of sum is in full at the same path, equal
// (or rounded, for roundedInSummary), and returns the paths it saw.
func inside(t *testing.T, path string, sum, full any) []string {
	t.Helper()
	switch s := sum.(type) {
	case map[string]any:
		f, ok := full.(map[string]any)
		if !ok {
			t.Errorf("%s: an object in the summary, %T in the status", path, full)
			return nil
		}
		var seen []string
		for k, v := range s {
			p := strings.TrimPrefix(path+"."+k, ".")
			fv, ok := f[k]
			if !ok {
				t.Errorf("%s is in the summary but not in the status document", p)
				continue
			}
			seen = append(append(seen, p), inside(t, p, v, fv)...)
		}
		return seen
	case []any:
		f, ok := full.([]any)
		if !ok || len(s) > len(f) {
			t.Errorf("%s: %d entries in the summary, status has %v", path, len(s), full)
			return nil
		}
		var seen []string
		for i := range s {
			seen = append(seen, inside(t, path+"[]", s[i], f[i])...)
		}
		return seen
	}
	if slices.Contains(roundedInSummary, path) {
		if s, f := sum.(float64), full.(float64); s != math.Round(f) {
			t.Errorf("%s: %v in the summary, %v in the status: want it rounded", path, s, f)
		}
	} else if !reflect.DeepEqual(sum, full) {
		t.Errorf("%s: %v in the summary, %v in the status", path, sum, full)
	}
	return nil
}

// The plugin data is a part of the status document, not a second shape:
// everything in it is in /status under the same name at the same place,
// so the tab reads both alike. What it leaves out changes every second
// (it would be pushed to every DWC every second) or is large.
func TestSummaryIsPartOfTheStatusDocument(t *testing.T) {
	st := everything()
	sum := st.Summary()
	seen := inside(t, "", jsonTree(t, sum), jsonTree(t, st))
	for _, want := range []string{"source.state", "source.waiting", "source.error", "source.device", "source.notes",
		"source.requested.fps", "clientCount", "clients[].remote", "http.token", "config.defaults", "process.pid"} {
		if !slices.Contains(seen, want) {
			t.Errorf("the summary lacks %s", want)
		}
	}
	for _, volatile := range []string{"uptimeSeconds", "source.since", "source.framesCaptured", "source.framesDropped",
		"source.driverDrops", "source.lastFrameAt", "source.modes", "clients[].bytes", "clients[].frames",
		"process.goroutines", "process.rssBytes", "dsf"} {
		if slices.Contains(seen, volatile) {
			t.Errorf("the summary has %s, which changes all the time or is large", volatile)
		}
	}
	if sum.ClientCount != maxSummaryClients+5 || len(sum.Clients) != maxSummaryClients {
		t.Errorf("summary: clientCount %d, %d clients listed; want %d and %d", sum.ClientCount, len(sum.Clients),
			maxSummaryClients+5, maxSummaryClients)
	}
	if empty := (Status{}).Summary(); empty.Clients == nil {
		t.Error("no clients must be [] in the plugin data, as in /status, not null")
	}
}

// paths lists every key of a JSON tree, array entries as [].
func paths(prefix string, v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			p := strings.TrimPrefix(prefix+"."+k, ".")
			out = append(append(out, p), paths(p, e)...)
		}
	case []any:
		for _, e := range v {
			out = append(out, paths(prefix+"[]", e)...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// The DWC tab's tests run on a /status document and a plugin-data summary
// from dwc-src/test/fixtures; they must have the shape Go gives them now,
// or the tab is tested against a document usbStream no longer sends: no
// key Go does not know, none Go always writes missing.
func TestDWCFixturesHaveTheGoShape(t *testing.T) {
	for file, into := range map[string]any{"status.json": &Status{}, "summary.json": &Summary{}} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile("../../dwc-src/test/fixtures/" + file)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(into); err != nil {
				t.Fatalf("%s is not a %T: %v", file, into, err)
			}
			var fixture any
			if err := json.Unmarshal(b, &fixture); err != nil {
				t.Fatal(err)
			}
			have, want := paths("", fixture), paths("", jsonTree(t, into))
			for _, p := range want {
				if !slices.Contains(have, p) {
					t.Errorf("%s lacks %s", file, p)
				}
			}
		})
	}
}
