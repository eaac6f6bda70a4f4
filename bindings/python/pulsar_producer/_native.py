"""Loading libpulsar_producer and declaring its C ABI (include/pulsar_producer.h) for ctypes.

How this works: the library is the first existing file of $PULSAR_PRODUCER_LIB
(a file, or a directory holding it; when set nothing else is tried), ``_lib/``
in this package (where the wheel bundles it), and ``build/lib/`` of a
checkout. It is opened twice: ``LIB`` (CDLL) releases the GIL around each call,
for every call that may block or does real work; ``PYLIB`` (PyDLL) keeps it,
for calls that only read. Its major.minor must be this package's. ``RC`` maps
the names in pp_result_table() to numbers: the package names results, it never
spells their numbers.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, Structure, c_char_p, c_int, c_int32, c_int64, c_size_t, c_uint64, c_void_p
from pathlib import Path
from typing import Any

from ._libfile import LIB_FILE as LIB_FILE  # re-exported for setup.py and the tests

PACKAGE_VERSION = "1.0.0"
ENV_VAR = "PULSAR_PRODUCER_LIB"
NTS = 2**64 - 1  # PP_NTS
SEND_NONBLOCK, SEND_FLUSH = 1, 2  # PP_SEND_*
ID_DUPLICATE, ID_CHUNKED = 1, 2  # PP_ID_*
ERRBUF_SIZE = 1024
INT_MAX = 2**31 - 1


class LibraryNotFoundError(ImportError):
    """libpulsar_producer could not be found or loaded; the message lists the paths tried."""


class LibraryVersionError(ImportError):
    """The loaded libpulsar_producer has a version this package cannot use."""


class MessageIdC(Structure):
    _fields_ = [("ledger_id", c_int64), ("entry_id", c_int64), ("partition", c_int32),
                ("batch_index", c_int32), ("batch_size", c_int32), ("flags", c_int32),
                ("first_chunk_ledger_id", c_int64), ("first_chunk_entry_id", c_int64)]


class CompletionC(Structure):
    _fields_ = [("producer", c_uint64), ("user_data", c_void_p), ("result", c_int), ("id", MessageIdC),
                ("error", c_void_p)]


class PropertyC(Structure):
    _fields_ = [("key", c_char_p), ("key_len", c_size_t), ("value", c_char_p), ("value_len", c_size_t)]


class MessageC(Structure):
    _fields_ = [("struct_size", c_size_t), ("payload", c_char_p), ("payload_len", c_size_t), ("null_value", c_int),
                ("key", c_char_p), ("key_len", c_size_t), ("ordering_key", c_char_p), ("ordering_key_len", c_size_t),
                ("properties", POINTER(PropertyC)), ("property_count", c_size_t), ("event_time_ms", c_int64),
                ("deliver_at_ms", c_int64), ("deliver_after_ms", c_int64), ("sequence_id", c_int64),
                ("replication_clusters", POINTER(c_char_p)), ("replication_cluster_count", c_size_t),
                ("disable_replication", c_int), ("value_json", c_char_p), ("value_json_len", c_size_t),
                ("partition", c_int32)]


class StatsC(Structure):
    _fields_ = [("struct_size", c_size_t)] + [(name, c_int64) for name in (
        "msgs_sent bytes_sent msgs_acked bytes_acked msgs_failed bytes_failed pending_msgs pending_bytes reconnects "
        "latency_count latency_p50_us latency_p95_us latency_p99_us latency_p999_us latency_max_us").split()] + [
        ("producers", c_int32), ("connections", c_int32), ("connects", c_int64)]


class LogRecordC(Structure):
    _fields_ = [("level", c_int), ("time_ms", c_int64), ("message", c_char_p), ("topic", c_char_p),
                ("producer_name", c_char_p), ("broker", c_char_p), ("connection", c_uint64)]


class ResultInfoC(Structure):
    _fields_ = [("result", c_int), ("name", c_char_p), ("kind", c_char_p), ("retriable", c_int),
                ("description", c_char_p)]


if ctypes.sizeof(CompletionC) != 80:  # pragma: no cover - the row offsets in producer.py assume LP64
    raise ImportError(f"unsupported platform: pp_completion is {ctypes.sizeof(CompletionC)} bytes")

#: pp_token_cb: (user_data, buf, size, *len) -> pp_result.
TOKEN_CB = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, POINTER(c_size_t))

_H, _SZ, _U64, _E = c_uint64, POINTER(c_size_t), POINTER(c_uint64), c_char_p  # _E: an error buffer
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "pp_version": (c_int, []),
    "pp_version_str": (c_char_p, []),
    "pp_result_table": (POINTER(ResultInfoC), [_SZ]),
    "pp_options_json": (c_char_p, []),
    "pp_client_start": (c_int, [c_char_p, c_size_t, c_char_p, _U64, _E, c_size_t]),
    "pp_client_close": (c_int, [_H, c_int, _E, c_size_t]),
    "pp_client_stop": (c_int, [_H, c_int, _E, c_size_t]),
    "pp_client_set_token_provider": (c_int, [_H, TOKEN_CB, c_void_p, _E, c_size_t]),
    "pp_producer_open": (c_int, [_H, c_char_p, c_size_t, c_char_p, _U64, _E, c_size_t]),
    "pp_producer_wait": (c_int, [_H, c_int, _E, c_size_t]),
    "pp_send": (c_int, [_H, c_char_p, c_size_t, c_void_p, c_void_p, _E, c_size_t]),
    "pp_message_init": (None, [POINTER(MessageC)]),
    "pp_send_messages": (c_int, [_H, c_void_p, c_size_t, c_int, c_void_p, c_void_p, _SZ, _E, c_size_t]),
    "pp_drain": (c_int, [_H, c_void_p, c_size_t, c_int, _SZ]),
    "pp_flush": (c_int, [_H, c_int, _E, c_size_t]),
    "pp_close": (c_int, [_H, c_int, _E, c_size_t]),
    "pp_stop": (c_int, [_H, c_int, _E, c_size_t]),
    "pp_producer_name": (c_int, [_H, c_char_p, c_size_t, _SZ]),
    "pp_producer_partitions": (c_int, [_H, POINTER(c_int32)]),
    "pp_producer_stats": (c_int, [_H, POINTER(StatsC)]),
    "pp_client_stats": (c_int, [_H, POINTER(StatsC)]),
    "pp_client_logs": (c_int, [_H, POINTER(LogRecordC), c_size_t, _SZ]),
    "pp_message_id_str": (c_size_t, [POINTER(MessageIdC), c_char_p, c_size_t]),
    "pp_message_id_serialize": (c_int, [POINTER(MessageIdC), c_char_p, c_size_t, _SZ]),
    "pp_message_id_deserialize": (c_int, [c_char_p, c_size_t, POINTER(MessageIdC)]),
}


def candidate_paths() -> list[Path]:
    """Where the library is looked for, in order."""
    env = os.environ.get(ENV_VAR)
    if env:
        return [Path(env) / LIB_FILE if Path(env).is_dir() else Path(env)]
    here = Path(__file__).resolve().parent
    return [here / "_lib" / LIB_FILE] + [p / "build" / "lib" / LIB_FILE for p in here.parents[2:3]]


def _load() -> tuple[Any, Any, Path]:
    tried = candidate_paths()
    path = next((p for p in tried if p.is_file()), None)
    if path is None:
        listing = "\n".join(f"  - {p}" for p in tried)
        raise LibraryNotFoundError(f"cannot find {LIB_FILE}; tried:\n{listing}\nInstall a wheel that bundles it, "
                                   f"build it with `make lib` in a checkout, or set {ENV_VAR} to its path.")
    try:
        libs = ctypes.CDLL(str(path)), ctypes.PyDLL(str(path))
    except OSError as exc:
        raise LibraryNotFoundError(f"cannot load {path}: {exc}") from exc
    for lib in libs:
        for name, (restype, argtypes) in _SIGNATURES.items():
            getattr(lib, name).restype, getattr(lib, name).argtypes = restype, argtypes
    have, want = libs[1].pp_version(), tuple(int(x) for x in PACKAGE_VERSION.split(".")[:2])
    if (have >> 16, (have >> 8) & 0xFF) != want:
        raise LibraryVersionError(
            f"pulsar_producer {PACKAGE_VERSION} needs libpulsar_producer {want[0]}.{want[1]}.x, but {path} is "
            f"version {libs[1].pp_version_str().decode()}; rebuild it (`make lib`), install the matching wheel, "
            f"or point {ENV_VAR} at a matching library")
    return libs[0], libs[1], path


LIB: Any
PYLIB: Any
LIB_PATH: Path
LIB, PYLIB, LIB_PATH = _load()
_count = c_size_t()
#: Every row of pp_result_table(): (code, name, kind, retriable, description).
RESULTS = [(r.result, r.name.decode(), r.kind.decode(), bool(r.retriable), r.description.decode())
           for r in PYLIB.pp_result_table(ctypes.byref(_count))[: _count.value]]
#: Result numbers by name.
RC = {name: code for code, name, *_ in RESULTS}
OK = RC["Ok"]


def library_version() -> str:
    """The loaded library's version, such as "1.0.0"."""
    return str(PYLIB.pp_version_str().decode())


def errbuf() -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(ERRBUF_SIZE)


def _message_defaults() -> bytes:
    """A pp_message as pp_message_init() fills it, for MessageC.from_buffer_copy(). Initialised in a
    large buffer: a library with more fields than MessageC is refused rather than overrun."""
    area = ctypes.create_string_buffer(4096)
    PYLIB.pp_message_init(ctypes.cast(area, POINTER(MessageC)))
    size = MessageC.from_buffer(area).struct_size
    if size != ctypes.sizeof(MessageC):  # pragma: no cover - the version check makes the sizes agree
        raise LibraryVersionError(f"{LIB_PATH}: pp_message is {size} bytes, this package knows "
                                  f"{ctypes.sizeof(MessageC)}")
    return area.raw[:size]


#: The default pp_message (pp_message_init's), copied for every message.
MESSAGE_DEFAULTS = _message_defaults()
