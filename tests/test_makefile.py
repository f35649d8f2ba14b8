"""The Makefile's choice of environment: the active virtual or conda environment, else a
project-local .venv/ made once and reused, so that a Python that refuses installs (PEP 668,
Debian's and Ubuntu's system Python) is never installed into. CI runs `make test` with no
environment active, which takes the .venv/ route end to end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")


def _make(directory: Path, *arguments: str, **env: str) -> subprocess.CompletedProcess:
    """``make -s ARGS`` in ``directory`` with no environment active (unless ``env`` sets one)
    and none of the outer make's settings."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    }
    return subprocess.run(["make", "-s", *arguments], cwd=directory, env={**clean, **env},
                          capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.fixture
def project(tmp_path) -> Path:
    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    return tmp_path


def _externally_managed(python: Path) -> bool:
    code = (
        "import sysconfig, pathlib; "
        "print(pathlib.Path(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED').is_file())"
    )
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return result.stdout.strip() == "True"


def test_an_externally_managed_python_gets_a_project_venv_made_once(project):
    if not SYSTEM_PYTHON.is_file() or not _externally_managed(SYSTEM_PYTHON):
        pytest.skip(f"{SYSTEM_PYTHON} is not an externally-managed (PEP 668) Python here")
    refused = subprocess.run([str(SYSTEM_PYTHON), "-m", "pip", "install", "--dry-run",
                              "--no-index", "six"], capture_output=True, text=True)  # fmt: skip
    assert refused.returncode != 0 and "externally-managed-environment" in refused.stderr

    first = _make(project, "python", f"BASE_PYTHON={SYSTEM_PYTHON}")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.strip().splitlines()
    assert lines[0] == (f"no virtual environment is active: installing into .venv/ (made now "
                        f"from {SYSTEM_PYTHON}, reused next time)")  # fmt: skip
    python = project / lines[-1]
    assert python == project / ".venv" / "bin" / "python"
    base = subprocess.run([str(python), "-c", "import sys; print(sys.base_prefix, sys.prefix)"],
                          capture_output=True, text=True).stdout.split()  # fmt: skip
    assert base == ["/usr", str(project / ".venv")]

    # The environment takes installs: a small wheel made here, with no index.
    wheel = project / "hello_pep668-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("hello_pep668/__init__.py", "")
        info = "hello_pep668-1.dist-info"
        archive.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: hello-pep668\n"
                                             "Version: 1\n")  # fmt: skip
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\n"
                                          "Root-Is-Purelib: true\nTag: py3-none-any\n")  # fmt: skip
        archive.writestr(f"{info}/RECORD", f"hello_pep668/__init__.py,,\n{info}/METADATA,,\n"
                                           f"{info}/WHEEL,,\n{info}/RECORD,,\n")  # fmt: skip
    command = [str(python), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)]
    installed = subprocess.run(command, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    imported = subprocess.run([str(python), "-c", "import hello_pep668"], capture_output=True)
    assert imported.returncode == 0

    again = _make(project, "python", f"BASE_PYTHON={SYSTEM_PYTHON}")
    assert again.stdout.strip().splitlines() == [".venv/bin/python"]  # reused, nothing said


@pytest.mark.parametrize("variable", ["VIRTUAL_ENV", "CONDA_PREFIX"])
def test_an_active_environment_is_used_as_it_is(project, variable):
    environment = project / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(environment)], check=True)
    result = _make(
        project,
        "python",
        **{variable: str(environment), "PATH": f"{environment}/bin:{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [f"{environment}/bin/python"]
    assert not (project / ".venv").exists()


def test_python_picks_the_interpreter_outright(project):
    result = _make(project, "python", f"PYTHON={sys.executable}")
    assert result.stdout.strip().splitlines() == [sys.executable]
    assert not (project / ".venv").exists()
