package nettest

import (
	"net"
	"strconv"
	"testing"
)

func TestTakenRefusesASecondListenerAndFreePortAcceptsOne(t *testing.T) {
	_, port := Taken(t)
	if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
		ln.Close()
		t.Fatalf("port %d from Taken accepted a second listener", port)
	}
	free := FreePort(t)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(free))
	if err != nil {
		t.Fatalf("port %d from FreePort: %v", free, err)
	}
	ln.Close()
}
