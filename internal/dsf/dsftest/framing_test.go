package dsftest

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestReadObject(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
		tailErr  error
	}{
		{"back to back", `{"a":1}{"b":2}`, []string{`{"a":1}`, `{"b":2}`}, io.EOF},
		{"junk and whitespace between", "xx \n{\"a\":1}\r\n junk {\"b\":{\"c\":[1]}}  ", []string{`{"a":1}`, `{"b":{"c":[1]}}`}, io.EOF},
		{"braces in strings", `{"a":"}{","b":"\"}"}`, []string{`{"a":"}{","b":"\"}"}`}, io.EOF},
		{"escaped backslash before quote", `{"a":"x\\"}{"b":1}`, []string{`{"a":"x\\"}`, `{"b":1}`}, io.EOF},
		{"top-level array is never a message", `[1,2]{"a":1}`, []string{`{"a":1}`}, io.EOF},
		{"unbalanced object", `{"a":{"b":1}`, nil, io.ErrUnexpectedEOF},
		// DSF's reader tracks quotes before the first brace too, so a quote
		// in junk can hide the next object entirely.
		{"quote in junk", `"{"a":1}`, nil, io.EOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(c.in))
			for _, w := range c.want {
				got, err := readObject(br)
				if err != nil || string(got) != w {
					t.Fatalf("got %q, %v; want %q", got, err, w)
				}
			}
			if _, err := readObject(br); !errors.Is(err, c.tailErr) {
				t.Fatalf("tail: %v, want %v", err, c.tailErr)
			}
		})
	}
}

// A '}' in the junk before a message lowers the depth, so DSF ends the
// "message" at the first '{' and gets a lone brace: a JSON error, then the
// rest of the object is junk. The twin has the same bug.
func TestReadObjectClosingBraceInJunk(t *testing.T) {
	br := bufio.NewReader(strings.NewReader(`}{"a":1}`))
	got, err := readObject(br)
	if err != nil || string(got) != "{" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// The IPC server reassembles messages from arbitrary write boundaries and
// skips what lies between them.
func TestSplitWritesAndJunk(t *testing.T) {
	for _, p := range []Profile{Profile35, Profile36} {
		t.Run(string(p), func(t *testing.T) {
			tw := startTwin(t, Options{Profile: p})
			c := dial(t, tw.SocketPath())
			c.recv()
			for _, part := range []string{"\n  {\"mo", "de\":\"Com", "mand\",\"vers", "ion\":12}"} {
				c.send(part)
				time.Sleep(20 * time.Millisecond)
			}
			if got := decode(t, c.recv()); !isSuccess(got) {
				t.Fatalf("handshake: %v", got)
			}
			msg := `{"command":"ResolvePath","path":"0:/sys/{x}\"}"}`
			for i := 0; i < len(msg); i++ {
				c.send(msg[i : i+1])
			}
			if got := result(t, decode(t, c.recv())); got != tw.SDRoot()+`/sys/{x}"}` {
				t.Fatalf("split command: %v", got)
			}
			// Junk between two commands sent in one write; both get replies.
			c.send("garbage\r\n{\"command\":\"ResolvePath\",\"path\":\"a\"} \t\n xx {\"command\":\"ResolvePath\",\"path\":\"b\"}")
			for _, want := range []string{"/a", "/b"} {
				if got := result(t, decode(t, c.recv())); got != tw.SDRoot()+want {
					t.Fatalf("got %v, want %s", got, want)
				}
			}
		})
	}
}

// Replies are bare objects with nothing after them: no newline.
func TestRepliesHaveNoDelimiter(t *testing.T) {
	tw := startTwin(t, Options{})
	c := dial(t, tw.SocketPath())
	c.conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 512)
	n, err := c.conn.Read(buf)
	if err != nil || string(buf[:n]) != `{"version":12,"id":2}` {
		t.Fatalf("server init %q, %v", buf[:n], err)
	}
	c.send(`{"mode":"Command","version":12}`)
	n, err = c.conn.Read(buf)
	if err != nil || string(buf[:n]) != `{"success":true}` {
		t.Fatalf("init reply %q, %v", buf[:n], err)
	}
	c.send(`{"command":"ResolvePath","path":"x"}`)
	n, err = c.conn.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), `{"success":true,"result":"`) || !strings.HasSuffix(string(buf[:n]), `x"}`) {
		t.Fatalf("reply %q, %v", buf[:n], err)
	}
}
