"""Exceptions, generated at import time from the library's result table.

How this works: pp_result_table() lists every result with its CamelCase name,
its kind ("usage", "broker" or "network": who is at fault) and whether
retrying may help. Each kind has a class derived from PulsarProducerError;
each result but Ok has a class named as the table names it (Timeout,
ProducerQueueIsFull, AlreadyClosed, Forked, ...), derived from its kind's
class and, where the meaning matches, a built-in (Timeout is a TimeoutError,
the Invalid* results ValueErrors, connection failures ConnectionErrors).
Classes are found by name, never by number: ``error("Timeout", text)``.
"""

from __future__ import annotations

import builtins

from . import _native
from ._native import LibraryNotFoundError, LibraryVersionError

__all__ = ["PulsarProducerError", "UsageError", "BrokerError", "NetworkError", "LibraryNotFoundError",
           "LibraryVersionError", "error", "error_for", "error_classes"]


class PulsarProducerError(Exception):
    """Base of every error the library reports: ``code`` (the pp_result number), ``name``, ``kind``
    ("usage", "broker" or "network"), ``retriable``, ``description``; str() starts with the name."""

    code, name, kind, retriable, description = -1, "UnknownError", "broker", False, "unknown result"

    def __reduce__(self) -> tuple[type[PulsarProducerError], tuple[str]]:
        return (type(self), (str(self),))


class UsageError(PulsarProducerError):
    """The caller misused the API (a bad argument or option, a closed producer, a full queue, ...)."""

    kind = "usage"


class BrokerError(PulsarProducerError):
    """The broker refused the request."""

    kind = "broker"


class NetworkError(PulsarProducerError):
    """The connection failed, timed out, or the peer broke the protocol."""

    kind = "network"


_KINDS = {"usage": UsageError, "broker": BrokerError, "network": NetworkError}
_MIXINS: dict[str, type[Exception]] = {
    "Timeout": builtins.TimeoutError, "ConnectError": builtins.ConnectionError,
    "NotConnected": builtins.ConnectionError, "Disconnected": builtins.ConnectionError,
    "InvalidConfiguration": builtins.ValueError, "InvalidMessage": builtins.ValueError,
    "InvalidTopicName": builtins.ValueError, "InvalidUrl": builtins.ValueError,
    "InvalidArgument": builtins.ValueError, "OperationNotSupported": builtins.NotImplementedError}
_BY_CODE: dict[int, type[PulsarProducerError]] = {}
_BY_NAME: dict[str, type[PulsarProducerError]] = {}

for _code, _name, _kind, _retriable, _text in _native.RESULTS:
    if _code != _native.OK and _name.isidentifier():
        _bases = (_KINDS.get(_kind, PulsarProducerError),) + ((_MIXINS[_name],) if _name in _MIXINS else ())
        _cls = type(_name, _bases, {
            "__module__": __name__, "__qualname__": _name, "__doc__": f"{_text[:1].upper()}{_text[1:]} ({_kind}).",
            "code": _code, "name": _name, "kind": _kind, "retriable": _retriable, "description": _text})
        _BY_CODE[_code] = _BY_NAME[_name] = _cls
        if _name not in globals():
            globals()[_name] = _cls
            __all__.append(_name)


def error(name: str, message: str) -> PulsarProducerError:
    """The exception of the result named ``name``, with the text "Name: message"."""
    return _BY_NAME.get(name, PulsarProducerError)(f"{name}: {message}")


def error_for(code: int, text: str) -> PulsarProducerError:
    """The exception of a result number, with the library's text (which starts with the name)."""
    cls = _BY_CODE.get(code, PulsarProducerError)
    exc = cls(text or f"{cls.name}: {cls.description}")
    exc.code = code
    return exc


def error_classes() -> dict[str, type[PulsarProducerError]]:
    """Every generated class by its name."""
    return dict(_BY_NAME)


def __getattr__(name: str) -> type[PulsarProducerError]:
    # Reached only for names that are not generated; lets type checkers accept errors.Timeout & co.
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
