"""The KvK sandbox's officers (functionarissen): KvK's test companies' and invented ones.

KvK publishes no officers of its old test companies (69599084 and friends;
its Functionarissen test data are other companies, on preprod): every person
here is invented, in the Donald Duck theme of KvK's test data. Companies
without a list of their own (generated ones, KvK's other test numbers) get
officers that fit their legal form, the same for the same KvK number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from ._kvk_data import Company

__all__ = ["OfficerRecord", "default_officers", "test_company_officers"]

_DATE = attrs.validators.optional(attrs.validators.matches_re(r"[0-9]{8}"))


def _mapping(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


@attrs.frozen
class OfficerRecord:
    """One officer of a registration, as the sandbox keeps it.

    Attributes:
        function: ``functie``, e.g. ``"Bestuurder"``, ``"Eigenaar"``, ``"Vennoot"``.
        kind: ``typeFunctionaris``, e.g. ``"Bestuursfunctie"``, ``"Aansprakelijke"``.
        title: ``functietitel``, e.g. ``"Directeur"``.
        first_names: The person's first names.
        infix: The infix (voorvoegsel), e.g. ``"van der"``.
        last_name: The last name without the infix.
        legal_person_name: The name of an officer that is a legal person.
        start_date: Date of entry, ``YYYYMMDD``.
        end_date: Date the function ended, ``YYYYMMDD``; ``None`` while in office.
        authority: ``soortBevoegdheid``, e.g. ``"Alleen/zelfstandig bevoegd"``.
        branch_number: The branch of an authorised representative.
        extra: More fields to serve as they are (dotted names nest), e.g. to
            test that a client keeps fields it does not know.
    """

    function: str
    kind: str | None = None
    title: str | None = None
    first_names: str | None = None
    infix: str | None = None
    last_name: str | None = None
    legal_person_name: str | None = None
    start_date: str | None = attrs.field(default=None, validator=_DATE)
    end_date: str | None = attrs.field(default=None, validator=_DATE)
    authority: str | None = None
    branch_number: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, converter=_mapping)

    @property
    def full_name(self) -> str | None:
        """First names, infix and last name (``None`` for a legal person)."""
        parts = [p for p in (self.first_names, self.infix, self.last_name) if p]
        return " ".join(parts) or None

    @property
    def initials(self) -> str | None:
        """``"Jan-Willem"`` → ``"J.W."``."""
        words = re.split(r"[\s\-]+", self.first_names or "")
        return "".join(f"{word[0].upper()}." for word in words if word) or None

    def matches(self, last_name: str, first_names: str | None = None) -> bool:
        """Whether this is the officer of that name (any case; first names when given)."""
        same = (self.last_name or self.legal_person_name or "").casefold() == last_name.casefold()
        if first_names is None:
            return same
        return same and (self.first_names or "").casefold() == first_names.casefold()


def _director(first: str, last: str, infix: str | None = None, **more: Any) -> OfficerRecord:
    more.setdefault("kind", "Bestuursfunctie")
    more.setdefault("function", "Bestuurder")
    return OfficerRecord(first_names=first, infix=infix, last_name=last, **more)


def test_company_officers() -> dict[str, tuple[OfficerRecord, ...]]:
    """Officers of KvK's test companies (invented people), by KvK number."""
    alone = "Alleen/zelfstandig bevoegd"
    return {
        "69599084": (  # Test EMZ Dagobert: the owner and two authorised representatives
            OfficerRecord("Eigenaar", kind="Eigenaar", first_names="Dagobert", last_name="Duck",
                          start_date="20170108"),
            OfficerRecord("Gevolmachtigde", kind="Gemachtigde", title="Bedrijfsleider",
                          first_names="Guus", last_name="Geluk", start_date="20180301",
                          authority="Volledig bevoegd", branch_number="000038509504"),
            OfficerRecord("Gevolmachtigde", kind="Gemachtigde", first_names="Gijs",
                          last_name="Gans", start_date="20190101", authority="Beperkt bevoegd",
                          branch_number="000038509520"),
        ),
        "68750110": (  # Test BV Donald: a director and a supervisory board member
            _director("Donald", "Duck", title="Directeur", start_date="20140120",
                      authority=alone),
            OfficerRecord("Commissaris", kind="OverigeFunctionaris", first_names="Katrien",
                          last_name="Duck", start_date="20160601"),
        ),
        "90001354": (  # Grand Joyflex B.V.: a holding as director, and a person
            OfficerRecord("Bestuurder", kind="Bestuursfunctie",
                          legal_person_name="Test Holding Joyflex B.V.", start_date="20190801"),
            _director("Willem", "Wortel", "van der", title="Algemeen directeur",
                      start_date="20190801", authority=alone),
        ),
        "68727720": (  # Test NV Katrien: a director, and one who left
            _director("Katrien", "Duck", start_date="20140120", authority=alone),
            _director("Anna", "Vries", "de", start_date="20140120", end_date="20200101"),
        ),
        "69599076": (  # Test VOF Kwik en Kwek: two partners
            OfficerRecord("Vennoot", kind="Aansprakelijke", first_names="Kwik",
                          last_name="Duck", start_date="20170108"),
            OfficerRecord("Vennoot", kind="Aansprakelijke", first_names="Kwek",
                          last_name="Duck", start_date="20170108"),
        ),
        "90000749": (_director("Jan-Willem", "Horst", "ter", start_date="20150101"),),
        "69599068": (  # Test Stichting Bolderbast: a board of two
            _director("Henk", "Hart", "'t", title="Voorzitter", start_date="20170108"),
            _director("Mieke", "Berg", "van den", title="Penningmeester",
                      start_date="20170108"),
        ),
        "96354429": (  # Test Coöperatie Gijs Gans U.A., ended: keeper of the books
            _director("Gijs", "Gans", start_date="20190101", end_date="20230630"),
            OfficerRecord("Bewaarder boeken en bescheiden", kind="OverigeFunctionaris",
                          first_names="Otto", infix="van", last_name="Dam",
                          start_date="20230630"),
        ),
    }  # fmt: skip


_FIRST_NAMES = ("Jan", "Sanne", "Pieter", "Fatima", "Daan", "Eva", "Mohamed", "Lotte", "Bram")
_LAST_NAMES = (
    (None, "Jansen"),
    ("de", "Vries"),
    (None, "Bakker"),
    ("van den", "Berg"),
    (None, "Visser"),
    ("van", "Dijk"),
    (None, "Yilmaz"),
    ("de", "Boer"),
    (None, "Smit"),
    ("van der", "Meer"),
    (None, "Mulder"),
)


def _person(seed: int, **fields: Any) -> OfficerRecord:
    infix, last = _LAST_NAMES[seed % len(_LAST_NAMES)]
    first = _FIRST_NAMES[(seed // len(_LAST_NAMES)) % len(_FIRST_NAMES)]
    return OfficerRecord(first_names=first, infix=infix, last_name=last, **fields)


def default_officers(company: Company) -> tuple[OfficerRecord, ...]:
    """Officers that fit a company's legal form, the same for the same KvK number.

    An eenmanszaak has its owner, a partnership (VOF, CV, maatschap) two
    partners, every other legal form one director.
    """
    seed = int(company.kvk_number)
    start = company.start_date or company.registration_date or None
    if start is not None and start.endswith("00"):
        start = None  # a start with unknown parts is no date of entry
    form = company.legal_form.casefold()
    if "eenmanszaak" in form:
        return (_person(seed, function="Eigenaar", kind="Eigenaar", start_date=start),)
    if any(word in form for word in ("onder firma", "commanditaire", "maatschap")):
        function = "Maat" if "maatschap" in form else "Vennoot"
        return tuple(
            _person(seed + i * 7, function=function, kind="Aansprakelijke", start_date=start)
            for i in range(2)
        )
    return (_person(seed, function="Bestuurder", kind="Bestuursfunctie", start_date=start),)
