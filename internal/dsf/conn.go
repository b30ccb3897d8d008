// Package dsf is a small client for the Duet Software Framework's IPC
// (DuetControlServer's UNIX socket): command connections, custom HTTP
// endpoints and a plugin session that keeps both alive across DCS restarts.
// It knows nothing about cameras. The wire protocol is DSF's: the commands
// of src/DuetAPI/Commands and the handshake of src/DuetAPI/Connection
// (DuetControlServer's IPC/Processors answer them); every key is sent in exact camelCase, because DSF
// 3.6 reads property names case-sensitively.
package dsf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ProtocolVersion is the IPC protocol version of DSF 3.5 and 3.6.
const ProtocolVersion = 12

// DefaultSocket is where DCS listens.
const DefaultSocket = "/run/dsf/dcs.sock"

// Error is a failure DCS reported: its .NET exception type and message.
type Error struct {
	Type    string // e.g. "ArgumentException", "UnauthorizedAccessException"
	Message string
}

func (e *Error) Error() string { return "DCS: " + e.Type + ": " + e.Message }

// IsUnauthorized reports whether DCS refused the caller: at start, when it
// has not yet been told our PID (the startup race), or for a process DSF did
// not start.
func IsUnauthorized(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Type == "UnauthorizedAccessException"
}

// IsAlreadyActive reports DCS's answer to registering an endpoint whose
// socket is already listening (ours, after a reconnect to the same DCS).
func IsAlreadyActive(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Type == "InvalidOperationException"
}

// ErrClosed is returned by commands on a connection that has ended.
var ErrClosed = errors.New("DCS connection closed")

// response is DCS's reply to a command or an init message.
type response struct {
	Success      *bool           `json:"success"`
	Result       json.RawMessage `json:"result"`
	ErrorType    string          `json:"errorType"`
	ErrorMessage string          `json:"errorMessage"`
}

func (r *response) err() error {
	if r.Success == nil {
		return &Error{Type: "ProtocolError", Message: "reply without a success field"}
	}
	if !*r.Success {
		return &Error{Type: clip(r.ErrorType), Message: clip(r.ErrorMessage)}
	}
	return nil
}

// Conn is one command-mode connection to DCS. Commands run one at a time,
// in order, as DCS processes them.
type Conn struct {
	nc      net.Conn
	replies chan []byte
	done    chan struct{}

	mu      sync.Mutex // one command in flight
	errMu   sync.Mutex
	readErr error
}

// Dial connects to DCS at socket and switches to command mode. DCS
// refusing us (see IsUnauthorized) and a version mismatch come back as
// *Error.
func Dial(ctx context.Context, socket string) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	} else {
		nc.SetDeadline(time.Now().Add(10 * time.Second))
	}
	mr := newMessageReader(nc)
	if err := handshake(nc, mr); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	c := &Conn{nc: nc, replies: make(chan []byte, 1), done: make(chan struct{})}
	go c.readLoop(mr)
	return c, nil
}

// handshake: DCS speaks first with its version (or, when it refuses us, an
// error object instead), we answer with the mode, DCS confirms.
func handshake(nc io.Writer, mr *messageReader) error {
	first, err := mr.next()
	if err != nil {
		return fmt.Errorf("DCS handshake: %w", err)
	}
	var init struct {
		Version *int `json:"version"`
		response
		// DSF 3.5 refuses an unknown process by sending the serialised
		// .NET exception itself, without a success field.
		ExceptionMessage string `json:"message"`
		HResult          int64  `json:"hResult"`
	}
	if err := json.Unmarshal(first, &init); err != nil {
		return fmt.Errorf("DCS handshake: %s", clipErr(err))
	}
	if init.Success != nil && !*init.Success {
		return init.err()
	}
	if init.Version == nil {
		if init.ExceptionMessage != "" {
			typ := "Exception"
			if uint32(init.HResult) == 0x80070005 { // E_ACCESSDENIED: UnauthorizedAccessException
				typ = "UnauthorizedAccessException"
			}
			return &Error{Type: typ, Message: clip(init.ExceptionMessage)}
		}
		return &Error{Type: "ProtocolError", Message: "DCS sent no protocol version: " + clip(string(first))}
	}
	msg, _ := json.Marshal(struct {
		Mode    string `json:"mode"`
		Version int    `json:"version"`
	}{"Command", ProtocolVersion})
	if _, err := nc.Write(msg); err != nil {
		return fmt.Errorf("DCS handshake: %w", err)
	}
	raw, err := mr.next()
	if err != nil {
		return fmt.Errorf("DCS handshake: %w", err)
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("DCS handshake: %s", clipErr(err))
	}
	if err := r.err(); err != nil {
		return err
	}
	// The DSF 3.6 snapshot wraps handshake errors as a success with the
	// exception as "result"; a real success has no result.
	if len(r.Result) > 0 {
		var ex struct{ Message string }
		json.Unmarshal(r.Result, &ex)
		if ex.Message == "" {
			ex.Message = string(r.Result)
		}
		return &Error{Type: "HandshakeRejected", Message: clip(ex.Message)}
	}
	return nil
}

// readLoop owns reading: replies go to the command waiting for them, and a
// closed socket (DCS stopped or restarted) is noticed even while idle.
func (c *Conn) readLoop(mr *messageReader) {
	defer close(c.done)
	for {
		msg, err := mr.next()
		if err != nil {
			c.setErr(err)
			return
		}
		select {
		case c.replies <- msg:
		default:
			// DCS never speaks unasked in command mode.
			c.setErr(fmt.Errorf("unexpected message from DCS: %s", clip(string(msg))))
			c.nc.Close()
			return
		}
	}
}

func (c *Conn) setErr(err error) {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.readErr == nil {
		c.readErr = err
	}
}

// Err says why the connection ended, once Done is closed.
func (c *Conn) Err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.readErr
}

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close ends the connection.
func (c *Conn) Close() error {
	err := c.nc.Close()
	<-c.done
	return err
}

// Call sends cmd and decodes the reply's result into result (if not nil).
// A reply that does not come before ctx ends closes the connection: a late
// reply would otherwise be taken for the next command's.
func (c *Conn) Call(ctx context.Context, cmd any, result any) error {
	msg, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return fmt.Errorf("%w: %v", ErrClosed, c.Err())
	default:
	}
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetWriteDeadline(dl)
	}
	if _, err := c.nc.Write(msg); err != nil {
		c.nc.Close()
		return fmt.Errorf("sending to DCS: %w", err)
	}
	var raw []byte
	select {
	case raw = <-c.replies:
	case <-c.done:
		return fmt.Errorf("%w: %v", ErrClosed, c.Err())
	case <-ctx.Done():
		c.nc.Close()
		return fmt.Errorf("DCS did not answer: %w", ctx.Err())
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("bad reply from DCS: %s", clipErr(err))
	}
	if err := r.err(); err != nil {
		return err
	}
	if result != nil && len(r.Result) > 0 {
		if err := json.Unmarshal(r.Result, result); err != nil {
			return fmt.Errorf("bad result from DCS: %s", clipErr(err))
		}
	}
	return nil
}
