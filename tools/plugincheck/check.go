package main

import (
	"archive/zip"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Problem is one broken rule. Rule is a short stable name ("manifest.id",
// "binary.static", ...) that the message starts with, so a reader (and the
// tests) can tell which rule failed.
type Problem struct {
	Rule string
	Msg  string
}

func (p Problem) String() string { return p.Rule + ": " + p.Msg }

// Binary describes one dsf/<arch>/<exe> found in the zip, for the summary.
type Binary struct {
	Arch    string
	Size    int64
	Flavour string // "libjpeg-turbo" or "pure Go" (from the Go build info), "" if unknown
}

// Report is what Check found: the problems, and a few facts for the summary
// line printed when there are none.
type Report struct {
	Problems   []Problem
	ID         string
	Version    string
	DSFVersion string
	Chunk      string
	Binaries   []Binary
}

func (r *Report) add(rule, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{rule, fmt.Sprintf(format, args...)})
}

// Architectures DSF knows (the dsf/<arch>/ folder names of
// src/DuetPluginService/Commands/InstallPlugin.cs and StartPlugin.cs), with the ELF class and
// machine a binary for it must have. The plugin ships the first three;
// x86 is accepted (DSF would run it) but not required.
var archELF = map[string]struct {
	class   elf.Class
	machine elf.Machine
}{
	"arm":    {elf.ELFCLASS32, elf.EM_ARM},
	"arm64":  {elf.ELFCLASS64, elf.EM_AARCH64},
	"x86_64": {elf.ELFCLASS64, elf.EM_X86_64},
	"x86":    {elf.ELFCLASS32, elf.EM_386},
}

var requiredArchs = []string{"arm", "arm64", "x86_64"}

// DSF versions we build for. Each needs its own zip because DWC only loads
// a chunk whose dwcVersion prefix-matches its own version (DWC's
// src/plugins/index.ts checkVersion, called from src/store/index.ts).
var dsfVersions = map[string]bool{"3.5": true, "3.6": true}

// Manifest keys DSF reads (src/DuetAPI/ObjectModel/Plugins/PluginManifest.cs). DSF silently ignores anything else, so an
// unknown key is almost always a typo that loses a setting.
var knownKeys = map[string]bool{
	"id": true, "name": true, "author": true, "version": true, "license": true, "homepage": true,
	"tags": true, "dwcVersion": true, "dwcDependencies": true, "sbcRequired": true,
	"sbcDsfVersion": true, "sbcExecutable": true, "sbcExecutableArguments": true,
	"sbcExtraExecutables": true, "sbcAutoRestart": true, "sbcOutputRedirected": true,
	"sbcPermissions": true, "sbcConfigFiles": true, "sbcPackageDependencies": true,
	"sbcPythonDependencies": true, "sbcPluginDependencies": true, "rrfVersion": true, "data": true,
}

// Permission names as DWC checks them: camelCase, case-sensitive (DWC's
// src/plugins/index.ts checkManifest; DSF's src/DuetAPI/Utility/SbcPermissions.cs).
var knownPermissions = map[string]bool{
	"commandExecution": true, "codeInterceptionRead": true, "codeInterceptionReadWrite": true,
	"managePlugins": true, "servicePlugins": true, "manageUserSessions": true,
	"objectModelRead": true, "objectModelReadWrite": true, "registerHttpEndpoints": true,
	"readFilaments": true, "writeFilaments": true, "readFirmware": true, "writeFirmware": true,
	"readGCodes": true, "writeGCodes": true, "readMacros": true, "writeMacros": true,
	"readMenu": true, "writeMenu": true, "readSystem": true, "writeSystem": true,
	"readWeb": true, "writeWeb": true, "fileSystemAccess": true, "launchProcesses": true,
	"networkAccess": true, "superUser": true, "webcamAccess": true, "gpioAccess": true,
}

// Refused at install: servicePlugins always, superUser unless the SBC has
// RootPluginSupport, which a camera streamer must not depend on.
var refusedPermissions = map[string]string{
	"servicePlugins": "reserved, DSF refuses it at install",
	"superUser":      "root plugins need RootPluginSupport, which is off by default; usbStream must not need root",
}

// zipName is the release naming scheme: <id>-<version>-dsf<major.minor>.zip.
var zipName = regexp.MustCompile(`^(.+?)-(.+)-dsf(\d+\.\d+)\.zip$`)

// maxEntry caps what is read from one entry, so a hostile zip cannot make
// the checker allocate gigabytes.
const maxEntry = 256 << 20

// Check validates the plugin zip at zipPath. name is the file name the rules
// about naming apply to (the final name when the zip is still at a temporary
// path); "" means path.Base(zipPath).
func Check(zipPath, name string) (*Report, error) {
	zr, err := zip.OpenReader(zipPath)
	// ErrInsecurePath comes with a usable reader: report those names per
	// entry below instead of giving up.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, err
	}
	defer zr.Close()
	if name == "" {
		name = path.Base(strings.ReplaceAll(zipPath, "\\", "/"))
	}
	return checkReader(&zr.Reader, name), nil
}

func checkReader(zr *zip.Reader, name string) *Report {
	r := &Report{}
	files := map[string]*zip.File{}
	var names []string

	// --- entry names (src/DuetControlServer/Commands/Plugins/InstallPlugin.cs refuses,
	// src/DuetPluginService/Commands/InstallPlugin.cs extracts dsf/, dwc/, sd/) ---
	for _, f := range zr.File {
		n := f.Name
		switch {
		case strings.Contains(n, `\`):
			r.add("entry.path", "%q uses a backslash; zip entries must use / separators", n)
			continue
		case strings.HasPrefix(n, "/") || (len(n) >= 2 && n[1] == ':'):
			r.add("entry.path", "%q is an absolute path", n)
			continue
		case strings.Contains(n, ".."):
			r.add("entry.path", "%q contains \"..\"; DSF refuses the whole zip", n)
			continue
		}
		if strings.HasSuffix(n, "/") {
			continue // directory entry: DSF skips it
		}
		if n != "plugin.json" && !strings.HasPrefix(n, "dsf/") && !strings.HasPrefix(n, "dwc/") && !strings.HasPrefix(n, "sd/") {
			r.add("entry.prefix", "%q is not plugin.json or under dsf/, dwc/ or sd/ (DSF skips it; a top-level folder breaks the whole plugin)", n)
			continue
		}
		if n == "sd/sys/config.g" || n == "sd/sys/config-override.g" || strings.HasPrefix(n, "sd/firmware/") {
			r.add("entry.forbidden", "%q: DSF refuses plugins that write config.g, config-override.g or firmware", n)
			continue
		}
		if files[n] != nil {
			r.add("entry.duplicate", "%q appears more than once", n)
			continue
		}
		files[n] = f
		names = append(names, n)
	}
	sort.Strings(names)

	// --- manifest (src/DuetAPI/ObjectModel/Plugins/PluginManifest.cs) ---
	mf := files["plugin.json"]
	if mf == nil {
		r.add("manifest.missing", "no plugin.json at the root of the zip")
		return r
	}
	raw, err := readEntry(mf)
	if err != nil {
		r.add("manifest.json", "plugin.json: %v", err)
		return r
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		r.add("manifest.json", "plugin.json is not a JSON object: %v", err)
		return r
	}
	checkManifest(r, m)

	// --- the name rules: <id>-<version>-dsf<X.Y>.zip ---
	if g := zipName.FindStringSubmatch(name); g == nil {
		r.add("zip.name", "%q does not follow <id>-<version>-dsf<major.minor>.zip", name)
	} else {
		if r.ID != "" && g[1] != r.ID {
			r.add("zip.name", "%q starts with %q but the manifest id is %q", name, g[1], r.ID)
		}
		if r.Version != "" && g[2] != r.Version {
			r.add("zip.name", "%q says version %q but the manifest version is %q", name, g[2], r.Version)
		}
		for _, k := range []string{"dwcVersion", "sbcDsfVersion"} {
			if v := str(m, k); v != "" && v != g[3] {
				r.add("zip.name", "%q is for DSF %s but the manifest %s is %q", name, g[3], k, v)
			}
		}
	}

	checkBinaries(r, m, files, names)
	checkSD(r, m, files)
	checkChunk(r, files, names)
	return r
}

// str returns m[key] if it is a JSON string, else "".
func str(m map[string]json.RawMessage, key string) string {
	var s string
	if json.Unmarshal(m[key], &s) != nil {
		return ""
	}
	return s
}

// strList decodes m[key] as an array of strings. ok is false (and a
// problem recorded) if it is present but not one.
func strList(r *Report, m map[string]json.RawMessage, key string) (list []string, ok bool) {
	v, present := m[key]
	if !present || string(v) == "null" {
		return nil, true
	}
	if err := json.Unmarshal(v, &list); err != nil {
		r.add("manifest."+key, "must be an array of strings")
		return nil, false
	}
	return list, true
}

func checkManifest(r *Report, m map[string]json.RawMessage) {
	var unknown []string
	for k := range m {
		if !knownKeys[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		r.add("manifest.unknownKey", "%q is not a manifest key DSF reads (keys are case-sensitive; DSF ignores it silently)", k)
	}

	// Required strings must be strings, not just present.
	for _, k := range []string{"id", "name", "author", "version", "dwcVersion", "sbcDsfVersion", "sbcExecutable"} {
		if v, ok := m[k]; ok && string(v) != "null" {
			var s string
			if json.Unmarshal(v, &s) != nil {
				r.add("manifest."+k, "must be a string, not %s", v)
			}
		}
	}

	id := str(m, "id")
	switch {
	case id == "":
		r.add("manifest.id", "missing or empty")
	case len([]rune(id)) > 32:
		r.add("manifest.id", "%q is longer than 32 characters", id)
	case strings.IndexFunc(id, func(c rune) bool { return !unicode.IsLetter(c) && !unicode.IsDigit(c) }) >= 0:
		r.add("manifest.id", "%q may only contain letters and digits (DSF: char.IsLetterOrDigit)", id)
	default:
		r.ID = id
	}

	name := str(m, "name")
	switch {
	case name == "":
		r.add("manifest.name", "missing or empty")
	case len([]rune(name)) > 64:
		r.add("manifest.name", "%q is longer than 64 characters", name)
	case strings.IndexFunc(name, func(c rune) bool {
		return !unicode.IsLetter(c) && !unicode.IsDigit(c) && c != ' ' && c != '-' && c != '_'
	}) >= 0:
		r.add("manifest.name", "%q may only contain letters, digits, space, - and _", name)
	}

	if strings.TrimSpace(str(m, "author")) == "" {
		r.add("manifest.author", "missing or empty (DWC refuses the plugin)")
	}
	if v := strings.TrimSpace(str(m, "version")); v == "" {
		r.add("manifest.version", "missing or empty (DWC refuses the plugin)")
	} else {
		r.Version = v
	}

	for _, k := range []string{"dwcVersion", "sbcDsfVersion"} {
		v := str(m, k)
		switch {
		case v == "":
			r.add("manifest."+k, "missing; the plugin needs %s \"3.5\" or \"3.6\"", k)
		case !dsfVersions[v]:
			r.add("manifest."+k, "%q is not \"3.5\" or \"3.6\"", v)
		}
	}
	if d, s := str(m, "dwcVersion"), str(m, "sbcDsfVersion"); d != "" && s != "" && d != s {
		r.add("manifest.sbcDsfVersion", "%q differs from dwcVersion %q; one zip is for one DSF/DWC version", s, d)
	} else if dsfVersions[d] {
		r.DSFVersion = d
	}

	perms, ok := strList(r, m, "sbcPermissions")
	if ok {
		for _, p := range perms {
			switch {
			case refusedPermissions[p] != "":
				r.add("manifest.sbcPermissions", "%q: %s", p, refusedPermissions[p])
			case !knownPermissions[p]:
				r.add("manifest.sbcPermissions", "%q is not a permission name (camelCase, case-sensitive, as in DSF's SbcPermissions.cs)", p)
			}
		}
	}

	// sbcOutputRedirected defaults to true: every stderr line would become a
	// red toast in every open DWC (src/DuetPluginService/Commands/StartPlugin.cs
	// turns stderr lines into error messages).
	var redirected bool
	if v, ok := m["sbcOutputRedirected"]; !ok {
		r.add("manifest.sbcOutputRedirected", "missing; DSF's default is true, which turns every log line into a DWC message; set it to false")
	} else if json.Unmarshal(v, &redirected) != nil {
		r.add("manifest.sbcOutputRedirected", "must be true or false, not %s", v)
	} else if redirected {
		r.add("manifest.sbcOutputRedirected", "is true; every log line would become a DWC message; set it to false")
	}

	// SetPluginData may only set keys present in data; usbStream publishes
	// "status".
	var data map[string]json.RawMessage
	if v, ok := m["data"]; !ok {
		r.add("manifest.data", "missing; it must have a \"status\" key for SetPluginData")
	} else if json.Unmarshal(v, &data) != nil || data == nil {
		r.add("manifest.data", "must be a JSON object with a \"status\" key")
	} else if _, ok := data["status"]; !ok {
		r.add("manifest.data", "has no \"status\" key; SetPluginData refuses keys that are not in data")
	}
}

// checkBinaries: sbcExecutable must exist for every required architecture,
// be executable in the zip, be an ELF for that machine, statically linked,
// and (if it is a Go binary) carry the manifest's version.
func checkBinaries(r *Report, m map[string]json.RawMessage, files map[string]*zip.File, names []string) {
	exe := str(m, "sbcExecutable")
	switch {
	case exe == "":
		r.add("manifest.sbcExecutable", "missing; usbStream is an SBC plugin")
		return
	case strings.Contains(exe, "/") || strings.Contains(exe, `\`) || strings.Contains(exe, ".."):
		r.add("manifest.sbcExecutable", "%q must be a plain file name (no /, \\ or ..)", exe)
		return
	}
	// Architecture folders DSF never looks at would be dead weight or a typo.
	for _, n := range names {
		if rest, ok := strings.CutPrefix(n, "dsf/"); ok {
			if dir, _, nested := strings.Cut(rest, "/"); nested {
				if _, known := archELF[dir]; !known {
					r.add("binary.arch", "%q: DSF only looks in dsf/arm, dsf/arm64, dsf/x86, dsf/x86_64", n)
				}
			}
		}
	}
	archs := append([]string{}, requiredArchs...)
	if files["dsf/x86/"+exe] != nil {
		archs = append(archs, "x86")
	}
	for _, arch := range archs {
		n := "dsf/" + arch + "/" + exe
		f := files[n]
		if f == nil {
			r.add("binary.missing", "%s is missing; DSF on %s would not find the executable", n, arch)
			continue
		}
		if perm := f.Mode().Perm(); perm != 0o755 || !f.Mode().IsRegular() {
			r.add("binary.mode", "%s has mode %v in the zip, want -rwxr-xr-x (0755)", n, f.Mode())
		}
		b, err := readEntry(f)
		if err != nil {
			r.add("binary.elf", "%s: %v", n, err)
			continue
		}
		ef, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			r.add("binary.elf", "%s is not an ELF executable: %v", n, err)
			continue
		}
		want := archELF[arch]
		if ef.Class != want.class || ef.Machine != want.machine {
			r.add("binary.machine", "%s is %v %v, want %v %v", n, ef.Class, ef.Machine, want.class, want.machine)
		}
		for _, p := range ef.Progs {
			if p.Type == elf.PT_INTERP {
				interp, _ := io.ReadAll(io.LimitReader(p.Open(), 256))
				r.add("binary.static", "%s is dynamically linked (interpreter %s); DSF images lack its libraries, link it statically",
					n, strings.TrimRight(string(interp), "\x00"))
				break
			}
		}
		if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
			r.add("binary.elf", "%s is an ELF %v, not an executable", n, ef.Type)
		}
		bin := Binary{Arch: arch, Size: int64(len(b))}
		if bi, err := buildinfo.Read(bytes.NewReader(b)); err == nil {
			bin.Flavour = "pure Go"
			var ldflags string
			for _, s := range bi.Settings {
				switch s.Key {
				case "-tags":
					if strings.Contains(","+s.Value+",", ",turbojpeg,") {
						bin.Flavour = "libjpeg-turbo"
					}
				case "-ldflags":
					ldflags = s.Value
				}
			}
			// Go records -ldflags only without -trimpath. With it, the
			// version string must at least occur in the binary: that
			// catches a stale binary, though not every one.
			switch v := stampedVersion(ldflags); {
			case v != "" && r.Version != "" && v != r.Version:
				r.add("binary.version", "%s is version %q but the manifest says %q (stale binary?)", n, v, r.Version)
			case v == "" && ldflags != "":
				r.add("binary.version", "%s has no version stamped (-ldflags -X main.version=...)", n)
			case v == "" && r.Version != "" && !bytes.Contains(b, []byte(r.Version)):
				r.add("binary.version", "%s does not contain the manifest version %q; stale binary or not stamped with -X main.version", n, r.Version)
			}
		}
		r.Binaries = append(r.Binaries, bin)
	}
}

var versionFlag = regexp.MustCompile(`-X[= ]['"]?main\.version=([^'" ]+)`)

// stampedVersion finds -X main.version=V in a binary's recorded -ldflags.
func stampedVersion(ldflags string) string {
	if g := versionFlag.FindStringSubmatch(ldflags); g != nil {
		return g[1]
	}
	return ""
}

// checkSD: sbcConfigFiles entries are relative to 0:/sys or the SD root and
// must name a file the zip installs; the config the binary is started with
// must be one of them, or every upgrade would overwrite the user's settings.
func checkSD(r *Report, m map[string]json.RawMessage, files map[string]*zip.File) {
	cfgs, ok := strList(r, m, "sbcConfigFiles")
	if !ok {
		return
	}
	covered := map[string]bool{} // zip entry names protected by sbcConfigFiles
	for _, c := range cfgs {
		switch {
		case strings.HasPrefix(c, "0:") || strings.HasPrefix(c, "/") || strings.Contains(c, `\`):
			r.add("manifest.sbcConfigFiles", "%q must be relative to 0:/sys or the SD root (no 0:/, no leading /)", c)
			continue
		case strings.Contains(c, ".."):
			r.add("manifest.sbcConfigFiles", "%q contains \"..\"", c)
			continue
		}
		switch {
		case files["sd/sys/"+c] != nil:
			covered["sd/sys/"+c] = true
		case files["sd/"+c] != nil:
			covered["sd/"+c] = true
		default:
			r.add("manifest.sbcConfigFiles", "%q is not in the zip (looked for sd/sys/%s and sd/%s)", c, c, c)
		}
	}

	// The default config for this plugin id.
	if r.ID != "" {
		want := "sd/sys/" + r.ID + "/" + r.ID + ".config"
		if files[want] == nil {
			r.add("config.missing", "%s is missing", want)
		} else if !covered[want] {
			r.add("config.missing", "%s is not listed in sbcConfigFiles (as %q); upgrades would overwrite the user's settings",
				want, r.ID+"/"+r.ID+".config")
		}
	}
	// The file the binary is told to read.
	if file := fileArg(str(m, "sbcExecutableArguments")); file != "" {
		rel, ok := strings.CutPrefix(file, "/opt/dsf/sd/")
		switch {
		case !ok:
			r.add("config.file", "sbcExecutableArguments reads %s, which is outside /opt/dsf/sd and not installed by the zip", file)
		case files["sd/"+rel] == nil:
			r.add("config.file", "sbcExecutableArguments reads %s but the zip has no sd/%s", file, rel)
		case !covered["sd/"+rel]:
			r.add("config.file", "sbcExecutableArguments reads %s but sbcConfigFiles does not protect it", file)
		}
	}
}

// fileArg returns the value of -file in an argument string (split on
// whitespace: the manifest's arguments use no quoting).
func fileArg(args string) string {
	f := strings.Fields(args)
	for i, a := range f {
		a = strings.TrimPrefix(a, "-")
		if v, ok := strings.CutPrefix(a, "-file="); ok {
			return v
		}
		if v, ok := strings.CutPrefix(a, "file="); ok {
			return v
		}
		if (a == "file" || a == "-file") && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

// checkChunk: DWC loads the first dwcFiles .js path containing the id as
// webpack chunk <id> and runs module ./src/plugins/<id>/index.js from it
// (DWC's src/plugins/index.ts loadDwcResources).
func checkChunk(r *Report, files map[string]*zip.File, names []string) {
	if r.ID == "" {
		return
	}
	var chunks, css []string
	for _, n := range names {
		if !strings.HasPrefix(n, "dwc/") || !strings.Contains(n, r.ID) {
			continue
		}
		switch path.Ext(n) {
		case ".js":
			chunks = append(chunks, n)
		case ".css":
			css = append(css, n)
		}
	}
	switch len(chunks) {
	case 0:
		r.add("dwc.chunk", "no .js file under dwc/ with %q in its path; DWC would have no tab to load", r.ID)
		return
	case 1:
	default:
		r.add("dwc.chunk", "%d .js files under dwc/ contain %q (%s); DWC loads only the first, exactly one is allowed",
			len(chunks), r.ID, strings.Join(chunks, ", "))
		return
	}
	if len(css) > 1 {
		r.add("dwc.css", "%d .css files under dwc/ contain %q; DWC uses only one", len(css), r.ID)
	}
	r.Chunk = chunks[0]
	b, err := readEntry(files[chunks[0]])
	if err != nil {
		r.add("dwc.chunk", "%s: %v", chunks[0], err)
		return
	}
	if !chunkHeader(r.ID).Match(b) {
		head := string(b[:min(len(b), 100)])
		r.add("dwc.chunkHeader", "%s does not start with the webpack JSONP push for chunk %q "+
			`((self["webpackChunkduetwebcontrol"]=self["webpackChunkduetwebcontrol"]||[]).push([[%q],...); it starts %q`,
			chunks[0], r.ID, r.ID, head)
	}
	key := "./src/plugins/" + r.ID + "/index.js"
	if !bytes.Contains(b, []byte(`"`+key+`"`)) && !bytes.Contains(b, []byte(`'`+key+`'`)) {
		r.add("dwc.moduleKey", "%s has no module %q; DWC's require would fail with a TypeError", chunks[0], key)
	}
}

// chunkHeader matches the start of a webpack 5 JSONP chunk for chunk id,
// allowing comments, "use strict" and either property syntax, as bundlers
// and minifiers write it.
func chunkHeader(id string) *regexp.Regexp {
	g := `(?:\[\s*["']webpackChunkduetwebcontrol["']\s*\]|\.webpackChunkduetwebcontrol)`
	return regexp.MustCompile(`^(?:\x{FEFF})?(?:\s+|/\*[\s\S]*?\*/|//[^\n]*\n|["']use strict["'];?)*` +
		`\(\s*(?:self|window|globalThis)` + g + `\s*=\s*(?:self|window|globalThis)` + g + `\s*\|\|\s*\[\s*\]\s*\)` +
		`\s*\.push\(\s*\[\s*\[\s*["']` + regexp.QuoteMeta(id) + `["']\s*\]\s*,`)
}

func readEntry(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > maxEntry {
		return nil, fmt.Errorf("%d bytes, more than the %d this checker reads", f.UncompressedSize64, maxEntry)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, maxEntry+1))
}
