package dsftest

import (
	"os"
	"strings"
	"testing"
)

// usbStream's manifest gets what its permissions name and nothing more:
// the network, the cameras and udev's database, 0:/sys to read and write,
// and the rules every plugin has.
func TestAppArmorProfileForUsbStream(t *testing.T) {
	manifest, err := os.ReadFile("../../../plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	profile, name, err := AppArmorProfile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if name != "/opt/dsf/plugins/usbStream/**" || !strings.Contains(profile, "\n"+name+" {\n") {
		t.Fatalf("attachment %q in\n%s", name, profile)
	}
	for _, rule := range []string{
		"#include <tunables/global>", "#include <abstractions/base>", "#include <abstractions/nameservice>",
		"network,", "/dev/video* rwmlk,", "/dev/media* rwmlk,", "/run/udev/data/** rwmlk,", "/sys/** r,",
		"/opt/dsf/sd/sys/ r,", "/opt/dsf/sd/sys/** r,", "/opt/dsf/sd/sys/** wk,", "/{,var/}run/dsf/** rw,",
		"owner /opt/dsf/plugins/usbStream/** rwmlk,", "owner /proc/** rw,", "capability dac_override,",
	} {
		if !strings.Contains(profile, "  "+rule+"\n") && !strings.HasPrefix(profile, rule+"\n") {
			t.Errorf("no %q in\n%s", rule, profile)
		}
	}
	for _, absent := range []string{"/** rw,", "/** mix,", "/dev/gpio", "/opt/dsf/sd/gcodes", "/opt/dsf/plugins/ r,", "/dev/ r"} {
		if strings.Contains(profile, "  "+absent) {
			t.Errorf("%q is granted without a permission asking for it:\n%s", absent, profile)
		}
	}
	if strings.Count(profile, "{") != strings.Count(profile, "}") {
		t.Fatalf("unbalanced braces:\n%s", profile)
	}
}

func TestAppArmorProfileRefusesSuperUser(t *testing.T) {
	m := strings.Replace(testManifest, `"writeSystem"]`, `"writeSystem", "superUser"]`, 1)
	if _, _, err := AppArmorProfile([]byte(m)); err == nil {
		t.Fatal("a profile for a superUser plugin")
	}
}
