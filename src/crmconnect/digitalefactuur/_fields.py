"""The element names of DigitaleFactuur's XML, as data a host can correct without a release.

DigitaleFactuur documents its relation (``<klant>``) and invoice (``<factuur>``)
elements only through a handful of old examples (digitalefactuur.md §1.5).
Several names the CRM needs appear in no public source: they are listed here
with ``assumed=True``. When a live account shows another name, override it:

```python
from crmconnect.digitalefactuur import RELATION_FIELDS, DigitaleFactuurClient

fields = RELATION_FIELDS.override({"kvk_number": "kvknummer"})
client = DigitaleFactuurClient(account_id, access_code, relation_fields=fields)
```

``crmconnect digitalefactuur inspect`` prints the raw XML of one live relation to check them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import attrs

from ..errors import ConfigurationError

__all__ = [
    "ANSWER_ELEMENTS",
    "INVOICE_FIELDS",
    "LINE_FIELDS",
    "RELATION_FIELDS",
    "FieldSpec",
    "FieldTable",
]


@attrs.frozen
class FieldSpec:
    """One field: our attribute name and DigitaleFactuur's element name.

    Attributes:
        attribute: The attribute of the model, e.g. ``"kvk_number"``.
        element: The XML element, e.g. ``"kvk_nummer"``.
        assumed: ``True`` when no public source shows this element name.
    """

    attribute: str
    element: str
    assumed: bool = False


def _specs(value: Iterable[FieldSpec]) -> tuple[FieldSpec, ...]:
    return tuple(value)


@attrs.frozen
class FieldTable:
    """The fields of one record type, in the order they are written.

    Attributes:
        record: The record's element, e.g. ``"klant"``.
        fields: The fields.
    """

    record: str
    fields: tuple[FieldSpec, ...] = attrs.field(converter=_specs)

    def __attrs_post_init__(self) -> None:
        for what in ("attribute", "element"):
            names = [getattr(spec, what) for spec in self.fields]
            twice = sorted({name for name in names if names.count(name) > 1})
            if twice:
                raise ConfigurationError(f"{self.record}: {what} used twice: {', '.join(twice)}")

    def __iter__(self) -> Iterator[FieldSpec]:
        return iter(self.fields)

    @property
    def by_element(self) -> Mapping[str, str]:
        """Element → attribute."""
        return {spec.element: spec.attribute for spec in self.fields}

    def element(self, attribute: str) -> str:
        """The element of an attribute.

        Raises:
            KeyError: For an attribute the table does not have.
        """
        return next(spec.element for spec in self.fields if spec.attribute == attribute)

    @property
    def assumed(self) -> list[FieldSpec]:
        """The fields whose element name no public source confirms."""
        return [spec for spec in self.fields if spec.assumed]

    def override(self, elements: Mapping[str, str]) -> FieldTable:
        """A copy with other element names, by attribute; an overridden name is no longer assumed.

        Raises:
            ConfigurationError: For an unknown attribute, or an element used twice.
        """
        known = {spec.attribute for spec in self.fields}
        unknown = sorted(set(elements) - known)
        if unknown:
            raise ConfigurationError(
                f"{self.record}: unknown attributes {unknown}; known are {sorted(known)}"
            )
        return FieldTable(
            self.record,
            [
                FieldSpec(spec.attribute, elements[spec.attribute], assumed=False)
                if spec.attribute in elements
                else spec
                for spec in self.fields
            ],
        )

    def override_from_toml(self, path: str | Path) -> FieldTable:
        """A copy with the element names of a TOML file's table named after the record.

        Example file::

            [klant]
            kvk_number = "kvknummer"
            vat_number = "btwnummer"
        """
        with open(path, "rb") as file:
            data = tomllib.load(file)
        section = data.get(self.record, {})
        if not isinstance(section, dict) or not all(isinstance(v, str) for v in section.values()):
            raise ConfigurationError(
                f"{path}: [{self.record}] must map attributes to element names"
            )
        return self.override(section)


def _spec(attribute: str, element: str, assumed: bool = False) -> FieldSpec:
    return FieldSpec(attribute, element, assumed)


RELATION_FIELDS = FieldTable(
    "klant",
    [
        _spec("number", "relatienummer"),
        _spec("kind", "type"),
        _spec("name", "naam"),
        _spec("contact_name", "contactpersoon_naam"),
        _spec("contact_department", "contactpersoon_afdeling"),
        _spec("email", "contactpersoon_email"),
        _spec("phone", "telefoonnummer", assumed=True),  # seen only as klant_telefoonnummer
        _spec("address", "adres"),
        _spec("postcode", "postcode"),
        _spec("city", "plaats"),
        _spec("country", "land", assumed=True),
        _spec("fax", "faxnummer", assumed=True),
        _spec("iban", "rekeningnummer"),
        _spec("account_holder", "tenaamstelling"),
        _spec("bic", "bic", assumed=True),
        _spec("kvk_number", "kvk_nummer", assumed=True),
        _spec("vat_number", "btw_nummer", assumed=True),
    ],
)
"""The relation (``<klant>``): the elements of DF's ``klant_aanmaken`` example, and assumptions.

The internal ``id`` is not in the table: it is sent only on updates, first.
"""

INVOICE_FIELDS = FieldTable(
    "factuur",
    [
        _spec("number", "factuurnummer"),
        _spec("relation_id", "klant_id"),
        _spec("date", "factuurdatum"),
        _spec("due_date", "vervaldatum"),
        _spec("payment_status", "betaalstatus"),
        _spec("total", "totaal", assumed=True),
        _spec("paid", "voldaan", assumed=True),  # seen only on part payments
    ],
)
"""The invoice (``<factuur>``) as read from ``facturen``."""

LINE_FIELDS = FieldTable(
    "factuurregel",
    [
        _spec("id", "id"),
        _spec("quantity", "aantal"),
        _spec("description", "omschrijving"),
        _spec("price", "prijs"),
        _spec("vat", "btw"),
    ],
)
"""An invoice line (``<factuurregel>``); ``btw`` is a fraction (``0.210``)."""

ANSWER_ELEMENTS = FieldTable(
    "answers",
    [
        _spec("relation_list", "klanten", assumed=True),
        _spec("invoice_list", "facturen", assumed=True),
        _spec("written", "klant", assumed=True),
        _spec("id", "id"),
    ],
)
"""The elements of DF's answers that every answer is checked against.

``relation_list`` and ``invoice_list`` hold the records of ``klanten`` and
``facturen`` (whose record elements are `RELATION_FIELDS.record` and
`INVOICE_FIELDS.record`); a root that is the record element itself is one
record. ``written`` is the root of the answer to ``klant_aanmaken``,
``klant_updaten`` and ``klant_verwijderen``; ``id`` the element every record
and every such answer must hold. No public source shows DF's answers (only
``<producten>`` children in a product list, and ``<id>`` inside ``<klant>`` in
``klant_updaten``), so the root names are assumptions: correct them like the
field tables, e.g. ``ANSWER_ELEMENTS.override({"relation_list": "xml"})`` or
an ``[answers]`` table in the TOML file.
"""
