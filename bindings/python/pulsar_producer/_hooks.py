"""The user's code around a send: interceptors and a custom router.

How this works: everything runs on the sending thread, before the message is
handed to the library (so never under a library lock), on an OutgoingMessage:
the send's arguments as the user code sees them. Interceptors' before_send()
run first, in order, and may change the key and the properties (or raise, which
rejects the message with that exception: nothing is sent). Then the router
picks the partition, from the partition count the library reports at that
moment; the binding sets pp_message.partition to its answer, and the library
refuses an index past the last partition. on_ack() hears the outcome of every
message all before_send()s let through, its MessageId or its error, on the
client's completion thread before the future's done-callbacks (or on the
sending thread, when the message is refused before it is sent); an exception
there is logged and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

from .errors import error

if TYPE_CHECKING:
    from .message_id import MessageId

LOGGER = logging.getLogger("pulsar_producer")

__all__ = ["OutgoingMessage", "Interceptor", "Router", "route", "before_send", "on_ack", "check_hooks"]


class OutgoingMessage:
    """A message being sent, as routers and interceptors see it. ``key`` and ``properties`` (a dict)
    may be changed by an interceptor's before_send(); the rest is read-only: ``topic``, ``payload``
    (bytes, or None for a null value or a send by value), ``value`` (the send's value, or None) and
    ``options`` (the send's other keyword arguments)."""

    __slots__ = ("key", "properties", "_topic", "_payload", "_value", "_options")

    def __init__(self, topic: str, payload: Any, options: Mapping[str, Any]) -> None:
        self._topic = topic
        self._payload = bytes(payload) if isinstance(payload, (bytearray, memoryview)) else payload
        self._value = options.get("value")
        self._options = MappingProxyType({k: v for k, v in options.items()
                                          if k not in ("key", "properties", "value")})
        self.key: Optional[str] = options.get("key")
        props = options.get("properties")
        self.properties: dict[str, str] = dict(props) if isinstance(props, Mapping) else {}

    @property
    def topic(self) -> str:
        return self._topic

    @property
    def payload(self) -> Optional[bytes]:
        return self._payload if isinstance(self._payload, bytes) else None

    @property
    def value(self) -> Any:
        return self._value

    @property
    def options(self) -> Mapping[str, Any]:
        return self._options

    def __repr__(self) -> str:
        p = self.payload
        what = f"value={self._value!r}" if self._value is not None else (
            f"payload={p!r}" if p is None or len(p) <= 32 else f"payload=<{len(p)} bytes>")
        return f"<OutgoingMessage to {self._topic} {what} key={self.key!r} properties={self.properties!r}>"


class Interceptor(Protocol):
    """What an interceptor has: before_send(msg) and on_ack(msg, message_id, error)."""

    def before_send(self, msg: OutgoingMessage) -> None: ...

    def on_ack(self, msg: OutgoingMessage, message_id: Optional[MessageId],
               error: Optional[BaseException]) -> None: ...


#: A custom router: (message, number of partitions) -> the partition index.
Router = Callable[[OutgoingMessage, int], int]


def _name(fn: object) -> str:
    name = getattr(fn, "__qualname__", None)
    return name if isinstance(name, str) else repr(fn)


def check_hooks(router: object, interceptors: object) -> tuple[Optional[Router], tuple[Interceptor, ...]]:
    """The router and interceptors of create_producer(), checked (TypeError names the problem)."""
    if router is not None and not callable(router):
        raise TypeError(f"router must be a callable router(message, num_partitions) -> int, not "
                        f"{type(router).__name__}")
    if interceptors is None:
        return router, ()
    if isinstance(interceptors, (str, bytes)) or not isinstance(interceptors, Iterable):
        raise TypeError(f"interceptors must be a list of interceptors, not {type(interceptors).__name__}")
    found = tuple(interceptors)
    for ic in found:
        for method in ("before_send", "on_ack"):
            if not callable(getattr(ic, method, None)):
                raise TypeError(f"interceptor {ic!r} has no method {method}(); an interceptor has "
                                "before_send(msg) and on_ack(msg, message_id, error)")
    return router, found


def before_send(interceptors: tuple[Interceptor, ...], msg: OutgoingMessage) -> None:
    """Runs every before_send(); whatever one raises rejects the message (it propagates)."""
    for ic in interceptors:
        ic.before_send(msg)


def route(router: Router, msg: OutgoingMessage, partitions: int) -> int:
    """The router's partition for msg; InvalidArgument, naming the router, if it raises or answers no
    index of the topic's partitions."""
    try:
        i = router(msg, partitions)
    except Exception as exc:
        raise error("InvalidArgument", f"the router {_name(router)} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(i, int) or isinstance(i, bool):
        raise error("InvalidArgument", f"the router {_name(router)} returned {type(i).__name__} {i!r}, not a "
                                       "partition index (an int)")
    if i < 0 or i >= partitions:  # -1 would mean "not routed" to the library
        raise error("InvalidArgument", f"the router {_name(router)} chose partition {i} of a topic of {partitions} "
                                       "partitions")
    return i


def on_ack(interceptors: tuple[Interceptor, ...], msg: OutgoingMessage, message_id: Optional[MessageId],
           exc: Optional[BaseException]) -> None:
    """Tells every interceptor the outcome; logs what they raise."""
    for ic in interceptors:
        try:
            ic.on_ack(msg, message_id, exc)
        except Exception:
            LOGGER.exception("interceptor %r raised in on_ack() for %r", ic, msg)
