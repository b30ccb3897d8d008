package config

import (
	"regexp"
	"strings"
	"testing"
)

const goodToken = "Tk9-abcdefgh.ijkl_mnop~q"

func TestTokenOption(t *testing.T) {
	c := parseContent(t, "-token "+goodToken+"\n")
	if c.Token != goodToken || c.AccessToken() != goodToken || !c.Protected() || c.User != "" {
		t.Errorf("-token: %+v", c)
	}
	// The shortest accepted, and the characters a URL carries as they are.
	if c := parseContent(t, "-token 0123456789abcdef\n"); c.Token != "0123456789abcdef" {
		t.Errorf("16 characters: %q", c.Token)
	}
	want := "must be at least 16 characters of letters, digits and - . _ ~ (no spaces; it is put into URLs as it is), " +
		"e.g. the output of: openssl rand -hex 16; this one "
	for content, why := range map[string]string{
		"-token 0123456789abcde\n":                  "is shorter",
		"-token ''\n":                               "is shorter",
		"-token '0123456789 abcdef'\n":              "has a space (quote nothing: the token is one word)",
		"-token 0123456789abcdef&x\n":               "has another character",
		"-token 0123456789abcdef%41\n":              "has another character",
		"-token 0123456789abcdéf\n":                 "has another character",
		"-token " + strings.Repeat("a", 257) + "\n": "is longer than 256 characters",
	} {
		_, err := parseAsFile(testFile, []byte(content))
		prefix := ""
		if strings.HasPrefix(why, "is shorter") && strings.Contains(content, "''") {
			prefix = "empty value; "
		}
		if err == nil || err.Error() != testFile+":1: -token: "+prefix+want+why {
			t.Errorf("%q: got %v\nwant %s", content, err, testFile+":1: -token: "+prefix+want+why)
		}
	}
	if _, err := parseAsFile(testFile, []byte("-token "+goodToken+"\n-token "+goodToken+"\n")); err == nil ||
		err.Error() != testFile+":2: -token: given twice (first on line 1)" {
		t.Errorf("twice: %v", err)
	}
	// On the command line too, naming the argument.
	if _, _, err := Parse([]string{"-token", "short"}); err == nil || !strings.Contains(err.Error(), "-token: must be at least 16") {
		t.Errorf("command line: %v", err)
	}
	if !strings.Contains(Usage(), "-token T") {
		t.Error("-h does not describe -token")
	}
}

// -auth none is "no protection, on purpose": it cannot stand beside a
// -token in one place, and a later place's choice replaces an earlier one's.
func TestTokenAndAuthNone(t *testing.T) {
	for content, want := range map[string]string{
		"-auth none\n-token " + goodToken + "\n": "2: -token: cannot be used together with -auth none (line 1), which switches the token off",
		"-token " + goodToken + "\n-auth none\n": "2: -auth none: cannot be used together with -token (line 1): -auth none switches the token off",
	} {
		_, err := parseAsFile(testFile, []byte(content))
		if err == nil || err.Error() != testFile+":"+want {
			t.Errorf("%q: got %v\nwant %s", content, err, want)
		}
	}
	c, err := ParseWithFileContent([]string{"-file", testFile, "-auth", "none"}, []byte("-token "+goodToken+"\n"))
	if err != nil || c.Token != "" || c.Protected() {
		t.Errorf("the command line's -auth none after the file's -token: %+v %v", c, err)
	}
	c, err = ParseWithFileContent([]string{"-file", testFile, "-token", goodToken}, []byte("-auth none\n"))
	if err != nil || c.Token != goodToken || c.Auth != "" {
		t.Errorf("the command line's -token after the file's -auth none: %+v %v", c, err)
	}
	if !MentionsAuth([]byte("-port 1\n-token " + goodToken + "\n")) {
		t.Error("MentionsAuth misses -token")
	}
}

// A reload that loses the -token of a port it alone protects is refused
// as one that loses -user/-password is; one that keeps a -token while
// losing the user and password still protects the port.
func TestReloadKeepsTokenProtection(t *testing.T) {
	open := parseContent(t, "-source test\n")
	err := CheckReload(Running{FileHadOptions: true, Auth: true, TokenOnly: true}, open, []byte("-source test\n"))
	if err == nil || !strings.Contains(err.Error(), "has no -token (nor -user and -password), which would open the stream to everyone") {
		t.Errorf("losing the token: %v", err)
	}
	tokenOnly := parseContent(t, "-token "+goodToken+"\n")
	if err := CheckReload(Running{FileHadOptions: true, Auth: true}, tokenOnly, []byte("-token "+goodToken+"\n")); err != nil {
		t.Errorf("basic auth to a token alone: %v", err)
	}
	none := parseContent(t, "-auth none\n")
	if err := CheckReload(Running{FileHadOptions: true, Auth: true, TokenOnly: true}, none, []byte("-auth none\n")); err != nil {
		t.Errorf("-auth none: %v", err)
	}
}

// The derived token is 32 hex digits, the same for the same credentials
// and different when the password or the user changes; -token wins.
func TestDerivedToken(t *testing.T) {
	a := DeriveToken("printer", "pw")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(a) || a != DeriveToken("printer", "pw") {
		t.Fatalf("DeriveToken = %q, want 32 stable hex digits", a)
	}
	for _, other := range []string{DeriveToken("printer", "pw2"), DeriveToken("printer2", "pw"), DeriveToken("printe", "rpw")} {
		if other == a {
			t.Errorf("two credentials give the same token %s", a)
		}
	}
	c := parseContent(t, "-user printer\n-password pw\n")
	if c.AccessToken() != a || c.Token != "" {
		t.Errorf("AccessToken with basic auth = %q, want the derived %q", c.AccessToken(), a)
	}
	c = parseContent(t, "-user printer\n-password pw\n-token "+goodToken+"\n")
	if c.AccessToken() != goodToken {
		t.Errorf("AccessToken with -token = %q", c.AccessToken())
	}
	if c := parseContent(t, "-source test\n"); c.AccessToken() != "" || c.Protected() {
		t.Errorf("no auth: %q", c.AccessToken())
	}
}
