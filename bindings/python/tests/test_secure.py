"""Secured clusters: TLS, tokens (given, from a file, from a callable), OAuth2 and the Pulsar proxy with
mutual TLS, against the deployment of tests/broker/secure.sh, read back by the official Python
client over TLS with a token.

How this works: the deployment is described by the PP_SECURE_* variables that
`tests/broker/secure.sh env` prints (tests/run.sh exports them for its secure suite). Without
PP_SECURE_URL every test here is skipped, unless PP_SECURE_REQUIRED=1, when they fail instead.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pulsar_producer
from pulsar_producer import Client, MessageId, Producer

from conftest import official_id, read_back

ENV = os.environ
_MISSING = "PP_SECURE_URL is not set: start tests/broker/secure.sh and export what `secure.sh env` prints"


@pytest.fixture(scope="module", autouse=True)
def deployment() -> None:
    if not ENV.get("PP_SECURE_URL"):
        if ENV.get("PP_SECURE_REQUIRED") == "1":
            pytest.fail(_MISSING)
        pytest.skip(_MISSING)


def ours(mid: MessageId) -> tuple[int, int, int, int]:
    return (mid.ledger_id, mid.entry_id, mid.partition, mid.batch_index)


def secure_topic(tag: str) -> str:
    return f"persistent://{ENV['PP_SECURE_NAMESPACE']}/pytest-{tag}-{uuid.uuid4().hex[:12]}"


def tls() -> dict[str, Any]:
    return {"tls_trust_certs_file_path": ENV["PP_SECURE_CA"]}


def mtls() -> dict[str, Any]:
    """What the proxy wants besides a token: our certificate."""
    return {**tls(), "tls_certificate_file_path": ENV["PP_SECURE_CLIENT_CERT"],
            "tls_key_file_path": ENV["PP_SECURE_CLIENT_KEY"]}


@pytest.fixture(scope="module")
def reader_client(deployment: None) -> Iterator[Any]:
    """The official Python client, on the broker over TLS with the deployment's token."""
    import pulsar

    c = pulsar.Client(ENV["PP_SECURE_URL"], authentication=pulsar.AuthenticationToken(ENV["PP_SECURE_TOKEN"]),
                      tls_trust_certs_file_path=ENV["PP_SECURE_CA"], tls_validate_hostname=True,
                      logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    yield c
    c.close()


def secure_admin(method: str, path: str, body: Any = None) -> None:
    """The secured broker's admin REST API, as its superuser."""
    token = Path(ENV["PP_SECURE_ADMIN_TOKEN_FILE"]).read_text().strip()
    req = urllib.request.Request(f"{ENV['PP_SECURE_ADMIN_URL']}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30, context=ssl.create_default_context(cafile=ENV["PP_SECURE_CA"])):
        pass


def publish_and_check(p: Producer, reader: Any, topic: str, n: int = 50) -> list[MessageId]:
    payloads = [b"secure-%d" % i for i in range(n)]
    futures = [p.send_async(x, properties={"i": str(i)}) for i, x in enumerate(payloads)]
    ids = [f.result(timeout=60) for f in futures]
    msgs = read_back(reader, topic, n)
    assert [m.data() for m in msgs] == payloads
    assert [official_id(m) for m in msgs] == [ours(i) for i in ids]
    assert [m.properties()["i"] for m in msgs] == [str(i) for i in range(n)]
    return ids


def test_tls_and_a_token_string(reader_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pulsar_producer")
    topic = secure_topic("tls-token")
    url = ENV["PP_SECURE_URL"]
    assert url.startswith("pulsar+ssl://")
    with Producer(url, topic, auth=ENV["PP_SECURE_TOKEN"], tls_validate_hostname=True, log_level="debug",
                  batching_max_publish_delay=5, **tls()) as p:
        publish_and_check(p, reader_client, topic)
    assert caplog.records and not [r for r in caplog.records if ENV["PP_SECURE_TOKEN"] in r.getMessage()]


def test_a_token_file_option(reader_client: Any) -> None:
    topic = secure_topic("token-file")
    with Client(ENV["PP_SECURE_URL"], auth_token_file=ENV["PP_SECURE_TOKEN_FILE"], **tls()) as c:
        publish_and_check(c.create_producer(topic), reader_client, topic, 10)


def test_a_token_callable_runs_outside_the_librarys_locks(reader_client: Any) -> None:
    topic = secure_topic("token-callable")
    calls: list[str] = []
    holder: list[Client] = []

    def token() -> str:
        calls.append(threading.current_thread().name)
        if holder:
            holder[0].stats()  # calls into the library: under one of its locks this would never return
        return ENV["PP_SECURE_TOKEN"]

    with Client(ENV["PP_SECURE_URL"], auth=token, **tls()) as c:
        holder.append(c)
        publish_and_check(c.create_producer(topic, create_timeout=30_000), reader_client, topic, 10)
    assert calls and threading.current_thread().name not in calls  # on a library thread, before the handshake


def test_through_the_proxy_with_mutual_tls(reader_client: Any) -> None:
    url = ENV["PP_SECURE_PROXY_URL"]
    topic = secure_topic("proxy")
    with Producer(url, topic, auth=lambda: ENV["PP_SECURE_TOKEN"].encode(), **mtls()) as p:
        publish_and_check(p, reader_client, topic)
    partitioned = secure_topic("proxy-parts")
    secure_admin("PUT", f"/admin/v2/{partitioned.replace('://', '/')}/partitions", 3)
    with Producer(url, partitioned, auth_token_file=ENV["PP_SECURE_TOKEN_FILE"],
                  router=lambda m, n: int(m.payload or 0) % n, **mtls()) as p:
        assert p.partitions == 3
        ids = [p.send(b"%d" % i) for i in range(9)]
    assert [i.partition for i in ids] == [i % 3 for i in range(9)]
    for part in range(3):
        msgs = read_back(reader_client, f"{partitioned}-partition-{part}", 3)
        assert [m.data() for m in msgs] == [b"%d" % i for i in range(part, 9, 3)]
        assert [official_id(m) for m in msgs] == [ours(i) for i in ids[part::3]]


def test_the_proxy_wants_our_certificate_and_we_want_a_trusted_one() -> None:
    with pytest.raises(pulsar_producer.NetworkError, match="certificate required") as info:
        Producer(ENV["PP_SECURE_PROXY_URL"], secure_topic("no-cert"), auth=ENV["PP_SECURE_TOKEN"],
                 create_timeout=15_000, **tls())
    assert ENV["PP_SECURE_TOKEN"] not in str(info.value)
    with pytest.raises(pulsar_producer.ConnectError, match=r"signed by an authority this client does not trust "
                                                           r"\(set tls_trust_certs_file_path\)"):
        Producer(ENV["PP_SECURE_URL"], secure_topic("untrusted"), auth=ENV["PP_SECURE_TOKEN"], create_timeout=15_000)


def test_oauth2_credentials(reader_client: Any) -> None:
    topic = secure_topic("oauth2")
    with Producer(ENV["PP_SECURE_URL"], topic, auth_oauth2={"issuerUrl": ENV["PP_SECURE_OAUTH2_ISSUER"],
                                                             "privateKey": ENV["PP_SECURE_OAUTH2_CREDENTIALS"]},
                  **tls()) as p:
        publish_and_check(p, reader_client, topic, 10)


def test_a_wrong_token_is_an_authentication_error(caplog: pytest.LogCaptureFixture) -> None:
    wrong = ENV["PP_SECURE_TOKEN"][:-4] + ("AAAA" if not ENV["PP_SECURE_TOKEN"].endswith("AAAA") else "BBBB")
    with pytest.raises(pulsar_producer.AuthenticationError) as info:
        Producer(ENV["PP_SECURE_URL"], secure_topic("wrong"), auth=wrong, create_timeout=15_000, **tls())
    text = str(info.value)
    assert text.startswith("AuthenticationError: ") and "authenticat" in text.lower()[20:], text
    assert info.value.kind == "broker" and wrong not in text
    assert not [r for r in caplog.records if wrong in r.getMessage()]


@pytest.mark.parametrize("bad, words", [
    (lambda: 1 / 0, "raised ZeroDivisionError: division by zero"),
    (lambda: None, "raised TypeError: it returned NoneType, not a token (str or bytes)"),
], ids=["raises", "returns-none"])
def test_a_failing_token_callable_is_reported_not_a_crash(bad: Any, words: str,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    with Client(ENV["PP_SECURE_URL"], auth=bad, **tls()) as c:
        with pytest.raises(pulsar_producer.AuthenticationError) as info:
            c.create_producer(secure_topic("bad-callable"), create_timeout=15_000)
    assert words in str(info.value) and "the auth callable <lambda>" in str(info.value), str(info.value)
    assert info.value.__cause__ is not None
    assert [r for r in caplog.records if r.levelno == logging.ERROR and "the auth callable <lambda> failed" in
            r.getMessage()]


def test_auth_is_checked() -> None:
    with pytest.raises(TypeError, match="auth must be a token"):
        Client(ENV["PP_SECURE_URL"], auth=5)  # type: ignore[arg-type]
    with pytest.raises(pulsar_producer.InvalidConfiguration, match='give auth or option "auth_token", not both'):
        Client(ENV["PP_SECURE_URL"], auth="a", auth_token="b")
    oauth2 = {"issuerUrl": ENV["PP_SECURE_OAUTH2_ISSUER"], "privateKey": ENV["PP_SECURE_OAUTH2_CREDENTIALS"]}
    for other in ({"auth_token_file": ENV["PP_SECURE_TOKEN_FILE"]}, {"auth_oauth2": oauth2}):  # two ways to log in
        with pytest.raises(pulsar_producer.InvalidConfiguration, match="auth_token, auth_token_file or auth_oauth2"):
            Client(ENV["PP_SECURE_URL"], auth=lambda: "t", **other)
        with pytest.raises(pulsar_producer.InvalidConfiguration, match="set only one way to authenticate, not "
                                                                       f"auth_token and {next(iter(other))}"):
            Client(ENV["PP_SECURE_URL"], auth="t", **other)


def test_an_unverified_certificate_when_asked_for(reader_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    topic = secure_topic("insecure")
    with Producer(ENV["PP_SECURE_URL"], topic, auth=ENV["PP_SECURE_TOKEN"], tls_allow_insecure_connection=True) as p:
        publish_and_check(p, reader_client, topic, 5)
