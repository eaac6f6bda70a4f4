// Package core is the native Go Pulsar producer: the sans-I/O protocol
// engine (package engine) driven by sockets, one timer and a few
// goroutines.
//
// How it works: a Client owns one engine behind one mutex. Every call (a
// user's Send, bytes read from a connection, the timer firing) takes the
// mutex, hands the engine the current time and the input, then carries out
// what the engine asks: dials, writes, the next timer, and completions.
// Callbacks run on the client's deliverer goroutine, one at a time, in the
// order of the sends (per partition), never while a library lock is held.
// The runtime itself lives in internal/driver, which the C ABI shares; this
// package is its public face, and every type and constant a Go program
// needs is here, so one import serves.
//
//	client, err := core.NewClient(core.ClientOptions{ServiceURL: "pulsar://127.0.0.1:6650"})
//	producer, err := client.CreateProducer(ctx, core.ProducerOptions{
//		Topic: "my-topic", CompressionType: core.CompressionLZ4, AccessMode: core.AccessExclusive,
//	})
//	id, err := producer.Send(ctx, &core.Message{Payload: []byte("hello")})
package core

import (
	"github.com/pulsar-producer/pulsar-producer/core/engine"
	"github.com/pulsar-producer/pulsar-producer/internal/driver"
)

// The engine's types, so that one import serves.
type (
	ClientOptions   = engine.ClientOptions
	ProducerOptions = engine.ProducerOptions
	Message         = engine.Message
	MessageID       = engine.MessageID
	Error           = engine.Error
	Code            = engine.Code
	Kind            = engine.Kind
	CompressionType = engine.CompressionType
	RoutingMode     = engine.RoutingMode
	HashingScheme   = engine.HashingScheme
	AccessMode      = engine.AccessMode
	BatcherType     = engine.BatcherType
	LogLevel        = engine.LogLevel
	ProducerStats   = engine.ProducerStats
	ClientStats     = engine.ClientStats
	Latency         = engine.Latency
	// Schemas and the values they encode (docs/SCHEMA.md).
	Schema              = engine.Schema
	SchemaType          = engine.SchemaType
	KeyValueEncoding    = engine.KeyValueEncoding
	KeyValue            = engine.KeyValue
	ValueJSON           = engine.ValueJSON
	ProducerInterceptor = engine.ProducerInterceptor
	// Engine is the protocol engine as the runtime drives it: the native
	// engine, or one that lives elsewhere (the WASI host's module).
	Engine = driver.Engine
)

// Option values.
const (
	CompressionNone   = engine.CompressionNone
	CompressionLZ4    = engine.CompressionLZ4
	CompressionZLib   = engine.CompressionZLib
	CompressionZSTD   = engine.CompressionZSTD
	CompressionSnappy = engine.CompressionSnappy

	RoundRobin      = engine.RoundRobin
	SinglePartition = engine.SinglePartition

	JavaStringHash = engine.JavaStringHash
	Murmur3Hash    = engine.Murmur3Hash

	DefaultBatcher  = engine.DefaultBatcher
	KeyBasedBatcher = engine.KeyBasedBatcher

	AccessShared               = engine.AccessShared
	AccessExclusive            = engine.AccessExclusive
	AccessWaitForExclusive     = engine.AccessWaitForExclusive
	AccessExclusiveWithFencing = engine.AccessExclusiveWithFencing

	LogWarn  = engine.LogWarn
	LogError = engine.LogError
	LogInfo  = engine.LogInfo
	LogDebug = engine.LogDebug
	LogOff   = engine.LogOff

	SchemaBytes          = engine.SchemaBytes
	SchemaString         = engine.SchemaString
	SchemaJSON           = engine.SchemaJSON
	SchemaProtobuf       = engine.SchemaProtobuf
	SchemaAvro           = engine.SchemaAvro
	SchemaBoolean        = engine.SchemaBoolean
	SchemaInt8           = engine.SchemaInt8
	SchemaInt16          = engine.SchemaInt16
	SchemaInt32          = engine.SchemaInt32
	SchemaInt64          = engine.SchemaInt64
	SchemaFloat          = engine.SchemaFloat
	SchemaDouble         = engine.SchemaDouble
	SchemaDate           = engine.SchemaDate
	SchemaTime           = engine.SchemaTime
	SchemaTimestamp      = engine.SchemaTimestamp
	SchemaKeyValue       = engine.SchemaKeyValue
	SchemaInstant        = engine.SchemaInstant
	SchemaLocalDate      = engine.SchemaLocalDate
	SchemaLocalTime      = engine.SchemaLocalTime
	SchemaLocalDateTime  = engine.SchemaLocalDateTime
	SchemaProtobufNative = engine.SchemaProtobufNative
	KeyValueInline       = engine.KeyValueInline
	KeyValueSeparated    = engine.KeyValueSeparated

	// Who is at fault for an error (Error.Kind).
	KindUsage   = engine.KindUsage
	KindBroker  = engine.KindBroker
	KindNetwork = engine.KindNetwork
)

// Result codes (engine.Codes has each one's name, kind and meaning).
const (
	CodeOK                                    = engine.CodeOK
	CodeUnknownError                          = engine.CodeUnknownError
	CodeInvalidConfiguration                  = engine.CodeInvalidConfiguration
	CodeTimeout                               = engine.CodeTimeout
	CodeLookupError                           = engine.CodeLookupError
	CodeConnectError                          = engine.CodeConnectError
	CodeReadError                             = engine.CodeReadError
	CodeAuthenticationError                   = engine.CodeAuthenticationError
	CodeAuthorizationError                    = engine.CodeAuthorizationError
	CodeBrokerMetadataError                   = engine.CodeBrokerMetadataError
	CodeBrokerPersistenceError                = engine.CodeBrokerPersistenceError
	CodeChecksumError                         = engine.CodeChecksumError
	CodeNotConnected                          = engine.CodeNotConnected
	CodeAlreadyClosed                         = engine.CodeAlreadyClosed
	CodeInvalidMessage                        = engine.CodeInvalidMessage
	CodeProducerNotInitialized                = engine.CodeProducerNotInitialized
	CodeProducerBusy                          = engine.CodeProducerBusy
	CodeTooManyLookupRequests                 = engine.CodeTooManyLookupRequests
	CodeInvalidTopicName                      = engine.CodeInvalidTopicName
	CodeInvalidURL                            = engine.CodeInvalidURL
	CodeServiceUnitNotReady                   = engine.CodeServiceUnitNotReady
	CodeOperationNotSupported                 = engine.CodeOperationNotSupported
	CodeProducerBlockedQuotaExceededError     = engine.CodeProducerBlockedQuotaExceededError
	CodeProducerBlockedQuotaExceededException = engine.CodeProducerBlockedQuotaExceededException
	CodeProducerQueueIsFull                   = engine.CodeProducerQueueIsFull
	CodeMessageTooBig                         = engine.CodeMessageTooBig
	CodeTopicNotFound                         = engine.CodeTopicNotFound
	CodeUnsupportedVersionError               = engine.CodeUnsupportedVersionError
	CodeTopicTerminated                       = engine.CodeTopicTerminated
	CodeIncompatibleSchema                    = engine.CodeIncompatibleSchema
	CodeNotAllowedError                       = engine.CodeNotAllowedError
	CodeProducerFenced                        = engine.CodeProducerFenced
	CodeMemoryBufferIsFull                    = engine.CodeMemoryBufferIsFull
	CodeInterrupted                           = engine.CodeInterrupted
	CodeDisconnected                          = engine.CodeDisconnected
	CodeInvalidHandle                         = engine.CodeInvalidHandle
	CodeInvalidArgument                       = engine.CodeInvalidArgument
	CodeBufferTooSmall                        = engine.CodeBufferTooSmall
	CodeProtocolError                         = engine.CodeProtocolError
)

// Sentinel errors for errors.Is: errors.Is(err, core.ErrTimeout) holds for
// every error with CodeTimeout.
var (
	ErrTimeout             = engine.ErrTimeout
	ErrAlreadyClosed       = engine.ErrAlreadyClosed
	ErrProducerQueueIsFull = engine.ErrProducerQueueIsFull
	ErrMemoryBufferIsFull  = engine.ErrMemoryBufferIsFull
	ErrMessageTooBig       = engine.ErrMessageTooBig
	ErrInvalidMessage      = engine.ErrInvalidMessage
	ErrInvalidTopicName    = engine.ErrInvalidTopicName
	ErrInvalidURL          = engine.ErrInvalidURL
	ErrInvalidConfig       = engine.ErrInvalidConfig
	ErrConnect             = engine.ErrConnect
	ErrDisconnected        = engine.ErrDisconnected
	ErrProtocol            = engine.ErrProtocol
	ErrChecksum            = engine.ErrChecksum
	ErrTopicTerminated     = engine.ErrTopicTerminated
	ErrProducerFenced      = engine.ErrProducerFenced
	ErrNotReady            = engine.ErrNotReady
)

// CodeOf returns the code of err: CodeOK for nil, the code of an *Error in
// its chain, and CodeUnknownError for anything else.
func CodeOf(err error) Code { return engine.CodeOf(err) }

// Bool returns a pointer to b, for the options whose Go field is a *bool
// because their default is true (TLSValidateHostname).
func Bool(b bool) *bool { return engine.Bool(b) }
