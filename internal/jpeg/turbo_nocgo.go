//go:build turbojpeg && !cgo

package jpeg

// The turbojpeg tag asks for libjpeg-turbo, which needs cgo. Falling back
// to image/jpeg without a word would ship a release build that rotates
// frames several times slower, so the build fails here instead, naming the
// fix.
var _ = turbojpegTagNeedsCgo_SetCGO_ENABLED1_AndACCompiler
