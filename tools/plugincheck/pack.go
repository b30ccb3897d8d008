package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// PackSpec says what goes into a plugin zip. Trees maps a zip prefix
// ("dsf", "dwc", "sd") to a local directory whose files go under it.
type PackSpec struct {
	Manifest string            // the plugin.json template
	Set      map[string]string // manifest string fields to replace (version, dwcVersion, sbcDsfVersion)
	Trees    map[string]string
	Out      string    // the final zip path
	MTime    time.Time // stored for every entry, so the same inputs give the same bytes
}

// Pack writes the zip to a temporary name next to Out, validates it with
// Check under Out's name, and renames it into place only if it passes. On
// failure nothing is left at Out (an older zip there is kept as it was).
func Pack(spec PackSpec) (*Report, error) {
	manifest, err := os.ReadFile(spec.Manifest)
	if err != nil {
		return nil, err
	}
	manifest, err = setManifest(manifest, spec.Set)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.Manifest, err)
	}

	type entry struct {
		name, src string
		exec      bool
	}
	entries := []entry{}
	for prefix, dir := range spec.Trees {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			info, err := os.Stat(p) // follows symlinks: the zip holds the file
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file", p)
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			entries = append(entries, entry{
				name: path.Join(prefix, filepath.ToSlash(rel)),
				src:  p,
				exec: info.Mode().Perm()&0o111 != 0,
			})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// Sorted names: the same tree always gives the same zip.
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })

	tmp, err := os.CreateTemp(filepath.Dir(spec.Out), ".pack-*.zip")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	zw := zip.NewWriter(tmp)
	add := func(name string, mode fs.FileMode, r io.Reader) error {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: spec.MTime.UTC()}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, r)
		return err
	}
	err = add("plugin.json", 0o644, bytes.NewReader(manifest))
	for _, e := range entries {
		if err != nil {
			break
		}
		var f *os.File
		if f, err = os.Open(e.src); err != nil {
			break
		}
		// Executables get 0755 and everything else 0644, whatever the
		// build machine's umask left on the files.
		mode := fs.FileMode(0o644)
		if e.exec {
			mode = 0o755
		}
		err = add(e.name, mode, f)
		f.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = tmp.Chmod(0o644) // CreateTemp made it 0600; a release file is for everyone
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}

	rep, err := Check(tmp.Name(), filepath.Base(spec.Out))
	if err != nil {
		return nil, err
	}
	if len(rep.Problems) > 0 {
		return rep, nil
	}
	return rep, os.Rename(tmp.Name(), spec.Out)
}

// setManifest replaces string fields of a JSON object, keeping the key
// order of the template (a reader diffing two manifests sees only what
// changed). Keys not in the template are appended.
func setManifest(raw []byte, set map[string]string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var keys []string
	vals := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if _, dup := vals[k]; dup {
			return nil, fmt.Errorf("key %q appears twice", k)
		}
		keys = append(keys, k)
		vals[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var extra []string
	for k := range set {
		if _, ok := vals[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	keys = append(keys, extra...)

	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		b.Write(kj)
		b.WriteByte(':')
		if v, ok := set[k]; ok {
			vj, _ := json.Marshal(v)
			b.Write(vj)
		} else if err := json.Compact(&b, vals[k]); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// parseSet turns "key=value" flags into a map.
func parseSet(list []string) (map[string]string, error) {
	m := map[string]string{}
	for _, s := range list {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-set %q: want key=value", s)
		}
		m[k] = v
	}
	return m, nil
}
