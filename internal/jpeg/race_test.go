//go:build race

package jpeg_test

const raceEnabled = true
