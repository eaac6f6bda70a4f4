/*
 * pp_chunk_test.c - a message too large for one frame, sent in chunks from
 * C, and the chunked message ID the C ABI reports for it.
 *
 * Usage: pp_chunk_test SERVICE_URL TOPIC
 *
 * How it works: a producer with {"chunkingEnabled": true} sends a small
 * message, a 20 MiB one and another small one with pp_send. The large
 * payload is a xorshift32 stream (state 0x9E3779B9; per byte: x ^= x << 13,
 * x ^= x >> 17, x ^= x << 5, then the low byte), which the Go driver
 * (tests/capi/chunk_test.go) generates on its own to compare with what the
 * official Go client reassembles. The program checks the IDs: PP_ID_CHUNKED
 * and the first chunk's position on the large one only,
 * pp_message_id_str() naming both chunks, pp_message_id_serialize() and
 * pp_message_id_deserialize() keeping them. It prints MSG lines (tap.h) and
 * "SER label hex first_ledger first_entry" lines with the serialized IDs,
 * which the driver hands to the Go client's DeserializeMessageID.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#define BIG (20u << 20)

static void fill_xorshift(unsigned char *b, size_t n) {
    uint32_t x = 0x9E3779B9u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)(x & 0xff);
    }
}

static void print_serialized(const char *label, const pp_message_id *id) {
    unsigned char buf[80];
    size_t needed = 0;
    pp_result r = pp_message_id_serialize(id, buf, sizeof buf, &needed);
    if (r != PP_OK) {
        check(0, "pp_message_id_serialize", pp_result_name(r));
        return;
    }
    printf("SER %s ", label);
    for (size_t i = 0; i < needed; i++) printf("%02x", buf[i]);
    printf(" %lld %lld\n", (long long)id->first_chunk_ledger_id, (long long)id->first_chunk_entry_id);
    fflush(stdout);
}

static void check_chunked_id(const pp_message_id *id) {
    char d[512];
    snprintf(d, sizeof d, "flags %d, last %lld:%lld, first %lld:%lld, batch %d/%d, partition %d", (int)id->flags,
             (long long)id->ledger_id, (long long)id->entry_id, (long long)id->first_chunk_ledger_id,
             (long long)id->first_chunk_entry_id, (int)id->batch_index, (int)id->batch_size, (int)id->partition);
    check(id->flags & PP_ID_CHUNKED, "the 20 MiB message's ID has PP_ID_CHUNKED", d);
    check(id->first_chunk_ledger_id >= 0 && id->first_chunk_entry_id >= 0, "the first chunk's ledger and entry are set", d);
    check(id->first_chunk_ledger_id < id->ledger_id ||
              (id->first_chunk_ledger_id == id->ledger_id && id->first_chunk_entry_id < id->entry_id),
          "the first chunk is stored before the last", d);
    check(id->batch_index == -1 && id->batch_size == 0 && id->partition == -1, "a chunked message is not batched", d);

    char want[160], got[160];
    snprintf(want, sizeof want, "%lld:%lld:-1;%lld:%lld:-1", (long long)id->first_chunk_ledger_id,
             (long long)id->first_chunk_entry_id, (long long)id->ledger_id, (long long)id->entry_id);
    size_t n = pp_message_id_str(id, got, sizeof got);
    snprintf(d, sizeof d, "\"%s\" (%zu), want \"%s\"", got, n, want);
    check(strcmp(got, want) == 0 && n == strlen(want), "pp_message_id_str shows the first chunk, a semicolon and the last", d);
    char small[8];
    check(pp_message_id_str(id, small, sizeof small) == n && strlen(small) == sizeof small - 1 &&
              strncmp(small, want, sizeof small - 1) == 0,
          "pp_message_id_str truncates and returns the full length", small);

    unsigned char buf[80];
    size_t needed = 0;
    check(pp_message_id_serialize(id, buf, sizeof buf, &needed) == PP_OK && needed > 0 && needed <= 80,
          "pp_message_id_serialize fits in 80 bytes", NULL);
    size_t needed2 = 0;
    check(pp_message_id_serialize(id, buf, needed - 1, &needed2) == PP_ERR_BUFFER_TOO_SMALL && needed2 == needed,
          "a buffer one byte short is refused with the size needed", NULL);
    pp_message_id back;
    memset(&back, 0, sizeof back);
    pp_message_id_serialize(id, buf, sizeof buf, &needed);
    check(pp_message_id_deserialize(buf, needed, &back) == PP_OK && back.ledger_id == id->ledger_id &&
              back.entry_id == id->entry_id && (back.flags & PP_ID_CHUNKED) &&
              back.first_chunk_ledger_id == id->first_chunk_ledger_id &&
              back.first_chunk_entry_id == id->first_chunk_entry_id,
          "pp_message_id_deserialize reads the chunked ID back whole", NULL);
    check(pp_message_id_deserialize(buf, needed - 1, &back) == PP_ERR_INVALID_ARGUMENT,
          "a truncated serialized ID is refused", NULL);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SERVICE_URL TOPIC\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    pp_client c = 0;
    pp_producer p = 0;
    if (pp_client_start(argv[1], PP_NTS, NULL, &c, err, sizeof err) != PP_OK ||
        pp_producer_start(c, argv[2], PP_NTS, "{\"chunkingEnabled\": true}", &p, err, sizeof err) != PP_OK) {
        printf("not ok - start: %s\n", err);
        return 2;
    }
    unsigned char *big = malloc(BIG);
    if (big == NULL) {
        printf("not ok - malloc\n");
        return 2;
    }
    fill_xorshift(big, BIG);
    static outcome o[3] = {{"small-before", 0, PP_OK, {0, 0, 0, 0, 0, 0, 0, 0}, ""},
                           {"big", 0, PP_OK, {0, 0, 0, 0, 0, 0, 0, 0}, ""},
                           {"small-after", 0, PP_OK, {0, 0, 0, 0, 0, 0, 0, 0}, ""}};
    check(pp_send(p, "small-before", 12, outcome_cb, &o[0], err, sizeof err) == PP_OK, "send a small message", err);
    check(pp_send(p, big, BIG, outcome_cb, &o[1], err, sizeof err) == PP_OK, "pp_send takes 20 MiB with chunking on", err);
    free(big); /* copied before pp_send returned */
    check(pp_send(p, "small-after", 11, outcome_cb, &o[2], err, sizeof err) == PP_OK, "send another small message", err);
    check(pp_flush(p, 120000, err, sizeof err) == PP_OK, "all three are stored", err);
    outcome *os[3] = {&o[0], &o[1], &o[2]};
    check(settle(c, os, 3, 10000), "all three complete", NULL);
    for (int i = 0; i < 3; i++) report(&o[i]);
    if (o[1].result == PP_OK) {
        check_chunked_id(&o[1].id);
        print_serialized("big", &o[1].id);
    }
    for (int i = 0; i < 3; i += 2) {
        if (o[i].result != PP_OK) continue;
        check(o[i].id.flags == 0 && o[i].id.first_chunk_ledger_id == -1 && o[i].id.first_chunk_entry_id == -1,
              "a small message's ID is not chunked", o[i].label);
        char s[64];
        pp_message_id_str(&o[i].id, s, sizeof s);
        check(strchr(s, ';') == NULL, "a small message's ID string names one position", s);
    }
    if (o[0].result == PP_OK) print_serialized("small-before", &o[0].id);
    check(pp_client_stop(c, 10000, err, sizeof err) == PP_OK, "the client stops", err);
    return tap_done();
}
