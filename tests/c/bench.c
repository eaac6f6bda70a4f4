/*
 * bench.c - publishes N messages of 100 bytes through the C ABI as fast as
 * it can, from the main thread of one client: "single" sends with pp_send
 * on one producer, "batch" with pp_send_batch (256 at a time) on one
 * producer, "many" with pp_send_batch spread over 50 producers (topics
 * TOPIC-0 ... TOPIC-49) of the same client. A second thread takes every
 * completion of the client with pp_drain, in batches. Prints messages per
 * second.
 *
 * Usage: bench SERVICE_URL TOPIC [N [single|batch|many]]
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pulsar_producer.h"

static pp_client client;
static pp_producer producers[50];
static int nproducers = 1;
static long total, done_ok, done_failed;

static void *drainer(void *arg) {
    (void)arg;
    static pp_completion batch[4096];
    while (done_ok + done_failed < total) {
        size_t n = 0;
        if (pp_drain(client, batch, 4096, 200, &n) != PP_OK) break;
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
        fprintf(stderr, "usage: %s SERVICE_URL TOPIC [N [single|batch|many]]\n", argv[0]);
        return 2;
    }
    total = argc > 3 ? atol(argv[3]) : 1000000;
    const char *mode = argc > 4 ? argv[4] : "single";
    int batch = strcmp(mode, "single") != 0;
    if (strcmp(mode, "many") == 0) nproducers = 50;
    char err[512];
    const char *opts = "{\"batchingMaxMessages\": 1000, \"batchingMaxPublishDelay\": 10, \"blockIfQueueFull\": true}";
    if (pp_client_start(argv[1], PP_NTS, NULL, &client, err, sizeof err) != PP_OK) {
        fprintf(stderr, "start: %s\n", err);
        return 1;
    }
    for (int i = 0; i < nproducers; i++) {
        char topic[256];
        if (nproducers == 1) snprintf(topic, sizeof topic, "%s", argv[2]);
        else snprintf(topic, sizeof topic, "%s-%d", argv[2], i);
        if (pp_producer_start(client, topic, PP_NTS, opts, &producers[i], err, sizeof err) != PP_OK) {
            fprintf(stderr, "producer %s: %s\n", topic, err);
            return 1;
        }
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
        int k = 0;
        for (long i = 0; i < total; i += chunk) {
            size_t n = total - i < chunk ? (size_t)(total - i) : chunk, accepted;
            pp_producer p = producers[k];
            k = (k + 1) % nproducers;
            if (pp_send_batch(p, data, lens, n, 0, NULL, NULL, &accepted, err, sizeof err) != PP_OK) {
                fprintf(stderr, "send batch at %ld: %s\n", i, err);
                return 1;
            }
        }
    } else {
        for (long i = 0; i < total; i++) {
            if (pp_send(producers[0], payload, sizeof payload, NULL, NULL, err, sizeof err) != PP_OK) {
                fprintf(stderr, "send %ld: %s\n", i, err);
                return 1;
            }
        }
    }
    pthread_join(th, NULL);
    double elapsed = now() - t0, cpu = cpu_seconds() - c0;
    pp_client_stop(client, 10000, err, sizeof err);
    printf("c-abi %s, %d producer%s: %ld messages of 100 bytes in %.3f s: %.0f msg/s, %.2f cpu-s/Mmsg (%ld failed)\n",
           batch ? "pp_send_batch" : "pp_send", nproducers, nproducers > 1 ? "s" : "", total, elapsed,
           (double)total / elapsed, cpu / (total / 1e6), done_failed);
    return done_failed ? 1 : 0;
}
