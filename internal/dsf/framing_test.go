package dsf

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestMessageReaderSplitsUndelimitedObjects(t *testing.T) {
	in := `{"version":12,"id":7}{"success":true}` + "\n  " +
		`junk{"a":"brace } in string","b":"quote \" and \\","c":{"d":[{"e":1}]}}` + `{"x":"\\"}`
	r := newMessageReader(strings.NewReader(in))
	want := []string{`{"version":12,"id":7}`, `{"success":true}`,
		`{"a":"brace } in string","b":"quote \" and \\","c":{"d":[{"e":1}]}}`, `{"x":"\\"}`}
	for i, w := range want {
		got, err := r.next()
		if err != nil || string(got) != w {
			t.Fatalf("message %d = %q, %v; want %q", i, got, err, w)
		}
		if !json.Valid(got) {
			t.Fatalf("message %d is not valid JSON", i)
		}
	}
	if _, err := r.next(); err != io.EOF {
		t.Fatalf("after the last message: %v, want EOF", err)
	}
}

func TestMessageReaderErrors(t *testing.T) {
	if _, err := newMessageReader(strings.NewReader(`{"a":{"b":1}`)).next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated object: %v", err)
	}
	r := newMessageReader(strings.NewReader(`{"a":"` + strings.Repeat("x", 100) + `"}`))
	r.max = 50
	if _, err := r.next(); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized object: %v", err)
	}
}

// One byte at a time, as a peer writing in pieces would deliver it.
func TestMessageReaderByteByByte(t *testing.T) {
	r := newMessageReader(&oneByteReader{s: `{"success":false,"errorType":"ArgumentException","errorMessage":"x {"}`})
	got, err := r.next()
	if err != nil || !strings.HasSuffix(string(got), `"x {"}`) {
		t.Fatalf("%q %v", got, err)
	}
}

type oneByteReader struct{ s string }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if o.s == "" {
		return 0, io.EOF
	}
	p[0] = o.s[0]
	o.s = o.s[1:]
	return 1, nil
}
