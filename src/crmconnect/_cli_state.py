"""``crmconnect state``: the PostgreSQL state store's tables, and forgetting a tenant.

``crmconnect state upgrade --dsn DSN`` is the one command that creates or
migrates the tables of `crmconnect.sync.PostgresStateStore` (workers never
do). Registered on ``crmconnect`` by `crmconnect._cli_app`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ._cli_app import EXIT_UNFINISHED, _fail, app, console, user_errors
from .errors import SyncBusyError

__all__ = ["forget", "upgrade"]

state_app = typer.Typer(
    help="The PostgreSQL state store of many tenants: its tables, and forgetting a tenant."
)
app.add_typer(state_app, name="state")

Dsn = Annotated[
    str,
    typer.Option(
        "--dsn",
        help="PostgreSQL connection string (postgresql://user@host:5432/database)",
        envvar="CRMCONNECT_STATE_DSN",
        show_default=False,
    ),
]


@state_app.command("upgrade")
def upgrade(dsn: Dsn) -> None:
    """Create or migrate the crmconnect state tables (run once per release, before workers).

    Safe to run twice and from two processes at once: the second waits for
    the first, then finds nothing to do. Exit code 1 when the tables are
    newer than this crmconnect, 4 when the database cannot be reached.
    """
    from .sync import PostgresStateStore

    with user_errors():
        found, now = PostgresStateStore.upgrade_schema(dsn)
    if found == now:
        console.print(f"the crmconnect state tables are at version {now}: nothing to do")
    elif found == 0:
        console.print(f"created the crmconnect state tables at version {now}")
    else:
        console.print(f"migrated the crmconnect state tables from version {found} to {now}")


@state_app.command("forget")
def forget(
    tenant: Annotated[str, typer.Argument(help="The tenant whose state goes", show_default=False)],
    dsn: Dsn,
    yes: Annotated[bool, typer.Option("--yes", help="Really delete it")] = False,
) -> None:
    """Delete all of a tenant's state (links, bookmarks, marks, intents, runs), every connection.

    For a customer who left; stop the tenant's jobs first. Exit code 6 while
    a run of the tenant holds its lock (nothing is deleted then).
    """
    from .sync import PostgresStateStore

    if not yes:
        raise typer.BadParameter("this deletes the tenant's links and history: add --yes")
    with user_errors():
        try:
            removed = PostgresStateStore.forget_tenant(dsn, tenant)
        except SyncBusyError as exc:
            _fail("busy", exc, EXIT_UNFINISHED)
    rows = "row" if removed == 1 else "rows"
    console.print(f"forgot tenant {tenant!r}: {removed} {rows} deleted")
