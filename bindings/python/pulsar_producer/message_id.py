"""MessageId: where the broker stored a message.

How this works: an immutable tuple of the fields of pp_message_id. str()
is the library's pp_message_id_str ("ledger:entry:partition[:batch_index]";
for a chunked message the first chunk's "ledger:entry:partition", a
semicolon, then the last's). serialize() / deserialize() use the protocol's
MessageIdData bytes, as the official clients do, with the first chunk's ID
for a chunked message. Equality and hashing use ledger, entry, partition and
batch index, as in the official clients.
"""

from __future__ import annotations

import ctypes
from typing import NamedTuple, Optional

from . import _native
from .errors import error_for

_SERIALIZED_MAX = 80  # pp_message_id_serialize: "80 bytes always suffice"


class MessageId(NamedTuple):
    """The ID the broker gave a published message. ``partition`` is -1 for a topic that is not
    partitioned; ``batch_index`` -1 and ``batch_size`` 0 for a message stored on its own.
    ``is_duplicate`` is True when the broker's deduplication recognised the message as already
    stored (sent again after a reconnect, or with a sequence_id at or below the last one stored):
    the broker then does not say where it is, and ledger_id and entry_id are -1. ``is_chunked`` is
    True for a message sent in chunks (chunking_enabled): ledger_id and entry_id are then the last
    chunk's, and ``first_chunk_id`` is the first chunk's ID."""

    ledger_id: int
    entry_id: int
    partition: int = -1
    batch_index: int = -1
    batch_size: int = 0
    flags: int = 0
    first_chunk_ledger_id: int = -1
    first_chunk_entry_id: int = -1

    @property
    def is_duplicate(self) -> bool:
        return bool(self.flags & _native.ID_DUPLICATE)

    @property
    def is_chunked(self) -> bool:
        return bool(self.flags & _native.ID_CHUNKED)

    @property
    def first_chunk_id(self) -> Optional[MessageId]:
        """Where the first chunk of a chunked message is stored; None for a message sent whole."""
        if not self.is_chunked:
            return None
        return MessageId(self.first_chunk_ledger_id, self.first_chunk_entry_id, self.partition)

    def serialize(self) -> bytes:
        """The ID as MessageIdData bytes (what pulsar.MessageId.deserialize reads); a chunked
        message's carries its first chunk's ID too."""
        buf, needed = ctypes.create_string_buffer(_SERIALIZED_MAX), ctypes.c_size_t()
        rc = _native.PYLIB.pp_message_id_serialize(_native.MessageIdC(*self), buf, _SERIALIZED_MAX,
                                                   ctypes.byref(needed))
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
        return cls(*(getattr(out, f[0]) for f in out._fields_))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MessageId) and self[:4] == other[:4]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self[:4])

    def __str__(self) -> str:
        buf = ctypes.create_string_buffer(128)  # the longest, two IDs of 64-bit numbers, takes 119
        _native.PYLIB.pp_message_id_str(_native.MessageIdC(*self), buf, 128)
        return buf.value.decode()
