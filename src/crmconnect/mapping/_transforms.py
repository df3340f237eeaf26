"""The named transforms of a field table: how a canonical value becomes a remote text and back.

Each transform writes a canonical value as the text a remote field holds
(``None`` for an empty one), reads a remote text back into a canonical value,
and gives the form two remote texts are compared in (so ``3511 aa`` and
``3511AA`` are the same postcode). Most take a plain text field; ``street_line``
takes an address (street, house number, letter, addition or PO box as one
line) and ``person_name`` a person's name parts.
"""

from __future__ import annotations

import functools
import gettext
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import attrs
import pycountry

from ..errors import ValidationError
from ..models import Address
from ._names import NameStyle, PersonName, format_person_name, initials_of, parse_person_name

__all__ = [
    "TRANSFORMS",
    "StreetParts",
    "Transform",
    "ValueKind",
    "format_street_line",
    "parse_street_line",
]


class ValueKind(StrEnum):
    """What a canonical path holds, and so which transforms fit it."""

    TEXT = "text"
    """One field: a text, a number or a code."""
    NAME = "name"
    """A person's name parts (`PersonName`): the path ``full_name``."""
    STREET = "street"
    """Street, house number, letter, addition and PO box: ``<kind>_address.street_line``."""


@attrs.frozen
class StreetParts:
    """The parts of an address that one street line holds.

    Attributes:
        street: Street name.
        house_number: House number.
        house_letter: One letter directly after the number.
        house_number_addition: Up to four characters after the letter.
        po_box: PO box number (Postbus), instead of the others.
    """

    street: str | None = None
    house_number: int | None = None
    house_letter: str | None = None
    house_number_addition: str | None = None
    po_box: int | None = None

    @classmethod
    def of(cls, address: Address) -> StreetParts:
        """The street parts of an `Address`."""
        return cls(
            address.street,
            address.house_number,
            address.house_letter,
            address.house_number_addition,
            address.po_box,
        )


def format_street_line(parts: StreetParts) -> str:
    """One line: ``"Haagweg 4G-5"``, ``"Kerkstraat 12-hs"``, or ``"Postbus 216"`` for a PO box.

    The letter follows the number directly and an addition after a hyphen, so
    `parse_street_line` reads the line back into the same parts.

    Example:
        >>> format_street_line(StreetParts("Haagweg", 4, "G", "5"))
        'Haagweg 4G-5'
    """
    if parts.po_box is not None:
        return f"Postbus {parts.po_box}"
    number = f"{parts.house_number or ''}{parts.house_letter or ''}" if parts.house_number else ""
    if number and parts.house_number_addition:
        number = f"{number}-{parts.house_number_addition}"
    return " ".join(part for part in (parts.street, number) if part)


_STREET_LINE = re.compile(
    r"(?P<street>.*?\S)\s+(?P<number>[1-9]\d{0,4})(?!\d)"
    r"(?:\s*(?P<letter>[^\W\d_])(?![^\W\d_]))?"
    r"(?:[\s\-/]*(?P<addition>[^\W_]{1,4}))?",
)
_PO_BOX = re.compile(r"postbus\s+(?P<number>[1-9]\d{0,4})", re.IGNORECASE)


def parse_street_line(line: str) -> StreetParts:
    """Split a street line into street, house number, letter and addition, or a PO box.

    ``12a``, ``12 A``, ``12A-3``, ``12-hs``, ``12 bis``, ``12-II`` are read the
    way Dutch registers split them: one letter directly after the number is the
    house letter, what follows (up to four characters) the addition. A line
    that does not end in a house number is kept whole as the street.

    Example:
        >>> parts = parse_street_line("Haagweg 4G5")
        >>> parts.street, parts.house_number, parts.house_letter, parts.house_number_addition
        ('Haagweg', 4, 'G', '5')
    """
    text = " ".join(line.split())
    if box := _PO_BOX.fullmatch(text):
        return StreetParts(po_box=int(box["number"]))
    found = _STREET_LINE.fullmatch(text)
    if found and any(char.isalpha() for char in found["street"]):
        return StreetParts(
            found["street"], int(found["number"]), found["letter"], found["addition"]
        )
    return StreetParts(street=text or None)


@attrs.frozen
class Transform:
    """A named way of turning a canonical value into a remote text and back.

    Attributes:
        name: The name a table row uses, e.g. ``"postcode"``.
        kind: The kind of canonical value it takes.
        write: Canonical value and name style → remote text (``None`` for empty).
        read: Remote text, the current canonical value and name style → canonical value.
        normalise: A remote text → the form it is compared in.
    """

    name: str
    kind: ValueKind
    write: Callable[[Any, NameStyle], str | None]
    read: Callable[[str, Any, NameStyle], Any]
    normalise: Callable[[str], str]


def _plain(value: str) -> str:
    """Trimmed, inner whitespace collapsed to one space."""
    text = value.strip()
    if "  " not in text and text.isprintable():  # the common case, in two C-fast checks
        return text
    return " ".join(text.split())


def _compact(value: str) -> str:
    return "".join(value.split()).upper()


def _text(value: object, style: NameStyle = NameStyle.FULL_NAME) -> str | None:
    if value is None:
        return None
    return _plain(str(value)) or None


def _read_text(text: str, current: object, style: NameStyle) -> str | None:
    return _plain(text) or None


def _writer(shape: Callable[[str], str]) -> Callable[[Any, NameStyle], str | None]:
    def write(value: object, style: NameStyle) -> str | None:
        written = _text(value)
        return shape(written) if written else None

    return write


@functools.cache
def _countries() -> Mapping[str, str]:
    """Country name or code (English, Dutch, casefolded) → ISO 3166-1 alpha-2 code."""
    dutch = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["nl"])
    known: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        names = {country.name, dutch.gettext(country.name), country.alpha_3, code}
        names.update(getattr(country, attr, "") for attr in ("common_name", "official_name"))
        known.update({name.casefold(): code for name in names if name})
    known.update({"holland": "NL", "the netherlands": "NL", "uk": "GB", "great britain": "GB"})
    return MappingProxyType(known)


def _normalise_country(text: str) -> str:
    """A country name compares as its code: ``Nederland`` is ``NL``."""
    return _countries().get(_plain(text).casefold()) or _compact(text)


def _read_country(text: str, current: object, style: NameStyle) -> str | None:
    plain = _plain(text)
    if not plain:
        return None
    code = _countries().get(plain.casefold())
    if code is None:
        raise ValidationError("country", text, "not a country name or ISO 3166 code")
    return code


def _write_name(value: PersonName | None, style: NameStyle) -> str | None:
    return format_person_name(value, style) or None if value is not None else None


def _read_name(text: str, current: PersonName | None, style: NameStyle) -> PersonName:
    parsed = parse_person_name(text)
    if current is None or parsed.first_name:
        return parsed
    if style is NameStyle.LAST_NAME and not parsed.initials:
        # The remote field never holds the given names in this style: keep the host's.
        return attrs.evolve(parsed, initials=current.initials, first_name=current.first_name)
    written = current.initials or initials_of(current.first_name)
    if style is NameStyle.INITIALS and parsed.initials and parsed.initials == written:
        # The initials the host's first names gave: keep the first names too.
        return attrs.evolve(parsed, first_name=current.first_name)
    return parsed


def _write_street(value: StreetParts | None, style: NameStyle) -> str | None:
    return format_street_line(value) or None if value is not None else None


def _read_street(text: str, current: object, style: NameStyle) -> StreetParts:
    return parse_street_line(text)


def _normalise_street(text: str) -> str:
    """``Haagweg 4G5`` and ``Haagweg 4G-5`` are one street line."""
    return format_street_line(parse_street_line(text))


def _normalise_name(text: str) -> str:
    """``van der Berg`` and ``Van der Berg``, ``J. P. Berg`` and ``J.P. Berg`` are one name."""
    return format_person_name(parse_person_name(text))


_ALL = (
    Transform("text", ValueKind.TEXT, _text, _read_text, _plain),
    Transform("upper", ValueKind.TEXT, _writer(str.upper), _read_text, lambda t: _plain(t).upper()),
    Transform("code", ValueKind.TEXT, _writer(_compact), _read_text, _compact),
    Transform("postcode", ValueKind.TEXT, _writer(str.upper), _read_text, _compact),
    Transform("iban", ValueKind.TEXT, _writer(_compact), _read_text, _compact),
    Transform("email", ValueKind.TEXT, _text, _read_text, lambda t: _plain(t).casefold()),
    Transform("country", ValueKind.TEXT, _writer(str.upper), _read_country, _normalise_country),
    Transform("street_line", ValueKind.STREET, _write_street, _read_street, _normalise_street),
    Transform("person_name", ValueKind.NAME, _write_name, _read_name, _normalise_name),
)

TRANSFORMS: Mapping[str, Transform] = MappingProxyType({t.name: t for t in _ALL})
"""The named transforms a table row may use, by name."""
