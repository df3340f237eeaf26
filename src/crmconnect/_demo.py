"""``crmconnect demo`` / ``make demo``: the whole koppeling end to end, offline.

The story, in the order a CRM user lives it:

1. The KvK, DigitaleFactuur and e-Boekhouden sandboxes start in this process
   (in-process transports: no server, no network, no e-Boekhouden extra: the
   REST backend is used).
2. The reference CRM (`crmconnect.contrib.sqlite_crm.SqliteCRM`, in a
   temporary folder) gets about 50 organisations and persons: organisations
   the CRM linked to the register last year (some since gone stale, one since
   removed from the register), new ones without a KvK number, persons, and
   DigitaleFactuur already holds a few relations the CRM does not have.
3. The organisations without a KvK number are matched and enriched.
4. The engine's KvK flow (`crmconnect.kvk.KvKUpdates`) checks the linked
   ones against the register: the pending updates and the removal are stored
   in the CRM for a person to review; the person accepts one and rejects one
   (which is not proposed again in the later runs).
5. The sync engine runs: relations both ways with DigitaleFactuur, relations
   to e-Boekhouden.
6. Both sides edit: one relation changed in the CRM and in DigitaleFactuur
   (the CRM wins), one only in DigitaleFactuur, one only in the CRM; invoices
   are sent. The next run merges the changes and books the invoices.
7. A customer pays (registered in the e-Boekhouden sandbox), another pays in
   part; the next run pulls the payment states back.
8. The report: what was matched, created, updated, booked and paid.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import attrs
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .contrib.sqlite_crm import SqliteCRM
from .digitalefactuur import DigitaleFactuurClient, DigitaleFactuurConnector
from .eboekhouden import EBoekhoudenConnector
from .eboekhouden.rest import EBoekhoudenRestClient
from .kvk import (
    REGISTRATION_FIELD,
    UPDATE_FIELDS,
    KvKClient,
    KvKUpdates,
    Matcher,
    MatchResult,
    format_value,
)
from .models import (
    Address,
    AddressKind,
    ContactDetails,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    Organisation,
    Person,
)
from .sandbox import (
    DEMO_ACCESS_CODE,
    DEMO_ACCOUNT_ID,
    DEMO_CREDENTIALS,
    DEMO_VAT_TABLE,
    DigitaleFactuurSandbox,
    EBoekhoudenSandbox,
    KvKSandbox,
)
from .sandbox import Address as RegisterAddress
from .sandbox._kvk_data import Company, generate_companies, kvk_test_companies
from .sync import (
    Action,
    PaymentState,
    Role,
    Side,
    SqliteStateStore,
    SyncEngine,
    SyncReport,
)

__all__ = ["DemoStory", "run_demo"]

LINKED_TEST = {"1001": "69599084", "1002": "90000749", "1003": "68727720"}
"""Debtor number → KvK number of KvK's test companies the CRM linked last year."""

LINKED_SYNTHETIC, NEW_SYNTHETIC = 8, 10
"""Synthetic companies in the register: linked by the CRM last year, new in the CRM today."""

CONFLICT, DF_EDIT, CRM_EDIT = "1001", "1101", "1004"
"""Debtor numbers of the relations edited between the runs (see `run_demo`)."""

INVOICES = (("F2026-001", "1001", "100.00"), ("F2026-002", "1004", "250.00"))
"""Invoices the CRM sends: number, debtor number, price excl. VAT (21 %)."""

PAID_IN_FULL, PAID_IN_PART = ("F2026-001", "121.00"), ("F2026-002", "100.00")
"""Payments registered in e-Boekhouden: invoice number and amount incl. VAT."""

_CITIES = ("Utrecht", "Zwolle", "Leiden", "Delft", "Ede", "Breda")


@attrs.frozen
class DemoStory:
    """What the demo did, for the closing report (and for tests to check).

    Attributes:
        folder: Where the CRM and the sync state were kept.
        matches: The matching of the organisations without a KvK number.
        kvk: The KvK flow's first report (the linked organisations checked).
        accepted: ``(host ID, field)`` of the KvK update the person accepted.
        rejected: ``(host ID, field)`` of the KvK update the person rejected.
        runs: The sync engine's report of each run, in order.
        df: The DigitaleFactuur sandbox.
        eb: The e-Boekhouden sandbox.
    """

    folder: Path
    matches: Sequence[MatchResult]
    kvk: SyncReport
    accepted: tuple[str, str]
    rejected: tuple[str, str]
    runs: Sequence[SyncReport]
    df: DigitaleFactuurSandbox
    eb: EBoekhoudenSandbox

    @property
    def crm_path(self) -> Path:
        """The CRM's database file."""
        return self.folder / "crm.sqlite"


def run_demo(console: Console, folder: Path | None = None) -> DemoStory:
    """Run the demo and print what a CRM user would see.

    Args:
        console: Where to print.
        folder: Where to keep the CRM and the sync state (a temporary folder,
            removed afterwards, when ``None``).
    """
    with ExitStack() as stack:
        where = folder or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        story = _story(console, where, stack)
    return story


def _story(console: Console, folder: Path, stack: ExitStack) -> DemoStory:
    synthetic = _synthetic_companies()
    kvk_sandbox = KvKSandbox([*kvk_test_companies(), *synthetic])
    df_sandbox, eb_sandbox = DigitaleFactuurSandbox(), EBoekhoudenSandbox()
    _step(console, 1, "The KvK, DigitaleFactuur and e-Boekhouden sandboxes start (in-process)")
    kvk = stack.enter_context(KvKClient(environment="test", transport=kvk_sandbox.transport()))
    crm = stack.enter_context(SqliteCRM(folder / "crm.sqlite"))
    state = stack.enter_context(SqliteStateStore(folder / "sync-state.sqlite"))
    df_client = stack.enter_context(
        DigitaleFactuurClient(
            DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE, transport=df_sandbox.transport(), rate_limit=None
        )
    )
    assert DEMO_CREDENTIALS.access_token is not None
    books = stack.enter_context(
        EBoekhoudenRestClient(DEMO_CREDENTIALS.access_token, transport=eb_sandbox.transport())
    )
    kvk_flow = KvKUpdates(kvk)
    engine = SyncEngine(
        crm,
        [DigitaleFactuurConnector(df_client), EBoekhoudenConnector(books, DEMO_VAT_TABLE)],
        state=state,
        kvk=kvk_flow,
    )

    _step(console, 2, "The CRM is filled; DigitaleFactuur holds relations the CRM lacks")
    linked = _fill_crm(crm, kvk, synthetic)
    _fill_digitalefactuur(df_sandbox)
    _age_register(kvk_sandbox, synthetic)
    console.print(_crm_table(crm, df_sandbox))

    _step(console, 3, "Organisations without a KvK number: matched and enriched")
    matches = _match_and_enrich(crm, kvk)
    console.print(_matches_table(matches))
    console.print(_enrichment_table(matches))

    _step(console, 4, "Linked organisations checked against the register (the KvK flow)")
    kvk_report = SyncReport()
    kvk_flow.run(crm, kvk_report)  # what SyncEngine.run and run_due do on their schedule
    console.print(_updates_table(crm, kvk_report))
    console.print(
        f"[bold]{len(crm.pending_kvk_updates())}[/bold] pending updates stored in the CRM "
        f"for review, of {len(kvk_report)} linked organisations checked.\n"
        f"KvK calls: {kvk.usage.search_calls} free searches, "
        f"{kvk.usage.profile_calls} paid profiles, {kvk.usage.cache_hits} from cache."
    )
    accepted, rejected = _review(console, crm, linked)

    runs: list[SyncReport] = []
    _step(console, 5, "First sync: relations both ways with DigitaleFactuur, to e-Boekhouden")
    runs.append(engine.run())
    console.print(_counts_table(runs[-1], "First run, per service and side"))

    _step(console, 6, "Edits on both sides, invoices sent; the next sync merges and books")
    console.print(_edit(crm, df_sandbox))
    runs.append(engine.run())
    console.print(runs[-1].to_table())

    _step(console, 7, "Payments registered in e-Boekhouden; the next sync pulls them back")
    for invoice_number, amount in (PAID_IN_FULL, PAID_IN_PART):
        eb_sandbox.pay(invoice_number, amount)
        console.print(f"e-Boekhouden: {amount} received on invoice {invoice_number}")
    runs.append(engine.run())
    console.print(runs[-1].to_table())
    console.print(_invoices_table(crm))

    story = DemoStory(folder, matches, kvk_report, accepted, rejected, runs, df_sandbox, eb_sandbox)
    _step(console, 8, "What the koppeling did")
    console.print(_story_table(crm, story))
    before = _writes(df_sandbox, eb_sandbox)
    again = engine.run()
    console.print(
        f"A fourth run with nothing changed: {again}; "
        f"{_writes(df_sandbox, eb_sandbox) - before} writes sent to the services."
    )
    return attrs.evolve(story, runs=[*runs, again])


def _table(*headers: str, title: str) -> Table:
    """A table whose cells wrap instead of cutting a value short (narrow terminals)."""
    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def _step(console: Console, number: int, title: str) -> None:
    console.rule(f"[bold]Step {number}[/bold]: {title}")


# -- the CRM's contents --------------------------------------------------------------------


def _fill_crm(crm: SqliteCRM, kvk: KvKClient, synthetic: Sequence[Company]) -> list[str]:
    """Fill the CRM; returns the host IDs of the organisations linked to the register."""
    linked: list[str] = []
    # Linked last year: the register's data as it was then, with an invoice address.
    numbers = {**LINKED_TEST}
    numbers.update(
        {str(1004 + n): c.kvk_number for n, c in enumerate(synthetic[:LINKED_SYNTHETIC])}
    )
    for debtor, kvk_number in numbers.items():
        org = kvk.organisation(kvk_number)
        invoice = Address(
            kind=AddressKind.INVOICE,
            street="Postbus",
            house_number=int(debtor),
            postcode="3500 AA",
            city="Utrecht",
        )
        org = org.model_copy(
            update={
                "addresses": [*org.addresses, invoice],
                "debtor_number": debtor,
                "contact": ContactDetails(email=f"administratie@{debtor}.example"),
            }
        )
        linked.append(crm.add(org))
    # New this year, no KvK number yet: matched today by name, city or address.
    new = [
        Organisation(name="Test BV Donald", addresses=[Address(city="Lollum")]),
        Organisation(name="Grand Joyflex BV"),
        Organisation(
            name="Slagerij De Dam",
            addresses=[Address(postcode="1034 wl", house_number=17, city="Amsterdam")],
        ),
    ]
    for company in synthetic[LINKED_SYNTHETIC:]:
        city = next((b.addresses[0].city for b in company.branches if b.addresses), None)
        new.append(Organisation(name=company.name, addresses=[Address(city=city)]))
    for n, org in enumerate(new):
        number = {"debtor_number": str(1020 + n)} if n % 3 != 2 else {}
        crm.add(org.model_copy(update=number))
    # Suppliers (creditors) and persons, never in the register.
    suppliers = ("Drukkerij Vos", "Koffie & Co", "Schoonmaak Snel", "Houthandel Eik", "Lijm & Zo")
    for n, name in enumerate(suppliers):
        crm.add(
            Organisation(
                name=name,
                creditor_number=str(2001 + n),
                addresses=[_address(AddressKind.INVOICE, n)],
            )
        )
    people = [
        ("J.", "Jan", "de", "Vries"),
        ("A.", "Anna", None, "Bakker"),
        ("P.", "Pieter", "van", "Dijk"),
        ("S.", "Sanne", None, "Visser"),
        ("M.", "Mohamed", "el", "Amrani"),
        ("L.", "Lotte", "van der", "Berg"),
        ("K.", "Kees", None, "Smit"),
        ("E.", "Eva", "de", "Boer"),
        ("T.", "Thijs", None, "Meijer"),
        ("F.", "Fleur", "van", "Leeuwen"),
        ("R.", "Ruben", None, "Jansen"),
        ("I.", "Iris", "de", "Graaf"),
        ("B.", "Bram", "van den", "Heuvel"),
        ("N.", "Noor", None, "Hendriks"),
        ("D.", "Daan", "van", "Beek"),
        ("Y.", "Yasmin", None, "Kaya"),
    ]
    for n, (initials, first, infix, last) in enumerate(people):
        crm.add(
            Person(
                initials=initials,
                first_name=first,
                infix=infix,
                last_name=last,
                contact=ContactDetails(email=f"{first.lower()}@example.org"),
                addresses=[_address(AddressKind.PRIVATE, n)],
                debtor_number=str(1040 + n) if n % 4 != 3 else None,
            )
        )
    return linked


def _address(kind: AddressKind, n: int) -> Address:
    return Address(
        kind=kind,
        street="Dorpsstraat",
        house_number=n + 1,
        postcode=f"{3511 + n} AB",
        city=_CITIES[n % len(_CITIES)],
    )


def _fill_digitalefactuur(sandbox: DigitaleFactuurSandbox) -> None:
    """Relations made in DigitaleFactuur (by the bookkeeper) that the CRM does not have."""
    for n, name in enumerate(("Bloemenhuis Flora", "Fietsenmaker Wiel", "Bakkerij Korrel")):
        sandbox.add_relation(
            relatienummer=str(1101 + n),
            naam=name,
            adres=f"Marktplein {n + 1}",
            postcode=f"{2611 + n} CC",
            plaats="Delft",
            contactpersoon_email=f"info@{name.split()[-1].lower()}.example",
        )
    for n, name in enumerate(("Papiergroothandel Blad", "Energie Direct Leverancier")):
        sandbox.add_relation(
            relatienummer=str(2101 + n), naam=name, type="crediteur", plaats="Rotterdam"
        )


def _synthetic_companies() -> list[Company]:
    """Generated companies with one branch, named as their trade name.

    For a company with several branches (or a legal form in its name), the
    register check compares the company's figures with its main branch's and
    reports differences that are none (see the report of issue 10's demo).
    """
    found = [
        company
        for company in generate_companies(48, seed=7)
        if len(company.branches) == 1 and not company.name.endswith(("B.V.", "N.V.", "U.A."))
    ]
    return found[: LINKED_SYNTHETIC + NEW_SYNTHETIC]


def _age_register(sandbox: KvKSandbox, synthetic: Sequence[Company]) -> None:
    """Since last year: Global Conron and one more moved, one grew, Test NV Katrien was removed."""
    moved = RegisterAddress(
        city="Dordrecht", street="Spuiboulevard", house_number=210, postcode="3311GR"
    )
    sandbox.update("90000749", addresses=(moved,), total_employees=4)
    sandbox.remove("68727720")
    first, second = synthetic[0], synthetic[1]
    branch = first.branches[0]
    sandbox.update(
        first.kvk_number,
        branches=(attrs.evolve(branch, full_time_employees=(branch.full_time_employees or 0) + 6),),
    )
    branch = second.branches[0]
    new_address = RegisterAddress(
        city="Amersfoort", street="Stationsplein", house_number=12, postcode="3818LE"
    )
    sandbox.update(second.kvk_number, branches=(attrs.evolve(branch, addresses=(new_address,)),))


def _crm_table(crm: SqliteCRM, df: DigitaleFactuurSandbox) -> Table:
    parties = crm.parties()
    orgs = [p for p in parties if isinstance(p, Organisation)]
    table = _table("", "count", title="The CRM before the koppeling runs")
    rows = [
        ("organisations", len(orgs)),
        ("  linked to the KvK register (last year)", sum(1 for o in orgs if o.kvk_number)),
        ("  without a KvK number", sum(1 for o in orgs if not o.kvk_number)),
        ("persons", len(parties) - len(orgs)),
        ("with a debtor number (to DigitaleFactuur and e-Boekhouden)", _count(parties, "debtor")),
        ("with a creditor number", _count(parties, "creditor")),
        ("relations in DigitaleFactuur the CRM lacks", len(df.relations)),
    ]
    for label, count in rows:
        table.add_row(label, str(count))
    return table


def _count(parties: Sequence[Organisation | Person], role: str) -> int:
    return sum(1 for p in parties if getattr(p, f"{role}_number"))


# -- KvK: matching, enrichment, updates ------------------------------------------------------


def _match_and_enrich(crm: SqliteCRM, kvk: KvKClient) -> list[MatchResult]:
    records = [p for p in crm.parties() if isinstance(p, Organisation) and not p.kvk_number]
    results = Matcher(kvk, enrich=True).match_many(records)
    for result in results:
        if result.best is not None and result.enriched is not None:
            crm.save(_enriched(result.organisation, result))
    return results


def _enriched(org: Organisation, result: MatchResult) -> Organisation:
    """The record with its KvK number and the register's data wherever the CRM had none.

    What the CRM has (its own spelling of the name, say) stays: where it differs
    from the register, the KvK flow proposes the register's value for review.
    """
    data, best = result.enriched, result.best
    assert data is not None and best is not None
    update: dict[str, object] = {"kvk_number": best.kvk_number}
    for name in UPDATE_FIELDS:
        if name.endswith("_address"):
            continue
        if getattr(org, name) in (None, [], "") and getattr(data, name) not in (None, []):
            update[name] = getattr(data, name)
    own = {a.kind for a in org.addresses if a.street}
    addresses = [a for a in org.addresses if a.street or a.postcode]
    update["addresses"] = addresses + [
        a for a in data.addresses if a.kind in _REGISTER_ADDRESSES and a.kind not in own
    ]
    return org.model_copy(update=update)


_REGISTER_ADDRESSES = frozenset({AddressKind.VISITING, AddressKind.POSTAL})


def _review(
    console: Console, crm: SqliteCRM, linked: Sequence[str]
) -> tuple[tuple[str, str], tuple[str, str]]:
    """A person accepts Global Conron's move and rejects another organisation's head count."""
    conron, grown = linked[1], linked[len(LINKED_TEST)]
    crm.accept_kvk_update(conron, "visiting_address")
    crm.reject_kvk_update(grown, "employees_total")
    console.print(
        f"A person accepts the new visiting address of CRM {conron} (applied to the record) "
        f"and rejects the head count of CRM {grown} (not proposed again until KvK changes it)."
    )
    return (conron, "visiting_address"), (grown, "employees_total")


def _matches_table(results: Sequence[MatchResult]) -> Table:
    table = _table(
        "CRM",
        "name",
        "status",
        "KvK",
        "branch",
        "score",
        "by",
        title="Matching",
    )
    for r in results:
        best = r.best
        table.add_row(
            r.organisation.id or "",
            Text(r.organisation.name),
            _status(r),
            best.kvk_number if best else "",
            (best.branch_number or "") if best else "",
            f"{best.score:.0f}" if best else "",
            best.strategy.value if best else "",
        )
    return table


def _enrichment_table(results: Sequence[MatchResult]) -> Table:
    table = _table(
        "CRM",
        "legal form",
        "visiting address",
        "employees",
        "SBI (main)",
        title="Enrichment from the register (taken over where the CRM had nothing)",
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


def _updates_table(crm: SqliteCRM, report: SyncReport) -> Table:
    table = _table(
        "CRM",
        "name",
        "status",
        "field",
        "CRM value",
        "KvK value",
        title="Pending KvK updates and removals (stored in the CRM for review)",
    )
    table.columns[3].min_width = 18  # field names whole
    for update in crm.pending_kvk_updates():
        party = crm.get(update.host_id)
        removal = update.field == REGISTRATION_FIELD
        table.add_row(
            update.host_id,
            Text(party.name if isinstance(party, Organisation) else ""),
            "[red]removal[/red]" if removal else "update",
            update.field,
            Text(_shown(update.crm_value)),
            Text(_shown(update.kvk_value)),
        )
    up_to_date = sum(1 for row in report if row.action is Action.UNCHANGED)
    failed = sum(1 for row in report if row.action is Action.FAILED)
    table.caption = f"{up_to_date} linked organisations up to date, {failed} failed"
    return table


def _shown(value: object) -> str:
    """A stored update's value as the register check shows it (an address on one line)."""
    if isinstance(value, dict) and "kind" in value:
        return format_value(Address.model_validate(value))
    if isinstance(value, dict) and "status" in value:  # a registration: active, ended, removed
        return ", ".join(str(v) for v in value.values())
    return format_value(value)


# -- the sync runs ------------------------------------------------------------------------------


def _edit(crm: SqliteCRM, df: DigitaleFactuurSandbox) -> Table:
    """Between two runs: edits on both sides and invoices sent. Returns what was done."""
    table = _table("where", "relation", "edit", title="Edits since the first run")
    df_ids = {r["relatienummer"]: r["id"] for r in df.relations}
    # Changed on both sides in the same field: the CRM wins.
    party = crm.find_by_number(Role.DEBTOR, CONFLICT)
    assert party is not None
    crm.save(
        party.model_copy(update={"contact": ContactDetails(email="facturen@dagobert.example")})
    )
    df.edit_relation(df_ids[CONFLICT], contactpersoon_email="boekhouding@dagobert.example")
    table.add_row("CRM", CONFLICT, "e-mail → facturen@dagobert.example")
    table.add_row("DigitaleFactuur", CONFLICT, "e-mail → boekhouding@dagobert.example")
    # Changed in DigitaleFactuur only: the CRM takes it (postal and invoice address).
    df.edit_relation(df_ids[DF_EDIT], adres="Oude Delft 99", postcode="2611 CD")
    table.add_row("DigitaleFactuur", DF_EDIT, "moved to Oude Delft 99, 2611 CD")
    # Changed in the CRM only: both services take it.
    party = crm.find_by_number(Role.DEBTOR, CRM_EDIT)
    assert isinstance(party, Organisation)
    crm.save(party.model_copy(update={"name": f"{party.name} (Holding)"}))
    table.add_row("CRM", CRM_EDIT, f"renamed to {party.name} (Holding)")
    for number, code, price in INVOICES:
        crm.add_invoice(_invoice(number, code, price), sent=True)
        table.add_row("CRM", code, f"invoice {number} sent ({price} + 21 % VAT)")
    return table


def _invoice(number: str, relation_code: str, price: str) -> Invoice:
    return Invoice(
        number=number,
        relation_code=relation_code,
        date=dt.date(2026, 3, 2),
        kind=InvoiceKind.SALES,
        lines=[
            InvoiceLine(description="Advies", unit_price=Decimal(price), vat_category="nl_high")
        ],
    )


def _counts_table(report: SyncReport, title: str) -> Table:
    counts = Counter((row.service, row.side.value, row.kind, row.action) for row in report)
    table = _table("service", "side", "record", "action", "count", title=title)
    for (service, side, kind, action), count in sorted(counts.items()):
        table.add_row(service, side, kind, action.value, str(count))
    table.caption = str(report)
    return table


def _invoices_table(crm: SqliteCRM) -> Table:
    table = _table(
        "invoice", "relation", "booked as", "payment state", "outstanding",
        title="Invoices in the CRM",
    )  # fmt: skip
    for number, code, _ in INVOICES:
        outstanding = crm.outstanding(number, relation_code=code)
        table.add_row(
            number,
            code,
            crm.booking_reference("eboekhouden", number, relation_code=code) or "",
            crm.payment_state(number, relation_code=code).value,
            "" if outstanding is None else str(outstanding),
        )
    return table


def _story_table(crm: SqliteCRM, story: DemoStory) -> Table:
    rows = [row for report in story.runs for row in report]

    def count(
        action: Action, side: Side, service: str | None = None, kind: str = "relation"
    ) -> int:
        return sum(
            1
            for row in rows
            if row.action is action
            and row.side is side
            and row.kind == kind
            and (service is None or row.service == service)
        )

    states = Counter(crm.payment_state(number, relation_code=code) for number, code, _ in INVOICES)
    pending = crm.pending_kvk_updates()
    table = _table("", "count", title="The koppeling, in numbers")
    lines = [
        ("KvK: organisations matched", sum(1 for r in story.matches if r.best is not None)),
        ("KvK: enriched from the register", sum(1 for r in story.matches if r.enriched)),
        ("KvK: not found or to choose", sum(1 for r in story.matches if r.best is None)),
        ("KvK: updates still pending review", len(pending)),
        ("KvK: removals pending review", sum(1 for u in pending if u.field == REGISTRATION_FIELD)),
        ("KvK: updates accepted by a person (applied)", 1),
        ("KvK: updates rejected by a person (not proposed again)", 1),
        ("created in the CRM from DigitaleFactuur", count(Action.CREATED, Side.HOST)),
        ("created in DigitaleFactuur", count(Action.CREATED, Side.REMOTE, "digitalefactuur")),
        ("created in e-Boekhouden", count(Action.CREATED, Side.REMOTE, "eboekhouden")),
        ("updated in the CRM", count(Action.UPDATED, Side.HOST)),
        ("updated in DigitaleFactuur", count(Action.UPDATED, Side.REMOTE, "digitalefactuur")),
        ("updated in e-Boekhouden", count(Action.UPDATED, Side.REMOTE, "eboekhouden")),
        ("conflicts (the CRM won)", sum(1 for row in rows if row.action is Action.CONFLICT)),
        ("invoices booked in e-Boekhouden", count(Action.CREATED, Side.REMOTE, kind="invoice")),
        ("invoices paid", states[PaymentState.PAID]),
        ("invoices partly paid", states[PaymentState.PARTLY_PAID]),
        ("failed", sum(1 for row in rows if row.action is Action.FAILED)),
    ]
    for label, number in lines:
        table.add_row(label, str(number))
    return table


def _writes(df: DigitaleFactuurSandbox, eb: EBoekhoudenSandbox) -> int:
    df_writes = ("klant_aanmaken", "klant_updaten")
    eb_writes = ("POST /v1/relation", "PATCH /v1/relation/{id}", "POST /v1/mutation")
    return sum(df.stats.requests[n] for n in df_writes) + sum(
        eb.stats.requests[n] for n in eb_writes
    )
