"""Publishing to a real broker, verified with the official pulsar-client."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import pulsar_producer
from pulsar_producer import MessageId, Producer

from conftest import admin, official_id, read_back, run_threads


def ours(mid: MessageId) -> tuple[int, int, int, int]:
    return (mid.ledger_id, mid.entry_id, mid.partition, mid.batch_index)


def test_payload_properties_keys_event_time(broker: str, topic: str, client: Any) -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    with Producer(broker, topic, producer_name="py-meta") as p:
        ids = [
            p.send(b"plain"),
            p.send(
                b"\x00\xffbinary",
                key="key-1",
                ordering_key=b"ok-1",
                properties={"a": "1", "b": "\u00e9t\u00e9"},
                event_time=when,
            ),
            p.send(bytearray(b"from a bytearray"), event_time=1700000000123),
            p.send(memoryview(b"..a memoryview..")[2:-2], properties={}),
            p.send(b"", key="empty"),
            p.send(None, key="tombstone"),
        ]
    msgs = read_back(client, topic, len(ids))
    assert [m.data() for m in msgs] == [
        b"plain",
        b"\x00\xffbinary",
        b"from a bytearray",
        b"a memoryview",
        b"",
        b"",
    ]
    assert msgs[1].partition_key() == "key-1"
    assert msgs[1].ordering_key() == "ok-1"
    assert msgs[1].properties() == {"a": "1", "b": "\u00e9t\u00e9"}
    assert msgs[1].event_timestamp() == 1704164645678
    assert msgs[2].event_timestamp() == 1700000000123
    assert msgs[0].event_timestamp() == 0 and msgs[0].properties() == {}
    assert msgs[4].partition_key() == "empty" and not msgs[4].has_null_value()
    assert msgs[5].partition_key() == "tombstone" and msgs[5].has_null_value()
    assert all(m.producer_name() == "py-meta" for m in msgs)
    assert [ours(i) for i in ids] == [official_id(m) for m in msgs]


def test_payload_sizes_on_the_fast_path(broker: str, topic: str, client: Any) -> None:
    import random

    rng = random.Random(7)
    payloads = [rng.randbytes(n) for n in (0, 1, 100, 4096, 65536, 1_000_000, 3_000_000)]
    with Producer(broker, topic, batching_max_publish_delay=5) as p:
        futures = [p.send_async(data) for data in payloads]  # bytes, no options: the fast path
    msgs = read_back(client, topic, len(payloads))
    assert [m.data() for m in msgs] == payloads
    assert [official_id(m) for m in msgs] == [ours(f.result()) for f in futures]


def test_batched_order_and_ids(broker: str, topic: str, client: Any) -> None:
    n = 3000
    with Producer(broker, topic, batching_max_messages=100, batching_max_publish_delay=timedelta(milliseconds=50)) as p:
        futures = [p.send_async(b"%06d" % i) for i in range(n)]
        p.flush()
        assert all(f.done() for f in futures)
        ids = [f.result() for f in futures]
    msgs = read_back(client, topic, n)
    assert [m.data() for m in msgs] == [b"%06d" % i for i in range(n)]
    assert [ours(i) for i in ids] == [official_id(m) for m in msgs]
    # Batches: consecutive indexes within an entry, and batch_size says how many.
    by_entry: dict[tuple[int, int], list[MessageId]] = {}
    for mid in ids:
        by_entry.setdefault((mid.ledger_id, mid.entry_id), []).append(mid)
    assert max(len(v) for v in by_entry.values()) > 1
    for members in by_entry.values():
        if len(members) == 1 and members[0].batch_index == -1:
            continue
        assert [m.batch_index for m in members] == list(range(len(members)))
        assert {m.batch_size for m in members} == {len(members)}


def test_unbatched_ids_have_batch_index_minus_one(broker: str, topic: str, client: Any) -> None:
    with Producer(broker, topic, disable_batching=True) as p:
        ids = [p.send(b"m%d" % i) for i in range(3)]
    assert all(i.batch_index == -1 and i.batch_size == 0 and i.partition == -1 for i in ids)
    msgs = read_back(client, topic, 3)
    # The official (C++) client reports a non-batched message as batch index -1 too.
    assert [official_id(m) for m in msgs] == [ours(i) for i in ids]
    assert all(m.message_id().batch_index() == -1 for m in msgs)


def test_serialized_ids_interoperate(broker: str, topic: str, client: Any) -> None:
    import pulsar

    with Producer(broker, topic, batching_max_publish_delay=20) as p:
        futures = [p.send_async(b"%d" % i) for i in range(5)]
        p.flush()
        single = p.send(b"alone")
    ids = [f.result() for f in futures] + [single]
    for mid in ids:
        theirs = pulsar.MessageId.deserialize(mid.serialize())
        assert (theirs.ledger_id(), theirs.entry_id(), theirs.partition(), theirs.batch_index()) == ours(mid)
        assert MessageId.deserialize(theirs.serialize()) == mid
    msgs = read_back(client, topic, len(ids))
    for m, mid in zip(msgs, ids):
        assert MessageId.deserialize(m.message_id().serialize()) == mid
    # A reader started at our (deserialized) ID goes on with the next message.
    reader = client.create_reader(topic, pulsar.MessageId.deserialize(ids[2].serialize()))
    try:
        assert reader.read_next(10000).data() == b"3"
    finally:
        reader.close()


def test_partitioned_topic_ids(broker: str, topic: str, client: Any) -> None:
    admin("PUT", "/admin/v2/persistent/" + topic.split("://", 1)[1] + "/partitions", 3)
    with Producer(broker, topic, batching_max_publish_delay=5) as p:
        futures = [p.send_async(b"k%d" % i, key=f"key-{i}") for i in range(60)]
        p.flush()
    ids = [f.result() for f in futures]
    assert {i.partition for i in ids} == {0, 1, 2}
    for part in range(3):
        mine = [(ours(i), f.result()) for i, f in zip(ids, futures) if i.partition == part]
        msgs = read_back(client, f"{topic}-partition-{part}", len(mine))
        assert [official_id(m) for m in msgs] == [o for o, _ in mine]


def test_delayed_delivery(broker: str, topic: str, client: Any) -> None:
    import pulsar

    consumer = client.subscribe(topic, "delayed", consumer_type=pulsar.ConsumerType.Shared)
    try:
        with Producer(broker, topic) as p:
            start = time.time()
            p.send(b"after", deliver_after=timedelta(seconds=2))
            p.send(b"at", deliver_at=datetime.now(timezone.utc) + timedelta(seconds=1))
            p.send(b"now")
        got = []
        for _ in range(3):
            m = consumer.receive(15000)
            got.append((m.data(), time.time() - start))
            consumer.acknowledge(m)
        assert [d for d, _ in got] == [b"now", b"at", b"after"]
        assert got[1][1] >= 0.9 and got[2][1] >= 1.9
    finally:
        consumer.close()


def test_sequence_ids_and_replication_options(broker: str, topic: str, client: Any) -> None:
    with Producer(broker, topic) as p:
        a = p.send(b"s1", sequence_id=100)
        b = p.send(b"s2", sequence_id=101, disable_replication=True)
        c = p.send(b"s3", replication_clusters=["standalone"])
    msgs = read_back(client, topic, 3)
    assert [m.data() for m in msgs] == [b"s1", b"s2", b"s3"]
    assert [official_id(m) for m in msgs] == [ours(a), ours(b), ours(c)]


def test_many_threads_one_producer(broker: str, topic: str, client: Any) -> None:
    threads, each = 8, 1500
    p = Producer(broker, topic, batching_max_publish_delay=5)
    results: dict[int, list[concurrent.futures.Future[MessageId]]] = {}

    def run(t: int) -> None:
        results[t] = [p.send_async(b"%d:%d" % (t, i)) for i in range(each)]

    run_threads(run, threads)
    p.close()
    all_ids = {f.result() for fs in results.values() for f in fs}
    assert len(all_ids) == threads * each
    msgs = read_back(client, topic, threads * each)
    seen: dict[int, list[int]] = {}
    for m in msgs:
        t, i = (int(x) for x in m.data().split(b":"))
        seen.setdefault(t, []).append(i)
    assert all(seen[t] == list(range(each)) for t in range(threads))  # per-thread order kept


def test_sync_send_from_many_threads(broker: str, topic: str) -> None:
    with Producer(broker, topic, batching_max_publish_delay=2) as p:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(lambda i: p.send(b"%d" % i), range(400)))
    assert len(set(ids)) == 400


def test_asend(broker: str, topic: str, client: Any) -> None:
    async def main() -> list[MessageId]:
        with Producer(broker, topic, batching_max_publish_delay=5) as p:
            first = await p.asend(b"first", properties={"via": "asyncio"})
            rest = await asyncio.gather(*(p.asend(b"%d" % i) for i in range(500)))
            return [first, *rest]

    ids = asyncio.run(main())
    assert all(isinstance(i, MessageId) for i in ids)
    msgs = read_back(client, topic, len(ids))
    assert msgs[0].properties() == {"via": "asyncio"}
    assert [official_id(m) for m in msgs] == [ours(i) for i in ids]


def test_asend_errors_raise_in_the_coroutine(broker: str, topic: str) -> None:
    async def main(p: Producer) -> None:
        with pytest.raises(TypeError):
            await p.asend("text")  # type: ignore[arg-type]
        p.close()
        with pytest.raises(pulsar_producer.errors.AlreadyClosed):
            await p.asend(b"late")

    asyncio.run(main(Producer(broker, topic)))


def test_wait_and_as_completed(broker: str, topic: str) -> None:
    with Producer(broker, topic, batching_max_publish_delay=20) as p:
        futures = [p.send_async(b"%d" % i) for i in range(300)]
        done, not_done = concurrent.futures.wait(futures, timeout=30)
        assert len(done) == 300 and not not_done
        more = [p.send_async(b"x") for _ in range(50)]
        assert len(list(concurrent.futures.as_completed(more, timeout=30))) == 50
        assert all(f.exception() is None for f in more)


def test_callbacks_run_and_errors_are_reported(
    broker: str, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []
    lock = threading.Lock()

    def ok(f: concurrent.futures.Future[MessageId]) -> None:
        with lock:
            calls.append(f.result().entry_id)

    def bad(f: concurrent.futures.Future[MessageId]) -> None:
        raise RuntimeError("callback failed on purpose")

    with caplog.at_level("ERROR", logger="pulsar_producer"):
        with Producer(broker, topic, batching_max_publish_delay=5) as p:
            futures = []
            for i in range(200):
                f = p.send_async(b"%d" % i)
                f.add_done_callback(bad if i % 10 == 0 else ok)
                futures.append(f)
            p.flush()
            assert all(f.done() for f in futures)
            # Callbacks that run after the batch completes also survive a failure.
            late = p.send_async(b"late")
            late.add_done_callback(bad)
            late.add_done_callback(ok)
    assert len(calls) == 181
    failures = [r for r in caplog.records if "exception in callback" in r.getMessage()]
    assert len(failures) == 21
    assert "callback failed on purpose" in caplog.text


def test_callback_may_send_and_close(broker: str, topic: str, client: Any) -> None:
    p = Producer(broker, topic)
    done = threading.Event()
    chained: list[concurrent.futures.Future[MessageId]] = []

    def then(f: concurrent.futures.Future[MessageId]) -> None:
        chained.append(p.send_async(b"second"))
        with pytest.raises(RuntimeError, match="would wait for itself"):
            p.send(b"never")
        p.flush()  # returns: it cannot wait for its own thread
        p.close()
        done.set()

    p.send_async(b"first").add_done_callback(then)
    assert done.wait(30)
    p.close()
    assert chained[0].result(timeout=10).entry_id >= 0
    assert [m.data() for m in read_back(client, topic, 2)] == [b"first", b"second"]


def test_block_if_queue_full(broker: str, topic: str, client: Any) -> None:
    n = 5000
    with Producer(broker, topic, max_pending_messages=20, block_if_queue_full=True, batching_max_messages=10) as p:
        futures = [p.send_async(b"%d" % i) for i in range(n)]  # never ProducerQueueIsFull
    assert all(f.exception() is None for f in futures)
    assert len(read_back(client, topic, n)) == n


def test_flush_settles_every_future_and_close_settles_the_rest(broker: str, topic: str) -> None:
    p = Producer(broker, topic, batching_max_publish_delay=timedelta(seconds=5), batching_max_messages=100000)
    futures = [p.send_async(b"x") for _ in range(100)]
    start = time.monotonic()
    p.flush(timedelta(seconds=20))
    assert time.monotonic() - start < 4  # did not wait for the 5 s batch delay
    assert all(f.done() for f in futures)
    more = [p.send_async(b"y") for _ in range(100)]
    p.close()
    assert all(f.done() and f.exception() is None for f in more)
    assert p.pending == 0


def test_dropped_producer_is_closed_by_its_thread(broker: str, topic: str, client: Any) -> None:
    p = Producer(broker, topic, batching_max_publish_delay=timedelta(seconds=1))
    thread = p._core.thread
    futures = [p.send_async(b"%d" % i) for i in range(10)]
    del p
    thread.join(15)
    assert not thread.is_alive()
    assert all(f.done() and f.exception() is None for f in futures)
    assert len(read_back(client, topic, 10)) == 10
