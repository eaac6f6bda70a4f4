"""Where the library is found: the wheel's copy, a checkout's build/lib, or the env var."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import pulsar_producer
from pulsar_producer import _native

from conftest import PKG_ROOT, REPO, run_python

PACKAGE_DIR = Path(pulsar_producer.__file__).resolve().parent
INSTALLED = PACKAGE_DIR.parent != PKG_ROOT


def test_library_location_matches_the_install_kind() -> None:
    if os.environ.get("PULSAR_PRODUCER_LIB"):
        pytest.skip("PULSAR_PRODUCER_LIB overrides the location")
    if INSTALLED:
        assert _native.LIB_PATH == PACKAGE_DIR / "_lib" / _native.LIB_FILE
    else:
        assert _native.LIB_PATH == REPO / "build" / "lib" / _native.LIB_FILE
    assert (PACKAGE_DIR / "py.typed").is_file()


@pytest.mark.skipif(os.environ.get("PP_EXPECT_WHEEL") != "1", reason="set PP_EXPECT_WHEEL=1 to test an installed wheel")
def test_installed_wheel_bundles_the_library() -> None:
    assert INSTALLED, f"imported {PACKAGE_DIR}, not an installed wheel"
    assert (PACKAGE_DIR / "_lib" / _native.LIB_FILE).is_file()
    assert _native.LIB_PATH.parent == PACKAGE_DIR / "_lib"


def test_env_var_overrides_the_library(tmp_path: Path) -> None:
    copy = tmp_path / "custom" / _native.LIB_FILE
    copy.parent.mkdir()
    shutil.copy2(_native.LIB_PATH, copy)
    code = "import pulsar_producer; print(pulsar_producer.LIB_PATH)"
    r = run_python(code, PULSAR_PRODUCER_LIB=str(copy))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(copy)
    # A directory holding the library works too.
    r = run_python(code, PULSAR_PRODUCER_LIB=str(copy.parent))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(copy)


def test_a_file_that_is_not_the_library(tmp_path: Path) -> None:
    bogus = tmp_path / _native.LIB_FILE
    bogus.write_bytes(b"not an ELF file")
    r = run_python("import pulsar_producer", PULSAR_PRODUCER_LIB=str(bogus))
    assert r.returncode != 0
    assert f"LibraryNotFoundError: cannot load {bogus}" in r.stderr


def test_a_library_of_another_version_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "pulsar_producer"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("_lib", "__pycache__"))
    native = copy / "_native.py"
    native.write_text(native.read_text().replace('PACKAGE_VERSION = "1.0.0"', 'PACKAGE_VERSION = "9.9.0"'))
    r = run_python("import pulsar_producer", cwd=str(tmp_path), PYTHONPATH=str(tmp_path),
                   PULSAR_PRODUCER_LIB=str(_native.LIB_PATH))
    assert r.returncode != 0
    assert "LibraryVersionError: pulsar_producer 9.9.0 needs libpulsar_producer 9.9.x" in r.stderr
