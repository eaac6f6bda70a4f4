"""A send's payload or value and per-message options, checked and laid out as a pp_message.

How this works: ``build`` checks each option (a wrong type raises TypeError, a
bad value InvalidMessage, a ValueError, naming the option as Python spells it)
and fills a ctypes pp_message, starting from pp_message_init's defaults, whose
pointers refer to bytes objects the struct keeps alive; the library copies
everything before the send returns. Strings go with their exact lengths, so a
NUL inside a key is sent, not cut off. A ``value`` goes as JSON text
(value_json) for the library to encode by the producer's schema (_value).
"""

from __future__ import annotations

import ctypes
import enum
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Literal, TypedDict, Union

from . import _native
from ._options import INT64_MAX, Duration, Instant, instant_ms, number
from ._value import NO_SCHEMA, Shape, value_json
from .errors import error

Payload = Union[bytes, bytearray, memoryview, None]


class _Unset(enum.Enum):
    UNSET = 0


#: The default of send()'s payload: none given (a value, or an error).
UNSET = _Unset.UNSET
PayloadArg = Union[Payload, Literal[_Unset.UNSET]]


class SendOptions(TypedDict, total=False):
    """The per-message keyword arguments of send(), send_async() and asend()."""

    value: Any  # instead of a payload: a value of the producer's schema, encoded by the library
    key: str  # the partition key: "" is an empty key, None (the default) none
    ordering_key: Union[bytes, str]  # the key of Key_Shared ordering
    properties: Mapping[str, str]
    event_time: Instant
    deliver_at: Instant
    deliver_after: Duration
    sequence_id: int  # instead of the automatic one
    replication_clusters: Iterable[str]
    disable_replication: bool


OPTION_NAMES = frozenset(SendOptions.__annotations__)


def _text(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value.encode()


def _checked(fn: Callable[..., int], *args: Any, **kwargs: Any) -> int:
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        raise error("InvalidMessage", str(exc)) from None


def build(payload: PayloadArg, options: Mapping[str, object], shape: Shape = NO_SCHEMA) -> _native.MessageC:
    """The message as a pp_message; TypeError or InvalidMessage for bad arguments. ``shape``: the
    producer's schema, for a value."""
    if options.keys() - OPTION_NAMES:
        raise TypeError(f"unexpected keyword argument {sorted(options.keys() - OPTION_NAMES)[0]!r}; the options "
                        f"of a send are {', '.join(sorted(OPTION_NAMES))}")
    m = _native.MessageC.from_buffer_copy(_native.MESSAGE_DEFAULTS)
    if "value" in options:
        if payload is not UNSET:
            raise TypeError("give a payload or a value, not both")
        m.value_json = text = value_json(options["value"], shape)
        m.value_json_len = len(text)
    elif payload is UNSET:
        raise TypeError("a send needs a payload (bytes, or None for a null value) or a value (value=...)")
    elif payload is None:
        m.null_value = 1
    elif isinstance(payload, (bytes, bytearray, memoryview)):
        m.payload = data = bytes(payload)
        m.payload_len = len(data)
    else:
        hint = ": encode text first, e.g. payload.encode(), or send it as value=" if isinstance(payload, str) else ""
        raise TypeError(f"payload must be bytes, bytearray, memoryview or None, not {type(payload).__name__}{hint}")
    get = options.get
    set_key(m, get("key"))
    okey = get("ordering_key")
    if okey is not None:
        if not isinstance(okey, (bytes, bytearray, memoryview, str)):
            raise TypeError(f"ordering_key must be bytes or str, not {type(okey).__name__}")
        m.ordering_key = ob = okey.encode() if isinstance(okey, str) else bytes(okey)
        m.ordering_key_len = len(ob)
    set_properties(m, get("properties"))
    for name in ("event_time", "deliver_at"):
        if get(name) is not None:
            setattr(m, f"{name}_ms", _checked(instant_ms, get(name), name))
    if get("deliver_after") is not None:
        m.deliver_after_ms = _checked(number, get("deliver_after"), "deliver_after", ms=True, lo=0,
                                      hi=INT64_MAX // 10**6)
        if get("deliver_at") is not None:
            raise error("InvalidMessage", "give deliver_at or deliver_after, not both")
    if get("sequence_id") is not None:
        m.sequence_id = _checked(number, get("sequence_id"), "sequence_id", lo=0, hi=INT64_MAX)
    clusters = get("replication_clusters")
    if clusters is not None:
        if isinstance(clusters, (str, bytes)) or not isinstance(clusters, Iterable):
            raise TypeError("replication_clusters must be a list of cluster names")
        names = [_text(c, "a replication cluster") for c in clusters]
        if any(b"\0" in c for c in names):
            raise error("InvalidMessage", "a replication cluster name contains a NUL character")
        m.replication_clusters = (ctypes.c_char_p * len(names))(*names)
        m.replication_cluster_count = len(names)
    disable = get("disable_replication")
    if disable is not None:
        if not isinstance(disable, bool):
            raise TypeError(f"disable_replication must be True or False, not {type(disable).__name__}")
        m.disable_replication = int(disable)
    return m


def set_key(m: _native.MessageC, key: object) -> None:
    """Sets (or, for None, clears) the message's partition key."""
    if key is None:
        m.key, m.key_len = None, _native.NTS
    else:
        m.key = data = _text(key, "key")
        m.key_len = len(data)


def set_properties(m: _native.MessageC, props: object) -> None:
    """Sets the message's properties (None: none)."""
    if props is None:
        m.properties, m.property_count = None, 0
        return
    if not isinstance(props, Mapping):
        raise TypeError(f"properties must be a mapping of str to str, not {type(props).__name__}")
    pairs = [(_text(k, "a property key"), _text(v, f"property {k!r}")) for k, v in props.items()]
    m.properties = (_native.PropertyC * len(pairs))(*[_native.PropertyC(k, len(k), v, len(v)) for k, v in pairs])
    m.property_count = len(pairs)
