// Command plugincheck validates usbStream's DSF plugin zips against the
// rules DSF and DWC apply at install (DSF: src/DuetControlServer/Commands/Plugins/InstallPlugin.cs,
// src/DuetPluginService/Commands/InstallPlugin.cs, src/DuetAPI/ObjectModel/Plugins/PluginManifest.cs;
// DWC: src/plugins/index.ts), and packs them so that a zip that breaks a rule is never written.
//
//	go run ./tools/plugincheck dist/usbStream-0.2.0-dsf3.6.zip ...
//	go run ./tools/plugincheck -pack dist/usbStream-0.2.0-dsf3.6.zip -manifest plugin.json \
//	    -set version=0.2.0 -set dwcVersion=3.6 -set sbcDsfVersion=3.6 \
//	    -tree dsf=dist/dsf -tree dwc=dist/dwc -tree sd=sd
//
// Exit status: 0 all good, 1 a rule is broken (one line per problem), 2 bad
// usage or a file that cannot be read.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

const usageText = `plugincheck: check (or pack and check) usbStream DSF plugin zips.

Usage:
  plugincheck ZIP...
  plugincheck -pack OUT.zip -manifest plugin.json [-set key=value]... -tree prefix=DIR...

Checks: entry names (/ separators, no .., no absolute paths, only plugin.json,
dsf/, dwc/, sd/; no sd/sys/config.g, config-override.g, sd/firmware/), the
manifest (id, name, author, version, dwcVersion = sbcDsfVersion = 3.5 or 3.6 as
in the zip name <id>-<version>-dsf<X.Y>.zip, no unknown keys, permissions,
sbcOutputRedirected false, data.status, sbcConfigFiles), the executables
dsf/{arm,arm64,x86_64}/<sbcExecutable> (mode 0755, ELF of that machine,
static, stamped with the manifest version) and the DWC chunk (one .js under
dwc/ naming the id, webpack JSONP push for chunk <id>, module
./src/plugins/<id>/index.js). Each problem is printed as "ZIP: rule: message".

-pack writes the zip with sorted entries, fixed times (-mtime, default
$SOURCE_DATE_EPOCH or 2000-01-01) and modes 0755/0644, checks it under OUT's
name and only then renames it to OUT.

Flags:
`

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugincheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText); fs.PrintDefaults() }
	var (
		pack     = fs.String("pack", "", "write this plugin zip (from -manifest and -tree), check it, then move it into place")
		manifest = fs.String("manifest", "plugin.json", "manifest template for -pack")
		mtime    = fs.Int64("mtime", -1, "Unix time stored for every entry with -pack (default $SOURCE_DATE_EPOCH, else 2000-01-01)")
		quiet    = fs.Bool("q", false, "print only problems")
		sets     listFlag
		trees    listFlag
	)
	fs.Var(&sets, "set", "key=value: set a string field of the manifest (repeatable)")
	fs.Var(&trees, "tree", "prefix=DIR: put DIR's files under prefix/ in the zip (repeatable)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}

	if *pack != "" {
		if fs.NArg() > 0 {
			fmt.Fprintln(stderr, "plugincheck: -pack takes no zip arguments")
			return 2
		}
		set, err := parseSet(sets)
		if err != nil {
			fmt.Fprintln(stderr, "plugincheck:", err)
			return 2
		}
		treeMap := map[string]string{}
		for _, t := range trees {
			p, d, ok := strings.Cut(t, "=")
			if !ok || (p != "dsf" && p != "dwc" && p != "sd") {
				fmt.Fprintf(stderr, "plugincheck: -tree %q: want dsf=DIR, dwc=DIR or sd=DIR\n", t)
				return 2
			}
			treeMap[p] = d
		}
		t := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		if *mtime >= 0 {
			t = time.Unix(*mtime, 0)
		} else if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				fmt.Fprintf(stderr, "plugincheck: SOURCE_DATE_EPOCH=%q is not a number\n", s)
				return 2
			}
			t = time.Unix(n, 0)
		}
		rep, err := Pack(PackSpec{Manifest: *manifest, Set: set, Trees: treeMap, Out: *pack, MTime: t})
		if err != nil {
			fmt.Fprintln(stderr, "plugincheck:", err)
			return 2
		}
		return report(*pack, rep, *quiet, stdout, stderr)
	}

	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	status := 0
	for _, z := range fs.Args() {
		rep, err := Check(z, "")
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", z, err)
			status = 2
			continue
		}
		if s := report(z, rep, *quiet, stdout, stderr); s > status {
			status = s
		}
	}
	return status
}

func report(zip string, rep *Report, quiet bool, stdout, stderr io.Writer) int {
	if len(rep.Problems) > 0 {
		for _, p := range rep.Problems {
			fmt.Fprintf(stderr, "%s: %s\n", zip, p)
		}
		fmt.Fprintf(stderr, "FAIL %s: %d problem(s)\n", zip, len(rep.Problems))
		return 1
	}
	if !quiet {
		var bins []string
		for _, b := range rep.Binaries {
			fl := b.Flavour
			if fl == "" {
				fl = "not Go"
			}
			bins = append(bins, fmt.Sprintf("%s %.1f MiB %s", b.Arch, float64(b.Size)/(1<<20), fl))
		}
		fmt.Fprintf(stdout, "OK %s: %s %s for DSF/DWC %s; %s; %s\n", zip, rep.ID, rep.Version, rep.DSFVersion,
			strings.Join(bins, ", "), rep.Chunk)
	}
	return 0
}
