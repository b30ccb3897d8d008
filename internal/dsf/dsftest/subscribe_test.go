package dsftest

import (
	"encoding/json"
	"net"
	"testing"
	"time"
)

func subscribe(t *testing.T, tw *Twin, init string) *client {
	t.Helper()
	c := dial(t, tw.SocketPath())
	c.recv()
	if got := c.call(init); !isSuccess(got) {
		t.Fatalf("subscribe: %v", got)
	}
	return c
}

// expectSilence asserts that nothing arrives for a short while.
func (c *client) expectSilence(d time.Duration) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(d))
	_, err := c.br.Peek(1)
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		c.t.Fatalf("expected silence, got %v", err)
	}
}

func TestSubscribePatch(t *testing.T) {
	tw := startTwin(t, Options{})
	s := subscribe(t, tw, `{"mode":"Subscribe","version":12,"subscriptionMode":"Patch","filters":["plugins/**","messages/**","sbc/dsf/httpEndpoints/**"]}`)
	initial := decode(t, s.recv())
	if len(initial) != 3 || initial["plugins"].(map[string]any)["usbStream"] == nil {
		t.Fatalf("initial %v", initial)
	}
	c := command(t, tw)
	c.call(`{"command":"SetPluginData","plugin":"usbStream","key":"status","value":{"streaming":true}}`)
	// No acknowledgement yet: nothing may arrive.
	s.expectSilence(150 * time.Millisecond)
	s.send(`{"command":"Acknowledge"}`)
	if got := string(s.recv()); got != `{"plugins":{"usbStream":{"data":{"status":{"streaming":true}}}}}` {
		t.Fatalf("patch %s", got)
	}
	c.call(`{"command":"AddHttpEndpoint","namespace":"usbStream","path":"a"}`)
	c.call(`{"command":"AddHttpEndpoint","namespace":"usbStream","path":"b"}`)
	c.call(`{"command":"WriteMessage","type":1,"content":"hi"}`)
	s.send(`{"command":"Acknowledge"}`)
	patch := decode(t, s.recv())
	eps := patch["sbc"].(map[string]any)["dsf"].(map[string]any)["httpEndpoints"].([]any)
	if len(eps) != 2 || eps[1].(map[string]any)["path"] != "b" {
		t.Fatalf("endpoints patch %v", eps)
	}
	msgs := patch["messages"].([]any)
	if len(msgs) != 1 || msgs[0].(map[string]any)["content"] != "hi" || msgs[0].(map[string]any)["type"] != json.Number("1") {
		t.Fatalf("messages patch %v", msgs)
	}
	tw.SetPluginPID(1234)
	s.send(`{"command":"Acknowledge"}`)
	if got := string(s.recv()); got != `{"plugins":{"usbStream":{"pid":1234}}}` {
		t.Fatalf("pid patch %s", got)
	}
	// Anything but an Acknowledge makes DCS drop the connection silently.
	s.send(`{"command":"GetObjectModel"}`)
	tw.SetPluginPID(-1)
	s.expectEOF()
}

// The initial filtered model does not descend into dictionaries, so a
// filter naming the plugin gives an empty start; later patches match.
func TestSubscribeFilterQuirk(t *testing.T) {
	tw := startTwin(t, Options{})
	s := subscribe(t, tw, `{"mode":"Subscribe","version":12,"subscriptionMode":"Patch","filters":["plugins/usbStream/**"]}`)
	if got := string(s.recv()); got != `{}` {
		t.Fatalf("initial %s", got)
	}
	s.send(`{"command":"Acknowledge"}`)
	c := command(t, tw)
	c.call(`{"command":"WriteMessage","type":0,"content":"not for this filter"}`)
	c.call(`{"command":"SetPluginData","plugin":"usbStream","key":"status","value":1}`)
	if got := string(s.recv()); got != `{"plugins":{"usbStream":{"data":{"status":1}}}}` {
		t.Fatalf("patch %s", got)
	}
}

func TestSubscribeFull(t *testing.T) {
	tw := startTwin(t, Options{Profile: Profile35})
	s := subscribe(t, tw, `{"Mode":"Subscribe","Version":12}`)
	first := decode(t, s.recv())
	if _, ok := first["state"]; !ok {
		t.Fatalf("initial %v", first)
	}
	s.send(`{"command":"Acknowledge"}`)
	tw.SetPluginPID(42)
	full := decode(t, s.recv())
	if p := full["plugins"].(map[string]any)["usbStream"].(map[string]any); p["pid"] != json.Number("42") {
		t.Fatalf("full %v", p)
	}
}
