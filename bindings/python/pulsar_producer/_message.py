"""A send's payload and per-message options, checked and laid out as a pp_message.

How this works: ``build`` checks each option (types raise TypeError; bad
values raise InvalidMessage, a ValueError, naming the option as Python
spells it) and fills a ctypes pp_message whose pointers refer to bytes
objects the struct keeps alive; the library copies everything before the
send returns. Strings go with their exact lengths, so a NUL inside a key is
sent, not cut off.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable, Mapping
from typing import Optional, TypedDict, Union

from . import _native
from ._options import INT64_MAX, Duration, Instant, instant_ms, number
from .errors import error

Payload = Union[bytes, bytearray, memoryview, None]
_SIZE = ctypes.sizeof(_native.MessageC)


class SendOptions(TypedDict, total=False):
    """The per-message keyword arguments of send(), send_async() and asend()."""

    key: str  # the partition key; "" is an empty key, None (the default) none
    ordering_key: Union[bytes, str]  # the key for Key_Shared ordering
    properties: Mapping[str, str]
    event_time: Instant
    deliver_at: Instant
    deliver_after: Duration
    sequence_id: int  # instead of the automatic one
    replication_clusters: Iterable[str]
    disable_replication: bool


OPTION_NAMES = frozenset(SendOptions.__annotations__)


def payload_bytes(payload: object) -> bytes:
    """A bytes-like payload as bytes (copied unless it is bytes)."""
    if type(payload) is bytes:
        return payload
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    hint = ": encode text first, e.g. payload.encode()" if isinstance(payload, str) else ""
    raise TypeError(f"payload must be bytes, bytearray, memoryview or None, not {type(payload).__name__}{hint}")


def _text(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value.encode()


def _ms(options: Mapping[str, object], name: str, duration: bool = False) -> int:
    value = options.get(name)
    if value is None:
        return 0
    try:
        if duration:
            return number(value, name, ms=True, lo=0, hi=INT64_MAX // 1_000_000)
        return instant_ms(value, name)
    except ValueError as exc:
        raise error("InvalidMessage", str(exc)) from None


def build(payload: Payload, options: Mapping[str, object]) -> _native.MessageC:
    """The message as a pp_message; TypeError or InvalidMessage for bad arguments."""
    unknown = options.keys() - OPTION_NAMES
    if unknown:
        raise TypeError(f"unexpected keyword argument {sorted(unknown)[0]!r}; the options of a send "
                        f"are {', '.join(sorted(OPTION_NAMES))}")
    m = _native.MessageC(_SIZE, key_len=_native.NTS, sequence_id=-1)
    if payload is None:
        m.null_value = 1
    else:
        m.payload = data = payload_bytes(payload)
        m.payload_len = len(data)
    key = options.get("key")
    if key is not None:
        m.key = kb = _text(key, "key")
        m.key_len = len(kb)
    okey = options.get("ordering_key")
    if okey is not None:
        if not isinstance(okey, (bytes, bytearray, memoryview, str)):
            raise TypeError(f"ordering_key must be bytes or str, not {type(okey).__name__}")
        m.ordering_key = ob = okey.encode() if isinstance(okey, str) else bytes(okey)
        m.ordering_key_len = len(ob)
    props = options.get("properties")
    if props is not None:
        if not isinstance(props, Mapping):
            raise TypeError(f"properties must be a mapping of str to str, not {type(props).__name__}")
        pairs = [(_text(k, "a property key"), _text(v, f"property {k!r}")) for k, v in props.items()]
        m.properties = (_native.PropertyC * len(pairs))(*[(k, len(k), v, len(v)) for k, v in pairs])
        m.property_count = len(pairs)
    m.event_time_ms = _ms(options, "event_time")
    m.deliver_at_ms = _ms(options, "deliver_at")
    m.deliver_after_ms = _ms(options, "deliver_after", duration=True)
    if options.get("deliver_at") is not None and options.get("deliver_after") is not None:
        raise error("InvalidMessage", "give deliver_at or deliver_after, not both")
    seq = options.get("sequence_id")
    if seq is not None:
        try:
            m.sequence_id = number(seq, "sequence_id", lo=0, hi=INT64_MAX)
        except ValueError as exc:
            raise error("InvalidMessage", str(exc)) from None
    clusters = options.get("replication_clusters")
    if clusters is not None:
        if isinstance(clusters, (str, bytes)) or not isinstance(clusters, Iterable):
            raise TypeError("replication_clusters must be a list of cluster names")
        names = [_text(c, "a replication cluster") for c in clusters]
        if any(b"\0" in c for c in names):
            raise error("InvalidMessage", "a replication cluster name contains a NUL character")
        m.replication_clusters = (ctypes.c_char_p * len(names))(*names)
        m.replication_cluster_count = len(names)
    disable: Optional[object] = options.get("disable_replication")
    if disable is not None:
        if not isinstance(disable, bool):
            raise TypeError(f"disable_replication must be True or False, not {type(disable).__name__}")
        m.disable_replication = int(disable)
    return m
