"""The wheel as a user gets it: installed without extras, every public module imports.

The dev environment always has zeep, typer, rich and openpyxl, so an import
that works only with an extra cannot fail anywhere else. Here the wheel is
built from the checkout and installed into a bare venv with only the core
dependencies of ``pyproject.toml``. The venv is kept in ``.venv-wheelcheck/``
and rebuilt only when those dependencies (or the Python version) change; each
run reinstalls just the freshly built wheel, offline.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".venv-wheelcheck"
EXTRAS_MODULES = ("zeep", "typer", "rich", "openpyxl")
"""What the extras bring; none of it may be in the bare venv."""

IMPORT_ALL = """
import importlib, json, sys, traceback
failures = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failures[name] = "".join(traceback.format_exception_only(exc)).strip()
print(json.dumps(failures))
"""

REST_WITHOUT_EXTRAS = """
from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.sandbox import DEMO_ACCESS_TOKEN, EBoekhoudenSandbox

sandbox = EBoekhoudenSandbox()
with EBoekhoudenRestClient(DEMO_ACCESS_TOKEN, transport=sandbox.transport()) as books:
    print(len(books.ledgers()))
"""

MISSING_EXTRAS = """
import json, pathlib, tempfile

def soap_client():
    from crmconnect.eboekhouden import EBoekhoudenClient

def soap_by_configuration():
    from crmconnect.eboekhouden import connect
    connect({"backend": "soap", "username": "u", "security_code_1": "c1",
             "security_code_2": "c2"})

def sandbox_requests_session():
    from crmconnect.sandbox import EBoekhoudenSandbox
    EBoekhoudenSandbox().requests_session()

def import_check_of_xlsx():
    from crmconnect.importer import check_file
    path = pathlib.Path(tempfile.mkdtemp()) / "klanten.xlsx"
    path.write_bytes(b"PK")
    check_file(path)

answers = {}
for attempt in (soap_client, soap_by_configuration, sandbox_requests_session,
                import_check_of_xlsx):
    try:
        attempt()
        answers[attempt.__name__] = "no error"
    except Exception as exc:
        answers[attempt.__name__] = f"{type(exc).__name__}: {exc}"
print(json.dumps(answers))
"""
"""What needs an extra, tried without it: each attempt's error, as text."""

EXTRA_OF = {
    "soap_client": "eboekhouden",
    "soap_by_configuration": "eboekhouden",
    "sandbox_requests_session": "eboekhouden",
    "import_check_of_xlsx": "xlsx",
}


def _run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=ROOT)
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
    return done


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


def _core_dependencies() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return sorted(project["dependencies"])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the checkout, as ``pip install .`` would build it."""
    out = tmp_path_factory.mktemp("wheel")
    # With the build backend at hand (requirements-dev.txt) nothing is downloaded.
    offline = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", *offline]
    _run(*pip, "--wheel-dir", out, ROOT)
    (built,) = out.glob("crmconnect-*.whl")
    return built


@pytest.fixture(scope="module")
def bare_venv(wheel: Path) -> Iterator[Path]:
    """A venv with the core dependencies and the wheel, and nothing from any extra."""
    CACHE.mkdir(exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n", encoding="utf-8")
    venv = CACHE / "venv"
    dependencies = _core_dependencies()
    key = hashlib.sha256(json.dumps([sys.version, dependencies]).encode()).hexdigest()
    with (CACHE / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one run at a time builds or changes the venv
        key_file = CACHE / "key"
        if not key_file.is_file() or key_file.read_text() != key:
            shutil.rmtree(venv, ignore_errors=True)
            _run(sys.executable, "-m", "venv", venv)
            _run(_bin(venv, "python"), "-m", "pip", "install", "--quiet", *dependencies)
            key_file.write_text(key)
        python = _bin(venv, "python")
        _run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
             "--force-reinstall", wheel)  # fmt: skip
        yield venv


def public_modules(wheel: Path) -> list[str]:
    """Every module in the wheel whose dotted path has no part starting with ``_``.

    Packages count by their ``__init__``; ``crmconnect.sandbox`` is always included.
    """
    names = {"crmconnect.sandbox"}
    for member in zipfile.ZipFile(wheel).namelist():
        if not (member.startswith("crmconnect/") and member.endswith(".py")):
            continue
        parts = member.removesuffix(".py").split("/")
        if parts[-1] == "__init__":
            parts.pop()
        if not any(part.startswith("_") for part in parts):
            names.add(".".join(parts))
    return sorted(names)


def test_the_module_list_covers_every_public_package(wheel: Path) -> None:
    modules = public_modules(wheel)
    assert {"crmconnect", "crmconnect.eboekhouden", "crmconnect.eboekhouden.rest"} <= set(modules)
    assert {"crmconnect.kvk", "crmconnect.testing", "crmconnect.vies"} <= set(modules)
    assert not [m for m in modules if "._" in m]


def test_the_venv_has_no_extras(bare_venv: Path) -> None:
    probe = "import importlib.util, sys; print([m for m in sys.argv[1:] if importlib.util.find_spec(m)])"
    done = _run(_bin(bare_venv, "python"), "-c", probe, *EXTRAS_MODULES)
    assert done.stdout.strip() == "[]"


def test_every_public_module_imports_without_extras(bare_venv: Path, wheel: Path) -> None:
    done = _run(_bin(bare_venv, "python"), "-c", IMPORT_ALL, *public_modules(wheel))
    failures = json.loads(done.stdout)
    assert failures == {}, "\n".join(f"{name}: {error}" for name, error in failures.items())


def test_rest_backend_works_without_extras(bare_venv: Path) -> None:
    done = _run(_bin(bare_venv, "python"), "-c", REST_WITHOUT_EXTRAS, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0


@pytest.fixture(scope="module")
def without_extras(bare_venv: Path) -> dict[str, str]:
    """What each attempt of MISSING_EXTRAS raised in the bare venv."""
    answers: dict[str, str] = json.loads(
        _run(_bin(bare_venv, "python"), "-c", MISSING_EXTRAS).stdout
    )
    return answers


@pytest.mark.parametrize("attempt", sorted(EXTRA_OF))
def test_what_needs_an_extra_names_it(without_extras: dict[str, str], attempt: str) -> None:
    assert f"pip install 'crmconnect[{EXTRA_OF[attempt]}]'" in without_extras[attempt]


def test_command_without_the_cli_extra_says_what_to_install(bare_venv: Path) -> None:
    done = _run(_bin(bare_venv, "crmconnect"), "--help", check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "pip install 'crmconnect[cli]'" in done.stderr


def test_sandbox_command_runs_without_extras(bare_venv: Path) -> None:
    done = _run(_bin(bare_venv, "python"), "-m", "crmconnect.sandbox", "kvk", "--help", check=False)
    assert done.returncode == 0, done.stderr
    assert "--port" in done.stdout
