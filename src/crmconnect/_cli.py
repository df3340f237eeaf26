"""Entry point of the ``crmconnect`` command; the commands live in `_cli_app`.

The command line is an extra (``pip install 'crmconnect[cli]'``): without
typer and rich this says so politely instead of failing with a traceback.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Run the ``crmconnect`` command."""
    try:
        from ._cli_app import app
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        sys.stderr.write(
            f"The command line needs an extra ({exc.name} is missing): "
            "pip install 'crmconnect[cli]'\n"
        )
        raise SystemExit(1) from None
    app()
