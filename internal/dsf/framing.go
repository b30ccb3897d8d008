package dsf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
)

// MaxMessageSize bounds one message from DCS or DWS. The largest real one is
// the object model (tens of kB); a peer that sends more is broken, and
// reading on would only eat memory.
const MaxMessageSize = 16 << 20

// ErrMessageTooLarge is returned for a message over MaxMessageSize.
var ErrMessageTooLarge = errors.New("DSF message too large")

// messageReader splits DSF's undelimited stream into JSON objects the way
// DCS does (JsonHelper.ReceiveUtf8Json): bytes before the first '{' are
// skipped, braces inside strings do not count, and an object ends when its
// braces balance. There is no length prefix and no newline between
// messages, so this is the only way to find where one ends.
type messageReader struct {
	r   *bufio.Reader
	max int
	// grow, if set, is asked before the message passes n bytes; an error
	// ends the read (a budget shared with other connections is spent).
	grow func(n int) error
}

func newMessageReader(r io.Reader) *messageReader {
	return &messageReader{r: bufio.NewReaderSize(r, 4096), max: MaxMessageSize}
}

// next returns the bytes of the next JSON object. The object is not
// validated beyond its braces: callers unmarshal it. io.EOF means the peer
// closed between messages; io.ErrUnexpectedEOF, in the middle of one.
func (m *messageReader) next() ([]byte, error) {
	for {
		b, err := m.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if b == '{' {
			break
		}
	}
	msg := []byte{'{'}
	depth, inString, escaped := 1, false, false
	for depth > 0 {
		b, err := m.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(msg) >= m.max {
			return nil, fmt.Errorf("%w (over %d bytes without closing the object)", ErrMessageTooLarge, m.max)
		}
		if len(msg) == cap(msg) {
			// Grown by hand so that a message near the limit does not cost
			// twice the limit, as append's doubling would.
			n := min(max(2*cap(msg), 512), m.max)
			if m.grow != nil {
				if err := m.grow(n); err != nil {
					return nil, err
				}
			}
			msg = slices.Grow(msg, n-len(msg))
		}
		msg = append(msg, b)
		switch {
		case escaped:
			escaped = false
		case inString && b == '\\':
			escaped = true
		case b == '"':
			inString = !inString
		case inString:
		case b == '{':
			depth++
		case b == '}':
			depth--
		}
	}
	return msg, nil
}
