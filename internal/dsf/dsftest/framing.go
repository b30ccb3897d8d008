package dsftest

import (
	"bytes"
	"io"
)

// readObject reads one message the way DSF's JsonHelper.ReceiveUtf8Json
// does (identical in 3.5 and 3.6): byte by byte, keeping nothing before the
// first '{', and stopping when the brace depth drops back to zero. The state
// machine is copied as is, including its quirks: a '"' or '}' in the junk
// before the object still toggles the quote state or lowers the depth, so
// such junk can swallow or truncate the next object just as it would on a
// real DCS. EOF before the object ends returns io.ErrUnexpectedEOF (DSF
// throws a SocketException and drops the connection), EOF before any byte of
// an object returns io.EOF.
func readObject(r io.ByteReader) ([]byte, error) {
	var buf bytes.Buffer
	inJSON, inQuotes, escaped := false, false, false
	depth := 0
	for !inJSON || depth > 0 {
		c, err := r.ReadByte()
		if err != nil {
			if buf.Len() == 0 {
				return nil, io.EOF
			}
			return nil, io.ErrUnexpectedEOF
		}
		switch {
		case inQuotes:
			if escaped {
				escaped = false
			} else if c == '\\' {
				escaped = true
			} else if c == '"' {
				inQuotes = false
			}
		case c == '"':
			inQuotes = true
		case c == '{':
			inJSON = true
			depth++
		case c == '}':
			depth--
		}
		if inJSON {
			buf.WriteByte(c)
		}
	}
	return buf.Bytes(), nil
}
