"""pyconsume: reads a topic with the official Python client (pulsar-client
3.13), decoding each value with the client's own schema classes where it
has them (StringSchema, JsonSchema, AvroSchema) and, for the types it lacks
(the primitives, the time types, KEY_VALUE), decoding the raw bytes here
with struct, base64 and datetime, in the Java client's formats. schema_test.go
runs it and compares what it prints with what the Go producer sent.

How this works: it subscribes (exclusive, from the earliest message),
receives COUNT messages or stops at the timeout, acknowledges each one and
prints one JSON object per message on stdout:
{"value": ..., "schemaVersion": N, "key": ..., "messageId": "..."},
then {"done": true, "count": N}. Decoded values are JSON: numbers, strings,
booleans, a record as an object, a time as ISO 8601 text, a KEY_VALUE as
{"key": ..., "value": ...}.

Usage:
  pyconsume.py definition json|avro RECORD   prints the schema definition
                                             the client registers for RECORD
  pyconsume.py consume URL TOPIC COUNT TIMEOUT_S MODE
MODE is string, json:RECORD, avro:RECORD, raw:TYPE (TYPE one of the
primitive and time types) or kv:ENCODING/KEYTYPE/VALUETYPE (ENCODING is
INLINE or SEPARATED; a half's type is a raw TYPE, STRING or json:RECORD).

Checked with: mypy --strict pyconsume.py
"""

import base64
import datetime
import json
import struct
import sys
from typing import Any, Callable, Dict, Optional, Type

import pulsar  # type: ignore[import-untyped]
from pulsar.schema import (  # type: ignore[import-untyped]
    AvroSchema, Array, Boolean, BytesSchema, Double, JsonSchema, Long, Map,
    Record, Schema, String, StringSchema)


class Reading(Record):  # type: ignore[misc]
    name = String()
    count = Long()
    ratio = Double()
    ok = Boolean()
    tags = Array(String())
    attrs = Map(String())


class ReadingV2(Record):  # type: ignore[misc]
    """Reading with one field more, defaulting to null: the next version
    of its schema, compatible both ways (FULL)."""
    name = String()
    count = Long()
    ratio = Double()
    ok = Boolean()
    tags = Array(String())
    attrs = Map(String())
    note = String(required_default=True)


RECORDS: Dict[str, Type[Any]] = {"Reading": Reading, "ReadingV2": ReadingV2}

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
EPOCH_DAY = datetime.date(1970, 1, 1)


def unpack(fmt: str, data: bytes) -> Any:
    """One value of struct format fmt, which must fill data exactly."""
    if len(data) != struct.calcsize(fmt):
        raise ValueError(f"{len(data)} bytes for format {fmt}")
    return struct.unpack(fmt, data)[0] if len(fmt) == 2 else struct.unpack(fmt, data)


def millis_text(ms: int) -> str:
    t = EPOCH + datetime.timedelta(milliseconds=ms)
    return t.isoformat(timespec="milliseconds")


def local_time_text(nanos: int) -> str:
    if not 0 <= nanos < 86400 * 10**9:
        raise ValueError(f"nano of day {nanos} out of range")
    secs, ns = divmod(nanos, 10**9)
    return "%02d:%02d:%02d.%09d" % (secs // 3600, secs // 60 % 60, secs % 60, ns)


def local_date_text(day: int) -> str:
    return (EPOCH_DAY + datetime.timedelta(days=day)).isoformat()


def instant_text(data: bytes) -> str:
    secs, nanos = unpack(">qi", data)
    if not 0 <= nanos < 10**9:
        raise ValueError(f"nanosecond {nanos} out of range")
    t = EPOCH + datetime.timedelta(seconds=secs)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % nanos


def local_date_time_text(data: bytes) -> str:
    day, nanos = unpack(">qq", data)
    return local_date_text(day) + "T" + local_time_text(nanos)


def boolean(data: bytes) -> bool:
    if data not in (b"\x00", b"\x01"):
        raise ValueError(f"boolean bytes {data!r}")
    return data == b"\x01"


RAW: Dict[str, Callable[[bytes], Any]] = {
    "STRING": lambda b: b.decode("utf-8"),
    "BOOLEAN": boolean,
    "INT8": lambda b: unpack(">b", b),
    "INT16": lambda b: unpack(">h", b),
    "INT32": lambda b: unpack(">i", b),
    "INT64": lambda b: unpack(">q", b),
    "FLOAT": lambda b: unpack(">f", b),
    "DOUBLE": lambda b: unpack(">d", b),
    "DATE": lambda b: millis_text(unpack(">q", b)),
    "TIME": lambda b: millis_text(unpack(">q", b)),
    "TIMESTAMP": lambda b: millis_text(unpack(">q", b)),
    "INSTANT": instant_text,
    "LOCAL_DATE": lambda b: local_date_text(unpack(">q", b)),
    "LOCAL_TIME": lambda b: local_time_text(unpack(">q", b)),
    "LOCAL_DATE_TIME": local_date_time_text,
}


def record_dict(rec: Any) -> Dict[str, Any]:
    return {name: getattr(rec, name) for name in type(rec)._fields}


def half_decoder(spec: str) -> Callable[[bytes], Any]:
    """A KEY_VALUE half: the client's StringSchema and JsonSchema where
    they fit, else a raw decoder."""
    if spec == "STRING":
        s = StringSchema()
        return lambda b: s.decode(b)
    if spec.startswith("json:"):
        j = JsonSchema(RECORDS[spec[5:]])
        return lambda b: record_dict(j.decode(b))
    return RAW[spec]


def plan(mode: str) -> "tuple[Schema, Callable[[Any], Any]]":
    """The schema to subscribe with and how to turn a message into JSON."""
    if mode == "string":
        return StringSchema(), lambda m: m.value()
    kind, _, rest = mode.partition(":")
    if kind in ("json", "avro"):
        cls = RECORDS[rest]
        schema = JsonSchema(cls) if kind == "json" else AvroSchema(cls)
        return schema, lambda m: record_dict(m.value())
    if kind == "raw":
        decode = RAW[rest]
        return BytesSchema(), lambda m: decode(m.data())
    if kind == "kv":
        encoding, key_spec, value_spec = rest.split("/")
        key_of, value_of = half_decoder(key_spec), half_decoder(value_spec)

        def kv(m: Any) -> Dict[str, Any]:
            data: bytes = m.data()
            if encoding == "SEPARATED":
                key = base64.b64decode(m.partition_key(), validate=True)
                value = data
            else:
                (klen,) = struct.unpack(">i", data[:4])
                key = data[4:4 + klen]
                (vlen,) = struct.unpack(">i", data[4 + klen:8 + klen])
                value = data[8 + klen:]
                if len(value) != vlen:
                    raise ValueError(f"value of {len(value)} bytes, length says {vlen}")
            return {"key": key_of(key), "value": value_of(value)}
        return BytesSchema(), kv
    raise SystemExit(f"pyconsume: unknown mode {mode!r}")


def consume(url: str, topic: str, count: int, timeout_s: float, mode: str) -> int:
    schema, to_json = plan(mode)
    out = sys.stdout
    client = pulsar.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    n = 0
    try:
        consumer = client.subscribe(topic, "pyconsume", schema=schema,
                                    initial_position=pulsar.InitialPosition.Earliest)
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout_s)
        while n < count:
            left = int((deadline - datetime.datetime.now()).total_seconds() * 1000)
            if left <= 0:
                break
            try:
                msg = consumer.receive(timeout_millis=left)
            except pulsar.Timeout:
                break
            key: Optional[str] = msg.partition_key() or None
            line = {
                "value": to_json(msg),
                "schemaVersion": msg._message.int_schema_version(),
                "key": key,
                "messageId": str(msg.message_id()),
            }
            out.write(json.dumps(line) + "\n")
            consumer.acknowledge(msg)
            n += 1
        consumer.close()
    finally:
        client.close()
    out.write(json.dumps({"done": True, "count": n}) + "\n")
    out.flush()
    return 0


def main(argv: "list[str]") -> int:
    if len(argv) == 4 and argv[1] == "definition":
        cls = RECORDS[argv[3]]
        schema = JsonSchema(cls) if argv[2] == "json" else AvroSchema(cls)
        print(schema.schema_info().schema())
        return 0
    if len(argv) == 7 and argv[1] == "consume":
        return consume(argv[2], argv[3], int(argv[4]), float(argv[5]), argv[6])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
