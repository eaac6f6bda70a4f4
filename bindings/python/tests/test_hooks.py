"""Custom routers and interceptors, on a real broker, read back by the official Python client."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, Optional

import pytest

import pulsar_producer
from pulsar_producer import Client, MessageId, OutgoingMessage, Producer

from conftest import admin, new_topic, official_id, read_back


def ours(mid: MessageId) -> tuple[int, int, int, int]:
    return (mid.ledger_id, mid.entry_id, mid.partition, mid.batch_index)


def partitioned(n: int = 3) -> str:
    topic = new_topic("routed")
    admin("PUT", f"/admin/v2/{topic.replace('://', '/')}/partitions", n)
    return topic


@pytest.fixture
def client(broker: str) -> Iterator[Client]:
    with Client(broker) as c:
        yield c


def test_the_router_picks_each_partition(client: Client, official: Any) -> None:
    topic = partitioned(3)
    counts: list[int] = []
    threads: set[str] = set()

    def by_number(msg: OutgoingMessage, num_partitions: int) -> int:
        counts.append(num_partitions)
        threads.add(threading.current_thread().name)
        return int(msg.payload or msg.properties["n"]) % 4 % num_partitions  # 0, 1, 2, 0, 0, 1, 2, 0, ...

    p = client.create_producer(topic, router=by_number, batching_max_publish_delay=5)
    assert p.partitions == 3
    futures = [p.send_async(b"%d" % i, key=f"k{i}") for i in range(40)]  # the router wins over the key
    ids = [f.result() for f in futures]
    ids.append(p.send(b"40"))
    ids.append(asyncio.run(p.asend(b"41")))
    ids.append(p.send(None, properties={"n": "42"}))  # a null value has no payload: the router reads a property
    want = [i % 4 % 3 for i in range(43)]
    assert [i.partition for i in ids] == want
    assert set(counts) == {3} and len(counts) == 43
    assert threads == {threading.current_thread().name}  # on the sending thread
    for part in range(3):
        mine = [(i, mid) for i, mid in enumerate(ids) if mid.partition == part]
        msgs = read_back(official, f"{topic}-partition-{part}", len(mine))
        assert [m.data() for m in msgs] == [b"" if i == 42 else b"%d" % i for i, _ in mine]
        assert [official_id(m) for m in msgs] == [ours(mid) for _, mid in mine]


def test_the_router_is_given_the_partition_count_of_the_moment(client: Client, official: Any) -> None:
    topic = partitioned(2)
    counts: list[int] = []

    def last(msg: OutgoingMessage, n: int) -> int:
        counts.append(n)
        return n - 1

    p = client.create_producer(topic, router=last, partitions_auto_discovery_interval=1000)
    sent = [(b"before", p.send(b"before"))]
    admin("POST", f"/admin/v2/{topic.replace('://', '/')}/partitions", 3)  # an admin adds a partition
    deadline = time.monotonic() + 30
    while counts[-1] != 3 and time.monotonic() < deadline:
        sent.append((b"waiting", p.send(b"waiting")))
        time.sleep(0.2)
    assert counts[-1] == 3, "the router never saw the third partition"
    sent.append((b"after", p.send(b"after")))
    assert [mid.partition for _, mid in sent] == [n - 1 for n in counts]
    third = [(data, mid) for data, mid in sent if mid.partition == 2]
    msgs = read_back(official, f"{topic}-partition-2", len(third))
    assert [(m.data(), official_id(m)) for m in msgs] == [(data, ours(mid)) for data, mid in third]
    assert third[-1][0] == b"after"


def test_router_failures_fail_only_their_message(client: Client, official: Any) -> None:
    topic = partitioned(3)

    def picky(msg: OutgoingMessage, n: int) -> Any:
        answers: dict[bytes, Any] = {b"raise": None, b"past": n, b"negative": -1, b"text": "1", b"bool": True,
                                     b"huge": 2**40}
        if msg.payload == b"raise":
            raise ValueError("no partition for you")
        return answers.get(msg.payload or b"", 2)

    p = client.create_producer(topic, router=picky)
    good = [p.send(b"before")]
    with pytest.raises(pulsar_producer.InvalidArgument) as info:
        p.send_async(b"raise")
    assert str(info.value) == ("InvalidArgument: the router test_router_failures_fail_only_their_message.<locals>."
                               "picky raised ValueError: no partition for you")
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(pulsar_producer.InvalidArgument, match="picky chose partition 3 of a topic of 3 "
                                                              "partitions$"):
        p.send(b"past")
    with pytest.raises(pulsar_producer.InvalidArgument, match="picky chose partition -1 of a topic of 3 partitions"):
        p.send(b"negative")
    with pytest.raises(pulsar_producer.InvalidArgument, match="picky chose partition 1099511627776 of a topic of 3"):
        p.send(b"huge")
    with pytest.raises(pulsar_producer.InvalidArgument, match="picky returned str '1', not a partition index"):
        p.send(b"text")
    with pytest.raises(pulsar_producer.InvalidArgument, match="picky returned bool True, not a partition index"):
        asyncio.run(p.asend(b"bool"))
    good.append(p.send(b"after"))
    assert [g.partition for g in good] == [2, 2]
    assert p.stats().msgs_sent == 2
    msgs = read_back(official, f"{topic}-partition-2", 2)
    assert [m.data() for m in msgs] == [b"before", b"after"]
    assert [official_id(m) for m in msgs] == [ours(g) for g in good]


def test_no_router_call_on_a_plain_topic(client: Client, topic: str) -> None:
    calls: list[int] = []
    def count(m: OutgoingMessage, n: int) -> int:
        calls.append(n)
        return 0

    p = client.create_producer(topic, router=count)
    assert p.send(b"x").partition == -1 and calls == []


class Tracer:
    """Adds a trace ID, upper-cases the key, and records what it hears."""

    def __init__(self) -> None:
        self.acks: list[tuple[str, Optional[MessageId], Optional[BaseException], bool]] = []
        self.lock = threading.Lock()

    def before_send(self, msg: OutgoingMessage) -> None:
        msg.properties["trace-id"] = uuid.uuid4().hex
        if msg.key is not None:
            msg.key = msg.key.upper()

    def on_ack(self, msg: OutgoingMessage, message_id: Optional[MessageId], error: Optional[BaseException]) -> None:
        with self.lock:
            self.acks.append((msg.properties["trace-id"], message_id, error, msg.payload == b"bad-ack"))
        if msg.payload == b"bad-ack":
            raise RuntimeError("an on_ack bug")


class Gate:
    """Refuses the messages whose payload starts with b"no"."""

    def __init__(self) -> None:
        self.raised: list[BaseException] = []

    def before_send(self, msg: OutgoingMessage) -> None:
        if (msg.payload or b"").startswith(b"no"):
            self.raised.append(PermissionError(f"not sending {msg.payload!r}"))
            raise self.raised[-1]

    def on_ack(self, msg: OutgoingMessage, message_id: Optional[MessageId], error: Optional[BaseException]) -> None:
        pass


def test_interceptors_add_a_trace_id_and_refuse_alone(broker: str, topic: str, official: Any,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    tracer = Tracer()
    seen_in_callback: list[int] = []
    # The tracer comes first: it sees the refused messages too, but hears nothing of them.
    gate = Gate()
    with Producer(broker, topic, interceptors=[tracer, gate], batching_max_publish_delay=5) as p:
        futures = [p.send_async(b"msg-%d" % i, key=f"key-{i}", properties={"i": str(i)}) for i in range(20)]
        futures[3].add_done_callback(lambda f: seen_in_callback.append(len(tracer.acks)))
        with pytest.raises(PermissionError, match="not sending b'no-1'") as info:
            p.send_async(b"no-1")
        assert info.value is gate.raised[0]  # that very exception
        with pytest.raises(PermissionError) as info:
            p.send(b"no-2", key="k")
        assert info.value is gate.raised[1]
        with pytest.raises(PermissionError) as info:
            asyncio.run(p.asend(b"no-3"))
        assert info.value is gate.raised[2]
        futures.append(p.send_async(b"bad-ack"))  # its on_ack raises: logged, ignored
        futures.append(p.send_async(b"last", key=""))
        ids = [f.result() for f in futures]
        p.flush()
    msgs = read_back(official, topic, len(ids))
    assert [m.data() for m in msgs] == [b"msg-%d" % i for i in range(20)] + [b"bad-ack", b"last"]
    assert [official_id(m) for m in msgs] == [ours(i) for i in ids]
    assert [m.partition_key() for m in msgs[:20]] == [f"KEY-{i}" for i in range(20)]
    traces = [m.properties()["trace-id"] for m in msgs]
    assert len(set(traces)) == len(msgs) and all(len(t) == 32 for t in traces)
    assert [m.properties().get("i") for m in msgs[:20]] == [str(i) for i in range(20)]
    # on_ack heard every message the gate let through, with its ID, before the done-callbacks ran.
    assert sorted((t, mid) for t, mid, err, _ in tracer.acks) == sorted(zip(traces, ids))
    assert all(err is None for _, _, err, _ in tracer.acks)
    assert seen_in_callback and seen_in_callback[0] >= 4
    assert [r.getMessage() for r in caplog.records if r.exc_info and "on_ack" in r.getMessage()] == [
        f"interceptor {tracer!r} raised in on_ack() for <OutgoingMessage to {topic} payload=b'bad-ack' key=None "
        f"properties={{'trace-id': '{traces[20]}'}}>"]


def test_interceptors_hear_refusals_and_the_router_sees_their_changes(client: Client, official: Any) -> None:
    topic = partitioned(2)
    tracer = Tracer()

    class Stamp:
        def before_send(self, msg: OutgoingMessage) -> None:
            msg.properties["to"] = "1" if msg.payload == b"one" else "9" if msg.payload == b"nine" else "0"

        def on_ack(self, msg: OutgoingMessage, message_id: Optional[MessageId], error: Optional[BaseException]) -> None:
            pass

    p = client.create_producer(topic, interceptors=(Stamp(), tracer),
                               router=lambda msg, n: int(msg.properties["to"]))
    one = p.send(b"one")
    with pytest.raises(pulsar_producer.InvalidArgument, match="chose partition 9 of a topic of 2"):
        p.send(b"nine")
    zero = p.send(b"zero")
    assert (one.partition, zero.partition) == (1, 0)
    assert [(mid, type(err)) for _, mid, err, _ in tracer.acks] == [
        (one, type(None)), (None, pulsar_producer.InvalidArgument), (zero, type(None))]
    (msg,) = read_back(official, f"{topic}-partition-1", 1)
    assert msg.data() == b"one" and msg.properties()["to"] == "1"


def test_interceptors_hear_a_full_queue(client: Client, topic: str) -> None:
    tracer = Tracer()
    p = client.create_producer(topic, interceptors=[tracer], max_pending_messages=1,
                               batching_max_publish_delay=60_000)
    first = p.send_async(b"waits in the batch")
    with pytest.raises(pulsar_producer.ProducerQueueIsFull):
        p.send_async(b"no room")
    assert [(mid, type(err)) for _, mid, err, _ in tracer.acks] == [(None, pulsar_producer.ProducerQueueIsFull)]
    p.flush()
    assert [mid for _, mid, _, _ in tracer.acks] == [None, first.result()]


def test_hooks_are_checked_when_the_producer_is_made(broker: str) -> None:
    with pytest.raises(TypeError, match="router must be a callable"):
        Producer(broker, "t", router=3)  # type: ignore[arg-type]
    class Half:
        def before_send(self, msg: OutgoingMessage) -> None:
            pass

    with pytest.raises(TypeError, match=r"interceptor <.*Half object at .*> has no method on_ack\(\); an "
                                        r"interceptor has before_send\(msg\) and on_ack\(msg, message_id, error\)"):
        Producer(broker, "t", interceptors=[Gate(), Half()])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="interceptors must be a list"):
        Producer(broker, "t", interceptors=Gate())  # type: ignore[arg-type]
    with Client(broker) as c:
        with pytest.raises(TypeError, match="router must be a callable"):
            c.create_producer("t", router="round robin")  # type: ignore[arg-type]


def test_outgoing_message_is_read_only_but_for_key_and_properties() -> None:
    msg = OutgoingMessage("t", bytearray(b"p"), {"key": "k", "properties": {"a": "b"}, "event_time": 5})
    assert (msg.topic, msg.payload, msg.value, msg.key, msg.properties, dict(msg.options)) == (
        "t", b"p", None, "k", {"a": "b"}, {"event_time": 5})
    with pytest.raises(AttributeError):
        msg.payload = b"other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        msg.options["event_time"] = 6  # type: ignore[index]
    logging.getLogger(__name__).debug("%r", msg)
