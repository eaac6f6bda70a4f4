"""Publishing to a real broker, read back by the official Python and Java clients."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import pulsar_producer
from pulsar_producer import Client, MessageId, Producer

from conftest import admin, java_check, new_topic, official_id, read_back


def ours(mid: MessageId) -> tuple[int, int, int, int]:
    return (mid.ledger_id, mid.entry_id, mid.partition, mid.batch_index)


def test_send_send_async_asend(broker: str, topic: str, official: Any) -> None:
    with Producer(broker, topic, batching_max_publish_delay=5) as p:
        ids = [p.send(b"sync")]
        futures = [p.send_async(b"async-%d" % i) for i in range(100)]
        futures.append(p.send_async(bytearray(b"bytearray")))
        futures.append(p.send_async(memoryview(b"..view..")[2:-2]))
        p.flush()
        assert all(f.done() for f in futures)
        ids += [f.result() for f in futures]

        async def coro() -> list[MessageId]:
            return list(await asyncio.gather(*(p.asend(b"aio-%d" % i) for i in range(50))))

        ids += asyncio.run(coro())
    msgs = read_back(official, topic, len(ids))
    assert [m.data() for m in msgs] == [b"sync"] + [b"async-%d" % i for i in range(100)] + [
        b"bytearray", b"view"] + [b"aio-%d" % i for i in range(50)]
    assert [official_id(m) for m in msgs] == [ours(i) for i in ids]


def test_every_metadata_field_read_back_by_independent_clients(broker: str, topic: str, official: Any) -> None:
    """Regression (E7, E8): every field a message can carry, as the official clients see it."""
    when = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    soon = int(time.time() * 1000) + 300
    sends: list[tuple[Any, dict[str, Any]]] = [
        (b"plain", {}),
        (b"\x00\xffbinary", {"key": "key-1", "ordering_key": b"\x00\xfe", "properties": {"a": "1", "b": "\u00e9"},
                             "event_time": when}),
        (b"empty key", {"key": ""}),
        (b"text ordering key", {"ordering_key": "ok"}),
        (bytearray(b"ms event time"), {"event_time": 1700000000123, "sequence_id": 1000}),
        (b"next sequence", {}),
        (b"replicated", {"replication_clusters": ["standalone"]}),
        (b"local", {"disable_replication": True}),
        (None, {"key": "tombstone"}),
        (b"", {"key": "empty payload"}),
        (b"deliver at", {"deliver_at": soon}),
        (b"deliver after", {"deliver_after": timedelta(milliseconds=300)}),
        (b"last", {"properties": {}}),
    ]
    with Producer(broker, topic, producer_name="py-meta", batching_max_publish_delay=20) as p:
        futures = [p.send_async(payload, **opts) for payload, opts in sends]
        ids = [f.result() for f in futures]
    n = len(sends)
    # The official Python client: payload, key, properties, event time, null value, order, IDs.
    msgs = read_back(official, topic, n)
    assert [m.data() for m in msgs] == [b"" if s[0] is None else bytes(s[0]) for s in sends]
    assert [official_id(m) for m in msgs] == [ours(i) for i in ids]
    assert [m.partition_key() for m in msgs][:3] == ["", "key-1", ""]  # it cannot tell "" from none
    assert msgs[1].properties() == {"a": "1", "b": "\u00e9"} and msgs[0].properties() == {}
    assert msgs[1].event_timestamp() == 1704164645678 and msgs[4].event_timestamp() == 1700000000123
    assert msgs[0].event_timestamp() == 0
    assert [m.has_null_value() for m in msgs] == [s[0] is None for s in sends]
    assert {m.producer_name() for m in msgs} == {"py-meta"}
    # The official Java client: what the Python client cannot show (it fails on binary ordering keys).
    java = sorted(java_check(topic, n), key=lambda m: (m["ledgerId"], m["entryId"], m["batchIndex"]))
    assert [(m["ledgerId"], m["entryId"], m["partition"], m["batchIndex"]) for m in java] == [ours(i) for i in ids]
    assert [m["payload"] for m in java] == [b"" if s[0] is None else bytes(s[0]) for s in sends]
    assert [(m["hasKey"], m["key"]) for m in java][:4] == [(False, None), (True, "key-1"), (True, ""), (False, None)]
    assert [m["orderingKey"] for m in java][:4] == [None, b"\x00\xfe", None, b"ok"]
    # Automatic sequence IDs count on past an explicit one, as in the Java client.
    assert [m["sequenceId"] for m in java][:7] == [0, 1, 2, 3, 1000, 4, 5]
    assert java[6]["replicateTo"] == ["standalone"] and java[7]["replicateTo"] == ["__local__"]
    assert java[0]["replicateTo"] == []
    assert [m["nullValue"] for m in java] == [s[0] is None for s in sends]
    assert java[10]["deliverAtTime"] == soon
    publish = java[11]["publishTime"]
    assert publish + 250 <= java[11]["deliverAtTime"] <= publish + 1000  # 300 ms after the send
    assert all(m["deliverAtTime"] is None for m in java[:10])
    assert {m["producerName"] for m in java} == {"py-meta"} and p.producer_name == "py-meta"


def test_duplicate_receipts_are_flagged(broker: str) -> None:
    """Regression (E6): a message the broker's deduplication already stored completes with
    ledger and entry -1; MessageId.is_duplicate tells it apart."""
    ns = f"public/pytest-dedup-{time.monotonic_ns()}"
    admin("PUT", f"/admin/v2/namespaces/{ns}")
    admin("POST", f"/admin/v2/namespaces/{ns}/deduplication", True)
    topic = f"persistent://{ns}/t"
    with Producer(broker, topic, producer_name="py-dedup") as p:
        first = p.send(b"one", sequence_id=5)
        again = p.send(b"one again", sequence_id=5)
        later = p.send(b"two", sequence_id=6)
    assert not first.is_duplicate and first.ledger_id >= 0
    assert again.is_duplicate and (again.ledger_id, again.entry_id) == (-1, -1)
    assert not later.is_duplicate


def test_many_producers_share_one_client(broker: str, official: Any) -> None:
    topics = [new_topic(f"many{i}") for i in range(5)]
    threads_before = {t.name for t in threading.enumerate()}
    with Client(broker) as client:
        producers = [client.create_producer(topics[0], batching_max_publish_delay=5)]
        one = client.stats().connections
        producers += [client.create_producer(t, batching_max_publish_delay=5) for t in topics[1:]]
        futures = [[p.send_async(b"%d-%d" % (i, j)) for j in range(200)] for i, p in enumerate(producers)]
        client.flush()
        assert all(f.done() for fs in futures for f in fs)
        new = [t for t in {t.name for t in threading.enumerate()} - threads_before if "completions" in t]
        assert len(new) == 1, new  # one completion thread for the client
        s = client.stats()
        assert (s.producers, s.connections, s.connects, s.msgs_acked) == (5, one, one, 1000)  # shared connections
        producers[0].close()
        assert client.stats().producers == 4 and not client.closed
        with pytest.raises(pulsar_producer.AlreadyClosed):
            producers[0].send_async(b"late")
        producers[1].send(b"still open")
    assert client.closed and all(p.closed for p in producers)
    with pytest.raises(pulsar_producer.AlreadyClosed):
        producers[2].send_async(b"late")
    with pytest.raises(pulsar_producer.AlreadyClosed):
        client.create_producer(topics[0])
    for i, t in enumerate(topics):
        msgs = read_back(official, t, 200)
        assert [m.data() for m in msgs] == [b"%d-%d" % (i, j) for j in range(200)]
        assert [official_id(m) for m in msgs] == [ours(f.result()) for f in futures[i]]


def test_stats_count_sends_and_acks(broker: str, topic: str) -> None:
    with Producer(broker, topic) as p:
        for _ in range(99):
            p.send_async(b"0123456789")
        p.send(b"0123456789")
        s = p.stats()
        assert (s.msgs_sent, s.bytes_sent, s.msgs_acked, s.bytes_acked, s.msgs_failed) == (100, 1000, 100, 1000, 0)
        assert s.pending_msgs == 0 and s.latency_count == 100 and 0 < s.latency_p50_us <= s.latency_max_us
        c = p.client.stats()
        assert (c.msgs_acked, c.producers) == (100, 1) and c.connections == c.connects >= 1
    assert p.stats().msgs_acked == 100  # the last counters, after close
    assert isinstance(p.stats(), pulsar_producer.Stats)


def test_log_records_go_to_the_logging_module(broker: str, topic: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pulsar_producer")
    with Producer(broker, topic):  # default log_level: warnings and errors only
        pass
    assert not [r for r in caplog.records if r.levelno < logging.WARNING]
    with Producer(broker, topic, log_level="info", producer_name="py-logs") as p:
        p.send(b"x")
    registered = [r for r in caplog.records if "registered" in r.getMessage()]
    assert registered, [r.getMessage() for r in caplog.records]
    r = registered[0]
    assert r.name == "pulsar_producer" and r.levelno == logging.INFO
    assert r.topic == topic and r.producer == "py-logs"  # type: ignore[attr-defined]
    assert r.broker and r.connection > 0  # type: ignore[attr-defined]
    assert abs(r.created - time.time()) < 30


def test_callbacks_and_waiting_on_futures(broker: str, topic: str, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[MessageId] = []

    def bad(f: Any) -> None:
        raise ValueError("a callback failed")

    with Producer(broker, topic, batching_max_publish_delay=5) as p:
        futures: list[concurrent.futures.Future[MessageId]] = [p.send_async(b"%d" % i) for i in range(500)]
        futures[7].add_done_callback(bad)  # logged; the other callbacks still run
        for f in futures:
            f.add_done_callback(lambda f: seen.append(f.result()))
        done, not_done = concurrent.futures.wait(futures, timeout=30)
        assert len(done) == 500 and not not_done
        assert len(list(concurrent.futures.as_completed(futures, timeout=30))) == 500
        p.flush()
        late: list[MessageId] = []
        futures[0].add_done_callback(lambda f: late.append(f.result()))  # already done: runs at once
        assert late == [futures[0].result()]
    assert sorted(seen) == sorted(f.result() for f in futures)
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [ValueError]


def test_send_sends_the_open_batch_at_once(broker: str, topic: str) -> None:
    with Producer(broker, topic, batching_max_publish_delay=60_000, batching_max_messages=1000) as p:
        start = time.monotonic()
        early = p.send_async(b"waits in the open batch")
        mid = p.send(b"sent at once, with the batch")
        assert time.monotonic() - start < 5 and early.done()
        assert (mid.entry_id, mid.batch_index) == (early.result().entry_id, 1)


def test_concurrent_senders_keep_each_threads_order(broker: str, topic: str, official: Any) -> None:
    n, threads = 2000, 4
    with Producer(broker, topic, batching_max_publish_delay=5) as p:
        def work(t: int) -> None:
            for i in range(n):
                p.send_async(b"%d:%d" % (t, i))
        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    msgs = [m.data().split(b":") for m in read_back(official, topic, n * threads)]
    for t in range(threads):
        assert [int(i) for tt, i in msgs if int(tt) == t] == list(range(n))


def test_asend_waits_for_room_without_blocking_the_loop(broker: str, topic: str, official: Any) -> None:
    async def main() -> list[MessageId]:
        with Producer(broker, topic, block_if_queue_full=True, max_pending_messages=10,
                      batching_max_publish_delay=20) as p:
            ticks = 0
            stop = False

            async def ticker() -> None:
                nonlocal ticks
                while not stop:
                    ticks += 1
                    await asyncio.sleep(0.001)

            tick = asyncio.ensure_future(ticker())
            ids = await asyncio.gather(*(p.asend(b"%d" % i) for i in range(300)))
            stop = True
            await tick
            assert ticks > 10  # 300 messages at 10 a batch take 30 batch delays: the loop ran meanwhile
            return list(ids)

    ids = asyncio.run(main())
    msgs = read_back(official, topic, 300)
    assert sorted(official_id(m) for m in msgs) == sorted(ours(i) for i in ids)


def test_queue_full_without_blocking(broker: str, topic: str) -> None:
    with Producer(broker, topic, max_pending_messages=5, batching_max_publish_delay=200) as p:
        for _ in range(5):
            p.send_async(b"x")
        with pytest.raises(pulsar_producer.ProducerQueueIsFull):
            p.send_async(b"x")
        with pytest.raises(pulsar_producer.ProducerQueueIsFull):
            p.send_async(b"x", key="k")

        async def coro() -> None:
            await p.asend(b"x")

        with pytest.raises(pulsar_producer.ProducerQueueIsFull):
            asyncio.run(coro())
        p.flush()
        p.send_async(b"room again").result()


def test_message_too_big_raises_at_once(broker: str, topic: str) -> None:
    with Producer(broker, topic) as p:
        with pytest.raises(pulsar_producer.MessageTooBig):
            p.send_async(b"x" * (6 << 20))
        p.send(b"small")


def test_partitioned_topic(broker: str, official: Any) -> None:
    topic = new_topic("parts")
    admin("PUT", f"/admin/v2/{topic.replace('://', '/')}/partitions", 3)
    with Producer(broker, topic) as p:
        assert p.partitions == 3 and p.topic == topic
        ids = [p.send(b"%d" % i, key=f"k{i}") for i in range(30)]
    assert {i.partition for i in ids} == {0, 1, 2}
