"""Client(auth=...): a token, or a callable the library asks for one.

How this works: a str is the auth_token option. A callable becomes the
client's token supplier (pp_client_set_token_provider): the library calls it
before each new connection's handshake and whenever a broker asks for fresh
credentials, on a library thread, one call at a time and never while it holds
a lock; ctypes takes the GIL for the call. Whatever the callable raises or
returns that is not a token is caught here (an exception must never unwind
into the library): it is logged on the "pulsar_producer" logger, kept for the
error the failed connection leads to, and the library is told the supplier
failed, which fails that connection with AuthenticationError. The token is
never logged.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any, Callable, Optional, Union

from ._native import RC, TOKEN_CB
from .errors import PulsarProducerError, error_for

LOGGER = logging.getLogger("pulsar_producer")
_OK, _TOO_SMALL, _AUTH = int(RC["Ok"]), int(RC["BufferTooSmall"]), int(RC["AuthenticationError"])

#: What Client(auth=...) takes: a token, or a callable returning one (str or bytes).
Auth = Union[str, Callable[[], Union[str, bytes]]]


class TokenSupplier:
    """A Python callable as a pp_token_cb. Keep the instance as long as its client: it owns the
    C function pointer the library holds."""

    def __init__(self, fn: Callable[[], Union[str, bytes]]) -> None:
        self.fn = fn
        self.name = getattr(fn, "__qualname__", None) or repr(fn)
        self.failure: Optional[BaseException] = None  # what the latest call raised, if it failed
        self.c_function = TOKEN_CB(self._call)

    def _call(self, _user_data: Any, buf: int, size: int, length: Any) -> int:
        try:
            token = self.fn()
            if isinstance(token, str):
                data = token.encode()
            elif isinstance(token, (bytes, bytearray)):
                data = bytes(token)
            else:
                raise TypeError(f"it returned {type(token).__name__}, not a token (str or bytes)")
            length[0] = len(data)
            if len(data) > size:
                return _TOO_SMALL  # the library calls again with room for it
            ctypes.memmove(buf, data, len(data))
            self.failure = None
            return _OK
        except BaseException as exc:  # nothing may unwind into the library's thread
            self.failure = exc
            LOGGER.error("the auth callable %s failed: %s: %s", self.name, type(exc).__name__, exc)
            return _AUTH

    def explain(self, exc: PulsarProducerError) -> PulsarProducerError:
        """``exc`` (an authentication failure) with what the callable raised, if that caused it."""
        cause = self.failure
        if cause is None or exc.name != "AuthenticationError":
            return exc
        better = error_for(exc.code, f"{exc} (the auth callable {self.name} raised {type(cause).__name__}: {cause})")
        better.__cause__ = cause
        return better
