"""Canonical paths: where a table row reads and writes in an `Organisation` or a `Person`.

A path is dotted: ``name``, ``contact.email``, ``invoice_address.postcode``,
``invoice_address.street_line``, ``bank_accounts.0.iban``,
``contacts.0.full_name``, ``full_name`` (a person). ``<kind>_address`` is the
first address of that `AddressKind`; writing to it creates it when missing.
An item of a list (``bank_accounts.0``) is created when it is the next one.

Reading works on the model; writing works on the model's plain data
(``model_dump()``), which is validated once at the end, so the order of the
rows never matters (a foreign postcode and its country arrive together).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import attrs

from ..errors import ValidationError
from ..models import AddressKind, Organisation, Person
from ._names import PersonName
from ._transforms import StreetParts, ValueKind

__all__ = ["CanonicalPath", "known_paths", "resolve"]

_CONTACT = ("email", "phone", "mobile", "fax", "website")
_ADDRESS = (
    "street",
    "house_number",
    "house_letter",
    "house_number_addition",
    "extra",
    "postcode",
    "po_box",
    "city",
    "country",
)
_STREET_PARTS = ("street", "house_number", "house_letter", "house_number_addition", "po_box")
_NAME_PARTS = ("initials", "first_name", "infix", "last_name")
_ORGANISATION = (
    "id",
    "name",
    "statutory_name",
    "legal_form",
    "kvk_number",
    "branch_number",
    "rsin",
    "vat_number",
    "employee_class",
    "debtor_number",
    "creditor_number",
)
_PERSON = ("id", *_NAME_PARTS, "role", "debtor_number", "creditor_number")


@attrs.frozen
class _Step:
    """One step down: an attribute, the address of a kind, or an item of a list."""

    attribute: str
    address_kind: AddressKind | None = None
    index: int | None = None

    def get(self, model: Any) -> Any:
        if self.address_kind is not None:
            return next((a for a in model.addresses if a.kind is self.address_kind), None)
        value = getattr(model, self.attribute)
        if self.index is None:
            return value
        return value[self.index] if self.index < len(value) else None

    def child(self, data: dict[str, Any], create: bool) -> tuple[dict[str, Any] | None, str]:
        """The child's data (created when ``create``) and its location (``addresses.1``)."""
        if self.address_kind is not None:
            items: list[dict[str, Any]] = data.setdefault("addresses", [])
            for at, item in enumerate(items):
                if item.get("kind") == self.address_kind:
                    return item, f"addresses.{at}"
            if not create:
                return None, ""
            items.append({"kind": self.address_kind})
            return items[-1], f"addresses.{len(items) - 1}"
        if self.index is None:
            return data.setdefault(self.attribute, {}), self.attribute
        items = data.setdefault(self.attribute, [])
        where = f"{self.attribute}.{self.index}"
        if self.index < len(items):
            return items[self.index], where
        if not create:
            return None, ""
        if self.index > len(items):
            reason = f"has {len(items)} items; only item {len(items)} can be added"
            raise ValidationError(self.attribute, self.index, reason)
        items.append({})
        return items[-1], where


@attrs.frozen
class CanonicalPath:
    """A resolved canonical path.

    Attributes:
        text: The path as written, e.g. ``"invoice_address.street_line"``.
        kind: What it holds: one text, a person's name parts, or street parts.
        steps: The steps down to the object that holds the leaf.
        leaf: The attribute at the end (``"postcode"``); the composite's name
            (``"full_name"``, ``"street_line"``) for a name or street path.
    """

    text: str
    kind: ValueKind
    steps: tuple[_Step, ...]
    leaf: str

    @property
    def targets(self) -> frozenset[str]:
        """The canonical fields a write to this path sets (a composite sets several)."""
        prefix = self.text.rpartition(".")[0]
        prefix = f"{prefix}." if prefix else ""
        if self.kind is ValueKind.NAME:
            return frozenset(prefix + part for part in _NAME_PARTS)
        if self.kind is ValueKind.STREET:
            return frozenset(prefix + part for part in _STREET_PARTS)
        return frozenset({self.text})

    def get(self, party: Organisation | Person) -> Any:
        """The canonical value: a text or number, a `PersonName` or `StreetParts`; or ``None``."""
        model: Any = party
        for step in self.steps:
            model = step.get(model)
            if model is None:
                return None
        if self.kind is ValueKind.NAME:
            return PersonName.of(model)
        if self.kind is ValueKind.STREET:
            return StreetParts.of(model)
        return getattr(model, self.leaf)

    def set(self, data: dict[str, Any], value: Any) -> dict[str, str]:
        """Write ``value`` into a model's plain data; ``None`` clears.

        Returns:
            Location in the data (``addresses.1.postcode``) → this path, for
            naming the row when the model refuses the value.
        """
        location = ""
        for step in self.steps:
            child, where = step.child(data, create=value is not None)
            if child is None:
                return {}  # clearing what is not there
            data, location = child, f"{location}{where}."
        if self.kind is ValueKind.TEXT:
            if value is None:  # cleared: the model's default (an address's country is NL)
                data.pop(self.leaf, None)
            else:
                data[self.leaf] = value
            return {location + self.leaf: self.text}
        parts = _NAME_PARTS if self.kind is ValueKind.NAME else _STREET_PARTS
        for part in parts:
            data[part] = None if value is None else getattr(value, part)
        return {location + part: self.text for part in parts}


def _address_parts(prefix: str) -> Iterator[tuple[str, ValueKind]]:
    for part in _ADDRESS:
        yield f"{prefix}{part}", ValueKind.TEXT
    yield f"{prefix}street_line", ValueKind.STREET


def _person_paths(prefix: str = "") -> Iterator[tuple[str, ValueKind]]:
    for name in _PERSON:
        yield prefix + name, ValueKind.TEXT
    yield f"{prefix}full_name", ValueKind.NAME
    for name in _CONTACT:
        yield f"{prefix}contact.{name}", ValueKind.TEXT


def known_paths(model: type[Organisation] | type[Person]) -> list[str]:
    """The canonical paths of a model (with ``0`` for a list index), for error messages."""
    return sorted(_pattern_kinds(model))


def _patterns(model: type[Organisation] | type[Person]) -> Iterator[tuple[str, ValueKind]]:
    for kind in AddressKind:
        yield from _address_parts(f"{kind.value}_address.")
    yield "bank_accounts.0.iban", ValueKind.TEXT  # an organisation's and a person's
    yield "bank_accounts.0.bic", ValueKind.TEXT
    if model is Person:
        yield from _person_paths()
        return
    for name in _ORGANISATION:
        yield name, ValueKind.TEXT
    for name in _CONTACT:
        yield f"contact.{name}", ValueKind.TEXT
    yield from _person_paths("contacts.0.")


@cache
def _pattern_kinds(model: type[Organisation] | type[Person]) -> dict[str, ValueKind]:
    return dict(_patterns(model))


def resolve(text: str, model: type[Organisation] | type[Person]) -> CanonicalPath | None:
    """The path ``text`` in ``model``, or ``None`` when the model has no such path.

    Any list index is allowed where the known paths show ``0``.
    """
    parts = text.split(".")
    indexes = [part for part in parts if part.isascii() and part.isdigit()]
    if any(len(index) > 1 and index.startswith("0") for index in indexes):
        return None
    pattern = ".".join("0" if part.isascii() and part.isdigit() else part for part in parts)
    kind = _pattern_kinds(model).get(pattern)
    if kind is None:
        return None
    steps: list[_Step] = []
    at = 0
    while at < len(parts) - 1:
        part = parts[at]
        if part.endswith("_address"):
            steps.append(
                _Step("addresses", address_kind=AddressKind(part.removesuffix("_address")))
            )
        elif parts[at + 1].isdigit():
            steps.append(_Step(part, index=int(parts[at + 1])))
            at += 1
        else:
            steps.append(_Step(part))
        at += 1
    return CanonicalPath(text, kind, tuple(steps), parts[-1])
