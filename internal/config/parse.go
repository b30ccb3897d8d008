package config

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
)

// origin is where an option was given.
type origin struct {
	file string // "" for the command line
	line int    // line in file
	arg  int    // 1-based argument on the command line
}

func (o origin) String() string {
	if o.file == "" {
		return fmt.Sprintf("argument %d", o.arg)
	}
	return fmt.Sprintf("line %d", o.line)
}

// prefix starts a warning the way an Error starts.
func (o origin) prefix() string {
	if o.file == "" {
		return "command line: "
	}
	return fmt.Sprintf("%s:%d: ", o.file, o.line)
}

func (o origin) errorf(opt *option, value, format string, args ...any) *Error {
	e := &Error{File: o.file, Line: o.line, Reason: fmt.Sprintf(format, args...)}
	if opt != nil {
		e.Option = "-" + opt.name
		if !opt.secret && !hasUserinfo(value) {
			e.Value = value
		}
	}
	return e
}

// hasUserinfo reports whether v looks like a URL with a user and maybe a
// password in it (http://user:pw@host, or one cut short at a space in the
// password), which no message may repeat.
func hasUserinfo(v string) bool {
	_, rest, ok := strings.Cut(v, "://")
	if !ok {
		return false
	}
	authority, _, _ := strings.Cut(rest, "/")
	if strings.Contains(rest, "@") {
		return true
	}
	if strings.HasPrefix(authority, "[") {
		// An IPv6 address's colons are not a password's.
		if end := strings.Index(authority, "]"); end >= 0 {
			authority = authority[end+1:]
		}
	}
	if i := strings.LastIndex(authority, ":"); i >= 0 &&
		!strings.ContainsFunc(authority[i+1:], func(r rune) bool { return r < '0' || r > '9' }) {
		authority = authority[:i] // the port
	}
	return strings.Contains(authority, ":")
}

// place is one file or the command line: the unit within which an option
// may appear only once.
type place struct {
	file string
	base string // folder for relative paths; "" is the current folder
	seen map[string]origin
}

type parser struct {
	cfg   Config
	where map[string]origin // where each option's current value came from
}

func newParser() *parser {
	return &parser{cfg: Default(), where: map[string]origin{}}
}

func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--h", "--help":
		return true
	}
	return false
}

func parseArgs(args []string, read func(string) ([]byte, error), needFile bool) (*Config, error) {
	// Help wins over any mistake elsewhere on the line: whoever asks for it
	// is probably trying to fix that mistake.
	for _, a := range args {
		if isHelp(a) {
			return nil, &Error{Option: a, Reason: "help requested", Err: ErrHelp}
		}
	}
	p := newParser()
	cl := &place{seen: map[string]origin{}}
	var prev *option
	for i := 0; i < len(args); i++ {
		at := origin{arg: i + 1}
		word := args[i]
		if !isOptionWord(word) {
			return nil, stray(at, word, prev, true)
		}
		name, v, hasValue := splitOption(word)
		opt := p.lookupAbbrev(name, at)
		if opt == nil {
			return nil, unknown(at, word)
		}
		switch {
		case opt.name == "h" || opt.name == "help":
			// Only "-help=..." gets here; the bare word was taken above.
			return nil, at.errorf(opt, v, "takes no value")
		case opt.name == "#":
			// As argparse's nargs=1 in the original: the comment is one word.
			if !hasValue && i+1 < len(args) && !isOptionWord(args[i+1]) {
				i++
			}
			prev = nil
			continue
		case opt.flag:
			if !hasValue {
				v = "true"
			}
		case !hasValue:
			if i+1 >= len(args) || isOptionWord(args[i+1]) {
				return nil, missing(at, opt, args[i+1:])
			}
			i++
			v = args[i]
		}
		prev = opt
		if opt.name == "file" {
			if err := p.readFile(cl, opt, v, at, read); err != nil {
				return nil, err
			}
			continue
		}
		if err := p.apply(cl, opt, v, at); err != nil {
			return nil, err
		}
	}
	if needFile && p.cfg.File == "" {
		return nil, &Error{Reason: "there is no -file option whose content this could be"}
	}
	return p.finish()
}

func (p *parser) readFile(cl *place, opt *option, v string, at origin, read func(string) ([]byte, error)) *Error {
	if first, dup := cl.seen[opt.name]; dup {
		return at.errorf(opt, "", "given twice (first as %s); only one config file can be read", first)
	}
	cl.seen[opt.name] = at
	if v == "" {
		return at.errorf(opt, v, "needs the path of a config file")
	}
	path, reason := resolvePath(v, "")
	if reason != "" {
		return at.errorf(opt, v, "%s", reason)
	}
	content, err := read(path)
	if err != nil {
		if e, ok := err.(*Error); ok {
			return e
		}
		return &Error{File: path, Reason: "cannot read the config file: " + osReason(err), Err: err}
	}
	p.cfg.File = path
	return p.parseFile(path, content)
}

func (p *parser) parseFile(path string, content []byte) *Error {
	if len(content) > MaxFileSize {
		return &Error{File: path, Reason: tooLarge}
	}
	if i := bytes.IndexByte(content, 0); i >= 0 {
		return &Error{File: path, Line: bytes.Count(content[:i], []byte("\n")) + 1,
			Reason: "contains NUL bytes: this is a binary file, not a text config file"}
	}
	pl := &place{file: path, base: filepath.Dir(path), seen: map[string]origin{}}
	text := strings.TrimPrefix(string(content), bom)
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return nil
	}
	for n, line := range strings.Split(text, "\n") {
		if err := p.parseLine(pl, strings.TrimSuffix(line, "\r"), n+1); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) parseLine(pl *place, line string, n int) *Error {
	at := origin{file: pl.file, line: n}
	sc := lineScanner{s: line}
	var prev *option
	for {
		tok, ok, reason := sc.next()
		if reason != "" {
			return lineError(at, reason)
		}
		if !ok {
			return nil
		}
		// Quoting an option name does not hide it: shlex removed the quotes
		// before the original's argparse saw the word.
		if !isOptionWord(tok.text) {
			return stray(at, tok.text, prev, false)
		}
		name, v, hasValue := splitOption(tok.text)
		opt := p.lookupAbbrev(name, at)
		if opt == nil {
			return unknown(at, tok.text)
		}
		if opt.name == "#" {
			// Only a quoted -# ("-#" or ""-#) gets past the scanner; shlex
			// dropped the quotes for the original, so it is a comment too.
			return nil
		}
		if opt.name == "file" {
			return at.errorf(opt, "", "not allowed in a config file: it cannot read another one")
		}
		if opt.cmdline {
			return at.errorf(opt, "", "only allowed on the command line")
		}
		switch {
		case opt.flag:
			if !hasValue {
				v = "true"
				// "-verbose false" reads naturally in a file, where each
				// option has its own line, so the next word may be the value.
				if next, ok, _ := sc.peek(); ok && !isOptionWord(next.text) {
					sc.next()
					v = next.text
				}
			}
		case !hasValue:
			next, ok, reason := sc.next()
			if reason != "" {
				return lineError(at, reason)
			}
			if !ok || (!next.quoted && isOptionWord(next.text)) {
				var rest []string
				if ok {
					rest = []string{next.text}
				}
				return missing(at, opt, rest)
			}
			v = next.text
		}
		if err := p.apply(pl, opt, v, at); err != nil {
			return err
		}
		prev = opt
	}
}

// lineError reports a line that cannot be split into words.
func lineError(at origin, reason string) *Error {
	if reason == invalidUTF8 {
		// Windows editors still save "ANSI" (Latin-1) by default.
		reason += " (save the file as UTF-8)"
	}
	return at.errorf(nil, "", "%s", reason)
}

// apply sets one option given at a place.
func (p *parser) apply(pl *place, opt *option, v string, at origin) *Error {
	if first, dup := pl.seen[opt.name]; dup && !opt.repeat {
		where := "first as " + first.String()
		if at.file != "" {
			where = "first on " + first.String()
		}
		return at.errorf(opt, "", "given twice (%s)", where)
	}
	if other := exclusive[opt.name]; other != "" {
		if o, ok := pl.seen[other]; ok {
			return at.errorf(opt, v, "cannot be used together with -%s (%s): both set the frame size", other, o)
		}
	}
	if reason := checkText(v); reason != "" {
		return at.errorf(opt, v, "%s", reason)
	}
	if err := p.authConflict(pl, opt, v, at); err != nil {
		return err
	}
	if reason := opt.set(&p.cfg, v, pl.base); reason != "" {
		if v == "" {
			reason = "empty value; " + reason
		}
		if at.file != "" && strings.Contains(v, "#") && !opt.secret {
			reason += " (a # starts a comment only after a space)"
		}
		if opt.flag {
			// In a file the word after a flag is taken as its value only
			// on trial: it may as well be a stray word, such as a password.
			v = ""
		}
		return at.errorf(opt, v, "%s", reason)
	}
	pl.seen[opt.name] = at
	p.where[opt.name] = at
	// As with -size and -resolution, a later place's choice about auth
	// replaces an earlier place's: the command line after -file can switch
	// the file's credentials off, or give credentials over its -auth none.
	switch {
	case opt.name == "auth" && p.cfg.Auth == "none":
		p.cfg.User, p.cfg.Password, p.cfg.Token = "", "", ""
		delete(p.where, "user")
		delete(p.where, "password")
		delete(p.where, "token")
	case (opt.name == "user" || opt.name == "password" || opt.name == "token") && p.cfg.Auth == "none":
		p.cfg.Auth = ""
		delete(p.where, "auth")
	}
	// A later place's -size replaces an earlier place's -resolution and the
	// other way round, so the command line can override the file's choice.
	switch exclusive[opt.name] {
	case "size":
		p.cfg.Size = -1
		delete(p.where, "size")
	case "resolution":
		p.cfg.Resolution = Resolution{}
		delete(p.where, "resolution")
	}
	return nil
}

// authConflict refuses -auth none together with credentials in one place:
// one of the two is a mistake, and guessing could switch auth off.
func (p *parser) authConflict(pl *place, opt *option, v string, at origin) *Error {
	switch opt.name {
	case "auth":
		if !strings.EqualFold(strings.TrimSpace(v), "none") {
			return nil
		}
		for _, other := range []string{"user", "password", "token"} {
			if o, ok := pl.seen[other]; ok {
				return at.errorf(opt, v, "cannot be used together with -%s (%s): -auth none switches %s off", other, o, authKind(other))
			}
		}
	case "user", "password", "token":
		if o, ok := pl.seen["auth"]; ok && p.cfg.Auth == "none" {
			return at.errorf(opt, "", "cannot be used together with -auth none (%s), which switches %s off", o, authKind(opt.name))
		}
	}
	return nil
}

// authKind names what an auth option is part of.
func authKind(option string) string {
	if option == "token" {
		return "the token"
	}
	return "basic auth"
}

// finish checks what involves more than one option.
func (p *parser) finish() (*Config, error) {
	c := &p.cfg
	if (c.User == "") != (c.Password == "") {
		has, lacks := "user", "password"
		if c.User == "" {
			has, lacks = lacks, has
		}
		return nil, p.where[has].errorf(lookup(has), "", "needs -%s as well: basic auth needs both", lacks)
	}
	if c.Auth == "basic" && c.User == "" {
		return nil, p.where["auth"].errorf(lookup("auth"), "basic", "needs -user and -password")
	}
	if at, ok := p.where["logfile"]; ok && c.LogFile != "" {
		if reason := logFileProblem(c.LogFile, c.File); reason != "" {
			return nil, at.errorf(lookup("logfile"), "", "%s", reason)
		}
	}
	if at, ok := p.where["exposure"]; ok && c.ManExp == nil {
		c.Warnings = append(c.Warnings, at.prefix()+"-exposure is ignored without -manexp (as in the original usbStream)")
	}
	if at, ok := p.where["password"]; ok && at.file == "" && c.Password != "" {
		c.Warnings = append(c.Warnings, at.prefix()+"a -password on the command line can be read by every "+
			"user of this machine (ps); put it in the config file instead")
	}
	return c, nil
}

// lookupAbbrev finds an option by name or, as the original's argparse
// did, by an unambiguous abbreviation (-frame for -framerate), which still
// works but earns a warning.
func (p *parser) lookupAbbrev(name string, at origin) *option {
	if opt := lookup(name); opt != nil || len(name) < 2 {
		return opt
	}
	var found *option
	for _, o := range options {
		if strings.HasPrefix(o.name, name) {
			if found != nil {
				return nil // ambiguous: argparse refused it too
			}
			found = o
		}
	}
	if found != nil {
		p.cfg.Warnings = append(p.cfg.Warnings, at.prefix()+"-"+name+" is read as -"+found.name+
			"; write the option in full")
	}
	return found
}

// optionLike matches what can be shown as an option name someone wrote:
// anything else (a line of another file the config path points to, a key)
// is content no message may repeat.
var optionLike = regexp.MustCompile(`^--?[A-Za-z][A-Za-z0-9_.-]{0,31}$`)

func unknown(at origin, word string) *Error {
	name, _, _ := strings.Cut(word, "=")
	// A quoted "-option value" is one word; what follows the space may be
	// a password, and an error is shown to whoever can see the status.
	if i := strings.IndexFunc(name, unicode.IsSpace); i >= 0 {
		name = name[:i]
		if opt := lookup(strings.TrimLeft(name, "-")); opt != nil {
			return at.errorf(opt, "", "the option and its value are quoted as one word; quote only the value")
		}
	}
	e := &Error{File: at.file, Line: at.line, Option: name, Reason: "unknown option"}
	s, secret := suggest(strings.TrimLeft(name, "-"))
	if s != "" {
		e.Reason += " (did you mean " + s + "?)"
	} else {
		e.Reason += " (-h lists them)"
	}
	// A name close to a secret option may have the secret glued to it
	// (-passwordS3cr3t), and one that is not shaped like an option is
	// someone else's text: the line number finds either.
	if secret || !optionLike.MatchString(name) {
		e.Option = ""
		if s == "" {
			e.Reason = "not an option usbStream knows (options are words such as -port; -h lists them)"
		}
	}
	return e
}

func missing(at origin, opt *option, rest []string) *Error {
	if len(rest) == 0 {
		return at.errorf(opt, "", "missing value")
	}
	name, _, _ := strings.Cut(rest[0], "=")
	if lookup(strings.TrimLeft(name, "-")) != nil {
		return at.errorf(opt, "", "missing value (%s is the next option)", name)
	}
	return at.errorf(opt, "", "missing value; a value that starts with - is written -%s=VALUE", opt.name)
}

// stray explains a word where an option was expected. The word itself is
// repeated only when it is an option's name: otherwise it may be the rest
// of a password ("-user admin s3cret") or a line of whatever file the
// config path leads to, and the line (or argument) number finds it.
func stray(at origin, word string, prev *option, cmdline bool) *Error {
	e := &Error{File: at.file, Line: at.line}
	bare := strings.TrimLeft(word, "-‐‑‒–—―−")
	switch {
	case prev != nil && prev.flag && cmdline:
		e.Reason = fmt.Sprintf("unexpected value after -%s, which takes none (-%s=VALUE sets it explicitly)",
			prev.name, prev.name)
	case prev != nil && prev.secret:
		e.Reason = fmt.Sprintf("unexpected word after -%s's value: an option takes one value (quote a value "+
			"that has spaces)", prev.name)
	case prev != nil && !prev.flag:
		e.Reason = fmt.Sprintf("unexpected value after -%s's value: an option takes one value (quote a value "+
			"that has spaces)", prev.name)
	case bare != word && !strings.HasPrefix(word, "-") && lookup(bare) != nil:
		e.Value = word
		e.Reason = fmt.Sprintf("starts with a typographic dash; write -%s", bare)
	case lookup(word) != nil:
		e.Value = word
		e.Reason = fmt.Sprintf("value without an option (did you mean -%s?)", word)
	default:
		e.Reason = "value without an option before it (options start with -)"
	}
	if cmdline {
		e.Reason += " (" + at.String() + ")"
	}
	return e
}
