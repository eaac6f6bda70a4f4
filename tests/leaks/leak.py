"""The Python side of the leak check (tests/leaks/run.sh): publishes N messages of 100 bytes with
send_async and prints the process's resident memory every N/10 messages.

How this works: the package is imported from bindings/python (as bindings/python/bench.py does; it
loads build/lib's library). One producer with batching_max_messages 1000, block_if_queue_full and
max_pending_messages 10000: send_async blocks inside the library while 10 batches await receipts,
so the library's flow control bounds what is in flight. The loop keeps no future: each gets a
done-callback (run on the client's completion thread) that counts it as ok or failed, so a future
that never settles shows up as missing. After every N/10 messages the loop reads VmRSS from
/proc/self/status and prints ``rss <messages sent> <KiB>``; at the end, once every future settled
(client.flush()), ``result python sent <N> ok <n> failed <n> missing <n> acked <n> seconds <s>``
(acked: the client's msgs_acked). Exit status 1 if a message failed or a completion was missing.

``--retain K`` keeps a copy of every K-th payload until the end: a leak put in on purpose, to show
that the runner's bound trips (run.sh --retain).

Usage: leak.py SERVICE_URL TOPIC [N] [--retain K]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import Future
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python"))

import pulsar_producer  # noqa: E402


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("url")
    ap.add_argument("topic")
    ap.add_argument("n", type=int, nargs="?", default=10_000_000)
    ap.add_argument("--retain", type=int, default=0, metavar="K", help="keep a copy of every K-th payload")
    a = ap.parse_args()
    if a.n < 10 or a.retain < 0:
        ap.error("N must be at least 10 and K positive")
    outcomes = [0, 0]  # ok, failed; written by the completion thread only
    first_error: list[BaseException] = []

    def settled(fut: Future[Any]) -> None:
        exc = fut.exception()
        outcomes[exc is not None] += 1
        if exc is not None and not first_error:
            first_error.append(exc)

    payload = b"p" * 100
    retained: list[bytes] = []
    step = a.n // 10
    start = time.perf_counter()
    with pulsar_producer.Client(a.url) as client:
        producer = client.create_producer(a.topic, batching_max_messages=1000, block_if_queue_full=True,
                                          max_pending_messages=10_000)
        send = producer.send_async
        sent = 0
        for k, count in enumerate([step] * 10 + [a.n - 10 * step]):  # a sample after each of ten steps
            for _ in range(count):
                send(payload).add_done_callback(settled)
                if a.retain and sent % a.retain == 0:
                    retained.append(bytes(bytearray(payload)))
                sent += 1
            if k < 10:
                print(f"rss {sent} {rss_kib()}", flush=True)
        client.flush()
        acked = client.stats().msgs_acked
    seconds = time.perf_counter() - start
    ok, failed = outcomes
    missing = a.n - ok - failed
    print(f"result python sent {a.n} ok {ok} failed {failed} missing {missing} acked {acked} seconds {seconds:.1f}",
          flush=True)
    if a.retain:
        print(f"leak.py: kept {len(retained)} payloads on purpose (--retain {a.retain})", file=sys.stderr)
    if first_error:
        print(f"leak.py: first failure: {first_error[0]!r}", file=sys.stderr)
    return 1 if failed or missing or acked != a.n else 0


if __name__ == "__main__":
    sys.exit(main())
