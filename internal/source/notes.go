package source

import "context"

// WithNotes returns src with notes added to its Info: what the configuration
// asked that src cannot do (a camera-only option given to the test
// pattern), so /status says so instead of the option silently doing
// nothing.
func WithNotes(src Source, notes ...string) Source {
	if len(notes) == 0 {
		return src
	}
	return &noted{src, notes}
}

// noted is a pointer type: the supervisor compares sources to tell a
// replaced one from a retried one, and a slice field is not comparable.
type noted struct {
	src   Source
	notes []string
}

func (n *noted) Info() Info {
	info := n.src.Info()
	info.Notes = append(append([]string(nil), info.Notes...), n.notes...)
	return info
}

func (n *noted) Run(ctx context.Context, sink Sink) error { return n.src.Run(ctx, sink) }
