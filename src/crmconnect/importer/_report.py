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
from collections.abc import Iterable
from pathlib import Path

import attrs

from ._check import CheckedRow, ImportCheck, Severity, Shareholder
from ._template import COLUMNS, PERSON_FIELDS

__all__ = ["Outputs", "render_html", "write_outputs"]


@attrs.frozen
class Outputs:
    """Where the outputs of a check were written."""

    normalised: Path
    report_csv: Path
    report_html: Path


def write_outputs(check: ImportCheck, directory: str | Path, *, stem: str | None = None) -> Outputs:
    """Write ``<stem>.normalised.csv``, ``<stem>.report.csv`` and ``<stem>.report.html``."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    name = stem or Path(check.source).stem or "import"
    outputs = Outputs(
        folder / f"{name}.normalised.csv",
        folder / f"{name}.report.csv",
        folder / f"{name}.report.html",
    )
    _write_normalised(check, outputs.normalised)
    _write_report_csv(check, outputs.report_csv)
    outputs.report_html.write_text(render_html(check), encoding="utf-8")
    return outputs


def _person_count(rows: Iterable[CheckedRow]) -> int:
    return max((len(row.shareholders) for row in rows), default=0)


def _write_normalised(check: ImportCheck, path: Path) -> None:
    good = [row for row in check.rows if row.ok and not row.empty]
    groups = _person_count(good)
    headers = [column.header for column in COLUMNS]
    for n in range(1, groups + 1):
        headers += [f"Persoon {n} {nl}" for nl, _en, _s in PERSON_FIELDS.values()]
        headers.append(f"Persoon {n} UBO")
    headers.append("Bronregel")
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(headers)
        for row in good:
            cells = [row.values.get(column.key, "") for column in COLUMNS]
            for person in row.shareholders:
                cells += _person_cells(person)
            cells += [""] * (len(headers) - 1 - len(cells))
            writer.writerow([*cells, row.line])


def _person_cells(person: Shareholder) -> list[str]:
    share = "" if person.share is None else f"{person.share.normalize():f}"
    ubo = "ja" if person.is_ubo else "nee"
    return [person.name, share, person.birth_date, person.nationality, person.bsn, ubo]


def _write_report_csv(check: ImportCheck, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(
            ["Regel", "Veld", "Ernst", "Code", "Waarde", "Melding", "Message", "Gevolg",
             "Consequence", "Rij in normalised bestand", "Originele rij"]
        )  # fmt: skip
        for row in check.rows:
            taken = "nee" if not row.ok or row.empty else "ja"
            original = " | ".join(f"{k}={v}" for k, v in row.raw.items() if v)
            for f in row.findings:
                writer.writerow(
                    [f.line, f.field, f.severity.value, f.code, f.value, f.message_nl,
                     f.message_en, f.consequence_nl, f.consequence_en, taken, original]
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


def render_html(check: ImportCheck) -> str:
    """The report as one self-contained HTML page (Dutch, with the English beside it)."""
    counts = {s: check.count(s) for s in Severity}
    taken = sum(1 for row in check.rows if row.ok and not row.empty)
    parts = [
        "<!DOCTYPE html><html lang='nl'><head><meta charset='utf-8'>",
        f"<title>Controle importbestand {_e(Path(check.source).name)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Controle importbestand <code>{_e(Path(check.source).name)}</code></h1>",
        "<p class='en'>Import file check</p><div class='summary'>",
        f"<div class='box'><b>{len(check.rows)}</b>regels / rows</div>",
        f"<div class='box'><b>{taken}</b>overgenomen / taken over</div>",
        f"<div class='box error'><b>{counts[Severity.ERROR]}</b>fouten / errors</div>",
        f"<div class='box warning'><b>{counts[Severity.WARNING]}</b>"
        "waarschuwingen / warnings</div>",
        f"<div class='box note'><b>{len(check.ubos)}</b>UBO's</div></div>",
        _mapping_html(check),
        _ubo_html(check),
        _findings_html(check),
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


def _ubo_html(check: ImportCheck) -> str:
    if not check.ubos:
        return ""
    rows = "".join(
        f"<tr><td>{row.line}</td><td>{_e(row.values.get('name', ''))}</td><td>{_e(p.name)}</td>"
        f"<td>{p.share}%</td>"
        f"<td>{_e(_missing_text(p) or 'compleet / complete')}</td></tr>"
        for row, p in check.ubos
    )
    return (
        "<h2>UBO's <span class='en'>(meer dan 25% / more than 25%)</span></h2><table><tr>"
        "<th>Regel</th><th>Organisatie</th><th>Persoon</th><th>Aandeel</th>"
        f"<th>Identificatie ontbreekt / missing</th></tr>{rows}</table>"
    )


def _missing_text(person: Shareholder) -> str:
    names = {field: f"{nl} / {en}" for field, (nl, en, _s) in PERSON_FIELDS.items()}
    return ", ".join(names[field] for field in person.missing_identification)


HTML_FINDINGS = 5000
"""The most findings the HTML page lists (errors first); the CSV report has them all."""


def _findings_html(check: ImportCheck) -> str:
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTE: 2}
    every = sorted(check.findings, key=lambda f: (order[f.severity], f.line))
    findings = every[:HTML_FINDINGS]
    more = (
        f"<p>En nog {len(every) - len(findings)} bevindingen: zie het CSV-rapport. "
        f"<span class='en'>And {len(every) - len(findings)} more findings: see the CSV "
        "report.</span></p>"
        if len(every) > len(findings)
        else ""
    )
    title = "<h2>Bevindingen <span class='en'>/ Findings</span></h2>"
    if not findings:
        return f"{title}<p>Geen. <span class='en'>None.</span></p>"
    names = {row.line: row.raw.get(check.mapping.get("name", ""), "") for row in check.rows}
    rows = "".join(
        f"<tr class='{f.severity.value}'><td>{f.line}</td><td>{_e(names.get(f.line, ''))}</td>"
        f"<td>{_e(f.field)}</td>"
        f"<td>{_e(f.severity.value)}</td><td>{_e(f.value)}</td>"
        f"<td>{_e(f.message_nl)}<br><span class='en'>{_e(f.message_en)}</span></td>"
        f"<td>{_e(f.consequence_nl)}<br><span class='en'>{_e(f.consequence_en)}</span></td></tr>"
        for f in findings
    )
    return (
        f"{title}<table><tr><th>Regel</th><th>Naam</th>"
        "<th>Veld</th><th>Ernst</th><th>Waarde</th><th>Wat / What</th>"
        f"<th>Gevolg / Consequence</th></tr>{rows}</table>{more}"
    )
