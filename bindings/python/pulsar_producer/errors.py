"""Exceptions, generated at import time from the library's result table.

How this works: pp_result_table() lists every result code with its CamelCase
name, its kind ("usage", "broker" or "network": who is at fault) and whether
retrying may help. For each kind there is one class (UsageError, BrokerError,
NetworkError) derived from PulsarProducerError, and for each non-OK code one
class named exactly as the table names it (Timeout, ProducerQueueIsFull,
AlreadyClosed, MessageTooBig, TopicNotFound, AuthenticationError,
InvalidConfiguration, ...), derived from its kind's class. A few also derive
from the Python built-in that matches their meaning (Timeout is a
TimeoutError, the Invalid* codes are ValueErrors, connection failures are
ConnectionErrors), so ordinary ``except`` clauses catch them.

The generated classes are module attributes (so pickling works); the
module-level ``__getattr__`` declaration tells type checkers that any other
name here is an exception class. ``error_for(code, message)`` builds the
exception for a result code; a code missing from the table (a newer library)
gives a plain PulsarProducerError that still carries the code.
"""

from __future__ import annotations

import builtins

from . import _native

__all__ = [
    "PulsarProducerError",
    "UsageError",
    "BrokerError",
    "NetworkError",
    "error_for",
    "error_class",
    "LibraryNotFoundError",
    "LibraryVersionError",
]

LibraryNotFoundError = _native.LibraryNotFoundError
LibraryVersionError = _native.LibraryVersionError


class PulsarProducerError(Exception):
    """Base class of every error the library reports.

    ``code`` is the pp_result number, ``name`` its CamelCase name, ``kind``
    who is at fault ("usage", "broker" or "network"), ``retriable`` whether
    retrying the same operation may succeed, ``description`` the generic
    one-line meaning of the code. ``str(exc)`` is the specific message.
    """

    code: int = 1
    name: str = "Unknown"
    kind: str = "broker"
    retriable: bool = False
    description: str = "unknown result code"

    def __init__(self, message: str = "", code: int | None = None) -> None:
        super().__init__(message or self.description)
        if code is not None and code != type(self).code:
            self.code = code

    def __reduce__(self) -> tuple[type[PulsarProducerError], tuple[str, int]]:
        return (type(self), (str(self), self.code))


class UsageError(PulsarProducerError):
    """The caller misused the API (bad argument or option, closed producer, full queue...)."""

    kind = "usage"


class BrokerError(PulsarProducerError):
    """The broker refused the request."""

    kind = "broker"


class NetworkError(PulsarProducerError):
    """The connection failed, timed out, or the peer broke the protocol."""

    kind = "network"


_KIND_BASES: dict[str, type[PulsarProducerError]] = {
    "usage": UsageError,
    "broker": BrokerError,
    "network": NetworkError,
}

# Python built-ins to mix in, by the table's name. Names absent from the
# table are ignored; codes absent from here get no built-in.
_BUILTIN_MIXINS: dict[str, type[Exception]] = {
    "Timeout": builtins.TimeoutError,
    "ConnectError": builtins.ConnectionError,
    "NotConnected": builtins.ConnectionError,
    "Disconnected": builtins.ConnectionError,
    "InvalidConfiguration": builtins.ValueError,
    "InvalidMessage": builtins.ValueError,
    "InvalidTopicName": builtins.ValueError,
    "InvalidUrl": builtins.ValueError,
    "InvalidHandle": builtins.ValueError,
    "InvalidArgument": builtins.ValueError,
    "OperationNotSupported": builtins.NotImplementedError,
}

_BY_CODE: dict[int, type[PulsarProducerError]] = {}
_BY_NAME: dict[str, type[PulsarProducerError]] = {}


def _generate() -> None:
    for code, name, kind, retriable, description in _native.result_table():
        if code == _native.OK:
            continue
        if not name.isidentifier():  # pragma: no cover - defensive
            continue
        base = _KIND_BASES.get(kind)
        if base is None:  # a kind this package does not know yet
            base = PulsarProducerError
        bases: tuple[type, ...] = (base,)
        mixin = _BUILTIN_MIXINS.get(name)
        if mixin is not None:
            bases += (mixin,)
        cls = type(
            name,
            bases,
            {
                "__module__": __name__,
                "__qualname__": name,
                "__doc__": f"{description[:1].upper()}{description[1:]} (code {code}, {kind}).",
                "code": code,
                "name": name,
                "kind": kind,
                "retriable": retriable,
                "description": description,
            },
        )
        _BY_CODE[code] = cls
        _BY_NAME[name] = cls
        if name not in globals():  # never shadow this module's own names
            globals()[name] = cls
            __all__.append(name)


_generate()


def error_class(code: int) -> type[PulsarProducerError]:
    """The exception class of a result code."""
    return _BY_CODE.get(code, PulsarProducerError)


def error_for(code: int, message: str = "") -> PulsarProducerError:
    """The exception for a result code, with the library's message."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return PulsarProducerError(message or f"result {code}", code)
    return cls(message)


def error_classes() -> dict[str, type[PulsarProducerError]]:
    """Every generated class by its name."""
    return dict(_BY_NAME)


def __getattr__(name: str) -> type[PulsarProducerError]:
    # Only reached for names that are not generated: this function exists so
    # that type checkers accept ``errors.Timeout`` and the like.
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
