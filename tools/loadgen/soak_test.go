package main

import (
	"bytes"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

func TestSoakWaveGoesFromMinToMaxAndBack(t *testing.T) {
	s := &soak{opt: soakOptions{Period: 20 * time.Minute, MinViewers: 1, MaxViewers: 41}}
	for _, c := range []struct {
		at   time.Duration
		want int
	}{
		{0, 1}, {5 * time.Minute, 21}, {10 * time.Minute, 41}, {15 * time.Minute, 21},
		{20 * time.Minute, 1}, {30 * time.Minute, 41},
	} {
		if got := s.targetViewers(c.at); got != c.want {
			t.Errorf("viewers at %s: %d, want %d", c.at, got, c.want)
		}
	}
}

func TestSoakFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "5s"},
		{"-duration", "48h"},
		{"-duration", "1m", "-interval", "40s"},
		{"-duration", "1m", "-interval", "10s", "-period", "15s"},
		{"-min-viewers", "5", "-max-viewers", "4"},
		{"-max-viewers", "5000"},
		{"-churn", "-1"},
		{"-snapshot-every", "10ms"},
		{"-max-rss-growth", "0"},
		{"-url", "http://192.0.2.1:8080/stream", "-pid", "1"},
		{"extra"},
	} {
		var out, errOut bytes.Buffer
		if code := soakMain(args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if !strings.Contains(errOut.String(), "loadgen soak:") && !strings.Contains(errOut.String(), "flag") {
			t.Errorf("%q: no explanation, stderr %q", args, errOut.String())
		}
	}
}

func TestSoakRowCountsOnlyViewersThereTheWholeInterval(t *testing.T) {
	s := &soak{}
	t0 := time.Unix(1000, 0)
	prev := serverFigures{at: t0, cpu: time.Second, clients: clientTotals{connects: 3, snapsOK: 10}}
	cur := serverFigures{at: t0.Add(10 * time.Second), cpu: 4 * time.Second, rssKiB: 20 * 1024,
		clients: clientTotals{connects: 5, snapsOK: 15, snapsFailed: 1}}
	prevFrames := map[int]viewerFrames{
		0: {frames: 100, start: t0.Add(-time.Minute), reference: true},
		1: {frames: 50, start: t0.Add(-time.Second)},
		2: {frames: 1, start: t0.Add(time.Second)}, // joined after the interval began
	}
	frames := map[int]viewerFrames{
		0: {frames: 340, start: prevFrames[0].start, reference: true},
		1: {frames: 250, start: prevFrames[1].start},
		2: {frames: 200, start: prevFrames[2].start},
		3: {frames: 5, start: t0.Add(9 * time.Second)},
	}
	prev.frames, cur.frames = prevFrames, frames
	r := s.row(prev, cur, t0.Add(-time.Minute))
	if r.viewers != 4 || r.fullViewers != 2 {
		t.Errorf("viewers %d (%d whole interval), want 4 (2)", r.viewers, r.fullViewers)
	}
	if r.refFPS != 24 || r.minFPS != 20 {
		t.Errorf("reference %.1f fps, slowest %.1f fps; want 24 and 20", r.refFPS, r.minFPS)
	}
	if r.cpuPct != 30 || r.rssMiB != 20 || r.connects != 2 || r.snaps != 5 || r.snapFailed != 1 {
		t.Errorf("row %+v: want CPU 30 %%, RSS 20 MiB, 2 connects, 5 snapshots, 1 failed", r)
	}
}

func TestSoakJudgesTheRSSCrestOfFirstAndLastPeriod(t *testing.T) {
	s := &soak{opt: soakOptions{Period: 4 * time.Minute, Interval: time.Minute, MaxRSSGrowthMiB: 16}}
	rows := func(rss ...float64) []soakRow {
		var rs []soakRow
		for _, v := range rss {
			rs = append(rs, soakRow{rssMiB: v})
		}
		return rs
	}
	var out bytes.Buffer
	if p := s.rssProblems(&out, rows(12, 20, 14, 13, 15, 18, 13, 12, 14, 35, 13, 12)); len(p) != 0 {
		t.Errorf("a crest of 35 MiB after 20 MiB is within +16 MiB, got %v", p)
	}
	if p := s.rssProblems(&out, rows(12, 20, 14, 13, 15, 18, 13, 12, 14, 37, 13, 12)); len(p) != 1 {
		t.Errorf("a crest of 37 MiB after 20 MiB is past +16 MiB, got %v", p)
	}
	out.Reset()
	if p := s.rssProblems(&out, rows(12, 20, 14, 99, 15)); len(p) != 0 || !strings.Contains(out.String(), "not judged") {
		t.Errorf("under two periods of rows: %v, %q; want not judged", p, out.String())
	}
}

func TestStatusErrorTellsRefusalsFromOutages(t *testing.T) {
	refused := statusError("503 Service Unavailable", textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}},
		strings.NewReader("too many clients: usbStream serves at most 2 at once (-maxclients); try again later\nmore"))
	offline := statusError("503 Service Unavailable", textproto.MIMEHeader{"Content-Type": {"image/jpeg"}, "X-Placeholder": {"1"}},
		strings.NewReader("\xff\xd8...\xff\xd9"))
	if !isRefusal(refused) || !strings.HasSuffix(refused.Error(), "try again later") {
		t.Errorf("refusal read as %q", refused)
	}
	if isRefusal(offline) || !strings.Contains(offline.Error(), "source is offline") {
		t.Errorf("placeholder read as %q", offline)
	}
}
