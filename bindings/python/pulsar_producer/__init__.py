"""pulsar_producer: an Apache Pulsar producer over libpulsar_producer's C ABI (ctypes).

    from pulsar_producer import Client, Producer

    with Producer("pulsar://localhost:6650", "my-topic") as producer:
        msg_id = producer.send(b"hello", properties={"k": "v"})
        futures = [producer.send_async(b"x" * 100) for _ in range(1000)]

    with Client("pulsar://localhost:6650") as client:
        a = client.create_producer("topic-a")
        b = client.create_producer("topic-b", block_if_queue_full=True)

Only the standard library is needed at run time. The error classes
(Timeout, ProducerQueueIsFull, AlreadyClosed, Forked, ...) are generated
from the library's result table and are attributes of this package and of
pulsar_producer.errors. Log records go to the "pulsar_producer" logger.
"""

from __future__ import annotations

from . import errors
from ._future import MessageFuture
from ._message import Payload, SendOptions
from ._native import LIB_PATH, PACKAGE_VERSION as __version__, library_version
from .errors import (BrokerError, LibraryNotFoundError, LibraryVersionError, NetworkError,
                     PulsarProducerError, UsageError)
from .message_id import MessageId
from .producer import Client, Producer, Stats

__all__ = ["Client", "Producer", "Stats", "MessageId", "MessageFuture", "Payload", "SendOptions", "errors",
           "PulsarProducerError", "UsageError", "BrokerError", "NetworkError", "LibraryNotFoundError",
           "LibraryVersionError", "LIB_PATH", "library_version", "__version__"]

# The generated error classes, as package attributes (LookupError stays out of __all__, so
# that a star import does not hide the built-in).
for _name, _cls in errors.error_classes().items():
    if _name not in globals():
        globals()[_name] = _cls
        if _name != "LookupError":
            __all__.append(_name)


def __getattr__(name: str) -> type[PulsarProducerError]:
    # Reached only for missing names; lets type checkers accept the generated classes.
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
