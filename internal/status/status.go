// Package status defines the one status document that /status, the DSF
// plugin data (a Summary: a part of the same document) and the DWC tab all
// show, so they can never disagree.
package status

import (
	"net/url"
	"time"

	"usbstream/internal/source"
	"usbstream/internal/stream"
)

// Status is everything a user or a tool may want to know about a running
// usbStream. JSON names are camelCase and stable: the DWC tab reads them.
type Status struct {
	Version   string        `json:"version"`
	StartedAt time.Time     `json:"startedAt"`
	Uptime    float64       `json:"uptimeSeconds"`
	Source    source.Status `json:"source"`
	HTTP      HTTP          `json:"http"`
	// ClientCount is how many clients there are; Clients lists them (in
	// the Summary, only the first maxSummaryClients).
	ClientCount int                 `json:"clientCount"`
	Clients     []stream.ClientInfo `json:"clients"`
	Config      Config              `json:"config"`
	DSF         DSF                 `json:"dsf"`
	Process     Process             `json:"process"`
}

// DSF says whether usbStream is connected to the Duet Software Framework.
type DSF struct {
	Enabled   bool      `json:"enabled"`
	Connected bool      `json:"connected"`
	Socket    string    `json:"socket,omitempty"`
	Since     time.Time `json:"since"`
	Error     string    `json:"error,omitempty"`
}

// HTTP says where the streams are served.
type HTTP struct {
	Host         string `json:"host"`
	Port         int    `json:"port"`
	StreamPath   string `json:"streamPath"`
	SnapshotPath string `json:"snapshotPath"`
	// Auth: the port asks for credentials (basic auth or a token).
	Auth bool `json:"auth"`
	// Basic: it takes -user/-password (basic auth).
	Basic bool `json:"basic"`
	// Token opens the stream, snapshot and viewer as ?token= (-token, or
	// derived from the user and password); "" when there is none. The
	// document is only shown to whoever may read the config file anyway:
	// /status asks for basic auth, and DWC's plugin data and status
	// endpoint are for DWC sessions (see app.dsfStatusEndpoint).
	Token string `json:"token,omitempty"`
	// TokenPaths are the routes with the token, ready to append to
	// http://host:port.
	TokenPaths *TokenPaths `json:"tokenPaths,omitempty"`
	// StreamURL is the full stream URL for a client that reached usbStream
	// through DWC (the DSF status endpoint fills it in from the Host header).
	StreamURL string `json:"streamUrl,omitempty"`
	// Error says why the configured port is not being served.
	Error string `json:"error,omitempty"`
}

// TokenPaths are the stream, snapshot and viewer paths with the token.
type TokenPaths struct {
	Stream   string `json:"stream"`
	Snapshot string `json:"snapshot"`
	Viewer   string `json:"viewer"`
}

// SetToken fills in Token and TokenPaths for token ("" clears them).
func (h *HTTP) SetToken(token string) {
	h.Token, h.TokenPaths = token, nil
	if token == "" {
		return
	}
	q := "?token=" + url.QueryEscape(token)
	h.TokenPaths = &TokenPaths{Stream: h.StreamPath + q, Snapshot: h.SnapshotPath + q, Viewer: "/" + q}
}

// Config says which configuration is in force and whether loading it worked.
type Config struct {
	File     string    `json:"file,omitempty"`
	LoadedAt time.Time `json:"loadedAt"`
	// OK is false when the last reload failed; Error then says where and
	// why (file:line), and the configuration loaded at LoadedAt stays.
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Defaults: the file had an error when usbStream started, so it runs
	// on the built-in defaults (and shows the error instead of a picture)
	// until a save fixes the file.
	Defaults bool       `json:"defaults,omitempty"`
	FailedAt *time.Time `json:"failedAt,omitempty"`
	// Changed lists the options the last successful reload changed.
	Changed []string `json:"changed,omitempty"`
}
