"""The package as installed: it ships libworkerpool.so and loads that copy;
WORKERPOOL_LIB overrides it; the READMEs' Python examples run.

``scripts/test.sh`` runs these in fresh virtual environments, one made from
the wheel (``pip wheel ./python``) and one by ``pip install ./python``, with
``WORKERPOOL_TEST_VENV`` naming the environment: then the package must come
from there, not from the checkout.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import workerpool

DEADLINE = 60
CHECKOUT = Path(__file__).resolve().parent.parent.parent
PACKAGE_DIR = Path(workerpool.__file__).resolve().parent
# Where the package under test was imported from (see test_pool.py).
PYTHON_DIR = str(PACKAGE_DIR.parent)
VENV = os.environ.get("WORKERPOOL_TEST_VENV")


def mapped_libraries(maps_text):
    """The files named libworkerpool* that /proc/<pid>/maps shows."""
    paths = set()
    for line in maps_text.splitlines():
        fields = line.split(None, 5)
        if len(fields) == 6 and os.path.basename(fields[5]).startswith("libworkerpool"):
            paths.add(fields[5])
    return paths


def child_env(**extra):
    """The environment for a child interpreter that imports the same copy."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if not VENV:
        env["PYTHONPATH"] = PYTHON_DIR
    env.update(extra)
    return env


@pytest.mark.skipif(not VENV, reason="WORKERPOOL_TEST_VENV: only on an installed copy (scripts/test.sh)")
def test_installed_copy_loads_its_packaged_library():
    venv = Path(VENV).resolve()
    assert "WORKERPOOL_LIB" not in os.environ
    assert Path(sys.prefix).resolve() == venv, "the tests run in another interpreter"
    assert venv in PACKAGE_DIR.parents, f"{workerpool.__file__} is not the venv's copy"
    assert CHECKOUT not in PACKAGE_DIR.parents, f"{workerpool.__file__} is the checkout's"
    shipped = PACKAGE_DIR / "libworkerpool.so"
    assert shipped.is_file(), "the package does not ship libworkerpool.so"
    assert Path(workerpool.library_path) == shipped
    with open("/proc/self/maps") as f:
        assert mapped_libraries(f.read()) == {str(shipped)}
    assert workerpool.version() == workerpool.__version__


def test_workerpool_lib_overrides_the_packaged_library(tmp_path):
    copy = tmp_path / "elsewhere" / "libworkerpool.so"
    copy.parent.mkdir()
    shutil.copyfile(workerpool.library_path, copy)
    code = (
        "import workerpool\n"
        "with workerpool.Pool(capacity=2) as pool:\n"
        "    pool.schedule(print, 'ran')\n"
        "    pool.wait()\n"
        "print(workerpool.library_path)\n"
        "print(open('/proc/self/maps').read())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=child_env(WORKERPOOL_LIB=str(copy)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert proc.returncode == 0, proc.stderr
    ran, path, maps = proc.stdout.split("\n", 2)
    assert ran == "ran"
    assert path == str(copy)
    assert mapped_libraries(maps) == {str(copy)}, "WORKERPOOL_LIB did not override"


def section(readme, heading):
    text = (CHECKOUT / readme).read_text()
    start = text.index(heading + "\n")
    level = heading.split(" ", 1)[0]
    end = text.find("\n" + level + " ", start + len(heading))
    return text[start : end if end >= 0 else len(text)]


def blocks(text, lang):
    return re.findall(r"^```" + lang + r"\n(.*?)^```$", text, re.S | re.M)


def run_python(code, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", code], env=child_env(), cwd=tmp_path, capture_output=True, text=True, timeout=DEADLINE
    )
    assert proc.returncode == 0, f"{code}\n{proc.stderr}"
    return proc.stdout


# The READMEs' sections on the Python package: (file, heading).
SECTIONS = [("README.md", "### Python (ctypes, the library built in)"), ("python/README.md", "## Quick start")]


@pytest.mark.parametrize("readme,heading", SECTIONS)
def test_readme_install_line_and_program(readme, heading, tmp_path):
    """The lines a user types: pip install ./python (which scripts/test.sh
    runs as such), then the section's first program, from any directory."""
    text = section(readme, heading)
    shell = "\n".join(blocks(text, "sh"))
    assert re.search(r"^pip install \./python\b", shell, re.M), "the section does not say pip install ./python"
    assert "WORKERPOOL_LIB" in text
    program = blocks(text, "python")[0]
    squares, stats = run_python(program, tmp_path).splitlines()
    assert squares == str([i * i for i in range(8)])
    assert stats.startswith("Stats(capacity=4, ") and "completed=8" in stats


def test_readme_python_section_examples_run(tmp_path):
    """Every ```python block of the README's Python section, in order, as one
    session (each may use what the earlier ones imported)."""
    text = section(*SECTIONS[0])
    code = "\n".join(blocks(text, "python"))
    out = run_python(code, tmp_path)
    assert "1024" in out and "27" in out
