"""Validators for Dutch identifiers, addresses and bank accounts.

Every function takes the raw value as it came from a CRM or a spreadsheet,
returns the normalised string (or `HouseNumber`), and refuses anything else
with `crmconnect.errors.ValidationError`. Exceptions of python-stdnum and
schwifty never escape: they are caught and converted, with the original kept
as ``__cause__``.

Digits are checked as ASCII ``0-9`` only: ``str.isdigit`` and ``int`` also
accept other scripts' digits, which no Dutch register issues.
"""

from __future__ import annotations

import functools
import re
from typing import NoReturn

import attrs
from schwifty import BIC, IBAN
from schwifty.exceptions import (
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    InvalidStructure,
    SchwiftyException,
)
from stdnum.eu import vat as _eu_vat
from stdnum.exceptions import InvalidChecksum, InvalidComponent
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.nl import bsn as _bsn
from stdnum.nl import btw as _btw
from stdnum.nl import postcode as _postcode

from ..errors import ValidationError

__all__ = [
    "HouseNumber",
    "bic",
    "bic_from_iban",
    "branch_number",
    "bsn",
    "eu_vat_number",
    "format_postcode",
    "iban",
    "kvk_number",
    "loonheffingennummer",
    "postcode",
    "rsin",
    "sbi_code",
    "split_house_number",
    "vat_number",
]

# Characters that are not whitespace for `str.isspace` but still sneak in
# through copy and paste: zero-width spaces and joiners, word joiner, BOM.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff")

_DIGITS = re.compile(r"[0-9]+")
_VAT_BODY = re.compile(r"[0-9]{1,9}B[0-9]{2}")
_LOONHEFFINGENNUMMER = re.compile(r"(?P<fiscal>[0-9]{9})L(?P<sub>[0-9]{2})")
_SBI_SECTION = re.compile(r"[A-Ua-u]")
_ADDITION = re.compile(r"[0-9A-Za-z]{1,4}")
# Number, then an optional single letter (spaces allowed before it, not a
# hyphen or slash), then whatever remains for the addition.
_HOUSE_NUMBER = re.compile(
    r"(?P<number>[0-9]+)(?:\s*(?P<letter>[A-Za-z])(?![A-Za-z]))?(?P<rest>.*)",
    re.DOTALL,
)
_HOUSE_SEPARATORS = " \t\r\n\u00a0-/"

_KVK_LENGTH = 8
_BRANCH_LENGTH = 12
_ELFPROEF_LENGTH = 9
_MAX_HOUSE_NUMBER = 99999
_MAX_INPUT = 100
"""No identifier is longer, even with separators: longer input is refused unread."""
_MAX_INT = 10**_MAX_INPUT
EU_VAT_COUNTRIES = frozenset(state.upper() for state in _eu_vat.MEMBER_STATES) | {"EL"}
"""The country codes of EU VAT numbers, Greece both as GR and as EL (VIES)."""


# --------------------------------------------------------------------------
# helpers


def _refuse(field: str, value: object, reason: str) -> NoReturn:
    raise ValidationError(field, value, reason)


def _as_text(value: object, field: str, *, allow_int: bool) -> str:
    """Return ``value`` as text, refusing types that cannot hold the identifier.

    Text longer than `_MAX_INPUT` is refused before any cleaning or parsing
    (which would otherwise take time in proportion to it), and so is an
    integer of more digits (``str`` of an integer of more than 4,300 digits
    even raises).
    """
    if isinstance(value, str):
        if len(value) > _MAX_INPUT:
            _refuse(field, value, f"is {len(value)} characters long; no identifier is that long")
        return str(value)  # a plain str, also for a str subclass
    if isinstance(value, int) and not isinstance(value, bool) and allow_int:
        if value < 0:
            _refuse(field, value, "a negative number is not an identifier")
        if value >= _MAX_INT:
            _refuse(field, value, "has too many digits for an identifier")
        return str(value)
    expected = "a string or an integer" if allow_int else "a string"
    hint = (
        " (a float may have lost leading zeros; pass a string)" if isinstance(value, float) else ""
    )
    _refuse(field, value, f"expected {expected}, got {type(value).__name__}{hint}")


@functools.cache
def _unwanted(separators: str) -> re.Pattern[str]:
    # \s is Unicode whitespace (what str.isspace() says), plus the invisible ones.
    return re.compile("[\\s" + re.escape("".join(_INVISIBLE) + separators) + "]+")


def _clean(text: str, separators: str = "") -> str:
    """Drop all whitespace, invisible characters and the given separators."""
    if text.isascii() and text.isalnum():
        return text  # the usual case, at no cost
    return _unwanted(separators).sub("", text)


def _is_digits(text: str) -> bool:
    return _DIGITS.fullmatch(text) is not None


def _fixed_digits(
    value: object, field: str, *, length: int, name: str, pad_from: int, pad_hint: str = ""
) -> str:
    """Shared rules of the KvK number and the branch number (no checksum)."""
    text = _clean(_as_text(value, field, allow_int=True), ".")
    if not text:
        _refuse(field, value, "is empty")
    if not _is_digits(text):
        _refuse(field, value, f"{name} has {length} digits and nothing else")
    if len(text) > length:
        _refuse(field, value, f"has {len(text)} digits, {name} has {length}")
    if len(text) < pad_from:
        _refuse(field, value, f"has {len(text)} digits, {name} has {length}{pad_hint}")
    text = text.zfill(length)
    if int(text) == 0:
        _refuse(field, value, "is all zeros")
    return text


def _elfproef_number(value: object, field: str, name: str) -> str:
    """Shared rules of BSN and RSIN: 8 or 9 digits, elfproef via stdnum."""
    text = _clean(_as_text(value, field, allow_int=True), ".-")
    if not text:
        _refuse(field, value, "is empty")
    if not _is_digits(text):
        _refuse(field, value, f"{name} has 9 digits and nothing else")
    if len(text) not in (_ELFPROEF_LENGTH - 1, _ELFPROEF_LENGTH):
        _refuse(field, value, f"has {len(text)} digits, {name} has 9 (or 8 without a leading zero)")
    text = text.zfill(_ELFPROEF_LENGTH)
    if int(text) == 0:
        _refuse(field, value, "is all zeros")
    # The text is already clean 9 digits: stdnum's checksum, without its re-cleaning.
    if _bsn.checksum(text) != 0:
        _refuse(field, value, "fails the elfproef (11-test)")
    return text


def _parse_iban(value: object, field: str) -> IBAN:
    text = _clean(_as_text(value, field, allow_int=False), ".-").upper()
    if not text:
        _refuse(field, value, "is empty")
    try:
        return IBAN(text)
    except InvalidChecksumDigits as exc:
        reason = "the check digits do not match (mod 97): a typing error?"
        raise ValidationError(field, value, reason) from exc
    except InvalidCountryCode as exc:
        reason = "does not start with the code of a country that uses IBAN"
        raise ValidationError(field, value, reason) from exc
    except InvalidLength as exc:
        reason = "has the wrong length for its country (an NL IBAN has 18 characters)"
        raise ValidationError(field, value, reason) from exc
    except InvalidStructure as exc:
        reason = "does not have the structure of an IBAN of its country"
        raise ValidationError(field, value, reason) from exc
    except (SchwiftyException, ValueError) as exc:
        raise ValidationError(field, value, f"not a valid IBAN ({exc})") from exc


# --------------------------------------------------------------------------
# KvK


def kvk_number(value: str | int, *, pad: bool = False, field: str = "kvk_number") -> str:
    """Validate a KvK number (Kamer van Koophandel-nummer).

    A KvK number is exactly 8 digits. KvK publishes no checksum, so none is
    checked. Spaces and dots are dropped. Leading zeros are significant: a
    spreadsheet that read the number as a number dropped them, and
    ``pad=True`` puts them back (1 to 7 digits are left-padded to 8).

    Args:
        value: The raw number, as text or as an integer.
        pad: Left-pad a number of 1 to 7 digits with zeros.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        The 8 digits.

    Raises:
        ValidationError: When the value is not 8 digits (after padding) or all zeros.

    Example:
        >>> kvk_number("6959 9084")
        '69599084'
        >>> kvk_number(1234567, pad=True)
        '01234567'
    """
    hint = "" if pad else " (pass pad=True to restore leading zeros a spreadsheet dropped)"
    return _fixed_digits(
        value,
        field,
        length=_KVK_LENGTH,
        name="a KvK number",
        pad_from=1 if pad else _KVK_LENGTH,
        pad_hint=hint,
    )


def branch_number(value: str | int, *, field: str = "branch_number") -> str:
    """Validate a branch number (vestigingsnummer).

    A vestigingsnummer is 12 digits, without a published checksum. Spaces and
    dots are dropped, and a shorter number (1 to 11 digits) is left-padded
    with zeros to 12, as KvK itself writes them (``000037178598``).

    Args:
        value: The raw number, as text or as an integer.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        The 12 digits.

    Raises:
        ValidationError: When the value is not 1 to 12 digits, or all zeros.

    Example:
        >>> branch_number(37178598)
        '000037178598'
    """
    return _fixed_digits(
        value, field, length=_BRANCH_LENGTH, name="a branch number (vestigingsnummer)", pad_from=1
    )


# --------------------------------------------------------------------------
# Belastingdienst


def rsin(value: str | int, *, field: str = "rsin") -> str:
    """Validate an RSIN (fiscal number of a legal entity or partnership).

    9 digits that pass the elfproef, the same rule as the BSN. Spaces, dots
    and hyphens are dropped; 8 digits get a leading zero.

    Args:
        value: The raw number, as text or as an integer.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        The 9 digits.

    Raises:
        ValidationError: When the value is not 8 or 9 digits, is all zeros, or
            fails the elfproef.

    Example:
        >>> rsin("8238.07.071")
        '823807071'
    """
    return _elfproef_number(value, field, "an RSIN")


def bsn(value: str | int, *, field: str = "bsn") -> str:
    """Validate a BSN (burgerservicenummer).

    9 digits that pass the elfproef. Spaces, dots and hyphens are dropped;
    8 digits (an old number) get a leading zero. The BSN is personal data
    whose use is restricted by law: store and show it masked.

    Args:
        value: The raw number, as text or as an integer.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        The 9 digits.

    Raises:
        ValidationError: When the value is not 8 or 9 digits, is all zeros, or
            fails the elfproef.

    Example:
        >>> bsn("1112.22.333")
        '111222333'
    """
    return _elfproef_number(value, field, "a BSN")


def vat_number(value: str, *, field: str = "vat_number") -> str:
    """Validate a Dutch VAT number (btw-nummer).

    Two kinds are accepted, as python-stdnum's ``nl.btw`` does: the
    omzetbelastingnummer (RSIN or BSN + ``B`` + 2 digits, whose 9 digits pass
    the elfproef) and the btw-identificatienummer of sole traders since 2020
    (whose whole ``NL…`` string passes ISO 7064 mod 97-10). Spaces, dots and
    hyphens are dropped, the ``NL`` prefix is optional on input, and a short
    digit part is left-padded to 9. Suffix ``B00`` is never issued.

    Args:
        value: The raw VAT number.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        ``NL`` + 9 digits + ``B`` + 2 digits, upper case.

    Raises:
        ValidationError: When the value has another shape, ends in ``B00``, or
            passes neither check.

    Example:
        >>> vat_number("nl 0044.954.45 b01")
        'NL004495445B01'
    """
    text = _clean(_as_text(value, field, allow_int=False), ".-").upper()
    if not text:
        _refuse(field, value, "is empty")
    body = text.removeprefix("NL")
    if _VAT_BODY.fullmatch(body) is None:
        _refuse(field, value, "a Dutch VAT number is NL + 9 digits + B + 2 digits")
    if body.endswith("B00"):
        _refuse(field, value, "suffix B00 is never issued")
    try:
        return "NL" + str(_btw.validate(text))
    except InvalidChecksum as exc:
        reason = "fails both the elfproef (omzetbelastingnummer) and mod 97 (btw-id)"
        raise ValidationError(field, value, reason) from exc
    except StdnumValidationError as exc:
        raise ValidationError(field, value, f"not a valid Dutch VAT number ({exc})") from exc


def eu_vat_number(value: str, *, field: str = "vat_number") -> str:
    """Validate a VAT number of any EU member state (btw-identificatienummer).

    A Dutch number (``NL``, or no country code at all) follows `vat_number`.
    Another member state's number is checked with python-stdnum's ``eu.vat``:
    that country's length, format and check digits. Greece is ``EL``, as
    VIES writes it (``GR`` is accepted). Spaces, dots and hyphens are dropped.

    Args:
        value: The raw VAT number, with its country code.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        The compact number with its country code, upper case.

    Raises:
        ValidationError: When the country code is not a member state's or the
            number fails that state's rules.

    Example:
        >>> eu_vat_number("be 0123.456.749")
        'BE0123456749'
        >>> eu_vat_number("NL 0044.954.45 B01")
        'NL004495445B01'
    """
    text = _clean(_as_text(value, field, allow_int=False), ".-").upper()
    country = text[:2]
    if not country.isalpha() or country == "NL":
        return vat_number(value, field=field)
    if country == "GR":
        text = "EL" + text[2:]
    if text[:2] not in EU_VAT_COUNTRIES:
        _refuse(field, value, f"{country} is not the VAT code of an EU member state")
    try:
        number = str(_eu_vat.validate(text))
    except InvalidChecksum as exc:
        raise ValidationError(field, value, "the check digits do not match") from exc
    except StdnumValidationError as exc:
        reason = f"not a valid VAT number of {text[:2]} ({str(exc).rstrip('.')})"
        raise ValidationError(field, value, reason) from exc
    return "EL" + number[2:] if number.startswith("GR") else number


def loonheffingennummer(value: str, *, field: str = "loonheffingennummer") -> str:
    """Validate a loonheffingennummer (payroll tax number of an employer).

    The employer's RSIN or BSN, ``L`` and a 2-digit sub-number:
    ``^[0-9]{9}L[0-9]{2}$`` after dropping spaces and dots and upper-casing;
    the 9 digits must pass the elfproef.

    Args:
        value: The raw number.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        The 12-character number, e.g. ``"823807071L01"``.

    Raises:
        ValidationError: When the value has another shape or the 9 digits fail
            the elfproef.

    Example:
        >>> loonheffingennummer("8238.07.071 l01")
        '823807071L01'
    """
    text = _clean(_as_text(value, field, allow_int=False), ".").upper()
    if not text:
        _refuse(field, value, "is empty")
    match = _LOONHEFFINGENNUMMER.fullmatch(text)
    if match is None:
        _refuse(field, value, "a loonheffingennummer is 9 digits + L + 2 digits")
    if int(match["fiscal"]) == 0 or _bsn.checksum(match["fiscal"]) != 0:
        _refuse(field, value, "the 9 digits (RSIN or BSN) fail the elfproef (11-test)")
    return text


# --------------------------------------------------------------------------
# bank


def iban(value: str, *, field: str = "iban") -> str:
    """Validate an IBAN with schwifty.

    Whitespace, dots and hyphens are dropped and letters upper-cased, which
    repairs what spreadsheets and copy and paste usually do. The length,
    the structure of the country and the mod-97 check digits are checked.
    IBANs of every IBAN country are accepted, and a bank code that schwifty
    does not know is not an error.

    Args:
        value: The raw IBAN.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        The compact, upper-case IBAN.

    Raises:
        ValidationError: When the country, length, structure or check digits are wrong.

    Example:
        >>> iban("nl91 abna 0417 1643 00")
        'NL91ABNA0417164300'
    """
    return str(_parse_iban(value, field).compact)


def bic_from_iban(value: str, *, field: str = "iban") -> str | None:
    """Look up the BIC of the bank of an IBAN in schwifty's bank registry.

    Meant for Dutch IBANs (the registry knows the NL bank codes), but it
    answers for any country the registry covers.

    Args:
        value: The raw IBAN; it is validated as `iban` does.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        The BIC, or ``None`` when the bank code is not in the registry.

    Raises:
        ValidationError: When the IBAN itself is not valid.

    Example:
        >>> bic_from_iban("NL91ABNA0417164300")
        'ABNANL2A'
    """
    bic = _parse_iban(value, field).bic
    return None if bic is None else str(bic)


def bic(value: str, *, field: str = "bic") -> str:
    """Validate a BIC (SWIFT code) with schwifty.

    8 or 11 characters: bank, country, location and an optional branch.
    Whitespace, dots and hyphens are dropped and letters upper-cased. The
    structure and the country are checked; a bank that schwifty's registry
    does not know is not an error (as with `iban`).

    Args:
        value: The raw BIC.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        The compact, upper-case BIC.

    Raises:
        ValidationError: When the length, structure or country is wrong.

    Example:
        >>> bic("abna nl 2a")
        'ABNANL2A'
    """
    text = _clean(_as_text(value, field, allow_int=False), ".-").upper()
    if not text:
        _refuse(field, value, "is empty")
    try:
        return str(BIC(text).compact)
    except InvalidLength as exc:
        raise ValidationError(field, value, "a BIC has 8 or 11 characters") from exc
    except InvalidCountryCode as exc:
        reason = "characters 5 and 6 are not the code of a country"
        raise ValidationError(field, value, reason) from exc
    except (SchwiftyException, ValueError) as exc:
        raise ValidationError(field, value, f"not a valid BIC ({exc})") from exc


# --------------------------------------------------------------------------
# addresses


def postcode(value: str, *, field: str = "postcode") -> str:
    """Validate a Dutch postcode.

    Four digits (the first not 0) and two letters; the letter pairs SA, SD
    and SS are not used. Whitespace and hyphens are dropped, letters
    upper-cased, and a leading ``NL`` country prefix is accepted.

    Args:
        value: The raw postcode.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        The postcode without a space, e.g. ``"1234AB"``, as the BAG stores it.

    Raises:
        ValidationError: When the value is not a Dutch postcode.

    Example:
        >>> postcode("2611 et")
        '2611ET'
    """
    text = _clean(_as_text(value, field, allow_int=False))
    if not text:
        _refuse(field, value, "is empty")
    try:
        return str(_postcode.validate(text)).replace(" ", "")
    except InvalidComponent as exc:
        reason = "the letter pairs SA, SD and SS are not used in Dutch postcodes"
        raise ValidationError(field, value, reason) from exc
    except StdnumValidationError as exc:
        reason = "a Dutch postcode is 4 digits (the first not 0) and 2 letters, e.g. 1234 AB"
        raise ValidationError(field, value, reason) from exc


def format_postcode(value: str, *, field: str = "postcode") -> str:
    """Validate a Dutch postcode and write it the usual way, with one space.

    Args:
        value: The raw postcode.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        The postcode as ``"1234 AB"``.

    Raises:
        ValidationError: When the value is not a Dutch postcode.

    Example:
        >>> format_postcode("2611et")
        '2611 ET'
    """
    compact = postcode(value, field=field)
    return f"{compact[:4]} {compact[4:]}"


@attrs.frozen
class HouseNumber:
    """A house number split into the three BAG parts.

    `str` gives the BAG way of writing it: number, letter, then a hyphen and
    the addition (``"12A-3"``, ``"44-BIS"``).

    Attributes:
        number: The huisnummer, 1 to 99999.
        letter: The huisletter, one upper-case letter, or ``None``.
        addition: The huisnummertoevoeging, 1 to 4 upper-case letters or
            digits, or ``None``.
    """

    number: int
    letter: str | None = None
    addition: str | None = None

    def __str__(self) -> str:
        text = f"{self.number}{self.letter or ''}"
        return f"{text}-{self.addition}" if self.addition else text


def split_house_number(value: str | int, *, field: str = "house_number") -> HouseNumber:
    """Split a free-text house number into number, letter and addition (BAG).

    The text must start with the number (1 to 99999). A single letter right
    after it, with or without a space, is the huisletter (``"12a"``,
    ``"17 M"``). What follows, with hyphens, slashes and spaces trimmed from
    both ends, is the huisnummertoevoeging: 1 to 4 letters or digits
    (``"12 bis"``, ``"12-II"``, ``"12A-3"``). A letter after a hyphen or
    slash is a toevoeging, as the BAG writes it (``"12-A"``). Letters are
    upper-cased.

    Args:
        value: The raw house number, as text or as an integer.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        The three parts.

    Raises:
        ValidationError: When the text does not start with a number in range
            or the rest is not a valid letter and addition.

    Example:
        >>> split_house_number("12a-3")
        HouseNumber(number=12, letter='A', addition='3')
        >>> split_house_number("12 bis")
        HouseNumber(number=12, letter=None, addition='BIS')
    """
    text = _as_text(value, field, allow_int=True).strip()
    if not text:
        _refuse(field, value, "is empty")
    match = _HOUSE_NUMBER.fullmatch(text)
    if match is None:
        _refuse(field, value, "a house number starts with its number (1 to 99999)")
    number = int(match["number"])
    if not 1 <= number <= _MAX_HOUSE_NUMBER:
        _refuse(field, value, f"the number {number} is outside 1 to 99999")
    letter = match["letter"].upper() if match["letter"] else None
    rest = match["rest"].strip(_HOUSE_SEPARATORS)
    if not rest:
        return HouseNumber(number, letter, None)
    if _ADDITION.fullmatch(rest) is None:
        _refuse(field, value, f"the addition {rest!r} is not 1 to 4 letters or digits")
    return HouseNumber(number, letter, rest.upper())


# --------------------------------------------------------------------------
# SBI


def sbi_code(value: str | int, *, field: str = "sbi_code") -> str:
    """Validate an SBI activity code (Standaard Bedrijfsindeling).

    An activity code is 4 or 5 digits (SBI 2008 has both; since SBI 2025 all
    codes have 5). It is kept exactly as given, apart from surrounding
    whitespace, and never padded: ``"01110"`` keeps its leading zero and
    ``"6201"`` stays 4 digits. Codes of 2 or 3 digits and section letters
    are higher levels of the classification, not activity codes.

    An integer is accepted only with 4 or 5 digits and returned as
    ``str(value)``. Integers cannot hold leading zeros, so an integer may
    stand for another code (``1110`` may have been ``"01110"``): pass strings
    whenever the source has them.

    Args:
        value: The raw code, preferably as text.
        field: The CRM field name to report in a `ValidationError`.

    Returns:
        The code as a string of 4 or 5 digits.

    Raises:
        ValidationError: When the value is not 4 or 5 digits.

    Example:
        >>> sbi_code("01110")
        '01110'
        >>> sbi_code(6201)
        '6201'
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1000 <= value <= 99999:
            reason = (
                "an integer SBI code must have 4 or 5 digits"
                " (an integer has lost any leading zero; pass a string)"
            )
            _refuse(field, value, reason)
        return str(value)
    text = _as_text(value, field, allow_int=False).strip()
    if not text:
        _refuse(field, value, "is empty")
    if _SBI_SECTION.fullmatch(text):
        _refuse(field, value, "is an SBI section letter, not an activity code of 4 or 5 digits")
    if not _is_digits(text):
        _refuse(field, value, "an SBI activity code is 4 or 5 digits and nothing else")
    if len(text) in (2, 3):
        level = "division" if len(text) == 2 else "group"
        reason = f"{len(text)} digits is an SBI {level}, not an activity code of 4 or 5 digits"
        _refuse(field, value, reason)
    if len(text) not in (4, 5):
        _refuse(field, value, f"has {len(text)} digits, an SBI activity code has 4 or 5")
    return text
