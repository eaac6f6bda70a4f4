/*
 * pp_test.c - the C ABI exercised from C99: bad input, callbacks, draining,
 * stopping from inside a callback, and publishing for independent checks.
 *
 * Usage: pp_test SERVICE_URL TOPIC
 *
 * Each check prints "ok - name" or "not ok - name: why"; the last line is
 * "N passed, N failed" and the exit code is non-zero on any failure. Every
 * message it publishes to TOPIC is also printed as a line
 *   MSG <payload> <ledger> <entry> <partition> <batch_index> <batch_size>
 * so that the Go test driving it can read the topic back with the official
 * Java client and compare.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pulsar_producer.h"

static int passed, failed;
static char err[512];

static void check(int cond, const char *name, const char *detail) {
    if (cond) {
        passed++;
        printf("ok - %s\n", name);
    } else {
        failed++;
        printf("not ok - %s: %s\n", name, detail ? detail : "");
    }
    fflush(stdout);
}

/* expect checks a result code and that the error text contains `text`. */
static void expect(pp_result got, pp_result want, const char *text, const char *name) {
    char detail[700];
    snprintf(detail, sizeof detail, "got %s (%d) \"%s\", want %s containing \"%s\"", pp_result_name(got),
             (int)got, err, pp_result_name(want), text);
    check(got == want && (text == NULL || strstr(err, text) != NULL), name, detail);
    err[0] = 0;
}

static const char *url, *topic;

static pp_producer start(const char *options) {
    pp_producer p = 0;
    pp_result r = pp_start(url, PP_NTS, topic, PP_NTS, options, &p, err, sizeof err);
    if (r != PP_OK) {
        printf("not ok - start: %s\n", err);
        exit(2);
    }
    return p;
}

static void print_msg(const char *payload, const pp_message_id *id) {
    printf("MSG %s %lld %lld %d %d %d\n", payload, (long long)id->ledger_id, (long long)id->entry_id,
           id->partition, id->batch_index, id->batch_size);
}

static void test_version_and_results(void) {
    check(pp_version() == PP_VERSION, "pp_version matches the header", NULL);
    check(strcmp(pp_version_str(), PP_VERSION_STR) == 0, "pp_version_str matches the header", NULL);
    /* The table comes from the library; the header's constants are
     * generated from the same source (capi/gen_test.go checks that). */
    size_t n = 0;
    const pp_result_info *t = pp_result_table(&n);
    int ordered = t != NULL && n >= 40 && t[0].result == PP_OK;
    for (size_t i = 1; ordered && i < n; i++) ordered = t[i].result > t[i - 1].result;
    check(ordered, "the result table is in numeric order, starting at PP_OK", NULL);
    int has_forked = 0;
    for (size_t i = 0; i < n; i++) has_forked |= t[i].result == PP_ERR_FORKED && strcmp(t[i].name, "Forked") == 0;
    check(has_forked, "the table has PP_ERR_FORKED", NULL);
    int kinds_ok = 1;
    for (size_t i = 0; i < n; i++) {
        if (!t[i].name || !t[i].kind || !t[i].description) kinds_ok = 0;
    }
    check(kinds_ok, "every result has a name, kind and description", NULL);
    check(strcmp(pp_result_name(PP_ERR_PRODUCER_QUEUE_IS_FULL), "ProducerQueueIsFull") == 0, "result name", NULL);
    check(strcmp(pp_result_name((pp_result)9999), "Unknown") == 0, "unknown result name", NULL);
    check(strstr(pp_result_description(PP_ERR_TIMEOUT), "time") != NULL, "result description", NULL);
}

#define T PP_NTS

static void test_bad_start(void) {
    pp_producer p = 7;
    expect(pp_start(NULL, T, topic, T, NULL, &p, err, sizeof err), PP_ERR_INVALID_URL, "NULL", "NULL URL");
    check(p == 0, "no handle after a failed start", NULL);
    expect(pp_start(url, T, NULL, T, NULL, &p, err, sizeof err), PP_ERR_INVALID_TOPIC_NAME, "NULL", "NULL topic");
    expect(pp_start(url, T, "tenant/only", T, NULL, &p, err, sizeof err), PP_ERR_INVALID_TOPIC_NAME, "tenant/only", "invalid topic");
    expect(pp_start("localhost:6650", T, topic, T, NULL, &p, err, sizeof err), PP_ERR_INVALID_URL, "pulsar://", "URL without scheme");
    expect(pp_start(url, T, topic, T, "{\"batchingMaxMesages\": 5}", &p, err, sizeof err), PP_ERR_INVALID_CONFIGURATION,
           "\"batchingMaxMesages\" is unknown", "unknown option key");
    expect(pp_start(url, T, topic, T, "{\"batchingMaxMessages\": 5", &p, err, sizeof err), PP_ERR_INVALID_CONFIGURATION,
           "not a valid JSON object", "malformed option JSON");
    expect(pp_start(url, T, topic, T, "{\"batchingMaxMessages\": \"five\"}", &p, err, sizeof err), PP_ERR_INVALID_CONFIGURATION,
           "must be an integer", "option of the wrong type");
    expect(pp_start(url, T, topic, T, "{\"batchingMaxMessages\": -5}", &p, err, sizeof err), PP_ERR_INVALID_CONFIGURATION,
           "must be between 1 and 1048576, got -5", "option out of range");
    expect(pp_start(url, T, topic, T, "{\"batchingMaxMessages\": 0}", &p, err, sizeof err), PP_ERR_INVALID_CONFIGURATION,
           "must be between 1 and 1048576, got 0", "an explicit 0 is out of range too");
    expect(pp_start(url, T, topic, T, "{\"keepAliveInterval\": 1}", &p, err, sizeof err), PP_ERR_INVALID_CONFIGURATION,
           "at least 1000 ms", "keepAliveInterval has a sane minimum");
    expect(pp_start(url, T, topic, T, "{\"batchingMaxMessages\": 99999999999999999999}", &p, err, sizeof err),
           PP_ERR_INVALID_CONFIGURATION, "out of range", "a huge integer is out of range");
    expect(pp_start(url, T, topic, T, "{\"sendTimeout\": 5, \"sendTimeout\": 6}", &p, err, sizeof err),
           PP_ERR_INVALID_CONFIGURATION, "\"sendTimeout\" is given twice", "an option given twice");
    const char *keys[] = {"sendTimeout", "compresionType"};
    const char *vals[] = {"1000", "lz4"};
    expect(pp_start_kv(url, T, topic, T, keys, vals, 2, &p, err, sizeof err), PP_ERR_INVALID_CONFIGURATION,
           "\"compresionType\" is unknown", "unknown key/value option");
    const char *keys2[] = {"batchingMaxMessages"};
    const char *vals2[] = {"abc"};
    expect(pp_start_kv(url, T, topic, T, keys2, vals2, 1, &p, err, sizeof err), PP_ERR_INVALID_CONFIGURATION,
           "must be an integer, got \"abc\"", "a key/value integer that is not one");
    const char *keys3[] = {"sendTimeout", "sendTimeout"};
    const char *vals3[] = {"1000", "2000"};
    expect(pp_start_kv(url, T, topic, T, keys3, vals3, 2, &p, err, sizeof err), PP_ERR_INVALID_CONFIGURATION,
           "given twice", "a key/value option given twice");
    expect(pp_start(url, T, topic, T, NULL, NULL, err, sizeof err), PP_ERR_INVALID_ARGUMENT, "NULL", "NULL out");
    check(pp_start(NULL, T, topic, T, "{}", &p, NULL, 0) == PP_ERR_INVALID_URL, "a NULL error buffer is allowed", NULL);
    /* NULs inside the URL or topic are seen, not cut off. */
    char nul_url[64];
    size_t ul = (size_t)snprintf(nul_url, sizeof nul_url, "%s", url);
    memcpy(nul_url + ul, "\0junk", 6);
    expect(pp_start(nul_url, ul + 5, topic, T, NULL, &p, err, sizeof err), PP_ERR_INVALID_URL, "NUL", "a NUL inside the URL");
    expect(pp_start(url, T, "a\0b", 3, NULL, &p, err, sizeof err), PP_ERR_INVALID_TOPIC_NAME, "NUL character at byte 1",
           "a NUL inside the topic");
    expect(pp_start(url, SIZE_MAX - 1, topic, T, NULL, &p, err, sizeof err), PP_ERR_INVALID_ARGUMENT, "no buffer",
           "a URL length no buffer has");
}

static void test_bad_handles(void) {
    size_t n;
    expect(pp_send(0, "x", 1, NULL, NULL, err, sizeof err), PP_ERR_INVALID_HANDLE, "never valid", "handle 0");
    expect(pp_send(12345, "x", 1, NULL, NULL, err, sizeof err), PP_ERR_INVALID_HANDLE, "never issued", "a handle never issued");
    expect(pp_stop((pp_producer)-1, 0, err, sizeof err), PP_ERR_INVALID_HANDLE, "never issued", "stop of a handle never issued");
    check(pp_poll(4242, 0, &n) == PP_ERR_INVALID_HANDLE, "poll of a handle never issued", NULL);
    check(pp_pending(4242, &n) == PP_ERR_INVALID_HANDLE, "pending of a handle never issued", NULL);
}

static void test_error_buffer(void) {
    char small[12];
    memset(small, 'x', sizeof small);
    pp_producer p;
    pp_start(NULL, PP_NTS, topic, PP_NTS, NULL, &p, small, sizeof small);
    check(small[sizeof small - 1] == 0 && strlen(small) == sizeof small - 1 &&
              strcmp(small + sizeof small - 4, "...") == 0,
          "a message that does not fit ends in ... and NUL", small);
    char one[1] = {'x'};
    pp_start(NULL, PP_NTS, topic, PP_NTS, NULL, &p, one, 1);
    check(one[0] == 0, "a one-byte buffer gets an empty string", NULL);
}

static void test_message_ids(void) {
    pp_message_id id = {123456789, 42, -1, 3, 10, 0, -1, -1}, back;
    unsigned char buf[64];
    size_t need = 0;
    check(pp_message_id_serialize(&id, buf, 2, &need) == PP_ERR_BUFFER_TOO_SMALL && need > 2, "serialize into a small buffer", NULL);
    check(pp_message_id_serialize(&id, buf, sizeof buf, &need) == PP_OK && need <= 32, "serialize", NULL);
    check(pp_message_id_deserialize(buf, need, &back) == PP_OK && back.ledger_id == id.ledger_id &&
              back.entry_id == 42 && back.partition == -1 && back.batch_index == 3 && back.batch_size == 10,
          "deserialize round trip", NULL);
    check(pp_message_id_deserialize("\xff\xff", 2, &back) == PP_ERR_INVALID_ARGUMENT, "deserialize garbage", NULL);
    /* A deduplicated resend's receipt: -1:-1, flagged. */
    pp_message_id dup = {-1, -1, -1, -1, 0, 0, -1, -1};
    check(pp_message_id_serialize(&dup, buf, sizeof buf, &need) == PP_OK && pp_message_id_deserialize(buf, need, &back) == PP_OK &&
              (back.flags & PP_ID_DUPLICATE) && back.ledger_id == -1,
          "a -1:-1 ID is flagged PP_ID_DUPLICATE", NULL);
    check(pp_message_id_deserialize(buf, need, &back) == PP_OK && ((id.flags & PP_ID_DUPLICATE) == 0), "a real ID is not", NULL);
    /* A chunked message's ID names its first and last chunks. */
    pp_message_id chunked = {7, 9, 2, -1, 0, PP_ID_CHUNKED, 7, 5};
    char cs[64];
    check(pp_message_id_str(&chunked, cs, sizeof cs) == strlen("7:5:2;7:9:2") && strcmp(cs, "7:5:2;7:9:2") == 0,
          "a chunked ID as a string: first;last", cs);
    check(pp_message_id_serialize(&chunked, buf, sizeof buf, &need) == PP_OK && pp_message_id_deserialize(buf, need, &back) == PP_OK &&
              (back.flags & PP_ID_CHUNKED) && back.first_chunk_ledger_id == 7 && back.first_chunk_entry_id == 5 && back.entry_id == 9,
          "a chunked ID round-trips as MessageIdData with first_chunk_message_id", NULL);
    char s[8];
    size_t len = pp_message_id_str(&id, s, sizeof s);
    check(len == strlen("123456789:42:-1:3") && strlen(s) == sizeof s - 1, "message ID string truncates like snprintf", s);
}

/* Callback bookkeeping shared by the tests below. */
typedef struct {
    int calls;
    int failures;
    long last;
    int in_order;
    pp_message_id ids[4096];
    pp_result results[4096];
} tally;

static void count_cb(pp_producer p, pp_result r, const pp_message_id *id, const char *e, void *ud) {
    (void)p;
    (void)e;
    tally *t = *(tally **)ud;
    long seq = ((long *)ud)[1];
    if (seq != t->last + 1) t->in_order = 0;
    t->last = seq;
    if (r == PP_OK) {
        t->ids[seq] = *id;
    } else {
        t->failures++;
    }
    t->results[seq] = r;
    t->calls++;
}

/* cookies hold (tally*, seq) pairs that callbacks receive as user data. */
static void *cookies[4096][2];

static void *cookie(tally *t, long seq) {
    cookies[seq][0] = t;
    cookies[seq][1] = (void *)seq;
    return cookies[seq];
}

static void test_send_flush_poll(void) {
    pp_producer p = start("{\"batchingMaxMessages\": 50, \"batchingMaxPublishDelay\": 60000}");
    tally t = {.last = -1, .in_order = 1};
    char payload[32];
    for (long i = 0; i < 120; i++) {
        snprintf(payload, sizeof payload, "c-%03ld", i);
        pp_result r = pp_send(p, payload, strlen(payload), count_cb, cookie(&t, i), err, sizeof err);
        if (r != PP_OK) {
            check(0, "send", err);
            return;
        }
    }
    size_t pending = 0;
    pp_pending(p, &pending);
    check(pending == 120, "pending counts accepted messages", NULL);
    check(pp_flush(p, 30000, err, sizeof err) == PP_OK, "flush", err);
    check(t.calls == 0, "flush runs no callbacks", NULL);
    size_t served = 0, total = 0;
    while (total < 120 && pp_poll(p, 1000, &served) == PP_OK && served > 0) total += served;
    check(t.calls == 120 && t.failures == 0 && t.in_order, "every message called back once, in order", NULL);
    check(t.ids[0].batch_size == 50 && t.ids[49].batch_index == 49 && t.ids[100].batch_size == 20,
          "batch indexes and sizes", NULL);
    for (long i = 0; i < 120; i++) {
        snprintf(payload, sizeof payload, "c-%03ld", i);
        print_msg(payload, &t.ids[i]);
    }
    pp_pending(p, &pending);
    check(pending == 0, "nothing pending after polling", NULL);
    expect(pp_flush(p, -1, err, sizeof err), PP_ERR_INVALID_ARGUMENT, "negative", "negative flush timeout");
    check(pp_poll(p, -5, NULL) == PP_ERR_INVALID_ARGUMENT, "negative poll timeout", NULL);
    expect(pp_stop(p, -1, err, sizeof err), PP_ERR_INVALID_ARGUMENT, "negative", "negative stop timeout");
    expect(pp_send(p, NULL, 5, NULL, NULL, err, sizeof err), PP_ERR_INVALID_ARGUMENT, "NULL", "NULL payload with a length");
    check(pp_send(p, NULL, 0, NULL, NULL, err, sizeof err) == PP_OK, "NULL payload of length 0 is an empty message", err);
    check(pp_stop(p, 10000, err, sizeof err) == PP_OK, "stop", err);
    expect(pp_send(p, "x", 1, NULL, NULL, err, sizeof err), PP_ERR_INVALID_HANDLE, "was stopped", "send after stop");
    expect(pp_stop(p, 1000, err, sizeof err), PP_ERR_INVALID_HANDLE, "was stopped", "double stop");
}

static void test_close_then_drain(void) {
    pp_producer p = start("{\"disableBatching\": true}");
    for (long i = 0; i < 5; i++) pp_send(p, "drained", 7, NULL, (void *)(i + 1), err, sizeof err);
    check(pp_close(p, 30000, err, sizeof err) == PP_OK, "close", err);
    expect(pp_send(p, "x", 1, NULL, NULL, err, sizeof err), PP_ERR_ALREADY_CLOSED, "closed", "send after close");
    expect(pp_close(p, 1000, err, sizeof err), PP_ERR_ALREADY_CLOSED, "already closed", "double close");
    pp_completion out[8];
    size_t n = 0;
    check(pp_drain(p, out, 8, 1000, &n) == PP_OK && n == 5, "drain after close", NULL);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        if (out[i].user_data != (void *)(i + 1) || out[i].result != PP_OK || out[i].id.batch_index != -1) ok = 0;
        else print_msg("drained", &out[i].id);
    }
    check(ok, "drained completions carry user data and IDs, in order", NULL);
    check(pp_drain(p, NULL, 4, 0, &n) == PP_ERR_INVALID_ARGUMENT, "drain into NULL", NULL);
    check(pp_stop(p, 1000, err, sizeof err) == PP_OK, "stop after close", err);
}

/* Stopping from inside a callback: the remaining callbacks run inside
 * pp_stop, none after it. */
static pp_producer stop_target;
static int stop_calls, after_stop_calls, stop_result = -1, stop_returned;

static void stop_cb(pp_producer p, pp_result r, const pp_message_id *id, const char *e, void *ud) {
    (void)r;
    (void)id;
    (void)e;
    (void)ud;
    (void)p;
    stop_calls++;
    if (stop_returned) after_stop_calls++;
    if (stop_calls == 1) {
        stop_result = pp_stop(stop_target, 10000, err, sizeof err);
        stop_returned = 1;
        size_t n = 99;
        /* Re-entrant polling returns at once. */
        if (pp_poll(stop_target, 1000, &n) != PP_ERR_INVALID_HANDLE) after_stop_calls += 100;
    }
}

static void test_stop_inside_callback(void) {
    stop_target = start("{\"batchingMaxMessages\": 4}");
    for (int i = 0; i < 10; i++) pp_send(stop_target, "s", 1, stop_cb, NULL, err, sizeof err);
    pp_flush(stop_target, 30000, err, sizeof err);
    size_t served = 0;
    pp_result r = pp_poll(stop_target, 5000, &served);
    check(r == PP_OK && stop_result == PP_OK, "stop from inside a callback", err);
    check(stop_calls == 10, "every callback ran exactly once", NULL);
    check(after_stop_calls == 0, "no callback after stop returned", NULL);
    check(pp_poll(stop_target, 0, &served) == PP_ERR_INVALID_HANDLE, "the handle is gone", NULL);
}

/* Many threads send while another polls. */
typedef struct {
    pp_producer p;
    int base;
} sender_arg;

static long thread_calls;
static pthread_mutex_t thread_mu = PTHREAD_MUTEX_INITIALIZER;

static void thread_cb(pp_producer p, pp_result r, const pp_message_id *id, const char *e, void *ud) {
    (void)p;
    (void)id;
    (void)e;
    (void)ud;
    if (r == PP_OK) {
        pthread_mutex_lock(&thread_mu);
        thread_calls++;
        pthread_mutex_unlock(&thread_mu);
    }
}

static void *sender(void *arg) {
    sender_arg *a = arg;
    char e[256];
    for (int i = 0; i < 500; i++) {
        if (pp_send(a->p, "threaded", 8, thread_cb, NULL, e, sizeof e) != PP_OK) return (void *)1;
    }
    return NULL;
}

static void test_threads(void) {
    pp_producer p = start("{\"blockIfQueueFull\": true, \"maxPendingMessages\": 300}");
    pthread_t th[4];
    sender_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (sender_arg){p, i};
        pthread_create(&th[i], NULL, sender, &args[i]);
    }
    long total = 0;
    size_t served;
    while (total < 2000) {
        if (pp_poll(p, 1000, &served) != PP_OK) break;
        total += (long)served;
        if (served == 0 && total < 2000) {
            size_t pending = 0;
            pp_pending(p, &pending);
            if (pending == 0) break;
        }
    }
    int send_failed = 0;
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        if (ret) send_failed = 1;
    }
    check(!send_failed, "four threads sending with a bounded queue", NULL);
    check(pp_stop(p, 10000, err, sizeof err) == PP_OK && thread_calls == 2000, "2000 callbacks from threaded sends", err);
}

static void test_send_message(void) {
    pp_producer p = start("{\"batchingMaxPublishDelay\": 60000}");
    pp_message m;
    pp_message_init(&m);
    check(m.struct_size == sizeof m && m.sequence_id == -1, "pp_message_init", NULL);
    pp_property props[2] = {{"color", PP_NTS, "blue", PP_NTS}, {"size", 4, "XLXL", 2}};
    const char *clusters[1] = {"standalone"};
    m.payload = "full";
    m.payload_len = 4;
    m.key = "the-key";
    m.ordering_key = "ok";
    m.ordering_key_len = 2;
    m.properties = props;
    m.property_count = 2;
    m.event_time_ms = 1700000000123;
    m.replication_clusters = clusters;
    m.replication_cluster_count = 1;
    tally t = {.last = -1, .in_order = 1};
    check(pp_send_message(p, &m, count_cb, cookie(&t, 0), err, sizeof err) == PP_OK, "send with every option", err);
    pp_message bad;
    pp_message_init(&bad);
    bad.null_value = 1;
    bad.payload = "x";
    bad.payload_len = 1;
    expect(pp_send_message(p, &bad, NULL, NULL, err, sizeof err), PP_ERR_INVALID_MESSAGE, "null-value", "null value with a payload");
    pp_message_init(&bad);
    bad.deliver_after_ms = -5;
    expect(pp_send_message(p, &bad, NULL, NULL, err, sizeof err), PP_ERR_INVALID_MESSAGE, "deliver_after_ms must not be negative", "negative delay");
    pp_message_init(&bad);
    bad.property_count = 3;
    expect(pp_send_message(p, &bad, NULL, NULL, err, sizeof err), PP_ERR_INVALID_ARGUMENT, "NULL", "properties NULL with a count");
    pp_message raw;
    memset(&raw, 0, sizeof raw);
    expect(pp_send_message(p, &raw, NULL, NULL, err, sizeof err), PP_ERR_INVALID_ARGUMENT, "pp_message_init", "uninitialized message");
    pp_message tomb;
    pp_message_init(&tomb);
    tomb.null_value = 1;
    tomb.key = "gone";
    check(pp_send_message(p, &tomb, count_cb, cookie(&t, 1), err, sizeof err) == PP_OK, "tombstone", err);
    pp_flush(p, 30000, err, sizeof err);
    size_t served;
    pp_poll(p, 1000, &served);
    check(t.calls == 2 && t.failures == 0, "both messages stored", NULL);
    print_msg("full", &t.ids[0]);
    print_msg("(null)", &t.ids[1]);
    pp_stop(p, 10000, err, sizeof err);
}

static void test_batches(void) {
    pp_producer p = start("{\"batchingMaxPublishDelay\": 60000}");
    const char data[] = "onetwothree";
    size_t lens[3] = {3, 3, 5};
    void *uds[3] = {(void *)1, (void *)2, (void *)3}; /* small values: integers, not pointers */
    size_t accepted = 99;
    check(pp_send_batch(p, data, lens, 3, 0, NULL, uds, &accepted, err, sizeof err) == PP_OK && accepted == 3,
          "pp_send_batch of three payloads", err);
    check(pp_send_batch(p, NULL, lens, 0, 0, NULL, NULL, &accepted, err, sizeof err) == PP_OK && accepted == 0,
          "an empty batch", err);
    expect(pp_send_batch(p, NULL, lens, 3, 0, NULL, NULL, &accepted, err, sizeof err), PP_ERR_INVALID_ARGUMENT,
           "data is NULL", "a batch with NULL data");

    pp_message msgs[3];
    for (int i = 0; i < 3; i++) pp_message_init(&msgs[i]);
    msgs[0].payload = "m0";
    msgs[0].payload_len = 2;
    msgs[0].key = "k0";
    msgs[1].null_value = 1;
    msgs[1].key = "k1";
    msgs[2].null_value = 1; /* invalid: a null value with a payload */
    msgs[2].payload = "bad";
    msgs[2].payload_len = 3;
    void *uds2[3] = {(void *)4, (void *)5, (void *)6};
    expect(pp_send_messages(p, msgs, 3, 0, NULL, uds2, &accepted, err, sizeof err), PP_ERR_INVALID_MESSAGE,
           "a null-value", "pp_send_messages stops at the first bad message");
    check(accepted == 2, "the messages before it were accepted", NULL);

    pp_flush(p, 30000, err, sizeof err);
    pp_completion out[8];
    size_t n = 0, total = 0;
    void *order[8];
    while (total < 5 && pp_drain(p, out, 8, 1000, &n) == PP_OK && n > 0) {
        for (size_t i = 0; i < n; i++) {
            order[total] = out[i].user_data;
            if (out[i].result == PP_OK) {
                const char *names[] = {"", "one", "two", "three", "m0", "(null)"};
                print_msg(names[(intptr_t)out[i].user_data], &out[i].id);
            }
            total++;
        }
    }
    int in_order = total == 5;
    for (size_t i = 0; in_order && i < 5; i++) in_order = order[i] == (void *)(i + 1);
    check(in_order, "batched messages complete once each, in order, with their user data", NULL);

    char name[128];
    size_t need = 0;
    check(pp_producer_name(p, name, sizeof name, &need) == PP_OK && need == strlen(name) + 1 && need > 1,
          "pp_producer_name", name);
    check(pp_producer_name(p, name, 1, &need) == PP_ERR_BUFFER_TOO_SMALL, "pp_producer_name into one byte", NULL);
    int32_t parts = -1;
    check(pp_producer_partitions(p, &parts) == PP_OK && parts == 0, "pp_producer_partitions", NULL);
    const char *opts = pp_options_json();
    check(opts && opts[0] == '[' && strstr(opts, "\"batchingMaxMessages\"") && strstr(opts, "\"snakeName\":\"batching_max_messages\""),
          "pp_options_json", NULL);

    check(pp_close(p, 10000, err, sizeof err) == PP_OK, "close", err);
    check(pp_drain(p, out, 8, 5000, &n) == PP_ERR_ALREADY_CLOSED, "drain after everything was taken ends at once", NULL);
    check(pp_poll(p, 5000, &n) == PP_ERR_ALREADY_CLOSED, "poll too", NULL);
    pp_stop(p, 1000, err, sizeof err);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SERVICE_URL TOPIC\n", argv[0]);
        return 2;
    }
    url = argv[1];
    topic = argv[2];
    test_version_and_results();
    test_bad_start();
    test_bad_handles();
    test_error_buffer();
    test_message_ids();
    test_send_flush_poll();
    test_close_then_drain();
    test_stop_inside_callback();
    test_threads();
    test_send_message();
    test_batches();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
