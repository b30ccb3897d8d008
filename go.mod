module usbstream

go 1.26.11


require (
	github.com/blackjack/webcam v0.6.1
	github.com/fsnotify/fsnotify v1.10.1
	go.uber.org/zap v1.28.0
	golang.org/x/image v0.47.0
	golang.org/x/sys v0.50.0
)

require go.uber.org/multierr v1.10.0 // indirect
