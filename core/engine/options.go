// Options: the one table of client and producer settings.
//
// ClientOptions and ProducerOptions are plain structs whose zero values mean
// "the default", so Go callers set only what they change. OptionTable lists
// every setting once, with its name, type, default and meaning; the JSON and
// key/value parsers used by the C ABI, the WASI module and the bindings are
// driven by it, and docs/OPTIONS.md is generated from it. Validation and
// defaulting happen in exactly one place each: ClientOptions.resolve and
// ProducerOptions.resolve.
//
// Names are the same everywhere, only the case differs: the Go field
// BatchingMaxMessages is batchingMaxMessages in JSON, C and Node and
// batching_max_messages in Python. Durations are milliseconds outside Go.
package engine

import (
	"strings"
	"time"
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

func enumName(names []string, i int) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return "invalid(" + itoa(int64(i)) + ")"
}

// ClientOptions configure the connection side, shared by every producer of
// one client.
type ClientOptions struct {
	// ServiceURL is where to find the cluster: pulsar://host:port, or
	// several hosts as pulsar://h1:6650,h2:6650. Required.
	ServiceURL string
	// ConnectionTimeout bounds a TCP connect plus the protocol handshake.
	// Defaults to 10s.
	ConnectionTimeout time.Duration
	// OperationTimeout bounds a lookup or producer registration request.
	// Defaults to 30s.
	OperationTimeout time.Duration
	// KeepAliveInterval is how often an idle connection is probed with a
	// PING; a connection silent for two intervals is declared dead.
	// Defaults to 30s.
	KeepAliveInterval time.Duration
	// MemoryLimitBytes bounds the payload bytes of all pending messages of
	// the client. Defaults to 64 MiB; negative means no limit.
	MemoryLimitBytes int64
	// MaxLookupRedirects bounds how many lookup redirects are followed.
	// Defaults to 20.
	MaxLookupRedirects int
	// InitialBackoff is the first delay before reconnecting a producer.
	// Defaults to 100ms.
	InitialBackoff time.Duration
	// MaxBackoff caps the reconnect delay, which doubles per failure.
	// Defaults to 60s.
	MaxBackoff time.Duration
	// ListenerName asks lookups for a named advertised listener. Defaults
	// to none.
	ListenerName string
	// HostChecksums leaves the CRC32C of every SEND frame zero, for the
	// driver to fill with FillChecksums before writing. A WASI host sets
	// it: the module has no CRC instruction, the host does. Not an option
	// of the other APIs.
	HostChecksums bool
}

// ProducerOptions configure one producer.
type ProducerOptions struct {
	// Topic to publish to, such as persistent://public/default/t or t.
	// Required.
	Topic string
	// ProducerName is the name the broker knows the producer by; it must
	// be unique on the topic. Defaults to a name the broker assigns.
	ProducerName string
	// Properties are attached to the producer, visible in topic stats.
	Properties map[string]string
	// SendTimeout fails a message not acknowledged in time; when it fires,
	// every pending message of that partition fails, in order. Defaults to
	// 30s; negative disables it.
	SendTimeout time.Duration
	// MaxPendingMessages bounds the messages awaiting acknowledgement per
	// producer. Defaults to 0: no bound besides MemoryLimitBytes.
	MaxPendingMessages int
	// BlockIfQueueFull makes a send wait for room instead of failing with
	// ProducerQueueIsFull or MemoryBufferIsFull. Defaults to false.
	BlockIfQueueFull bool
	// DisableBatching sends every message as its own entry. Defaults to
	// false (batching on).
	DisableBatching bool
	// BatchingMaxMessages closes a batch at this many messages. Defaults to
	// 1000.
	BatchingMaxMessages int
	// BatchingMaxBytes closes a batch at this many bytes of messages.
	// Defaults to 131072 (128 KiB).
	BatchingMaxBytes int
	// BatchingMaxPublishDelay sends a batch this long after its first
	// message at the latest. Defaults to 1ms.
	BatchingMaxPublishDelay time.Duration
	// CompressionType compresses each entry. Defaults to none.
	CompressionType CompressionType
	// InitialSequenceID makes the first message's sequence ID
	// InitialSequenceID+1. Defaults to resuming after the broker's last
	// stored sequence ID (deduplication), else starting at 0.
	InitialSequenceID *int64
	// RoutingMode picks the partition of keyless messages on a partitioned
	// topic. Defaults to roundRobin.
	RoutingMode RoutingMode
	// HashingScheme picks the partition of keyed messages. Defaults to
	// javaStringHash.
	HashingScheme HashingScheme
	// AccessMode claims shared or exclusive access. Defaults to shared.
	AccessMode AccessMode
	// Router, when set, picks the partition of every message; it must
	// return an index in [0, numPartitions). Go only.
	Router func(msg *Message, numPartitions int) int
}

// Defaults, in one place.
const (
	DefaultConnectionTimeout       = 10 * time.Second
	DefaultOperationTimeout        = 30 * time.Second
	DefaultKeepAliveInterval       = 30 * time.Second
	DefaultMemoryLimitBytes        = 64 << 20
	DefaultMaxLookupRedirects      = 20
	DefaultInitialBackoff          = 100 * time.Millisecond
	DefaultMaxBackoff              = 60 * time.Second
	DefaultSendTimeout             = 30 * time.Second
	DefaultBatchingMaxMessages     = 1000
	DefaultBatchingMaxBytes        = 128 << 10
	DefaultBatchingMaxPublishDelay = time.Millisecond
)

func configError(name, format string, args ...any) *Error {
	return Errorf(CodeInvalidConfiguration, "option "+name+": "+format, args...)
}

func durationOption(name string, d, def time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return def, nil
	case d < 0:
		return 0, configError(name, "must not be negative, got %v", d)
	case d < time.Millisecond:
		return 0, configError(name, "must be at least 1ms, got %v", d)
	}
	return d, nil
}

// resolve validates the options and fills in defaults.
func (o ClientOptions) resolve() (ClientOptions, []string, error) {
	addrs, err := parseServiceURL(o.ServiceURL)
	if err != nil {
		return o, nil, err
	}
	if o.ConnectionTimeout, err = durationOption("connectionTimeout", o.ConnectionTimeout, DefaultConnectionTimeout); err != nil {
		return o, nil, err
	}
	if o.OperationTimeout, err = durationOption("operationTimeout", o.OperationTimeout, DefaultOperationTimeout); err != nil {
		return o, nil, err
	}
	if o.KeepAliveInterval, err = durationOption("keepAliveInterval", o.KeepAliveInterval, DefaultKeepAliveInterval); err != nil {
		return o, nil, err
	}
	if o.InitialBackoff, err = durationOption("initialBackoff", o.InitialBackoff, DefaultInitialBackoff); err != nil {
		return o, nil, err
	}
	if o.MaxBackoff, err = durationOption("maxBackoff", o.MaxBackoff, DefaultMaxBackoff); err != nil {
		return o, nil, err
	}
	if o.MaxBackoff < o.InitialBackoff {
		return o, nil, configError("maxBackoff", "%v is below initialBackoff %v", o.MaxBackoff, o.InitialBackoff)
	}
	switch {
	case o.MemoryLimitBytes == 0:
		o.MemoryLimitBytes = DefaultMemoryLimitBytes
	case o.MemoryLimitBytes < 0:
		o.MemoryLimitBytes = 0 // no limit
	}
	switch {
	case o.MaxLookupRedirects == 0:
		o.MaxLookupRedirects = DefaultMaxLookupRedirects
	case o.MaxLookupRedirects < 0:
		return o, nil, configError("maxLookupRedirects", "must not be negative, got %d", o.MaxLookupRedirects)
	}
	return o, addrs, nil
}

// resolve validates the options and fills in defaults.
func (o ProducerOptions) resolve() (ProducerOptions, topicName, error) {
	tn, err := parseTopic(o.Topic)
	if err != nil {
		return o, tn, err
	}
	o.Topic = tn.full
	switch {
	case o.SendTimeout == 0:
		o.SendTimeout = DefaultSendTimeout
	case o.SendTimeout < 0:
		o.SendTimeout = -1 // disabled
	case o.SendTimeout < time.Millisecond:
		return o, tn, configError("sendTimeout", "must be at least 1ms, got %v", o.SendTimeout)
	}
	if o.MaxPendingMessages < 0 {
		return o, tn, configError("maxPendingMessages", "must not be negative, got %d", o.MaxPendingMessages)
	}
	switch {
	case o.BatchingMaxMessages == 0:
		o.BatchingMaxMessages = DefaultBatchingMaxMessages
	case o.BatchingMaxMessages < 0 || o.BatchingMaxMessages > 1<<20:
		return o, tn, configError("batchingMaxMessages", "must be between 1 and 1048576, got %d", o.BatchingMaxMessages)
	}
	switch {
	case o.BatchingMaxBytes == 0:
		o.BatchingMaxBytes = DefaultBatchingMaxBytes
	case o.BatchingMaxBytes < 0 || o.BatchingMaxBytes > DefaultMaxMessageSize:
		return o, tn, configError("batchingMaxBytes", "must be between 1 and %d, got %d", DefaultMaxMessageSize, o.BatchingMaxBytes)
	}
	if o.BatchingMaxPublishDelay, err = durationOption("batchingMaxPublishDelay", o.BatchingMaxPublishDelay, DefaultBatchingMaxPublishDelay); err != nil {
		return o, tn, err
	}
	if o.CompressionType < CompressionNone || o.CompressionType > CompressionSnappy {
		return o, tn, configError("compressionType", "unknown value %d", o.CompressionType)
	}
	if o.RoutingMode < RoundRobin || o.RoutingMode > SinglePartition {
		return o, tn, configError("routingMode", "unknown value %d", o.RoutingMode)
	}
	if o.HashingScheme < JavaStringHash || o.HashingScheme > Murmur3Hash {
		return o, tn, configError("hashingScheme", "unknown value %d", o.HashingScheme)
	}
	if o.AccessMode < AccessShared || o.AccessMode > AccessExclusiveWithFencing {
		return o, tn, configError("accessMode", "unknown value %d", o.AccessMode)
	}
	if o.InitialSequenceID != nil && *o.InitialSequenceID < -1 {
		return o, tn, configError("initialSequenceId", "must be -1 or more, got %d", *o.InitialSequenceID)
	}
	for k := range o.Properties {
		if k == "" {
			return o, tn, configError("properties", "a property key is empty")
		}
	}
	if strings.ContainsRune(o.ProducerName, 0) {
		return o, tn, configError("producerName", "contains a NUL character")
	}
	return o, tn, nil
}
