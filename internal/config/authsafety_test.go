package config

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestAuthOption(t *testing.T) {
	ok := []struct {
		name, content string
		args          []string
		user, auth    string
	}{
		{"none", "-auth none\n", nil, "", "none"},
		{"none in any case", "-auth NONE\n", nil, "", "none"},
		{"basic with credentials", "-auth basic\n-user u\n-password p\n", nil, "u", "basic"},
		{"the command line's credentials after the file's none win", "-auth none\n",
			[]string{"-user", "cu", "-password", "cp"}, "cu", ""},
		{"the command line's none after the file's credentials wins", "-user u\n-password p\n",
			[]string{"-auth", "none"}, "", "none"},
	}
	for _, tt := range ok {
		c, err := ParseWithFileContent(append([]string{"-file", testFile}, tt.args...), []byte(tt.content))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if c.User != tt.user || c.Auth != tt.auth || (c.User == "") != (c.Password == "") {
			t.Errorf("%s: user %q auth %q", tt.name, c.User, c.Auth)
		}
	}
	// Credentials before -file are overridden by the file's -auth none.
	c, err := ParseWithFileContent([]string{"-user", "u", "-password", "p", "-file", testFile}, []byte("-auth none\n"))
	if err != nil || c.User != "" || c.Password != "" {
		t.Errorf("credentials before -file, -auth none in it: %+v %v", c, err)
	}

	bad := []struct{ content, want string }{
		{"-auth none\n-user u\n-password p\n", "2: -user: cannot be used together with -auth none (line 1), which switches basic auth off"},
		{"-user u\n-password p\n-auth none\n", "3: -auth none: cannot be used together with -user (line 1): -auth none switches basic auth off"},
		{"-auth basic\n", "1: -auth basic: needs -user and -password"},
		{"-auth off\n", "1: -auth off: must be none (no user name and password and no token, on purpose) or basic (-user and -password are required)"},
		{"-auth none\n-auth none\n", "2: -auth: given twice (first on line 1)"},
	}
	for _, tt := range bad {
		_, err := parseAsFile(testFile, []byte(tt.content))
		if err == nil || err.Error() != testFile+":"+tt.want {
			t.Errorf("%q: got %v\nwant %s", tt.content, err, tt.want)
		}
	}
}

func TestAllowHostOption(t *testing.T) {
	c := parseContent(t, "-allowhost Printer.local,duet3\n-allowhost 'duet3, cam.example.org. ,192.168.1.5,[::1]'\n")
	if want := []string{"printer.local", "duet3", "cam.example.org", "192.168.1.5", "::1"}; !slices.Equal(c.AllowedHosts, want) {
		t.Errorf("AllowedHosts %q, want %q", c.AllowedHosts, want)
	}
	if c := parseContent(t, "-allowhost *\n"); !slices.Equal(c.AllowedHosts, []string{"*"}) {
		t.Errorf("-allowhost *: %q", c.AllowedHosts)
	}
	if c := parseContent(t, "-port 8090\n"); c.AllowedHosts != nil {
		t.Errorf("default %q, want none (any host)", c.AllowedHosts)
	}
	const want = "must be host names separated by commas, e.g. printer.local,duet3 (no http://, no port)"
	for content, reason := range map[string]string{
		"-allowhost http://printer.local": want + "; http://printer.local has a scheme",
		"-allowhost printer.local:8085":   want + "; printer.local:8085 has a port",
		"-allowhost 'printer local'":      want + `; "printer local" has a space (separate names with commas)`,
		"-allowhost printer.local/":       want + "; printer.local/ has a path",
		"-allowhost *.local":              want + "; only a lone * (any host) is understood, not *.local",
		"-allowhost a,,b":                 want + "; an empty name between commas",
		"-allowhost ''":                   want,
		"-allowhost duet_3":               want + "; duet_3 is not a host name",
	} {
		_, err := parseAsFile(testFile, []byte(content))
		if err == nil || !strings.HasSuffix(err.Error(), reason) || !strings.HasPrefix(err.Error(), testFile+":1: -allowhost") {
			t.Errorf("%q: got %v\nwant ...%s", content, err, reason)
		}
	}
}

func TestBlank(t *testing.T) {
	for _, content := range []string{"", "\n", "  \n\t\n", "\uFEFF", "\r\n\r\n", "-# only\n# comments\n   -# here",
		"\u00a0\n", "--# x\n"} {
		if !Blank([]byte(content)) {
			t.Errorf("%q is not blank", content)
		}
	}
	for _, content := range []string{"-port 8090", "-# c\n-verbose", "x", "'unterminated", "-auth none", "\"-#\""} {
		if Blank([]byte(content)) {
			t.Errorf("%q is blank", content)
		}
	}
}

// Every way a file can lose its auth lines, applied to a running
// configuration that has them: each is refused, or an error, and none
// leaves a configuration without auth. Only -auth none switches it off.
func TestCheckReloadKeepsAuth(t *testing.T) {
	const good = "-port 9000\n-host 127.0.0.1\n-source test\n-user lapse\n-password pw\n"
	args := []string{"-file", testFile}
	prev, err := ParseWithFileContent(args, []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	hadAuth := prev.User != ""
	for name, content := range map[string]string{
		"emptied":                    "",
		"whitespace":                 " \n\t\n\n",
		"comments only":              "-# usbStream\n# nothing else\n",
		"BOM only":                   "\uFEFF",
		"-user line deleted":         "-port 9000\n-host 127.0.0.1\n-source test\n-password pw\n",
		"-password line deleted":     "-port 9000\n-host 127.0.0.1\n-source test\n-user lapse\n",
		"both commented out":         "-port 9000\n-host 127.0.0.1\n-source test\n-# -user lapse\n-# -password pw\n",
		"both deleted":               "-port 9000\n-host 127.0.0.1\n-source test\n",
		"truncated mid-file":         good[:20],
		"truncated in the -user":     good[:strings.Index(good, "-user")+3],
		"truncated after the -user":  good[:strings.Index(good, "-password")],
		"truncated before auth":      good[:strings.Index(good, "-user")],
		"replaced by another file":   "[Unit]\nDescription=x\n",
		"auth basic without users":   "-auth basic\n-port 9000\n",
		"auth none with credentials": "-auth none\n-user lapse\n-password pw\n",
	} {
		next, err := ParseWithFileContent(args, []byte(content))
		if err == nil {
			err = CheckReload(Running{FileHadOptions: true, Auth: hadAuth, Host: prev.Host}, next, []byte(content))
		}
		if err == nil {
			t.Errorf("%s: applied, with user %q", name, next.User)
		} else if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "lapse") {
			t.Errorf("%s: the error shows a credential: %v", name, err)
		}
	}
	// Said on purpose, auth goes.
	none := []byte("-port 9000\n-auth none\n")
	next, err := ParseWithFileContent(args, none)
	if err != nil || CheckReload(Running{FileHadOptions: true, Auth: hadAuth, Host: "0.0.0.0"}, next, none) != nil || next.User != "" {
		t.Fatalf("-auth none: %+v %v", next, err)
	}
	// Credentials from the command line are part of the reloaded
	// configuration: a file that loses its own keeps them in force.
	cl := []string{"-user", "cli", "-password", "clipw", "-file", testFile}
	for _, content := range []string{"-port 9000\n", "-port 9000\n-# -user lapse\n"} {
		next, err := ParseWithFileContent(cl, []byte(content))
		if err != nil || CheckReload(Running{FileHadOptions: true, Auth: true, Host: "0.0.0.0"}, next, []byte(content)) != nil || next.User != "cli" {
			t.Errorf("%q with credentials on the command line: %+v %v", content, next, err)
		}
	}
	// Without auth in force, and without a file that had options (it was
	// missing at start), a blank file is the defaults.
	blank, _ := ParseWithFileContent(args, nil)
	if err := CheckReload(Running{Host: "0.0.0.0"}, blank, nil); err != nil {
		t.Errorf("a blank file after a missing one: %v", err)
	}
	if err := CheckReload(Running{FileHadOptions: true, Host: "0.0.0.0"}, blank, []byte("\n")); err == nil ||
		err.Error() != testFile+": has no options (it is empty or holds only comments), which is what an interrupted "+
			"save or upload leaves; to run on the built-in defaults, write -auth none or any option" {
		t.Errorf("blank after a file with options: %v", err)
	}
}

func TestMentionsAuth(t *testing.T) {
	for content, want := range map[string]bool{
		"-user u\n-rotate 45\n":        true,
		"-port 1\n--password=x\n":      true,
		"'-password pw'\n":             true,
		"-auth none\n":                 true,
		"-port 1\n-# -user u\n":        false,
		"-camera 'user'\n-rotate 45\n": false,
		"":                             false,
	} {
		if got := MentionsAuth([]byte(content)); got != want {
			t.Errorf("MentionsAuth(%q) = %v", content, got)
		}
	}
}

// The commented default config that ships in the plugin parses, and tells
// how to switch auth off on purpose, how to list host names and what the
// token is for.
func TestShippedConfigDocumentsAuthAndAllowHost(t *testing.T) {
	path := "../../sd/sys/usbStream/usbStream.config"
	c, _, err := Parse([]string{"-file", path})
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "" || c.Token != "" || c.Auth != "" || c.AllowedHosts != nil {
		t.Errorf("the shipped file sets auth or hosts: %+v", c)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{"-# -auth none", "-# -allowhost ", "-# -token ", "?token="} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the shipped config has no %q line", want)
		}
	}
}

// A file that loses its -host line must not open a loopback-only stream to
// every network; one that says -host 0.0.0.0 may, and a -host on the
// command line stays in force whatever the file loses.
func TestCheckReloadKeepsLoopback(t *testing.T) {
	args := []string{"-file", testFile}
	running := Running{FileHadOptions: true, Host: "127.0.0.1"}
	for content, refused := range map[string]bool{
		"-port 9000\n":                 true,
		"-port 9000\n-# -host ::1\n":   true,
		"-host 0.0.0.0\n-port 9000\n":  false,
		"-host ::\n":                   false,
		"-host localhost\n-port 9\n":   false,
		"-host 192.168.1.5\n-port 9\n": false,
	} {
		next, err := ParseWithFileContent(args, []byte(content))
		if err != nil {
			t.Fatal(err)
		}
		err = CheckReload(running, next, []byte(content))
		if (err != nil) != refused {
			t.Errorf("%q: %v", content, err)
		}
	}
	next, _ := ParseWithFileContent([]string{"-host", "127.0.0.1", "-file", testFile}, []byte("-port 9000\n"))
	if err := CheckReload(running, next, nil); err != nil && !strings.Contains(err.Error(), "no options") {
		t.Errorf("-host on the command line: %v", err)
	}
	if err := CheckReload(running, next, []byte("-port 9000\n")); err != nil {
		t.Errorf("-host on the command line: %v", err)
	}
}
