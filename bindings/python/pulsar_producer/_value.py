"""Values of a producer's schema: Python values turned into the JSON text the library encodes.

How this works: ``send(value=...)`` passes the value to the library as JSON
text (pp_message.value_json), and the library encodes it by the producer's
schema, in the Java client's byte formats, checking ranges (an int too large
for INT8, a float too large for FLOAT). The binding only maps Python types to
JSON, and for that it needs the schema's type (``Shape``, read from the
schema option once the library accepted it): bytes become base64 text for
BYTES, AVRO and PROTOBUF; datetime, date and time become the text forms the
library reads; anything json.dumps() writes is a JSON schema's value. A
Python type the schema cannot take raises TypeError here, before anything is
sent; a value that does not fit raises InvalidMessage from the library.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any, NamedTuple, Optional

from .errors import error

__all__ = ["KeyValue", "Shape", "shape_of", "value_json"]


class KeyValue(NamedTuple):
    """The value of a KEY_VALUE schema: each half is a value of its half's schema. A (key, value)
    tuple does as well. Both halves are required."""

    key: Any
    value: Any


class Shape(NamedTuple):
    """A schema's type (upper case), with its halves' shapes for KEY_VALUE."""

    type: str
    key: Optional[Shape] = None
    value: Optional[Shape] = None


NO_SCHEMA = Shape("BYTES")


def shape_of(schema: Any) -> Shape:
    """The shape of a schema option as _options.schema_json() gave it to the library (and the library
    accepted it: the type and, for KEY_VALUE, both halves are there)."""
    if schema is None:
        return NO_SCHEMA
    if isinstance(schema, str):
        return Shape(schema.upper())
    kind = str(schema["type"]).upper()
    if kind != "KEY_VALUE":
        return Shape(kind)
    return Shape(kind, shape_of(schema["key"]), shape_of(schema["value"]))


_BYTES_TYPES = frozenset({"BYTES", "AVRO", "PROTOBUF", "PROTOBUF_NATIVE"})
_INT_TYPES = frozenset({"INT8", "INT16", "INT32", "INT64"})
_MS_TYPES = frozenset({"DATE", "TIME", "TIMESTAMP"})  # java.util.Date & co: an instant, in ms
# What each type takes, for the TypeError of another Python type.
_TAKES = {"STRING": "a str", "BOOLEAN": "a bool", "FLOAT": "a float or an int", "DOUBLE": "a float or an int",
          "INSTANT": "a datetime.datetime (a naive one is local time)",
          "LOCAL_DATE": "a datetime.date", "LOCAL_TIME": "a datetime.time without tzinfo",
          "LOCAL_DATE_TIME": "a naive datetime.datetime (a wall-clock time, no tzinfo)"}
_TAKES.update({t: "an int" for t in _INT_TYPES})
_TAKES.update({t: "a datetime.datetime (a naive one is local time) or an int of ms since the epoch" for t in _MS_TYPES})
_TAKES.update({t: "bytes the caller encoded (bytes, bytearray or memoryview)" for t in _BYTES_TYPES})


def value_json(value: Any, shape: Shape) -> bytes:
    """The JSON text of ``value`` for the library to encode by a schema of ``shape``."""
    if shape.type != "KEY_VALUE":
        return _json(value, shape, "the value")
    if not isinstance(value, tuple) or len(value) != 2:
        raise TypeError(f"the value of a KEY_VALUE schema must be a KeyValue(key, value) or a (key, value) tuple, "
                        f"not {type(value).__name__}")
    assert shape.key is not None and shape.value is not None
    # A missing half (None) goes as JSON null: the library says that both halves are needed.
    return b'{"key":' + _json(value[0], shape.key, "the key") + b',"value":' + _json(value[1], shape.value,
                                                                                     "the value") + b"}"


def _quoted(text: str) -> bytes:
    return b'"' + text.encode() + b'"'  # the texts here are ASCII digits, letters, '-', ':', '.' and '+'


def _json(value: Any, shape: Shape, what: str) -> bytes:
    kind = shape.type
    if value is None:
        return b"null"  # the library names the missing value
    if kind == "JSON":
        try:
            return json.dumps(value, ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError, RecursionError) as exc:
            raise error("InvalidMessage", f"{what} cannot be written as JSON for the JSON schema: {exc}") from exc
    if kind in _BYTES_TYPES:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return b'"' + base64.b64encode(value) + b'"'
    elif kind == "STRING":
        if isinstance(value, str):
            try:
                return json.dumps(value, ensure_ascii=False).encode()
            except UnicodeEncodeError as exc:  # a lone surrogate
                raise error("InvalidMessage", f"{what}: a STRING value must be valid Unicode text: {exc}") from exc
    elif kind == "BOOLEAN":
        if isinstance(value, bool):
            return b"true" if value else b"false"
    elif isinstance(value, bool):
        pass  # a bool is an int to Python, but no number to a schema
    elif kind in _INT_TYPES or (kind in _MS_TYPES and isinstance(value, int)):
        if isinstance(value, int):
            return int.__repr__(value).encode()
    elif kind in ("FLOAT", "DOUBLE"):
        if isinstance(value, int):
            return int.__repr__(value).encode()
        if isinstance(value, float):
            if not math.isfinite(value):
                raise error("InvalidMessage", f"{what}: {value!r} cannot be sent as a value of a {kind} schema "
                                              "(values reach the library as JSON, which has no NaN or infinity)")
            return float.__repr__(value).encode()
    elif kind in _MS_TYPES or kind == "INSTANT":
        if isinstance(value, datetime):  # RFC 3339, with the offset; a naive datetime is local time
            return _quoted((value if value.tzinfo else value.astimezone()).isoformat())
    elif kind == "LOCAL_DATE_TIME":
        if isinstance(value, datetime) and value.tzinfo is None:
            return _quoted(value.isoformat())
    elif kind == "LOCAL_DATE":
        if isinstance(value, date) and not isinstance(value, datetime):
            return _quoted(value.isoformat())
    elif kind == "LOCAL_TIME":
        if isinstance(value, time) and value.tzinfo is None:
            return _quoted(value.isoformat())
    raise TypeError(f"{what} of a {kind} schema must be {_TAKES.get(kind, 'of another type')}, "
                    f"not {type(value).__name__}{_hint(value, kind)}")


def _hint(value: Any, kind: str) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)) and kind == "STRING":
        return ": decode it first"
    if isinstance(value, (Mapping, str)) and kind == "AVRO":
        return ": encode it first, e.g. with pulsar.schema.AvroSchema(...).encode()"
    if isinstance(value, (datetime, time)) and value.tzinfo is not None and kind.startswith("LOCAL_"):
        return " with a tzinfo: a local time has none"
    return ""
