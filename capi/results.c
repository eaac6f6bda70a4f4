/* results.c - the result table of pp_result_table(). Generated from
 * core/engine/errors.go by `go test ./capi -run TestHeader -update`; do not
 * edit. Plain C data, so that it works before the Go runtime has started
 * and in a forked child. */
#include "pulsar_producer.h"

const pp_result_info ppx_results[] = {
    {PP_OK, "Ok", "none", 0, "success"},
    {PP_ERR_UNKNOWN, "UnknownError", "broker", 0, "the broker reported an unknown error"},
    {PP_ERR_INVALID_CONFIGURATION, "InvalidConfiguration", "usage", 0, "an option is unknown, of the wrong type or out of range"},
    {PP_ERR_TIMEOUT, "Timeout", "network", 1, "the operation did not complete in time"},
    {PP_ERR_LOOKUP, "LookupError", "broker", 1, "the broker could not tell which broker serves the topic"},
    {PP_ERR_CONNECT, "ConnectError", "network", 1, "could not connect to the broker"},
    {PP_ERR_READ, "ReadError", "network", 1, "reading from the broker connection failed"},
    {PP_ERR_AUTHENTICATION, "AuthenticationError", "broker", 0, "the broker rejected the client's credentials"},
    {PP_ERR_AUTHORIZATION, "AuthorizationError", "broker", 0, "the client is not allowed to do this"},
    {PP_ERR_BROKER_METADATA, "BrokerMetadataError", "broker", 1, "the broker failed to update its metadata"},
    {PP_ERR_BROKER_PERSISTENCE, "BrokerPersistenceError", "broker", 1, "the broker failed to persist the message"},
    {PP_ERR_CHECKSUM, "ChecksumError", "network", 1, "a frame's checksum did not match its contents"},
    {PP_ERR_NOT_CONNECTED, "NotConnected", "network", 1, "the producer is not connected to a broker"},
    {PP_ERR_ALREADY_CLOSED, "AlreadyClosed", "usage", 0, "the producer or client is closed"},
    {PP_ERR_INVALID_MESSAGE, "InvalidMessage", "usage", 0, "the message is invalid"},
    {PP_ERR_PRODUCER_NOT_INITIALIZED, "ProducerNotInitialized", "usage", 1, "the producer is not ready yet"},
    {PP_ERR_PRODUCER_BUSY, "ProducerBusy", "broker", 1, "a producer with the same name is already connected"},
    {PP_ERR_TOO_MANY_LOOKUP_REQUESTS, "TooManyLookupRequests", "broker", 1, "the broker is handling too many requests"},
    {PP_ERR_INVALID_TOPIC_NAME, "InvalidTopicName", "usage", 0, "the topic name is invalid"},
    {PP_ERR_INVALID_URL, "InvalidUrl", "usage", 0, "the service URL is invalid"},
    {PP_ERR_SERVICE_UNIT_NOT_READY, "ServiceUnitNotReady", "broker", 1, "the topic is moving between brokers"},
    {PP_ERR_OPERATION_NOT_SUPPORTED, "OperationNotSupported", "usage", 0, "the operation is not supported"},
    {PP_ERR_PRODUCER_BLOCKED_QUOTA_EXCEEDED, "ProducerBlockedQuotaExceededError", "broker", 0, "the producer is blocked: the topic's backlog quota is exceeded"},
    {PP_ERR_PRODUCER_BLOCKED_QUOTA_EXCEEDED_EXCEPTION, "ProducerBlockedQuotaExceededException", "broker", 0, "the broker rejected the producer: the topic's backlog quota is exceeded"},
    {PP_ERR_PRODUCER_QUEUE_IS_FULL, "ProducerQueueIsFull", "usage", 1, "the producer's queue of pending messages is full"},
    {PP_ERR_MESSAGE_TOO_BIG, "MessageTooBig", "usage", 0, "the message is larger than the broker allows"},
    {PP_ERR_TOPIC_NOT_FOUND, "TopicNotFound", "broker", 0, "the topic does not exist"},
    {PP_ERR_UNSUPPORTED_VERSION, "UnsupportedVersionError", "broker", 0, "the broker does not support a required feature"},
    {PP_ERR_TOPIC_TERMINATED, "TopicTerminated", "broker", 0, "the topic was terminated and accepts no more messages"},
    {PP_ERR_INCOMPATIBLE_SCHEMA, "IncompatibleSchema", "broker", 0, "the schema is incompatible with the topic's schema"},
    {PP_ERR_NOT_ALLOWED, "NotAllowedError", "broker", 0, "the broker does not allow this operation"},
    {PP_ERR_PRODUCER_FENCED, "ProducerFenced", "broker", 0, "another producer took exclusive access to the topic"},
    {PP_ERR_MEMORY_BUFFER_IS_FULL, "MemoryBufferIsFull", "usage", 1, "the client's memory limit for pending messages is reached"},
    {PP_ERR_INTERRUPTED, "Interrupted", "usage", 0, "the operation was interrupted or cancelled"},
    {PP_ERR_DISCONNECTED, "Disconnected", "network", 1, "the connection to the broker was lost"},
    {PP_ERR_INVALID_HANDLE, "InvalidHandle", "usage", 0, "the handle is not valid: never issued, already stopped, or of the other kind"},
    {PP_ERR_INVALID_ARGUMENT, "InvalidArgument", "usage", 0, "an argument is invalid"},
    {PP_ERR_BUFFER_TOO_SMALL, "BufferTooSmall", "usage", 0, "the caller's buffer is too small for the result"},
    {PP_ERR_PROTOCOL, "ProtocolError", "network", 1, "the broker sent bytes that break the Pulsar protocol"},
    {PP_ERR_FORKED, "Forked", "usage", 0, "the process was forked after the library started: it cannot run in the child"},
};

const size_t ppx_result_count = sizeof ppx_results / sizeof ppx_results[0];
