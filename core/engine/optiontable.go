// The option table and the parsers it drives.
//
// Each row names one setting of ClientOptions or ProducerOptions as it is
// spelled outside Go (camelCase), its type, its default and what it does.
// ParseOptionsJSON and SetOption turn JSON objects and key/value strings
// into the structs, naming the key in every error; the structs' own resolve
// methods then validate ranges and fill in defaults. The service URL and
// the topic are not options: every API takes them as arguments.
package engine

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// OptionType is the type of an option's value outside Go.
type OptionType string

const (
	OptString       OptionType = "string"
	OptInteger      OptionType = "integer"
	OptBoolean      OptionType = "boolean"
	OptMilliseconds OptionType = "milliseconds"
	OptEnum         OptionType = "enum"
	OptStringMap    OptionType = "object"
)

// OptionSpec describes one option.
type OptionSpec struct {
	Name    string     // camelCase: JSON, C and Node
	GoName  string     // the Go struct field
	Scope   string     // "client" or "producer"
	Type    OptionType // the value's type outside Go
	Values  []string   // the accepted values of an enum
	Default string     // the default, as documentation
	Doc     string
	set     func(c *ClientOptions, p *ProducerOptions, v optionValue)
}

// SnakeName is the option's name in Python.
func (s OptionSpec) SnakeName() string {
	var b strings.Builder
	for i, r := range s.Name {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// optionValue is a parsed value; which field is meaningful depends on the
// option's type.
type optionValue struct {
	s string
	i int64
	b bool
	d time.Duration
	m map[string]string
}

// OptionTable lists every option. Keep it in the order of the structs.
var OptionTable = []OptionSpec{
	{Name: "connectionTimeout", GoName: "ConnectionTimeout", Scope: "client", Type: OptMilliseconds, Default: "10000",
		Doc: "Bounds a TCP connect plus the protocol handshake.",
		set: func(c *ClientOptions, _ *ProducerOptions, v optionValue) { c.ConnectionTimeout = v.d }},
	{Name: "operationTimeout", GoName: "OperationTimeout", Scope: "client", Type: OptMilliseconds, Default: "30000",
		Doc: "Bounds a lookup or producer registration request.",
		set: func(c *ClientOptions, _ *ProducerOptions, v optionValue) { c.OperationTimeout = v.d }},
	{Name: "keepAliveInterval", GoName: "KeepAliveInterval", Scope: "client", Type: OptMilliseconds, Default: "30000",
		Doc: "How often an idle connection is probed; silent for two intervals means dead.",
		set: func(c *ClientOptions, _ *ProducerOptions, v optionValue) { c.KeepAliveInterval = v.d }},
	{Name: "memoryLimitBytes", GoName: "MemoryLimitBytes", Scope: "client", Type: OptInteger, Default: "67108864",
		Doc: "Bounds the payload bytes of all pending messages of the client; negative means no limit.",
		set: func(c *ClientOptions, _ *ProducerOptions, v optionValue) { c.MemoryLimitBytes = v.i }},
	{Name: "maxLookupRedirects", GoName: "MaxLookupRedirects", Scope: "client", Type: OptInteger, Default: "20",
		Doc: "How many lookup redirects are followed.",
		set: func(c *ClientOptions, _ *ProducerOptions, v optionValue) { c.MaxLookupRedirects = int(v.i) }},
	{Name: "initialBackoff", GoName: "InitialBackoff", Scope: "client", Type: OptMilliseconds, Default: "100",
		Doc: "The first delay before reconnecting a producer.",
		set: func(c *ClientOptions, _ *ProducerOptions, v optionValue) { c.InitialBackoff = v.d }},
	{Name: "maxBackoff", GoName: "MaxBackoff", Scope: "client", Type: OptMilliseconds, Default: "60000",
		Doc: "Caps the reconnect delay, which doubles per failure.",
		set: func(c *ClientOptions, _ *ProducerOptions, v optionValue) { c.MaxBackoff = v.d }},
	{Name: "listenerName", GoName: "ListenerName", Scope: "client", Type: OptString, Default: "none",
		Doc: "Asks lookups for a named advertised listener.",
		set: func(c *ClientOptions, _ *ProducerOptions, v optionValue) { c.ListenerName = v.s }},

	{Name: "producerName", GoName: "ProducerName", Scope: "producer", Type: OptString, Default: "assigned by the broker",
		Doc: "The producer's name on the topic; must be unique there.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { p.ProducerName = v.s }},
	{Name: "properties", GoName: "Properties", Scope: "producer", Type: OptStringMap, Default: "none",
		Doc: "String properties attached to the producer, visible in topic stats.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { p.Properties = v.m }},
	{Name: "sendTimeout", GoName: "SendTimeout", Scope: "producer", Type: OptMilliseconds, Default: "30000",
		Doc: "Fails a message not acknowledged in time, and with it every later pending message of its partition; negative disables.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { p.SendTimeout = v.d }},
	{Name: "maxPendingMessages", GoName: "MaxPendingMessages", Scope: "producer", Type: OptInteger, Default: "0 (no bound besides memoryLimitBytes)",
		Doc: "Bounds the messages awaiting acknowledgement per producer.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { p.MaxPendingMessages = int(v.i) }},
	{Name: "blockIfQueueFull", GoName: "BlockIfQueueFull", Scope: "producer", Type: OptBoolean, Default: "false",
		Doc: "Makes a send wait for room instead of failing with ProducerQueueIsFull or MemoryBufferIsFull.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { p.BlockIfQueueFull = v.b }},
	{Name: "disableBatching", GoName: "DisableBatching", Scope: "producer", Type: OptBoolean, Default: "false",
		Doc: "Sends every message as its own entry.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { p.DisableBatching = v.b }},
	{Name: "batchingMaxMessages", GoName: "BatchingMaxMessages", Scope: "producer", Type: OptInteger, Default: "1000",
		Doc: "Closes a batch at this many messages.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { p.BatchingMaxMessages = int(v.i) }},
	{Name: "batchingMaxBytes", GoName: "BatchingMaxBytes", Scope: "producer", Type: OptInteger, Default: "131072",
		Doc: "Closes a batch at this many bytes of messages.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { p.BatchingMaxBytes = int(v.i) }},
	{Name: "batchingMaxPublishDelay", GoName: "BatchingMaxPublishDelay", Scope: "producer", Type: OptMilliseconds, Default: "1",
		Doc: "Sends a batch this long after its first message at the latest.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { p.BatchingMaxPublishDelay = v.d }},
	{Name: "compressionType", GoName: "CompressionType", Scope: "producer", Type: OptEnum, Values: compressionNames, Default: "none",
		Doc: "Compresses each entry.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { p.CompressionType = CompressionType(v.i) }},
	{Name: "initialSequenceId", GoName: "InitialSequenceID", Scope: "producer", Type: OptInteger, Default: "resume after the broker's last stored sequence ID",
		Doc: "The first message gets this sequence ID plus one.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { n := v.i; p.InitialSequenceID = &n }},
	{Name: "routingMode", GoName: "RoutingMode", Scope: "producer", Type: OptEnum, Values: routingNames, Default: "roundRobin",
		Doc: "Picks the partition of keyless messages on a partitioned topic.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { p.RoutingMode = RoutingMode(v.i) }},
	{Name: "hashingScheme", GoName: "HashingScheme", Scope: "producer", Type: OptEnum, Values: hashingNames, Default: "javaStringHash",
		Doc: "Picks the partition of keyed messages.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { p.HashingScheme = HashingScheme(v.i) }},
	{Name: "accessMode", GoName: "AccessMode", Scope: "producer", Type: OptEnum, Values: accessNames, Default: "shared",
		Doc: "Claims shared or exclusive access to the topic.",
		set: func(_ *ClientOptions, p *ProducerOptions, v optionValue) { p.AccessMode = AccessMode(v.i) }},
}

func findOption(name string) (*OptionSpec, error) {
	for i := range OptionTable {
		if OptionTable[i].Name == name {
			return &OptionTable[i], nil
		}
	}
	return nil, Errorf(CodeInvalidConfiguration, "option %q is unknown", name)
}

// ParseOptionsJSON applies a JSON object of options to c and p. An empty
// input applies nothing.
func ParseOptionsJSON(data []byte, c *ClientOptions, p *ProducerOptions) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return Errorf(CodeInvalidConfiguration, "options are not a valid JSON object: %v", err)
	}
	if obj == nil {
		return Errorf(CodeInvalidConfiguration, "options must be a JSON object, not null")
	}
	if dec.More() {
		return Errorf(CodeInvalidConfiguration, "options hold more than one JSON value")
	}
	for name, raw := range obj {
		spec, err := findOption(name)
		if err != nil {
			return err
		}
		v, err := spec.fromJSON(raw)
		if err != nil {
			return err
		}
		spec.set(c, p, v)
	}
	return nil
}

// SetOption applies one option given as a string, the form of the C ABI's
// key/value arrays. Objects are written as JSON.
func SetOption(name, value string, c *ClientOptions, p *ProducerOptions) error {
	spec, err := findOption(name)
	if err != nil {
		return err
	}
	var raw any = value
	switch spec.Type {
	case OptInteger, OptMilliseconds:
		raw = json.Number(strings.TrimSpace(value))
	case OptBoolean:
		switch strings.ToLower(strings.TrimSpace(value)) {
		case "true", "1", "yes":
			raw = true
		case "false", "0", "no":
			raw = false
		}
	case OptStringMap:
		dec := json.NewDecoder(strings.NewReader(value))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			return Errorf(CodeInvalidConfiguration, "option %q must be a JSON object of strings: %v", name, err)
		}
	}
	v, err := spec.fromJSON(raw)
	if err != nil {
		return err
	}
	spec.set(c, p, v)
	return nil
}

func describeJSON(raw any) string {
	switch x := raw.(type) {
	case nil:
		return "null"
	case string:
		return "string " + strconv.Quote(x)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case json.Number:
		return "number " + x.String()
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "an unsupported value"
}

func (s *OptionSpec) fromJSON(raw any) (optionValue, error) {
	var v optionValue
	bad := func(want string) (optionValue, error) {
		return v, Errorf(CodeInvalidConfiguration, "option %q must be %s, got %s", s.Name, want, describeJSON(raw))
	}
	switch s.Type {
	case OptString:
		str, ok := raw.(string)
		if !ok {
			return bad("a string")
		}
		v.s = str
	case OptBoolean:
		b, ok := raw.(bool)
		if !ok {
			return bad("true or false")
		}
		v.b = b
	case OptInteger, OptMilliseconds:
		num, ok := raw.(json.Number)
		if !ok {
			return bad("an integer")
		}
		n, err := strconv.ParseInt(num.String(), 10, 64)
		if err != nil {
			return bad("an integer")
		}
		v.i = n
		if s.Type == OptMilliseconds {
			if n > math.MaxInt64/int64(time.Millisecond) || n < math.MinInt64/int64(time.Millisecond) {
				return bad("a number of milliseconds that fits 64 bits of nanoseconds")
			}
			v.d = time.Duration(n) * time.Millisecond
		}
	case OptEnum:
		str, ok := raw.(string)
		if !ok {
			return bad("one of " + strings.Join(s.Values, ", "))
		}
		for i, name := range s.Values {
			if strings.EqualFold(name, str) {
				v.i = int64(i)
				return v, nil
			}
		}
		return bad("one of " + strings.Join(s.Values, ", "))
	case OptStringMap:
		obj, ok := raw.(map[string]any)
		if !ok {
			return bad("an object of strings")
		}
		v.m = make(map[string]string, len(obj))
		for k, x := range obj {
			str, ok := x.(string)
			if !ok {
				return v, Errorf(CodeInvalidConfiguration, "option %q: the value of %q must be a string, got %s", s.Name, k, describeJSON(x))
			}
			v.m[k] = str
		}
	}
	return v, nil
}
