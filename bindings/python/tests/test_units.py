"""Unit tests without a broker: MessageId, option and time conversion, futures."""

from __future__ import annotations

import concurrent.futures
import logging
import pickle
import threading
from datetime import datetime, timedelta, timezone

import pytest

import pulsar_producer
from pulsar_producer import MessageId, _options, errors
from pulsar_producer._future import future_class


def test_message_id_fields_str_eq_hash() -> None:
    a = MessageId(12, 34)
    assert (a.ledger_id, a.entry_id, a.partition, a.batch_index, a.batch_size) == (12, 34, -1, -1, 0)
    assert str(a) == "12:34:-1"
    b = MessageId(12, 34, 2, 5, 10)
    assert str(b) == "12:34:2:5"
    assert repr(b) == "MessageId(ledger_id=12, entry_id=34, partition=2, batch_index=5, batch_size=10)"
    # batch_size is not part of the identity (some sources omit it)
    assert MessageId(12, 34, 2, 5, 10) == MessageId(12, 34, 2, 5, 0)
    assert hash(MessageId(12, 34, 2, 5, 10)) == hash(MessageId(12, 34, 2, 5))
    assert MessageId(12, 34, 2, 5) != MessageId(12, 34, 2, 6)
    assert MessageId(1, 2) != (1, 2, -1, -1)
    assert len({a, MessageId(12, 34), b}) == 2
    with pytest.raises(AttributeError):
        a.ledger_id = 5
    assert pickle.loads(pickle.dumps(b)) == b


def test_message_id_serialize_roundtrip() -> None:
    for mid in (MessageId(7, 8), MessageId(2**40, 2**33, 3, 999, 1000), MessageId(1, 0, -1, 0, 1)):
        data = mid.serialize()
        assert isinstance(data, bytes) and 0 < len(data) <= 32
        back = MessageId.deserialize(data)
        assert back == mid and back.batch_size == mid.batch_size
    assert MessageId(7, 8).serialize() == bytes([0x08, 7, 0x10, 8])
    assert MessageId.deserialize(bytearray(MessageId(7, 8).serialize())) == MessageId(7, 8)


def test_message_id_malformed() -> None:
    with pytest.raises(errors.InvalidArgument, match="malformed message ID bytes"):
        MessageId.deserialize(b"\xff\xff")
    with pytest.raises(errors.InvalidArgument):
        MessageId.deserialize(b"")
    with pytest.raises(TypeError):
        MessageId.deserialize("08071008")  # type: ignore[arg-type]


def test_option_names_and_values() -> None:
    text, names = _options.options_json(
        {
            "batching_max_messages": 10,
            "batching_max_publish_delay": timedelta(milliseconds=10),
            "send_timeout": timedelta(seconds=3),
            "properties": {"a": "b"},
            "disable_batching": False,
            "producer_name": None,
        }
    )
    assert text == (
        '{"batchingMaxMessages": 10, "batchingMaxPublishDelay": 10, "sendTimeout": 3000, '
        '"properties": {"a": "b"}, "disableBatching": false}'
    )
    assert names["batchingMaxPublishDelay"] == "batching_max_publish_delay"
    assert _options.camel_name("memory_limit_bytes") == "memoryLimitBytes"
    assert _options.snake_errors('option "sendTimeout" is bad', names) == 'option "send_timeout" is bad'


def test_durations_and_instants() -> None:
    assert _options.duration_ms(timedelta(seconds=1.5), "d") == 1500
    assert _options.duration_ms(timedelta(microseconds=1), "d") == 1  # rounds up, never to 0
    assert _options.duration_ms(250, "d") == 250
    for bad in (1.5, True, "1s", None):
        with pytest.raises(TypeError, match="d must be a datetime.timedelta or an int of milliseconds"):
            _options.duration_ms(bad, "d")
    when = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc)
    assert _options.instant_ms(when, "t") == 1714979289123
    assert _options.instant_ms(1714979289123, "t") == 1714979289123


def test_future_protocol_without_a_producer(caplog: pytest.LogCaptureFixture) -> None:
    cond = threading.Condition()
    cls = future_class(cond)
    f = object.__new__(cls)
    assert isinstance(f, concurrent.futures.Future) and isinstance(f, pulsar_producer.MessageFuture)
    assert f.running() and not f.done() and not f.cancel()
    with pytest.raises(concurrent.futures.TimeoutError):
        f.result(timeout=0.01)
    seen: list[object] = []
    f.add_done_callback(lambda fut: seen.append(fut.result()))
    f.add_done_callback(lambda fut: 1 / 0)
    assert cls._hook_count[0] == 1
    mid = MessageId(1, 2)
    with caplog.at_level(logging.ERROR, logger="pulsar_producer"):
        f.set_result(mid)  # the stdlib path works too, and runs the callbacks
    assert f.done() and f.result() is mid and seen == [mid]
    assert "ZeroDivisionError" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="pulsar_producer"):
        f.add_done_callback(lambda fut: 1 / 0)  # already done: runs now, error logged
    assert any("exception in callback" in r.message for r in caplog.records)


def test_pack_lays_out_pp_message_structs() -> None:
    import ctypes

    from pulsar_producer import _messages, _native

    entries: list[bytes | _messages.Prepared] = [
        b"plain",
        _messages.prepare(b"with options", key="k\u00e9", ordering_key="ok", properties={"a": "1", "b": ""},
                          event_time=1700000000123, deliver_after=timedelta(seconds=2), sequence_id=42,
                          replication_clusters=["c1", "c2"]),
        _messages.prepare(None, disable_replication=True),
        b"",
    ]
    packed = _messages.pack(entries)
    msgs = (_native.MessageC * len(entries)).from_buffer(packed.area)
    at = ctypes.string_at
    plain, opts, null, empty = msgs
    assert plain.struct_size == ctypes.sizeof(_native.MessageC) and plain.sequence_id == -1
    assert at(plain.payload, plain.payload_len) == b"plain" and not plain.key and not plain.null_value
    assert at(opts.payload, opts.payload_len) == b"with options"
    assert opts.key == "k\u00e9".encode() and at(opts.ordering_key, opts.ordering_key_len) == b"ok"
    props = [(opts.properties[i].key, opts.properties[i].value) for i in range(opts.property_count)]
    assert props == [(b"a", b"1"), (b"b", b"")]
    assert (opts.event_time_ms, opts.deliver_at_ms, opts.deliver_after_ms, opts.sequence_id) == (1700000000123, 0, 2000, 42)
    assert [opts.replication_clusters[i] for i in range(opts.replication_cluster_count)] == [b"c1", b"c2"]
    assert null.null_value == 1 and not null.payload and null.payload_len == 0 and null.disable_replication == 1
    assert not null.replication_clusters and null.replication_cluster_count == 0
    assert not empty.payload and empty.payload_len == 0 and not empty.null_value
    with pytest.raises(TypeError, match="property 'a' must be a str, not int"):
        _messages.prepare(b"x", properties={"a": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="key must not contain NUL"):
        _messages.prepare(b"x", key="a\0b")
