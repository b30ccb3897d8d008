package config

import "slices"

// Reload is what it takes to apply a changed option while usbStream runs.
// Every option in the table has one; the zero value is none, so that an
// option added without one fails the table's test.
type Reload int

const (
	_ Reload = iota
	// SwitchesLog: the log switches level or file at once.
	SwitchesLog
	// SwitchesCredentials: requests from now on need the new credentials,
	// and the streams and waiting snapshots the old ones let in end.
	SwitchesCredentials
	// AppliesToNewRequests: requests from now on see it; streams being
	// served keep going.
	AppliesToNewRequests
	// TunesSource: a running camera takes it without reopening (but a frame
	// rate above the one it was opened with must be asked for at open);
	// the test pattern and a file replay, cheap to start, restart.
	TunesSource
	// ReopensSource: the source closes and opens again.
	ReopensSource
	// MovesListener: the HTTP server opens the new address, and only then
	// closes the old one.
	MovesListener
	// AppliesAfterRestart: it takes effect the next time usbStream starts.
	AppliesAfterRestart
	// NotInFile: a reload never changes it: it is given on the command
	// line only, which a reload keeps, or it sets nothing (-#).
	NotInFile
)

func (r Reload) String() string {
	switch r {
	case SwitchesLog:
		return "switches the log"
	case SwitchesCredentials:
		return "switches the credentials"
	case AppliesToNewRequests:
		return "applies to new requests"
	case TunesSource:
		return "tunes the source"
	case ReopensSource:
		return "reopens the source"
	case MovesListener:
		return "moves the listener"
	case AppliesAfterRestart:
		return "applies after a restart"
	case NotInFile:
		return "not in a file"
	}
	return "no reload class"
}

// Change is an option whose value differs between two configurations.
type Change struct {
	Option string // as written, e.g. "-port"
	Reload Reload
}

// Diff lists the options whose values differ from prev to next, in the
// help's order, each with what applying it takes. Settings that are not
// values of an option (File, Warnings, HostSet, LogFileSet) are not
// compared: -host 0.0.0.0 written out changes nothing.
func Diff(prev, next *Config) []Change {
	var out []Change
	for _, o := range options {
		if o.same != nil && !o.same(prev, next) {
			out = append(out, Change{Option: "-" + o.name, Reload: o.reload})
		}
	}
	return out
}

// CameraOnly names the options in c that only a camera honours and that c
// sets to something other than their default, in the table's order.
func CameraOnly(c *Config) []string {
	def := Default()
	var out []string
	for _, o := range options {
		if o.cameraOnly && !o.same(&def, c) {
			out = append(out, "-"+o.name)
		}
	}
	return out
}

// sameValue compares an option whose value is one comparable field.
func sameValue[T comparable](field func(*Config) T) func(a, b *Config) bool {
	return func(a, b *Config) bool { return field(a) == field(b) }
}

// sameList compares an option that collects a list.
func sameList[T comparable](field func(*Config) []T) func(a, b *Config) bool {
	return func(a, b *Config) bool { return slices.Equal(field(a), field(b)) }
}

// sameNumber compares an optional number: unset equals only unset.
func sameNumber(field func(*Config) *float64) func(a, b *Config) bool {
	return func(a, b *Config) bool {
		x, y := field(a), field(b)
		return x == nil && y == nil || x != nil && y != nil && *x == *y
	}
}
