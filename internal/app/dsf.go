package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"usbstream/internal/camera"
	"usbstream/internal/config"
	"usbstream/internal/dsf"
	"usbstream/internal/source"
	"usbstream/internal/status"
)

// PluginID is usbStream's id in DSF: the endpoints' namespace and the key
// of its plugin data.
const PluginID = "usbStream"

// dataKey is the one plugin-data key, declared in plugin.json; it always
// holds one whole object (DWC can drop sibling keys on a partial patch).
const dataKey = "status"

// publishInterval caps how often plugin data is sent: DCS pushes every
// change to every open DWC.
const publishInterval = time.Second

// logFileVirtual is where the plugin's log lives on the printer's SD card,
// so that users can open it in DWC.
const logFileVirtual = "0:/sys/usbStream/usbStream.log"

func (a *App) newDSFSession(socket string) *dsf.Session {
	return dsf.NewSession(dsf.SessionOptions{
		Socket: socket,
		Plugin: PluginID,
		Endpoints: []dsf.EndpointSpec{
			{Method: "GET", Path: "status", Handler: a.dsfStatusEndpoint},
			{Method: "GET", Path: "snapshot", Handler: a.dsfSnapshotEndpoint},
			{Method: "GET", Path: "cameras", Handler: a.dsfCamerasEndpoint},
		},
		OnConnect: a.onDSFConnect,
		Log:       a.log.Named("dsf"),
	})
}

func (a *App) dsfStatus() status.DSF {
	if a.dsf == nil {
		return status.DSF{}
	}
	st := a.dsf.Status()
	return status.DSF{Enabled: true, Connected: st.Connected, Socket: st.Socket, Since: st.Since, Error: st.Error}
}

// message sends text to DWC's console when DSF is connected.
func (a *App) message(typ dsf.MessageType, text string) {
	if a.dsf != nil {
		a.dsf.Message(typ, "[usbStream] "+text)
	}
}

// onDSFConnect moves the log to the SD card's sys folder as DSF resolves
// it, unless the configuration names a log file of its own.
func (a *App) onDSFConnect(ctx context.Context, c *dsf.Conn) {
	cfg := a.config()
	if cfg.LogFileSet && cfg.LogFile != config.DefaultDSFLogFile {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	path, err := c.ResolvePath(cctx, logFileVirtual)
	if err != nil {
		a.log.Debug("cannot resolve the log file's path through DSF", zap.Error(err))
		return
	}
	if path == a.opt.LogOutput.Path() {
		return
	}
	if err := a.opt.LogOutput.Set(cfg.Verbose, path); err != nil {
		// The error repeats the path DCS chose; a DCS that keeps dropping
		// us would have it logged at every reconnection.
		a.dsf.Warn(dsf.Clip(err.Error()))
		return
	}
	a.log.Info("logging to the printer's SD card", zap.String("file", dsf.Clip(path)))
}

func jsonResponse(v any) dsf.Response {
	b, err := json.Marshal(v)
	if err != nil {
		return dsf.Response{StatusCode: 500, Type: dsf.PlainText, Body: err.Error()}
	}
	return dsf.Response{StatusCode: 200, Type: dsf.JSONText, Body: string(b)}
}

// dsfStatusEndpoint: GET /machine/usbStream/status, the /status document
// plus the stream's URL as seen from the browser that asked DWC.
//
// DSF authenticates no plugin endpoint: a request without a DWC session
// (a plain fetch from anywhere that reaches DWC) gets the document
// without the access token, as it gets no snapshot (dsfSnapshotEndpoint).
func (a *App) dsfStatusEndpoint(_ context.Context, r *dsf.Request) dsf.Response {
	st := a.Status()
	if r.SessionID < 0 {
		st.HTTP.SetToken("")
	}
	if host := hostOnly(r.Header("Host")); host != "" {
		st.HTTP.StreamURL = "http://" + net.JoinHostPort(host, strconv.Itoa(st.HTTP.Port)) + st.HTTP.StreamPath
	}
	return jsonResponse(st)
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

func (a *App) dsfCamerasEndpoint(context.Context, *dsf.Request) dsf.Response {
	list, err := camera.List()
	if err != nil {
		return dsf.Response{StatusCode: 500, Type: dsf.PlainText, Body: "cannot list cameras: " + err.Error()}
	}
	return jsonResponse(list)
}

// dsfSnapshotEndpoint: GET /machine/usbStream/snapshot through DWC's own
// port. DWS fetches the picture from the snapshot door (see snapshotDoor)
// and copies its answer, so it arrives as image/jpeg with its length, the
// X-Placeholder header and a 503 for a placeholder, as /snapshot does.
//
// DSF authenticates no plugin endpoint. Without auth (no -user/-password,
// no -token) the stream port is open, and so is this; with it, only a DWC
// session (logged in to DWC, if DWC has a password) gets the picture here.
// The stream port's own access decides, so both are protected from the
// same moment of a reload.
func (a *App) dsfSnapshotEndpoint(_ context.Context, r *dsf.Request) dsf.Response {
	if a.api.Protected() && r.SessionID < 0 {
		return dsf.Response{StatusCode: 403, Type: dsf.PlainText,
			Body: "usbStream's pictures need a login (-user/-password or -token): use a DWC session, or the stream port with the credentials"}
	}
	if a.door == nil {
		return dsf.Response{StatusCode: 503, Type: dsf.PlainText, Body: errNoDoor.Error()}
	}
	return dsf.Response{StatusCode: 200, Type: dsf.URI, Body: a.door.url(r)}
}

// publish keeps the plugin data in step with the status (at most once a
// second, only when it changed) and tells DWC's console when the camera is
// lost or back.
func (a *App) publish(ctx context.Context) {
	tick := time.NewTicker(publishInterval)
	defer tick.Stop()
	var last []byte
	var prev source.State
	everStreamed, waitWarned := false, false
	for {
		st := a.Status()
		waiting := st.Source.Waiting
		if b, err := json.Marshal(st.Summary()); err == nil && string(b) != string(last) {
			a.dsf.SetData(dataKey, json.RawMessage(b))
			last = b
		}
		delivered := prev == source.Streaming || prev == source.Stalled
		switch {
		case st.Source.State == source.Stalled && prev == source.Streaming:
			a.message(dsf.Warning, fmt.Sprintf("%s sends no frames (%s); showing a placeholder until it does",
				sourceName(st.Source.Info), st.Source.Error))
		case st.Source.State == source.Streaming && prev == source.Stalled:
			a.message(dsf.Info, sourceName(st.Source.Info)+" sends frames again")
		case st.Source.State == source.Lost && delivered:
			a.message(dsf.Warning, fmt.Sprintf("%s lost (%s); showing a placeholder until it is back",
				sourceName(st.Source.Info), st.Source.Error))
		case st.Source.State == source.Streaming && prev == source.Lost && everStreamed:
			a.message(dsf.Info, sourceName(st.Source.Info)+" is back")
		case waiting && !everStreamed && !waitWarned && time.Since(a.started) > 10*time.Second:
			waitWarned = true
			a.message(dsf.Warning, "no camera yet ("+st.Source.Error+"); the stream shows a placeholder until one is plugged in")
		}
		everStreamed = everStreamed || st.Source.State == source.Streaming
		prev = st.Source.State
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sourceName names a source for a console message.
func sourceName(info source.Info) string {
	if info.Kind == "camera" {
		return "camera " + info.Device
	}
	return "source " + info.Device
}
