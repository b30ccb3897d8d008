package dsftest

import (
	"strings"
	"testing"
)

func TestCommandErrorsKeepConnection(t *testing.T) {
	cases := []struct {
		profile    Profile
		in         string
		typ, msg   string
		msgIsStart bool
	}{
		{Profile36, `{"command":"Foo"}`, "ArgumentException", "unsupported command Foo", false},
		{Profile35, `{"command":"Foo"}`, "ArgumentException", "Unsupported command Foo", false},
		{Profile36, `{"Command":"GetObjectModel"}`, "ArgumentException", "command type not found", false},
		{Profile36, `{"plugin":{"x":1},"command":"SetPluginData"}`, "ArgumentException", "command type not found", false},
		{Profile36, `{"command":3}`, "ArgumentException", "command must be a string", false},
		{Profile35, `{"command":3}`, "ArgumentException", "Command type must be a string", false},
		{Profile35, `{"x":1}`, "ArgumentException", "Command type not found", false},
		{Profile36, `{"command":"Acknowledge"}`, "ArgumentException", "Invalid command Acknowledge (wrong mode?)", false},
		{Profile35, `{"command":"acknowledge"}`, "ArgumentException", "Invalid command acknowledge (wrong mode?)", false},
		// Syntax errors: a bare reader error, unless 3.6's serializer meets it
		// after the command key was found.
		{Profile36, `{"command" "GetObjectModel"}`, "JsonReaderException", "", false},
		{Profile36, `{"command":"GetObjectModel",}`, "JsonException", "", false},
		{Profile35, `{"command":"GetObjectModel",}`, "JsonReaderException", "", false},
		{Profile36, `{"command":"Code","code":"M115"}`, "NotImplementedException", "dsftest does not emulate Code", false},
	}
	for _, c := range cases {
		t.Run(string(c.profile)+c.in, func(t *testing.T) {
			tw := startTwin(t, Options{Profile: c.profile})
			cl := command(t, tw)
			wantError(t, cl.call(c.in), c.typ, c.msg)
			if got := result(t, cl.call(`{"command":"ResolvePath","path":"x"}`)); got != tw.SDRoot()+"/x" {
				t.Fatalf("next command: %v", got)
			}
			if n := len(tw.Commands()); n != 2 || string(tw.Commands()[0]) != c.in {
				t.Fatalf("Commands() = %q", tw.Commands())
			}
		})
	}
}

func TestCommandNameCaseInsensitive(t *testing.T) {
	for _, p := range []Profile{Profile35, Profile36} {
		tw := startTwin(t, Options{Profile: p})
		c := command(t, tw)
		if got := result(t, c.call(`{"command":"resolvepath","path":"0:/a"}`)); got != tw.SDRoot()+"/a" {
			t.Fatalf("%s: %v", p, got)
		}
	}
}

// Property names: exact camelCase in 3.6 (other spellings are ignored and
// leave the default), any case in 3.5.
func TestPropertyCasing(t *testing.T) {
	tw := startTwin(t, Options{})
	c := command(t, tw)
	wantError(t, c.call(`{"command":"SetPluginData","Plugin":"usbStream","Key":"status","Value":1}`),
		"UnauthorizedAccessException", "Failed to determine plugin ID")
	wantError(t, c.call(`{"command":"SetPluginData","plugin":"usbStream","Key":"status","value":1}`),
		"ArgumentException", "Key  not found in the plugin data")
	if !isSuccess(c.call(`{"command":"SetPluginData","plugin":"usbStream","key":"status","value":1}`)) {
		t.Fatal("camelCase refused")
	}

	tw35 := startTwin(t, Options{Profile: Profile35})
	c = command(t, tw35)
	if got := c.call(`{"Command":"SetPluginData","Plugin":"usbStream","KEY":"status","Value":{"x":2}}`); !isSuccess(got) {
		t.Fatalf("3.5 PascalCase: %v", got)
	}
	if v, _ := tw35.PluginData("status"); string(v) != `{"x":2}` {
		t.Fatalf("data %s", v)
	}
}

// 3.5 writes the derived class's properties first, so success comes last.
func TestKeyOrder35(t *testing.T) {
	tw := startTwin(t, Options{Profile: Profile35})
	c := command(t, tw)
	c.send(`{"command":"ResolvePath","path":"1:/x"}`)
	if got := string(c.recv()); got != `{"errorType":"ArgumentException","errorMessage":"Invalid drive index","success":false}` {
		t.Fatalf("got %s", got)
	}
	c.send(`{"command":"RemoveHttpEndpoint","namespace":"a","path":"b"}`)
	if got := string(c.recv()); got != `{"result":false,"success":true}` {
		t.Fatalf("got %s", got)
	}
}

func TestResolvePath(t *testing.T) {
	tw := startTwin(t, Options{})
	c := command(t, tw)
	sd := tw.SDRoot()
	for in, want := range map[string]string{
		"0:/sys/usbStream/usbStream.config": sd + "/sys/usbStream/usbStream.config",
		"0:sys/x":                           sd + "/sys/x",
		"0:///sys/x":                        sd + "/sys/x",
		"sys/x":                             sd + "/sys/x",
		"/sys/x":                            sd + "/sys/x",
		`0:\sys\x`:                          sd + "/sys/x",
		"":                                  sd,
	} {
		if got := result(t, c.call(`{"command":"ResolvePath","path":`+string(marshal(in))+`}`)); got != want {
			t.Errorf("%q → %v, want %s", in, got, want)
		}
	}
	for _, in := range []string{"1:/x", "2:/sys/x"} {
		wantError(t, c.call(`{"command":"ResolvePath","path":"`+in+`"}`), "ArgumentException", "Invalid drive index")
	}
	if got := result(t, c.call(`{"command":"ResolvePath","path":"a.g","baseDirectory":"GCodes"}`)); got != sd+"/gcodes/a.g" {
		t.Errorf("baseDirectory: %v", got)
	}
	wantError(t, c.call(`{"command":"ResolvePath","path":null}`), "NullReferenceException", "")
}

func TestWriteMessage(t *testing.T) {
	tw := startTwin(t, Options{})
	c := command(t, tw)
	for _, in := range []string{
		`{"command":"WriteMessage","type":1,"content":"[usbStream] /dev/video0 not found"}`,
		`{"command":"WriteMessage","type":0,"content":"ok","outputMessage":false}`,
		`{"command":"WriteMessage","type":2,"content":"bad","logLevel":"debug"}`,
		`{"command":"WriteMessage","type":0,"content":"x","logMessage":true}`,
		`{"command":"WriteMessage","type":2,"content":"   \n"}`,
	} {
		if got := c.call(in); !isSuccess(got) {
			t.Fatalf("%s: %v", in, got)
		}
	}
	wantPrefix(t, c.call(`{"command":"WriteMessage","type":"warning","content":"x"}`), "JsonException",
		"The JSON value could not be converted to DuetAPI.ObjectModel.Messages.MessageType")
	wantError(t, c.call(`{"command":"WriteMessage","type":7,"content":"x"}`), "NotImplementedException", "")

	msgs := tw.Messages()
	want := []Message{
		{Type: 1, Content: "[usbStream] /dev/video0 not found", OutputMessage: true, LogLevel: "warn"},
		{Type: 0, Content: "ok", OutputMessage: false, LogLevel: "info"},
		{Type: 2, Content: "bad", OutputMessage: true, LogLevel: "debug"},
		{Type: 0, Content: "x", OutputMessage: true, LogLevel: "warn"},
	}
	if len(msgs) != len(want) {
		t.Fatalf("messages %+v", msgs)
	}
	for i := range want {
		got := msgs[i]
		if got.Time.IsZero() {
			t.Errorf("message %d has no time", i)
		}
		got.Time = want[i].Time
		if got != want[i] {
			t.Errorf("message %d: %+v, want %+v", i, got, want[i])
		}
	}
}

func TestManifestChecks(t *testing.T) {
	for _, m := range []string{
		``,
		`{"id":"usb-Stream","name":"x"}`,
		`{"id":"usbStream"}`,
		`{"id":"usbStream","name":"x","sbcPermissions":["NetworkAccess"]}`,
		`{"id":"usbStream","name":"x","sbcPermissions":["servicePlugins"]}`,
		`{"id":"usbStream","name":"x","sbcExecutable":5}`,
		`{"id":"usbStream","name":"x","data":[1]}`,
	} {
		if tw, err := Start(Options{Dir: shortDir(t), Manifest: []byte(m)}); err == nil {
			tw.Close()
			t.Errorf("manifest %s accepted", m)
		}
	}
}

func TestSetPluginData(t *testing.T) {
	tw := startTwin(t, Options{})
	c := command(t, tw)
	for _, v := range []string{`{"streaming":true, "port":8090}`, `42`, `"text"`, `null`, `[1,{"a":[]}]`} {
		if got := c.call(`{"command":"SetPluginData","plugin":"usbStream","key":"status","value":` + v + `}`); !isSuccess(got) {
			t.Fatalf("%s: %v", v, got)
		}
		if got, ok := tw.PluginData("status"); !ok || string(got) != v {
			t.Fatalf("stored %s, want %s", got, v)
		}
	}
	wantError(t, c.call(`{"command":"SetPluginData","plugin":"usbStream","key":"Status","value":1}`),
		"ArgumentException", "Key Status not found in the plugin data")
	wantError(t, c.call(`{"command":"SetPluginData","plugin":"usbStream","key":"nope","value":1}`),
		"ArgumentException", "Key nope not found in the plugin data")
	wantError(t, c.call(`{"command":"SetPluginData","plugin":"other","key":"status","value":1}`),
		"ArgumentException", "Plugin other not found")
	wantError(t, c.call(`{"command":"SetPluginData","plugin":"usbStream","key":"status"}`),
		"InvalidOperationException", "")
	// A process run by hand has no plugin id to fall back on.
	wantError(t, c.call(`{"command":"SetPluginData","key":"status","value":1}`),
		"UnauthorizedAccessException", "Failed to determine plugin ID")
	wantError(t, c.call(`{"command":"SetPluginData","plugin":"","key":"status","value":1}`),
		"UnauthorizedAccessException", "Failed to determine plugin ID")
	if got, _ := tw.PluginData("other"); string(got) != `{"a": 1}` {
		t.Fatalf("untouched key changed: %s", got)
	}
}

func TestAddHTTPEndpoint(t *testing.T) {
	tw := startTwin(t, Options{})
	c := command(t, tw)
	dir := strings.TrimSuffix(tw.SocketPath(), "dcs.sock")
	for _, ns := range []string{"file", "fileinfo", "directory"} {
		wantError(t, c.call(`{"command":"AddHttpEndpoint","endpointType":"GET","namespace":"`+ns+`","path":"x"}`),
			"ArgumentException", "Namespace is reserved")
	}
	got := result(t, c.call(`{"command":"AddHttpEndpoint","endpointType":"POST","namespace":"usbStream","path":"a/b","isUploadRequest":true}`))
	if got != dir+"usbStream/a/b-POST.sock" {
		t.Fatalf("path %v", got)
	}
	for _, d := range []string{dir + "usbStream", dir + "usbStream/a"} {
		fi, err := osStat(d)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o775 {
			t.Fatalf("%s: %v %v", d, fi, err)
		}
	}
	if _, err := osStat(got.(string)); err == nil {
		t.Fatal("DCS created the socket")
	}
	got = result(t, c.call(`{"command":"AddHttpEndpoint","endpointType":"websocket","namespace":"usbStream","path":"ws"}`))
	if got != dir+"usbStream/ws-WebSocket.sock" {
		t.Fatalf("path %v", got)
	}
	// Omitted fields take their defaults: GET, "", "" and false.
	if got := result(t, c.call(`{"command":"AddHttpEndpoint"}`)); got != dir+"-GET.sock" {
		t.Fatalf("defaults %v", got)
	}
	eps := tw.Endpoints()
	if len(eps) != 3 || eps[0] != (Endpoint{"POST", "usbStream", "a/b", true, dir + "usbStream/a/b-POST.sock"}) {
		t.Fatalf("endpoints %+v", eps)
	}
}

// A registered endpoint is probed with a real connect: a live listener
// refuses re-registration, a dead one is handed back unchanged.
func TestAddHTTPEndpointProbe(t *testing.T) {
	tw := startTwin(t, Options{})
	c := command(t, tw)
	add := `{"command":"AddHttpEndpoint","endpointType":"GET","namespace":"usbStream","path":"status","isUploadRequest":false}`
	sock := result(t, c.call(add)).(string)

	// Nothing listens yet (no file at all): stale, same path.
	if got := result(t, c.call(add)); got != sock {
		t.Fatalf("got %v", got)
	}
	ln := listenUnix(t, sock)
	probed := make(chan bool, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		buf := make([]byte, 1)
		_, err = conn.Read(buf) // the probe connects and closes at once
		probed <- err != nil
	}()
	wantError(t, c.call(add), "InvalidOperationException", "Requested HTTP endpoint is already registered and active")
	select {
	case eof := <-probed:
		if !eof {
			t.Fatal("probe sent data")
		}
	case <-timeAfter(wait):
		t.Fatal("no probe connection")
	}
	// The listener dies but its file stays: stale again, and the changed
	// isUploadRequest is ignored.
	ln.Close()
	if got := result(t, c.call(strings.Replace(add, `"isUploadRequest":false`, `"isUploadRequest":true`, 1))); got != sock {
		t.Fatalf("got %v", got)
	}
	if eps := tw.Endpoints(); len(eps) != 1 || eps[0].IsUploadRequest {
		t.Fatalf("endpoints %+v", eps)
	}
}

func TestRemoveHTTPEndpoint(t *testing.T) {
	tw := startTwin(t, Options{})
	c := command(t, tw)
	sock := result(t, c.call(`{"command":"AddHttpEndpoint","namespace":"usbStream","path":"status"}`)).(string)
	ln := listenUnix(t, sock)
	defer ln.Close()
	if got := result(t, c.call(`{"command":"RemoveHttpEndpoint","endpointType":"GET","namespace":"usbStream","path":"status"}`)); got != true {
		t.Fatalf("got %v", got)
	}
	if got := result(t, c.call(`{"command":"RemoveHttpEndpoint","endpointType":"GET","namespace":"usbStream","path":"status"}`)); got != false {
		t.Fatalf("got %v", got)
	}
	if _, err := osStat(sock); err != nil {
		t.Fatalf("socket file touched: %v", err)
	}
	if len(tw.Endpoints()) != 0 {
		t.Fatal("endpoint kept")
	}
}
