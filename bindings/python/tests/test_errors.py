"""Exception classes from the result table, and bad input of every kind."""

from __future__ import annotations

import concurrent.futures
import pickle
from datetime import timedelta
from typing import Any

import pytest

import pulsar_producer
from pulsar_producer import _native, errors

from conftest import URL, run_python


def test_every_result_has_a_generated_class() -> None:
    table = _native.result_table()
    assert len(table) > 30
    for code, name, kind, retriable, description in table:
        if code == 0:
            continue
        cls = getattr(errors, name)
        assert getattr(pulsar_producer, name) is cls
        assert cls.__name__ == name and cls.__module__ == "pulsar_producer.errors"
        assert (cls.code, cls.name, cls.kind, cls.retriable, cls.description) == (
            code,
            name,
            kind,
            retriable,
            description,
        )
        assert issubclass(cls, pulsar_producer.PulsarProducerError)
        base = {"usage": errors.UsageError, "broker": errors.BrokerError, "network": errors.NetworkError}
        assert issubclass(cls, base[kind])
        assert errors.error_class(code) is cls


def test_builtin_bases() -> None:
    assert issubclass(errors.Timeout, TimeoutError)
    assert issubclass(errors.InvalidConfiguration, ValueError)
    assert issubclass(errors.ConnectError, ConnectionError)
    assert issubclass(errors.ProducerQueueIsFull, errors.UsageError)
    assert errors.ProducerQueueIsFull.retriable
    assert not errors.MessageTooBig.retriable
    assert issubclass(errors.TopicNotFound, errors.BrokerError)
    assert issubclass(errors.AuthenticationError, errors.BrokerError)
    assert issubclass(errors.AlreadyClosed, errors.UsageError)
    # The Pulsar LookupError is not the built-in one and does not hide it.
    assert errors.LookupError is not LookupError  # type: ignore[comparison-overlap]
    assert "LookupError" not in pulsar_producer.__all__


def test_error_for_and_pickle() -> None:
    exc = errors.error_for(3, "Timeout: took too long")
    assert type(exc).__name__ == "Timeout" and isinstance(exc, TimeoutError)
    assert (exc.code, exc.name, exc.kind) == (3, "Timeout", "network")
    assert str(exc) == "Timeout: took too long"
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is type(exc) and str(again) == str(exc) and again.code == 3
    unknown = errors.error_for(9999, "from the future")
    assert type(unknown) is pulsar_producer.PulsarProducerError and unknown.code == 9999


def test_version_mismatch_is_reported() -> None:
    class Fake:
        def pp_version(self) -> int:
            return (0 << 16) | (2 << 8) | 0

        def pp_version_str(self) -> bytes:
            return b"0.2.0"

    with pytest.raises(pulsar_producer.LibraryVersionError, match=r"needs libpulsar_producer 0\.1\.x.*is version 0\.2\.0"):
        _native._check_version(Fake(), _native.LIB_PATH)
    assert pulsar_producer.library_version() == pulsar_producer.__version__ == "0.1.0"


def test_missing_library_names_the_paths_tried(tmp_path: Any) -> None:
    missing = tmp_path / "nowhere" / "libpulsar_producer.so"
    r = run_python(
        "import pulsar_producer",
        PULSAR_PRODUCER_LIB=str(missing),
    )
    assert r.returncode != 0
    assert "LibraryNotFoundError" in r.stderr
    assert f"cannot find libpulsar_producer.so; tried:\n  - {missing}" in r.stderr
    assert "PULSAR_PRODUCER_LIB names a file that does not exist" in r.stderr
    assert issubclass(pulsar_producer.LibraryNotFoundError, ImportError)


def test_unknown_option_names_the_snake_case_option() -> None:
    # Options are checked before any connection is made.
    with pytest.raises(errors.InvalidConfiguration) as info:
        pulsar_producer.Producer(URL, "t", batching_max_mesages=10)
    assert str(info.value) == 'InvalidConfiguration: option "batching_max_mesages" is unknown'
    assert info.value.code == 2 and info.value.kind == "usage"
    with pytest.raises(errors.InvalidConfiguration, match='option "batchingMaxMessages" is unknown: options are the library\'s names in snake_case'):
        pulsar_producer.Producer(URL, "t", batchingMaxMessages=10)


def test_mistyped_option_names_the_snake_case_option() -> None:
    with pytest.raises(errors.InvalidConfiguration, match='option "batching_max_messages" must be an integer, got string "many"'):
        pulsar_producer.Producer(URL, "t", batching_max_messages="many")
    with pytest.raises(errors.InvalidConfiguration, match='option "block_if_queue_full" must be True or False'):
        pulsar_producer.Producer(URL, "t", block_if_queue_full="yes")
    with pytest.raises(errors.InvalidConfiguration, match='option "compression_type" must be one of none, lz4'):
        pulsar_producer.Producer(URL, "t", compression_type="brotli")


def test_connect_failure_is_a_connection_error() -> None:
    with pytest.raises(errors.NetworkError) as info:
        pulsar_producer.Producer("pulsar://127.0.0.1:1", "t", connection_timeout=timedelta(seconds=2), operation_timeout=3000)
    assert isinstance(info.value, ConnectionError) or isinstance(info.value, TimeoutError)


@pytest.fixture
def producer(broker: str, topic: str) -> Any:
    p = pulsar_producer.Producer(broker, topic)
    yield p
    p.close()


def test_str_payload_is_a_type_error(producer: pulsar_producer.Producer) -> None:
    with pytest.raises(TypeError, match=r"payload must be bytes, bytearray, memoryview or None, not str: encode text first"):
        producer.send_async("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not str"):
        producer.send("text", key="k")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not int"):
        producer.send(42)  # type: ignore[arg-type]
    assert producer.pending == 0


def test_wrong_types_of_message_options(producer: pulsar_producer.Producer) -> None:
    with pytest.raises(TypeError, match=r"deliver_after must be a datetime.timedelta or an int of milliseconds, not str '5s'"):
        producer.send(b"x", deliver_after="5s")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"deliver_after must be a datetime.timedelta or an int of milliseconds, not float 1.5"):
        producer.send(b"x", deliver_after=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"event_time must be a datetime.datetime or an int"):
        producer.send(b"x", event_time="now")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="property 'a' must be a str, not int"):
        producer.send(b"x", properties={"a": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="unexpected keyword argument 'partition_key'"):
        producer.send(b"x", partition_key="k")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="key must not contain NUL"):
        producer.send(b"x", key="a\0b")


def test_invalid_message_combinations(producer: pulsar_producer.Producer) -> None:
    with pytest.raises(errors.InvalidMessage):
        producer.send(b"x", deliver_after=-5)
    with pytest.raises(errors.InvalidMessage, match="sequence_id"):
        producer.send(b"x", sequence_id=-7)


def test_negative_timeout(producer: pulsar_producer.Producer) -> None:
    with pytest.raises(errors.InvalidArgument, match="timeout must not be negative, got -1 ms"):
        producer.flush(-1)
    with pytest.raises(errors.InvalidArgument, match="timeout must not be negative, got -2000 ms"):
        producer.flush(timedelta(seconds=-2))
    with pytest.raises(errors.InvalidArgument, match="timeout must not be negative"):
        producer.close(-1)
    with pytest.raises(TypeError, match="timeout must be a datetime.timedelta or an int of milliseconds, not float"):
        producer.flush(0.5)  # type: ignore[arg-type]
    assert not producer.closed


def test_send_after_close(broker: str, topic: str) -> None:
    p = pulsar_producer.Producer(broker, topic)
    p.send(b"before")
    p.close()
    p.close()  # idempotent
    assert p.closed
    for attempt in (lambda: p.send_async(b"x"), lambda: p.send(b"x", key="k"), lambda: p.flush()):
        with pytest.raises(errors.AlreadyClosed, match=f"producer for {topic} is closed"):
            attempt()


def test_message_too_big(producer: pulsar_producer.Producer) -> None:
    with pytest.raises(errors.MessageTooBig) as info:
        producer.send_async(b"x" * (6 * 1024 * 1024))
    assert "MessageTooBig" in str(info.value)
    assert producer.pending == 0
    producer.send(b"small")  # the producer is fine afterwards


def test_queue_full_without_blocking(broker: str, topic: str) -> None:
    p = pulsar_producer.Producer(broker, topic, max_pending_messages=5, batching_max_publish_delay=200)
    futures: list[concurrent.futures.Future[pulsar_producer.MessageId]] = []
    with pytest.raises(errors.ProducerQueueIsFull) as info:
        for _ in range(1000):
            futures.append(p.send_async(b"x"))
    assert info.value.retriable and "ProducerQueueIsFull" in str(info.value)
    p.flush()
    assert all(f.done() and f.exception() is None for f in futures)
    p.close()
