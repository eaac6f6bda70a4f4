/*
 * bench.c - publishes N messages of 100 bytes through the C ABI as fast as
 * it can: pp_send on the main thread (or pp_send_batch, 256 at a time, with
 * "batch"), completions taken by a second thread with pp_drain in batches.
 * Prints messages per second.
 *
 * Usage: bench SERVICE_URL TOPIC [N [single|batch]]
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pulsar_producer.h"

static pp_producer producer;
static long total, done_ok, done_failed;

static void *drainer(void *arg) {
    (void)arg;
    static pp_completion batch[4096];
    while (done_ok + done_failed < total) {
        size_t n = 0;
        if (pp_drain(producer, batch, 4096, 200, &n) != PP_OK) break;
        for (size_t i = 0; i < n; i++) {
            if (batch[i].result == PP_OK) done_ok++;
            else done_failed++;
        }
    }
    return NULL;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SERVICE_URL TOPIC [N]\n", argv[0]);
        return 2;
    }
    total = argc > 3 ? atol(argv[3]) : 1000000;
    int batch = argc > 4 && strcmp(argv[4], "batch") == 0;
    char err[512];
    const char *opts = "{\"batchingMaxMessages\": 1000, \"batchingMaxPublishDelay\": 10, \"blockIfQueueFull\": true}";
    if (pp_start(argv[1], PP_NTS, argv[2], PP_NTS, opts, &producer, err, sizeof err) != PP_OK) {
        fprintf(stderr, "start: %s\n", err);
        return 1;
    }
    char payload[100];
    memset(payload, 'x', sizeof payload);
    pthread_t th;
    double t0 = now(), c0 = cpu_seconds();
    pthread_create(&th, NULL, drainer, NULL);
    if (batch) {
        enum { chunk = 256 };
        static char data[chunk * sizeof payload];
        static size_t lens[chunk];
        for (int i = 0; i < chunk; i++) {
            memcpy(data + i * sizeof payload, payload, sizeof payload);
            lens[i] = sizeof payload;
        }
        for (long i = 0; i < total; i += chunk) {
            size_t n = total - i < chunk ? (size_t)(total - i) : chunk, accepted;
            if (pp_send_batch(producer, data, lens, n, 0, NULL, NULL, &accepted, err, sizeof err) != PP_OK) {
                fprintf(stderr, "send batch at %ld: %s\n", i, err);
                return 1;
            }
        }
    } else {
        for (long i = 0; i < total; i++) {
            if (pp_send(producer, payload, sizeof payload, NULL, NULL, err, sizeof err) != PP_OK) {
                fprintf(stderr, "send %ld: %s\n", i, err);
                return 1;
            }
        }
    }
    pthread_join(th, NULL);
    double elapsed = now() - t0, cpu = cpu_seconds() - c0;
    pp_stop(producer, 10000, err, sizeof err);
    printf("c-abi %s: %ld messages of 100 bytes in %.3f s: %.0f msg/s, %.2f cpu-s/Mmsg (%ld failed)\n",
           batch ? "pp_send_batch" : "pp_send", total, elapsed, (double)total / elapsed, cpu / (total / 1e6),
           done_failed);
    return done_failed ? 1 : 0;
}
