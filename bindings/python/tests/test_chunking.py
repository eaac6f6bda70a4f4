"""Chunking: messages larger than the broker's limit, read back whole by the official Python client."""

from __future__ import annotations

import os
from typing import Any

import pulsar
import pytest

import pulsar_producer
from pulsar_producer import Client, MessageId

from conftest import read_back


def ids_agree(theirs: Any, mine: MessageId) -> None:
    """The official client's ID of a message against ours.

    For a chunked message the official client (3.13) reports a chunk message ID: ledger_id() and
    entry_id() are the LAST chunk's, batch_index() is -1, str() is "(first chunk);(last chunk)" with
    each chunk as (ledger,entry,partition,batch_index), and serialize() writes MessageIdData with
    first_chunk_message_id. Ours has the last chunk in ledger_id/entry_id and the first in
    first_chunk_id: every one of those is compared, and so are the serialized bytes. For a message
    sent whole, the four fields compare directly.
    """
    assert (theirs.ledger_id(), theirs.entry_id(), theirs.partition(), theirs.batch_index()) == (
        mine.ledger_id, mine.entry_id, mine.partition, mine.batch_index)
    if mine.is_chunked:
        first = mine.first_chunk_id
        assert first is not None
        assert str(theirs) == (f"({first.ledger_id},{first.entry_id},{first.partition},-1);"
                               f"({mine.ledger_id},{mine.entry_id},{mine.partition},-1)")
        assert theirs.serialize() == mine.serialize()
        assert MessageId.deserialize(theirs.serialize()).first_chunk_id == first


def test_20_and_50_mib_among_small_messages_read_back_whole(broker: str, topic: str, official: Any) -> None:
    big20, big50 = os.urandom(20 << 20), os.urandom(50 << 20)
    payloads = [b"small-0", big20, b"small-1", b"small-2", big50, b"small-3"]
    with Client(broker, memory_limit_bytes=256 << 20) as client:
        p = client.create_producer(topic, chunking_enabled=True, batching_max_publish_delay=100)
        futures = [p.send_async(x) for x in payloads]
        ids = [f.result(timeout=120) for f in futures]
    assert [i.is_chunked for i in ids] == [False, True, False, False, True, False]
    assert (ids[1].batch_index, ids[4].batch_index) == (-1, -1) and ids[3].batch_index == 1  # never batched
    for mid in (ids[1], ids[4]):
        first = mid.first_chunk_id
        assert first is not None and first.ledger_id == mid.ledger_id
        assert mid.entry_id - first.entry_id + 1 >= len(payloads[ids.index(mid)]) // (5 << 20)  # >= 4 and 10 chunks
        assert ";" in str(mid) and str(mid).startswith(f"{first.ledger_id}:{first.entry_id}:-1;")
        assert MessageId.deserialize(mid.serialize()) == mid
        assert MessageId.deserialize(mid.serialize()).first_chunk_id == first
        assert str(pulsar.MessageId.deserialize(mid.serialize())) == str(
            f"({first.ledger_id},{first.entry_id},-1,-1);({mid.ledger_id},{mid.entry_id},-1,-1)")
    msgs = read_back(official, topic, len(payloads), timeout_ms=120_000)
    assert [len(m.data()) for m in msgs] == [len(x) for x in payloads]
    assert [m.data() == x for m, x in zip(msgs, payloads)] == [True] * len(payloads)  # byte for byte
    for m, mid in zip(msgs, ids):
        ids_agree(m.message_id(), mid)


def test_chunk_max_message_size_sets_the_chunk_size(broker: str, topic: str, official: Any) -> None:
    payload = os.urandom(3 << 20)  # fits in one frame: sent whole unless the chunks are smaller
    with Client(broker) as client:
        whole = client.create_producer(topic, chunking_enabled=True).send(payload)
        chunked = client.create_producer(topic, chunking_enabled=True, chunk_max_message_size=1 << 20).send(payload)
    assert not whole.is_chunked and whole.first_chunk_id is None
    first = chunked.first_chunk_id
    assert chunked.is_chunked and first is not None and chunked.entry_id - first.entry_id + 1 == 4  # 3 MiB + metadata
    msgs = read_back(official, topic, 2)
    assert [m.data() for m in msgs] == [payload, payload]
    ids_agree(msgs[0].message_id(), whole)
    ids_agree(msgs[1].message_id(), chunked)


def test_without_chunking_a_large_message_is_refused(broker: str, topic: str) -> None:
    with Client(broker) as client:
        p = client.create_producer(topic)
        with pytest.raises(pulsar_producer.MessageTooBig):
            p.send_async(os.urandom(6 << 20))
        with pytest.raises(pulsar_producer.InvalidConfiguration, match='"chunk_max_message_size" is out of range'):
            client.create_producer(topic, chunking_enabled=True, chunk_max_message_size=-1)
