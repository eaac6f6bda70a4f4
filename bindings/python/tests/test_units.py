"""What needs no broker: errors, option and message checks, message IDs, NULs, fork guards."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import pulsar_producer
from pulsar_producer import Client, MessageId, Producer, errors
from pulsar_producer import _native
from pulsar_producer._options import snake

NOWHERE = "pulsar://127.0.0.1:1"  # a client connects to nothing until a producer is made


def test_error_classes_come_from_the_result_table_by_name() -> None:
    rows = _native.RESULTS
    assert {name for code, name, *_ in rows if code != _native.OK} == set(errors.error_classes())
    for code, name, kind, retriable, description in rows:
        if code == _native.OK:
            continue
        cls = getattr(pulsar_producer, name) if name != "LookupError" else errors.error_classes()[name]
        assert (cls.code, cls.name, cls.kind, cls.retriable) == (code, name, kind, retriable)
        assert issubclass(cls, {"usage": errors.UsageError, "broker": errors.BrokerError,
                                "network": errors.NetworkError}[kind])
    assert issubclass(pulsar_producer.Timeout, TimeoutError)
    assert issubclass(pulsar_producer.InvalidConfiguration, ValueError)
    assert issubclass(pulsar_producer.InvalidUrl, ValueError)


def test_the_package_spells_no_result_number() -> None:
    # Results are looked up by name (RC["Timeout"]); a literal like "rc == 3" or "ERR_TIMEOUT = 3" would
    # silently break if the table changed.
    pkg = Path(pulsar_producer.__file__).parent
    for f in pkg.glob("*.py"):
        text = f.read_text()
        assert not re.search(r"\b(rc|code|result)\s*[!=]=\s*\d", text), f
        assert not re.search(r"ERR_\w+\s*=\s*\d", text), f


OPTION_CASES: list[tuple[dict[str, object], list[str]]] = [
    ({"max_pending_messages": -1}, ['"max_pending_messages" is out of range: -1', "between 0 and 2147483647"]),
    ({"max_pending_messages": 2**64}, ["out of range"]),
    ({"max_pending_messages": True}, ['"max_pending_messages" must be an int, not bool True']),
    ({"max_pending_messages": 1.5}, ["must be an int, not float 1.5"]),
    ({"send_timeout": math.nan}, ['"send_timeout" is not a finite number: nan']),
    ({"send_timeout": math.inf}, ["not a finite number: inf"]),
    ({"send_timeout": 0}, ['"send_timeout" is out of range: 0 ms', "or negative for disabled"]),
    ({"send_timeout": timedelta(days=10**8)}, ['"send_timeout" is out of range']),
    ({"batching_max_publish_delay": timedelta(seconds=-1)}, ["out of range: -1000 ms"]),
    ({"compression_type": "gzip"}, ['"compression_type" must be one of none, lz4, zlib, zstd, snappy']),
    ({"block_if_queue_full": 1}, ['"block_if_queue_full" must be True or False, not int 1']),
    ({"properties": {"a": 1}}, ['"properties" must be a mapping of str to str']),
    ({"batching_max_message": 10}, ['"batching_max_message" is unknown (did you mean "batching_max_messages"?)']),
    ({"maxPendingMessages": 10}, ['"maxPendingMessages" is unknown']),
    ({"startup_delay": -1}, ['"startup_delay" is out of range: -1 ms (it must be between 0 and']),
    ({"startup_jitter": timedelta(milliseconds=-5)}, ['"startup_jitter" is out of range: -5 ms']),
    ({"chunk_max_message_size": -1}, ['"chunk_max_message_size" is out of range: -1']),
    ({"chunking_enabled": "yes"}, ['"chunking_enabled" must be True or False, not str']),
    ({"auth_oauth2": {"issuerUrl": 1}}, ['"auth_oauth2" must be a mapping of str to str']),
    ({"tls_trust_certs_file_path": 5}, ['"tls_trust_certs_file_path" must be a str, not int 5']),
]


def _ids(cases: Sequence[tuple[Any, ...]]) -> list[str]:
    return [f"{i}-{next(iter(c[0]))}" for i, c in enumerate(cases)]


@pytest.mark.parametrize("options, words", OPTION_CASES, ids=_ids(OPTION_CASES))
def test_options_are_checked_before_the_library_and_named_in_snake_case(options: dict[str, Any],
                                                                         words: list[str]) -> None:
    # Regression (E4): the library's camelCase names used to reach Python callers.
    with pytest.raises(pulsar_producer.InvalidConfiguration) as info:
        Producer(NOWHERE, "t", **options)
    text = str(info.value)
    assert text.startswith("InvalidConfiguration: option ")
    for w in words:
        assert w in text
    assert "maxPending" not in text.replace('"maxPendingMessages" is unknown', "")


def test_valid_edge_values_are_taken() -> None:
    with Client(NOWHERE, memory_limit_bytes=-5, connection_timeout=timedelta(microseconds=1),
                log_level="ERROR", max_lookup_redirects=1000, listener_name=None) as c:
        assert not c.closed
    from pulsar_producer._options import encode

    assert encode({"access_mode": "wait_for_exclusive", "hashing_scheme": "MURMUR3_32HASH", "send_timeout": -1,
                   "producer_name": None}, "producer", "x") == {
        "accessMode": "waitForExclusive", "hashingScheme": "murmur3_32Hash", "sendTimeout": -1}


def test_options_in_the_wrong_scope_are_refused_by_name() -> None:
    with pytest.raises(pulsar_producer.InvalidConfiguration, match=r'option "send_timeout" is a producer option: '
                       r"give it to Client.create_producer\(\), not Client\(\)"):
        Client(NOWHERE, send_timeout=10)
    with Client(NOWHERE) as c:
        with pytest.raises(pulsar_producer.InvalidConfiguration, match=r'option "memory_limit_bytes" is a client '
                           r"option: give it to Client\(\), not create_producer\(\)"):
            c.create_producer("t", memory_limit_bytes=10)


def test_library_texts_get_python_names() -> None:
    assert snake('option "maxPendingMessages": x; deliver_after_ms and event_time_ms') == \
        'option "max_pending_messages": x; deliver_after and event_time'


def test_nul_in_service_url_or_topic_is_refused_not_cut_off() -> None:
    # Regression (E3): "pulsar://host\0junk" used to be taken as "pulsar://host".
    with pytest.raises(pulsar_producer.InvalidUrl, match="NUL"):
        Client("pulsar://127.0.0.1:6650\0junk")
    with pytest.raises(pulsar_producer.InvalidUrl, match="NUL"):
        Producer("pulsar://127.0.0.1:6650\0junk", "t")
    with Client(NOWHERE) as c:
        with pytest.raises(pulsar_producer.InvalidTopicName, match="NUL"):
            c.create_producer("persistent://public/default/t\0junk")


def test_message_ids() -> None:
    mid = MessageId(12, 34, 2, 5, 10)
    assert str(mid) == "12:34:2:5" and str(MessageId(1, 2)) == "1:2:-1"
    assert MessageId.deserialize(mid.serialize()) == mid
    assert mid == MessageId(12, 34, 2, 5, 99) and hash(mid) == hash(MessageId(12, 34, 2, 5))
    assert mid != MessageId(12, 34, 2, 6) and mid != (12, 34, 2, 5, 10, 0)
    assert not mid.is_duplicate and MessageId(-1, -1, flags=_native.ID_DUPLICATE).is_duplicate
    with pytest.raises(pulsar_producer.InvalidArgument):
        MessageId.deserialize(b"\xff\xff")
    import pulsar

    assert str(pulsar.MessageId.deserialize(mid.serialize())) == "(12,34,2,5)"


def test_chunked_message_ids() -> None:
    mid = MessageId(7, 9, 2, flags=_native.ID_CHUNKED, first_chunk_ledger_id=7, first_chunk_entry_id=5)
    assert mid.is_chunked and not mid.is_duplicate and mid.first_chunk_id == MessageId(7, 5, 2)
    assert str(mid) == "7:5:2;7:9:2"  # pp_message_id_str: the first chunk, then the last
    back = MessageId.deserialize(mid.serialize())
    assert back == mid and back.is_chunked and back.first_chunk_id == MessageId(7, 5, 2)
    import pulsar

    theirs = pulsar.MessageId.deserialize(mid.serialize())  # what the official client makes of our bytes
    assert str(theirs) == "(7,5,2,-1);(7,9,2,-1)" and (theirs.ledger_id(), theirs.entry_id()) == (7, 9)
    assert MessageId.deserialize(theirs.serialize()).first_chunk_id == MessageId(7, 5, 2)
    assert MessageId(7, 9, 2).first_chunk_id is None and str(MessageId(7, 9, 2)) == "7:9:2"


def test_result_of_a_future_is_cheap_and_lazy() -> None:
    # A future keeps the raw completion row; the MessageId is built on first use.
    import ctypes
    import struct

    from pulsar_producer._future import future_class
    import threading

    cls = future_class(threading.Condition(), threading.RLock(), [0])
    fut = object.__new__(cls)
    fut._row = struct.pack("=QQi4xqqiiiiqqQ", 1, 2, 0, 7, 8, -1, 3, 4, 1, -1, -1, 0)
    assert len(fut._row) == ctypes.sizeof(_native.CompletionC)
    fut._state = "FINISHED"
    assert fut.result() == MessageId(7, 8, -1, 3) and fut.result().batch_size == 4 and fut.result().is_duplicate
    assert not fut.result().is_chunked and fut.result().first_chunk_id is None
    chunked = object.__new__(cls)
    chunked._row = struct.pack("=QQi4xqqiiiiqqQ", 1, 2, 0, 7, 9, 2, -1, 0, 2, 7, 5, 0)
    chunked._state = "FINISHED"
    mid = chunked.result()
    assert mid.is_chunked and not mid.is_duplicate and mid.first_chunk_id == MessageId(7, 5, 2)
    assert fut.cancel() is False and fut.done()


MESSAGE_CASES: list[tuple[dict[str, object], type[Exception], str]] = [
    ({"deliver_at": 1, "deliver_after": 1}, pulsar_producer.InvalidMessage, "deliver_at or deliver_after, not both"),
    ({"event_time": -1}, pulsar_producer.InvalidMessage, "event_time is out of range: -1"),
    ({"event_time": math.nan}, pulsar_producer.InvalidMessage, "event_time is not a finite number"),
    ({"deliver_after": timedelta(seconds=-1)}, pulsar_producer.InvalidMessage, "deliver_after is out of range"),
    ({"sequence_id": -2}, pulsar_producer.InvalidMessage, "sequence_id is out of range: -2"),
    ({"sequence_id": True}, TypeError, "sequence_id must be an int"),
    ({"key": b"k"}, TypeError, "key must be a str"),
    ({"properties": {"a": 1}}, TypeError, "property 'a' must be a str"),
    ({"replication_clusters": "c1"}, TypeError, "replication_clusters must be a list"),
    ({"deliver_at": "now"}, TypeError, "deliver_at must be a datetime.datetime or an int"),
    ({"colour": "red"}, TypeError, "unexpected keyword argument 'colour'"),
]


@pytest.mark.parametrize("options, exc, words", MESSAGE_CASES, ids=_ids(MESSAGE_CASES))
def test_message_options_are_checked_with_python_names(options: dict[str, object], exc: type[Exception],
                                                        words: str) -> None:
    from pulsar_producer._message import build

    with pytest.raises(exc, match=re.escape(words)):
        build(b"x", options)


def test_payload_types() -> None:
    from pulsar_producer._message import build

    with pytest.raises(TypeError, match=r"not str: encode text first"):
        build("text", {})  # type: ignore[arg-type]
    m = build(memoryview(b"abcdef")[1:3], {"event_time": datetime(2024, 1, 1, tzinfo=timezone.utc)})
    assert m.payload_len == 2 and m.event_time_ms == 1704067200000
    assert build(None, {}).null_value == 1
