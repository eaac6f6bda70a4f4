/*
 * pulsar_producer.h - the C ABI of pulsar-producer, an Apache Pulsar producer.
 *
 * How it works
 * ------------
 * A client (pp_client_start) connects to one Pulsar cluster. Its producers
 * (pp_producer_start, one per topic) share its connections (one per
 * broker), its memory limit and its completion queue. pp_send() queues a
 * message and returns at once; the library batches, publishes and tracks it
 * on its own threads. Each accepted message later yields exactly one
 * completion: its message ID, or an error. Completions of every producer of
 * a client wait in the client's queue until the application takes them, on
 * a thread it chooses:
 *
 *   - pp_poll() runs the delivery callbacks of queued completions on the
 *     calling thread (the librdkafka model), or
 *   - pp_drain() copies queued completions into an array (the model for
 *     language bindings: one call serves thousands of messages).
 *
 * pp_client_event_fd() gives a file descriptor that is readable while
 * completions or log records wait, for event loops (Python's asyncio,
 * Node's libuv) that want to be woken instead of blocking a thread.
 *
 * pp_start() is the one-producer convenience: a client with a single
 * producer, named by the producer's handle, which then also stands for its
 * client in pp_poll(), pp_drain() and pp_pending(); pp_stop() on it stops
 * the client too.
 *
 * The library never runs a callback on a thread of its own, never inside a
 * send, and never while it holds a lock.
 *
 * Threading
 * ---------
 * Every function is thread-safe. Callbacks of one client run one at a time,
 * in completion order: the order of the sends within each partition of a
 * producer (partitions and producers complete independently). From inside
 * a callback you may call any function (pp_flush() waits there as
 * anywhere), except that pp_poll() and pp_drain() called from inside a
 * callback return PP_OK at once, having taken nothing. Do not stop client A
 * from a callback of client B while a callback of B may stop A: each would
 * wait for the other.
 *
 * Ownership
 * ---------
 * Every pointer passed in is borrowed for the duration of the call: the
 * library copies payloads, keys and strings before returning. Pointers the
 * library returns are owned by the library; each function says how long
 * they stay valid. Nothing returned needs to be freed by the caller.
 *
 * Strings
 * -------
 * Strings that carry data (service URL, topic, keys, property keys and
 * values) come with a length, so that a NUL inside them is seen rather than
 * silently cutting them short: pass PP_NTS as the length for a string that
 * ends at its first NUL. A service URL or topic containing a NUL is refused
 * (PP_ERR_INVALID_URL, PP_ERR_INVALID_TOPIC_NAME). Strings must be UTF-8.
 * Option JSON and other strings are NUL-terminated.
 *
 * Errors
 * ------
 * Functions return a pp_result. Those taking `char *errbuf, size_t
 * errbuf_size` also write a message naming the problem into errbuf (always
 * NUL-terminated; a message that does not fit ends in "..." so truncation is
 * never silent). errbuf may be NULL. Results 1-46 have the numbers of the
 * Pulsar C client's pulsar_result; 100 and up are this library's own. Every
 * length and count is checked before anything else happens: a length no
 * buffer can have (such as SIZE_MAX) is PP_ERR_INVALID_ARGUMENT naming the
 * argument, never a crash or a hang.
 *
 * Handles
 * -------
 * Clients and producers are numbers, never pointers. 0 is never valid. A
 * handle that was never issued, was stopped, or is of the other kind (a
 * producer where a client is expected) returns PP_ERR_INVALID_HANDLE from
 * every function, with a message saying which: it cannot crash the process.
 *
 * fork()
 * ------
 * The library runs a Go runtime, whose threads do not survive fork(): in a
 * child process forked after the library was loaded, every function that
 * needs the runtime returns PP_ERR_FORKED at once (it never hangs), and
 * handles inherited from the parent are unusable. Load the library only in
 * the child, or start children with fork() followed by exec() (for Python:
 * the multiprocessing start methods "spawn" or "forkserver").
 */
#ifndef PULSAR_PRODUCER_H
#define PULSAR_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PP_VERSION_MAJOR 1
#define PP_VERSION_MINOR 0
#define PP_VERSION_PATCH 0
/* (major << 16) | (minor << 8) | patch */
#define PP_VERSION ((PP_VERSION_MAJOR << 16) | (PP_VERSION_MINOR << 8) | PP_VERSION_PATCH)
#define PP_VERSION_STR "1.0.0"

/* The length of a string that ends at its first NUL. */
#define PP_NTS ((size_t)-1)

/* The library's version as PP_VERSION encodes it. Compare with PP_VERSION
 * to detect a header/library mismatch. Never blocks. */
int pp_version(void);

/* The library's version as "major.minor.patch". The string is static. */
const char *pp_version_str(void);

/* Results. The kind of each (usage, broker, network) is in pp_result_table. */
typedef enum pp_result {
/* BEGIN GENERATED RESULTS: core/engine/errors.go; `go test ./capi -run TestHeader -update` */
    PP_OK = 0,                                             /* success */
    PP_ERR_UNKNOWN = 1,                                    /* the broker reported an unknown error */
    PP_ERR_INVALID_CONFIGURATION = 2,                      /* an option is unknown, of the wrong type or out of range */
    PP_ERR_TIMEOUT = 3,                                    /* the operation did not complete in time */
    PP_ERR_LOOKUP = 4,                                     /* the broker could not tell which broker serves the topic */
    PP_ERR_CONNECT = 5,                                    /* could not connect to the broker */
    PP_ERR_READ = 6,                                       /* reading from the broker connection failed */
    PP_ERR_AUTHENTICATION = 7,                             /* the broker rejected the client's credentials */
    PP_ERR_AUTHORIZATION = 8,                              /* the client is not allowed to do this */
    PP_ERR_BROKER_METADATA = 10,                           /* the broker failed to update its metadata */
    PP_ERR_BROKER_PERSISTENCE = 11,                        /* the broker failed to persist the message */
    PP_ERR_CHECKSUM = 12,                                  /* a frame's checksum did not match its contents */
    PP_ERR_NOT_CONNECTED = 14,                             /* the producer is not connected to a broker */
    PP_ERR_ALREADY_CLOSED = 15,                            /* the producer or client is closed */
    PP_ERR_INVALID_MESSAGE = 16,                           /* the message is invalid */
    PP_ERR_PRODUCER_NOT_INITIALIZED = 18,                  /* the producer is not ready yet */
    PP_ERR_PRODUCER_BUSY = 19,                             /* a producer with the same name is already connected */
    PP_ERR_TOO_MANY_LOOKUP_REQUESTS = 20,                  /* the broker is handling too many requests */
    PP_ERR_INVALID_TOPIC_NAME = 21,                        /* the topic name is invalid */
    PP_ERR_INVALID_URL = 22,                               /* the service URL is invalid */
    PP_ERR_SERVICE_UNIT_NOT_READY = 23,                    /* the topic is moving between brokers */
    PP_ERR_OPERATION_NOT_SUPPORTED = 24,                   /* the operation is not supported */
    PP_ERR_PRODUCER_BLOCKED_QUOTA_EXCEEDED = 25,           /* the producer is blocked: the topic's backlog quota is exceeded */
    PP_ERR_PRODUCER_BLOCKED_QUOTA_EXCEEDED_EXCEPTION = 26, /* the broker rejected the producer: the topic's backlog quota is exceeded */
    PP_ERR_PRODUCER_QUEUE_IS_FULL = 27,                    /* the producer's queue of pending messages is full */
    PP_ERR_MESSAGE_TOO_BIG = 28,                           /* the message is larger than the broker allows */
    PP_ERR_TOPIC_NOT_FOUND = 29,                           /* the topic does not exist */
    PP_ERR_UNSUPPORTED_VERSION = 32,                       /* the broker does not support a required feature */
    PP_ERR_TOPIC_TERMINATED = 33,                          /* the topic was terminated and accepts no more messages */
    PP_ERR_INCOMPATIBLE_SCHEMA = 35,                       /* the schema is incompatible with the topic's schema */
    PP_ERR_NOT_ALLOWED = 40,                               /* the broker does not allow this operation */
    PP_ERR_PRODUCER_FENCED = 43,                           /* another producer took exclusive access to the topic */
    PP_ERR_MEMORY_BUFFER_IS_FULL = 44,                     /* the client's memory limit for pending messages is reached */
    PP_ERR_INTERRUPTED = 45,                               /* the operation was interrupted or cancelled */
    PP_ERR_DISCONNECTED = 46,                              /* the connection to the broker was lost */
    PP_ERR_INVALID_HANDLE = 100,                           /* the handle is not valid: never issued, already stopped, or of the other kind */
    PP_ERR_INVALID_ARGUMENT = 101,                         /* an argument is invalid */
    PP_ERR_BUFFER_TOO_SMALL = 102,                         /* the caller's buffer is too small for the result */
    PP_ERR_PROTOCOL = 103,                                 /* the broker sent bytes that break the Pulsar protocol */
    PP_ERR_FORKED = 104                                    /* the process was forked after the library started: it cannot run in the child */
/* END GENERATED RESULTS */
} pp_result;

/* The result's stable name in CamelCase, such as "ProducerQueueIsFull"
 * (what bindings name their error classes after). Static string; an unknown
 * code gives "Unknown". Works in a forked child. */
const char *pp_result_name(pp_result result);

/* A one-line description of the result. Static string. Works in a forked
 * child. */
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
 * table is static. Bindings build their error classes from it. Works in a
 * forked child. */
const pp_result_info *pp_result_table(size_t *count);

/* Every option as a JSON array of objects with the keys name (camelCase, as
 * the option JSON takes it), snakeName, goName, scope ("client" or
 * "producer"), type ("string", "integer", "boolean", "milliseconds", "enum"
 * or "object"), values (of an enum), min and max (of an integer or
 * milliseconds: the range of a value given), negative (when any negative
 * value is also accepted: what it means), default and doc. Bindings check
 * names, types and ranges with it. The string is static. */
const char *pp_options_json(void);

/* Where a message was stored. */
typedef struct pp_message_id {
    int64_t ledger_id;
    int64_t entry_id;
    int32_t partition;   /* partition index, -1 for a non-partitioned topic */
    int32_t batch_index; /* index in its batch, -1 when sent alone */
    int32_t batch_size;  /* messages in its batch, 0 when sent alone */
    int32_t flags;       /* PP_ID_* bits */
    /* With PP_ID_CHUNKED, where the message's first chunk is stored
     * (ledger_id and entry_id are the last chunk's); -1 otherwise. */
    int64_t first_chunk_ledger_id;
    int64_t first_chunk_entry_id;
} pp_message_id;

/* flags: the broker's deduplication recognised the message as already
 * stored when it was written again after a reconnect. The broker then says
 * it has the message but not where, so ledger_id and entry_id are -1 (the
 * Java client reports the same); the message is stored exactly once. */
#define PP_ID_DUPLICATE 1

/* flags: the message was sent in chunks (the chunkingEnabled option), as
 * the Java client's chunk message ID: pp_message_id_str() writes the first
 * chunk's ID, a semicolon and the last's, and pp_message_id_serialize()
 * writes MessageIdData with first_chunk_message_id, which the official
 * clients read back. */
#define PP_ID_CHUNKED 2

/* Opaque handles. 0 is never valid. */
typedef uint64_t pp_client;
typedef uint64_t pp_producer;

/*
 * Starts a client for the cluster at `service_url` ("pulsar://host:6650",
 * or several hosts "pulsar://h1:6650,h2:6650", tried in turn until one
 * answers), `url_len` bytes long (or PP_NTS), with client options as a
 * JSON object (NULL or "" for the defaults; names as in docs/OPTIONS.md,
 * for example {"memoryLimitBytes": 1048576, "logLevel": "info"}). A
 * producer option, an unknown option, an option given twice, or a value of
 * the wrong type or out of range fails with PP_ERR_INVALID_CONFIGURATION
 * and a message naming the option. Connects to nothing yet: returns at
 * once. On success writes the handle to *out.
 */
pp_result pp_client_start(const char *service_url, size_t url_len, const char *options_json,
                          pp_client *out, char *errbuf, size_t errbuf_size);

/*
 * Closes the client: every producer is closed (no more sends; open batches
 * go out) and the call waits up to timeout_ms in all for their pending
 * messages, which then fail with PP_ERR_TIMEOUT. No producer may be started
 * afterwards (PP_ERR_ALREADY_CLOSED). The handle stays valid so that the
 * remaining completions can be taken; pp_poll() and pp_drain() return
 * PP_ERR_ALREADY_CLOSED once they have all been taken. Free the handle
 * with pp_client_stop(). Closing twice returns PP_ERR_ALREADY_CLOSED.
 */
pp_result pp_client_close(pp_client client, int timeout_ms, char *errbuf, size_t errbuf_size);

/*
 * Closes the client if pp_client_close() has not (waiting up to timeout_ms
 * for pending messages), wakes every thread waiting in pp_poll() or
 * pp_drain() on it (they return PP_ERR_ALREADY_CLOSED at once), runs the
 * callbacks of every remaining completion on the calling thread, and frees
 * the client and all its producers' handles. The timeout bounds the wait for
 * the broker, not the callbacks: those run to the end however long they
 * take. After pp_client_stop() returns, no callback of the client runs
 * again. May be called from inside a callback of the client. Returns
 * PP_ERR_TIMEOUT if messages had to be failed.
 */
pp_result pp_client_stop(pp_client client, int timeout_ms, char *errbuf, size_t errbuf_size);

/*
 * Writes to *fd a file descriptor that is readable while completions or log
 * records of the client wait to be taken: wait for it with poll(),
 * select(), asyncio's add_reader() or libuv, then call pp_drain() or
 * pp_poll() (and pp_client_logs()) until they return nothing. Taking
 * everything makes it unreadable again. The descriptor belongs to the
 * library: do not read, write or close it. It stays open until the client
 * is stopped.
 */
pp_result pp_client_event_fd(pp_client client, int *fd);

/*
 * A token supplier: writes a token (such as a JWT) into buf, at most `size`
 * bytes, its length into *len, and returns PP_OK. If the token needs more
 * room, set *len to the size needed and return PP_ERR_BUFFER_TOO_SMALL: the
 * library calls again with that much (up to 1 MiB). Any other result fails
 * the connection with PP_ERR_AUTHENTICATION. Called with the user_data given
 * to pp_client_set_token_provider(), on a library thread, one call at a
 * time, never while the library holds a lock: before each new connection's
 * handshake, and when a broker asks for fresh credentials. It must return
 * promptly and must not stop its client.
 */
typedef pp_result (*pp_token_cb)(void *user_data, char *buf, size_t size, size_t *len);

/*
 * Makes cb the source of the client's token (method "token"), for the
 * connections made from now on: set it before starting producers. A client
 * whose options name other credentials (authToken, authTokenFile,
 * authOAuth2) refuses it with PP_ERR_INVALID_CONFIGURATION. The token is
 * never written into an error message or a log record.
 */
pp_result pp_client_set_token_provider(pp_client client, pp_token_cb cb, void *user_data, char *errbuf,
                                       size_t errbuf_size);

/*
 * Starts a producer on `topic` (such as "persistent://public/default/t" or
 * just "t"), `topic_len` bytes long (or PP_NTS), with producer options as a
 * JSON object (NULL or "" for the defaults; a client option is refused).
 * Blocks until the producer is registered with the broker or creation
 * fails. Creation is bounded by the createTimeout option when it is set;
 * otherwise each step is bounded by the client's connectionTimeout and
 * operationTimeout, but a waitForExclusive producer's wait for the topic
 * is not. To be able to cancel creation, use pp_producer_open() and
 * pp_producer_wait() instead. On success writes the handle to *out. On a
 * closed client: PP_ERR_ALREADY_CLOSED.
 */
pp_result pp_producer_start(pp_client client, const char *topic, size_t topic_len,
                            const char *options_json, pp_producer *out, char *errbuf,
                            size_t errbuf_size);

/*
 * As pp_producer_start(), but returns at once, with the handle of a
 * producer still being created (or an error for invalid arguments and
 * options). Wait for it with pp_producer_wait(); sends before it is ready
 * fail with PP_ERR_PRODUCER_NOT_INITIALIZED. Cancel creation with
 * pp_stop() from any thread: waiters then return PP_ERR_INTERRUPTED.
 */
pp_result pp_producer_open(pp_client client, const char *topic, size_t topic_len,
                           const char *options_json, pp_producer *out, char *errbuf,
                           size_t errbuf_size);

/*
 * Waits up to timeout_ms for a producer from pp_producer_open() to be
 * ready. PP_OK: ready. PP_ERR_PRODUCER_NOT_INITIALIZED: still being created
 * after timeout_ms (wait again, or cancel with pp_stop()).
 * PP_ERR_INTERRUPTED: creation was cancelled. Any other result (such as
 * PP_ERR_TIMEOUT for the createTimeout option) is why creation failed, and
 * it is returned at once to every later wait; free the handle with
 * pp_stop(). A producer that is ready returns PP_OK at once.
 */
pp_result pp_producer_wait(pp_producer producer, int timeout_ms, char *errbuf, size_t errbuf_size);

/*
 * The one-producer convenience: starts a client for `service_url` and a
 * producer on `topic`, with client and producer options together in one
 * JSON object, as pp_client_start() and pp_producer_start() do. The
 * producer's handle also stands for its client in pp_poll(), pp_drain(),
 * pp_pending() and pp_flush(); pp_close() and pp_stop() on it close and
 * stop the client too.
 */
pp_result pp_start(const char *service_url, size_t url_len, const char *topic, size_t topic_len,
                   const char *options_json, pp_producer *out, char *errbuf, size_t errbuf_size);

/* As pp_start(), with options as `count` key/value string pairs: numbers
 * and booleans as text ("500", "true"), the properties object as JSON. */
pp_result pp_start_kv(const char *service_url, size_t url_len, const char *topic,
                      size_t topic_len, const char *const *keys, const char *const *values,
                      size_t count, pp_producer *out, char *errbuf, size_t errbuf_size);

/*
 * The delivery callback: called once per accepted message, from pp_poll() or
 * pp_client_stop() (pp_stop() of a pp_start() producer) on the thread that
 * called them. On success result is PP_OK, id points to the message ID and
 * error is NULL; on failure id is NULL and error describes the failure. Both
 * pointers are valid only during the call.
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
 * PP_ERR_INVALID_ARGUMENT (payload NULL with len > 0, or a len no buffer can
 * have), PP_ERR_ALREADY_CLOSED, PP_ERR_PRODUCER_NOT_INITIALIZED,
 * PP_ERR_MESSAGE_TOO_BIG, PP_ERR_PRODUCER_QUEUE_IS_FULL or
 * PP_ERR_MEMORY_BUFFER_IS_FULL (unless the blockIfQueueFull option is set, in
 * which case the call blocks until there is room), or the error that failed
 * the producer for good (such as PP_ERR_PRODUCER_FENCED).
 *
 * A message can be refused at once or fail later with PP_ERR_MESSAGE_TOO_BIG:
 * the broker's limit (maxMessageSize) counts the whole frame, with the
 * message's metadata, and a message that cannot fit is never written.
 */
pp_result pp_send(pp_producer producer, const void *payload, size_t len, pp_delivery_cb cb,
                  void *user_data, char *errbuf, size_t errbuf_size);

/* A message property: key_len and value_len may be PP_NTS. */
typedef struct pp_property {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
} pp_property;

/* A message with its per-message options. Initialize with pp_message_init(),
 * which sets every field to "none"; fields may be added at the end in later
 * versions, and struct_size tells the library which ones the caller knows. */
typedef struct pp_message {
    size_t struct_size;                        /* set by pp_message_init() */
    const void *payload;
    size_t payload_len;
    int null_value;                            /* 1: a tombstone; payload must be empty */
    const char *key;                           /* partition key, NULL for none; "" is an empty key */
    size_t key_len;                            /* PP_NTS (pp_message_init's default): up to the NUL */
    const void *ordering_key;                  /* NULL (or length 0) for none */
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
    const char *value_json;                    /* NULL for none: a value as JSON text, which the producer's
                                                  schema encodes (docs/SCHEMA.md); payload must be empty */
    size_t value_json_len;                     /* PP_NTS (pp_message_init's default): up to the NUL */
    int32_t partition;                         /* -1 (pp_message_init's default): chosen by the router or
                                                  routingMode; else the partition to publish to */
} pp_message;

/* Sets every field of *msg to its default. */
void pp_message_init(pp_message *msg);

/* As pp_send(), for a message with per-message options. Everything msg
 * points to is copied before the call returns. An invalid combination (a
 * null value with a payload, deliver_at and deliver_after together, a
 * negative delay or time, a sequence_id below -1, a value_json and a
 * payload, a value that does not fit the schema) fails with
 * PP_ERR_INVALID_MESSAGE naming the field or the problem; a partition
 * out of range fails with PP_ERR_INVALID_ARGUMENT. */
pp_result pp_send_message(pp_producer producer, const pp_message *msg, pp_delivery_cb cb,
                          void *user_data, char *errbuf, size_t errbuf_size);

/*
 * A custom router: returns the partition of msg, in [0, num_partitions).
 * It runs on the thread that sends, inside the pp_send*() call, before the
 * message is queued and while no library lock is held, for each message of
 * a partitioned topic that has no partition set (never for a plain topic).
 * For pp_send() and pp_send_batch(), msg carries the payload only. It may
 * call pp_producer_partitions(); it must not send or close. A partition out
 * of range fails that message with PP_ERR_INVALID_ARGUMENT (the others of a
 * batch are not affected before it; see *accepted).
 */
typedef int32_t (*pp_router_cb)(void *user_data, const pp_message *msg, int32_t num_partitions);

/* Sets producer's router (NULL cb: route by routingMode again); it applies
 * to messages sent after the call returns. user_data is passed to every
 * call and stays the caller's. */
pp_result pp_producer_set_router(pp_producer producer, pp_router_cb cb, void *user_data, char *errbuf,
                                 size_t errbuf_size);

/* Flags of the batch sends. */
#define PP_SEND_NONBLOCK 1 /* never wait for room, even with blockIfQueueFull */
#define PP_SEND_FLUSH 2    /* send the open batch once the messages are queued */

/*
 * Queues `count` payload-only messages in one call, for callers that pay per
 * call (language bindings). Payload i is lens[i] bytes, stored right after
 * payload i-1 in `data`; user_data[i] (user_data may be NULL) comes back with
 * message i's completion, and cb with every one. Everything is copied before
 * the call returns; nothing is parsed. flags: PP_SEND_* bits, or 0.
 *
 * Every length is checked first (their sum must be a size a buffer can
 * have): a bad one is PP_ERR_INVALID_ARGUMENT naming its index, and nothing
 * is accepted. Then messages are accepted in order until the first that is
 * not: *accepted receives how many were (each followed by exactly one
 * completion), and the result and errbuf describe message *accepted. PP_OK
 * means all were.
 */
pp_result pp_send_batch(pp_producer producer, const void *data, const size_t *lens, size_t count,
                        int flags, pp_delivery_cb cb, void *const *user_data, size_t *accepted,
                        char *errbuf, size_t errbuf_size);

/* As pp_send_batch(), for messages with per-message options: msgs holds
 * `count` pp_message structs, each initialized with pp_message_init() (the
 * array's stride is msgs[0].struct_size). */
pp_result pp_send_messages(pp_producer producer, const pp_message *msgs, size_t count, int flags,
                           pp_delivery_cb cb, void *const *user_data, size_t *accepted,
                           char *errbuf, size_t errbuf_size);

/* How many more messages, and payload bytes, the producer takes before a
 * send blocks or fails with PP_ERR_PRODUCER_QUEUE_IS_FULL or
 * PP_ERR_MEMORY_BUFFER_IS_FULL; -1 means no limit. The byte room is the
 * client's, shared by its producers. 0 and 0 for a producer that is not
 * ready or is closed. Room appears as messages complete, and every
 * completion makes the client's event fd readable. */
pp_result pp_producer_room(pp_producer producer, int64_t *messages, int64_t *bytes);

/*
 * Runs the callbacks of queued completions on the calling thread, in
 * completion order: waits up to timeout_ms (0: do not wait) for the first
 * completion or for new log records (made after the call began), then runs
 * every completion queued at that point. `client` is a client, or a producer from pp_start(). *served (may
 * be NULL) receives the number of completions taken. Completions sent with
 * a NULL callback are taken without a call. A negative timeout is
 * PP_ERR_INVALID_ARGUMENT. Once the client is closed or stopped and every
 * completion has been taken, returns PP_ERR_ALREADY_CLOSED at once, also to
 * a thread waiting in it when that happens.
 */
pp_result pp_poll(pp_client client, int timeout_ms, size_t *served);

/* A completion, as pp_drain() returns it. */
typedef struct pp_completion {
    pp_producer producer; /* whose message it is */
    void *user_data;      /* as given to the send */
    pp_result result;     /* PP_OK, or why the message failed */
    pp_message_id id;     /* valid when result is PP_OK */
    const char *error;    /* NULL on success; valid until the next pp_drain(),
                             pp_poll() or pp_client_stop() on this client */
} pp_completion;

/*
 * Copies up to `capacity` queued completions into out, in completion order,
 * without running callbacks: waits up to timeout_ms (0: do not wait) for
 * the first completion or for new log records (made after the call began:
 * so a count of 0 with PP_OK may mean log records wait, see
 * pp_client_logs()). `client` is a client, or a
 * producer from pp_start(). *count receives the number copied. A negative
 * timeout, or a NULL out with a non-zero capacity, is
 * PP_ERR_INVALID_ARGUMENT. Once the client is closed or stopped and every
 * completion has been taken, returns PP_ERR_ALREADY_CLOSED at once (also to
 * a thread waiting in it when that happens), so a thread draining in a loop
 * can stop.
 */
pp_result pp_drain(pp_client client, pp_completion *out, size_t capacity, int timeout_ms,
                   size_t *count);

/* The number of messages accepted whose completion has not yet been taken
 * by pp_poll(), pp_drain() or pp_client_stop(): of the producer, or of
 * every producer of the client. */
pp_result pp_pending(uint64_t client_or_producer, size_t *pending);

/*
 * Sends every open batch now and waits up to timeout_ms until every message
 * sent before the call has completed: of the producer, or of every producer
 * of the client. It does not run callbacks: their completions are queued
 * for pp_poll() or pp_drain(). Returns PP_ERR_TIMEOUT if messages are still
 * pending after the timeout.
 */
pp_result pp_flush(uint64_t client_or_producer, int timeout_ms, char *errbuf, size_t errbuf_size);

/*
 * Closes the producer: no more sends are accepted, open batches go out, and
 * the call waits up to timeout_ms for every pending message. Messages still
 * pending then fail with PP_ERR_TIMEOUT. The handle stays valid (for
 * pp_producer_stats(), and for a pp_start() producer as its client's
 * handle); free it with pp_stop(). For a pp_start() producer this closes
 * its client too. Closing twice returns PP_ERR_ALREADY_CLOSED.
 */
pp_result pp_close(pp_producer producer, int timeout_ms, char *errbuf, size_t errbuf_size);

/*
 * Closes the producer if pp_close() has not (waiting up to timeout_ms for
 * pending messages; cancelling it if it is still being created) and frees
 * the handle. Its completions stay in its client's queue, for pp_poll() or
 * pp_drain() on the client. For a pp_start() producer, pp_stop() stops the
 * client too, as pp_client_stop() does: the remaining callbacks run on this
 * thread, and afterwards none runs again. Returns PP_ERR_TIMEOUT if messages
 * had to be failed.
 */
pp_result pp_stop(pp_producer producer, int timeout_ms, char *errbuf, size_t errbuf_size);

/* Writes the producer's name (assigned by the broker unless given) into buf,
 * NUL-terminated. *needed (may be NULL) receives the size the name needs,
 * NUL included; a smaller buffer returns PP_ERR_BUFFER_TOO_SMALL. */
pp_result pp_producer_name(pp_producer producer, char *buf, size_t size, size_t *needed);

/* The topic's partition count: 0 for a topic that is not partitioned. */
pp_result pp_producer_partitions(pp_producer producer, int32_t *partitions);

/* Counters of a producer, or of a client (the sums over every producer it
 * has had, plus its connections). Set struct_size to sizeof(pp_stats)
 * before the call: fields may be added at the end in later versions, and
 * the library writes only those the caller knows. Latencies are from a
 * message's send to its receipt, measured per entry from its first
 * message's send, over fixed buckets: each percentile is the upper bound of
 * its bucket (capped at the maximum), at most one bucket above the truth. */
typedef struct pp_stats {
    size_t struct_size;
    int64_t msgs_sent;      /* messages accepted */
    int64_t bytes_sent;     /* their payload bytes */
    int64_t msgs_acked;     /* messages the broker stored */
    int64_t bytes_acked;
    int64_t msgs_failed;    /* messages that failed */
    int64_t bytes_failed;
    int64_t pending_msgs;   /* accepted and not yet completed */
    int64_t pending_bytes;
    int64_t reconnects;     /* times a partition lost its broker and reconnected */
    int64_t latency_count;  /* messages measured */
    int64_t latency_p50_us; /* percentiles, microseconds */
    int64_t latency_p95_us;
    int64_t latency_p99_us;
    int64_t latency_p999_us;
    int64_t latency_max_us;
    int32_t producers;      /* client: producers open now; producer: 0 */
    int32_t connections;    /* client: broker connections open now; producer: 0 */
    int64_t connects;       /* client: connections opened so far; producer: 0 */
} pp_stats;

pp_result pp_producer_stats(pp_producer producer, pp_stats *out);
pp_result pp_client_stats(pp_client client, pp_stats *out);

/* Log levels. */
#define PP_LOG_DEBUG 0
#define PP_LOG_INFO 1
#define PP_LOG_WARN 2
#define PP_LOG_ERROR 3

/* A log record. The client's logLevel option (default "warn") decides which
 * records are made: connections opening and closing, lookup redirects,
 * producer registrations, reconnects with their cause and backoff, fencing,
 * send timeouts and protocol errors. Never per message. Strings are never
 * NULL ("" for a field that does not apply). */
typedef struct pp_log_record {
    int level;                 /* PP_LOG_* */
    int64_t time_ms;           /* when it was made, ms since the epoch */
    const char *message;
    const char *topic;         /* the topic or partition concerned */
    const char *producer_name; /* its producer's name */
    const char *broker;        /* the broker's host:port */
    uint64_t connection;       /* the connection's number, 0 for none */
} pp_log_record;

/* Copies up to `capacity` waiting log records of the client into out,
 * oldest first, without waiting; *count receives how many. Their strings
 * stay valid until the next pp_client_logs() on the client. At most 10000
 * records wait; when more are made before they are taken, the newest are
 * dropped and a record saying how many follows. */
pp_result pp_client_logs(pp_client client, pp_log_record *out, size_t capacity, size_t *count);

/* Writes "ledger:entry:partition[:batch_index]" into buf (NUL-terminated,
 * truncated to size-1 characters) and returns the length of the full string,
 * as snprintf does; for a chunked message (PP_ID_CHUNKED), the first chunk's
 * "ledger:entry:partition", a semicolon, then the last's. Works in a forked
 * child. */
size_t pp_message_id_str(const pp_message_id *id, char *buf, size_t size);

/* Writes the ID as the protocol's MessageIdData bytes, the form the official
 * clients' MessageId.deserialize() reads. *needed receives the byte count; a
 * buffer smaller than that returns PP_ERR_BUFFER_TOO_SMALL. 80 bytes always
 * suffice. */
pp_result pp_message_id_serialize(const pp_message_id *id, void *buf, size_t size, size_t *needed);

/* Reads MessageIdData bytes, as written by pp_message_id_serialize() or an
 * official client. Malformed bytes return PP_ERR_INVALID_ARGUMENT. */
pp_result pp_message_id_deserialize(const void *buf, size_t len, pp_message_id *out);

#ifdef __cplusplus
}
#endif

#endif /* PULSAR_PRODUCER_H */
