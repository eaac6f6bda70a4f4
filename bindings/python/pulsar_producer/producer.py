"""Client and Producer: the public API.

How this works: a Client is a library client (pp_client_start) with ONE daemon
completion thread; its producers share its connections, its memory limit and
its completion queue. The thread waits in pp_drain (GIL released) and, each
time it returns, settles the futures of the completions it took in bulk (see
_future), wakes coroutines waiting for room, and passes the library's log
records (pp_client_logs) to the "pulsar_producer" logger.

Sends call the library directly, one call per message on the caller's thread
(pp_send for send_async(bytes), pp_send_messages for the rest, after the
producer's interceptors and router ran: _hooks), and the library does all
flow control: with block_if_queue_full a send blocks inside
the library, the GIL released; asend() passes PP_SEND_NONBLOCK and, when the
queue is full, awaits the completion thread's next batch (room appears only
when messages complete), woken by call_soon_threadsafe. (Watching the client's
event fd from the loop would race with that thread, which empties the fd as it
takes completions: wake-ups would be lost.) A message's user data
is its future's id(); the future waits in the client's dict for its
completion. Creation (pp_producer_open) is waited for in slices of 200 ms so
that Ctrl-C cancels it (pp_stop); an asyncio creation waits on a helper thread
and task.cancel() stops it. Nothing polls or sleeps. A client's auth callable
is its token supplier (_auth), set before any producer connects.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import json
import logging
import os
import struct
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures._base import FINISHED
from dataclasses import dataclass
from itertools import repeat
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional

from . import _native
from ._auth import Auth, TokenSupplier
from ._future import LOGGER, AioTarget, MessageFuture, future_class, run_hooks, settle_hooked
from ._hooks import Interceptor, OutgoingMessage, Router, before_send, check_hooks, on_ack, route
from ._message import UNSET, PayloadArg, SendOptions, build, set_key, set_properties
from ._native import ERRBUF_SIZE, INT_MAX, LIB, OK, PYLIB, RC, errbuf
from ._options import Duration, encode, number, schema_json, scope_of, snake
from ._value import shape_of
from .errors import PulsarProducerError, error, error_for
from .message_id import MessageId

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

__all__ = ["Client", "Producer", "Stats"]

DRAIN_CAPACITY = 4096  # completions per pp_drain
CREATE_SLICE_MS = 200  # the longest a blocking creation goes without handling signals
EXIT_CLOSE_TIMEOUT_MS = 10_000
_ROWS = struct.Struct(f"{ctypes.sizeof(_native.CompletionC)}s")
# Where the fields _settle reads lie in a pp_completion row: user_data and error in 8-byte words,
# result in 4-byte words.
_TOKEN_AT, _RESULT_AT = _native.CompletionC.user_data.offset // 8, _native.CompletionC.result.offset // 4
_ERROR_AT = _native.CompletionC.error.offset
_FULL = (RC["ProducerQueueIsFull"], RC["MemoryBufferIsFull"])
_TIMEOUT, _CLOSED, _HANDLE = RC["Timeout"], RC["AlreadyClosed"], RC["InvalidHandle"]
_CREATING = RC["ProducerNotInitialized"]  # pp_producer_wait: still being created
_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}
_new, _send = object.__new__, LIB.pp_send
_forked = False
_live: set[Client] = set()


def forked_error() -> PulsarProducerError:
    return error("Forked", (
        f"this process ({os.getpid()}) was forked after pulsar_producer was loaded. The Go runtime inside "
        "libpulsar_producer does not survive fork(): clients and producers inherited from the parent cannot "
        "be used here, and no new ones can be made. Start child processes with multiprocessing's 'spawn' or "
        "'forkserver' start method (multiprocessing.get_context('spawn')), or import pulsar_producer only "
        "in the child."))


def _fail(rc: int, buf: Any) -> PulsarProducerError:
    if _forked or rc == RC["Forked"]:
        return forked_error()
    return error_for(rc, snake(buf.value.decode(errors="replace")))


def _closed_error(what: str) -> PulsarProducerError:
    return forked_error() if _forked else error("AlreadyClosed", f"{what} is closed")


def _deadline(timeout: Optional[Duration]) -> Optional[float]:
    if timeout is None:
        return None
    ms = number(timeout, "timeout", ms=True)
    if ms < 0:
        raise error("InvalidArgument", f"timeout must not be negative, got {ms} ms")
    return time.monotonic() + ms / 1000


def _ms_left(deadline: Optional[float]) -> int:
    return INT_MAX if deadline is None else max(0, min(INT_MAX, int((deadline - time.monotonic()) * 1000)))


def _wait_created(handle: int, slice_ms: int) -> None:
    """Waits until a producer from pp_producer_open is ready; raises why its creation failed."""
    buf = errbuf()
    while True:
        rc = LIB.pp_producer_wait(handle, slice_ms, buf, ERRBUF_SIZE)
        if rc == OK:
            return
        if rc != _CREATING:  # anything else is why creation failed
            raise _fail(rc, buf)


def _stop(handle: int) -> None:
    LIB.pp_stop(handle, 0, None, 0)


def _resolve(fut: asyncio.Future[None], exc: Optional[BaseException] = None) -> None:
    if not fut.done():
        fut.set_result(None) if exc is None else fut.set_exception(exc)


def _call_soon(loop: asyncio.AbstractEventLoop, *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(*args)
    except RuntimeError:  # the loop is closed: nobody waits any more
        pass


@dataclass(frozen=True)
class Stats:
    """Counters of a producer, or of a client (sums over its producers, plus its connections).
    Latencies: send to receipt, in microseconds, each the upper bound of its bucket."""

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
        return cls(*(getattr(out, f[0]) for f in out._fields_[1:])) if fn(handle, ctypes.byref(out)) == OK else None


class _Closable:
    """What Client and Producer share: with-blocks, and an idempotent close()."""

    _lock: threading.Lock
    _done: threading.Event
    _state = "open"
    _final: Optional[Stats] = None

    def flush(self, timeout: Optional[Duration] = None) -> None: ...

    def close(self, timeout: Optional[Duration] = None) -> None: ...

    def _begin_close(self, timeout: Optional[Duration], on_thread: bool) -> tuple[bool, Optional[float]]:
        """Flushes (interruptibly: Ctrl-C there leaves it open), then claims the close: returns
        whether this is the first closer (a later one waits for it), and the deadline."""
        deadline = _deadline(timeout)
        if self._state == "open" and not on_thread:
            try:
                self.flush(None if deadline is None else _ms_left(deadline))
            except PulsarProducerError:
                pass  # the close itself will say what is wrong
        with self._lock:
            first = self._state == "open"
            if first:
                self._state = "closing"
        if not first and not on_thread:
            self._done.wait()
        return first, deadline

    def _stats(self, fn: Any, handle: int, what: str) -> Stats:
        if _forked:
            raise forked_error()
        s = self._final or Stats._read(fn, handle) or self._final
        if s is None:
            raise _closed_error(what)
        return s

    @property
    def closed(self) -> bool:
        return self._state != "open"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: Optional[type[BaseException]], ev: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        try:
            self.close()
        except PulsarProducerError:
            if et is None:
                raise


class Client(_Closable):
    """A connection to one Pulsar cluster: ``Client(service_url, auth=None, **client_options)``
    (snake_case, docs/OPTIONS.md) connects once a producer is created. ``auth``: a token (str), or a
    callable returning one, called before each new connection and when a broker asks for fresh
    credentials. Its producers share its connections, memory limit and one completion thread.
    Thread-safe."""

    _token: Optional[TokenSupplier] = None

    def __init__(self, service_url: str, *, auth: Optional[Auth] = None, **options: Any) -> None:
        self._start(service_url, options, "client", "Client()", auth)

    def _start(self, url: str, options: dict[str, Any], scope: Optional[str], where: str,
               auth: Optional[Auth]) -> None:
        if _forked:
            raise forked_error()
        if not isinstance(url, str):
            raise TypeError(f"service_url must be a str, not {type(url).__name__}")
        token = None
        if isinstance(auth, str):
            if options.get("auth_token") is not None:
                raise error("InvalidConfiguration", 'give auth or option "auth_token", not both')
            options = {**options, "auth_token": auth}
        elif auth is not None:
            if not callable(auth):
                raise TypeError(f"auth must be a token (str) or a callable returning one, not {type(auth).__name__}")
            token = TokenSupplier(auth)
        opts, raw, handle, buf = encode(options, scope, where), url.encode(), ctypes.c_uint64(), errbuf()
        rc = LIB.pp_client_start(raw, len(raw), json.dumps(opts).encode(), ctypes.byref(handle), buf, ERRBUF_SIZE)
        if rc != OK:
            raise _fail(rc, buf)
        if token is not None:  # before any producer, hence any connection
            rc = LIB.pp_client_set_token_provider(handle, token.c_function, None, buf, ERRBUF_SIZE)
            if rc != OK:
                LIB.pp_client_stop(handle, 0, None, 0)
                raise _fail(rc, buf)
            self._token = token
        self._handle, self.service_url = handle.value, url
        self._mutex, self._hook_count = threading.RLock(), [0]
        self._cond = threading.Condition(self._mutex)
        self._futures: dict[int, MessageFuture] = {}
        self._producers: set[Producer] = set()
        self._room_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._lock, self._done = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pulsar_producer completions {url}", daemon=True)
        self._thread.start()
        _live.add(self)

    def _open(self, topic: str, options: dict[str, Any], where: str) -> int:
        if _forked:
            raise forked_error()
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a str, not {type(topic).__name__}")
        opts, raw, handle, buf = encode(options, "producer", where), topic.encode(), ctypes.c_uint64(), errbuf()
        rc = LIB.pp_producer_open(self._handle, raw, len(raw), json.dumps(opts).encode(), ctypes.byref(handle),
                                  buf, ERRBUF_SIZE)
        if rc != OK:
            raise _closed_error(f"client of {self.service_url}") if rc == _HANDLE else _fail(rc, buf)
        return handle.value

    def _explained(self, exc: PulsarProducerError) -> PulsarProducerError:
        """A creation's error, with what the auth callable raised if that made it fail."""
        return exc if self._token is None else self._token.explain(exc)

    def _create(self, topic: str, options: dict[str, Any], where: str) -> int:
        handle = self._open(topic, options, where)
        try:
            _wait_created(handle, CREATE_SLICE_MS)
        except PulsarProducerError as exc:  # it failed (pp_stop frees it)
            _stop(handle)
            better = self._explained(exc)
            if better is exc:
                raise
            raise better from better.__cause__
        except BaseException:  # Ctrl-C: pp_stop cancels the creation
            _stop(handle)
            raise
        return handle

    def create_producer(self, topic: str, *, router: Optional[Router] = None,
                        interceptors: Optional[Iterable[Interceptor]] = None, **options: Any) -> Producer:
        """A producer on ``topic``, once the broker registered it. create_timeout bounds the wait (by
        default a waitForExclusive producer waits for the topic as long as it takes); Ctrl-C cancels it.
        ``router(message, num_partitions) -> int`` picks the partition of each message of a partitioned
        topic; ``interceptors`` see each message before it is sent and hear its outcome."""
        hooks = check_hooks(router, interceptors)
        return Producer._made(self, self._create(topic, options, "create_producer()"), topic, options, False, hooks)

    async def acreate_producer(self, topic: str, *, router: Optional[Router] = None,
                               interceptors: Optional[Iterable[Interceptor]] = None, **options: Any) -> Producer:
        """create_producer() for asyncio: never blocks the loop; cancelling the task cancels it."""
        hooks = check_hooks(router, interceptors)
        handle = self._open(topic, options, "acreate_producer()")
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wait() -> None:
            try:
                _wait_created(handle, INT_MAX)
                _call_soon(loop, _resolve, ready)
            except BaseException as exc:
                _call_soon(loop, _resolve, ready, exc)

        threading.Thread(target=wait, name=f"pulsar_producer create {topic}", daemon=True).start()
        try:
            await ready
        except PulsarProducerError as exc:  # it failed (pp_stop frees it)
            _stop(handle)
            better = self._explained(exc)
            if better is exc:
                raise
            raise better from better.__cause__
        except BaseException:  # cancelled: pp_stop cancels the creation
            _stop(handle)
            raise
        return Producer._made(self, handle, topic, options, False, hooks)

    def _run(self) -> None:
        area, logs = (_native.CompletionC * DRAIN_CAPACITY)(), (_native.LogRecordC * 64)()
        addr, count, drain = ctypes.addressof(area), ctypes.c_size_t(), LIB.pp_drain
        try:
            while True:
                rc = drain(self._handle, addr, DRAIN_CAPACITY, INT_MAX, ctypes.byref(count))
                if count.value:
                    self._settle(ctypes.string_at(addr, count.value * _ROWS.size))
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
        tokens = view.cast("Q")[_TOKEN_AT :: _ROWS.size // 8]  # user_data of each row
        results = view.cast("i")[_RESULT_AT :: _ROWS.size // 4]
        hooked: list[MessageFuture] = []
        with self._cond:
            pop = self._futures.pop
            if not self._hook_count[0] and not any(results):  # the common case
                for fut, (row,) in zip(map(pop, tokens, repeat(None)), _ROWS.iter_unpack(raw)):
                    if fut is not None:
                        fut._row, fut._state = row, FINISHED
            else:
                for token, (row,), result in zip(tokens, _ROWS.iter_unpack(raw), results):
                    fut = pop(token, None)
                    if fut is None:
                        continue
                    if result:
                        ptr = int.from_bytes(row[_ERROR_AT : _ERROR_AT + 8], sys.byteorder)  # .error
                        text = ctypes.string_at(ptr).decode(errors="replace") if ptr else ""
                        fut._exception = error_for(result, snake(text))
                    else:
                        fut._row = row
                    fut._state = FINISHED
                    if fut._hooks:
                        hooked.append(fut)
                settle_hooked(hooked)
            self._wake()
        run_hooks(hooked)

    def _wake(self) -> None:
        """Tells threads waiting on futures, and coroutines waiting for room. Call with _cond held."""
        self._cond.notify_all()
        waiters, self._room_waiters = self._room_waiters, []
        for loop, waiter in waiters:
            _call_soon(loop, _resolve, waiter)

    def _logs(self, area: Any) -> None:
        """Passes waiting log records to the "pulsar_producer" logger, with their fields as extra."""
        count = ctypes.c_size_t()
        while LIB.pp_client_logs(self._handle, area, len(area), ctypes.byref(count)) == OK and count.value:
            for r in area[: count.value]:
                level = _LEVELS.get(r.level, logging.WARNING)
                if LOGGER.isEnabledFor(level):
                    record = LOGGER.makeRecord(LOGGER.name, level, "libpulsar_producer", 0, "%s", (
                        r.message.decode(errors="replace"),), None, extra={
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
            left = [f for f in self._futures.values() if f._state != FINISHED]
            self._futures.clear()
            for fut in left:
                fut._exception, fut._state = exc, FINISHED
            hooked = [f for f in left if f._hooks]
            settle_hooked(hooked)
            self._wake()
        run_hooks(hooked)

    def _room(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """A future that the completion thread resolves after its next batch of completions."""
        waiter: asyncio.Future[None] = loop.create_future()
        with self._cond:
            self._room_waiters.append((loop, waiter))
        return waiter

    def _wait_settled(self, futures: list[MessageFuture], deadline: Optional[float]) -> int:
        """Waits until the futures are settled or the deadline passes; returns how many are not."""
        with self._cond:
            for fut in futures:
                while fut._state != FINISHED:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return sum(f._state != FINISHED for f in futures)
                    self._cond.wait(left)
        return 0

    def _flush(self, handle: int, futures: list[MessageFuture], timeout: Optional[Duration], what: str) -> None:
        deadline, buf = _deadline(timeout), errbuf()
        rc = LIB.pp_flush(handle, 0, buf, ERRBUF_SIZE)  # sends the open batches now
        if rc not in (OK, _TIMEOUT):
            raise _fail(rc, buf)
        if threading.current_thread() is not self._thread:  # a done-callback cannot wait for itself
            left = self._wait_settled(futures, deadline)
            if left:
                raise error("Timeout", f"flush of {what}: {left} messages still pending after the timeout")

    def flush(self, timeout: Optional[Duration] = None) -> None:
        """Producer.flush() for every producer of the client."""
        if self._state != "open":
            raise _closed_error(f"client of {self.service_url}")
        self._flush(self._handle, list(self._futures.copy().values()), timeout, self.service_url)

    def close(self, timeout: Optional[Duration] = None) -> None:
        """Producer.close() for every producer, then closes the client and ends its thread."""
        if _forked:
            return
        on_thread = threading.current_thread() is self._thread
        first, deadline = self._begin_close(timeout, on_thread)
        if not first:
            if not on_thread:
                self._thread.join()
            return
        try:
            buf = errbuf()
            rc = LIB.pp_client_close(self._handle, _ms_left(deadline), buf, ERRBUF_SIZE)
            for p in list(self._producers):
                p._state = "closed"
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
        return self._stats(PYLIB.pp_client_stats, self._handle, f"client of {self.service_url}")

    def __repr__(self) -> str:
        return f"<Client {self.service_url} {self._state}>"


class Producer(_Closable):
    """Publishes messages to one topic. ``Producer(service_url, topic, **options)`` is the convenience:
    a Client of its own (given the client options and ``auth``) and a producer (given the rest, with
    ``router`` and ``interceptors``), registered before it returns (Ctrl-C cancels); closing it closes
    that client. Thread-safe."""

    def __init__(self, service_url: str, topic: str, *, auth: Optional[Auth] = None,
                 router: Optional[Router] = None, interceptors: Optional[Iterable[Interceptor]] = None,
                 **options: Any) -> None:
        hooks = check_hooks(router, interceptors)
        client = Client.__new__(Client)
        client._start(service_url, {k: v for k, v in options.items() if scope_of(k) == "client"}, None, "Producer()",
                      auth)
        popts = {k: v for k, v in options.items() if scope_of(k) != "client"}
        try:
            handle = client._create(topic, popts, "Producer()")
        except BaseException:
            client.close(0)
            raise
        self._setup(client, handle, topic, popts, True, hooks)

    @classmethod
    def _made(cls, client: Client, handle: int, topic: str, options: dict[str, Any], owns: bool,
              hooks: tuple[Optional[Router], tuple[Interceptor, ...]]) -> Producer:
        p = cls.__new__(cls)
        p._setup(client, handle, topic, options, owns, hooks)
        return p

    def _setup(self, client: Client, handle: int, topic: str, options: dict[str, Any], owns: bool,
               hooks: tuple[Optional[Router], tuple[Interceptor, ...]]) -> None:
        self._client, self._handle, self._topic, self._owns = client, handle, topic, owns
        self._block = bool(options.get("block_if_queue_full"))
        self._cls, self._futures = future_class(client._cond, client._mutex, client._hook_count), client._futures
        self._lock, self._done = threading.Lock(), threading.Event()
        self._router, self._interceptors = hooks
        self._hooked = self._router is not None or bool(self._interceptors)
        schema = options.get("schema")  # the library accepted it: its shape can be read
        self._shape = shape_of(None if schema is None else schema_json(schema, "schema"))
        name, needed = ctypes.create_string_buffer(256), ctypes.c_size_t()
        if PYLIB.pp_producer_name(handle, name, 256, ctypes.byref(needed)) != OK and needed.value > 256:
            name = ctypes.create_string_buffer(needed.value)
            PYLIB.pp_producer_name(handle, name, needed.value, None)
        parts = ctypes.c_int32()
        PYLIB.pp_producer_partitions(handle, ctypes.byref(parts))
        self._name, self._partitions = name.value.decode(), parts.value
        client._producers.add(self)

    def send_async(self, payload: PayloadArg = UNSET, **options: Unpack[SendOptions]) -> MessageFuture:
        """Queues a message; the future settles with its MessageId or the error that failed it.
        ``payload``: bytes-like, or None for a null value; or instead ``value=``, a value of the
        producer's schema. Options: see SendOptions. Raises what the library refuses at once:
        TypeError, InvalidMessage, AlreadyClosed, MessageTooBig, and ProducerQueueIsFull or
        MemoryBufferIsFull (with block_if_queue_full=True it waits instead); what an interceptor's
        before_send() raises; InvalidArgument for the router's failure or an index out of range."""
        if options or type(payload) is not bytes or self._hooked:
            return self._submit(*self._prepare(payload, options), 0)
        fut = _new(self._cls)
        token = id(fut)
        self._futures[token] = fut
        if _send(self._handle, payload, len(payload), None, token, None, 0):
            buf = errbuf()  # refused: ask again with room for the reason (it may go through now)
            rc = LIB.pp_send(self._handle, payload, len(payload), None, token, buf, ERRBUF_SIZE)
            if rc:
                raise self._refuse(fut, rc, buf)
        return fut

    def _prepare(self, payload: PayloadArg, options: Any) -> tuple[_native.MessageC, Optional[OutgoingMessage]]:
        """The message as a pp_message, once the interceptors and the router have run (see _hooks)."""
        msg = build(payload, options, self._shape)
        if not self._hooked:
            return msg, None
        view = OutgoingMessage(self._topic, None if payload is UNSET else payload, options)
        if self._interceptors:
            before_send(self._interceptors, view)
            set_key(msg, view.key)
            set_properties(msg, view.properties)
        if self._router is not None:
            parts = ctypes.c_int32()  # now: partitions an admin added may have been found since
            if PYLIB.pp_producer_partitions(self._handle, ctypes.byref(parts)) == OK and parts.value > 0:
                try:
                    msg.partition = route(self._router, view, parts.value)
                except PulsarProducerError as exc:
                    on_ack(self._interceptors, view, None, exc)
                    raise
        return msg, view

    def _submit(self, msg: _native.MessageC, view: Optional[OutgoingMessage], flags: int,
                aio: Optional[AioTarget] = None, last_try: bool = True) -> MessageFuture:
        """Sends one message with pp_send_messages; raises if the library refuses it (then, on the
        last try, its interceptors hear so)."""
        fut: MessageFuture = _new(self._cls)
        if aio is not None or (view is not None and self._interceptors):
            fut._aio = aio
            if view is not None and self._interceptors:
                fut._ack = (self._interceptors, view)
            with self._client._cond:
                fut._hook()
        token = id(fut)
        self._futures[token] = fut
        buf = errbuf()
        rc = LIB.pp_send_messages(self._handle, ctypes.byref(msg), 1, flags, None,
                                  ctypes.byref(ctypes.c_void_p(token)), None, buf, ERRBUF_SIZE)
        if rc:
            exc = self._refuse(fut, rc, buf)
            if last_try and view is not None:
                on_ack(self._interceptors, view, None, exc)
            raise exc
        return fut

    def _refuse(self, fut: MessageFuture, rc: int, buf: Any) -> PulsarProducerError:
        """The error of a refused message; its future is settled (flush() may wait for it) silently."""
        if rc in (_HANDLE, _CLOSED) and self._state != "open":
            exc = _closed_error(f"producer for {self._topic}")
        else:
            exc = _fail(rc, buf)
        with self._client._cond:
            self._futures.pop(id(fut), None)
            if fut._hooks:
                fut._hooks, fut._aio, fut._ack = False, None, None
                fut._hook_count[0] -= 1
            fut._exception, fut._state = exc, FINISHED
            self._client._cond.notify_all()
        return exc

    def send(self, payload: PayloadArg = UNSET, **options: Unpack[SendOptions]) -> MessageId:
        """Sends a message (as send_async()), sending the open batch at once, and returns its MessageId
        or raises its error. Not in a done-callback, which would wait for itself."""
        if threading.current_thread() is self._client._thread:
            raise RuntimeError("Producer.send() in a done-callback would wait for itself; use send_async()")
        return self._submit(*self._prepare(payload, options), _native.SEND_FLUSH).result()

    async def asend(self, payload: PayloadArg = UNSET, **options: Unpack[SendOptions]) -> MessageId:
        """send() for asyncio. Never blocks the loop: with block_if_queue_full=True it waits for room
        asynchronously. Cancelling it does not unsend a message the library took."""
        loop = asyncio.get_running_loop()
        msg, view = self._prepare(payload, options)
        result: asyncio.Future[MessageId] = loop.create_future()
        waiter: Optional[asyncio.Future[None]] = None
        while True:
            try:
                self._submit(msg, view, _native.SEND_NONBLOCK, (loop, result), last_try=not self._block)
                break
            except PulsarProducerError as exc:
                if not (self._block and exc.code in _FULL):
                    if self._block and view is not None:
                        on_ack(self._interceptors, view, None, exc)
                    raise
            if waiter is not None:
                await waiter
            # Registered before the next attempt: a completion from then on wakes it.
            waiter = self._client._room(loop)
        return await result

    def _mine(self) -> list[MessageFuture]:
        return [f for f in self._futures.copy().values() if type(f) is self._cls]

    def flush(self, timeout: Optional[Duration] = None) -> None:
        """Sends the open batch now and waits until the future of every message sent before is settled
        (not in a done-callback). ``timeout``: timedelta or int ms, None for none; then Timeout."""
        if self._state != "open":
            raise _closed_error(f"producer for {self._topic}")
        self._client._flush(self._handle, self._mine(), timeout, self._topic)

    def close(self, timeout: Optional[Duration] = None) -> None:
        """Sends what is pending and closes the producer (and the client of a Producer(...)), waiting up
        to ``timeout`` (None: no limit); messages still pending then fail with Timeout, and so does
        close(). Every future is settled when it returns. Idempotent; does nothing in a forked child."""
        if _forked:
            return
        on_thread = threading.current_thread() is self._client._thread
        first, deadline = self._begin_close(timeout, on_thread)
        if not first:
            return
        try:
            buf = errbuf()
            rc = LIB.pp_close(self._handle, _ms_left(deadline), buf, ERRBUF_SIZE)
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
        self._state, self._final = "closed", self._final or final
        self._client._producers.discard(self)

    def stats(self) -> Stats:
        """The producer's counters (after close(), the last ones)."""
        return self._stats(PYLIB.pp_producer_stats, self._handle, f"producer for {self._topic}")

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

    def __repr__(self) -> str:
        return f"<Producer {self._topic} ({self._name}) {self._state}>"


def _after_fork_in_child() -> None:
    """A forked child has no library threads: settle what waits, and refuse any further use."""
    global _forked
    _forked = True
    exc = forked_error()
    for client in list(_live):
        client._mutex = threading.RLock()
        client._cond = threading.Condition(client._mutex)
        for p in list(client._producers):
            p._cls._condition, p._cls._mutex = client._cond, client._mutex
        for fut in client._futures.values():
            fut._exception, fut._state = exc, FINISHED
    _live.clear()


@atexit.register
def _close_at_exit() -> None:
    for client in list(_live):
        try:
            client.close(EXIT_CLOSE_TIMEOUT_MS)
        except Exception as exc:
            LOGGER.warning("closing %r at exit: %s", client, exc)


os.register_at_fork(after_in_child=_after_fork_in_child)
