package camera

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A sysfs tree as the kernel lays it out for two cameras (one UVC camera
// with its metadata node, and a driver that names its node in a
// subdirectory), a sub-device and a radio: only video nodes, in number
// order, with their device numbers.
func TestFindNodesFromSysfs(t *testing.T) {
	root := t.TempDir()
	at := places{sysClass: filepath.Join(root, "sys"), dev: "/dev", udevData: filepath.Join(root, "udev")}
	for name, devname := range map[string]string{
		"video10": "video10", "video2": "cams/video2", "video3": "", "v4l-subdev0": "v4l-subdev0",
		"radio0": "radio0", "video9": "../../etc/passwd",
	} {
		dir := filepath.Join(at.sysClass, name)
		os.MkdirAll(dir, 0o755)
		minor := strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyz4-")
		uevent := "MAJOR=81\nMINOR=" + minor + "\n"
		if devname != "" {
			uevent += "DEVNAME=" + devname + "\n"
		}
		os.WriteFile(filepath.Join(dir, "uevent"), []byte(uevent), 0o644)
		os.WriteFile(filepath.Join(dir, "dev"), []byte("81:"+minor+"\n"), 0o644)
	}
	nodes, err := findNodes(at)
	if err != nil {
		t.Fatal(err)
	}
	want := []node{{"/dev/cams/video2", "81:2"}, {"/dev/video3", "81:3"}, {"/dev/video9", "81:9"}, {"/dev/video10", "81:10"}}
	if !slices.Equal(nodes, want) {
		t.Fatalf("nodes %v, want %v", nodes, want)
	}
}

// Without sysfs the nodes come from listing /dev; with sysfs but no
// video4linux class there is no camera, and /dev is not listed (DSF's
// AppArmor profile would log a denial for every try).
func TestFindNodesFallsBackToDev(t *testing.T) {
	root := t.TempDir()
	at := places{sysClass: filepath.Join(root, "no-sysfs", "video4linux"), dev: filepath.Join(root, "dev")}
	os.MkdirAll(at.dev, 0o755)
	for _, n := range []string{"video1", "video0", "vcs"} {
		os.WriteFile(filepath.Join(at.dev, n), nil, 0o644)
	}
	nodes, err := findNodes(at)
	if err != nil {
		t.Fatal(err)
	}
	// Regular files are not devices: no number.
	want := []node{{filepath.Join(at.dev, "video0"), ""}, {filepath.Join(at.dev, "video1"), ""}}
	if !slices.Equal(nodes, want) {
		t.Fatalf("nodes %v, want %v", nodes, want)
	}
	os.MkdirAll(filepath.Dir(at.sysClass), 0o755) // sysfs, and no camera in it yet
	if nodes, err := findNodes(at); err != nil || len(nodes) != 0 {
		t.Fatalf("with sysfs but no video4linux class: %v %v, want none", nodes, err)
	}
}

// udev's database record of a UVC camera: the stable names are its "S:"
// lines below v4l/; other links and properties are not names of it.
func TestUdevLinks(t *testing.T) {
	at := places{dev: "/dev", udevData: t.TempDir()}
	record := "S:v4l/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2:1.0-video-index0\n" +
		"S:v4l/by-id/usb-046d_HD_Pro_Webcam_C920_ABCDEF12-video-index0\n" +
		"S:snd/by-id/not-a-camera\nS:v4l/by-id/../../../etc/passwd\n" +
		"W:3\nI:5170000\nE:ID_V4L_PRODUCT=HD Pro Webcam C920\nE:ID_V4L_CAPABILITIES=:capture:\nG:uaccess\nQ:uaccess\nV:1\n"
	os.WriteFile(filepath.Join(at.udevData, "c81:0"), []byte(record), 0o644)
	byID, byPath := udevLinks(at, "81:0")
	if !slices.Equal(byID, []string{"/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_ABCDEF12-video-index0"}) ||
		!slices.Equal(byPath, []string{"/dev/v4l/by-path/platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.2:1.0-video-index0"}) {
		t.Fatalf("by-id %v, by-path %v", byID, byPath)
	}
	if !udevRuns(at) || udevRuns(places{udevData: filepath.Join(at.udevData, "c81:0")}) {
		t.Fatal("udevRuns")
	}
	if id, p := udevLinks(at, "81:1"); id != nil || p != nil {
		t.Fatalf("a device udev has no record of: %v %v", id, p)
	}
}

// -camera names a camera by any of its names, and by another spelling of
// its node, which is known by the device number it opens.
func TestSelectByLinkAndByDeviceNumber(t *testing.T) {
	devs := []Device{
		{Index: 0, Path: "/dev/video0", Name: "A", ByPath: []string{"/dev/v4l/by-path/pci-0-video-index0"}, number: "1:3"},
		{Index: 1, Path: "/dev/video2", Name: "B", ByID: []string{"/dev/v4l/by-id/usb-B-video-index0"}, number: "1:5"},
	}
	for spec, want := range map[string]string{
		"/dev/v4l/by-id/usb-B-video-index0":   "/dev/video2",
		"/dev/v4l/by-path/pci-0-video-index0": "/dev/video0",
		"/dev/../dev/null":                    "/dev/video0", // /dev/null is character device 1:3
		"/dev/zero":                           "/dev/video2", // 1:5
	} {
		if d, err := Select(devs, spec); err != nil || d.Path != want {
			t.Errorf("Select(%q) = %q, %v; want %s", spec, d.Path, err, want)
		}
	}
	if _, err := Select(devs, "/dev/v4l/by-id/usb-C-video-index0"); err == nil {
		t.Error("a link that names no camera was accepted")
	}
}
