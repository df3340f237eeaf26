"""Reading the tables people export from Excel, and writing tables they open in Excel.

Reading: CSV of any Dutch Excel flavour, and XLSX, streamed row by row (a
file of a million rows takes no more memory than one of ten). CSV: UTF-8 with
or without BOM, UTF-16 with its BOM (Excel's "Unicode text"), else
Windows-1252 (what a Dutch Excel writes as "CSV (gescheiden door
lijstscheidingsteken)"); the delimiter is sniffed (``;``
from a Dutch Excel, ``,``, tab or ``|``). XLSX: the first sheet, through
openpyxl (``pip install 'crmconnect[xlsx]'``); numbers become text the way
Excel shows them (``12.0`` → ``12``), so identifiers can be checked as text.
Empty rows are returned too (with their line number): the caller reports them.
A file that cannot be read (damaged, not a table, a directory, too large a
field) raises `ValidationError` naming the file; never a bare parser error.

Writing: `safe_cell` neutralises spreadsheet formulas (OWASP's CSV injection
rules) in every cell the library writes to a CSV or XLSX file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

import attrs

from .errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from openpyxl import Workbook

__all__ = [
    "EXCEL_MAX_ROWS",
    "MAX_LINE_CHARS",
    "MAX_SHARED_STRINGS_BYTES",
    "Table",
    "TableFile",
    "open_table",
    "safe_cell",
    "safe_row",
    "sniff_dialect",
]

MAX_LINE_CHARS = 1 << 20
"""The longest physical CSV line read (a field is further bounded by `csv.field_size_limit`)."""

EXCEL_MAX_ROWS = 1_048_576
"""Excel's last row: an XLSX file claiming rows beyond it is refused (it would never end)."""

MAX_SHARED_STRINGS_BYTES = 256 << 20
"""The largest string table of an XLSX file read (openpyxl holds it in memory: a zip bomb)."""

_ERRORS = "crmconnect-windows-1252"


def _undefined_as_c1(error: UnicodeError) -> tuple[str, int]:
    # Python's cp1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined; Windows and the
    # WHATWG encoding standard (every browser) map them to the C1 controls of the same
    # number. Those are then refused or removed as control characters by the checks,
    # instead of failing the whole file.
    if not isinstance(error, UnicodeDecodeError):  # pragma: no cover - only used to decode
        raise error
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error(_ERRORS, _undefined_as_c1)


@attrs.frozen
class Table:
    """A table already in memory.

    Attributes:
        headers: The header row, as written.
        rows: ``(line number, values by header)``; the header is line 1.
    """

    headers: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str]], ...]


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


@attrs.frozen
class TableFile:
    """A CSV or XLSX file whose header has been read; `rows` streams the rest.

    Attributes:
        path: The file.
        headers: The header row, as written (stripped).
    """

    path: Path
    headers: tuple[str, ...]

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        """``(line number, values by header)`` for each row below the header, read afresh.

        Empty rows are returned (the caller reports them), except those at the
        end of the file: what a spreadsheet leaves below the data.

        Raises:
            ValidationError: The file cannot be read past some row.
        """
        records = _records(self.path)
        empty = dict.fromkeys(self.headers, "")
        try:
            next(records, None)  # the header
            gap = 0  # empty rows just read: returned once a row with data follows
            for line, row in enumerate(records, start=2):
                if not any(cell.strip() for cell in row):
                    gap += 1
                    continue
                for skipped in range(line - gap, line):
                    yield skipped, dict(empty)
                gap = 0
                yield line, self._by_header(row)
        finally:
            records.close()

    def _by_header(self, row: list[str]) -> dict[str, str]:
        return {header: (row[i] if i < len(row) else "") for i, header in enumerate(self.headers)}


def open_table(path: str | Path) -> TableFile:
    """Open a CSV or XLSX file and read its header row.

    Raises:
        ValidationError: The file is missing, a directory, empty, has no header
            row or cannot be read as a table (the message names the file).
        ConfigurationError: An XLSX file, but openpyxl is not installed.
    """
    path = Path(path)
    records = _records(path)
    try:
        header = next(records, None)
    finally:
        records.close()
    if header is None or not any(cell.strip() for cell in header):
        raise ValidationError("file", str(path), "the file is empty or has no header row")
    return TableFile(path, tuple(cell.strip() for cell in header))


def _records(path: Path) -> Generator[list[str], None, None]:
    """Every row of the file as text cells, with every reading error made a `ValidationError`."""
    reader = _xlsx_rows if path.suffix.casefold() in (".xlsx", ".xlsm") else _csv_rows
    return _guarded(path, reader(path))


class _Refused(Exception):
    """A limit of ours was hit while reading (turned into a `ValidationError`)."""


_DAMAGED: tuple[type[Exception], ...] = (
    # What a damaged or hostile file makes the parsers raise: csv, zipfile, zlib,
    # openpyxl (KeyError for a missing part, ValueError/TypeError for bad values,
    # InvalidFileException), lxml and ElementTree (both SyntaxError), defusedxml
    # (ValueError). None of them says anything the user can act on but "damaged".
    csv.Error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    AttributeError,
    SyntaxError,
    OverflowError,
    RecursionError,
    _Refused,
)


def _guarded(
    path: Path, records: Generator[list[str], None, None]
) -> Generator[list[str], None, None]:
    # Errors are converted inside the except blocks and raised after them, so
    # the parser's exception is not kept as context (it can be large).
    line = 0
    error: ValidationError | None = None
    try:
        for line, row in enumerate(records, start=1):  # noqa: B007 - read after the loop
            yield row
    except ConfigurationError:
        raise
    except ValidationError as exc:
        error = exc
    except OSError as exc:
        error = _unreadable(path, exc.strerror or type(exc).__name__)
    except _DAMAGED as exc:
        kind = "an XLSX workbook" if path.suffix.casefold() in (".xlsx", ".xlsm") else "a table"
        reason = f"row {line + 1}: {exc}" if isinstance(exc, csv.Error | _Refused) else ""
        error = _unreadable(path, reason or f"not {kind}, or damaged ({type(exc).__name__})")
    finally:
        records.close()
    if error is not None:
        raise error


def _unreadable(path: Path, reason: str) -> ValidationError:
    return ValidationError("file", str(path), f"cannot be read: {reason}")


def _csv_rows(path: Path) -> Generator[list[str], None, None]:
    encoding = _encoding(path)
    with path.open(encoding=encoding, errors=_ERRORS, newline="") as handle:
        first = handle.readline(MAX_LINE_CHARS)
        yield from csv.reader(_bounded_lines(handle, first), dialect=sniff_dialect(first))


def _encoding(path: Path) -> str:
    """The encoding of a CSV file (UTF-16 by its BOM, UTF-8, else Windows-1252).

    UTF-16 is Excel's "Unicode text"; UTF-8 is taken when the whole file
    decodes as UTF-8 (read in chunks).
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        if handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return "utf-16"  # the BOM tells the byte order; Python's codec reads it
        handle.seek(0)
        try:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


def _bounded_lines(handle: TextIO, first: str) -> Iterator[str]:
    read = handle.readline
    line = first
    while line:
        if len(line) >= MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            raise _Refused(f"a line is longer than {MAX_LINE_CHARS} characters")
        yield line
        line = read(MAX_LINE_CHARS)


def _xlsx_rows(path: Path) -> Generator[list[str], None, None]:
    try:
        import openpyxl
    except ImportError:
        raise ConfigurationError(
            "reading XLSX needs openpyxl: pip install 'crmconnect[xlsx]'"
        ) from None
    # Opened here, not by openpyxl: it leaves its archive open when a workbook is damaged.
    with path.open("rb") as handle:
        _refuse_zip_bomb(handle)
        handle.seek(0)
        yield from _sheet_rows(openpyxl.load_workbook(handle, read_only=True, data_only=True))


def _sheet_rows(book: Workbook) -> Generator[list[str], None, None]:
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # a declared size can be wrong, or absurd
        header = list(next(sheet.iter_rows(max_row=1, values_only=True), ()))
        while header and header[-1] in (None, ""):
            header.pop()
        yield [_cell_text(value) for value in header]
        if not header:
            return
        rows = sheet.iter_rows(min_row=2, max_col=len(header), values_only=True)
        for line, row in enumerate(rows, start=2):
            if line > EXCEL_MAX_ROWS:
                raise _Refused(f"more rows than Excel has ({EXCEL_MAX_ROWS:,})")
            yield [_cell_text(value) for value in row]
    finally:
        book.close()


def _refuse_zip_bomb(handle: BinaryIO) -> None:
    with zipfile.ZipFile(handle) as archive:
        for info in archive.infolist():
            if info.filename.endswith("sharedStrings.xml") and (
                info.file_size > MAX_SHARED_STRINGS_BYTES
            ):
                raise _Refused(
                    f"its text table unpacks to {info.file_size:,} bytes "
                    f"(at most {MAX_SHARED_STRINGS_BYTES:,})"
                )


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


# --------------------------------------------------------------------------
# Writing

_FORMULA_START = frozenset("=+-@")
_UNSAFE_FIRST = frozenset("\t\r\n")
_PLAIN_FIRST = frozenset(map(chr, range(0x21, 0x7F))) - _FORMULA_START  # no more to check
_AMOUNT = re.compile(r"[+-]?\d[\d .,]*%?", re.ASCII)  # -12,50  -1.234,56  +5%
_PHONE = re.compile(r"\+\d[\d ()-]*", re.ASCII)  # +31 20 123 4567  +31 (0)20-1234567


def safe_cell(value: object) -> str:
    """A cell's text, made safe to open in a spreadsheet (OWASP's CSV injection rules).

    Spreadsheets run a cell starting with ``=``, ``+``, ``-`` or ``@`` as a
    formula (``=cmd|' /C calc'!A0``, ``=HYPERLINK(...)``), also behind leading
    spaces, a tab or CR, and in the full-width and other compatibility forms
    (``＝``, ``﹢``) some of them fold to the ASCII sign. Such a cell gets a
    leading ``'``, which Excel and LibreOffice show as text. Numbers stay as
    they are: negative amounts (``-12,50``) and phone numbers (``+31 20 123
    4567``) hold no formula, only digits.

    Args:
        value: Any value; ``None`` is written as an empty cell.

    Returns:
        The text to write.

    Example:
        >>> safe_cell("=1+1"), safe_cell(" =1+1"), safe_cell("-12,50")
        ("'=1+1", "' =1+1", '-12,50')
    """
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if not text or text[0] in _PLAIN_FIRST:
        return text
    if text[0] in _UNSAFE_FIRST:
        return "'" + text
    start = text.lstrip()
    if not start:
        return text
    folded = unicodedata.normalize("NFKC", start)
    if folded[:1] not in _FORMULA_START:
        return text
    if _AMOUNT.fullmatch(folded) or _PHONE.fullmatch(folded):
        return text
    return "'" + text


def safe_row(values: Iterable[object]) -> list[str]:
    """`safe_cell` applied to every cell of a row."""
    plain = _PLAIN_FIRST  # most cells start with a letter or digit: no call needed
    return [
        value if type(value) is str and value[:1] in plain else safe_cell(value) for value in values
    ]
