/*
 * tap.h - the output protocol shared by the C test programs that
 * tests/capi drives (pp_schema_test.c, pp_routing_test.c,
 * pp_chunk_test.c, pp_secure_test.c).
 *
 * How it works: each check prints "ok - name" or "not ok - name: why";
 * tap_done() prints "N passed, N failed" and gives the exit status. Other
 * lines carry data for the Go driver, which reads them back with another
 * client: "MSG label ledger entry partition batch_index batch_size" for a
 * message stored, and "WAIT what", after which the program blocks until the
 * driver has done `what` (such as growing a topic) and written a line to
 * its stdin. Everything is static inline, so a program pays only for what
 * it uses.
 */
#ifndef PP_TAP_H
#define PP_TAP_H

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pulsar_producer.h"

static int tap_passed, tap_failed;

/* The last errbuf written; expect() clears it. */
static char err[512];

static inline void check(int cond, const char *name, const char *detail) {
    if (cond) {
        tap_passed++;
        printf("ok - %s\n", name);
    } else {
        tap_failed++;
        printf("not ok - %s: %s\n", name, detail ? detail : "");
    }
    fflush(stdout);
}

/* Checks a result, and that err (the call's errbuf) contains text. */
static inline void expect(pp_result got, pp_result want, const char *text, const char *name) {
    char detail[1200];
    snprintf(detail, sizeof detail, "got %s (%d) \"%s\", want %s containing \"%s\"", pp_result_name(got), (int)got, err,
             pp_result_name(want), text ? text : "");
    check(got == want && (text == NULL || strstr(err, text) != NULL), name, detail);
    err[0] = 0;
}

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A message the driver is to find at id, under label (no spaces). */
static inline void print_msg(const char *label, const pp_message_id *id) {
    printf("MSG %s %lld %lld %d %d %d\n", label, (long long)id->ledger_id, (long long)id->entry_id, (int)id->partition,
           (int)id->batch_index, (int)id->batch_size);
    fflush(stdout);
}

/* The outcome of one accepted message, filled in by outcome_cb (pass the
 * outcome as user_data). */
typedef struct outcome {
    const char *label;
    int done;
    pp_result result;
    pp_message_id id;
    char error[600];
} outcome;

static inline void outcome_cb(pp_producer p, pp_result r, const pp_message_id *id, const char *e, void *ud) {
    outcome *o = ud;
    (void)p;
    if (!o) return; /* a message sent without an outcome */
    o->done++;
    o->result = r;
    if (id) o->id = *id;
    if (e) snprintf(o->error, sizeof o->error, "%s", e);
}

/* Polls client c (a client, or a pp_start producer) until every one of the
 * n outcomes is done, for up to timeout_ms; returns 1 if they all are. */
static inline int settle(uint64_t c, outcome *const *os, size_t n, int timeout_ms) {
    double deadline = now_s() + timeout_ms / 1000.0;
    for (;;) {
        size_t left = 0;
        for (size_t i = 0; i < n; i++) left += os[i]->done == 0;
        if (left == 0) return 1;
        if (now_s() > deadline) return 0;
        size_t served;
        if (pp_poll(c, 200, &served) != PP_OK) return 0;
    }
}

/* Prints the MSG line of a stored outcome; a failed one fails the check
 * named after its label. */
static inline void report(const outcome *o) {
    if (o->done == 1 && o->result == PP_OK) {
        print_msg(o->label, &o->id);
        return;
    }
    char d[1024];
    snprintf(d, sizeof d, "%d completions, last %s: %s", o->done, pp_result_name(o->result), o->error);
    check(0, o->label, d);
}

/* Asks the driver to do `what` and waits for its answer line. */
static inline int wait_for_driver(const char *what) {
    char line[64];
    printf("WAIT %s\n", what);
    fflush(stdout);
    return fgets(line, sizeof line, stdin) != NULL;
}

static inline int tap_done(void) {
    printf("%d passed, %d failed\n", tap_passed, tap_failed);
    return tap_failed ? 1 : 0;
}

#endif /* PP_TAP_H */
