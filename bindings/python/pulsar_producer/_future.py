"""MessageFuture: a concurrent.futures.Future that costs little per message.

How this works: a stock Future allocates a Condition (with its RLock) and two
lists when created, and set_result() takes that lock and notifies on every
message. At hundreds of thousands of messages per second that dominates, so
MessageFuture keeps the stdlib Future's attributes and protocol but:

  * creating one sets nothing: every attribute has a class-level default, and
    the producer's futures share one Condition, the ``_condition`` of a
    per-producer subclass (made by ``future_class``);
  * it is RUNNING from the start (the message is in flight, it cannot be
    cancelled: cancel() returns False as for any running Future);
  * the producer's completion thread settles a whole drained batch under the
    shared Condition with a single notify_all(), storing the raw completion
    row; the MessageId is built on first access to result();
  * add_done_callback(), concurrent.futures.wait()/as_completed() (through
    ``_waiters``) and Producer.asend() set ``_hooks`` and count it in the
    producer's ``_hook_count``, so the completion thread looks at callbacks
    and waiters only for futures that have them, and not at all while the
    count is zero.

Because the Condition is shared, a wait can wake for another future's
completion: result() and exception() re-check their own state in a loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from concurrent.futures._base import (
    CANCELLED,
    CANCELLED_AND_NOTIFIED,
    FINISHED,
    RUNNING,
)
from typing import Any, Callable

from .message_id import MessageId, _from_row

__all__ = ["MessageFuture", "future_class", "report_callback_error", "run_hooks", "LOGGER"]

LOGGER = logging.getLogger("pulsar_producer")

_DONE = (FINISHED, CANCELLED, CANCELLED_AND_NOTIFIED)


def report_callback_error(fut: object, what: str = "callback") -> None:
    """Reports an exception raised by user code run on the completion thread.

    Called from an ``except`` block: logs it with its traceback on the
    "pulsar_producer" logger (the stdlib reports Future callback errors the
    same way); the completion thread goes on with the other completions.
    """
    try:
        LOGGER.exception("exception in %s for %r", what, fut)
    except Exception:  # pragma: no cover - a broken logging setup
        pass


class MessageFuture(Future[MessageId]):
    """The outcome of one send: a MessageId, or the PulsarProducerError that failed it.

    A concurrent.futures.Future; its result() and exception() take a timeout
    in seconds, as for every Future.
    """

    # Class-level defaults: creating a future assigns nothing.
    _state: str = RUNNING
    _result: Any = None
    _exception: BaseException | None = None
    _row: bytes | None = None  # the raw pp_completion row of a success
    _hooks: bool = False
    _done_callbacks: Any = ()
    _w: list[Any] | None = None
    _aio: Any = None
    # Per-producer subclass attributes (future_class):
    _condition: threading.Condition
    _hook_count: list[int]  # futures of the producer with _hooks set

    def __init__(self) -> None:  # pragma: no cover - producers use object.__new__
        pass

    def _hook(self) -> None:
        """Marks the future as needing callbacks or waiters run. Call with _condition held."""
        if not self._hooks:
            self._hooks = True
            self._hook_count[0] += 1

    @property
    def _waiters(self) -> list[Any]:  # type: ignore[override]
        # concurrent.futures.wait() and as_completed() append to this with
        # _condition held.
        w = self._w
        if w is None:
            w = self._w = []
            self._hook()
        return w

    def _wait(self, timeout: float | None) -> None:
        cond = self._condition
        with cond:
            if timeout is None:
                while self._state not in _DONE:
                    cond.wait()
                return
            deadline = time.monotonic() + timeout
            while self._state not in _DONE:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise FutureTimeoutError()
                cond.wait(remaining)

    def result(self, timeout: float | None = None) -> MessageId:
        if self._state != FINISHED:
            self._wait(timeout)
            if self._state != FINISHED:
                raise CancelledError()
        exc = self._exception
        if exc is not None:
            try:
                raise exc
            finally:
                del exc
        r = self._result
        if r is None and self._row is not None:
            r = self._result = _from_row(self._row)
        return r  # type: ignore[no-any-return]

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if self._state != FINISHED:
            self._wait(timeout)
            if self._state != FINISHED:
                raise CancelledError()
        return self._exception

    def add_done_callback(self, fn: Callable[[Future[MessageId]], object]) -> None:
        with self._condition:
            if self._state not in _DONE:
                cbs = self._done_callbacks
                if cbs:
                    cbs.append(fn)
                else:
                    self._done_callbacks = [fn]
                self._hook()
                return
        try:
            fn(self)
        except BaseException:
            report_callback_error(self)

    def _invoke_callbacks(self) -> None:
        for fn in self._done_callbacks:
            try:
                fn(self)
            except BaseException:
                report_callback_error(self)

    def __repr__(self) -> str:
        if self._state == FINISHED:
            if self._exception is not None:
                return f"<{type(self).__name__} at {id(self):#x} state=finished raised {type(self._exception).__name__}>"
            return f"<{type(self).__name__} at {id(self):#x} state=finished returned {self.result()!r}>"
        return f"<{type(self).__name__} at {id(self):#x} state=running>"


def future_class(cond: threading.Condition) -> type[MessageFuture]:
    """A MessageFuture subclass whose instances share ``cond``."""
    return type(
        "MessageFuture",
        (MessageFuture,),
        {"_condition": cond, "_hook_count": [0], "__module__": __name__},
    )


def run_hooks(futures: list[MessageFuture]) -> None:
    """Runs done-callbacks and settles asyncio futures of settled futures.

    Called on the completion thread, or on the thread that handed a refused
    message to the library; asyncio futures are settled with one
    call_soon_threadsafe per event loop.
    """
    loops: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[MessageId], MessageFuture]]] = {}
    for fut in futures:
        aio = fut._aio
        if aio is not None:
            loops.setdefault(aio[0], []).append((aio[1], fut))
        if fut._done_callbacks:
            fut._invoke_callbacks()
    for loop, items in loops.items():
        try:
            loop.call_soon_threadsafe(_settle_aio, items)
        except RuntimeError:
            LOGGER.debug("event loop closed; %d asend() results dropped", len(items))


def _settle_aio(items: list[tuple[asyncio.Future[MessageId], MessageFuture]]) -> None:
    """Settles asyncio futures from their MessageFutures (event loop thread)."""
    for afut, fut in items:
        if afut.done():
            continue
        exc = fut._exception
        if exc is not None:
            afut.set_exception(exc)
        else:
            afut.set_result(fut.result())
