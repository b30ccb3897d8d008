package dsftest

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// The file routes of DWS's MachineController and RepRapFirmwareController
// that write into the virtual SD card.

const dcsDownMessage = "Failed to connect to Duet, please check your connection (DCS is not started)"

// authorized is the session check in front of the controllers. A key that is
// sent must be one GET /machine/connect issued; without a key DWS makes a
// session for the client's address, which needs DCS to confirm that no
// password is set (the twin's machine has none).
func (t *Twin) authorized(r *http.Request) bool {
	if keys, ok := r.Header["X-Session-Key"]; ok {
		for _, k := range keys {
			if t.sessionID(k) != -1 {
				return true
			}
		}
		return false
	}
	return t.dcsUp()
}

// resolve is the controllers' ResolvePath round trip to DCS. The HTTP status
// and text are what the controllers answer when it fails.
func (t *Twin) resolve(name string, nameSet bool) (string, int, string) {
	if !t.dcsUp() {
		return "", http.StatusServiceUnavailable, dcsDownMessage
	}
	if !nameSet {
		return "", http.StatusInternalServerError, errNullReference.Message
	}
	p, err := t.toPhysical(name, -1)
	if err != nil {
		return "", http.StatusInternalServerError, err.Message
	}
	return p, 0, ""
}

func textStatus(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, msg)
}

// filePath authorizes a /machine/file request and resolves its path; on
// failure it has answered already.
func (t *Twin) filePath(w http.ResponseWriter, r *http.Request, route string) (name, path string, ok bool) {
	if !t.authorized(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return "", "", false
	}
	name = urlDecode(route)
	path, status, msg := t.resolve(name, route != "")
	if status != 0 {
		textStatus(w, status, msg)
		return "", "", false
	}
	return name, path, true
}

// putFile is PUT /machine/file/{*filename}, what DWC's editor uses to save:
// the body goes to <path>.part, which is then renamed over the target (a new
// inode, so a watch on the old file dies).
func (t *Twin) putFile(w http.ResponseWriter, r *http.Request, route string) {
	name, path, ok := t.filePath(w, r, route)
	if !ok {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		textStatus(w, http.StatusInternalServerError, err.Error())
		return
	}
	part := path + ".part"
	err := writeFile(part, r.Body)
	if err == nil {
		err = os.Rename(part, path)
	}
	if err != nil {
		os.Remove(part)
		textStatus(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Location", urlPathEncode(name))
	w.WriteHeader(http.StatusCreated)
}

// getFile is GET /machine/file/{*filename}.
func (t *Twin) getFile(w http.ResponseWriter, r *http.Request, route string) {
	name, path, ok := t.filePath(w, r, route)
	if !ok {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		textStatus(w, http.StatusNotFound, urlPathEncode(name))
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		textStatus(w, http.StatusNotFound, urlPathEncode(name))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	io.Copy(w, f)
}

// rrUpload is POST /rr_upload?name=..., the legacy upload: it truncates and
// writes the target in place, so a reader can see a partial file.
func (t *Twin) rrUpload(w http.ResponseWriter, r *http.Request) {
	if !t.authorized(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	reply := func(err int) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"err":%d}`, err)
	}
	name, crc := queryValue(r, "name"), queryValue(r, "crc32")
	if isBlank(name) {
		reply(1)
		return
	}
	path, status, _ := t.resolve(urlDecode(name), true)
	if status != 0 {
		reply(1)
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		reply(1)
		return
	}
	if err := writeFile(path, r.Body); err != nil {
		reply(1)
		return
	}
	if crc != "" {
		data, err := os.ReadFile(path)
		if err != nil || !strings.EqualFold(fmt.Sprintf("%08x", crc32.ChecksumIEEE(data)), crc) {
			os.Remove(path)
			reply(1)
			return
		}
	}
	reply(0)
}

// writeFile creates or truncates a file as DWS (umask 022) does, mode 0644.
func writeFile(path string, body io.Reader) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// queryValue is MVC model binding of a string parameter: the first value of
// the case-insensitively matching key.
func queryValue(r *http.Request, key string) string {
	for _, seg := range strings.Split(r.URL.RawQuery, "&") {
		k, v, _ := strings.Cut(seg, "=")
		if strings.EqualFold(unescapeQuery(k), key) {
			return unescapeQuery(v)
		}
	}
	return ""
}

// urlDecode is HttpUtility.UrlDecode, which DWS applies on top of routing's
// own decoding: '+' is a space, %XX and %uXXXX are decoded, anything
// malformed stays as it is.
func urlDecode(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '+':
			b = append(b, ' ')
		case s[i] == '%' && i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') &&
			isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]):
			r := rune(unhex(s[i+2]))<<12 | rune(unhex(s[i+3]))<<8 | rune(unhex(s[i+4]))<<4 | rune(unhex(s[i+5]))
			b = utf8.AppendRune(b, r)
			i += 5
		case s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, s[i])
		}
	}
	return string(b)
}

// urlPathEncode is HttpUtility.UrlPathEncode: spaces, controls and
// non-ASCII bytes are escaped, everything else kept.
func urlPathEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02x", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// parseAbsURL accepts what HttpClient can send to: an absolute http(s) URI.
func parseAbsURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("not an absolute http(s) URI")
	}
	return u, nil
}
