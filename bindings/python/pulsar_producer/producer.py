"""Client and Producer: the public API.

How this works: a Client is a library client (pp_client_start) and ONE
daemon completion thread. Its producers share its connections, its memory
limit and its completion queue; the thread waits in pp_drain (GIL released)
and, each time it returns, settles the futures of the completions it took
(in bulk, see _future), wakes coroutines waiting for room, and passes the
library's log records (pp_client_logs) to the "pulsar_producer" logger.

Sends call the library directly, one call per message, in the caller's
thread: send_async(bytes) is pp_send; a message with options, send() and
asend() go through pp_send_messages with one pp_message. The library does
all flow control: with block_if_queue_full a send blocks in the library
(the GIL released); asend() passes PP_SEND_NONBLOCK and, when the queue is
full, awaits the next batch of completions (room appears only when
messages complete), woken by the completion thread with
call_soon_threadsafe. Nothing here polls or sleeps.

A message's user data is the id() of its future, which waits in the
client's dict until its completion comes. flush() and close() wait for the
futures of the messages sent before them on the client's Condition
(interruptible by Ctrl-C). Creation (pp_producer_open) is waited for in
slices of 200 ms (pp_producer_wait), so Ctrl-C cancels it; an asyncio
creation waits on a helper thread and is cancelled by pp_stop.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import json
import logging
import os
import struct
import threading
import time
from concurrent.futures._base import FINISHED as _FINISHED
from dataclasses import dataclass
from itertools import repeat
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional

from . import _native
from ._future import LOGGER, MessageFuture, future_class, run_hooks, settle_hooked
from ._message import Payload, SendOptions, build
from ._native import LIB, OK, RC, errbuf
from ._options import Duration, encode, number, scope_of, snake
from .errors import PulsarProducerError, error, error_for
from .message_id import MessageId

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

__all__ = ["Client", "Producer", "Stats"]

DRAIN_CAPACITY = 4096  # completions per pp_drain
CREATE_SLICE_MS = 200  # the longest a blocking creation goes without handling signals
EXIT_CLOSE_TIMEOUT_MS = 10_000
_ROW = ctypes.sizeof(_native.CompletionC)
_ROWS = struct.Struct(f"{_ROW}s")
_FULL = (RC["ProducerQueueIsFull"], RC["MemoryBufferIsFull"])
_TIMEOUT, _CLOSED, _HANDLE = RC["Timeout"], RC["AlreadyClosed"], RC["InvalidHandle"]
_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}
_new = object.__new__
_send = LIB.pp_send
_forked = False
_live: set[Client] = set()


def forked_error() -> PulsarProducerError:
    return error("Forked", (
        f"this process ({os.getpid()}) was forked after pulsar_producer was loaded. The Go runtime "
        "inside libpulsar_producer does not survive fork(): clients and producers inherited from the "
        "parent cannot be used here, and no new ones can be made. Start child processes with "
        "multiprocessing's 'spawn' or 'forkserver' start method (multiprocessing.get_context('spawn')), "
        "or import pulsar_producer only in the child."))


def _fail(rc: int, buf: Any) -> PulsarProducerError:
    if _forked or rc == RC["Forked"]:
        return forked_error()
    return error_for(rc, snake(buf.value.decode(errors="replace")))


def _deadline(timeout: Optional[Duration]) -> Optional[float]:
    if timeout is None:
        return None
    ms = number(timeout, "timeout", ms=True)
    if ms < 0:
        raise error("InvalidArgument", f"timeout must not be negative, got {ms} ms")
    return time.monotonic() + ms / 1000


def _ms_left(deadline: Optional[float]) -> int:
    if deadline is None:
        return _native.INT_MAX
    return max(0, min(_native.INT_MAX, int((deadline - time.monotonic()) * 1000)))


def _wait_created(handle: int, slice_ms: int) -> None:
    """Waits until a producer from pp_producer_open is ready; raises why creation failed."""
    buf = errbuf()
    while True:
        start = time.monotonic()
        rc = LIB.pp_producer_wait(handle, slice_ms, buf, _native.ERRBUF_SIZE)
        if rc == OK:
            return
        # Timeout after the whole slice means "still being created"; a Timeout that comes
        # sooner is creation failing (createTimeout, operationTimeout), which has the same code.
        if rc != _TIMEOUT or time.monotonic() - start < slice_ms * 0.0009:
            raise _fail(rc, buf)


def _stop(handle: int) -> None:
    LIB.pp_stop(handle, 0, None, 0)


@dataclass(frozen=True)
class Stats:
    """Counters of a producer, or of a client (sums over every producer it had, plus its
    connections), from pp_producer_stats / pp_client_stats. Latencies are in microseconds,
    from a message's send to its receipt; each percentile is the upper bound of its bucket."""

    msgs_sent: int
    bytes_sent: int
    msgs_acked: int
    bytes_acked: int
    msgs_failed: int
    bytes_failed: int
    pending_msgs: int
    pending_bytes: int
    reconnects: int
    latency_count: int
    latency_p50_us: int
    latency_p95_us: int
    latency_p99_us: int
    latency_p999_us: int
    latency_max_us: int
    producers: int  # client: producers open now
    connections: int  # client: broker connections open now
    connects: int  # client: connections opened so far

    @classmethod
    def _read(cls, fn: Any, handle: int) -> Optional[Stats]:
        out = _native.StatsC(ctypes.sizeof(_native.StatsC))
        if fn(handle, ctypes.byref(out)) != OK:
            return None
        return cls(*(getattr(out, name) for name, _ in out._fields_[1:]))


class Client:
    """A connection to one Pulsar cluster, shared by the producers it creates.

    ``Client("pulsar://localhost:6650", memory_limit_bytes=..., log_level="info")`` takes
    the client options in snake_case (docs/OPTIONS.md); it connects to nothing until a
    producer is created. Producers share its connections, its memory limit and one
    completion thread. Thread-safe. Close it (or use ``with``): closing sends what is
    pending, closes every producer and ends the thread; close() is idempotent.
    """

    def __init__(self, service_url: str, **options: Any) -> None:
        self._start(service_url, options, "client", "Client()")

    def _start(self, url: str, options: dict[str, Any], scope: Optional[str], where: str) -> None:
        if _forked:
            raise forked_error()
        if not isinstance(url, str):
            raise TypeError(f"service_url must be a str, not {type(url).__name__}")
        opts, raw, handle, buf = encode(options, scope, where), url.encode(), ctypes.c_uint64(), errbuf()
        rc = LIB.pp_client_start(raw, len(raw), json.dumps(opts).encode(), ctypes.byref(handle), buf,
                                 _native.ERRBUF_SIZE)
        if rc != OK:
            raise _fail(rc, buf)
        self._handle = handle.value
        self.service_url = url
        self._cond = threading.Condition()
        self._hook_count = [0]
        self._futures: dict[int, MessageFuture] = {}
        self._producers: set[Producer] = set()
        self._room_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._lock = threading.Lock()
        self._state = "open"
        self._done = threading.Event()
        self._final: Optional[Stats] = None
        self._thread = threading.Thread(target=self._run, name=f"pulsar_producer completions {url}", daemon=True)
        self._thread.start()
        _live.add(self)

    # --- producers ------------------------------------------------------------

    def _open(self, topic: str, options: dict[str, Any], where: str) -> int:
        if _forked:
            raise forked_error()
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a str, not {type(topic).__name__}")
        opts, raw, handle, buf = encode(options, "producer", where), topic.encode(), ctypes.c_uint64(), errbuf()
        rc = LIB.pp_producer_open(self._handle, raw, len(raw), json.dumps(opts).encode(), ctypes.byref(handle),
                                  buf, _native.ERRBUF_SIZE)
        if rc != OK:
            raise _closed_error(f"client of {self.service_url}") if rc == _HANDLE else _fail(rc, buf)
        return handle.value

    def create_producer(self, topic: str, **options: Any) -> Producer:
        """Creates a producer on ``topic`` with producer options in snake_case, and waits until
        the broker has registered it. The create_timeout option bounds the wait (by default a
        waitForExclusive producer waits for the topic as long as it takes); Ctrl-C cancels it."""
        handle = self._open(topic, options, "create_producer()")
        try:
            _wait_created(handle, CREATE_SLICE_MS)
        except BaseException:
            _stop(handle)
            raise
        return Producer._made(self, handle, topic, options, False)

    async def acreate_producer(self, topic: str, **options: Any) -> Producer:
        """create_producer() for asyncio: the loop is never blocked, and cancelling the task
        cancels the creation."""
        handle = self._open(topic, options, "acreate_producer()")
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wait() -> None:
            outcome: Optional[BaseException] = None
            try:
                _wait_created(handle, _native.INT_MAX)
            except BaseException as exc:
                outcome = exc
            try:
                loop.call_soon_threadsafe(_resolve, ready, outcome)
            except RuntimeError:  # the loop is closed
                pass

        threading.Thread(target=wait, name=f"pulsar_producer create {topic}", daemon=True).start()
        try:
            await ready
        except BaseException:  # cancelled, or creation failed: pp_stop cancels or frees it
            _stop(handle)
            raise
        return Producer._made(self, handle, topic, options, False)

    # --- the completion thread ---------------------------------------------------

    def _run(self) -> None:
        area = (_native.CompletionC * DRAIN_CAPACITY)()
        logs = (_native.LogRecordC * 64)()
        addr, count, drain = ctypes.addressof(area), ctypes.c_size_t(), LIB.pp_drain
        try:
            while True:
                rc = drain(self._handle, addr, DRAIN_CAPACITY, _native.INT_MAX, ctypes.byref(count))
                if count.value:
                    self._settle(ctypes.string_at(addr, count.value * _ROW))
                self._logs(logs)
                if rc != OK:
                    break  # closed, and every completion taken
        except BaseException:  # pragma: no cover - a bug here
            LOGGER.exception("pulsar_producer completion thread failed")
        finally:
            self._finish()

    def _settle(self, raw: bytes) -> None:
        """Settles the futures of drained pp_completion rows."""
        view = memoryview(raw)
        tokens, results = view.cast("Q")[1::8], view.cast("i")[4::16]
        hooked: list[MessageFuture] = []
        with self._cond:
            pop = self._futures.pop
            if not self._hook_count[0] and not any(results):
                for fut, (row,) in zip(map(pop, tokens, repeat(None)), _ROWS.iter_unpack(raw)):
                    if fut is not None:
                        fut._row = row
                        fut._state = _FINISHED
            else:
                for token, (row,), result in zip(tokens, _ROWS.iter_unpack(raw), results):
                    fut = pop(token, None)
                    if fut is None:
                        continue
                    if result:
                        ptr = int.from_bytes(row[56:64], "little")
                        text = ctypes.string_at(ptr).decode(errors="replace") if ptr else ""
                        fut._exception = error_for(result, snake(text))
                    else:
                        fut._row = row
                    fut._state = _FINISHED
                    if fut._hooks:
                        hooked.append(fut)
                settle_hooked(hooked)
            self._cond.notify_all()
            waiters, self._room_waiters = self._room_waiters, []
        for loop, waiter in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, waiter, None)
            except RuntimeError:
                pass
        if hooked:
            run_hooks(hooked)

    def _logs(self, area: Any) -> None:
        """Passes waiting log records to the "pulsar_producer" logger."""
        count = ctypes.c_size_t()
        while LIB.pp_client_logs(self._handle, area, len(area), ctypes.byref(count)) == OK and count.value:
            for r in area[: count.value]:
                level = _LEVELS.get(r.level, logging.WARNING)
                if LOGGER.isEnabledFor(level):
                    record = LOGGER.makeRecord(LOGGER.name, level, "libpulsar_producer", 0, "%s",
                                               (r.message.decode(errors="replace"),), None, extra={
                                                   "topic": r.topic.decode(), "producer": r.producer_name.decode(),
                                                   "broker": r.broker.decode(), "connection": r.connection})
                    record.created, record.msecs = r.time_ms / 1000, r.time_ms % 1000
                    LOGGER.handle(record)
            if count.value < len(area):
                return

    def _finish(self) -> None:
        """Ends the client: keeps the last counters, frees the handle, fails what never completed."""
        self._final = Stats._read(LIB.pp_client_stats, self._handle)
        for p in list(self._producers):
            p._closed(Stats._read(LIB.pp_producer_stats, p._handle))
        LIB.pp_client_stop(self._handle, 0, None, 0)
        exc = _closed_error(f"client of {self.service_url}")
        with self._cond:
            left = [f for f in self._futures.values() if f._state != _FINISHED]
            self._futures.clear()
            for fut in left:
                fut._exception, fut._state = exc, _FINISHED
            hooked = [f for f in left if f._hooks]
            settle_hooked(hooked)
            self._cond.notify_all()
            waiters, self._room_waiters = self._room_waiters, []
        for loop, waiter in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, waiter, None)
            except RuntimeError:
                pass
        run_hooks(hooked)

    def _room(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """A future that the completion thread resolves after its next batch of completions."""
        waiter: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self._state == "closed":
                waiter.set_result(None)
            self._room_waiters.append((loop, waiter))
        return waiter

    def _wait_settled(self, futures: list[MessageFuture], deadline: Optional[float]) -> int:
        """Waits until the futures are settled, or the deadline; returns how many are not."""
        with self._cond:
            for fut in futures:
                while fut._state != _FINISHED:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return sum(f._state != _FINISHED for f in futures)
                    self._cond.wait(left)
        return 0

    def _flush(self, handle: int, futures: list[MessageFuture], deadline: Optional[float], what: str) -> None:
        buf = errbuf()
        rc = LIB.pp_flush(handle, 0, buf, _native.ERRBUF_SIZE)  # sends open batches now
        if rc not in (OK, _TIMEOUT):
            raise _fail(rc, buf)
        if threading.current_thread() is not self._thread:  # a callback cannot wait for itself
            left = self._wait_settled(futures, deadline)
            if left:
                raise error("Timeout", f"flush of {what}: {left} messages still pending after the timeout")

    # --- public -------------------------------------------------------------------

    def flush(self, timeout: Optional[Duration] = None) -> None:
        """Sends every producer's open batches now and waits until the future of every message
        sent before the call is settled. ``timeout``: timedelta or int ms (None: no limit)."""
        self._check()
        self._flush(self._handle, list(self._futures.copy().values()), _deadline(timeout), self.service_url)

    def close(self, timeout: Optional[Duration] = None) -> None:
        """Sends what is pending, closes every producer and the client, and waits (up to
        ``timeout``, timedelta or int ms; None: no limit) until every future is settled; those
        still pending then fail with Timeout, and so does close(). Idempotent; does nothing
        in a forked child."""
        if _forked:
            return
        deadline = _deadline(timeout)
        on_thread = threading.current_thread() is self._thread
        if self._state == "open" and not on_thread:
            try:
                self.flush(None if deadline is None else max(0, _ms_left(deadline)))
            except PulsarProducerError:
                pass  # pp_client_close below says what is wrong
        with self._lock:
            first, self._state = self._state == "open", "closing" if self._state == "open" else self._state
        if not first:
            if not on_thread:
                self._done.wait()
            return
        try:
            buf = errbuf()
            rc = LIB.pp_client_close(self._handle, _ms_left(deadline), buf, _native.ERRBUF_SIZE)
            if not on_thread:
                self._thread.join()
        finally:
            self._state = "closed"
            _live.discard(self)
            self._done.set()
        if rc not in (OK, _CLOSED):
            raise _fail(rc, buf)

    def stats(self) -> Stats:
        """The client's counters (after close(), the last ones)."""
        if _forked:
            raise forked_error()
        s = self._final or Stats._read(_native.PYLIB.pp_client_stats, self._handle) or self._final
        if s is None:
            raise _closed_error(f"client of {self.service_url}")
        return s

    @property
    def closed(self) -> bool:
        return self._state != "open"

    def _check(self) -> None:
        if _forked:
            raise forked_error()
        if self._state != "open":
            raise _closed_error(f"client of {self.service_url}")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: Optional[type[BaseException]], ev: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        try:
            self.close()
        except PulsarProducerError:
            if et is None:
                raise

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.service_url} {self._state}>"


def _resolve(fut: asyncio.Future[None], exc: Optional[BaseException]) -> None:
    if not fut.done():
        if exc is None:
            fut.set_result(None)
        else:
            fut.set_exception(exc)


def _closed_error(what: str) -> PulsarProducerError:
    return forked_error() if _forked else error("AlreadyClosed", f"{what} is closed")


class Producer:
    """Publishes messages to one topic.

    ``Producer(service_url, topic, **options)`` is the convenience: a Client of its own
    (given the client options among ``options``) and one producer (given the rest),
    created and registered before it returns; closing the producer closes that client.
    ``client.create_producer(topic, **options)`` makes producers that share a client.
    Options are snake_case (docs/OPTIONS.md); Ctrl-C cancels the creation. Thread-safe.
    """

    def __init__(self, service_url: str, topic: str, **options: Any) -> None:
        client = Client.__new__(Client)
        client._start(service_url, {k: v for k, v in options.items() if scope_of(k) == "client"}, None, "Producer()")
        try:
            popts = {k: v for k, v in options.items() if scope_of(k) != "client"}
            handle = client._open(topic, popts, "Producer()")
            try:
                _wait_created(handle, CREATE_SLICE_MS)
            except BaseException:
                _stop(handle)
                raise
        except BaseException:
            client.close(0)
            raise
        self._setup(client, handle, topic, popts, True)

    @classmethod
    def _made(cls, client: Client, handle: int, topic: str, options: dict[str, Any], owns: bool) -> Producer:
        p = cls.__new__(cls)
        p._setup(client, handle, topic, options, owns)
        return p

    def _setup(self, client: Client, handle: int, topic: str, options: dict[str, Any], owns: bool) -> None:
        self._client, self._handle, self._topic, self._owns = client, handle, topic, owns
        self._block = bool(options.get("block_if_queue_full"))
        self._cls = future_class(client._cond, client._hook_count)
        self._futures = client._futures
        self._lock = threading.Lock()
        self._state = "open"
        self._done = threading.Event()
        self._final: Optional[Stats] = None
        name, needed = ctypes.create_string_buffer(256), ctypes.c_size_t()
        if _native.PYLIB.pp_producer_name(handle, name, 256, ctypes.byref(needed)) != OK and needed.value > 256:
            name = ctypes.create_string_buffer(needed.value)
            _native.PYLIB.pp_producer_name(handle, name, needed.value, None)
        self._name = name.value.decode()
        parts = ctypes.c_int32()
        _native.PYLIB.pp_producer_partitions(handle, ctypes.byref(parts))
        self._partitions = parts.value
        client._producers.add(self)

    # --- sending --------------------------------------------------------------------

    def send_async(self, payload: Payload, **options: Unpack[SendOptions]) -> MessageFuture:
        """Queues a message and returns a future settled with its MessageId or its error.

        ``payload``: bytes-like, or None for a null value (a tombstone). Keyword options
        (SendOptions): key, ordering_key, properties, event_time, deliver_at, deliver_after,
        sequence_id, replication_clusters, disable_replication. Raises at once what the
        library refuses at once: TypeError / InvalidMessage for bad arguments, AlreadyClosed,
        MessageTooBig, and ProducerQueueIsFull or MemoryBufferIsFull when the queue is full
        (with block_if_queue_full=True the call waits for room instead).
        """
        if options or type(payload) is not bytes:
            return self._submit(payload, options, 0)
        fut = _new(self._cls)
        token = id(fut)
        self._futures[token] = fut
        if _send(self._handle, payload, len(payload), None, token, None, 0):
            buf = errbuf()  # refused: ask again with room for the reason (it may go through now)
            rc = LIB.pp_send(self._handle, payload, len(payload), None, token, buf, _native.ERRBUF_SIZE)
            if rc:
                del self._futures[token]
                raise self._error(rc, buf)
        return fut

    def _submit(self, payload: Payload, options: Any, flags: int, fut: Optional[MessageFuture] = None,
                msg: Optional[_native.MessageC] = None) -> MessageFuture:
        """Sends one message with pp_send_messages; raises if the library refuses it."""
        msg = build(payload, options) if msg is None else msg
        fut = _new(self._cls) if fut is None else fut
        token = id(fut)
        self._futures[token] = fut
        buf = errbuf()
        rc = LIB.pp_send_messages(self._handle, ctypes.byref(msg), 1, flags, None,
                                  ctypes.byref(ctypes.c_void_p(token)), None, buf, _native.ERRBUF_SIZE)
        if rc:
            del self._futures[token]
            raise self._error(rc, buf)
        return fut

    def send(self, payload: Payload, **options: Unpack[SendOptions]) -> MessageId:
        """Sends a message and waits for its MessageId (arguments as send_async()); the open
        batch goes out at once. Raises the error that failed the message. Not from a
        done-callback, which would wait for itself: use send_async() there."""
        if threading.current_thread() is self._client._thread:
            raise RuntimeError("Producer.send() in a done-callback would wait for itself; use send_async()")
        return self._submit(payload, options, _native.SEND_FLUSH).result()

    async def asend(self, payload: Payload, **options: Unpack[SendOptions]) -> MessageId:
        """Sends a message from a coroutine (arguments and errors as send_async()). Never blocks
        the event loop: with block_if_queue_full=True a full queue is waited for asynchronously.
        Cancelling the await does not unsend a message the library took."""
        loop = asyncio.get_running_loop()
        msg = build(payload, options)
        result: asyncio.Future[MessageId] = loop.create_future()
        fut: MessageFuture = _new(self._cls)
        fut._aio = (loop, result)
        with self._client._cond:
            fut._hook()
        try:
            while True:
                try:
                    self._submit(None, None, _native.SEND_NONBLOCK, fut, msg)
                    break
                except PulsarProducerError as exc:
                    if not (self._block and exc.code in _FULL):
                        raise
                waiter = self._client._room(loop)  # first: a completion from now on wakes it
                try:
                    self._submit(None, None, _native.SEND_NONBLOCK, fut, msg)
                    break
                except PulsarProducerError as exc:
                    if exc.code not in _FULL:
                        raise
                await waiter
        except BaseException:
            with self._client._cond:
                if fut._hooks and fut._state != _FINISHED:
                    fut._hooks, fut._aio = False, None
                    fut._hook_count[0] -= 1
            raise
        return await result

    def _error(self, rc: int, buf: Any) -> PulsarProducerError:
        if rc in (_HANDLE, _CLOSED) and self._state != "open":
            return _closed_error(f"producer for {self._topic}")
        return _fail(rc, buf)

    # --- flush, close, state ---------------------------------------------------------

    def _mine(self) -> list[MessageFuture]:
        return [f for f in self._futures.copy().values() if type(f) is self._cls]

    def flush(self, timeout: Optional[Duration] = None) -> None:
        """Sends the open batch now and waits until the future of every message sent before
        the call is settled (from a done-callback it does not wait). ``timeout``: timedelta or
        int ms (None: no limit); Timeout if messages are still pending then."""
        if self._state != "open":
            raise _closed_error(f"producer for {self._topic}")
        self._client._flush(self._handle, self._mine(), _deadline(timeout), self._topic)

    def close(self, timeout: Optional[Duration] = None) -> None:
        """Sends what is pending and closes the producer (and its client, for a Producer made
        with Producer(...)), waiting up to ``timeout`` (timedelta or int ms; None: no limit)
        for pending messages: those still pending then fail with Timeout, and so does close().
        Every future is settled when it returns (in a done-callback, right after). Idempotent;
        does nothing in a forked child."""
        if _forked:
            return
        deadline = _deadline(timeout)
        on_thread = threading.current_thread() is self._client._thread
        if self._state == "open" and not on_thread:
            try:  # first, and interruptible: Ctrl-C here leaves the producer open
                self.flush(None if deadline is None else _ms_left(deadline))
            except PulsarProducerError:
                pass  # pp_close below says what is wrong
        with self._lock:
            first, self._state = self._state == "open", "closing" if self._state == "open" else self._state
        if not first:
            if not on_thread:
                self._done.wait()
            return
        try:
            buf = errbuf()
            rc = LIB.pp_close(self._handle, _ms_left(deadline), buf, _native.ERRBUF_SIZE)
            if not on_thread:
                self._client._wait_settled(self._mine(), None)
            self._closed(Stats._read(LIB.pp_producer_stats, self._handle))
            _stop(self._handle)
            if self._owns:
                self._client.close(None if deadline is None else _ms_left(deadline))
        finally:
            self._closed(None)
            self._done.set()
        if rc not in (OK, _CLOSED, _HANDLE):
            raise _fail(rc, buf)

    def _closed(self, final: Optional[Stats]) -> None:
        self._state = "closed"
        self._final = self._final or final
        self._client._producers.discard(self)

    def stats(self) -> Stats:
        """The producer's counters (after close(), the last ones)."""
        if _forked:
            raise forked_error()
        s = self._final or Stats._read(_native.PYLIB.pp_producer_stats, self._handle) or self._final
        if s is None:
            raise _closed_error(f"producer for {self._topic}")
        return s

    @property
    def client(self) -> Client:
        return self._client

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def producer_name(self) -> str:
        """The producer_name option, or the name the broker gave."""
        return self._name

    @property
    def partitions(self) -> int:
        """The topic's partition count: 0 for a topic that is not partitioned."""
        return self._partitions

    @property
    def closed(self) -> bool:
        return self._state != "open"

    @property
    def pending(self) -> int:
        """Messages sent whose completion has not been taken yet."""
        n = ctypes.c_size_t()
        return n.value if _native.PYLIB.pp_pending(self._handle, ctypes.byref(n)) == OK else 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: Optional[type[BaseException]], ev: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        try:
            self.close()
        except PulsarProducerError:
            if et is None:
                raise

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._topic} ({self._name}) {self._state}>"


def _after_fork_in_child() -> None:
    """The child of a fork has no library threads: settle what waits, refuse all further use."""
    global _forked
    _forked = True
    exc = forked_error()
    for client in list(_live):
        client._cond = cond = threading.Condition()
        for p in list(client._producers):
            p._cls._condition = cond
        for fut in client._futures.values():
            fut._exception, fut._state = exc, _FINISHED
    _live.clear()


@atexit.register
def _close_at_exit() -> None:
    for client in list(_live):
        try:
            client.close(EXIT_CLOSE_TIMEOUT_MS)
        except Exception:
            LOGGER.exception("closing %r at exit", client)


os.register_at_fork(after_in_child=_after_fork_in_child)
