package dsftest

import (
	"net/http"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// How DWS turns an HTTP request into a ReceivedHttpRequest: Kestrel's view
// of the path, headers and query, and the profile's dictionary key policy.

// requestPath is Kestrel's Request.Path: percent-decoded except %2F, with
// dot segments removed.
func requestPath(r *http.Request) string {
	raw := r.URL.EscapedPath()
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' && i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]) {
			v := unhex(raw[i+1])<<4 | unhex(raw[i+2])
			if v != '/' {
				b.WriteByte(v)
				i += 2
				continue
			}
		}
		b.WriteByte(raw[i])
	}
	return removeDotSegments(b.String())
}

func removeDotSegments(p string) string {
	if !strings.Contains(p, "/.") {
		return p
	}
	segs := strings.Split(p, "/")
	var out []string
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return strings.Join(out, "/")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// decodeBody is StreamReader.ReadToEnd: a UTF-8 BOM is dropped and every
// invalid byte becomes U+FFFD.
func decodeBody(b []byte) string {
	b = []byte(strings.TrimPrefix(string(b), "\uFEFF"))
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		sb.WriteRune(r)
		b = b[n:]
	}
	return sb.String()
}

// requestHeaders is Kestrel's header collection: every header once, values
// joined with ",", Host and Transfer-Encoding included (Go keeps those
// outside the header map).
func requestHeaders(r *http.Request) []kvs {
	var out []kvs
	for k, v := range r.Header {
		out = append(out, kvs{k, strings.Join(v, ",")})
	}
	out = append(out, kvs{"Host", r.Host})
	if len(r.TransferEncoding) > 0 {
		out = append(out, kvs{"Transfer-Encoding", strings.Join(r.TransferEncoding, ",")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].k < out[j].k })
	return out
}

type kvs struct{ k, v string }

// parseQuery is ASP.NET Core's query parsing: '+' is a space, escapes are
// decoded leniently, keys are merged case-insensitively (first spelling
// wins) and repeated values joined with ",".
func parseQuery(raw string) []kvs {
	var out []kvs
	for _, seg := range strings.Split(raw, "&") {
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		k, v = unescapeQuery(k), unescapeQuery(v)
		merged := false
		for i := range out {
			if strings.EqualFold(out[i].k, k) {
				out[i].v += "," + v
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, kvs{k, v})
		}
	}
	return out
}

func unescapeQuery(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// dictKeys applies the profile's DictionaryKeyPolicy: 3.5 camel-cases
// dictionary keys, 3.6 writes them as they are.
func (t *Twin) dictKeys(l []kvs) ordered {
	o := ordered{}
	for _, e := range l {
		k := e.k
		if t.opt.Profile == Profile35 {
			k = camelCase(k)
		}
		o = append(o, kv{k, e.v})
	}
	return o
}

// camelCase is System.Text.Json's JsonNamingPolicy.CamelCase: leading
// upper-case letters are lowered, except the last one of a run that is
// followed by a lower-case letter ("X-Session-Key" → "x-Session-Key",
// "ETag" → "eTag", "DNT" → "dnt").
func camelCase(s string) string {
	r := []rune(s)
	if len(r) == 0 || !isUpper(r[0]) {
		return s
	}
	for i := range r {
		if i == 1 && !isUpper(r[i]) {
			break
		}
		if i > 0 && i+1 < len(r) && !isUpper(r[i+1]) {
			if r[i+1] == ' ' {
				r[i] = toLower(r[i])
			}
			break
		}
		r[i] = toLower(r[i])
	}
	return string(r)
}

func isUpper(r rune) bool { return unicode.IsUpper(r) }

func toLower(r rune) rune { return unicode.ToLower(r) }
