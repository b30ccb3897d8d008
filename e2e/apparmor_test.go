//go:build vm

package e2e

// The whole binary confined by the AppArmor profile DSF's plugin service
// would generate for plugin.json, inside the vivid VM with AppArmor on
// (tools/vmtest/camera.sh boots it with --apparmor): installed where DPS
// installs it, run as user dsf, with the config and the log in DSF's
// 0:/sys/usbStream. It must find the cameras, select one by its by-id name,
// stream, survive an unplug, apply a config save and log, without a single
// AppArmor denial; a probe under the same profile shows that the profile
// is enforced.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"usbstream/internal/dsf/dsftest"
	"usbstream/internal/nettest"
)

// The plugin's user as DSF's packages create it: user and group dsf, and a
// member of video (sysusers.d/duetcontrolserver.conf).
const (
	dsfUID   = 999
	dsfGID   = 999
	videoGID = 44
)

const (
	aaPluginDir = dsftest.DSFPluginDirectory + "/usbStream"
	aaSysDir    = dsftest.DSFBaseDirectory + "/sys/usbStream"
	aaByID      = "/dev/v4l/by-id/usb-Test_vivid_camera_1-video-index0"
)

// The probe: the test binary run from the plugin's directory (so the
// profile attaches to it) with this variable set tries what the profile
// must allow and what it must not, and prints the results as JSON.
const probeEnv = "USBSTREAM_APPARMOR_PROBE"

type probeResult struct {
	Confinement string            `json:"confinement"`
	Results     map[string]string `json:"results"` // what → "ok" or the error
}

func init() {
	if os.Getenv(probeEnv) == "" {
		return
	}
	res := probeResult{Results: map[string]string{}}
	b, _ := os.ReadFile("/proc/self/attr/current")
	res.Confinement = strings.TrimSpace(string(b))
	try := func(what string, err error) {
		res.Results[what] = "ok"
		if err != nil {
			res.Results[what] = err.Error()
		}
	}
	_, err := os.ReadFile("/etc/shadow-test")
	try("read /etc/shadow-test", err)
	_, err = os.ReadDir("/dev")
	try("list /dev", err)
	_, err = os.ReadDir("/dev/v4l/by-id")
	try("list /dev/v4l/by-id", err)
	_, err = os.ReadDir("/sys/class/video4linux")
	try("list /sys/class/video4linux", err)
	f, err := os.OpenFile("/dev/video0", os.O_RDWR, 0)
	if err == nil {
		f.Close()
	}
	try("open /dev/video0", err)
	f, err = os.OpenFile(aaByID, os.O_RDWR, 0)
	if err == nil {
		f.Close()
	}
	try("open by-id link", err)
	_, err = os.ReadFile(aaSysDir + "/usbStream.config")
	try("read the config", err)
	err = os.WriteFile("/opt/dsf/sd/gcodes/probe.g", []byte("G28\n"), 0o644)
	try("write 0:/gcodes", err)
	json.NewEncoder(os.Stdout).Encode(res)
	os.Exit(0)
}

// asDSF runs cmd as the plugin's user, from its executable's folder, as
// DPS does.
func asDSF(cmd *exec.Cmd) *exec.Cmd {
	cmd.Dir = filepath.Dir(cmd.Path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: dsfUID, Gid: dsfGID,
		Groups: []uint32{videoGID}}}
	cmd.Env = []string{"PATH=/bin:/sbin", "HOME=/opt/dsf"}
	return cmd
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func writeFile(t *testing.T, path, content string, mode os.FileMode, uid, gid int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// installUnderAppArmor lays out a DSF install in the VM and loads the
// plugin's profile; it returns the installed executable.
func installUnderAppArmor(t *testing.T) string {
	t.Helper()
	// In the VM there is no checkout: camera.sh copies plugin.json in.
	var manifest []byte
	if path := os.Getenv("USBSTREAM_MANIFEST"); path != "" {
		var err error
		if manifest, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	} else {
		manifest = repoFile(t, "plugin.json")
	}
	profile, name, err := dsftest.AppArmorProfile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	// The user, and udev's part: /dev/video* in group video, mode 0660,
	// also for nodes that come back after an unplug (busybox mdev, reading
	// the kernel's uevents from netlink as udevd does, applies the same
	// rule), a by-id link and its record in udev's database.
	// The VM is shared with the other camera tests: everything made here
	// is undone, so that they see a machine without udev or DSF again.
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		if b, err := os.ReadFile(f); err == nil {
			t.Cleanup(func() { os.WriteFile(f, b, 0o644) })
		}
	}
	for _, p := range []string{"/run/udev", "/opt/dsf", "/etc/mdev.conf", "/etc/shadow-test", aaByID,
		"/etc/apparmor.d/dsf.usbStream"} {
		if _, err := os.Lstat(p); os.IsNotExist(err) {
			t.Cleanup(func() { os.RemoveAll(p) })
		}
	}
	appendLine := func(path, line string) {
		b, _ := os.ReadFile(path)
		if !strings.Contains(string(b), line) {
			os.WriteFile(path, append(b, []byte(line+"\n")...), 0o644)
		}
	}
	appendLine("/etc/passwd", fmt.Sprintf("dsf:x:%d:%d::/opt/dsf:/bin/sh", dsfUID, dsfGID))
	appendLine("/etc/group", fmt.Sprintf("dsf:x:%d:", dsfGID))
	appendLine("/etc/group", fmt.Sprintf("video:x:%d:dsf", videoGID))
	os.WriteFile("/etc/mdev.conf", []byte(fmt.Sprintf("video[0-9]+ 0:%d 660\nmedia[0-9]+ 0:%d 660\n", videoGID, videoGID)), 0o644)
	mdev := exec.Command("mdev", "-df")
	if err := mdev.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mdev.Process.Kill(); mdev.Wait() })
	nodes, _ := filepath.Glob("/dev/video*")
	for _, n := range nodes {
		os.Chown(n, 0, videoGID)
		os.Chmod(n, 0o660)
	}
	os.MkdirAll("/dev/v4l/by-id", 0o755)
	os.Remove(aaByID)
	if err := os.Symlink("../../video1", aaByID); err != nil {
		t.Fatal(err)
	}
	number, err := os.ReadFile("/sys/class/video4linux/video1/dev")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, "/run/udev/data/c"+strings.TrimSpace(string(number)),
		"S:"+strings.TrimPrefix(aaByID, "/dev/")+"\nE:ID_V4L_PRODUCT=vivid\nE:ID_V4L_CAPABILITIES=:capture:\n", 0o644, 0, 0)

	// DPS installs as user dsf: the plugin's files and the SD card are its.
	exe := aaPluginDir + "/dsf/usbStream"
	bin, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, exe, string(bin), 0o770, dsfUID, dsfGID)
	for _, d := range []string{aaPluginDir, aaPluginDir + "/dsf", dsftest.DSFBaseDirectory, dsftest.DSFBaseDirectory + "/sys",
		aaSysDir, dsftest.DSFBaseDirectory + "/gcodes"} {
		os.MkdirAll(d, 0o775)
		os.Chown(d, dsfUID, dsfGID)
	}
	writeFile(t, "/etc/apparmor.d/dsf.usbStream", profile, 0o644, 0, 0)
	mustRun(t, "apparmor_parser", "-r", "/etc/apparmor.d/dsf.usbStream")
	t.Cleanup(func() { exec.Command("apparmor_parser", "-R", "/etc/apparmor.d/dsf.usbStream").Run() })
	loaded, _ := os.ReadFile("/sys/kernel/security/apparmor/profiles")
	if !strings.Contains(string(loaded), name+" (enforce)") {
		t.Fatalf("profile %q not loaded in enforce mode:\n%s", name, loaded)
	}
	t.Logf("loaded the profile DSF generates for plugin.json, %q (enforce):\n%s", name, profile)
	return exe
}

// harmlessDenial is the one denial the profile gives every Go program that
// listens: net.Listen reads /proc/sys/net/core/somaxconn for the backlog,
// which "owner /proc/** rw" does not cover (root owns it), and falls back
// to 128, plenty for a camera's clients.
const harmlessDenial = `name="/proc/sys/net/core/somaxconn"`

// denials are the kernel's AppArmor denials for comm since the log's line
// mark, without the harmless one.
func denials(t *testing.T, mark int, comm string) []string {
	t.Helper()
	var out []string
	lines := strings.Split(mustRun(t, "dmesg"), "\n")
	for _, l := range lines[min(mark, len(lines)):] {
		if strings.Contains(l, `apparmor="DENIED"`) && strings.Contains(l, `comm="`+comm+`"`) &&
			!strings.Contains(l, harmlessDenial) {
			out = append(out, l)
		}
	}
	return out
}

func kernelLogMark(t *testing.T) int { return len(strings.Split(mustRun(t, "dmesg"), "\n")) - 1 }

func TestVividUnderDSFAppArmorProfile(t *testing.T) {
	needVM(t)
	if os.Getenv("VMTEST_APPARMOR") != "1" {
		t.Skip("needs the VM booted with AppArmor (tools/vmtest/run.sh --apparmor)")
	}
	exe := installUnderAppArmor(t)
	port := nettest.FreePort(t)
	config := aaSysDir + "/usbStream.config"
	writeFile(t, config, fmt.Sprintf("-camera %s\n-format YUYV\n-resolution 640x480\n-framerate 25\n-host 127.0.0.1\n-port %d\n",
		aaByID, port), 0o644, dsfUID, dsfGID)

	// The profile is enforced: the probe, confined by the path it runs
	// from, is refused a world-readable file and the listing of /dev that
	// the unconfined test (root) gets, and allowed what the profile grants.
	writeFile(t, "/etc/shadow-test", "secret\n", 0o644, 0, 0)
	if _, err := os.ReadFile("/etc/shadow-test"); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	probe := aaPluginDir + "/dsf/probe"
	writeFile(t, probe, string(self), 0o770, dsfUID, dsfGID)
	mark := kernelLogMark(t)
	cmd := asDSF(exec.Command(probe))
	cmd.Env = append(cmd.Env, probeEnv+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	var res probeResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("probe said %q: %v", out, err)
	}
	t.Logf("probe under the profile: %s %v", res.Confinement, res.Results)
	denied := func(what string) bool { return strings.Contains(res.Results[what], "permission denied") }
	if res.Confinement != "/opt/dsf/plugins/usbStream/** (enforce)" ||
		!denied("read /etc/shadow-test") || !denied("list /dev") || !denied("list /dev/v4l/by-id") ||
		!denied("write 0:/gcodes") || res.Results["list /sys/class/video4linux"] != "ok" ||
		res.Results["open /dev/video0"] != "ok" || res.Results["open by-id link"] != "ok" ||
		res.Results["read the config"] != "ok" {
		t.Fatalf("the profile is not what DSF enforces: %+v", res)
	}
	for _, l := range denials(t, mark, "probe") {
		t.Logf("kernel: %s", l)
	}

	// Discovery under the profile: both vivid cameras, with the by-id name
	// from udev's database (the /dev/v4l listing is forbidden).
	mark = kernelLogMark(t)
	out, err = asDSF(exec.Command(exe, "-list")).CombinedOutput()
	if err != nil || strings.Count(string(out), "vivid") < 2 || !strings.Contains(string(out), aaByID) {
		t.Fatalf("-list under the profile: %v\n%s", err, out)
	}

	// The plugin as DSF runs it: -file in 0:/sys/usbStream, camera by its
	// by-id name, the log beside the config (the default on a DSF machine).
	s := launch(t, asDSF(exec.Command(exe, "-file", config)), port)
	if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/attr/current", s.pid())); strings.TrimSpace(string(b)) != res.Confinement {
		t.Fatalf("usbStream runs as %q, want %q", b, res.Confinement)
	}
	w := watch(t, s.base+"/stream")
	p, ok := w.waitFor(time.Now().Add(-time.Hour), 10*time.Second, isCamera)
	if !ok {
		t.Fatalf("no camera frame under the profile\n%s", s.output)
	}
	if sz := decodedSize(t, p); sz != image.Pt(640, 480) {
		t.Fatalf("frame %v", sz)
	}
	if st := getStatus(t, s); st.Source.Device != "/dev/video1" {
		t.Fatalf("streaming %s, want /dev/video1 (the by-id link's camera)", st.Source.Device)
	}
	if cams := getText(t, s.base+"/cameras", "", ""); !strings.Contains(cams, aaByID) {
		t.Fatalf("/cameras without the by-id name: %s", cams)
	}

	// Unplug and replug: the same camera comes back (its node recreated,
	// and given group video by mdev, as udev does).
	back := unplugAndBack(t, s, w, "/dev/video1")
	t.Logf("replug under the profile: camera frames back %v after the unplug", back.Round(time.Millisecond))

	// A save as DWS makes it (.part, then a rename) is read and applied.
	saved := time.Now()
	partFile := config + ".part"
	writeFile(t, partFile, fmt.Sprintf("-camera %s\n-format YUYV\n-resolution 640x360\n-framerate 25\n-host 127.0.0.1\n-port %d\n",
		aaByID, port), 0o644, dsfUID, dsfGID)
	if err := os.Rename(partFile, config); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.waitFor(saved, 10*time.Second, func(p part) bool {
		cfg, err := stdjpeg.DecodeConfig(bytes.NewReader(p.jpeg))
		return !p.placeholder && err == nil && cfg.Width == 640 && cfg.Height == 360
	}); !ok {
		t.Fatalf("no 640x360 frame after the save\n%s", s.output)
	}
	logText, err := os.ReadFile(aaSysDir + "/usbStream.log")
	if err != nil || !strings.Contains(string(logText), "configuration reloaded") {
		t.Fatalf("the log in 0:/sys/usbStream: %v\n%s", err, logText)
	}
	s.stop(t)
	if d := denials(t, mark, "usbStream"); len(d) > 0 {
		t.Fatalf("usbStream needed more than DSF's profile allows:\n%s", strings.Join(d, "\n"))
	}
	if info, err := os.Stat(aaSysDir + "/usbStream.log"); err == nil {
		fmt.Printf("vivid-apparmor: discovery, by-id selection, streaming, replug (%v), save applied, log %d bytes, no denial but Go's somaxconn read\n",
			back.Round(time.Millisecond), info.Size())
	}
}
