"""Producer: the public API for publishing to one topic.

How this works: Producer() checks its keyword options against the library's
option table and turns them into the library's JSON (see _options), calls
pp_start with the GIL released, and hands the handle to a _Core, which owns
the send buffer (_buffer) and the completion thread (_core).

  * send_async(bytes) of at most DIRECT_BYTES with no other argument is the
    fast path: it creates the future, appends (payload, future) to the send
    buffer with one list operation, and compares one length; the buffer
    hands messages to the library in batches (pp_send_batch), at once when
    the producer is idle, at the latest after min(batching delay, 1 ms);
  * other small payloads (bytearray, memoryview) are copied to bytes (the
    caller may change them once send_async returns) and buffered the same way;
  * a message with options (key, properties, times, ...), a null value or a
    larger payload is converted here and handed over directly
    (pp_send_message or pp_send) after what is buffered, so order is kept.

A send that is refused before it is buffered raises at once: bad arguments,
AlreadyClosed, ProducerQueueIsFull (max_pending_messages reached without
block_if_queue_full), and whatever the library refuses of a message handed
over directly (MessageTooBig, InvalidMessage, ...). A buffered message that
the library refuses fails its own future with that error; the others go on.
An accepted message settles its future later with a MessageId or the error
that failed it. send() flushes the buffer and waits for the future, asend()
awaits an asyncio future settled on the caller's event loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
import weakref
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional, TypedDict, Union

from . import _native
from ._buffer import DIRECT_BYTES, MAX_HOLD, Entry
from ._core import _Core
from ._future import MessageFuture
from ._messages import pack, prepare
from ._options import (
    OPTIONS,
    Duration,
    Instant,
    duration_ms,
    options_json,
    snake_errors,
)
from .errors import error_for
from .message_id import MessageId

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Producer", "Payload", "SendOptions"]

#: What a send accepts as a payload: bytes-like, or None for a null value
#: (a tombstone on a compacted topic).
Payload = Union[bytes, bytearray, memoryview, None]


class SendOptions(TypedDict, total=False):
    """The per-message keyword arguments of send(), send_async() and asend()."""

    #: The partition key.
    key: str
    #: The key for Key_Shared ordering (bytes, or str as UTF-8).
    ordering_key: Union[bytes, str]
    #: Message properties, str -> str.
    properties: Mapping[str, str]
    #: When the event happened: datetime, or ms since the epoch.
    event_time: Instant
    #: Deliver no earlier than: datetime, or ms since the epoch.
    deliver_at: Instant
    #: Deliver no earlier than this long after sending: timedelta, or ms.
    deliver_after: Duration
    #: An explicit sequence ID (>= 0) instead of the automatic one.
    sequence_id: int
    #: Replicate only to these clusters.
    replication_clusters: Iterable[str]
    #: Keep the message in this cluster.
    disable_replication: bool


_SEND_OPTIONS = frozenset(SendOptions.__annotations__)
_object_new = object.__new__
_LOCAL_OPTIONS = ("block_if_queue_full",)  # done by the binding, not passed to the library


def _payload_bytes(payload: object) -> bytes:
    """A bytes-like payload as bytes: a copy unless it is bytes (the caller may
    change a bytearray as soon as the send returns, and the send may be later)."""
    if type(payload) is bytes:
        return payload
    if isinstance(payload, str):
        raise TypeError(
            "payload must be bytes, bytearray, memoryview or None, not str: "
            "encode text first, e.g. payload.encode('utf-8')"
        )
    try:
        return memoryview(payload).tobytes()  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            "payload must be bytes, bytearray, memoryview or None, "
            f"not {type(payload).__name__}"
        ) from None


class Producer:
    """Publishes messages to one topic of a Pulsar cluster.

    ``Producer("pulsar://localhost:6650", "my-topic", batching_max_messages=500)``
    connects and blocks until the broker has registered the producer.
    Options are the library's option names in snake_case (see the project's
    option table: batching_max_messages, batching_max_publish_delay,
    send_timeout, block_if_queue_full, compression_type, producer_name,
    properties, max_pending_messages, memory_limit_bytes, connection_timeout,
    operation_timeout, ...). Durations are ``timedelta`` or ``int``
    milliseconds; None leaves an option at its default. An unknown option, or
    a value of the wrong type, raises InvalidConfiguration naming it.

    Thread-safe: any number of threads may send. Use it as a context manager,
    or call close(): leaving the ``with`` block flushes and closes.
    """

    def __init__(self, service_url: str, topic: str, **options: Any) -> None:
        if not isinstance(service_url, str):
            raise TypeError(f"service_url must be a str, not {type(service_url).__name__}")
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a str, not {type(topic).__name__}")
        text, names = options_json(options, exclude=_LOCAL_OPTIONS)
        handle = ctypes.c_uint64()
        buf = _native.new_errbuf()
        rc = _native.LIB.pp_start(
            service_url.encode("utf-8"),
            topic.encode("utf-8"),
            text.encode("utf-8"),
            ctypes.byref(handle),
            buf,
            _native.ERRBUF_SIZE,
        )
        if rc != _native.OK:
            raise error_for(rc, snake_errors(_native.errbuf_text(buf), names))
        block = bool(options.get("block_if_queue_full"))
        core = _Core(handle.value, topic, block, _hold(options), options.get("max_pending_messages") or 0)
        self._core = core
        # The fast path reads these directly.
        self._items = core.buffer.items
        self._buffer = core.buffer
        self._future_cls = core.future_cls
        self._topic = topic
        self._name = _read_name(core.handle)
        parts = ctypes.c_int32()
        _native.PYLIB.pp_producer_partitions(core.handle, ctypes.byref(parts))
        self._partitions = parts.value
        # A producer dropped without close() is closed by its completion thread.
        self._finalizer = weakref.finalize(self, core.request_close)
        self._finalizer.atexit = False

    # --- sending ------------------------------------------------------------

    def send_async(self, payload: Payload, **options: Unpack[SendOptions]) -> Future[MessageId]:
        """Queues a message; the future settles with its MessageId or error.

        ``payload``: bytes-like, or None for a null value (tombstone); a str
        raises TypeError (encode it first). Keyword options (SendOptions):
        ``key`` (partition key), ``ordering_key`` (Key_Shared ordering key),
        ``properties`` (str -> str), ``event_time`` and ``deliver_at``
        (datetime or ms since the epoch), ``deliver_after`` (timedelta or
        ms), ``sequence_id`` (>= 0), ``replication_clusters`` (list of
        names), ``disable_replication`` (bool).

        Raises at once: TypeError or ValueError for a bad argument;
        AlreadyClosed; ProducerQueueIsFull when max_pending_messages is
        reached (with block_if_queue_full=True it waits for room instead);
        and, for a payload over 16 KiB (handed to the library directly,
        after what is buffered), whatever the library refuses (MessageTooBig,
        ...). Other messages are buffered and handed over in batches, at
        once if the producer is idle, else within min(batching delay, 1 ms):
        one the library refuses then (InvalidMessage, MemoryBufferIsFull,
        ...) fails its own future with that error; the others go on.
        """
        if not options and type(payload) is bytes and len(payload) <= DIRECT_BYTES:
            # The fast path: buffered, no call into the library.
            fut = _object_new(self._future_cls)
            items = self._items
            items += (payload, fut)
            if len(items) >= self._buffer.watermark:
                self._buffer.added(fut)
            return fut
        return self._submit(payload, options, None)

    def _submit(
        self,
        payload: object,
        options: Mapping[str, Any],
        aio: Optional[tuple[asyncio.AbstractEventLoop, asyncio.Future[MessageId]]],
    ) -> MessageFuture:
        """Every send but the fast path's: checks, then buffers or hands over directly."""
        if not _SEND_OPTIONS.issuperset(options):
            raise TypeError(
                f"unexpected keyword argument {sorted(options.keys() - _SEND_OPTIONS)[0]!r}; "
                f"the options of a send are: {', '.join(sorted(_SEND_OPTIONS))}"
            )
        plain = payload is not None
        for v in options.values():
            if v is not None and v is not False:
                plain = False
                break
        data = None if payload is None else _payload_bytes(payload)
        send: Any
        args: tuple[Any, ...]
        if plain:
            assert data is not None
            if len(data) <= DIRECT_BYTES:
                return self._buffered(data, aio)
            send, args = _native.PYLIB.pp_send, (self._core.handle, data, len(data), None)
        else:
            msg = prepare(data, **options)
            if data is None or len(data) <= DIRECT_BYTES:
                return self._buffered(msg, aio)
            packed = pack([msg])  # lives until send_one returns: the library copies it
            send, args = _native.PYLIB.pp_send_message, (self._core.handle, packed.address, None)
        fut = _object_new(self._future_cls)
        if aio is not None:
            fut._aio = aio
            with self._core.cond:
                fut._hook()
        self._buffer.send_one(fut, send, args)
        return fut

    def _buffered(
        self,
        data: Entry,
        aio: Optional[tuple[asyncio.AbstractEventLoop, asyncio.Future[MessageId]]],
    ) -> MessageFuture:
        """The fast path's buffering, for asend() and payloads that are not bytes."""
        fut = _object_new(self._future_cls)
        if aio is not None:
            fut._aio = aio
            with self._core.cond:
                fut._hook()
        items = self._items
        items += (data, fut)
        if len(items) >= self._buffer.watermark:
            self._buffer.added(fut)
        return fut

    def send(self, payload: Payload, **options: Unpack[SendOptions]) -> MessageId:
        """Sends a message and waits for its MessageId (arguments as send_async).

        Does not wait for the batching delay: what is buffered is handed to
        the library, and its open batches are sent, at once. Raises the
        PulsarProducerError that failed the message. Must not be called from
        a done-callback (it would wait for itself): use send_async() there.
        """
        core = self._core
        if threading.current_thread() is core.thread:
            raise RuntimeError(
                "Producer.send() called from a completion callback would wait for "
                "itself; use send_async() there"
            )
        fut = self.send_async(payload, **options)
        self._buffer.flush()
        if not fut.done():
            core.send_open_batches(quiet=True)
        return fut.result()

    async def asend(self, payload: Payload, **options: Unpack[SendOptions]) -> MessageId:
        """Sends a message from a coroutine: ``await producer.asend(b"...")``.

        Arguments and errors as send_async(). The message is queued before
        the first await; the result is delivered on the running event loop
        (thread-safely, in batches). Cancelling the await does not unsend it.
        """
        loop = asyncio.get_running_loop()
        afut: asyncio.Future[MessageId] = loop.create_future()
        self._submit(payload, options, (loop, afut))
        return await afut

    # --- flush, close, state --------------------------------------------------

    def flush(self, timeout: Optional[Duration] = None) -> None:
        """Sends buffered messages and open batches now, and waits until every earlier send has settled.

        When it returns, the future of every message sent before the call is
        done. ``timeout``: timedelta or int ms (None: no limit); Timeout is
        raised if messages are still pending then, InvalidArgument if it is
        negative, AlreadyClosed after close().
        """
        self._core.flush(timeout)

    def close(self, timeout: Optional[Duration] = None) -> None:
        """Flushes, closes the producer and frees it; idempotent.

        Waits up to ``timeout`` (timedelta or int ms; None: no limit) for
        pending messages: those still pending then fail with Timeout, and so
        does close(). Every future is settled when it returns (unless called
        from a done-callback, where the rest settle right after it). Later
        sends raise AlreadyClosed.
        """
        core = self._core
        core.close(timeout)
        self._finalizer.detach()
        exc, core.close_error = core.close_error, None
        if exc is not None:
            raise exc

    @property
    def topic(self) -> str:
        """The topic, as given to the constructor."""
        return self._topic

    @property
    def producer_name(self) -> str:
        """The producer's name: the producer_name option, or the one the broker assigned."""
        return self._name

    @property
    def partitions(self) -> int:
        """The topic's partition count: 0 for a topic that is not partitioned."""
        return self._partitions

    @property
    def closed(self) -> bool:
        """True once close() has begun (or the producer was closed at exit)."""
        return self._core.state != "open"

    @property
    def pending(self) -> int:
        """Messages sent whose future is not settled yet (buffered ones included)."""
        return self._core.pending

    def __enter__(self) -> Producer:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if exc_type is None:
            self.flush()
            self.close()
            return
        try:
            self.close()
        except Exception:  # the block's own exception matters more
            pass

    def __repr__(self) -> str:
        state = "open" if not self.closed else "closed"
        return f"<Producer topic={self._topic!r} {state} pending={self.pending}>"


def _hold(options: Mapping[str, Any]) -> float:
    """How long a message may wait in the send buffer, in seconds.

    min(batching_max_publish_delay, MAX_HOLD); 0 (no buffering) without batching.
    """
    if options.get("disable_batching"):
        return 0.0
    delay = options.get("batching_max_publish_delay")
    if delay is None:
        try:
            ms = int(OPTIONS["batching_max_publish_delay"].default)
        except (KeyError, ValueError):  # pragma: no cover - a newer table
            ms = 1
    else:
        ms = duration_ms(delay, "batching_max_publish_delay")
    return max(0.0, min(ms / 1000.0, MAX_HOLD))


def _read_name(handle: int) -> str:
    """pp_producer_name, growing the buffer if the name needs it."""
    size = 128
    needed = ctypes.c_size_t()
    while True:
        buf = ctypes.create_string_buffer(size)
        rc = _native.PYLIB.pp_producer_name(handle, buf, size, ctypes.byref(needed))
        if rc == _native.OK:
            return buf.value.decode("utf-8", "replace")
        if rc != _native.ERR_BUFFER_TOO_SMALL or needed.value <= size:
            return ""
        size = needed.value
