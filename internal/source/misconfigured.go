package source

import (
	"context"
	"errors"
)

// ErrMisconfigured marks a Run error that means there is no usable
// configuration: the config file has an error and usbStream runs on its
// built-in defaults until a save mends it. Like ErrAbsent it is a state to
// show, not a failure to warn about again (the application reports the
// error itself, with file and line).
var ErrMisconfigured = errors.New("configuration error")

// Misconfigured returns a source that delivers no frames and reports err,
// so that every client sees a placeholder saying what is wrong with the
// configuration rather than a camera opened with half of it.
func Misconfigured(err error) Source { return misconfigured{err} }

type misconfigured struct{ err error }

func (m misconfigured) Info() Info { return Info{Kind: "none", Device: "configuration error"} }

func (m misconfigured) Run(context.Context, Sink) error { return misconfiguredError{m.err} }

type misconfiguredError struct{ err error }

func (e misconfiguredError) Error() string        { return "configuration error: " + e.err.Error() }
func (e misconfiguredError) Unwrap() error        { return e.err }
func (e misconfiguredError) Is(target error) bool { return target == ErrMisconfigured }
