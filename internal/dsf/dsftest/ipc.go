package dsftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"syscall"
	"time"
)

// protocolVersion and minVersion are Defaults.ProtocolVersion and
// Server.MinimumProtocolVersion, the same in 3.5 and 3.6.
const (
	protocolVersion = 12
	minVersion      = 7
)

var connectionModes = enumType{
	dotnet:  "DuetAPI.Connection.ConnectionMode",
	names:   []string{"Unknown", "Command", "Intercept", "Subscribe", "CodeStream", "PluginService"},
	strings: true,
}

const (
	modeUnknown = iota
	modeCommand
	modeIntercept
	modeSubscribe
	modeCodeStream
	modePluginService
)

// ipcConn is one accepted DCS connection.
type ipcConn struct {
	t        *Twin
	conn     *net.UnixConn
	br       *bufio.Reader
	id       int
	pluginID *string // nil: not a plugin (PluginId == null)
	perms    perm
}

func (t *Twin) acceptLoop(ln *net.UnixListener) {
	defer t.wg.Done()
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off instead of spinning.
			select {
			case <-t.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		t.mu.Lock()
		if t.ln != ln {
			t.mu.Unlock()
			conn.Close()
			continue
		}
		t.nextID++
		c := &ipcConn{t: t, conn: conn, br: bufio.NewReader(conn), id: t.nextID}
		t.conns[c] = struct{}{}
		t.connWG.Add(1)
		t.mu.Unlock()
		go c.serve()
	}
}

func (c *ipcConn) serve() {
	t := c.t
	defer func() {
		c.conn.Close()
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
		t.connWG.Done()
	}()
	// DCS checks the peer before it says anything; a rejected client gets
	// the error in place of the server init message.
	if !c.identify() {
		if t.opt.Profile == Profile35 {
			// 3.5 passes the bare exception to Send<T>, which serialises the
			// exception object itself instead of an ErrorResponse.
			c.write(exceptionJSON("Insufficient permissions", -2147024891))
		} else {
			c.write(t.errorReply(errInsufficient))
		}
		return
	}
	if !c.write(marshal(ordered{{"version", protocolVersion}, {"id", c.id}})) {
		return
	}
	mode, ok := c.handshake()
	if !ok {
		return
	}
	switch mode {
	case modeCommand:
		if c.write(t.successReply(nil)) {
			c.commandLoop()
		}
	default:
		// Not part of DSF: the twin only speaks the modes usbStream needs.
		c.write(t.errorReply(newErr("NotImplementedException", "dsftest does not emulate "+connectionModes.name(mode)+" connections")))
	}
}

// write sends one message with a single write, as DSF does.
func (c *ipcConn) write(b []byte) bool {
	_, err := c.conn.Write(b)
	return err == nil
}

// identify applies Connection.AssignPermissions with the twin's policy for
// processes that are not the plugin (Options.RejectUnregistered).
func (c *ipcConn) identify() bool {
	pid, uid, gid := peerCred(c.conn)
	t := c.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if uid == 0 || gid == 0 {
		c.perms |= pSuperUser
	}
	if t.pid > 0 && pid == t.pid {
		id := t.man.id
		c.pluginID = &id
		c.perms |= t.man.perms
		return true
	}
	if t.opt.RejectUnregistered {
		return false
	}
	c.perms |= pAll &^ pSuperUser
	return true
}

// peerCred reads SO_PEERCRED; -1 values mean it could not be read.
func peerCred(conn *net.UnixConn) (pid, uid, gid int) {
	pid, uid, gid = -1, -1, -1
	raw, err := conn.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
		if err == nil {
			pid, uid, gid = int(cred.Pid), int(cred.Uid), int(cred.Gid)
		}
	})
	return
}

// successReply is BaseResponse or Response<T>. 3.6 writes success first;
// 3.5's reflection serialiser writes the derived class's properties first.
func (t *Twin) successReply(result []byte) []byte {
	if result == nil {
		return []byte(`{"success":true}`)
	}
	if t.opt.Profile == Profile35 {
		return marshal(ordered{{"result", json.RawMessage(result)}, {"success", true}})
	}
	return marshal(ordered{{"success", true}, {"result", json.RawMessage(result)}})
}

// errorReply is ErrorResponse.
func (t *Twin) errorReply(e *dnError) []byte {
	if t.opt.Profile == Profile35 {
		return marshal(ordered{{"errorType", e.Type}, {"errorMessage", e.Message}, {"success", false}})
	}
	return marshal(ordered{{"success", false}, {"errorType", e.Type}, {"errorMessage", e.Message}})
}

// exceptionJSON is what System.Text.Json makes of an exception object that
// was never thrown (a thrown one has a TargetSite, which it refuses to
// serialise).
func exceptionJSON(msg string, hresult int) []byte {
	return marshal(ordered{{"targetSite", nil}, {"message", msg}, {"data", ordered{}}, {"innerException", nil},
		{"helpLink", nil}, {"source", nil}, {"hResult", hresult}, {"stackTrace", nil}})
}

// modePerms returns the permissions of the commands a mode supports; DCS
// refuses a mode when none of them is allowed.
func modePerms(mode int) perm {
	var p perm
	for _, c := range commandTable {
		if c.mode == mode {
			p |= c.perms
		}
	}
	return p
}

// allowed is the check DCS means to make: any one of the required flags.
// Real DCS lets everything through, because
// src/DuetAPI/Utility/RequiredPermissionsAttribute.cs Check also tests the
// None flag (0), which every set has; the twin enforces the table so that a
// permission missing from plugin.json fails a test instead of a future DSF.
func (c *ipcConn) allowed(p perm) bool {
	return c.perms&p != 0
}

// handshake reads the client init message and checks it. On failure it has
// already sent whatever the profile sends.
func (c *ipcConn) handshake() (int, bool) {
	raw, err := readObject(c.br)
	if err != nil {
		return 0, false
	}
	if c.t.opt.Profile == Profile35 {
		return c.handshake35(raw)
	}
	return c.handshake36(raw)
}

// handshake35 follows 3.5's GetConnectionProcessor: deserialise with
// case-insensitive names, check the version, then the mode; every failure
// is a proper ErrorResponse followed by closing the connection.
func (c *ipcConn) handshake35(raw []byte) (int, bool) {
	fail := func(e *dnError) (int, bool) {
		c.write(c.t.errorReply(e))
		return 0, false
	}
	if e := syntaxCheck(raw, true); e != nil {
		return fail(e)
	}
	o, err := parseObject(raw, true)
	if err != nil {
		return fail(readerError(raw, err, true))
	}
	mode, _, err := o.enum("mode", connectionModes, modeUnknown)
	if err != nil {
		return fail(err.(*dnError))
	}
	version, err := o.integer("version", 0)
	if err != nil {
		return fail(err.(*dnError))
	}
	if version < minVersion || version > protocolVersion {
		return fail(newErr("IncompatibleVersionException", versionMessage(version)))
	}
	switch mode {
	case modeCommand, modeSubscribe:
		if !c.allowed(modePerms(mode)) {
			return fail(errInsufficient)
		}
	case modeIntercept, modeCodeStream, modePluginService:
	default:
		return fail(argumentError("Invalid connection mode"))
	}
	return mode, true
}

// handshake36 follows the 3.6-dev snapshot. It finds "mode" with a
// case-sensitive token scan, and it reports every failure through
// SendResponse, which wraps the exception as a *successful* result
// (Server.GetConnectionProcessor, IPC/Server.cs).
// Only the version error is an exception that was never thrown; every other
// one was thrown, System.Text.Json refuses to serialise it, and the client
// just sees the connection close.
func (c *ipcConn) handshake36(raw []byte) (int, bool) {
	val, isString, found, derr := scan36(raw, "mode")
	if derr != nil || !found || !isString {
		return 0, false // JsonReaderException, "missing connection mode", "mode must be a string"
	}
	mode, ok := connectionModes.parse(val)
	if !ok || mode <= modeUnknown || mode > modePluginService {
		return 0, false // JsonException, "Invalid connection mode"
	}
	if syntaxCheck(raw, true) != nil {
		return 0, false
	}
	o, err := parseObject(raw, false)
	if err != nil {
		return 0, false
	}
	version, err := o.integer("version", 0)
	if err != nil {
		return 0, false
	}
	if version < minVersion || version > protocolVersion {
		c.write(c.t.successReply(exceptionJSON(versionMessage(version), -2146233088)))
		return 0, false
	}
	if (mode == modeCommand || mode == modeSubscribe) && !c.allowed(modePerms(mode)) {
		return 0, false // thrown UnauthorizedAccessException
	}
	return mode, true
}

func versionMessage(v int) string {
	return "Incompatible protocol version (got " + itoa(v) + ", need " + itoa(minVersion) + " to " + itoa(protocolVersion) + ")"
}

// scan36 reproduces the Utf8JsonReader loop 3.6 uses to find "mode" and
// "command": an exact (unescaped) key match at the top level, where any
// object-valued property before the key ends the search because the
// reader's Skip() leaves it on an EndObject token, which the loop takes for
// the end of the message.
func scan36(raw []byte, key string) (val json.RawMessage, isString, found bool, err *dnError) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	reader := func(e error) *dnError { return readerError(raw, e, false) }
	if _, e := dec.Token(); e != nil {
		return nil, false, false, reader(e)
	}
	for {
		if !dec.More() {
			if _, e := dec.Token(); e != nil {
				return nil, false, false, reader(e)
			}
			return nil, false, false, nil
		}
		tok, e := dec.Token()
		if e != nil {
			return nil, false, false, reader(e)
		}
		name, _ := tok.(string)
		vtok, e := dec.Token()
		if e != nil {
			return nil, false, false, reader(e)
		}
		if name == key {
			s, ok := vtok.(string)
			if !ok {
				return nil, false, true, nil
			}
			return marshal(s), true, true, nil
		}
		d, isDelim := vtok.(json.Delim)
		if !isDelim {
			continue
		}
		if e := skipTo(dec); e != nil {
			return nil, false, false, reader(e)
		}
		if d == '{' {
			return nil, false, false, nil
		}
	}
}

// skipTo consumes tokens up to the end of the container just opened.
func skipTo(dec *json.Decoder) error {
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

func itoa(n int) string { return string(marshal(n)) }
