"""MessageId: where the broker stored a message.

How this works: an immutable tuple of the fields of pp_message_id.
serialize() / deserialize() use the protocol's MessageIdData bytes, as the
official clients do; str() is "ledger:entry:partition[:batch_index]".
Equality and hashing use ledger, entry, partition and batch index, as in the
official clients.
"""

from __future__ import annotations

import ctypes
from typing import NamedTuple

from . import _native
from .errors import error_for


class MessageId(NamedTuple):
    """The ID the broker gave a published message. ``partition`` is -1 for a topic that is not
    partitioned; ``batch_index`` -1 and ``batch_size`` 0 for a message stored on its own.
    ``is_duplicate`` is True when the broker's deduplication recognised the message as already
    stored (sent again after a reconnect, or with a sequence_id at or below the last one stored):
    the broker then does not say where it is, and ledger_id and entry_id are -1."""

    ledger_id: int
    entry_id: int
    partition: int = -1
    batch_index: int = -1
    batch_size: int = 0
    flags: int = 0

    @property
    def is_duplicate(self) -> bool:
        return bool(self.flags & _native.ID_DUPLICATE)

    def serialize(self) -> bytes:
        """The ID as MessageIdData bytes (what pulsar.MessageId.deserialize reads)."""
        buf, needed = ctypes.create_string_buffer(64), ctypes.c_size_t()
        rc = _native.PYLIB.pp_message_id_serialize(_native.MessageIdC(*self), buf, 64, ctypes.byref(needed))
        if rc != _native.OK:
            raise error_for(rc, f"cannot serialize {self!r}")
        return buf.raw[: needed.value]

    @classmethod
    def deserialize(cls, data: bytes | bytearray | memoryview) -> MessageId:
        """Reads MessageIdData bytes, as serialize() or an official client writes them."""
        if isinstance(data, str):
            raise TypeError("MessageId.deserialize() takes bytes, not str")
        raw, out = bytes(data), _native.MessageIdC()
        rc = _native.PYLIB.pp_message_id_deserialize(raw, len(raw), ctypes.byref(out))
        if rc != _native.OK:
            raise error_for(rc, f"InvalidArgument: malformed message ID bytes: {raw.hex()}")
        return cls(out.ledger_id, out.entry_id, out.partition, out.batch_index, out.batch_size, out.flags)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MessageId) and self[:4] == other[:4]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self[:4])

    def __str__(self) -> str:
        buf = ctypes.create_string_buffer(96)
        _native.PYLIB.pp_message_id_str(_native.MessageIdC(*self), buf, 96)
        return buf.value.decode()
