/*
 * pp_secure_test.c - the C ABI against the secured deployment
 * (tests/broker/secure.sh): TLS with a token, the mutual-TLS proxy, and
 * tokens from a C supplier (pp_client_set_token_provider).
 *
 * Usage: pp_secure_test TOPIC_PREFIX
 *   with PP_SECURE_URL, PP_SECURE_PROXY_URL, PP_SECURE_CA,
 *   PP_SECURE_CLIENT_CERT, PP_SECURE_CLIENT_KEY and PP_SECURE_TOKEN in the
 *   environment (`secure.sh env`); the token never travels on the command
 *   line.
 *
 * How it works: three clients publish five messages each to
 * TOPIC_PREFIX-tls (the broker over TLS, authToken), TOPIC_PREFIX-proxy (the
 * proxy, which also wants the client certificate) and TOPIC_PREFIX-supplier
 * (the broker, the token from a C callback that first asks for a larger
 * buffer than offered), printing a MSG line (tap.h) for each; the Go driver
 * (tests/capi/secure_test.go) reads them back with the official Go client
 * over TLS with a token. Credentials that are refused must fail the
 * producer's start with PP_ERR_AUTHENTICATION, promptly, and neither error
 * messages nor log records may contain the token.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static const char *prefix, *broker_url, *proxy_url, *ca, *cert, *key, *token;

static const char *need(const char *name) {
    const char *v = getenv(name);
    if (v == NULL || v[0] == 0) {
        printf("not ok - %s is not set\n", name);
        exit(2);
    }
    return v;
}

/* Appends s to out as a JSON string. */
static void json_string(char *out, size_t size, const char *s) {
    size_t n = strlen(out);
    if (n + 1 < size) out[n++] = '"';
    for (; *s && n + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, size - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    if (n + 1 < size) out[n++] = '"';
    out[n] = 0;
}

/* Builds {"k1": "v1", ...} from pairs ending in NULL. */
static void options(char *out, size_t size, const char *const *pairs) {
    snprintf(out, size, "{");
    for (int i = 0; pairs[i]; i += 2) {
        if (i) strncat(out, ", ", size - strlen(out) - 1);
        json_string(out, size, pairs[i]);
        strncat(out, ": ", size - strlen(out) - 1);
        if (pairs[i + 1][0] == '#') /* a number or boolean, as is */
            strncat(out, pairs[i + 1] + 1, size - strlen(out) - 1);
        else
            json_string(out, size, pairs[i + 1]);
    }
    strncat(out, "}", size - strlen(out) - 1);
}

/* Fails a check if text contains the token. */
static void no_token_in(const char *text, const char *name) {
    check(strstr(text, token) == NULL, name, "the token is in it");
}

/* Publishes five messages labelled <kind>-<i> to TOPIC_PREFIX-<kind> and
 * reports them; checks the client's log records for the token. */
static void publish(pp_client c, const char *kind) {
    char t[512], name[256];
    snprintf(t, sizeof t, "%s-%s", prefix, kind);
    pp_producer p = 0;
    snprintf(name, sizeof name, "%s: the producer starts", kind);
    pp_result r = pp_producer_start(c, t, PP_NTS, NULL, &p, err, sizeof err);
    check(r == PP_OK, name, err);
    if (r != PP_OK) return;
    static outcome o[5];
    static char labels[5][64];
    outcome *os[5];
    for (int i = 0; i < 5; i++) {
        snprintf(labels[i], sizeof labels[i], "%s-%d", kind, i);
        memset(&o[i], 0, sizeof o[i]);
        o[i].label = labels[i];
        os[i] = &o[i];
        if (pp_send(p, labels[i], strlen(labels[i]), outcome_cb, &o[i], err, sizeof err) != PP_OK) o[i].done = -1;
    }
    snprintf(name, sizeof name, "%s: five messages are stored", kind);
    check(pp_flush(p, 30000, err, sizeof err) == PP_OK && settle(c, os, 5, 10000), name, err);
    for (int i = 0; i < 5; i++) report(&o[i]);
    pp_log_record recs[256];
    size_t n = 0;
    int leaked = 0;
    pp_client_logs(c, recs, 256, &n);
    for (size_t i = 0; i < n; i++) leaked |= strstr(recs[i].message, token) != NULL;
    snprintf(name, sizeof name, "%s: no log record carries the token (%zu records at debug level)", kind, n);
    check(!leaked && n > 0, name, NULL);
    pp_stop(p, 10000, err, sizeof err);
}

static void test_tls_token(void) {
    char o[4096];
    const char *pairs[] = {"tlsTrustCertsFilePath", ca, "authToken", token, "logLevel", "debug", NULL};
    options(o, sizeof o, pairs);
    pp_client c = 0;
    check(pp_client_start(broker_url, PP_NTS, o, &c, err, sizeof err) == PP_OK, "a client with TLS and authToken", err);
    if (c) publish(c, "tls");
    if (c) pp_client_stop(c, 10000, err, sizeof err);
}

static void test_proxy(void) {
    char o[4096];
    const char *pairs[] = {"tlsTrustCertsFilePath", ca, "tlsCertificateFilePath", cert, "tlsKeyFilePath", key,
                           "authToken", token, "logLevel", "debug", NULL};
    options(o, sizeof o, pairs);
    pp_client c = 0;
    check(pp_client_start(proxy_url, PP_NTS, o, &c, err, sizeof err) == PP_OK, "a client of the proxy with a client certificate", err);
    if (c) publish(c, "proxy");
    if (c) pp_client_stop(c, 10000, err, sizeof err);
}

/* The supplier: asks for more room the first time, then writes the token. */
typedef struct {
    int calls;
    size_t first_size, second_size;
    int fail; /* return this instead */
} supplier;

#define ASKED 20000

static pp_result supply_token(void *user_data, char *buf, size_t size, size_t *len) {
    supplier *s = user_data;
    s->calls++;
    if (s->fail) return (pp_result)s->fail;
    if (s->calls == 1) {
        s->first_size = size;
        *len = ASKED; /* more than the library offers first */
        return PP_ERR_BUFFER_TOO_SMALL;
    }
    if (s->calls == 2) s->second_size = size;
    size_t n = strlen(token);
    if (n > size) {
        *len = n;
        return PP_ERR_BUFFER_TOO_SMALL;
    }
    memcpy(buf, token, n);
    *len = n;
    return PP_OK;
}

static void test_supplier(void) {
    char o[4096];
    const char *pairs[] = {"tlsTrustCertsFilePath", ca, "logLevel", "debug", NULL};
    options(o, sizeof o, pairs);
    pp_client c = 0;
    check(pp_client_start(broker_url, PP_NTS, o, &c, err, sizeof err) == PP_OK, "a client with TLS and no token", err);
    if (!c) return;
    static supplier s;
    expect(pp_client_set_token_provider(c, NULL, &s, err, sizeof err), PP_ERR_INVALID_ARGUMENT, "NULL",
           "a NULL token callback is refused");
    check(pp_client_set_token_provider(c, supply_token, &s, err, sizeof err) == PP_OK, "pp_client_set_token_provider", err);
    publish(c, "supplier");
    char d[128];
    snprintf(d, sizeof d, "%d calls, offered %zu then %zu bytes", s.calls, s.first_size, s.second_size);
    check(s.calls >= 2 && s.first_size > 0 && s.first_size < ASKED && s.second_size == ASKED,
          "a supplier asking for more room is called again with the size it asked for", d);
    pp_client_stop(c, 10000, err, sizeof err);
    expect(pp_client_set_token_provider(c, supply_token, &s, err, sizeof err), PP_ERR_INVALID_HANDLE, NULL,
           "a stopped client's token provider cannot be set");

    /* A client whose options name a token refuses a supplier. */
    const char *with_token[] = {"tlsTrustCertsFilePath", ca, "authToken", token, NULL};
    options(o, sizeof o, with_token);
    if (pp_client_start(broker_url, PP_NTS, o, &c, err, sizeof err) == PP_OK) {
        expect(pp_client_set_token_provider(c, supply_token, &s, err, sizeof err), PP_ERR_INVALID_CONFIGURATION, NULL,
               "a client with authToken refuses a token supplier");
        no_token_in(err, "that error does not show the token");
        pp_client_stop(c, 10000, err, sizeof err);
    }
}

/* Credentials the broker refuses fail the start with Authentication,
 * within the connection and operation timeouts. */
static void refused(const char *what, const char *opts, pp_token_cb cb, void *ud) {
    pp_client c = 0;
    char name[256];
    if (pp_client_start(broker_url, PP_NTS, opts, &c, err, sizeof err) != PP_OK) {
        snprintf(name, sizeof name, "%s: client start", what);
        check(0, name, err);
        return;
    }
    if (cb) pp_client_set_token_provider(c, cb, ud, NULL, 0);
    char t[512];
    snprintf(t, sizeof t, "%s-refused", prefix);
    pp_producer p = 0;
    double t0 = now_s();
    pp_result r = pp_producer_start(c, t, PP_NTS, NULL, &p, err, sizeof err);
    double took = now_s() - t0;
    snprintf(name, sizeof name, "%s: the producer's start fails with Authentication", what);
    char saved[sizeof err];
    memcpy(saved, err, sizeof err);
    expect(r, PP_ERR_AUTHENTICATION, NULL, name);
    no_token_in(saved, "the error does not show the token");
    char d[64];
    snprintf(d, sizeof d, "%.1f s", took);
    snprintf(name, sizeof name, "%s: promptly", what);
    check(took < 10, name, d);
    if (r == PP_OK) pp_stop(p, 5000, NULL, 0);
    pp_client_stop(c, 5000, err, sizeof err);
}

static void test_refused(void) {
    char o[4096];
    const char *no_token[] = {"tlsTrustCertsFilePath", ca, "connectionTimeout", "#3000", "operationTimeout", "#5000", NULL};
    options(o, sizeof o, no_token);
    refused("no token", o, NULL, NULL);
    static supplier failing = {0, 0, 0, PP_ERR_UNKNOWN};
    refused("a supplier that fails", o, supply_token, &failing);
    check(failing.calls >= 1, "the failing supplier was asked", NULL);
    char bad[600];
    snprintf(bad, sizeof bad, "%sx", token); /* the signature no longer matches */
    const char *bad_token[] = {"tlsTrustCertsFilePath", ca, "authToken", bad, "connectionTimeout", "#3000",
                               "operationTimeout", "#5000", NULL};
    options(o, sizeof o, bad_token);
    refused("a token with a bad signature", o, NULL, NULL);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s TOPIC_PREFIX (and the PP_SECURE_* variables)\n", argv[0]);
        return 2;
    }
    prefix = argv[1];
    broker_url = need("PP_SECURE_URL");
    proxy_url = need("PP_SECURE_PROXY_URL");
    ca = need("PP_SECURE_CA");
    cert = need("PP_SECURE_CLIENT_CERT");
    key = need("PP_SECURE_CLIENT_KEY");
    token = need("PP_SECURE_TOKEN");
    if (strlen(token) > 500) {
        printf("not ok - the token is longer than this program expects\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    test_tls_token();
    test_proxy();
    test_supplier();
    test_refused();
    return tap_done();
}
