// Errors: one code table for every language.
//
// Every failure the library reports carries a Code. The numbering follows the
// Pulsar C client's pulsar_result where the meaning is the same, so a C
// programmer who knows one knows the other; codes of our own start at 100.
// Each code belongs to one Kind, which says who is at fault: the caller
// (misuse of the API), the broker (it said no), or the network (the path to
// the broker failed, timed out or spoke garbage). The C ABI, Python and Node
// bindings read this table at load time instead of keeping copies of it.
package engine

import (
	"fmt"
)

// Code identifies a kind of failure. Zero is success.
type Code int32

// The codes. Values 0-46 match pulsar_result; 100 and up are ours.
const (
	CodeOK                                    Code = 0
	CodeUnknownError                          Code = 1
	CodeInvalidConfiguration                  Code = 2
	CodeTimeout                               Code = 3
	CodeLookupError                           Code = 4
	CodeConnectError                          Code = 5
	CodeReadError                             Code = 6
	CodeAuthenticationError                   Code = 7
	CodeAuthorizationError                    Code = 8
	CodeBrokerMetadataError                   Code = 10
	CodeBrokerPersistenceError                Code = 11
	CodeChecksumError                         Code = 12
	CodeNotConnected                          Code = 14
	CodeAlreadyClosed                         Code = 15
	CodeInvalidMessage                        Code = 16
	CodeProducerNotInitialized                Code = 18
	CodeProducerBusy                          Code = 19
	CodeTooManyLookupRequests                 Code = 20
	CodeInvalidTopicName                      Code = 21
	CodeInvalidURL                            Code = 22
	CodeServiceUnitNotReady                   Code = 23
	CodeOperationNotSupported                 Code = 24
	CodeProducerBlockedQuotaExceededError     Code = 25
	CodeProducerBlockedQuotaExceededException Code = 26
	CodeProducerQueueIsFull                   Code = 27
	CodeMessageTooBig                         Code = 28
	CodeTopicNotFound                         Code = 29
	CodeUnsupportedVersionError               Code = 32
	CodeTopicTerminated                       Code = 33
	CodeIncompatibleSchema                    Code = 35
	CodeNotAllowedError                       Code = 40
	CodeProducerFenced                        Code = 43
	CodeMemoryBufferIsFull                    Code = 44
	CodeInterrupted                           Code = 45
	CodeDisconnected                          Code = 46

	CodeInvalidHandle   Code = 100
	CodeInvalidArgument Code = 101
	CodeBufferTooSmall  Code = 102
	CodeProtocolError   Code = 103
	CodeForked          Code = 104
)

// Kind says who is at fault for a failure.
type Kind uint8

const (
	// KindNone is the kind of CodeOK.
	KindNone Kind = iota
	// KindUsage: the caller misused the API (bad argument, bad option,
	// closed producer, full queue, oversized message). Retrying the same
	// call unchanged fails the same way.
	KindUsage
	// KindBroker: the broker refused the request.
	KindBroker
	// KindNetwork: the connection failed, timed out, or the peer broke the
	// protocol.
	KindNetwork
)

func (k Kind) String() string {
	switch k {
	case KindUsage:
		return "usage"
	case KindBroker:
		return "broker"
	case KindNetwork:
		return "network"
	}
	return "none"
}

// CodeInfo describes one code. Codes lists them all.
type CodeInfo struct {
	Code        Code
	Name        string
	Kind        Kind
	Retriable   bool // a later retry of the same operation may succeed
	Description string
}

// Codes is the table of every code, in numeric order. Bindings generate
// their exception classes from it.
var Codes = []CodeInfo{
	{CodeOK, "Ok", KindNone, false, "success"},
	{CodeUnknownError, "UnknownError", KindBroker, false, "the broker reported an unknown error"},
	{CodeInvalidConfiguration, "InvalidConfiguration", KindUsage, false, "an option is unknown, of the wrong type or out of range"},
	{CodeTimeout, "Timeout", KindNetwork, true, "the operation did not complete in time"},
	{CodeLookupError, "LookupError", KindBroker, true, "the broker could not tell which broker serves the topic"},
	{CodeConnectError, "ConnectError", KindNetwork, true, "could not connect to the broker"},
	{CodeReadError, "ReadError", KindNetwork, true, "reading from the broker connection failed"},
	{CodeAuthenticationError, "AuthenticationError", KindBroker, false, "the broker rejected the client's credentials"},
	{CodeAuthorizationError, "AuthorizationError", KindBroker, false, "the client is not allowed to do this"},
	{CodeBrokerMetadataError, "BrokerMetadataError", KindBroker, true, "the broker failed to update its metadata"},
	{CodeBrokerPersistenceError, "BrokerPersistenceError", KindBroker, true, "the broker failed to persist the message"},
	{CodeChecksumError, "ChecksumError", KindNetwork, true, "a frame's checksum did not match its contents"},
	{CodeNotConnected, "NotConnected", KindNetwork, true, "the producer is not connected to a broker"},
	{CodeAlreadyClosed, "AlreadyClosed", KindUsage, false, "the producer or client is closed"},
	{CodeInvalidMessage, "InvalidMessage", KindUsage, false, "the message is invalid"},
	{CodeProducerNotInitialized, "ProducerNotInitialized", KindUsage, true, "the producer is not ready yet"},
	{CodeProducerBusy, "ProducerBusy", KindBroker, true, "a producer with the same name is already connected"},
	{CodeTooManyLookupRequests, "TooManyLookupRequests", KindBroker, true, "the broker is handling too many requests"},
	{CodeInvalidTopicName, "InvalidTopicName", KindUsage, false, "the topic name is invalid"},
	{CodeInvalidURL, "InvalidUrl", KindUsage, false, "the service URL is invalid"},
	{CodeServiceUnitNotReady, "ServiceUnitNotReady", KindBroker, true, "the topic is moving between brokers"},
	{CodeOperationNotSupported, "OperationNotSupported", KindUsage, false, "the operation is not supported"},
	{CodeProducerBlockedQuotaExceededError, "ProducerBlockedQuotaExceededError", KindBroker, false, "the producer is blocked: the topic's backlog quota is exceeded"},
	{CodeProducerBlockedQuotaExceededException, "ProducerBlockedQuotaExceededException", KindBroker, false, "the broker rejected the producer: the topic's backlog quota is exceeded"},
	{CodeProducerQueueIsFull, "ProducerQueueIsFull", KindUsage, true, "the producer's queue of pending messages is full"},
	{CodeMessageTooBig, "MessageTooBig", KindUsage, false, "the message is larger than the broker allows"},
	{CodeTopicNotFound, "TopicNotFound", KindBroker, false, "the topic does not exist"},
	{CodeUnsupportedVersionError, "UnsupportedVersionError", KindBroker, false, "the broker does not support a required feature"},
	{CodeTopicTerminated, "TopicTerminated", KindBroker, false, "the topic was terminated and accepts no more messages"},
	{CodeIncompatibleSchema, "IncompatibleSchema", KindBroker, false, "the schema is incompatible with the topic's schema"},
	{CodeNotAllowedError, "NotAllowedError", KindBroker, false, "the broker does not allow this operation"},
	{CodeProducerFenced, "ProducerFenced", KindBroker, false, "another producer took exclusive access to the topic"},
	{CodeMemoryBufferIsFull, "MemoryBufferIsFull", KindUsage, true, "the client's memory limit for pending messages is reached"},
	{CodeInterrupted, "Interrupted", KindUsage, false, "the operation was interrupted or cancelled"},
	{CodeDisconnected, "Disconnected", KindNetwork, true, "the connection to the broker was lost"},
	{CodeInvalidHandle, "InvalidHandle", KindUsage, false, "the handle is not valid: never issued, already stopped, or of the other kind"},
	{CodeInvalidArgument, "InvalidArgument", KindUsage, false, "an argument is invalid"},
	{CodeBufferTooSmall, "BufferTooSmall", KindUsage, false, "the caller's buffer is too small for the result"},
	{CodeProtocolError, "ProtocolError", KindNetwork, true, "the broker sent bytes that break the Pulsar protocol"},
	{CodeForked, "Forked", KindUsage, false, "the process was forked after the library started: it cannot run in the child"},
}

var codeIndex = func() map[Code]int {
	m := make(map[Code]int, len(Codes))
	for i, c := range Codes {
		m[c.Code] = i
	}
	return m
}()

// Info returns the table row of c; an unknown code reads as UnknownError.
func (c Code) Info() CodeInfo {
	if i, ok := codeIndex[c]; ok {
		return Codes[i]
	}
	return CodeInfo{c, fmt.Sprintf("Code(%d)", int32(c)), KindBroker, false, "unknown code"}
}

// String returns the code's name, such as "Timeout".
func (c Code) String() string { return c.Info().Name }

// Error is a failure with its code and a message naming the problem.
type Error struct {
	Code Code
	// Msg says what went wrong in this instance; it may be empty for the
	// sentinel values below.
	Msg string
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return e.Code.String() + ": " + e.Code.Info().Description
	}
	return e.Code.String() + ": " + e.Msg
}

// Is makes errors.Is(err, ErrTimeout) true for every *Error with CodeTimeout.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Msg == "" || t.Msg == e.Msg)
}

// Kind reports who is at fault.
func (e *Error) Kind() Kind { return e.Code.Info().Kind }

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of err: CodeOK for nil, the code of an *Error in
// its chain, and CodeUnknownError for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	for err != nil {
		if e, ok := err.(*Error); ok {
			return e.Code
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			break
		}
		err = u.Unwrap()
	}
	return CodeUnknownError
}

// Sentinels for errors.Is.
var (
	ErrTimeout             = &Error{Code: CodeTimeout}
	ErrAlreadyClosed       = &Error{Code: CodeAlreadyClosed}
	ErrProducerQueueIsFull = &Error{Code: CodeProducerQueueIsFull}
	ErrMemoryBufferIsFull  = &Error{Code: CodeMemoryBufferIsFull}
	ErrMessageTooBig       = &Error{Code: CodeMessageTooBig}
	ErrInvalidMessage      = &Error{Code: CodeInvalidMessage}
	ErrInvalidTopicName    = &Error{Code: CodeInvalidTopicName}
	ErrInvalidURL          = &Error{Code: CodeInvalidURL}
	ErrInvalidConfig       = &Error{Code: CodeInvalidConfiguration}
	ErrConnect             = &Error{Code: CodeConnectError}
	ErrDisconnected        = &Error{Code: CodeDisconnected}
	ErrProtocol            = &Error{Code: CodeProtocolError}
	ErrChecksum            = &Error{Code: CodeChecksumError}
	ErrTopicTerminated     = &Error{Code: CodeTopicTerminated}
	ErrProducerFenced      = &Error{Code: CodeProducerFenced}
	ErrNotReady            = &Error{Code: CodeProducerNotInitialized}
)

// serverErrorCodes maps the broker's ServerError values onto codes.
var serverErrorCodes = map[serverError]Code{
	seUnknownError:         CodeUnknownError,
	seMetadataError:        CodeBrokerMetadataError,
	sePersistenceError:     CodeBrokerPersistenceError,
	seAuthenticationError:  CodeAuthenticationError,
	seAuthorizationError:   CodeAuthorizationError,
	seServiceNotReady:      CodeServiceUnitNotReady,
	seQuotaExceededError:   CodeProducerBlockedQuotaExceededError,
	seQuotaExceededExcept:  CodeProducerBlockedQuotaExceededException,
	seChecksumError:        CodeChecksumError,
	seUnsupportedVersion:   CodeUnsupportedVersionError,
	seTopicNotFound:        CodeTopicNotFound,
	seTooManyRequests:      CodeTooManyLookupRequests,
	seTopicTerminatedError: CodeTopicTerminated,
	seProducerBusy:         CodeProducerBusy,
	seInvalidTopicName:     CodeInvalidTopicName,
	seIncompatibleSchema:   CodeIncompatibleSchema,
	seNotAllowedError:      CodeNotAllowedError,
	seProducerFenced:       CodeProducerFenced,
}

// brokerError turns a broker's error reply into an *Error.
func brokerError(se serverError, msg string) *Error {
	code, ok := serverErrorCodes[se]
	if !ok {
		code = CodeUnknownError
	}
	if msg == "" {
		msg = se.String()
	}
	return &Error{Code: code, Msg: "broker: " + msg}
}

// retriableServerError reports whether re-registering a producer after this
// error may succeed (the Java client's rule: everything except fencing,
// termination, quota and authorization failures).
func retriableServerError(code Code) bool {
	switch code {
	case CodeProducerFenced, CodeTopicTerminated, CodeAuthorizationError,
		CodeAuthenticationError, CodeProducerBlockedQuotaExceededException,
		CodeProducerBlockedQuotaExceededError, CodeIncompatibleSchema,
		CodeInvalidTopicName, CodeNotAllowedError, CodeTopicNotFound:
		return false
	}
	return true
}
