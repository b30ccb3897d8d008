package dsftest

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
)

type endpointArgs struct {
	typ       string
	namespace *string
	path      string
	upload    bool
}

func readEndpointArgs(o *object, withUpload bool) (endpointArgs, *dnError) {
	var a endpointArgs
	typ, _, err := o.enum("endpointType", httpEndpointTypes, 0)
	if err != nil {
		return a, asDN(err)
	}
	a.typ = httpEndpointTypes.name(typ)
	if a.namespace, err = o.str("namespace", ""); err != nil {
		return a, asDN(err)
	}
	p, err := o.str("path", "")
	if err != nil {
		return a, asDN(err)
	}
	if p != nil { // a null path interpolates as ""
		a.path = *p
	}
	if withUpload {
		if a.upload, err = o.boolean("isUploadRequest", false); err != nil {
			return a, asDN(err)
		}
	}
	return a, nil
}

func (a endpointArgs) matches(e Endpoint) bool {
	return a.namespace != nil && e.EndpointType == a.typ && e.Namespace == *a.namespace && e.Path == a.path
}

// execAddHTTPEndpoint follows AddHttpEndpoint.Execute: reserved namespaces,
// reuse of a registered endpoint whose socket does not answer, the socket
// path formula, and creating the directory but never the socket.
func execAddHTTPEndpoint(c *ipcConn, o *object) ([]byte, *dnError) {
	a, err := readEndpointArgs(o, true)
	if err != nil {
		return nil, err
	}
	if a.namespace != nil {
		switch *a.namespace {
		case "file", "fileinfo", "directory":
			return nil, argumentError("Namespace is reserved")
		}
	}
	t := c.t
	t.mu.Lock()
	var existing *Endpoint
	for _, e := range t.endpoints {
		if a.matches(e) {
			existing = &e
			break
		}
	}
	t.mu.Unlock()
	if existing != nil {
		// The probe runs outside the lock: a slow connect must not stall the
		// rest of the twin. DCS does not hold a write lock across it either.
		if socketAlive(existing.UnixSocket) {
			return nil, newErr("InvalidOperationException", "Requested HTTP endpoint is already registered and active")
		}
		// The stale entry is reused as it is: a changed isUploadRequest is ignored.
		return marshal(existing.UnixSocket), nil
	}
	if a.namespace == nil {
		return nil, argumentNull("path2")
	}
	sock := pathCombine(t.sockDir, *a.namespace, a.path+"-"+a.typ+".sock")
	if err := mkdirDSF(filepath.Dir(sock)); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.endpoints = append(t.endpoints, Endpoint{EndpointType: a.typ, Namespace: *a.namespace, Path: a.path,
		IsUploadRequest: a.upload, UnixSocket: sock})
	t.scheduleRoutes(false)
	return marshal(sock), nil
}

// execRemoveHTTPEndpoint drops the first matching entry and leaves the
// socket file alone.
func execRemoveHTTPEndpoint(c *ipcConn, o *object) ([]byte, *dnError) {
	a, err := readEndpointArgs(o, false)
	if err != nil {
		return nil, err
	}
	t := c.t
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, e := range t.endpoints {
		if a.matches(e) {
			t.endpoints = append(t.endpoints[:i:i], t.endpoints[i+1:]...)
			t.scheduleRoutes(false)
			return marshal(true), nil
		}
	}
	return marshal(false), nil
}

// socketAlive is DCS's probe: connect, close at once.
func socketAlive(path string) bool {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// mkdirDSF creates a directory and its missing parents the way
// Directory.CreateDirectory does for DCS, whose umask is 0002.
func mkdirDSF(dir string) *dnError {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, 0o775); err != nil && !errors.Is(err, os.ErrExist) {
			return ioError(d, err)
		}
		if err := os.Chmod(d, 0o775); err != nil {
			return ioError(d, err)
		}
	}
	if fi, err := os.Stat(dir); err != nil {
		return ioError(dir, err)
	} else if !fi.IsDir() {
		return newErr("IOException", "The file '"+dir+"' already exists.")
	}
	return nil
}

func ioError(path string, err error) *dnError {
	if errors.Is(err, os.ErrPermission) {
		return newErr("UnauthorizedAccessException", "Access to the path '"+path+"' is denied.")
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return newErr("IOException", err.Error()+" : '"+path+"'")
}

// pathCombine is .NET's Path.Combine: empty parts are skipped and a rooted
// part discards everything before it; nothing is normalised.
func pathCombine(parts ...string) string {
	out := ""
	for _, p := range parts {
		switch {
		case p == "":
		case strings.HasPrefix(p, "/"):
			out = p
		case out == "" || strings.HasSuffix(out, "/"):
			out += p
		default:
			out += "/" + p
		}
	}
	return out
}
