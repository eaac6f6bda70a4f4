/*
 * pp_schema_test.c - values given as JSON (pp_message.value_json), encoded
 * by the producer's schema option, and the errors of values and schemas
 * that do not fit.
 *
 * Usage: pp_schema_test SERVICE_URL TOPIC_PREFIX
 *
 * How it works: one producer per schema, each on its own topic
 * TOPIC_PREFIX-<kind> (string, int32, json, kvi, kvs, bytes), sends the
 * values of its table with pp_send_message or pp_send_messages and prints a
 * MSG line (tap.h) for each stored message, labelled "<kind>/<name>". The
 * Go driver (tests/capi/schema_test.go) reads every topic back with the
 * Java client and compares each payload and key with the bytes it computes
 * itself from the same values, and asks the broker's schema registry what
 * each producer registered. Values that do not fit their schema, and
 * schemas that are not valid, must be refused with the errors the header
 * promises, naming the problem; the producer goes on afterwards.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static const char *url, *prefix;

typedef struct {
    const char *label;
    const char *json;
    size_t len; /* 0: PP_NTS */
} value_case;

/* The values each topic stores. tests/capi/schema_test.go has the bytes
 * each must become; keep the two in step. */
static const value_case string_values[] = {
    {"string/utf8", "\"h\xc3\xa9llo w\xc3\xb6rld\"", 0},
    {"string/escapes", "\"tab\\there \\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/\"", 0},
    {"string/empty", "\"\"", 0},
    {"string/len", "\"abc\"XYZ", 5}, /* value_json_len ends the text before the garbage */
};
static const value_case int32_values[] = {
    {"int32/zero", "0", 0},
    {"int32/neg", "-123456", 0},
    {"int32/max", "2147483647", 0},
    {"int32/min", " -2147483648 ", 0},
};
static const value_case json_values[] = {
    {"json/user", "{\"name\": \"ann\", \"age\": 41}", 0},
    {"json/escaped", "{\"name\":\"\\u00e9\\n\",\"age\":-1}", 0},
};
static const value_case kvi_values[] = {
    {"kvi/a", "{\"key\":\"k1\",\"value\":-5}", 0},
    {"kvi/b", "{\"value\": 9007199254740993, \"key\": \"\"}", 0},
};
static const value_case kvs_values[] = {
    {"kvs/a", "{\"key\":258,\"value\":1.5}", 0},
    {"kvs/b", "{\"key\":-1,\"value\":-0.1}", 0},
};
static const value_case bytes_values[] = {
    {"bytes/b64", "\"aGVsbG8=\"", 0},
};

static const char *const json_definition =
    "{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"User\\\",\\\"fields\\\":[{\\\"name\\\":\\\"name\\\",\\\"type\\\":"
    "\\\"string\\\"},{\\\"name\\\":\\\"age\\\",\\\"type\\\":\\\"int\\\"}]}";

static pp_producer start_producer(pp_client c, const char *kind, const char *options) {
    char t[512], name[128];
    snprintf(t, sizeof t, "%s-%s", prefix, kind);
    snprintf(name, sizeof name, "a producer with the %s schema starts", kind);
    pp_producer p = 0;
    pp_result r = pp_producer_start(c, t, PP_NTS, options, &p, err, sizeof err);
    check(r == PP_OK, name, err);
    if (r != PP_OK) {
        printf("not ok - cannot go on without the %s producer\n", kind);
        exit(2);
    }
    return p;
}

static void set_value(pp_message *m, const value_case *v) {
    pp_message_init(m);
    m->value_json = v->json;
    m->value_json_len = v->len ? v->len : PP_NTS;
}

/* Sends each value alone with pp_send_message. */
static void send_each(pp_producer p, const value_case *vs, size_t n, outcome *out) {
    for (size_t i = 0; i < n; i++) {
        pp_message m;
        set_value(&m, &vs[i]);
        out[i].label = vs[i].label;
        if (pp_send_message(p, &m, outcome_cb, &out[i], err, sizeof err) != PP_OK) {
            out[i].done = -1; /* never completes: report() fails it */
            snprintf(out[i].error, sizeof out[i].error, "refused: %s", err);
        }
    }
}

/* Sends the values in one pp_send_messages call. */
static void send_all(pp_producer p, const value_case *vs, size_t n, outcome *out) {
    pp_message ms[8];
    void *uds[8];
    for (size_t i = 0; i < n; i++) {
        set_value(&ms[i], &vs[i]);
        out[i].label = vs[i].label;
        uds[i] = &out[i];
    }
    size_t accepted = 0;
    pp_result r = pp_send_messages(p, ms, n, PP_SEND_FLUSH, outcome_cb, uds, &accepted, err, sizeof err);
    check(r == PP_OK && accepted == n, "pp_send_messages accepts every value of the batch", err);
    for (size_t i = accepted; i < n; i++) out[i].done = -1;
}

/* One value that must be refused. */
static void refuse(pp_producer p, const char *json, pp_result want, const char *text, const char *name) {
    pp_message m;
    pp_message_init(&m);
    m.value_json = json;
    expect(pp_send_message(p, &m, NULL, NULL, err, sizeof err), want, text, name);
}

/* The first message of the batch that a bad value stops. */
static outcome batch_first = {"int32/batch-first", 0, PP_OK, {0, 0, 0, 0, 0, 0, 0, 0}, ""};

static void test_bad_values(pp_producer str, pp_producer i32, pp_producer json, pp_producer kvi, pp_producer kvs,
                            pp_producer bytes) {
    pp_message m;
    pp_message_init(&m);
    m.value_json = "\"y\"";
    m.payload = "x";
    m.payload_len = 1;
    expect(pp_send_message(str, &m, NULL, NULL, err, sizeof err), PP_ERR_INVALID_MESSAGE, "not both",
           "value_json with a payload is refused");
    pp_message_init(&m);
    m.value_json = "\"y\"";
    m.null_value = 1;
    expect(pp_send_message(str, &m, NULL, NULL, err, sizeof err), PP_ERR_INVALID_MESSAGE, "not both",
           "value_json with null_value is refused");
    refuse(str, "42", PP_ERR_INVALID_MESSAGE, "does not fit the STRING schema: got number 42",
           "a number for a STRING schema names the type and the value");
    refuse(i32, "2147483648", PP_ERR_INVALID_MESSAGE, "2147483648 is out of the range of INT32",
           "an INT32 value out of range is refused, naming it");
    refuse(i32, "1.5", PP_ERR_INVALID_MESSAGE, "1.5 is not an integer that fits INT32", "a fraction for INT32 is refused");
    refuse(i32, "\"7\"", PP_ERR_INVALID_MESSAGE, "does not fit the INT32 schema: got string", "a string for INT32 is refused");
    refuse(json, "{\"name\":", PP_ERR_INVALID_MESSAGE, "not valid JSON", "invalid JSON text is refused");
    refuse(json, "", PP_ERR_INVALID_MESSAGE, "not valid JSON", "an empty value_json is refused");
    refuse(kvi, "{\"key\":\"k\"}", PP_ERR_INVALID_MESSAGE, "needs both its key and its value",
           "a KEY_VALUE value without its value half is refused");
    refuse(kvi, "{\"key\":null,\"value\":1}", PP_ERR_INVALID_MESSAGE, "needs both its key and its value",
           "a KEY_VALUE value with a null key half is refused");
    refuse(kvi, "{\"key\":\"k\",\"value\":\"str\"}", PP_ERR_INVALID_MESSAGE, "the value does not fit the INT64 schema",
           "a KEY_VALUE value half of the wrong type is refused, naming the half");
    refuse(kvi, "{\"key\":1,\"value\":1}", PP_ERR_INVALID_MESSAGE, "the key does not fit the STRING schema",
           "a KEY_VALUE key half of the wrong type is refused, naming the half");
    refuse(kvi, "{\"key\":\"k\",\"value\":1,\"extra\":2}", PP_ERR_INVALID_MESSAGE, "\"extra\"",
           "a KEY_VALUE value with a third member is refused, naming it");
    refuse(kvi, "[1,2]", PP_ERR_INVALID_MESSAGE, "must be a JSON object", "a KEY_VALUE value that is not an object is refused");
    refuse(bytes, "\"not base64!\"", PP_ERR_INVALID_MESSAGE, "base64", "bytes that are not base64 are refused");
    pp_message_init(&m);
    m.value_json = "{\"key\":1,\"value\":2.5}";
    m.key = "k";
    expect(pp_send_message(kvs, &m, NULL, NULL, err, sizeof err), PP_ERR_INVALID_MESSAGE, "sets the message key",
           "a SEPARATED KEY_VALUE value with a message key is refused");

    /* In a batch, the bad value stops it; the one before it is stored. */
    pp_message ms[3];
    static const value_case batch[3] = {{"", "1", 0}, {"", "\"x\"", 0}, {"", "3", 0}};
    void *uds[3] = {&batch_first, NULL, NULL};
    for (int i = 0; i < 3; i++) set_value(&ms[i], &batch[i]);
    size_t accepted = 9;
    expect(pp_send_messages(i32, ms, 3, 0, outcome_cb, uds, &accepted, err, sizeof err), PP_ERR_INVALID_MESSAGE,
           "does not fit the INT32 schema", "a bad value in a batch fails the batch there");
    check(accepted == 1, "the messages before the bad value were accepted", NULL);
    if (accepted != 1) batch_first.done = -1;
}

/* Schemas that are not valid fail the producer's start. */
static void test_bad_schemas(pp_client c) {
    static const struct {
        const char *options, *text, *name;
    } bad[] = {
        {"{\"schema\":{\"type\":\"JSON\",\"definition\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"U\\\","
         "\\\"fields\\\":[{\\\"name\\\":\\\"a\\\",\\\"type\\\":\\\"nosuch\\\"}]}\"}}",
         "not a valid Avro schema", "a JSON schema whose Avro definition names an unknown type"},
        {"{\"schema\":{\"type\":\"AVRO\",\"definition\":\"not json\"}}", "not valid JSON",
         "an AVRO schema whose definition is not JSON"},
        {"{\"schema\":{\"type\":\"JSON\"}}", "needs a definition", "a JSON schema without a definition"},
        {"{\"schema\":{\"type\":\"INT32\",\"definition\":\"{}\"}}", "has no definition", "an INT32 schema with a definition"},
        {"{\"schema\":\"NOPE\"}", "unknown schema type \"NOPE\"", "an unknown schema type"},
        {"{\"schema\":{\"type\":\"KEY_VALUE\",\"key\":\"STRING\"}}", "needs both a key and a value schema",
         "a KEY_VALUE schema without its value schema"},
        {"{\"schema\":{\"type\":\"KEY_VALUE\",\"key\":\"STRING\",\"value\":\"INT32\",\"keyValueEncoding\":\"SIDEWAYS\"}}",
         "keyValueEncoding must be INLINE or SEPARATED", "an unknown keyValueEncoding"},
    };
    char t[512];
    snprintf(t, sizeof t, "%s-bad", prefix);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pp_producer p = 0;
        char name[256];
        snprintf(name, sizeof name, "%s fails the start with InvalidConfiguration", bad[i].name);
        pp_result r = pp_producer_start(c, t, PP_NTS, bad[i].options, &p, err, sizeof err);
        expect(r, PP_ERR_INVALID_CONFIGURATION, bad[i].text, name);
        if (r == PP_OK) pp_stop(p, 5000, NULL, 0);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SERVICE_URL TOPIC_PREFIX\n", argv[0]);
        return 2;
    }
    url = argv[1];
    prefix = argv[2];
    signal(SIGPIPE, SIG_IGN);
    pp_client c = 0;
    if (pp_client_start(url, PP_NTS, NULL, &c, err, sizeof err) != PP_OK) {
        printf("not ok - client start: %s\n", err);
        return 2;
    }
    char opts[1024];
    pp_producer str = start_producer(c, "string", "{\"schema\":\"STRING\"}");
    pp_producer i32 = start_producer(c, "int32", "{\"schema\":{\"type\":\"INT32\"}}");
    snprintf(opts, sizeof opts, "{\"schema\":{\"type\":\"JSON\",\"definition\":\"%s\"}}", json_definition);
    pp_producer json = start_producer(c, "json", opts);
    pp_producer kvi = start_producer(
        c, "kvi", "{\"schema\":{\"type\":\"KEY_VALUE\",\"key\":\"STRING\",\"value\":{\"type\":\"INT64\"},\"keyValueEncoding\":\"INLINE\"}}");
    pp_producer kvs = start_producer(
        c, "kvs", "{\"schema\":{\"type\":\"KEY_VALUE\",\"key\":{\"type\":\"INT32\"},\"value\":\"DOUBLE\",\"keyValueEncoding\":\"SEPARATED\"}}");
    pp_producer bytes = start_producer(c, "bytes", NULL);

#define N(a) (sizeof(a) / sizeof((a)[0]))
    enum { NS = N(string_values), NI = N(int32_values), NJ = N(json_values), NKI = N(kvi_values), NKS = N(kvs_values),
           NB = N(bytes_values) };
    static outcome o_str[NS + 1], o_i32[NI], o_json[NJ], o_kvi[NKI], o_kvs[NKS], o_bytes[NB];
    send_each(str, string_values, NS, o_str);
    send_all(i32, int32_values, NI, o_i32);
    send_each(json, json_values, NJ, o_json);
    send_each(kvi, kvi_values, NKI, o_kvi);
    send_all(kvs, kvs_values, NKS, o_kvs);
    send_each(bytes, bytes_values, NB, o_bytes);

    test_bad_values(str, i32, json, kvi, kvs, bytes);
    /* The producer goes on after every refusal. */
    static const value_case after = {"string/after-errors", "\"after\"", 0};
    send_each(str, &after, 1, &o_str[NS]);
    test_bad_schemas(c);

    outcome *all[NS + 1 + NI + NJ + NKI + NKS + NB + 1];
    size_t n = 0;
    all[n++] = &batch_first;
    for (size_t i = 0; i < NS + 1; i++) all[n++] = &o_str[i];
    for (size_t i = 0; i < NI; i++) all[n++] = &o_i32[i];
    for (size_t i = 0; i < NJ; i++) all[n++] = &o_json[i];
    for (size_t i = 0; i < NKI; i++) all[n++] = &o_kvi[i];
    for (size_t i = 0; i < NKS; i++) all[n++] = &o_kvs[i];
    for (size_t i = 0; i < NB; i++) all[n++] = &o_bytes[i];
    check(pp_flush(c, 30000, err, sizeof err) == PP_OK, "every value is stored in time", err);
    check(settle(c, all, n, 10000), "every accepted value completes", NULL);
    for (size_t i = 0; i < n; i++) report(all[i]);
    check(pp_client_stop(c, 10000, err, sizeof err) == PP_OK, "the client stops", err);
    return tap_done();
}
