"""Closing and interpreter exit: never hang, never crash, never drop silently."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

import pulsar_producer
from pulsar_producer import Producer

from conftest import read_back, run_python


def test_exit_with_sends_in_flight_delivers_them(broker: str, topic: str, client: Any) -> None:
    code = f"""
import pulsar_producer
p = pulsar_producer.Producer({broker!r}, {topic!r}, batching_max_publish_delay=2000, batching_max_messages=100000)
futures = [p.send_async(b"%d" % i) for i in range(20000)]
print("sent", p.pending > 0, flush=True)
# no flush, no close: the atexit hook must publish them
"""
    start = time.monotonic()
    r = run_python(code, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "sent True"
    assert time.monotonic() - start < 30
    msgs = read_back(client, topic, 20000)
    assert [m.data() for m in msgs[:3]] == [b"0", b"1", b"2"] and msgs[-1].data() == b"19999"


def test_exit_while_daemon_threads_send(broker: str, topic: str) -> None:
    code = f"""
import threading, time, pulsar_producer
p = pulsar_producer.Producer({broker!r}, {topic!r})
stop = []
def spin():
    while True:
        try:
            p.send_async(b"x" * 100)
        except pulsar_producer.errors.AlreadyClosed:
            stop.append(1)
            return
for _ in range(3):
    threading.Thread(target=spin, daemon=True).start()
def callbacks():
    while True:
        try:
            f = p.send_async(b"cb")
        except pulsar_producer.errors.AlreadyClosed:
            return
        f.add_done_callback(lambda f: time.sleep(0.001))
        time.sleep(0.0005)
threading.Thread(target=callbacks, daemon=True).start()
time.sleep(1.0)
print("exiting", flush=True)
"""
    for _ in range(3):
        r = run_python(code, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "exiting"
        assert "Fatal" not in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_exit_with_blocked_sender_and_unreachable_consumer(broker: str, topic: str) -> None:
    # A sender blocked on a full queue must not keep the process alive.
    code = f"""
import threading, pulsar_producer
p = pulsar_producer.Producer({broker!r}, {topic!r}, max_pending_messages=1, block_if_queue_full=True,
                             batching_max_publish_delay=10000, batching_max_messages=1000)
def flood():
    try:
        while True:
            p.send_async(b"x")
    except pulsar_producer.errors.AlreadyClosed:
        pass
threading.Thread(target=flood, daemon=True).start()
import time; time.sleep(0.5)
print("exiting", flush=True)
"""
    r = run_python(code, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "exiting"


def test_exit_in_the_middle_of_a_callback_storm(broker: str, topic: str) -> None:
    code = f"""
import pulsar_producer, sys
p = pulsar_producer.Producer({broker!r}, {topic!r}, batching_max_publish_delay=1)
count = [0]
def cb(f):
    count[0] += 1
    if count[0] % 1000 == 0:
        raise ValueError("noisy callback")
for i in range(50000):
    p.send_async(b"m").add_done_callback(cb)
sys.exit(3)
"""
    r = run_python(code, timeout=60)
    assert r.returncode == 3, r.stderr
    assert "noisy callback" in r.stderr  # reported, not swallowed
    assert "Fatal Python error" not in r.stderr


def test_forked_child_cannot_use_the_parents_producer(broker: str, topic: str, client: Any) -> None:
    code = f"""
import os, sys, pulsar_producer
p = pulsar_producer.Producer({broker!r}, {topic!r})
p.send(b"parent before")
pid = os.fork()
if pid == 0:
    for attempt in (lambda: p.send_async(b"child"), lambda: p.send(b"child", key="k"), p.flush):
        try:
            attempt()
            print("child: no error")
        except pulsar_producer.errors.AlreadyClosed as exc:
            print("child:", exc)
    p.close()  # a no-op in the child
    sys.exit(0)  # runs atexit in the child: must not touch the library
_, status = os.waitpid(pid, 0)
print("child exit", status)
p.send(b"parent after")
"""
    r = run_python(code, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[-1] == "child exit 0"
    assert len(lines) == 4 and all("cannot be used in the child" in line for line in lines[:3]), lines
    assert [m.data() for m in read_back(client, topic, 2)] == [b"parent before", b"parent after"]


def test_close_while_other_threads_send(broker: str, topic: str) -> None:
    p = Producer(broker, topic)
    errors: list[BaseException] = []
    sent: list[Any] = []

    def spin() -> None:
        while True:
            try:
                sent.append(p.send_async(b"x"))
            except pulsar_producer.PulsarProducerError as exc:
                errors.append(exc)
                return

    workers = [threading.Thread(target=spin) for _ in range(4)]
    for w in workers:
        w.start()
    time.sleep(0.3)
    p.close()
    for w in workers:
        w.join(10)
        assert not w.is_alive()
    assert len(errors) == 4
    assert all(type(e).__name__ == "AlreadyClosed" for e in errors)
    assert all(f.done() for f in sent)
    assert sum(1 for f in sent if f.exception() is None) > 0


def test_close_timeout_fails_pending_messages(broker: str, topic: str) -> None:
    # Messages that cannot complete before the close timeout fail with Timeout.
    p = Producer(broker, topic, batching_max_publish_delay=60000, batching_max_messages=100000)
    futures = [p.send_async(b"x") for _ in range(10)]
    try:
        p.close(0)
    except pulsar_producer.errors.Timeout:
        pass
    assert all(f.done() for f in futures)
    for f in futures:
        exc = f.exception()
        assert exc is None or isinstance(exc, pulsar_producer.PulsarProducerError)


def test_context_manager_flushes_and_closes(broker: str, topic: str) -> None:
    with Producer(broker, topic, batching_max_publish_delay=timedelta(seconds=3)) as p:
        futures = [p.send_async(b"x") for _ in range(10)]
    assert p.closed
    assert all(f.done() and f.exception() is None for f in futures)
    with pytest.raises(ZeroDivisionError):
        with Producer(broker, topic) as q:
            q.send_async(b"y")
            1 / 0
    assert q.closed and q.pending == 0
