"""Build steps that pyproject.toml cannot express.

How this works: build_py copies the shared library into the package as
pulsar_producer/_lib/ of the build tree (never of the source tree), so the
wheel bundles it. The library is $PULSAR_PRODUCER_LIB if set, else the
repository's build/lib/ (run `make lib` first). Because the wheel then holds
a native library but no Python extension, it is tagged py3-none-<platform>.
"""

from __future__ import annotations

import os
import runpy
import shutil
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
# Read without importing the package (which would load the library).
LIB_FILE: str = runpy.run_path(str(HERE / "pulsar_producer" / "_libfile.py"))["LIB_FILE"]


def library() -> Path:
    env = os.environ.get("PULSAR_PRODUCER_LIB")
    path = Path(env) if env else HERE.parents[1] / "build" / "lib" / LIB_FILE
    if path.is_dir():
        path = path / LIB_FILE
    if not path.is_file():
        raise SystemExit(
            f"cannot bundle {LIB_FILE}: {path} does not exist. Run `make lib` at the "
            "repository root first, or set PULSAR_PRODUCER_LIB to the library's path."
        )
    return path


class BuildPyWithLibrary(build_py):
    def run(self) -> None:
        super().run()
        src = library()
        dst = Path(self.build_lib) / "pulsar_producer" / "_lib" / LIB_FILE
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        print(f"bundled {src} as {dst}")


class BinaryDistribution(Distribution):
    """Installs into platlib: the package holds a native library."""

    def has_ext_modules(self) -> bool:
        return True


class PlatformWheel(bdist_wheel):  # type: ignore[misc]
    def get_tag(self) -> tuple[str, str, str]:
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(
    distclass=BinaryDistribution,
    cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel},
)
