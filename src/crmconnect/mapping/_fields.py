"""Field tables: which canonical field goes to which remote field, in which direction, how.

A `FieldTable` is the mapping of one remote record type for one kind of
party (organisation or person), as rows of plain data: canonical path,
remote field, direction and a named transform. It is checked when built and
turns a party into remote texts (`FieldTable.outbound`) and remote texts
back into a party (`FieldTable.inbound`). It never imports a connector: the
remote field names a table is checked against are passed in.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Collection, Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import attrs

from ..errors import ValidationError
from ..models import Organisation, Person
from ._names import NameStyle
from ._paths import CanonicalPath, known_paths, resolve
from ._transforms import TRANSFORMS, Transform

__all__ = [
    "Direction",
    "FieldRow",
    "FieldTable",
    "PartyKind",
    "enum_value",
    "read_toml",
    "toml_text",
]

E = TypeVar("E", bound=StrEnum)


class Direction(StrEnum):
    """Which way a row carries its value."""

    TO_REMOTE = "to_remote"
    """From the CRM to the remote service only."""
    FROM_REMOTE = "from_remote"
    """From the remote service to the CRM only."""
    BOTH = "both"
    """Both ways."""

    @property
    def outbound(self) -> bool:
        """Whether the row writes to the remote field."""
        return self is not Direction.FROM_REMOTE

    @property
    def inbound(self) -> bool:
        """Whether the row writes to the canonical field."""
        return self is not Direction.TO_REMOTE


class PartyKind(StrEnum):
    """Which canonical model a table maps."""

    ORGANISATION = "organisation"
    PERSON = "person"

    @classmethod
    def of(cls, party: Organisation | Person) -> PartyKind:
        """The kind of a party."""
        return cls.PERSON if isinstance(party, Person) else cls.ORGANISATION

    @property
    def model(self) -> type[Organisation] | type[Person]:
        """The canonical model of this kind."""
        return Person if self is PartyKind.PERSON else Organisation


def enum_value(kind: type[E], value: object, field: str) -> E:
    """``kind(value)``, or a `ValidationError` naming ``field`` and the values ``kind`` has.

    Raised outside the ``except`` block, so the error chains nothing.
    """
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    known = ", ".join(repr(member.value) for member in kind)
    raise ValidationError(field, value, f"not one of {known}")


def _direction(value: Direction | str) -> Direction:
    return enum_value(Direction, value, "direction")


def _name(row: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value or value != value.strip():
        reason = "must be a non-empty name without surrounding spaces"
        raise ValidationError(attribute.name, value, reason)


@attrs.frozen
class FieldRow:
    """One row of a field table.

    Attributes:
        canonical: A path into the canonical party, e.g. ``"invoice_address.postcode"``
            (see the docs for every path).
        remote: The remote field: the connector's own attribute name, e.g. ``"postcode"``.
        direction: To remote, from remote, or both.
        transform: The name of a transform (``text``, ``upper``, ``code``,
            ``postcode``, ``iban``, ``email``, ``country``, ``street_line``,
            ``person_name``).

    Example:
        >>> row = FieldRow("invoice_address.postcode", "postcode", transform="postcode")
        >>> row.direction
        <Direction.BOTH: 'both'>
    """

    canonical: str = attrs.field(validator=_name)
    remote: str = attrs.field(validator=_name)
    direction: Direction = attrs.field(default=Direction.BOTH, converter=_direction)
    transform: str = attrs.field(default="text", validator=_name)

    def __str__(self) -> str:
        return f"{self.canonical} ⇄ {self.remote} ({self.direction.value}, {self.transform})"


@attrs.frozen
class _Compiled:
    row: FieldRow
    path: CanonicalPath
    transform: Transform


def _row_name(row: FieldRow) -> str:
    return f"row {row.canonical} → {row.remote}"


def _kind(value: PartyKind | str) -> PartyKind:
    return enum_value(PartyKind, value, "party_kind")


def _style(value: NameStyle | str) -> NameStyle:
    return enum_value(NameStyle, value, "name_style")


class FieldTable:
    """The field mapping of one remote record type for one kind of party.

    Checked when built: every canonical path must exist in the party kind's
    model, every remote field in ``remote_fields``, every transform must exist
    and fit the path (``street_line`` for an address's street line,
    ``person_name`` for a name), no two rows may write one remote field, and
    no two inbound rows one canonical field. A refusal is a
    `crmconnect.errors.ValidationError` naming the row.

    Args:
        rows: The rows, in the order they are applied.
        party_kind: Organisation or person.
        remote_fields: Every field name the remote record has.
        name_style: How ``person_name`` rows write a name (full name by default).

    Example:
        >>> from crmconnect.models import Organisation
        >>> rows = [
        ...     FieldRow("name", "name"),
        ...     FieldRow("invoice_address.postcode", "postcode", transform="postcode"),
        ... ]
        >>> table = FieldTable(
        ...     rows, party_kind=PartyKind.ORGANISATION, remote_fields={"name", "postcode"}
        ... )
        >>> address = {"kind": "invoice", "postcode": "3511 aa"}
        >>> table.outbound(Organisation(name="Bakkerij", addresses=[address]))
        {'name': 'Bakkerij', 'postcode': '3511AA'}
    """

    def __init__(
        self,
        rows: Iterable[FieldRow],
        *,
        party_kind: PartyKind | str,
        remote_fields: Collection[str],
        name_style: NameStyle | str = NameStyle.FULL_NAME,
    ) -> None:
        if isinstance(remote_fields, str):
            raise ValidationError("remote_fields", remote_fields, "must be a collection of names")
        self.party_kind = _kind(party_kind)
        self.remote_fields: frozenset[str] = frozenset(remote_fields)
        self.name_style = _style(name_style)
        self.rows: tuple[FieldRow, ...] = tuple(rows)
        self._compiled = tuple(self._compile(row) for row in self.rows)
        self._check_targets()
        self._outbound = tuple(c for c in self._compiled if c.row.direction.outbound)
        self._inbound = tuple(c for c in self._compiled if c.row.direction.inbound)
        self.outbound_fields: frozenset[str] = frozenset(c.row.remote for c in self._outbound)
        """The remote fields the table writes."""
        self.inbound_fields: frozenset[str] = frozenset(c.row.remote for c in self._inbound)
        """The remote fields the table reads."""

    def _compile(self, row: FieldRow) -> _Compiled:
        if not isinstance(row, FieldRow):
            raise ValidationError("rows", row, "must be a FieldRow")
        model = self.party_kind.model
        path = resolve(row.canonical, model)
        if path is None:
            reason = f"{_row_name(row)}: not a path of {model.__name__}; known: " + ", ".join(
                known_paths(model)
            )
            raise ValidationError("canonical", row.canonical, reason)
        if row.remote not in self.remote_fields:
            known = ", ".join(sorted(self.remote_fields))
            reason = f"{_row_name(row)}: not a remote field; known: {known}"
            raise ValidationError("remote", row.remote, reason)
        transform = TRANSFORMS.get(row.transform)
        if transform is None:
            known = ", ".join(TRANSFORMS)
            reason = f"{_row_name(row)}: not a transform; known: {known}"
            raise ValidationError("transform", row.transform, reason)
        if transform.kind is not path.kind:
            fits = ", ".join(t.name for t in TRANSFORMS.values() if t.kind is path.kind)
            reason = f"{_row_name(row)}: {row.canonical} holds a {path.kind.value}; use {fits}"
            raise ValidationError("transform", row.transform, reason)
        return _Compiled(row, path, transform)

    def _check_targets(self) -> None:
        remote: dict[str, FieldRow] = {}
        canonical: dict[str, FieldRow] = {}
        for compiled in self._compiled:
            row = compiled.row
            if row.direction.outbound:
                if row.remote in remote:
                    other = remote[row.remote]
                    reason = f"{_row_name(row)}: {_row_name(other)} writes it too"
                    raise ValidationError("remote", row.remote, reason)
                remote[row.remote] = row
            if row.direction.inbound:
                for target in sorted(compiled.path.targets):
                    if target in canonical:
                        other = canonical[target]
                        reason = f"{_row_name(row)}: {_row_name(other)} writes {target} too"
                        raise ValidationError("canonical", row.canonical, reason)
                    canonical[target] = row

    def __repr__(self) -> str:
        return f"FieldTable({len(self.rows)} rows, party_kind={self.party_kind.value!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldTable):
            return NotImplemented
        return (self.rows, self.party_kind, self.remote_fields, self.name_style) == (
            other.rows,
            other.party_kind,
            other.remote_fields,
            other.name_style,
        )

    __hash__ = None  # type: ignore[assignment]

    def with_name_style(self, name_style: NameStyle | str) -> FieldTable:
        """The same table writing person names in another style."""
        return FieldTable(
            self.rows,
            party_kind=self.party_kind,
            remote_fields=self.remote_fields,
            name_style=name_style,
        )

    def _check_party(self, party: Organisation | Person) -> None:
        if not isinstance(party, self.party_kind.model):
            reason = f"this table maps a {self.party_kind.value}"
            raise ValidationError("party", type(party).__name__, reason)

    def outbound(self, party: Organisation | Person) -> dict[str, str | None]:
        """The texts the remote fields would hold: remote field → text, ``None`` if empty.

        Raises:
            ValidationError: ``party`` is not of the table's kind.
        """
        self._check_party(party)
        return {
            c.row.remote: c.transform.write(c.path.get(party), self.name_style)
            for c in self._outbound
        }

    def inbound(
        self, values: Mapping[str, str | None], party: Organisation | Person | None = None
    ) -> Organisation | Person:
        """``party`` (or a new party of the table's kind) with the remote values applied.

        Only the inbound rows whose remote field is in ``values`` are applied;
        a ``None`` (or blank) value clears the canonical field. ``party`` itself
        is not changed: a new one is returned. A missing address of a kind is
        created (``<kind>_address.<part>``).

        Args:
            values: Remote field → text, as a connector's listing gives them.
            party: The host's current party, or ``None`` for a new one.

        Raises:
            ValidationError: A value the canonical model refuses (naming the
                row and the value), or ``party`` not of the table's kind. A new
                organisation needs a ``name``.
        """
        if party is not None:
            self._check_party(party)
        data: dict[str, Any] = party.model_dump() if party is not None else {}
        rows_at: dict[str, FieldRow] = {}
        for compiled in self._inbound:
            row = compiled.row
            if row.remote not in values:
                continue
            text = values[row.remote]
            current = compiled.path.get(party) if party is not None else None
            value = self._read(compiled, text, current)
            for location, _ in compiled.path.set(data, value).items():
                rows_at[location] = row
        return self._validated(data, rows_at)

    def _read(self, compiled: _Compiled, text: object, current: Any) -> Any:
        if text is None:
            return None
        if not isinstance(text, str):
            reason = f"{_row_name(compiled.row)}: a remote value must be a text or None"
            raise ValidationError(compiled.row.remote, text, reason)
        if not text.strip():
            return None
        try:
            return compiled.transform.read(text, current, self.name_style)
        except ValidationError as exc:
            error = ValidationError(
                compiled.row.remote, text, f"{_row_name(compiled.row)}: {exc.reason}"
            )
        raise error

    def _validated(
        self, data: dict[str, Any], rows_at: Mapping[str, FieldRow]
    ) -> Organisation | Person:
        try:
            return self.party_kind.model.model_validate(data)
        except ValidationError as exc:
            row = rows_at.get(exc.field)
            if row is None:
                error = ValidationError(exc.field, exc.value, exc.reason)
            else:
                reason = f"{_row_name(row)} ({exc.field}): {exc.reason}"
                error = ValidationError(row.remote, exc.value, reason)
            error.errors = list(exc.errors)
        raise error

    def normalise(self, values: Mapping[str, str | None]) -> dict[str, str | None]:
        """Remote texts in the form they are compared in, for the fields the table maps.

        ``3511 aa`` and ``3511AA`` are one postcode, ``Info@X.nl`` and
        ``info@x.nl`` one e-mail address; blanks are ``None``. A field the
        table does not map is left out.
        """
        transforms = {c.row.remote: c.transform for c in self._compiled}
        normalised: dict[str, str | None] = {}
        for name, text in values.items():
            transform = transforms.get(name)
            if transform is not None:
                normalised[name] = (transform.normalise(text) or None) if text else None
        return normalised

    def to_dict(self) -> dict[str, Any]:
        """The table as plain data, the shape `from_dict` reads (defaults left out)."""
        rows: list[dict[str, str]] = []
        for row in self.rows:
            cells = {"canonical": row.canonical, "remote": row.remote}
            if row.direction is not Direction.BOTH:
                cells["direction"] = row.direction.value
            if row.transform != "text":
                cells["transform"] = row.transform
            rows.append(cells)
        return {
            "party_kind": self.party_kind.value,
            "remote_fields": sorted(self.remote_fields),
            "name_style": self.name_style.value,
            "rows": rows,
        }

    def to_toml(self) -> str:
        """The table as TOML text, which `from_toml` reads back into an equal table."""
        return toml_text(self.to_dict())

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        party_kind: PartyKind | str | None = None,
        remote_fields: Collection[str] | None = None,
        name_style: NameStyle | str | None = None,
    ) -> FieldTable:
        """A table from plain data: ``{"rows": [{"canonical", "remote", "direction"?, ...}]}``.

        A row has ``canonical`` and ``remote``, and optionally ``direction``
        (``both``) and ``transform`` (``text``).

        ``party_kind``, ``remote_fields`` and ``name_style`` come from the
        arguments, or else from keys of the same names in ``data``.

        Raises:
            ValidationError: An unknown key, a wrong type, a missing
                ``party_kind`` or ``remote_fields``, or a table that is not valid.
        """
        _check_keys(data, _TABLE_KEYS, "")
        kind = party_kind if party_kind is not None else data.get("party_kind")
        if kind is None:
            raise ValidationError("party_kind", None, "needed: 'organisation' or 'person'")
        fields = remote_fields if remote_fields is not None else data.get("remote_fields")
        if fields is None:
            raise ValidationError("remote_fields", None, "needed: the remote record's field names")
        style = (
            name_style if name_style is not None else data.get("name_style", NameStyle.FULL_NAME)
        )
        rows = data.get("rows", [])
        if not isinstance(rows, list):
            raise ValidationError("rows", rows, "must be a list of rows")
        return cls(
            [row_from_dict(cells, f"rows.{at}") for at, cells in enumerate(rows)],
            party_kind=kind,
            remote_fields=_names(fields, "remote_fields"),
            name_style=style,
        )

    @classmethod
    def from_toml(
        cls,
        source: str | os.PathLike[str],
        *,
        party_kind: PartyKind | str | None = None,
        remote_fields: Collection[str] | None = None,
        name_style: NameStyle | str | None = None,
    ) -> FieldTable:
        """A table from a TOML file or TOML text, shaped as for `from_dict`.

        A `pathlib.Path` (any path-like) is read as a file; a `str` is TOML
        text when it contains ``=``, and a file name otherwise.

        Example:
            >>> table = FieldTable.from_toml('''
            ... party_kind = "person"
            ... remote_fields = ["name", "email"]
            ... rows = [
            ...   { canonical = "full_name", remote = "name", transform = "person_name" },
            ...   { canonical = "contact.email", remote = "email", transform = "email" },
            ... ]
            ... ''')
            >>> table.inbound({"name": "J. de Vries", "email": "j@x.nl"}).last_name
            'Vries'
        """
        return cls.from_dict(
            read_toml(source, "field_table"),
            party_kind=party_kind,
            remote_fields=remote_fields,
            name_style=name_style,
        )


_TABLE_KEYS = frozenset({"party_kind", "remote_fields", "name_style", "rows"})
_ROW_KEYS = frozenset({"canonical", "remote", "direction", "transform"})


def read_toml(source: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """TOML from a file (a path-like, or a str without ``=``) or from TOML text.

    Raises:
        ValidationError: The file cannot be read or the text is not TOML.
    """
    is_text = isinstance(source, str) and "=" in source
    label = "<text>" if is_text else os.fspath(source)
    try:
        text = source if is_text else Path(source).read_text(encoding="utf-8")
        return tomllib.loads(str(text))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        problem = "TOML syntax error" if isinstance(exc, ValueError) else "cannot be read"
        error = ValidationError(what, label, f"{problem}: {exc}")
    raise error  # outside the except: nothing chained


def _toml_value(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        cells = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return f"{{ {cells} }}"
    if isinstance(value, list | tuple):
        return f"[{', '.join(_toml_value(item) for item in value)}]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _toml_key(key: str) -> str:
    return (
        key
        if key.replace("_", "").replace("-", "").isalnum() and key.isascii()
        else json.dumps(key)
    )


def toml_text(data: Mapping[str, Any]) -> str:
    """TOML text of plain data: strings, whole numbers, lists, tables and lists of tables.

    Lists of tables are written one inline table a line, tables as ``[section]``.
    """
    lines: list[str] = []
    sections: list[str] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            body = "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in value.items())
            sections.append(f"\n[{_toml_key(key)}]\n{body}")
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            rows = "".join(f"  {_toml_value(item)},\n" for item in value)
            lines.append(f"{_toml_key(key)} = [\n{rows}]")
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n" + "".join(sections)


def _check_keys(data: object, allowed: frozenset[str], prefix: str) -> Mapping[str, Any]:
    """``data`` as a table with only ``allowed`` keys."""
    if not isinstance(data, Mapping):
        raise ValidationError(prefix.rstrip(".") or "table", data, "must be a table")
    for key, value in data.items():
        if key not in allowed:
            expected = ", ".join(sorted(allowed))
            raise ValidationError(f"{prefix}{key}", value, f"unknown key; expected {expected}")
    return data


def _names(value: object, field: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Collection):
        raise ValidationError(field, value, "must be a list of names")
    if not all(isinstance(name, str) for name in value):
        raise ValidationError(field, value, "must be a list of names")
    return list(value)


def row_from_dict(cells: object, where: str) -> FieldRow:
    """A row from ``{"canonical", "remote", "direction"?, "transform"?}``.

    Raises:
        ValidationError: Naming ``where`` (e.g. ``rows.3``) and the key.
    """
    row = _check_keys(cells, _ROW_KEYS, f"{where}.")
    for key in ("canonical", "remote"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise ValidationError(f"{where}.{key}", row.get(key), "must be a non-empty string")
    for key in ("direction", "transform"):
        if key in row and not isinstance(row[key], str):
            raise ValidationError(f"{where}.{key}", row[key], "must be a string")
    return FieldRow(
        row["canonical"].strip(),
        row["remote"].strip(),
        row.get("direction", Direction.BOTH),
        row.get("transform", "text"),
    )
