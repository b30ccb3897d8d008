package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// hostList is the set of host names requests may be addressed to. An
// empty list allows any: most printers are reached by an address or a name
// only the owner's network knows, and refusing names usbStream cannot
// foresee would break those setups.
//
// The list exists against DNS rebinding: a web page on the internet whose
// name briefly resolves to the printer can make the owner's browser read
// the camera, and its requests carry that page's name in Host. Addresses
// (what a rebinding page cannot put in Host) and localhost are therefore
// always allowed.
type hostList struct {
	names map[string]bool
}

// SetAllowedHosts changes the host names requests may name from now on
// (empty: any). Names are matched without case and without the port.
func (s *Server) SetAllowedHosts(names []string) {
	l := &hostList{}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
		if n == "" {
			continue
		}
		if l.names == nil {
			l.names = make(map[string]bool)
		}
		l.names[n] = true
	}
	s.hosts.Store(l)
}

// allows reports whether a request with Host header host may be answered.
func (l *hostList) allows(host string) bool {
	if l == nil || l.names == nil || l.names["*"] {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.ToLower(strings.TrimSuffix(strings.Trim(name, "[]"), "."))
	// An HTTP/1.0 request may have no Host; a browser, which a rebinding
	// page needs, always sends one. netip also knows IPv6 zones (fe80::1%eth0).
	if _, err := netip.ParseAddr(name); err == nil || name == "" || name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	return l.names[name]
}

// refuseHost answers a request addressed to a name not on the list.
func refuseHost(w http.ResponseWriter) {
	http.Error(w, "misdirected request: this host name is not in usbStream's -allowhost list", http.StatusMisdirectedRequest)
}
