package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const secret = "Zq7-S3cr3t.pw"

// secretLines are ways a line can carry the password, written as people
// and broken saves write them. Some are valid, most are mistakes; the
// mistakes' errors are what /status, the log and DWC's console show.
var secretLines = []string{
	"-password " + secret,
	"-password=" + secret,
	`"-password ` + secret + `"`,
	`'-password ` + secret + `'`,
	"-password '" + secret + "'",
	"-password '" + secret,
	`-password "` + secret,
	"-password " + secret + " extra",
	"-password " + secret + "\x01",
	"-password " + secret + "\xff",
	"-passwordS3cr" + secret,
	"-password" + secret,
	"-pasword " + secret,
	`"-pasword ` + secret + `"`,
	"-Password=" + secret,
	"-PASSWORD" + secret,
	"-pw " + secret,
	"-pw=" + secret,
	"—password " + secret,
	`"—password ` + secret + `"`,
	"password " + secret,
	`"password ` + secret + `"`,
	secret,
	`"` + secret + `"`,
	"-user admin " + secret,
	"-user admin:" + secret,
	"-user=admin:" + secret,
	"-allow-origin http://admin:" + secret + "@duet.local",
	"-port 8090 " + secret,
	"-verbose " + secret,
	"-rotate 90 " + secret,
	"-token " + secret,
	"-token=" + secret,
	`"-token ` + secret + `"`,
	"-token '" + secret,
	"-token " + secret + " extra",
	"-token " + secret + "&x",
	"-token" + secret,
	"-tokn " + secret,
	"-tokenS3cr" + secret,
	"-access-token " + secret,
}

// No error text repeats a password or anything after it, however the line
// is broken. The file's other lines are valid, so the error (if any) is
// about this line.
func TestSecretNeverInFileErrors(t *testing.T) {
	for _, line := range secretLines {
		for _, content := range []string{
			line + "\n",
			"-user admin\n" + line + "\n",
			"-port 8090\n" + line + "\n-source test\n",
		} {
			c, err := parseAsFile(testFile, []byte(content))
			if err != nil && strings.Contains(err.Error(), "S3cr") {
				t.Errorf("%q: the error shows the password: %v", content, err)
			}
			if c != nil {
				for _, w := range c.Warnings {
					if strings.Contains(w, "S3cr") {
						t.Errorf("%q: a warning shows the password: %s", content, w)
					}
				}
			}
		}
	}
}

func TestSecretNeverInCommandLineErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-user", "admin", secret},
		{"-user", "admin:" + secret, "-password", "x"},
		{"-passwordS3cr" + secret},
		{"-password" + secret},
		{"-pw", secret},
		{secret},
		{"-verbose", secret},
		{"-allow-origin", "http://a:" + secret + "@duet.local"},
		{"-token", secret},
		{"-token", secret + "0123456789", "-token", "x"},
		{"-token", "with space " + secret},
		{"-tokn", secret},
	} {
		if _, _, err := Parse(args); err != nil && strings.Contains(err.Error(), "S3cr") {
			t.Errorf("%q: the error shows the password: %v", args, err)
		}
	}
}

// A config path that leads to another file (a symlink to /etc/shadow, a
// wrong -file) must not have that file's lines shown: /status shows the
// error to anyone who can reach the port.
func TestOtherFilesContentIsNotShown(t *testing.T) {
	for _, content := range []string{
		"root:$y$j9T$Zq7S3cr3tHash:19000:0:99999:7:::\n",
		"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n",
		"machine printer login admin password Zq7S3cr3t\n",
		"[Unit]\nDescription=Zq7S3cr3t\n",
		"{\"token\": \"Zq7S3cr3t\"}\n",
		"export API_KEY=Zq7S3cr3t\n",
		"-----Zq7S3cr3t\n",
	} {
		_, err := parseAsFile(testFile, []byte(content))
		if err == nil {
			t.Errorf("%q parsed as a config", content)
			continue
		}
		msg := strings.TrimPrefix(err.Error(), testFile)
		if strings.Contains(msg, "Zq7") || strings.Contains(msg, "root") || strings.Contains(msg, "BEGIN") ||
			strings.Contains(msg, "machine") || strings.Contains(msg, "Unit") || strings.Contains(msg, "token") ||
			strings.Contains(msg, "API") {
			t.Errorf("%q: the error repeats the file's content: %v", content, err)
		}
		if !strings.HasPrefix(msg, ":1: ") {
			t.Errorf("%q: the error does not name line 1: %v", content, err)
		}
	}
}

// readWithin runs ReadFile and fails the test if it blocks: a FIFO opened
// without O_NONBLOCK waits for a writer for ever.
func readWithin(t *testing.T, path string) ([]byte, error) {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() { b, err := ReadFile(path); done <- result{b, err} }()
	select {
	case r := <-done:
		return r.b, r.err
	case <-time.After(2 * time.Second):
		// Unblock the open, so the goroutine ends with the test.
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		t.Fatalf("ReadFile(%s) still blocks after 2 s", path)
		return nil, nil
	}
}

// Only regular files are read; a FIFO, a device or a huge file is an error
// at once, not a hang or a 100 MB read.
func TestReadFileRefusesOddFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.config")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.config")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	null := filepath.Join(dir, "null.config")
	if err := os.Symlink("/dev/null", null); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.config")
	if err := os.WriteFile(huge, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 100<<20); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		fifo: "is a named pipe (FIFO), not a config file",
		zero: "is a device, not a config file",
		null: "is a device, not a config file",
		dir:  "is a folder, not a config file",
		huge: "is larger than 1024 KiB, too large for a config file (wrong file?)",
	} {
		start := time.Now()
		b, err := readWithin(t, path)
		if err == nil || err.Error() != path+": "+want {
			t.Errorf("ReadFile(%s) = %d bytes, %v; want %q", path, len(b), err, want)
		}
		if took := time.Since(start); took > 100*time.Millisecond {
			t.Errorf("ReadFile(%s) took %v", path, took)
		}
	}
	if _, err := readWithin(t, fifo); !errors.Is(err, ErrNotRegular) {
		t.Errorf("FIFO: %v does not wrap ErrNotRegular", err)
	}
	// A symlink to a regular file is that file.
	real := filepath.Join(dir, "real.config")
	os.WriteFile(real, []byte("-port 8090\n"), 0o644)
	link := filepath.Join(dir, "link.config")
	os.Symlink(real, link)
	if b, err := readWithin(t, link); err != nil || string(b) != "-port 8090\n" {
		t.Errorf("symlink to a regular file: %q %v", b, err)
	}
}

// Parse goes through ReadFile, so -file naming a FIFO is an error too.
func TestParseFIFOConfigDoesNotBlock(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "usbStream.config")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, _, err := Parse([]string{"-file", fifo}); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "named pipe") {
			t.Fatalf("got %v", err)
		}
	case <-time.After(2 * time.Second):
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		t.Fatal("Parse blocks on a FIFO config file")
	}
}

const logKinds = "the log is only written to a regular file, a character device such as /dev/null, or none"

// A log written into the config file makes every line a save, and every
// save a reload that logs a line: refused however the two are the same.
func TestLogFileThatIsTheConfigIsRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "usbStream.config")
	hard := filepath.Join(dir, "hard.log")
	sym := filepath.Join(dir, "sym.log")
	os.WriteFile(cfg, []byte("-source test\n"), 0o644)
	if err := os.Link(cfg, hard); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(cfg, sym); err != nil {
		t.Fatal(err)
	}
	os.Symlink(cfg, filepath.Join(dir, "rotated.log.1"))
	// A symlink to a config that is not there yet: opening the log would
	// create it.
	os.Symlink(filepath.Join(dir, "later.config"), filepath.Join(dir, "dangling.log"))
	fifo := filepath.Join(dir, "fifo.log")
	syscall.Mkfifo(fifo, 0o644)
	for value, want := range map[string]string{
		"usbStream.config":   "is the config file itself",
		"./usbStream.config": "is the config file itself",
		cfg:                  "is the config file itself",
		"hard.log":           "is the config file itself",
		"sym.log":            "is the config file itself",
		"rotated.log":        "is the config file itself",
		cfg + ".bak":         "", // a different name
		"fifo.log":           "is a named pipe (FIFO): " + logKinds,
		"/dev/null":          "",
		dir:                  "is a folder: " + logKinds,
		"usbStream.log":      "",
		"none":               "",
	} {
		content := "-source test\n-logfile " + value + "\n"
		_, err := ParseWithFileContent([]string{"-file", cfg}, []byte(content))
		switch {
		case want == "" && err != nil:
			t.Errorf("-logfile %s: %v", value, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), cfg+":2: -logfile: "+want)):
			t.Errorf("-logfile %s: got %v, want %q", value, err, want)
		}
	}
	later := filepath.Join(dir, "later.config")
	if _, err := ParseWithFileContent([]string{"-file", later}, []byte("-logfile dangling.log\n")); err == nil ||
		!strings.Contains(err.Error(), "is the config file itself") {
		t.Errorf("-logfile a dangling symlink to the config: %v", err)
	}
	// On the command line it is the same mistake, and exit status 2.
	if _, _, err := Parse([]string{"-file", cfg, "-logfile", hard}); err == nil ||
		!strings.Contains(err.Error(), "command line: -logfile: is the config file itself") {
		t.Errorf("command line: %v", err)
	}
}
