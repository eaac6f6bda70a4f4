"""pulsar_producer: an Apache Pulsar producer over libpulsar_producer's C ABI (ctypes, standard library only).

    with Producer("pulsar://localhost:6650", "my-topic") as producer:
        msg_id = producer.send(b"hello", properties={"k": "v"})
    with Client("pulsar://localhost:6650") as client:
        a, b = client.create_producer("topic-a"), client.create_producer("topic-b")
    with Producer("pulsar+ssl://broker:6651", "t", auth=token, tls_trust_certs_file_path="ca.pem",
                  schema="STRING") as producer:
        producer.send(value="text")

The error classes (Timeout, ProducerQueueIsFull, AlreadyClosed, Forked, ...) are generated from the
library's result table; they are attributes of this package and of pulsar_producer.errors.
"""

from __future__ import annotations

from . import errors
from ._auth import Auth
from ._future import MessageFuture
from ._hooks import Interceptor, OutgoingMessage, Router
from ._message import Payload, SendOptions
from ._native import LIB_PATH, PACKAGE_VERSION as __version__, library_version
from .errors import (BrokerError, LibraryNotFoundError, LibraryVersionError, NetworkError, PulsarProducerError,
                     UsageError)
from .message_id import MessageId
from ._value import KeyValue
from .producer import Client, Producer, Stats

__all__ = ["Client", "Producer", "Stats", "MessageId", "MessageFuture", "Payload", "SendOptions", "KeyValue",
           "OutgoingMessage", "Interceptor", "Router", "Auth", "errors",
           "PulsarProducerError", "UsageError", "BrokerError", "NetworkError", "LibraryNotFoundError",
           "LibraryVersionError", "LIB_PATH", "library_version", "__version__"]

for _name, _cls in errors.error_classes().items():  # LookupError stays out of __all__: it would hide the built-in
    if _name not in globals():
        globals()[_name] = _cls
        if _name != "LookupError":
            __all__.append(_name)


def __getattr__(name: str) -> type[PulsarProducerError]:
    # Reached only for missing names; lets type checkers accept the generated classes.
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
