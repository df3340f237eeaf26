"""The commands of ``crmconnect`` (see `crmconnect._cli` for the entry point).

Exit codes scripts can rely on:

| code | meaning |
|---|---|
| 0 | done |
| 1 | bad input or configuration (nothing was sent) |
| 2 | wrong command-line usage |
| 3 | the remote service refused or failed |
| 4 | network failure |
| 5 | a batch finished, but some records failed (they are in the output) |
| 6 | ``sync``: the run did not finish (another run holds the state, or it broke off) |
"""

from __future__ import annotations

import contextlib
import heapq
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from ._crmfile import CrmRow, read_organisations, write_rows
from .errors import (
    APIError,
    ConfigurationError,
    CrmConnectError,
    SyncError,
    TransportError,
    ValidationError,
)
from .kvk import Environment as KvKEnvironment
from .kvk import (
    KvKClient,
    Matcher,
    MatchResult,
    MatchStatus,
    UpdateReport,
    UpdateService,
    format_value,
)
from .models import Organisation

__all__ = ["app"]

EXIT_INPUT, EXIT_REMOTE, EXIT_NETWORK, EXIT_PARTIAL, EXIT_UNFINISHED = 1, 3, 4, 5, 6
_T = TypeVar("_T")

app = typer.Typer(
    help="Connect a CRM to the KvK register and to bookkeeping services.", no_args_is_help=True
)
kvk_app = typer.Typer(help="Search, profile, match and check updates in the KvK register.")
app.add_typer(kvk_app, name="kvk")
df_app = typer.Typer(help="DigitaleFactuur: check the XML element names against a live account.")
app.add_typer(df_app, name="digitalefactuur")
console = Console()

Environment = Annotated[
    # A Literal is a choice: a typo ("tset") is a usage error, with --sandbox and in the envvar too.
    KvKEnvironment,
    typer.Option(help="KvK environment", envvar="CRMCONNECT_KVK_ENVIRONMENT"),
]
ApiKey = Annotated[
    str | None,
    typer.Option(help="KvK API key", envvar="CRMCONNECT_KVK_API_KEY", show_default=False),
]
BaseUrl = Annotated[
    str | None, typer.Option(help="Override the API root URL", envvar="CRMCONNECT_KVK_BASE_URL")
]
Sandbox = Annotated[bool, typer.Option("--sandbox", help="Use the built-in offline KvK sandbox")]
CrmFile = Annotated[Path, typer.Argument(help="CRM export (CSV or XLSX)", show_default=False)]
PadKvk = Annotated[
    bool,
    typer.Option(
        "--pad-kvk",
        help="Restore leading zeros a spreadsheet dropped from KvK numbers (1 to 7 digits "
        "become 8). Without it such a number is reported as invalid, never looked up.",
    ),
]


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn our errors into one red line and an exit code; no tracebacks.

    The message is printed as text, never as rich markup: it can quote a
    value or a file name, and ``[/x]`` there would otherwise be a markup error.
    """
    try:
        yield
    except (ValidationError, ConfigurationError) as exc:
        _fail("error", exc, EXIT_INPUT)
    except OSError as exc:  # an output that cannot be written
        _fail("error", f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), EXIT_INPUT)
    except APIError as exc:
        _fail("remote error", exc, EXIT_REMOTE)
    except TransportError as exc:
        _fail("network error", exc, EXIT_NETWORK)
    except CrmConnectError as exc:  # pragma: no cover - any other error of ours
        _fail("error", exc, EXIT_INPUT)


def _fail(kind: str, message: object, code: int) -> NoReturn:
    console.print(Text.assemble((f"{kind}:", "red"), " ", str(message)))
    raise typer.Exit(code) from None


def _client(
    environment: KvKEnvironment, api_key: str | None, base_url: str | None, sandbox: bool
) -> KvKClient:
    if sandbox:
        from .sandbox import KvKSandbox

        return KvKClient(environment="test", transport=KvKSandbox().transport())
    return KvKClient(api_key, environment=environment, base_url=base_url)


def _with_progress(label: str, total: int, run: Callable[[Callable[..., None]], _T]) -> _T:
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(label, total=total)
        return run(lambda done, _total, _result: progress.update(task, completed=done))


@kvk_app.command()
def search(
    name: Annotated[str | None, typer.Option(help="Name or trade name")] = None,
    kvk_number: Annotated[str | None, typer.Option(help="8-digit KvK number")] = None,
    city: Annotated[str | None, typer.Option(help="City")] = None,
    postcode: Annotated[str | None, typer.Option(help="Postcode (with house number)")] = None,
    house_number: Annotated[int | None, typer.Option(help="House number")] = None,
    include_inactive: Annotated[bool, typer.Option(help="Also ended registrations")] = False,
    limit: Annotated[int, typer.Option(help="At most this many results")] = 50,
    environment: Environment = "production",
    api_key: ApiKey = None,
    base_url: BaseUrl = None,
    sandbox: Sandbox = False,
) -> None:
    """Search the register (free)."""
    with user_errors(), _client(environment, api_key, base_url, sandbox) as kvk:
        table = Table("KvK number", "branch", "type", "name", "address")
        hits = kvk.iter_search(
            name=name,
            kvk_number=kvk_number,
            city=city,
            postcode=postcode,
            house_number=house_number,
            include_inactive=include_inactive,
            per_page=min(100, max(1, limit)),
        )
        for count, hit in enumerate(hits, start=1):
            place = hit.address
            where = ", ".join(p for p in (place.street, place.city) if p) if place else ""
            cells = (hit.kvk_number, hit.branch_number or "", hit.type or "", hit.name, where)
            table.add_row(*(Text(cell) for cell in cells))  # register text is not markup
            if count >= limit:
                break
        console.print(table if table.row_count else "no results")


@kvk_app.command()
def profile(
    kvk_number: Annotated[str, typer.Argument(help="8-digit KvK number")],
    branch_number: Annotated[str | None, typer.Option(help="12-digit branch number")] = None,
    environment: Environment = "production",
    api_key: ApiKey = None,
    base_url: BaseUrl = None,
    sandbox: Sandbox = False,
) -> None:
    """Show what the register says about an organisation (paid profile calls)."""
    with user_errors(), _client(environment, api_key, base_url, sandbox) as kvk:
        _print_organisation(kvk.organisation(kvk_number, branch_number))


def _print_organisation(org: Organisation) -> None:
    table = Table("field", "value", show_header=False)
    shown = org.model_dump(
        exclude={"addresses", "sbi_activities", "contact", "contacts", "bank_accounts", "id"}
    )
    for field, value in shown.items():
        if value not in (None, [], ""):
            shown_value = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            table.add_row(field, Text(shown_value))  # register text is not markup
    for address in org.addresses:
        table.add_row(f"{address.kind.value} address", Text(address.one_line()))
    for activity in org.sbi_activities:
        table.add_row(
            "SBI" + (" (main)" if activity.main else ""),
            Text(f"{activity.code} {activity.description or ''}"),
        )
    console.print(table)


MATCH_COLUMNS = (
    "line",
    "id",
    "name",
    "status",
    "kvk_number",
    "branch_number",
    "score",
    "strategy",
    "matched_name",
    "matched_address",
    "candidates",
    "notes",
)
CANDIDATE_COLUMNS = (
    "line",
    "id",
    "rank",
    "score",
    "strategy",
    "strategies",
    "kvk_number",
    "branch_number",
    "name",
    "address",
)


@kvk_app.command()
def match(
    file: CrmFile,
    output: Annotated[
        Path | None, typer.Option(help="Result CSV (default: FILE.matches.csv)")
    ] = None,
    workers: Annotated[int, typer.Option(help="Searches in flight at once")] = 8,
    pad_kvk: PadKvk = False,
    environment: Environment = "production",
    api_key: ApiKey = None,
    base_url: BaseUrl = None,
    sandbox: Sandbox = False,
) -> None:
    """Match every organisation of a CRM export to the register (free searches only).

    A row that cannot be read (no name, a KvK number that is not 8 digits) is
    written with status invalid and the reason.
    """
    with user_errors(), _client(environment, api_key, base_url, sandbox) as kvk:
        mapping, rows = read_organisations(file, pad_kvk=pad_kvk)
        console.print(
            "columns: " + ", ".join(f"{k} ← {v!r}" for k, v in mapping.items()), markup=False
        )
        readable = [row for row in rows if row.organisation is not None]
        orgs = [row.organisation for row in readable if row.organisation is not None]
        results = _with_progress(
            "matching",
            len(orgs),
            lambda cb: Matcher(kvk).match_many(orgs, workers=workers, on_progress=cb),
        )
        by_line = dict(zip((row.line for row in readable), results, strict=True))
        target = output or file.with_suffix(".matches.csv")
        write_rows(target, MATCH_COLUMNS, (_match_row(row, by_line.get(row.line)) for row in rows))
        write_rows(
            target.with_suffix(".candidates.csv"),
            CANDIDATE_COLUMNS,
            _candidate_rows(readable, by_line),
        )
        _summarise_matches(rows, results, target)
        if any(row.error for row in rows) or any(r.error for r in results):
            raise typer.Exit(EXIT_PARTIAL)


def _match_row(row: CrmRow, result: MatchResult | None) -> dict[str, Any]:
    base = {
        "line": row.line,
        "id": row.values.get("id", ""),
        "name": row.organisation.name if row.organisation else "",
    }
    if result is None:
        return {**base, "status": "invalid", "notes": row.error}
    best = result.best
    return {
        **base,
        "id": result.organisation.id or "",
        "status": result.status.value,
        "kvk_number": best.kvk_number if best else "",
        "branch_number": (best.branch_number or "") if best else "",
        "score": f"{best.score:.1f}" if best else "",
        "strategy": best.strategy.value if best else "",
        "matched_name": best.name if best else "",
        "matched_address": best.address if best else "",
        "candidates": len(result.candidates),
        "notes": "; ".join([*result.notes, *([str(result.error)] if result.error else [])]),
    }


def _candidate_rows(
    rows: Sequence[CrmRow], by_line: dict[int, MatchResult]
) -> Iterator[dict[str, Any]]:
    for row in rows:
        result = by_line[row.line]
        for rank, candidate in enumerate(result.candidates, start=1):
            yield {
                "line": row.line,
                "id": result.organisation.id or "",
                "rank": rank,
                "score": f"{candidate.score:.1f}",
                "strategy": candidate.strategy.value,
                "strategies": candidate.steps,
                "kvk_number": candidate.kvk_number,
                "branch_number": candidate.branch_number or "",
                "name": candidate.name,
                "address": candidate.address,
            }


def _summarise_matches(
    rows: Sequence[CrmRow], results: Sequence[MatchResult], target: Path
) -> None:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status.value] = counts.get(result.status.value, 0) + 1
    invalid = sum(1 for row in rows if row.error)
    parts = [f"{n} {status}" for status, n in sorted(counts.items())] + (
        [f"{invalid} invalid"] if invalid else []
    )
    console.print(f"{len(rows)} records: " + ", ".join(parts) + f" → {target}", markup=False)
    _show_choices([r for r in results if r.status is MatchStatus.AMBIGUOUS], target)


SHOWN_CHOICES, SHOWN_CANDIDATES = 5, 10
"""Records without a single winner, and candidates of each, the terminal shows (the CSV has all)."""


def _show_choices(ambiguous: Sequence[MatchResult], target: Path) -> None:
    """The candidates of the first records a person must choose for, and which step found each."""
    for result in ambiguous[:SHOWN_CHOICES]:
        table = Table(
            "#",
            "score",
            "found by",
            "KvK number",
            "branch",
            "name",
            "address",
            title=Text(f"choose for: {result.organisation.name}"),
            title_justify="left",
        )
        hidden = len(result.candidates) - SHOWN_CANDIDATES
        if hidden > 0:
            table.caption = f"{hidden} more in the candidates file"
        for rank, candidate in enumerate(result.candidates[:SHOWN_CANDIDATES], start=1):
            cells = (
                str(rank),
                f"{candidate.score:.1f}",
                candidate.steps,
                candidate.kvk_number,
                candidate.branch_number or "",
                candidate.name,
                candidate.address,
            )
            table.add_row(*(Text(cell) for cell in cells))
        console.print(table)
    if len(ambiguous) > SHOWN_CHOICES:
        more = len(ambiguous) - SHOWN_CHOICES
        candidates = target.with_suffix(".candidates.csv")
        console.print(f"{more} more records to choose for: see {candidates}", markup=False)


UPDATE_COLUMNS = (
    "line",
    "id",
    "name",
    "kvk_number",
    "status",
    "field",
    "crm_value",
    "kvk_value",
    "notes",
)


@kvk_app.command()
def updates(
    file: CrmFile,
    output: Annotated[
        Path | None, typer.Option(help="Result CSV (default: FILE.updates.csv)")
    ] = None,
    pad_kvk: PadKvk = False,
    environment: Environment = "production",
    api_key: ApiKey = None,
    base_url: BaseUrl = None,
    sandbox: Sandbox = False,
) -> None:
    """List the register's changes and removals for linked CRM records (paid profiles).

    A row with a KvK number that cannot be read (not 8 digits, no name) is
    written with status invalid and the reason, and never looked up.
    """
    with user_errors(), _client(environment, api_key, base_url, sandbox) as kvk:
        _, rows = read_organisations(file, pad_kvk=pad_kvk)
        linked = [
            row for row in rows if row.organisation is not None and row.organisation.kvk_number
        ]
        invalid = [row for row in rows if row.error and row.values.get("kvk_number")]
        orgs = [row.organisation for row in linked if row.organisation is not None]
        summary = _with_progress(
            "checking",
            len(orgs),
            lambda cb: UpdateService(kvk).check_updates_many(orgs, on_progress=cb),
        )
        target = output or file.with_suffix(".updates.csv")
        lines = [row.line for row in linked]
        checked = _update_rows(zip(lines, summary.reports, strict=True))
        written = heapq.merge(checked, map(_invalid_update_row, invalid), key=lambda r: r["line"])
        write_rows(target, UPDATE_COLUMNS, written)
        console.print(
            f"{len(orgs)} linked records: {summary.pending_updates} with updates, "
            f"{summary.removals} ended or removed, {summary.errors} failed, "
            f"{len(invalid)} invalid → {target}",
            markup=False,
        )
        if summary.errors or invalid:
            raise typer.Exit(EXIT_PARTIAL)


def _invalid_update_row(row: CrmRow) -> dict[str, Any]:
    return {
        "line": row.line,
        "id": row.values.get("id", ""),
        "name": row.values.get("name", ""),
        "kvk_number": row.values.get("kvk_number", ""),
        "status": "invalid",
        "notes": row.error,
    }


def _update_rows(reports: Iterator[tuple[int, UpdateReport]] | Any) -> Iterator[dict[str, Any]]:
    for line, report in reports:
        org = report.organisation
        base = {
            "line": line,
            "id": org.id or "",
            "name": org.name,
            "kvk_number": org.kvk_number,
            "status": "error" if report.error else report.status.value,
            "notes": str(report.error) if report.error else (report.reason or ""),
        }
        if not report.changes:
            yield base
        for change in report.changes:
            yield {
                **base,
                "field": change.field,
                "crm_value": format_value(change.crm_value),
                "kvk_value": format_value(change.kvk_value),
            }


@df_app.command()
def inspect(
    account_id: Annotated[
        str | None,
        typer.Option(envvar="CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID", show_default=False),
    ] = None,
    access_code: Annotated[
        str | None,
        typer.Option(envvar="CRMCONNECT_DIGITALEFACTUUR_ACCESS_CODE", show_default=False),
    ] = None,
    relation_id: Annotated[
        str | None, typer.Option("--id", help="The DF ID of the relation; the first one if omitted")
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="Override the API root", envvar="CRMCONNECT_DIGITALEFACTUUR_URL"),
    ] = None,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Use the built-in offline sandbox")
    ] = False,
) -> None:
    """Print the raw XML of one relation, and which element names crmconnect assumes.

    Fill in every field of one relation in DigitaleFactuur's screens first: the
    XML then shows the names DF really uses. Correct an assumed name with
    RELATION_FIELDS.override({...}) in your application.
    """
    from .digitalefactuur import RELATION_FIELDS, DigitaleFactuurClient

    with user_errors():
        transport = None
        if sandbox:
            from .sandbox import DEMO_ACCESS_CODE, DEMO_ACCOUNT_ID, DigitaleFactuurSandbox

            demo_df = DigitaleFactuurSandbox()
            demo_df.add_relation(naam="Voorbeeld B.V.", plaats="Utrecht", kvk_nummer="69599084")
            transport = demo_df.transport()
            account_id, access_code = DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE
        with DigitaleFactuurClient(
            account_id, access_code, base_url=base_url, transport=transport
        ) as df:
            xml = df.raw_relation_xml(relation_id)
        console.print(xml, markup=False, highlight=False)
        seen = set(re.findall(r"<([A-Za-z_][\w.-]*)[\s/>]", xml))
        table = Table("attribute", "element", "status", "in this XML")
        for spec in RELATION_FIELDS:
            status = "assumed" if spec.assumed else "documented"
            cells = (spec.attribute, spec.element, status, "yes" if spec.element in seen else "no")
            table.add_row(*(Text(cell) for cell in cells))
        console.print(table)
        unknown = sorted(seen - {spec.element for spec in RELATION_FIELDS} - {"klant", "id"})
        if unknown:
            console.print("elements no field maps: " + ", ".join(unknown), markup=False)


SHOWN_IN_TERMINAL = 20
"""Findings `validate` prints (errors first); the reports have them all."""


@app.command()
def validate(
    file: Annotated[
        Path, typer.Argument(help="The import file: CSV (any Dutch Excel flavour) or XLSX")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Folder for the outputs (default: beside the file)")
    ] = None,
) -> None:
    """Check an accounting office's CRM import file; exit code 0 only without errors.

    Prints the first findings (errors first) and writes FILE.normalised.csv
    (the rows without errors), FILE.report.csv and FILE.report.html (every
    finding, in Dutch and English, with what it breaks).
    """
    from .importer import Severity, check_file, write_outputs

    with user_errors():
        check = check_file(file)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("checking rows", total=None)
            outputs = write_outputs(
                check,
                out or file.parent,
                stem=file.stem,
                progress=lambda done: progress.update(task, completed=done),
            )
    mapping = Table("template column", "read from")
    for key, header in {**check.mapping, **check.persons_mapping}.items():
        mapping.add_row(key, Text(header))
    console.print(mapping)
    if check.ignored:
        console.print("not used: " + ", ".join(check.ignored), markup=False)
    summary = outputs.summary
    _print_findings(summary.findings[:SHOWN_IN_TERMINAL], summary.total)
    errors, warnings = summary.count(Severity.ERROR), summary.count(Severity.WARNING)
    console.print(
        f"{summary.rows} rows: {summary.taken} taken over, {errors} errors, "
        f"{warnings} warnings, {summary.ubo_count} UBOs"
    )
    for path in (outputs.normalised, outputs.report_csv, outputs.report_html):
        console.print(f"  wrote {path}", markup=False)
    if errors:
        raise typer.Exit(EXIT_INPUT)


def _print_findings(findings: Sequence[Any], total: int) -> None:
    if not findings:
        return
    table = Table("row", "field", "severity", "message", title="findings (errors first)")
    for finding in findings:
        table.add_row(
            str(finding.line),
            Text(finding.field or "-"),
            Text(finding.severity.value, style=_SEVERITY_STYLE[finding.severity.value]),
            Text(finding.message_en),
        )
    console.print(table)
    if total > len(findings):
        console.print(f"… and {total - len(findings)} more findings in the reports")


_SEVERITY_STYLE = {"error": "red", "warning": "yellow", "note": "blue"}


@app.command()
def template(
    path: Annotated[Path, typer.Argument(help="Where to write it: a .xlsx or .csv file")],
) -> None:
    """Write an empty import template with an explanation row (.xlsx or .csv)."""
    from .importer import write_template

    with user_errors():
        written = write_template(path)
    console.print(f"wrote {written}", markup=False)


@app.command()
def demo() -> None:
    """Run the whole koppeling offline: KvK, two-way sync, bookings and payments."""
    from ._demo import run_demo

    with user_errors():
        run_demo(console)


SyncFlow = Literal["relations", "bookings", "payments", "kvk"]


@app.command()
def sync(
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="The config file (TOML)", envvar="CRMCONNECT_CONFIG"),
    ] = Path("crmconnect.toml"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what a run would do; write nothing")
    ] = False,
    flow: Annotated[
        SyncFlow | None, typer.Option(help="Run only this flow", show_default=False)
    ] = None,
    due: Annotated[
        bool,
        typer.Option(
            "--due",
            help="Run only the flows whose interval (the config's intervals table) has "
            "passed: for a scheduler that calls this every few minutes",
        ),
    ] = False,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="Try it out: every connection against an in-process sandbox; the host is "
            "only read (what would be written into it is kept in memory and reported) "
            "and the state is kept in memory",
        ),
    ] = False,
    unchanged: Annotated[
        bool, typer.Option("--unchanged", help="List unchanged records too")
    ] = False,
) -> None:
    """Sync the host CRM with the bookkeeping services the config file names.

    Secrets come from CRMCONNECT_* environment variables, never from the file.
    Exit code 0 when every record synced, 5 when a record failed (it is listed,
    and tried again next run), 6 when the run did not finish (another run
    holds the state), 1 for a configuration error.
    """
    from .config import SyncConfig

    if due and (flow or dry_run):
        raise typer.BadParameter("--due runs what is due: not with --flow or --dry-run")
    with user_errors(), SyncConfig.from_toml(config).open(sandbox=sandbox or None) as setup:
        if setup.sandboxed:
            console.print(
                "Trial against in-process sandboxes: the host is only read, nothing is "
                "written into it; the state is kept in memory",
                markup=False,
            )
        engine = setup.engine
        try:
            if dry_run:
                report = engine.plan(flow).preview
            else:
                report = engine.run_due() if due else engine.run(flow)
        except SyncError as exc:  # busy, or broken off: recorded failed in the run history
            _fail("sync stopped", exc, EXIT_UNFINISHED)
        kept = None if setup.trial is None or dry_run else setup.trial.summary()
    table = report.to_table(unchanged=unchanged)
    if dry_run:
        table.title = Text(f"Dry run, nothing written: {report}")
    elif kept is not None:
        table.title = Text(f"Trial: {report}")
    console.print(table)
    if kept is not None:
        console.print(
            f"Would have been written into the host (kept in memory, now gone): {kept}",
            markup=False,
        )
    if report.failed:
        raise typer.Exit(EXIT_PARTIAL)


from . import _cli_officers, _cli_state  # noqa: E402, F401  (register kvk inspect-officers, state)
