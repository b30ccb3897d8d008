// Package config reads usbStream's options from the command line and from a
// config file, in the syntax of the original Python usbStream so that
// existing files and plugin settings keep working.
//
// # Syntax
//
// A config file holds the same options as the command line, normally one
// "-option value" per line. Lines are split like Python's shlex, as the
// original did: 'single quotes' keep everything literally, "double quotes"
// allow \" and \\, and outside quotes a backslash escapes the next
// character. A token that starts with "-#" or "#" (outside quotes) starts a
// comment that runs to the end of the line, so both the original's
// "-# text" comment lines and its documented "-port 8090   #note" work,
// while a # inside a word or inside quotes is part of the value
// ("-password a#b"). Blank lines, a UTF-8 byte order mark and CRLF line
// ends are accepted. "--option" is the same as "-option", and
// "-option=value" the same as "-option value". A value that looks like a
// negative number ("-camera -1") is a value; any other value that starts
// with "-" must be written "-option=-value" (or quoted, in a file).
// Several options on one line are accepted because the original split the
// whole file as one command line.
//
// # Precedence
//
// The command line is read from left to right and "-file PATH" reads the
// file at the position where it appears. So an option after -file on the
// command line overrides the file ("usbStream -file my.config -port 9000"),
// and one before -file is overridden by the file. Within one file, and
// within the command line, an option may be given only once. -size and
// -resolution both choose the frame size: together in one place they are
// an error, and a later place's choice replaces an earlier place's.
// Relative paths on the command line are relative to the current folder,
// relative paths in a file (-logfile, -source file:PATH) to the file's
// folder.
//
// # Reloading
//
// The config is a function of the command-line arguments and the file's
// content. Parse(args) returns the content it read with the configuration,
// for the watcher to compare saves with; a reload keeps the original
// arguments and parses them again with ParseWithFileContent(args, content),
// content being the save the watcher read (ReadFile), in the file's place.
// The command line's overrides then apply exactly as at start. A reload
// that fails returns an error and the caller keeps its previous *Config;
// Diff(prev, next) says which options changed and what applying each takes
// (each option's Reload class is in the option table, options.go).
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// MaxFileSize bounds a config file: a real one is a few hundred bytes, so a
// larger file is the wrong file and must not be read into memory whole.
const MaxFileSize = 1 << 20

// Config is the validated configuration. Values are normalised: callers can
// compare them directly (Format is the canonical upper-case name, Camera is
// "" for automatic, paths are absolute).
type Config struct {
	Port            int        // -port, 1..65535
	Host            string     // -host, an IP address (without brackets) or a host name
	HostSet         bool       // -host was given (so the default 0.0.0.0 was chosen, not fallen back to)
	Camera          string     // -camera: "" automatic, "0".."63" an index, "/..." a device path, else a case-insensitive name substring
	Rotate          int        // -rotate: 0, 90, 180 or 270
	Flip            string     // -flip: "", "h", "v" or "hv"
	Size            int        // -size: index into SizeTable, -1 when not set
	Resolution      Resolution // -resolution: zero when not set; never set together with Size
	Format          string     // -format: canonical upper-case name (MJPG, JPEG, YUYV, BGR3, RGB3, NV12, YU12, GREY, H264)
	Framerate       float64    // -framerate: > 0 and <= 240
	ManExp          *float64   // -manexp: nil when not given
	Exposure        *float64   // -exposure: nil when not given
	Verbose         bool       // -verbose
	LogFile         string     // -logfile: absolute path, "" for stderr only
	LogFileSet      bool       // -logfile was given (so "" means "none", not "no default here")
	Source          Source     // -source
	Quality         int        // -quality: 1..100
	User            string     // -user: basic auth; set exactly when Password is set
	Password        string     // -password
	Token           string     // -token: the access token for URLs as given, "" for none (see AccessToken)
	Auth            string     // -auth: "" not given, "none" (no basic auth and no token, said on purpose; never with User or Token) or "basic" (User is set)
	AllowedHosts    []string   // -allowhost: host names (lower case, no port) a request's Host may name; empty: any
	AllowOrigin     string     // -allow-origin: "", "*", "none" or "scheme://host[:port]" in lower case
	Controls        []Control  // -control name=value settings for the camera, in order
	DSFSocket       string     // -dsf: DuetControlServer's socket, "" to never connect to DSF
	MaxClients      int        // -maxclients: streams and snapshots served at once
	MaxClientsPerIP int        // -maxclientsperip: the same from one address; 0: no limit
	File            string     // absolute path of the config file read with -file, "" if none
	Warnings        []string   // non-fatal remarks to log at start, each naming where the option was given
	ShowVersion     bool       // -version (command line only)
	ListCameras     bool       // -list (command line only)
}

// Resolution is a frame size in pixels.
type Resolution struct{ Width, Height int }

func (r Resolution) String() string { return fmt.Sprintf("%dx%d", r.Width, r.Height) }

// IsZero reports whether no size was chosen.
func (r Resolution) IsZero() bool { return r.Width == 0 && r.Height == 0 }

// Control is one -control setting: a camera control's name (as v4l2-ctl
// prints it, or its display name) and a value (a number, a menu entry's
// name, or on/off).
type Control struct{ Name, Value string }

// Source says where frames come from.
type Source struct {
	Kind string // "camera", "test" or "file"
	Path string // absolute path, only for "file"
}

func (s Source) String() string {
	if s.Kind == "file" {
		return "file:" + s.Path
	}
	return s.Kind
}

// SizeTable is the original's documented -size table. Its code had 1920x1080
// inserted after index 2, but users read the documentation, so that is what
// -size indexes; index 2 (1920x1800) exists on no camera and falls back to
// the next lower size the camera has, 1920x1080 on real cameras.
var SizeTable = [9]Resolution{{3280, 2464}, {2048, 1080}, {1920, 1800}, {1640, 1232}, {1280, 720},
	{800, 600}, {720, 480}, {640, 480}, {320, 240}}

// DefaultMaxClients bounds the clients served at once: a Raspberry Pi's
// network and memory run out long before, so more are refused with a clear
// answer rather than slowing everyone.
const DefaultMaxClients = 100

// ErrHelp is wrapped by the error Parse returns for -h, -help or --help.
var ErrHelp = errors.New("help requested")

// Default returns the configuration used for options that are not given.
func Default() Config {
	return Config{
		Port:       8085,
		Host:       "0.0.0.0",
		Size:       -1,
		Format:     "MJPG",
		Framerate:  24,
		LogFile:    defaultLogFile(dsfSysDir),
		Source:     Source{Kind: "camera"},
		Quality:    85,
		DSFSocket:  "/run/dsf/dcs.sock",
		MaxClients: DefaultMaxClients,
	}
}

// dsfSysDir is where DSF keeps the printer's 0:/sys folder on the SBC.
const dsfSysDir = "/opt/dsf/sd/sys"

// DefaultDSFLogFile is the default log file on a DSF machine; when DSF
// resolves 0:/sys elsewhere, the log follows it.
const DefaultDSFLogFile = dsfSysDir + "/usbStream/usbStream.log"

// defaultLogFile is the original usbStream's default log file, used only on
// a machine that runs DSF: elsewhere that folder does not exist and creating
// /opt/dsf would surprise a standalone user, so the log goes to stderr.
func defaultLogFile(sysDir string) string {
	if st, err := os.Stat(sysDir); err == nil && st.IsDir() {
		return filepath.Join(sysDir, "usbStream", "usbStream.log")
	}
	return ""
}

// Error is every error this package returns. File is "" for the command
// line; Line is 0 for the command line and for problems with the file as a
// whole (not found, too large).
type Error struct {
	File   string
	Line   int
	Option string // canonical spelling, e.g. "-rotate"; "" when the problem is not one option's
	Value  string // the offending value as written; never a password
	Reason string
	Err    error // the underlying cause (an OS error, ErrHelp), for errors.Is
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File == "":
		b.WriteString("command line")
	case e.Line > 0:
		fmt.Fprintf(&b, "%s:%d", e.File, e.Line)
	default:
		b.WriteString(e.File)
	}
	b.WriteString(": ")
	if e.Option != "" || e.Value != "" {
		if e.Option != "" {
			b.WriteString(showName(e.Option))
		}
		if e.Value != "" {
			if e.Option != "" {
				b.WriteByte(' ')
			}
			b.WriteString(show(e.Value))
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// show makes a value readable in a message: quoted when it is empty or has
// characters a reader could not see or tell apart, and shortened when long
// (a binary or wrong file can have very long "words").
func show(s string) string {
	const max = 60
	n := 0
	for i := range s {
		if n == max {
			s = s[:i] + "..."
			break
		}
		n++
	}
	if s == "" || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
		return !strconv.IsGraphic(r) || r == ' ' || r == '"' || r == '\'' || r == '\\'
	}) {
		return strconv.Quote(s)
	}
	return s
}

// showName shows an option name as written: plain, unless it is one a
// reader could not see or that is too long to be a name (a wrong file).
func showName(s string) string {
	if len(s) <= 40 && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return !strconv.IsGraphic(r) || r == ' '
	}) {
		return s
	}
	return show(s)
}

// Parse parses the command-line arguments (without the program name),
// reading the file named by -file at the position where -file appears.
// Errors are *Error; -h, -help and --help give an *Error wrapping ErrHelp.
// content is what was read from the file, also when it has an error (nil
// when there is no -file or the file could not be read), so that whoever
// watches the file knows exactly which content the configuration, or the
// error, came from.
func Parse(args []string) (cfg *Config, content []byte, err error) {
	cfg, err = parseArgs(args, func(path string) ([]byte, error) {
		c, err := ReadFile(path)
		content = c
		return c, err
	}, false)
	return cfg, content, err
}

// ParseWithFileContent is Parse with content standing in for the file that
// -file names, which is not read. It is for reloading: the caller read the
// file once (with ReadFile) and parses exactly what it read. args must
// contain -file.
func ParseWithFileContent(args []string, content []byte) (*Config, error) {
	return parseArgs(args, func(string) ([]byte, error) { return content, nil }, true)
}

// ReadFile reads a config file with the checks Parse applies: it must be a
// regular file of at most MaxFileSize bytes. Errors are *Error wrapping the
// OS error, so errors.Is(err, fs.ErrNotExist) works.
//
// Opening a FIFO blocks until someone writes to it, and reading a device
// such as /dev/zero never ends; either would stop the watcher (and with it
// SIGTERM) for good. So the file's kind is checked before the open, the
// open does not block (O_NONBLOCK), and the kind is checked again on what
// was opened, in case the path was replaced in between.
func ReadFile(path string) ([]byte, error) {
	fail := func(reason string, err error) ([]byte, error) {
		return nil, &Error{File: path, Reason: reason, Err: err}
	}
	st, err := os.Stat(path)
	if err != nil {
		return fail("cannot read the config file: "+osReason(err), err)
	}
	if reason := notRegular(st.Mode()); reason != "" {
		return fail(reason+", not a config file", ErrNotRegular)
	}
	if st.Size() > MaxFileSize {
		return fail(tooLarge, ErrTooLarge)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return fail("cannot read the config file: "+osReason(err), err)
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return fail("cannot read the config file: "+osReason(err), err)
	}
	if reason := notRegular(st.Mode()); reason != "" {
		return fail(reason+", not a config file", ErrNotRegular)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return fail("cannot read the config file: "+osReason(err), err)
	}
	if len(data) > MaxFileSize {
		return fail(tooLarge, ErrTooLarge)
	}
	return data, nil
}

// ErrNotRegular and ErrTooLarge are wrapped by ReadFile's errors for a
// path that is not a regular file and for a file over MaxFileSize.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("file too large")
)

// notRegular names what a file that is not a regular file is, or "".
func notRegular(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return ""
	case m.IsDir():
		return "is a folder"
	case m&fs.ModeNamedPipe != 0:
		return "is a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "is a socket"
	case m&fs.ModeDevice != 0:
		return "is a device"
	}
	return "is not a regular file"
}

// logFileProblem says why the log must not be written at logPath, or "".
// A log that is the config file (by name, hard link or symlink), or whose
// rotation would rename onto it, makes every line a save of the config:
// a reload logs a line, which is another save, for ever.
func logFileProblem(logPath, configPath string) string {
	const loop = "is the config file itself (or a link to it): each log line would be a save and reload it; " +
		"choose another file or none"
	logSt, logErr := os.Stat(logPath)
	if configPath != "" {
		// By name, also through symlinks to a config that is not there yet
		// (the log's open would create it).
		target, cfgTarget := followLinks(logPath), followLinks(configPath)
		if target == cfgTarget || followLinks(logPath+".1") == cfgTarget {
			return loop
		}
		if cfgSt, err := os.Stat(configPath); err == nil {
			if logErr == nil && os.SameFile(logSt, cfgSt) {
				return loop
			}
			if st, err := os.Stat(logPath + ".1"); err == nil && os.SameFile(st, cfgSt) {
				return loop
			}
		}
	}
	// A character device (/dev/null, /dev/full, a terminal) takes writes
	// without blocking; a FIFO blocks the open until something reads it, and
	// then every log line (the whole program) while its reader is slow.
	if logErr == nil && !logSt.Mode().IsRegular() && logSt.Mode()&fs.ModeCharDevice == 0 {
		return notRegular(logSt.Mode()) + ": the log is only written to a regular file, a character device " +
			"such as /dev/null, or none"
	}
	return ""
}

// followLinks returns the path that p's symlinks lead to, as far as they
// can be followed, even when the last one points at nothing (yet).
func followLinks(p string) string {
	for range 16 {
		st, err := os.Lstat(p)
		if err != nil || st.Mode()&fs.ModeSymlink == 0 {
			break
		}
		t, err := os.Readlink(p)
		if err != nil {
			break
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(p), t)
		}
		p = filepath.Clean(t)
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		p = filepath.Join(dir, filepath.Base(p))
	}
	return p
}

// Blank reports whether content sets no option at all: it is empty or has
// only blank lines and comments. That is what an interrupted save or a
// truncated upload leaves, so a reload refuses it (see CheckReload).
func Blank(content []byte) bool {
	for _, line := range strings.Split(strings.TrimPrefix(string(content), bom), "\n") {
		sc := lineScanner{s: strings.TrimSuffix(line, "\r")}
		if _, ok, reason := sc.next(); ok || reason != "" {
			return false
		}
	}
	return true
}

// MentionsAuth reports whether content has a -user, -password, -token or -auth
// option, even if the file has an error elsewhere: a file that could not be
// applied may still show that its writer wanted credentials.
func MentionsAuth(content []byte) bool {
	for _, line := range strings.Split(strings.TrimPrefix(string(content), bom), "\n") {
		sc := lineScanner{s: strings.TrimSuffix(line, "\r")}
		for {
			tok, ok, reason := sc.next()
			if !ok || reason != "" {
				break
			}
			if !isOptionWord(tok.text) {
				continue
			}
			name, _, _ := splitOption(tok.text)
			if i := strings.IndexFunc(name, unicode.IsSpace); i >= 0 {
				name = name[:i] // quoted together with its value
			}
			if name == "user" || name == "password" || name == "token" || name == "auth" {
				return true
			}
		}
	}
	return false
}

// Running is what CheckReload needs to know of the configuration in force.
type Running struct {
	// FileHadOptions: it came from a file that set options (not a missing
	// or blank one).
	FileHadOptions bool
	// Auth: it has basic auth or a token, or the file that could not be
	// applied at start asked for one.
	Auth bool
	// TokenOnly: it is protected by a -token alone (no -user/-password).
	TokenOnly bool
	Host      string // the address it listens on
}

// CheckReload returns why next, parsed from content, must not replace the
// configuration in force although it has no error, or nil. A reload must
// not switch basic auth (or a -token alone) off, open the stream to more
// networks, or move the listener and the source to the defaults, only
// because the file lost its lines: an empty or comment-only file is
// refused, and so is one without credentials (-user and -password, or
// -token) unless it says -auth none, and one without -host when the
// running one listens on loopback only. Credentials and -host from the
// command line are part of next, so a file that loses its own still leaves
// those in force.
func CheckReload(running Running, next *Config, content []byte) error {
	if running.FileHadOptions && Blank(content) {
		return &Error{File: next.File, Reason: "has no options (it is empty or holds only comments), which is what " +
			"an interrupted save or upload leaves; to run on the built-in defaults, write -auth none or any option"}
	}
	if running.Auth && next.User == "" && next.Token == "" && next.Auth != "none" {
		if running.TokenOnly {
			return &Error{File: next.File, Reason: "has no -token (nor -user and -password), which would open the " +
				"stream to everyone (an interrupted save?); to switch protection off, write -auth none"}
		}
		return &Error{File: next.File, Reason: "has no -user and -password (nor -token), which would switch auth off " +
			"(an interrupted save?); to switch it off, write -auth none"}
	}
	if !next.HostSet && loopback(running.Host) && !loopback(next.Host) {
		return &Error{File: next.File, Reason: "has no -host, which would open the stream to every network instead of " +
			"this machine only (an interrupted save?); to listen on all interfaces, write -host " + next.Host}
	}
	return nil
}

// loopback reports whether host is a loopback address or localhost.
func loopback(host string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.IsLoopback()
	}
	return strings.EqualFold(strings.TrimSuffix(host, "."), "localhost")
}

var tooLarge = fmt.Sprintf("is larger than %d KiB, too large for a config file (wrong file?)", MaxFileSize>>10)

// osReason drops the path from an OS error: the message already starts
// with the path.
func osReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
