package dsftest

import (
	"encoding/json"
	"testing"
)

func TestServerInitIDsIncrease(t *testing.T) {
	tw := startTwin(t, Options{})
	for want := 2; want < 5; want++ {
		c := dial(t, tw.SocketPath())
		got := decode(t, c.recv())
		if len(got) != 2 || got["version"] != json.Number("12") || got["id"] != json.Number(itoa(want)) {
			t.Fatalf("server init %v, want id %d", got, want)
		}
	}
}

func TestHandshakeSuccess(t *testing.T) {
	inits := []string{
		`{"mode":"Command","version":12}`,
		`{"mode":"command","version":12}`, // enum values are read case-insensitively
		`{"version":7,"mode":"COMMAND"}`,  // 7..11 are accepted with a warning
		`{"mode":"Command","version":11,"extra":{"ignored":true}}`,
		`{"mode":"1","version":12}`, // enum numbers as strings
	}
	for _, p := range []Profile{Profile35, Profile36} {
		for _, in := range inits {
			t.Run(string(p)+in, func(t *testing.T) {
				tw := startTwin(t, Options{Profile: p})
				c := dial(t, tw.SocketPath())
				c.recv()
				if got := c.call(in); !isSuccess(got) {
					t.Fatalf("got %v", got)
				}
				if got := result(t, c.call(`{"command":"ResolvePath","path":"x"}`)); got != tw.SDRoot()+"/x" {
					t.Fatalf("command after handshake: %v", got)
				}
			})
		}
	}
}

// In 3.5 every handshake error is a proper ErrorResponse, then the
// connection closes.
func TestHandshakeErrors35(t *testing.T) {
	cases := []struct{ in, typ, msg string }{
		{`{"mode":"Command","version":6}`, "IncompatibleVersionException", "Incompatible protocol version (got 6, need 7 to 12)"},
		{`{"mode":"Command","version":13}`, "IncompatibleVersionException", "Incompatible protocol version (got 13, need 7 to 12)"},
		{`{"mode":"Command"}`, "IncompatibleVersionException", "Incompatible protocol version (got 0, need 7 to 12)"},
		{`{"version":12}`, "ArgumentException", "Invalid connection mode"},
		{`{"mode":"Unknown","version":12}`, "ArgumentException", "Invalid connection mode"},
		{`{"mode":"Bogus","version":12}`, "JsonException", ""},
		{`{"mode":"Command","version":"12"}`, "JsonException", ""},
		{`{"mode":"Command",,"version":12}`, "JsonException", ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			tw := startTwin(t, Options{Profile: Profile35})
			cl := dial(t, tw.SocketPath())
			cl.recv()
			got := cl.call(c.in)
			wantError(t, got, c.typ, c.msg)
			cl.expectEOF()
		})
	}
}

// The 3.6-dev snapshot answers a version error with the exception wrapped
// as a successful result, and every other handshake error by closing the
// connection without a word (Server.GetConnectionProcessor in the snapshot's
// src/DuetControlServer/IPC/Server.cs).
func TestHandshakeErrors36(t *testing.T) {
	versions := map[string]string{
		`{"mode":"Command","version":6}`:  "Incompatible protocol version (got 6, need 7 to 12)",
		`{"mode":"Command","version":13}`: "Incompatible protocol version (got 13, need 7 to 12)",
		`{"mode":"Command"}`:              "Incompatible protocol version (got 0, need 7 to 12)",
	}
	for in, msg := range versions {
		t.Run(in, func(t *testing.T) {
			tw := startTwin(t, Options{})
			c := dial(t, tw.SocketPath())
			c.recv()
			got := c.call(in)
			res, ok := result(t, got).(map[string]any)
			if !ok || res["message"] != msg || res["hResult"] != json.Number("-2146233088") {
				t.Fatalf("got %v", got)
			}
			c.expectEOF()
		})
	}
	silent := []string{
		`{"version":12}`,
		`{"Mode":"Command","Version":12}`, // 3.6 reads exact camelCase only
		`{"mode":"Bogus","version":12}`,
		`{"mode":"Unknown","version":12}`,
		`{"mode":1,"version":12}`, // "mode must be a string"
		`{"mode":"Command","version":"12"}`,
		`{"mode":"Command",,"version":12}`,
		`{"x":{"y":1},"mode":"Command","version":12}`, // the reader's Skip() ends the key search
	}
	for _, in := range silent {
		t.Run(in, func(t *testing.T) {
			tw := startTwin(t, Options{})
			c := dial(t, tw.SocketPath())
			c.recv()
			c.send(in)
			c.expectEOF()
		})
	}
}

// 3.5 reads property names case-insensitively; an array before "mode" is
// fine in 3.6.
func TestHandshakeCasing(t *testing.T) {
	tw := startTwin(t, Options{Profile: Profile35})
	c := dial(t, tw.SocketPath())
	c.recv()
	if got := c.call(`{"Mode":"Command","VERSION":12}`); !isSuccess(got) {
		t.Fatalf("3.5 PascalCase: %v", got)
	}
	tw36 := startTwin(t, Options{})
	c = dial(t, tw36.SocketPath())
	c.recv()
	if got := c.call(`{"filters":["a"],"mode":"Command","version":12}`); !isSuccess(got) {
		t.Fatalf("3.6 array before mode: %v", got)
	}
}

// Every mode but Command is outside what the twin emulates (usbStream
// neither intercepts nor subscribes); it says so instead of pretending.
func TestUnemulatedMode(t *testing.T) {
	tw := startTwin(t, Options{})
	for _, in := range []string{
		`{"mode":"Intercept","version":12,"interceptionMode":"Pre"}`,
		`{"mode":"Subscribe","version":12,"subscriptionMode":"Patch"}`,
	} {
		c := dial(t, tw.SocketPath())
		c.recv()
		wantError(t, c.call(in), "NotImplementedException", "")
		c.expectEOF()
	}
}
