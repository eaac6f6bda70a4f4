// The option table: every client and producer option, once.
//
// Each row names one setting as it is spelled outside Go (camelCase), its
// Go field, scope, type, accepted range, default and meaning. Everything
// else is derived from it: ResolveClientOptions and ResolveProducerOptions
// take their defaults and ranges from it, the JSON and key/value parsers
// (optjson.go) their names and types, docs/OPTIONS.md is generated from it
// (optiondoc.go), and the C ABI hands it to the Python and Node bindings
// (pp_options_json), which check arguments with it before calling the
// library. The service URL and the topic are not options: every API takes
// them as arguments.
package engine

import (
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
	OptSchema       OptionType = "schema"
)

// Scope says which struct an option belongs to.
type Scope string

const (
	ScopeClient   Scope = "client"
	ScopeProducer Scope = "producer"
)

// OptionSpec describes one option.
type OptionSpec struct {
	Name   string     // camelCase: JSON, C and Node
	GoName string     // the Go struct field
	Scope  Scope      // client or producer
	Type   OptionType // the value's type outside Go
	Values []string   // the accepted values of an enum; the first is the zero value
	// Min and Max bound an integer or milliseconds value given explicitly.
	Min, Max int64
	// Negative, when set, says what any negative value means (it is then
	// accepted besides [Min, Max]).
	Negative string
	// Default is the value used when the option is not given: JSON text
	// for numbers, booleans and enums (and what resolution sets), or a
	// description for options without one.
	Default string
	Doc     string
	// Secret marks a value that never appears in an error or log.
	Secret bool
	// DriverOnly marks an option of the runtime (TLS, credentials) that
	// the engine never reads: the WASI host does not send it to the
	// module.
	DriverOnly bool
	// field returns a pointer to the option's Go field in c or p.
	field func(c *ClientOptions, p *ProducerOptions) any
}

// SnakeName is the option's name in Python.
func (s *OptionSpec) SnakeName() string {
	if s.Name == "authOAuth2" {
		return "auth_oauth2" // one word, not auth_o_auth2
	}
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

const (
	maxMillis = math.MaxInt64 / int64(time.Millisecond)
	maxInt32  = math.MaxInt32
)

// OptionTable lists every option, in the order of the structs.
var OptionTable = []OptionSpec{
	{Name: "connectionTimeout", GoName: "ConnectionTimeout", Scope: ScopeClient, Type: OptMilliseconds, Min: 1, Max: maxMillis, Default: "10000",
		Doc:   "Bounds a TCP connect plus the protocol handshake, for each host of the service URL in turn.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.ConnectionTimeout }},
	{Name: "operationTimeout", GoName: "OperationTimeout", Scope: ScopeClient, Type: OptMilliseconds, Min: 1, Max: maxMillis, Default: "30000",
		Doc:   "Bounds each lookup, producer registration or close request.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.OperationTimeout }},
	{Name: "keepAliveInterval", GoName: "KeepAliveInterval", Scope: ScopeClient, Type: OptMilliseconds, Min: 1000, Max: maxMillis, Default: "30000",
		Doc:   "Is how often an idle connection is probed with a PING; a connection silent for two intervals is declared dead.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.KeepAliveInterval }},
	{Name: "memoryLimitBytes", GoName: "MemoryLimitBytes", Scope: ScopeClient, Type: OptInteger, Min: 1, Max: math.MaxInt64, Negative: "no limit", Default: "67108864",
		Doc:   "Bounds the payload bytes of all pending messages of the client, over all its producers; negative means no limit.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.MemoryLimitBytes }},
	{Name: "maxLookupRedirects", GoName: "MaxLookupRedirects", Scope: ScopeClient, Type: OptInteger, Min: 1, Max: 1000, Default: "20",
		Doc:   "Bounds how many lookup redirects are followed.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.MaxLookupRedirects }},
	{Name: "initialBackoff", GoName: "InitialBackoff", Scope: ScopeClient, Type: OptMilliseconds, Min: 1, Max: maxMillis, Default: "100",
		Doc:   "Is the first delay before reconnecting a producer.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.InitialBackoff }},
	{Name: "maxBackoff", GoName: "MaxBackoff", Scope: ScopeClient, Type: OptMilliseconds, Min: 1, Max: maxMillis, Default: "60000",
		Doc:   "Caps the reconnect delay, which doubles per failure.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.MaxBackoff }},
	{Name: "listenerName", GoName: "ListenerName", Scope: ScopeClient, Type: OptString, Default: "none",
		Doc:   "Asks lookups for a named advertised listener.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.ListenerName }},
	{Name: "logLevel", GoName: "LogLevel", Scope: ScopeClient, Type: OptEnum, Values: logLevelNames, Default: "warn",
		Doc:   "Is the least severe log record produced.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.LogLevel }},
	{Name: "tlsTrustCertsFilePath", GoName: "TLSTrustCertsFilePath", Scope: ScopeClient, Type: OptString, Default: "the system's trusted roots", DriverOnly: true,
		Doc:   "Is a PEM file of the certificate authorities trusted for pulsar+ssl:// connections and the OAuth2 issuer.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.TLSTrustCertsFilePath }},
	{Name: "tlsValidateHostname", GoName: "TLSValidateHostname", Scope: ScopeClient, Type: OptBoolean, Default: "true", DriverOnly: true,
		Doc:   "Checks that the broker's certificate is for the host dialed.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.TLSValidateHostname }},
	{Name: "tlsAllowInsecureConnection", GoName: "TLSAllowInsecureConnection", Scope: ScopeClient, Type: OptBoolean, Default: "false", DriverOnly: true,
		Doc:   "Accepts any broker certificate, unverified; the client logs a warning once.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.TLSAllowInsecureConnection }},
	{Name: "tlsCertificateFilePath", GoName: "TLSCertificateFilePath", Scope: ScopeClient, Type: OptString, Default: "none", DriverOnly: true,
		Doc:   "Is the client's PEM certificate for mutual TLS, with tlsKeyFilePath.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.TLSCertificateFilePath }},
	{Name: "tlsKeyFilePath", GoName: "TLSKeyFilePath", Scope: ScopeClient, Type: OptString, Default: "none", DriverOnly: true,
		Doc:   "Is the PEM private key of tlsCertificateFilePath.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.TLSKeyFilePath }},
	{Name: "authToken", GoName: "AuthToken", Scope: ScopeClient, Type: OptString, Default: "none", DriverOnly: true, Secret: true,
		Doc:   "Is a token (JWT) the client authenticates with.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.AuthToken }},
	{Name: "authTokenFile", GoName: "AuthTokenFile", Scope: ScopeClient, Type: OptString, Default: "none", DriverOnly: true,
		Doc:   "Is a file holding the token, read again for every connection and every challenge of the broker.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.AuthTokenFile }},
	{Name: "authOAuth2", GoName: "AuthOAuth2", Scope: ScopeClient, Type: OptStringMap, Default: "none", DriverOnly: true,
		Doc:   "Authenticates with OAuth2 client credentials: issuerUrl, privateKey (a file, file:// or data: URL of JSON with client_id and client_secret), and optional audience and scope; tokens are fetched from the issuer's token endpoint and cached until shortly before they expire.",
		field: func(c *ClientOptions, _ *ProducerOptions) any { return &c.AuthOAuth2 }},

	{Name: "producerName", GoName: "ProducerName", Scope: ScopeProducer, Type: OptString, Default: "a name the broker assigns",
		Doc:   "Is the producer's name on the topic; it must be unique there.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.ProducerName }},
	{Name: "properties", GoName: "Properties", Scope: ScopeProducer, Type: OptStringMap, Default: "none",
		Doc:   "Are string properties attached to the producer, visible in topic stats.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.Properties }},
	{Name: "schema", GoName: "Schema", Scope: ScopeProducer, Type: OptSchema, Default: "BYTES (no schema)",
		Doc:   "Is the schema registered for the producer's values: a type name, or an object with type, name, definition, properties and, for KEY_VALUE, key, value and keyValueEncoding (see docs/SCHEMA.md).",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.Schema }},
	{Name: "sendTimeout", GoName: "SendTimeout", Scope: ScopeProducer, Type: OptMilliseconds, Min: 1, Max: maxMillis, Negative: "disabled", Default: "30000",
		Doc:   "Fails a message not acknowledged in time, and with it every later pending message of its partition; negative disables.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.SendTimeout }},
	{Name: "maxPendingMessages", GoName: "MaxPendingMessages", Scope: ScopeProducer, Type: OptInteger, Min: 0, Max: maxInt32, Default: "0",
		Doc:   "Bounds the messages awaiting acknowledgement of the producer; 0 means no bound besides memoryLimitBytes.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.MaxPendingMessages }},
	{Name: "blockIfQueueFull", GoName: "BlockIfQueueFull", Scope: ScopeProducer, Type: OptBoolean, Default: "false",
		Doc:   "Makes a send wait for room instead of failing with ProducerQueueIsFull or MemoryBufferIsFull.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.BlockIfQueueFull }},
	{Name: "disableBatching", GoName: "DisableBatching", Scope: ScopeProducer, Type: OptBoolean, Default: "false",
		Doc:   "Sends every message as its own entry.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.DisableBatching }},
	{Name: "batchingMaxMessages", GoName: "BatchingMaxMessages", Scope: ScopeProducer, Type: OptInteger, Min: 1, Max: 1 << 20, Default: "1000",
		Doc:   "Closes a batch at this many messages.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.BatchingMaxMessages }},
	{Name: "batchingMaxBytes", GoName: "BatchingMaxBytes", Scope: ScopeProducer, Type: OptInteger, Min: 1, Max: DefaultMaxMessageSize, Default: "131072",
		Doc:   "Closes a batch at this many bytes of messages.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.BatchingMaxBytes }},
	{Name: "batchingMaxPublishDelay", GoName: "BatchingMaxPublishDelay", Scope: ScopeProducer, Type: OptMilliseconds, Min: 1, Max: maxMillis, Default: "1",
		Doc:   "Sends a batch this long after its first message at the latest.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.BatchingMaxPublishDelay }},
	{Name: "batcherType", GoName: "BatcherType", Scope: ScopeProducer, Type: OptEnum, Values: batcherNames, Default: "default",
		Doc:   "Chooses one open batch per partition (default) or one per key (keyBased: the ordering key, else the partition key), so that a Key_Shared subscription gets each key's messages on one consumer.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.BatcherType }},
	{Name: "compressionType", GoName: "CompressionType", Scope: ScopeProducer, Type: OptEnum, Values: compressionNames, Default: "none",
		Doc:   "Compresses each entry.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.CompressionType }},
	{Name: "initialSequenceId", GoName: "InitialSequenceID", Scope: ScopeProducer, Type: OptInteger, Min: -1, Max: math.MaxInt64, Default: "none: with deduplication enabled on the topic, the producer resumes after the broker's last stored sequence ID; otherwise it starts at 0",
		Doc:   "Makes the first message's sequence ID this plus one.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.InitialSequenceID }},
	{Name: "routingMode", GoName: "RoutingMode", Scope: ScopeProducer, Type: OptEnum, Values: routingNames, Default: "roundRobin",
		Doc:   "Picks the partition of keyless messages on a partitioned topic.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.RoutingMode }},
	{Name: "hashingScheme", GoName: "HashingScheme", Scope: ScopeProducer, Type: OptEnum, Values: hashingNames, Default: "javaStringHash",
		Doc:   "Picks the partition of keyed messages.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.HashingScheme }},
	{Name: "partitionsAutoDiscoveryInterval", GoName: "PartitionsAutoDiscoveryInterval", Scope: ScopeProducer, Type: OptMilliseconds, Min: 1000, Max: maxMillis, Negative: "off", Default: "60000",
		Doc:   "Is how often a producer of a partitioned topic reads the partition count again, and starts sending to partitions an admin added.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.PartitionsAutoDiscoveryInterval }},
	{Name: "lazyStartPartitionedProducers", GoName: "LazyStartPartitionedProducers", Scope: ScopeProducer, Type: OptBoolean, Default: "false",
		Doc:   "Registers each partition of a partitioned topic on its first message, so that creation does not wait for (or fail on) every partition's broker; a partition that cannot register fails its messages, and its next message tries again.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.LazyStartPartitionedProducers }},
	{Name: "accessMode", GoName: "AccessMode", Scope: ScopeProducer, Type: OptEnum, Values: accessNames, Default: "shared",
		Doc:   "Claims shared or exclusive access to the topic.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.AccessMode }},
	{Name: "chunkingEnabled", GoName: "ChunkingEnabled", Scope: ScopeProducer, Type: OptBoolean, Default: "false",
		Doc:   "Sends a message too large for one frame in chunks, which consumers reassemble; such a message is never batched.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.ChunkingEnabled }},
	{Name: "chunkMaxMessageSize", GoName: "ChunkMaxMessageSize", Scope: ScopeProducer, Type: OptInteger, Min: 0, Max: maxInt32, Default: "0",
		Doc:   "Bounds each chunk's frame in bytes, metadata included; 0 means the broker's maxMessageSize, which it may not exceed.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.ChunkMaxMessageSize }},
	{Name: "startupDelay", GoName: "StartupDelay", Scope: ScopeProducer, Type: OptMilliseconds, Min: 0, Max: maxMillis, Default: "0",
		Doc:   "Is waited before the first lookup and before each re-registration after a reconnect, with startupJitter.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.StartupDelay }},
	{Name: "startupJitter", GoName: "StartupJitter", Scope: ScopeProducer, Type: OptMilliseconds, Min: 0, Max: maxMillis, Default: "0",
		Doc:   "Adds a uniform random wait of up to this long to startupDelay, so that producers restarting together spread out.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.StartupJitter }},
	{Name: "createTimeout", GoName: "CreateTimeout", Scope: ScopeProducer, Type: OptMilliseconds, Min: 0, Max: maxMillis, Default: "0",
		Doc:   "Bounds the whole creation of the producer, including a waitForExclusive producer's wait for the topic; 0 means no bound besides connectionTimeout and operationTimeout for each step.",
		field: func(_ *ClientOptions, p *ProducerOptions) any { return &p.CreateTimeout }},
}

// FindOption returns the row of the option called name (camelCase).
func FindOption(name string) (*OptionSpec, bool) {
	for i := range OptionTable {
		if OptionTable[i].Name == name {
			return &OptionTable[i], true
		}
	}
	return nil, false
}

// Bool returns a pointer to b, for the options whose Go field is a *bool
// because their default is true.
func Bool(b bool) *bool { return &b }

// getInt reads an integer-like field (integers, durations, enums) and
// whether it is set (nonzero; for a pointer, non-nil).
func getInt(f any) (int64, bool) {
	switch p := f.(type) {
	case *int:
		return int64(*p), *p != 0
	case *int64:
		return *p, *p != 0
	case **int64:
		if *p == nil {
			return 0, false
		}
		return **p, true
	case *time.Duration:
		return int64(*p), *p != 0
	case *CompressionType:
		return int64(*p), true
	case *RoutingMode:
		return int64(*p), true
	case *HashingScheme:
		return int64(*p), true
	case *AccessMode:
		return int64(*p), true
	case *LogLevel:
		return int64(*p), true
	case *BatcherType:
		return int64(*p), true
	}
	panic("engine: option field of unexpected type")
}

// setInt stores n in an integer-like field.
func setInt(f any, n int64) {
	switch p := f.(type) {
	case *int:
		*p = int(n)
	case *int64:
		*p = n
	case **int64:
		*p = &n
	case *time.Duration:
		*p = time.Duration(n)
	case *CompressionType:
		*p = CompressionType(n)
	case *RoutingMode:
		*p = RoutingMode(n)
	case *HashingScheme:
		*p = HashingScheme(n)
	case *AccessMode:
		*p = AccessMode(n)
	case *LogLevel:
		*p = LogLevel(n)
	case *BatcherType:
		*p = BatcherType(n)
	default:
		panic("engine: option field of unexpected type")
	}
}

// unit is how many Go units one unit of the option's outside value is.
func (s *OptionSpec) unit() int64 {
	if s.Type == OptMilliseconds {
		return int64(time.Millisecond)
	}
	return 1
}

// rangeText says which values are accepted, for errors.
func (s *OptionSpec) rangeText() string {
	var t string
	switch {
	case s.Max == math.MaxInt64 || s.Type == OptMilliseconds && s.Max == maxMillis:
		t = "at least " + itoa(s.Min)
	default:
		t = "between " + itoa(s.Min) + " and " + itoa(s.Max)
	}
	if s.Type == OptMilliseconds {
		t += " ms"
	}
	if s.Negative != "" {
		t += ", or negative for " + s.Negative
	}
	return t
}

// checkRange checks an explicit value n, in the option's outside unit.
func (s *OptionSpec) checkRange(n int64) error {
	if n < 0 && s.Negative != "" {
		return nil
	}
	if n < s.Min || n > s.Max {
		return configError(s.Name, "must be %s, got %d", s.rangeText(), n)
	}
	return nil
}

// resolveScope fills defaults into, and checks the ranges of, every option
// of scope in c or p.
func resolveScope(scope Scope, c *ClientOptions, p *ProducerOptions) error {
	for i := range OptionTable {
		s := &OptionTable[i]
		if s.Scope != scope {
			continue
		}
		f := s.field(c, p)
		switch s.Type {
		case OptInteger, OptMilliseconds:
			n, set := getInt(f)
			if !set {
				if def, err := strconv.ParseInt(s.Default, 10, 64); err == nil {
					setInt(f, def*s.unit())
				}
				continue
			}
			if s.Type == OptMilliseconds && n > 0 && n < int64(time.Millisecond) {
				return configError(s.Name, "must be %s, got %v", s.rangeText(), time.Duration(n))
			}
			outside := n / s.unit()
			if n < 0 && outside == 0 {
				outside = -1 // a negative Go duration under a millisecond is still negative
			}
			if err := s.checkRange(outside); err != nil {
				if s.Type == OptMilliseconds {
					return configError(s.Name, "must be %s, got %v", s.rangeText(), time.Duration(n))
				}
				return err
			}
		case OptEnum:
			if n, _ := getInt(f); n < 0 || n >= int64(len(s.Values)) {
				return configError(s.Name, "unknown value %d", n)
			}
		case OptBoolean:
			if p, ok := f.(**bool); ok && *p == nil {
				*p = Bool(s.Default == "true")
			}
		case OptSchema:
			if sc := *f.(**Schema); sc != nil {
				if err := checkSchema(sc, s.Name); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
