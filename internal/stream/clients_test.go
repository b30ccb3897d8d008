package stream

import (
	"context"
	"encoding/json"
	"testing"
	"testing/synctest"
	"time"
)

// A viewer of a stalled camera sees its frame count stand still while the
// keep-alive re-sends the last frame: /status shows those re-sends apart,
// so that "connected but frozen" can be told from "connected and live".
func TestClientListShowsKeepaliveRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, r := NewHub(), NewRegistry()
		c, err := r.Admit("127.0.0.1:1", "/stream", "stream", 0, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		h.Publish(testFrame("still", time.Now()))
		// Re-sends at 1, 2 and 3 s; the stream ends between two of them.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second+DefaultKeepalive/4)
		defer cancel()
		h.Serve(ctx, &recordingConn{}, c, ReaderOptions{})
		doc, err := json.Marshal(r.List(time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		var list []struct {
			Frames, Repeats, Bytes uint64
		}
		if err := json.Unmarshal(doc, &list); err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Frames != 1 || list[0].Repeats != 3 || list[0].Bytes != 4*uint64(len("\xff\xd8still\xff\xd9")) {
			t.Fatalf("client list %s, want 1 frame, 3 repeats and the bytes of 4 parts", doc)
		}
	})
}
