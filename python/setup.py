"""Builds the Rust library and ships it inside the package.

``pip install ./python`` (or ``pip wheel ./python``) runs this through
setuptools-rust: ``cargo rustc --lib --release --crate-type cdylib`` on the
crate at ``../Cargo.toml``, whose ``libworkerpool.so`` is copied into the
package as ``workerpool/libworkerpool.so``, the file ``workerpool`` loads
(``WORKERPOOL_LIB`` still overrides it). The library is a plain C ABI loaded
with ctypes, not a Python extension module (``Binding.NoBinding``), so

* the file keeps its own name instead of the interpreter's extension suffix
  (``.cpython-311-x86_64-linux-gnu.so``);
* the wheel is tagged ``py3-none-<platform>``: it works with every Python 3
  on that platform, not only with the one that built it.

Cargo builds into ``target/wheel`` (under ``CARGO_TARGET_DIR`` when that is
set) rather than ``target/release``: the ``--crate-type cdylib`` override
changes the crate's fingerprint, and sharing the directory with
``cargo build --release`` would make each rebuild the other.

The crate lives outside this directory, so the package builds from a
checkout only: a source distribution of ``python/`` alone has no Rust code.
The project metadata is in ``pyproject.toml``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Tuple

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_ext import build_ext
from setuptools_rust import Binding, RustExtension, Strip

HERE = Path(__file__).resolve().parent
CRATE = HERE.parent
MANIFEST = CRATE / "Cargo.toml"
# The module name setuptools-rust is given; get_ext_filename below turns it
# into workerpool/libworkerpool.so.
LIB_MODULE = "workerpool.libworkerpool"
LIB_FILE = "libworkerpool.so"

if not MANIFEST.is_file():
    raise SystemExit(
        f"workerpool: the Rust crate is not at {MANIFEST}: build the package "
        "from a checkout of the repository (pip install ./python, pip wheel ./python "
        "or python -m build --wheel python at its root)"
    )

TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR") or CRATE / "target") / "wheel"


class build_ext_plain_name(build_ext):
    """The library keeps its name: libworkerpool.so, no extension suffix."""

    def get_ext_filename(self, fullname: str) -> str:
        *package, name = fullname.split(".")
        if name == LIB_MODULE.rsplit(".", 1)[1]:
            return os.path.join(*package, LIB_FILE)
        return str(super().get_ext_filename(fullname))


class bdist_wheel_any_python(bdist_wheel):
    """py3-none-<platform>: the wheel holds no code tied to a Python ABI."""

    def get_tag(self) -> Tuple[str, str, str]:
        _, _, plat = super().get_tag()
        return "py3", "none", plat


cmdclass: dict[str, Any] = {"build_ext": build_ext_plain_name, "bdist_wheel": bdist_wheel_any_python}

setup(
    rust_extensions=[
        RustExtension(
            LIB_MODULE,
            path=str(MANIFEST),
            binding=Binding.NoBinding,
            args=["--target-dir", str(TARGET_DIR)],
            # Whatever debug info the release profile keeps (for the Rust
            # tests' backtraces), the shipped copy drops (strip -S).
            strip=Strip.Debug,
        )
    ],
    cmdclass=cmdclass,
    zip_safe=False,
)
