// Package nettest gives tests loopback ports: one nothing listens on, or one
// taken, so a test can start usbStream on a port of its own or prove what
// happens when the port is busy.
package nettest

import (
	"net"
	"testing"
)

// Taken returns a loopback listener that holds its port until the test
// ends (or the caller closes it earlier to free the port).
func Taken(t testing.TB) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// FreePort returns a loopback port nothing listens on at the moment. Another
// process could take it before the test does; on loopback in a test run that
// has not been seen, and the test then fails loudly at listen.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, port := Taken(t)
	ln.Close()
	return port
}
