"""MessageId: where the broker stored a message.

How this works: a MessageId is an immutable value with the five fields of
the C ABI's pp_message_id. ``serialize()`` and ``MessageId.deserialize()``
call pp_message_id_serialize/deserialize, which write and read the
protocol's MessageIdData bytes, the form the official clients'
``MessageId.serialize()``/``deserialize()`` use, so IDs can be handed to a
consumer written with any client. ``str()`` is pp_message_id_str's
"ledger:entry:partition[:batch_index]". Equality and hashing use ledger,
entry, partition and batch index (not the batch size, which some sources
omit), like the official clients.
"""

from __future__ import annotations

import ctypes
from typing import Any

from . import _native
from .errors import error_for

__all__ = ["MessageId"]

_SERIALIZED_MAX = 32  # the header promises 32 bytes always suffice


class MessageId:
    """The ID the broker assigned to a published message.

    ``partition`` is -1 for a non-partitioned topic; ``batch_index`` is -1
    and ``batch_size`` 0 for a message stored on its own, otherwise its index
    in its batch and the number of messages in the batch.
    """

    __slots__ = ("ledger_id", "entry_id", "partition", "batch_index", "batch_size")

    ledger_id: int
    entry_id: int
    partition: int
    batch_index: int
    batch_size: int

    def __init__(
        self,
        ledger_id: int,
        entry_id: int,
        partition: int = -1,
        batch_index: int = -1,
        batch_size: int = 0,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "ledger_id", int(ledger_id))
        setattr_(self, "entry_id", int(entry_id))
        setattr_(self, "partition", int(partition))
        setattr_(self, "batch_index", int(batch_index))
        setattr_(self, "batch_size", int(batch_size))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("MessageId is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("MessageId is immutable")

    def _c(self) -> _native.MessageIdC:
        return _native.MessageIdC(
            self.ledger_id, self.entry_id, self.partition, self.batch_index, self.batch_size
        )

    def serialize(self) -> bytes:
        """The ID as MessageIdData bytes (readable by pulsar.MessageId.deserialize)."""
        buf = ctypes.create_string_buffer(_SERIALIZED_MAX)
        needed = ctypes.c_size_t()
        rc = _native.PYLIB.pp_message_id_serialize(
            ctypes.byref(self._c()), buf, _SERIALIZED_MAX, ctypes.byref(needed)
        )
        if rc != _native.OK:
            raise error_for(rc, f"cannot serialize {self!r}")
        return buf.raw[: needed.value]

    @classmethod
    def deserialize(cls, data: bytes | bytearray | memoryview) -> MessageId:
        """Reads MessageIdData bytes, as serialize() or an official client writes them."""
        if isinstance(data, str):
            raise TypeError("MessageId.deserialize() takes bytes, not str")
        raw = bytes(data)
        out = _native.MessageIdC()
        rc = _native.PYLIB.pp_message_id_deserialize(raw, len(raw), ctypes.byref(out))
        if rc != _native.OK:
            raise error_for(rc, f"malformed message ID bytes: {raw.hex()}")
        return cls(out.ledger_id, out.entry_id, out.partition, out.batch_index, out.batch_size)

    def _key(self) -> tuple[int, int, int, int]:
        return (self.ledger_id, self.entry_id, self.partition, self.batch_index)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MessageId):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        buf = ctypes.create_string_buffer(96)
        _native.PYLIB.pp_message_id_str(ctypes.byref(self._c()), buf, len(buf))
        return buf.value.decode("ascii")

    def __repr__(self) -> str:
        return (
            f"MessageId(ledger_id={self.ledger_id}, entry_id={self.entry_id}, "
            f"partition={self.partition}, batch_index={self.batch_index}, "
            f"batch_size={self.batch_size})"
        )

    def __reduce__(self) -> tuple[type[MessageId], tuple[int, int, int, int, int]]:
        return (
            MessageId,
            (self.ledger_id, self.entry_id, self.partition, self.batch_index, self.batch_size),
        )


def _from_row(row: bytes) -> MessageId:
    """A MessageId from a raw pp_completion row (_native.COMPLETION)."""
    _, _, ledger, entry, partition, batch_index, batch_size, _ = _native.COMPLETION.unpack(row)
    mid = object.__new__(MessageId)
    setattr_ = object.__setattr__
    setattr_(mid, "ledger_id", ledger)
    setattr_(mid, "entry_id", entry)
    setattr_(mid, "partition", partition)
    setattr_(mid, "batch_index", batch_index)
    setattr_(mid, "batch_size", batch_size)
    return mid
