/*
 * pp_routing_test.c - which partition a message goes to: routers written in
 * C (pp_producer_set_router), pp_message.partition, and partitions added
 * while a producer runs (pp_producer_partitions).
 *
 * Usage: pp_routing_test SERVICE_URL TOPIC3 PLAIN_TOPIC GROW_TOPIC
 *   TOPIC3 has 3 partitions, PLAIN_TOPIC none, GROW_TOPIC 2 (the driver
 *   made them); on "WAIT grow 4" the driver raises GROW_TOPIC to 4.
 *
 * How it works: the router reads its answer from the payload, which ends in
 * "@N" (the partition to return, which may be out of range on purpose),
 * and checks on every call that it runs on the thread that sends (the
 * sending thread is a thread of its own, not main), that it is told 3
 * partitions, that it may call pp_producer_partitions(), and what the
 * message carries. Each message stored is printed as a MSG line (tap.h)
 * labelled with its payload: the Go driver (tests/capi/routing_test.go)
 * reads the topics back with the Java client and checks that each message
 * is in the partition its label names: after "=" when the program set
 * pp_message.partition, else after "@", and for "grow<N>-<key>" the
 * partition the Java client's String.hashCode of the key gives among N.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static const char *url, *topic3, *plain_topic, *grow_topic;

/* What the router saw. */
typedef struct {
    pp_producer producer;
    pthread_t sender; /* the thread expected to call it */
    int calls;
    int wrong_thread;
    int wrong_count;     /* num_partitions was not `partitions` */
    int partitions;      /* the count it expects to be told */
    int partitions_fail; /* pp_producer_partitions() failed or disagreed inside it */
    int bad_message;     /* a message that is not what was sent */
    int keyed;           /* messages that carried a key */
} router_state;

/* Returns the N of the payload's "@N". */
static int32_t route_by_payload(void *user_data, const pp_message *msg, int32_t num_partitions) {
    router_state *s = user_data;
    s->calls++;
    if (!pthread_equal(pthread_self(), s->sender)) s->wrong_thread++;
    if (num_partitions != s->partitions) s->wrong_count++;
    int32_t parts = -1;
    if (pp_producer_partitions(s->producer, &parts) != PP_OK || parts != num_partitions) s->partitions_fail++;
    if (msg == NULL || msg->struct_size < sizeof(pp_message) || msg->partition != -1 || msg->payload_len >= 64 ||
        (msg->payload_len > 0 && msg->payload == NULL)) {
        s->bad_message++;
        return 0;
    }
    if (msg->key != NULL) s->keyed++;
    char text[64];
    memcpy(text, msg->payload, msg->payload_len);
    text[msg->payload_len] = 0;
    const char *at = strchr(text, '@');
    if (at == NULL) {
        s->bad_message++;
        return 0;
    }
    return (int32_t)strtol(at + 1, NULL, 10);
}

#define MAX_OUT 64
static outcome outs[MAX_OUT];
static char labels[MAX_OUT][64];
static size_t nouts;

/* A new outcome labelled with the payload. */
static outcome *new_outcome(const char *payload) {
    if (nouts == MAX_OUT) {
        printf("not ok - more than %d messages\n", MAX_OUT);
        exit(2);
    }
    snprintf(labels[nouts], sizeof labels[nouts], "%s", payload);
    outs[nouts].label = labels[nouts];
    return &outs[nouts++];
}

/* The routed sends of the first part, made on a thread of their own. */
typedef struct {
    pp_producer p;
    router_state *router;
} sender_args;

static void *send_every_way(void *arg) {
    sender_args *a = arg;
    pp_producer p = a->p;
    a->router->sender = pthread_self();
    char buf[64];
    for (int i = 0; i < 6; i++) {
        snprintf(buf, sizeof buf, "send-%d@%d", i, i % 3);
        if (pp_send(p, buf, strlen(buf), outcome_cb, new_outcome(buf), err, sizeof err) != PP_OK) check(0, "pp_send", err);
    }
    for (int i = 0; i < 3; i++) {
        pp_message m;
        pp_message_init(&m);
        snprintf(buf, sizeof buf, "keyed-%d@%d", i, (i + 1) % 3);
        m.payload = buf;
        m.payload_len = strlen(buf);
        m.key = "a-key"; /* the router, not the key, decides */
        if (pp_send_message(p, &m, outcome_cb, new_outcome(buf), err, sizeof err) != PP_OK) check(0, "pp_send_message", err);
    }
    char data[256];
    size_t lens[6], off = 0, accepted = 0;
    void *uds[6];
    for (int i = 0; i < 6; i++) {
        int n = snprintf(data + off, sizeof data - off, "batch-%d@%d", i, (i + 2) % 3);
        uds[i] = new_outcome(data + off); /* copies the payload while it ends in its NUL */
        lens[i] = (size_t)n;
        off += (size_t)n;
    }
    check(pp_send_batch(p, data, lens, 6, 0, outcome_cb, uds, &accepted, err, sizeof err) == PP_OK && accepted == 6,
          "pp_send_batch with a router accepts all", err);
    pp_message ms[3];
    char texts[3][32];
    for (int i = 0; i < 3; i++) {
        pp_message_init(&ms[i]);
        snprintf(texts[i], sizeof texts[i], "msgs-%d@%d", i, i % 3);
        ms[i].payload = texts[i];
        ms[i].payload_len = strlen(texts[i]);
        uds[i] = new_outcome(texts[i]);
    }
    check(pp_send_messages(p, ms, 3, PP_SEND_FLUSH, outcome_cb, uds, &accepted, err, sizeof err) == PP_OK && accepted == 3,
          "pp_send_messages with a router accepts all", err);
    return NULL;
}

static void test_router(pp_client c) {
    pp_producer p = 0;
    if (pp_producer_start(c, topic3, PP_NTS, "{\"batchingMaxPublishDelay\": 5}", &p, err, sizeof err) != PP_OK) {
        check(0, "producer on the partitioned topic", err);
        return;
    }
    int32_t parts = 0;
    check(pp_producer_partitions(p, &parts) == PP_OK && parts == 3, "pp_producer_partitions says 3", NULL);
    static router_state rs;
    rs.producer = p;
    rs.partitions = 3;
    check(pp_producer_set_router(p, route_by_payload, &rs, err, sizeof err) == PP_OK, "pp_producer_set_router", err);

    /* 1. Every send function calls the router on the sending thread. */
    sender_args a = {p, &rs};
    pthread_t th;
    pthread_create(&th, NULL, send_every_way, &a);
    pthread_join(th, NULL);
    char d[256];
    snprintf(d, sizeof d, "%d calls, %d on another thread, %d with another count, %d partitions() failures, %d bad messages",
             rs.calls, rs.wrong_thread, rs.wrong_count, rs.partitions_fail, rs.bad_message);
    check(rs.calls == 18, "the router is called once per message of pp_send, pp_send_message, pp_send_batch and pp_send_messages", d);
    check(rs.wrong_thread == 0, "the router runs on the thread that sends", d);
    check(rs.wrong_count == 0, "the router is told num_partitions 3", d);
    check(rs.partitions_fail == 0, "the router may call pp_producer_partitions()", d);
    check(rs.bad_message == 0, "the router sees each message as sent, with partition -1", d);
    check(rs.keyed == 3, "the router sees the key of a pp_message", d);

    /* From here on the main thread sends. */
    rs.sender = pthread_self();

    /* 2. An answer out of range fails that message, and stops a batch there. */
    expect(pp_send(p, "bad@3", 5, NULL, NULL, err, sizeof err), PP_ERR_INVALID_ARGUMENT,
           "the router returned partition 3 for a topic of 3 partitions", "a router answer of 3 of 3 fails the send");
    expect(pp_send(p, "bad@-1", 6, NULL, NULL, err, sizeof err), PP_ERR_INVALID_ARGUMENT, "partition -1",
           "a negative router answer fails the send");
    pp_message m;
    pp_message_init(&m);
    m.payload = "bad@7";
    m.payload_len = 5;
    expect(pp_send_message(p, &m, NULL, NULL, err, sizeof err), PP_ERR_INVALID_ARGUMENT, "partition 7",
           "a router answer out of range fails pp_send_message");
    const char data[] = "bb-0@0bb-1@1bb-2@5bb-3@2";
    size_t lens[4] = {6, 6, 6, 6}, accepted = 9;
    void *uds[4] = {new_outcome("bb-0@0"), new_outcome("bb-1@1"), NULL, NULL};
    expect(pp_send_batch(p, data, lens, 4, 0, outcome_cb, uds, &accepted, err, sizeof err), PP_ERR_INVALID_ARGUMENT,
           "partition 5", "pp_send_batch fails at the message routed out of range");
    check(accepted == 2, "*accepted stops before that message", NULL);
    pp_message ms[3];
    const char *texts[3] = {"bm-0@2", "bm-1@9", "bm-2@0"};
    for (int i = 0; i < 3; i++) {
        pp_message_init(&ms[i]);
        ms[i].payload = texts[i];
        ms[i].payload_len = strlen(texts[i]);
    }
    uds[0] = new_outcome("bm-0@2");
    expect(pp_send_messages(p, ms, 3, 0, outcome_cb, uds, &accepted, err, sizeof err), PP_ERR_INVALID_ARGUMENT,
           "partition 9", "pp_send_messages fails at the message routed out of range");
    check(accepted == 1, "*accepted stops before that message too", NULL);

    /* 3. pp_message.partition bypasses the router. */
    int before = rs.calls;
    pp_message_init(&m);
    m.payload = "expl@0=1";
    m.payload_len = strlen(m.payload);
    m.partition = 1;
    check(pp_send_message(p, &m, outcome_cb, new_outcome("expl@0=1"), err, sizeof err) == PP_OK, "a message with its partition set", err);
    m.payload = "expl@0=2";
    m.partition = 2;
    void *eu[2] = {new_outcome("expl@0=2"), new_outcome("mixed@1")};
    pp_message two[2];
    two[0] = m;
    pp_message_init(&two[1]);
    two[1].payload = "mixed@1";
    two[1].payload_len = 7;
    check(pp_send_messages(p, two, 2, 0, outcome_cb, eu, &accepted, err, sizeof err) == PP_OK && accepted == 2,
          "a batch of a set partition and a routed message", err);
    snprintf(d, sizeof d, "%d router calls for 3 messages, 1 routed", rs.calls - before);
    check(rs.calls - before == 1, "the router is not called for a message whose partition is set", d);
    m.partition = 3;
    expect(pp_send_message(p, &m, NULL, NULL, err, sizeof err), PP_ERR_INVALID_ARGUMENT, "partition 3",
           "a set partition out of range fails the send");

    /* 4. A NULL callback removes the router. */
    check(pp_producer_set_router(p, NULL, NULL, err, sizeof err) == PP_OK, "pp_producer_set_router(NULL)", err);
    before = rs.calls;
    for (int i = 0; i < 3; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "unrouted-%d", i);
        pp_send(p, buf, strlen(buf), outcome_cb, new_outcome(buf), err, sizeof err);
    }
    check(rs.calls == before, "no call once the router is removed", NULL);

    /* 5. A stale handle is an error, not a crash. */
    pp_producer q = 0;
    pp_producer_start(c, topic3, PP_NTS, NULL, &q, err, sizeof err);
    check(pp_stop(q, 10000, err, sizeof err) == PP_OK, "stop a second producer", err);
    expect(pp_producer_set_router(q, route_by_payload, &rs, err, sizeof err), PP_ERR_INVALID_HANDLE, NULL,
           "pp_producer_set_router on a stopped producer");
    expect(pp_producer_set_router(0, route_by_payload, &rs, err, sizeof err), PP_ERR_INVALID_HANDLE, NULL,
           "pp_producer_set_router on handle 0");
    expect(pp_producer_set_router(c, route_by_payload, &rs, err, sizeof err), PP_ERR_INVALID_HANDLE, "is a client",
           "pp_producer_set_router on a client");
    expect(pp_producer_set_router(p, route_by_payload, &rs, NULL, 0), PP_OK, NULL, "a NULL errbuf is allowed");
    pp_producer_set_router(p, NULL, NULL, NULL, 0);
    check(pp_flush(p, 30000, err, sizeof err) == PP_OK, "flush the routed producer", err);
}

/* The router is never called for a topic without partitions. */
static void test_plain_topic(pp_client c) {
    pp_producer p = 0;
    if (pp_producer_start(c, plain_topic, PP_NTS, NULL, &p, err, sizeof err) != PP_OK) {
        check(0, "producer on the plain topic", err);
        return;
    }
    static router_state rs;
    rs.producer = p;
    rs.sender = pthread_self();
    check(pp_producer_set_router(p, route_by_payload, &rs, err, sizeof err) == PP_OK, "set a router on a plain topic's producer", err);
    static outcome o = {"plain", 0, PP_OK, {0, 0, 0, 0, 0, 0, 0, 0}, ""};
    pp_send(p, "plain@2", 7, outcome_cb, &o, err, sizeof err);
    pp_flush(p, 30000, err, sizeof err);
    outcome *os[1] = {&o};
    check(settle(c, os, 1, 10000) && o.result == PP_OK && o.id.partition == -1, "a plain topic's message is stored", o.error);
    check(rs.calls == 0, "the router is not called for a plain topic", NULL);
    pp_stop(p, 10000, err, sizeof err);
}

/* Java's String.hashCode of an ASCII key, masked as the Java client's
 * JavaStringHash does. */
static int java_partition(const char *key, int n) {
    uint32_t h = 0;
    for (const char *k = key; *k; k++) h = 31 * h + (unsigned char)*k;
    return (int)((h & 0x7fffffffu) % (uint32_t)n);
}

/* A key the Java client sends to partition want of n. */
static void key_for(int want, int n, char *buf, size_t size) {
    for (int i = 0;; i++) {
        snprintf(buf, size, "key-%d", i);
        if (java_partition(buf, n) == want) return;
    }
}

static void send_keyed(pp_producer p, const char *key, int n) {
    char label[64];
    snprintf(label, sizeof label, "grow%d-%s", n, key);
    pp_message m;
    pp_message_init(&m);
    m.payload = label;
    m.payload_len = strlen(label);
    m.key = key;
    if (pp_send_message(p, &m, outcome_cb, new_outcome(label), err, sizeof err) != PP_OK) check(0, "send a keyed message", err);
}

/* Partitions added by an admin are found, and keys hash over them all. */
static void test_growth(pp_client c) {
    pp_producer p = 0;
    if (pp_producer_start(c, grow_topic, PP_NTS, "{\"partitionsAutoDiscoveryInterval\": 1000}", &p, err, sizeof err) != PP_OK) {
        check(0, "producer on the growing topic", err);
        return;
    }
    int32_t parts = 0;
    check(pp_producer_partitions(p, &parts) == PP_OK && parts == 2, "the topic starts with 2 partitions", NULL);
    char key[32];
    for (int want = 0; want < 2; want++) {
        key_for(want, 2, key, sizeof key);
        send_keyed(p, key, 2);
    }
    pp_flush(p, 30000, err, sizeof err);
    if (!wait_for_driver("grow 4")) {
        check(0, "the driver answers", NULL);
        return;
    }
    double t0 = now_s();
    while (pp_producer_partitions(p, &parts) == PP_OK && parts != 4 && now_s() - t0 < 60) sleep_ms(100);
    char d[64];
    snprintf(d, sizeof d, "%d partitions after %.1f s", parts, now_s() - t0);
    check(parts == 4, "pp_producer_partitions follows the topic to 4", d);
    for (int want = 0; want < 4; want++) {
        key_for(want, 4, key, sizeof key);
        send_keyed(p, key, 4);
    }
    /* A router is now told 4 partitions, and may choose a new one. */
    static router_state rs;
    rs.producer = p;
    rs.sender = pthread_self();
    rs.partitions = 4;
    pp_producer_set_router(p, route_by_payload, &rs, err, sizeof err);
    pp_send(p, "grown@3", 7, outcome_cb, new_outcome("grown@3"), err, sizeof err);
    check(rs.calls == 1 && rs.wrong_count == 0, "a router is told the new count", NULL);
    check(pp_flush(p, 30000, err, sizeof err) == PP_OK, "flush the grown producer", err);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s SERVICE_URL TOPIC3 PLAIN_TOPIC GROW_TOPIC\n", argv[0]);
        return 2;
    }
    url = argv[1];
    topic3 = argv[2];
    plain_topic = argv[3];
    grow_topic = argv[4];
    signal(SIGPIPE, SIG_IGN);
    pp_client c = 0;
    if (pp_client_start(url, PP_NTS, NULL, &c, err, sizeof err) != PP_OK) {
        printf("not ok - client start: %s\n", err);
        return 2;
    }
    test_router(c);
    test_plain_topic(c);
    test_growth(c);
    outcome *all[MAX_OUT];
    for (size_t i = 0; i < nouts; i++) all[i] = &outs[i];
    check(settle(c, all, nouts, 30000), "every accepted message completes", NULL);
    for (size_t i = 0; i < nouts; i++) report(&outs[i]);
    check(pp_client_stop(c, 10000, err, sizeof err) == PP_OK, "the client stops", err);
    return tap_done();
}
