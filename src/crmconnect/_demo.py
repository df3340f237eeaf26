"""``crmconnect demo`` / ``make demo``: the KvK koppeling end to end, offline.

The story: last year the CRM linked three organisations to the register and
took over its data. Since then one moved and grew, one was removed from the
register. Today three new organisations without KvK numbers arrive, and the
user runs the koppeling: match and enrich the new ones, and list the pending
updates and removals of the linked ones. Everything runs against the KvK
sandbox on loopback.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .kvk import (
    TEST_API_KEY,
    KvKClient,
    Matcher,
    MatchResult,
    UpdateService,
    UpdateSummary,
    format_value,
)
from .models import Address, Organisation

__all__ = ["LINKED", "new_records", "run_demo"]

LINKED = {"C001": "69599084", "C004": "90000749", "C005": "68727720"}
"""CRM id → KvK number of the records the CRM linked last year."""


def new_records() -> list[Organisation]:
    """Records without a KvK number: matched today by name, city or address."""
    return [
        Organisation(id="C002", name="Test BV Donald", addresses=[Address(city="Lollum")]),
        Organisation(id="C003", name="Grand Joyflex BV"),
        Organisation(
            id="C006",
            name="Slagerij De Dam",
            addresses=[Address(postcode="1034 wl", house_number=17, city="Amsterdam")],
        ),
    ]


def run_demo(console: Console) -> None:
    """Run the demo and print what a CRM user would see."""
    from .sandbox import Address as RegisterAddress
    from .sandbox import KvKSandbox

    sandbox = KvKSandbox()
    with sandbox.serve() as url:
        console.print(f"KvK sandbox on {url}\n")
        with KvKClient(TEST_API_KEY, environment="test", base_url=f"{url}/test/api") as kvk:
            linked = [
                kvk.organisation(number).model_copy(update={"id": crm_id})
                for crm_id, number in LINKED.items()
            ]
        # Since last year: Global Conron moved and grew, Test NV Katrien was removed.
        moved = RegisterAddress(
            city="Dordrecht", street="Spuiboulevard", house_number=210, postcode="3311GR"
        )
        sandbox.update("90000749", addresses=(moved,), total_employees=4)
        sandbox.remove("68727720")
        with KvKClient(TEST_API_KEY, environment="test", base_url=f"{url}/test/api") as kvk:
            results = Matcher(kvk, enrich=True).match_many(new_records())
            console.print(_matches_table(results))
            console.print(_enrichment_table(results))
            summary = UpdateService(kvk).check_updates_many(linked)
            console.print(_updates_table(summary))
            console.print(
                f"[bold]{summary.pending_updates}[/bold] linked records with pending updates, "
                f"[bold]{summary.removals}[/bold] ended or removed.\n"
                f"KvK calls today: {kvk.usage.search_calls} free searches, "
                f"{kvk.usage.profile_calls} paid profiles, {kvk.usage.cache_hits} from cache."
            )


def _matches_table(results: list[MatchResult]) -> Table:
    table = Table(
        "CRM", "name", "status", "KvK", "branch", "score", "by", title="New records: matching"
    )
    for r in results:
        best = r.best
        table.add_row(
            r.organisation.id or "",
            r.organisation.name,
            _status(r),
            best.kvk_number if best else "",
            (best.branch_number or "") if best else "",
            f"{best.score:.0f}" if best else "",
            best.strategy.value if best else "",
        )
    return table


def _enrichment_table(results: list[MatchResult]) -> Table:
    table = Table(
        "CRM",
        "legal form",
        "visiting address",
        "employees",
        "SBI (main)",
        title="New records: enrichment from the register",
    )
    for r in results:
        data = r.enriched
        if data is None:
            continue
        main = data.main_activity
        table.add_row(
            r.organisation.id or "",
            data.legal_form or "",
            data.visiting_address.one_line() if data.visiting_address else "(shielded)",
            str(data.employees_total) if data.employees_total is not None else "",
            main.code if main else "",
        )
    return table


def _status(result: MatchResult) -> str:
    colour = {"matched": "green", "ambiguous": "yellow"}.get(result.status.value, "red")
    extra = (
        f" ({len(result.candidates)} to choose)"
        if result.best is None and result.candidates
        else ""
    )
    return f"[{colour}]{result.status.value}{extra}[/{colour}]"


def _updates_table(summary: UpdateSummary) -> Table:
    table = Table(
        "CRM",
        "name",
        "status",
        "field",
        "CRM value",
        "KvK value",
        title="Linked records: pending updates and removals",
    )
    for report in summary.reports:
        org = report.organisation
        if report.is_removed or report.error:
            detail = report.reason or str(report.error or "")
            table.add_row(
                org.id or "", org.name, f"[red]{report.status.value}[/red]", "", "", detail
            )
        elif not report.changes:
            table.add_row(org.id or "", org.name, "[green]up to date[/green]", "", "", "")
        for change in report.changes:
            table.add_row(
                org.id or "",
                org.name,
                "update",
                change.label,
                format_value(change.crm_value),
                format_value(change.kvk_value),
            )
    return table
