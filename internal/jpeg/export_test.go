package jpeg

// Hooks for the external tests and benchmarks, which must be able to force
// each TransformJPEG strategy to compare them.

var ErrNoLossless = errNoLossless

func TransformJPEGLossless(jpg []byte, t Transform, quality int) ([]byte, error) {
	return transformJPEGWith(jpg, t, quality, strategyLossless)
}

func TransformJPEGDecodeEncode(jpg []byte, t Transform, quality int) ([]byte, error) {
	return transformJPEGWith(jpg, t, quality, strategyDecodeEncode)
}
