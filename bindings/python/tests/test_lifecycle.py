"""Creating, closing, cancelling, blocking and forking."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import pulsar_producer
from pulsar_producer import Client, Producer

from conftest import read_back, run_python
from fakebroker import FakeBroker


@pytest.fixture
def stalled() -> Iterator[FakeBroker]:
    """A broker that registers producers but never acknowledges a message."""
    b = FakeBroker("stall")
    yield b
    b.close()


def test_close_is_idempotent_in_a_with_block(broker: str, topic: str) -> None:
    # Regression (E1): leaving the block after close() raised AlreadyClosed.
    with Producer(broker, topic) as p:
        p.send(b"x")
        p.close()
    p.close()
    assert p.closed and p.client.closed
    with Client(broker) as c:
        c.create_producer(topic).send(b"y")
        c.close()
    c.close()
    with pytest.raises(pulsar_producer.AlreadyClosed):
        p.send(b"late")


def test_close_from_a_done_callback(broker: str, topic: str) -> None:
    # Regression (E1): a done-callback closing the producer made __exit__ raise AlreadyClosed.
    closed = threading.Event()
    with Producer(broker, topic) as p:
        def on_done(_: Any) -> None:
            p.close()
            closed.set()

        f = p.send_async(b"x")
        f.add_done_callback(on_done)
        assert closed.wait(10)
    assert p.closed and f.result().ledger_id >= 0
    with Client(broker) as c:
        q = c.create_producer(topic)
        q.send_async(b"y").add_done_callback(lambda _: c.close())
        q.flush()
    assert c.closed and q.closed


def test_send_from_a_done_callback_is_refused(broker: str, topic: str) -> None:
    errors: list[BaseException] = []
    with Producer(broker, topic) as p:
        def on_done(_: Any) -> None:
            try:
                p.send(b"would wait for itself")
            except RuntimeError as exc:
                errors.append(exc)
            p.send_async(b"fine")
            p.flush()  # does not wait there: it would wait for itself

        p.send_async(b"x").add_done_callback(on_done)
        p.flush()
    assert len(errors) == 1 and "send_async" in str(errors[0])


def test_stalled_broker_blocks_the_send_past_max_pending(stalled: FakeBroker) -> None:
    # Regression (E2): the binding's own buffer let 521 sends through before one blocked.
    p = Producer(stalled.url, "t", block_if_queue_full=True, max_pending_messages=10)
    futures = [p.send_async(b"%d" % i) for i in range(10)]
    outcome: list[Any] = []

    def send() -> None:
        try:
            outcome.append(p.send_async(b"11"))
        except pulsar_producer.AlreadyClosed as exc:
            outcome.append(exc)

    eleventh = threading.Thread(target=send)
    eleventh.start()
    eleventh.join(1.0)
    assert eleventh.is_alive() and not outcome  # blocked in the library, holding no GIL
    assert p.stats().pending_msgs == 10 and stalled.sends <= 10
    start = time.monotonic()
    with pytest.raises(pulsar_producer.Timeout):
        p.close(timeout=200)  # fails the pending messages; the blocked send gives up
    eleventh.join(5)
    assert not eleventh.is_alive() and time.monotonic() - start < 5
    assert isinstance(outcome[0], pulsar_producer.AlreadyClosed)
    assert all(isinstance(f.exception(), pulsar_producer.Timeout) for f in futures)


def test_asend_on_a_stalled_broker_never_blocks_the_loop(stalled: FakeBroker) -> None:
    async def main() -> None:
        p = Producer(stalled.url, "t", block_if_queue_full=True, max_pending_messages=2)
        sends = [asyncio.ensure_future(p.asend(b"%d" % i)) for i in range(5)]
        start = time.monotonic()
        await asyncio.sleep(0.3)
        assert time.monotonic() - start < 0.5 and not any(s.done() for s in sends)
        with pytest.raises(pulsar_producer.Timeout):
            p.close(timeout=0)  # fails the two pending; the three waiting ones get AlreadyClosed
        results = await asyncio.gather(*sends, return_exceptions=True)
        assert [type(r).__name__ for r in results] == ["Timeout"] * 2 + ["AlreadyClosed"] * 3

    asyncio.run(main())


def test_memory_limit_is_shared_by_the_producers_of_a_client(stalled: FakeBroker) -> None:
    with Client(stalled.url, memory_limit_bytes=1000) as c:
        a, b = c.create_producer("a"), c.create_producer("b")
        a.send_async(b"x" * 600)
        with pytest.raises(pulsar_producer.MemoryBufferIsFull):
            b.send_async(b"y" * 600)
        b.send_async(b"y" * 400)
        with pytest.raises(pulsar_producer.Timeout):
            c.close(timeout=0)


def _exclusive_then_waiting(broker: str, topic: str) -> str:
    return (f"import os, signal, threading, time\n"
            f"import pulsar_producer as pp\n"
            f"c = pp.Client({broker!r})\n"
            f"holder = c.create_producer({topic!r}, access_mode='exclusive')\n")


def test_ctrl_c_cancels_a_blocking_creation(broker: str, topic: str) -> None:
    code = _exclusive_then_waiting(broker, topic) + """
threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
start = time.monotonic()
try:
    c.create_producer(TOPIC, access_mode='waitForExclusive')
    print('created')
except KeyboardInterrupt:
    print('interrupted after %.2f s' % (time.monotonic() - start))
holder.close()
# The cancelled one does not keep the topic. (A loaded broker may still hand
# it the topic for a moment after the holder leaves, before it sees the
# cancellation: the library then gives it back at once.)
deadline = time.monotonic() + 10
while True:
    try:
        third = c.create_producer(TOPIC, access_mode='exclusive')
        break
    except pp.ProducerFenced:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.2)
print('third', third.producer_name)
c.close()
""".replace("TOPIC", repr(topic))
    r = run_python(code, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0].startswith("interrupted after"), r.stdout
    assert 0.45 < float(lines[0].split()[2]) < 1.5  # signals are handled between waits of 200 ms
    assert lines[1].startswith("third ")


def test_cancelling_an_asyncio_creation_cancels_it(broker: str, topic: str) -> None:
    async def main() -> None:
        with Client(broker) as c:
            holder = c.create_producer(topic, access_mode="exclusive")
            task = asyncio.ensure_future(c.acreate_producer(topic, access_mode="waitForExclusive"))
            await asyncio.sleep(0.5)
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            holder.close()
            # The topic is free (after a moment on a loaded broker: see above).
            for attempt in range(50):
                try:
                    third = await c.acreate_producer(topic, access_mode="exclusive")
                    break
                except pulsar_producer.ProducerFenced:
                    if attempt == 49:
                        raise
                    await asyncio.sleep(0.2)
            await third.asend(b"x")

    asyncio.run(main())


def test_create_timeout_bounds_a_waiting_creation(broker: str, topic: str) -> None:
    with Client(broker) as c:
        holder = c.create_producer(topic, access_mode="exclusive")
        start = time.monotonic()
        with pytest.raises(pulsar_producer.Timeout):
            c.create_producer(topic, access_mode="waitForExclusive", create_timeout=700)
        assert 0.6 < time.monotonic() - start < 3
        holder.send(b"still the owner")


def test_forked_children_fail_fast(broker: str, topic: str, official: Any) -> None:
    # Regression (E5): in a forked child the old producer said "create a new Producer after forking",
    # and doing that hung. Both now raise Forked at once.
    p = Producer(broker, topic)
    p.send(b"parent")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        report = []
        start = time.monotonic()
        for attempt in (lambda: p.send_async(b"child"), lambda: p.flush(), lambda: Producer(broker, topic),
                        lambda: Client(broker)):
            try:
                attempt()
                report.append("ok")
            except pulsar_producer.Forked as exc:
                report.append("Forked" if "'spawn'" in str(exc) else str(exc))
        p.close()  # does nothing here
        report.append("%.2f" % (time.monotonic() - start))
        os.write(w, " ".join(report).encode())
        os._exit(0)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    words = os.read(r, 4096).decode().split()
    os.close(r)
    assert status == 0 and words[:4] == ["Forked"] * 4, words
    assert float(words[4]) < 1
    p.send(b"parent again")  # the parent is unaffected
    p.close()
    assert [m.data() for m in read_back(official, topic, 2)] == [b"parent", b"parent again"]


def _mp_child(url: str, topic: str, q: Any) -> None:
    import pulsar_producer as pp  # noqa: F811 - imported anew under 'spawn'

    start = time.monotonic()
    try:
        with pp.Producer(url, topic) as p:
            q.put(str(p.send(b"from a spawned child")))
    except pp.Forked as exc:
        q.put(f"Forked after {time.monotonic() - start:.2f} s: {exc}")


def test_multiprocessing_fork_is_refused_and_spawn_works(broker: str, topic: str, official: Any) -> None:
    with Producer(broker, topic) as p:
        p.send(b"parent")
        for method in ("fork", "spawn"):
            ctx: Any = multiprocessing.get_context(method)
            q = ctx.Queue()
            child = ctx.Process(target=_mp_child, args=(broker, topic, q))
            child.start()
            result = q.get(timeout=60)
            child.join(30)
            if method == "fork":
                assert result.startswith("Forked after 0.") and "'spawn'" in result, result
            else:
                assert ":" in result and not result.startswith("Forked"), result
    msgs = read_back(official, topic, 2)
    assert [m.data() for m in msgs] == [b"parent", b"from a spawned child"]


def test_open_clients_are_closed_at_exit(broker: str, topic: str, official: Any) -> None:
    code = f"""
import pulsar_producer as pp
p = pp.Producer({broker!r}, {topic!r}, batching_max_publish_delay=60000, batching_max_messages=100000)
for i in range(1000):
    p.send_async(b"%d" % i)
"""  # never flushed nor closed: the exit handler sends the open batch
    r = run_python(code)
    assert r.returncode == 0, r.stderr
    assert [m.data() for m in read_back(official, topic, 1000)] == [b"%d" % i for i in range(1000)]
