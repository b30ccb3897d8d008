package config

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every option says how -h describes it and what a reload that changes it
// takes; an option added without either fails here, not in the field.
func TestEveryOptionHasAHelpLineAndAReloadClass(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range options {
		if seen[o.name] {
			t.Errorf("-%s is in the table twice", o.name)
		}
		seen[o.name] = true
		if o.help == "" && !aliased(o) {
			t.Errorf("-%s has no help line", o.name)
		}
		if o.alias != "" && lookup(o.alias) == nil {
			t.Errorf("-%s's help line names -%s, which is no option", o.name, o.alias)
		}
		if o.reload < SwitchesLog || o.reload > NotInFile {
			t.Errorf("-%s has no reload class (%d)", o.name, o.reload)
		}
		// A reload compares exactly the options it can change.
		if (o.same == nil) != (o.reload == NotInFile) {
			t.Errorf("-%s: class %q but comparison set = %v", o.name, o.reload, o.same != nil)
		}
		if o.reload == NotInFile && o.set != nil && !o.cmdline {
			t.Errorf("-%s can be set in a file, so a reload can change it: it needs a class and a comparison", o.name)
		}
		if o.cmdline && o.reload != NotInFile {
			t.Errorf("-%s is command line only, which a reload keeps: its class must be NotInFile", o.name)
		}
		if !strings.Contains(Usage(), "\n  -"+o.name) && !aliased(o) {
			t.Errorf("-h does not show -%s", o.name)
		}
	}
}

// diffBase is the file each case of TestDiffNamesTheOneChangedOption
// starts from: with credentials, so that each one can change alone.
var diffBase = map[string]string{"user": "-user u", "password": "-password p"}

// diffSample sets each option that a file can change to a value other than
// diffBase's.
var diffSample = map[string]string{
	"port": "-port 9000", "host": "-host 127.0.0.1", "camera": "-camera 1", "rotate": "-rotate 90",
	"size": "-size 4", "format": "-format YUYV", "framerate": "-framerate 10", "manexp": "-manexp 1",
	"exposure": "-exposure 5", "verbose": "-verbose", "logfile": "-logfile other.log", "source": "-source test",
	"resolution": "-resolution 640x480", "flip": "-flip h", "quality": "-quality 50", "user": "-user v",
	"password": "-password q", "token": "-token 0123456789abcdef", "auth": "-auth basic",
	"allow-origin": "-allow-origin *", "allowhost": "-allowhost printer.local", "control": "-control brightness=1",
	"maxclients": "-maxclients 5", "maxclientsperip": "-maxclientsperip 2", "dsf": "-dsf none",
}

func diffContent(lines map[string]string) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return b.Bytes()
}

// Each option's comparison looks at its own value: a file that changes one
// option is a change of that option alone, with the option's class.
func TestDiffNamesTheOneChangedOption(t *testing.T) {
	args := []string{"-file", testFile}
	prev, err := ParseWithFileContent(args, diffContent(diffBase))
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(prev, prev); d != nil {
		t.Fatalf("a configuration differs from itself: %v", d)
	}
	for _, o := range options {
		if o.same == nil {
			continue
		}
		t.Run(o.name, func(t *testing.T) {
			sample, ok := diffSample[o.name]
			if !ok {
				t.Fatalf("no sample value for -%s in diffSample", o.name)
			}
			lines := map[string]string{o.name: sample}
			for k, v := range diffBase {
				if k != o.name {
					lines[k] = v
				}
			}
			next, err := ParseWithFileContent(args, diffContent(lines))
			if err != nil {
				t.Fatal(err)
			}
			want := []Change{{Option: "-" + o.name, Reload: o.reload}}
			if got := Diff(prev, next); !slices.Equal(got, want) {
				t.Errorf("Diff = %v, want %v", got, want)
			}
			if got := Diff(next, prev); !slices.Equal(got, want) {
				t.Errorf("Diff back = %v, want %v", got, want)
			}
		})
	}
}

// What is not an option's value is not a change: -host 0.0.0.0 written out
// is the default the reload already runs with.
func TestDiffIgnoresWhatIsNoOptionsValue(t *testing.T) {
	args := []string{"-file", testFile}
	prev, _ := ParseWithFileContent(args, []byte("-port 8090\n"))
	next, err := ParseWithFileContent(args, []byte("-port 8090\n-host 0.0.0.0\n-exposure 1\n"))
	if err != nil || !next.HostSet || len(next.Warnings) == 0 {
		t.Fatalf("setup: %v %+v", err, next)
	}
	// -exposure without -manexp is ignored, but it is a value: it counts.
	if got := Diff(prev, next); !slices.Equal(got, []Change{{"-exposure", ReopensSource}}) {
		t.Fatalf("Diff = %v, want only -exposure", got)
	}
}

// Parse hands back the exact content it parsed, also when that content has
// an error, so that the watcher compares saves with what is in force.
func TestParseReturnsTheContentItRead(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.config", "-port 8090\n")
	bad := writeFile(t, dir, "bad.config", "-port 8090\n-rotate 45\n")
	tests := []struct {
		name    string
		args    []string
		content string // "" is nil
		fails   bool
	}{
		{"good file", []string{"-file", good}, "-port 8090\n", false},
		{"bad file", []string{"-file", bad}, "-port 8090\n-rotate 45\n", true},
		{"bad command line after the file", []string{"-file", good, "-rotate", "45"}, "-port 8090\n", true},
		{"no file", []string{"-port", "8090"}, "", false},
		{"missing file", []string{"-file", filepath.Join(dir, "missing.config")}, "", true},
		{"help", []string{"-file", good, "-h"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, content, err := Parse(tt.args)
			if (err != nil) != tt.fails || (err == nil) != (c != nil) {
				t.Fatalf("Parse(%q) = %v, %v", tt.args, c, err)
			}
			if tt.content == "" && content != nil || tt.content != "" && string(content) != tt.content {
				t.Fatalf("content %q, want %q", content, tt.content)
			}
		})
	}
	// An empty file is content, not "no file": it was read.
	empty := writeFile(t, dir, "empty.config", "")
	if _, content, err := Parse([]string{"-file", empty}); err != nil || content == nil {
		t.Fatalf("empty file: content %v, %v", content, err)
	}
}

// The options a test pattern or file replay ignores are named when a file
// sets them, and only then: the defaults name nothing.
func TestCameraOnlyNamesTheCameraOptionsSet(t *testing.T) {
	def := Default()
	if got := CameraOnly(&def); got != nil {
		t.Fatalf("the defaults name %v", got)
	}
	c, err := ParseWithFileContent([]string{"-file", testFile},
		[]byte("-source test\n-format YUYV\n-rotate 90\n-control brightness=10\n-exposure 3\n-quality 70\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := CameraOnly(c); !slices.Equal(got, []string{"-format", "-exposure", "-control"}) {
		t.Fatalf("CameraOnly = %v, want -format, -exposure and -control (the test pattern rotates and encodes)", got)
	}
}
