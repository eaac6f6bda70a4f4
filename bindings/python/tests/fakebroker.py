"""A minimal fake Pulsar broker in Python, for behaviour a real broker will not show on demand.

How this works: a threaded TCP server on 127.0.0.1 answers the producer side of
the protocol (CONNECT, PARTITIONED_METADATA with 0 partitions, LOOKUP pointing
at itself, PRODUCER, CLOSE_PRODUCER, PING) with hand-encoded protobuf, and
answers SEND frames according to ``mode``: "ack" (a receipt per frame with a
growing entry ID), "stall" (no receipt ever: the client's queue fills) or
"duplicate" (the receipt a deduplicating broker gives a message it already
stored: ledger and entry -1). ``sends`` counts the messages received.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from typing import Any

_U64 = 2**64 - 1


def _varint(value: int) -> bytes:
    value &= _U64
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def encode(*fields: tuple[int, Any]) -> bytes:
    """Protobuf bytes of (field number, int | str | bytes) pairs."""
    out = bytearray()
    for num, value in fields:
        if isinstance(value, int):
            out += _varint(num << 3) + _varint(value)
        else:
            data = value.encode() if isinstance(value, str) else value
            out += _varint(num << 3 | 2) + _varint(len(data)) + data
    return bytes(out)


def decode(buf: bytes) -> dict[int, Any]:
    """The first value of each field (ints for varints, bytes for the rest)."""
    out: dict[int, Any] = {}
    i = 0

    def varint() -> int:
        nonlocal i
        shift = value = 0
        while True:
            byte = buf[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while i < len(buf):
        key = varint()
        wire = key & 7
        value: Any
        if wire == 0:
            value = varint()
        elif wire == 2:
            n = varint()
            value, i = buf[i:i + n], i + n
        else:
            n = 8 if wire == 1 else 4
            value, i = buf[i:i + n], i + n
        out.setdefault(key >> 3, value)
    return out


class FakeBroker:
    def __init__(self, mode: str = "ack") -> None:
        self.mode = mode
        self.sends = 0
        self.conns: list[socket.socket] = []
        broker = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                broker.conns.append(self.request)
                try:
                    broker._serve(self.request)
                except (OSError, struct.error):
                    pass

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"pulsar://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        f = sock.makefile("rb")
        entry = 0
        while True:
            head = f.read(4)
            if len(head) < 4:
                return
            frame = f.read(struct.unpack(">I", head)[0])
            (size,) = struct.unpack(">I", frame[:4])
            cmd = decode(frame[4:4 + size])
            kind = cmd[1]
            body = decode(cmd.get(kind, b""))
            reply: tuple[int, bytes] | None = None
            if kind == 2:  # CONNECT
                reply = (3, encode((1, "pyfake"), (2, 21), (3, 5 << 20)))
            elif kind == 21:  # PARTITIONED_METADATA
                reply = (22, encode((1, 0), (2, body[2]), (3, 0)))
            elif kind == 23:  # LOOKUP
                reply = (24, encode((1, self.url), (3, 1), (4, body[2]), (5, 1)))
            elif kind == 5:  # PRODUCER
                reply = (17, encode((1, body[3]), (2, f"pyfake-{body[2]}"), (3, -1), (6, 1)))
            elif kind == 15:  # CLOSE_PRODUCER
                reply = (13, encode((1, body[2])))
            elif kind == 18:  # PING
                reply = (19, b"")
            elif kind == 6:  # SEND
                self.sends += body.get(3, 1)
                if self.mode == "stall":
                    continue
                ledger = -1 if self.mode == "duplicate" else 1
                mid = encode((1, ledger), (2, -1 if self.mode == "duplicate" else entry))
                entry += 1
                reply = (7, encode((1, body[1]), (2, body[2]), (3, mid), (4, body.get(6, body[2]))))
            if reply is not None:
                data = encode((1, reply[0]), (reply[0], reply[1]))
                sock.sendall(struct.pack(">II", len(data) + 4, len(data)) + data)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
