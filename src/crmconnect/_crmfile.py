"""Reading CRM exports (CSV or XLSX) into `Organisation` records, and writing results.

Headers are matched loosely: case, spaces, punctuation, Dutch or English
("KvK-nummer", "kvk_number", "Plaats", "city"). A row that cannot be read is
kept with its error, never dropped; a KvK number that is not 8 digits makes
its row invalid (``pad_kvk=True`` restores leading zeros a spreadsheet dropped).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pydantic

from . import validation
from ._tabular import open_table, safe_row
from .errors import ValidationError
from .models import Address, Organisation

__all__ = ["COLUMNS", "CrmRow", "read_organisations", "write_rows"]

COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "relatienummer", "relationnumber", "relatiecode", "code", "crmid"),
    "name": ("name", "naam", "bedrijfsnaam", "companyname", "organisation", "organisatie"),
    "kvk_number": ("kvknumber", "kvknummer", "kvk", "cocnumber", "chamberofcommerce"),
    "branch_number": ("branchnumber", "vestigingsnummer", "vestiging", "branch"),
    "street": ("street", "straat", "straatnaam", "adres"),
    "house_number": ("housenumber", "huisnummer", "nr", "number"),
    "postcode": ("postcode", "postalcode", "zip", "zipcode"),
    "city": ("city", "plaats", "woonplaats", "vestigingsplaats", "town"),
    "legal_form": ("legalform", "rechtsvorm"),
    "rsin": ("rsin",),
    "employees_total": ("employees", "employeestotal", "werkzamepersonen", "medewerkers"),
    "website": ("website", "websites", "url"),
}
"""Canonical column → accepted header spellings (lower case, letters and digits only)."""


@attrs.frozen
class CrmRow:
    """One row of a CRM export.

    Attributes:
        line: The line number in the file (the header is line 1).
        raw: The row as read.
        values: The row's values under the canonical column names.
        organisation: The record, or ``None`` when the row could not be read.
        error: Why the row could not be read.
    """

    line: int
    raw: dict[str, str]
    values: dict[str, str]
    organisation: Organisation | None
    error: str | None = None


def _key(header: str) -> str:
    return re.sub(r"[^0-9a-z]", "", header.casefold())


def _mapping(headers: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in headers:
        for column, spellings in COLUMNS.items():
            if _key(header) in spellings and column not in found:
                found[column] = header
    return found


def read_organisations(
    path: str | Path, *, pad_kvk: bool = False
) -> tuple[dict[str, str], list[CrmRow]]:
    """Read a CRM export.

    Args:
        path: A CSV file (delimiter sniffed; UTF-8 with or without BOM, else
            Windows-1252) or an XLSX workbook (the first sheet).
        pad_kvk: Restore leading zeros of a KvK number of 1 to 7 digits (a
            spreadsheet drops them). Off by default: ``123`` is then a typo,
            reported as invalid, not the KvK number ``00000123``.

    Returns:
        The column mapping (canonical → header) and one `CrmRow` per non-empty data row.

    Raises:
        ValidationError: The file cannot be read as a table, or has no name column.
        ConfigurationError: An XLSX file, but openpyxl is not installed.
    """
    table = open_table(path)
    mapping = _mapping(table.headers)
    if "name" not in mapping:
        raise ValidationError("columns", list(table.headers), "a name column is required")
    rows = [
        _row(line, raw, mapping, pad_kvk=pad_kvk)
        for line, raw in table.rows()
        if any(value.strip() for value in raw.values())
    ]
    return mapping, rows


def _row(line: int, raw: dict[str, str], mapping: dict[str, str], *, pad_kvk: bool) -> CrmRow:
    values = {column: (raw.get(header) or "").strip() for column, header in mapping.items()}
    try:
        return CrmRow(line, raw, values, _organisation(values, pad_kvk=pad_kvk))
    except (ValidationError, pydantic.ValidationError) as exc:
        return CrmRow(line, raw, values, None, " ".join(str(exc).split()))


def _organisation(values: dict[str, str], *, pad_kvk: bool) -> Organisation:
    if not values.get("name"):
        raise ValidationError("name", values.get("name", ""), "the name is empty")
    address = _address(values)
    employees = values.get("employees_total")
    kvk = values.get("kvk_number")
    return Organisation(
        id=values.get("id") or None,
        name=values["name"],
        kvk_number=_kvk(kvk, pad=pad_kvk) if kvk else None,
        branch_number=values.get("branch_number") or None,
        legal_form=values.get("legal_form") or None,
        rsin=values.get("rsin") or None,
        employees_total=int(employees) if employees and employees.isdigit() else None,
        websites=[values["website"]] if values.get("website") else [],
        addresses=[address] if address else [],
    )


def _kvk(value: str, *, pad: bool) -> str:
    try:
        return validation.kvk_number(value, pad=pad)
    except ValidationError as exc:
        reason = exc.reason.split(" (pass pad=True")[0]
    if not pad and value.strip().isdigit() and len(value.strip()) < 8:
        reason += " (leading zeros a spreadsheet dropped are restored only on request: --pad-kvk)"
    raise ValidationError("kvk_number", value, reason)


def _address(values: dict[str, str]) -> Address | None:
    if not any(values.get(k) for k in ("street", "house_number", "postcode", "city")):
        return None
    number = letter = addition = None
    if values.get("house_number"):
        parsed = validation.split_house_number(values["house_number"])
        number, letter, addition = parsed.number, parsed.letter, parsed.addition
    return Address(
        street=values.get("street") or None,
        house_number=number,
        house_letter=letter,
        house_number_addition=addition,
        postcode=values.get("postcode") or None,
        city=values.get("city") or None,
    )


def write_rows(path: str | Path, header: Sequence[str], rows: Iterable[dict[str, Any]]) -> int:
    """Write dictionaries as a UTF-8 CSV file (comma-separated); returns the row count.

    Every cell goes through `crmconnect._tabular.safe_cell`: no value from a
    CRM export or the register runs as a formula when the file is opened.
    """
    count = 0
    columns = list(header)
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(safe_row(columns))
        for row in rows:
            writer.writerow(safe_row(row.get(column, "") for column in columns))
            count += 1
    return count
