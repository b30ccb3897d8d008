// Package e2e holds the end-to-end tests of usbStream: they build the real
// binary from ../sbc once per run, start it on free loopback ports and
// drive it as its users do, with Go's HTTP client, raw TCP sockets, ffmpeg,
// wget, OpenCV, Chromium, go2rtc, systemd-analyze and the DSF twin
// (internal/dsf/dsftest). harness_test.go has everything the tests share.
//
// `go test ./e2e` runs them all but two groups, each behind a build tag:
//
//   - -tags vm: the tests against the kernel's vivid camera driver, which
//     load and unload kernel modules and press vivid's Disconnect button;
//     they run inside the qemu VM of tools/vmtest/camera.sh, and fail
//     anywhere else.
//   - -tags zip: the plugin zip installed and started as DSF does it, given
//     with -zip PATH after ./build.sh (.ci/run runs it for each zip).
//
// USBSTREAM_BINARY=/abs/path/usbStream runs the tests against that binary
// instead of building one (the VM has no Go toolchain; it also lets an
// older build be checked). CI=true turns a missing tool (ffmpeg, Chromium,
// ...) from a skip into a failure.
package e2e
