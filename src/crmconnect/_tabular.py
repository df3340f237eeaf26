"""Reading the tables people export from Excel: CSV of any Dutch Excel flavour, and XLSX.

CSV: UTF-8 with or without BOM, else Windows-1252 (what a Dutch Excel writes
as "CSV (gescheiden door lijstscheidingsteken)"); the delimiter is sniffed
(``;`` from a Dutch Excel, ``,``, tab or ``|``). XLSX: the first sheet, through
openpyxl (``pip install 'crmconnect[xlsx]'``); numbers become text the way
Excel shows them (``12.0`` → ``12``), so identifiers can be checked as text.
Empty rows are returned too (with their line number): the caller reports them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import attrs

from .errors import ConfigurationError, ValidationError

__all__ = ["Table", "decode", "read_table", "sniff_dialect"]


@attrs.frozen
class Table:
    """A table as read.

    Attributes:
        headers: The header row, as written.
        rows: ``(line number, values by header)``; the header is line 1.
    """

    headers: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str]], ...]


def decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped), else Windows-1252."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def sniff_dialect(text: str) -> type[csv.Dialect]:
    """The CSV dialect of a text: Excel's, with the delimiter its header row uses most.

    A header row names the columns, so the delimiter is the character among
    ``;`` (a Dutch Excel), ``,``, tab and ``|`` that it holds most often;
    `csv.Sniffer` guesses wrong on headers with spaces and percent signs.
    """
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    counts = {delimiter: header.count(delimiter) for delimiter in ";,\t|"}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        return csv.excel  # one column

    class Dialect(csv.excel):
        delimiter = best

    return Dialect


def read_table(path: str | Path) -> Table:
    """Read a CSV or XLSX file.

    Raises:
        ValidationError: The file is empty or has no header.
        ConfigurationError: An XLSX file, but openpyxl is not installed.
    """
    path = Path(path)
    if path.suffix.casefold() in (".xlsx", ".xlsm"):
        rows = list(_xlsx_rows(path))
    else:
        text = decode(path.read_bytes())
        rows = [list(row) for row in csv.reader(io.StringIO(text), dialect=sniff_dialect(text))]
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()  # trailing empty rows: what a spreadsheet leaves below the data
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ValidationError("file", str(path), "the file is empty or has no header row")
    headers = tuple(cell.strip() for cell in rows[0])
    body = tuple(
        (line, {header: (row[i] if i < len(row) else "") for i, header in enumerate(headers)})
        for line, row in enumerate(rows[1:], start=2)
    )
    return Table(headers, body)


def _xlsx_rows(path: Path) -> Iterator[list[str]]:
    try:
        import openpyxl
    except ImportError:
        raise ConfigurationError(
            "reading XLSX needs openpyxl: pip install 'crmconnect[xlsx]'"
        ) from None
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell_text(value) for value in row]
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # 12.0 is shown as 12; larger ones stay scientific (lost digits)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
