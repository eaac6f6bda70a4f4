/*
 * pp.c - the public C functions of pulsar-producer.
 *
 * Each pp_* function forwards to its ppgo_* export in Go, casting away the
 * const the header promises (cgo's generated prototypes have none). The
 * callback trampoline lives here too: Go cannot call a C function pointer,
 * and the thread-local it maintains tells the Go side whether the calling
 * thread is inside a callback, and of which producer.
 */
#include <string.h>

#include "pulsar_producer.h"
#include "_cgo_export.h"

static __thread int ppx_depth;
static __thread pp_producer ppx_current;

int ppx_in_callback(void) { return ppx_depth > 0; }

pp_producer ppx_serving(void) { return ppx_current; }

void ppx_call(uintptr_t cb, pp_producer p, pp_result r, const pp_message_id *id,
              const char *err, uintptr_t ud) {
    pp_producer outer = ppx_current;
    ppx_depth++;
    ppx_current = p;
    ((pp_delivery_cb)cb)(p, r, id, err, (void *)ud);
    ppx_current = outer;
    ppx_depth--;
}

int pp_version(void) { return PP_VERSION; }

const char *pp_version_str(void) { return PP_VERSION_STR; }

const pp_result_info *pp_result_table(size_t *count) { return ppgo_result_table(count); }

static const pp_result_info *find_result(pp_result result) {
    size_t n = 0;
    const pp_result_info *t = ppgo_result_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (t[i].result == result) return &t[i];
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

pp_result pp_start(const char *service_url, const char *topic, const char *options_json,
                   pp_producer *out, char *errbuf, size_t errbuf_size) {
    return (pp_result)ppgo_start((char *)service_url, (char *)topic, (char *)options_json, NULL,
                                 NULL, 0, 0, out, errbuf, errbuf_size);
}

pp_result pp_start_kv(const char *service_url, const char *topic, const char *const *keys,
                      const char *const *values, size_t count, pp_producer *out, char *errbuf,
                      size_t errbuf_size) {
    return (pp_result)ppgo_start((char *)service_url, (char *)topic, NULL, (char **)keys,
                                 (char **)values, count, 1, out, errbuf, errbuf_size);
}

pp_result pp_send(pp_producer producer, const void *payload, size_t len, pp_delivery_cb cb,
                  void *user_data, char *errbuf, size_t errbuf_size) {
    return (pp_result)ppgo_send(producer, (uintptr_t)payload, len, (uintptr_t)cb, (uintptr_t)user_data,
                                errbuf, errbuf_size);
}

void pp_message_init(pp_message *msg) {
    if (!msg) return;
    memset(msg, 0, sizeof *msg);
    msg->struct_size = sizeof *msg;
    msg->sequence_id = -1;
}

pp_result pp_send_message(pp_producer producer, const pp_message *msg, pp_delivery_cb cb,
                          void *user_data, char *errbuf, size_t errbuf_size) {
    return (pp_result)ppgo_send_message(producer, (pp_message *)msg, (uintptr_t)cb, (uintptr_t)user_data,
                                        errbuf, errbuf_size);
}

pp_result pp_send_batch(pp_producer producer, const void *data, const size_t *lens, size_t count,
                        pp_delivery_cb cb, void *const *user_data, size_t *accepted, char *errbuf,
                        size_t errbuf_size) {
    return (pp_result)ppgo_send_batch(producer, (uintptr_t)data, (size_t *)lens, count, (uintptr_t)cb,
                                      (uintptr_t *)user_data, accepted, errbuf, errbuf_size);
}

pp_result pp_send_messages(pp_producer producer, const pp_message *msgs, size_t count, pp_delivery_cb cb,
                           void *const *user_data, size_t *accepted, char *errbuf, size_t errbuf_size) {
    return (pp_result)ppgo_send_messages(producer, (uintptr_t)msgs, count, (uintptr_t)cb,
                                         (uintptr_t *)user_data, accepted, errbuf, errbuf_size);
}

pp_result pp_producer_name(pp_producer producer, char *buf, size_t size, size_t *needed) {
    return (pp_result)ppgo_producer_name(producer, buf, size, needed);
}

pp_result pp_producer_partitions(pp_producer producer, int32_t *partitions) {
    return (pp_result)ppgo_producer_partitions(producer, partitions);
}

const char *pp_options_json(void) { return ppgo_options_json(); }

pp_result pp_poll(pp_producer producer, int timeout_ms, size_t *served) {
    return (pp_result)ppgo_poll(producer, timeout_ms, served);
}

pp_result pp_drain(pp_producer producer, pp_completion *out, size_t capacity, int timeout_ms,
                   size_t *count) {
    return (pp_result)ppgo_drain(producer, out, capacity, timeout_ms, count);
}

pp_result pp_flush(pp_producer producer, int timeout_ms, char *errbuf, size_t errbuf_size) {
    return (pp_result)ppgo_flush(producer, timeout_ms, errbuf, errbuf_size);
}

pp_result pp_close(pp_producer producer, int timeout_ms, char *errbuf, size_t errbuf_size) {
    return (pp_result)ppgo_close(producer, timeout_ms, errbuf, errbuf_size);
}

pp_result pp_stop(pp_producer producer, int timeout_ms, char *errbuf, size_t errbuf_size) {
    return (pp_result)ppgo_stop(producer, timeout_ms, errbuf, errbuf_size);
}

pp_result pp_pending(pp_producer producer, size_t *pending) {
    return (pp_result)ppgo_pending(producer, pending);
}

size_t pp_message_id_str(const pp_message_id *id, char *buf, size_t size) {
    return ppgo_message_id_str((pp_message_id *)id, buf, size);
}

pp_result pp_message_id_serialize(const pp_message_id *id, void *buf, size_t size, size_t *needed) {
    return (pp_result)ppgo_message_id_serialize((pp_message_id *)id, buf, size, needed);
}

pp_result pp_message_id_deserialize(const void *buf, size_t len, pp_message_id *out) {
    return (pp_result)ppgo_message_id_deserialize((void *)buf, len, out);
}
