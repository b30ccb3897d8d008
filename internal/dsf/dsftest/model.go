package dsftest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// perm is DSF's SbcPermissions flag set (src/DuetAPI/Utility/SbcPermissions.cs).
type perm uint32

// permNames lists the flags by bit number, spelled as DSF writes them and
// as DWC requires them in plugin.json.
var permNames = []string{
	"commandExecution", "codeInterceptionRead", "codeInterceptionReadWrite", "managePlugins", "servicePlugins",
	"manageUserSessions", "objectModelRead", "objectModelReadWrite", "registerHttpEndpoints", "readFilaments",
	"writeFilaments", "readFirmware", "writeFirmware", "readGCodes", "writeGCodes", "readMacros", "writeMacros",
	"readMenu", "writeMenu", "readSystem", "writeSystem", "readWeb", "writeWeb", "fileSystemAccess",
	"launchProcesses", "networkAccess", "superUser", "webcamAccess", "gpioAccess",
}

func permBit(name string) perm {
	for i, n := range permNames {
		if n == name {
			return 1 << i
		}
	}
	return 0
}

var (
	pCommandExecution      = permBit("commandExecution")
	pCodeInterceptionRead  = permBit("codeInterceptionRead")
	pCodeInterceptionRW    = permBit("codeInterceptionReadWrite")
	pManagePlugins         = permBit("managePlugins")
	pServicePlugins        = permBit("servicePlugins")
	pManageUserSessions    = permBit("manageUserSessions")
	pObjectModelRead       = permBit("objectModelRead")
	pObjectModelReadWrite  = permBit("objectModelReadWrite")
	pRegisterHTTPEndpoints = permBit("registerHttpEndpoints")
	pReadGCodes            = permBit("readGCodes")
	pFileSystemAccess      = permBit("fileSystemAccess")
	pSuperUser             = permBit("superUser")
	pAll                   = perm(1)<<len(permNames) - 1
)

// dataEntry keeps plugin data in declaration order, values verbatim.
type dataEntry struct {
	key   string
	value json.RawMessage
}

// manifest is the installed plugin.json. Only the keys DSF knows are read,
// matched exactly as DSF does (camelCase, case-sensitive); the rest is
// ignored like DSF ignores it.
type manifest struct {
	id    string
	perms perm
	data  []dataEntry
	// autoRestart is sbcAutoRestart: DCS starts the plugin again when it
	// exits while running.
	autoRestart bool
}

// manifestKeys are PluginManifest's properties with their defaults.
var manifestKeys = []kv{
	{"id", ""}, {"name", ""}, {"author", ""}, {"version", "1.0.0"}, {"license", "LGPL-3.0-or-later"},
	{"homepage", nil}, {"tags", []string{}}, {"dwcVersion", nil}, {"dwcDependencies", []string{}},
	{"sbcRequired", false}, {"sbcDsfVersion", nil}, {"sbcExecutable", nil}, {"sbcExecutableArguments", nil},
	{"sbcExtraExecutables", []string{}}, {"sbcAutoRestart", false}, {"sbcOutputRedirected", true},
	{"sbcPermissions", []string{}}, {"sbcConfigFiles", []string{}}, {"sbcPackageDependencies", []string{}},
	{"sbcPythonDependencies", []string{}}, {"sbcPluginDependencies", []string{}}, {"rrfVersion", nil},
}

// parseManifest reads plugin.json and refuses what an install through DWC
// and DSF would refuse, so that a broken manifest fails the test that uses it.
func parseManifest(raw []byte) (*manifest, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("dsftest: Options.Manifest is empty")
	}
	if err := syntaxCheck(raw, true); err != nil {
		return nil, fmt.Errorf("dsftest: plugin.json: %v", err)
	}
	o, err := parseObject(raw, false)
	if err != nil {
		return nil, fmt.Errorf("dsftest: plugin.json is not an object: %v", err)
	}
	m := &manifest{}
	for _, k := range manifestKeys {
		if v, ok := o.get(k.k); ok {
			if err := checkManifestType(k, v.value); err != nil {
				return nil, err
			}
		}
	}
	idm, _ := o.get("id")
	if err := json.Unmarshal(idm.value, &m.id); err != nil || !validID(m.id) {
		return nil, fmt.Errorf("dsftest: plugin.json: id %s must be 1-32 letters or digits", idm.value)
	}
	if nm, ok := o.get("name"); !ok || string(nm.value) == `""` {
		return nil, fmt.Errorf("dsftest: plugin.json: name is required")
	}
	if pm, ok := o.get("sbcPermissions"); ok && !isNull(pm.value) {
		var names []string
		if err := json.Unmarshal(pm.value, &names); err != nil {
			return nil, fmt.Errorf("dsftest: plugin.json: sbcPermissions: %v", err)
		}
		for _, n := range names {
			b := permBit(n)
			if b == 0 || b == pServicePlugins {
				// DWC refuses names that are not exactly one of its camelCase
				// list, and DSF refuses servicePlugins.
				return nil, fmt.Errorf("dsftest: plugin.json: sbcPermissions: %q is refused at install", n)
			}
			m.perms |= b
		}
	}
	if dm, ok := o.get("data"); ok && !isNull(dm.value) {
		d, err := parseObject(dm.value, false)
		if err != nil {
			return nil, fmt.Errorf("dsftest: plugin.json: data must be an object")
		}
		for _, e := range d.members {
			m.setData(e.name, e.value)
		}
	}
	if ar, ok := o.get("sbcAutoRestart"); ok {
		m.autoRestart = string(ar.value) == "true"
	}
	return m, nil
}

func (m *manifest) setData(key string, v json.RawMessage) {
	for i := range m.data {
		if m.data[i].key == key {
			m.data[i].value = v
			return
		}
	}
	m.data = append(m.data, dataEntry{key, v})
}

func checkManifestType(k kv, v json.RawMessage) error {
	ok := true
	switch k.v.(type) {
	case string:
		ok = v[0] == '"'
	case nil:
		ok = v[0] == '"' || isNull(v)
	case bool:
		ok = string(v) == "true" || string(v) == "false"
	case []string:
		var l []string
		ok = json.Unmarshal(v, &l) == nil
	}
	if !ok {
		return fmt.Errorf("dsftest: plugin.json: %s has the wrong type: %s", k.k, v)
	}
	return nil
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for _, r := range id {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// httpEndpointTypes is DuetAPI's HttpEndpointType; the socket file name uses
// these exact spellings.
var httpEndpointTypes = enumType{
	dotnet:  "DuetAPI.ObjectModel.HttpEndpointType",
	names:   []string{"GET", "POST", "PUT", "PATCH", "TRACE", "DELETE", "OPTIONS", "WebSocket"},
	strings: true,
}

// loggedLevel is DCS's logLevel default for WriteMessage
// (src/DuetControlServer/Commands/Generic/WriteMessage.cs).
func loggedLevel(msgType int) (string, bool) {
	switch msgType {
	case 0:
		return "info", true
	case 1, 2:
		return "warn", true
	}
	return "", false
}

var logLevels = enumType{dotnet: "DuetAPI.ObjectModel.LogLevel", names: []string{"debug", "info", "warn", "off"}, strings: true, nullable: true}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }
