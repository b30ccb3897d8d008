// Package status defines the one status document that /status, the DSF
// plugin data and the DWC tab all show, so they can never disagree.
package status

import (
	"time"

	"usbstream/internal/source"
	"usbstream/internal/stream"
)

// Status is everything a user or a tool may want to know about a running
// usbStream. JSON names are camelCase and stable: the DWC tab reads them.
type Status struct {
	Version   string              `json:"version"`
	StartedAt time.Time           `json:"startedAt"`
	Uptime    float64             `json:"uptimeSeconds"`
	Source    source.Status       `json:"source"`
	HTTP      HTTP                `json:"http"`
	Clients   []stream.ClientInfo `json:"clients"`
	Config    Config              `json:"config"`
	Process   Process             `json:"process"`
}

// HTTP says where the streams are served.
type HTTP struct {
	Host         string `json:"host"`
	Port         int    `json:"port"`
	StreamPath   string `json:"streamPath"`
	SnapshotPath string `json:"snapshotPath"`
	Auth         bool   `json:"auth"`
}

// Config says which configuration is in force and whether loading it worked.
type Config struct {
	File     string    `json:"file,omitempty"`
	LoadedAt time.Time `json:"loadedAt"`
	OK       bool      `json:"ok"`
	Error    string    `json:"error,omitempty"`
}
