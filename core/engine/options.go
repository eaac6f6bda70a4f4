// Options: the client and producer settings, and their resolution.
//
// ClientOptions and ProducerOptions are plain structs whose zero values mean
// "the default", so Go callers set only what they change. Everything else
// about an option (its name outside Go, type, range, default and meaning)
// is in OptionTable (optiontable.go), the one source that the JSON parser,
// the documentation and the bindings' validators are built from.
// ResolveClientOptions and ResolveProducerOptions validate the structs and
// fill in the defaults from the table; they are pure functions, so a driver
// may call them without creating an engine.
//
// Names are the same everywhere, only the case differs: the Go field
// BatchingMaxMessages is batchingMaxMessages in JSON, C and Node and
// batching_max_messages in Python. Durations are milliseconds outside Go.
package engine

import (
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// CompressionType selects how entries are compressed. The values are the
// protocol's.
type CompressionType int32

const (
	CompressionNone   CompressionType = 0
	CompressionLZ4    CompressionType = 1
	CompressionZLib   CompressionType = 2
	CompressionZSTD   CompressionType = 3
	CompressionSnappy CompressionType = 4
)

var compressionNames = []string{"none", "lz4", "zlib", "zstd", "snappy"}

func (c CompressionType) String() string { return enumName(compressionNames, int(c)) }

// RoutingMode selects the partition of a message that has no key.
type RoutingMode int32

const (
	// RoundRobin spreads messages over all partitions. With batching it
	// stays on one partition for batchingMaxPublishDelay at a time so that
	// batches fill, as the Java client does.
	RoundRobin RoutingMode = 0
	// SinglePartition sends every keyless message to one partition picked
	// at random when the producer starts.
	SinglePartition RoutingMode = 1
)

var routingNames = []string{"roundRobin", "singlePartition"}

func (r RoutingMode) String() string { return enumName(routingNames, int(r)) }

// HashingScheme selects how a message key picks a partition.
type HashingScheme int32

const (
	// JavaStringHash is Java's String.hashCode, the Java client's default.
	JavaStringHash HashingScheme = 0
	// Murmur3Hash is Murmur3 32-bit over the key's UTF-8 bytes.
	Murmur3Hash HashingScheme = 1
)

var hashingNames = []string{"javaStringHash", "murmur3_32Hash"}

func (h HashingScheme) String() string { return enumName(hashingNames, int(h)) }

// AccessMode is the producer's claim on the topic. The values are the
// protocol's.
type AccessMode int32

const (
	AccessShared               AccessMode = 0
	AccessExclusive            AccessMode = 1
	AccessWaitForExclusive     AccessMode = 2
	AccessExclusiveWithFencing AccessMode = 3
)

var accessNames = []string{"shared", "exclusive", "waitForExclusive", "exclusiveWithFencing"}

func (a AccessMode) String() string { return enumName(accessNames, int(a)) }

// ProducerInterceptor sees the messages a Go producer sends: it can add a
// trace ID property, change the key, or refuse a message, and it hears
// every outcome.
type ProducerInterceptor interface {
	// BeforeSend runs on the sending goroutine before the message is
	// queued, with a copy of the message (its Properties map a copy too)
	// that it may change. An error fails the message with that error
	// (Send returns it; SendAsync's callback gets it); a panic fails it
	// the same way.
	BeforeSend(msg *Message) error
	// OnAck runs with the outcome of every message all BeforeSends
	// accepted, its message ID or error, on the callback goroutine before
	// the send's own callback. A panic is logged and ignored.
	OnAck(msg *Message, id MessageID, err error)
}

// LogLevel is the least severe log record a client produces. The zero
// value is LogWarn, the default.
type LogLevel int32

const (
	LogWarn  LogLevel = 0
	LogError LogLevel = 1
	LogInfo  LogLevel = 2
	LogDebug LogLevel = 3
	LogOff   LogLevel = 4
)

var logLevelNames = []string{"warn", "error", "info", "debug", "off"}

func (l LogLevel) String() string { return enumName(logLevelNames, int(l)) }

// Severity orders levels: debug 0, info 1, warn 2, error 3, off 4.
func (l LogLevel) Severity() int {
	switch l {
	case LogDebug:
		return 0
	case LogInfo:
		return 1
	case LogError:
		return 3
	case LogOff:
		return 4
	}
	return 2
}

func enumName(names []string, i int) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return "invalid(" + itoa(int64(i)) + ")"
}

// ClientOptions configure the connection side, shared by every producer of
// one client. The comment of each field repeats its row of OptionTable (a
// test keeps the two equal).
type ClientOptions struct {
	// ServiceURL is where to find the cluster: pulsar://host:port, or
	// several hosts as pulsar://h1:6650,h2:6650. Required.
	ServiceURL string
	// ConnectionTimeout bounds a TCP connect plus the protocol handshake,
	// for each host of the service URL in turn. Defaults to 10000 ms.
	ConnectionTimeout time.Duration
	// OperationTimeout bounds each lookup, producer registration or close
	// request. Defaults to 30000 ms.
	OperationTimeout time.Duration
	// KeepAliveInterval is how often an idle connection is probed with a
	// PING; a connection silent for two intervals is declared dead.
	// Defaults to 30000 ms.
	KeepAliveInterval time.Duration
	// MemoryLimitBytes bounds the payload bytes of all pending messages of
	// the client, over all its producers; negative means no limit.
	// Defaults to 67108864.
	MemoryLimitBytes int64
	// MaxLookupRedirects bounds how many lookup redirects are followed.
	// Defaults to 20.
	MaxLookupRedirects int
	// InitialBackoff is the first delay before reconnecting a producer.
	// Defaults to 100 ms.
	InitialBackoff time.Duration
	// MaxBackoff caps the reconnect delay, which doubles per failure.
	// Defaults to 60000 ms.
	MaxBackoff time.Duration
	// ListenerName asks lookups for a named advertised listener. Defaults
	// to none.
	ListenerName string
	// LogLevel is the least severe log record produced. Defaults to warn.
	LogLevel LogLevel
	// TLSTrustCertsFilePath is a PEM file of the certificate authorities
	// trusted for pulsar+ssl:// connections and the OAuth2 issuer.
	// Defaults to the system's trusted roots.
	TLSTrustCertsFilePath string
	// TLSValidateHostname checks that the broker's certificate is for the
	// host dialed. Defaults to true.
	TLSValidateHostname *bool
	// TLSAllowInsecureConnection accepts any broker certificate,
	// unverified; the client logs a warning once. Defaults to false.
	TLSAllowInsecureConnection bool
	// TLSCertificateFilePath is the client's PEM certificate for mutual
	// TLS, with tlsKeyFilePath. Defaults to none.
	TLSCertificateFilePath string
	// TLSKeyFilePath is the PEM private key of tlsCertificateFilePath.
	// Defaults to none.
	TLSKeyFilePath string
	// AuthToken is a token (JWT) the client authenticates with. Defaults
	// to none.
	AuthToken string
	// AuthTokenFile is a file holding the token, read again for every
	// connection and every challenge of the broker. Defaults to none.
	AuthTokenFile string
	// AuthOAuth2 authenticates with OAuth2 client credentials: issuerUrl,
	// privateKey (a file, file:// or data: URL of JSON with client_id and
	// client_secret), and optional audience and scope; tokens are fetched
	// from the issuer's token endpoint and cached until shortly before
	// they expire. Defaults to none.
	AuthOAuth2 map[string]string
	// TokenSupplier, when set, is called for a token whenever a
	// connection needs credentials or the broker asks for fresh ones. It
	// runs on a library goroutine and must return promptly. Go only.
	TokenSupplier func() (string, error)
	// Logger receives the client's log records (those at LogLevel and
	// above), with the structured fields topic, producer, broker and
	// conn. Go only. Defaults to slog.Default(). The engine only makes the
	// records; the runtime hands them to Logger.
	Logger *slog.Logger
	// HostChecksums leaves the CRC32C of every SEND frame zero, for the
	// driver to fill with FillChecksums before writing. A WASI host sets
	// it: the module has no CRC instruction, the host does. Not an option
	// of the other APIs.
	HostChecksums bool
}

// ProducerOptions configure one producer. The comment of each field
// repeats its row of OptionTable (a test keeps the two equal).
type ProducerOptions struct {
	// Topic to publish to, such as persistent://public/default/t or t.
	// Required.
	Topic string
	// ProducerName is the producer's name on the topic; it must be unique
	// there. Defaults to a name the broker assigns.
	ProducerName string
	// Properties are string properties attached to the producer, visible
	// in topic stats. Defaults to none.
	Properties map[string]string
	// Schema is the schema registered for the producer's values: a type
	// name, or an object with type, name, definition, properties and, for
	// KEY_VALUE, key, value and keyValueEncoding (see docs/SCHEMA.md).
	// Defaults to BYTES (no schema).
	Schema *Schema
	// SendTimeout fails a message not acknowledged in time, and with it
	// every later pending message of its partition; negative disables.
	// Defaults to 30000 ms.
	SendTimeout time.Duration
	// MaxPendingMessages bounds the messages awaiting acknowledgement of
	// the producer; 0 means no bound besides memoryLimitBytes. Defaults to
	// 0.
	MaxPendingMessages int
	// BlockIfQueueFull makes a send wait for room instead of failing with
	// ProducerQueueIsFull or MemoryBufferIsFull. Defaults to false.
	BlockIfQueueFull bool
	// DisableBatching sends every message as its own entry. Defaults to
	// false.
	DisableBatching bool
	// BatchingMaxMessages closes a batch at this many messages. Defaults to
	// 1000.
	BatchingMaxMessages int
	// BatchingMaxBytes closes a batch at this many bytes of messages.
	// Defaults to 131072.
	BatchingMaxBytes int
	// BatchingMaxPublishDelay sends a batch this long after its first
	// message at the latest. Defaults to 1 ms.
	BatchingMaxPublishDelay time.Duration
	// BatcherType chooses one open batch per partition (default) or one
	// per key (keyBased: the ordering key, else the partition key), so that
	// a Key_Shared subscription gets each key's messages on one consumer.
	// Defaults to default.
	BatcherType BatcherType
	// CompressionType compresses each entry. Defaults to none.
	CompressionType CompressionType
	// InitialSequenceID makes the first message's sequence ID this plus
	// one. Defaults to none: with deduplication enabled on the topic, the
	// producer resumes after the broker's last stored sequence ID;
	// otherwise it starts at 0.
	InitialSequenceID *int64
	// RoutingMode picks the partition of keyless messages on a partitioned
	// topic. Defaults to roundRobin.
	RoutingMode RoutingMode
	// HashingScheme picks the partition of keyed messages. Defaults to
	// javaStringHash.
	HashingScheme HashingScheme
	// PartitionsAutoDiscoveryInterval is how often a producer of a
	// partitioned topic reads the partition count again, and starts sending
	// to partitions an admin added. Defaults to 60000 ms.
	PartitionsAutoDiscoveryInterval time.Duration
	// LazyStartPartitionedProducers registers each partition of a
	// partitioned topic on its first message, so that creation does not
	// wait for (or fail on) every partition's broker; a partition that
	// cannot register fails its messages, and its next message tries
	// again. Defaults to false.
	LazyStartPartitionedProducers bool
	// AccessMode claims shared or exclusive access to the topic. Defaults
	// to shared.
	AccessMode AccessMode
	// ChunkingEnabled sends a message too large for one frame in chunks,
	// which consumers reassemble; such a message is never batched.
	// Defaults to false.
	ChunkingEnabled bool
	// ChunkMaxMessageSize bounds each chunk's frame in bytes, metadata
	// included; 0 means the broker's maxMessageSize, which it may not
	// exceed. Defaults to 0.
	ChunkMaxMessageSize int
	// StartupDelay is waited before the first lookup and before each
	// re-registration after a reconnect, with startupJitter. Defaults to
	// 0 ms.
	StartupDelay time.Duration
	// StartupJitter adds a uniform random wait of up to this long to
	// startupDelay, so that producers restarting together spread out.
	// Defaults to 0 ms.
	StartupJitter time.Duration
	// CreateTimeout bounds the whole creation of the producer, including a
	// waitForExclusive producer's wait for the topic; 0 means no bound
	// besides connectionTimeout and operationTimeout for each step.
	// Defaults to 0 ms.
	CreateTimeout time.Duration
	// Router, when set, picks the partition of every message of a
	// partitioned topic; it must return an index in [0, numPartitions).
	// The runtime calls it on the sending goroutine, outside its locks.
	// Go only (the C ABI has pp_producer_set_router).
	Router func(msg *Message, numPartitions int) int
	// Interceptors see every message sent with Send or SendAsync, in
	// order. Go only.
	Interceptors []ProducerInterceptor
}

// ResolveClientOptions validates o and returns it with every default
// filled in, and the broker addresses of its service URL. It is pure: a
// driver may call it to learn what an engine would use.
func ResolveClientOptions(o ClientOptions) (ClientOptions, []string, error) {
	addrs, err := parseServiceURL(o.ServiceURL)
	if err != nil {
		return o, nil, err
	}
	if err := resolveScope(ScopeClient, &o, nil); err != nil {
		return o, nil, err
	}
	if o.MaxBackoff < o.InitialBackoff {
		return o, nil, configError("maxBackoff", "%v is below initialBackoff %v", o.MaxBackoff, o.InitialBackoff)
	}
	if o.MemoryLimitBytes < 0 {
		o.MemoryLimitBytes = -1 // no limit
	}
	if err := checkAuthOptions(&o); err != nil {
		return o, nil, err
	}
	return o, addrs, nil
}

// oauth2Keys are the keys of the authOAuth2 option, and whether each is
// required.
var oauth2Keys = map[string]bool{"issuerUrl": true, "privateKey": true, "audience": false, "scope": false}

// checkAuthOptions checks that at most one way of authenticating is given,
// that authOAuth2 has its keys, and that a client certificate comes with
// its key.
func checkAuthOptions(o *ClientOptions) error {
	var ways []string
	if o.AuthToken != "" {
		ways = append(ways, "authToken")
	}
	if o.AuthTokenFile != "" {
		ways = append(ways, "authTokenFile")
	}
	if o.AuthOAuth2 != nil {
		ways = append(ways, "authOAuth2")
	}
	if o.TokenSupplier != nil {
		ways = append(ways, "TokenSupplier")
	}
	if len(ways) > 1 {
		return configError(ways[1], "set only one way to authenticate, not %s", strings.Join(ways, " and "))
	}
	for k, v := range o.AuthOAuth2 {
		if _, known := oauth2Keys[k]; !known {
			return configError("authOAuth2", "key %q is unknown; the keys are issuerUrl, privateKey, audience and scope", k)
		}
		if v == "" {
			return configError("authOAuth2", "key %q is empty", k)
		}
	}
	if o.AuthOAuth2 != nil {
		for _, k := range []string{"issuerUrl", "privateKey"} {
			if o.AuthOAuth2[k] == "" {
				return configError("authOAuth2", "key %q is required", k)
			}
		}
	}
	if (o.TLSCertificateFilePath == "") != (o.TLSKeyFilePath == "") {
		return configError("tlsCertificateFilePath", "a client certificate needs its key (tlsKeyFilePath), and a key its certificate")
	}
	return nil
}

// ResolveProducerOptions validates o and returns it with every default
// filled in and the topic name completed (persistent://public/default/t).
func ResolveProducerOptions(o ProducerOptions) (ProducerOptions, error) {
	o, _, err := o.resolve()
	return o, err
}

// resolve validates the options and fills in defaults.
func (o ProducerOptions) resolve() (ProducerOptions, topicName, error) {
	tn, err := parseTopic(o.Topic)
	if err != nil {
		return o, tn, err
	}
	o.Topic = tn.full
	if err := resolveScope(ScopeProducer, nil, &o); err != nil {
		return o, tn, err
	}
	if o.SendTimeout < 0 {
		o.SendTimeout = -1 // disabled
	}
	for k := range o.Properties {
		if k == "" {
			return o, tn, configError("properties", "a property key is empty")
		}
	}
	if strings.ContainsRune(o.ProducerName, 0) {
		return o, tn, configError("producerName", "contains a NUL character")
	}
	if !utf8.ValidString(o.ProducerName) {
		return o, tn, configError("producerName", "is not valid UTF-8")
	}
	return o, tn, nil
}

func configError(name, format string, args ...any) *Error {
	return Errorf(CodeInvalidConfiguration, "option "+name+": "+format, args...)
}
