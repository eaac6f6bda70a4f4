"""Throughput of pulsar_producer against the official pulsar-client, in one run.

How this works: for each client, a producer is created on a fresh topic of a
real broker (untimed), then N payloads of SIZE bytes are sent with
send_async and the timer stops when every message is acknowledged (ours:
flush(), which returns once every future is settled; official: a send
callback counting acknowledgements, plus flush()). Both producers batch the
same way (up to 1000 messages or 10 ms per batch) and block instead of
failing when their queue is full. The official client's default of 1000
pending messages (one batch in flight) is raised to --max-pending for both.

Ours is measured twice: collecting futures (the natural use of send_async),
and with an add_done_callback per message (what the official client's
callback does). Figures are messages per second, best of --runs; the load
average of the machine is printed with them (other work on the machine
changes the figures a lot). --key sends every message with a partition key
(per-message options) in both clients.

    python bench.py [--messages 1000000] [--size 100] [--runs 1] [--key]
                    [--url pulsar://127.0.0.1:6650] [--only ours|official]

The official client comes from PyPI (pip install 'pulsar-client==3.13.*');
without it only our figures are printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pulsar_producer  # noqa: E402

BATCH_MESSAGES = 1000
BATCH_DELAY_MS = 10
KEYS = [f"key-{i}" for i in range(16)]


def _topic(tag: str) -> str:
    return f"persistent://public/default/pybench-{tag}-{uuid.uuid4().hex[:12]}"


def bench_ours(url: str, n: int, size: int, max_pending: int, callbacks: bool, key: bool) -> float:
    payload = b"x" * size
    producer = pulsar_producer.Producer(
        url,
        _topic("ours"),
        batching_max_messages=BATCH_MESSAGES,
        batching_max_publish_delay=BATCH_DELAY_MS,
        block_if_queue_full=True,
        max_pending_messages=max_pending,
    )
    done = [0]
    errors = [0]

    def on_done(fut: Any) -> None:
        if fut.exception() is not None:
            errors[0] += 1
        done[0] += 1

    send = producer.send_async
    last = None
    start = time.perf_counter()
    if key:
        for i in range(n):
            f = send(payload, key=KEYS[i & 15])
            if callbacks:
                f.add_done_callback(on_done)
            last = f
    elif callbacks:
        for _ in range(n):
            send(payload).add_done_callback(on_done)
    else:
        for _ in range(n):
            last = send(payload)
    producer.flush()
    elapsed = time.perf_counter() - start
    if last is not None:
        last.result()
    producer.close()
    if callbacks and (done[0] != n or errors[0]):
        raise SystemExit(f"ours: {done[0]} of {n} completed, {errors[0]} failed")
    return n / elapsed


def bench_official(url: str, n: int, size: int, max_pending: int, key: bool) -> float:
    import logging

    import pulsar

    client = pulsar.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    producer = client.create_producer(
        _topic("official"),
        batching_enabled=True,
        batching_max_messages=BATCH_MESSAGES,
        batching_max_publish_delay_ms=BATCH_DELAY_MS,
        block_if_queue_full=True,
        max_pending_messages=max_pending,
        max_pending_messages_across_partitions=max_pending,
    )
    payload = b"x" * size
    done = [0]
    errors = [0]
    finished = threading.Event()

    def callback(res: Any, msg_id: Any) -> None:
        if res != pulsar.Result.Ok:
            errors[0] += 1
        done[0] += 1
        if done[0] == n:
            finished.set()

    send = producer.send_async
    start = time.perf_counter()
    if key:
        for i in range(n):
            send(payload, callback, partition_key=KEYS[i & 15])
    else:
        for _ in range(n):
            send(payload, callback)
    producer.flush()
    finished.wait()
    elapsed = time.perf_counter() - start
    producer.close()
    client.close()
    logging.shutdown()
    if errors[0]:
        raise SystemExit(f"official: {errors[0]} of {n} failed")
    return n / elapsed


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--url", default="pulsar://127.0.0.1:6650")
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--max-pending", type=int, default=100_000)
    ap.add_argument("--only", choices=["ours", "official"])
    ap.add_argument("--key", action="store_true", help="send every message with a partition key")
    a = ap.parse_args()
    try:
        import pulsar
    except ImportError:
        pulsar = None
        if a.only != "ours":
            print("official pulsar-client is not installed: pip install 'pulsar-client==3.13.*'")

    print(
        f"python {sys.version.split()[0]}, {a.messages:,} messages of {a.size} bytes, "
        f"batches of {BATCH_MESSAGES} / {BATCH_DELAY_MS} ms, max pending {a.max_pending:,}, "
        f"best of {a.runs}{', with a key per message' if a.key else ''}; load average {_load()}",
        flush=True,
    )
    results: dict[str, list[float]] = {"ours": [], "ours_cb": [], "official": []}
    for _ in range(a.runs):  # interleaved, so that load changes hit all three alike
        if a.only != "official":
            results["ours"].append(bench_ours(a.url, a.messages, a.size, a.max_pending, False, a.key))
            results["ours_cb"].append(bench_ours(a.url, a.messages, a.size, a.max_pending, True, a.key))
        if a.only != "ours" and pulsar is not None:
            results["official"].append(bench_official(a.url, a.messages, a.size, a.max_pending, a.key))
    best = {k: max(v) for k, v in results.items() if v}
    if "ours" in best:
        print(f"pulsar_producer {pulsar_producer.__version__} send_async, futures:        {best['ours']:>10,.0f} msg/s")
        print(f"pulsar_producer {pulsar_producer.__version__} send_async + callback:     {best['ours_cb']:>10,.0f} msg/s")
    if "official" in best and pulsar is not None:
        print(f"pulsar-client {pulsar.__version__} send_async + callback:      {best['official']:>10,.0f} msg/s")
    print(f"load average after: {_load()}")
    if "ours" in best and "official" in best:
        print(
            f"ratio ours / official: {best['ours'] / best['official']:.2f}x (futures), "
            f"{best['ours_cb'] / best['official']:.2f}x (callbacks)"
        )


if __name__ == "__main__":
    main()
