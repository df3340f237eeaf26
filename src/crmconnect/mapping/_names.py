"""Person names: written in a chosen style, and a single remote name split back into its parts.

A bookkeeping service holds a person's name in one text field; the CRM holds
initials, first names, infix (tussenvoegsel) and last name apart. Going out,
`format_person_name` writes them in a `NameStyle`; coming in,
`parse_person_name` splits one text into those parts where it can, and
otherwise keeps the whole text as the last name, so nothing is lost.

The Dutch rules followed (Onze Taal, Taaladvies): an infix is written in lower
case after a first name or initials (``J.P. van der Berg``) and with a capital
when nothing precedes it (``Van der Berg``), except ``'t`` and ``d'``, which
stay lower case; a capitalised infix *after* a first name is a Belgian name and
belongs to the last name (``Patsy Van der Meeren``); initials are capitals with
a full stop, ``IJ.`` being one initial.

No library fits: ``nameparser`` (the well-kept one on PyPI) is English-centric
(it folds ``van der`` into the last name and knows no initials-with-full-stop
convention), and the Dutch ones are Odoo add-ons, not libraries.
"""

from __future__ import annotations

import re
from enum import StrEnum

import attrs

from ..models import Person

__all__ = [
    "GIVEN_NAMES_TOO",
    "TUSSENVOEGSELS",
    "NameStyle",
    "PersonName",
    "format_person_name",
    "initials_of",
    "parse_person_name",
]


class NameStyle(StrEnum):
    """How a person's name is written into a remote service's single name field."""

    LAST_NAME = "last_name"
    """``Van der Berg``: the last name only, with its infix."""
    INITIALS = "initials"
    """``J.P. van der Berg``: initials, infix and last name."""
    FULL_NAME = "full_name"
    """``Jan Pieter van der Berg``: first names (initials when unknown), infix and last name."""


@attrs.frozen
class PersonName:
    """The parts of a person's name, as the canonical `Person` holds them.

    Attributes:
        initials: E.g. ``"J.P."``.
        first_name: First name(s), e.g. ``"Jan Pieter"``.
        infix: Tussenvoegsel, e.g. ``"van der"``.
        last_name: Surname without the infix, e.g. ``"Berg"``.
    """

    initials: str | None = None
    first_name: str | None = None
    infix: str | None = None
    last_name: str | None = None

    @classmethod
    def of(cls, person: Person) -> PersonName:
        """The name parts of a `Person`."""
        return cls(person.initials, person.first_name, person.infix, person.last_name)


_TABEL_36: tuple[str, ...] = (
    # The voorvoegsels of the BRP (GBA Tabel 36, "Voorvoegseltabel"), in lower case;
    # left out: single letters without an apostrophe ("a", "d", "l", "s", "t", read
    # as initials) and spelling variants that differ only in capitals.
    "'s", "'t", "aan", "aan 't", "aan de", "aan den", "aan der", "aan het", "aan t",
    "af", "al", "am", "auf", "auf dem", "auf den", "auf der", "auf ter", "aus",
    "aus 'm", "aus dem", "aus den", "aus der", "aus m", "ben", "bij", "bij 't",
    "bij de", "bij den", "bij het", "bij t", "bin", "boven d'", "d'", "da", "dal",
    "dal'", "dalla", "das", "de", "de die", "de die le", "de l'", "de la", "de las",
    "de le", "de van der", "deca", "degli", "dei", "del", "della", "den", "der", "des",
    "di", "die", "die le", "do", "don", "dos", "du", "el", "het", "im", "in", "in 't",
    "in de", "in den", "in der", "in het", "in t", "l'", "la", "las", "le", "les",
    "lo", "los", "onder", "onder 't", "onder de", "onder den", "onder het", "onder t",
    "op", "op 't", "op de", "op den", "op der", "op gen", "op het", "op t", "op ten",
    "over", "over 't", "over de", "over den", "over het", "over t", "te", "ten", "ter",
    "tho", "thoe", "thor", "to", "toe", "tot", "uijt", "uijt 't", "uijt de",
    "uijt den", "uijt te de", "uijt ten", "uit", "uit 't", "uit de", "uit den",
    "uit het", "uit t", "uit te de", "uit ten", "unter", "van", "van 't", "van de",
    "van de l'", "van den", "van der", "van gen", "van het", "van la", "van t",
    "van ter", "van van de", "ver", "vom", "von", "von 't", "von dem", "von den",
    "von der", "von t", "voor", "voor 't", "voor de", "voor den", "voor in 't",
    "voor in t", "vor", "vor der", "zu", "zum", "zur",
)  # fmt: skip

TUSSENVOEGSELS: tuple[str, ...] = tuple(
    sorted(_TABEL_36, key=lambda infix: (-len(infix.split()), -len(infix), infix))
)
"""The Dutch infixes (voorvoegsels) recognised, longest first.

The BRP's voorvoegseltabel (GBA Tabel 36), multi-word ones included (``van
der``, ``de la``, ``in 't``, ``uit te de``), less single letters without an
apostrophe, which would be read as initials. Words that are first names too
(`GIVEN_NAMES_TOO`) count as an infix only when written in lower case.
"""

GIVEN_NAMES_TOO: frozenset[str] = frozenset(
    {"al", "ben", "bin", "di", "do", "don", "el", "les", "lo", "thor"}
)
"""Infixes that are first names as well: ``Ben de Vries`` is Ben, not the infix ``ben``.

They count as an infix only when written in lower case (``Mohammed bin Salman``).
"""

_INFIXES = sorted((tuple(infix.split()) for infix in TUSSENVOEGSELS), key=len, reverse=True)
_LOWER_ALWAYS = ("'t", "'s", "d'")
_INITIALS = re.compile(r"(?:(?:IJ|Th|Chr|Ph|[A-Z])\.)+|[A-Z]")
"""One token of initials: ``J.P.``, ``IJ.``, ``Th.``, or a bare capital ``J``."""
_ONE_INITIAL = re.compile(r"IJ|Th|Chr|Ph|[A-Z]")
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['\-][^\W\d_]+)*'?", re.UNICODE)
"""A word of a name: letters, joined by hyphens or apostrophes (``Anne-Marie``, ``O'Neill``)."""


def initials_of(first_names: str | None) -> str | None:
    """Initials from first names: ``"Jan Pieter"`` → ``"J.P."``, ``"IJsbrand"`` → ``"IJ."``.

    Example:
        >>> initials_of("Anne-Marie Ilse")
        'A.M.I.'
    """
    if not first_names:
        return None
    parts = [part for part in re.split(r"[\s\-]+", first_names) if part]
    return "".join(f"{'IJ' if part[:2].upper() == 'IJ' else part[0].upper()}." for part in parts)


def _capitalised(infix: str) -> str:
    if infix.lower().startswith(_LOWER_ALWAYS):
        return infix
    return infix[:1].upper() + infix[1:]


def format_person_name(name: Person | PersonName, style: NameStyle = NameStyle.FULL_NAME) -> str:
    """Write a person's name in a style; an infix with nothing before it gets a capital.

    Example:
        >>> from crmconnect.models import Person
        >>> p = Person(initials="J.P.", first_name="Jan Pieter", infix="van der", last_name="Berg")
        >>> format_person_name(p, NameStyle.INITIALS)
        'J.P. van der Berg'
        >>> format_person_name(p, NameStyle.LAST_NAME)
        'Van der Berg'
    """
    parts = PersonName.of(name) if isinstance(name, Person) else name
    if style is NameStyle.LAST_NAME:
        first = None
    elif style is NameStyle.INITIALS:
        first = parts.initials or initials_of(parts.first_name)
    else:
        first = parts.first_name or parts.initials
    infix = parts.infix
    if infix and not first:
        infix = _capitalised(infix)
    surname = parts.last_name
    if infix and infix.endswith("'") and surname:
        infix, surname = None, f"{infix}{surname}"  # d'Ancona: the apostrophe joins
    return " ".join(part for part in (first, infix, surname) if part)


def parse_person_name(text: str | None) -> PersonName:
    """Split one name into initials or first names, infix and last name where it can.

    Handles ``"J.P. van der Berg"``, ``"Jan Pieter van der Berg"``, ``"Van der
    Berg"``, ``"'t Hart"``, ``"Ester van der Ven-van Dijk"`` and the sorting
    form ``"Berg, J.P. van der"``. Anything else (a title such as ``Dr.``,
    digits, ``&``, a trailing infix) is kept whole as the last name, so that
    writing the parts back gives the same text.

    Example:
        >>> parse_person_name("Jan Pieter van der Berg")
        PersonName(initials='J.P.', first_name='Jan Pieter', infix='van der', last_name='Berg')
        >>> parse_person_name("Bakkerij Jansen & Zn.").last_name
        'Bakkerij Jansen & Zn.'
    """
    cleaned = " ".join((text or "").replace("’", "'").split())
    if not cleaned:
        return PersonName()
    return _parse(cleaned) or PersonName(last_name=cleaned)


def _parse(text: str) -> PersonName | None:
    if text.count(",") == 1:
        surname, _, given = (part.strip() for part in text.partition(","))
        return _parse_sorting_form(surname, given, shouting=text.isupper())
    if "," in text:
        return None
    words = _split_elided(text.split(" "))
    for start in range(len(words)):
        infix = _infix_at(words, start)
        if infix is None:
            continue
        rest = words[start + len(infix) :]
        if not rest:
            return None  # "Jan van": no last name after the infix
        if start and infix[0].istitle():
            # A capitalised infix after a first name is Belgian: part of the last name.
            return _named(words[:start], None, words[start:])
        return _named(words[:start], _infix_text(infix, text.isupper()), rest)
    return _named(words[:-1], None, words[-1:])


def _infix_text(infix: tuple[str, ...], shouting: bool) -> str:
    """The infix in lower case, as stored; a name written all in capitals keeps them."""
    joined = " ".join(infix)
    return joined if shouting else joined.lower()


_ELIDED = tuple(infix for infix in TUSSENVOEGSELS if " " not in infix and infix.endswith("'"))
"""Infixes written joined to the name: ``d'Ancona``, ``de l'Isle``, ``dal'Acqua``."""


def _split_elided(words: list[str]) -> list[str]:
    """``d'Ancona`` → ``d'``, ``Ancona``: an elided infix is written joined to the name."""
    split: list[str] = []
    for word in words:
        cut = word.find("'") + 1
        if 1 < cut < len(word) and word[:cut].lower() in _ELIDED and word[cut].isalpha():
            split.extend((word[:cut], word[cut:]))
        else:
            split.append(word)
    return split


def _parse_sorting_form(surname: str, given: str, *, shouting: bool) -> PersonName | None:
    """``"Berg, J.P. van der"`` or ``"van der Berg, J.P."``: the last name first."""
    last = _split_elided(surname.split(" "))
    words = _split_elided(given.split(" ")) if given else []
    leading = _infix_at(last, 0)
    if leading is not None and len(leading) < len(last):
        return _named(words, _infix_text(leading, shouting), last[len(leading) :])
    for start in range(len(words)):
        if _infix_at(words, start) == tuple(words[start:]):
            return _named(words[:start], _infix_text(tuple(words[start:]), shouting), last)
    return _named(words, None, last)


def _infix_at(words: list[str], start: int) -> tuple[str, ...] | None:
    """The longest infix that starts at ``words[start]``, as written; ``None`` if none does."""
    for infix in _INFIXES:
        end = start + len(infix)
        if end <= len(words) and all(
            word.lower() == part for word, part in zip(words[start:end], infix, strict=True)
        ):
            if infix[0] in GIVEN_NAMES_TOO and not words[start].islower():
                continue  # "Ben de Vries": a first name
            return tuple(words[start:end])
    return None


def _named(given: list[str], infix: str | None, surname: list[str]) -> PersonName | None:
    if not surname or not all(_NAME_WORD.fullmatch(word) for word in surname):
        return None
    last_name = " ".join(surname)
    if not given:
        return PersonName(infix=infix, last_name=last_name)
    if all(_INITIALS.fullmatch(word) for word in given):
        initials = "".join(f"{one}." for one in _ONE_INITIAL.findall("".join(given)))
        return PersonName(initials=initials, infix=infix, last_name=last_name)
    if all(_NAME_WORD.fullmatch(word) for word in given):
        first_name = " ".join(given)
        return PersonName(initials_of(first_name), first_name, infix, last_name)
    return None
