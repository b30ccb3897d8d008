package dsf

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// The commands usbStream sends. Field names are DSF's, in the exact
// camelCase that DSF 3.6 requires.

// AddHttpEndpoint registers GET/POST/... /machine/<namespace>/<path> with
// DWS and returns the UNIX socket path to listen on. DCS does not create
// the socket.
func (c *Conn) AddHttpEndpoint(ctx context.Context, method, namespace, path string, upload bool) (string, error) {
	var socket string
	err := c.Call(ctx, struct {
		Command         string `json:"command"`
		EndpointType    string `json:"endpointType"`
		Namespace       string `json:"namespace"`
		Path            string `json:"path"`
		IsUploadRequest bool   `json:"isUploadRequest"`
	}{"AddHttpEndpoint", method, namespace, path, upload}, &socket)
	if err != nil {
		return "", err
	}
	if !usablePath(socket, maxSocketPath) {
		return "", &Error{Type: "ProtocolError", Message: fmt.Sprintf("DCS named %q as the endpoint socket, which is not a socket path", clip(socket))}
	}
	return socket, nil
}

// Path limits: sun_path holds 108 bytes with its NUL, PATH_MAX 4096.
const (
	maxSocketPath = 107
	maxFilePath   = 4095
)

// usablePath reports whether p, which DCS sent, is an absolute path of at
// most n bytes below "/" without "..": we create, write and delete files
// at these paths.
func usablePath(p string, n int) bool {
	if len(p) > n || !filepath.IsAbs(p) || filepath.Clean(p) == "/" || strings.ContainsRune(p, 0) {
		return false
	}
	return !slices.Contains(strings.Split(p, "/"), "..")
}

// RemoveHttpEndpoint unregisters an endpoint; false means DCS had none.
func (c *Conn) RemoveHttpEndpoint(ctx context.Context, method, namespace, path string) (bool, error) {
	var removed bool
	err := c.Call(ctx, struct {
		Command      string `json:"command"`
		EndpointType string `json:"endpointType"`
		Namespace    string `json:"namespace"`
		Path         string `json:"path"`
	}{"RemoveHttpEndpoint", method, namespace, path}, &removed)
	return removed, err
}

// SetPluginData sets one key of plugins.<plugin>.data to any JSON value.
// The key must be declared in plugin.json's data.
func (c *Conn) SetPluginData(ctx context.Context, plugin, key string, value any) error {
	raw, err := json.Marshal(value)
	if err != nil {
		return err
	}
	return c.Call(ctx, struct {
		Command string          `json:"command"`
		Plugin  string          `json:"plugin"`
		Key     string          `json:"key"`
		Value   json.RawMessage `json:"value"`
	}{"SetPluginData", plugin, key, raw}, nil)
}

// MessageType is how DWC shows a message.
type MessageType int

// DSF's message types; DCS accepts only the numbers.
const (
	Info    MessageType = 0 // "success" in DSF
	Warning MessageType = 1
	Failure MessageType = 2 // "error" in DSF
)

// WriteMessage puts a message in DWC's console (and a toast). logLevel is
// "debug", "info", "warn", "off" or "" for DCS's default by type.
func (c *Conn) WriteMessage(ctx context.Context, typ MessageType, content, logLevel string) error {
	return c.Call(ctx, struct {
		Command       string      `json:"command"`
		Type          MessageType `json:"type"`
		Content       string      `json:"content"`
		OutputMessage bool        `json:"outputMessage"`
		LogLevel      *string     `json:"logLevel"`
	}{"WriteMessage", typ, content, true, optional(logLevel)}, nil)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ResolvePath maps a virtual SD path ("0:/sys/x") to a file system path.
func (c *Conn) ResolvePath(ctx context.Context, path string) (string, error) {
	var resolved string
	err := c.Call(ctx, struct {
		Command string `json:"command"`
		Path    string `json:"path"`
	}{"ResolvePath", path}, &resolved)
	if err != nil {
		return "", err
	}
	if !usablePath(resolved, maxFilePath) {
		return "", &Error{Type: "ProtocolError", Message: fmt.Sprintf("DCS resolved %q to %q, which is not a file path", clip(path), clip(resolved))}
	}
	return resolved, nil
}
