"""pulsar_producer: an Apache Pulsar producer over libpulsar_producer's C ABI.

How this works: the package loads the shared library with ctypes (_native:
$PULSAR_PRODUCER_LIB, else the copy bundled in the wheel, else build/lib of
a development checkout) and checks its version; errors generates one
exception class per result code from the library's own table, _options
checks options against its option table; Producer (producer) buffers
messages and hands them to the library in batches (_buffer, _messages), and
settles concurrent.futures Futures from a completion thread that drains
completions in batches (_core).

    from pulsar_producer import Producer

    with Producer("pulsar://localhost:6650", "my-topic") as producer:
        msg_id = producer.send(b"hello", properties={"k": "v"})
        futures = [producer.send_async(b"x" * 100) for _ in range(1000)]

Only the standard library is needed at run time.
"""

from __future__ import annotations

from ._native import PACKAGE_VERSION as __version__
from ._native import LIB_PATH, library_version
from .errors import (
    BrokerError,
    LibraryNotFoundError,
    LibraryVersionError,
    NetworkError,
    PulsarProducerError,
    UsageError,
    error_classes,
)
from ._future import MessageFuture
from .message_id import MessageId
from .producer import Payload, Producer, SendOptions
from . import errors

__all__ = [
    "Producer",
    "MessageId",
    "MessageFuture",
    "Payload",
    "SendOptions",
    "errors",
    "PulsarProducerError",
    "UsageError",
    "BrokerError",
    "NetworkError",
    "LibraryNotFoundError",
    "LibraryVersionError",
    "LIB_PATH",
    "library_version",
    "__version__",
]

# The generated exception classes (Timeout, ProducerQueueIsFull, ...) are
# also package attributes. LookupError is left out of __all__ so that a star
# import does not hide the built-in of that name.
for _name, _cls in error_classes().items():
    if _name not in globals():  # never shadow the package's own names
        globals()[_name] = _cls
        if _name != "LookupError":
            __all__.append(_name)
del _name, _cls


def __getattr__(name: str) -> type[PulsarProducerError]:
    # Only reached for names that are not attributes: this function exists so
    # that type checkers accept the generated exception classes (Timeout, ...).
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
