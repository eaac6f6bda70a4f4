// A small JSON reader for option objects: strict about syntax, and without
// encoding/json, which would make the WASI module 0.7 MB larger.
//
// How this works: value reads one JSON value recursively into a tree of
// jsonValues (strings decoded, numbers kept as their text, object members
// in document order, so that a repeated name can be reported). The first
// syntax error sticks in err, with the byte offset, and every later step
// returns at once.
package engine

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// jsonValue is a JSON value: s holds a string, a number's text or "true" or
// "false"; obj holds an object's members, arr an array's elements; the
// value's text is the reader's input from start to end.
type jsonValue struct {
	kind       jsonKind
	s          string
	obj        []jsonMember
	arr        []jsonValue
	start, end int
}

type jsonMember struct {
	key string
	val jsonValue
}

// maxDepth bounds nesting, so hostile input cannot exhaust the stack.
const maxDepth = 64

type jsonReader struct {
	b    []byte
	i    int
	err  string
	skip bool // only check the syntax: build no values, allocate nothing
}

func (r *jsonReader) fail(what string) {
	if r.err == "" {
		r.err = what + " at byte " + strconv.Itoa(r.i)
	}
}

func (r *jsonReader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// next skips space and returns the next byte, 0 at the end.
func (r *jsonReader) next() byte {
	r.space()
	if r.i == len(r.b) {
		return 0
	}
	return r.b[r.i]
}

func (r *jsonReader) literal(word string, v jsonValue) jsonValue {
	if len(r.b)-r.i < len(word) || string(r.b[r.i:r.i+len(word)]) != word {
		r.fail("invalid literal")
		return jsonValue{}
	}
	r.i += len(word)
	return v
}

func (r *jsonReader) value(depth int) jsonValue {
	r.next()
	start := r.i
	v := r.value1(depth)
	v.start, v.end = start, r.i
	return v
}

func (r *jsonReader) value1(depth int) jsonValue {
	if depth > maxDepth {
		r.fail("nesting too deep")
		return jsonValue{}
	}
	switch c := r.next(); {
	case c == 0:
		r.fail("unexpected end of input")
	case c == '{':
		return r.object(depth)
	case c == '[':
		return r.array(depth)
	case c == '"':
		return jsonValue{kind: jsonString, s: r.str()}
	case c == 't':
		return r.literal("true", jsonValue{kind: jsonBool, s: "true"})
	case c == 'f':
		return r.literal("false", jsonValue{kind: jsonBool, s: "false"})
	case c == 'n':
		return r.literal("null", jsonValue{kind: jsonNull})
	case c == '-' || c >= '0' && c <= '9':
		return r.number()
	default:
		r.fail("unexpected character " + strconv.QuoteRune(rune(c)))
	}
	return jsonValue{}
}

func (r *jsonReader) object(depth int) jsonValue {
	v := jsonValue{kind: jsonObject}
	r.i++ // {
	if r.next() == '}' {
		r.i++
		return v
	}
	for r.err == "" {
		if r.next() != '"' {
			r.fail("expected a member name")
			break
		}
		key := r.str()
		if r.next() != ':' {
			r.fail("expected ':'")
			break
		}
		r.i++
		val := r.value(depth + 1)
		if !r.skip {
			v.obj = append(v.obj, jsonMember{key: key, val: val})
		}
		switch r.next() {
		case ',':
			r.i++
		case '}':
			r.i++
			return v
		default:
			r.fail("expected ',' or '}'")
		}
	}
	return v
}

func (r *jsonReader) array(depth int) jsonValue {
	v := jsonValue{kind: jsonArray}
	r.i++ // [
	if r.next() == ']' {
		r.i++
		return v
	}
	for r.err == "" {
		if e := r.value(depth + 1); !r.skip {
			v.arr = append(v.arr, e)
		}
		switch r.next() {
		case ',':
			r.i++
		case ']':
			r.i++
			return v
		default:
			r.fail("expected ',' or ']'")
		}
	}
	return v
}

// parseJSON reads data as exactly one JSON value; the error says what is
// wrong and where.
func parseJSON(data []byte) (jsonValue, string) {
	r := jsonReader{b: data}
	v := r.value(0)
	if r.err == "" {
		if r.space(); r.i < len(data) {
			r.fail("more than one JSON value")
		}
	}
	return v, r.err
}

// checkJSON checks that data is exactly one JSON value, building nothing:
// a value's encoder that needs only to know the text is JSON (the JSON
// schema's) pays no allocation for it.
func checkJSON(data []byte) string {
	r := jsonReader{b: data, skip: true}
	r.value(0)
	if r.err == "" {
		if r.space(); r.i < len(data) {
			r.fail("more than one JSON value")
		}
	}
	return r.err
}

func (r *jsonReader) number() jsonValue {
	start := r.i
	digits := func() int {
		n := 0
		for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	if r.b[r.i] == '-' {
		r.i++
	}
	switch {
	case r.i < len(r.b) && r.b[r.i] == '0':
		r.i++
	case digits() == 0:
		r.fail("invalid number")
		return jsonValue{}
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if digits() == 0 {
			r.fail("invalid number")
			return jsonValue{}
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			r.fail("invalid number")
			return jsonValue{}
		}
	}
	if r.skip {
		return jsonValue{kind: jsonNumber}
	}
	return jsonValue{kind: jsonNumber, s: string(r.b[start:r.i])}
}

// str reads a string at r.i (its opening quote). Invalid UTF-8 and lone
// surrogates become U+FFFD, as encoding/json makes them.
func (r *jsonReader) str() string {
	r.i++ // "
	// The common case: no escapes, valid UTF-8; one allocation, or none
	// when skipping.
	j := r.i
	for j < len(r.b) && r.b[j] != '"' && r.b[j] != '\\' && r.b[j] >= 0x20 {
		j++
	}
	if j < len(r.b) && r.b[j] == '"' && utf8.Valid(r.b[r.i:j]) {
		s := ""
		if !r.skip {
			s = string(r.b[r.i:j])
		}
		r.i = j + 1
		return s
	}
	var out []byte
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			return string(out)
		case c < 0x20:
			r.fail("control character in a string")
			return ""
		case c == '\\':
			r.i++
			if r.i == len(r.b) {
				break
			}
			e := r.b[r.i]
			r.i++
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				c1 := r.hex4()
				if utf16.IsSurrogate(c1) && r.i+1 < len(r.b) && r.b[r.i] == '\\' && r.b[r.i+1] == 'u' {
					save := r.i
					r.i += 2
					if c2 := r.hex4(); utf16.DecodeRune(c1, c2) != utf8.RuneError {
						c1 = utf16.DecodeRune(c1, c2)
					} else {
						r.i = save
					}
				}
				if utf16.IsSurrogate(c1) {
					c1 = utf8.RuneError
				}
				out = utf8.AppendRune(out, c1)
			default:
				r.i--
				r.fail("invalid escape")
				return ""
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			r.i++
		default:
			ch, n := utf8.DecodeRune(r.b[r.i:])
			out = utf8.AppendRune(out, ch)
			r.i += n
		}
	}
	r.fail("unterminated string")
	return ""
}

// hex4 reads the four hex digits of a \u escape.
func (r *jsonReader) hex4() rune {
	if len(r.b)-r.i < 4 {
		r.fail("invalid \\u escape")
		return utf8.RuneError
	}
	n, err := strconv.ParseUint(string(r.b[r.i:r.i+4]), 16, 16)
	if err != nil {
		r.fail("invalid \\u escape")
		return utf8.RuneError
	}
	r.i += 4
	return rune(n)
}
