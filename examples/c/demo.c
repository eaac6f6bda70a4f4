/*
 * demo.c - publishes a few messages through the C ABI and prints their IDs:
 * a client, one producer on it, callbacks run by pp_poll on this thread.
 *
 *   cc -Iinclude examples/c/demo.c -Lbuild/lib -lpulsar_producer -o demo
 *   ./demo pulsar://127.0.0.1:6650 persistent://public/default/pp-demo
 */
#include <stdio.h>

#include "pulsar_producer.h"

static void on_delivery(pp_producer producer, pp_result result, const pp_message_id *id,
                        const char *error, void *user_data) {
    (void)producer;
    const char *payload = user_data;
    if (result != PP_OK) {
        printf("c: %-22s failed: %s\n", payload, error);
        return;
    }
    char text[64];
    pp_message_id_str(id, text, sizeof text);
    printf("c: sent \"%s\" -> %s\n", payload, text);
}

int main(int argc, char **argv) {
    const char *url = argc > 1 ? argv[1] : "pulsar://127.0.0.1:6650";
    const char *topic = argc > 2 ? argv[2] : "persistent://public/default/pp-demo";
    static const char *payloads[] = {"hello from c #0", "hello from c #1", "hello from c #2"};
    char err[512];
    pp_client client;
    pp_producer producer;
    if (pp_client_start(url, PP_NTS, NULL, &client, err, sizeof err) != PP_OK ||
        pp_producer_start(client, topic, PP_NTS, "{\"compressionType\": \"lz4\"}", &producer, err, sizeof err) != PP_OK) {
        fprintf(stderr, "c: %s\n", err);
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        const char *p = payloads[i];
        size_t len = 0;
        while (p[len]) len++;
        if (pp_send(producer, p, len, on_delivery, (void *)p, err, sizeof err) != PP_OK) {
            fprintf(stderr, "c: %s\n", err);
            return 1;
        }
    }
    /* Send what is batched, then run the delivery callbacks here. */
    pp_flush(client, 10000, err, sizeof err);
    size_t served = 0;
    pp_poll(client, 1000, &served);
    return pp_client_stop(client, 10000, err, sizeof err) == PP_OK ? 0 : 1;
}
