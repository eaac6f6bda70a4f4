// Schemas: what a producer tells the broker its values are.
//
// How this works: the producer option "schema" (ProducerOptions.Schema) is
// read from JSON or text by the option parser and checked once, when the
// producer's options are resolved: its type, that typed schemas carry the
// definition they need (a valid Avro schema for AVRO and JSON), and that a
// KEY_VALUE schema has both halves. The schema goes in every PRODUCER
// command (a BYTES schema, the default, sends none, as the Java client
// does); the schema version the broker answers with is stamped on every
// message the partition sends afterwards. Values are encoded by the schema
// in schemavalue.go.
package engine

import (
	"encoding/binary"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// SchemaType is the type of a schema. The values are the protocol's; the
// zero value, BYTES, means "no schema".
type SchemaType int32

const (
	SchemaBytes          SchemaType = 0
	SchemaString         SchemaType = 1
	SchemaJSON           SchemaType = 2
	SchemaProtobuf       SchemaType = 3
	SchemaAvro           SchemaType = 4
	SchemaBoolean        SchemaType = 5
	SchemaInt8           SchemaType = 6
	SchemaInt16          SchemaType = 7
	SchemaInt32          SchemaType = 8
	SchemaInt64          SchemaType = 9
	SchemaFloat          SchemaType = 10
	SchemaDouble         SchemaType = 11
	SchemaDate           SchemaType = 12
	SchemaTime           SchemaType = 13
	SchemaTimestamp      SchemaType = 14
	SchemaKeyValue       SchemaType = 15
	SchemaInstant        SchemaType = 16
	SchemaLocalDate      SchemaType = 17
	SchemaLocalTime      SchemaType = 18
	SchemaLocalDateTime  SchemaType = 19
	SchemaProtobufNative SchemaType = 20
)

// schemaTypeNames are the types' names, as the Java client and the admin
// API spell them, indexed by SchemaType.
var schemaTypeNames = []string{
	"BYTES", "STRING", "JSON", "PROTOBUF", "AVRO", "BOOLEAN", "INT8", "INT16", "INT32", "INT64",
	"FLOAT", "DOUBLE", "DATE", "TIME", "TIMESTAMP", "KEY_VALUE", "INSTANT", "LOCAL_DATE",
	"LOCAL_TIME", "LOCAL_DATE_TIME", "PROTOBUF_NATIVE",
}

func (t SchemaType) String() string { return enumName(schemaTypeNames, int(t)) }

// ParseSchemaType reads a type name, in any case ("string", "KEY_VALUE").
func ParseSchemaType(name string) (SchemaType, bool) {
	i := slices.IndexFunc(schemaTypeNames, func(n string) bool { return strings.EqualFold(n, name) })
	return SchemaType(i), i >= 0
}

// KeyValueEncoding says where a KEY_VALUE message's key goes.
type KeyValueEncoding int32

const (
	// KeyValueInline puts both halves in the payload.
	KeyValueInline KeyValueEncoding = 0
	// KeyValueSeparated puts the encoded key in the message key (base64),
	// so that routing, compaction and Key_Shared use it.
	KeyValueSeparated KeyValueEncoding = 1
)

var keyValueEncodingNames = []string{"INLINE", "SEPARATED"}

func (k KeyValueEncoding) String() string { return enumName(keyValueEncodingNames, int(k)) }

// Schema describes the values a producer publishes.
type Schema struct {
	// Type is the schema's type; BYTES (the zero value) is no schema.
	Type SchemaType
	// Name is the schema's name in the registry. Defaults to the type's
	// name.
	Name string
	// Definition is the schema text: a JSON Avro schema for AVRO and
	// JSON (required), the definition the Java client would register for
	// PROTOBUF and PROTOBUF_NATIVE (required, JSON). Other types have none.
	Definition string
	// Properties are string properties registered with the schema.
	Properties map[string]string
	// Key and Value are the halves of a KEY_VALUE schema (required), each
	// a schema of any type but KEY_VALUE.
	Key, Value *Schema
	// KeyValueEncoding is where a KEY_VALUE message's key goes.
	KeyValueEncoding KeyValueEncoding
}

// schemaKeys are the members of a schema object.
var schemaKeys = []string{"type", "name", "definition", "properties", "key", "value", "keyValueEncoding"}

// parseSchema reads a schema option: a type name alone ("STRING"), or an
// object of schemaKeys.
func parseSchema(v jsonValue, where string) (*Schema, error) {
	if v.kind == jsonString {
		t, ok := ParseSchemaType(v.s)
		if !ok {
			return nil, invalidConfig("%s: unknown schema type %q (one of %s)", where, v.s, strings.Join(schemaTypeNames, ", "))
		}
		return &Schema{Type: t}, nil
	}
	if v.kind != jsonObject {
		return nil, invalidConfig("%s must be a schema type name or an object, got %s", where, describeJSON(v, false))
	}
	s := &Schema{}
	hasType := false
	for i, m := range v.obj {
		if slices.ContainsFunc(v.obj[:i], func(o jsonMember) bool { return o.key == m.key }) {
			return nil, invalidConfig("%s: %q is given twice", where, m.key)
		}
		str := func() (string, error) {
			if m.val.kind != jsonString {
				return "", invalidConfig("%s: %q must be a string, got %s", where, m.key, describeJSON(m.val, false))
			}
			return m.val.s, nil
		}
		var err error
		switch m.key {
		case "type":
			var name string
			if name, err = str(); err == nil {
				t, ok := ParseSchemaType(name)
				if !ok {
					return nil, invalidConfig("%s: unknown schema type %q (one of %s)", where, name, strings.Join(schemaTypeNames, ", "))
				}
				s.Type, hasType = t, true
			}
		case "name":
			s.Name, err = str()
		case "definition":
			s.Definition, err = str()
		case "properties":
			spec := OptionSpec{Name: where + ".properties", Type: OptStringMap}
			err = spec.setJSON(&s.Properties, m.val, false)
		case "key":
			s.Key, err = parseSchema(m.val, where+".key")
		case "value":
			s.Value, err = parseSchema(m.val, where+".value")
		case "keyValueEncoding":
			var name string
			if name, err = str(); err == nil {
				i := slices.IndexFunc(keyValueEncodingNames, func(n string) bool { return strings.EqualFold(n, name) })
				if i < 0 {
					return nil, invalidConfig("%s: keyValueEncoding must be INLINE or SEPARATED, got %q", where, name)
				}
				s.KeyValueEncoding = KeyValueEncoding(i)
			}
		default:
			hint := ""
			if i := slices.IndexFunc(schemaKeys, func(k string) bool {
				return strings.EqualFold(k, strings.ReplaceAll(m.key, "_", ""))
			}); i >= 0 {
				hint = " (did you mean \"" + schemaKeys[i] + "\"?)"
			}
			return nil, invalidConfig("%s: unknown member %q%s; a schema has %s", where, m.key, hint, strings.Join(schemaKeys, ", "))
		}
		if err != nil {
			return nil, err
		}
	}
	if !hasType {
		return nil, invalidConfig("%s needs a \"type\"", where)
	}
	return s, nil
}

// checkSchema checks s where it is named by where ("schema", "schema.key").
func checkSchema(s *Schema, where string) error {
	if s.Type < 0 || int(s.Type) >= len(schemaTypeNames) {
		return invalidConfig("%s: unknown schema type %d", where, s.Type)
	}
	for k, v := range s.Properties {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return invalidConfig("%s: property %q is not valid UTF-8", where, k)
		}
	}
	if !utf8.ValidString(s.Name) {
		return invalidConfig("%s: the name is not valid UTF-8", where)
	}
	switch s.Type {
	case SchemaAvro, SchemaJSON:
		if s.Definition == "" {
			return invalidConfig("%s: a %v schema needs a definition (a JSON Avro schema)", where, s.Type)
		}
		v, jerr := parseJSON([]byte(s.Definition))
		if jerr != "" {
			return invalidConfig("%s: the definition is not valid JSON: %s", where, jerr)
		}
		if err := checkAvroSchema(v); err != nil {
			return invalidConfig("%s: the definition is not a valid Avro schema: %v", where, err)
		}
	case SchemaProtobuf, SchemaProtobufNative:
		if s.Definition == "" {
			return invalidConfig("%s: a %v schema needs a definition", where, s.Type)
		}
		if _, jerr := parseJSON([]byte(s.Definition)); jerr != "" {
			return invalidConfig("%s: the definition is not valid JSON: %s", where, jerr)
		}
	default:
		if s.Definition != "" {
			return invalidConfig("%s: a %v schema has no definition", where, s.Type)
		}
	}
	if s.Type == SchemaKeyValue {
		if s.Key == nil || s.Value == nil {
			return invalidConfig("%s: a KEY_VALUE schema needs both a key and a value schema", where)
		}
		for _, half := range []struct {
			s    *Schema
			name string
		}{{s.Key, where + ".key"}, {s.Value, where + ".value"}} {
			if half.s.Type == SchemaKeyValue {
				return invalidConfig("%s: a KEY_VALUE half cannot be KEY_VALUE", half.name)
			}
			if err := checkSchema(half.s, half.name); err != nil {
				return err
			}
		}
	} else if s.Key != nil || s.Value != nil {
		return invalidConfig("%s: only a KEY_VALUE schema has key and value schemas", where)
	}
	if s.KeyValueEncoding != KeyValueInline && s.Type != SchemaKeyValue {
		return invalidConfig("%s: only a KEY_VALUE schema has a keyValueEncoding", where)
	}
	if s.KeyValueEncoding < 0 || int(s.KeyValueEncoding) >= len(keyValueEncodingNames) {
		return invalidConfig("%s: unknown keyValueEncoding %d", where, s.KeyValueEncoding)
	}
	return nil
}

// schemaName is the name registered: the given one, else the type's.
func (s *Schema) schemaName() string {
	if s.Name != "" {
		return s.Name
	}
	if s.Type == SchemaKeyValue {
		return "KeyValue"
	}
	return s.Type.String()
}

// wireData is the schema_data of s: the definition, or for KEY_VALUE both
// halves' data, each after its 4-byte big-endian length.
func (s *Schema) wireData() []byte {
	if s.Type != SchemaKeyValue {
		return []byte(s.Definition)
	}
	k, v := s.Key.wireData(), s.Value.wireData()
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 8+len(k)+len(v)), uint32(len(k)))
	b = append(b, k...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// wireProperties are the schema's properties; a KEY_VALUE schema adds
// its halves' names, types and properties and its encoding, under the
// names the Java client registers.
func (s *Schema) wireProperties() map[string]string {
	if s.Type != SchemaKeyValue {
		return s.Properties
	}
	m := make(map[string]string, len(s.Properties)+7)
	for k, v := range s.Properties {
		m[k] = v
	}
	for _, half := range []struct {
		s      *Schema
		prefix string
	}{{s.Key, "key.schema."}, {s.Value, "value.schema."}} {
		m[half.prefix+"name"] = half.s.schemaName()
		m[half.prefix+"type"] = half.s.Type.String()
		m[half.prefix+"properties"] = string(appendStringMap(nil, half.s.Properties))
	}
	m["kv.encoding.type"] = s.KeyValueEncoding.String()
	return m
}

// appendSchema appends the Schema message of s as field num.
func appendSchema(b []byte, num protowire.Number, s *Schema) []byte {
	data := s.wireData()
	m := appendStringField(make([]byte, 0, 32+len(data)), 1, s.schemaName())
	m = appendBytesField(m, 3, data)
	m = appendVarintField(m, 4, uint64(s.Type))
	m = appendProperties(m, 5, s.wireProperties())
	b = appendBytesTag(b, num, len(m))
	return append(b, m...)
}

// appendSchemaJSON writes s as the option parser reads it.
func appendSchemaJSON(b []byte, s *Schema) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, s.Type.String())
	if s.Name != "" {
		b = appendJSONString(append(b, `,"name":`...), s.Name)
	}
	if s.Definition != "" {
		b = appendJSONString(append(b, `,"definition":`...), s.Definition)
	}
	if len(s.Properties) > 0 {
		b = appendStringMap(append(b, `,"properties":`...), s.Properties)
	}
	if s.Key != nil {
		b = appendSchemaJSON(append(b, `,"key":`...), s.Key)
	}
	if s.Value != nil {
		b = appendSchemaJSON(append(b, `,"value":`...), s.Value)
	}
	if s.KeyValueEncoding != KeyValueInline {
		b = appendJSONString(append(b, `,"keyValueEncoding":`...), s.KeyValueEncoding.String())
	}
	return append(b, '}')
}
