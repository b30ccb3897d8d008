package config

import (
	"fmt"
	"strings"
)

// usageText is kept under 100 columns so it reads in a terminal and in the
// DWC log view without wrapping.
const usageText = `Options come from the command line and from the config file named by -file, which holds the same
options, normally one per line ("-port 8090"). In a file, "-# text" and anything after a # that
starts a word are comments ("-port 8090  # the HTTP port"); a # inside a word or in quotes is kept.
Values may be quoted with ' or "; -option=value and --option work too. A value that starts with -
(other than a negative number such as -1) must be written -option=-value.

Precedence: the file is read where -file appears on the command line, so a command-line option
after -file overrides the file (usbStream -file usbStream.config -port 9000) and one before -file
is overridden by it. An option may be given once in the file and once on the command line.
Relative paths in the file are relative to the file's folder.

Options of the original usbStream:
  -port N            HTTP port, 1-65535 (default 8085)
  -host ADDR         address to listen on, an IP address or host name: 0.0.0.0 all IPv4
                     interfaces, :: all interfaces, 127.0.0.1 this machine only (default 0.0.0.0)
  -camera X          camera: a 0-based index (0-63), a device path (/dev/video0,
                     /dev/v4l/by-id/...) or part of its name, any case; -1 = automatic: the only
                     camera there is (default automatic)
  -rotate D          rotate by 0, 90, 180 or 270 degrees (default 0)
  -size N            frame size, an index into the size table below; a size the camera does not
                     have falls back to the next lower one (default: the camera's largest;
                     1280x720 for -source test)
  -format F          preferred camera format: MJPG (or MJPEG), JPEG, YUYV (or YUY2), BGR3,
                     RGB3 (or RGB24), NV12, YU12 (or I420), GREY (or GRAY), H264; falls back to
                     one the camera has (default MJPG)
  -framerate N       frames per second, above 0 and at most 240, e.g. 7.5 (default 24)
  -manexp X          auto-exposure mode value, as in the original: 0.25 or 1 manual, 0.75 or 3
                     automatic (default: the camera's setting)
  -exposure X        exposure level; used only together with -manexp (default: the camera's)
  -verbose           debug logging; -verbose=false turns it off (default off)
  -logfile PATH      also log to this file, appending; none: stderr only (default:
                     /opt/dsf/sd/sys/usbStream/usbStream.log if /opt/dsf/sd/sys exists, else none)
  -file PATH         read options from this config file (command line only)
  -# TEXT            comment, ignored

New options:
  -source S          where frames come from: camera, test (a moving test pattern) or file:PATH
                     (replay a folder of JPEGs or an MJPEG file) (default camera)
  -resolution WxH    exact frame size, e.g. 1280x720, same fallback as -size; not together
                     with -size in the same place (default: see -size)
  -flip F            mirror the image: h (horizontal), v (vertical), hv (both) or none
                     (default none)
  -quality N         JPEG quality 1-100 for frames usbStream encodes itself (default 85)
  -user NAME         require HTTP basic auth with this user name; needs -password
  -password PW       the basic auth password; needs -user
  -token T           access token for URLs: ?token=T opens the stream, snapshot and viewer page
                     (not /status) where a browser sends no user and password (DWC's webcam
                     panel, httpViewer); at least 16 of A-Z a-z 0-9 - . _ ~; alone, it protects
                     the port (default: with -user/-password, one derived from them, shown in
                     /status and the DWC tab; without, none)
  -auth A            none: no user name, password or token, on purpose (a reload that loses
                     -user and -password, or a lone -token, is refused unless the file says
                     -auth none); basic: -user and -password are required (default: basic auth
                     exactly when they are given)
  -allow-origin O    let web pages from origin O read usbStream's URLs (CORS): * or an origin
                     such as http://duet.local:8080; none: no page (default: * for the stream
                     and snapshot when no -user/-password or -token is set, else not allowed)
  -allowhost NAMES   host names (comma-separated, repeatable) that requests may be addressed
                     to, against DNS rebinding: printer.local,duet3; addresses and localhost
                     are always allowed (default: any name)
  -control N=V       set a camera control, e.g. brightness=128 or auto_exposure=manual_mode;
                     names as v4l2-ctl prints them or as the camera names them; repeatable
  -maxclients N      most streams and snapshots served at once; more get "503 too many
                     clients" (default 100)
  -maxclientsperip N the same for one client address (default 0: no limit; keep 0 behind a
                     reverse proxy, where every viewer has the proxy's address)
  -dsf PATH          DSF's control socket; usbStream registers its DWC endpoints and status
                     there when DSF runs, and runs standalone otherwise; none: never
                     (default /run/dsf/dcs.sock)
  -version           print the version and exit (command line only)
  -list              list the cameras and exit (command line only)
  -h, -help          print this help and exit

`

// Usage returns the option reference that -h prints.
func Usage() string {
	var b strings.Builder
	b.WriteString(usageText)
	b.WriteString("Size table for -size:")
	for i, r := range SizeTable {
		sep := ","
		switch {
		case i == 0:
			sep = ""
		case i == 5:
			sep = ",\n "
		}
		fmt.Fprintf(&b, "%s %d = %s", sep, i, r)
	}
	b.WriteString("\n(2 = 1920x1800 exists on no camera, so it gives 1920x1080 on real ones.)\n")
	return b.String()
}
