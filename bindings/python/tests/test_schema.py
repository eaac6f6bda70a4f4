"""Schemas and values: what we register and publish, checked by the broker's registry and read back
by the official Python client (its StringSchema, JsonSchema and AvroSchema; for the types it has no
schema for, the raw bytes against the Java client's formats)."""

from __future__ import annotations

import base64
import json
import math
import os
import struct
import time as systime
import urllib.error
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest

import pulsar_producer
from pulsar_producer import Client, KeyValue, MessageId, Producer
from pulsar_producer._message import UNSET, build
from pulsar_producer._value import Shape, value_json

from conftest import admin, new_topic, official_id, read_back

NOWHERE = "pulsar://127.0.0.1:1"  # a client connects to nothing until a producer is made


def ours(mid: MessageId) -> tuple[int, int, int, int]:
    return (mid.ledger_id, mid.entry_id, mid.partition, mid.batch_index)


def registry(topic: str) -> dict[str, Any]:
    """The topic's latest schema, as the broker's admin API shows it."""
    result: dict[str, Any] = admin("GET", f"/admin/v2/schemas/{topic.split('://', 1)[1]}/schema")
    return result


def _avro() -> Any:
    try:
        import fastavro  # noqa: F401  # AvroSchema needs it: pip install 'pulsar-client[avro]'
    except ImportError:
        pytest.fail("the official client's AvroSchema needs fastavro: pip install 'pulsar-client[avro]==3.13.*'")
    from pulsar.schema import AvroSchema

    return AvroSchema


@pytest.fixture(scope="module")
def user() -> Any:
    """A record type of the official client, for its JsonSchema and AvroSchema."""
    from pulsar.schema import Integer, Record, String

    class User(Record):  # type: ignore[misc]
        name = String()
        age = Integer()

    return User


@pytest.fixture
def client(broker: str) -> Iterator[Client]:
    with Client(broker) as c:
        yield c


def test_string_json_and_avro_read_back_by_the_official_schemas(client: Client, official: Any, user: Any) -> None:
    from pulsar.schema import JsonSchema, StringSchema

    avro = _avro()(user)
    json_definition = json.loads(JsonSchema(user).schema_info().schema())  # what the official client registers
    avro_text = avro.schema_info().schema()
    topics = {k: new_topic(f"schema-{k}") for k in ("string", "json", "avro")}
    texts = ["hello", "", "h\u00e9llo \u2713 \U0001f600"]
    people = [{"name": "Ada", "age": 36}, {"name": "Linus", "age": None}]
    records = [user(name="Grace", age=85), user(name="Alan", age=41)]

    p = client.create_producer(topics["string"], schema="STRING")
    string_ids = [p.send(value=t) for t in texts]
    p = client.create_producer(topics["json"], schema={"type": "JSON", "definition": json_definition})
    json_ids = [p.send(value=v) for v in people]
    p = client.create_producer(topics["avro"], schema={"type": "AVRO", "definition": avro_text},
                               batching_max_publish_delay=20)
    futures = [p.send_async(value=avro.encode(r)) for r in records]
    avro_ids = [f.result() for f in futures]

    msgs = read_back(official, topics["string"], len(texts), schema=StringSchema())
    assert [m.value() for m in msgs] == texts and [official_id(m) for m in msgs] == [ours(i) for i in string_ids]
    msgs = read_back(official, topics["json"], len(people), schema=JsonSchema(user))
    assert [(m.value().name, m.value().age) for m in msgs] == [("Ada", 36), ("Linus", None)]
    assert [official_id(m) for m in msgs] == [ours(i) for i in json_ids]
    msgs = read_back(official, topics["avro"], len(records), schema=avro)
    assert [(m.value().name, m.value().age) for m in msgs] == [("Grace", 85), ("Alan", 41)]
    assert [official_id(m) for m in msgs] == [ours(i) for i in avro_ids]
    assert avro_ids[1].batch_index == 1  # batched, and still decoded

    reg = registry(topics["string"])
    assert (reg["type"], reg["data"]) == ("STRING", "")
    reg = registry(topics["json"])
    assert reg["type"] == "JSON" and json.loads(reg["data"]) == json_definition
    reg = registry(topics["avro"])
    assert reg["type"] == "AVRO" and json.loads(reg["data"]) == json.loads(avro_text)


UTC = timezone.utc
WHEN = datetime(2024, 2, 29, 13, 45, 30, 250000, tzinfo=UTC)
EPOCH_DAY = (date(2024, 2, 29) - date(1970, 1, 1)).days
NANO_OF_DAY = ((13 * 60 + 45) * 60 + 30) * 10**9 + 250_000_000
# (schema, value, the bytes the Java client's schema writes for it)
VALUE_CASES: list[tuple[Any, Any, bytes]] = [
    ("BOOLEAN", True, b"\x01"),
    ("INT8", -5, struct.pack(">b", -5)),
    ("INT16", 30000, struct.pack(">h", 30000)),
    ("INT32", -123456, struct.pack(">i", -123456)),
    ("INT64", 2**40 + 7, struct.pack(">q", 2**40 + 7)),
    ("FLOAT", 1.5, struct.pack(">f", 1.5)),
    ("DOUBLE", -3.25e100, struct.pack(">d", -3.25e100)),
    ("DATE", 1700000000123, struct.pack(">q", 1700000000123)),
    ("TIME", WHEN, struct.pack(">q", 1709214330250)),
    ("TIMESTAMP", WHEN.astimezone(timezone(timedelta(hours=5, minutes=30))), struct.pack(">q", 1709214330250)),
    ("INSTANT", datetime(2024, 2, 29, 13, 45, 30, 123456, tzinfo=UTC), struct.pack(">qi", 1709214330, 123456000)),
    ("LOCAL_DATE", date(2024, 2, 29), struct.pack(">q", EPOCH_DAY)),
    ("LOCAL_TIME", time(13, 45, 30, 250000), struct.pack(">q", NANO_OF_DAY)),
    ("LOCAL_DATE_TIME", datetime(2024, 2, 29, 13, 45, 30, 250000), struct.pack(">qq", EPOCH_DAY, NANO_OF_DAY)),
    ("BYTES", b"\x00\xff raw", b"\x00\xff raw"),
    ("string", "lower-case type name", b"lower-case type name"),
    ({"type": "KEY_VALUE", "key": "STRING", "value": "INT32"}, KeyValue("k\u00e9", 7),
     struct.pack(">I", 3) + "k\u00e9".encode() + struct.pack(">Ii", 4, 7)),
    ({"type": "KEY_VALUE", "key": "INT16", "value": {"type": "JSON", "definition": {"type": "record", "name": "P",
                                                                                   "fields": []}}},
     (2, {"a": [1, None]}), struct.pack(">Ih", 2, 2) + struct.pack(">I", 16) + b'{"a": [1, null]}'),
]


def test_values_in_the_java_clients_formats(client: Client, official: Any) -> None:
    """Every type the official Python client has no schema for: the raw bytes it reads are the Java
    client's encoding of the value, and the registry shows the type."""
    sent = []
    for schema, value, _ in VALUE_CASES:
        topic = new_topic("values")
        p = client.create_producer(topic, schema=schema)
        sent.append((topic, p.send(value=value)))
    for (schema, value, want), (topic, mid) in zip(VALUE_CASES, sent):
        (msg,) = read_back(official, topic, 1)
        assert (msg.data(), official_id(msg)) == (want, ours(mid)), (schema, value)
        kind = schema if isinstance(schema, str) else schema["type"]
        if kind == "BYTES":  # no schema, as the Java client registers none for BYTES
            with pytest.raises(urllib.error.HTTPError, match="404"):
                registry(topic)
        else:
            assert registry(topic)["type"] == kind.upper()
    kv = registry(sent[16][0])
    assert kv["properties"]["key.schema.type"] == "STRING" and kv["properties"]["value.schema.type"] == "INT32"
    assert kv["properties"]["kv.encoding.type"] == "INLINE"


@pytest.mark.parametrize("spelling", ["key_value_encoding", "keyValueEncoding"])
def test_key_value_separated_puts_the_key_in_the_message_key(client: Client, official: Any, spelling: str) -> None:
    topic = new_topic("kv-separated")
    p = client.create_producer(topic, schema={"type": "KEY_VALUE", "key": "STRING", "value": "INT64",
                                              spelling: "SEPARATED"})
    ids = [p.send(value=KeyValue("user-1", 10)), p.send(value=("user-2", -1))]
    msgs = read_back(official, topic, 2)
    assert [m.data() for m in msgs] == [struct.pack(">q", 10), struct.pack(">q", -1)]
    assert [base64.b64decode(m.partition_key()) for m in msgs] == [b"user-1", b"user-2"]
    assert [official_id(m) for m in msgs] == [ours(i) for i in ids]
    assert registry(topic)["properties"]["kv.encoding.type"] == "SEPARATED"


def test_payloads_still_go_raw_on_a_schema_producer(client: Client, official: Any) -> None:
    topic = new_topic("raw")
    p = client.create_producer(topic, schema="INT32")
    ids = [p.send(b"\x00\x00\x00\x2a"), p.send(value=42), p.send(payload=b"\x00\x00\x00\x2b")]
    msgs = read_back(official, topic, 3)
    assert [m.data() for m in msgs] == [b"\x00\x00\x00\x2a"] * 2 + [b"\x00\x00\x00\x2b"]
    assert [official_id(m) for m in msgs] == [ours(i) for i in ids]


def test_incompatible_schema_is_refused_with_the_brokers_text(client: Client, user: Any) -> None:
    topic = new_topic("incompatible")
    avro = _avro()(user)
    client.create_producer(topic, schema={"type": "AVRO", "definition": avro.schema_info().schema()}).send(
        value=avro.encode(user(name="x", age=1)))
    with pytest.raises(pulsar_producer.IncompatibleSchema) as info:
        client.create_producer(topic, schema="STRING")
    text = str(info.value)
    assert text.startswith("IncompatibleSchema: broker: ") and "IncompatibleSchemaException" in text, text
    assert "exists schema type AVRO, new schema type STRING" in text
    assert info.value.kind == "broker"
    assert registry(topic)["type"] == "AVRO"


def test_values_that_do_not_fit_fail_alone_and_nothing_is_sent(client: Client, official: Any) -> None:
    """Each refusal names the problem and sends nothing: the messages read back are the good ones."""
    topics = {s: new_topic(f"unfit-{s.lower()}") for s in ("INT8", "JSON", "KV", "FLOAT")}
    good: dict[str, list[MessageId]] = {s: [] for s in topics}
    producers = {}
    producers["INT8"] = p = client.create_producer(topics["INT8"], schema="INT8")
    good["INT8"].append(p.send(value=127))
    with pytest.raises(pulsar_producer.InvalidMessage, match="300 is out of the range of INT8"):
        p.send_async(value=300)
    with pytest.raises(pulsar_producer.InvalidMessage, match="-129 is out of the range of INT8"):
        p.send(value=-129)
    with pytest.raises(TypeError, match="the value of an? INT8 schema must be an int, not str"):
        p.send(value="1")
    with pytest.raises(TypeError, match="must be an int, not bool"):
        p.send(value=True)
    with pytest.raises(pulsar_producer.InvalidMessage, match=r"the value is missing \(null\)"):
        p.send(value=None)
    with pytest.raises(TypeError, match="give a payload or a value, not both"):
        p.send(b"\x01", value=1)
    good["INT8"].append(p.send(value=-128))

    producers["JSON"] = p = client.create_producer(topics["JSON"], schema={"type": "JSON", "definition": {
        "type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}})
    with pytest.raises(pulsar_producer.InvalidMessage, match="cannot be written as JSON for the JSON schema: "
                                                             "Object of type set is not JSON serializable") as info:
        p.send(value={"a": {1, 2}})
    assert isinstance(info.value.__cause__, TypeError)
    with pytest.raises(pulsar_producer.InvalidMessage, match="Out of range float values are not JSON compliant"):
        p.send_async(value={"a": math.nan})
    good["JSON"].append(p.send(value={"a": 1}))

    producers["KV"] = p = client.create_producer(topics["KV"], schema={"type": "KEY_VALUE", "key": "STRING",
                                                                       "value": "INT32"})
    with pytest.raises(pulsar_producer.InvalidMessage, match="a KEY_VALUE value needs both its key and its value"):
        p.send(value=KeyValue("k", None))
    with pytest.raises(pulsar_producer.InvalidMessage, match="needs both its key and its value"):
        p.send(value=(None, 1))
    with pytest.raises(TypeError, match=r"must be a KeyValue\(key, value\) or a \(key, value\) tuple, not dict"):
        p.send(value={"key": "k", "value": 1})
    with pytest.raises(pulsar_producer.InvalidMessage, match="the value: 2147483648 is out of the range of INT32"):
        p.send(value=KeyValue("k", 2**31))
    good["KV"].append(p.send(value=KeyValue("k", 1)))

    producers["FLOAT"] = p = client.create_producer(topics["FLOAT"], schema="FLOAT")
    with pytest.raises(pulsar_producer.InvalidMessage, match="out of the range of FLOAT"):
        p.send(value=1e300)
    with pytest.raises(pulsar_producer.InvalidMessage, match="JSON, which has no NaN or infinity"):
        p.send(value=math.inf)
    good["FLOAT"].append(p.send(value=2))

    for kind, topic in topics.items():
        stats = producers[kind].stats()
        assert (stats.msgs_sent, stats.msgs_acked, stats.msgs_failed) == (len(good[kind]), len(good[kind]), 0), kind
        msgs = read_back(official, topic, len(good[kind]))
        assert [official_id(m) for m in msgs] == [ours(i) for i in good[kind]]
        reader = official.create_reader(topic, msgs[-1].message_id())
        assert not reader.has_message_available(), f"{kind}: a refused value was sent"
        reader.close()


SCHEMA_OPTION_CASES: list[tuple[Any, str]] = [
    ("NOPE", 'schema: unknown schema type "NOPE" (one of BYTES, STRING, JSON'),
    ({"type": "AVRO", "definition": "{not json"}, "schema: the definition is not valid JSON"),
    ({"type": "AVRO", "definition": {"type": "record", "name": "R"}},
     'schema: the definition is not a valid Avro schema: record "R" needs "fields"'),
    ({"type": "AVRO", "definition": {"type": "record", "name": "R", "fields": [{"name": "a", "type": "nope"}]}},
     'field "a": "nope" is neither a primitive type'),
    ({"type": "JSON"}, "schema: a JSON schema needs a definition"),
    ({"type": "STRING", "definition": "x"}, "schema: a STRING schema has no definition"),
    ({"type": "KEY_VALUE", "key": "STRING"}, "a KEY_VALUE schema needs both a key and a value schema"),
    ({"type": "KEY_VALUE", "key": "STRING", "value": {"type": "AVRO"}}, "schema.value: a AVRO schema needs a "
                                                                        "definition"),
    ({"type": "KEY_VALUE", "key": "STRING", "value": "INT8", "key_value_encoding": "BOTH"},
     'key_value_encoding must be INLINE or SEPARATED, got "BOTH"'),
    ({"typ": "STRING"}, 'schema: unknown member "typ"'),
    ({"type": "AVRO", "definition": {"bad": {1, 2}}}, "the definition cannot be written as JSON"),
    (5, 'option "schema" must be a schema type name (str) or a dict'),
    ({1: "STRING"}, 'option "schema": the keys of a schema are str, not int 1'),
]


def test_schema_definitions_given_as_dicts_or_lists_go_as_json_text() -> None:
    from pulsar_producer._options import encode

    record = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}
    assert encode({"schema": {"type": "AVRO", "definition": record}}, "producer", "x") == {
        "schema": {"type": "AVRO", "definition": json.dumps(record)}}
    assert encode({"schema": {"type": "KEY_VALUE", "key": {"type": "AVRO", "definition": ["null", "string"]},
                              "value": "STRING", "key_value_encoding": "INLINE"}}, "producer", "x") == {
        "schema": {"type": "KEY_VALUE", "key": {"type": "AVRO", "definition": '["null", "string"]'},
                   "value": "STRING", "keyValueEncoding": "INLINE"}}
    with Client(NOWHERE) as c:  # the library takes a union as the definition
        with pytest.raises(pulsar_producer.ConnectError):
            c.create_producer("t", schema={"type": "AVRO", "definition": ["null", "string"]}, create_timeout=2000)


@pytest.mark.parametrize("schema, words", SCHEMA_OPTION_CASES, ids=[str(i) for i in range(len(SCHEMA_OPTION_CASES))])
def test_bad_schema_options_are_refused_by_name_before_connecting(schema: Any, words: str) -> None:
    with Client(NOWHERE) as c:
        start = systime.monotonic()
        with pytest.raises(pulsar_producer.InvalidConfiguration) as info:
            c.create_producer("t", schema=schema)
        assert words in str(info.value)
        assert systime.monotonic() - start < 5  # refused at once, not after failing to connect


# (shape, value, the JSON text the library is given)
JSON_CASES: list[tuple[Shape, Any, bytes]] = [
    (Shape("STRING"), 'a "quoted" \u00e9', b'"a \\"quoted\\" \xc3\xa9"'),
    (Shape("BOOLEAN"), False, b"false"),
    (Shape("INT64"), -(2**63), b"-9223372036854775808"),
    (Shape("DOUBLE"), 1e-05, b"1e-05"),
    (Shape("FLOAT"), 3, b"3"),
    (Shape("TIMESTAMP"), 1700000000123, b"1700000000123"),
    (Shape("TIMESTAMP"), datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), b'"2024-01-02T03:04:05.678000+00:00"'),
    (Shape("LOCAL_DATE"), date(1969, 12, 31), b'"1969-12-31"'),
    (Shape("LOCAL_TIME"), time(0, 0), b'"00:00:00"'),
    (Shape("LOCAL_DATE_TIME"), datetime(2024, 1, 2, 3, 4, 5), b'"2024-01-02T03:04:05"'),
    (Shape("AVRO"), b"\x00\x01\xfe", b'"AAH+"'),
    (Shape("PROTOBUF_NATIVE"), memoryview(b"pb"), b'"cGI="'),
    (Shape("JSON"), {"k": ["\u00e9", 1.5, None, True]}, '{"k": ["\u00e9", 1.5, null, true]}'.encode()),
    (Shape("JSON"), "just a string", b'"just a string"'),
    (Shape("KEY_VALUE", Shape("STRING"), Shape("BYTES")), KeyValue("k", b"v"), b'{"key":"k","value":"dg=="}'),
]


@pytest.mark.parametrize("shape, value, text", JSON_CASES, ids=[f"{i}-{c[0].type}" for i, c in enumerate(JSON_CASES)])
def test_python_values_map_to_the_json_the_library_encodes(shape: Shape, value: Any, text: bytes) -> None:
    assert value_json(value, shape) == text
    m = build(UNSET, {"value": value}, shape)
    assert (m.value_json, m.value_json_len, m.payload_len, m.null_value, m.partition) == (text, len(text), 0, 0, -1)


def test_a_naive_datetime_is_local_time_for_instants() -> None:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"
    systime.tzset()
    try:
        naive = datetime(2024, 1, 2, 3, 4, 5)
        assert value_json(naive, Shape("TIMESTAMP")) == b'"2024-01-02T03:04:05+05:30"'
        assert value_json(naive, Shape("INSTANT")) == b'"2024-01-02T03:04:05+05:30"'
        assert value_json(naive, Shape("LOCAL_DATE_TIME")) == b'"2024-01-02T03:04:05"'  # a wall-clock time: as is
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        systime.tzset()


TYPE_ERROR_CASES: list[tuple[Shape, Any, str]] = [
    (Shape("STRING"), b"bytes", "the value of a STRING schema must be a str, not bytes: decode it first"),
    (Shape("BYTES"), "text", "the value of a BYTES schema must be bytes the caller encoded"),
    (Shape("AVRO"), {"name": "x"}, "not dict: encode it first, e.g. with pulsar.schema.AvroSchema(...).encode()"),
    (Shape("INT32"), 1.0, "the value of a INT32 schema must be an int, not float"),
    (Shape("BOOLEAN"), 1, "must be a bool, not int"),
    (Shape("DATE"), date(2024, 1, 1), "must be a datetime.datetime (a naive one is local time) or an int of ms"),
    (Shape("LOCAL_DATE"), datetime(2024, 1, 1), "must be a datetime.date, not datetime"),
    (Shape("LOCAL_TIME"), time(1, 2, tzinfo=UTC), "not time with a tzinfo: a local time has none"),
    (Shape("LOCAL_DATE_TIME"), datetime(2024, 1, 1, tzinfo=UTC), "not datetime with a tzinfo: a local time has none"),
    (Shape("INSTANT"), 1700000000, "must be a datetime.datetime"),
    (Shape("KEY_VALUE", Shape("STRING"), Shape("INT8")), ("k", "v"), "the value of a INT8 schema must be an int"),
    (Shape("KEY_VALUE", Shape("STRING"), Shape("INT8")), ("k", 1, 2), "must be a KeyValue(key, value)"),
]


@pytest.mark.parametrize("shape, value, words", TYPE_ERROR_CASES,
                         ids=[f"{i}-{c[0].type}" for i, c in enumerate(TYPE_ERROR_CASES)])
def test_python_types_a_schema_cannot_take_raise_type_error(shape: Shape, value: Any, words: str) -> None:
    with pytest.raises(TypeError) as info:
        build(UNSET, {"value": value}, shape)
    assert words in str(info.value)


def test_a_send_needs_a_payload_or_a_value() -> None:
    with pytest.raises(TypeError, match=r"a send needs a payload \(bytes, or None for a null value\) or a value"):
        build(UNSET, {})
    with pytest.raises(TypeError, match="send it as value="):
        build("text", {})  # type: ignore[arg-type]
