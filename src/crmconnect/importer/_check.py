"""Checking a filled-in import template, row by row and field by field.

Every input row ends up somewhere: a row without errors goes to the
normalised file, a row with errors is listed in the report with its values,
an empty row is reported as skipped. Nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path

import attrs

from .. import validation
from .._tabular import Table, read_table
from ..errors import ValidationError
from ._template import COLUMNS, CONSEQUENCES, MESSAGES, header_key, person_column

__all__ = [
    "PERIODS",
    "UBO_THRESHOLD",
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


@attrs.frozen
class ImportCheck:
    """The outcome of checking one file.

    Attributes:
        source: The file checked.
        mapping: Column key → the header it was read from (the mapping shown to the user).
        persons_mapping: ``"Persoon N field"`` → header.
        ignored: Headers no column matched.
        rows: Every input row, checked, in file order.
    """

    source: str
    mapping: dict[str, str]
    persons_mapping: dict[str, str]
    ignored: tuple[str, ...]
    rows: tuple[CheckedRow, ...]

    @property
    def findings(self) -> list[Finding]:
        """Every finding, in file order."""
        return [f for row in self.rows for f in row.findings]

    def count(self, severity: Severity) -> int:
        """How many findings of one severity."""
        return sum(1 for f in self.findings if f.severity is severity)

    @property
    def has_errors(self) -> bool:
        """Whether any row has an error (the command then exits non-zero)."""
        return self.count(Severity.ERROR) > 0

    @property
    def ubos(self) -> list[tuple[CheckedRow, Shareholder]]:
        """Every UBO with its row."""
        return [(row, person) for row in self.rows for person in row.shareholders if person.is_ubo]


def check_file(
    path: str | Path, *, progress: Callable[[int, int], None] | None = None
) -> ImportCheck:
    """Read and check an import file (CSV in any Dutch Excel flavour, or XLSX).

    Args:
        path: The file.
        progress: Called with (rows done, rows in all) now and then.

    Raises:
        ValidationError: The file cannot be read as a table, or has no name column.
    """
    return check_table(read_table(path), source=str(path), progress=progress)


def check_table(
    table: Table, *, source: str = "", progress: Callable[[int, int], None] | None = None
) -> ImportCheck:
    """Check a table already read (see `check_file`)."""
    mapping, persons, ignored = match_headers(table.headers)
    if "name" not in mapping:
        raise ValidationError("columns", list(table.headers), "no name column (Naam / Name)")
    checker = _RowChecker(mapping, persons)
    rows = []
    total = len(table.rows)
    for done, (line, raw) in enumerate(table.rows, start=1):
        rows.append(checker.check(line, raw))
        if progress is not None and (done % 1000 == 0 or done == total):
            progress(done, total)
    return ImportCheck(source, mapping, persons, tuple(ignored), tuple(rows))


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


class _RowChecker:
    """Checks rows one by one; remembers relation numbers to find duplicates."""

    def __init__(self, mapping: Mapping[str, str], persons: Mapping[str, str]) -> None:
        self.mapping = mapping
        self.persons = persons
        self.seen_numbers: dict[str, int] = {}

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
        for key, check in _FIELD_CHECKS.items():
            value = values.get(key, "")
            if not value:
                continue
            if _SCIENTIFIC.match(value) and key != "products":
                found.append(
                    self._finding(line, key, "scientific", value, Severity.ERROR, "invalid")
                )
                continue
            try:
                fixed = check(value, key)
            except ValidationError as error:
                found.append(self._invalid(line, key, value, error))
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
            if consequence == "pairing" and (
                values.get("relation_number") or values.get("contact_number")
            ):
                continue  # either number pairs the records
            reported.add(consequence)
            found.append(
                self._finding(line, column.key, "missing", "", Severity.WARNING, consequence)
            )
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
        first = self.seen_numbers.setdefault(number, line)
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
        for slot, header in self.persons.items():
            group, field = slot.split(":")
            text = (raw.get(header) or "").strip()
            if text:
                groups.setdefault(int(group), {})[field] = text
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
            try:
                bsn = validation.bsn(bsn, field="persons.bsn")
            except ValidationError as error:
                findings.append(self._invalid(line, "persons", fields["bsn"], error))
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

    def _invalid(self, line: int, key: str, value: str, error: ValidationError) -> Finding:
        return self._finding(
            line, key, "invalid", value, Severity.ERROR, "invalid", reason=error.reason
        )

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
        column = _COLUMN.get(field.split(".")[0])
        nl_text, en_text = MESSAGES[code]
        nl_values: dict[str, object] = {
            "column": column.header if column else field,
            "value": value,
        }
        en_values: dict[str, object] = {
            "column": column.english if column else field,
            "value": value,
        }
        for name, detail in details.items():
            pair = detail if isinstance(detail, tuple) else (detail, detail)
            nl_values[name], en_values[name] = pair
        nl_con, en_con = CONSEQUENCES.get(consequence or "", ("", ""))
        return Finding(
            line, field, severity, code, value,
            nl_text.format(**nl_values), en_text.format(**en_values), nl_con, en_con,
        )  # fmt: skip


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


def _padded(key: str, value: str, fixed: str) -> bool:
    if key not in ("kvk_number", "rsin_bsn", "branch_number") or value == fixed:
        return False
    digits = sum(char.isdigit() for char in value)
    return 0 < digits < len(fixed)


_FIELD_CHECKS: dict[str, Callable[[str, str], str]] = {
    "kvk_number": lambda v, f: validation.kvk_number(v, pad=True, field=f),
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
