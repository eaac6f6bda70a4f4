"""Loading libpulsar_producer and declaring its C functions for ctypes.

How this works: the shared library is looked up in this order and the first
existing file is loaded (a missing one raises LibraryNotFoundError naming
every path tried):

  1. $PULSAR_PRODUCER_LIB, a file path (or a directory holding the library).
     When set, nothing else is tried.
  2. ``_lib/`` inside this package: where a built wheel bundles it.
  3. ``build/lib/`` of the repository, for a development checkout
     (this file is ``<repo>/bindings/python/pulsar_producer/_native.py``).

The library is opened twice over the same handle: as ``ctypes.CDLL``, which
releases the GIL around each call (for calls that block or do real work:
start, drain, flush, close, stop, and the batch sends, so that the
completion thread can settle futures while Go queues a batch), and as
``ctypes.PyDLL``, which keeps it (cheaper, for calls that never block: a
single send, which is never given blockIfQueueFull, and the message ID
helpers). After loading, the library's version must have this package's
major.minor, or LibraryVersionError is raised: the structures below follow
that header. Pointers the library only reads (payloads, length and user
data arrays) are passed as integers or bytes.

Struct layouts follow include/pulsar_producer.h for LP64 platforms.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
from ctypes import (
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Any

from ._libfile import LIB_FILE as LIB_FILE  # re-exported: tests and setup.py use it

__all__ = [
    "LIB",
    "LIB_PATH",
    "PYLIB",
    "LibraryNotFoundError",
    "LibraryVersionError",
    "PACKAGE_VERSION",
]

#: The package version; the library must have the same major.minor.
PACKAGE_VERSION = "0.1.0"

ENV_VAR = "PULSAR_PRODUCER_LIB"


# Result codes the binding itself needs (include/pulsar_producer.h); every
# other code is handled generically through pp_result_table().
OK = 0
ERR_INVALID_CONFIGURATION = 2
ERR_TIMEOUT = 3
ERR_ALREADY_CLOSED = 15
ERR_INVALID_MESSAGE = 16
ERR_INTERRUPTED = 45
ERR_PRODUCER_QUEUE_IS_FULL = 27
ERR_MEMORY_BUFFER_IS_FULL = 44
ERR_INVALID_HANDLE = 100
ERR_INVALID_ARGUMENT = 101
ERR_BUFFER_TOO_SMALL = 102

ERRBUF_SIZE = 512
INT_MAX = 2**31 - 1


class LibraryNotFoundError(ImportError):
    """libpulsar_producer could not be found; the message lists the paths tried."""


class LibraryVersionError(ImportError):
    """The loaded libpulsar_producer has a version this package cannot use."""


def candidate_paths() -> list[Path]:
    """The paths where the library is looked for, in order."""
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env)
        return [p / LIB_FILE if p.is_dir() else p]
    here = Path(__file__).resolve().parent
    paths = [here / "_lib" / LIB_FILE]
    if len(here.parents) > 2:
        paths.append(here.parents[2] / "build" / "lib" / LIB_FILE)
    return paths


def _find() -> Path:
    tried = candidate_paths()
    for p in tried:
        if p.is_file():
            return p
    listing = "\n".join(f"  - {p}" for p in tried)
    if os.environ.get(ENV_VAR):
        hint = f"{ENV_VAR} names a file that does not exist; fix or unset it."
    else:
        hint = (
            "Install a wheel that bundles it, build it with `make lib` in a "
            f"checkout of the repository, or set {ENV_VAR} to its path."
        )
    raise LibraryNotFoundError(f"cannot find {LIB_FILE}; tried:\n{listing}\n{hint}")


# --- C structures ---------------------------------------------------------


class MessageIdC(Structure):
    _fields_ = [
        ("ledger_id", c_int64),
        ("entry_id", c_int64),
        ("partition", c_int32),
        ("batch_index", c_int32),
        ("batch_size", c_int32),
    ]


class ResultInfoC(Structure):
    _fields_ = [
        ("result", c_int),
        ("name", c_char_p),
        ("kind", c_char_p),
        ("retriable", c_int),
        ("description", c_char_p),
    ]


class PropertyC(Structure):
    _fields_ = [("key", c_char_p), ("value", c_char_p)]


class MessageC(Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("payload", c_void_p),
        ("payload_len", c_size_t),
        ("null_value", c_int),
        ("key", c_char_p),
        ("ordering_key", c_void_p),
        ("ordering_key_len", c_size_t),
        ("properties", POINTER(PropertyC)),
        ("property_count", c_size_t),
        ("event_time_ms", c_int64),
        ("deliver_at_ms", c_int64),
        ("deliver_after_ms", c_int64),
        ("sequence_id", c_int64),
        ("replication_clusters", POINTER(c_char_p)),
        ("replication_cluster_count", c_size_t),
        ("disable_replication", c_int),
    ]


class CompletionC(Structure):
    _fields_ = [
        ("user_data", c_void_p),
        ("result", c_int),
        ("id", MessageIdC),
        ("error", c_void_p),
    ]


#: One pp_completion as struct.iter_unpack reads it: user_data, result,
#: ledger, entry, partition, batch_index, batch_size, error pointer.
COMPLETION = struct.Struct("=Qi4xqqiii4xQ")
#: One pp_completion as a single bytes object.
COMPLETION_BYTES = struct.Struct(f"{COMPLETION.size}s")
if COMPLETION.size != ctypes.sizeof(CompletionC):  # pragma: no cover - non-LP64
    raise ImportError(
        f"unsupported platform: pp_completion is {ctypes.sizeof(CompletionC)} bytes, "
        f"expected {COMPLETION.size}"
    )

_ERRBUF = ctypes.c_char_p  # errbuf arguments: a writable buffer or None
_P_U64 = POINTER(c_uint64)
_P_SIZE = POINTER(c_size_t)


def _declare(lib: Any, name: str, restype: Any, argtypes: list[Any]) -> None:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes


def _load() -> tuple[ctypes.CDLL, ctypes.PyDLL, Path]:
    path = _find()
    try:
        cdll = ctypes.CDLL(str(path))
        pydll = ctypes.PyDLL(str(path))
    except OSError as exc:
        raise LibraryNotFoundError(f"cannot load {path}: {exc}") from exc
    for lib in (cdll, pydll):
        _declare(lib, "pp_version", c_int, [])
        _declare(lib, "pp_version_str", c_char_p, [])
        _declare(lib, "pp_result_table", POINTER(ResultInfoC), [_P_SIZE])
        _declare(
            lib, "pp_start", c_int, [c_char_p, c_char_p, c_char_p, _P_U64, _ERRBUF, c_size_t]
        )
        _declare(
            lib,
            "pp_send",
            c_int,
            [c_uint64, c_char_p, c_size_t, c_void_p, c_void_p, _ERRBUF, c_size_t],
        )
        _declare(
            lib,
            "pp_send_message",
            c_int,
            [c_uint64, c_void_p, c_void_p, c_void_p, _ERRBUF, c_size_t],  # msg by address
        )
        # data, lens, user_data and accepted travel as integers or bytes.
        for name in ("pp_send_batch", "pp_send_messages"):
            args = [c_uint64, c_void_p, c_void_p, c_size_t, c_void_p, c_void_p, c_void_p]
            if name == "pp_send_messages":
                del args[2]  # no lens
            _declare(lib, name, c_int, args + [c_void_p, c_size_t])
        _declare(lib, "pp_drain", c_int, [c_uint64, c_void_p, c_size_t, c_int, _P_SIZE])
        for name in ("pp_flush", "pp_close", "pp_stop"):
            _declare(lib, name, c_int, [c_uint64, c_int, _ERRBUF, c_size_t])
        _declare(lib, "pp_pending", c_int, [c_uint64, _P_SIZE])
        _declare(lib, "pp_producer_name", c_int, [c_uint64, c_char_p, c_size_t, _P_SIZE])
        _declare(lib, "pp_producer_partitions", c_int, [c_uint64, POINTER(c_int32)])
        _declare(lib, "pp_options_json", c_char_p, [])
        _declare(lib, "pp_message_id_str", c_size_t, [POINTER(MessageIdC), c_char_p, c_size_t])
        _declare(
            lib,
            "pp_message_id_serialize",
            c_int,
            [POINTER(MessageIdC), c_char_p, c_size_t, _P_SIZE],
        )
        _declare(
            lib, "pp_message_id_deserialize", c_int, [c_char_p, c_size_t, POINTER(MessageIdC)]
        )
    return cdll, pydll, path


def _check_version(lib: Any, path: Path) -> None:
    have = int(lib.pp_version())
    have_str = (lib.pp_version_str() or b"?").decode("ascii", "replace")
    major, minor, _ = (int(x) for x in PACKAGE_VERSION.split("."))
    if (have >> 16, (have >> 8) & 0xFF) != (major, minor):
        raise LibraryVersionError(
            f"pulsar_producer {PACKAGE_VERSION} needs libpulsar_producer {major}.{minor}.x, "
            f"but {path} is version {have_str}; rebuild it (`make lib`), install the "
            f"matching wheel, or point {ENV_VAR} at a matching library"
        )


#: Releases the GIL around every call: for calls that may block.
LIB: Any
#: Keeps the GIL: only for calls that never block.
PYLIB: Any
#: The file that was loaded.
LIB_PATH: Path
LIB, PYLIB, LIB_PATH = _load()
_check_version(PYLIB, LIB_PATH)
def library_version() -> str:
    """The loaded library's version string, such as "0.1.0"."""
    return str(PYLIB.pp_version_str().decode("ascii"))


def result_table() -> list[tuple[int, str, str, bool, str]]:
    """Every row of pp_result_table(): (code, name, kind, retriable, description)."""
    count = c_size_t()
    rows = PYLIB.pp_result_table(ctypes.byref(count))
    out = []
    for i in range(count.value):
        r = rows[i]
        out.append(
            (
                int(r.result),
                (r.name or b"").decode(),
                (r.kind or b"").decode(),
                bool(r.retriable),
                (r.description or b"").decode(),
            )
        )
    return out


def new_errbuf() -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(ERRBUF_SIZE)


def errbuf_text(buf: ctypes.Array[ctypes.c_char]) -> str:
    return buf.value.decode("utf-8", "replace")
