//go:build linux

package stream

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// SendQueueBytes bounds the bytes of one stream connection that the kernel
// holds unsent (TCP_NOTSENT_LOWAT). Without the bound Linux autotunes the
// send buffer to megabytes, which a viewer on a slow link drains for tens
// of seconds: every frame it saw was that old, and the newest-frame logic
// never got to skip one. With it, a write blocks while this much is
// queued, and the next frame is chosen only once the queue is below half
// of it, so the frame chosen is the newest when the link can take it.
//
// 8 KiB is a sixth of a typical frame (30-150 KB), so what is still queued
// when the next frame is chosen (under 4 KiB) adds little to the age of
// what a slow viewer sees: 40 ms at 100 KB/s, where 32 KiB measured 150 ms
// more (BENCHMARKS.md, "Slow links"). A fast link is not slowed: on it the
// queue never fills, and a viewer whose link is the limit gets a wake-up
// per 4 KiB sent, a few hundred a second.
const SendQueueBytes = 8 << 10

// sendQueue is the kernel's send queue of one TCP connection.
type sendQueue struct {
	raw syscall.RawConn
	// The poll's arguments and result, and the callback using them, made
	// once: a closure built per frame would be a heap allocation per
	// frame and client.
	fds      [1]unix.PollFd
	perr     error
	writable func(fd uintptr) bool
}

// boundSendQueue limits conn's unsent bytes and returns its queue, or nil
// when conn is no TCP socket (a test's pipe, an HTTP/2 stream): those are
// written as before.
func boundSendQueue(conn Conn) *sendQueue {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, SendQueueBytes)
	}); err != nil || serr != nil {
		return nil // a UNIX socket, or a kernel before 3.12
	}
	q := &sendQueue{raw: raw}
	q.writable = q.poll
	return q
}

// waitWritable blocks until the kernel would take more bytes, that is
// until the unsent queue is below half of SendQueueBytes, or until the
// connection's write deadline. A poll with no timeout asks tcp_poll, which
// also arms the wake-up (SOCK_NOSPACE) when the answer is no; Go's poller
// then waits for that wake-up instead of a thread blocking in poll.
func (q *sendQueue) waitWritable() error {
	if err := q.raw.Write(q.writable); err != nil {
		return err
	}
	return q.perr
}

// poll is the RawConn.Write callback of waitWritable: true when fd can
// take bytes now.
func (q *sendQueue) poll(fd uintptr) bool {
	q.fds[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLOUT}
	for {
		_, q.perr = unix.Poll(q.fds[:], 0)
		if q.perr != unix.EINTR {
			break
		}
	}
	// An error or hang-up also ends the wait: the next write reports it.
	return q.perr != nil || q.fds[0].Revents != 0
}

// unacked returns the bytes written but not yet acknowledged by the peer
// (sent or not): it falls while the viewer reads, however slowly.
func (q *sendQueue) unacked() (int, error) {
	var n int
	var ierr error
	err := q.raw.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) })
	if err != nil {
		return 0, err
	}
	return n, ierr
}
