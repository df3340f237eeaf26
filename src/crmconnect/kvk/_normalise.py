"""Normalisation and similarity of names, cities and addresses (pure, no I/O).

Used by the matcher and the update service. Names lose legal-form words,
case, diacritics and punctuation before they are compared; cities go
through an alias table ('s-Hertogenbosch = Den Bosch).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz import fuzz

__all__ = [
    "CITY_ALIASES",
    "address_key",
    "best_name_similarity",
    "house_number_matches",
    "name_similarity",
    "name_variants",
    "normalise_city",
    "normalise_name",
    "normalise_postcode_loose",
    "same_city",
]

# Legal-form words, compared after punctuation became spaces ("b.v." → "b v").
_LEGAL_FORMS = (
    "besloten vennootschap",
    "naamloze vennootschap",
    "vennootschap onder firma",
    "commanditaire vennootschap",
    "b v",
    "bv",
    "n v",
    "nv",
    "v o f",
    "vof",
    "c v",
    "cv",
    "cooperatie",
    "u a",
    "ua",
    "w a",
    "b a",
    "stichting",
    "vereniging",
    "maatschap",
    "eenmanszaak",
    "i o",
    "in oprichting",
)
_LEGAL_RE = re.compile(
    r"^(?:(?:" + "|".join(_LEGAL_FORMS) + r")\s+)+|(?:\s+(?:" + "|".join(_LEGAL_FORMS) + r"))+$"
)
_HOLDING_RE = re.compile(r"^(?:holding\s+)+|(?:\s+holding)+$")
_PUNCTUATION = re.compile(r"[&.,\-/'\"()+`’]")
_HODN = re.compile(r"\bh\.?\s*o\.?\s*d\.?\s*n\.?(?=\s|$)|handelend onder de naam", re.IGNORECASE)

CITY_ALIASES: dict[str, str] = {
    "den bosch": "s hertogenbosch",
    "hertogenbosch": "s hertogenbosch",
    "den haag": "s gravenhage",
    "the hague": "s gravenhage",
    "gravenhage": "s gravenhage",
}
"""Colloquial names → the official BAG woonplaats key. Not exhaustive; extend it."""


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.casefold()


@lru_cache(maxsize=65536)
def normalise_name(name: str, *, strip_holding: bool = True) -> str:
    """Normalise a company name for comparison.

    Example:
        >>> normalise_name("Coöperatie De Eendracht U.A.")
        'de eendracht'
    """
    text = " ".join(_PUNCTUATION.sub(" ", _fold(name)).split())
    stripped = text
    for _ in range(3):
        stripped = _LEGAL_RE.sub("", stripped).strip()
        if strip_holding:
            stripped = _HOLDING_RE.sub("", stripped).strip()
    return stripped or text


def name_variants(name: str) -> list[str]:
    """The normalised names in a name with "h.o.d.n." (trading as), the full one first."""
    variants = [normalise_name(name)]
    for part in _HODN.split(name):
        if part.strip():
            normalised = normalise_name(part)
            if normalised and normalised not in variants:
                variants.append(normalised)
    return variants


@lru_cache(maxsize=65536)
def name_similarity(a: str, b: str) -> float:
    """Similarity of two company names, 0-100, after normalisation.

    ``token_sort_ratio`` ignores word order ("Bakkerij Jansen" = "Jansen
    Bakkerij") but, unlike ``token_set_ratio``, still punishes extra words,
    so "Jansen" does not equal "Janssen Installatietechniek".
    """
    left, right = normalise_name(a), normalise_name(b)
    if not left or not right:
        return 0.0
    return float(fuzz.token_sort_ratio(left, right))


def best_name_similarity(name: str, candidates: Iterable[str]) -> float:
    """The best similarity of a name (and its h.o.d.n. variants) to any candidate."""
    ours = name_variants(name)
    return max(
        (name_similarity(a, b) for b in candidates if b for a in ours),
        default=0.0,
    )


@lru_cache(maxsize=8192)
def normalise_city(city: str) -> str:
    """A city as a comparison key: 'S-HERTOGENBOSCH, Den Bosch → 's hertogenbosch'."""
    text = " ".join(_PUNCTUATION.sub(" ", _fold(city)).split())
    return CITY_ALIASES.get(text, text)


def same_city(a: str, b: str) -> bool:
    """Whether two spellings name the same city."""
    return normalise_city(a) == normalise_city(b)


_POSTCODE = re.compile(r"^([1-9][0-9]{3})\s*([A-Za-z]{2})$")
_HOUSE = re.compile(r"^\s*([0-9]{1,5})\s*([A-Za-z](?![A-Za-z]))?[\s\-/]*([0-9A-Za-z]{1,4})?\s*$")


def normalise_postcode_loose(value: str | None) -> str | None:
    """Compact a Dutch postcode ("1234 ab" → "1234AB"); ``None`` when it is not one."""
    if not value:
        return None
    found = _POSTCODE.match(value.strip())
    return (found.group(1) + found.group(2).upper()) if found else None


def address_key(
    postcode: str | None,
    house_number: int | str | None,
    letter: str | None = None,
    addition: str | None = None,
) -> str | None:
    """Matching key ``"1034WL|17|M|"``; ``None`` when postcode or number is unusable."""
    code = normalise_postcode_loose(postcode)
    if code is None or house_number is None:
        return None
    found = _HOUSE.match(str(house_number))
    if not found:
        return None
    number, parsed_letter, parsed_addition = found.groups()
    letter = (letter or parsed_letter or "").upper()
    addition = re.sub(r"[\s\-/]", "", addition or parsed_addition or "").upper()
    return f"{code}|{int(number)}|{letter}|{addition}"


def house_number_matches(
    a_letter: str | None, a_addition: str | None, b_letter: str | None, b_addition: str | None
) -> bool:
    """Loose comparison: a side without letter/addition matches any."""
    for ours, theirs in ((a_letter, b_letter), (a_addition, b_addition)):
        if ours and theirs and ours.strip().upper() != theirs.strip().upper():
            return False
    return True
