package httpapi

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// memNet is a network in memory, for tests on synctest's fake clock: a
// goroutine blocked on a net.Pipe connection is durably blocked in the
// bubble, one blocked on a loopback socket is not, and the clock would
// never move. It is a listener for the server and a dialer for clients.
type memNet struct {
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
	port   atomic.Int32
}

// memURL is where a memNet client's requests go; any host would do.
const memURL = "http://camera.test"

func (n *memNet) Accept() (net.Conn, error) {
	select {
	case c := <-n.conns:
		return c, nil
	case <-n.done:
		return nil, net.ErrClosed
	}
}

func (n *memNet) Close() error {
	n.closed.Do(func() { close(n.done) })
	return nil
}

func (n *memNet) Addr() net.Addr { return memAddr("127.0.0.1:8081") }

// dial connects from ip: the server sees ip and a port of its own as the
// client's address, as over TCP.
func (n *memNet) dial(ip string) (net.Conn, error) {
	server, client := net.Pipe()
	remote := memAddr(net.JoinHostPort(ip, strconv.Itoa(40000+int(n.port.Add(1)))))
	select {
	case n.conns <- remoteConn{server, remote}:
		return client, nil
	case <-n.done:
		return nil, net.ErrClosed
	}
}

// open dials from ip for a test that speaks HTTP itself; the connection
// is closed when the test ends.
func (n *memNet) open(t *testing.T, ip string) net.Conn {
	t.Helper()
	conn, err := n.dial(ip)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// client is an HTTP client whose requests come from ip, a connection each.
func (n *memNet) client(ip string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:       func(context.Context, string, string) (net.Conn, error) { return n.dial(ip) },
		DisableKeepAlives: true,
	}}
}

type memAddr string

func (a memAddr) Network() string { return "tcp" }
func (a memAddr) String() string  { return string(a) }

// remoteConn is a pipe's end with the address of the peer it stands for.
type remoteConn struct {
	net.Conn
	remote net.Addr
}

func (c remoteConn) RemoteAddr() net.Addr { return c.remote }

// newMemFixture is newFixture on a memNet. Call it inside the bubble; the
// server and its requests, streams included, end with the test.
func newMemFixture(t *testing.T, opt Options) (*fixture, *memNet) {
	t.Helper()
	f := newAPI(opt)
	return f, serveInMemory(t, f.api)
}

// serveInMemory serves h on a new memNet until the test ends.
func serveInMemory(t *testing.T, h http.Handler) *memNet {
	n := &memNet{conns: make(chan net.Conn), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: h, BaseContext: func(net.Listener) context.Context { return ctx }}
	go srv.Serve(n)
	t.Cleanup(func() {
		cancel() // ends the streams, whose connections net/http no longer holds
		srv.Close()
	})
	return n
}
