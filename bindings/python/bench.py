"""Throughput of pulsar_producer against the official pulsar-client, in one run.

How this works: each figure sends N payloads of SIZE bytes with send_async to
fresh topics of a real broker and stops the clock when every message is
acknowledged (ours: flush(), which returns once every future is settled;
official: a callback counting acknowledgements, then flush()). Producer
creation is not timed. Both clients batch alike (up to 1000 messages or
10 ms), block instead of failing when their queue is full, and may have
--max-pending messages pending. Figures:

  * ours, collecting futures (the natural use of send_async);
  * ours, with an add_done_callback per message (what the official callback does);
  * the official client, with a callback;
  * ours, 50 producers of one client, the N messages spread over them in turn,
    next to one producer of one client (the first figure).

The ratio of ours to the official client is printed last; the load average is
printed with the figures (other work on the machine moves them a lot).

    python bench.py [--messages 1000000] [--size 100] [--producers 50] [--key]
                    [--url pulsar://127.0.0.1:6650] [--only ours|official]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pulsar_producer  # noqa: E402

BATCH = {"batching_max_messages": 1000, "batching_max_publish_delay": 10}
KEYS = [f"key-{i}" for i in range(16)]


def _topic(tag: str) -> str:
    return f"persistent://public/default/pybench-{tag}-{uuid.uuid4().hex[:12]}"


def bench_ours(url: str, n: int, size: int, max_pending: int, callbacks: bool, key: bool, producers: int) -> float:
    payload = b"x" * size
    with pulsar_producer.Client(url) as client:
        ps = [client.create_producer(_topic("ours"), block_if_queue_full=True, max_pending_messages=max_pending,
                                     **BATCH) for _ in range(producers)]
        errors = [0]

        def on_done(fut: Any) -> None:
            if fut.exception() is not None:
                errors[0] += 1

        sends = [p.send_async for p in ps]
        start = time.perf_counter()
        if producers > 1:
            for i in range(n):
                sends[i % producers](payload)
        elif key:
            send = sends[0]
            for i in range(n):
                send(payload, key=KEYS[i & 15])
        elif callbacks:
            send = sends[0]
            for _ in range(n):
                send(payload).add_done_callback(on_done)
        else:
            send = sends[0]
            for _ in range(n):
                send(payload)
        client.flush()
        elapsed = time.perf_counter() - start
        stats = client.stats()
    if stats.msgs_acked != n or errors[0]:
        raise SystemExit(f"ours: {stats.msgs_acked} of {n} acknowledged, {errors[0]} failed")
    return n / elapsed


def bench_official(url: str, n: int, size: int, max_pending: int, key: bool) -> float:
    import logging

    import pulsar

    client = pulsar.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    producer = client.create_producer(
        _topic("official"), batching_enabled=True, batching_max_messages=1000, batching_max_publish_delay_ms=10,
        block_if_queue_full=True, max_pending_messages=max_pending, max_pending_messages_across_partitions=max_pending)
    payload = b"x" * size
    done, errors, finished = [0], [0], threading.Event()

    def callback(res: Any, msg_id: Any) -> None:
        if res != pulsar.Result.Ok:
            errors[0] += 1
        done[0] += 1
        if done[0] == n:
            finished.set()

    send = producer.send_async
    start = time.perf_counter()
    for i in range(n):
        if key:
            send(payload, callback, partition_key=KEYS[i & 15])
        else:
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
    ap.add_argument("--max-pending", type=int, default=100_000)
    ap.add_argument("--producers", type=int, default=50, help="for the many-producers figure (0: skip it)")
    ap.add_argument("--only", choices=["ours", "official"])
    ap.add_argument("--key", action="store_true", help="send every message with a partition key")
    a = ap.parse_args()
    try:
        import pulsar
    except ImportError:
        pulsar = None
        if a.only != "ours":
            print("the official client is not installed: pip install 'pulsar-client==3.13.*'")
    print(f"python {sys.version.split()[0]}, {a.messages:,} messages of {a.size} bytes, batches of 1000 / 10 ms, "
          f"max pending {a.max_pending:,}{', a key per message' if a.key else ''}; load average {_load()}", flush=True)
    ver = pulsar_producer.__version__
    ours = cb = official = 0.0
    if a.only != "official":
        ours = bench_ours(a.url, a.messages, a.size, a.max_pending, False, a.key, 1)
        print(f"pulsar_producer {ver} send_async, futures:           {ours:>10,.0f} msg/s", flush=True)
        cb = bench_ours(a.url, a.messages, a.size, a.max_pending, True, a.key, 1)
        print(f"pulsar_producer {ver} send_async + callback:         {cb:>10,.0f} msg/s", flush=True)
    if a.only != "ours" and pulsar is not None:
        official = bench_official(a.url, a.messages, a.size, a.max_pending, a.key)
        print(f"pulsar-client {pulsar.__version__} send_async + callback:          {official:>10,.0f} msg/s", flush=True)
    if a.only != "official" and a.producers > 1 and not a.key:
        many = bench_ours(a.url, a.messages, a.size, a.max_pending, False, False, a.producers)
        print(f"pulsar_producer {ver}, {a.producers} producers of one client:     {many:>10,.0f} msg/s "
              f"({many / ours:.2f}x one producer)")
    print(f"load average after: {_load()}")
    if ours and official:
        print(f"ratio ours / official: {ours / official:.1f}x (futures), {cb / official:.1f}x (callbacks)")


if __name__ == "__main__":
    main()
