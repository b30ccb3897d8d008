package httpapi

import (
	"net/url"
	"strings"
)

// route is what a request asks for.
type route int

const (
	routeNotFound route = iota
	routeViewer
	routeStream
	routeSnapshot
	routeStatus
	routeCameras
	routeFavicon
)

// classify maps a request path and query to a route. It accepts every URL
// form the world already uses: ours, mjpg-streamer's (/?action=stream_0),
// and DWC's cache-busting variants (?dummy=..., or "_<random>" appended
// directly to the path or to the action when its "useFix" option is on).
// Unknown query parameters are ignored, and so are spaces and tabs at the
// end of the path or of the action: httpViewer sends everything after
// -http on its config line, so "http://host:8085/   #comment" arrives as
// "/%20%20%20".
func classify(path string, query url.Values) route {
	path = strings.TrimRight(path, " \t")
	switch {
	case path == "/" || hasNameSuffix(path, "/index.html") || strings.HasPrefix(path, "/_"):
		action := strings.TrimRight(query.Get("action"), " \t")
		switch {
		case action == "":
			return routeViewer
		case hasNameSuffix(action, "stream"):
			return routeStream
		case hasNameSuffix(action, "snapshot"):
			return routeSnapshot
		}
		return routeNotFound
	case hasNameSuffix(path, "/stream"):
		return routeStream
	case hasNameSuffix(path, "/snapshot"):
		return routeSnapshot
	case hasNameSuffix(path, "/status"):
		return routeStatus
	case hasNameSuffix(path, "/cameras"):
		return routeCameras
	case path == "/favicon.ico":
		return routeFavicon
	}
	return routeNotFound
}

// hasNameSuffix reports whether s is name, optionally followed by an
// extension (".jpg", ".mjpg", ".json"), a "_<anything>" suffix, or a slash.
func hasNameSuffix(s, name string) bool {
	rest, ok := strings.CutPrefix(s, name)
	if !ok {
		return false
	}
	return rest == "" || rest == "/" || rest[0] == '_' || rest[0] == '.'
}
