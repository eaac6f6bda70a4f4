/*
 * leak.c - the C side of the leak check (tests/leaks/run.sh): publishes N
 * messages of 100 bytes through the C ABI and prints its own resident
 * memory every N/10 messages, so that the runner can see whether it grows.
 *
 * How it works: the main thread sends with pp_send_batch, 1000 messages a
 * call, to one producer with batchingMaxMessages 1000, blockIfQueueFull and
 * maxPendingMessages 10000, so a send blocks while 10 batches await their
 * receipts (the library's flow control bounds what is in flight). Each
 * message's user_data is its number, 1 to N. A second thread takes every
 * completion with pp_drain and checks it: PP_OK, and numbers in send order
 * (one producer of a plain topic completes in order), so a lost, doubled or
 * reordered completion is counted. After every N/10 accepted messages the
 * main thread reads VmRSS from /proc/self/status and prints
 *   rss <messages sent> <KiB>
 * and at the end
 *   result c sent <N> ok <n> failed <n> missing <n> acked <n> seconds <s>
 * where acked is the client's msgs_acked counter. Exit status 1 if a
 * message failed or a completion was missing.
 *
 * --retain K keeps a copy of every K-th payload until the end: a leak put
 * in on purpose, to show that the runner's bound trips (run.sh --retain).
 *
 * Usage: leak SERVICE_URL TOPIC [N [--retain K]]
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pulsar_producer.h"

enum { PAYLOAD = 100, CHUNK = 1000, DRAIN = 4096 };

static pp_client client;
static long total;
/* Written by the drain thread only; read by main after pthread_join. */
static long done_ok, done_failed, out_of_order;

/* drainer takes completions until the client is closed and every one was
 * taken (pp_drain then says PP_ERR_ALREADY_CLOSED). */
static void *drainer(void *arg) {
    (void)arg;
    static pp_completion batch[DRAIN];
    uintptr_t expected = 1;
    for (;;) {
        size_t n = 0;
        if (pp_drain(client, batch, DRAIN, 200, &n) != PP_OK) break;
        for (size_t i = 0; i < n; i++) {
            if (batch[i].result == PP_OK) done_ok++;
            else if (done_failed++ == 0) fprintf(stderr, "leak: message %lu failed: %s\n",
                                                 (unsigned long)(uintptr_t)batch[i].user_data, batch[i].error);
            if ((uintptr_t)batch[i].user_data != expected) out_of_order++;
            expected = (uintptr_t)batch[i].user_data + 1;
        }
    }
    return NULL;
}

/* rss_kib reads the process's resident set size, in KiB. */
static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    if (f == NULL) return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SERVICE_URL TOPIC [N [--retain K]]\n", argv[0]);
        return 2;
    }
    total = argc > 3 ? atol(argv[3]) : 10000000;
    long retain_every = argc > 5 && strcmp(argv[4], "--retain") == 0 ? atol(argv[5]) : 0;
    if (total < 10 || retain_every < 0) {
        fprintf(stderr, "leak: N must be at least 10 and K positive\n");
        return 2;
    }
    char err[512];
    pp_producer producer;
    const char *opts = "{\"batchingMaxMessages\": 1000, \"blockIfQueueFull\": true, \"maxPendingMessages\": 10000}";
    if (pp_client_start(argv[1], PP_NTS, NULL, &client, err, sizeof err) != PP_OK ||
        pp_producer_start(client, argv[2], PP_NTS, opts, &producer, err, sizeof err) != PP_OK ||
        pp_producer_wait(producer, 10000, err, sizeof err) != PP_OK) {
        fprintf(stderr, "leak: start: %s\n", err);
        return 1;
    }
    static char data[CHUNK * PAYLOAD];
    static size_t lens[CHUNK];
    static void *numbers[CHUNK];
    for (int i = 0; i < CHUNK; i++) {
        memset(data + i * PAYLOAD, 'a' + i % 26, PAYLOAD);
        lens[i] = PAYLOAD;
    }
    char **retained = NULL;
    size_t nretained = 0;
    if (retain_every > 0 && (retained = malloc((total / retain_every + 1) * sizeof *retained)) == NULL) return 1;

    pthread_t th;
    double t0 = now();
    pthread_create(&th, NULL, drainer, NULL);
    long step = total / 10, next_sample = step;
    for (long sent = 0; sent < total;) {
        size_t n = total - sent < CHUNK ? (size_t)(total - sent) : CHUNK, accepted = 0;
        for (size_t i = 0; i < n; i++) numbers[i] = (void *)(uintptr_t)(sent + i + 1);
        if (pp_send_batch(producer, data, lens, n, 0, NULL, numbers, &accepted, err, sizeof err) != PP_OK) {
            fprintf(stderr, "leak: send at %ld: %s\n", sent + (long)accepted, err);
            return 1;
        }
        for (size_t i = 0; retain_every > 0 && i < n; i++) {
            if ((sent + (long)i) % retain_every == 0) {
                retained[nretained] = malloc(PAYLOAD);
                if (retained[nretained] == NULL) return 1;
                memcpy(retained[nretained++], data + i * PAYLOAD, PAYLOAD);
            }
        }
        sent += (long)n;
        if (sent >= next_sample) {
            printf("rss %ld %ld\n", sent, rss_kib());
            fflush(stdout);
            next_sample += step;
        }
    }
    pp_stats st = {.struct_size = sizeof st};
    if (pp_client_close(client, 30000, err, sizeof err) != PP_OK) fprintf(stderr, "leak: close: %s\n", err);
    pthread_join(th, NULL);
    double secs = now() - t0;
    pp_client_stats(client, &st);
    pp_client_stop(client, 1000, err, sizeof err);
    long missing = total - done_ok - done_failed;
    printf("result c sent %ld ok %ld failed %ld missing %ld acked %lld seconds %.1f\n", total, done_ok, done_failed,
           missing, (long long)st.msgs_acked, secs);
    if (out_of_order) fprintf(stderr, "leak: %ld completions out of send order\n", out_of_order);
    if (retain_every > 0) fprintf(stderr, "leak: kept %zu payloads on purpose (--retain %ld)\n", nretained, retain_every);
    for (size_t i = 0; i < nretained; i++) free(retained[i]);
    free(retained);
    return done_failed || missing || out_of_order || st.msgs_acked != total ? 1 : 0;
}
