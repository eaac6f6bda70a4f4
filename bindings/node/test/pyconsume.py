"""pyconsume.py: reads messages with the official Python client (pulsar-client,
from build/pyenv) and prints each as one JSON line: an independent reader for
the Node tests, where the Go reader (tests/cmd/ppconsume) cannot serve: TLS
with tokens and client certificates, schemas decoded by the client's own
StringSchema and JsonSchema, and chunked messages' serialized IDs.

How this works: it subscribes (Exclusive, from the earliest message) with
the credentials and schema the flags name, receives and acknowledges up to
-n messages, and prints for each: payload (base64), value (the schema's
decoding: a string, or the JSON record as an object; absent for bytes),
properties, key, ledgerId, entryId, partition, batchIndex and serializedId
(MessageId.serialize(), base64). It exits 0 once n messages were printed, 1
(saying how many arrived) otherwise.

--schema json reads records of the one shape the tests publish: User, with
fields age (int) and name (string), both nullable, sorted by name.
"""
import argparse
import base64
import json
import sys
import uuid
from typing import Any, Dict, Optional

import pulsar  # type: ignore[import-untyped]
from pulsar.schema import Integer, JsonSchema, Record, String, StringSchema  # type: ignore[import-untyped]


class User(Record):  # type: ignore[misc]  # pulsar has no type information
    _sorted_fields = True
    name = String()
    age = Integer()


def value_of(msg: Any, schema: str) -> Any:
    if schema == 'string':
        return msg.value()
    if schema == 'json':
        v = msg.value()
        return {'name': v.name, 'age': v.age}
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('--url', required=True)
    ap.add_argument('--topic', required=True)
    ap.add_argument('-n', type=int, default=1)
    ap.add_argument('--timeout-ms', type=int, default=30000)
    ap.add_argument('--schema', choices=['bytes', 'string', 'json'], default='bytes')
    ap.add_argument('--ca')
    ap.add_argument('--token')
    ap.add_argument('--cert')
    ap.add_argument('--key')
    a = ap.parse_args()

    kwargs: Dict[str, Any] = {'operation_timeout_seconds': 30, 'logger': pulsar.ConsoleLogger(pulsar.LoggerLevel.Error)}
    if a.ca:
        kwargs['tls_trust_certs_file_path'] = a.ca
        kwargs['tls_validate_hostname'] = True
    if a.token:
        kwargs['authentication'] = pulsar.AuthenticationToken(a.token)
    if a.cert:
        kwargs['tls_certificate_file_path'] = a.cert
        kwargs['tls_private_key_file_path'] = a.key
    schema: Any = {'bytes': pulsar.schema.BytesSchema(), 'string': StringSchema(), 'json': JsonSchema(User)}[a.schema]

    client = pulsar.Client(a.url, **kwargs)
    got = 0
    try:
        consumer = client.subscribe(a.topic, 'pyconsume-' + uuid.uuid4().hex[:12], schema=schema,
                                    initial_position=pulsar.InitialPosition.Earliest)
        while got < a.n:
            try:
                msg = consumer.receive(timeout_millis=a.timeout_ms)
            except pulsar.Timeout:
                break
            mid = msg.message_id()
            row: Dict[str, Optional[Any]] = {
                'payload': base64.b64encode(msg.data()).decode(),
                'properties': msg.properties(),
                'key': msg.partition_key(),
                'ledgerId': mid.ledger_id(),
                'entryId': mid.entry_id(),
                'partition': mid.partition(),
                'batchIndex': mid.batch_index(),
                'serializedId': base64.b64encode(mid.serialize()).decode(),
            }
            if a.schema != 'bytes':
                row['value'] = value_of(msg, a.schema)
            print(json.dumps(row), flush=True)
            consumer.acknowledge(msg)
            got += 1
        consumer.close()
    finally:
        client.close()
    if got < a.n:
        print(f'pyconsume: got {got} of {a.n} messages from {a.topic}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
