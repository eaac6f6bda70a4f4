"""Fixtures: a real Pulsar broker, unique topics, and independent readers.

How this works: the session makes sure a broker answers on the admin URL
(starting one with the repository's tests/broker/broker.sh if none does;
PULSAR_URL / PULSAR_ADMIN_URL point elsewhere). What we publish is read back
by clients that share no code with us: the official Python client
(``read_back``), and the official Java client through the repository's
JavaCheck program (``java_check``), which shows the fields the Python client
cannot (sequence ID, replication clusters, deliver-at time, empty keys,
binary ordering keys). JavaCheck is compiled into the same cache directory,
under the same key, as tests/javacheck/javacheck.go uses, so the two share
the jar and its class-data-sharing archive.

The package under test is whatever ``import pulsar_producer`` finds: an
installed wheel, or this checkout.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PKG_ROOT = Path(__file__).resolve().parents[1]  # bindings/python
REPO = PKG_ROOT.parents[1]
URL = os.environ.get("PULSAR_URL", "pulsar://127.0.0.1:6650")
ADMIN = os.environ.get("PULSAR_ADMIN_URL", "http://127.0.0.1:8080")

try:
    import pulsar_producer  # noqa: F401
except ImportError as exc:  # not installed: use the checkout
    if "No module named 'pulsar_producer'" not in str(exc):
        raise
    sys.path.insert(0, str(PKG_ROOT))


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
    req = urllib.request.Request(f"{ADMIN}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
    return json.loads(text) if text else None


def new_topic(tag: str = "t") -> str:
    return f"persistent://public/default/pytest-{tag}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def topic(broker: str, request: pytest.FixtureRequest) -> str:
    return new_topic(request.node.name[:40].replace("[", "-").replace("]", ""))


@pytest.fixture(scope="session")
def official(broker: str) -> Iterator[Any]:
    """The official Python client."""
    import pulsar

    c = pulsar.Client(broker, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    yield c
    c.close()


def read_back(client: Any, topic: str, count: int, timeout_ms: int = 30000, schema: Any = None) -> list[Any]:
    """The first ``count`` messages of topic, read with the official Python client (decoded by
    ``schema``, a pulsar.schema schema, if given)."""
    import pulsar

    extra = {} if schema is None else {"schema": schema}
    reader = client.create_reader(topic, pulsar.MessageId.earliest, **extra)
    try:
        return [reader.read_next(timeout_ms) for _ in range(count)]
    finally:
        reader.close()


def official_id(msg: Any) -> tuple[int, int, int, int]:
    mid = msg.message_id()
    return (mid.ledger_id(), mid.entry_id(), mid.partition(), mid.batch_index())


def _javacheck_jar() -> Path:
    """JavaCheck compiled (once, in the cache tests/javacheck/javacheck.go uses)."""
    src = REPO / "tests" / "javacheck" / "JavaCheck.java"
    home = subprocess.run(["bash", str(REPO / "tests" / "broker" / "broker.sh"), "home"], check=True,
                          capture_output=True, text=True).stdout.strip()
    java = os.path.realpath(shutil.which("java") or "java")
    h = hashlib.sha256(f"{home}\0{java}\0".encode())
    marker = Path(home) / ".pp-installed"
    if marker.exists():
        h.update(f"{marker.stat().st_mtime_ns}\0".encode())
    h.update(src.read_bytes())
    root = Path(os.environ.get("PP_CACHE") or Path.home() / ".cache" / "pulsar-producer")
    d = root / "javacheck" / h.hexdigest()[:16]
    jar = d / "javacheck.jar"
    if not jar.exists():
        tmp = root / "javacheck" / f"build-py-{os.getpid()}"
        classes = tmp / "classes"
        subprocess.run(["javac", "-nowarn", "-d", str(classes), "-cp", f"{home}/lib/*", str(src)], check=True)
        with zipfile.ZipFile(tmp / "javacheck.jar", "w") as z:
            for f in classes.rglob("*.class"):
                z.write(f, f.relative_to(classes).as_posix())
        shutil.rmtree(classes)
        try:
            tmp.rename(d)
        except OSError:  # another process won the race
            shutil.rmtree(tmp, ignore_errors=True)
    return jar


def java_check(topic: str, count: int, subscription: str = "shared", timeout_ms: int = 30000) -> list[dict[str, Any]]:
    """Up to ``count`` messages of topic as the official Java client sees them (JavaCheck's JSON,
    with payload and orderingKey decoded to bytes)."""
    jar = _javacheck_jar()
    home = jar.parent
    args = ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m", "-Xlog:disable",
            "-Xlog:all=error:stderr"]
    jsa = home / "javacheck.jsa"
    training = home / f"javacheck.jsa.{os.getpid()}.tmp"
    args.append(f"-XX:SharedArchiveFile={jsa}" if jsa.exists() else f"-XX:ArchiveClassesAtExit={training}")
    pulsar_home = subprocess.run(["bash", str(REPO / "tests" / "broker" / "broker.sh"), "home"], check=True,
                                 capture_output=True, text=True).stdout.strip()
    args += ["-cp", f"{jar}{os.pathsep}{pulsar_home}/lib/*", "JavaCheck", URL, topic, str(count), str(timeout_ms),
             subscription]
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout_ms / 1000 + 120)
    if training.exists():
        if r.returncode == 0:
            training.rename(jsa)
        else:
            training.unlink()
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        if line.startswith("{") and '"done"' not in line:
            m = json.loads(line)
            m["payload"] = base64.b64decode(m["payloadBase64"])
            m["orderingKey"] = base64.b64decode(m["orderingKeyBase64"]) if m["orderingKeyBase64"] else None
            out.append(m)
    return out


def run_python(code: str, timeout: float = 60, cwd: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs code in a fresh interpreter that imports the same pulsar_producer (and these helpers)."""
    import pulsar_producer

    full_env = dict(os.environ)
    paths = [str(Path(pulsar_producer.__file__).resolve().parents[1]), str(Path(__file__).parent)]
    full_env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                                      if p])
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=full_env,
                          cwd=cwd)
