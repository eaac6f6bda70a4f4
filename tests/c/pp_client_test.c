/*
 * pp_client_test.c - clients with many producers, and the hardening of the
 * C ABI: lengths no buffer has, stopping while other threads wait, fork,
 * handles of the wrong kind, cancellable creation, the event fd, logs,
 * stats, the shared memory limit, and messages with every metadata field
 * for the independent read-back.
 *
 * Usage: pp_client_test SERVICE_URL TOPIC HTTP_URL
 *
 * Output as pp_test.c: "ok - name" / "not ok - name: why" lines, MSG lines
 * for what it published to TOPIC (the Go test reads them back with the Java
 * client and checks every field of the messages named field-*), and
 * "N passed, N failed". HTTP_URL is a pulsar:// URL naming the broker's
 * HTTP admin port.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pulsar_producer.h"

#define T PP_NTS

static int passed, failed;
static char err[512];
static const char *url, *topic, *http_url;

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

static void expect(pp_result got, pp_result want, const char *text, const char *name) {
    char detail[700];
    snprintf(detail, sizeof detail, "got %s (%d) \"%s\", want %s containing \"%s\"", pp_result_name(got), (int)got,
             err, pp_result_name(want), text ? text : "");
    check(got == want && (text == NULL || strstr(err, text) != NULL), name, detail);
    err[0] = 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static pp_client client(const char *options) {
    pp_client c = 0;
    if (pp_client_start(url, T, options, &c, err, sizeof err) != PP_OK) {
        printf("not ok - client start: %s\n", err);
        exit(2);
    }
    return c;
}

static pp_producer producer(pp_client c, const char *t, const char *options) {
    pp_producer p = 0;
    if (pp_producer_start(c, t, T, options, &p, err, sizeof err) != PP_OK) {
        printf("not ok - producer start on %s: %s\n", t, err);
        exit(2);
    }
    return p;
}

static void print_msg(const char *payload, const pp_message_id *id) {
    printf("MSG %s %lld %lld %d %d %d\n", payload, (long long)id->ledger_id, (long long)id->entry_id, id->partition,
           id->batch_index, id->batch_size);
}

/* Item: lengths and counts no buffer can have are refused before any lock,
 * and the producer goes on working. */
static void test_impossible_lengths(void) {
    pp_producer p;
    if (pp_start(url, T, topic, T, "{\"batchingMaxPublishDelay\": 60000}", &p, err, sizeof err) != PP_OK) {
        check(0, "start", err);
        return;
    }
    size_t accepted = 9;
    size_t lens[3] = {5, SIZE_MAX, 1};
    expect(pp_send_batch(p, "helloX", lens, 3, 0, NULL, NULL, &accepted, err, sizeof err), PP_ERR_INVALID_ARGUMENT,
           "lens[1] is 18446744073709551615", "pp_send_batch with a length of SIZE_MAX");
    check(accepted == 0, "nothing of that batch was accepted", NULL);
    size_t halves[2] = {SIZE_MAX / 2, SIZE_MAX / 2};
    expect(pp_send_batch(p, "x", halves, 2, 0, NULL, NULL, &accepted, err, sizeof err), PP_ERR_INVALID_ARGUMENT,
           "no buffer", "pp_send_batch with lengths that overflow together");
    expect(pp_send_batch(p, "x", lens, SIZE_MAX, 0, NULL, NULL, &accepted, err, sizeof err), PP_ERR_INVALID_ARGUMENT,
           "count", "pp_send_batch with a count of SIZE_MAX");
    pp_message m[2];
    pp_message_init(&m[0]);
    pp_message_init(&m[1]);
    m[0].payload = "ok";
    m[0].payload_len = 2;
    m[1].payload = "x";
    m[1].payload_len = SIZE_MAX;
    expect(pp_send_messages(p, m, 2, 0, NULL, NULL, &accepted, err, sizeof err), PP_ERR_INVALID_ARGUMENT,
           "message 1: payload_len is 18446744073709551615", "pp_send_messages with a payload_len of SIZE_MAX");
    check(accepted == 0, "nothing of those messages was accepted", NULL);
    m[1].payload_len = 1;
    m[1].key = "k";
    m[1].key_len = SIZE_MAX - 1;
    expect(pp_send_messages(p, m, 2, 0, NULL, NULL, &accepted, err, sizeof err), PP_ERR_INVALID_ARGUMENT,
           "key_len", "pp_send_messages with an impossible key_len");
    expect(pp_send(p, "x", SIZE_MAX, NULL, NULL, err, sizeof err), PP_ERR_INVALID_ARGUMENT, "len is 18446744073709551615",
           "pp_send with a length of SIZE_MAX");
    expect(pp_send_message(p, &m[1], NULL, NULL, err, sizeof err), PP_ERR_INVALID_ARGUMENT, "key_len",
           "pp_send_message with an impossible key_len");
    expect(pp_send_batch(p, "x", lens, 1, 4, NULL, NULL, &accepted, err, sizeof err), PP_ERR_INVALID_ARGUMENT,
           "unknown bits", "pp_send_batch with unknown flags");
    /* The producer is not wedged: a send and a stop complete promptly. */
    double t0 = now_s();
    check(pp_send(p, "after", 5, NULL, NULL, err, sizeof err) == PP_OK, "a send after the refusals", err);
    check(pp_stop(p, 10000, err, sizeof err) == PP_OK && now_s() - t0 < 5, "stop after the refusals is prompt", err);
}

/* Item: pp_client_stop is not held hostage by threads waiting in pp_poll or
 * pp_drain; they return AlreadyClosed at once. */
typedef struct {
    pp_client c;
    int drain;
    pp_result result;
    double returned;
} waiter;

static void *wait_thread(void *arg) {
    waiter *w = arg;
    size_t n;
    pp_completion out[4];
    w->result = w->drain ? pp_drain(w->c, out, 4, 30000, &n) : pp_poll(w->c, 30000, &n);
    w->returned = now_s();
    return NULL;
}

static void test_stop_wakes_waiters(void) {
    pp_client c = client(NULL);
    producer(c, topic, NULL);
    waiter ws[2] = {{c, 0, PP_OK, 0}, {c, 1, PP_OK, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, wait_thread, &ws[i]);
    struct timespec ts = {0, 300 * 1000000};
    nanosleep(&ts, NULL); /* let both threads start waiting */
    double t0 = now_s();
    check(pp_client_stop(c, 1000, err, sizeof err) == PP_OK, "stop while others wait", err);
    double took = now_s() - t0;
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    char d[128];
    snprintf(d, sizeof d, "stop took %.2f s", took);
    check(took < 2, "stop keeps its own timeout", d);
    check(ws[0].result == PP_ERR_ALREADY_CLOSED && ws[0].returned - t0 < 2, "a waiting pp_poll returns AlreadyClosed at once", NULL);
    check(ws[1].result == PP_ERR_ALREADY_CLOSED && ws[1].returned - t0 < 2, "a waiting pp_drain returns AlreadyClosed at once", NULL);

    /* The same through a pp_start producer's handle. */
    pp_producer p;
    pp_start(url, T, topic, T, NULL, &p, err, sizeof err);
    waiter w = {p, 0, PP_OK, 0};
    pthread_create(&th[0], NULL, wait_thread, &w);
    nanosleep(&ts, NULL);
    t0 = now_s();
    pp_stop(p, 1000, err, sizeof err);
    pthread_join(th[0], NULL);
    check(now_s() - t0 < 2 && w.result == PP_ERR_ALREADY_CLOSED, "pp_stop of a pp_start producer wakes its waiter too", NULL);
}

/* Documented: the timeout of pp_client_stop bounds the wait for the broker,
 * not the callbacks that remain; those all run. */
static int slow_calls;

static void slow_cb(pp_producer p, pp_result r, const pp_message_id *id, const char *e, void *ud) {
    (void)p, (void)r, (void)id, (void)e, (void)ud;
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL);
    slow_calls++;
}

static void test_stop_runs_slow_callbacks(void) {
    pp_producer p;
    pp_start(url, T, topic, T, NULL, &p, err, sizeof err);
    for (int i = 0; i < 20; i++) pp_send(p, "slow", 4, slow_cb, NULL, err, sizeof err);
    pp_flush(p, 10000, err, sizeof err);
    double t0 = now_s();
    pp_result r = pp_stop(p, 100, err, sizeof err);
    double took = now_s() - t0;
    char d[128];
    snprintf(d, sizeof d, "%d callbacks in %.2f s", slow_calls, took);
    check(r == PP_OK && slow_calls == 20 && took >= 0.95, "stop(100 ms) runs all 20 slow callbacks to the end", d);
}

/* Item: fork. In the child, every call that needs the runtime returns
 * PP_ERR_FORKED at once, for old handles and new ones. */
static void test_fork(void) {
    pp_producer p;
    pp_start(url, T, topic, T, NULL, &p, err, sizeof err);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10); /* never hang: a hang is a failure */
        int bad = 0;
        size_t n;
        if (pp_poll(p, 1000, &n) != PP_ERR_FORKED) bad |= 1;
        pp_producer q = 0;
        char e[512] = {0};
        if (pp_start(url, T, topic, T, NULL, &q, e, sizeof e) != PP_ERR_FORKED || strstr(e, "forked") == NULL) bad |= 2;
        if (pp_send(p, "x", 1, NULL, NULL, e, sizeof e) != PP_ERR_FORKED) bad |= 4;
        if (strcmp(pp_result_name(PP_ERR_FORKED), "Forked") != 0) bad |= 8; /* the table works in the child */
        char buf[64];
        pp_message_id id = {1, 2, -1, -1, 0, 0, -1, -1};
        if (pp_message_id_str(&id, buf, sizeof buf) != 6) bad |= 16;
        _exit(bad);
    }
    int status = 0;
    double t0 = now_s();
    waitpid(pid, &status, 0);
    char d[128];
    snprintf(d, sizeof d, "child status %d after %.2f s", status, now_s() - t0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a forked child is refused with PP_ERR_FORKED, never hangs", d);
    check(pp_send(p, "parent", 6, NULL, NULL, err, sizeof err) == PP_OK, "the parent goes on", err);
    pp_stop(p, 10000, err, sizeof err);
}

/* Handles of the wrong kind, and producers of a closed client. */
static void test_handle_kinds(void) {
    pp_client c = client(NULL);
    pp_producer p = producer(c, topic, NULL);
    size_t n;
    expect(pp_client_stop(p, 0, err, sizeof err), PP_ERR_INVALID_HANDLE, "is a producer, not a client", "a producer where a client is expected");
    expect(pp_send(c, "x", 1, NULL, NULL, err, sizeof err), PP_ERR_INVALID_HANDLE, "is a client, not a producer", "a client where a producer is expected");
    check(pp_poll(p, 0, &n) == PP_ERR_INVALID_HANDLE, "a producer of a shared client does not stand for it", NULL);
    pp_producer q;
    expect(pp_producer_start(p, topic, T, NULL, &q, err, sizeof err), PP_ERR_INVALID_HANDLE, "is a producer", "a producer started on a producer");
    expect(pp_client_start(url, T, "{\"batchingMaxMessages\": 5}", &q, err, sizeof err), PP_ERR_INVALID_CONFIGURATION,
           "is a producer option; it does not belong in the client options", "a producer option among client options");
    expect(pp_producer_start(c, topic, T, "{\"memoryLimitBytes\": 5}", &q, err, sizeof err), PP_ERR_INVALID_CONFIGURATION,
           "is a client option", "a client option among producer options");
    check(pp_client_close(c, 5000, err, sizeof err) == PP_OK, "close the client", err);
    expect(pp_client_close(c, 5000, err, sizeof err), PP_ERR_ALREADY_CLOSED, "already closed", "closing a client twice");
    int64_t rm = 9, rb = 9;
    check(pp_producer_room(p, &rm, &rb) == PP_OK && rm == 0 && rb == 0, "a closed producer has no room", NULL);
    expect(pp_producer_start(c, topic, T, NULL, &q, err, sizeof err), PP_ERR_ALREADY_CLOSED, "closed", "a producer on a closed client");
    expect(pp_send(p, "x", 1, NULL, NULL, err, sizeof err), PP_ERR_ALREADY_CLOSED, "closed", "a send on a closed client's producer");
    check(pp_drain(c, NULL, 0, 1000, &n) == PP_OK, "drain of nothing", NULL);
    check(pp_poll(c, 1000, &n) == PP_ERR_ALREADY_CLOSED, "poll of a closed, emptied client", NULL);
    pp_client_stop(c, 0, err, sizeof err);
    expect(pp_producer_start(c, topic, T, NULL, &q, err, sizeof err), PP_ERR_INVALID_HANDLE, "stopped", "a producer on a stopped client");
    check(pp_pending(p, &n) == PP_ERR_INVALID_HANDLE, "stopping the client freed its producers' handles", NULL);
}

/* Many producers on one client share one connection and one queue. */
static int many_calls;

static void many_cb(pp_producer p, pp_result r, const pp_message_id *id, const char *e, void *ud) {
    (void)p, (void)id, (void)e, (void)ud;
    if (r == PP_OK) many_calls++;
}

static void test_many_producers(void) {
    pp_client c = client(NULL);
    pp_producer ps[50];
    char t[256];
    for (int i = 0; i < 50; i++) {
        snprintf(t, sizeof t, "%s-many-%d", topic, i);
        ps[i] = producer(c, t, NULL);
    }
    for (int k = 0; k < 20; k++)
        for (int i = 0; i < 50; i++) pp_send(ps[i], "m", 1, many_cb, NULL, err, sizeof err);
    size_t pending = 0;
    pp_pending(c, &pending);
    check(pending == 1000, "the client counts every producer's pending messages", NULL);
    check(pp_flush(c, 30000, err, sizeof err) == PP_OK, "flush of the client flushes every producer", err);
    size_t n;
    while (many_calls < 1000 && pp_poll(c, 2000, &n) == PP_OK && n > 0) {
    }
    check(many_calls == 1000, "one pp_poll loop serves 50 producers", NULL);
    pp_stats st;
    st.struct_size = sizeof st;
    check(pp_client_stats(c, &st) == PP_OK && st.connections == 1 && st.producers == 50 && st.msgs_acked == 1000,
          "50 producers on one client open one connection", NULL);
    pp_stats ps0;
    ps0.struct_size = sizeof ps0;
    check(pp_producer_stats(ps[0], &ps0) == PP_OK && ps0.msgs_sent == 20 && ps0.msgs_acked == 20 && ps0.latency_count == 20 &&
              ps0.latency_p50_us > 0 && ps0.latency_max_us >= ps0.latency_p50_us,
          "producer stats count sends, acks and latencies", NULL);
    /* An old caller's smaller struct gets only the fields it knows. */
    unsigned char small[sizeof(size_t) + 2 * sizeof(int64_t) + 8];
    memset(small, 0xee, sizeof small);
    ((pp_stats *)(void *)small)->struct_size = sizeof(size_t) + 2 * sizeof(int64_t);
    check(pp_producer_stats(ps[0], (pp_stats *)(void *)small) == PP_OK && small[sizeof small - 1] == 0xee,
          "pp_stats writes no more than struct_size", NULL);
    pp_client_stop(c, 10000, err, sizeof err);
}

/* The memory limit is the client's, shared by its producers. */
static void test_shared_memory_limit(void) {
    pp_client c = client("{\"memoryLimitBytes\": 1000}");
    const char *opts = "{\"batchingMaxPublishDelay\": 60000, \"batchingMaxMessages\": 100000}";
    char ta[256], tb[256];
    snprintf(ta, sizeof ta, "%s-mem-a", topic);
    snprintf(tb, sizeof tb, "%s-mem-b", topic);
    pp_producer a = producer(c, ta, opts), b = producer(c, tb, opts);
    char buf[600] = {0};
    check(pp_send(a, buf, 600, NULL, NULL, err, sizeof err) == PP_OK, "600 bytes pending on producer a", err);
    int64_t msgs = 0, bytes = 0;
    check(pp_producer_room(b, &msgs, &bytes) == PP_OK && bytes == 400 && msgs == -1, "producer b has 400 bytes of room", NULL);
    expect(pp_send(b, buf, 500, NULL, NULL, err, sizeof err), PP_ERR_MEMORY_BUFFER_IS_FULL, "memoryLimitBytes 1000",
           "producer b is held to the client's limit");
    size_t acc;
    size_t l[1] = {500};
    expect(pp_send_batch(b, buf, l, 1, PP_SEND_NONBLOCK, NULL, NULL, &acc, err, sizeof err), PP_ERR_MEMORY_BUFFER_IS_FULL, NULL,
           "a non-blocking batch send is refused too");
    pp_client_stop(c, 10000, err, sizeof err);
}

/* Closing the client settles every producer's pending sends. */
static int settle_calls;

static void settle_cb(pp_producer p, pp_result r, const pp_message_id *id, const char *e, void *ud) {
    (void)p, (void)r, (void)id, (void)e, (void)ud;
    settle_calls++;
}

static void test_client_stop_settles(void) {
    pp_client c = client(NULL);
    char t[256];
    for (int i = 0; i < 3; i++) {
        snprintf(t, sizeof t, "%s-settle-%d", topic, i);
        pp_producer p = producer(c, t, "{\"batchingMaxPublishDelay\": 60000, \"batchingMaxMessages\": 100000}");
        for (int k = 0; k < 10; k++) pp_send(p, "s", 1, settle_cb, NULL, err, sizeof err);
    }
    check(pp_client_stop(c, 10000, err, sizeof err) == PP_OK && settle_calls == 30, "stopping the client settles all 30 pending sends", err);
}

/* The event fd is readable exactly while something waits. */
static void test_event_fd(void) {
    pp_client c = client(NULL);
    pp_producer p = producer(c, topic, NULL);
    int fd = -1;
    check(pp_client_event_fd(c, &fd) == PP_OK && fd >= 0, "pp_client_event_fd", NULL);
    struct pollfd pfd = {fd, POLLIN, 0};
    check(poll(&pfd, 1, 0) == 0, "not readable while nothing waits", NULL);
    pp_send(p, "fd", 2, NULL, NULL, err, sizeof err);
    check(poll(&pfd, 1, 10000) == 1, "readable once a completion waits", NULL);
    pp_completion out[4];
    size_t n = 0;
    check(pp_drain(c, out, 4, 0, &n) == PP_OK && n == 1 && out[0].producer == p, "the completion names its producer", NULL);
    print_msg("fd", &out[0].id);
    check(poll(&pfd, 1, 0) == 0, "not readable once everything was taken", NULL);
    pp_client_stop(c, 10000, err, sizeof err);
}

static void test_logs(void) {
    pp_client c = client("{\"logLevel\": \"info\"}");
    producer(c, topic, NULL);
    pp_log_record recs[64];
    size_t n = 0;
    check(pp_client_logs(c, recs, 64, &n) == PP_OK && n >= 3, "log records wait", NULL);
    int registered = 0;
    for (size_t i = 0; i < n; i++) {
        if (strstr(recs[i].message, "registered") && recs[i].level == PP_LOG_INFO && strstr(recs[i].topic, topic) &&
            recs[i].broker[0] && recs[i].time_ms > 0)
            registered = 1;
    }
    check(registered, "a registration record with its level, topic and broker", NULL);
    check(pp_client_logs(c, recs, 64, &n) == PP_OK && n == 0, "taken once", NULL);
    pp_client_stop(c, 10000, err, sizeof err);
    pp_client d = client(NULL);
    producer(d, topic, NULL);
    check(pp_client_logs(d, recs, 64, &n) == PP_OK && n == 0, "the default level makes no info records", NULL);
    pp_client_stop(d, 10000, err, sizeof err);

    /* A thread waiting in pp_drain wakes for new log records. */
    pp_client e = client("{\"logLevel\": \"info\"}");
    waiter w = {e, 1, PP_ERR_UNKNOWN, 0};
    pthread_t th;
    pthread_create(&th, NULL, wait_thread, &w);
    struct timespec ts = {0, 200 * 1000000};
    nanosleep(&ts, NULL);
    double t0 = now_s();
    producer(e, topic, NULL);
    pthread_join(th, NULL);
    check(w.result == PP_OK && w.returned - t0 < 5, "a waiting pp_drain returns for new log records", pp_result_name(w.result));
    pp_client_stop(e, 10000, err, sizeof err);
}

/* Creation is cancellable and can be bounded; waitForExclusive waits behind
 * an exclusive producer. */
typedef struct {
    pp_producer p;
    pp_result r;
    double at;
} create_wait;

static void *wait_ready(void *arg) {
    create_wait *w = arg;
    char e[256];
    w->r = pp_producer_wait(w->p, 30000, e, sizeof e);
    w->at = now_s();
    return NULL;
}

static void test_creation(void) {
    char t[256];
    snprintf(t, sizeof t, "%s-excl", topic);
    pp_client c = client(NULL);
    pp_producer owner = producer(c, t, "{\"accessMode\": \"exclusive\"}");
    pp_producer w = 0;
    check(pp_producer_open(c, t, T, "{\"accessMode\": \"waitForExclusive\"}", &w, err, sizeof err) == PP_OK, "open a waiting producer", err);
    expect(pp_producer_wait(w, 500, err, sizeof err), PP_ERR_PRODUCER_NOT_INITIALIZED, "still being created", "it waits behind the exclusive one");
    expect(pp_send(w, "x", 1, NULL, NULL, err, sizeof err), PP_ERR_PRODUCER_NOT_INITIALIZED, "not ready", "a send before it is ready");
    create_wait cw = {w, PP_OK, 0};
    pthread_t th;
    pthread_create(&th, NULL, wait_ready, &cw);
    struct timespec ts = {0, 200 * 1000000};
    nanosleep(&ts, NULL);
    double t0 = now_s();
    check(pp_stop(w, 1000, err, sizeof err) == PP_OK, "cancel creation with pp_stop", err);
    pthread_join(th, NULL);
    check(cw.r == PP_ERR_INTERRUPTED && cw.at - t0 < 2, "the waiting thread learns it was cancelled", pp_result_name(cw.r));
    t0 = now_s();
    pp_producer b;
    expect(pp_producer_start(c, t, T, "{\"accessMode\": \"waitForExclusive\", \"createTimeout\": 1000}", &b, err, sizeof err),
           PP_ERR_TIMEOUT, "createTimeout", "createTimeout bounds a waitForExclusive producer");
    double took = now_s() - t0;
    check(took >= 0.9 && took < 5, "within about createTimeout", NULL);
    /* Once the exclusive producer goes, a waiting one gets the topic. */
    pp_producer_open(c, t, T, "{\"accessMode\": \"waitForExclusive\"}", &w, err, sizeof err);
    pp_stop(owner, 5000, err, sizeof err);
    check(pp_producer_wait(w, 20000, err, sizeof err) == PP_OK, "the waiting producer gets the topic after the owner left", err);
    pp_client_stop(c, 10000, err, sizeof err);
}

/* Multi-host service URLs fail over to the host that answers; an HTTP port
 * is named as such. */
static void test_service_urls(void) {
    const char *host = strstr(url, "://") + 3;
    char two[256];
    snprintf(two, sizeof two, "pulsar://127.0.0.1:1,%s", host);
    int ok = 0;
    for (int i = 0; i < 20; i++) {
        pp_producer p;
        if (pp_start(two, T, topic, T, NULL, &p, err, sizeof err) == PP_OK) {
            ok++;
            pp_stop(p, 5000, err, sizeof err);
        }
    }
    char d[64];
    snprintf(d, sizeof d, "%d of 20", ok);
    check(ok == 20, "the first host down: 20 of 20 starts reach the second", d);
    pp_producer p;
    expect(pp_start(http_url, T, topic, T, NULL, &p, err, sizeof err), PP_ERR_CONNECT, "HTTP port", "a URL naming an HTTP port");
}

/* Messages with every metadata field, read back by the Go test with the
 * Java client. */
typedef struct {
    const char *name;
    pp_message_id id;
    pp_result r;
} field_msg;

static void field_cb(pp_producer p, pp_result r, const pp_message_id *id, const char *e, void *ud) {
    (void)p, (void)e;
    field_msg *f = ud;
    f->r = r;
    if (id) f->id = *id;
}

static void test_fields(void) {
    pp_producer p;
    pp_start(url, T, topic, T, "{\"disableBatching\": true}", &p, err, sizeof err);
    static field_msg fm[6] = {{"field-emptykey", {0}, 0}, {"field-seq", {0}, 0}, {"field-local", {0}, 0},
                              {"field-deliver", {0}, 0}, {"field-binkey", {0}, 0}, {"field-clusters", {0}, 0}};
    pp_message m[6];
    for (int i = 0; i < 6; i++) {
        pp_message_init(&m[i]);
        m[i].payload = fm[i].name;
        m[i].payload_len = strlen(fm[i].name);
    }
    m[0].key = "";
    m[1].sequence_id = 777777;
    m[2].disable_replication = 1;
    m[3].deliver_after_ms = 1;
    static const pp_property props[1] = {{"k\0ey", 4, "v\0al", 4}};
    m[4].key = "a\0b";
    m[4].key_len = 3;
    m[4].ordering_key = "\x01\x02";
    m[4].ordering_key_len = 2;
    m[4].properties = props;
    m[4].property_count = 1;
    static const char *const clusters[1] = {"standalone"};
    m[5].replication_clusters = clusters;
    m[5].replication_cluster_count = 1;
    m[5].event_time_ms = 1700000000999;
    for (int i = 0; i < 6; i++) {
        if (pp_send_message(p, &m[i], field_cb, &fm[i], err, sizeof err) != PP_OK) check(0, "send a field message", err);
    }
    pp_stop(p, 10000, err, sizeof err);
    int ok = 1;
    for (int i = 0; i < 6; i++) {
        if (fm[i].r != PP_OK) ok = 0;
        else print_msg(fm[i].name, &fm[i].id);
    }
    check(ok, "every field message stored", NULL);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s SERVICE_URL TOPIC HTTP_URL\n", argv[0]);
        return 2;
    }
    url = argv[1];
    topic = argv[2];
    http_url = argv[3];
    signal(SIGPIPE, SIG_IGN);
    test_impossible_lengths();
    test_stop_wakes_waiters();
    test_stop_runs_slow_callbacks();
    test_fork();
    test_handle_kinds();
    test_many_producers();
    test_shared_memory_limit();
    test_client_stop_settles();
    test_event_fd();
    test_logs();
    test_creation();
    test_service_urls();
    test_fields();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
