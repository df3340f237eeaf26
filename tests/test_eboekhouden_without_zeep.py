"""A plain install (no extras): every public module imports, and the REST backend works.

The dev environment always has zeep, so these tests run a separate Python in
which zeep and the other optional packages cannot be imported (a meta-path
blocker installed by a ``sitecustomize`` module on ``PYTHONPATH``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

OPTIONAL = ("zeep", "requests", "lxml", "typer", "rich", "openpyxl")
"""Packages of the extras (and what only they pull in): absent on a plain install."""

BLOCKER = f"""
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {set(OPTIONAL)!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def run_bare(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a Python where the optional packages cannot be imported."""
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop("CRMCONNECT_EBOEKHOUDEN_BACKEND", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_blocker_blocks(tmp_path: Path) -> None:
    result = run_bare(tmp_path, "import zeep")
    assert result.returncode != 0 and "No module named 'zeep'" in result.stderr


def test_every_public_module_imports_without_extras(tmp_path: Path) -> None:
    result = run_bare(
        tmp_path,
        """
        import importlib, pkgutil
        import crmconnect

        failed, imported = [], []
        for info in pkgutil.walk_packages(crmconnect.__path__, "crmconnect."):
            if any(part.startswith("_") for part in info.name.split(".")[1:]):
                continue
            try:
                importlib.import_module(info.name)
            except Exception as exc:
                failed.append(f"{info.name}: {exc!r}")
            else:
                imported.append(info.name)
        print("\\n".join(failed) or "imported: " + " ".join(imported))
        from crmconnect.eboekhouden import *  # noqa: F403
        from crmconnect.eboekhouden.rest import *  # noqa: F403
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("imported: "), result.stdout
    for module in ("crmconnect.eboekhouden", "crmconnect.eboekhouden.rest"):
        assert module in result.stdout.split()


def test_rest_backend_works_and_soap_asks_for_the_extra(tmp_path: Path) -> None:
    result = run_bare(
        tmp_path,
        """
        import crmconnect.eboekhouden as eb
        from crmconnect.eboekhouden import Relation, connect
        from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
        from crmconnect.sandbox import DEMO_ACCESS_TOKEN, EBoekhoudenSandbox

        sandbox = EBoekhoudenSandbox()
        with EBoekhoudenRestClient(DEMO_ACCESS_TOKEN, transport=sandbox.transport()) as books:
            stored = books.upsert_relation(Relation(code="1001", company="Bakkerij"))
        with connect({"access_token": DEMO_ACCESS_TOKEN}) as default:  # REST: no call made
            print("rest", type(default).__name__, stored.id > 0, sandbox.relations[0].code)
        try:
            eb.EBoekhoudenClient
        except ImportError as exc:
            print("soap", exc.name in {"zeep", "requests"}, "crmconnect[eboekhouden]" in str(exc))
        from crmconnect.errors import ConfigurationError

        try:
            connect({"backend": "soap", "username": "u", "security_code_1": "c1"})
        except ConfigurationError as exc:
            print("connect", "crmconnect[eboekhouden]" in str(exc), exc.__context__ is None)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == [
        "rest EBoekhoudenRestClient True 1001",
        "soap True True",
        "connect True True",
    ]


@pytest.mark.parametrize("module", ["crmconnect.eboekhouden", "crmconnect.eboekhouden.rest"])
def test_names_keep_their_public_module(module: str) -> None:
    # With zeep present, every public class still shows its public module.
    imported = __import__(module, fromlist=["__all__"])
    for name in imported.__all__:
        value = getattr(imported, name)
        if isinstance(value, type):
            # NameStyle is crmconnect.mapping's, re-exported: it shows its own module.
            home = "crmconnect.mapping" if name == "NameStyle" else module
            assert value.__module__ == home, name
