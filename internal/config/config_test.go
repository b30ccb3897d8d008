package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// testFile is where file-content tests pretend their file lives; relative
// paths in it resolve against its folder.
const testFile = "/etc/usbStream/usbStream.config"

// parseAsFile parses content as the file at path, which is not read, the
// way a reload parses a save.
func parseAsFile(path string, content []byte) (*Config, error) {
	return ParseWithFileContent([]string{"-file", path}, content)
}

func parseContent(t *testing.T, content string) *Config {
	t.Helper()
	c, err := parseAsFile(testFile, []byte(content))
	if err != nil {
		t.Fatalf("parseAsFile(%q): %v", content, err)
	}
	return c
}

func mustParse(t *testing.T, args ...string) *Config {
	t.Helper()
	c, _, err := Parse(args)
	if err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	return c
}

// asConfigError checks the documented promise that every error is an *Error.
func asConfigError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	return e
}

// fileLine renders args as one config file line, quoting like a person
// would so that the shlex rules give back the same words.
func fileLine(args []string) string {
	plain := regexp.MustCompile(`^[A-Za-z0-9_./:=+,@%*-]+$`)
	var words []string
	for _, a := range args {
		if plain.MatchString(a) {
			words = append(words, a)
		} else {
			words = append(words, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
		}
	}
	return strings.Join(words, " ")
}

func ptr(f float64) *float64 { return &f }

func TestDefault(t *testing.T) {
	want := Config{Port: 8085, Host: "0.0.0.0", Camera: "", Rotate: 0, Flip: "", Size: -1, Format: "MJPG",
		Framerate: 24, Source: Source{Kind: "camera"}, Quality: 85, DSFSocket: "/run/dsf/dcs.sock", MaxClients: 100}
	if got := Default(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Default() = %+v\nwant %+v", got, want)
	}
	for name, c := range map[string]*Config{"no arguments": mustParse(t), "empty file": parseContent(t, "")} {
		got := *c
		got.File = ""
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v\nwant the defaults %+v", name, got, want)
		}
	}
}

// Every option, valid values and their normalised form, given both on the
// command line and in a config file.
func TestOptionValues(t *testing.T) {
	tests := []struct {
		args []string
		get  func(*Config) any
		want any
	}{
		{[]string{"-port", "8090"}, func(c *Config) any { return c.Port }, 8090},
		{[]string{"-port", "1"}, func(c *Config) any { return c.Port }, 1},
		{[]string{"-port", "65535"}, func(c *Config) any { return c.Port }, 65535},
		{[]string{"-port", " 8091 "}, func(c *Config) any { return c.Port }, 8091},

		{[]string{"-host", "127.0.0.1"}, func(c *Config) any { return c.Host }, "127.0.0.1"},
		{[]string{"-host", "::"}, func(c *Config) any { return c.Host }, "::"},
		{[]string{"-host", "[::1]"}, func(c *Config) any { return c.Host }, "::1"},
		{[]string{"-host", "fe80::1%eth0"}, func(c *Config) any { return c.Host }, "fe80::1%eth0"},
		{[]string{"-host", "duet3.local"}, func(c *Config) any { return c.Host }, "duet3.local"},
		{[]string{"-host", "localhost"}, func(c *Config) any { return c.Host }, "localhost"},

		{[]string{"-camera", "0"}, func(c *Config) any { return c.Camera }, "0"},
		{[]string{"-camera", "63"}, func(c *Config) any { return c.Camera }, "63"},
		{[]string{"-camera", "007"}, func(c *Config) any { return c.Camera }, "7"},
		{[]string{"-camera", "-1"}, func(c *Config) any { return c.Camera }, ""},
		{[]string{"-camera", ""}, func(c *Config) any { return c.Camera }, ""},
		{[]string{"-camera", "/dev/video0"}, func(c *Config) any { return c.Camera }, "/dev/video0"},
		{[]string{"-camera", "/dev/v4l/by-id/usb-046d_C920-video-index0"}, func(c *Config) any { return c.Camera },
			"/dev/v4l/by-id/usb-046d_C920-video-index0"},
		{[]string{"-camera", "/dev/v4l/../video2"}, func(c *Config) any { return c.Camera }, "/dev/video2"},
		{[]string{"-camera", "HD Pro Webcam C920"}, func(c *Config) any { return c.Camera }, "HD Pro Webcam C920"},
		{[]string{"-camera", " c920 "}, func(c *Config) any { return c.Camera }, "c920"},

		{[]string{"-rotate", "0"}, func(c *Config) any { return c.Rotate }, 0},
		{[]string{"-rotate", "90"}, func(c *Config) any { return c.Rotate }, 90},
		{[]string{"-rotate", "180"}, func(c *Config) any { return c.Rotate }, 180},
		{[]string{"-rotate", "270"}, func(c *Config) any { return c.Rotate }, 270},

		{[]string{"-flip", "h"}, func(c *Config) any { return c.Flip }, "h"},
		{[]string{"-flip", "v"}, func(c *Config) any { return c.Flip }, "v"},
		{[]string{"-flip", "hv"}, func(c *Config) any { return c.Flip }, "hv"},
		{[]string{"-flip", "vh"}, func(c *Config) any { return c.Flip }, "hv"},
		{[]string{"-flip", "none"}, func(c *Config) any { return c.Flip }, ""},
		{[]string{"-flip", "Horizontal"}, func(c *Config) any { return c.Flip }, "h"},
		{[]string{"-flip", "vertical"}, func(c *Config) any { return c.Flip }, "v"},
		{[]string{"-flip", "BOTH"}, func(c *Config) any { return c.Flip }, "hv"},

		{[]string{"-size", "0"}, func(c *Config) any { return c.Size }, 0},
		{[]string{"-size", "4"}, func(c *Config) any { return c.Size }, 4},
		{[]string{"-size", "8"}, func(c *Config) any { return c.Size }, 8},

		{[]string{"-resolution", "1280x720"}, func(c *Config) any { return c.Resolution }, Resolution{1280, 720}},
		{[]string{"-resolution", "640X480"}, func(c *Config) any { return c.Resolution }, Resolution{640, 480}},
		{[]string{"-resolution", "320*240"}, func(c *Config) any { return c.Resolution }, Resolution{320, 240}},
		{[]string{"-resolution", "1x1"}, func(c *Config) any { return c.Resolution }, Resolution{1, 1}},
		{[]string{"-resolution", "16384x16384"}, func(c *Config) any { return c.Resolution }, Resolution{16384, 16384}},

		{[]string{"-format", "MJPG"}, func(c *Config) any { return c.Format }, "MJPG"},
		{[]string{"-format", "mjpeg"}, func(c *Config) any { return c.Format }, "MJPG"},
		{[]string{"-format", "jpeg"}, func(c *Config) any { return c.Format }, "JPEG"},
		{[]string{"-format", "yuyv"}, func(c *Config) any { return c.Format }, "YUYV"},
		{[]string{"-format", "YUY2"}, func(c *Config) any { return c.Format }, "YUYV"},
		{[]string{"-format", "bgr3"}, func(c *Config) any { return c.Format }, "BGR3"},
		{[]string{"-format", "BGR24"}, func(c *Config) any { return c.Format }, "BGR3"},
		{[]string{"-format", "RGB3"}, func(c *Config) any { return c.Format }, "RGB3"},
		{[]string{"-format", "rgb24"}, func(c *Config) any { return c.Format }, "RGB3"},
		{[]string{"-format", "nv12"}, func(c *Config) any { return c.Format }, "NV12"},
		{[]string{"-format", "YU12"}, func(c *Config) any { return c.Format }, "YU12"},
		{[]string{"-format", "i420"}, func(c *Config) any { return c.Format }, "YU12"},
		{[]string{"-format", "IYUV"}, func(c *Config) any { return c.Format }, "YU12"},
		{[]string{"-format", "grey"}, func(c *Config) any { return c.Format }, "GREY"},
		{[]string{"-format", "GRAY"}, func(c *Config) any { return c.Format }, "GREY"},
		{[]string{"-format", "h264"}, func(c *Config) any { return c.Format }, "H264"},

		{[]string{"-framerate", "24"}, func(c *Config) any { return c.Framerate }, 24.0},
		{[]string{"-framerate", "7.5"}, func(c *Config) any { return c.Framerate }, 7.5},
		{[]string{"-framerate", "240"}, func(c *Config) any { return c.Framerate }, 240.0},
		{[]string{"-framerate", ".5"}, func(c *Config) any { return c.Framerate }, 0.5},
		{[]string{"-framerate", "1e1"}, func(c *Config) any { return c.Framerate }, 10.0},

		{[]string{"-manexp", "0.25"}, func(c *Config) any { return c.ManExp }, ptr(0.25)},
		{[]string{"-manexp", "1"}, func(c *Config) any { return c.ManExp }, ptr(1)},
		{[]string{"-manexp", "1", "-exposure", "-5"}, func(c *Config) any { return c.Exposure }, ptr(-5)},
		{[]string{"-manexp", "1", "-exposure", "150"}, func(c *Config) any { return c.Exposure }, ptr(150)},
		{[]string{"-manexp", "0.25", "-exposure", "-0.5"}, func(c *Config) any { return c.Exposure }, ptr(-0.5)},

		{[]string{"-verbose"}, func(c *Config) any { return c.Verbose }, true},
		{[]string{"-verbose=false"}, func(c *Config) any { return c.Verbose }, false},
		{[]string{"-verbose=ON"}, func(c *Config) any { return c.Verbose }, true},
		{[]string{"-verbose=0"}, func(c *Config) any { return c.Verbose }, false},
		{[]string{"-verbose=yes"}, func(c *Config) any { return c.Verbose }, true},

		{[]string{"-logfile", "/var/log/usbStream.log"}, func(c *Config) any { return c.LogFile }, "/var/log/usbStream.log"},
		{[]string{"-logfile", "/var/log/../tmp/u.log"}, func(c *Config) any { return c.LogFile }, "/var/tmp/u.log"},
		{[]string{"-logfile", ""}, func(c *Config) any { return c.LogFile }, ""},

		{[]string{"-source", "camera"}, func(c *Config) any { return c.Source }, Source{Kind: "camera"}},
		{[]string{"-source", "test"}, func(c *Config) any { return c.Source }, Source{Kind: "test"}},
		{[]string{"-source", "TEST"}, func(c *Config) any { return c.Source }, Source{Kind: "test"}},
		{[]string{"-source", "file:/srv/frames"}, func(c *Config) any { return c.Source }, Source{"file", "/srv/frames"}},
		{[]string{"-source", "File:/srv/a.mjpeg"}, func(c *Config) any { return c.Source }, Source{"file", "/srv/a.mjpeg"}},
		{[]string{"-source", "file:///srv/frames"}, func(c *Config) any { return c.Source }, Source{"file", "/srv/frames"}},

		{[]string{"-quality", "1"}, func(c *Config) any { return c.Quality }, 1},
		{[]string{"-quality", "100"}, func(c *Config) any { return c.Quality }, 100},

		{[]string{"-user", "lapse", "-password", "p#ss word"}, func(c *Config) any { return c.User + "|" + c.Password },
			"lapse|p#ss word"},
		{[]string{"-user", "Jörg", "-password", "-x=y'z\""}, func(c *Config) any { return c.User + "|" + c.Password },
			"Jörg|-x=y'z\""},
		{[]string{"-user", "", "-password", ""}, func(c *Config) any { return c.User + "|" + c.Password }, "|"},

		{[]string{"-allow-origin", "*"}, func(c *Config) any { return c.AllowOrigin }, "*"},
		{[]string{"-allow-origin", "http://duet.local"}, func(c *Config) any { return c.AllowOrigin }, "http://duet.local"},
		{[]string{"-allow-origin", "HTTPS://Duet.Local:8443/"}, func(c *Config) any { return c.AllowOrigin },
			"https://duet.local:8443"},
		{[]string{"-allow-origin", "http://192.168.1.10:8080"}, func(c *Config) any { return c.AllowOrigin },
			"http://192.168.1.10:8080"},
		{[]string{"-allow-origin", "http://[::1]:8080"}, func(c *Config) any { return c.AllowOrigin }, "http://[::1]:8080"},
		{[]string{"-allow-origin", ""}, func(c *Config) any { return c.AllowOrigin }, ""},
		{[]string{"-allow-origin", "None"}, func(c *Config) any { return c.AllowOrigin }, "none"},

		{[]string{"-dsf", "none"}, func(c *Config) any { return c.DSFSocket }, ""},
		{[]string{"-maxclients", "5"}, func(c *Config) any { return c.MaxClients }, 5},
		{[]string{"-maxclientsperip", "3"}, func(c *Config) any { return c.MaxClientsPerIP }, 3},
		{[]string{"-maxclientsperip", "0"}, func(c *Config) any { return c.MaxClientsPerIP }, 0},
		{[]string{"-dsf", "/tmp/dcs.sock"}, func(c *Config) any { return c.DSFSocket }, "/tmp/dcs.sock"},
	}
	for _, tt := range tests {
		name := strings.Join(tt.args, " ")
		t.Run("command line/"+name, func(t *testing.T) {
			// Values that start with - are written -option=value on a
			// command line, except negative numbers.
			var args []string
			for i := 0; i < len(tt.args); i++ {
				if i+1 < len(tt.args) && isOptionWord(tt.args[i]) && !lookup(tt.args[i][1:]).flag &&
					isOptionWord(tt.args[i+1]) {
					args = append(args, tt.args[i]+"="+tt.args[i+1])
					i++
					continue
				}
				args = append(args, tt.args[i])
			}
			if got := tt.get(mustParse(t, args...)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q): got %#v, want %#v", args, deref(got), deref(tt.want))
			}
		})
		t.Run("file/"+name, func(t *testing.T) {
			line := fileLine(tt.args)
			if got := tt.get(parseContent(t, line+"\n")); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("file line %q: got %#v, want %#v", line, deref(got), deref(tt.want))
			}
		})
	}
}

func deref(v any) any {
	if p, ok := v.(*float64); ok && p != nil {
		return *p
	}
	return v
}

func TestCommandLineOnlyOptions(t *testing.T) {
	if c := mustParse(t, "-version"); !c.ShowVersion || c.ListCameras {
		t.Errorf("-version: ShowVersion=%v ListCameras=%v", c.ShowVersion, c.ListCameras)
	}
	if c := mustParse(t, "-list"); !c.ListCameras || c.ShowVersion {
		t.Errorf("-list: ShowVersion=%v ListCameras=%v", c.ShowVersion, c.ListCameras)
	}
	if c := mustParse(t, "--version=false"); c.ShowVersion {
		t.Error("--version=false set ShowVersion")
	}
	for _, opt := range []string{"-version", "-list", "-h", "-help", "-file x"} {
		t.Run(opt, func(t *testing.T) {
			_, err := parseAsFile(testFile, []byte("-port 8090\n"+opt+"\n"))
			e := asConfigError(t, err)
			if e.Line != 2 || !strings.Contains(e.Error(), testFile+":2: "+strings.Fields(opt)[0]+": ") {
				t.Fatalf("got %q, want an error on line 2 naming %s", err, opt)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-help"}, {"--help"}, {"-port", "8090", "-h"},
		{"-prot", "1", "-help"}, {"-file", "/does/not/exist", "--help"}} {
		_, _, err := Parse(args)
		if !errors.Is(err, ErrHelp) {
			t.Errorf("Parse(%q) = %v, want ErrHelp", args, err)
			continue
		}
		asConfigError(t, err)
	}
	if _, _, err := Parse([]string{"-help=1"}); errors.Is(err, ErrHelp) || err == nil {
		t.Errorf("-help=1 gave %v, want an error that is not ErrHelp", err)
	}
}

// File errors: the exact message, which names the file and the line.
func TestFileErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"unknown option", "-prot 8090", "1: -prot: unknown option (did you mean -port?)"},
		{"unknown option with =", "-camra=0", "1: -camra: unknown option (did you mean -camera?)"},
		{"unknown option, nothing close", "-# c\n-zzzzzz 1", "2: -zzzzzz: unknown option (-h lists them)"},
		{"wrong case", "-Port 8090", "1: -Port: unknown option (did you mean -port?)"},
		{"missing value at line end", "-port", "1: -port: missing value"},
		{"missing value, comment follows", "-port # HTTP", "1: -port: missing value"},
		{"missing value before an option", "-port -camera 0", "1: -port: missing value (-camera is the next option)"},
		{"missing value before a dash word", "-password -secret",
			"1: -password: missing value; a value that starts with - is written -password=VALUE"},
		{"value on the next line does not count", "-port\n8090", "1: -port: missing value"},

		{"port zero", "-port 0", "1: -port 0: must be a whole number from 1 to 65535"},
		{"port too big", "-port 65536", "1: -port 65536: must be a whole number from 1 to 65535"},
		{"port fraction", "-port 80.5", "1: -port 80.5: must be a whole number from 1 to 65535"},
		{"port word", "-port http", "1: -port http: must be a whole number from 1 to 65535"},
		{"port empty", "-port ''", `1: -port: empty value; must be a whole number from 1 to 65535`},
		{"port with glued comment", "-port 8090#HTTP",
			"1: -port 8090#HTTP: must be a whole number from 1 to 65535 (a # starts a comment only after a space)"},
		{"host empty", "-host ''", `1: -host: empty value; must be an IP address or a host name ` +
			`(0.0.0.0 listens on all IPv4 interfaces, :: on all, 127.0.0.1 on this machine only)`},
		{"host with port", "-host 0.0.0.0:8085", "1: -host 0.0.0.0:8085: must be an IP address or a host name " +
			"(0.0.0.0 listens on all IPv4 interfaces, :: on all, 127.0.0.1 on this machine only); the port is set with -port"},
		{"host bad IPv4", "-host 192.168.1.300", "1: -host 192.168.1.300: must be an IP address or a host name " +
			"(0.0.0.0 listens on all IPv4 interfaces, :: on all, 127.0.0.1 on this machine only)"},
		{"host bad characters", "-host duet_3", "1: -host duet_3: must be an IP address or a host name " +
			"(0.0.0.0 listens on all IPv4 interfaces, :: on all, 127.0.0.1 on this machine only)"},
		{"camera index too big", "-camera 64", "1: -camera 64: a camera index must be a whole number from 0 to 63 (-1: automatic)"},
		{"camera negative", "-camera -2", "1: -camera -2: a camera index must be a whole number from 0 to 63 (-1: automatic)"},
		{"camera fraction", "-camera 1.5", "1: -camera 1.5: a camera index must be a whole number from 0 to 63 (-1: automatic)"},
		{"rotate 45", "-rotate 45", "1: -rotate 45: must be 0, 90, 180 or 270"},
		{"rotate negative", "-rotate -90", "1: -rotate -90: must be 0, 90, 180 or 270"},
		{"rotate word", "-rotate left", "1: -rotate left: must be 0, 90, 180 or 270"},
		{"flip", "-flip diagonal", "1: -flip diagonal: must be h (horizontal), v (vertical), hv (both) or none"},
		{"size too big", "-size 10", "1: -size 10: must be 0 to 8, an index into the size table (see -h); or use -resolution WxH"},
		{"size negative", "-size -1", "1: -size -1: must be 0 to 8, an index into the size table (see -h); or use -resolution WxH"},
		{"resolution one number", "-resolution 1280", "1: -resolution 1280: must be WIDTHxHEIGHT, e.g. 1280x720"},
		{"resolution three numbers", "-resolution 1x2x3", "1: -resolution 1x2x3: must be WIDTHxHEIGHT, e.g. 1280x720"},
		{"resolution zero", "-resolution 0x720", "1: -resolution 0x720: width and height must be from 1 to 16384"},
		{"resolution huge", "-resolution 16385x100", "1: -resolution 16385x100: width and height must be from 1 to 16384"},
		{"format", "-format XVID", "1: -format XVID: must be one of MJPG (or MJPEG), JPEG, YUYV (or YUY2), BGR3, " +
			"RGB3 (or RGB24), NV12, YU12 (or I420), GREY (or GRAY), H264"},
		{"framerate zero", "-framerate 0", "1: -framerate 0: must be a number of frames per second above 0 and at most 240 (e.g. 24 or 7.5)"},
		{"framerate negative", "-framerate -1", "1: -framerate -1: must be a number of frames per second above 0 and at most 240 (e.g. 24 or 7.5)"},
		{"framerate too high", "-framerate 241", "1: -framerate 241: must be a number of frames per second above 0 and at most 240 (e.g. 24 or 7.5)"},
		{"framerate inf", "-framerate inf", "1: -framerate inf: must be a number of frames per second above 0 and at most 240 (e.g. 24 or 7.5)"},
		{"manexp word", "-manexp auto", "1: -manexp auto: must be a number, e.g. 0.25, 1, 3 or -5"},
		{"manexp nan", "-manexp NaN", "1: -manexp NaN: must be a number, e.g. 0.25, 1, 3 or -5"},
		{"exposure overflow", "-exposure 1e999", "1: -exposure 1e999: must be a number, e.g. 0.25, 1, 3 or -5"},
		{"verbose word", "-verbose maybe", "1: -verbose: takes no value, or one of true, false, 1, 0, yes, no, on, off"},
		{"verbose =2", "-verbose=2", "1: -verbose: takes no value, or one of true, false, 1, 0, yes, no, on, off"},
		{"logfile folder", "-logfile logs/", "1: -logfile logs/: must name a file, not a folder"},
		{"source unknown", "-source usb", "1: -source usb: must be camera, test or file:PATH"},
		{"source camera with colon", "-source camera:0", "1: -source camera:0: must be camera, test or file:PATH"},
		{"source file without path", "-source file:",
			"1: -source file:: file: needs a path to a folder of JPEGs or an MJPEG file, e.g. file:/home/pi/frames"},
		{"quality zero", "-quality 0", "1: -quality 0: must be a whole number from 1 to 100"},
		{"quality too high", "-quality 101", "1: -quality 101: must be a whole number from 1 to 100"},
		{"per-address limit negative", "-maxclientsperip -1", "1: -maxclientsperip -1: must be a whole number from 0 (no limit) to 10000"},
		{"per-address limit by another name", "-max-clients-per-ip 7", "1: -max-clients-per-ip: unknown option (did you mean -maxclientsperip?)"},
		{"per-address limit words", "-maxclientsperip lots", "1: -maxclientsperip lots: must be a whole number from 0 (no limit) to 10000"},
		{"user with colon", "-user a:b\n-password x", "1: -user: must not contain ':' (basic auth cannot carry it)"},
		{"user without password", "-user lapse", "1: -user: needs -password as well: basic auth needs both"},
		{"password without user", "-# auth\n\n-password pw", "3: -password: needs -user as well: basic auth needs both"},
		{"origin scheme", "-allow-origin ftp://duet.local",
			"1: -allow-origin ftp://duet.local: must be *, none or an origin such as http://duet.local or https://192.168.1.10:8080"},
		{"origin without scheme", "-allow-origin duet.local",
			"1: -allow-origin duet.local: must be *, none or an origin such as http://duet.local or https://192.168.1.10:8080"},
		{"origin with path", "-allow-origin http://duet.local/app",
			"1: -allow-origin http://duet.local/app: must be *, none or an origin such as http://duet.local or " +
				"https://192.168.1.10:8080 (an origin has no path)"},
		{"origin bad port", "-allow-origin http://duet.local:99999",
			"1: -allow-origin http://duet.local:99999: must be *, none or an origin such as http://duet.local or https://192.168.1.10:8080"},
		{"origin with user", "-allow-origin http://u@duet.local",
			"1: -allow-origin: must be *, none or an origin such as http://duet.local or https://192.168.1.10:8080"},
		{"origin empty host", "-allow-origin http://",
			"1: -allow-origin http://: must be *, none or an origin such as http://duet.local or https://192.168.1.10:8080"},

		{"given twice", "-port 8090\n-camera 0\n-port 8091", "3: -port: given twice (first on line 1)"},
		{"given twice, other spellings", "--port=8090\n-port 8091", "2: -port: given twice (first on line 1)"},
		{"flag given twice", "-verbose\n-verbose", "2: -verbose: given twice (first on line 1)"},
		{"size and resolution", "-size 4\n-resolution 640x480",
			"2: -resolution 640x480: cannot be used together with -size (line 1): both set the frame size"},
		{"resolution and size", "-resolution 640x480\n-size 4",
			"2: -size 4: cannot be used together with -resolution (line 1): both set the frame size"},

		{"unterminated single quote", "-port 8090\n-camera 'HD Pro", "2: unterminated quote: this ' has no closing '"},
		{"unterminated double quote", "-camera \"HD Pro", "1: unterminated quote: this \" has no closing \""},
		{"trailing backslash", "-camera HD\\", "1: the line ends with a \\ that escapes nothing"},
		{"trailing backslash before CRLF", "-camera HD\\\r\n", "1: the line ends with a \\ that escapes nothing"},
		{"stray number", "-port 8090\n8085", "2: value without an option before it (options start with -)"},
		{"stray negative number", "-5", "1: value without an option before it (options start with -)"},
		{"option without dash", "port 8085", "1: port: value without an option (did you mean -port?)"},
		{"typographic dash", "–port 8085", "1: –port: starts with a typographic dash; write -port"},
		{"second value", "-port 8090 8091",
			"1: unexpected value after -port's value: an option takes one value (quote a value that has spaces)"},
		{"unquoted name with spaces", "-camera HD Pro",
			"1: unexpected value after -camera's value: an option takes one value (quote a value that has spaces)"},
		{"file in a file", "-file other.config", "1: -file: not allowed in a config file: it cannot read another one"},
		{"NUL byte", "-port 8090\n-cam\x00era 0\n", "2: contains NUL bytes: this is a binary file, not a text config file"},
		{"binary", "\x7fELF\x02\x01\x01\x00\x00", "1: contains NUL bytes: this is a binary file, not a text config file"},
		{"latin-1", "-# c\n-camera Cam\xe9ra", "2: not valid UTF-8 text (save the file as UTF-8)"},
		{"control character", "-camera a\x01b", "1: contains the control character U+0001"},
		{"error after BOM and CRLF", "\ufeff-port 8090\r\n-rotate 45\r\n", "2: -rotate 45: must be 0, 90, 180 or 270"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseAsFile(testFile, []byte(tt.content))
			if err == nil {
				t.Fatalf("no error for %q, got %+v", tt.content, *c)
			}
			e := asConfigError(t, err)
			if want := testFile + ":" + tt.want; err.Error() != want {
				t.Fatalf("error for %q:\n got %s\nwant %s", tt.content, err, want)
			}
			if e.File != testFile {
				t.Errorf("File = %q, want %q", e.File, testFile)
			}
		})
	}
}

func TestErrorFields(t *testing.T) {
	_, err := parseAsFile(testFile, []byte("-port 8090\n-rotate 45\n"))
	e := asConfigError(t, err)
	want := Error{File: testFile, Line: 2, Option: "-rotate", Value: "45", Reason: "must be 0, 90, 180 or 270"}
	if *e != want {
		t.Fatalf("got %+v, want %+v", *e, want)
	}
	_, _, err = Parse([]string{"-prot", "8090"})
	e = asConfigError(t, err)
	if e.File != "" || e.Line != 0 || e.Option != "-prot" || e.Reason != "unknown option (did you mean -port?)" {
		t.Fatalf("got %+v", *e)
	}
}

func TestPasswordNeverInErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-password=s3cr\x01t"},
		{"-password", "s3cr\x01t", "-user", "u"},
		{"-password", "s3cret", "extra"},
		{"-password s3cret"},
		{"-pass word s3cret"},
	} {
		_, _, err := Parse(args)
		if err == nil || strings.Contains(err.Error(), "s3cr") || asConfigError(t, err).Value != "" && strings.Contains(asConfigError(t, err).Value, "s3cr") {
			t.Errorf("Parse(%q) = %v: want an error that does not show the password", args, err)
		}
	}
	for _, line := range []string{"'-password s3cret'", "'-pass word s3cret'", "'-passwort s3cret'"} {
		if _, err := parseAsFile(testFile, []byte("-user u\n"+line+"\n")); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: %v: want an error that does not show the password", line, err)
		}
	}
	_, err := parseAsFile(testFile, []byte("'-password s3cret'\n"))
	if want := testFile + ":1: -password: the option and its value are quoted as one word; quote only the value"; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	_, err = parseAsFile(testFile, []byte("-user u\n-password my s3cret words\n"))
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("got %v: want an error that does not show the password", err)
	}
	if want := testFile + ":2: unexpected word after -password's value: an option takes one value " +
		"(quote a value that has spaces)"; err.Error() != want {
		t.Fatalf("got %s\nwant %s", err, want)
	}
}

func TestCommandLineErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown option", []string{"-prot", "8090"}, "command line: -prot: unknown option (did you mean -port?)"},
		{"unknown double-dash option", []string{"--prot=8090"}, "command line: --prot: unknown option (did you mean -port?)"},
		{"missing value", []string{"-camera", "0", "-port"}, "command line: -port: missing value"},
		{"missing value before option", []string{"-port", "-verbose"}, "command line: -port: missing value (-verbose is the next option)"},
		{"dash value needs =", []string{"-password", "-x", "-user", "u"},
			"command line: -password: missing value; a value that starts with - is written -password=VALUE"},
		{"bad value", []string{"-rotate", "45"}, "command line: -rotate 45: must be 0, 90, 180 or 270"},
		{"empty value", []string{"-port="}, `command line: -port: empty value; must be a whole number from 1 to 65535`},
		{"value with spaces is quoted", []string{"-format", "M J P G"},
			`command line: -format "M J P G": must be one of MJPG (or MJPEG), JPEG, YUYV (or YUY2), BGR3, ` +
				"RGB3 (or RGB24), NV12, YU12 (or I420), GREY (or GRAY), H264"},
		{"given twice", []string{"-port", "1", "-camera", "0", "--port", "2"},
			"command line: -port: given twice (first as argument 1)"},
		{"stray value", []string{"8085"}, "command line: value without an option before it (options start with -) (argument 1)"},
		{"lone dash", []string{"-"}, "command line: value without an option before it (options start with -) (argument 1)"},
		{"double dash", []string{"--"}, "command line: not an option usbStream knows (options are words such as -port; -h lists them)"},
		{"flag value without =", []string{"-verbose", "true"},
			"command line: unexpected value after -verbose, which takes none (-verbose=VALUE sets it explicitly) (argument 2)"},
		{"size and resolution", []string{"-size", "4", "-resolution", "640x480"},
			"command line: -resolution 640x480: cannot be used together with -size (argument 1): both set the frame size"},
		{"user without password", []string{"-user", "lapse"}, "command line: -user: needs -password as well: basic auth needs both"},
		{"control character", []string{"-camera", "a\nb"}, "command line: -camera \"a\\nb\": contains the control character U+000A"},
		{"invalid utf-8", []string{"-camera", "a\xffb"}, "command line: -camera \"a\\xffb\": not valid UTF-8 text"},
		{"empty file path", []string{"-file="}, "command line: -file: needs the path of a config file"},
		{"comment keeps one word", []string{"-#", "note", "8085"},
			"command line: value without an option before it (options start with -) (argument 3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Parse(tt.args)
			if err == nil {
				t.Fatalf("no error for %q, got %+v", tt.args, *c)
			}
			e := asConfigError(t, err)
			if err.Error() != tt.want {
				t.Fatalf("error for %q:\n got %s\nwant %s", tt.args, err, tt.want)
			}
			if e.File != "" || e.Line != 0 {
				t.Errorf("File, Line = %q, %d; want the command line", e.File, e.Line)
			}
		})
	}
}

func TestCommandLineComment(t *testing.T) {
	c := mustParse(t, "-#", "a note", "-port", "8090", "-#=x", "-rotate", "90", "-#")
	if c.Port != 8090 || c.Rotate != 90 {
		t.Fatalf("got port %d rotate %d", c.Port, c.Rotate)
	}
}

func TestComments(t *testing.T) {
	tests := []struct {
		name, content string
		port          int
		password      string
	}{
		{"comment line", "-# Example config\n-port 8090", 8090, ""},
		{"comment without space", "-#Example\n-port 8090", 8090, ""},
		{"double-dash comment", "--# x\n-port 8090", 8090, ""},
		{"hash comment line", "# -port 1\n-port 8090", 8090, ""},
		{"indented hash comment", "   # note\n-port 8090", 8090, ""},
		{"trailing comment as documented", "-port 8090      #Causes internal http server to start and listen on provided port",
			8090, ""},
		{"trailing comment after a tab", "-port 8090\t# note", 8090, ""},
		{"trailing comment with quotes", "-port 8090 # it's \"here", 8090, ""},
		{"comment line with a quote", "-# don't 'quote\n-port 8090", 8090, ""},
		{"dash-hash after an option", "-port 8090 -# the port", 8090, ""},
		{"comment option only as a comment", "-# -port 1\n-port 8090", 8090, ""},
		{"hash in a word", "-user u\n-password a#b", 8085, "a#b"},
		{"hash in single quotes", "-user u\n-password 'a#b'", 8085, "a#b"},
		{"hash in double quotes after space", "-user u\n-password \"a #b\"", 8085, "a #b"},
		{"escaped leading hash", "-user u\n-password \\#b # real comment", 8085, "#b"},
		{"quoted leading hash", "-user u\n-password '#b'", 8085, "#b"},
		{"blank lines", "\n\n   \n\t\n-port 8090\n\n", 8090, ""},
		{"only comments", "-# a\n# b\n", 8085, ""},
		{"quoted comment option", "\"-#\" -port 1\n-port 8090", 8090, ""},
		{"comment option after empty quotes", "\"\"-# -port 1\n-port 8090", 8090, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseContent(t, tt.content)
			if c.Port != tt.port || c.Password != tt.password {
				t.Fatalf("port %d password %q; want %d %q", c.Port, c.Password, tt.port, tt.password)
			}
		})
	}
}

func TestQuotedValues(t *testing.T) {
	tests := []struct {
		name, line, camera string
	}{
		{"single quotes", "-camera 'HD Pro Webcam C920'", "HD Pro Webcam C920"},
		{"double quotes", `-camera "HD Pro Webcam C920"`, "HD Pro Webcam C920"},
		{"escaped spaces", `-camera HD\ Pro`, "HD Pro"},
		{"quote in single quotes", `-camera 'it'\''s'`, "it's"},
		{"escaped double quotes", `-camera "say \"hi\""`, `say "hi"`},
		{"empty quotes mean automatic", "-camera ''", ""},
		{"quoted option name", `"-camera" 2`, "2"},
		{"quoted =value", `-camera="HD Pro"`, "HD Pro"},
		{"no-break space between option and value", "-camera\u00a02", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := parseContent(t, tt.line); c.Camera != tt.camera {
				t.Fatalf("camera %q, want %q", c.Camera, tt.camera)
			}
		})
	}
	// In a file, quoting marks a value that starts with - as a value.
	c := parseContent(t, "-user u\n-password '-secret'\n")
	if c.Password != "-secret" {
		t.Fatalf("password %q, want -secret", c.Password)
	}
}

func TestCRLFAndBOM(t *testing.T) {
	tests := []struct{ name, content string }{
		{"CRLF", "-port 8090\r\n-camera 0\r\n"},
		{"BOM", "\ufeff-port 8090\n-camera 0\n"},
		{"BOM and CRLF", "\ufeff-port 8090\r\n-camera 0\r\n"},
		{"BOM before a comment", "\ufeff-# usbStream\r\n-port 8090\r\n-camera 0"},
		{"CRLF after a trailing comment", "-port 8090 # port\r\n-camera 0 # first\r\n"},
		{"no final newline", "-port 8090\r\n-camera 0"},
		{"mixed line ends", "-port 8090\n-camera 0\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseContent(t, tt.content)
			if c.Port != 8090 || c.Camera != "0" {
				t.Fatalf("port %d camera %q, want 8090 \"0\"", c.Port, c.Camera)
			}
		})
	}
}

func TestNegativeNumbersAreValues(t *testing.T) {
	tests := []struct {
		args         []string
		camera       string
		manexp, expo float64
	}{
		{[]string{"-camera", "-1", "-manexp", "1", "-exposure", "-5"}, "", 1, -5},
		{[]string{"-manexp", "0.25", "-exposure", "-0.5", "-camera", "1"}, "1", 0.25, -0.5},
		{[]string{"-manexp", "-1", "-exposure", "-.5"}, "", -1, -0.5},
		{[]string{"-manexp", "1", "-exposure", "-5e-1"}, "", 1, -0.5},
		{[]string{"-exposure=-13", "-manexp=1"}, "", 1, -13},
	}
	for _, tt := range tests {
		name := strings.Join(tt.args, " ")
		check := func(t *testing.T, c *Config) {
			if c.Camera != tt.camera || c.ManExp == nil || *c.ManExp != tt.manexp || c.Exposure == nil ||
				*c.Exposure != tt.expo {
				t.Fatalf("camera %q manexp %v exposure %v", c.Camera, deref(c.ManExp), deref(c.Exposure))
			}
		}
		t.Run("command line/"+name, func(t *testing.T) { check(t, mustParse(t, tt.args...)) })
		t.Run("file/"+name, func(t *testing.T) { check(t, parseContent(t, strings.Join(tt.args, " "))) })
	}
}

func TestEqualsAndDoubleDash(t *testing.T) {
	tests := []struct {
		name  string
		lines []string // one option per line in the file; split into words for the command line
	}{
		{"single dash", []string{"-port 8090", "-rotate 90", "-verbose"}},
		{"equals", []string{"-port=8090", "-rotate=90", "-verbose=true"}},
		{"double dash", []string{"--port 8090", "--rotate 90", "--verbose"}},
		{"double dash equals", []string{"--port=8090", "--rotate=90", "--verbose=on"}},
		{"mixed", []string{"--port=8090", "-rotate 90", "--verbose"}},
	}
	for _, tt := range tests {
		check := func(t *testing.T, c *Config) {
			if c.Port != 8090 || c.Rotate != 90 || !c.Verbose {
				t.Fatalf("port %d rotate %d verbose %v", c.Port, c.Rotate, c.Verbose)
			}
		}
		args := strings.Fields(strings.Join(tt.lines, " "))
		t.Run("command line/"+tt.name, func(t *testing.T) { check(t, mustParse(t, args...)) })
		t.Run("file/"+tt.name, func(t *testing.T) { check(t, parseContent(t, strings.Join(tt.lines, "\n"))) })
	}
	// The value is everything after the first =.
	c := mustParse(t, "-user=u", "-password=a=b", "-camera=-1")
	if c.Password != "a=b" || c.Camera != "" {
		t.Fatalf("password %q camera %q", c.Password, c.Camera)
	}
}

func TestVerboseValueInFile(t *testing.T) {
	tests := []struct {
		content string
		want    bool
	}{
		{"-verbose", true},
		{"-verbose true", true},
		{"-verbose false", false},
		{"-verbose off # quiet", false},
		{"-verbose No", false},
		{"-verbose -port 8090", true},
		{"-verbose=1", true},
	}
	for _, tt := range tests {
		t.Run(tt.content, func(t *testing.T) {
			if c := parseContent(t, tt.content); c.Verbose != tt.want {
				t.Fatalf("verbose %v, want %v", c.Verbose, tt.want)
			}
		})
	}
}

// Several options on one line worked in the original, which split the whole
// file as one command line.
func TestSeveralOptionsOnOneLine(t *testing.T) {
	c := parseContent(t, "-port 8090 -rotate 180 -verbose -camera 'HD Cam'\n")
	if c.Port != 8090 || c.Rotate != 180 || !c.Verbose || c.Camera != "HD Cam" {
		t.Fatalf("got %+v", *c)
	}
	_, err := parseAsFile(testFile, []byte("-port 8090 -rotate 180 -port 1"))
	if err == nil || err.Error() != testFile+":1: -port: given twice (first on line 1)" {
		t.Fatalf("got %v", err)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The example config from the original's documentation, as a real file.
func TestOriginalExampleConfig(t *testing.T) {
	path := writeFile(t, t.TempDir(), "usbStream.config", `-# Example config
-port 8090      #Causes internal http server to start and listen on provided port
-camera 0
-rotate 180
-size 4
-format MJPG
-framerate 24
-verbose
`)
	want := Default()
	want.Port, want.Camera, want.Rotate, want.Size, want.Format, want.Framerate, want.Verbose, want.File =
		8090, "0", 180, 4, "MJPG", 24, true, path
	fromArgs := mustParse(t, "-file", path)
	content, _ := os.ReadFile(path)
	fromReload, err := ParseWithFileContent([]string{"-file", path}, content)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]*Config{"Parse": fromArgs, "ParseWithFileContent": fromReload} {
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, *got, want)
		}
	}
	if SizeTable[fromArgs.Size] != (Resolution{1280, 720}) {
		t.Errorf("-size 4 is %v, want 1280x720 as documented", SizeTable[fromArgs.Size])
	}
}

func TestPluginExampleConfig(t *testing.T) {
	// What the original plugin zip ships as usbStream.config.example.
	path := writeFile(t, t.TempDir(), "usbStream.config", "-port 8084")
	if c := mustParse(t, "-file", path); c.Port != 8084 {
		t.Fatalf("port %d", c.Port)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "u.config", "-port 8090\n-rotate 180\n-size 4\n-user u\n-password p\n")
	tests := []struct {
		name  string
		args  []string
		check func(*Config) bool
	}{
		{"before -file is overridden", []string{"-port", "1", "-file", f}, func(c *Config) bool { return c.Port == 8090 }},
		{"after -file overrides", []string{"-file", f, "-port", "9000"}, func(c *Config) bool { return c.Port == 9000 }},
		{"each option on its own", []string{"-rotate", "90", "-file", f, "-port", "9000"},
			func(c *Config) bool { return c.Rotate == 180 && c.Port == 9000 }},
		{"options the file lacks", []string{"-quality", "50", "-file", f, "-flip", "h"},
			func(c *Config) bool { return c.Quality == 50 && c.Flip == "h" && c.Port == 8090 }},
		{"-resolution after -file replaces the file's -size", []string{"-file", f, "-resolution", "320x240"},
			func(c *Config) bool { return c.Resolution == Resolution{320, 240} && c.Size == -1 }},
		{"-resolution before -file is replaced by the file's -size", []string{"-resolution", "320x240", "-file", f},
			func(c *Config) bool { return c.Resolution.IsZero() && c.Size == 4 }},
		{"-size after -file", []string{"-file", f, "-size", "7"}, func(c *Config) bool { return c.Size == 7 }},
		{"one auth setting", []string{"-file", f, "-user", "other"},
			func(c *Config) bool { return c.User == "other" && c.Password == "p" }},
		{"auth switched off", []string{"-file", f, "-user=", "-password="},
			func(c *Config) bool { return c.User == "" && c.Password == "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := mustParse(t, tt.args...); !tt.check(c) {
				t.Fatalf("Parse(%q) = %+v", tt.args, *c)
			}
		})
	}

	_, _, err := Parse([]string{"-port", "1", "-file", f, "-port", "2"})
	if err == nil || err.Error() != "command line: -port: given twice (first as argument 1)" {
		t.Fatalf("an option twice on the command line around -file: %v", err)
	}
	g := writeFile(t, dir, "g.config", "-port 1\n")
	_, _, err = Parse([]string{"-file", f, "-file", g})
	if err == nil || err.Error() != "command line: -file: given twice (first as argument 1); only one config file can be read" {
		t.Fatalf("-file twice: %v", err)
	}
	// The file's error is reported, not hidden by the command line's value.
	bad := writeFile(t, dir, "bad.config", "-port 8090\n-rotate 45\n")
	_, _, err = Parse([]string{"-file", bad, "-rotate", "90"})
	if err == nil || err.Error() != bad+":2: -rotate 45: must be 0, 90, 180 or 270" {
		t.Fatalf("got %v", err)
	}
}

func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sys", "usbStream")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	f := writeFile(t, sub, "usbStream.config", "-logfile usbStream.log\n-source file:frames\n")
	c := mustParse(t, "-file", f)
	if c.LogFile != filepath.Join(sub, "usbStream.log") || c.Source != (Source{"file", filepath.Join(sub, "frames")}) {
		t.Fatalf("relative to the file: logfile %q source %v", c.LogFile, c.Source)
	}
	c = parseContent(t, "-logfile ../log/u.log\n-source file:/abs/frames\n")
	if c.LogFile != "/etc/log/u.log" || c.Source.Path != "/abs/frames" {
		t.Fatalf("logfile %q source %v", c.LogFile, c.Source)
	}

	// The command line's relative paths, including -file, are relative to
	// the current folder.
	t.Chdir(dir)
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	c = mustParse(t, "-logfile", "u.log", "-source", "file:frames", "-file", "sys/usbStream/usbStream.config")
	if c.File != filepath.Join(cwd, "sys/usbStream/usbStream.config") {
		t.Errorf("File %q", c.File)
	}
	// The file's -logfile and -source come after, so they win.
	if c.LogFile != filepath.Join(cwd, "sys/usbStream/usbStream.log") {
		t.Errorf("LogFile %q", c.LogFile)
	}
	c = mustParse(t, "-file", "sys/usbStream/usbStream.config", "-logfile", "u.log", "-source", "file:frames")
	if c.LogFile != filepath.Join(cwd, "u.log") || c.Source.Path != filepath.Join(cwd, "frames") {
		t.Errorf("command line: LogFile %q Source %v", c.LogFile, c.Source)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.config")
	_, _, err := Parse([]string{"-file", missing})
	e := asConfigError(t, err)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != missing+": cannot read the config file: no such file or directory" ||
		e.File != missing || e.Line != 0 {
		t.Fatalf("missing file: %v (%+v)", err, e)
	}

	_, _, err = Parse([]string{"-file", dir})
	if err == nil || err.Error() != dir+": is a folder, not a config file" {
		t.Fatalf("folder: %v", err)
	}

	big := writeFile(t, dir, "big.config", "-port 8090\n"+strings.Repeat("-# padding\n", MaxFileSize/11+1))
	for name, parse := range map[string]func() error{
		"Parse": func() error { _, _, err := Parse([]string{"-file", big}); return err },
		"ParseWithFileContent": func() error {
			_, err := ParseWithFileContent([]string{"-file", big}, make([]byte, MaxFileSize+1))
			return err
		},
	} {
		err := parse()
		if err == nil || err.Error() != big+": is larger than 1024 KiB, too large for a config file (wrong file?)" {
			t.Errorf("%s of a too large file: %v", name, err)
		}
	}
	// Exactly the limit is fine.
	atLimit := writeFile(t, dir, "limit.config", "-port 8090\n"+strings.Repeat("#", MaxFileSize-11))
	if c, _, err := Parse([]string{"-file", atLimit}); err != nil || c.Port != 8090 {
		t.Fatalf("file of exactly MaxFileSize: %v", err)
	}

	if os.Geteuid() != 0 { // root reads anything
		locked := writeFile(t, dir, "locked.config", "-port 8090\n")
		if err := os.Chmod(locked, 0); err != nil {
			t.Fatal(err)
		}
		_, _, err = Parse([]string{"-file", locked})
		if !errors.Is(err, fs.ErrPermission) || err.Error() != locked+": cannot read the config file: permission denied" {
			t.Fatalf("unreadable file: %v", err)
		}
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "u.config", "-port 8090\n-rotate 180\n")
	args := []string{"-file", f, "-rotate", "90"}
	c := mustParse(t, args...)
	if c.Port != 8090 || c.Rotate != 90 {
		t.Fatalf("start: %+v", *c)
	}

	// Re-running Parse re-reads the file; the command line still wins.
	writeFile(t, dir, "u.config", "-port 8091\n-rotate 270\n-flip h\n")
	c = mustParse(t, args...)
	if c.Port != 8091 || c.Rotate != 90 || c.Flip != "h" {
		t.Fatalf("after editing the file: %+v", *c)
	}

	// With content the caller read itself, the file on disk is not read.
	content, err := ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "u.config", "-port 1\n")
	c, err = ParseWithFileContent(args, content)
	if err != nil || c.Port != 8091 || c.Rotate != 90 || c.Flip != "h" || c.File != f {
		t.Fatalf("ParseWithFileContent: %v %+v", err, c)
	}
	c, err = ParseWithFileContent(args, []byte("-logfile u.log\n"))
	if err != nil || c.LogFile != filepath.Join(dir, "u.log") || c.Port != 8085 {
		t.Fatalf("relative paths in reloaded content: %v %+v", err, c)
	}
	_, err = ParseWithFileContent(args, []byte("-port 8090\n-rotate 45\n"))
	if err == nil || err.Error() != f+":2: -rotate 45: must be 0, 90, 180 or 270" {
		t.Fatalf("bad reloaded content: %v", err)
	}
	_, err = ParseWithFileContent([]string{"-port", "8090"}, []byte("-rotate 90\n"))
	if asConfigError(t, err).Reason != "there is no -file option whose content this could be" {
		t.Fatalf("content without -file: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		cfg  *Config
		want []string
	}{
		{"exposure without manexp", parseContent(t, "-# c\n-port 8090\n-exposure 150\n"),
			[]string{testFile + ":3: -exposure is ignored without -manexp (as in the original usbStream)"}},
		{"exposure with manexp", parseContent(t, "-exposure 150\n-manexp 1\n"), nil},
		{"manexp alone", parseContent(t, "-manexp 0.25\n"), nil},
		{"exposure on the command line", mustParse(t, "-exposure", "-5"),
			[]string{"command line: -exposure is ignored without -manexp (as in the original usbStream)"}},
		{"password on the command line", mustParse(t, "-user", "u", "-password", "p"),
			[]string{"command line: a -password on the command line can be read by every user of this machine (ps); " +
				"put it in the config file instead"}},
		{"password in the file", parseContent(t, "-user u\n-password p\n"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.cfg.Warnings, tt.want) {
				t.Fatalf("warnings %q, want %q", tt.cfg.Warnings, tt.want)
			}
		})
	}
	// The file's -exposure with the command line's -manexp is a pair.
	f := writeFile(t, t.TempDir(), "u.config", "-exposure 150\n")
	if c := mustParse(t, "-file", f, "-manexp", "1"); len(c.Warnings) != 0 {
		t.Fatalf("warnings %q", c.Warnings)
	}
}

func TestSuggest(t *testing.T) {
	tests := map[string]string{
		"prot": "-port", "camra": "-camera", "framrate": "-framerate", "Port": "-port", "fps": "-framerate",
		"ver": "-verbose or -version", "resolutoin": "-resolution", "allow_origin": "-allow-origin",
		"alloworigin": "-allow-origin", "logfilename": "-logfile", "rotation": "-rotate", "hots": "-host",
		"xyzzy": "", "x": "", "": "", "sizes": "-size",
	}
	for name, want := range tests {
		if got, _ := suggest(name); got != want {
			t.Errorf("suggest(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Option: "-prot", Reason: "unknown option"}, "command line: -prot: unknown option"},
		{Error{File: "/x.config", Line: 7, Option: "-rotate", Value: "45", Reason: "r"}, "/x.config:7: -rotate 45: r"},
		{Error{File: "/x.config", Reason: "is a folder"}, "/x.config: is a folder"},
		{Error{File: "/x.config", Line: 2, Reason: "unterminated quote"}, "/x.config:2: unterminated quote"},
		{Error{Value: "8085", Reason: "r"}, "command line: 8085: r"},
		{Error{Option: "-camera", Value: "HD Pro", Reason: "r"}, `command line: -camera "HD Pro": r`},
		{Error{Option: "-camera", Value: strings.Repeat("a", 100), Reason: "r"},
			"command line: -camera " + strings.Repeat("a", 60) + "...: r"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	cause := errors.New("cause")
	if !errors.Is(&Error{Err: cause}, cause) {
		t.Error("Unwrap does not reach the cause")
	}
}

func TestUsage(t *testing.T) {
	u := Usage()
	for i, line := range strings.Split(u, "\n") {
		if n := utf8.RuneCountInString(line); n > 100 {
			t.Errorf("line %d is %d columns: %q", i+1, n, line)
		}
	}
	newAt := strings.Index(u, "New options:")
	if newAt < 0 || strings.Index(u, "Options of the original usbStream:") > newAt {
		t.Fatal("the original's options must come first, then the new ones")
	}
	original := map[string]bool{"port": true, "host": true, "camera": true, "rotate": true, "size": true, "format": true,
		"framerate": true, "manexp": true, "exposure": true, "verbose": true, "logfile": true, "file": true, "#": true}
	for _, o := range options {
		at := strings.Index(u, "\n  -"+o.name+" ")
		if o.name == "h" {
			at = strings.Index(u, "\n  -h, -help ")
		} else if o.name == "help" {
			continue
		}
		if at < 0 {
			t.Errorf("-%s is not described", o.name)
			continue
		}
		if original[o.name] != (at < newAt) {
			t.Errorf("-%s is in the wrong group", o.name)
		}
	}
	for _, want := range []string{"overrides the file", "overridden by", "relative to the file's folder", "(default 8085)",
		"(default MJPG)", "(default 24)", "(default 85)", "(default 0.0.0.0)", "(default camera)"} {
		if !strings.Contains(u, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	for i, r := range SizeTable {
		if !strings.Contains(u, " "+string(rune('0'+i))+" = "+r.String()) {
			t.Errorf("usage lacks size %d = %v", i, r)
		}
	}
}

func TestResolutionAndSource(t *testing.T) {
	if s := (Resolution{1280, 720}).String(); s != "1280x720" {
		t.Errorf("String() = %q", s)
	}
	if !(Resolution{}).IsZero() || (Resolution{1, 0}).IsZero() {
		t.Error("IsZero")
	}
	for src, want := range map[Source]string{{Kind: "camera"}: "camera", {Kind: "test"}: "test",
		{Kind: "file", Path: "/srv/f"}: "file:/srv/f"} {
		if got := src.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", src, got, want)
		}
	}
}

func TestDefaultLogFileOnlyOnDSFMachines(t *testing.T) {
	sys := filepath.Join(t.TempDir(), "sys")
	if got := defaultLogFile(sys); got != "" {
		t.Fatalf("without a DSF sys folder the default log file = %q, want none", got)
	}
	if err := os.Mkdir(sys, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, want := defaultLogFile(sys), filepath.Join(sys, "usbStream", "usbStream.log"); got != want {
		t.Fatalf("on a DSF machine the default log file = %q, want %q", got, want)
	}
	c, _, err := Parse([]string{"-logfile", "none"})
	if err != nil || c.LogFile != "" {
		t.Fatalf("-logfile none = %q, %v; want stderr only", c.LogFile, err)
	}
}

func TestControlOptionRepeats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usbStream.config")
	os.WriteFile(path, []byte("-control brightness=128\n-control 'Auto Exposure=Manual Mode'\n"), 0o644)
	c, _, err := Parse([]string{"-file", path, "-control", "focus_automatic_continuous=off"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Control{{"brightness", "128"}, {"Auto Exposure", "Manual Mode"}, {"focus_automatic_continuous", "off"}}
	if !reflect.DeepEqual(c.Controls, want) {
		t.Fatalf("controls = %v, want %v", c.Controls, want)
	}
	for _, bad := range []string{"brightness", "=5", "brightness="} {
		_, _, err := Parse([]string{"-control", bad})
		if err == nil || !strings.Contains(err.Error(), "name=value") {
			t.Errorf("-control %q: %v, want a name=value error", bad, err)
		}
	}
}

func TestOriginalCompatibility(t *testing.T) {
	// The original's code accepted -size 9 (its list had ten entries).
	c, _, err := Parse([]string{"-size", "9"})
	if err != nil || SizeTable[c.Size] != (Resolution{320, 240}) {
		t.Fatalf("-size 9 = %v, %v; want 320x240", c, err)
	}
	// argparse accepted unambiguous abbreviations; so do we, with a warning.
	c, _, err = Parse([]string{"-frame", "10", "-verb"})
	if err != nil || c.Framerate != 10 || !c.Verbose || len(c.Warnings) != 2 ||
		!strings.Contains(c.Warnings[0], "-frame is read as -framerate") {
		t.Fatalf("abbreviations: %+v, %v", c, err)
	}
	// An ambiguous one (-p: -port, -password) is still an error.
	if _, _, err := Parse([]string{"-p", "1"}); err == nil {
		t.Fatal("-p accepted though it abbreviates -port and -password")
	}
}
