"""Which Python the book supports, and that the set-up keeps that promise.

- pyproject.toml (requires-python, classifiers), the Makefile (PYTHON_VERSIONS, and the minimum
  scripts/check_python.sh enforces), requirements.lock's header and the README's quick start
  all name the same versions: 3.11 and newer, tested on 3.11, 3.12 and 3.13.
- For each of them, `make setup` into a fresh venv made by that interpreter installs
  requirements.lock and the project with pip --no-index from the wheel cache that `make wheels`
  fetched (.cache/wheels; `make test` fetches it first): a real install that downloads
  nothing. Then `pip check`, the book's, the front end's and the tests' packages import, and
  chapter 1's solution notebook runs under nbval with that interpreter's kernel. Skips, with
  the reason, where the interpreter or the wheel cache is missing.
- An unsupported interpreter (3.10) gets one line naming the minimum, before pip runs; a venv
  made by another interpreter than the one asked for is deleted and rebuilt; a working venv is
  kept when no interpreter is named.

Interpreters are looked for as pyenv installs them (/root/.pyenv/versions/3.X.*/bin/python,
or $PYENV_ROOT/versions/...), then as python3.X on PATH.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / ".cache" / "wheels"
SUPPORTED = ["3.11", "3.12", "3.13"]
MINIMUM = SUPPORTED[0]


def _interpreter(version: str) -> str | None:
    roots = [os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv"), "/root/.pyenv"]
    for root in filter(None, roots):
        found = sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", "python")))
        found = [f for f in found if re.search(rf"/{re.escape(version)}\.\d+/bin/python$", f)]
        if found:
            return found[-1]
    return shutil.which(f"python{version}")


def _env() -> dict[str, str]:
    """The environment for `make`: no pip configuration (no extra index, find-links or
    constraints from this machine's pip.conf or PIP_* variables), no active venv."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV", "MAKE", "MFLAGS"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def _make(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def _version_of(python: str | Path) -> str:
    out = subprocess.run([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


# --------------------------------------------------------------------------------------
# One list of versions everywhere

def test_pyproject_names_the_supported_versions():
    import tomllib  # 3.11+: the tests run in .venv, which is 3.11 or newer

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == f">={MINIMUM}"
    classified = [c.rsplit(" :: ", 1)[1] for c in project.get("classifiers", [])
                  if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert classified == SUPPORTED


def test_makefile_and_check_script_agree():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^PYTHON_VERSIONS\s*:=\s*(.*)$", makefile, re.M).group(1).split() == SUPPORTED
    script = (ROOT / "scripts" / "check_python.sh").read_text()
    major, minor = MINIMUM.split(".")
    assert f"MIN_MAJOR={major}\n" in script and f"MIN_MINOR={minor}\n" in script


def test_readme_and_lock_say_the_same():
    readme = (ROOT / "README.md").read_text()
    quick = readme[readme.index("## Quick start"):]
    quick = quick[: quick.index("\n## ", 3)]
    assert f"Python {MINIMUM} or newer" in quick
    assert "3.10" not in quick
    tested = ", ".join(SUPPORTED[:-1]) + " and " + SUPPORTED[-1]
    assert f"tested on {tested}" in quick
    lock_header = "".join(line for line in (ROOT / "requirements.lock").read_text().splitlines(True)
                          if line.startswith("#"))
    assert "Supported Python: " + ", ".join(SUPPORTED) in lock_header


# --------------------------------------------------------------------------------------
# The lock installs on each supported version, offline

@pytest.mark.parametrize("version", SUPPORTED)
def test_lock_installs_offline(version, tmp_path):
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"Python {version} is not installed here (looked in pyenv's versions and "
                    f"for python{version} on PATH)")
    if not (WHEELS / ".stamp").is_file():
        pytest.skip(f"no wheel cache in {WHEELS.relative_to(ROOT)}: run `make wheels` "
                    "(`make test` does) to fetch it once")
    venv = tmp_path / "venv"
    start = time.monotonic()
    # --no-compile: pip skips writing .pyc files (Python compiles on first import); every
    # file is installed as usual. It halves this test's time.
    res = _make("setup", f"PYTHON={python}", f"VENV={venv}",
                f"PIP_OPTIONS=--no-index --find-links {WHEELS} --no-compile")
    took = time.monotonic() - start
    assert res.returncode == 0, f"make setup on Python {version} failed:\n{res.stdout}\n{res.stderr}"
    bin_ = venv / "bin"
    assert _version_of(bin_ / "python") == version

    pip_check = subprocess.run([bin_ / "python", "-m", "pip", "check"], capture_output=True,
                               text=True, env=_env())
    assert pip_check.returncode == 0, pip_check.stdout + pip_check.stderr
    imports = ("numpy, matplotlib.pyplot, jupyter_book, myst_nb, jupyterlab, notebook_shim, "
               "ipykernel, nbval, pytest, xdist, selenium, autograder.selfcheck")
    res = subprocess.run([bin_ / "python", "-c", f"import {imports}"], capture_output=True,
                         text=True, env={**_env(), "MPLBACKEND": "Agg"})
    assert res.returncode == 0, res.stderr
    # The project is installed in editable mode from this checkout (what make setup does).
    res = subprocess.run([bin_ / "python", "-c", "import autograder; print(autograder.__file__)"],
                         capture_output=True, text=True, cwd=tmp_path, env=_env())
    assert res.returncode == 0 and Path(res.stdout.strip()).is_relative_to(ROOT), res
    # A notebook runs with this interpreter's kernel (nbval: every cell, no errors).
    res = subprocess.run([bin_ / "python", "-m", "pytest", "-p", "no:cacheprovider", "-q",
                          "--nbval-lax", "solutions/01_rnn_review.ipynb"],
                         capture_output=True, text=True, cwd=ROOT,
                         env={**_env(), "MPLBACKEND": "Agg"}, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    print(f"Python {version}: make setup (offline) {took:.0f} s")


# --------------------------------------------------------------------------------------
# An unsupported interpreter; a venv made by another interpreter

OLD = "3.10"


def test_unsupported_interpreter_gets_one_line(tmp_path):
    python = _interpreter(OLD)
    if python is None:
        pytest.skip(f"Python {OLD} is not installed here")
    venv = tmp_path / "venv"
    res = _make("setup", f"PYTHON={python}", f"VENV={venv}", timeout=120)
    assert res.returncode != 0
    assert res.stdout == ""  # nothing ran: no venv, no pip
    ours = [line for line in res.stderr.splitlines() if not line.startswith("make:")]
    assert len(ours) == 1, res.stderr
    assert f"needs Python {MINIMUM} or newer" in ours[0] and f"Python {OLD}." in ours[0], ours
    assert "PYTHON=" in ours[0]  # says how to choose another interpreter
    assert not venv.exists()


def _bare_venv(python: str, where: Path) -> Path:
    """A venv without pip (seconds to make), with a set-up stamp newer than the lock, so
    `make setup` has nothing to install unless the venv is deleted."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(where)], check=True)
    (where / ".installed-stamp").touch()
    return where


def _two_supported() -> tuple[str, str]:
    found = [p for p in (_interpreter(v) for v in SUPPORTED) if p]
    if len(found) < 2:
        pytest.skip(f"needs two of Python {', '.join(SUPPORTED)}; found {found}")
    return found[0], found[1]


def test_a_venv_made_by_another_interpreter_is_rebuilt(tmp_path):
    first, second = _two_supported()
    venv = _bare_venv(first, tmp_path / "venv")
    # An empty --find-links folder: once the venv is rebuilt, pip fails at once (offline)
    # instead of installing everything; the rebuilt venv's interpreter is what is checked.
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    res = _make("setup", f"PYTHON={second}", f"VENV={venv}",
                f"PIP_OPTIONS=--no-index --find-links {empty}", timeout=300)
    notes = [line for line in res.stderr.splitlines() if line.startswith(str(venv))]
    assert len(notes) == 1, res.stderr
    assert f"made by Python {_version_of(first)}." in notes[0] and "rebuild" in notes[0]
    assert _version_of(venv / "bin" / "python") == _version_of(second)
    assert res.returncode != 0 and "No matching distribution" in res.stderr  # pip, offline


def test_a_working_venv_is_kept_without_a_named_interpreter(tmp_path):
    first, _ = _two_supported()
    venv = _bare_venv(first, tmp_path / "venv")
    stamp = venv / ".installed-stamp"
    before = stamp.stat().st_mtime_ns
    res = _make("setup", f"VENV={venv}", timeout=120)   # PYTHON left at its default
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert stamp.stat().st_mtime_ns == before and _version_of(venv / "bin" / "python") == \
        _version_of(first)
    res = _make("setup", f"PYTHON={first}", f"VENV={venv}", timeout=120)  # the same one
    assert res.returncode == 0 and res.stderr == "", res.stderr


def test_a_venv_whose_python_is_gone_is_rebuilt(tmp_path):
    first, _ = _two_supported()
    venv = _bare_venv(first, tmp_path / "venv")
    for exe in (venv / "bin").glob("python*"):
        exe.unlink()
        exe.symlink_to(tmp_path / "removed-interpreter")
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    res = _make("setup", f"PYTHON={first}", f"VENV={venv}",
                f"PIP_OPTIONS=--no-index --find-links {empty}", timeout=300)
    assert "its python does not run" in res.stderr, res.stderr
    assert _version_of(venv / "bin" / "python") == _version_of(first)


def test_tests_run_on_a_supported_python():
    assert sys.version_info[:2] >= tuple(map(int, MINIMUM.split(".")))
