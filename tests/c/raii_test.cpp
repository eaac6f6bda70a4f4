// raii_test.cpp - the C ABI used from C++ through a small RAII wrapper:
// the handle is stopped by the destructor, callbacks are std::functions
// owned by the wrapper, and a std::thread polls.
//
// Usage: raii_test SERVICE_URL TOPIC. Prints "ok - ..." lines, MSG lines for
// the published messages (as pp_test.c does), and "N passed, N failed".
#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pulsar_producer.h"

namespace pp {

class Error : public std::runtime_error {
  public:
    Error(pp_result code, const std::string &msg) : std::runtime_error(msg), code(code) {}
    pp_result code;
};

using Callback = std::function<void(pp_result, const pp_message_id *, const char *)>;

// Producer owns one handle; moving transfers it, destruction stops it.
class Producer {
  public:
    Producer(const std::string &url, const std::string &topic, const std::string &options = "") {
        char err[512] = {0};
        pp_result r = pp_start(url.data(), url.size(), topic.data(), topic.size(), options.c_str(), &handle_, err, sizeof err);
        if (r != PP_OK) throw Error(r, err);
    }
    Producer(const Producer &) = delete;
    Producer &operator=(const Producer &) = delete;
    Producer(Producer &&o) noexcept : handle_(o.handle_) { o.handle_ = 0; }
    ~Producer() {
        if (handle_) pp_stop(handle_, 10000, nullptr, 0);
    }

    // send queues a message; cb runs once, from poll() or the destructor.
    void send(const std::string &payload, Callback cb) {
        auto *owned = new Callback(std::move(cb));
        char err[512] = {0};
        pp_result r = pp_send(handle_, payload.data(), payload.size(), &Producer::trampoline, owned, err, sizeof err);
        if (r != PP_OK) {
            delete owned;
            throw Error(r, err);
        }
    }

    size_t poll(int timeout_ms) {
        size_t served = 0;
        pp_poll(handle_, timeout_ms, &served);
        return served;
    }

    void flush(int timeout_ms) {
        char err[512] = {0};
        pp_result r = pp_flush(handle_, timeout_ms, err, sizeof err);
        if (r != PP_OK) throw Error(r, err);
    }

    pp_producer handle() const { return handle_; }

  private:
    static void trampoline(pp_producer, pp_result r, const pp_message_id *id, const char *err, void *ud) {
        std::unique_ptr<Callback> cb(static_cast<Callback *>(ud));
        (*cb)(r, id, err);
    }
    pp_producer handle_ = 0;
};

}  // namespace pp

static int passed, failed;

static void check(bool cond, const char *name) {
    std::printf("%s - %s\n", cond ? "ok" : "not ok", name);
    (cond ? passed : failed)++;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s SERVICE_URL TOPIC\n", argv[0]);
        return 2;
    }
    try {
        pp::Producer bad(argv[1], "not/a valid/topic name");
        check(false, "invalid topic throws");
    } catch (const pp::Error &e) {
        check(e.code == PP_ERR_INVALID_TOPIC_NAME && std::strstr(e.what(), "topic") != nullptr, "invalid topic throws");
    }

    std::vector<pp_message_id> ids(300);
    std::vector<std::string> payloads;
    std::atomic<int> calls{0}, errors{0};
    pp_producer stale = 0;
    {
        pp::Producer producer(argv[1], argv[2], R"({"batchingMaxMessages": 100, "batchingMaxPublishDelay": 60000})");
        stale = producer.handle();
        std::atomic<bool> done{false};
        std::thread poller([&] {
            while (!done) producer.poll(100);
        });
        for (int i = 0; i < 300; i++) {
            payloads.push_back("cpp-" + std::to_string(i));
            producer.send(payloads.back(), [&, i](pp_result r, const pp_message_id *id, const char *) {
                if (r == PP_OK) ids[i] = *id;
                else errors++;
                calls++;
            });
        }
        producer.flush(30000);
        while (calls < 300) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        done = true;
        poller.join();
        pp::Producer moved(std::move(producer));
        check(moved.handle() == stale && producer.handle() == 0, "a move transfers the handle");
        // The destructor of `moved` stops the producer here.
    }
    check(calls == 300 && errors == 0, "300 callbacks through std::function");
    check(ids[0].batch_index == 0 && ids[99].batch_index == 99 && ids[0].batch_size == 100, "batch indexes");
    size_t pending = 0;
    check(pp_pending(stale, &pending) == PP_ERR_INVALID_HANDLE, "the destructor stopped the handle");
    for (int i = 0; i < 300; i++) {
        std::printf("MSG %s %lld %lld %d %d %d\n", payloads[i].c_str(), (long long)ids[i].ledger_id,
                    (long long)ids[i].entry_id, ids[i].partition, ids[i].batch_index, ids[i].batch_size);
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
