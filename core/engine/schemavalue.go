// Encoding values by the producer's schema, in the byte formats of the
// Java client's schemas, so that any client's consumer decodes them.
//
// How this works: Message.Value, when set instead of Payload, is encoded
// by Send with the producer's schema: a Go value of the schema's type, or
// a ValueJSON (JSON text, the form of the C ABI, the WASI module and the
// bindings). The formats: STRING is UTF-8; BOOLEAN one byte; INT8 to INT64
// big-endian two's complement; FLOAT and DOUBLE big-endian IEEE 754; DATE,
// TIME and TIMESTAMP milliseconds since the epoch as INT64; INSTANT the
// epoch second (8 bytes) and nanosecond (4 bytes); LOCAL_DATE the epoch day,
// LOCAL_TIME the nanosecond of the day, LOCAL_DATE_TIME both (8 bytes each);
// JSON the JSON text. A KEY_VALUE value is a KeyValue (or the JSON object
// {"key": …, "value": …}), each half encoded by its schema: INLINE puts
// both in the payload, each after its 4-byte big-endian length; SEPARATED
// puts the key, base64, in the message key. AVRO, PROTOBUF and BYTES
// values are bytes the caller encoded (base64 text in JSON).
package engine

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// ValueJSON is a Message.Value given as JSON text, encoded by the
// producer's schema: a JSON string for STRING, the time types (RFC 3339,
// or "2006-01-02" for LOCAL_DATE and "15:04:05.999999999" for LOCAL_TIME)
// and base64 bytes; a number for the numeric types (DATE, TIME and
// TIMESTAMP also take milliseconds); true or false for BOOLEAN; any JSON for
// JSON; {"key": …, "value": …} for KEY_VALUE.
type ValueJSON []byte

// KeyValue is the value of a KEY_VALUE schema: both halves are required.
type KeyValue struct {
	Key, Value any
}

// EncodeValue encodes v by schema s (nil: BYTES), returning the payload
// and, for a SEPARATED KEY_VALUE schema, the base64 key.
func EncodeValue(s *Schema, v any) (payload []byte, key string, hasKey bool, err error) {
	if s == nil {
		s = &Schema{}
	}
	if j, ok := v.(ValueJSON); ok {
		if s.Type == SchemaJSON {
			// The text is the payload: check it, build nothing.
			if jerr := checkJSON(j); jerr != "" {
				return nil, "", false, Errorf(CodeInvalidMessage, "the value is not valid JSON: %s", jerr)
			}
			return trimJSON(j), "", false, nil
		}
		if v, err = readJSONArg(j, "the value"); err != nil {
			return nil, "", false, err
		}
	}
	if s.Type != SchemaKeyValue {
		b, err := encodeValue(s, v, "the value")
		return b, "", false, err
	}
	var k, val any
	switch kv := v.(type) {
	case KeyValue:
		k, val = kv.Key, kv.Value
	case *KeyValue:
		if kv != nil {
			k, val = kv.Key, kv.Value
		}
	case jsonArg:
		if kv.v.kind != jsonObject {
			return nil, "", false, Errorf(CodeInvalidMessage, "a KEY_VALUE value must be a JSON object {\"key\": …, \"value\": …}, got %s", describeJSON(kv.v, false))
		}
		for _, m := range kv.v.obj {
			switch m.key {
			case "key":
				k = jsonArg{m.val, kv.text}
			case "value":
				val = jsonArg{m.val, kv.text}
			default:
				return nil, "", false, Errorf(CodeInvalidMessage, "a KEY_VALUE value has only \"key\" and \"value\", not %q", m.key)
			}
		}
	default:
		return nil, "", false, Errorf(CodeInvalidMessage, "a KEY_VALUE value must be a KeyValue, got %T", v)
	}
	if isMissing(k) || isMissing(val) {
		return nil, "", false, Errorf(CodeInvalidMessage, "a KEY_VALUE value needs both its key and its value")
	}
	kb, err := encodeValue(s.Key, k, "the key")
	if err != nil {
		return nil, "", false, err
	}
	vb, err := encodeValue(s.Value, val, "the value")
	if err != nil {
		return nil, "", false, err
	}
	if s.KeyValueEncoding == KeyValueSeparated {
		return vb, base64.StdEncoding.EncodeToString(kb), true, nil
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 8+len(kb)+len(vb)), uint32(len(kb)))
	out = append(out, kb...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(vb)))
	return append(out, vb...), "", false, nil
}

// trimJSON returns a copy of JSON text without its surrounding space.
func trimJSON(j []byte) []byte {
	start, end := 0, len(j)
	for start < end && isJSONSpace(j[start]) {
		start++
	}
	for end > start && isJSONSpace(j[end-1]) {
		end--
	}
	return append([]byte(nil), j[start:end]...)
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// jsonArg is a JSON value and the text it was read from.
type jsonArg struct {
	v    jsonValue
	text []byte
}

func isMissing(v any) bool {
	if v == nil {
		return true
	}
	j, ok := v.(jsonArg)
	return ok && j.v.kind == jsonNull
}

func valueError(where string, s *Schema, v any) error {
	got := "Go type " + typeName(v)
	if j, ok := v.(jsonArg); ok {
		got = describeJSON(j.v, false)
	}
	return Errorf(CodeInvalidMessage, "%s does not fit the %v schema: got %s", where, s.Type, got)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case string:
		return "string"
	case []byte:
		return "[]byte"
	case bool:
		return "bool"
	case float32, float64:
		return "float"
	case time.Time:
		return "time.Time"
	case time.Duration:
		return "time.Duration"
	}
	if _, ok := toInt(v); ok {
		return "integer"
	}
	return "another type"
}

// toInt reads a Go integer of any width.
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint:
		if uint64(n) <= math.MaxInt64 {
			return int64(n), true
		}
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n), true
		}
	}
	return 0, false
}

// readJSONArg reads JSON text given for where ("the value", "the key").
func readJSONArg(j ValueJSON, where string) (jsonArg, error) {
	jv, jerr := parseJSON(j)
	if jerr != "" {
		return jsonArg{}, Errorf(CodeInvalidMessage, "%s is not valid JSON: %s", where, jerr)
	}
	return jsonArg{jv, j}, nil
}

func encodeValue(s *Schema, v any, where string) ([]byte, error) {
	if j, ok := v.(ValueJSON); ok {
		var err error
		if v, err = readJSONArg(j, where); err != nil {
			return nil, err
		}
	}
	if isMissing(v) {
		return nil, Errorf(CodeInvalidMessage, "%s is missing (null)", where)
	}
	j, isJSON := v.(jsonArg)
	switch s.Type {
	case SchemaBytes, SchemaAvro, SchemaProtobuf, SchemaProtobufNative:
		switch b := v.(type) {
		case []byte:
			return b, nil
		case jsonArg:
			if b.v.kind == jsonString {
				out, err := base64.StdEncoding.DecodeString(b.v.s)
				if err != nil {
					return nil, Errorf(CodeInvalidMessage, "%s: %v bytes in JSON must be base64 text: %v", where, s.Type, err)
				}
				return out, nil
			}
		}
		return nil, Errorf(CodeInvalidMessage, "%s: a %v value must be bytes the caller encoded (base64 text in JSON), got %s", where, s.Type, describeValue(v))
	case SchemaString:
		switch t := v.(type) {
		case string:
			if !utf8.ValidString(t) {
				return nil, Errorf(CodeInvalidMessage, "%s: a STRING value must be valid UTF-8", where)
			}
			return []byte(t), nil
		case []byte:
			if !utf8.Valid(t) {
				return nil, Errorf(CodeInvalidMessage, "%s: a STRING value must be valid UTF-8", where)
			}
			return t, nil
		case jsonArg:
			if t.v.kind == jsonString {
				return []byte(t.v.s), nil
			}
		}
	case SchemaJSON:
		switch t := v.(type) {
		case jsonArg:
			return append([]byte(nil), t.text[t.v.start:t.v.end]...), nil
		case []byte:
			if jerr := checkJSON(t); jerr != "" {
				return nil, Errorf(CodeInvalidMessage, "%s: a JSON value must be valid JSON: %s", where, jerr)
			}
			return t, nil
		}
		return nil, Errorf(CodeInvalidMessage, "%s: a JSON value must be JSON text here, got %s (core.Producer marshals Go values with encoding/json)", where, describeValue(v))
	case SchemaBoolean:
		switch t := v.(type) {
		case bool:
			return []byte{boolByte(t)}, nil
		case jsonArg:
			if t.v.kind == jsonBool {
				return []byte{boolByte(t.v.s == "true")}, nil
			}
		}
	case SchemaInt8, SchemaInt16, SchemaInt32, SchemaInt64:
		bits := map[SchemaType]uint{SchemaInt8: 8, SchemaInt16: 16, SchemaInt32: 32, SchemaInt64: 64}[s.Type]
		n, ok := toInt(v)
		if isJSON {
			if j.v.kind != jsonNumber {
				break
			}
			var err error
			if n, err = strconv.ParseInt(j.v.s, 10, 64); err != nil {
				return nil, Errorf(CodeInvalidMessage, "%s: %s is not an integer that fits %v", where, j.v.s, s.Type)
			}
			ok = true
		}
		if !ok {
			break
		}
		if lim := int64(1) << (bits - 1); bits < 64 && (n < -lim || n >= lim) {
			return nil, Errorf(CodeInvalidMessage, "%s: %d is out of the range of %v", where, n, s.Type)
		}
		out := binary.BigEndian.AppendUint64(nil, uint64(n))
		return out[8-bits/8:], nil
	case SchemaFloat, SchemaDouble:
		var f float64
		ok := true
		switch t := v.(type) {
		case float32:
			f = float64(t)
		case float64:
			f = t
		case jsonArg:
			var err error
			if t.v.kind != jsonNumber {
				ok = false
			} else if f, err = strconv.ParseFloat(t.v.s, 64); err != nil {
				return nil, Errorf(CodeInvalidMessage, "%s: %s is out of the range of %v", where, t.v.s, s.Type)
			}
		default:
			var n int64
			if n, ok = toInt(v); ok {
				f = float64(n)
			}
		}
		if !ok {
			break
		}
		if s.Type == SchemaDouble {
			return binary.BigEndian.AppendUint64(nil, math.Float64bits(f)), nil
		}
		if math.Abs(f) > math.MaxFloat32 && !math.IsInf(f, 0) {
			return nil, Errorf(CodeInvalidMessage, "%s: %g is out of the range of FLOAT", where, f)
		}
		return binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(f))), nil
	case SchemaDate, SchemaTime, SchemaTimestamp:
		if n, ok := toInt(v); ok {
			return binary.BigEndian.AppendUint64(nil, uint64(n)), nil
		}
		if isJSON && j.v.kind == jsonNumber {
			n, err := strconv.ParseInt(j.v.s, 10, 64)
			if err != nil {
				return nil, Errorf(CodeInvalidMessage, "%s: %s is not a whole number of milliseconds", where, j.v.s)
			}
			return binary.BigEndian.AppendUint64(nil, uint64(n)), nil
		}
		if t, ok, err := timeArg(v, time.RFC3339Nano, where); ok {
			return binary.BigEndian.AppendUint64(nil, uint64(t.UnixMilli())), err
		} else if err != nil {
			return nil, err
		}
	case SchemaInstant:
		if t, ok, err := timeArg(v, time.RFC3339Nano, where); ok {
			out := binary.BigEndian.AppendUint64(make([]byte, 0, 12), uint64(t.Unix()))
			return binary.BigEndian.AppendUint32(out, uint32(t.Nanosecond())), err
		} else if err != nil {
			return nil, err
		}
	case SchemaLocalDate:
		if t, ok, err := timeArg(v, time.DateOnly, where); ok {
			return binary.BigEndian.AppendUint64(nil, uint64(epochDay(t))), err
		} else if err != nil {
			return nil, err
		}
	case SchemaLocalTime:
		if d, ok := v.(time.Duration); ok {
			if d < 0 || d >= 24*time.Hour {
				return nil, Errorf(CodeInvalidMessage, "%s: a LOCAL_TIME must lie within a day, got %v", where, d)
			}
			return binary.BigEndian.AppendUint64(nil, uint64(d)), nil
		}
		if t, ok, err := timeArg(v, "15:04:05.999999999", where); ok {
			return binary.BigEndian.AppendUint64(nil, uint64(nanoOfDay(t))), err
		} else if err != nil {
			return nil, err
		}
	case SchemaLocalDateTime:
		if t, ok, err := timeArg(v, "2006-01-02T15:04:05.999999999", where); ok {
			out := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(epochDay(t)))
			return binary.BigEndian.AppendUint64(out, uint64(nanoOfDay(t))), err
		} else if err != nil {
			return nil, err
		}
	case SchemaKeyValue:
		return nil, Errorf(CodeInvalidMessage, "%s: a KEY_VALUE half cannot be KEY_VALUE", where)
	}
	return nil, valueError(where, s, v)
}

func describeValue(v any) string {
	if j, ok := v.(jsonArg); ok {
		return describeJSON(j.v, false)
	}
	return "Go type " + typeName(v)
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// timeArg reads a time.Time, or a JSON string in layout; ok says v is of
// a time form at all.
func timeArg(v any, layout, where string) (time.Time, bool, error) {
	switch t := v.(type) {
	case time.Time:
		return t, true, nil
	case jsonArg:
		if t.v.kind != jsonString {
			return time.Time{}, false, nil
		}
		tm, err := time.Parse(layout, t.v.s)
		if err != nil {
			return time.Time{}, false, Errorf(CodeInvalidMessage, "%s: %q is not a time of the form %s", where, t.v.s, layout)
		}
		return tm, true, nil
	}
	return time.Time{}, false, nil
}

// epochDay is the day of t's calendar date (in t's location) counted from
// 1970-01-01, as java.time.LocalDate.toEpochDay.
func epochDay(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// nanoOfDay is t's clock time (in t's location) in nanoseconds.
func nanoOfDay(t time.Time) int64 {
	h, m, s := t.Clock()
	return (int64(h)*3600+int64(m)*60+int64(s))*1e9 + int64(t.Nanosecond())
}
