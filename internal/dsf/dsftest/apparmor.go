package dsftest

import (
	"fmt"
	"path"
	"strings"
)

// AppArmor: the confinement DSF's plugin service gives every plugin that is
// not a superUser one (DuetPluginService/Permissions/AppArmor.cs with
// the template pkg/common/duetpluginservice/opt/dsf/conf/apparmor.conf,
// identical in 3.5 and 3.6). It writes the profile to
// /etc/apparmor.d/dsf.<id> at install and loads it with apparmor_parser -r;
// the profile has no name of its own and attaches by path to everything
// below the plugin's directory.

// Directories of a stock DSF install (DPS's Settings.cs defaults).
const (
	DSFPluginDirectory = "/opt/dsf/plugins"
	DSFBaseDirectory   = "/opt/dsf/sd"
)

// AppArmorProfile returns the profile DSF generates for the plugin whose
// plugin.json is manifest, with the stock directories, and the name
// AppArmor gives it (its attachment, as /proc/<pid>/attr/current shows).
func AppArmorProfile(manifest []byte) (profile, name string, err error) {
	m, err := parseManifest(manifest)
	if err != nil {
		return "", "", err
	}
	if m.perms&pSuperUser != 0 {
		return "", "", fmt.Errorf("dsftest: %s asks for superUser: DSF generates no profile for it", m.id)
	}
	pluginDir := path.Join(DSFPluginDirectory, m.id)
	var includes, rules []string
	sd := func(dir, perms string) {
		d := path.Join(DSFBaseDirectory, dir)
		if perms == "r" {
			rules = append(rules, d+"/ r,")
		}
		rules = append(rules, d+"/** "+perms+",")
	}
	// In the order of the SbcPermissions enum, as AppArmor.cs walks it.
	for i, p := range permNames {
		if m.perms&(1<<i) == 0 {
			continue
		}
		switch p {
		case "managePlugins":
			rules = append(rules, DSFPluginDirectory+"/ r,", DSFPluginDirectory+"/** rw,")
		case "fileSystemAccess":
			rules = append(rules, "/ rw,", "/** rw,")
		case "gpioAccess":
			rules = append(rules, "/dev/gpio* rwmlk,", "/dev/i2c* rwmlk,", "/dev/spidev* rwmlk,")
		case "launchProcesses":
			rules = append(rules, "/** mix,")
		case "networkAccess":
			includes = append(includes, "#include <abstractions/nameservice>")
			rules = append(rules, "network,")
		case "webcamAccess":
			rules = append(rules, "/dev/dma_heap/* rw,", "/dev/media* rwmlk,", "/dev/v4l-* rwmlk,", "/dev/video* rwmlk,",
				"/run/udev/data/** rwmlk,", "/usr/bin/libcamerify rm,", "/usr/libexec/libcamera/* rm,",
				"/usr/share/libcamera/** r,")
		default:
			// readX / writeX for the SD card's folders; the rest is
			// "enforced by DCS" and adds nothing here.
			for _, f := range []struct{ perm, dir string }{{"Filaments", "filaments"}, {"Firmware", "firmware"},
				{"GCodes", "gcodes"}, {"Macros", "macros"}, {"Menu", "menu"}, {"System", "sys"}, {"Web", "www"}} {
				switch p {
				case "read" + f.perm:
					sd(f.dir, "r")
				case "write" + f.perm:
					sd(f.dir, "wk")
				}
			}
		}
	}
	indent := func(lines []string) string {
		if len(lines) == 0 {
			return ""
		}
		return "  " + strings.Join(lines, "\n  ") + "\n"
	}
	profile = "#include <tunables/global>\n\n" + pluginDir + "/** {\n" +
		indent([]string{"#include <abstractions/base>", "#include <abstractions/bash>",
			"#include <abstractions/python>", "#include <abstractions/user-tmp>"}) +
		indent(includes) + "\n" +
		indent([]string{
			"/usr/bin/python{2.[4-7],3.[0-9]+} ix,",
			"/usr/local/lib{,32,64}/python{2.[4-7],3,3.[0-9]}/{site,dist}-packages/** r,",
			"/opt/vc/lib/** rm,",
			"/etc/ssl/** r,",
		}) + "\n" +
		indent([]string{"capability dac_override,", "capability dac_read_search,", "capability sys_nice,"}) + "\n" +
		indent([]string{
			"/opt/dsf/bin/* rm,",
			"owner " + pluginDir + "/ r,",
			"owner " + pluginDir + "/** rwmlk,",
			"owner /proc/** rw,",
			"/sys/** r,",
			"/{,var/}run/dsf/** rw,",
		}) + "\n" +
		indent(rules) + "}\n"
	return profile, pluginDir + "/**", nil
}
