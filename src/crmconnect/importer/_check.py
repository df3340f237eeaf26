"""Checking a filled-in import template, row by row and field by field.

Every input row ends up somewhere: a row without errors goes to the
normalised file, a row with errors is listed in the report with its values,
an empty row is reported as skipped. Nothing is dropped silently.

The check streams: rows are read, checked and handed on one at a time, so a
file of a million rows needs no more memory than one of ten. What a pass
keeps is bounded: a cache of checked identifiers (each distinct value is
validated once), the relation numbers seen (on disk, in a temporary SQLite
database) and the first `SHOWN_FINDINGS` findings for the report.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path

import attrs

from .. import validation
from .._tabular import Table, open_table
from ..errors import ValidationError
from ._template import COLUMNS, CONSEQUENCES, MESSAGES, header_key, person_column

__all__ = [
    "PERIODS",
    "SHOWN_FINDINGS",
    "UBO_THRESHOLD",
    "CheckSummary",
    "CheckedRow",
    "Finding",
    "ImportCheck",
    "Severity",
    "Shareholder",
    "check_file",
    "check_table",
    "match_headers",
]

UBO_THRESHOLD = Decimal(25)
"""A UBO holds MORE than 25 % (Wwft); exactly 25 % is not."""

PERIODS: Mapping[str, Mapping[str, str]] = {
    "vat_period": {
        "month": "maand", "maand": "maand", "m": "maand", "monthly": "maand",
        "maandelijks": "maand", "quarter": "kwartaal", "kwartaal": "kwartaal",
        "k": "kwartaal", "q": "kwartaal", "quarterly": "kwartaal", "year": "jaar",
        "jaar": "jaar", "j": "jaar", "yearly": "jaar", "annual": "jaar", "jaarlijks": "jaar",
    },
    "payroll_period": {
        "month": "maand", "maand": "maand", "m": "maand", "monthly": "maand",
        "maandelijks": "maand", "4weken": "4 weken", "vierweken": "4 weken",
        "4weeks": "4 weken", "fourweeks": "4 weken", "4wk": "4 weken", "year": "jaar",
        "jaar": "jaar", "j": "jaar", "yearly": "jaar", "annual": "jaar",
    },
}  # fmt: skip
"""Accepted spellings of the return periods → the template's value.

Loonheffingen know ``4 weken`` (13 periods a year), btw does not.
"""

_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_LIST = re.compile(r"\s*[;,|\n]\s*")
_PERSON_LIST = re.compile(r"\s*[;|\n]\s*")  # not ",": a Dutch share is written 60,5%
_SHORT_PERSON = re.compile(r"^(?P<name>.*?)[\s:(]+(?P<share>\d+(?:[.,]\d+)?)\s*%?\)?$")


class Severity(StrEnum):
    """How bad a finding is."""

    ERROR = "error"
    """Invalid data: the row is not taken over."""
    WARNING = "warning"
    """Missing essential data: taken over, but something downstream will not work."""
    NOTE = "note"
    """Repaired or worth knowing (leading zeros restored, a UBO found)."""


@attrs.frozen
class Finding:
    """One thing found in one row.

    Attributes:
        line: The line in the file (the header is line 1).
        field: The column's key, e.g. ``"rsin_bsn"`` (``""`` for the whole row).
        severity: Error, warning or note.
        code: What kind of finding, e.g. ``"missing"`` (see `MESSAGES`).
        value: The value as read.
        message_nl: What is wrong, in Dutch.
        message_en: What is wrong, in English.
        consequence_nl: What it breaks, in Dutch (``""`` when nothing).
        consequence_en: What it breaks, in English.
    """

    line: int
    field: str
    severity: Severity
    code: str
    value: str
    message_nl: str
    message_en: str
    consequence_nl: str = ""
    consequence_en: str = ""


@attrs.frozen
class Shareholder:
    """A person with a share in the organisation.

    Attributes:
        number: The person group (1, 2, ...), or the position in the short column.
        name: The name.
        share: The share in percent, when given and readable.
        birth_date: Date of birth, as written.
        nationality: Nationality, as written.
        bsn: BSN, normalised when valid.
        is_ubo: More than 25 %.
    """

    number: int
    name: str
    share: Decimal | None
    birth_date: str = ""
    nationality: str = ""
    bsn: str = ""

    @property
    def is_ubo(self) -> bool:
        """More than 25 % (exactly 25 % is not)."""
        return self.share is not None and self.share > UBO_THRESHOLD

    @property
    def missing_identification(self) -> list[str]:
        """The identification data a UBO record needs that is missing."""
        wanted = {"birth_date": self.birth_date, "nationality": self.nationality}
        return [field for field, value in wanted.items() if not value]


@attrs.frozen
class CheckedRow:
    """One input row, checked.

    Attributes:
        line: The line in the file.
        raw: The row as read, by header.
        values: The normalised values by column key (only for readable rows).
        shareholders: The persons with their shares.
        findings: What was found.
    """

    line: int
    raw: dict[str, str]
    values: dict[str, str]
    shareholders: tuple[Shareholder, ...]
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """No errors: the row goes to the normalised file."""
        return not any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def empty(self) -> bool:
        """An empty row or the template's explanation row (reported as skipped)."""
        return any(f.code in ("empty_row", "explanation_row") for f in self.findings)


SHOWN_FINDINGS = 5000
"""The most findings (and UBOs) a `CheckSummary` keeps to show; its counts are exact."""

CACHE_SIZE = 65_536
"""Distinct identifiers a pass remembers the outcome of (least recently used go first)."""

_CACHED_LENGTH = 64
"""Longer values are checked, but not remembered (the caches stay small)."""

RowSource = Callable[[], Iterator[tuple[int, dict[str, str]]]]
"""Reads the rows afresh: ``(line number, values by header)``."""

_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTE: 2}


@attrs.frozen
class ImportCheck:
    """A file to check: its column mapping, and its rows, checked as they are read.

    Nothing is held in memory: `iter_rows`, `iter_findings` and `summarise`
    each read and check the file afresh (`crmconnect.importer.write_outputs`
    does it once for all outputs).

    Attributes:
        source: The file checked.
        mapping: Column key → the header it was read from (the mapping shown to the user).
        persons_mapping: ``"Persoon N field"`` → header.
        ignored: Headers no column matched.
        read_rows: Reads the rows afresh.
    """

    source: str
    mapping: dict[str, str]
    persons_mapping: dict[str, str]
    ignored: tuple[str, ...]
    read_rows: RowSource = attrs.field(repr=False)

    def iter_rows(self, *, progress: Callable[[int], None] | None = None) -> Iterator[CheckedRow]:
        """Every input row, checked, in file order.

        Args:
            progress: Called with the number of rows done, every 1,000 rows and at the end.

        Raises:
            ValidationError: The file cannot be read past some row.
        """
        checker = _RowChecker(self.mapping, self.persons_mapping)
        done = 0
        try:
            for done, (line, raw) in enumerate(self.read_rows(), start=1):
                yield checker.check(line, raw)
                if progress is not None and done % 1000 == 0:
                    progress(done)
        finally:
            checker.close()
        if progress is not None:
            progress(done)

    def iter_findings(self) -> Iterator[Finding]:
        """Every finding, in file order."""
        for row in self.iter_rows():
            yield from row.findings

    def summarise(self, *, progress: Callable[[int], None] | None = None) -> CheckSummary:
        """Check every row and count (one pass; `write_outputs` returns the same summary)."""
        tally = Tally(self.source)
        for row in self.iter_rows(progress=progress):
            tally.add(row, self.mapping.get("name", ""))
        return tally.summary()


@attrs.frozen
class CheckSummary:
    """What one pass over a file found: exact counts, and the first findings to show.

    Attributes:
        source: The file checked.
        rows: Input rows (empty ones included).
        taken: Rows without errors (they go to the normalised file).
        counts: Findings per severity.
        kinds: Findings per ``"severity:code"``, e.g. ``"error:invalid"``.
        ubo_count: Persons with more than 25 %.
        findings: The first `SHOWN_FINDINGS` findings, errors first, then
            warnings, then notes, each in file order.
        names: The organisation name of each line in `findings`.
        ubos: The first `SHOWN_FINDINGS` UBOs: ``(line, organisation name, person)``.
    """

    source: str
    rows: int
    taken: int
    counts: Mapping[Severity, int]
    kinds: Mapping[str, int]
    ubo_count: int
    findings: tuple[Finding, ...]
    names: Mapping[int, str]
    ubos: tuple[tuple[int, str, Shareholder], ...]

    def count(self, severity: Severity) -> int:
        """How many findings of one severity."""
        return self.counts.get(severity, 0)

    @property
    def total(self) -> int:
        """How many findings in all."""
        return sum(self.counts.values())

    @property
    def has_errors(self) -> bool:
        """Whether any row has an error (the command then exits non-zero)."""
        return self.count(Severity.ERROR) > 0


class Tally:
    """Counts checked rows as they pass, keeping a bounded selection to show."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.rows = self.taken = self.ubo_count = 0
        self.kinds: Counter[tuple[Severity, str]] = Counter()
        self.shown: dict[Severity, list[Finding]] = {s: [] for s in Severity}
        self.names: dict[int, str] = {}
        self.ubos: list[tuple[int, str, Shareholder]] = []

    def add(self, row: CheckedRow, name_header: str) -> None:
        """Count one checked row."""
        self.rows += 1
        self.taken += row.ok and not row.empty
        name = row.raw.get(name_header, "")
        for finding in row.findings:
            self.kinds[finding.severity, finding.code] += 1
            shown = self.shown[finding.severity]
            if len(shown) < SHOWN_FINDINGS:
                shown.append(finding)
                self.names[finding.line] = name
        for person in row.shareholders:
            if person.is_ubo:
                self.ubo_count += 1
                if len(self.ubos) < SHOWN_FINDINGS:
                    self.ubos.append((row.line, row.values.get("name", ""), person))

    def summary(self) -> CheckSummary:
        """The counts so far."""
        counts: Counter[Severity] = Counter()
        for (severity, _code), n in self.kinds.items():
            counts[severity] += n
        ordered = sorted(self.shown, key=_ORDER.__getitem__)
        findings = tuple(f for s in ordered for f in self.shown[s])[:SHOWN_FINDINGS]
        lines = {f.line for f in findings}
        return CheckSummary(
            self.source, self.rows, self.taken, dict(counts),
            {f"{severity.value}:{code}": n for (severity, code), n in self.kinds.items()},
            self.ubo_count, findings,
            {line: name for line, name in self.names.items() if line in lines},
            tuple(self.ubos),
        )  # fmt: skip


def check_file(path: str | Path) -> ImportCheck:
    """Open an import file (CSV in any Dutch Excel flavour, or XLSX) and match its headers.

    The rows are read and checked when asked for (`ImportCheck.iter_rows`,
    `ImportCheck.summarise`, `crmconnect.importer.write_outputs`).

    Args:
        path: The file.

    Raises:
        ValidationError: The file cannot be read as a table, or has no name column.
        ConfigurationError: An XLSX file, but openpyxl is not installed.
    """
    table = open_table(path)
    return _import_check(table.headers, table.rows, str(path))


def check_table(table: Table, *, source: str = "") -> ImportCheck:
    """Check a table already in memory (see `check_file`).

    Raises:
        ValidationError: The table has no name column.
    """
    return _import_check(table.headers, lambda: iter(table.rows), source)


def _import_check(headers: Iterable[str], rows: RowSource, source: str) -> ImportCheck:
    headers = list(headers)
    mapping, persons, ignored = match_headers(headers)
    if "name" not in mapping:
        raise ValidationError("columns", headers, "no name column (Naam / Name)")
    return ImportCheck(source, mapping, persons, tuple(ignored), rows)


def match_headers(
    headers: Iterable[str],
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Match headers loosely: (column key → header, person field → header, unmatched)."""
    mapping: dict[str, str] = {}
    persons: dict[str, str] = {}
    ignored = []
    by_spelling = {spelling: column.key for column in COLUMNS for spelling in column.spellings}
    for header in headers:
        key = by_spelling.get(header_key(header))
        person = person_column(header)
        if key is not None and key not in mapping:
            mapping[key] = header
        elif person is not None and f"{person[0]}:{person[1]}" not in persons:
            persons[f"{person[0]}:{person[1]}"] = header
        elif header.strip():
            ignored.append(header)
    return mapping, persons, ignored


_COLUMN = {column.key: column for column in COLUMNS}
_EXPLANATIONS = {header_key(c.explanation_nl) for c in COLUMNS if c.explanation_nl}


class _FirstLines:
    """The line each relation number was first seen on.

    Kept in a temporary SQLite database on disk: a file of a million rows has
    a million numbers, which in a dict would grow memory with the file.
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect("")  # "": a private temporary file, deleted on close
        self._db.execute("CREATE TABLE seen (number TEXT PRIMARY KEY, line INTEGER) WITHOUT ROWID")

    def first(self, number: str, line: int) -> int:
        """The line `number` was first seen on (`line` itself the first time)."""
        added = self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (number, line))
        if added.rowcount:
            return line
        row = self._db.execute("SELECT line FROM seen WHERE number = ?", (number,)).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Drop the database."""
        self._db.close()


def _check_value(key: str, value: str) -> tuple[str, str]:
    """``(normalised, "")`` or ``("", reason)``: the outcome of a field's check."""
    try:
        return _VALUE_CHECKS[key](value, key), ""
    except ValidationError as error:
        return "", error.reason


class _RowChecker:
    """Checks rows one by one; remembers relation numbers to find duplicates.

    Each distinct identifier is validated once per pass (`CACHE_SIZE`
    outcomes are remembered): stdnum and schwifty are the slow part.
    """

    def __init__(self, mapping: Mapping[str, str], persons: Mapping[str, str]) -> None:
        self.mapping = mapping
        self.person_slots = [
            (int(slot.split(":")[0]), slot.split(":")[1], header)
            for slot, header in persons.items()
        ]
        self.first_lines = _FirstLines()
        self.checked = functools.lru_cache(maxsize=CACHE_SIZE)(_check_value)

    def close(self) -> None:
        """Drop what the pass kept."""
        self.first_lines.close()

    def _check_value(self, key: str, value: str) -> tuple[str, str]:
        # Identifiers are short; a long value is checked but not remembered.
        return (self.checked if len(value) <= _CACHED_LENGTH else _check_value)(key, value)

    def check(self, line: int, raw: dict[str, str]) -> CheckedRow:
        values = {key: (raw.get(header) or "").strip() for key, header in self.mapping.items()}
        if not any(v.strip() for v in raw.values()):
            return CheckedRow(
                line, raw, {}, (), (self._finding(line, "", "empty_row", "", Severity.NOTE),)
            )
        if line <= 3 and self._is_explanation(values):  # it sits right below the header
            note = self._finding(line, "", "explanation_row", "", Severity.NOTE)
            return CheckedRow(line, raw, {}, (), (note,))
        found: list[Finding] = []
        if not values.get("name"):
            found.append(self._finding(line, "name", "no_name", "", Severity.ERROR, "invalid"))
        normalised = dict(values)
        for key in _FIELD_CHECKS:
            value = values.get(key, "")
            if not value:
                continue
            if _SCIENTIFIC.match(value) and key != "products":
                found.append(
                    self._finding(line, key, "scientific", value, Severity.ERROR, "invalid")
                )
                continue
            fixed, reason = self._check_value(key, value)
            if reason:
                found.append(self._invalid(line, key, value, reason))
                continue
            if _padded(key, value, fixed):
                found.append(self._finding(line, key, "padded", value, Severity.NOTE, fixed=fixed))
            normalised[key] = fixed
        found += self._gaps(line, values)
        found += self._duplicate(line, normalised.get("relation_number", ""))
        found += self._cross_checks(line, normalised, found)
        people, person_findings = self._shareholders(line, raw, values.get("persons", ""))
        return CheckedRow(line, raw, normalised, tuple(people), tuple(found + person_findings))

    @staticmethod
    def _is_explanation(values: Mapping[str, str]) -> bool:
        # The template's own explanation row, left in by whoever filled it in.
        texts = [header_key(v.split(" / ")[0]) for v in values.values() if v]
        return bool(texts) and sum(t in _EXPLANATIONS for t in texts) * 2 > len(texts)

    def _gaps(self, line: int, values: Mapping[str, str]) -> list[Finding]:
        found = []
        reported: set[str] = set()
        for column in COLUMNS:
            consequence = column.essential
            if consequence is None or values.get(column.key) or consequence in reported:
                continue
            reported.add(consequence)
            found.append(
                self._finding(line, column.key, "missing", "", Severity.WARNING, consequence)
            )
        relation, contact = values.get("relation_number"), values.get("contact_number")
        if relation and relation == contact:
            found.append(
                self._finding(
                    line, "contact_number", "contact_is_relation", contact, Severity.WARNING,
                    "contact_sync",
                )
            )  # fmt: skip
        if values.get("payroll_number") and not values.get("payroll_period"):
            found.append(
                self._finding(
                    line, "payroll_period", "missing", "", Severity.WARNING, "payroll_workflow"
                )
            )
        return found

    def _duplicate(self, line: int, number: str) -> list[Finding]:
        if not number:
            return []
        first = self.first_lines.first(number, line)
        if first == line:
            return []
        return [
            self._finding(
                line, "relation_number", "duplicate", number, Severity.ERROR, "pairing", other=first
            )
        ]

    def _cross_checks(
        self, line: int, values: Mapping[str, str], found: list[Finding]
    ) -> list[Finding]:
        failed = {f.field for f in found if f.severity is Severity.ERROR}
        fiscal, payroll = values.get("rsin_bsn", ""), values.get("payroll_number", "")
        if (
            fiscal
            and payroll
            and not {"rsin_bsn", "payroll_number"} & failed
            and payroll[:9] != fiscal
        ):
            return [
                self._finding(
                    line,
                    "payroll_number",
                    "payroll_not_rsin",
                    fiscal,
                    Severity.WARNING,
                    "payroll_link",
                )
            ]
        return []

    def _shareholders(
        self, line: int, raw: Mapping[str, str], short: str
    ) -> tuple[list[Shareholder], list[Finding]]:
        groups: dict[int, dict[str, str]] = {}
        for group, field, header in self.person_slots:
            text = (raw.get(header) or "").strip()
            if text:
                groups.setdefault(group, {})[field] = text
        if short:
            for position, part in enumerate(p for p in _PERSON_LIST.split(short) if p.strip()):
                found = _SHORT_PERSON.match(part.strip())
                name, share = (
                    (found["name"].strip(), found["share"]) if found else (part.strip(), "")
                )
                groups.setdefault(100 + position, {"name": name, "share": share})
        people, findings = [], []
        for number in sorted(groups):
            person, problems = self._person(line, number, groups[number])
            people.append(person)
            findings += problems
        total = sum((p.share for p in people if p.share is not None), Decimal(0))
        if total > 100:
            findings.append(
                self._finding(
                    line,
                    "persons",
                    "shares_over_100",
                    str(total),
                    Severity.ERROR,
                    "invalid",
                    total=total,
                )
            )
        return people, findings

    def _person(
        self, line: int, number: int, fields: Mapping[str, str]
    ) -> tuple[Shareholder, list[Finding]]:
        name = fields.get("name", "") or f"#{number}"
        findings = []
        share = None
        if fields.get("share"):
            try:
                share = Decimal(fields["share"].rstrip("% ").replace(",", "."))
                if not 0 <= share <= 100:
                    raise InvalidOperation
            except InvalidOperation:
                share = None
                findings.append(
                    self._finding(
                        line,
                        "persons",
                        "share",
                        fields["share"],
                        Severity.ERROR,
                        "invalid",
                        person=name,
                    )
                )
        bsn = fields.get("bsn", "")
        if bsn:
            fixed, reason = self._check_value("persons.bsn", bsn)
            if reason:
                findings.append(self._invalid(line, "persons", bsn, reason))
            bsn = fixed or bsn
        person = Shareholder(
            number, name, share, fields.get("birth_date", ""), fields.get("nationality", ""), bsn
        )
        if person.is_ubo:
            missing = person.missing_identification
            if missing:
                findings.append(self._missing_id(line, person, missing))
        return person, findings

    def _missing_id(self, line: int, person: Shareholder, missing: list[str]) -> Finding:
        names = {
            "birth_date": ("geboortedatum", "date of birth"),
            "nationality": ("nationaliteit", "nationality"),
        }
        dutch = ", ".join(names[m][0] for m in missing)
        english = ", ".join(names[m][1] for m in missing)
        return self._finding(
            line, "persons", "ubo_missing_id", person.name, Severity.WARNING, "ubo",
            person=person.name, share=person.share, missing=(dutch, english),
        )  # fmt: skip

    def _invalid(self, line: int, key: str, value: str, reason: str) -> Finding:
        return self._finding(line, key, "invalid", value, Severity.ERROR, "invalid", reason=reason)

    @staticmethod
    def _finding(
        line: int,
        field: str,
        code: str,
        value: str,
        severity: Severity,
        consequence: str | None = None,
        **details: object,
    ) -> Finding:
        texts = (_texts if len(value) <= _CACHED_LENGTH else _texts.__wrapped__)(
            field, code, value, consequence, tuple(details.items())
        )
        return Finding(line, field, severity, code, value, *texts)


@functools.lru_cache(maxsize=4096)  # most findings repeat: "RSIN/BSN ontbreekt."
def _texts(
    field: str,
    code: str,
    value: str,
    consequence: str | None,
    details: tuple[tuple[str, object], ...],
) -> tuple[str, str, str, str]:
    """A finding's message and consequence, in Dutch and English."""
    column = _COLUMN.get(field.split(".")[0])
    nl_text, en_text = MESSAGES[code]
    nl_values: dict[str, object] = {"column": column.header if column else field, "value": value}
    en_values: dict[str, object] = {"column": column.english if column else field, "value": value}
    for name, detail in details:
        pair = detail if isinstance(detail, tuple) else (detail, detail)
        nl_values[name], en_values[name] = pair
    nl_con, en_con = CONSEQUENCES.get(consequence or "", ("", ""))
    return nl_text.format(**nl_values), en_text.format(**en_values), nl_con, en_con


def _period(kind: str) -> Callable[[str, str], str]:
    def check(value: str, field: str) -> str:
        found = PERIODS[kind].get(header_key(value))
        if found is None:
            choices = sorted(set(PERIODS[kind].values()))
            raise ValidationError(field, value, "choose " + ", ".join(choices))
        return found

    return check


def _ibans(value: str, field: str) -> str:
    return "; ".join(validation.iban(part, field=field) for part in _LIST.split(value) if part)


def _products(value: str, field: str) -> str:
    return "; ".join(part for part in _LIST.split(value) if part)


def _kvk_number(value: str, field: str) -> str:
    # A spreadsheet drops a leading zero: 7 digits get it back (a note). Fewer
    # digits are a typo, not a lost zero: padding 123 to 00000123 would make
    # one up (the same rule as an RSIN that lost two zeros).
    digits = sum(char.isdigit() for char in value)
    if 0 < digits < 7 and not any(char.isalpha() for char in value):
        raise ValidationError(
            field, value, f"has {digits} digits, a KvK number has 8 (too short to restore)"
        )
    return validation.kvk_number(value, pad=True, field=field)


def _padded(key: str, value: str, fixed: str) -> bool:
    if key not in ("kvk_number", "rsin_bsn", "branch_number") or value == fixed:
        return False
    digits = sum(char.isdigit() for char in value)
    return 0 < digits < len(fixed)


_FIELD_CHECKS: dict[str, Callable[[str, str], str]] = {
    "kvk_number": lambda v, f: _kvk_number(v, f),
    "branch_number": lambda v, f: validation.branch_number(v, field=f),
    "rsin_bsn": lambda v, f: validation.rsin(v, field=f),
    "vat_number": lambda v, f: validation.vat_number(v, field=f),
    "payroll_number": lambda v, f: validation.loonheffingennummer(v, field=f),
    "ibans": _ibans,
    "vat_period": _period("vat_period"),
    "payroll_period": _period("payroll_period"),
    "products": _products,
    "postcode": lambda v, f: validation.format_postcode(v, field=f),
}
"""Column key → its check: returns the normalised value or raises `ValidationError`."""

_VALUE_CHECKS: dict[str, Callable[[str, str], str]] = {
    **_FIELD_CHECKS,
    "persons.bsn": lambda v, f: validation.bsn(v, field=f),
}
