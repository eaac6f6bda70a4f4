/*
 * pp.c - the public C functions of pulsar-producer.
 *
 * Each pp_* function that needs the Go runtime forwards to its ppgo_*
 * export in Go, casting away the const the header promises (cgo's
 * generated prototypes have none). Functions that need no runtime (the
 * result table, pp_message_init, pp_message_id_str) are plain C here, so
 * that they work anywhere, even in a forked child.
 *
 * fork(): the Go runtime's threads do not survive it, and a call into Go in
 * the child may wait forever for a lock a vanished thread held. A
 * pthread_atfork handler marks the child; from then on every forwarding
 * function returns PP_ERR_FORKED before it enters Go.
 *
 * The callback trampoline lives here too: Go cannot call a C function
 * pointer, and the thread-locals it maintains tell the Go side whether the
 * calling thread is inside a callback, and of which client.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "pulsar_producer.h"
#include "_cgo_export.h"

static volatile int ppx_forked;

static void ppx_mark_child(void) { ppx_forked = 1; }

__attribute__((constructor)) static void ppx_init(void) { pthread_atfork(NULL, NULL, ppx_mark_child); }

static const char ppx_forked_text[] =
    "Forked: this process was forked after libpulsar_producer started; the Go runtime inside it "
    "does not survive fork(), so the library cannot be used in the child. Load the library only "
    "in the child, or start children with exec (in Python, the multiprocessing start methods "
    "'spawn' or 'forkserver').";

/* forked writes the fork error into errbuf and returns PP_ERR_FORKED. */
static pp_result forked(char *errbuf, size_t size) {
    if (errbuf && size > 0) {
        size_t n = strlen(ppx_forked_text);
        if (n >= size) {
            n = size - 1;
        }
        memcpy(errbuf, ppx_forked_text, n);
        errbuf[n] = 0;
    }
    return PP_ERR_FORKED;
}

#define PP_GUARD(errbuf, size)                                                                    \
    do {                                                                                          \
        if (ppx_forked) return forked((errbuf), (size));                                          \
    } while (0)

static __thread int ppx_depth;
static __thread pp_client ppx_current;

int ppx_in_callback(void) { return ppx_depth > 0; }

pp_client ppx_serving(void) { return ppx_current; }

void ppx_call(uintptr_t cb, pp_client client, pp_producer p, pp_result r, const pp_message_id *id,
              const char *err, uintptr_t ud) {
    pp_client outer = ppx_current;
    ppx_depth++;
    ppx_current = client;
    ((pp_delivery_cb)cb)(p, r, id, err, (void *)ud);
    ppx_current = outer;
    ppx_depth--;
}

pp_result ppx_call_token(uintptr_t cb, uintptr_t ud, char *buf, size_t size, size_t *len) {
    return ((pp_token_cb)cb)((void *)ud, buf, size, len);
}

int32_t ppx_call_router(uintptr_t cb, uintptr_t ud, const pp_message *msg, int32_t n) {
    return ((pp_router_cb)cb)((void *)ud, msg, n);
}

/* The message a router sees for a payload-only send. */
int32_t ppx_call_router_payload(uintptr_t cb, uintptr_t ud, uintptr_t payload, size_t len, int32_t n) {
    pp_message m;
    pp_message_init(&m);
    m.payload = (const void *)payload;
    m.payload_len = len;
    return ((pp_router_cb)cb)((void *)ud, &m, n);
}

pp_result pp_producer_set_router(pp_producer producer, pp_router_cb cb, void *user_data, char *errbuf,
                                 size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_producer_set_router(producer, (uintptr_t)cb, (uintptr_t)user_data, errbuf,
                                               errbuf_size);
}

int pp_version(void) { return PP_VERSION; }

const char *pp_version_str(void) { return PP_VERSION_STR; }

/* The result table (results.c, generated from core/engine/errors.go). */
extern const pp_result_info ppx_results[];
extern const size_t ppx_result_count;

const pp_result_info *pp_result_table(size_t *count) {
    if (count) *count = ppx_result_count;
    return ppx_results;
}

static const pp_result_info *find_result(pp_result result) {
    for (size_t i = 0; i < ppx_result_count; i++) {
        if (ppx_results[i].result == result) return &ppx_results[i];
    }
    return NULL;
}

const char *pp_result_name(pp_result result) {
    const pp_result_info *r = find_result(result);
    return r ? r->name : "Unknown";
}

const char *pp_result_description(pp_result result) {
    const pp_result_info *r = find_result(result);
    return r ? r->description : "unknown result code";
}

const char *pp_options_json(void) {
    if (ppx_forked) return "[]";
    return ppgo_options_json();
}

void pp_message_init(pp_message *msg) {
    if (!msg) return;
    memset(msg, 0, sizeof *msg);
    msg->struct_size = sizeof *msg;
    msg->key_len = PP_NTS;
    msg->sequence_id = -1;
    msg->value_json_len = PP_NTS;
    msg->partition = -1;
}

size_t pp_message_id_str(const pp_message_id *id, char *buf, size_t size) {
    char tmp[192];
    int n = 0;
    if (!id) {
        if (buf && size > 0) buf[0] = 0;
        return 0;
    }
    if (id->flags & PP_ID_CHUNKED) {
        n = snprintf(tmp, sizeof tmp, "%lld:%lld:%d;", (long long)id->first_chunk_ledger_id,
                     (long long)id->first_chunk_entry_id, (int)id->partition);
        if (n < 0) n = 0;
    }
    if (id->batch_index >= 0) {
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, "%lld:%lld:%d:%d", (long long)id->ledger_id,
                      (long long)id->entry_id, (int)id->partition, (int)id->batch_index);
    } else {
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, "%lld:%lld:%d", (long long)id->ledger_id,
                      (long long)id->entry_id, (int)id->partition);
    }
    if (n < 0) n = 0;
    if (buf && size > 0) {
        size_t k = (size_t)n < size ? (size_t)n : size - 1;
        memcpy(buf, tmp, k);
        buf[k] = 0;
    }
    return (size_t)n;
}

pp_result pp_client_start(const char *service_url, size_t url_len, const char *options_json,
                          pp_client *out, char *errbuf, size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_client_start((char *)service_url, url_len, (char *)options_json, out, errbuf,
                                        errbuf_size);
}

pp_result pp_client_close(pp_client client, int timeout_ms, char *errbuf, size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_client_close(client, timeout_ms, errbuf, errbuf_size);
}

pp_result pp_client_stop(pp_client client, int timeout_ms, char *errbuf, size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_client_stop(client, timeout_ms, errbuf, errbuf_size);
}

pp_result pp_client_set_token_provider(pp_client client, pp_token_cb cb, void *user_data, char *errbuf,
                                       size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_client_set_token_provider(client, (uintptr_t)cb, (uintptr_t)user_data, errbuf,
                                                     errbuf_size);
}

pp_result pp_client_event_fd(pp_client client, int *fd) {
    PP_GUARD(NULL, 0);
    return (pp_result)ppgo_client_event_fd(client, fd);
}

pp_result pp_producer_start(pp_client client, const char *topic, size_t topic_len,
                            const char *options_json, pp_producer *out, char *errbuf,
                            size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_producer_start(client, (char *)topic, topic_len, (char *)options_json, out, 1,
                                          errbuf, errbuf_size);
}

pp_result pp_producer_open(pp_client client, const char *topic, size_t topic_len,
                           const char *options_json, pp_producer *out, char *errbuf,
                           size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_producer_start(client, (char *)topic, topic_len, (char *)options_json, out, 0,
                                          errbuf, errbuf_size);
}

pp_result pp_producer_wait(pp_producer producer, int timeout_ms, char *errbuf, size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_producer_wait(producer, timeout_ms, errbuf, errbuf_size);
}

pp_result pp_start(const char *service_url, size_t url_len, const char *topic, size_t topic_len,
                   const char *options_json, pp_producer *out, char *errbuf, size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_start((char *)service_url, url_len, (char *)topic, topic_len, (char *)options_json,
                                 NULL, NULL, 0, 0, out, errbuf, errbuf_size);
}

pp_result pp_start_kv(const char *service_url, size_t url_len, const char *topic,
                      size_t topic_len, const char *const *keys, const char *const *values,
                      size_t count, pp_producer *out, char *errbuf, size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_start((char *)service_url, url_len, (char *)topic, topic_len, NULL, (char **)keys,
                                 (char **)values, count, 1, out, errbuf, errbuf_size);
}

pp_result pp_send(pp_producer producer, const void *payload, size_t len, pp_delivery_cb cb,
                  void *user_data, char *errbuf, size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_send(producer, (uintptr_t)payload, len, (uintptr_t)cb, (uintptr_t)user_data, errbuf,
                                errbuf_size);
}

pp_result pp_send_message(pp_producer producer, const pp_message *msg, pp_delivery_cb cb,
                          void *user_data, char *errbuf, size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_send_messages(producer, (uintptr_t)msg, 1, 0, (uintptr_t)cb, (uintptr_t)user_data, 1,
                                         NULL, errbuf, errbuf_size);
}

pp_result pp_send_batch(pp_producer producer, const void *data, const size_t *lens, size_t count,
                        int flags, pp_delivery_cb cb, void *const *user_data, size_t *accepted,
                        char *errbuf, size_t errbuf_size) {
    if (accepted) *accepted = 0;
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_send_batch(producer, (uintptr_t)data, (size_t *)lens, count, flags, (uintptr_t)cb,
                                      (uintptr_t *)user_data, accepted, errbuf, errbuf_size);
}

pp_result pp_send_messages(pp_producer producer, const pp_message *msgs, size_t count, int flags,
                           pp_delivery_cb cb, void *const *user_data, size_t *accepted,
                           char *errbuf, size_t errbuf_size) {
    if (accepted) *accepted = 0;
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_send_messages(producer, (uintptr_t)msgs, count, flags, (uintptr_t)cb,
                                         (uintptr_t)user_data, 0, accepted, errbuf, errbuf_size);
}

pp_result pp_producer_room(pp_producer producer, int64_t *messages, int64_t *bytes) {
    PP_GUARD(NULL, 0);
    return (pp_result)ppgo_producer_room(producer, messages, bytes);
}

pp_result pp_poll(pp_client client, int timeout_ms, size_t *served) {
    if (served) *served = 0;
    PP_GUARD(NULL, 0);
    return (pp_result)ppgo_poll(client, timeout_ms, served);
}

pp_result pp_drain(pp_client client, pp_completion *out, size_t capacity, int timeout_ms,
                   size_t *count) {
    if (count) *count = 0;
    PP_GUARD(NULL, 0);
    return (pp_result)ppgo_drain(client, out, capacity, timeout_ms, count);
}

pp_result pp_pending(uint64_t client_or_producer, size_t *pending) {
    PP_GUARD(NULL, 0);
    return (pp_result)ppgo_pending(client_or_producer, pending);
}

pp_result pp_flush(uint64_t client_or_producer, int timeout_ms, char *errbuf, size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_flush(client_or_producer, timeout_ms, errbuf, errbuf_size);
}

pp_result pp_close(pp_producer producer, int timeout_ms, char *errbuf, size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_close(producer, timeout_ms, errbuf, errbuf_size);
}

pp_result pp_stop(pp_producer producer, int timeout_ms, char *errbuf, size_t errbuf_size) {
    PP_GUARD(errbuf, errbuf_size);
    return (pp_result)ppgo_stop(producer, timeout_ms, errbuf, errbuf_size);
}

pp_result pp_producer_name(pp_producer producer, char *buf, size_t size, size_t *needed) {
    PP_GUARD(NULL, 0);
    return (pp_result)ppgo_producer_name(producer, buf, size, needed);
}

pp_result pp_producer_partitions(pp_producer producer, int32_t *partitions) {
    PP_GUARD(NULL, 0);
    return (pp_result)ppgo_producer_partitions(producer, partitions);
}

pp_result pp_producer_stats(pp_producer producer, pp_stats *out) {
    PP_GUARD(NULL, 0);
    return (pp_result)ppgo_stats(producer, out, 0);
}

pp_result pp_client_stats(pp_client client, pp_stats *out) {
    PP_GUARD(NULL, 0);
    return (pp_result)ppgo_stats(client, out, 1);
}

pp_result pp_client_logs(pp_client client, pp_log_record *out, size_t capacity, size_t *count) {
    if (count) *count = 0;
    PP_GUARD(NULL, 0);
    return (pp_result)ppgo_client_logs(client, out, capacity, count);
}

pp_result pp_message_id_serialize(const pp_message_id *id, void *buf, size_t size, size_t *needed) {
    PP_GUARD(NULL, 0);
    return (pp_result)ppgo_message_id_serialize((pp_message_id *)id, buf, size, needed);
}

pp_result pp_message_id_deserialize(const void *buf, size_t len, pp_message_id *out) {
    PP_GUARD(NULL, 0);
    return (pp_result)ppgo_message_id_deserialize((void *)buf, len, out);
}
