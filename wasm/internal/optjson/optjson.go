// Package optjson converts client and producer options to and from the JSON
// of the module's ABI (wasm/ABI.md, "Options"): the host encodes with
// Append, the module decodes with Parse.
//
// How this works: both walk engine.OptionTable and reach each option's Go
// field by its name with reflect, so a new option needs no change here.
// Parse accepts what engine.ParseOptionsJSON accepts and fails with the
// same codes and texts for unknown options and bad values (the tests check
// both against each other), but it neither uses encoding/json nor calls
// the engine's parser, which would link encoding/json into the module: a
// small JSON reader of its own keeps the module 0.7 MB smaller. It also
// refuses an option of the other scope (a producer option given to the
// client), which the engine's parser cannot know about.
package optjson

import (
	"bytes"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// Scopes, as engine.OptionSpec.Scope names them.
const (
	Client   = "client"
	Producer = "producer"
)

// field returns the Go field of spec in c or p; the struct of the other
// scope may be nil.
func field(spec *engine.OptionSpec, c *engine.ClientOptions, p *engine.ProducerOptions) reflect.Value {
	var v reflect.Value
	if spec.Scope == Client {
		v = reflect.ValueOf(c).Elem()
	} else {
		v = reflect.ValueOf(p).Elem()
	}
	f := v.FieldByName(spec.GoName)
	if !f.IsValid() {
		panic("optjson: option " + spec.Name + " has no field " + spec.GoName)
	}
	return f
}

func invalid(format string, args ...any) error {
	return engine.Errorf(engine.CodeInvalidConfiguration, format, args...)
}

// Append appends the options of scope that are set (not zero: zero means
// the default) in c or p as a JSON object, or nothing if none is set.
// Durations go as whole milliseconds; a positive one under 1ms is refused,
// as the engine refuses it.
func Append(b []byte, scope string, c *engine.ClientOptions, p *engine.ProducerOptions) ([]byte, error) {
	start := len(b)
	for i := range engine.OptionTable {
		spec := &engine.OptionTable[i]
		if spec.Scope != scope {
			continue
		}
		f := field(spec, c, p)
		if f.IsZero() {
			continue
		}
		if f.Kind() == reflect.Pointer {
			f = f.Elem()
		}
		if len(b) == start {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = appendString(b, spec.Name)
		b = append(b, ':')
		switch spec.Type {
		case engine.OptMilliseconds:
			d := time.Duration(f.Int())
			switch {
			case d > 0 && d < time.Millisecond:
				return nil, invalid("option %s: must be at least 1ms, got %v", spec.Name, d)
			case d < 0 && d > -time.Millisecond:
				d = -time.Millisecond // still negative: "disabled", or the engine's error
			}
			b = strconv.AppendInt(b, d.Milliseconds(), 10)
		case engine.OptEnum:
			i := f.Int()
			if i < 0 || i >= int64(len(spec.Values)) {
				return nil, invalid("option %s: unknown value %d", spec.Name, i)
			}
			b = appendString(b, spec.Values[i])
		case engine.OptString:
			b = appendString(b, f.String())
		case engine.OptInteger:
			b = strconv.AppendInt(b, f.Int(), 10)
		case engine.OptBoolean:
			b = strconv.AppendBool(b, f.Bool())
		case engine.OptStringMap:
			m := f.Interface().(map[string]string)
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			b = append(b, '{')
			for j, k := range keys {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(appendString(b, k), ':')
				b = appendString(b, m[k])
			}
			b = append(b, '}')
		}
	}
	if len(b) > start {
		b = append(b, '}')
	}
	return b, nil
}

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, r) // RuneError for a bad byte
			i += n
			continue
		}
		i++
	}
	return append(b, '"')
}

// Parse applies a JSON object of options of scope ("client" or
// "producer") to c or p (the other may be nil). An empty input applies
// nothing.
func Parse(js []byte, scope string, c *engine.ClientOptions, p *engine.ProducerOptions) error {
	if len(bytes.TrimSpace(js)) == 0 {
		return nil
	}
	r := reader{b: js}
	v := r.value(0)
	if r.err == "" {
		if r.space(); r.i < len(js) {
			return invalid("options hold more than one JSON value")
		}
	}
	switch {
	case r.err != "":
		return invalid("options are not a valid JSON object: %s", r.err)
	case v.kind == kindNull:
		return invalid("options must be a JSON object, not null")
	case v.kind != kindObject:
		return invalid("options are not a valid JSON object: the value is %s", describe(v))
	}
	for i, m := range v.obj {
		if slices.ContainsFunc(v.obj[i+1:], func(later member) bool { return later.key == m.key }) {
			continue // the last of a repeated name counts, as in the engine
		}
		spec, err := find(m.key)
		if err != nil {
			return err
		}
		if spec.Scope != scope {
			return invalid("option %q is a %s option; it does not belong in the %s options", m.key, spec.Scope, scope)
		}
		if err := set(spec, field(spec, c, p), m.val); err != nil {
			return err
		}
	}
	return nil
}

func find(name string) (*engine.OptionSpec, error) {
	for i := range engine.OptionTable {
		if engine.OptionTable[i].Name == name {
			return &engine.OptionTable[i], nil
		}
	}
	return nil, invalid("option %q is unknown", name)
}

// set stores v in f, the field of spec, checking it as the engine does.
func set(spec *engine.OptionSpec, f reflect.Value, v value) error {
	bad := func(want string) error {
		return invalid("option %q must be %s, got %s", spec.Name, want, describe(v))
	}
	switch spec.Type {
	case engine.OptString:
		if v.kind != kindString {
			return bad("a string")
		}
		f.SetString(v.s)
	case engine.OptBoolean:
		if v.kind != kindBool {
			return bad("true or false")
		}
		f.SetBool(v.s == "true")
	case engine.OptInteger, engine.OptMilliseconds:
		n, err := strconv.ParseInt(v.s, 10, 64)
		if v.kind != kindNumber || err != nil {
			return bad("an integer")
		}
		if spec.Type == engine.OptMilliseconds {
			if n > math.MaxInt64/int64(time.Millisecond) || n < math.MinInt64/int64(time.Millisecond) {
				return bad("a number of milliseconds that fits 64 bits of nanoseconds")
			}
			n *= int64(time.Millisecond)
		}
		if f.Kind() == reflect.Pointer {
			ptr := reflect.New(f.Type().Elem())
			ptr.Elem().SetInt(n)
			f.Set(ptr)
		} else {
			f.SetInt(n)
		}
	case engine.OptEnum:
		i := -1
		if v.kind == kindString {
			i = slices.IndexFunc(spec.Values, func(name string) bool { return strings.EqualFold(name, v.s) })
		}
		if i < 0 {
			return bad("one of " + strings.Join(spec.Values, ", "))
		}
		f.SetInt(int64(i))
	case engine.OptStringMap:
		if v.kind != kindObject {
			return bad("an object of strings")
		}
		m := make(map[string]string, len(v.obj))
		for _, kv := range v.obj {
			if kv.val.kind != kindString {
				return invalid("option %q: the value of %q must be a string, got %s", spec.Name, kv.key, describe(kv.val))
			}
			m[kv.key] = kv.val.s
		}
		f.Set(reflect.ValueOf(m))
	}
	return nil
}

// describe names a value in an error, as the engine does.
func describe(v value) string {
	switch v.kind {
	case kindNull:
		return "null"
	case kindString:
		return "string " + strconv.Quote(v.s)
	case kindBool:
		return "boolean " + v.s
	case kindNumber:
		return "number " + v.s
	case kindArray:
		return "an array"
	}
	return "an object"
}
