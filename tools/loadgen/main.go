// Command loadgen puts a usbStream server under load: it opens many MJPEG
// stream clients, checks the framing of every part they receive, fetches
// snapshots alongside, and reports frame rates, latency, throughput and the
// server's CPU and memory use.
//
//	go run ./tools/loadgen -clients 200 -duration 30s
//	go run ./tools/loadgen -h
//	go run ./tools/loadgen soak -duration 1h   # changing clients, figures over time
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usageText = `loadgen: open many MJPEG stream clients against a usbStream server and measure it.

Usage: go run ./tools/loadgen [flags]

Each client opens its own TCP connection to -url, reads the multipart stream
and checks every part: the Content-Type, Content-Length and X-Timestamp headers,
a body from FF D8 to FF D9, and "\r\n--BOUNDARY\r\n" right after it. A part with
the same X-Timestamp as the one before is counted as a repeat, not as a frame.
Clients are opened over -ramp; figures from the first -warmup are discarded,
then everything is measured for -duration. Only loopback targets (127.0.0.0/8,
localhost) are accepted.

The server's CPU, RSS and thread count come from /proc/PID; without -pid the
process listening on the URL's port is looked up (needs permission to read its
/proc/PID/fd, i.e. the same user or root).

Exit status: 0 if all went well; 1 if a client failed to connect, any part
broke the framing, a fast client lost its stream before the end, a snapshot
failed, a fast client stayed below -min-fps, or the run was interrupted;
2 for bad flags.

Flags:
`

func main() {
	os.Exit(mainWithArgs(os.Args[1:], os.Stdout, os.Stderr))
}

func mainWithArgs(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "soak" {
		return soakMain(args[1:], stdout, stderr)
	}
	opt := defaultOptions()
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&opt.URL, "url", opt.URL, "stream `URL` to load (http, loopback only)")
	fs.IntVar(&opt.Clients, "clients", opt.Clients, "number of stream clients, `N` (1-10000)")
	fs.DurationVar(&opt.Duration, "duration", opt.Duration, "length of the measurement window (at most 10m)")
	fs.DurationVar(&opt.Warmup, "warmup", opt.Warmup, "time from the start before measuring; its figures are discarded (at most 1m)")
	fs.DurationVar(&opt.Ramp, "ramp", opt.Ramp, "time over which the clients' connections are opened (at most -warmup)")
	fs.IntVar(&opt.PID, "pid", 0, "server process id for CPU/RSS/thread figures; 0: find the process listening on the URL's port")
	fs.StringVar(&opt.SnapshotURL, "snapshot-url", "", "snapshot `URL` (default: /snapshot on the -url host)")
	fs.IntVar(&opt.Snapshots, "snapshots", opt.Snapshots, "snapshot requests spread over the window, each on its own connection, `N` (0: none)")
	fs.IntVar(&opt.Slow, "slow", 0, "how many of the -clients read throttled to -slow-rate, `K`; reported apart from the fast ones")
	fs.Int64Var(&opt.SlowRate, "slow-rate", opt.SlowRate, "read rate of each slow client, in `bytes/s`")
	fs.IntVar(&opt.RcvBuf, "rcvbuf", 0, "receive buffer of each stream client (SO_RCVBUF), in `bytes`; 0: the kernel's default")
	fs.StringVar(&opt.User, "user", "", "basic-auth user name (also taken from user:password@ in the URL)")
	fs.StringVar(&opt.Password, "password", "", "basic-auth password")
	fs.Float64Var(&opt.MinFPS, "min-fps", 0, "exit 1 if any fast client receives fewer new frames per second than `X`")
	fs.DurationVar(&opt.ConnectTimeout, "connect-timeout", opt.ConnectTimeout, "time allowed to connect and receive the response head")
	jsonOut := fs.Bool("json", false, "print one JSON object instead of the table")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected argument %q (flags only; see -h)\n", fs.Arg(0))
		return 2
	}
	if err := opt.validate(); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	if _, err := newTarget(opt.URL, "", ""); err != nil {
		fmt.Fprintf(stderr, "loadgen: -url %v\n", err)
		return 2
	}
	if opt.SnapshotURL != "" {
		if _, err := newTarget(opt.SnapshotURL, "", ""); err != nil {
			fmt.Fprintf(stderr, "loadgen: -snapshot-url %v\n", err)
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, opt)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	if *jsonOut {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	if !rep.OK {
		return 1
	}
	return 0
}
