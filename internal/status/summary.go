package status

import (
	"math"
	"time"

	"usbstream/internal/source"
)

// Summary is the part of Status published as DSF plugin data
// (plugins.usbStream.data.status), which DCS pushes to every open DWC. It
// leaves out what changes every second (uptime, frame and byte counters,
// the process's figures) so that it is only sent when something a user
// would notice changes, and the device's modes (kilobytes; the tab gets
// them from /cameras). What it keeps has Status's JSON names at Status's
// places: the tab reads the plugin data and GET machine/usbStream/status
// the same way.
type Summary struct {
	Version     string          `json:"version"`
	StartedAt   time.Time       `json:"startedAt"`
	Source      SourceSummary   `json:"source"`
	HTTP        HTTP            `json:"http"`
	ClientCount int             `json:"clientCount"`
	Clients     []ClientSummary `json:"clients"`
	Config      Config          `json:"config"`
	Process     ProcessSummary  `json:"process"`
}

// SourceSummary is source.Status without its counters and modes.
type SourceSummary struct {
	source.Info
	State   source.State `json:"state"`
	Waiting bool         `json:"waiting"`
	Error   string       `json:"error,omitempty"`
	// MeasuredFPS is whole frames per second here, so that the jitter of
	// the measurement sends nothing.
	MeasuredFPS float64 `json:"measuredFps"`
}

// ClientSummary is a client as the Summary lists it: stream.ClientInfo
// without its counters, its frame rate in whole frames per second.
type ClientSummary struct {
	Kind   string  `json:"kind"`
	Remote string  `json:"remote"`
	FPS    float64 `json:"fps"`
}

// ProcessSummary says which process the Summary comes from.
type ProcessSummary struct {
	PID int `json:"pid"`
}

// maxSummaryClients keeps the plugin data small however many clients there
// are; ClientCount counts them all, and the full list is in /status.
const maxSummaryClients = 20

// Summary is the part of st that goes out as plugin data.
func (st Status) Summary() Summary {
	src := st.Source
	info := src.Info
	info.Modes = nil
	s := Summary{Version: st.Version, StartedAt: st.StartedAt, HTTP: st.HTTP, ClientCount: st.ClientCount,
		Config: st.Config, Process: ProcessSummary{PID: st.Process.PID},
		Source: SourceSummary{Info: info, State: src.State, Waiting: src.Waiting, Error: src.Error,
			MeasuredFPS: math.Round(src.MeasuredFPS)},
		Clients: make([]ClientSummary, 0, min(len(st.Clients), maxSummaryClients))}
	for _, c := range st.Clients[:min(len(st.Clients), maxSummaryClients)] {
		s.Clients = append(s.Clients, ClientSummary{Kind: c.Kind, Remote: c.Remote, FPS: math.Round(c.FPS)})
	}
	return s
}
