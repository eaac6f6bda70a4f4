// Options as JSON and as key/value text: the one parser of the project.
//
// ParseOptionsJSON reads a JSON object of options (the C ABI's and the WASI
// module's form), SetOption one option given as text (the C ABI's key/value
// form), and AppendOptionsJSON writes the options that are set (the WASI
// host's form, which the module reads back with ParseOptionsJSON). All
// three are driven by OptionTable: a new option needs no change here. An
// explicit value must lie in the option's range (so an explicit 0 is
// refused where 0 is not a valid value, although a Go zero value means
// "the default"); every error names the option.
package engine

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

func invalidConfig(format string, args ...any) *Error {
	return Errorf(CodeInvalidConfiguration, format, args...)
}

// ParseOptionsJSON applies a JSON object of options to c and p. A nil c
// refuses client options, a nil p producer options, each with an error
// naming the option and where it belongs. An empty input applies nothing.
// A name given twice is an error.
func ParseOptionsJSON(data []byte, c *ClientOptions, p *ProducerOptions) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	r := jsonReader{b: data}
	v := r.value(0)
	if r.err == "" {
		if r.space(); r.i < len(data) {
			return invalidConfig("options hold more than one JSON value")
		}
	}
	switch {
	case r.err != "":
		return invalidConfig("options are not a valid JSON object: %s", r.err)
	case v.kind == jsonNull:
		return invalidConfig("options must be a JSON object, not null")
	case v.kind != jsonObject:
		return invalidConfig("options must be a JSON object, not %s", describeJSON(v, false))
	}
	for i, m := range v.obj {
		if slices.ContainsFunc(v.obj[:i], func(earlier jsonMember) bool { return earlier.key == m.key }) {
			return invalidConfig("option %q is given twice", m.key)
		}
		spec, err := specFor(m.key, c, p)
		if err != nil {
			return err
		}
		if err := spec.setJSON(spec.field(c, p), m.val, false); err != nil {
			return err
		}
	}
	return nil
}

// SetOption applies one option given as text, the form of the C ABI's
// key/value arrays: numbers and booleans as text ("500", "true"), an
// object as JSON. A nil c or p refuses options of that scope.
func SetOption(name, value string, c *ClientOptions, p *ProducerOptions) error {
	spec, err := specFor(name, c, p)
	if err != nil {
		return err
	}
	v := jsonValue{kind: jsonString, s: value}
	switch spec.Type {
	case OptInteger, OptMilliseconds:
		if t := strings.TrimSpace(value); isIntegerText(t) {
			v = jsonValue{kind: jsonNumber, s: t}
		}
	case OptBoolean:
		switch strings.ToLower(strings.TrimSpace(value)) {
		case "true", "1", "yes":
			v = jsonValue{kind: jsonBool, s: "true"}
		case "false", "0", "no":
			v = jsonValue{kind: jsonBool, s: "false"}
		}
	case OptStringMap:
		r := jsonReader{b: []byte(value)}
		if v = r.value(0); r.err != "" {
			return configError(name, "must be a JSON object of strings: %s", r.err)
		}
	case OptSchema:
		if t := strings.TrimSpace(value); strings.HasPrefix(t, "{") {
			var jerr string
			if v, jerr = parseJSON([]byte(t)); jerr != "" {
				return configError(name, "must be a schema type name or a JSON object: %s", jerr)
			}
		}
	}
	return spec.setJSON(spec.field(c, p), v, true)
}

// specFor finds the option called name, checking its scope against which
// structs the caller accepts.
func specFor(name string, c *ClientOptions, p *ProducerOptions) (*OptionSpec, error) {
	spec, ok := FindOption(name)
	if !ok {
		if low := strings.ToLower(name); low != name || strings.Contains(name, "_") {
			for i := range OptionTable {
				if strings.EqualFold(OptionTable[i].Name, strings.ReplaceAll(name, "_", "")) {
					return nil, invalidConfig("option %q is unknown; did you mean %q?", name, OptionTable[i].Name)
				}
			}
		}
		return nil, invalidConfig("option %q is unknown", name)
	}
	if spec.Scope == ScopeClient && c == nil || spec.Scope == ScopeProducer && p == nil {
		other := ScopeProducer
		if spec.Scope == ScopeProducer {
			other = ScopeClient
		}
		return nil, invalidConfig("option %q is a %s option; it does not belong in the %s options", name, spec.Scope, other)
	}
	return spec, nil
}

// isIntegerText reports whether t is an optional minus and decimal digits.
func isIntegerText(t string) bool {
	t = strings.TrimPrefix(t, "-")
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	return true
}

// describeJSON names a value in an error. Values that came as text (the
// key/value form) are quoted as given.
func describeJSON(v jsonValue, text bool) string {
	if text {
		return strconv.Quote(v.s)
	}
	switch v.kind {
	case jsonNull:
		return "null"
	case jsonString:
		return "string " + strconv.Quote(v.s)
	case jsonBool:
		return "boolean " + v.s
	case jsonNumber:
		return "number " + v.s
	case jsonArray:
		return "an array"
	}
	return "an object"
}

// setJSON checks v against the option and stores it in f, its field.
func (s *OptionSpec) setJSON(f any, v jsonValue, text bool) error {
	bad := func(want string) error {
		got := describeJSON(v, text)
		if s.Secret {
			got = "a value not shown (it is a secret)"
		}
		return invalidConfig("option %q must be %s, got %s", s.Name, want, got)
	}
	switch s.Type {
	case OptString:
		if v.kind != jsonString {
			return bad("a string")
		}
		*f.(*string) = v.s
	case OptBoolean:
		if v.kind != jsonBool {
			return bad("true or false")
		}
		switch p := f.(type) {
		case *bool:
			*p = v.s == "true"
		case **bool:
			*p = Bool(v.s == "true")
		}
	case OptInteger, OptMilliseconds:
		if v.kind != jsonNumber || !isIntegerText(v.s) {
			return bad("an integer")
		}
		n, err := strconv.ParseInt(v.s, 10, 64)
		if err != nil {
			return invalidConfig("option %q is out of range: must be %s, got %s", s.Name, s.rangeText(), v.s)
		}
		if err := s.checkRange(n); err != nil {
			return err
		}
		if s.Type == OptMilliseconds {
			n *= int64(time.Millisecond) // checkRange bounded n to fit
		}
		setInt(f, n)
	case OptEnum:
		i := -1
		if v.kind == jsonString {
			i = slices.IndexFunc(s.Values, func(name string) bool { return strings.EqualFold(name, v.s) })
		}
		if i < 0 {
			return bad("one of " + strings.Join(s.Values, ", "))
		}
		setInt(f, int64(i))
	case OptStringMap:
		if v.kind != jsonObject {
			return bad("an object of strings")
		}
		m := make(map[string]string, len(v.obj))
		for _, kv := range v.obj {
			if kv.val.kind != jsonString {
				return invalidConfig("option %q: the value of %q must be a string, got %s", s.Name, kv.key, describeJSON(kv.val, false))
			}
			if _, dup := m[kv.key]; dup {
				return invalidConfig("option %q: key %q is given twice", s.Name, kv.key)
			}
			m[kv.key] = kv.val.s
		}
		*f.(*map[string]string) = m
	case OptSchema:
		sc, err := parseSchema(v, s.Name)
		if err != nil {
			return err
		}
		*f.(**Schema) = sc
	}
	return nil
}

// AppendOptionsJSON appends the options of scope that are set (not zero:
// zero means the default) in c or p as a JSON object, or nothing if none
// is set; ParseOptionsJSON reads it back. Options of the runtime alone
// (DriverOnly: TLS and credentials) are left out. Durations go as whole
// milliseconds; a positive one under 1 ms is refused, as resolution
// refuses it.
func AppendOptionsJSON(b []byte, scope Scope, c *ClientOptions, p *ProducerOptions) ([]byte, error) {
	start := len(b)
	for i := range OptionTable {
		s := &OptionTable[i]
		if s.Scope != scope || s.DriverOnly {
			continue
		}
		f := s.field(c, p)
		var val []byte
		switch s.Type {
		case OptString:
			if str := *f.(*string); str != "" {
				val = appendJSONString(nil, str)
			}
		case OptBoolean:
			switch p := f.(type) {
			case *bool:
				if *p {
					val = []byte("true")
				}
			case **bool:
				if *p != nil {
					val = strconv.AppendBool(nil, **p)
				}
			}
		case OptStringMap:
			if m := *f.(*map[string]string); len(m) > 0 {
				val = appendStringMap(nil, m)
			}
		case OptSchema:
			if sc := *f.(**Schema); sc != nil {
				val = appendSchemaJSON(nil, sc)
			}
		case OptEnum:
			n, _ := getInt(f)
			if n < 0 || n >= int64(len(s.Values)) {
				return nil, configError(s.Name, "unknown value %d", n)
			}
			if n != 0 {
				val = appendJSONString(nil, s.Values[n])
			}
		default:
			n, set := getInt(f)
			if !set {
				continue
			}
			if s.Type == OptMilliseconds {
				d := time.Duration(n)
				switch {
				case d > 0 && d < time.Millisecond:
					return nil, configError(s.Name, "must be %s, got %v", s.rangeText(), d)
				case d < 0 && d > -time.Millisecond:
					d = -time.Millisecond // still negative: disabled, or the parser's error
				}
				n = d.Milliseconds()
			}
			val = strconv.AppendInt(nil, n, 10)
		}
		if val == nil {
			continue
		}
		if len(b) == start {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(appendJSONString(b, s.Name), ':')
		b = append(b, val...)
	}
	if len(b) > start {
		b = append(b, '}')
	}
	return b, nil
}

func appendStringMap(b []byte, m map[string]string) []byte {
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
		b = append(appendJSONString(b, k), ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD.
func appendJSONString(b []byte, s string) []byte {
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
