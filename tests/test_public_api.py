"""The public surface: curated, sorted, and no private module leaks."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "crmconnect",
    "crmconnect.eboekhouden",
    "crmconnect.eboekhouden.rest",
    "crmconnect.digitalefactuur",
    "crmconnect.importer",
    "crmconnect.vies",
    "crmconnect.kvk",
    "crmconnect.mapping",
    "crmconnect.models",
    "crmconnect.validation",
    "crmconnect.sandbox",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_complete_without_duplicates(name: str) -> None:
    # The order of __all__ is ruff's (RUF022); here: every public name, each once.
    module = importlib.import_module(name)
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and not isinstance(v, type(importlib))
    }
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
