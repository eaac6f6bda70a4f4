// A small Avro binary encoder for the tests only: the library sends AVRO
// values as bytes the caller encoded, so the schema tests need an encoder
// of their own, checked by the official Python client's AvroSchema
// (fastavro) decoding what it wrote.
//
// How this works: avroEncode walks a parsed Avro schema (the JSON of the
// definition) beside a Go value: records take a map[string]any by field
// name, in the schema's field order; a union takes its "null" branch for
// nil and otherwise the first other branch; arrays and maps are written as
// one block and the end marker; int and long are zig-zag varints; float
// and double little-endian IEEE 754; string and bytes a length and the
// bytes. Only what the tests' records use is supported.
package integration

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

func avroEncode(schema, v any) ([]byte, error) {
	return avroAppend(nil, schema, v)
}

func avroLong(b []byte, n int64) []byte {
	return binary.AppendUvarint(b, uint64(n<<1)^uint64(n>>63))
}

func avroAppend(b []byte, schema, v any) ([]byte, error) {
	switch s := schema.(type) {
	case string:
		return avroPrimitive(b, s, v)
	case []any: // a union
		for i, branch := range s {
			if (branch == "null") == (v == nil) {
				return avroAppend(avroLong(b, int64(i)), branch, v)
			}
		}
		return nil, fmt.Errorf("no branch of union %v for %T", s, v)
	case map[string]any:
		switch s["type"] {
		case "record":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("record %v needs a map, got %T", s["name"], v)
			}
			var err error
			for _, f := range s["fields"].([]any) {
				field := f.(map[string]any)
				if b, err = avroAppend(b, field["type"], m[field["name"].(string)]); err != nil {
					return nil, fmt.Errorf("field %v: %w", field["name"], err)
				}
			}
			return b, nil
		case "array":
			items, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("array needs []any, got %T", v)
			}
			if len(items) > 0 {
				b = avroLong(b, int64(len(items)))
				for _, it := range items {
					var err error
					if b, err = avroAppend(b, s["items"], it); err != nil {
						return nil, err
					}
				}
			}
			return avroLong(b, 0), nil
		case "map":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("map needs map[string]any, got %T", v)
			}
			if len(m) > 0 {
				b = avroLong(b, int64(len(m)))
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				for _, k := range keys {
					b = append(avroLong(b, int64(len(k))), k...)
					var err error
					if b, err = avroAppend(b, s["values"], m[k]); err != nil {
						return nil, err
					}
				}
			}
			return avroLong(b, 0), nil
		default:
			return avroPrimitive(b, fmt.Sprint(s["type"]), v)
		}
	}
	return nil, fmt.Errorf("unsupported schema %v", schema)
}

func avroPrimitive(b []byte, typ string, v any) ([]byte, error) {
	bad := func() ([]byte, error) { return nil, fmt.Errorf("%s needs another Go type than %T", typ, v) }
	switch typ {
	case "null":
		return b, nil
	case "boolean":
		x, ok := v.(bool)
		if !ok {
			return bad()
		}
		if x {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case "int", "long":
		x, ok := v.(int64)
		if !ok {
			return bad()
		}
		if typ == "int" && (x < math.MinInt32 || x > math.MaxInt32) {
			return nil, fmt.Errorf("%d does not fit an Avro int", x)
		}
		return avroLong(b, x), nil
	case "float":
		x, ok := v.(float32)
		if !ok {
			return bad()
		}
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(x)), nil
	case "double":
		x, ok := v.(float64)
		if !ok {
			return bad()
		}
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(x)), nil
	case "string":
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		return append(avroLong(b, int64(len(x))), x...), nil
	case "bytes":
		x, ok := v.([]byte)
		if !ok {
			return bad()
		}
		return append(avroLong(b, int64(len(x))), x...), nil
	}
	return nil, fmt.Errorf("unsupported Avro type %q", typ)
}
