package dsftest

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// The twin identifies the plugin by SO_PEERCRED: this test process is the
// plugin exactly when its pid is registered.
func TestIdentityByPeerPID(t *testing.T) {
	tw := startTwin(t, Options{})
	set := `{"command":"SetPluginData","key":"status","value":{"up":true}}`

	c := command(t, tw)
	wantError(t, c.call(set), "UnauthorizedAccessException", "Failed to determine plugin ID")

	tw.SetPluginPID(os.Getpid())
	// Identity is fixed when a connection is accepted.
	wantError(t, c.call(set), "UnauthorizedAccessException", "Failed to determine plugin ID")
	p := command(t, tw)
	if got := p.call(set); !isSuccess(got) {
		t.Fatalf("as plugin: %v", got)
	}
	// The plugin may only touch its own data without managePlugins; the
	// owner check comes before the lookup.
	wantError(t, p.call(`{"command":"SetPluginData","plugin":"other","key":"status","value":1}`),
		"UnauthorizedAccessException", "Insufficient permissions")

	tw.SetPluginPID(0) // stopping: no process is the plugin any more
	c = command(t, tw)
	wantError(t, c.call(set), "UnauthorizedAccessException", "Failed to determine plugin ID")
}

func TestRejectUnregistered(t *testing.T) {
	for _, p := range []Profile{Profile35, Profile36} {
		t.Run(string(p), func(t *testing.T) {
			tw := startTwin(t, Options{Profile: p, RejectUnregistered: true})
			c := dial(t, tw.SocketPath())
			got := decode(t, c.recv())
			if p == Profile36 {
				wantError(t, got, "UnauthorizedAccessException", "Insufficient permissions")
			} else if got["message"] != "Insufficient permissions" || got["hResult"] != json.Number("-2147024891") || len(got) != 8 {
				// 3.5 sends the serialised exception object, not an ErrorResponse.
				t.Fatalf("got %v", got)
			}
			c.expectEOF()
			eventually(t, "the rejected connection to close", func() bool { return tw.Connections() == 0 })

			// The startup race resolves once DPS has registered the pid.
			tw.SetPluginPID(os.Getpid())
			c = dial(t, tw.SocketPath())
			if init := decode(t, c.recv()); init["id"] != json.Number("3") {
				t.Fatalf("server init %v (the rejected connection had id 2)", init)
			}
			if got := c.call(`{"mode":"Command","version":12}`); !isSuccess(got) {
				t.Fatalf("got %v", got)
			}
			if tw.Connections() != 1 {
				t.Fatalf("Connections() = %d", tw.Connections())
			}
		})
	}
}

func manifestWith(perms string) string {
	return strings.Replace(testManifest, `"sbcPermissions": [`, `"sbcPermissions": [`+perms+`],"x":[`, 1)
}

// The twin enforces the intended permission table (see allowed).
func TestPermissionTable(t *testing.T) {
	man := manifestWith(`"objectModelRead"`)
	tw := startTwin(t, Options{Manifest: []byte(man)})
	tw.SetPluginPID(os.Getpid())
	c := command(t, tw)
	for _, in := range []string{
		`{"command":"AddHttpEndpoint","namespace":"usbStream","path":"status"}`,
		`{"command":"RemoveHttpEndpoint","namespace":"usbStream","path":"status"}`,
		`{"command":"WriteMessage","type":0,"content":"x"}`,
		`{"command":"SetPluginData","key":"status","value":1}`,
		`{"command":"ResolvePath","path":"x"}`,
	} {
		wantError(t, c.call(in), "UnauthorizedAccessException", "Insufficient permissions")
	}
	if !isSuccess(c.call(`{"command":"SyncObjectModel"}`)) {
		t.Fatal("SyncObjectModel refused with objectModelRead")
	}
}

// A connection that may run no command of a mode is refused at the handshake.
func TestModePermission(t *testing.T) {
	man := manifestWith(`"networkAccess"`)
	for _, p := range []Profile{Profile35, Profile36} {
		tw := startTwin(t, Options{Profile: p, Manifest: []byte(man)})
		tw.SetPluginPID(os.Getpid())
		c := dial(t, tw.SocketPath())
		c.recv()
		c.send(`{"mode":"Subscribe","version":12,"subscriptionMode":"Patch"}`)
		if p == Profile35 {
			wantError(t, decode(t, c.recv()), "UnauthorizedAccessException", "Insufficient permissions")
		}
		c.expectEOF()

		c = dial(t, tw.SocketPath())
		c.recv()
		// Command mode needs any one command to be allowed; networkAccess
		// allows none, but root gets superUser, which SetNetworkProtocol takes.
		c.send(`{"mode":"Command","version":12}`)
		if os.Geteuid() == 0 || os.Getegid() == 0 {
			if got := decode(t, c.recv()); !isSuccess(got) {
				t.Fatalf("root: %v", got)
			}
			continue
		}
		if p == Profile35 {
			wantError(t, decode(t, c.recv()), "UnauthorizedAccessException", "Insufficient permissions")
		}
		c.expectEOF()
	}
}
