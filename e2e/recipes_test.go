package e2e

// README's command lines for ffmpeg and wget, run as written against the
// real binary: a recipe that is wrong in the README is wrong for everyone
// who copies it, so the test reads them out of README.md rather than keeping
// its own copy.

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeSection returns the text under the README heading that starts with
// heading, up to the next heading of the same or a higher level, with line
// breaks turned into spaces (a backtick span may wrap).
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	lines := strings.Split(string(repoFile(t, "README.md")), "\n")
	level := strings.IndexByte(heading, ' ')
	for i, l := range lines {
		if !strings.HasPrefix(l, heading) {
			continue
		}
		var out []string
		for _, l := range lines[i+1:] {
			if n := len(l) - len(strings.TrimLeft(l, "#")); n > 0 && n <= level && strings.HasPrefix(l[n:], " ") {
				break
			}
			out = append(out, strings.TrimSpace(l))
		}
		return strings.Join(out, " ")
	}
	t.Fatalf("README.md has no heading %q", heading)
	return ""
}

// readmeCommands returns every backtick span in the section that starts
// with tool and a space and names HOST:8085, split into arguments, with HOST:8085 replaced by
// the test server's address. The recipes are single commands without
// quoting, so splitting on spaces is what a shell would do with them; a
// recipe that needs a shell fails here rather than being run half right.
func readmeCommands(t *testing.T, section, tool, hostPort string) [][]string {
	t.Helper()
	var out [][]string
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(section, -1) {
		// A recipe names usbStream's address; a command quoted with a
		// stand-in such as URL (what DuetLapse3 runs) is not one.
		if !strings.HasPrefix(m[1], tool+" ") || !strings.Contains(m[1], "HOST:8085") {
			continue
		}
		if strings.ContainsAny(m[1], `'"|;&<>$\`) {
			t.Fatalf("README recipe %q needs a shell; keep recipes to plain arguments", m[1])
		}
		args := strings.Fields(strings.ReplaceAll(m[1], "HOST:8085", hostPort))
		out = append(out, args)
	}
	return out
}

// without returns args less the option opt and its value.
func without(args []string, opt string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == opt {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// hasArg tells whether the arguments a appear in args, one after another.
func hasArg(args []string, a ...string) bool {
	for i := range args {
		if i+len(a) <= len(args) && slices.Equal(args[i:i+len(a)], a) {
			return true
		}
	}
	return false
}

const consumerSection = "### Which URL for which consumer"

// The one-frame grab writes the camera's own JPEG, unchanged, and ffmpeg
// says nothing about image sequences; without -update 1 it does.
func TestReadmeFFmpegGrabRecipe(t *testing.T) {
	ffmpeg := need(t, "ffmpeg")
	dir := t.TempDir()
	files := map[string]bool{}
	for _, b := range writeJPEGs(t, dir, 320, 240, color.RGBA{200, 40, 40, 255}, color.RGBA{40, 200, 40, 255}) {
		files[string(b)] = true
	}
	s := start(t, "-source", "file:"+dir, "-framerate", "10")
	var grabs [][]string
	for _, args := range readmeCommands(t, readmeSection(t, consumerSection), "ffmpeg", s.addr()) {
		if hasArg(args, "-frames:v", "1") {
			grabs = append(grabs, args)
		}
	}
	if len(grabs) == 0 {
		t.Fatal("README's consumer section has no ffmpeg one-frame recipe (-frames:v 1)")
	}
	run := func(args []string) (out []byte, stderr string) {
		t.Helper()
		work := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, ffmpeg, args[1:]...)
		cmd.Dir = work
		var e bytes.Buffer
		cmd.Stderr = &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, e.String())
		}
		b, err := os.ReadFile(filepath.Join(work, args[len(args)-1]))
		if err != nil {
			t.Fatalf("%s wrote no file: %v", strings.Join(args, " "), err)
		}
		return b, e.String()
	}
	sequenceWarning := regexp.MustCompile(`(?i)image sequence|-update option`)
	for _, args := range grabs {
		b, stderr := run(args)
		decodeJPEG(t, b)
		if !files[string(b)] {
			t.Errorf("%s: the JPEG (%d bytes) is not the camera's frame: it was re-encoded", strings.Join(args, " "), len(b))
		}
		if w := sequenceWarning.FindString(stderr); w != "" {
			t.Errorf("%s: ffmpeg warns about %q:\n%s", strings.Join(args, " "), w, stderr)
		}
		// The option is what keeps ffmpeg quiet: without it the same
		// command warns (ffmpeg 5.1 and later).
		if bare := without(args, "-update"); len(bare) < len(args) {
			if _, stderr := run(bare); !sequenceWarning.MatchString(stderr) {
				t.Errorf("%s (without -update) did not warn about an image sequence; the test cannot show what -update does:\n%s", strings.Join(bare, " "), stderr)
			}
		}
	}
}

// probe returns a recording's duration and number of video packets as
// ffprobe reads them.
func probe(t *testing.T, path string) (time.Duration, int) {
	t.Helper()
	ffprobe := need(t, "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-count_packets",
		"-show_entries", "format=duration:stream=nb_read_packets", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var doc struct {
		Streams []struct {
			Packets string `json:"nb_read_packets"`
		}
		Format struct{ Duration string }
	}
	if err := json.Unmarshal(out, &doc); err != nil || len(doc.Streams) != 1 {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	sec, err1 := strconv.ParseFloat(doc.Format.Duration, 64)
	n, err2 := strconv.Atoi(doc.Streams[0].Packets)
	if err1 != nil || err2 != nil {
		t.Fatalf("ffprobe %s: %s", path, out)
	}
	return time.Duration(sec * float64(time.Second)), n
}

// The recording recipe, stopped with q as a person stops it, gives a file
// whose duration is the wall-clock time it covered. The same command
// without -use_wallclock_as_timestamps gives a file timed at 25 fps: a
// 24 fps stream recorded that way plays 4 % fast.
func TestReadmeFFmpegRecordRecipe(t *testing.T) {
	ffmpeg := need(t, "ffmpeg")
	need(t, "ffprobe")
	const fps = 24
	s := start(t, "-source", "test", "-resolution", "320x240", "-framerate", strconv.Itoa(fps))
	var recipe []string
	for _, args := range readmeCommands(t, readmeSection(t, consumerSection), "ffmpeg", s.addr()) {
		if !hasArg(args, "-frames:v", "1") {
			if recipe != nil {
				t.Fatalf("two ffmpeg recording recipes in README (%q, %q): the test knows one", recipe, args)
			}
			recipe = args
		}
	}
	if recipe == nil {
		t.Fatal("README's consumer section has no ffmpeg recording recipe")
	}
	bare := without(recipe, "-use_wallclock_as_timestamps")
	if len(bare) == len(recipe) {
		t.Fatalf("README's recording recipe %q has no -use_wallclock_as_timestamps: the stream carries no timing", strings.Join(recipe, " "))
	}

	// Both record at once, each into its own folder, so that they see the
	// same frames at the same times. Each is started once the one before
	// it is receiving, so that /status tells which connection is whose.
	type recording struct {
		args      []string
		cmd       *exec.Cmd
		stdin     io.WriteCloser
		dir       string
		err       bytes.Buffer
		done      chan error
		connected time.Time // when the server took the connection
		exited    time.Time
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var recs []*recording
	known := map[time.Time]bool{}
	for _, args := range [][]string{recipe, bare} {
		r := &recording{args: args, dir: t.TempDir(), done: make(chan error, 1)}
		r.cmd = exec.CommandContext(ctx, ffmpeg, args[1:]...)
		r.cmd.Dir = r.dir
		r.cmd.Stderr = &r.err
		var err error
		if r.stdin, err = r.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { err := r.cmd.Wait(); r.exited = time.Now(); r.done <- err }()
		recs = append(recs, r)
		deadline := time.Now().Add(15 * time.Second)
		for r.connected.IsZero() {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not connect within 15 s: %+v\n%s", strings.Join(args, " "), getStatus(t, s), r.err.String())
			}
			time.Sleep(20 * time.Millisecond)
			for _, c := range getStatus(t, s).Clients {
				if c.Kind == "stream" && c.Frames > 0 && !known[c.ConnectedAt] {
					r.connected = c.ConnectedAt
					known[c.ConnectedAt] = true
				}
			}
		}
	}
	time.Sleep(8 * time.Second)
	stopAt := time.Now()
	for _, r := range recs {
		io.WriteString(r.stdin, "q")
	}
	for _, r := range recs {
		select {
		case err := <-r.done:
			if err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(r.args, " "), err, r.err.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%s did not stop within 15 s of q", strings.Join(r.args, " "))
		}
	}

	// The wall-clock time a recording covered is from its connection (the
	// server sends a frame at once) to q, and at most to ffmpeg's exit
	// (ffmpeg looks for keys every 0.1 s and reads on until then).
	w, b := recs[0], recs[1]
	withClock, n := probe(t, filepath.Join(w.dir, recipe[len(recipe)-1]))
	noClock, m := probe(t, filepath.Join(b.dir, bare[len(bare)-1]))
	wallLo, wallHi := stopAt.Sub(w.connected), w.exited.Sub(w.connected)
	t.Logf("as written: %d frames lasting %.2f s, recorded over %.2f-%.2f s of wall-clock time at %d fps",
		n, withClock.Seconds(), wallLo.Seconds(), wallHi.Seconds(), fps)
	t.Logf("without -use_wallclock_as_timestamps: %d frames lasting %.2f s, recorded over %.2f s or more",
		m, noClock.Seconds(), stopAt.Sub(b.connected).Seconds())
	// As written: the duration is the time covered, give or take a frame
	// or two and ffmpeg's start-up on a busy machine (it stamps a frame
	// when it reads it).
	if withClock < wallLo-250*time.Millisecond || withClock > wallHi+100*time.Millisecond {
		t.Errorf("the recording as written lasts %.2f s; it covered %.2f-%.2f s of wall-clock time",
			withClock.Seconds(), wallLo.Seconds(), wallHi.Seconds())
	}
	// (Its frame rate is what the machine delivered, which on a busy one
	// may be under the pattern's 24 fps: the duration is what must be
	// right, and is checked above.)
	// Without it: 25 fps whatever the stream's rate, so the file is shorter
	// than the time it covered, and each of its frames lasts 24/25 of one
	// as written.
	if rate := float64(m) / noClock.Seconds(); math.Abs(rate-25) > 0.5 {
		t.Errorf("without -use_wallclock_as_timestamps the recording plays at %.1f fps; this test expected ffmpeg's 25", rate)
	}
	if noClock >= stopAt.Sub(b.connected) {
		t.Errorf("without -use_wallclock_as_timestamps the recording lasts %.2f s for %.2f s of wall-clock time: the option made no difference the test can see",
			noClock.Seconds(), stopAt.Sub(b.connected).Seconds())
	}
	if ratio := (withClock.Seconds() / float64(n)) / (noClock.Seconds() / float64(m)); ratio < 1.025 {
		t.Errorf("with and without -use_wallclock_as_timestamps a frame lasts %.1f ms and %.1f ms: the option made no difference the test can see",
			1000*withClock.Seconds()/float64(n), 1000*noClock.Seconds()/float64(m))
	}
}

// The snapshot recipe for wget, as written.
func TestReadmeWgetRecipe(t *testing.T) {
	wget := need(t, "wget")
	s := start(t, "-source", "test", "-resolution", "320x240")
	recipes := readmeCommands(t, readmeSection(t, consumerSection), "wget", s.addr())
	if len(recipes) == 0 {
		t.Fatal("README's consumer section has no wget recipe")
	}
	for _, args := range recipes {
		work := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, wget, args[1:]...)
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		i := slices.Index(args, "-O")
		if i < 0 || i+1 >= len(args) {
			t.Fatalf("wget recipe %q names no -O file", strings.Join(args, " "))
		}
		b, err := os.ReadFile(filepath.Join(work, args[i+1]))
		if err != nil {
			t.Fatal(err)
		}
		if img := decodeJPEG(t, b); img.Bounds() != image.Rect(0, 0, 320, 240) {
			t.Fatalf("%s: a %v picture, want 320x240", strings.Join(args, " "), img.Bounds())
		}
	}
}

// DuetLapse3's two ways of taking a picture from usbStream, as its 5.3.7
// builds the commands (plugin3.6.x/Code/dsf/DuetLapse3.py, onePhoto): web
// mode keeps the camera's JPEG and, since wget fails on the 503, skips the
// placeholder; stream mode re-encodes every picture and takes the
// placeholder for a picture. README tells DuetLapse3 users why web mode.
func TestDuetLapse3WebModeOverStreamMode(t *testing.T) {
	wget := need(t, "wget")
	ffmpeg := need(t, "ffmpeg")
	webMode := func(url, fn string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // DuetLapse3's own timeout
		defer cancel()
		return exec.CommandContext(ctx, wget, "--auth-no-challenge", "-v", "--tries", "2", "-O", fn, url).Run()
	}
	streamMode := func(url, fn string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, ffmpeg, "-loglevel", "quiet", "-y", "-i", url, "-frames:v", "1", "-update", "true", fn).Run()
	}
	work := t.TempDir()
	web, stream := filepath.Join(work, "Camera1_00000001.jpeg"), filepath.Join(work, "Camera1_00000002.jpeg")

	// A camera with a detailed picture, as a real one has.
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for y := 0; y < 480; y++ {
		for x := 0; x < 640; x++ {
			img.Set(x, y, color.RGBA{uint8(x ^ y), uint8(x * y >> 6), uint8((x + 3*y) >> 2), 255})
		}
	}
	var src bytes.Buffer
	if err := jpeg.Encode(&src, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "frame.jpg"), src.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, "-source", "file:"+dir, "-framerate", "5")
	if err := webMode(s.base+"/snapshot", web); err != nil {
		t.Fatalf("web mode: %v", err)
	}
	if err := streamMode(s.base+"/stream", stream); err != nil {
		t.Fatalf("stream mode: %v", err)
	}
	webBytes, _ := os.ReadFile(web)
	streamBytes, _ := os.ReadFile(stream)
	if !bytes.Equal(webBytes, src.Bytes()) {
		t.Errorf("web mode saved %d bytes that are not the camera's JPEG (%d bytes)", len(webBytes), src.Len())
	}
	orig := decodeJPEG(t, src.Bytes())
	errWeb, errStream := meanAbsDiff(orig, decodeJPEG(t, webBytes)), meanAbsDiff(orig, decodeJPEG(t, streamBytes))
	t.Logf("camera's JPEG %d bytes; web mode %d bytes, off by %.2f levels; stream mode %d bytes, off by %.2f levels",
		src.Len(), len(webBytes), errWeb, len(streamBytes), errStream)
	if errStream < 1 {
		t.Errorf("stream mode's picture is off the camera's by only %.2f levels: not the re-encode README warns of", errStream)
	}

	// The camera away: web mode fails (DuetLapse3 then skips the picture),
	// stream mode succeeds with the placeholder.
	s = start(t, "-source", "file:"+filepath.Join(t.TempDir(), "not-there"))
	waitState(t, s, "lost", "", 5*time.Second)
	placeholderSnapshot(t, s, "the camera away")
	if err := webMode(s.base+"/snapshot", web); err == nil {
		t.Error("web mode succeeded while the camera was away: DuetLapse3 would put the placeholder into the timelapse")
	}
	if err := streamMode(s.base+"/stream", stream); err != nil {
		t.Fatalf("stream mode while the camera is away: %v (README says it saves the placeholder)", err)
	}
	// The source was lost throughout, so this picture can only be the
	// placeholder.
	b, _ := os.ReadFile(stream)
	decodeJPEG(t, b)
	if st := getStatus(t, s); st.Source.State != "lost" {
		t.Fatalf("state %q, want lost: the picture stream mode saved should be the placeholder", st.Source.State)
	}
}

// meanAbsDiff is the mean absolute difference of two pictures' RGB values,
// in levels of 255.
func meanAbsDiff(a, b image.Image) float64 {
	if a.Bounds() != b.Bounds() {
		return math.Inf(1)
	}
	var sum float64
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			sum += math.Abs(float64(r1)-float64(r2)) + math.Abs(float64(g1)-float64(g2)) + math.Abs(float64(b1)-float64(b2))
		}
	}
	return sum / float64(3*r.Dx()*r.Dy()) / 257
}
