r"""What VIES answers about a VAT number, and its address read into parts.

VIES gives the registered name and one address as free text, as the member
state sends it (``"---"`` or nothing where it does not disclose them, e.g.
Germany and Spain). `parse_address` reads the Dutch form
(``"STRAAT 00012\n1234AB PLAATS"``) and the common "postcode city" last line
of other member states into street, house number, postcode and city; where
the format does not allow it, the text is kept whole in ``street``.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from .. import validation
from ..errors import ValidationError
from ..models import Address, AddressKind

__all__ = ["Match", "VatCheck", "parse_address"]

_UNDISCLOSED = frozenset({"", "---", "n/a", "-"})
_NL_LAST_LINE = re.compile(r"^(?P<postcode>[1-9]\d{3}\s?[A-Za-z]{2})\s+(?P<city>.+)$")
_OTHER_LAST_LINE = re.compile(
    r"^(?P<postcode>[A-Z]{0,2}-?\d[\d\s-]{2,8}[A-Z]{0,2})\s+(?P<city>\D.+)$"
)
_STREET_NUMBER = re.compile(r"^(?P<street>.*?\D)\s+(?P<number>\d+\s*[A-Za-z]?(?:[\s/-].*)?)$")


_ISO_COUNTRY = {"EL": "GR", "XI": "GB"}
"""VIES's codes that are not ISO 3166: Greece is EL, Northern Ireland XI."""


class Match(StrEnum):
    """How a trader detail given matches VIES's (``matchCode``)."""

    VALID = "VALID"
    INVALID = "INVALID"
    NOT_PROCESSED = "NOT_PROCESSED"


class VatCheck(BaseModel):
    """The answer of VIES about one VAT number: valid or invalid, never anything in between.

    Attributes:
        country_code: The member state (``EL`` for Greece, ``XI`` for Northern Ireland).
        vat_number: The number without the country code.
        valid: ``True`` for VALID, ``False`` for INVALID.
        request_date: The day VIES answered.
        name: The registered name, when the member state discloses it.
        address: The registered address as one text, when disclosed.
        request_identifier: The consultation number (with a requester's own VAT
            number): keep it as evidence of the check.
        name_match: How the trader name given matches (approximate checks).
        street_match: Likewise the street.
        postcode_match: Likewise the postcode.
        city_match: Likewise the city.
    """

    model_config = ConfigDict(frozen=True)

    country_code: str
    vat_number: str
    valid: bool
    request_date: dt.date | None = None
    name: str | None = None
    address: str | None = None
    request_identifier: str | None = None
    name_match: Match | None = None
    street_match: Match | None = None
    postcode_match: Match | None = None
    city_match: Match | None = None
    raw: dict[str, object] = Field(default_factory=dict, repr=False)

    @property
    def full_number(self) -> str:
        """Country code and number, e.g. ``NL004495445B01``."""
        return self.country_code + self.vat_number

    def parsed_address(self) -> Address | None:
        """The address in parts (see `parse_address`), ``None`` when not disclosed."""
        return parse_address(self.address, self.country_code) if self.address else None


def disclosed(value: object) -> str | None:
    """A name or address as VIES sends it, ``None`` where the member state disclosed nothing."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return None if text.casefold() in _UNDISCLOSED else text


def parse_address(text: str, country_code: str = "NL") -> Address:
    r"""An address from VIES's text, in parts where the format allows.

    Example:
        >>> a = parse_address("BURGEMEESTER VAN KARNEBEEKLAAN 00019\n2585BB 'S-GRAVENHAGE")
        >>> a.street, a.house_number, a.postcode, a.city
        ('BURGEMEESTER VAN KARNEBEEKLAAN', 19, '2585BB', "'S-GRAVENHAGE")
    """
    lines = [" ".join(line.split()) for line in re.split(r"[\n\r]+|,\s*", text) if line.strip()]
    country = country_code.upper()
    postcode = city = None
    if len(lines) >= 2:
        pattern = _NL_LAST_LINE if country == "NL" else _OTHER_LAST_LINE
        found = pattern.match(lines[-1])
        if found is not None:
            postcode, city = found["postcode"].upper(), found["city"].strip()
            lines = lines[:-1]
    if postcode and country == "NL":
        try:
            postcode = validation.postcode(postcode)
        except ValidationError:
            postcode = None  # not a Dutch postcode (e.g. "1234SA"): an Address refuses it
    street_line = " ".join(lines)
    street, number, letter, addition = street_line or None, None, None, None
    found_number = _STREET_NUMBER.match(street_line)
    if found_number is not None:
        try:
            house = validation.split_house_number(found_number["number"])
        except ValidationError:
            house = None
        if house is not None:
            street, number = found_number["street"].strip(), house.number
            letter, addition = house.letter, house.addition
    return Address(
        kind=AddressKind.VISITING,
        street=street,
        house_number=number,
        house_letter=letter,
        house_number_addition=addition,
        postcode=postcode,
        city=city,
        country=_ISO_COUNTRY.get(country, country),
    )
