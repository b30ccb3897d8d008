package config

import (
	"errors"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseFileContent feeds arbitrary file content to the parser, as a
// reload parses a save (TestStartAndReloadReadTheCorpusAlike checks that
// the start reads a file the same way). The seed corpus is in
// testdata/fuzz/FuzzParseFileContent.
func FuzzParseFileContent(f *testing.F) {
	f.Fuzz(func(t *testing.T, content []byte) {
		if len(content) > MaxFileSize {
			return // refused before any line is read; TestReadErrors covers it
		}
		c, err := ParseWithFileContent([]string{"-file", testFile}, content)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is a %T, not a *config.Error", err, err)
			}
			if n := countLines(content); e.Line < 1 || e.Line > n {
				t.Fatalf("error %q is on line %d of a %d-line file", err, e.Line, n)
			}
			if e.File != testFile || e.Reason == "" || !strings.HasPrefix(err.Error(), testFile+":") {
				t.Fatalf("error %q does not name the file and a reason: %+v", err, e)
			}
			return
		}
		if problem := checkRanges(c); problem != "" {
			t.Fatalf("content %q parsed into an invalid config: %s\n%+v", content, problem, *c)
		}
		if c.File != testFile || c.ShowVersion || c.ListCameras {
			t.Fatalf("file-only settings wrong: File %q ShowVersion %v ListCameras %v", c.File, c.ShowVersion, c.ListCameras)
		}
	})
}

// The start reads the config file as a reload parses a save: for each
// file of the fuzz corpus, Parse of the real file and ParseWithFileContent
// of its content agree, and Parse returns that content. (A real file per
// fuzz input would slow the fuzzing to the disk's pace.)
func TestStartAndReloadReadTheCorpusAlike(t *testing.T) {
	seeds, err := filepath.Glob("testdata/fuzz/FuzzParseFileContent/*")
	if err != nil || len(seeds) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	path := filepath.Join(t.TempDir(), "usbStream.config")
	for _, seed := range seeds {
		b, err := os.ReadFile(seed)
		if err != nil {
			t.Fatal(err)
		}
		_, value, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		quoted, ok := strings.CutPrefix(value, "[]byte(")
		content, err := strconv.Unquote(strings.TrimSuffix(quoted, ")"))
		if !ok || err != nil {
			t.Fatalf("%s: not a []byte corpus entry: %q", seed, value)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		c, read, err := Parse([]string{"-file", path})
		if string(read) != content {
			t.Errorf("%s: Parse returned %q as the content it read", seed, read)
		}
		viaReload, reloadErr := ParseWithFileContent([]string{"-file", path}, []byte(content))
		if (err == nil) != (reloadErr == nil) || err != nil && err.Error() != reloadErr.Error() ||
			err == nil && !reflect.DeepEqual(c, viaReload) {
			t.Errorf("%s: Parse and ParseWithFileContent differ:\n%v %+v\n%v %+v", seed, err, c, reloadErr, viaReload)
		}
	}
}

// checkRanges returns what in c is outside the documented ranges, or "".
func checkRanges(c *Config) string {
	finite := func(p *float64) bool { return p == nil || !math.IsInf(*p, 0) && !math.IsNaN(*p) }
	switch {
	case c.Port < 1 || c.Port > 65535:
		return "port"
	case !validHost(c.Host):
		return "host"
	case !validCamera(c.Camera):
		return "camera"
	case c.Rotate != 0 && c.Rotate != 90 && c.Rotate != 180 && c.Rotate != 270:
		return "rotate"
	case c.Flip != "" && c.Flip != "h" && c.Flip != "v" && c.Flip != "hv":
		return "flip"
	case c.Size < -1 || c.Size >= len(SizeTable):
		return "size"
	case !c.Resolution.IsZero() && (c.Resolution.Width < 1 || c.Resolution.Height < 1 ||
		c.Resolution.Width > MaxDimension || c.Resolution.Height > MaxDimension):
		return "resolution"
	case c.Size >= 0 && !c.Resolution.IsZero():
		return "both size and resolution"
	case formatNames[c.Format] != c.Format:
		return "format"
	case !(c.Framerate > 0 && c.Framerate <= MaxFramerate):
		return "framerate"
	case !finite(c.ManExp) || !finite(c.Exposure):
		return "manexp or exposure"
	case c.LogFile != "" && (!filepath.IsAbs(c.LogFile) || filepath.Clean(c.LogFile) != c.LogFile):
		return "logfile"
	case c.Source.Kind == "file" && (!filepath.IsAbs(c.Source.Path) || filepath.Clean(c.Source.Path) != c.Source.Path):
		return "source path"
	case c.Source.Kind != "file" && (c.Source.Kind != "camera" && c.Source.Kind != "test" || c.Source.Path != ""):
		return "source"
	case c.Quality < 1 || c.Quality > 100:
		return "quality"
	case (c.User == "") != (c.Password == "") || strings.Contains(c.User, ":"):
		return "user and password"
	case c.Auth != "" && c.Auth != "none" && c.Auth != "basic" || c.Auth == "none" && c.User != "" ||
		c.Auth == "basic" && c.User == "":
		return "auth"
	case slices.ContainsFunc(c.AllowedHosts, func(h string) bool {
		return h == "" || h != strings.ToLower(h) || strings.ContainsAny(h, " :/") && !validHost(h)
	}):
		return "allowhost"
	case c.AllowOrigin != "" && c.AllowOrigin != "*" && c.AllowOrigin != "none" && !strings.HasPrefix(c.AllowOrigin, "http://") &&
		!strings.HasPrefix(c.AllowOrigin, "https://"):
		return "allow-origin"
	case strings.ContainsFunc(c.Host+c.Camera+c.LogFile+c.Source.Path+c.User+c.Password+c.AllowOrigin,
		func(r rune) bool { return checkRune(r, 2) != "" }):
		return "control characters"
	}
	return ""
}

func validHost(h string) bool {
	_, err := netip.ParseAddr(h)
	return err == nil || validHostname(h)
}

func validCamera(cam string) bool {
	if cam == "" || strings.HasPrefix(cam, "/") {
		return true
	}
	if n, err := strconv.Atoi(cam); err == nil {
		return n >= 0 && n <= MaxCameraIndex && strconv.Itoa(n) == cam
	}
	return strings.TrimSpace(cam) == cam && !decimal.MatchString(cam)
}

// The range checks the fuzzer relies on must reject what they are meant to,
// or the fuzzer could not find anything.
func TestCheckRangesRejects(t *testing.T) {
	ok := Default()
	if p := checkRanges(&ok); p != "" {
		t.Fatalf("defaults rejected: %s", p)
	}
	nan := math.NaN()
	for name, change := range map[string]func(*Config){
		"port":       func(c *Config) { c.Port = 0 },
		"host":       func(c *Config) { c.Host = "" },
		"camera":     func(c *Config) { c.Camera = "-1" },
		"rotate":     func(c *Config) { c.Rotate = 45 },
		"flip":       func(c *Config) { c.Flip = "x" },
		"size":       func(c *Config) { c.Size = 9 },
		"resolution": func(c *Config) { c.Resolution = Resolution{0, 5} },
		"both":       func(c *Config) { c.Size, c.Resolution = 1, Resolution{5, 5} },
		"format":     func(c *Config) { c.Format = "mjpg" },
		"framerate":  func(c *Config) { c.Framerate = 0 },
		"exposure":   func(c *Config) { c.Exposure = &nan },
		"logfile":    func(c *Config) { c.LogFile = "rel.log" },
		"source":     func(c *Config) { c.Source = Source{Kind: "file", Path: "rel"} },
		"quality":    func(c *Config) { c.Quality = 101 },
		"auth":       func(c *Config) { c.User = "u" },
		"auth none":  func(c *Config) { c.User, c.Password, c.Auth = "u", "p", "none" },
		"allowhost":  func(c *Config) { c.AllowedHosts = []string{"http://x"} },
		"origin":     func(c *Config) { c.AllowOrigin = "duet.local" },
		"control":    func(c *Config) { c.Camera = "a\x01" },
	} {
		c := Default()
		change(&c)
		if checkRanges(&c) == "" {
			t.Errorf("%s: invalid config accepted: %+v", name, c)
		}
	}
}

// FuzzSecretNeverInErrors puts a password, written in one of the ways of
// secretLines, between arbitrary text, and checks that no error, warning or
// reload refusal repeats it. The secret is chosen so that no message can
// contain it by chance: it occurs once in the content, in that line.
func FuzzSecretNeverInErrors(f *testing.F) {
	for i := range secretLines {
		f.Add("-user admin", "-source test", uint8(i), "S3cr3t")
		f.Add("", "", uint8(i), "pw with 'quote")
		f.Add("-port 8090 ", "", uint8(i), "a#b")
	}
	f.Add("-user admin\n-password", "", uint8(0), "x")
	f.Fuzz(func(t *testing.T, before, after string, form uint8, tail string) {
		s := "Zq7" + tail
		if len(s) > 200 || strings.ContainsAny(s, "\n\r") || len(strings.Fields(s)) == 0 {
			return
		}
		line := strings.ReplaceAll(secretLines[int(form)%len(secretLines)], secret, s)
		content := before + "\n" + line + "\n" + after
		if strings.Count(content, "Zq7") != 1 {
			return
		}
		check := func(where, text string) {
			if strings.Contains(text, "Zq7") {
				t.Fatalf("%s shows the secret:\ncontent %q\n%s", where, content, text)
			}
		}
		for _, args := range [][]string{{"-file", testFile}, {"-user", "u", "-password", "p", "-file", testFile}} {
			c, err := ParseWithFileContent(args, []byte(content))
			if err != nil {
				check("the error", err.Error())
				var e *Error
				if errors.As(err, &e) {
					check("the error's value", e.Value)
					check("the error's option", e.Option)
				}
				continue
			}
			for _, w := range c.Warnings {
				check("a warning", w)
			}
			if err := CheckReload(Running{FileHadOptions: true, Auth: true, Host: "127.0.0.1"}, c, []byte(content)); err != nil {
				check("the reload refusal", err.Error())
			}
		}
		// The same words on the command line.
		if args := strings.Fields(line); len(args) > 0 {
			if _, _, err := Parse(args); err != nil {
				check("the command-line error", err.Error())
			}
		}
	})
}
