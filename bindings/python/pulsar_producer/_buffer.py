"""The send buffer: messages handed to the library in batches.

How this works
--------------
Crossing into Go costs more than queuing a message there, so send_async()
of a payload of at most DIRECT_BYTES only appends ``(entry, future)`` to
``SendBuffer.items`` (one atomic ``list +=``, no lock) and compares the
list's length with ``watermark``; the entry is the payload as ``bytes``, or
a _messages.Prepared tuple for a message with options. Reaching the
watermark takes the slow path, ``added()``, under the buffer's lock. The
lock serializes every hand-over to the library, which is what keeps
messages in order across threads: a flush takes the buffered entries from
the front of the list (new ones are only ever appended at the end) and
queues them with one call, in list order, before any later flush or direct
send: pp_send_batch for payloads only (bytes.join and struct.pack build its
arrays), pp_send_messages when options are among them (_messages.pack).

When the buffer is flushed:
  * when it holds ``limit`` messages (under load: one call per BATCH_LIMIT);
  * at once, when a message arrives at an idle producer (nothing buffered
    and no library call for ``hold`` seconds): a lone message is not delayed;
  * otherwise by the timer, ``hold`` after the first buffered message (hold
    is min(batching_max_publish_delay, MAX_HOLD), 0 without batching: then
    every message is handed over at once);
  * before a larger payload, which is handed over directly (send_one), and
    by send(), flush() and close().

A flush sets ``watermark`` to 0 before taking the entries, so that whoever
appends next takes the slow path, which flushes or arms the timer: a message
appended while a flush is under way is never left without one. Closing or
forking also sets it to 0: the slow path then refuses the message (it is
withdrawn from the buffer unless a flush already took it).

Each flushed message gets a token (its user_data; tokens are consecutive per
flush) under which its future waits in ``core.futures`` for the completion
thread. When the library refuses message i of a batch, i's future fails
with that error and the rest is handed over again; with
block_if_queue_full, a full queue makes the flushing thread wait for room
instead (the timer thread puts the rest back at the front of the buffer and
retries later rather than wait). Without blocking, max_pending_messages is
also checked here, so that ProducerQueueIsFull is raised by send_async()
itself; the count (unsettled futures plus buffered messages) is never below
the library's, so the library does not refuse a message this check let in.

One daemon thread, shared by every producer of the process (``_Timer``),
flushes buffers whose hold time is up.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import math
import os
import struct
import threading
from time import monotonic as _monotonic
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from . import _native
from ._future import MessageFuture, report_callback_error
from ._messages import Prepared, pack
from .errors import error_for

if TYPE_CHECKING:
    from ._core import _Core

__all__ = ["SendBuffer", "DIRECT_BYTES", "BATCH_LIMIT", "MAX_HOLD"]

#: Payloads larger than this are handed to the library directly (after what
#: is buffered): copying them into a batch costs more than the call saves.
DIRECT_BYTES = 16 * 1024
#: Messages per pp_send_batch call under load.
BATCH_LIMIT = 512
#: The longest a message waits in the buffer (less if the batching delay is).
MAX_HOLD = 0.001
#: How long a flush that found the queue full waits before trying again.
FULL_RETRY = 0.01

#: A buffered message: a payload-only one as bytes, or one with options.
Entry = Union[bytes, Prepared]

_FULL = (_native.ERR_PRODUCER_QUEUE_IS_FULL, _native.ERR_MEMORY_BUFFER_IS_FULL)
_GONE = (_native.ERR_ALREADY_CLOSED, _native.ERR_INVALID_HANDLE)
# Both release the GIL while Go queues the batch (the completion thread
# settles futures meanwhile).
_SEND_BATCH = _native.LIB.pp_send_batch
_SEND_MESSAGES = _native.LIB.pp_send_messages
_pack = struct.pack


class SendBuffer:
    """Messages of one producer waiting to be handed to the library together."""

    def __init__(self, core: _Core, hold: float, block: bool, max_pending: int) -> None:
        self.core = core
        #: (payload, future) pairs, flattened; appended to without the lock.
        self.items: list[Any] = []
        #: The slow path runs once len(items) reaches this (0: at every append).
        self.watermark = 0
        self.limit = 2 * BATCH_LIMIT
        self.hold = hold
        self.block = block
        #: Checked here only without blocking (blocking relies on the library).
        self.max_pending = 0 if block else max_pending
        self.lock = threading.Lock()
        self.deadline: Optional[float] = None  # when the timer flushes what is buffered
        self.timer_armed = False  # the buffer has an entry in the timer's heap
        self.last_call = float("-inf")  # when the library was last called
        self.token = 1
        self.accepted = ctypes.c_size_t()
        self.accepted_addr = ctypes.addressof(self.accepted)
        self.errbuf = _native.new_errbuf()

    @property
    def pending(self) -> int:
        """Messages buffered, not yet handed to the library."""
        return len(self.items) // 2

    # --- the slow path of an append --------------------------------------------

    def added(self, fut: MessageFuture) -> None:
        """After fut's append reached the watermark: flush, arm the timer, or refuse.

        With block_if_queue_full, a full buffer whose flush the library
        refuses for want of room makes the caller wait (without the lock)
        and try again: that is where a sender blocks.
        """
        while True:
            with self.lock:
                core = self.core
                if core.state != "open":
                    if self._withdraw(fut):
                        raise core.closed_error()
                    return
                if self.max_pending:
                    self._admit(fut)
                if len(self.items) < self.limit:
                    self._schedule_locked()
                    return
                if self._flush_locked():
                    return
            self._wait_for_room()

    def _wait_for_room(self, poke: bool = False) -> None:
        """Waits a little for the library to make room (never with the lock held).

        ``poke``: ask the library to send its open batches first (flush(),
        close() and send() want messages out now; room is made when batches
        are acknowledged).
        """
        core = self.core
        if poke:
            core.send_open_batches(quiet=True)
        with core.cond:
            core.cond.wait(FULL_RETRY)

    def _admit(self, fut: MessageFuture) -> None:
        """Refuses fut with ProducerQueueIsFull if max_pending_messages is reached."""
        count = len(self.core.futures) + len(self.items) // 2
        if count > self.max_pending and self._withdraw(fut):
            raise error_for(
                _native.ERR_PRODUCER_QUEUE_IS_FULL,
                f"ProducerQueueIsFull: producer for {self.core.topic} has {count - 1} "
                f"messages pending (max_pending_messages {self.max_pending})",
            )

    def _withdraw(self, fut: MessageFuture) -> bool:
        """Takes fut's entry out of the buffer; False if a flush took it already."""
        items = self.items
        for i in range(len(items) - 1, 0, -2):
            if items[i] is fut:
                del items[i - 1 : i + 1]
                return True
        return False

    def _schedule_locked(self) -> None:
        """Makes sure what is buffered is flushed in time; sends at once when idle."""
        n = len(self.items)
        if not n:
            return  # a flush took it; the next append comes here again
        if self.deadline is None:
            now = _monotonic()
            if now - self.last_call >= self.hold:
                self._flush_locked()  # idle (or no buffering): no delay
                return
            self.deadline = now + self.hold
            if not self.timer_armed:
                self.timer_armed = True
                TIMER.arm(self, self.deadline)
        wm = self.limit
        if self.max_pending:  # come back before the count could pass the limit
            room = self.max_pending - len(self.core.futures) - n // 2
            wm = min(wm, n + 2 * max(room, 0))
        self.watermark = wm

    # --- flushing ----------------------------------------------------------------

    def flush(self, until: float = math.inf) -> None:
        """Hands what is buffered now to the library (send(), flush(), close()).

        Returns once the last message buffered when it was called has been
        handed over (messages buffered later may still wait), or at ``until``
        (monotonic seconds): with block_if_queue_full, it waits for room,
        asking the library to send its open batches meanwhile.
        """
        items = self.items
        if not items:
            return
        last = items[-1]
        while True:
            timeout = -1.0 if until == math.inf else max(0.0, until - _monotonic())
            if not self.lock.acquire(timeout=timeout):
                return
            try:
                self._flush_locked()
            finally:
                self.lock.release()
            if not any(f is last for f in items[1::2]) or _monotonic() >= until:
                return
            self._wait_for_room(poke=True)

    def on_timer(self) -> None:
        """Called by the timer thread: flushes if the hold time is up."""
        if not self.lock.acquire(blocking=False):
            # A flush is under way, or waits for room: look again shortly.
            TIMER.arm(self, _monotonic() + max(self.hold, FULL_RETRY / 10))
            return
        try:
            self.timer_armed = False
            deadline = self.deadline
            if deadline is None:
                return
            if deadline > _monotonic():
                self.timer_armed = True
                TIMER.arm(self, deadline)
                return
            self._flush_locked()
        finally:
            self.lock.release()

    def _flush_locked(self) -> bool:
        """Hands every buffered message to the library, in order. Called with lock held.

        False if the library had no room for some (with block_if_queue_full):
        those went back to the front of the buffer, and the timer will try
        again. Nobody waits for room with the lock held.
        """
        self.watermark = 0
        self.deadline = None
        items = self.items
        n = len(items)
        if not n:
            return True
        batch = items[:n]
        del items[:n]
        return self._send(batch[0::2], batch[1::2])

    def _send(self, payloads: list[Entry], futs: list[MessageFuture]) -> bool:
        """Hands the messages to the library, handling refusals (see _flush_locked)."""
        core = self.core
        k = len(futs)
        t0 = self.token
        self.token = t0 + k
        core.futures.update(zip(range(t0, t0 + k), futs))
        start = 0
        try:
            while start < k:
                rc = self._call(payloads[start:] if start else payloads, t0 + start)
                if rc == _native.OK:
                    return True
                i = start + self.accepted.value
                if rc in _FULL and self.block and core.state == "open":
                    self._put_back(payloads[i:], futs[i:], range(t0 + i, t0 + k))
                    return False
                start = self._refused(rc, i, futs, t0)
            return True
        except BaseException:  # e.g. KeyboardInterrupt: fail what did not go in
            core.abandon(range(t0 + start, t0 + k), futs[start:])
            raise
        finally:
            self.last_call = _monotonic()

    def _call(self, part: list[Entry], first_token: int) -> int:
        """One pp_send_batch (or pp_send_messages if options are among them) call."""
        m = len(part)
        fmt = "%dQ" % m
        tokens = _pack(fmt, *range(first_token, first_token + m))
        try:
            data = b"".join(part)  # type: ignore[arg-type]
        except TypeError:  # a Prepared entry: messages with options
            packed = pack(part)
            return int(
                _SEND_MESSAGES(
                    self.core.handle, packed.address, m, None, tokens,
                    self.accepted_addr, self.errbuf, _native.ERRBUF_SIZE,
                )
            )
        return int(
            _SEND_BATCH(
                self.core.handle, data, _pack(fmt, *map(len, part)), m, None, tokens,
                self.accepted_addr, self.errbuf, _native.ERRBUF_SIZE,
            )
        )

    def _put_back(self, payloads: list[Entry], futs: list[MessageFuture], tokens: range) -> None:
        """Returns messages the library had no room for to the front of the
        buffer (nothing can come before them), for the timer to try again."""
        self.core.unregister(tokens)
        rest: list[Any] = [None] * (2 * len(futs))
        rest[0::2] = payloads
        rest[1::2] = futs
        self.items[0:0] = rest
        self.deadline = _monotonic() + FULL_RETRY
        if not self.timer_armed:
            self.timer_armed = True
            TIMER.arm(self, self.deadline)

    def _refused(self, rc: int, i: int, futs: list[MessageFuture], t0: int) -> int:
        """Fails message i, which the library refused; returns where to go on from."""
        core = self.core
        k = len(futs)
        if rc in _GONE or (rc in _FULL and self.block):
            # Closed (or closing and full): the rest cannot go in either.
            exc = core.closed_error() if rc in _FULL else core.error(rc, self.errbuf)
            core.fail(range(t0 + i, t0 + k), futs[i:], exc)
            return k
        core.fail(range(t0 + i, t0 + i + 1), futs[i : i + 1], core.error(rc, self.errbuf))
        return i + 1

    def send_one(self, fut: MessageFuture, send: Callable[..., int], args: tuple[Any, ...]) -> None:
        """Sends one message now, after what is buffered: ``send(*args, token, errbuf, size)``.

        Raises what the library refuses (waiting for room first with
        block_if_queue_full); the future is then settled with it too, without
        running its hooks.
        """
        core = self.core
        buf = self.errbuf
        while True:
            with self.lock:
                if core.state != "open":
                    raise core.closed_error()
                if self.max_pending:
                    count = len(core.futures) + len(self.items) // 2
                    if count >= self.max_pending:
                        raise error_for(
                            _native.ERR_PRODUCER_QUEUE_IS_FULL,
                            f"ProducerQueueIsFull: producer for {core.topic} has {count} "
                            f"messages pending (max_pending_messages {self.max_pending})",
                        )
                if self._flush_locked():  # what was sent before goes first
                    token = self.token
                    self.token = token + 1
                    core.futures[token] = fut
                    try:
                        rc = send(*args, token, buf, _native.ERRBUF_SIZE)
                    except BaseException:
                        core.abandon(range(token, token + 1), [fut])
                        raise
                    finally:
                        self.last_call = _monotonic()
                    if rc == _native.OK:
                        return
                    if not (self.block and rc in _FULL):
                        exc = core.error(rc, buf)
                        core.fail(range(token, token + 1), [fut], exc, hooks=False)
                        raise exc
                    core.unregister(range(token, token + 1))
            self._wait_for_room()

    def close(self) -> None:
        """The final flush, before pp_close (the state is no longer "open", so
        later appends take the slow path and are refused, and what finds no
        room fails with AlreadyClosed)."""
        with self.lock:
            self._flush_locked()

    def forked(self) -> None:
        """In a forked child: forget the parent's messages; every append is refused."""
        self.lock = threading.Lock()  # the parent may have held it
        self.watermark = 0
        self.items.clear()

    def drop(self) -> list[MessageFuture]:
        """Empties the buffer for good (the producer is gone); returns its futures."""
        with self.lock:
            self.watermark = 0
            items = self.items
            futs: list[MessageFuture] = items[1::2]
            del items[: 2 * len(futs)]
        return futs


class _Timer:
    """One daemon thread that flushes send buffers when their hold time is up."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.heap: list[tuple[float, int, SendBuffer]] = []
        self.seq = itertools.count()
        self.thread: Optional[threading.Thread] = None

    def arm(self, buf: SendBuffer, when: float) -> None:
        """Calls buf.on_timer() at ``when`` (monotonic seconds)."""
        with self.cond:
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="pulsar-producer send buffers", daemon=True
                )
                self.thread.start()
            heapq.heappush(self.heap, (when, next(self.seq), buf))
            if self.heap[0][2] is buf:
                self.cond.notify()

    def _run(self) -> None:
        cond, heap = self.cond, self.heap
        while True:
            with cond:
                while True:
                    if not heap:
                        cond.wait()
                        continue
                    delay = heap[0][0] - _monotonic()
                    if delay <= 0:
                        buf = heapq.heappop(heap)[2]
                        break
                    cond.wait(delay)
            try:
                buf.on_timer()
            except BaseException:  # pragma: no cover - a bug in this module
                report_callback_error(buf, "the send buffer timer")
            del buf


TIMER = _Timer()

if hasattr(os, "register_at_fork"):
    # A forked child has no timer thread (and maybe a lock its parent held).
    os.register_at_fork(after_in_child=TIMER._reset)
