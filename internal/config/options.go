package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// option describes one option: how it is read, how -h describes it, and
// what a reload that changes it takes. set stores v in c and returns why v
// is not acceptable, or ""; base is the folder relative paths are resolved
// against ("" for the current folder).
type option struct {
	name     string
	arg      string // the value's name in the help ("N", "PATH"); "" for a flag
	help     string // the help's description; each "\n" starts an indented line
	alias    string // an option -h shows on this one's line ("-h, -help")
	original bool   // an option of the original usbStream: the help lists those first
	flag     bool   // no value; "-name=BOOL" (and in a file "-name BOOL") sets it explicitly
	cmdline  bool   // only on the command line: in a config file it would stop or loop a plugin
	secret   bool   // never repeat the value in a message or log
	repeat   bool   // may be given many times; each use adds to a list
	reload   Reload // what applying a changed value takes
	// cameraOnly: only a camera honours it; the test pattern and a file
	// replay ignore it, and CameraOnly names it when it is set.
	cameraOnly bool
	// same reports whether two configurations have the same value of this
	// option; nil exactly for NotInFile options, which a reload never changes.
	same func(a, b *Config) bool
	set  func(c *Config, v, base string) string
}

// options is the one list of options: the parsers, -h, and the reload's
// Diff all read it. The help and comment options are handled by the
// parsers, not by set. The order is the help's.
var options = []*option{
	{name: "port", arg: "N", original: true, help: "HTTP port, 1-65535 (default 8085)",
		reload: MovesListener, same: sameValue(func(c *Config) int { return c.Port }),
		set: wholeIn(1, 65535, "", func(c *Config) *int { return &c.Port })},
	{name: "host", arg: "ADDR", original: true,
		help: "address to listen on, an IP address or host name: 0.0.0.0 all IPv4\n" +
			"interfaces, :: all interfaces, 127.0.0.1 this machine only (default 0.0.0.0)",
		reload: MovesListener, same: sameValue(func(c *Config) string { return c.Host }), set: setHost},
	{name: "camera", cameraOnly: true, arg: "X", original: true,
		help: "camera: a 0-based index (0-63), a device path (/dev/video0,\n" +
			"/dev/v4l/by-id/...) or part of its name, any case; -1 = automatic: the only\n" +
			"camera there is (default automatic)",
		reload: ReopensSource, same: sameValue(func(c *Config) string { return c.Camera }), set: setCamera},
	{name: "rotate", arg: "D", original: true, help: "rotate by 0, 90, 180 or 270 degrees (default 0)",
		reload: TunesSource, same: sameValue(func(c *Config) int { return c.Rotate }), set: setRotate},
	{name: "size", arg: "N", original: true,
		help: "frame size, an index into the size table below; a size the camera does not\n" +
			"have falls back to the next lower one (default: the camera's largest;\n" +
			"1280x720 for -source test)",
		reload: ReopensSource, same: sameValue(func(c *Config) int { return c.Size }), set: setSize},
	{name: "format", cameraOnly: true, arg: "F", original: true,
		help: "preferred camera format: MJPG (or MJPEG), JPEG, YUYV (or YUY2), BGR3,\n" +
			"RGB3 (or RGB24), NV12, YU12 (or I420), GREY (or GRAY), H264; falls back to\n" +
			"one the camera has (default MJPG)",
		reload: ReopensSource, same: sameValue(func(c *Config) string { return c.Format }), set: setFormat},
	{name: "framerate", arg: "N", original: true,
		help:   "frames per second, above 0 and at most 240, e.g. 7.5 (default 24)",
		reload: TunesSource, same: sameValue(func(c *Config) float64 { return c.Framerate }), set: setFramerate},
	{name: "manexp", cameraOnly: true, arg: "X", original: true,
		help: "auto-exposure mode value, as in the original: 0.25 or 1 manual, 0.75 or 3\n" +
			"automatic (default: the camera's setting)",
		reload: ReopensSource, same: sameNumber(func(c *Config) *float64 { return c.ManExp }),
		set: func(c *Config, v, _ string) string { return setFloatPtr(&c.ManExp, v) }},
	{name: "exposure", cameraOnly: true, arg: "X", original: true,
		help:   "exposure level; used only together with -manexp (default: the camera's)",
		reload: ReopensSource, same: sameNumber(func(c *Config) *float64 { return c.Exposure }),
		set: func(c *Config, v, _ string) string { return setFloatPtr(&c.Exposure, v) }},
	{name: "verbose", flag: true, original: true, help: "debug logging; -verbose=false turns it off (default off)",
		reload: SwitchesLog, same: sameValue(func(c *Config) bool { return c.Verbose }),
		set: func(c *Config, v, _ string) string { return setBool(&c.Verbose, v) }},
	{name: "logfile", arg: "PATH", original: true,
		help: "also log to this file, appending; none: stderr only (default:\n" +
			"/opt/dsf/sd/sys/usbStream/usbStream.log if /opt/dsf/sd/sys exists, else none)",
		reload: SwitchesLog, same: sameValue(func(c *Config) string { return c.LogFile }), set: setLogFile},
	{name: "file", arg: "PATH", original: true, cmdline: true,
		help: "read options from this config file (command line only)", reload: NotInFile},
	{name: "#", arg: "TEXT", original: true, help: "comment, ignored", reload: NotInFile},

	{name: "source", arg: "S",
		help: "where frames come from: camera, test (a moving test pattern) or file:PATH\n" +
			"(replay a folder of JPEGs or an MJPEG file) (default camera)",
		reload: ReopensSource, same: sameValue(func(c *Config) Source { return c.Source }), set: setSource},
	{name: "resolution", arg: "WxH",
		help: "exact frame size, e.g. 1280x720, same fallback as -size; not together\n" +
			"with -size in the same place (default: see -size)",
		reload: ReopensSource, same: sameValue(func(c *Config) Resolution { return c.Resolution }), set: setResolution},
	{name: "flip", arg: "F",
		help: "mirror the image: h (horizontal), v (vertical), hv (both) or none\n" +
			"(default none)",
		reload: TunesSource, same: sameValue(func(c *Config) string { return c.Flip }), set: setFlip},
	{name: "quality", arg: "N", help: "JPEG quality 1-100 for frames usbStream encodes itself (default 85)",
		reload: TunesSource, same: sameValue(func(c *Config) int { return c.Quality }),
		set: wholeIn(1, 100, "", func(c *Config) *int { return &c.Quality })},
	// The user name is half of the credentials, and "-user admin:pw" is a
	// common way to write both.
	{name: "user", arg: "NAME", secret: true, help: "require HTTP basic auth with this user name; needs -password",
		reload: SwitchesCredentials, same: sameValue(func(c *Config) string { return c.User }), set: setUser},
	{name: "password", arg: "PW", secret: true, help: "the basic auth password; needs -user",
		reload: SwitchesCredentials, same: sameValue(func(c *Config) string { return c.Password }),
		set: func(c *Config, v, _ string) string { c.Password = v; return "" }},
	{name: "token", arg: "T", secret: true,
		help: "access token for URLs: ?token=T opens the stream, snapshot and viewer page\n" +
			"(not /status) where a browser sends no user and password (DWC's webcam\n" +
			"panel, httpViewer); at least 16 of A-Z a-z 0-9 - . _ ~; alone, it protects\n" +
			"the port (default: with -user/-password, one derived from them, shown in\n" +
			"/status and the DWC tab; without, none)",
		reload: SwitchesCredentials, same: sameValue(func(c *Config) string { return c.Token }), set: setToken},
	{name: "auth", arg: "A",
		help: "none: no user name, password or token, on purpose (a reload that loses\n" +
			"-user and -password, or a lone -token, is refused unless the file says\n" +
			"-auth none); basic: -user and -password are required (default: basic auth\n" +
			"exactly when they are given)",
		reload: SwitchesCredentials, same: sameValue(func(c *Config) string { return c.Auth }), set: setAuth},
	{name: "allow-origin", arg: "O",
		help: "let web pages from origin O read usbStream's URLs (CORS): * or an origin\n" +
			"such as http://duet.local:8080; none: no page (default: * for the stream\n" +
			"and snapshot when no -user/-password or -token is set, else not allowed)",
		reload: AppliesToNewRequests, same: sameValue(func(c *Config) string { return c.AllowOrigin }),
		set: setAllowOrigin},
	{name: "allowhost", arg: "NAMES", repeat: true,
		help: "host names (comma-separated, repeatable) that requests may be addressed\n" +
			"to, against DNS rebinding: printer.local,duet3; addresses and localhost\n" +
			"are always allowed (default: any name)",
		reload: AppliesToNewRequests, same: sameList(func(c *Config) []string { return c.AllowedHosts }),
		set: addAllowedHosts},
	{name: "control", cameraOnly: true, arg: "N=V", repeat: true,
		help: "set a camera control, e.g. brightness=128 or auto_exposure=manual_mode;\n" +
			"names as v4l2-ctl prints them or as the camera names them; repeatable",
		reload: ReopensSource, same: sameList(func(c *Config) []Control { return c.Controls }), set: addControl},
	{name: "maxclients", arg: "N",
		help: "most streams and snapshots served at once; more get \"503 too many\n" +
			"clients\" (default 100)",
		reload: AppliesToNewRequests, same: sameValue(func(c *Config) int { return c.MaxClients }),
		set: wholeIn(1, 10000, "", func(c *Config) *int { return &c.MaxClients })},
	// 0 is no limit per address: behind a reverse proxy every viewer comes
	// from the proxy's address.
	{name: "maxclientsperip", arg: "N",
		help: "the same for one client address (default 0: no limit; keep 0 behind a\n" +
			"reverse proxy, where every viewer has the proxy's address)",
		reload: AppliesToNewRequests, same: sameValue(func(c *Config) int { return c.MaxClientsPerIP }),
		set: wholeIn(0, 10000, "no limit", func(c *Config) *int { return &c.MaxClientsPerIP })},
	{name: "dsf", arg: "PATH",
		help: "DSF's control socket; usbStream registers its DWC endpoints and status\n" +
			"there when DSF runs, and runs standalone otherwise; none: never\n" +
			"(default /run/dsf/dcs.sock)",
		reload: AppliesAfterRestart, same: sameValue(func(c *Config) string { return c.DSFSocket }), set: setDSF},
	{name: "version", flag: true, cmdline: true, help: "print the version and exit (command line only)",
		reload: NotInFile, set: func(c *Config, v, _ string) string { return setBool(&c.ShowVersion, v) }},
	{name: "list", flag: true, cmdline: true, help: "list the cameras and exit (command line only)",
		reload: NotInFile, set: func(c *Config, v, _ string) string { return setBool(&c.ListCameras, v) }},
	{name: "h", alias: "help", flag: true, cmdline: true, help: "print this help and exit", reload: NotInFile},
	{name: "help", flag: true, cmdline: true, reload: NotInFile},
}

func lookup(name string) *option {
	for _, o := range options {
		if o.name == name {
			return o
		}
	}
	return nil
}

// exclusive pairs options that set the same thing two ways.
var exclusive = map[string]string{"size": "resolution", "resolution": "size"}

// synonyms catch names other streamers and habits use, which edit distance
// would not find.
var synonyms = map[string]string{
	"fps": "framerate", "rate": "framerate", "rotation": "rotate", "res": "resolution",
	"width": "resolution", "height": "resolution", "device": "camera", "dev": "camera",
	"video": "camera", "address": "host", "addr": "host", "ip": "host", "bind": "host",
	"listen": "host", "mirror": "flip", "log": "logfile", "config": "file", "conf": "file",
	"cfg": "file", "debug": "verbose", "username": "user", "login": "user", "pass": "password",
	"passwd": "password", "pw": "password", "cors": "allow-origin", "origin": "allow-origin",
	"allow-host": "allowhost", "allowedhosts": "allowhost", "allowhosts": "allowhost", "hosts": "allowhost",
	"noauth": "auth",
	"dcs":    "dsf", "clients": "maxclients", "max-clients": "maxclients",
	"max-clients-per-ip": "maxclientsperip", "clientsperip": "maxclientsperip", "perip": "maxclientsperip", "socket": "dsf", "fourcc": "format", "pixfmt": "format", "q": "quality", "input": "source",
	"access-token": "token", "accesstoken": "token", "access_token": "token", "apikey": "token",
}

// suggest returns the known options closest to a mistyped name, e.g.
// "-port" for "prot", or "" when none is close enough to be a likely typo.
// secret reports whether one of them is a secret option, whose value may
// be glued to the mistyped name.
func suggest(name string) (s string, secret bool) {
	// A word far longer than any option is not a typo of one, and the edit
	// distance of a huge word would cost seconds.
	if len(name) > 40 {
		return "", false
	}
	name = strings.ToLower(name)
	if s, ok := synonyms[name]; ok {
		return "-" + s, lookup(s).secret
	}
	var best []string
	bestDist := math.MaxInt
	for _, o := range options {
		if o.name == "#" {
			continue
		}
		limit := 2
		switch {
		case len(o.name) <= 2:
			limit = 0
		case len(o.name) <= 4:
			limit = 1
		}
		d := editDistance(name, o.name)
		if d > limit || d > bestDist {
			continue
		}
		if d < bestDist {
			best, bestDist = nil, d
		}
		best = append(best, "-"+o.name)
	}
	if best == nil && len(name) >= 3 {
		for _, o := range options {
			if len(o.name) >= 3 && (strings.HasPrefix(o.name, name) || strings.HasPrefix(name, o.name)) {
				best = append(best, "-"+o.name)
			}
		}
	}
	for _, b := range best {
		secret = secret || lookup(b[1:]).secret
	}
	return strings.Join(best, " or "), secret
}

// editDistance is the optimal string alignment distance: Levenshtein plus
// transposition of neighbours, the most common typo ("prot").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// wholeNumber parses an integer, tolerating the spaces a quoted value can
// carry, as Python's int() did.
func wholeNumber(v string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	return n, err == nil
}

var decimal = regexp.MustCompile(`^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$`)

// number parses a finite decimal number; unlike strconv.ParseFloat it
// refuses "inf", "nan" and hex, which no one means in a config file.
func number(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	if !decimal.MatchString(v) {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
}

// wholeIn returns the setter of a whole-number option from lo to hi, stored
// in the field that field points to; loNote says what lo means if it is
// special (e.g. "no limit").
func wholeIn(lo, hi int, loNote string, field func(*Config) *int) func(*Config, string, string) string {
	return func(c *Config, v, _ string) string {
		n, ok := wholeNumber(v)
		if !ok || n < lo || n > hi {
			if loNote != "" {
				return fmt.Sprintf("must be a whole number from %d (%s) to %d", lo, loNote, hi)
			}
			return fmt.Sprintf("must be a whole number from %d to %d", lo, hi)
		}
		*field(c) = n
		return ""
	}
}

func setHost(c *Config, v, _ string) string {
	c.HostSet = true
	h := strings.TrimSpace(v)
	if inner, ok := strings.CutPrefix(h, "["); ok && strings.HasSuffix(inner, "]") {
		// The URL form of an IPv6 address; net.JoinHostPort adds the brackets.
		if a, err := netip.ParseAddr(strings.TrimSuffix(inner, "]")); err == nil && a.Is6() {
			c.Host = strings.TrimSuffix(inner, "]")
			return ""
		}
	} else if _, err := netip.ParseAddr(h); err == nil || validHostname(h) {
		c.Host = h
		return ""
	}
	reason := "must be an IP address or a host name (0.0.0.0 listens on all IPv4 interfaces, :: on all, " +
		"127.0.0.1 on this machine only)"
	if _, _, err := net.SplitHostPort(h); err == nil {
		reason += "; the port is set with -port"
	}
	return reason
}

// validHostname checks RFC 1123 host name syntax. A name whose last label
// is all digits is refused, so that a mistyped IPv4 address such as
// 192.168.1.300 is reported instead of being looked up as a name.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}

// MaxCameraIndex is the highest -camera index: V4L2 allows 64 video
// devices per driver.
const MaxCameraIndex = 63

func setCamera(c *Config, v, _ string) string {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		c.Camera = ""
	case decimal.MatchString(v):
		n, err := strconv.Atoi(v)
		switch {
		case err == nil && n == -1:
			c.Camera = "" // the original's "automatic"
		case err == nil && n >= 0 && n <= MaxCameraIndex:
			c.Camera = strconv.Itoa(n)
		default:
			return "a camera index must be a whole number from 0 to 63 (-1: automatic)"
		}
	case strings.HasPrefix(v, "/"):
		c.Camera = filepath.Clean(v)
	default:
		c.Camera = v
	}
	return ""
}

func setRotate(c *Config, v, _ string) string {
	n, ok := wholeNumber(v)
	if !ok || (n != 0 && n != 90 && n != 180 && n != 270) {
		return "must be 0, 90, 180 or 270"
	}
	c.Rotate = n
	return ""
}

func setSize(c *Config, v, _ string) string {
	n, ok := wholeNumber(v)
	if ok && n == len(SizeTable) {
		// The original's code had a tenth entry, 320x240, which configs may
		// use; the documented table has it as 8.
		c.Size = len(SizeTable) - 1
		return ""
	}
	if !ok || n < 0 || n >= len(SizeTable) {
		return "must be 0 to 8, an index into the size table (see -h); or use -resolution WxH"
	}
	c.Size = n
	return ""
}

// MaxDimension bounds -resolution: no UVC camera comes near it, and a typo
// with an extra digit must not make anything allocate gigabytes.
const MaxDimension = 16384

var resolutionSyntax = regexp.MustCompile(`^(\d{1,6}) *[xX*] *(\d{1,6})$`)

func setResolution(c *Config, v, _ string) string {
	m := resolutionSyntax.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return "must be WIDTHxHEIGHT, e.g. 1280x720"
	}
	w, _ := strconv.Atoi(m[1])
	h, _ := strconv.Atoi(m[2])
	if w < 1 || h < 1 || w > MaxDimension || h > MaxDimension {
		return "width and height must be from 1 to 16384"
	}
	c.Resolution = Resolution{w, h}
	return ""
}

// formatNames maps every accepted -format spelling to its canonical V4L2
// FourCC name.
var formatNames = map[string]string{
	"MJPG": "MJPG", "MJPEG": "MJPG", "JPEG": "JPEG", "YUYV": "YUYV", "YUY2": "YUYV",
	"BGR3": "BGR3", "BGR24": "BGR3", "RGB3": "RGB3", "RGB24": "RGB3", "NV12": "NV12",
	"YU12": "YU12", "I420": "YU12", "IYUV": "YU12", "GREY": "GREY", "GRAY": "GREY", "H264": "H264",
}

func setFormat(c *Config, v, _ string) string {
	f, ok := formatNames[strings.ToUpper(strings.TrimSpace(v))]
	if !ok {
		return "must be one of MJPG (or MJPEG), JPEG, YUYV (or YUY2), BGR3, RGB3 (or RGB24), NV12, " +
			"YU12 (or I420), GREY (or GRAY), H264"
	}
	c.Format = f
	return ""
}

// MaxFramerate is far above what USB 2 cameras deliver; more is a typo.
const MaxFramerate = 240

func setFramerate(c *Config, v, _ string) string {
	f, ok := number(v)
	if !ok || f <= 0 || f > MaxFramerate {
		return "must be a number of frames per second above 0 and at most 240 (e.g. 24 or 7.5)"
	}
	c.Framerate = f
	return ""
}

func setFloatPtr(p **float64, v string) string {
	f, ok := number(v)
	if !ok {
		return "must be a number, e.g. 0.25, 1, 3 or -5"
	}
	*p = &f
	return ""
}

func setBool(p *bool, v string) string {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		*p = true
	case "false", "0", "no", "off":
		*p = false
	default:
		return "takes no value, or one of true, false, 1, 0, yes, no, on, off"
	}
	return ""
}

// resolvePath makes a path absolute against base, or against the current
// folder when base is "", so the value does not change meaning if the
// program changes folder.
func resolvePath(p, base string) (string, string) {
	if filepath.IsAbs(p) {
		return filepath.Clean(p), ""
	}
	if base != "" {
		return filepath.Join(base, p), ""
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", "cannot make the path absolute: " + err.Error()
	}
	return abs, ""
}

func setLogFile(c *Config, v, base string) string {
	c.LogFileSet = true
	if v == "" || v == "none" {
		c.LogFile = ""
		return ""
	}
	if strings.HasSuffix(v, "/") || v == "." || v == ".." {
		return "must name a file, not a folder"
	}
	p, reason := resolvePath(v, base)
	if reason != "" {
		return reason
	}
	c.LogFile = p
	return ""
}

func setDSF(c *Config, v, base string) string {
	if v == "none" || v == "off" {
		c.DSFSocket = ""
		return ""
	}
	if v == "" || strings.HasSuffix(v, "/") {
		return "must be the path of DSF's socket (e.g. /run/dsf/dcs.sock) or none"
	}
	p, reason := resolvePath(v, base)
	if reason != "" {
		return reason
	}
	c.DSFSocket = p
	return ""
}

func setSource(c *Config, v, base string) string {
	kind, path, isFile := strings.Cut(strings.TrimSpace(v), ":")
	switch kind = strings.ToLower(kind); {
	case (kind == "camera" || kind == "test") && !isFile:
		c.Source = Source{Kind: kind}
		return ""
	case kind == "file" && isFile:
		// file:///abs/path, as a file URL, means /abs/path.
		if strings.HasPrefix(path, "///") {
			path = path[2:]
		}
		if path == "" {
			return "file: needs a path to a folder of JPEGs or an MJPEG file, e.g. file:/home/pi/frames"
		}
		p, reason := resolvePath(path, base)
		if reason != "" {
			return reason
		}
		c.Source = Source{Kind: "file", Path: p}
		return ""
	}
	return "must be camera, test or file:PATH"
}

func setFlip(c *Config, v, _ string) string {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "none":
		c.Flip = ""
	case "h", "horizontal":
		c.Flip = "h"
	case "v", "vertical":
		c.Flip = "v"
	case "hv", "vh", "both":
		c.Flip = "hv"
	default:
		return "must be h (horizontal), v (vertical), hv (both) or none"
	}
	return ""
}

func setUser(c *Config, v, _ string) string {
	// RFC 7617: the user-id is what comes before the first colon.
	if strings.Contains(v, ":") {
		return "must not contain ':' (basic auth cannot carry it)"
	}
	c.User = v
	return ""
}

// MinTokenLength is the shortest -token: 16 characters of the 66 allowed
// are about 96 bits, beyond guessing over a printer's network.
const MinTokenLength = 16

// maxTokenLength keeps a token URL short enough to copy and to fit
// httpapi.MaxURLLength with room to spare.
const maxTokenLength = 256

// setToken accepts only the characters a URL carries as they are
// (RFC 3986's unreserved ones), so that the token can be pasted into a URL
// without escaping, and a URL copied from the log or the DWC tab works.
// The reason never repeats the value: it is a secret.
func setToken(c *Config, v, _ string) string {
	const want = "must be at least 16 characters of letters, digits and - . _ ~ (no spaces; it is put into " +
		"URLs as it is), e.g. the output of: openssl rand -hex 16"
	switch {
	case len(v) < MinTokenLength:
		return want + "; this one is shorter"
	case len(v) > maxTokenLength:
		return fmt.Sprintf("%s; this one is longer than %d characters", want, maxTokenLength)
	case strings.ContainsFunc(v, unicode.IsSpace):
		return want + "; this one has a space (quote nothing: the token is one word)"
	case strings.ContainsFunc(v, func(r rune) bool { return !unreserved(r) }):
		return want + "; this one has another character"
	}
	c.Token = v
	return ""
}

func unreserved(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~'
}

func setAllowOrigin(c *Config, v, _ string) string {
	v = strings.TrimSpace(v)
	if v == "" || v == "*" || strings.EqualFold(v, "none") {
		// "none": no cross-origin reads even of a port without auth,
		// whose pictures are otherwise readable by any page (SECURITY.md).
		c.AllowOrigin = strings.ToLower(v)
		return ""
	}
	const want = "must be *, none or an origin such as http://duet.local or https://192.168.1.10:8080"
	u, err := url.Parse(v)
	if err != nil {
		return want
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" || u.Opaque != "" || u.User != nil {
		return want
	}
	// A browser's Origin header has no path; a trailing slash is a common
	// way to write the same origin.
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" ||
		strings.Contains(v, "#") {
		return want + " (an origin has no path)"
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
		return want
	}
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return want
		}
	}
	c.AllowOrigin = scheme + "://" + strings.ToLower(u.Host)
	return ""
}

// addControl appends one -control name=value. Whether the camera has that
// control, and its range, is only known once the camera is open.
func addControl(c *Config, v, _ string) string {
	name, value, ok := strings.Cut(v, "=")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" || value == "" {
		return "want name=value, e.g. -control brightness=128 or -control focus_automatic_continuous=off"
	}
	c.Controls = append(c.Controls, Control{Name: name, Value: value})
	return ""
}

func setAuth(c *Config, v, _ string) string {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "none":
		c.Auth = "none"
	case "basic":
		c.Auth = "basic"
	default:
		return "must be none (no user name and password and no token, on purpose) or basic (-user and -password are required)"
	}
	return ""
}

// addAllowedHosts appends the host names of one -allowhost. Each is what
// a browser puts in the Host header without the port, so anything with a
// scheme, a port, a path or a wildcard would never match and is refused
// rather than silently locking everyone out.
func addAllowedHosts(c *Config, v, _ string) string {
	const want = "must be host names separated by commas, e.g. printer.local,duet3 (no http://, no port)"
	if strings.TrimSpace(v) == "" {
		return want
	}
	for _, name := range strings.Split(v, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		switch {
		case name == "":
			return want + "; an empty name between commas"
		case strings.Contains(name, "://"):
			return want + "; " + show(name) + " has a scheme"
		case strings.ContainsFunc(name, unicode.IsSpace):
			return want + "; " + show(name) + " has a space (separate names with commas)"
		case name == "*":
		case strings.Contains(name, "*"):
			return want + "; only a lone * (any host) is understood, not " + show(name)
		case strings.Contains(name, "/"):
			return want + "; " + show(name) + " has a path"
		default:
			if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
				// Addresses are always allowed; listing one is harmless.
				name = strings.Trim(name, "[]")
				break
			}
			if h, _, err := net.SplitHostPort(name); err == nil && h != "" {
				return want + "; " + show(name) + " has a port"
			}
			if !validHostname(name) {
				return want + "; " + show(name) + " is not a host name"
			}
			name = strings.TrimSuffix(name, ".")
		}
		if !slices.Contains(c.AllowedHosts, name) {
			c.AllowedHosts = append(c.AllowedHosts, name)
		}
	}
	return ""
}
