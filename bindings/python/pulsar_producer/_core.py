"""The completion thread and lifecycle behind a Producer.

How this works
--------------
A _Core holds a started producer's handle, its SendBuffer (see _buffer:
how messages reach the library, in batches), the futures of the messages
handed over (by token) and one daemon *completion thread*.

The completion thread loops on pp_drain (CDLL: the GIL is released while it
waits): each call copies up to DRAIN_CAPACITY completions into an array,
which is read in one piece (ctypes.string_at + struct.iter_unpack) and
settled under the producer's Condition with a single notify_all().
Done-callbacks, concurrent.futures waiters and asyncio futures are handled
afterwards, only for the futures that have them; asyncio futures are settled
with one call_soon_threadsafe per event loop per batch. A callback that
raises is logged on the "pulsar_producer" logger and the thread carries on.
pp_drain returns AlreadyClosed once the producer is closed and every
completion was taken: the thread then stops the handle and ends. It wakes
every DRAIN_WAIT_MS only to see whether a garbage-collected Producer asked
it to close.

block_if_queue_full=True is done in Python rather than in the library
(whose blocking send would not let Ctrl-C in): a flush that finds the queue
full waits on the Condition, GIL released, until the completion thread has
settled another batch (room is made when the broker acknowledges), and
hands over the rest.

flush() flushes the buffer, calls pp_flush, then waits until every future
that existed when it was called is settled. close() does the same, then
flushes the buffer a last time and calls pp_close; the completion thread
drains what remains, calls pp_stop and ends; close() joins it. A producer
that is garbage-collected unclosed is closed by its own completion thread,
and an atexit hook closes every producer still open (waiting up to
EXIT_CLOSE_TIMEOUT for each), so leaving the interpreter with sends in
flight neither hangs nor drops them silently.
"""

from __future__ import annotations

import atexit
import ctypes
import math
import os
import threading
import weakref
from collections.abc import Iterable
from itertools import repeat
from concurrent.futures._base import FINISHED as _FINISHED
from datetime import timedelta
from time import monotonic as _monotonic
from typing import Optional

from . import _native
from ._buffer import SendBuffer
from ._future import MessageFuture, future_class, report_callback_error, run_hooks
from ._options import duration_ms
from .errors import PulsarProducerError, error_for

__all__ = ["EXIT_CLOSE_TIMEOUT"]

#: How long the atexit hook waits for each open producer's pending messages.
EXIT_CLOSE_TIMEOUT = timedelta(seconds=10)
#: Completions taken per pp_drain call: small enough that the thread hands
#: the GIL back often (at each pp_drain) while a sender is busy.
DRAIN_CAPACITY = 1024
#: How long the idle completion thread waits in pp_drain before it looks
#: for a close request from a garbage-collected Producer.
DRAIN_WAIT_MS = 200
#: While flush() or close() waits, how often open batches are sent again.
RESEND_OPEN_BATCHES = 0.05

_LIB = _native.LIB  # releases the GIL: blocking calls
_ROW = _native.COMPLETION
#: A completion row as one bytes object: what a settled future keeps (bytes
#: are not tracked by the cyclic GC; the MessageId is decoded on demand).
_RAW_ROW = _native.COMPLETION_BYTES
_TOKEN_STRIDE = _ROW.size // 8  # user_data: the first 8 bytes of a row
_RESULT_STRIDE = _ROW.size // 4  # result: the int at bytes 8-11
_string_at = ctypes.string_at
_OPEN, _CLOSING, _CLOSED = "open", "closing", "closed"

_live: weakref.WeakSet[_Core] = weakref.WeakSet()


class _Core:
    """The state a Producer shares with its completion thread."""

    def __init__(
        self, handle: int, topic: str, block_if_full: bool, hold: float, max_pending: int
    ) -> None:
        self.handle = handle
        self.topic = topic
        self.cond = threading.Condition()
        self.future_cls = future_class(self.cond)
        self.futures: dict[int, MessageFuture] = {}
        self.state = _OPEN
        self.forked_child = False
        self.close_requested = False  # the finalizer or atexit asks the thread to close
        self.close_error: PulsarProducerError | None = None
        self.lifecycle = threading.Lock()
        self.buffer = SendBuffer(self, hold, block_if_full, max_pending)
        self.thread = threading.Thread(
            target=self._run, name=f"pulsar-producer completions ({topic})", daemon=True
        )
        _live.add(self)
        self.thread.start()

    @property
    def pending(self) -> int:
        return len(self.futures) + self.buffer.pending

    # --- errors -------------------------------------------------------------

    def closed_error(self) -> PulsarProducerError:
        if self.forked_child:
            return error_for(
                _native.ERR_ALREADY_CLOSED,
                f"producer for {self.topic} was created before this process forked and cannot "
                "be used in the child: create a new Producer after forking",
            )
        return error_for(_native.ERR_ALREADY_CLOSED, f"producer for {self.topic} is closed")

    def error(self, rc: int, buf: Optional[ctypes.Array[ctypes.c_char]]) -> PulsarProducerError:
        if rc == _native.ERR_INVALID_HANDLE and self.state != _OPEN:
            return self.closed_error()
        text = _native.errbuf_text(buf) if buf is not None else ""
        return error_for(rc, text)

    # --- futures the library did not take --------------------------------------

    def fail(
        self,
        tokens: Iterable[int],
        futs: list[MessageFuture],
        exc: PulsarProducerError,
        hooks: bool = True,
    ) -> None:
        """Forgets the tokens and fails their futures with exc.

        hooks=False is for a future its caller never got (the send raised):
        its callbacks and asyncio future are not run.
        """
        with self.cond:
            pop = self.futures.pop
            for token in tokens:
                pop(token, None)
            if not hooks:
                for fut in futs:
                    fut._aio = None
            hooked = self._fail(futs, exc)
            self.cond.notify_all()
        if hooks and hooked:
            run_hooks(hooked)

    def unregister(self, tokens: Iterable[int]) -> None:
        """Forgets tokens whose messages go back into the buffer."""
        with self.cond:
            pop = self.futures.pop
            for token in tokens:
                pop(token, None)

    def abandon(self, tokens: Iterable[int], futs: list[MessageFuture]) -> None:
        """Fails futures whose send was interrupted (their caller may never get them).

        If a message did reach the library, its completion finds no future
        and is dropped; either way flush() and close() do not wait for it.
        """
        exc = error_for(_native.ERR_INTERRUPTED, "the send was interrupted")
        self.fail(tokens, futs, exc, hooks=False)

    def _fail(self, futures: list[MessageFuture], exc: BaseException) -> list[MessageFuture]:
        """Fails futures with exc and tells their waiters; returns the hooked ones.

        Called with cond held.
        """
        left = [fut for fut in futures if fut._state != _FINISHED]  # not settled meanwhile
        for fut in left:
            fut._exception = exc
            fut._state = _FINISHED
        return self._hooked(left)

    def _hooked(self, settled: list[MessageFuture]) -> list[MessageFuture]:
        """Of futures just settled, those with hooks, after their concurrent.futures
        waiters were told. Called with cond held."""
        hooked = [fut for fut in settled if fut._hooks]
        if not hooked:
            return hooked
        self.future_cls._hook_count[0] -= len(hooked)
        for fut in hooked:
            waiters = fut._w
            if waiters:
                failed = fut._exception is not None
                for w in waiters:
                    if failed:
                        w.add_exception(fut)
                    else:
                        w.add_result(fut)
        return hooked

    # --- the completion thread ------------------------------------------------

    def _run(self) -> None:
        handle = self.handle
        area = (ctypes.c_char * (DRAIN_CAPACITY * _ROW.size))()
        addr = ctypes.addressof(area)
        count = ctypes.c_size_t()
        drain = _LIB.pp_drain
        try:
            while True:
                rc = drain(handle, addr, DRAIN_CAPACITY, DRAIN_WAIT_MS, ctypes.byref(count))
                n = count.value
                if n:
                    self._settle(_string_at(addr, n * _ROW.size))
                    if n == DRAIN_CAPACITY:
                        continue
                if rc != _native.OK:
                    break  # closed and every completion taken (or stopped elsewhere)
                if self.close_requested and self.state == _OPEN:
                    self.close(EXIT_CLOSE_TIMEOUT, join=False)
        except BaseException:  # pragma: no cover - a bug in this module
            report_callback_error(self, "the completion thread")
        finally:
            self._finish()

    def _settle(self, raw: bytes) -> None:
        """Settles the futures of a drained batch (raw pp_completion rows)."""
        view = memoryview(raw)
        tokens = view.cast("Q")[::_TOKEN_STRIDE]  # user_data of each row
        results = view.cast("i")[2::_RESULT_STRIDE]  # result of each row
        cond = self.cond
        finished = _FINISHED
        with cond:
            hooked: list[MessageFuture] = []
            if not self.future_cls._hook_count[0] and not any(results):
                # All succeeded and nobody waits on a callback: the common case.
                try:
                    for fut, (row,) in zip(map(self.futures.pop, tokens), _RAW_ROW.iter_unpack(raw)):
                        fut._row = row
                        fut._state = finished
                except KeyError:  # pragma: no cover - a token we did not issue
                    hooked = self._settle_each(raw, tokens, results)
            else:
                hooked = self._settle_each(raw, tokens, results)
            cond.notify_all()
        if hooked:
            run_hooks(hooked)

    def _settle_each(
        self, raw: bytes, tokens: memoryview, results: memoryview
    ) -> list[MessageFuture]:
        """_settle for batches with failures or hooks; called with cond held."""
        settled: list[MessageFuture] = []
        futs = map(self.futures.pop, tokens, repeat(None))
        for fut, (row,), result in zip(futs, _RAW_ROW.iter_unpack(raw), results):
            if fut is None:
                continue  # settled already (see _settle) or not ours
            if result:
                fut._exception = self._failure(_ROW.unpack(row))
            else:
                fut._row = row
            fut._state = _FINISHED
            settled.append(fut)
        return self._hooked(settled)

    def _failure(self, row: tuple[int, ...]) -> PulsarProducerError:
        text = _string_at(row[7]).decode("utf-8", "replace") if row[7] else ""
        return error_for(row[1], text)

    def _finish(self) -> None:
        """Frees the handle and fails whatever was never completed."""
        buf = _native.new_errbuf()
        _LIB.pp_stop(self.handle, 0, buf, _native.ERRBUF_SIZE)
        self.state = _CLOSED
        buffered = self.buffer.drop()
        with self.cond:
            left = list(self.futures.values())
            self.futures.clear()
            exc = error_for(
                _native.ERR_INTERRUPTED,
                f"producer for {self.topic} stopped before the message completed",
            )
            hooked = self._fail(left, exc) + self._fail(buffered, self.closed_error())
            self.cond.notify_all()
        if hooked:
            run_hooks(hooked)
        _live.discard(self)

    # --- flush and close ----------------------------------------------------

    def flush(self, timeout: object) -> None:
        """Flushes the buffer and open batches, then waits until every current future is settled.

        The wait happens here, on the Condition (interruptible, GIL released):
        pp_flush is only asked to send open batches (timeout 0, so its
        "still pending" Timeout is expected).
        """
        deadline = _deadline(timeout)
        if self.state != _OPEN:
            raise self.closed_error()
        self.send_open_batches()  # first: a sender waiting for room gets it sooner
        self.buffer.flush(math.inf if deadline is None else deadline)
        waiting = list(self.futures.values()) + self.buffer.items[1::2]
        self.send_open_batches()
        if threading.current_thread() is self.thread:
            return  # a callback flushing: its own futures cannot be settled yet
        if not self._wait_settled(waiting, deadline):
            raise error_for(
                _native.ERR_TIMEOUT,
                f"flush of {self.topic}: {sum(f._state != _FINISHED for f in waiting)} "
                f"messages still pending after {_ms(timeout)} ms",
            )

    def send_open_batches(self, quiet: bool = False) -> None:
        """pp_flush without waiting: the library sends its open batches now."""
        buf = _native.new_errbuf()
        rc = _LIB.pp_flush(self.handle, 0, buf, _native.ERRBUF_SIZE)
        if rc not in (_native.OK, _native.ERR_TIMEOUT) and not quiet:
            raise self.error(rc, buf)

    def _wait_settled(self, futures: list[MessageFuture], deadline: Optional[float]) -> bool:
        """Waits until every future is settled; False if the deadline passes first.

        Every RESEND_OPEN_BATCHES seconds of waiting, open batches are sent
        again: a future in the list may belong to a message that reached the
        library only after the first pp_flush (one that waited for room).
        """
        cond = self.cond
        flushed = _monotonic()
        with cond:
            for fut in futures:
                while fut._state != _FINISHED:
                    now = _monotonic()
                    if deadline is not None and now >= deadline:
                        return False
                    if now - flushed >= RESEND_OPEN_BATCHES and self.state == _OPEN:
                        flushed = now
                        try:
                            self.send_open_batches()
                        except PulsarProducerError:
                            pass
                    wait = RESEND_OPEN_BATCHES
                    if deadline is not None:
                        wait = min(wait, deadline - now)
                    cond.wait(wait)
        return True

    def close(self, timeout: object, join: bool = True) -> None:
        """Closes the producer: waits for pending messages, pp_close, then the thread.

        The wait for pending messages happens first in Python (so Ctrl-C can
        interrupt it and leave the producer open); then the buffer is flushed
        a last time (a message sent later is refused), pp_close fails what is
        still pending when the timeout is up, and the completion thread
        drains the rest, stops the handle and ends.
        """
        deadline = _deadline(timeout)
        in_thread = threading.current_thread() is self.thread
        if self.state == _OPEN and not in_thread:
            try:
                self.send_open_batches()  # first: a sender waiting for room gets it sooner
                self.buffer.flush(math.inf if deadline is None else deadline)
                self.send_open_batches()
            except PulsarProducerError:
                pass  # pp_close below reports what is wrong
            waiting = list(self.futures.values())
            self._wait_settled(waiting, deadline)
        with self.lifecycle:
            first = self.state == _OPEN
            if first:
                self.state = _CLOSING
        if first:
            self.buffer.close()
            if deadline is None:
                ms = _native.INT_MAX
            else:
                ms = max(0, min(_native.INT_MAX, int((deadline - _monotonic()) * 1000)))
            buf = _native.new_errbuf()
            rc = _LIB.pp_close(self.handle, ms, buf, _native.ERRBUF_SIZE)
            if rc not in (_native.OK, _native.ERR_ALREADY_CLOSED):
                self.close_error = error_for(rc, _native.errbuf_text(buf))
        if join and not in_thread:
            self.thread.join()

    def request_close(self) -> None:
        self.close_requested = True

    def forked(self) -> None:
        """In a forked child: every use raises, nothing calls into the library."""
        self.state = _CLOSED
        self.forked_child = True
        self.buffer.forked()


def _deadline(timeout: object) -> Optional[float]:
    """A timeout (timedelta, int ms or None) as a monotonic deadline; negative is refused."""
    if timeout is None:
        return None
    ms = duration_ms(timeout, "timeout")
    if ms < 0:
        raise error_for(_native.ERR_INVALID_ARGUMENT, f"timeout must not be negative, got {ms} ms")
    return _monotonic() + ms / 1000.0


def _ms(timeout: object) -> int:
    return duration_ms(timeout, "timeout")


@atexit.register
def _close_all_at_exit() -> None:
    """Closes every open producer, each waiting up to EXIT_CLOSE_TIMEOUT."""
    cores = list(_live)
    for core in cores:
        try:
            core.close(EXIT_CLOSE_TIMEOUT, join=False)
        except BaseException:  # pragma: no cover - e.g. Ctrl-C during exit
            report_callback_error(core, "closing at exit")
    limit = EXIT_CLOSE_TIMEOUT.total_seconds() + 5.0
    for core in cores:
        core.thread.join(limit)


def _after_fork_in_child() -> None:
    """A forked child has no Go runtime threads: its producers must not call in."""
    for core in list(_live):
        core.forked()
    _live.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
