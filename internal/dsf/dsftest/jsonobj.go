package dsftest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// dnError is a .NET exception as DSF puts it on the wire: the short class
// name (errorType) and the message (errorMessage).
type dnError struct {
	Type    string
	Message string
}

func (e *dnError) Error() string { return e.Type + ": " + e.Message }

func newErr(typ, msg string) *dnError { return &dnError{Type: typ, Message: msg} }

func argumentError(msg string) *dnError { return newErr("ArgumentException", msg) }

// .NET's default messages for the exceptions DSF lets escape unchanged.
var (
	errNullReference = newErr("NullReferenceException", "Object reference not set to an instance of an object.")
	errInvalidState  = newErr("InvalidOperationException", "Operation is not valid due to the current state of the object.")
	errNotImpl       = newErr("NotImplementedException", "The method or operation is not implemented.")
	errInsufficient  = newErr("UnauthorizedAccessException", "Insufficient permissions")
)

func argumentNull(param string) *dnError {
	return newErr("ArgumentNullException", "Value cannot be null. (Parameter '"+param+"')")
}

// position renders an offset the way System.Text.Json reports it.
func position(raw []byte, off int) string {
	if off > len(raw) {
		off = len(raw)
	}
	line := bytes.Count(raw[:off], []byte{'\n'})
	col := off - (bytes.LastIndexByte(raw[:off], '\n') + 1)
	return fmt.Sprintf("LineNumber: %d | BytePositionInLine: %d.", line, col)
}

// readerError is what a Utf8JsonReader syntax error looks like to a DSF
// client. The type is System.Text.Json's internal JsonReaderException, which
// is what GetType().Name yields for syntax errors that do not pass through
// JsonSerializer; the serializer wraps the same error as a JsonException.
func readerError(raw []byte, err error, wrapped bool) *dnError {
	off := len(raw)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = int(se.Offset)
	}
	msg := err.Error()
	if msg != "" {
		r, n := utf8.DecodeRuneInString(msg)
		msg = string(unicode.ToUpper(r)) + msg[n:]
	}
	msg = strings.TrimSuffix(msg, ".") + ". " + position(raw, off)
	if wrapped {
		return newErr("JsonException", msg)
	}
	return newErr("JsonReaderException", msg)
}

// syntaxCheck validates a whole message; the error says whether the
// serializer (wrapped) or a bare reader (unwrapped) saw the problem.
func syntaxCheck(raw []byte, wrapped bool) *dnError {
	if json.Valid(raw) {
		return nil
	}
	var v any
	err := json.Unmarshal(raw, &v)
	if err == nil {
		err = errors.New("invalid JSON")
	}
	return readerError(raw, err, wrapped)
}

type member struct {
	name  string
	value json.RawMessage
	off   int // offset of the value in the message, for error positions
}

// object is a parsed JSON object whose property lookup follows one DSF
// profile: case-sensitive (3.6's source-generated contexts) or
// case-insensitive (3.5's PropertyNameCaseInsensitive).
type object struct {
	raw     []byte
	members []member
	fold    bool
}

// parseObject expects syntactically valid JSON (see syntaxCheck).
func parseObject(raw []byte, fold bool) (*object, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not an object")
	}
	o := &object{raw: raw, fold: fold}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		off := int(dec.InputOffset())
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		// InputOffset points at the ':' that precedes the value.
		o.members = append(o.members, member{name: name, value: v, off: off + 1})
	}
	return o, nil
}

func (o *object) match(a, b string) bool {
	if o.fold {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// get returns the last property with the name: System.Text.Json lets a
// repeated property overwrite the earlier one.
func (o *object) get(name string) (member, bool) {
	for i := len(o.members) - 1; i >= 0; i-- {
		if o.match(o.members[i].name, name) {
			return o.members[i], true
		}
	}
	return member{}, false
}

func (o *object) convErr(m member, typ string) *dnError {
	return newErr("JsonException", fmt.Sprintf("The JSON value could not be converted to %s. Path: $.%s | %s",
		typ, m.name, position(o.raw, m.off+len(m.value))))
}

func isNull(v json.RawMessage) bool { return string(v) == "null" }

// str reads a string property; nil means JSON null (a .NET string can hold
// null, and DSF then fails later with the exception .NET would throw).
func (o *object) str(name, def string) (*string, error) {
	m, ok := o.get(name)
	if !ok {
		return &def, nil
	}
	if isNull(m.value) {
		return nil, nil
	}
	var s string
	if m.value[0] != '"' || json.Unmarshal(m.value, &s) != nil {
		return nil, o.convErr(m, "System.String")
	}
	return &s, nil
}

// int32Of accepts what Utf8JsonReader.TryGetInt32 accepts: an integer
// literal without fraction or exponent that fits in 32 bits.
func int32Of(v json.RawMessage) (int, bool) {
	if len(v) == 0 || bytes.ContainsAny(v, ".eE") || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 32)
	return int(n), err == nil
}

func (o *object) integer(name string, def int) (int, error) {
	m, ok := o.get(name)
	if !ok {
		return def, nil
	}
	n, ok := int32Of(m.value)
	if !ok {
		return 0, o.convErr(m, "System.Int32")
	}
	return n, nil
}

func (o *object) boolean(name string, def bool) (bool, error) {
	m, ok := o.get(name)
	if !ok {
		return def, nil
	}
	switch string(m.value) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, o.convErr(m, "System.Boolean")
}

// enumType describes how one DSF enum is read from JSON.
type enumType struct {
	dotnet   string   // type name used in error messages
	names    []string // member names by value
	strings  bool     // a string converter is attached (names read case-insensitively)
	nullable bool     // declared as Nullable<T>
}

func (e enumType) name(v int) string {
	if v >= 0 && v < len(e.names) {
		return e.names[v]
	}
	// Enum.ToString() of an undefined value is its number.
	return strconv.Itoa(v)
}

// parse reads an enum value. Numbers are accepted by every converter DSF
// uses (System.Text.Json does not check that the value is defined); strings
// need a string converter and match member names case-insensitively, or
// hold a number.
func (e enumType) parse(v json.RawMessage) (int, bool) {
	if n, ok := int32Of(v); ok {
		return n, true
	}
	if !e.strings || len(v) == 0 || v[0] != '"' {
		return 0, false
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return 0, false
	}
	s = strings.TrimSpace(s)
	for i, n := range e.names {
		if strings.EqualFold(n, s) {
			return i, true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		return int(n), true
	}
	return 0, false
}

// enum reads an enum property; set is false when the property is absent or
// null (null only being allowed for nullable enums).
func (o *object) enum(name string, e enumType, def int) (val int, set bool, err error) {
	m, ok := o.get(name)
	if !ok {
		return def, false, nil
	}
	if isNull(m.value) && e.nullable {
		return def, false, nil
	}
	v, ok := e.parse(m.value)
	if !ok {
		return 0, false, o.convErr(m, e.dotnet)
	}
	return v, true, nil
}

// marshal writes JSON the way DSF's options do: no HTML escaping
// (UnsafeRelaxedJsonEscaping), no trailing newline.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only values built by this package are marshalled
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}

// ordered is a JSON object with a fixed key order, so that replies and the
// object model come out in the order DSF writes them.
type ordered []kv

type kv struct {
	k string
	v any
}

func (o ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(marshal(e.k))
		b.WriteByte(':')
		b.Write(marshal(e.v))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
