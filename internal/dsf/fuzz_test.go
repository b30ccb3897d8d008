package dsf

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// Whatever DCS or DWS sends, decoding it must not crash, hang or accept a
// message that is not a balanced object.
func FuzzDecodeMessages(f *testing.F) {
	for _, seed := range []string{
		`{"version":12,"id":7}{"success":true}`,
		`{"success":false,"errorType":"UnauthorizedAccessException","errorMessage":"Insufficient permissions"}`,
		`{"version":12,"id":2}{"success":true,"result":{"Message":"Incompatible protocol version (got 99, need 7 to 12)"}}`,
		`{"sessionId":-1,"queries":{"a":"b"},"headers":{"Host":"x"},"contentType":null,"body":"{\"}"}`,
		`junk {"a":"\\\"}"} {`,
		`{"success":true,"result":"/run/dsf/usbStream/status-GET.sock"}`,
		`{"targetSite":null,"message":"Insufficient permissions","data":{},"innerException":null,"hResult":-2147024891}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newMessageReader(bytes.NewReader(data))
		for range 64 {
			msg, err := r.next()
			if err != nil {
				break
			}
			if msg[0] != '{' || msg[len(msg)-1] != '}' || len(msg) > len(data) {
				t.Fatalf("message %q is not a braced object from the input", msg)
			}
			var req Request
			if json.Unmarshal(msg, &req) == nil {
				req.Header("host")
				req.Query("x")
			}
			var resp response
			if json.Unmarshal(msg, &resp) == nil {
				resp.err()
			}
		}
		// The handshake decides success or failure; it never panics.
		handshake(io.Discard, newMessageReader(bytes.NewReader(data)))
	})
}
