"""The public surface: curated, sorted, and no private module leaks."""

from __future__ import annotations
import __future__

import importlib
import pkgutil
import typing

import pytest

import crmconnect


def _public_modules() -> list[str]:
    """``crmconnect`` and every module below it with no part starting with ``_``."""
    walked = pkgutil.walk_packages(crmconnect.__path__, "crmconnect.")
    names = [m.name for m in walked if not any(p.startswith("_") for p in m.name.split("."))]
    return ["crmconnect", *sorted(names)]


PACKAGES = _public_modules()


def test_every_public_package_is_checked() -> None:
    # Found by walking the package, so a new public module is checked without listing it.
    assert {"crmconnect.eboekhouden.rest", "crmconnect.testing", "crmconnect.sandbox"} <= set(
        PACKAGES
    )


def _tooling(value: object) -> bool:
    """Modules, ``from __future__`` features and typing helpers: not part of the API."""
    return isinstance(value, type(importlib) | __future__._Feature) or any(
        value is helper for helper in vars(typing).values()
    )


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_complete_without_duplicates(name: str) -> None:
    # The order of __all__ is ruff's (RUF022); here: every public name, each once.
    module = importlib.import_module(name)
    public = {n for n, v in vars(module).items() if not n.startswith("_") and not _tooling(v)}
    assert len(module.__all__) == len(set(module.__all__))
    assert set(module.__all__) - {"__version__"} == public


@pytest.mark.parametrize("name", PACKAGES)
def test_exported_classes_show_the_public_module(name: str) -> None:
    module = importlib.import_module(name)
    for export in module.__all__:
        value = getattr(module, export)
        if isinstance(value, type) and value.__module__.startswith("crmconnect"):
            assert "._" not in value.__module__, f"{name}.{export} shows {value.__module__}"


def test_version() -> None:
    import crmconnect

    assert crmconnect.__version__.count(".") == 2
