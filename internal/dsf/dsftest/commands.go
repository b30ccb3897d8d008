package dsftest

import (
	"encoding/json"
	"strings"
	"time"
)

// cmdSpec is one DSF command class: the mode whose processor accepts it, its
// [RequiredPermissions] (any one flag is enough) and, for the commands the
// twin emulates, what it does.
type cmdSpec struct {
	name  string
	mode  int
	perms perm
	exec  func(c *ipcConn, o *object) (result []byte, err *dnError)
}

// commandTable lists every command a DCS processor knows, so that unknown
// names, wrong-mode names and names the twin does not emulate are told apart
// as DCS tells them apart.
var commandTable []cmdSpec

func init() {
	add := func(mode int, perms perm, exec func(*ipcConn, *object) ([]byte, *dnError), names ...string) {
		for _, n := range names {
			commandTable = append(commandTable, cmdSpec{n, mode, perms, exec})
		}
	}
	add(modeCommand, pCommandExecution, nil, "Code", "SimpleCode", "EvaluateExpression", "Flush")
	add(modeCommand, pCommandExecution|pFileSystemAccess|pReadGCodes, nil, "GetFileInfo")
	add(modeCommand, pCommandExecution|pFileSystemAccess, execResolvePath, "ResolvePath")
	add(modeCommand, pCommandExecution|pObjectModelReadWrite, execWriteMessage, "WriteMessage")
	add(modeCommand, pRegisterHTTPEndpoints, execAddHTTPEndpoint, "AddHttpEndpoint")
	add(modeCommand, pRegisterHTTPEndpoints, execRemoveHTTPEndpoint, "RemoveHttpEndpoint")
	add(modeCommand, pObjectModelRead|pObjectModelReadWrite, nil, "CheckPassword", "GetObjectModel")
	add(modeCommand, pObjectModelReadWrite, nil, "LockObjectModel", "PatchObjectModel", "SetObjectModel",
		"SetUpdateStatus", "UnlockObjectModel")
	add(modeCommand, pCommandExecution|pObjectModelRead|pObjectModelReadWrite, execSync, "SyncObjectModel")
	add(modeCommand, pManagePlugins, nil, "InstallPlugin", "ReloadPlugin", "StartPlugin", "StartPlugins",
		"StopPlugin", "StopPlugins", "UninstallPlugin")
	add(modeCommand, pSuperUser, nil, "SetNetworkProtocol", "InstallSystemPackage", "UninstallSystemPackage")
	add(modeCommand, pObjectModelReadWrite, execSetPluginData, "SetPluginData")
	add(modeCommand, pServicePlugins, execSetPluginProcess, "SetPluginProcess")
	add(modeCommand, pManageUserSessions, nil, "AddUserSession", "RemoveUserSession")
	add(modeIntercept, pCodeInterceptionRW, nil, "Cancel", "Resolve", "Rewrite")
	add(modeIntercept, pCodeInterceptionRead|pCodeInterceptionRW, nil, "Ignore")
	add(modeSubscribe, pObjectModelRead|pObjectModelReadWrite, nil, "Acknowledge")
}

// lookupCommand is Base.GetCommandType: a case-insensitive class name match.
func lookupCommand(name string) *cmdSpec {
	for i := range commandTable {
		if strings.EqualFold(commandTable[i].name, name) {
			return &commandTable[i]
		}
	}
	return nil
}

// receiveCommand parses one command the way the profile's
// Connection.ReceiveCommand does; cmd is the "command" value as sent.
func (c *ipcConn) receiveCommand(raw []byte) (spec *cmdSpec, cmd string, o *object, err *dnError) {
	if c.t.opt.Profile == Profile35 {
		// JsonDocument.Parse first, then the first property whose name
		// matches "command" in any case.
		if e := syntaxCheck(raw, false); e != nil {
			return nil, "", nil, e
		}
		obj, perr := parseObject(raw, true)
		if perr != nil {
			return nil, "", nil, readerError(raw, perr, false)
		}
		for _, m := range obj.members {
			if !strings.EqualFold(m.name, "command") {
				continue
			}
			if m.value[0] != '"' {
				return nil, "", nil, argumentError("Command type must be a string")
			}
			json.Unmarshal(m.value, &cmd)
			if spec = lookupCommand(cmd); spec == nil {
				return nil, "", nil, argumentError("Unsupported command " + cmd)
			}
			return spec, cmd, obj, nil
		}
		return nil, "", nil, argumentError("Command type not found")
	}
	val, isString, found, e := scan36(raw, "command")
	switch {
	case e != nil:
		return nil, "", nil, e
	case !found:
		return nil, "", nil, argumentError("command type not found")
	case !isString:
		return nil, "", nil, argumentError("command must be a string")
	}
	json.Unmarshal(val, &cmd)
	if spec = lookupCommand(cmd); spec == nil {
		return nil, "", nil, argumentError("unsupported command " + cmd)
	}
	// Only now is the whole message deserialised, by JsonSerializer, which
	// reports syntax errors as JsonException.
	if e := syntaxCheck(raw, true); e != nil {
		return nil, "", nil, e
	}
	obj, perr := parseObject(raw, false)
	if perr != nil {
		return nil, "", nil, readerError(raw, perr, true)
	}
	if m, ok := obj.get("command"); ok {
		json.Unmarshal(m.value, &cmd)
	}
	return spec, cmd, obj, nil
}

// commandLoop is the Command processor: read, execute, reply, strictly in
// order. Errors are replied and the connection stays open.
func (c *ipcConn) commandLoop() {
	t := c.t
	for {
		raw, err := readObject(c.br)
		if err != nil {
			return
		}
		t.mu.Lock()
		t.commands = append(t.commands, append(json.RawMessage(nil), raw...))
		hook := t.replyHook
		t.mu.Unlock()
		reply := c.execute(raw)
		if hook != nil {
			var named struct{ Command string }
			json.Unmarshal(raw, &named)
			if reply = hook(named.Command, reply); reply == nil {
				return
			}
		}
		if !c.write(reply) {
			return
		}
	}
}

func (c *ipcConn) execute(raw []byte) []byte {
	t := c.t
	spec, cmd, o, err := c.receiveCommand(raw)
	if err != nil {
		return t.errorReply(err)
	}
	if spec.mode != modeCommand {
		return t.errorReply(argumentError("Invalid command " + cmd + " (wrong mode?)"))
	}
	if !c.allowed(spec.perms) {
		return t.errorReply(errInsufficient)
	}
	if spec.exec == nil {
		// Not part of DSF: the twin only implements what usbStream needs.
		return t.errorReply(newErr("NotImplementedException", "dsftest does not emulate "+spec.name))
	}
	result, err := spec.exec(c, o)
	if err != nil {
		return t.errorReply(err)
	}
	return t.successReply(result)
}

func asDN(err error) *dnError {
	if err == nil {
		return nil
	}
	return err.(*dnError)
}

var messageTypes = enumType{dotnet: "DuetAPI.ObjectModel.Messages.MessageType", names: []string{"Success", "Warning", "Error"}}

func execWriteMessage(c *ipcConn, o *object) ([]byte, *dnError) {
	typ, _, err := o.enum("type", messageTypes, 0)
	if err != nil {
		return nil, asDN(err)
	}
	content, err := o.str("content", "")
	if err != nil {
		return nil, asDN(err)
	}
	output, err := o.boolean("outputMessage", true)
	if err != nil {
		return nil, asDN(err)
	}
	logMessage, err := o.boolean("logMessage", false)
	if err != nil {
		return nil, asDN(err)
	}
	lvl, set, err := o.enum("logLevel", logLevels, 0)
	if err != nil {
		return nil, asDN(err)
	}
	level := logLevels.name(lvl)
	if !set {
		var ok bool
		if level, ok = loggedLevel(typ); !ok {
			return nil, errNotImpl
		}
	}
	if logMessage {
		level = "warn"
	}
	if content == nil || isBlank(*content) {
		return nil, nil
	}
	t := c.t
	t.mu.Lock()
	defer t.mu.Unlock()
	t.messages = append(t.messages, Message{Type: typ, Content: *content, OutputMessage: output, LogLevel: level, Time: time.Now()})
	return nil, nil
}

func execSync(*ipcConn, *object) ([]byte, *dnError) { return nil, nil }

func execSetPluginData(c *ipcConn, o *object) ([]byte, *dnError) {
	plugin, err := o.str("plugin", "")
	if err != nil {
		return nil, asDN(err)
	}
	key, err := o.str("key", "")
	if err != nil {
		return nil, asDN(err)
	}
	value, hasValue := o.get("value")
	if plugin == nil || *plugin == "" {
		if c.pluginID == nil {
			return nil, newErr("UnauthorizedAccessException", "Failed to determine plugin ID")
		}
		plugin = c.pluginID
	}
	// This owner check is explicit in SetPluginData, so real DCS makes it
	// too (see allowed).
	if (c.pluginID == nil || *c.pluginID != *plugin) && c.perms&pManagePlugins == 0 {
		return nil, errInsufficient
	}
	t := c.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if *plugin != t.man.id {
		return nil, argumentError("Plugin " + *plugin + " not found")
	}
	if key == nil {
		return nil, argumentNull("key")
	}
	for i := range t.data {
		if t.data[i].key != *key {
			continue
		}
		if !hasValue {
			// JsonElement.Clone() of a property that never arrived.
			return nil, errInvalidState
		}
		t.data[i].value = append(json.RawMessage(nil), value.value...)
		return nil, nil
	}
	return nil, argumentError("Key " + *key + " not found in the plugin data")
}

func execSetPluginProcess(c *ipcConn, o *object) ([]byte, *dnError) {
	plugin, err := o.str("plugin", "")
	if err != nil {
		return nil, asDN(err)
	}
	pid, err := o.integer("pid", 0)
	if err != nil {
		return nil, asDN(err)
	}
	t := c.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if plugin == nil {
		return nil, argumentNull("key")
	}
	if *plugin != t.man.id {
		return nil, argumentError("Plugin " + *plugin + " not found")
	}
	t.pid = pid
	return nil, nil
}
