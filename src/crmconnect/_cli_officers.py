"""``crmconnect kvk inspect-officers``: a live Functionarissen answer beside the assumed table.

KvK's Functionarissen schema is not public, so crmconnect reads it through
`crmconnect.kvk.OFFICER_FIELDS`, names it assumed. This command shows one
real answer next to that table: which names the answer has, which it lacks,
and the fields no row reads, so a wrong name can be corrected in a TOML file
(``--fields``) without waiting for a release. Registered on ``crmconnect kvk``
by `crmconnect._cli_app`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.columns import Columns
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ._cli_app import ApiKey, BaseUrl, Environment, Sandbox, _client, console, kvk_app, user_errors
from .kvk import OFFICER_FIELDS, PREPROD_BASE_URL, OfficerList, OfficerTable
from .kvk._officers import field_at

__all__ = ["inspect_officers"]

FieldsFile = Annotated[
    Path | None,
    typer.Option(
        "--fields",
        help='A TOML file with corrected names ([functionarissen] attribute = "path") to try',
        show_default=False,
    ),
]


@kvk_app.command("inspect-officers")
def inspect_officers(
    kvk_number: Annotated[str, typer.Argument(help="8-digit KvK number")],
    fields: FieldsFile = None,
    environment: Environment = "production",
    api_key: ApiKey = None,
    base_url: BaseUrl = None,
    sandbox: Sandbox = False,
) -> None:
    """Show KvK's raw officers answer beside the field names crmconnect assumes (one paid call).

    In the test environment the officers come from KvK's preprod environment
    (its test companies there: 42084128, 42422608, 42264003, 42024440).
    Correct a name in a TOML file and try it with --fields; in your
    application pass OFFICER_FIELDS.override_from_toml(file) as officer_fields.
    """
    with user_errors():
        table = OFFICER_FIELDS.override_from_toml(fields) if fields else OFFICER_FIELDS
        if environment == "test" and base_url is None and not sandbox:
            base_url = PREPROD_BASE_URL  # Functionarissen is not in the old test environment
        with _client(environment, api_key, base_url, sandbox) as kvk:
            kvk.officer_fields = table
            officers = kvk.officer_list(kvk_number)
    raw = json.dumps(officers.raw, indent=2, ensure_ascii=False)
    answer = Panel(Text(raw), title="KvK's answer", expand=False)
    console.print(Columns([answer, _field_table(officers, table)]))
    console.print(_officer_table(officers))
    unread = sorted({*officers.unknown, *(k for o in officers.officers for k in o.unknown)})
    if unread:
        console.print(Text("fields no row reads: " + ", ".join(unread)))


def _field_table(officers: OfficerList, table: OfficerTable) -> Table:
    """Each row of the table: its name, whether it is assumed, and how often the answer has it."""
    items = _items(officers.raw, table)
    shown = Table("attribute", "field", "status", "in this answer", title="crmconnect's table")
    for key, kind in table:
        status = "assumed" if table.assumed else "confirmed"
        found = "yes" if key in officers.raw else "no"
        shown.add_row(
            *map(Text, ("list of officers", key, status, f"{found} (kind {kind or '-'})"))
        )
    kvk_found = "yes" if field_at(officers.raw, table.kvk_number) is not None else "no"
    status = "assumed" if table.assumed else "confirmed"
    shown.add_row(*map(Text, ("kvk_number", table.kvk_number, status, kvk_found)))
    for spec in table.fields:
        count = sum(1 for item in items if field_at(item, spec.path) is not None)
        status = "assumed" if spec.assumed else "confirmed"
        shown.add_row(*map(Text, (spec.attribute, spec.path, status, f"{count} of {len(items)}")))
    return shown


def _items(raw: dict[str, Any] | Any, table: OfficerTable) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for key, _kind in table:
        value = raw.get(key) if isinstance(raw, dict) else None
        values = value if isinstance(value, list) else [] if value is None else [value]
        found += [item for item in values if isinstance(item, dict)]
    return found


def _officer_table(officers: OfficerList) -> Table:
    shown = Table("name", "role", "kind", "from", "until", title="officers as read")
    for officer in officers.officers:
        person = officer.person()
        cells = (
            person.full_name() if person else "(no name)",
            officer.role or "",
            officer.kind or "",
            officer.start_date.isoformat() if officer.start_date else "",
            officer.end_date.isoformat() if officer.end_date else "",
        )
        shown.add_row(*map(Text, cells))  # register text is not markup
    return shown
