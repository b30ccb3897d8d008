package dsftest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// perm is DSF's SbcPermissions flag set (§5.2).
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

func (p perm) names() []string {
	out := []string{}
	for i, n := range permNames {
		if p&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// dataEntry keeps plugin data in declaration order, values verbatim.
type dataEntry struct {
	key   string
	value json.RawMessage
}

// manifest is the installed plugin.json. Only the keys DSF knows are read,
// matched exactly as DSF does (camelCase, case-sensitive); the rest is
// ignored like DSF ignores it.
type manifest struct {
	fields []kv // every known manifest key with its value or DSF's default, in PluginManifest order
	id     string
	perms  perm
	data   []dataEntry
	files  map[string]json.RawMessage // dsfFiles, dwcFiles, sdFiles from an installed manifest
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
	m := &manifest{files: map[string]json.RawMessage{}}
	for _, k := range manifestKeys {
		v, ok := o.get(k.k)
		if !ok {
			m.fields = append(m.fields, k)
			continue
		}
		if err := checkManifestType(k, v.value); err != nil {
			return nil, err
		}
		m.fields = append(m.fields, kv{k.k, compact(v.value)})
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
	for _, k := range []string{"dsfFiles", "dwcFiles", "sdFiles"} {
		m.files[k] = json.RawMessage(`[]`)
		if v, ok := o.get(k); ok && !isNull(v.value) {
			m.files[k] = compact(v.value)
		}
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

func compact(v json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return v
	}
	return b.Bytes()
}

// httpEndpointTypes is DuetAPI's HttpEndpointType; the socket file name uses
// these exact spellings.
var httpEndpointTypes = enumType{
	dotnet:  "DuetAPI.ObjectModel.HttpEndpointType",
	names:   []string{"GET", "POST", "PUT", "PATCH", "TRACE", "DELETE", "OPTIONS", "WebSocket"},
	strings: true,
}

// endpointJSON is one sbc.dsf.httpEndpoints item as DSF serialises it.
func endpointJSON(e Endpoint) ordered {
	return ordered{{"endpointType", e.EndpointType}, {"namespace", e.Namespace}, {"path", e.Path},
		{"isUploadRequest", e.IsUploadRequest}, {"unixSocket", e.UnixSocket}}
}

// messageJSON is one OM messages item; DSF writes the time with its short
// converter (local time, seconds precision, no zone).
func messageJSON(m Message) ordered {
	return ordered{{"content", m.Content}, {"time", m.Time.Format("2006-01-02T15:04:05")}, {"type", m.Type}}
}

// pluginJSON is plugins.<id>: the manifest fields, the data, the installer's
// file lists and the pid.
func (t *Twin) pluginJSON() ordered {
	var p ordered
	for _, f := range t.man.fields {
		if f.k == "sbcPermissions" {
			p = append(p, kv{f.k, t.man.perms.names()})
			continue
		}
		p = append(p, f)
	}
	data := ordered{}
	for _, d := range t.data {
		data = append(data, kv{d.key, compact(d.value)})
	}
	p = append(p, kv{"data", data})
	for _, k := range []string{"dsfFiles", "dwcFiles", "sdFiles"} {
		p = append(p, kv{k, t.man.files[k]})
	}
	return append(p, kv{"pid", t.pid})
}

func (t *Twin) dsfVersion() string {
	if t.opt.Profile == Profile35 {
		return "3.5.4"
	}
	return "3.6.0-beta.1"
}

// objectModel renders the whole OM the way GetObjectModel and a full
// subscription return it. Parts usbStream does not use are present with
// realistic idle values so that clients which parse the whole model see the
// shape they will see on a real machine. Callers hold t.mu.
func (t *Twin) objectModel() ordered {
	eps := make([]ordered, 0, len(t.endpoints))
	for _, e := range t.endpoints {
		eps = append(eps, endpointJSON(e))
	}
	msgs := make([]ordered, 0, len(t.omMessages))
	for _, m := range t.omMessages {
		msgs = append(msgs, messageJSON(m))
	}
	empty := []any{}
	return ordered{
		{"boards", empty},
		{"directories", ordered{{"filaments", "0:/filaments/"}, {"firmware", "0:/firmware/"}, {"gCodes", "0:/gcodes/"},
			{"macros", "0:/macros/"}, {"menu", "0:/menu/"}, {"system", "0:/sys/"}, {"web", "0:/www/"}}},
		{"fans", empty},
		{"global", ordered{}},
		{"heat", ordered{{"bedHeaters", empty}, {"chamberHeaters", empty}, {"coldExtrudeTemperature", 160},
			{"coldRetractTemperature", 90}, {"heaters", empty}}},
		{"inputs", empty},
		{"job", ordered{{"build", nil}, {"duration", nil}, {"file", ordered{{"fileName", nil}}}, {"filePosition", nil},
			{"lastFileName", nil}, {"layer", nil}, {"timesLeft", ordered{{"filament", nil}, {"file", nil}, {"slicer", nil}}}}},
		{"ledStrips", empty},
		{"limits", ordered{}},
		{"messages", msgs},
		{"move", ordered{{"axes", empty}, {"extruders", empty}, {"kinematics", ordered{{"name", "cartesian"}}}}},
		{"network", ordered{{"corsSite", nil}, {"hostname", "duet3"}, {"interfaces", empty}, {"name", "Duet 3"}}},
		{"plugins", ordered{{t.man.id, t.pluginJSON()}}},
		{"sbc", ordered{
			{"appArmor", true},
			{"cpu", ordered{{"avgLoad", 0.05}, {"cores", 4}, {"hardware", "BCM2835"}, {"temperature", 45.0}}},
			{"distribution", "Debian GNU/Linux 12 (bookworm)"},
			{"distributionBuildTime", nil},
			{"dsf", ordered{{"buildDateTime", "2024-10-24T13:43:04"}, {"httpEndpoints", eps}, {"is64Bit", true},
				{"pluginSupport", true}, {"rootPluginSupport", false}, {"userSessions", empty}, {"version", t.dsfVersion()}}},
			{"memory", ordered{{"available", int64(3500000000)}, {"total", int64(4000000000)}}},
			{"model", "Raspberry Pi 4 Model B Rev 1.4"},
			{"serial", "10000000abcdef01"},
			{"uptime", 1234.5},
		}},
		{"sensors", ordered{{"analog", empty}, {"endstops", empty}, {"filamentMonitors", empty}, {"gpIn", empty}, {"probes", empty}}},
		{"spindles", empty},
		{"state", ordered{{"atxPower", nil}, {"atxPowerPort", nil}, {"beep", nil}, {"currentTool", -1},
			{"deferredPowerDown", nil}, {"displayMessage", ""}, {"gpOut", empty}, {"laserPwm", nil}, {"logFile", nil},
			{"logLevel", "off"}, {"machineMode", "FFF"}, {"macroRestarted", false}, {"msUpTime", 0}, {"nextTool", -1},
			{"pluginsStarted", true}, {"powerFailScript", ""}, {"previousTool", -1}, {"restorePoints", empty},
			{"startupError", nil}, {"status", "idle"}, {"thisInput", nil}, {"time", nil}, {"upTime", 0}}},
		{"tools", empty},
		{"volumes", []ordered{{{"capacity", nil}, {"freeSpace", nil}, {"mounted", true}, {"name", nil},
			{"openFiles", nil}, {"partitionSize", nil}, {"path", "0:/"}, {"speed", nil}}}},
	}
}

// loggedLevel is DCS's logLevel default for WriteMessage (§6.4).
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
