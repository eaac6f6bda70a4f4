/*
 * faults_producer.c - the C producer of the fault scenarios (tests/faults),
 * through the C ABI: one client, one producer, numbered messages sent with
 * pp_send at a set rate, every completion printed.
 *
 * Usage: faults_producer URL TOPIC COUNT RATE SIZE CLIENT_JSON PRODUCER_JSON
 *
 * How this works: it prints the same lines as the Go producer
 * (tests/faults/producer/main.go documents them), from three threads: the
 * sender (pp_send, paced to RATE messages per second, 0 for as fast as
 * accepted), the poller (pp_poll, whose callbacks print the outcomes), and
 * a stdin reader for the harness's commands ("mark", "close-producer MS",
 * "close-client MS"), plus a sampler printing the RSS. Output lines are
 * written under one mutex. A send that the library refuses (not accepted:
 * no completion follows) prints "R t i code". In C the completions wait in
 * the client's queue until taken, so "settled" is checked through the
 * stats: the CLOSE line carries the pending_msgs count that the close left
 * behind, which must be 0. The harness builds it with -Wall -Wextra -Werror
 * under AddressSanitizer.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pulsar_producer.h"

static struct timespec t0;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cmd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cmd_cv = PTHREAD_COND_INITIALIZER;
static char cmd[32];       /* the close command, "" until one arrives */
static int cmd_ms;         /* its timeout */
static int sender_done;    /* under cmd_mu */
static atomic_long accepted;
static atomic_int stop_sending, stop_sampler;

static pp_client client;
static pp_producer producer;
static long count, rate;
static size_t size;

static long long ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)(ts.tv_sec - t0.tv_sec) * 1000 + (ts.tv_nsec - t0.tv_nsec) / 1000000;
}

static void emit(int flush, const char *fmt, ...) {
    va_list ap;
    pthread_mutex_lock(&out_mu);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    if (flush) fflush(stdout);
    pthread_mutex_unlock(&out_mu);
}

static long status_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

static void on_delivery(pp_producer p, pp_result result, const pp_message_id *id, const char *error, void *user_data) {
    long i = (long)(intptr_t)user_data;
    (void)p;
    (void)error;
    if (result != PP_OK) {
        emit(0, "F %lld %ld %d", ms(), i, (int)result);
    } else if (id->flags & PP_ID_DUPLICATE) {
        emit(0, "D %lld %ld", ms(), i);
    } else {
        emit(0, "A %lld %ld %lld %lld %d %d", ms(), i, (long long)id->ledger_id, (long long)id->entry_id,
             (int)id->partition, (int)id->batch_index);
    }
}

static void *poller(void *arg) {
    (void)arg;
    for (;;) {
        pp_result r = pp_poll(client, 20, NULL);
        pthread_mutex_lock(&out_mu);
        fflush(stdout);
        pthread_mutex_unlock(&out_mu);
        if (r == PP_ERR_ALREADY_CLOSED || r == PP_ERR_INVALID_HANDLE) return NULL;
    }
}

static void *sampler(void *arg) {
    struct timespec d = {0, 200 * 1000000L};
    (void)arg;
    while (!atomic_load(&stop_sampler)) {
        nanosleep(&d, NULL);
        emit(1, "MEM %lld %ld", ms(), status_kib("VmRSS"));
    }
    return NULL;
}

static void *sender(void *arg) {
    char *payload = malloc(size);
    char err[256];
    long i;
    (void)arg;
    memset(payload, 'x', size);
    for (i = 0; i < count && !atomic_load(&stop_sending); i++) {
        if (rate > 0) {
            long long due = i * 1000LL / rate;
            long long ahead = due - ms();
            if (ahead > 1) {
                struct timespec d = {(time_t)(ahead / 1000), (long)(ahead % 1000) * 1000000L};
                nanosleep(&d, NULL);
            }
        }
        char digits[24];
        snprintf(digits, sizeof digits, "%010ld", i);
        memcpy(payload, digits, 10);
        pp_result r = pp_send(producer, payload, size, on_delivery, (void *)(intptr_t)i, err, sizeof err);
        if (r == PP_OK) {
            atomic_fetch_add(&accepted, 1);
            continue;
        }
        if (r == PP_ERR_PRODUCER_QUEUE_IS_FULL || r == PP_ERR_MEMORY_BUFFER_IS_FULL) {
            emit(0, "R %lld %ld %d", ms(), i, (int)r); /* fail-fast: not accepted, the next one goes on */
            continue;
        }
        if (!atomic_load(&stop_sending)) emit(1, "ERROR %lld pp_send %d %s", ms(), (int)r, err);
        break;
    }
    free(payload);
    emit(1, "DONE %lld %ld", ms(), atomic_load(&accepted));
    pthread_mutex_lock(&cmd_mu);
    sender_done = 1;
    pthread_cond_broadcast(&cmd_cv);
    pthread_mutex_unlock(&cmd_mu);
    return NULL;
}

static void *commands(void *arg) {
    char line[128];
    (void)arg;
    while (fgets(line, sizeof line, stdin)) {
        char word[32];
        int v = 0;
        int n = sscanf(line, "%31s %d", word, &v);
        if (n >= 1 && strcmp(word, "mark") == 0) {
            emit(1, "M %lld %ld", ms(), atomic_load(&accepted));
        } else if (n == 2 && (strcmp(word, "close-producer") == 0 || strcmp(word, "close-client") == 0)) {
            pthread_mutex_lock(&cmd_mu);
            snprintf(cmd, sizeof cmd, "%s", word);
            cmd_ms = v;
            pthread_cond_broadcast(&cmd_cv);
            pthread_mutex_unlock(&cmd_mu);
            return NULL;
        }
    }
    return NULL;
}

static void stats_line(void) {
    pp_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    if (pp_client_stats(client, &st) == PP_OK) {
        emit(1, "STATS %lld %lld %lld %lld %lld %lld %lld", ms(), (long long)st.msgs_sent, (long long)st.msgs_acked,
             (long long)st.msgs_failed, (long long)st.reconnects, (long long)st.latency_p99_us, (long long)st.connects);
    }
}

static long long pending_of(uint64_t handle, int is_client) {
    pp_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    pp_result r = is_client ? pp_client_stats(handle, &st) : pp_producer_stats(handle, &st);
    return r == PP_OK ? (long long)st.pending_msgs : -1;
}

int main(int argc, char **argv) {
    char err[512];
    pthread_t th_send, th_poll, th_cmd, th_mem;
    pp_result r;
    char name[256];
    int32_t parts = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (argc != 8) {
        fprintf(stderr, "usage: %s URL TOPIC COUNT RATE SIZE CLIENT_JSON PRODUCER_JSON\n", argv[0]);
        return 2;
    }
    count = atol(argv[3]);
    rate = atol(argv[4]);
    size = (size_t)atol(argv[5]);
    if (size < 10) size = 10;
    if ((r = pp_client_start(argv[1], PP_NTS, argv[6], &client, err, sizeof err)) != PP_OK) {
        emit(1, "ERROR %lld pp_client_start %d %s", ms(), (int)r, err);
        return 1;
    }
    if ((r = pp_producer_start(client, argv[2], PP_NTS, argv[7], &producer, err, sizeof err)) != PP_OK) {
        emit(1, "ERROR %lld pp_producer_start %d %s", ms(), (int)r, err);
        pp_client_stop(client, 1000, NULL, 0);
        return 1;
    }
    pp_producer_name(producer, name, sizeof name, NULL);
    pp_producer_partitions(producer, &parts);
    emit(1, "READY %lld %s %d", ms(), name, (int)parts);

    pthread_create(&th_poll, NULL, poller, NULL);
    pthread_create(&th_mem, NULL, sampler, NULL);
    pthread_create(&th_send, NULL, sender, NULL);
    pthread_create(&th_cmd, NULL, commands, NULL);

    pthread_mutex_lock(&cmd_mu);
    while (!sender_done && cmd[0] == 0) pthread_cond_wait(&cmd_cv, &cmd_mu);
    pthread_mutex_unlock(&cmd_mu);

    if (cmd[0] == 0) {
        /* The normal end: flush, then close. */
        r = pp_flush(producer, 180000, err, sizeof err);
        if (r != PP_OK) emit(1, "CLOSE %lld flush 0 %d %lld", ms(), (int)r, pending_of(producer, 0));
        stats_line();
        long long t = ms();
        r = pp_close(producer, 30000, err, sizeof err);
        emit(1, "CLOSE %lld producer %lld %d %lld", ms(), ms() - t, (int)r, pending_of(producer, 0));
    } else {
        atomic_store(&stop_sending, 1);
        long long t = ms();
        if (strcmp(cmd, "close-producer") == 0) {
            r = pp_close(producer, cmd_ms, err, sizeof err);
            emit(1, "CLOSE %lld producer %lld %d %lld", ms(), ms() - t, (int)r, pending_of(producer, 0));
        } else {
            r = pp_client_close(client, cmd_ms, err, sizeof err);
            emit(1, "CLOSE %lld client %lld %d %lld", ms(), ms() - t, (int)r, pending_of(client, 1));
        }
        stats_line();
    }
    /* A send blocked waiting for room returns once the producer closes. */
    pthread_join(th_send, NULL);
    /* pp_client_stop wakes the poller (PP_ERR_ALREADY_CLOSED once the queue
     * is empty) and runs what remains on this thread; afterwards no
     * callback runs. */
    pp_client_close(client, 10000, NULL, 0);
    pthread_join(th_poll, NULL);
    pp_client_stop(client, 1000, NULL, 0);
    atomic_store(&stop_sampler, 1);
    pthread_join(th_mem, NULL);
    emit(1, "EXIT %lld %ld", ms(), status_kib("VmHWM"));
    /* The stdin reader may still wait for input: the process ends here. */
    (void)th_cmd;
    return 0;
}
