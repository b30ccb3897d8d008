//go:build !linux

package stream

// SendQueueBytes is the bound on unsent bytes where the kernel offers one
// (Linux, sendqueue_linux.go); elsewhere streams are written unbounded.
const SendQueueBytes = 8 << 10

type sendQueue struct{}

func boundSendQueue(Conn) *sendQueue     { return nil }
func (*sendQueue) waitWritable() error   { return nil }
func (*sendQueue) unacked() (int, error) { return 0, nil }
