"""Throughput of pulsar_producer against the official pulsar-client, in one run (`make bench`).

How this works: each figure sends N payloads of SIZE bytes with send_async from one thread to fresh
topics of a real broker, and stops the clock once every message is acknowledged (ours: client.flush(),
which returns when every future is settled; official: a callback counting acknowledgements). Creating
producers is not timed. Both clients batch alike (1000 messages or 10 ms) and block when --max-pending
messages are pending. Figures: ours collecting futures; ours with a done-callback per message (as the
official client's callback); the official client; ours with the N messages spread over --producers
producers of one client. Ratios and the machine's load average come last. With --secure, both clients
publish over TLS with a token to the secured test deployment (tests/broker/secure.sh, described by its
PP_SECURE_* variables), and the CPU time of each run is printed too.
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


NAMESPACE = "public/default"
SECURE: dict[str, str] = {}  # the secured deployment's variables, with --secure


def _topic() -> str:
    return f"persistent://{NAMESPACE}/pybench-{uuid.uuid4().hex[:12]}"


def _our_options() -> dict[str, Any]:
    if not SECURE:
        return {}
    return {"tls_trust_certs_file_path": SECURE["PP_SECURE_CA"], "auth": SECURE["PP_SECURE_TOKEN"]}


def ours(a: argparse.Namespace, producers: int = 1, callbacks: bool = False) -> float:
    payload, failed = b"x" * a.size, [0]

    def check(fut: Any) -> None:
        failed[0] += fut.exception() is not None

    with pulsar_producer.Client(a.url, **_our_options()) as client:
        sends = [client.create_producer(_topic(), block_if_queue_full=True, max_pending_messages=a.max_pending,
                                        batching_max_messages=1000, batching_max_publish_delay=10).send_async
                 for _ in range(producers)]
        send, start = sends[0], time.perf_counter()
        if producers > 1:
            for i in range(a.messages):
                sends[i % producers](payload)
        elif callbacks:
            for _ in range(a.messages):
                send(payload).add_done_callback(check)
        else:
            for _ in range(a.messages):
                send(payload)
        client.flush()
        elapsed, acked = time.perf_counter() - start, client.stats().msgs_acked
    if acked != a.messages or failed[0]:
        raise SystemExit(f"ours: {acked} of {a.messages} acknowledged, {failed[0]} failed")
    return float(a.messages / elapsed)


def official(a: argparse.Namespace) -> float:
    import pulsar

    secure: dict[str, Any] = {}
    if SECURE:
        secure = {"authentication": pulsar.AuthenticationToken(SECURE["PP_SECURE_TOKEN"]),
                  "tls_trust_certs_file_path": SECURE["PP_SECURE_CA"]}
    client = pulsar.Client(a.url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error), **secure)
    producer = client.create_producer(_topic(), batching_enabled=True, batching_max_messages=1000,
                                      batching_max_publish_delay_ms=10, block_if_queue_full=True,
                                      max_pending_messages=a.max_pending,
                                      max_pending_messages_across_partitions=a.max_pending)
    payload, done, errors, finished = b"x" * a.size, [0], [0], threading.Event()

    def callback(res: Any, msg_id: Any) -> None:
        errors[0] += res != pulsar.Result.Ok
        done[0] += 1
        if done[0] == a.messages:
            finished.set()

    send, start = producer.send_async, time.perf_counter()
    for _ in range(a.messages):
        send(payload, callback)
    producer.flush()
    finished.wait()
    elapsed = time.perf_counter() - start
    producer.close()
    client.close()
    if errors[0]:
        raise SystemExit(f"official: {errors[0]} of {a.messages} failed")
    return float(a.messages / elapsed)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--url", default="pulsar://127.0.0.1:6650")
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--max-pending", type=int, default=100_000)
    ap.add_argument("--producers", type=int, default=50, help="producers of one client in the last figure")
    ap.add_argument("--secure", action="store_true", help="TLS + token to the secured test deployment (PP_SECURE_*)")
    a = ap.parse_args()
    if a.secure:
        global NAMESPACE
        SECURE.update({k: v for k, v in os.environ.items() if k.startswith("PP_SECURE_")})
        missing = [k for k in ("PP_SECURE_URL", "PP_SECURE_CA", "PP_SECURE_TOKEN", "PP_SECURE_NAMESPACE") if k not in SECURE]
        if missing:
            raise SystemExit(f"--secure needs {', '.join(missing)}: eval \"$(tests/broker/secure.sh env | sed 's/^/export /')\"")
        a.url, NAMESPACE = SECURE["PP_SECURE_URL"], SECURE["PP_SECURE_NAMESPACE"]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"python {sys.version.split()[0]}, {a.messages:,} messages of {a.size} bytes, batches of 1000 / 10 ms, "
          f"max pending {a.max_pending:,}; load average {load}", flush=True)
    me = f"pulsar_producer {pulsar_producer.__version__}"
    if a.secure:
        import pulsar

        cpu = time.process_time()
        futures = ours(a)
        ours_cpu = (time.process_time() - cpu) / a.messages * 1e6
        print(f"{me} send_async, futures, TLS + token: {futures:>10,.0f} msg/s  {ours_cpu:.2f} cpu-s per million", flush=True)
        cpu = time.process_time()
        theirs = official(a)
        their_cpu = (time.process_time() - cpu) / a.messages * 1e6
        print(f"pulsar-client {pulsar.__version__} send_async + callback, TLS + token: {theirs:>10,.0f} msg/s  "
              f"{their_cpu:.2f} cpu-s per million", flush=True)
        print(f"ratio ours / official, TLS + token: {futures / theirs:.1f}x the throughput, {their_cpu / ours_cpu:.1f}x less CPU")
        return
    futures = ours(a)
    print(f"{me} send_async, futures:        {futures:>10,.0f} msg/s", flush=True)
    callbacks = ours(a, callbacks=True)
    print(f"{me} send_async + callback:      {callbacks:>10,.0f} msg/s", flush=True)
    import pulsar

    theirs = official(a)
    print(f"pulsar-client {pulsar.__version__} send_async + callback:       {theirs:>10,.0f} msg/s", flush=True)
    print(f"ratio ours / official: {futures / theirs:.1f}x (futures), {callbacks / theirs:.1f}x (callbacks)")
    many = ours(a, producers=a.producers)
    print(f"{me}, {a.producers} producers of one client: {many:>10,.0f} msg/s ({many / futures:.2f}x one producer)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
