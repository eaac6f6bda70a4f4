"""The send buffer: order, refusals inside a batch, latency at a low rate.

How this works: payload-only sends are buffered and handed to the library in
pp_send_batch calls (pulsar_producer/_buffer.py). These tests read what was
published back with the official client, and watch the batch calls by
wrapping the module's pp_send_batch (``calls`` records each call's count).
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Any, Callable

import pytest

import pulsar_producer
from pulsar_producer import MessageId, Producer, _buffer, errors

from conftest import read_back, run_threads


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The message count of every pp_send_batch call made during the test."""
    seen: list[int] = []
    real: Callable[..., int] = _buffer._SEND_BATCH

    def counting(*args: Any) -> int:
        seen.append(args[3])
        return real(*args)

    monkeypatch.setattr(_buffer, "_SEND_BATCH", counting)
    return seen


def test_order_across_threads(broker: str, topic: str, client: Any) -> None:
    # Sends serialized by a lock ("g" messages) must reach the topic in that
    # order, whichever thread made them; each thread's own order is kept too,
    # including keyed messages (handed over directly, after the buffer) and
    # bytearray payloads (copied into the buffer).
    threads, each = 6, 600
    p = Producer(broker, topic, batching_max_publish_delay=5)
    lock = threading.Lock()
    counter = [0]
    futures: list[concurrent.futures.Future[MessageId]] = []

    def worker(t: int) -> None:
        mine = []
        for i in range(each):
            if i % 4 == 0:
                with lock:
                    n = counter[0]
                    counter[0] += 1
                    mine.append(p.send_async(b"g:%d:%d:%d" % (n, t, i)))
            elif i % 9 == 0:
                mine.append(p.send_async(b"k:%d:%d" % (t, i), key=f"key-{t}"))
            elif i % 5 == 0:
                mine.append(p.send_async(bytearray(b"b:%d:%d" % (t, i))))
            else:
                mine.append(p.send_async(b"p:%d:%d" % (t, i)))
        with lock:
            futures.extend(mine)

    run_threads(worker, threads)
    p.close()
    assert all(f.exception() is None for f in futures)
    msgs = read_back(client, topic, threads * each)
    global_order: list[int] = []
    per_thread: dict[int, list[int]] = {}
    for m in msgs:
        parts = m.data().split(b":")
        if parts[0] == b"g":
            global_order.append(int(parts[1]))
        t, i = int(parts[-2]), int(parts[-1])
        per_thread.setdefault(t, []).append(i)
    assert global_order == list(range(counter[0]))
    assert all(per_thread[t] == list(range(each)) for t in range(threads))


def test_refused_message_in_the_middle_of_a_batch(
    broker: str, topic: str, client: Any, calls: list[int]
) -> None:
    # memory_limit_bytes=250: the library takes payloads while the pending
    # ones hold at most 250 bytes, so messages 2 and 5 are refused (nothing
    # leaves before the flush: the batching delay is long).
    sizes = [100, 100, 100, 10, 40, 1]
    p = Producer(broker, topic, memory_limit_bytes=250, batching_max_publish_delay=60000)
    p._buffer.hold = 60.0  # buffer everything until the flush below: one batch
    p._buffer.last_call = time.monotonic()
    seen: list[object] = []
    futures = [p.send_async(bytes([65 + i]) * n) for i, n in enumerate(sizes)]
    futures[2].add_done_callback(lambda f: seen.append(f.exception()))
    assert not any(f.done() for f in futures) and p.pending == 6
    p.flush()
    p.close()
    assert calls[0] == 6  # one batch; then the rest after each refusal
    outcomes = [type(f.exception()).__name__ for f in futures]
    assert outcomes == ["NoneType", "NoneType", "MemoryBufferIsFull", "NoneType", "NoneType", "MemoryBufferIsFull"]
    exc = futures[2].exception()
    assert isinstance(exc, errors.MemoryBufferIsFull) and "memoryLimitBytes" in str(exc)
    assert seen == [exc]  # its callback ran
    msgs = read_back(client, topic, 4)
    assert [m.data() for m in msgs] == [b"A" * 100, b"B" * 100, b"D" * 10, b"E" * 40]
    ids = [f.result() for i, f in enumerate(futures) if i not in (2, 5)]
    assert [(m.message_id().ledger_id(), m.message_id().entry_id(), m.message_id().batch_index()) for m in msgs] == [
        (i.ledger_id, i.entry_id, i.batch_index) for i in ids
    ]


def test_lone_send_async_completes_without_flush(broker: str, topic: str, calls: list[int]) -> None:
    with Producer(broker, topic) as p:  # default batching delay: 1 ms
        time.sleep(0.01)
        start = time.monotonic()
        lone = p.send_async(b"alone")
        assert isinstance(lone.result(timeout=10), MessageId)  # no flush()
        lone_latency = time.monotonic() - start
        assert calls == [1]  # an idle producer hands it over at once
        # A burst: the first goes at once, the rest wait in the buffer for
        # the timer (at most 1 ms), still without a flush.
        burst = [p.send_async(b"%d" % i) for i in range(50)]
        for f in burst:
            assert isinstance(f.result(timeout=10), MessageId)
        assert sum(calls) == 51 and max(calls) > 1
        assert p.pending == 0
    assert lone_latency < 5


def test_idle_producer_does_not_wait_for_the_hold(broker: str, topic: str) -> None:
    # With a long batching delay the library holds messages, not the buffer:
    # a send to an idle producer is in the library at once (pending there).
    with Producer(broker, topic, batching_max_publish_delay=60000) as p:
        time.sleep(0.01)
        p.send_async(b"x")
        assert p._buffer.pending == 0 and p.pending == 1


def test_queue_full_raises_at_once_and_buffered_messages_keep_order(
    broker: str, topic: str, client: Any
) -> None:
    p = Producer(broker, topic, max_pending_messages=50, batching_max_publish_delay=60000)
    sent = []
    with pytest.raises(errors.ProducerQueueIsFull, match="max_pending_messages 50"):
        for i in range(1000):
            sent.append(p.send_async(b"%d" % i))
    assert len(sent) == 50 and p.pending == 50
    p.flush()
    assert all(f.exception() is None for f in sent)
    more = [p.send_async(b"more %d" % i) for i in range(10)]
    p.close()
    assert all(f.exception() is None for f in more)
    msgs = read_back(client, topic, 60)
    assert [m.data() for m in msgs] == [b"%d" % i for i in range(50)] + [b"more %d" % i for i in range(10)]


def test_payloads_are_taken_when_sent(broker: str, topic: str, client: Any) -> None:
    # A buffered bytearray is copied by send_async: changing it afterwards
    # changes nothing; large ones go to the library at once.
    data = bytearray(b"before")
    big = bytearray(b"B" * (_buffer.DIRECT_BYTES + 1))
    with Producer(broker, topic, batching_max_publish_delay=50) as p:
        p.send_async(b"first")
        p.send_async(data)
        p.send_async(memoryview(big))
        data[:] = b"after!"
        big[:1] = b"X"
    msgs = read_back(client, topic, 3)
    assert [m.data() for m in msgs] == [b"first", b"before", b"B" * (_buffer.DIRECT_BYTES + 1)]


def test_sync_send_flushes_the_buffer(broker: str, topic: str) -> None:
    with Producer(broker, topic, batching_max_publish_delay=60000) as p:
        p._buffer.hold = 60.0  # the timer would not flush for a minute
        p._buffer.last_call = time.monotonic()
        early = [p.send_async(b"%d" % i) for i in range(5)]
        assert p._buffer.pending == 5
        start = time.monotonic()
        p.send(b"sync")  # flushes the buffer and the library's batch
        assert time.monotonic() - start < 10
        assert all(f.done() and f.exception() is None for f in early)


def test_sends_after_close_are_refused_at_once(broker: str, topic: str) -> None:
    p = Producer(broker, topic)
    futures = [p.send_async(b"x") for _ in range(100)]
    p.close()
    with pytest.raises(errors.AlreadyClosed):
        p.send_async(b"late")
    assert p._buffer.pending == 0 and p.pending == 0
    assert all(f.done() and f.exception() is None for f in futures)


def test_option_values_are_checked_against_the_table() -> None:
    from datetime import timedelta

    from pulsar_producer import _options

    assert "batching_max_publish_delay" in _options.OPTIONS
    assert _options.OPTIONS["compression_type"].values[:2] == ("none", "lz4")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"batching_max_messages": timedelta(seconds=1)}, 'option "batching_max_messages" must be an integer, got timedelta 0:00:01'),
        ({"batching_max_messages": True}, 'option "batching_max_messages" must be an integer, got boolean True'),
        ({"send_timeout": 1.5}, 'option "send_timeout" must be a datetime.timedelta or an int of milliseconds, got float 1.5'),
        ({"disable_batching": 1}, 'option "disable_batching" must be True or False, got integer 1'),
        ({"producer_name": b"p"}, "option \"producer_name\" must be a string, got bytes b'p'"),
        ({"properties": {"a": 1}}, 'option "properties" must be a mapping of str to str'),
        ({"access_mode": "sharde"}, 'option "access_mode" must be one of shared, exclusive'),
    ]
    for options, message in cases:
        with pytest.raises(errors.InvalidConfiguration) as info:
            Producer("pulsar://127.0.0.1:1", "t", **options)
        assert message in str(info.value)
    # Enums are matched as the library matches them (case-insensitively).
    text, _ = _options.options_json({"compression_type": "LZ4", "send_timeout": timedelta(seconds=2)})
    assert text == '{"compressionType": "LZ4", "sendTimeout": 2000}'


def test_producer_name_and_partitions(broker: str, topic: str) -> None:
    from conftest import admin

    with Producer(broker, topic, producer_name="py-named") as p:
        assert p.producer_name == "py-named" and p.partitions == 0
    admin("PUT", "/admin/v2/persistent/" + topic.split("://", 1)[1] + "-parts/partitions", 2)
    with Producer(broker, topic + "-parts") as q:
        assert q.producer_name and q.partitions == 2


def test_many_producers_share_one_timer(broker: str, topic: str) -> None:
    producers = [Producer(broker, f"{topic}-{i}") for i in range(4)]
    try:
        futures = [p.send_async(b"%d" % i) for i in range(20) for p in producers]
        for f in futures:
            assert isinstance(f.result(timeout=10), MessageId)
        names = [t.name for t in threading.enumerate()]
        assert names.count("pulsar-producer send buffers") == 1
    finally:
        for p in producers:
            p.close()
    assert isinstance(pulsar_producer.Producer, type)


def test_messages_with_options_share_batches(broker: str, topic: str, client: Any, calls: list[int]) -> None:
    # Keys, ordering keys, properties, event times and null values, mixed with
    # payload-only messages in one buffered batch (one pp_send_messages call).
    from datetime import datetime, timezone

    n = 300
    calls_messages: list[int] = []
    real = _buffer._SEND_MESSAGES

    def counting(*args: Any) -> int:
        calls_messages.append(args[2])
        return int(real(*args))

    def options(i: int) -> dict[str, Any]:
        o: dict[str, Any] = {}
        if i % 3 == 0:
            o["key"] = f"key-{i % 7}"
        if i % 4 == 0:
            o["properties"] = {"i": str(i), "\u00e9": "x" * (i % 5)}
        if i % 5 == 0:
            o["ordering_key"] = b"ok-%d" % i
        if i % 6 == 0:
            o["event_time"] = datetime.fromtimestamp(1_700_000_000 + i, timezone.utc)
        return o

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_buffer, "_SEND_MESSAGES", counting)
        with Producer(broker, topic, batching_max_publish_delay=60000) as p:
            p._buffer.hold = 60.0
            p._buffer.last_call = time.monotonic()
            futures = [
                p.send_async(None if i % 50 == 49 else b"m%d" % i, **options(i)) for i in range(n)
            ]
            assert p._buffer.pending == n
    assert calls_messages == [n] and calls == []
    assert all(f.exception() is None for f in futures)
    msgs = read_back(client, topic, n)
    for i, m in enumerate(msgs):
        o = options(i)
        assert m.has_null_value() == (i % 50 == 49)
        assert m.data() == (b"" if i % 50 == 49 else b"m%d" % i)
        assert m.partition_key() == o.get("key", "")
        assert m.ordering_key() == o.get("ordering_key", b"").decode()
        assert m.properties() == o.get("properties", {})
        assert m.event_timestamp() == (1_700_000_000_000 + i * 1000 if i % 6 == 0 else 0)


def test_refused_message_with_options_in_a_batch(broker: str, topic: str, client: Any) -> None:
    with Producer(broker, topic, batching_max_publish_delay=60000) as p:
        p._buffer.hold = 60.0
        p._buffer.last_call = time.monotonic()
        futures = [
            p.send_async(b"a", key="k"),
            p.send_async(b"b", deliver_after=-5),  # refused by the library: InvalidMessage
            p.send_async(b"c"),
            p.send_async(b"d", sequence_id=-7),  # likewise
            p.send_async(b"e", properties={"p": "q"}),
        ]
    errs = [f.exception() for f in futures]
    assert errs[0] is None and errs[2] is None and errs[4] is None
    assert isinstance(errs[1], errors.InvalidMessage) and "deliverAfter" in str(errs[1])
    assert isinstance(errs[3], errors.InvalidMessage) and "sequence_id" in str(errs[3])
    assert [m.data() for m in read_back(client, topic, 3)] == [b"a", b"c", b"e"]


def test_large_payloads_with_options_go_directly(broker: str, topic: str, client: Any) -> None:
    big = b"L" * (_buffer.DIRECT_BYTES + 1)
    with Producer(broker, topic, batching_max_publish_delay=20) as p:
        first = p.send_async(b"small", key="s")
        second = p.send_async(bytearray(big), key="big", properties={"size": str(len(big))})
        with pytest.raises(errors.MessageTooBig):
            p.send_async(b"x" * (6 * 1024 * 1024), key="too big")  # raises at once
        third = p.send_async(b"after")
    assert all(f.exception() is None for f in (first, second, third))
    msgs = read_back(client, topic, 3)
    assert [m.data() for m in msgs] == [b"small", big, b"after"]
    assert msgs[1].partition_key() == "big" and msgs[1].properties() == {"size": str(len(big))}
