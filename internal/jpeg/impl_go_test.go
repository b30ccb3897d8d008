//go:build !turbojpeg

package jpeg_test

// The build tags decide the implementation; the tests check they did.
const wantImplementationPrefix = "pure Go (image/jpeg)"
