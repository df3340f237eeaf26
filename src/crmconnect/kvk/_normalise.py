"""Pure normalisation and scoring helpers for matching CRM records to the KvK.

Everything here is free of I/O and side effects, so the `Matcher` can call it
tens of thousands of times: regular expressions are compiled once and the
string normalisers are memoised with `functools.lru_cache`.

The rules follow ``dutch-data-rules.md`` §5 (addresses, company names, place
names) and §4 (legal forms):

* company names: strip accents, casefold, turn punctuation into spaces and
  drop legal-form words (``B.V.``, ``Stichting``, ``U.A.``, ...) at either end;
* place names: the same folding plus an alias table from colloquial names
  (``Den Bosch``) to the official BAG woonplaats (``'s-Hertogenbosch``);
* addresses: postcode + house number (+ letter + addition) as one key, with a
  loose comparison of letter and addition when one side lacks them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache
from types import MappingProxyType

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

_CACHE_SIZE = 65536

# Typographic apostrophes and quotes that should behave like ``'``.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
# Every run of non-word characters (and ``_``) becomes one space. This covers
# ``& . , - / ' " ( ) +`` and any other punctuation or symbol.
_NON_WORD = re.compile(r"[\W_]+")

# --------------------------------------------------------------------------
# company names

# Legal-form words, as token sequences *after* punctuation became spaces, so
# ``B.V.``, ``b.v``, ``B V`` and ``BV`` are all recognised. Only stripped at
# the start or end of a name. Unspaced ``wa``/``ba``/``io`` are left out on
# purpose: they are too likely to be part of a real name.
_LEGAL_FORMS: frozenset[tuple[str, ...]] = frozenset(
    {
        ("besloten", "vennootschap", "met", "beperkte", "aansprakelijkheid"),
        ("besloten", "vennootschap"),
        ("naamloze", "vennootschap"),
        ("commanditaire", "vennootschap"),
        ("vennootschap", "onder", "firma"),
        ("vereniging", "van", "eigenaars"),
        ("in", "oprichting"),
        ("b", "v"),
        ("bv",),
        ("n", "v"),
        ("nv",),
        ("v", "o", "f"),
        ("vof",),
        ("c", "v"),
        ("cv",),
        ("cooperatie",),
        ("cooperatieve",),
        ("u", "a"),
        ("ua",),
        ("w", "a"),
        ("b", "a"),
        ("i", "o"),
        ("stichting",),
        ("vereniging",),
        ("vve",),
        ("maatschap",),
        ("eenmanszaak",),
    }
)
_HOLDING: frozenset[tuple[str, ...]] = frozenset({("holding",)})
_FORMS_WITH_HOLDING = _LEGAL_FORMS | _HOLDING
# Longest first, so "besloten vennootschap" wins over a shorter overlap.
_FORM_LENGTHS = tuple(sorted({len(form) for form in _FORMS_WITH_HOLDING}, reverse=True))

# "h.o.d.n." / "h.o.d.n" / "hodn" / "(tevens) handelend onder de naam".
_HODN = re.compile(
    r"(?:\btevens\s+)?(?:\bh\.\s*o\.\s*d\.\s*n\b\.?|\bhodn\b|\bhandelend\s+onder\s+de\s+naam\b)",
    re.IGNORECASE,
)


def _fold(text: str) -> str:
    """Strip accents (NFKD, drop combining marks), casefold, unify apostrophes."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(char for char in decomposed if not unicodedata.combining(char))
    return text.casefold().translate(_APOSTROPHES)


def _strip_forms(tokens: list[str], forms: frozenset[tuple[str, ...]]) -> list[str]:
    """Drop legal-form token sequences from both ends until none is left."""
    start, end = 0, len(tokens)
    changed = True
    while changed and start < end:
        changed = False
        for length in _FORM_LENGTHS:
            if end - start >= length and tuple(tokens[start : start + length]) in forms:
                start += length
                changed = True
                break
        for length in _FORM_LENGTHS:
            if end - start >= length and tuple(tokens[end - length : end]) in forms:
                end -= length
                changed = True
                break
    return tokens[start:end]


@lru_cache(maxsize=_CACHE_SIZE)
def _normalise_name(name: str, strip_holding: bool) -> str:
    tokens = _NON_WORD.sub(" ", _fold(name)).split()
    stripped = _strip_forms(tokens, _FORMS_WITH_HOLDING if strip_holding else _LEGAL_FORMS)
    # Never reduce a name to nothing: "Holding B.V." alone stays "holding b v".
    return " ".join(stripped or tokens)


def normalise_name(name: str, *, strip_holding: bool = True) -> str:
    """Normalise a company name for matching (dutch-data-rules §5.2).

    Steps: NFKD and drop combining marks (``Coöperatie`` -> ``cooperatie``),
    casefold, typographic apostrophes to ``'``, every punctuation character
    (``& . , - / ' " ( ) +`` and any other non-letter, non-digit) to a space,
    collapse spaces, then strip legal-form words at the start and the end,
    repeatedly: ``B.V.``/``BV``/``b.v``, ``N.V.``, ``V.O.F.``, ``C.V.``,
    ``Coöperatie``, ``U.A.``, ``W.A.``, ``B.A.``, ``Stichting``,
    ``Vereniging``, ``Maatschap``, ``i.o.``/``in oprichting``,
    ``Eenmanszaak``, the spelled-out forms (``besloten vennootschap``, ...)
    and, with ``strip_holding``, ``Holding``.

    Legal forms in the middle of a name are kept. When stripping would leave
    nothing, the unstripped text is returned, so a name with letters or
    digits never becomes empty.

    Args:
        name: The raw company name.
        strip_holding: Also drop ``holding``. Turn it off when a holding and
            its operating company must stay apart.

    Returns:
        The normalised name, lower-case ASCII words separated by one space
        (non-Latin letters are kept).

    Example:
        >>> normalise_name("Jansen Holding B.V.")
        'jansen'
        >>> normalise_name("Coöperatie De Eendracht U.A.")
        'de eendracht'
    """
    return _normalise_name(name, strip_holding)


@lru_cache(maxsize=_CACHE_SIZE)
def _name_variants(name: str) -> tuple[str, ...]:
    parts = _HODN.split(name)
    full = normalise_name(" ".join(parts))
    variants = [full] if full else []
    for part in parts:
        variant = normalise_name(part)
        if variant and variant not in variants:
            variants.append(variant)
    return tuple(variants)


def name_variants(name: str) -> list[str]:
    """Split a name on "h.o.d.n." and normalise every part.

    ``h.o.d.n.``, ``h.o.d.n``, ``hodn`` and ``(tevens) handelend onder de
    naam`` are recognised in any case.

    Args:
        name: The raw company name, possibly holding several names.

    Returns:
        The distinct normalised names: first the whole name (with the
        "h.o.d.n." marker removed), then each part in order. Empty when the
        name has no letters or digits.

    Example:
        >>> name_variants("Jansen B.V. h.o.d.n. Bakkerij Jansen")
        ['jansen b v bakkerij jansen', 'jansen', 'bakkerij jansen']
    """
    return list(_name_variants(name))


def _similarity(a: str, b: str) -> float:
    """Score two already-normalised names, 0-100."""
    if not a or not b:
        return 0.0
    # token_set_ratio alone scores a name contained in the other as 100
    # ("jansen" vs "jansen installatietechniek"), token_sort_ratio alone
    # punishes any extra word hard. Their mean keeps word order irrelevant,
    # gives partial credit for extra words and scales that credit by length.
    # WRatio is not used: its partial_ratio scores substrings inside words
    # ("ing" vs "jansen engineering" = 90), which is wrong for names.
    return (fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 2.0


def name_similarity(a: str, b: str) -> float:
    """Score how alike two company names are, from 0 to 100.

    Both names go through `normalise_name` first, so legal forms, case,
    accents and punctuation do not count. The score is the mean of
    rapidfuzz's ``token_set_ratio`` and ``token_sort_ratio``: word order does
    not matter (``Bakkerij Jansen`` = ``Jansen Bakkerij``), a name that is
    part of the other scores high but below an exact match, and a small typo
    costs a few points. ``WRatio`` is deliberately not used, because it
    rewards substrings inside words.

    Args:
        a: One raw company name.
        b: The other raw company name.

    Returns:
        100.0 for the same normalised name, 0.0 when either has no letters or
        digits.

    Example:
        >>> name_similarity("Jansen Bouw", "Jansen Bouw B.V.")
        100.0
    """
    return _similarity(normalise_name(a), normalise_name(b))


def best_name_similarity(name: str, candidates: Iterable[str]) -> float:
    """Score a name against several names and return the best score.

    Both the name and each candidate are split into their "h.o.d.n."
    variants (see `name_variants`); every pair is compared with the
    `name_similarity` scorer.

    Args:
        name: The raw name from the CRM.
        candidates: Raw names from the register (statutory name, trade names,
            former names, ...).

    Returns:
        The highest score, 0.0 when there are no candidates.
    """
    ours = _name_variants(name)
    best = 0.0
    for candidate in candidates:
        for theirs in _name_variants(candidate):
            for variant in ours:
                score = _similarity(variant, theirs)
                if score > best:
                    if score >= 100.0:
                        return score
                    best = score
    return best


# --------------------------------------------------------------------------
# place names

CITY_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        # 's-Hertogenbosch
        "den bosch": "s hertogenbosch",
        "hertogenbosch": "s hertogenbosch",
        "s hertogenbosch": "s hertogenbosch",
        # 's-Gravenhage (the BAG woonplaats of The Hague)
        "den haag": "s gravenhage",
        "the hague": "s gravenhage",
        "la haye": "s gravenhage",
        "gravenhage": "s gravenhage",
        # other 's- places, spelled without the 's
        "gravenzande": "s gravenzande",
        "heerenberg": "s heerenberg",
        "gravendeel": "s gravendeel",
        "gravenpolder": "s gravenpolder",
        # "a/d" abbreviations
        "alphen a d rijn": "alphen aan den rijn",
        "alphen ad rijn": "alphen aan den rijn",
        "capelle a d ijssel": "capelle aan den ijssel",
        "capelle ad ijssel": "capelle aan den ijssel",
        "krimpen a d ijssel": "krimpen aan den ijssel",
        "krimpen ad ijssel": "krimpen aan den ijssel",
        "ouderkerk a d amstel": "ouderkerk aan de amstel",
        "ouderkerk ad amstel": "ouderkerk aan de amstel",
        "koudekerk a d rijn": "koudekerk aan den rijn",
        "koudekerk ad rijn": "koudekerk aan den rijn",
        # stadsdelen that are not woonplaatsen
        "amsterdam zuidoost": "amsterdam",
        "amsterdam z o": "amsterdam",
    }
)
"""Colloquial or abbreviated place names -> the key of the official BAG woonplaats.

Keys and values are in `normalise_city` key form (accents stripped,
lower-case, punctuation as single spaces). Not exhaustive; extend it (ideally
from the BAG woonplaatsen and gemeentenamen lists).
"""

# Province suffixes that tell same-named places apart ("Bergen NH",
# "Hengelo (Gld)"); see `same_city`.
_PROVINCES = frozenset(
    {"nh", "zh", "nb", "l", "lb", "gld", "gl", "ov", "fr", "dr", "u", "ut", "z", "zl", "gr", "fl"}
)


@lru_cache(maxsize=_CACHE_SIZE)
def _city_key(city: str) -> str:
    key = " ".join(_NON_WORD.sub(" ", _fold(city)).split())
    if key.startswith("st "):
        key = "sint " + key[3:]
    return CITY_ALIASES.get(key, key)


def normalise_city(city: str) -> str:
    """Normalise a place name to a comparison key (dutch-data-rules §5.1).

    NFKD and drop accents, casefold, apostrophes, hyphens and other
    punctuation to single spaces (``'S-HERTOGENBOSCH`` -> ``s
    hertogenbosch``), a leading ``St``/``St.`` to ``sint``, then map through
    `CITY_ALIASES` (``Den Bosch`` -> ``s hertogenbosch``, ``Den Haag`` ->
    ``s gravenhage``).

    Args:
        city: The raw place name.

    Returns:
        The key: a comparison value, not meant for display. Empty when the
        name has no letters or digits.

    Example:
        >>> normalise_city("Den Bosch") == normalise_city("'s-Hertogenbosch")
        True
    """
    return _city_key(city)


def same_city(a: str, b: str) -> bool:
    """Tell whether two place names are the same woonplaats.

    Compares `normalise_city` keys. A province suffix on one side only is
    ignored (``Bergen NH`` = ``Bergen``), but two different suffixes are not
    (``Bergen NH`` != ``Bergen L``).

    Args:
        a: One raw place name.
        b: The other raw place name.

    Returns:
        True when both name the same place; False when they differ or either
        is empty.
    """
    key_a, key_b = _city_key(a), _city_key(b)
    if not key_a or not key_b:
        return False
    if key_a == key_b:
        return True
    base_a, _, suffix_a = key_a.rpartition(" ")
    base_b, _, suffix_b = key_b.rpartition(" ")
    if base_a and suffix_a in _PROVINCES and base_a == key_b:
        return True
    return bool(base_b and suffix_b in _PROVINCES and base_b == key_a)


# --------------------------------------------------------------------------
# postcodes and house numbers

_POSTCODE_JUNK = re.compile(r"[^0-9A-Za-z]+")
_POSTCODE = re.compile(r"(?:NL)?([1-9][0-9]{3})((?!SA|SD|SS)[A-Z]{2})")
# Number, then optionally a single letter directly after it (a space, hyphen
# or slash in between is allowed) that is not followed by another letter,
# then the rest for the addition.
_HOUSE_NUMBER = re.compile(r"([0-9]+)(?:[\s/-]*([A-Za-z])(?![A-Za-z]))?(.*)", re.DOTALL)
_ADDITION_JUNK = re.compile(r"[\s./-]+")
_ADDITION = re.compile(r"[0-9A-Z]{1,4}")
_LETTER = re.compile(r"[A-Z]")
_MAX_HOUSE_NUMBER = 99999


def normalise_postcode_loose(value: str | None) -> str | None:
    """Normalise a Dutch postcode from dirty data, without raising.

    Spaces, hyphens and other punctuation are dropped, letters upper-cased,
    and an ``NL`` prefix is allowed (``"NL-1234 ab"``).

    Args:
        value: The raw postcode.

    Returns:
        The postcode as ``"1234AB"``, or None when it is not a Dutch postcode
        (4 digits, the first not 0, and 2 letters other than SA, SD, SS).

    Example:
        >>> normalise_postcode_loose("1234 ab")
        '1234AB'
    """
    if not value:
        return None
    match = _POSTCODE.fullmatch(_POSTCODE_JUNK.sub("", value).upper())
    return match[1] + match[2] if match else None


def _clean_letter(letter: str | None) -> str | None:
    """Upper-case a huisletter; "" when absent, None when not one letter."""
    text = (letter or "").strip().upper()
    if not text:
        return ""
    return text if _LETTER.fullmatch(text) else None


def _clean_addition(addition: str | None) -> str | None:
    """Upper-case a toevoeging without ``- /`` and spaces; "" when absent, None when invalid."""
    text = _ADDITION_JUNK.sub("", addition or "").upper()
    if not text:
        return ""
    return text if _ADDITION.fullmatch(text) else None


def _split_house_number(value: int | str) -> tuple[int, str, str] | None:
    """Split a house number into number, letter and addition, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number, letter, addition = value, "", ""
    else:
        match = _HOUSE_NUMBER.fullmatch(value.strip())
        if match is None:
            return None
        number = int(match[1])
        letter = (match[2] or "").upper()
        cleaned = _clean_addition(match[3])
        if cleaned is None:
            return None
        addition = cleaned
    if not 1 <= number <= _MAX_HOUSE_NUMBER:
        return None
    return number, letter, addition


def address_key(
    postcode: str | None,
    house_number: int | str | None,
    letter: str | None = None,
    addition: str | None = None,
) -> str | None:
    """Build the address matching key of dutch-data-rules §5.1.

    The key is ``postcode|number|letter|addition``: the postcode without a
    space in upper case, the house number as an integer, the huisletter in
    upper case and the toevoeging in upper case without ``-``, ``/`` and
    spaces, e.g. ``"1034WL|17|M|"``.

    A text house number is split: a single letter directly after the number
    (``"17M"``, ``"17 M"``, ``"17-M"``) is the letter, the rest (1 to 4
    letters or digits) the addition (``"12A-3"`` -> ``12``, ``A``, ``3``;
    ``"12 bis"`` -> ``12``, ``BIS``). An explicit ``letter`` or ``addition``
    argument wins over the part split from the text.

    Args:
        postcode: The raw postcode.
        house_number: The house number, as an integer or free text.
        letter: The huisletter, if kept separately.
        addition: The huisnummertoevoeging, if kept separately.

    Returns:
        The key, or None when the postcode or house number is missing or
        invalid, or the letter or addition is malformed.

    Example:
        >>> address_key("1034 wl", "17 m")
        '1034WL|17|M|'
    """
    code = normalise_postcode_loose(postcode)
    if code is None or house_number is None:
        return None
    split = _split_house_number(house_number)
    if split is None:
        return None
    number, split_letter, split_addition = split
    clean_letter = _clean_letter(letter)
    clean_addition = _clean_addition(addition)
    if clean_letter is None or clean_addition is None:
        return None
    return f"{code}|{number}|{clean_letter or split_letter}|{clean_addition or split_addition}"


def _loose_part(value: str | None) -> str:
    return _ADDITION_JUNK.sub("", value).upper() if value else ""


def house_number_matches(
    a_letter: str | None,
    a_addition: str | None,
    b_letter: str | None,
    b_addition: str | None,
) -> bool:
    """Compare huisletter and toevoeging of two addresses loosely.

    Use it after postcode and house number agree. Rules:

    * a side with neither letter nor addition matches anything (fall back to
      postcode + house number);
    * letter+addition written together equal on both sides match, so a
      letter stored as a toevoeging still matches (``A``/-- vs --/``A``);
    * a part present on both sides must be equal (case-insensitive, ``-``,
      ``/`` and spaces ignored); a part missing on one side is not compared;
    * when no part is present on both sides and the written-together forms
      differ (``17A`` vs ``17-2``), they do not match.

    Args:
        a_letter: The huisletter of the first address.
        a_addition: The toevoeging of the first address.
        b_letter: The huisletter of the second address.
        b_addition: The toevoeging of the second address.

    Returns:
        True when the two can be the same address.
    """
    al, aa = _loose_part(a_letter), _loose_part(a_addition)
    bl, ba = _loose_part(b_letter), _loose_part(b_addition)
    if not (al or aa) or not (bl or ba) or al + aa == bl + ba:
        return True
    shared = False
    if al and bl:
        if al != bl:
            return False
        shared = True
    if aa and ba:
        if aa != ba:
            return False
        shared = True
    return shared
