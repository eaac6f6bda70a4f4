"""MessageFuture: a concurrent.futures.Future that costs little per message.

How this works: a stock Future makes a Condition (with its RLock) and lists
when created, and takes that lock and notifies on every result. At hundreds
of thousands of messages per second that would dominate, so a MessageFuture
sets nothing when created (every attribute has a class-level default); the
futures of one client share its Condition (a class attribute of the
per-producer subclass that ``future_class`` makes); the completion thread
settles a whole drained batch under it with one notify_all, storing the raw
pp_completion row, from which result() builds the MessageId on first use.
add_done_callback(), concurrent.futures.wait()/as_completed() (through
``_waiters``) and asend() mark a future as ``_hooks`` and count it in
``_hook_count``, so the completion thread looks for callbacks only while
some future has one. A future is RUNNING from the start: the message is in
flight and cannot be cancelled. Because the Condition is shared, a wait may
wake for another future: result() re-checks its own state.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import threading
import time
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from concurrent.futures._base import FINISHED, RUNNING
from typing import Any, Callable, Optional

from .message_id import MessageId

LOGGER = logging.getLogger("pulsar_producer")
_ID = struct.Struct("=24xqqiiii8x")  # the pp_message_id inside a pp_completion row
AioTarget = tuple[asyncio.AbstractEventLoop, "asyncio.Future[MessageId]"]


class MessageFuture(Future[MessageId]):
    """The outcome of one send: a MessageId, or the PulsarProducerError that failed it.
    A concurrent.futures.Future (timeouts of result() and exception() are in seconds)."""

    _state: str = RUNNING
    _result: Any = None
    _exception: Optional[BaseException] = None
    _row: Optional[bytes] = None
    _hooks: bool = False
    _done_callbacks: Any = ()
    _w: Optional[list[Any]] = None
    _aio: Optional[AioTarget] = None
    _condition: threading.Condition  # the client's, set by future_class
    _hook_count: list[int]

    def __init__(self) -> None:  # pragma: no cover - producers use object.__new__
        pass

    def _hook(self) -> None:
        """Marks the future as having callbacks or waiters. Call with _condition held."""
        if not self._hooks:
            self._hooks = True
            self._hook_count[0] += 1

    @property
    def _waiters(self) -> list[Any]:  # type: ignore[override]
        # concurrent.futures.wait() and as_completed() append here with _condition held.
        if self._w is None:
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
            if self._row is None:  # pragma: no cover - a finished future has one or the other
                raise CancelledError()
            self._result = MessageId._make(_ID.unpack_from(self._row))
        return self._result  # type: ignore[no-any-return]

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        if self._state != FINISHED:
            self._wait(timeout)
        return self._exception

    def add_done_callback(self, fn: Callable[[Future[MessageId]], object]) -> None:
        with self._condition:
            if self._state != FINISHED:
                if self._done_callbacks:
                    self._done_callbacks.append(fn)
                else:
                    self._done_callbacks = [fn]
                self._hook()
                return
        _call(fn, self)

    def __repr__(self) -> str:
        if self._state != FINISHED:
            return f"<MessageFuture at {id(self):#x} state=running>"
        if self._exception is not None:
            return f"<MessageFuture at {id(self):#x} state=finished raised {type(self._exception).__name__}>"
        return f"<MessageFuture at {id(self):#x} state=finished returned {self.result()}>"


def _call(fn: Callable[[Any], object], arg: Any) -> None:
    try:
        fn(arg)
    except BaseException:
        LOGGER.exception("exception in a done-callback of %r", arg)


def future_class(cond: threading.Condition, hook_count: list[int]) -> type[MessageFuture]:
    """A MessageFuture subclass (one per producer) whose instances share ``cond``."""
    return type("MessageFuture", (MessageFuture,),
                {"_condition": cond, "_hook_count": hook_count, "__module__": __name__})


def settle_hooked(futures: list[MessageFuture]) -> None:
    """Tells concurrent.futures waiters about settled futures. Call with their Condition held."""
    if futures:
        futures[0]._hook_count[0] -= len(futures)
    for fut in futures:
        for w in fut._w or ():
            if fut._exception is not None:
                w.add_exception(fut)
            else:
                w.add_result(fut)


def run_hooks(futures: list[MessageFuture]) -> None:
    """Runs done-callbacks, and settles asyncio futures (one call_soon_threadsafe per loop)."""
    loops: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[MessageId], MessageFuture]]] = {}
    for fut in futures:
        if fut._aio is not None:
            loops.setdefault(fut._aio[0], []).append((fut._aio[1], fut))
        for fn in fut._done_callbacks:
            _call(fn, fut)
    for loop, items in loops.items():
        try:
            loop.call_soon_threadsafe(_settle_aio, items)
        except RuntimeError:  # the loop is closed: nobody awaits these any more
            pass


def _settle_aio(items: list[tuple[asyncio.Future[MessageId], MessageFuture]]) -> None:
    for afut, fut in items:
        if not afut.done():
            if fut._exception is not None:
                afut.set_exception(fut._exception)
            else:
                afut.set_result(fut.result())
