"""Messages with options, packed for pp_send_message and pp_send_messages.

How this works: ``prepare()`` checks a send's options and encodes them when
send_async() is called (so the caller may change a bytearray payload or a
dict of properties afterwards); the resulting ``Prepared`` tuple waits in
the send buffer like a payload-only message (plain ``bytes``). ``pack()``
lays out any mix of the two for one library call without a ctypes object
per message: every string (payloads, keys, property and cluster names, each
C string NUL-terminated) goes into one ``bytes`` blob, and the pp_message
structs, then the pp_property arrays, then the cluster-name pointer arrays
into one ``bytearray``; the pointers are the two objects' addresses plus
offsets, and struct.pack_into writes each pp_message in one call. The
library copies everything before it returns, so both objects only need to
outlive the call (``Packed`` keeps them).

pp_message is initialized here field by field as pp_message_init() would
(struct_size is this package's sizeof(pp_message), sequence_id -1 for
"automatic"), so that the library reads only the fields this package knows.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional, Union

from . import _native
from ._options import duration_ms, instant_ms

__all__ = ["Prepared", "Packed", "prepare", "pack"]

#: pp_message on LP64: struct_size, payload, payload_len, null_value, key,
#: ordering_key, ordering_key_len, properties, property_count,
#: event_time_ms, deliver_at_ms, deliver_after_ms, sequence_id,
#: replication_clusters, replication_cluster_count, disable_replication.
_MESSAGE = struct.Struct("=QQQi4xQQQQQqqqqQQi4x")
if _MESSAGE.size != ctypes.sizeof(_native.MessageC):  # pragma: no cover - non-LP64
    raise ImportError(f"unsupported platform: pp_message is {ctypes.sizeof(_native.MessageC)} bytes")
MESSAGE_SIZE = _MESSAGE.size


#: A message with options, encoded for the library by prepare(): a plain
#: tuple (cheap to build) that b"".join() refuses, which is how a flush
#: tells a batch with options from a payload-only one. Its fields: payload
#: (None: a null value), key (NUL-terminated, or None), ordering_key,
#: properties (NUL-terminated key, value pairs), event_time, deliver_at,
#: deliver_after (ms, 0: none), sequence_id (-1: automatic),
#: replication_clusters (NUL-terminated names, or None), disable_replication.
Prepared = tuple[
    Optional[bytes],
    Optional[bytes],
    Optional[bytes],
    tuple[tuple[bytes, bytes], ...],
    int,
    int,
    int,
    int,
    Optional[tuple[bytes, ...]],
    bool,
]


def _cstr(value: object, what: str) -> bytes:
    """A str as a NUL-terminated C string."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    data = value.encode("utf-8")
    if b"\0" in data:
        raise ValueError(f"{what} must not contain NUL characters")
    return data + b"\0"


def prepare(
    payload: Optional[bytes],
    key: Optional[str] = None,
    ordering_key: Union[bytes, str, None] = None,
    properties: Optional[Mapping[str, str]] = None,
    event_time: object = None,
    deliver_at: object = None,
    deliver_after: object = None,
    sequence_id: Optional[int] = None,
    replication_clusters: Optional[Iterable[str]] = None,
    disable_replication: bool = False,
) -> Prepared:
    """Checks and encodes a send's options; TypeError or ValueError for bad ones."""
    okey: Optional[bytes] = None
    if ordering_key is not None:
        if isinstance(ordering_key, str):
            okey = ordering_key.encode("utf-8")
        elif isinstance(ordering_key, (bytes, bytearray, memoryview)):
            okey = bytes(ordering_key)
        else:
            raise TypeError(f"ordering_key must be bytes or str, not {type(ordering_key).__name__}")
    props: tuple[tuple[bytes, bytes], ...] = ()
    if properties is not None:
        if not isinstance(properties, Mapping):
            raise TypeError(
                f"properties must be a mapping of str to str, not {type(properties).__name__}"
            )
        props = tuple(
            (_cstr(k, "a property key"), _cstr(v, f"property {k!r}")) for k, v in properties.items()
        )
    seq = -1
    if sequence_id is not None:
        if not isinstance(sequence_id, int) or isinstance(sequence_id, bool):
            raise TypeError(f"sequence_id must be an int, not {type(sequence_id).__name__}")
        seq = sequence_id
    clusters: Optional[tuple[bytes, ...]] = None
    if replication_clusters is not None:
        if isinstance(replication_clusters, (str, bytes)):
            raise TypeError("replication_clusters must be a list of cluster names, not a string")
        clusters = tuple(_cstr(c, "a replication cluster") for c in replication_clusters)
    return (
        payload,
        None if key is None else _cstr(key, "key"),
        okey,
        props,
        0 if event_time is None else instant_ms(event_time, "event_time"),
        0 if deliver_at is None else instant_ms(deliver_at, "deliver_at"),
        0 if deliver_after is None else duration_ms(deliver_after, "deliver_after"),
        seq,
        clusters,
        bool(disable_replication),
    )


class Packed:
    """pp_message structs for one call; ``address`` is msgs (keeps the memory alive)."""

    __slots__ = ("area", "blob", "view", "address", "count")

    def __init__(self, area: bytearray, blob: bytes, count: int) -> None:
        self.area = area
        self.blob = blob
        self.view = (ctypes.c_char * len(area)).from_buffer(area)
        self.address = ctypes.addressof(self.view)
        self.count = count


def _pointers(area: bytearray, at: int, base: int, offsets: Sequence[int]) -> int:
    """Writes base + offset for each offset at ``at`` in area; returns the end."""
    if offsets:
        struct.pack_into("=%dQ" % len(offsets), area, at, *[base + o for o in offsets])
    return at + 8 * len(offsets)


def pack(entries: Sequence[Union[bytes, Prepared]]) -> Packed:
    """The entries (payload-only bytes, or Prepared) as an array of pp_message."""
    parts: list[bytes] = []
    add = parts.append
    at = 0  # offset in the blob of the next string
    # First pass: where each string goes in the blob (-1: NULL), and the
    # sizes of the pointer arrays.
    laid: list[tuple[Any, ...]] = []
    n_props = n_clusters = 0
    for e in entries:
        if isinstance(e, bytes):
            laid.append((at, len(e)))
            add(e)
            at += len(e)
            continue
        payload, key, okey, props, _, _, _, _, clusters, _ = e
        pay = -1
        if payload:
            pay = at
            add(payload)
            at += len(payload)
        k = -1
        if key is not None:
            k = at
            add(key)
            at += len(key)
        o = -1
        if okey:
            o = at
            add(okey)
            at += len(okey)
        prop_at: list[int] = []
        for pk, pv in props:
            prop_at.append(at)
            prop_at.append(at + len(pk))
            add(pk)
            add(pv)
            at += len(pk) + len(pv)
        n_props += len(props)
        cl_at: Optional[list[int]] = None
        if clusters is not None:
            cl_at = []
            for c in clusters:
                cl_at.append(at)
                add(c)
                at += len(c)
            n_clusters += len(clusters)
        laid.append((pay, k, o, prop_at, cl_at))
    blob = b"".join(parts)
    base = ctypes.cast(ctypes.c_char_p(blob), ctypes.c_void_p).value or 0
    count = len(entries)
    props_at = count * MESSAGE_SIZE
    clusters_at = props_at + n_props * 16
    packed = Packed(bytearray(clusters_at + n_clusters * 8), blob, count)
    area, addr = packed.area, packed.address
    # Second pass: the structs, with pointers into the blob and the area.
    msg_pack = _MESSAGE.pack_into
    off = -MESSAGE_SIZE
    for e, lay in zip(entries, laid):
        off += MESSAGE_SIZE
        if isinstance(e, bytes):
            n = lay[1]
            msg_pack(area, off, MESSAGE_SIZE, base + lay[0] if n else 0, n, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0)
            continue
        payload, _, okey, _, event, at_ms, after, seq, _, disable = e
        pay, k, o, prop_at, cl_at = lay
        props_ptr = addr + props_at if prop_at else 0
        props_at = _pointers(area, props_at, base, prop_at)
        clusters_ptr = addr + clusters_at if cl_at else 0
        clusters_at = _pointers(area, clusters_at, base, cl_at or ())
        msg_pack(
            area,
            off,
            MESSAGE_SIZE,
            0 if pay < 0 else base + pay,
            len(payload) if payload else 0,
            1 if payload is None else 0,
            0 if k < 0 else base + k,
            0 if o < 0 else base + o,
            len(okey) if okey else 0,
            props_ptr,
            len(prop_at) // 2,
            event,
            at_ms,
            after,
            seq,
            clusters_ptr,
            0 if cl_at is None else len(cl_at),
            1 if disable else 0,
        )
    return packed
