"""The outputs of an import check: the normalised file, and the report as CSV and as HTML.

Every input row appears in one of them: rows without errors in the normalised
file (with their source line), rows with errors in the report with their
original values, empty rows in the report as skipped. The CSV files use
semicolons and a BOM, as a Dutch Excel opens them; the HTML page is
self-contained (no scripts, no external files) so it can be mailed or opened
anywhere.
"""

from __future__ import annotations

import csv
import html
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from _csv import _writer

import attrs

from .._tabular import safe_row
from ._check import CheckedRow, CheckSummary, ImportCheck, Severity, Shareholder, Tally
from ._template import COLUMNS, PERSON_FIELDS

__all__ = ["Outputs", "render_html", "write_outputs"]


@attrs.frozen
class Outputs:
    """Where the outputs of a check were written, and what the check found.

    Attributes:
        normalised: The rows without errors, normalised.
        report_csv: Every finding.
        report_html: The report as a page (the first findings).
        summary: The counts and the first findings of the pass that wrote them.
    """

    normalised: Path
    report_csv: Path
    report_html: Path
    summary: CheckSummary


def write_outputs(
    check: ImportCheck,
    directory: str | Path,
    *,
    stem: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Outputs:
    """Check every row once and write ``<stem>.normalised.csv``, ``.report.csv`` and ``.html``.

    The rows stream through: memory does not grow with the file. Every cell
    written goes through `crmconnect._tabular.safe_cell`, so no value from
    the file runs as a formula when the CSV is opened in a spreadsheet.

    Args:
        check: The file, as opened by `check_file`.
        directory: The folder for the outputs (made when missing).
        stem: The outputs' name (default: the file's).
        progress: Called with the number of rows done, every 1,000 rows.

    Raises:
        ValidationError: The file cannot be read past some row.
        OSError: The outputs cannot be written there.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    name = stem or Path(check.source).stem or "import"
    normalised = folder / f"{name}.normalised.csv"
    report_csv = folder / f"{name}.report.csv"
    report_html = folder / f"{name}.report.html"
    tally = Tally(check.source)
    name_header = check.mapping.get("name", "")
    groups = 0
    # The normalised file's header names as many person groups as the widest
    # row has: its rows are written aside first (in memory up to 8 MiB).
    with (
        tempfile.SpooledTemporaryFile(8 << 20, "w+", newline="", encoding="utf-8") as body,
        report_csv.open("w", newline="", encoding="utf-8-sig") as report,
    ):
        rows_out = csv.writer(body, delimiter=";")
        findings_out = csv.writer(report, delimiter=";")
        findings_out.writerow(REPORT_HEADER)
        for row in check.iter_rows(progress=progress):
            tally.add(row, name_header)
            if row.ok and not row.empty:
                groups = max(groups, len(row.shareholders))
                rows_out.writerow(safe_row(_normalised_cells(row)))
            _write_findings(findings_out, row)
        body.seek(0)
        _write_normalised(normalised, groups, body)
    summary = tally.summary()
    report_html.write_text(render_html(check, summary), encoding="utf-8")
    return Outputs(normalised, report_csv, report_html, summary)


def _write_normalised(path: Path, groups: int, body: IO[str]) -> None:
    headers = [column.header for column in COLUMNS]
    headers.append("Bronregel")  # before the persons: their number differs per row
    for n in range(1, groups + 1):
        headers += [f"Persoon {n} {nl}" for nl, _en, _s in PERSON_FIELDS.values()]
        headers.append(f"Persoon {n} UBO")
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        csv.writer(handle, delimiter=";").writerow(safe_row(headers))
        shutil.copyfileobj(body, handle)


def _normalised_cells(row: CheckedRow) -> list[object]:
    cells: list[object] = [row.values.get(column.key, "") for column in COLUMNS]
    cells.append(row.line)
    for person in row.shareholders:
        cells += _person_cells(person)
    return cells


def _person_cells(person: Shareholder) -> list[str]:
    share = "" if person.share is None else f"{person.share.normalize():f}"
    ubo = "ja" if person.is_ubo else "nee"
    return [person.name, share, person.birth_date, person.nationality, person.bsn, ubo]


REPORT_HEADER = (
    "Regel", "Veld", "Ernst", "Code", "Waarde", "Melding", "Message", "Gevolg", "Consequence",
    "Rij in normalised bestand", "Originele rij",
)  # fmt: skip
"""The columns of the report CSV."""


def _write_findings(writer: _writer, row: CheckedRow) -> None:
    if not row.findings:
        return
    taken = "nee" if not row.ok or row.empty else "ja"
    original = " | ".join(f"{k}={v}" for k, v in row.raw.items() if v)
    for f in row.findings:
        writer.writerow(
            safe_row(
                [f.line, f.field, f.severity.value, f.code, f.value, f.message_nl,
                 f.message_en, f.consequence_nl, f.consequence_en, taken, original]
            )
        )  # fmt: skip


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1d2733}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
.summary{display:flex;gap:1rem;margin:1rem 0}
.box{padding:.6rem 1rem;border-radius:6px;background:#f1f4f8}
.box b{display:block;font-size:1.4rem}.error{background:#fde8e8}.warning{background:#fff4d6}
.note{background:#e8f4fd}table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #d5dbe3;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f1f4f8}tr.error td:first-child{border-left:4px solid #d93025}
tr.warning td:first-child{border-left:4px solid #e8a200}
tr.note td:first-child{border-left:4px solid #1a73e8}
.en{color:#5f6b7a}.muted{color:#5f6b7a}code{background:#f1f4f8;padding:0 .2rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def render_html(check: ImportCheck, summary: CheckSummary | None = None) -> str:
    """The report as one self-contained HTML page (Dutch, with the English beside it).

    Args:
        check: The file checked (for its column mapping).
        summary: What a pass found (`write_outputs` passes its own); checked afresh when omitted.
    """
    summary = summary or check.summarise()
    parts = [
        "<!DOCTYPE html><html lang='nl'><head><meta charset='utf-8'>",
        f"<title>Controle importbestand {_e(Path(check.source).name)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Controle importbestand <code>{_e(Path(check.source).name)}</code></h1>",
        "<p class='en'>Import file check</p><div class='summary'>",
        f"<div class='box'><b>{summary.rows}</b>regels / rows</div>",
        f"<div class='box'><b>{summary.taken}</b>overgenomen / taken over</div>",
        f"<div class='box error'><b>{summary.count(Severity.ERROR)}</b>fouten / errors</div>",
        f"<div class='box warning'><b>{summary.count(Severity.WARNING)}</b>"
        "waarschuwingen / warnings</div>",
        f"<div class='box note'><b>{summary.ubo_count}</b>UBO's</div></div>",
        _mapping_html(check),
        _ubo_html(summary),
        _findings_html(summary),
        "</body></html>",
    ]
    return "".join(parts)


def _mapping_html(check: ImportCheck) -> str:
    absent = "<span class='muted'>—</span>"
    rows = "".join(
        f"<tr><td>{_e(c.header)} <span class='en'>/ {_e(c.english)}</span></td>"
        f"<td>{_e(check.mapping[c.key]) if c.key in check.mapping else absent}</td></tr>"
        for c in COLUMNS
    )
    persons = "".join(
        f"<tr><td>Persoon {_e(group)} {_e(PERSON_FIELDS[field][0])} <span class='en'>/ "
        f"Person {_e(group)} {_e(PERSON_FIELDS[field][1])}</span></td><td>{_e(header)}</td></tr>"
        for (group, field), header in (
            (tuple(slot.split(":")), header) for slot, header in check.persons_mapping.items()
        )
    )
    ignored = ", ".join(_e(h) for h in check.ignored) or "—"
    return (
        "<h2>Kolommen <span class='en'>/ Columns</span></h2><table><tr>"
        f"<th>Sjabloon / Template</th><th>In het bestand / In the file</th></tr>{rows}{persons}"
        f"</table><p>Niet gebruikt <span class='en'>/ Not used</span>: {ignored}</p>"
    )


def _ubo_html(summary: CheckSummary) -> str:
    if not summary.ubos:
        return ""
    rows = "".join(
        f"<tr><td>{line}</td><td>{_e(name)}</td><td>{_e(p.name)}</td>"
        f"<td>{p.share}%</td>"
        f"<td>{_e(_missing_text(p) or 'compleet / complete')}</td></tr>"
        for line, name, p in summary.ubos
    )
    return (
        "<h2>UBO's <span class='en'>(meer dan 25% / more than 25%)</span></h2><table><tr>"
        "<th>Regel</th><th>Organisatie</th><th>Persoon</th><th>Aandeel</th>"
        f"<th>Identificatie ontbreekt / missing</th></tr>{rows}</table>"
        f"{_more(summary.ubo_count - len(summary.ubos), 'UBO&#39;s', 'UBOs')}"
    )


def _missing_text(person: Shareholder) -> str:
    names = {field: f"{nl} / {en}" for field, (nl, en, _s) in PERSON_FIELDS.items()}
    return ", ".join(names[field] for field in person.missing_identification)


def _more(count: int, dutch: str, english: str) -> str:
    if count <= 0:
        return ""
    return (
        f"<p>En nog {count} {dutch}: zie het CSV-rapport. "
        f"<span class='en'>And {count} more {english}: see the CSV report.</span></p>"
    )


def _findings_html(summary: CheckSummary) -> str:
    title = "<h2>Bevindingen <span class='en'>/ Findings</span></h2>"
    if not summary.findings:
        return f"{title}<p>Geen. <span class='en'>None.</span></p>"
    rows = "".join(
        f"<tr class='{f.severity.value}'><td>{f.line}</td>"
        f"<td>{_e(summary.names.get(f.line, ''))}</td><td>{_e(f.field)}</td>"
        f"<td>{_e(f.severity.value)}</td><td>{_e(f.value)}</td>"
        f"<td>{_e(f.message_nl)}<br><span class='en'>{_e(f.message_en)}</span></td>"
        f"<td>{_e(f.consequence_nl)}<br><span class='en'>{_e(f.consequence_en)}</span></td></tr>"
        for f in summary.findings
    )
    return (
        f"{title}<table><tr><th>Regel</th><th>Naam</th>"
        "<th>Veld</th><th>Ernst</th><th>Waarde</th><th>Wat / What</th>"
        f"<th>Gevolg / Consequence</th></tr>{rows}</table>"
        f"{_more(summary.total - len(summary.findings), 'bevindingen', 'findings')}"
    )
