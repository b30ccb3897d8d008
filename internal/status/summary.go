package status

import (
	"math"
	"time"
)

// Summary is the part of Status published as DSF plugin data
// (plugins.usbStream.data.status), which DCS pushes to every open DWC. It
// leaves out what changes every second (uptime, frame counters, byte
// counts) so that it is only sent when something a user would notice
// changes.
type Summary struct {
	Version     string    `json:"version"`
	PID         int       `json:"pid"`
	StartedAt   time.Time `json:"startedAt"`
	State       string    `json:"state"`   // streaming, stalled, starting, lost, stopped
	Waiting     bool      `json:"waiting"` // lost because no camera is there yet (not a failure)
	Error       string    `json:"error,omitempty"`
	Kind        string    `json:"kind"`
	Device      string    `json:"device"`
	Name        string    `json:"name,omitempty"`
	Format      string    `json:"format"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	TargetFPS   float64   `json:"targetFps"`
	MeasuredFPS float64   `json:"measuredFps"` // whole frames per second
	Notes       []string  `json:"notes,omitempty"`
	Clients     int       `json:"clients"`
	ClientList  []Client  `json:"clientList,omitempty"`
	HTTP        HTTP      `json:"http"`
	Config      Config    `json:"config"`
}

// Client is one connected client in the summary.
type Client struct {
	Kind   string  `json:"kind"`
	Remote string  `json:"remote"`
	FPS    float64 `json:"fps"`
}

// maxSummaryClients keeps the plugin data small however many clients there
// are; the full list is in /status.
const maxSummaryClients = 20

// Summarize builds the plugin-data summary of st. waiting says whether a
// lost source is merely absent.
func Summarize(st Status, pid int, waiting bool) Summary {
	s := Summary{Version: st.Version, PID: pid, StartedAt: st.StartedAt, State: string(st.Source.State),
		Waiting: waiting, Error: st.Source.Error, Kind: st.Source.Kind, Device: st.Source.Device,
		Name: st.Source.Name, Format: st.Source.Format, Width: st.Source.Width, Height: st.Source.Height,
		TargetFPS: st.Source.FPS, MeasuredFPS: math.Round(st.Source.MeasuredFPS), Notes: st.Source.Notes,
		Clients: len(st.Clients), HTTP: st.HTTP, Config: st.Config}
	for i, c := range st.Clients {
		if i == maxSummaryClients {
			break
		}
		s.ClientList = append(s.ClientList, Client{Kind: c.Kind, Remote: c.Remote, FPS: math.Round(c.FPS)})
	}
	return s
}
