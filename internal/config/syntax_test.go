package config

import (
	"reflect"
	"testing"
)

// scanAll splits a line the way parseLine does, for checking the shlex
// rules on their own.
func scanAll(line string) (words []string, quoted []bool, reason string) {
	sc := lineScanner{s: line}
	for {
		tok, ok, r := sc.next()
		if r != "" || !ok {
			return words, quoted, r
		}
		words = append(words, tok.text)
		quoted = append(quoted, tok.quoted)
	}
}

func TestLineScannerSplitsLikeShlex(t *testing.T) {
	tests := []struct {
		name, line string
		want       []string
	}{
		{"plain words", "-port 8090", []string{"-port", "8090"}},
		{"runs of spaces and tabs", " \t-port \t  8090\t", []string{"-port", "8090"}},
		{"no-break space separates", "-port\u00a08090", []string{"-port", "8090"}},
		{"single quotes keep spaces", "-camera 'HD Pro Webcam'", []string{"-camera", "HD Pro Webcam"}},
		{"single quotes keep backslashes", `-camera 'a\b\'`, []string{"-camera", `a\b\`}},
		{"double quotes keep spaces", `-camera "HD Pro"`, []string{"-camera", "HD Pro"}},
		{"double quotes unescape quote", `-camera "say \"hi\""`, []string{"-camera", `say "hi"`}},
		{"double quotes unescape backslash", `-camera "a\\b"`, []string{"-camera", `a\b`}},
		{"double quotes keep other backslashes", `-camera "a\xb"`, []string{"-camera", `a\xb`}},
		{"backslash escapes space", `-camera HD\ Pro`, []string{"-camera", "HD Pro"}},
		{"backslash escapes quote", `-camera it\'s`, []string{"-camera", "it's"}},
		{"shell idiom for a quote in quotes", `-camera 'it'\''s'`, []string{"-camera", "it's"}},
		{"adjacent parts join", `-camera a'b c'"d e"f`, []string{"-camera", "ab cd ef"}},
		{"empty quotes are an empty word", `-camera ''`, []string{"-camera", ""}},
		{"hash inside a word is literal", "-password a#b", []string{"-password", "a#b"}},
		{"hash in quotes is literal", "-password 'a #b' \"#c\"", []string{"-password", "a #b", "#c"}},
		{"escaped hash is literal", `-password \#b`, []string{"-password", "#b"}},
		{"hash after space is a comment", "-port 8090      #Causes internal http server", []string{"-port", "8090"}},
		{"comment may hold an unbalanced quote", "-port 8090 # don't", []string{"-port", "8090"}},
		{"dash-hash comment line", "-# Example config", nil},
		{"dash-hash comment without space", "-#Example", nil},
		{"double-dash-hash comment", "--# x", nil},
		{"dash-hash after an option", "-port 8090 -# note: it's 'here", []string{"-port", "8090"}},
		{"hash at line start", "# -port 1", nil},
		{"blank", "   \t ", nil},
		{"empty", "", nil},
		{"tab inside quotes is kept", "-camera 'a\tb'", []string{"-camera", "a\tb"}},
		{"utf-8 text", "-camera 'Caméra'", []string{"-camera", "Caméra"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, reason := scanAll(tt.line)
			if reason != "" {
				t.Fatalf("scan(%q) failed: %s", tt.line, reason)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("scan(%q) = %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

func TestLineScannerMarksQuotedWords(t *testing.T) {
	tests := []struct {
		line string
		want []bool
	}{
		{"-port 8090", []bool{false, false}},
		{"-password '-x'", []bool{false, true}},
		{`-password "-x"`, []bool{false, true}},
		{`-password \-x`, []bool{false, true}},
		{"-password a''", []bool{false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, got, reason := scanAll(tt.line)
			if reason != "" || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("quoted(%q) = %v (%s), want %v", tt.line, got, reason, tt.want)
			}
		})
	}
}

func TestLineScannerRejects(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{"unterminated single quote", "-camera 'HD Pro", "unterminated quote: this ' has no closing '"},
		{"unterminated double quote", `-camera "HD Pro`, `unterminated quote: this " has no closing "`},
		{"escaped closing double quote", `-camera "HD\"`, `unterminated quote: this " has no closing "`},
		{"trailing backslash", `-camera HD\`, `the line ends with a \ that escapes nothing`},
		{"invalid utf-8", "-camera caf\xe9", "not valid UTF-8 text"},
		{"invalid utf-8 in single quotes", "-camera 'caf\xe9'", "not valid UTF-8 text"},
		{"invalid utf-8 in double quotes", "-camera \"caf\xe9\"", "not valid UTF-8 text"},
		{"invalid utf-8 after backslash", "-camera \\\xe9", "not valid UTF-8 text"},
		{"control character", "-camera a\x01b", "contains the control character U+0001"},
		{"control character in quotes", "-camera 'a\x1bb'", "contains the control character U+001B"},
		{"DEL", "-camera a\x7f", "contains the control character U+007F"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, reason := scanAll(tt.line)
			if reason != tt.want {
				t.Fatalf("scan(%q) reason = %q, want %q", tt.line, reason, tt.want)
			}
		})
	}
}

func TestIsOptionWord(t *testing.T) {
	tests := []struct {
		word string
		want bool
	}{
		{"-port", true}, {"--port", true}, {"-#", true}, {"-x=1", true},
		{"-1", false}, {"-5", false}, {"-0.25", false}, {"-.5", false}, {"-5e-3", false}, {"-1.", false},
		{"-", false}, {"8085", false}, {"", false}, {"-1x", true}, {"-e5", true},
	}
	for _, tt := range tests {
		if got := isOptionWord(tt.word); got != tt.want {
			t.Errorf("isOptionWord(%q) = %v, want %v", tt.word, got, tt.want)
		}
	}
}

func TestCountLines(t *testing.T) {
	tests := []struct {
		content string
		want    int
	}{
		{"", 0}, {"\ufeff", 0}, {"a", 1}, {"a\n", 1}, {"a\nb", 2}, {"a\r\nb\r\n", 2}, {"\n", 1}, {"\n\n", 2},
	}
	for _, tt := range tests {
		if got := countLines([]byte(tt.content)); got != tt.want {
			t.Errorf("countLines(%q) = %d, want %d", tt.content, got, tt.want)
		}
	}
}
