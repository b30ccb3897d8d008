package config

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is one shlex word of a config file line.
type token struct {
	text string
	// quoted is set when any part was quoted or escaped: the writer marked
	// it as literal text, so it is a value even when it starts with "-".
	quoted bool
}

// lineScanner splits one line lazily, because whatever follows a comment
// marker must not be parsed at all: "-# don't touch" has an unbalanced
// quote that shlex would reject.
type lineScanner struct {
	s   string
	pos int
}

// next returns the next token, or ok false at the end of the line or at a
// comment. A non-empty reason means the line cannot be split.
func (l *lineScanner) next() (tok token, ok bool, reason string) {
	for l.pos < len(l.s) {
		r, n := utf8.DecodeRuneInString(l.s[l.pos:])
		if !isSpace(r) {
			break
		}
		l.pos += n
	}
	rest := l.s[l.pos:]
	if rest == "" || isComment(rest) {
		l.pos = len(l.s)
		return token{}, false, ""
	}
	var b strings.Builder
	for l.pos < len(l.s) {
		r, n := utf8.DecodeRuneInString(l.s[l.pos:])
		switch {
		case isSpace(r):
			return token{b.String(), tok.quoted}, true, ""
		case r == '\'':
			end := strings.IndexByte(l.s[l.pos+1:], '\'')
			if end < 0 {
				return token{}, false, "unterminated quote: this ' has no closing '"
			}
			quoted := l.s[l.pos+1 : l.pos+1+end]
			if reason := checkText(quoted); reason != "" {
				return token{}, false, reason
			}
			b.WriteString(quoted)
			l.pos += end + 2
			tok.quoted = true
		case r == '"':
			// As shlex: inside double quotes a backslash escapes only " and
			// itself and is otherwise kept.
			i := l.pos + 1
			closed := false
			for i < len(l.s) {
				c := l.s[i]
				if c == '"' {
					closed = true
					i++
					break
				}
				if c == '\\' && i+1 < len(l.s) && (l.s[i+1] == '"' || l.s[i+1] == '\\') {
					b.WriteByte(l.s[i+1])
					i += 2
					continue
				}
				cr, cn := utf8.DecodeRuneInString(l.s[i:])
				if reason := checkRune(cr, cn); reason != "" {
					return token{}, false, reason
				}
				b.WriteString(l.s[i : i+cn])
				i += cn
			}
			if !closed {
				return token{}, false, `unterminated quote: this " has no closing "`
			}
			l.pos = i
			tok.quoted = true
		case r == '\\':
			if l.pos+n >= len(l.s) {
				return token{}, false, "the line ends with a \\ that escapes nothing"
			}
			er, en := utf8.DecodeRuneInString(l.s[l.pos+n:])
			if reason := checkRune(er, en); reason != "" {
				return token{}, false, reason
			}
			b.WriteString(l.s[l.pos+n : l.pos+n+en])
			l.pos += n + en
			tok.quoted = true
		default:
			if reason := checkRune(r, n); reason != "" {
				return token{}, false, reason
			}
			b.WriteString(l.s[l.pos : l.pos+n])
			l.pos += n
		}
	}
	return token{b.String(), tok.quoted}, true, ""
}

// peek returns the next token without consuming it.
func (l *lineScanner) peek() (token, bool, string) {
	save := l.pos
	tok, ok, reason := l.next()
	l.pos = save
	return tok, ok, reason
}

// isComment reports whether text at the start of a token begins a comment:
// the original's "-#" option (also "--#", as "--" is an alias of "-") or a
// shell-style "#".
func isComment(s string) bool {
	return strings.HasPrefix(s, "#") || strings.HasPrefix(s, "-#") || strings.HasPrefix(s, "--#")
}

// isSpace separates tokens. Beyond shlex's ASCII whitespace it includes
// Unicode spaces, because a no-break space pasted from a web page between
// an option and its value is invisible in an editor.
func isSpace(r rune) bool { return unicode.IsSpace(r) }

const invalidUTF8 = "not valid UTF-8 text"

// checkRune rejects what cannot be meant as text in a value.
func checkRune(r rune, size int) string {
	if r == utf8.RuneError && size == 1 {
		return invalidUTF8
	}
	if unicode.IsControl(r) && r != '\t' {
		return fmt.Sprintf("contains the control character %U", r)
	}
	return ""
}

func checkText(s string) string {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if reason := checkRune(r, n); reason != "" {
			return reason
		}
		i += n
	}
	return ""
}

// negativeNumber matches values such as "-1", "-0.25" and "-5e-3", which
// argparse in the original also took as values rather than options.
var negativeNumber = regexp.MustCompile(`^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$`)

// isOptionWord reports whether an unquoted word is written as an option.
func isOptionWord(s string) bool {
	return len(s) > 1 && s[0] == '-' && !negativeNumber.MatchString(s)
}

// splitOption splits "-name", "--name", "-name=value" into name and value.
func splitOption(s string) (name, value string, hasValue bool) {
	s = strings.TrimPrefix(s, "-")
	if strings.HasPrefix(s, "-") && len(s) > 1 {
		s = s[1:]
	}
	name, value, hasValue = strings.Cut(s, "=")
	return name, value, hasValue
}

// countLines counts lines as error messages number them: a final line
// without a newline counts, the empty text after a final newline does not.
func countLines(content []byte) int {
	s := strings.TrimPrefix(string(content), bom)
	if s == "" {
		return 0
	}
	n := strings.Count(s, "\n")
	if !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}

const bom = "\uFEFF"
