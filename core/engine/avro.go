// Checking Avro schema definitions, so that a broken AVRO or JSON schema
// fails when the producer is created, naming the problem, rather than as a
// registry error from the broker.
//
// How this works: the definition, already read as JSON, is walked as the
// Avro specification describes schemas: a primitive or named-type name, a
// union (JSON array), or an object whose "type" is a primitive, record,
// enum, array, map or fixed. Named types are recorded under their full
// names (namespaces resolved as the specification says) so that later
// references to them, and redefinitions, are checked. Defaults and logical
// types are not checked: the broker does not check them either.
package engine

import (
	"fmt"
	"strconv"
	"strings"
)

var avroPrimitives = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true, "float": true, "double": true, "bytes": true, "string": true,
}

type avroChecker struct {
	named map[string]bool // full names defined so far
}

func checkAvroSchema(v jsonValue) error {
	c := avroChecker{named: map[string]bool{}}
	return c.schema(v, "", "the schema")
}

func validAvroName(n string) bool {
	if n == "" {
		return false
	}
	for i, r := range n {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// fullName resolves a name against a namespace.
func fullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

func (c *avroChecker) reference(name, ns, where string) error {
	if avroPrimitives[name] {
		return nil
	}
	if c.named[fullName(name, ns)] || c.named[name] {
		return nil
	}
	return fmt.Errorf("%s: %q is neither a primitive type nor a type defined before it", where, name)
}

func (c *avroChecker) schema(v jsonValue, ns, where string) error {
	switch v.kind {
	case jsonString:
		return c.reference(v.s, ns, where)
	case jsonArray:
		seen := map[string]bool{}
		for i, m := range v.arr {
			if m.kind == jsonArray {
				return fmt.Errorf("%s: a union cannot hold a union directly", where)
			}
			if err := c.schema(m, ns, fmt.Sprintf("%s, union member %d", where, i)); err != nil {
				return err
			}
			key := unionKey(m, ns)
			if seen[key] {
				return fmt.Errorf("%s: the union holds %s twice", where, key)
			}
			seen[key] = true
		}
		return nil
	case jsonObject:
		return c.object(v, ns, where)
	}
	return fmt.Errorf("%s must be a type name, a union (array) or an object, not %s", where, describeJSON(v, false))
}

// unionKey is what makes two union members the same: their type, or for
// named types their full name.
func unionKey(v jsonValue, ns string) string {
	switch v.kind {
	case jsonString:
		if avroPrimitives[v.s] {
			return v.s
		}
		return fullName(v.s, ns)
	case jsonObject:
		t, _ := member(v, "type")
		if t.kind != jsonString {
			return "an unnamed type"
		}
		switch t.s {
		case "record", "error", "enum", "fixed":
			name, _ := member(v, "name")
			space, _ := member(v, "namespace")
			if space.kind == jsonString {
				ns = space.s
			}
			return fullName(name.s, ns)
		}
		return t.s
	}
	return ""
}

func member(v jsonValue, key string) (jsonValue, bool) {
	for _, m := range v.obj {
		if m.key == key {
			return m.val, true
		}
	}
	return jsonValue{}, false
}

func (c *avroChecker) object(v jsonValue, ns, where string) error {
	t, ok := member(v, "type")
	if !ok {
		return fmt.Errorf("%s has no \"type\"", where)
	}
	if t.kind != jsonString {
		return c.schema(t, ns, where+", type")
	}
	switch t.s {
	case "record", "error", "enum", "fixed":
		name, ns2, err := c.define(v, ns, where)
		if err != nil {
			return err
		}
		where = fmt.Sprintf("%s %q", t.s, name)
		switch t.s {
		case "enum":
			return checkEnum(v, where)
		case "fixed":
			size, _ := member(v, "size")
			if n, err := strconv.ParseInt(size.s, 10, 32); size.kind != jsonNumber || err != nil || n < 0 {
				return fmt.Errorf("%s needs a non-negative integer \"size\"", where)
			}
			return nil
		}
		return c.fields(v, ns2, where)
	case "array":
		items, ok := member(v, "items")
		if !ok {
			return fmt.Errorf("%s: an array needs \"items\"", where)
		}
		return c.schema(items, ns, where+", items")
	case "map":
		values, ok := member(v, "values")
		if !ok {
			return fmt.Errorf("%s: a map needs \"values\"", where)
		}
		return c.schema(values, ns, where+", values")
	}
	return c.reference(t.s, ns, where)
}

// define records a named type; it returns its full name and the namespace
// its members are resolved in.
func (c *avroChecker) define(v jsonValue, ns, where string) (string, string, error) {
	name, _ := member(v, "name")
	if name.kind != jsonString || name.s == "" {
		return "", "", fmt.Errorf("%s: a named type needs a \"name\"", where)
	}
	if space, ok := member(v, "namespace"); ok && space.kind == jsonString && !strings.Contains(name.s, ".") {
		ns = space.s
	}
	full := fullName(name.s, ns)
	for _, part := range strings.Split(full, ".") {
		if !validAvroName(part) {
			return "", "", fmt.Errorf("%s: %q is not a valid Avro name", where, full)
		}
	}
	if avroPrimitives[full] {
		return "", "", fmt.Errorf("%s: %q is a primitive type's name", where, full)
	}
	if c.named[full] {
		return "", "", fmt.Errorf("%s: %q is defined twice", where, full)
	}
	c.named[full] = true
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		ns = full[:i]
	}
	return full, ns, nil
}

func checkEnum(v jsonValue, where string) error {
	symbols, _ := member(v, "symbols")
	if symbols.kind != jsonArray {
		return fmt.Errorf("%s needs \"symbols\", an array of names", where)
	}
	seen := map[string]bool{}
	for _, s := range symbols.arr {
		if s.kind != jsonString || !validAvroName(s.s) {
			return fmt.Errorf("%s: symbol %s is not a valid Avro name", where, describeJSON(s, false))
		}
		if seen[s.s] {
			return fmt.Errorf("%s: symbol %q is given twice", where, s.s)
		}
		seen[s.s] = true
	}
	if d, ok := member(v, "default"); ok && (d.kind != jsonString || !seen[d.s]) {
		return fmt.Errorf("%s: the default is not one of the symbols", where)
	}
	return nil
}

func (c *avroChecker) fields(v jsonValue, ns, where string) error {
	fields, _ := member(v, "fields")
	if fields.kind != jsonArray {
		return fmt.Errorf("%s needs \"fields\", an array", where)
	}
	seen := map[string]bool{}
	for i, f := range fields.arr {
		if f.kind != jsonObject {
			return fmt.Errorf("%s: field %d is not an object", where, i)
		}
		name, _ := member(f, "name")
		if name.kind != jsonString || !validAvroName(name.s) {
			return fmt.Errorf("%s: field %d needs a valid \"name\"", where, i)
		}
		if seen[name.s] {
			return fmt.Errorf("%s: field %q is given twice", where, name.s)
		}
		seen[name.s] = true
		t, ok := member(f, "type")
		if !ok {
			return fmt.Errorf("%s: field %q has no \"type\"", where, name.s)
		}
		if err := c.schema(t, ns, fmt.Sprintf("%s, field %q", where, name.s)); err != nil {
			return err
		}
	}
	return nil
}
