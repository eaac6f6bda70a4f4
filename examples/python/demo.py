"""Publishes a few messages with pulsar_producer and prints their message IDs.

How this works: used by `make demo` (tests/demo.sh) as
``python examples/python/demo.py [service_url] [topic]``; it runs from a
checkout (the package is imported from bindings/python if it is not
installed) and needs only the standard library and a running broker.
"""

from __future__ import annotations

import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python"))

from pulsar_producer import Client, MessageId, Producer  # noqa: E402


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "pulsar://127.0.0.1:6650"
    topic = sys.argv[2] if len(sys.argv) > 2 else "persistent://public/default/pp-demo"
    with Producer(url, topic, batching_max_publish_delay=5) as producer:
        mid = producer.send(b"hello from Python", key="demo", properties={"lang": "python"})
        print(f"python send:       {mid}")
        futures = [producer.send_async(b"async %d" % i) for i in range(3)]
        producer.flush()
        for f in futures:
            print(f"python send_async: {f.result()}")

        async def coro() -> MessageId:
            return await producer.asend(b"from asyncio")

        print(f"python asend:      {asyncio.run(coro())}")

    with Client(url) as client:  # several producers sharing one client
        a, b = client.create_producer(topic), client.create_producer(topic)
        print(f"python 2 producers of one client: {a.send(b'from a')} {b.send(b'from b')}")
        print(f"python client stats: {client.stats().msgs_acked} acknowledged")


if __name__ == "__main__":
    main()
