/*
 * pulsar_producer.h - the C ABI of pulsar-producer, an Apache Pulsar producer.
 *
 * How it works
 * ------------
 * pp_start() connects to a Pulsar cluster and registers a producer on one
 * topic; it returns an opaque integer handle. pp_send() queues a message and
 * returns at once; the library batches, publishes and tracks it on its own
 * threads. Each accepted message later yields exactly one completion: its
 * message ID, or an error. Completions wait in a per-producer queue until the
 * application takes them, on a thread it chooses:
 *
 *   - pp_poll() runs the delivery callbacks of queued completions on the
 *     calling thread (the librdkafka model), or
 *   - pp_drain() copies queued completions into an array (the model for
 *     language bindings: one call serves thousands of messages).
 *
 * The library never runs a callback on a thread of its own, never inside
 * pp_send(), and never while it holds a lock. pp_stop() flushes, runs the
 * remaining callbacks and frees the handle.
 *
 * Threading
 * ---------
 * Every function is thread-safe. Callbacks of one producer run one at a time,
 * in the order the messages were sent (on a partitioned topic: in send order
 * within each partition; partitions complete independently). From inside a callback you may call
 * any function (pp_flush() waits there as anywhere), except that pp_poll()
 * and pp_drain() called from inside a callback return PP_OK at once, having
 * taken nothing. Do not stop producer A from a callback of producer B while
 * a callback of A may stop B: each would wait for the other.
 *
 * Ownership
 * ---------
 * Every pointer passed in is borrowed for the duration of the call: the
 * library copies payloads, keys and strings before returning. Pointers the
 * library returns are owned by the library; each function says how long
 * they stay valid. Nothing returned needs to be freed by the caller.
 *
 * Errors
 * ------
 * Functions return a pp_result. Those taking `char *errbuf, size_t
 * errbuf_size` also write a message naming the problem into errbuf (always
 * NUL-terminated; a message that does not fit ends in "..." so truncation is
 * never silent). errbuf may be NULL. Results 1-46 have the numbers of the
 * Pulsar C client's pulsar_result; 100 and up are this library's own.
 *
 * Handles
 * -------
 * A pp_producer is a number, never a pointer. 0 is never valid. A handle
 * that was never issued, or was stopped, returns PP_ERR_INVALID_HANDLE from
 * every function: it cannot crash the process.
 */
#ifndef PULSAR_PRODUCER_H
#define PULSAR_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PP_VERSION_MAJOR 0
#define PP_VERSION_MINOR 1
#define PP_VERSION_PATCH 0
/* (major << 16) | (minor << 8) | patch */
#define PP_VERSION ((PP_VERSION_MAJOR << 16) | (PP_VERSION_MINOR << 8) | PP_VERSION_PATCH)
#define PP_VERSION_STR "0.1.0"

/* The library's version as PP_VERSION encodes it. Compare with PP_VERSION
 * to detect a header/library mismatch. Never blocks. */
int pp_version(void);

/* The library's version as "major.minor.patch". The string is static. */
const char *pp_version_str(void);

/* Results. The kind of each (usage, broker, network) is in pp_result_table. */
typedef enum pp_result {
    PP_OK = 0,
    PP_ERR_UNKNOWN = 1,                        /* the broker reported an unknown error */
    PP_ERR_INVALID_CONFIGURATION = 2,          /* an option is unknown, mistyped or out of range */
    PP_ERR_TIMEOUT = 3,                        /* the operation did not complete in time */
    PP_ERR_LOOKUP = 4,                         /* no broker could be found for the topic */
    PP_ERR_CONNECT = 5,                        /* could not connect to the broker */
    PP_ERR_READ = 6,                           /* reading from the broker failed */
    PP_ERR_AUTHENTICATION = 7,                 /* the broker rejected the credentials */
    PP_ERR_AUTHORIZATION = 8,                  /* not allowed to produce to the topic */
    PP_ERR_BROKER_METADATA = 10,               /* the broker failed to update metadata */
    PP_ERR_BROKER_PERSISTENCE = 11,            /* the broker failed to persist the message */
    PP_ERR_CHECKSUM = 12,                      /* a frame checksum did not match */
    PP_ERR_NOT_CONNECTED = 14,                 /* not connected to a broker */
    PP_ERR_ALREADY_CLOSED = 15,                /* the producer is closed */
    PP_ERR_INVALID_MESSAGE = 16,               /* the message is invalid */
    PP_ERR_PRODUCER_NOT_INITIALIZED = 18,      /* the producer is not ready yet */
    PP_ERR_PRODUCER_BUSY = 19,                 /* a producer of the same name is connected */
    PP_ERR_TOO_MANY_LOOKUP_REQUESTS = 20,      /* the broker is overloaded with requests */
    PP_ERR_INVALID_TOPIC_NAME = 21,            /* the topic name is invalid */
    PP_ERR_INVALID_URL = 22,                   /* the service URL is invalid */
    PP_ERR_SERVICE_UNIT_NOT_READY = 23,        /* the topic is moving between brokers */
    PP_ERR_OPERATION_NOT_SUPPORTED = 24,       /* the operation is not supported */
    PP_ERR_PRODUCER_BLOCKED_QUOTA_EXCEEDED = 25,           /* backlog quota exceeded */
    PP_ERR_PRODUCER_BLOCKED_QUOTA_EXCEEDED_EXCEPTION = 26, /* backlog quota exceeded */
    PP_ERR_PRODUCER_QUEUE_IS_FULL = 27,        /* maxPendingMessages reached */
    PP_ERR_MESSAGE_TOO_BIG = 28,               /* larger than the broker allows */
    PP_ERR_TOPIC_NOT_FOUND = 29,               /* the topic does not exist */
    PP_ERR_UNSUPPORTED_VERSION = 32,           /* the broker lacks a required feature */
    PP_ERR_TOPIC_TERMINATED = 33,              /* the topic accepts no more messages */
    PP_ERR_INCOMPATIBLE_SCHEMA = 35,           /* the schema does not match the topic's */
    PP_ERR_NOT_ALLOWED = 40,                   /* the broker does not allow this */
    PP_ERR_PRODUCER_FENCED = 43,               /* another producer took exclusive access */
    PP_ERR_MEMORY_BUFFER_IS_FULL = 44,         /* memoryLimitBytes reached */
    PP_ERR_INTERRUPTED = 45,                   /* the operation was cancelled */
    PP_ERR_DISCONNECTED = 46,                  /* the connection was lost */
    PP_ERR_INVALID_HANDLE = 100,               /* the handle was never issued, or was stopped */
    PP_ERR_INVALID_ARGUMENT = 101,             /* an argument is invalid (NULL, negative, ...) */
    PP_ERR_BUFFER_TOO_SMALL = 102,             /* the caller's buffer is too small */
    PP_ERR_PROTOCOL = 103                      /* the broker broke the Pulsar protocol */
} pp_result;

/* The result's stable name in CamelCase, such as "ProducerQueueIsFull"
 * (what bindings name their error classes after). Static string; an unknown
 * code gives "Unknown". */
const char *pp_result_name(pp_result result);

/* A one-line description of the result. Static string. */
const char *pp_result_description(pp_result result);

/* One row of the result table. */
typedef struct pp_result_info {
    pp_result result;
    const char *name;        /* as pp_result_name() */
    const char *kind;        /* "none", "usage", "broker" or "network": who is at fault */
    int retriable;           /* 1 if retrying the same operation may succeed */
    const char *description; /* as pp_result_description() */
} pp_result_info;

/* Every result, in numeric order; *count receives the number of rows. The
 * table is static. Bindings build their error classes from it. */
const pp_result_info *pp_result_table(size_t *count);

/* Where a message was stored. */
typedef struct pp_message_id {
    int64_t ledger_id;
    int64_t entry_id;
    int32_t partition;   /* partition index, -1 for a non-partitioned topic */
    int32_t batch_index; /* index in its batch, -1 when sent alone */
    int32_t batch_size;  /* messages in its batch, 0 when sent alone */
} pp_message_id;

/* An opaque producer handle. 0 is never a valid handle. */
typedef uint64_t pp_producer;

/*
 * Starts a producer on `topic` (such as "persistent://public/default/t" or
 * just "t") of the cluster at `service_url` ("pulsar://host:6650"), with
 * options given as a JSON object (NULL or "" for the defaults; option names
 * as in docs/OPTIONS.md, for example {"batchingMaxMessages": 500,
 * "compressionType": "lz4"}). An unknown option or a value of the wrong type
 * fails with PP_ERR_INVALID_CONFIGURATION and a message naming the option.
 *
 * Blocks until the producer is registered with the broker or creation fails
 * (bounded by the connectionTimeout and operationTimeout options). On
 * success writes the handle to *out and returns PP_OK.
 */
pp_result pp_start(const char *service_url, const char *topic, const char *options_json,
                   pp_producer *out, char *errbuf, size_t errbuf_size);

/* As pp_start(), with options as `count` key/value string pairs: numbers
 * and booleans as text ("500", "true"), the properties object as JSON. */
pp_result pp_start_kv(const char *service_url, const char *topic, const char *const *keys,
                      const char *const *values, size_t count, pp_producer *out, char *errbuf,
                      size_t errbuf_size);

/*
 * The delivery callback: called once per accepted message, from pp_poll() or
 * pp_stop() on the thread that called them. On success result is PP_OK, id
 * points to the message ID and error is NULL; on failure id is NULL and
 * error describes the failure. Both pointers are valid only during the call.
 */
typedef void (*pp_delivery_cb)(pp_producer producer, pp_result result, const pp_message_id *id,
                               const char *error, void *user_data);

/*
 * Queues a message with `len` bytes of payload. The payload is copied before
 * the call returns. cb (may be NULL) and user_data come back with the
 * message's completion. This path parses nothing.
 *
 * Returns PP_OK if the message was accepted: exactly one completion follows.
 * Any other result means it was not accepted and no completion follows:
 * PP_ERR_INVALID_ARGUMENT (payload NULL with len > 0), PP_ERR_ALREADY_CLOSED,
 * PP_ERR_MESSAGE_TOO_BIG, PP_ERR_PRODUCER_QUEUE_IS_FULL or
 * PP_ERR_MEMORY_BUFFER_IS_FULL (unless the blockIfQueueFull option is set, in
 * which case the call blocks until there is room).
 */
pp_result pp_send(pp_producer producer, const void *payload, size_t len, pp_delivery_cb cb,
                  void *user_data, char *errbuf, size_t errbuf_size);

/* A message property. */
typedef struct pp_property {
    const char *key;
    const char *value;
} pp_property;

/* A message with its per-message options. Initialize with pp_message_init(),
 * which sets every field to "none"; fields may be added at the end in later
 * versions, and struct_size tells the library which ones the caller knows. */
typedef struct pp_message {
    size_t struct_size;                        /* set by pp_message_init() */
    const void *payload;
    size_t payload_len;
    int null_value;                            /* 1: a tombstone; payload must be empty */
    const char *key;                           /* partition key, NULL for none */
    const void *ordering_key;                  /* NULL for none */
    size_t ordering_key_len;
    const pp_property *properties;
    size_t property_count;
    int64_t event_time_ms;                     /* ms since the epoch, 0 for none */
    int64_t deliver_at_ms;                     /* ms since the epoch, 0 for none */
    int64_t deliver_after_ms;                  /* 0 for none */
    int64_t sequence_id;                       /* -1: assigned automatically */
    const char *const *replication_clusters;   /* NULL for the namespace default */
    size_t replication_cluster_count;
    int disable_replication;                   /* 1: keep the message in this cluster */
} pp_message;

/* Sets every field of *msg to its default. */
void pp_message_init(pp_message *msg);

/* As pp_send(), for a message with per-message options. Everything msg
 * points to is copied before the call returns. An invalid combination (a
 * null value with a payload, deliver_at and deliver_after together, a
 * negative delay) fails with PP_ERR_INVALID_MESSAGE. */
pp_result pp_send_message(pp_producer producer, const pp_message *msg, pp_delivery_cb cb,
                          void *user_data, char *errbuf, size_t errbuf_size);

/*
 * Queues `count` payload-only messages in one call, for callers that pay per
 * call (language bindings). Payload i is lens[i] bytes, stored right after
 * payload i-1 in `data`; user_data[i] (user_data may be NULL) comes back with
 * message i's completion, and cb with every one. Everything is copied before
 * the call returns; nothing is parsed.
 *
 * Messages are accepted in order until the first that is not: *accepted
 * receives how many were (each followed by exactly one completion), and the
 * result and errbuf describe message *accepted. PP_OK means all were.
 */
pp_result pp_send_batch(pp_producer producer, const void *data, const size_t *lens, size_t count,
                        pp_delivery_cb cb, void *const *user_data, size_t *accepted, char *errbuf,
                        size_t errbuf_size);

/* As pp_send_batch(), for messages with per-message options: msgs holds
 * `count` pp_message structs, each initialized with pp_message_init() (the
 * array's stride is msgs[0].struct_size). */
pp_result pp_send_messages(pp_producer producer, const pp_message *msgs, size_t count, pp_delivery_cb cb,
                           void *const *user_data, size_t *accepted, char *errbuf, size_t errbuf_size);

/*
 * Runs the callbacks of queued completions on the calling thread, in
 * completion order (send order within a partition): waits up to timeout_ms
 * (0: do not wait) for the first one, then
 * runs every completion queued at that point. *served (may be NULL)
 * receives the number of completions taken. Completions sent with a NULL
 * callback are taken without a call. A negative timeout is
 * PP_ERR_INVALID_ARGUMENT. Once the producer is closed (pp_close) and every
 * completion has been taken, returns PP_ERR_ALREADY_CLOSED at once.
 */
pp_result pp_poll(pp_producer producer, int timeout_ms, size_t *served);

/* A completion, as pp_drain() returns it. */
typedef struct pp_completion {
    void *user_data;   /* as given to pp_send() */
    pp_result result;  /* PP_OK, or why the message failed */
    pp_message_id id;  /* valid when result is PP_OK */
    const char *error; /* NULL on success; valid until the next pp_drain(),
                          pp_poll() or pp_stop() on this producer */
} pp_completion;

/*
 * Copies up to `capacity` queued completions into out, in completion order
 * (send order within a partition),
 * without running callbacks: waits up to timeout_ms (0: do not wait) for the
 * first one. *count receives the number copied. A negative timeout, or a NULL
 * out with a non-zero capacity, is PP_ERR_INVALID_ARGUMENT. Once the producer
 * is closed (pp_close) and every completion has been taken, returns
 * PP_ERR_ALREADY_CLOSED at once, so a thread draining in a loop can stop.
 */
pp_result pp_drain(pp_producer producer, pp_completion *out, size_t capacity, int timeout_ms,
                   size_t *count);

/*
 * Sends every open batch now and waits up to timeout_ms until every message
 * sent before the call has completed. It does not run callbacks: their
 * completions are queued for pp_poll() or pp_drain(). Returns PP_ERR_TIMEOUT
 * if messages are still pending after the timeout.
 */
pp_result pp_flush(pp_producer producer, int timeout_ms, char *errbuf, size_t errbuf_size);

/*
 * Closes the producer: no more sends are accepted, open batches go out, and
 * the call waits up to timeout_ms for every pending message. Messages still
 * pending then fail with PP_ERR_TIMEOUT. The handle stays valid so that the
 * remaining completions can be taken with pp_poll() or pp_drain(); free it
 * with pp_stop(). Closing twice returns PP_ERR_ALREADY_CLOSED.
 */
pp_result pp_close(pp_producer producer, int timeout_ms, char *errbuf, size_t errbuf_size);

/*
 * Closes the producer if pp_close() has not (waiting up to timeout_ms for
 * pending messages), runs the callbacks of every remaining completion on the
 * calling thread, and frees the handle. After pp_stop() returns, no callback
 * of the producer runs again and the handle is invalid. May be called from
 * inside a callback. Returns PP_ERR_TIMEOUT if messages had to be failed.
 */
pp_result pp_stop(pp_producer producer, int timeout_ms, char *errbuf, size_t errbuf_size);

/* The number of messages accepted whose completion has not yet been taken
 * by pp_poll(), pp_drain() or pp_stop(). */
pp_result pp_pending(pp_producer producer, size_t *pending);

/* Writes the producer's name (assigned by the broker unless given) into buf,
 * NUL-terminated. *needed (may be NULL) receives the size the name needs,
 * NUL included; a smaller buffer returns PP_ERR_BUFFER_TOO_SMALL. */
pp_result pp_producer_name(pp_producer producer, char *buf, size_t size, size_t *needed);

/* The topic's partition count: 0 for a topic that is not partitioned. */
pp_result pp_producer_partitions(pp_producer producer, int32_t *partitions);

/* Every option as a JSON array of objects with the keys name (camelCase, as
 * pp_start takes it), snakeName, goName, scope ("client" or "producer"),
 * type ("string", "integer", "boolean", "milliseconds", "enum" or "object"),
 * values (of an enum), default and doc. Bindings check names and types with
 * it. The string is static. */
const char *pp_options_json(void);

/* Writes "ledger:entry:partition[:batch_index]" into buf (NUL-terminated,
 * truncated to size-1 characters) and returns the length of the full string,
 * as snprintf does. */
size_t pp_message_id_str(const pp_message_id *id, char *buf, size_t size);

/* Writes the ID as the protocol's MessageIdData bytes, the form the official
 * clients' MessageId.deserialize() reads. *needed receives the byte count; a
 * buffer smaller than that returns PP_ERR_BUFFER_TOO_SMALL. 32 bytes always
 * suffice. */
pp_result pp_message_id_serialize(const pp_message_id *id, void *buf, size_t size, size_t *needed);

/* Reads MessageIdData bytes, as written by pp_message_id_serialize() or an
 * official client. Malformed bytes return PP_ERR_INVALID_ARGUMENT. */
pp_result pp_message_id_deserialize(const void *buf, size_t len, pp_message_id *out);

#ifdef __cplusplus
}
#endif

#endif /* PULSAR_PRODUCER_H */
