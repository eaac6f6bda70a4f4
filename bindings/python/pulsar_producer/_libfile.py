"""The shared library's file name on this platform.

How this works: a module of its own, importing nothing of the package, so
that setup.py can read it (runpy) at build time without loading the library.
"""

from __future__ import annotations

import sys

__all__ = ["LIB_FILE"]

if sys.platform == "darwin":
    LIB_FILE = "libpulsar_producer.dylib"
elif sys.platform == "win32":
    LIB_FILE = "pulsar_producer.dll"
else:
    LIB_FILE = "libpulsar_producer.so"
