//go:build turbojpeg

package jpeg_test

// The build tags decide the implementation; the tests check they did.
const wantImplementationPrefix = "libjpeg-turbo "
