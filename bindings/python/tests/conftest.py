"""Fixtures: a real Pulsar broker, unique topics, and the official client.

How this works: the session makes sure a broker answers on the admin URL,
starting one with the repository's tests/broker/broker.sh (idempotent) if
not; PULSAR_URL / PULSAR_ADMIN_URL point the tests elsewhere. Every test
gets a fresh topic. What we publish is read back with the official
pulsar-client (a test-only dependency), through ``read_back``.

The package under test is whatever ``import pulsar_producer`` finds: an
installed wheel, or this checkout (the bindings/python directory is put on
sys.path only when no installed copy exists).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

PKG_ROOT = Path(__file__).resolve().parents[1]  # bindings/python
REPO = PKG_ROOT.parents[1]
URL = os.environ.get("PULSAR_URL", "pulsar://127.0.0.1:6650")
ADMIN = os.environ.get("PULSAR_ADMIN_URL", "http://127.0.0.1:8080")

try:
    import pulsar_producer  # noqa: F401
except ImportError as exc:  # not installed: use the checkout
    if "pulsar_producer" in str(exc) and "No module" in str(exc):
        sys.path.insert(0, str(PKG_ROOT))
    else:
        raise


def _broker_ready() -> bool:
    try:
        with urllib.request.urlopen(f"{ADMIN}/admin/v2/namespaces/public", timeout=3) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def broker() -> str:
    """The service URL of a running broker."""
    if not _broker_ready():
        script = REPO / "tests" / "broker" / "broker.sh"
        if "PULSAR_URL" in os.environ or not script.exists():
            pytest.fail(f"no Pulsar broker answers at {ADMIN}")
        subprocess.run([str(script), "start"], check=True)
    return URL


def admin(method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{ADMIN}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
    return json.loads(text) if text else None


def new_topic(tag: str = "t") -> str:
    return f"persistent://public/default/pytest-{tag}-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def topic(broker: str, request: pytest.FixtureRequest) -> str:
    return new_topic(request.node.name[:40].replace("[", "-").replace("]", ""))


@pytest.fixture(scope="session")
def client(broker: str) -> Iterator[Any]:
    """The official Python client."""
    import pulsar

    c = pulsar.Client(broker, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    yield c
    c.close()


def read_back(client: Any, topic: str, count: int, timeout_ms: int = 30000) -> list[Any]:
    """The first ``count`` messages of topic, read with the official client."""
    import pulsar

    reader = client.create_reader(topic, pulsar.MessageId.earliest)
    try:
        return [reader.read_next(timeout_ms) for _ in range(count)]
    finally:
        reader.close()


def official_id(msg: Any) -> tuple[int, int, int, int]:
    mid = msg.message_id()
    return (mid.ledger_id(), mid.entry_id(), mid.partition(), mid.batch_index())


def run_python(code: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs code in a fresh interpreter that imports the same pulsar_producer."""
    import pulsar_producer

    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(pulsar_producer.__file__).resolve().parents[1])]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


def run_threads(target: Callable[[int], object], count: int) -> None:
    """Runs target(0) ... target(count - 1) on as many threads, and joins them."""
    workers = [threading.Thread(target=target, args=(t,)) for t in range(count)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
