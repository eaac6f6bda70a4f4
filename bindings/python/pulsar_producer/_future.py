"""MessageFuture: a concurrent.futures.Future that costs little per message.

How this works: a stock Future makes a Condition when created and notifies on every result, which
would dominate at hundreds of thousands of messages per second. A MessageFuture sets nothing when
created (attributes have class-level defaults); the futures of a client share its Condition (a class
attribute of the per-producer subclass ``future_class`` makes), under which the completion thread
settles a drained batch with one notify_all, storing each raw pp_completion row: result() builds the
MessageId from it. add_done_callback(), concurrent.futures.wait()/as_completed() (through
``_waiters``), asend() and interceptors (``_ack``) mark a future ``_hooks`` and count it, so that
the completion thread looks for callbacks only while some future has one. A future is RUNNING from
the start (its message is in flight: it cannot be cancelled).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import struct
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from concurrent.futures._base import FINISHED, RUNNING
from typing import Any, Callable, Optional

from ._hooks import Interceptor, OutgoingMessage, on_ack
from ._native import CompletionC, MessageIdC
from .message_id import MessageId

LOGGER = logging.getLogger("pulsar_producer")
# The pp_message_id in a pp_completion row: every field, in order.
_ID = struct.Struct(f"={CompletionC.id.offset}xqqiiiiqq"
                    f"{ctypes.sizeof(CompletionC) - CompletionC.id.offset - ctypes.sizeof(MessageIdC)}x")
AioTarget = tuple[asyncio.AbstractEventLoop, "asyncio.Future[MessageId]"]


class MessageFuture(Future[MessageId]):
    """The outcome of one send: a MessageId, or the PulsarProducerError that failed it.
    A concurrent.futures.Future (the timeouts of result() and exception() are in seconds)."""

    _state: str = RUNNING
    _result: Any = None
    _exception: Optional[BaseException] = None
    _row: Optional[bytes] = None
    _hooks = False
    _done_callbacks: Any = ()
    _w: Optional[list[Any]] = None
    _aio: Optional[AioTarget] = None
    _ack: Optional[tuple[tuple[Interceptor, ...], OutgoingMessage]] = None  # interceptors to tell, and what
    _condition: threading.Condition  # the client's (future_class)
    _mutex: Any  # its lock, entered without Condition's Python-level __enter__
    _hook_count: list[int]  # the client's count of futures with _hooks

    def __init__(self) -> None:  # pragma: no cover - producers use object.__new__
        pass

    def _hook(self) -> None:
        """Marks the future as having callbacks or waiters. Call with _condition held."""
        if not self._hooks:
            self._hooks = True
            self._hook_count[0] += 1

    @property
    def _waiters(self) -> list[Any]:  # type: ignore[override]
        if self._w is None:  # concurrent.futures.wait() appends here, with _condition held
            self._w = []
            self._hook()
        return self._w

    def _wait(self, timeout: Optional[float]) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while self._state != FINISHED:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise FutureTimeoutError()
                self._condition.wait(left)

    def result(self, timeout: Optional[float] = None) -> MessageId:
        if self._state != FINISHED:
            self._wait(timeout)
        if self._exception is not None:
            raise self._exception
        if self._result is None:
            self._result = MessageId._make(_ID.unpack_from(self._row or b""))
        return self._result  # type: ignore[no-any-return]

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        if self._state != FINISHED:
            self._wait(timeout)
        return self._exception

    def add_done_callback(self, fn: Callable[[Future[MessageId]], object]) -> None:
        if self._state != FINISHED:
            with self._mutex:
                if self._state != FINISHED:
                    self._done_callbacks = [*self._done_callbacks, fn]
                    if not self._hooks:
                        self._hooks = True
                        self._hook_count[0] += 1
                    return
        _call(fn, self)

    def __repr__(self) -> str:
        state = "running" if self._state != FINISHED else (
            f"raised {type(self._exception).__name__}" if self._exception else f"returned {self.result()}")
        return f"<MessageFuture at {id(self):#x} {state}>"


def _call(fn: Callable[[Any], object], arg: Any) -> None:
    try:
        fn(arg)
    except BaseException:
        LOGGER.exception("exception in a done-callback of %r", arg)


def future_class(cond: threading.Condition, mutex: Any, hook_count: list[int]) -> type[MessageFuture]:
    """A MessageFuture subclass (one per producer) whose instances share ``cond`` (on ``mutex``)."""
    return type("MessageFuture", (MessageFuture,), {"_condition": cond, "_mutex": mutex, "_hook_count": hook_count})


def settle_hooked(futures: list[MessageFuture]) -> None:
    """Tells concurrent.futures waiters about settled futures. Call with their Condition held."""
    if futures:
        futures[0]._hook_count[0] -= len(futures)
    for fut in futures:
        for w in fut._w or ():
            w.add_exception(fut) if fut._exception is not None else w.add_result(fut)


def run_hooks(futures: list[MessageFuture]) -> None:
    """Tells interceptors the outcomes, runs done-callbacks, and settles asyncio futures (one
    call_soon_threadsafe per loop)."""
    loops: dict[asyncio.AbstractEventLoop, list[MessageFuture]] = {}
    for fut in futures:
        if fut._ack is not None:
            exc = fut._exception
            on_ack(fut._ack[0], fut._ack[1], None if exc is not None else fut.result(), exc)
        if fut._aio is not None:
            loops.setdefault(fut._aio[0], []).append(fut)
        for fn in fut._done_callbacks:
            try:
                fn(fut)
            except BaseException:
                LOGGER.exception("exception in a done-callback of %r", fut)
    for loop, items in loops.items():
        try:
            loop.call_soon_threadsafe(_settle_aio, items)
        except RuntimeError:  # the loop is closed: nobody awaits these any more
            pass


def _settle_aio(futures: list[MessageFuture]) -> None:
    for fut in futures:
        target = fut._aio[1] if fut._aio else None
        if target is not None and not target.done():
            target.set_exception(fut._exception) if fut._exception else target.set_result(fut.result())
