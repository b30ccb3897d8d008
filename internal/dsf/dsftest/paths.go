package dsftest

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// driveRe is FilePath's drive regex; like .NET's '.', Go's does not match a
// newline, so a path is cut at its first line break as it is in DSF.
var driveRe = regexp.MustCompile(`^(\d+):/*(.*)`)

var fileDirectories = enumType{
	dotnet:   "DuetAPI.Commands.FileDirectory",
	names:    []string{"Filaments", "Firmware", "GCodes", "Macros", "Menu", "System", "Web"},
	strings:  true,
	nullable: true,
}

// directoryDefaults are the OM's directories.* values, by FileDirectory.
var directoryDefaults = []string{"0:/filaments/", "0:/firmware/", "0:/gcodes/", "0:/macros/", "0:/menu/", "0:/sys/", "0:/www/"}

func execResolvePath(c *ipcConn, o *object) ([]byte, *dnError) {
	p, err := o.str("path", "")
	if err != nil {
		return nil, asDN(err)
	}
	base := -1
	if c.t.opt.Profile == Profile36 { // baseDirectory is new in 3.6
		b, set, err := o.enum("baseDirectory", fileDirectories, 0)
		if err != nil {
			return nil, asDN(err)
		}
		if set {
			base = b
		}
	}
	if p == nil {
		return nil, errNullReference
	}
	res, derr := c.t.toPhysical(*p, base)
	if derr != nil {
		return nil, derr
	}
	return marshal(res), nil
}

// toPhysical is FilePath.ToPhysicalAsync; base is a FileDirectory or -1
// for none. The twin has one volume (0:), so every other drive index is
// invalid.
func (t *Twin) toPhysical(p string, base int) (string, *dnError) {
	root := filepath.Clean(t.sdRoot)
	p = strings.ReplaceAll(p, `\`, "/")
	if m := driveRe.FindStringSubmatch(p); m != nil {
		if n, err := strconv.ParseInt(m[1], 10, 32); err == nil {
			if n == 0 {
				return pathCombine(root, m[2]), nil
			}
			return "", argumentError("Invalid drive index")
		}
	}
	if base >= 0 && !strings.HasPrefix(p, "/") {
		dir := "sys/"
		if base < len(directoryDefaults) {
			dir = directoryDefaults[base]
		}
		if m := driveRe.FindStringSubmatch(dir); m != nil && m[1] == "0" {
			dir = pathCombine(root, m[2])
		}
		return pathCombine(root, dir, p), nil
	}
	return pathCombine(root, strings.TrimPrefix(p, "/")), nil
}
