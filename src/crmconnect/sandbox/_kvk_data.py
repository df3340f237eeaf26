"""The KvK sandbox's register: data model, KvK's test companies, synthetic data, index.

The model uses English names; `crmconnect.sandbox._kvk` turns it into KvK's
Dutch wire format. Identifiers are strings (leading zeros matter), dates are
KvK's ``YYYYMMDD`` strings, where ``00`` stands for an unknown month or day.

`kvk_test_companies` writes KvK's fictional test companies as Python data.
Facts come from KvK's documentation and from recordings of its test
environment; where those are silent (most addresses, some names, dates, RSINs
of companies whose RSIN is not published) the values are invented and marked
``# invented``.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
import random
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

import attrs

__all__ = [
    "Address",
    "AddressKind",
    "Branch",
    "Company",
    "GeoData",
    "Register",
    "ResultType",
    "SbiActivity",
    "SearchHit",
    "SearchQuery",
    "as_kvk_date",
    "generate_companies",
    "kvk_test_companies",
    "rsin_is_valid",
]

AddressKind = Literal["bezoekadres", "correspondentieadres"]
"""Visiting address or correspondence (postal) address, as the profiles call them."""

ResultType = Literal["hoofdvestiging", "nevenvestiging", "rechtspersoon"]
"""The kinds of Zoeken results."""

_KVK_NUMBER = attrs.validators.matches_re(r"[0-9]{8}")
_BRANCH_NUMBER = attrs.validators.matches_re(r"[0-9]{12}")
_DATE = attrs.validators.optional(attrs.validators.matches_re(r"[0-9]{8}"))
_DATE_OR_EMPTY = attrs.validators.matches_re(r"([0-9]{8})?")


def as_kvk_date(value: str | dt.date) -> str:
    """Write a date as KvK does: ``YYYYMMDD`` (strings pass unchanged)."""
    return value.strftime("%Y%m%d") if isinstance(value, dt.date) else value


def rsin_is_valid(rsin: str) -> bool:
    """Check an RSIN: nine digits passing the elfproef (weights 9..2 and -1)."""
    if len(rsin) != 9 or not rsin.isdigit() or int(rsin) == 0:
        return False
    total = sum((9 - i) * int(c) for i, c in enumerate(rsin[:8])) - int(rsin[8])
    return total % 11 == 0


@attrs.frozen(kw_only=True)
class GeoData:
    """BAG identifiers and coordinates of an address (KvK's ``geoData``).

    Attributes:
        bag_object_id: ``addresseerbaarObjectId``, 16 digits.
        bag_number_id: ``nummerAanduidingId``, 16 digits.
        latitude: ``gpsLatitude`` (WGS84).
        longitude: ``gpsLongitude`` (WGS84).
        rd_x: ``rijksdriehoekX`` in metres.
        rd_y: ``rijksdriehoekY`` in metres.
        rd_z: ``rijksdriehoekZ`` in metres.
    """

    bag_object_id: str
    bag_number_id: str
    latitude: float
    longitude: float
    rd_x: float
    rd_y: float
    rd_z: float = 0.0


@attrs.frozen(kw_only=True)
class Address:
    """An address of a branch or (for companies without branches) of the owner.

    Attributes:
        city: ``plaats``.
        street: ``straatnaam`` (``"Postbus"`` for a PO box, as KvK writes it).
        house_number: ``huisnummer``.
        house_letter: ``huisletter``, one letter.
        house_number_addition: ``huisnummerToevoeging``, e.g. ``"A"`` or ``"bis"``.
        postcode: ``postcode``, written ``1234AB``.
        po_box: ``postbusnummer``.
        kind: ``bezoekadres`` or ``correspondentieadres``.
        shielded: ``indAfgeschermd``: only the city is shown.
        addition: ``toevoegingAdres``, e.g. ``"3e etage"``.
        region: ``regio`` (foreign addresses).
        country: ``land``; anything but ``"Nederland"`` is a foreign address.
        geo: BAG data, shown with ``geoData=true``.
    """

    city: str
    street: str | None = None
    house_number: int | None = None
    house_letter: str | None = None
    house_number_addition: str | None = None
    postcode: str | None = None
    po_box: int | None = None
    kind: AddressKind = "bezoekadres"
    shielded: bool = False
    addition: str | None = None
    region: str | None = None
    country: str = "Nederland"
    geo: GeoData | None = None

    @property
    def domestic(self) -> bool:
        """Whether the address is in the Netherlands."""
        return self.country == "Nederland"


@attrs.frozen
class SbiActivity:
    """An activity code (SBI 2008; kept as a string, leading zeros matter).

    Attributes:
        code: ``sbiCode``, e.g. ``"01241"``.
        description: ``sbiOmschrijving``.
        main: ``indHoofdactiviteit``.
    """

    code: str
    description: str
    main: bool = False


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _addresses(values: Iterable[Address]) -> tuple[Address, ...]:
    return tuple(values)


def _activities(values: Iterable[SbiActivity]) -> tuple[SbiActivity, ...]:
    return tuple(values)


def _branches(values: Iterable[Branch]) -> tuple[Branch, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class Branch:
    """A vestiging (establishment) of a company.

    Attributes:
        number: ``vestigingsnummer``, 12 digits.
        trade_names: ``handelsnamen`` in registration order; the first is
            ``eersteHandelsnaam``.
        addresses: ``adressen``.
        is_main: ``indHoofdvestiging``.
        commercial: ``indCommercieleVestiging``.
        registration_date: ``formeleRegistratiedatum``.
        start_date: ``materieleRegistratie.datumAanvang``.
        end_date: ``materieleRegistratie.datumEinde``; set when the branch closed.
        full_time_employees: ``voltijdWerkzamePersonen``.
        part_time_employees: ``deeltijdWerkzamePersonen``.
        websites: ``websites``.
        sbi_activities: ``sbiActiviteiten``.
        former_names: Expired names; Zoeken finds them and shows ``vervallenNaam``.
        non_mailing: ``indNonMailing``; ``None`` means "as the company".
    """

    number: str = attrs.field(validator=_BRANCH_NUMBER)
    trade_names: tuple[str, ...] = attrs.field(converter=_strings)
    addresses: tuple[Address, ...] = attrs.field(converter=_addresses)
    is_main: bool = False
    commercial: bool = True
    registration_date: str = attrs.field(default="", validator=_DATE_OR_EMPTY)
    start_date: str = attrs.field(default="", validator=_DATE_OR_EMPTY)
    end_date: str | None = attrs.field(default=None, validator=_DATE)
    full_time_employees: int = 0
    part_time_employees: int = 0
    websites: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    sbi_activities: tuple[SbiActivity, ...] = attrs.field(default=(), converter=_activities)
    former_names: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    non_mailing: bool | None = None

    @trade_names.validator
    def _check_names(self, _attribute: object, value: tuple[str, ...]) -> None:
        if not value:
            raise ValueError(f"branch {self.number} needs at least one trade name")

    @property
    def name(self) -> str:
        """``eersteHandelsnaam``: the first trade name."""
        return self.trade_names[0]

    @property
    def total_employees(self) -> int:
        """``totaalWerkzamePersonen``: full-time plus part-time."""
        return self.full_time_employees + self.part_time_employees

    @property
    def active(self) -> bool:
        """Whether the branch is still open."""
        return self.end_date is None


@attrs.frozen(kw_only=True)
class Company:
    """A registration (maatschappelijke activiteit) with its owner and branches.

    Attributes:
        kvk_number: ``kvkNummer``, 8 digits.
        name: ``naam``: statutory name or first trade name.
        legal_form: ``eigenaar.rechtsvorm``, e.g. ``"Besloten Vennootschap"``.
        extended_legal_form: ``uitgebreideRechtsvorm``; defaults to ``legal_form``.
        rsin: ``eigenaar.rsin``; ``None`` for an eenmanszaak.
        statutory_name: ``statutaireNaam`` (only with registered statutes).
        trade_names: ``handelsnamen``; empty means "those of the branches,
            main branch first", which is what KvK shows.
        branches: The vestigingen; empty for e.g. a VvE or a stichting without
            an enterprise.
        sbi_activities: ``sbiActiviteiten``.
        registration_date: ``formeleRegistratiedatum``.
        start_date: ``materieleRegistratie.datumAanvang``.
        end_date: ``materieleRegistratie.datumEinde``; set once deregistered.
        deregistration_date: ``eigenaar.datumUitschrijving``.
        non_mailing: ``indNonMailing``: no unsolicited mail or door-to-door sales.
        total_employees: ``totaalWerkzamePersonen``; ``None`` means the sum over
            the branches (and absent without branches).
        addresses: The owner's addresses (shown only without branches).
        websites: The owner's websites (shown only without branches).
        former_names: Expired names, found by Zoeken as ``vervallenNaam``.
        also_known_as: Naamgeving's ``ookGenoemd``.
    """

    kvk_number: str = attrs.field(validator=_KVK_NUMBER)
    name: str
    legal_form: str
    extended_legal_form: str | None = None
    rsin: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.matches_re(r"[0-9]{9}"))
    )
    statutory_name: str | None = None
    trade_names: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    branches: tuple[Branch, ...] = attrs.field(default=(), converter=_branches)
    sbi_activities: tuple[SbiActivity, ...] = attrs.field(default=(), converter=_activities)
    registration_date: str = attrs.field(default="", validator=_DATE_OR_EMPTY)
    start_date: str = attrs.field(default="", validator=_DATE_OR_EMPTY)
    end_date: str | None = attrs.field(default=None, validator=_DATE)
    deregistration_date: str | None = attrs.field(default=None, validator=_DATE)
    non_mailing: bool = False
    total_employees: int | None = None
    addresses: tuple[Address, ...] = attrs.field(default=(), converter=_addresses)
    websites: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    former_names: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    also_known_as: str | None = None

    @branches.validator
    def _check_branches(self, _attribute: object, value: tuple[Branch, ...]) -> None:
        if sum(branch.is_main for branch in value) > 1:
            raise ValueError(f"company {self.kvk_number} has more than one main branch")

    @property
    def active(self) -> bool:
        """Whether the registration is still active."""
        return self.end_date is None and self.deregistration_date is None

    @property
    def main_branch(self) -> Branch | None:
        """The hoofdvestiging, if any."""
        return next((branch for branch in self.branches if branch.is_main), None)

    @property
    def ordered_branches(self) -> tuple[Branch, ...]:
        """The branches, main branch first."""
        return tuple(sorted(self.branches, key=lambda branch: not branch.is_main))

    @property
    def all_trade_names(self) -> tuple[str, ...]:
        """``handelsnamen`` as KvK shows them: explicit, or the branches' in order."""
        if self.trade_names:
            return self.trade_names
        seen: dict[str, None] = {}
        for branch in self.ordered_branches:
            seen.update(dict.fromkeys(branch.trade_names))
        return tuple(seen)

    @property
    def employees(self) -> int | None:
        """``totaalWerkzamePersonen``: explicit, else the sum over the branches."""
        if self.total_employees is not None:
            return self.total_employees
        if not self.branches:
            return None
        return sum(branch.total_employees for branch in self.branches)


# --- KvK's fictional test companies ---------------------------------------------------

_SBI_MEAT = (
    SbiActivity(
        "10110",
        "Verwerking en conservering van vlees, met uitzondering van vlees van gevogelte",
        True,
    ),
    SbiActivity("10120", "Verwerking en conservering van vlees van gevogelte"),
    SbiActivity("10130", "Vervaardiging van vleesproducten"),
)
_SBI_INTEREST = (SbiActivity("94997", "Overige belangenbehartiging (rest)", True),)
_SBI_APPLES = (SbiActivity("01241", "Teelt van appels en peren", True),)
_SBI_SOFTWARE = (SbiActivity("62010", "Ontwikkelen, produceren en uitgeven van software", True),)
_SBI_ADVICE = (SbiActivity("70221", "Organisatie-adviesbureaus", True),)
_SBI_HOLDING = (SbiActivity("64200", "Financiële holdings", True),)
_BV = ("Besloten Vennootschap", "Besloten Vennootschap met gewone structuur")
_NV = ("Naamloze Vennootschap", "Naamloze Vennootschap met gewone structuur")


def _visit(
    street: str,
    number: int,
    postcode: str,
    city: str,
    *,
    letter: str | None = None,
    addition: str | None = None,
    geo: GeoData | None = None,
) -> Address:
    """A visiting address (bezoekadres)."""
    return Address(
        street=street, house_number=number, house_letter=letter,
        house_number_addition=addition, postcode=postcode, city=city, geo=geo,
    )  # fmt: skip


def _dagobert() -> Company:
    """Eenmanszaak with a main branch and one other branch (recorded, HAL)."""
    main = Branch(
        number="000038509504",
        trade_names=(
            "Test EMZ Dagobert",
            "Tweede handelsnaam 1MZ",
            "Derde handelsnaam 1MZ",
            "Vierde handelsnaam 1MZ",
        ),
        addresses=(_visit("Abebe Bikilalaan", 17, "1034WL", "Amsterdam", letter="M"),),
        is_main=True,
        registration_date="20200828",
        start_date="20150828",
        full_time_employees=1,
        sbi_activities=_SBI_MEAT,
    )
    other = Branch(
        number="000038509520",
        trade_names=(
            "Test EMZ Nevenvestiging Govert",
            "Tweede handelsnaam Vestiging2",
            "Derde handelsnaam Vestiging2",
            "Vierde handelsnaam Vestiging2",
        ),
        addresses=(_visit("Geneinde", 4, "6211DZ", "Maastricht"),),  # number, postcode invented
        registration_date="20200828",  # invented
        start_date="20150828",  # invented
        sbi_activities=_SBI_MEAT[:1],  # invented
    )
    return Company(
        kvk_number="69599084",
        name="Test EMZ Dagobert",
        legal_form="Eenmanszaak",
        registration_date="20170710",
        start_date="20170108",
        non_mailing=True,
        sbi_activities=_SBI_MEAT,
        branches=(main, other),
    )


def _donald() -> Company:
    """BV with a PO box and a visiting address with a toevoeging (recorded, JSON)."""
    po_box = Address(
        street="Postbus", po_box=200, postcode="1000AE", city="Rommeldam",
        kind="correspondentieadres",
    )  # fmt: skip
    main = Branch(
        number="000037178598",
        trade_names=("Test BV Donald",),
        addresses=(po_box, _visit("Hizzaarderlaan", 3, "8823SJ", "Lollum", addition="A")),
        is_main=True,
        registration_date="20200210",
        start_date="20140210",
        full_time_employees=1,
        sbi_activities=_SBI_APPLES,
    )
    other = Branch(  # invented, apart from its number
        number="000037178601",
        trade_names=("Test BV Donald Fruithandel",),
        addresses=(_visit("Dorpsstraat", 12, "8823SK", "Lollum"),),
        registration_date="20200210",
        start_date="20160401",
        part_time_employees=2,
        sbi_activities=_SBI_APPLES,
    )
    return Company(
        kvk_number="68750110",
        name="Test BV Donald",
        legal_form=_BV[0],
        extended_legal_form=_BV[1],
        rsin="857587973",
        statutory_name="Test BV Donald",
        registration_date="20200210",  # invented
        start_date="20140210",  # invented
        non_mailing=True,
        sbi_activities=_SBI_APPLES,
        branches=(main, other),
    )


def _global_conron() -> Company:
    """Vereniging van Eigenaars without branches: the owner holds the address (recorded)."""
    return Company(
        kvk_number="90000749",
        name="Global Conron",
        legal_form="Vereniging van Eigenaars",
        rsin="992340597",
        statutory_name="Global Conron",
        registration_date="20100208",
        start_date="19991103",
        non_mailing=True,
        sbi_activities=_SBI_INTEREST,
        addresses=(_visit("Blaauwweg", 163, "3328XD", "Dordrecht"),),
    )


def _grand_joyflex() -> Company:
    """BV whose address is shielded: Zoeken shows only the city (recorded)."""
    main = Branch(
        number="990000541921",
        trade_names=("Grand Joyflex B.V.",),
        addresses=(Address(city="Sterksel", kind="correspondentieadres", shielded=True),),
        is_main=True,
        registration_date="20190315",  # invented
        start_date="20190301",  # invented
        full_time_employees=3,  # invented
        sbi_activities=_SBI_SOFTWARE,  # invented
    )
    return Company(
        kvk_number="90001354",
        name="Grand Joyflex B.V.",
        legal_form=_BV[0],
        extended_legal_form=_BV[1],
        rsin="992760562",
        statutory_name="Grand Joyflex B.V.",
        registration_date="20190315",  # invented
        start_date="20190301",  # invented
        sbi_activities=_SBI_SOFTWARE,
        branches=(main,),
    )


def _geodata_foundation() -> Company:
    """Stichting whose branches carry BAG data (KvK's geoData case; details invented)."""
    utrecht = GeoData(
        bag_object_id="0344010000104582", bag_number_id="0344200000104582",
        latitude=52.0894, longitude=5.1137, rd_x=136013.0, rd_y=455710.0,
    )  # fmt: skip
    amsterdam = GeoData(
        bag_object_id="0363010000958212", bag_number_id="0363200000958212",
        latitude=52.3676, longitude=4.9041, rd_x=121394.0, rd_y=486794.0,
    )  # fmt: skip
    name = "Test Stichting Geodata Gijs"
    main = Branch(
        number="990064773193",
        trade_names=(name,),
        addresses=(_visit("Catharijnesingel", 55, "3511GD", "Utrecht", geo=utrecht),),
        is_main=True,
        registration_date="20210104",
        start_date="20210101",
        full_time_employees=4,
        part_time_employees=6,
        websites=("www.example.nl",),
        sbi_activities=_SBI_INTEREST,
    )
    other = Branch(
        number="990064773207",
        trade_names=("Geodata Gijs Amsterdam",),
        addresses=(_visit("Herengracht", 182, "1016BR", "Amsterdam", geo=amsterdam),),
        registration_date="20210104",
        start_date="20210101",
        part_time_employees=2,
        sbi_activities=_SBI_INTEREST,
    )
    return Company(
        kvk_number="90006623",
        name=name,
        legal_form="Stichting",
        extended_legal_form="Stichting",
        rsin="993311775",
        statutory_name=name,
        registration_date="20210104",
        start_date="20210101",
        sbi_activities=_SBI_INTEREST,
        branches=(main, other),
    )


def _simple(
    kvk: str,
    name: str,
    legal_form: tuple[str, str],
    branches: Sequence[tuple[str, Address]],
    *,
    rsin: str | None,
    statutory: bool = True,
    sbi: tuple[SbiActivity, ...] = _SBI_ADVICE,
    dates: tuple[str, str] = ("20180101", "20180101"),
    owner_address: Address | None = None,
    end: str | None = None,
) -> Company:
    """A test company whose details beyond name and legal form are invented."""
    built = tuple(
        Branch(
            number=number, trade_names=(name if i == 0 else f"{name} {address.city}",),
            addresses=(address,), is_main=i == 0, registration_date=dates[0],
            start_date=dates[1], full_time_employees=2 if i == 0 else 1, sbi_activities=sbi,
            end_date=end,
        )
        for i, (number, address) in enumerate(branches)
    )  # fmt: skip
    return Company(
        kvk_number=kvk, name=name, legal_form=legal_form[0], extended_legal_form=legal_form[1],
        rsin=rsin, statutory_name=name if statutory else None, registration_date=dates[0],
        start_date=dates[1], sbi_activities=sbi, branches=built,
        addresses=(owner_address,) if owner_address else (), end_date=end,
        deregistration_date=end,
    )  # fmt: skip


def _other_test_companies() -> list[Company]:
    """KvK's other test numbers; names are KvK's where known, the rest is invented."""
    vof = ("Vennootschap onder firma", "Vennootschap onder firma")
    coop = ("Coöperatie", "Coöperatie met uitgesloten aansprakelijkheid")
    foundation = ("Stichting", "Stichting")
    return [
        _simple("69599068", "Test Stichting Bolderbast", foundation, [], rsin="857588436",
                owner_address=_visit("Oosterwal", 9, "7241AR", "Lochem"), sbi=_SBI_INTEREST,
                dates=("20170710", "20170108")),
        _simple("90004760", "Local Funzoom N.V.", _NV,
                [("990000765126", _visit("Eikenlaan", 12, "2351HM", "Leiderdorp"))],
                rsin="993322165", sbi=_SBI_HOLDING, dates=("20200415", "20200401")),
        _simple("68727720", "Test NV Katrien", _NV,
                [("000037143557", _visit("Stationsweg", 14, "8331HS", "Steenwijk"))],
                rsin="857575223", sbi=_SBI_HOLDING, dates=("20170301", "20140120")),
        _simple("69599076", "Test VOF Kwik en Kwek", vof,
                [("000038509474", _visit("Kerkstraat", 1, "9711AB", "Groningen")),
                 ("000038509490", _visit("Vismarkt", 22, "9712CD", "Groningen"))],
                rsin="857588473", statutory=False, dates=("20170710", "20170108")),
        _simple("90005414", "Test VOF Guus Geluk", vof,
                [("990000216645", _visit("Marktplein", 5, "5211AA", "'s-Hertogenbosch")),
                 ("990000821206", _visit("Hinthamerstraat", 80, "5211MR", "'s-Hertogenbosch"))],
                rsin="993350367", statutory=False),
        _simple("96354429", "Test Coöperatie Gijs Gans U.A.", coop,
                [("990001987781", _visit("Molenweg", 3, "6511AB", "Nijmegen"))],
                rsin="993386404", end="20230630", dates=("20190101", "20190101")),
        _simple("55344526", "Test Coöperatie Zwarte Magica U.A.", coop,
                [("000025784431", _visit("Havenstraat", 7, "3011AA", "Rotterdam"))],
                rsin="851232413", dates=("20120601", "20120601")),
        _simple("90002520", "Test Kerkgenootschap Lupus", ("Kerkgenootschap", "Kerkgenootschap"),
                [], rsin="993269515", owner_address=_visit("Kerkplein", 1, "3811AA", "Amersfoort"),
                dates=("20100208", "18850000")),  # KvK writes unknown month and day as 00
        _simple("90002490", "Test Onderlinge Waarborg Maatschappij Madam Mim U.A.",
                ("Onderlinge Waarborg Maatschappij", "Onderlinge Waarborg Maatschappij"),
                [("990000246858", _visit("Beursplein", 2, "1012JW", "Amsterdam"))],
                rsin="993269163"),
        _simple("90001745", "Test Maatschap Zwarte Piet", ("Maatschap", "Maatschap"),
                [("990000637800", _visit("Neude", 11, "3512AE", "Utrecht"))],
                rsin="993262193", statutory=False),
        _simple("90003942", "Test CV Willie Wortel", ("Commanditaire Vennootschap",
                                                      "Commanditaire Vennootschap"),
                [("990000008288", _visit("Grote Markt", 1, "9711LV", "Groningen")),
                 ("990000246530", _visit("Vrijthof", 2, "6211LD", "Maastricht")),
                 ("990000768218", _visit("Grote Markt", 3, "2011RD", "Haarlem")),
                 ("990000852070", _visit("Markt", 4, "4811WJ", "Breda"))],
                rsin="993291600", statutory=False),
        _simple("90000102", "Test Stichting Kwak", foundation,
                [("990000102037", _visit("Lange Voorhout", 8, "2514ED", "'s-Gravenhage"))],
                rsin="993257057"),
        _simple("55505201", "Test Overige Privaatrechtelijke Rechtspersoon Oma Duck",
                ("Overige Privaatrechtelijke Rechtspersoon",
                 "Overige Privaatrechtelijke Rechtspersoon"),
                [], rsin="851279302", owner_address=_visit("Hoofdstraat", 20, "7311AA",
                                                           "Apeldoorn"),
                dates=("20120915", "19230600")),
        _thousand_branches(),
    ]  # fmt: skip


def _thousand_branches() -> Company:
    """KvK's BV with 1000 branches (90006577); everything but the count is invented."""
    branches = tuple(
        Branch(
            number=f"9900657{i:05d}",
            trade_names=("Test BV Duizendpoot" if i == 0 else f"Duizendpoot Filiaal {i}",),
            addresses=(_visit("Filiaalstraat", i + 1, f"{3511 + i % 70}AB", "Utrecht"),),
            is_main=i == 0, registration_date="20211001", start_date="20211001",
            full_time_employees=1, sbi_activities=_SBI_ADVICE,
        )
        for i in range(1000)
    )  # fmt: skip
    return Company(
        kvk_number="90006577", name="Test BV Duizendpoot", legal_form=_BV[0],
        extended_legal_form=_BV[1], rsin="993357829", statutory_name="Test BV Duizendpoot",
        registration_date="20211001", start_date="20211001", sbi_activities=_SBI_ADVICE,
        branches=branches,
    )  # fmt: skip


def kvk_test_companies() -> list[Company]:
    """KvK's fictional test companies (Donald Duck themed), as the sandbox's default register.

    Returns:
        A fresh list; the records themselves are immutable.
    """
    return [
        _dagobert(),
        _donald(),
        _global_conron(),
        _grand_joyflex(),
        _geodata_foundation(),
        *_other_test_companies(),
    ]


# --- synthetic companies --------------------------------------------------------------


@attrs.frozen
class _City:
    name: str
    postcodes: tuple[int, int]
    municipality: str
    latitude: float
    longitude: float
    rd_x: float
    rd_y: float
    weight: int


# Real cities with their postcode range, CBS municipality code (the first four
# digits of BAG ids), approximate centre and a weight close to their size.
_CITIES: tuple[_City, ...] = tuple(
    _City(name, (low, high), code, lat, lon, x, y, weight)
    for name, low, high, code, lat, lon, x, y, weight in (
        ("Amsterdam", 1011, 1109, "0363", 52.3728, 4.8936, 121500, 487000, 9),
        ("Rotterdam", 3011, 3089, "0599", 51.9225, 4.4792, 92500, 437500, 7),
        ("'s-Gravenhage", 2491, 2599, "0518", 52.0705, 4.3007, 81000, 454500, 6),
        ("Utrecht", 3511, 3585, "0344", 52.0907, 5.1214, 136600, 455900, 5),
        ("Eindhoven", 5611, 5658, "0772", 51.4416, 5.4697, 161000, 383500, 3),
        ("Groningen", 9711, 9747, "0014", 53.2194, 6.5665, 233500, 582000, 3),
        ("Tilburg", 5011, 5049, "0855", 51.5555, 5.0913, 133000, 397500, 3),
        ("Almere", 1311, 1364, "0034", 52.3508, 5.2647, 146000, 486500, 2),
        ("Breda", 4811, 4841, "0758", 51.5719, 4.7683, 112500, 400000, 2),
        ("Nijmegen", 6511, 6546, "0268", 51.8126, 5.8372, 187000, 428500, 2),
        ("Apeldoorn", 7311, 7339, "0200", 52.2112, 5.9699, 195500, 469000, 2),
        ("Haarlem", 2011, 2037, "0392", 52.3874, 4.6462, 104500, 489000, 2),
        ("Arnhem", 6811, 6846, "0202", 51.9851, 5.8987, 191000, 444000, 2),
        ("Enschede", 7511, 7548, "0153", 52.2215, 6.8937, 258500, 471500, 2),
        ("Amersfoort", 3811, 3829, "0307", 52.1561, 5.3878, 155000, 463000, 2),
        ("Zwolle", 8011, 8048, "0193", 52.5168, 6.0830, 203000, 502500, 2),
        ("Leiden", 2311, 2334, "0546", 52.1601, 4.4970, 93500, 463500, 1),
        ("Maastricht", 6211, 6229, "0935", 50.8514, 5.6910, 176500, 318000, 1),
        ("Dordrecht", 3311, 3329, "0505", 51.8133, 4.6901, 105500, 425000, 1),
        ("Zoetermeer", 2711, 2729, "0637", 52.0575, 4.4931, 93500, 452000, 1),
        ("'s-Hertogenbosch", 5211, 5237, "0796", 51.6978, 5.3037, 149500, 411500, 1),
        ("Delft", 2611, 2629, "0503", 52.0116, 4.3571, 84500, 447000, 1),
        ("Alkmaar", 1811, 1834, "0361", 52.6324, 4.7534, 111500, 516500, 1),
        ("Leeuwarden", 8911, 8939, "0080", 53.2012, 5.7999, 182500, 579500, 1),
        ("Deventer", 7411, 7429, "0150", 52.2550, 6.1639, 208500, 474000, 1),
        ("Hilversum", 1211, 1223, "0402", 52.2292, 5.1669, 140000, 471000, 1),
        ("Venlo", 5911, 5932, "0983", 51.3704, 6.1724, 210000, 376000, 1),
        ("Assen", 9401, 9409, "0106", 52.9925, 6.5649, 233000, 557000, 1),
        ("Middelburg", 4331, 4339, "0687", 51.4988, 3.6136, 32000, 391500, 1),
        ("Lochem", 7241, 7245, "0262", 52.1600, 6.4140, 225500, 463500, 1),
    )
)

_SURNAMES = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
    "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
    "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits",
    "de Graaf", "van der Meer", "van der Linden", "Kok", "Jacobs", "de Haan", "Vermeulen",
    "van den Heuvel", "van der Veen", "van den Broek", "de Bruijn", "van der Heijden",
    "Schouten", "van Beek", "Willems", "van Vliet", "van de Ven", "Hoekstra", "Maas",
    "Verhoeven", "Koster", "van Dam", "van der Wal", "Prins", "Blom", "Huisman", "Peeters",
    "Kuipers", "van Veen", "Post", "Veenstra", "Kramer", "van den Brink", "Scholten",
    "van Wijk", "Postma", "Martens", "Vink", "de Ruiter", "Timmermans", "Groen",
    "Gerritsen", "Jonker", "van Loon", "van der Velde", "Smeets", "de Lange", "Bosch",
    "van Dongen", "Schipper", "de Koning", "van der Laan", "Driessen", "van Doorn",
    "Hermans", "Evers", "Hofman", "Bosman", "Wolters", "Sanders", "van der Horst", "Mol",
    "Molenaar", "van de Pol", "de Leeuw", "Verbeek", "Bouwman", "Huijbregts", "Zwart",
)  # fmt: skip
_FIRST_NAMES = (
    "Jan", "Pieter", "Sanne", "Lotte", "Daan", "Emma", "Bram", "Fleur", "Thijs", "Anouk",
    "Ruben", "Iris", "Lars", "Noor", "Sem", "Julia", "Koen", "Eva", "Tim", "Lisa", "Maarten",
    "Femke", "Joost", "Marloes", "Wouter", "Ilse", "Niels", "Esther", "Gijs", "Merel",
)  # fmt: skip
_FANTASY_HEADS = (
    "Tech", "Nova", "Blue", "Green", "Smart", "Prime", "Noord", "Delta", "Polder", "Dijk",
    "Zon", "Molen", "Tulp", "Vita", "Flex", "Data", "Bouw", "Lucht", "Water", "Oranje",
)  # fmt: skip
_FANTASY_TAILS = (
    "nova", "vision", "works", "point", "line", "flow", "form", "wise", "hub", "lab",
    "star", "link", "care", "tec", "land", "veld", "poort", "stad", "kracht", "groep",
)  # fmt: skip
_STREETS = (
    "Hoofdstraat", "Kerkstraat", "Dorpsstraat", "Schoolstraat", "Molenweg", "Stationsweg",
    "Julianalaan", "Beatrixlaan", "Wilhelminastraat", "Nieuwstraat", "Marktplein",
    "Industrieweg", "Parallelweg", "Kastanjelaan", "Eikenlaan", "Lindelaan",
    "Prins Bernhardlaan", "Oranjestraat", "Havenstraat", "Sportlaan", "Kanaalweg",
    "Burgemeester de Withstraat", "Koningin Emmalaan", "Vondelstraat", "Rembrandtlaan",
    "Zuiderweg", "Noordsingel", "Oosterstraat", "Westerkade", "Brinkweg", "Esdoornlaan",
    "Berkenlaan", "Ambachtsweg", "Nijverheidsweg", "Handelsweg", "Europaweg", "Spoorstraat",
    "Veldweg", "Tuinstraat", "Singel",
)  # fmt: skip
_ADDITIONS = ("1", "2", "3", "bis", "hs", "A", "B", "zw", "rd", "II")
_LETTERS = "ABCDEFGHJKLMNPRTVWXZ"  # postcode letters; "SA", "SD" and "SS" are never used

# Trades: a word for names and the SBI 2008 code of the main activity.
_TRADES: tuple[tuple[str, str], ...] = (
    ("Bakkerij", "10711"), ("Installatietechniek", "43221"), ("Schildersbedrijf", "43341"),
    ("Autobedrijf", "45201"), ("Transport", "49410"), ("Advies", "70221"),
    ("IT Services", "62020"), ("Software", "62010"), ("Accountants", "69201"),
    ("Administratiekantoor", "69204"), ("Advocaten", "69101"), ("Notariskantoor", "69102"),
    ("Makelaardij", "68311"), ("Bouwbedrijf", "41000"), ("Hoveniers", "81300"),
    ("Kapsalon", "96021"), ("Schoonheidssalon", "96022"), ("Tandartspraktijk", "86230"),
    ("Restaurant", "56101"), ("Cafetaria", "56102"), ("Café", "56301"), ("Hotel", "55101"),
    ("Bloemen", "47761"), ("Opticiens", "47781"), ("Fotografie", "74201"),
    ("Reclamebureau", "73111"), ("Grafisch Ontwerp", "74101"), ("Uitzendbureau", "78201"),
    ("Schoonmaakdiensten", "81210"), ("Fitness", "93130"), ("Supermarkt", "47111"),
    ("Webdesign", "62010"), ("Vastgoed", "68201"), ("Architecten", "71111"),
    ("Ingenieursbureau", "71121"), ("Catering", "56210"),
)  # fmt: skip
_SBI_TEXTS: dict[str, str] = {
    "10711": "Ambachtelijke vervaardiging van brood en vers banketbakkerswerk",
    "41000": "Algemene burgerlijke en utiliteitsbouw",
    "43221": "Installatie van verwarmings- en luchtbehandelingsapparatuur",
    "43341": "Schilderen",
    "45201": "Algemene reparatie en onderhoud van personenauto's en lichte bedrijfsauto's",
    "47111": "Supermarkten en dergelijke winkels met een algemeen assortiment voedings- en "
    "genotmiddelen",
    "47761": "Winkels in bloemen, planten, zaden en tuinbenodigdheden",
    "47781": "Winkels in brillen en andere optische artikelen",
    "49410": "Goederenvervoer over de weg (geen verhuisvervoer)",
    "55101": "Hotel-restaurants",
    "56101": "Restaurants",
    "56102": "Fastfoodrestaurants, cafetaria's, ijssalons, eetkramen e.d.",
    "56210": "Eventcatering",
    "56301": "Cafés",
    "62010": "Ontwikkelen, produceren en uitgeven van software",
    "62020": "Advisering op het gebied van informatietechnologie",
    "68201": "Verhuur van woonruimte",
    "68311": "Bemiddeling bij handel, huur en verhuur van onroerend goed",
    "69101": "Advocatenkantoren",
    "69102": "Notariskantoren",
    "69201": "Accountantskantoren",
    "69204": "Administratiekantoren",
    "70221": "Organisatie-adviesbureaus",
    "71111": "Architecten (geen interieur- of stedenbouwkundig)",
    "71121": "Ingenieurs en overig technisch ontwerp en advies",
    "73111": "Reclamebureaus",
    "74101": "Communicatie- en grafisch ontwerp",
    "74201": "Fotografie",
    "78201": "Uitzendbureaus",
    "81210": "Interieurreiniging van gebouwen",
    "81300": "Landschapsverzorging",
    "86230": "Tandartspraktijken",
    "93130": "Fitnesscentra",
    "96021": "Haarverzorging",
    "96022": "Schoonheidsverzorging, pedicures en manicures",
}
_SBI_MAIN = {code: SbiActivity(code, text, True) for code, text in _SBI_TEXTS.items()}
_SBI_SIDE = {code: SbiActivity(code, text, False) for code, text in _SBI_TEXTS.items()}
_SBI_CODES = tuple(_SBI_TEXTS)


@attrs.frozen
class _Form:
    legal_form: str
    extended: str
    suffix: str
    statutes: bool
    branchless: float  # chance of having no branch at all
    weight: int


_FORMS = (
    _Form("Eenmanszaak", "Eenmanszaak", "", False, 0.0, 40),
    _Form(*_BV, "B.V.", True, 0.02, 33),
    _Form("Vennootschap onder firma", "Vennootschap onder firma", "V.O.F.", False, 0.0, 10),
    _Form("Stichting", "Stichting", "", True, 0.35, 9),
    _Form("Vereniging", "Vereniging met volledige rechtsbevoegdheid", "", True, 0.4, 3),
    _Form("Coöperatie", "Coöperatie met uitgesloten aansprakelijkheid", "U.A.", True, 0.1, 2),
    _Form(*_NV, "N.V.", True, 0.0, 1),
    _Form("Maatschap", "Maatschap", "", False, 0.0, 1),
    _Form("Commanditaire Vennootschap", "Commanditaire Vennootschap", "C.V.", False, 0.0, 1),
)
_FORM_WEIGHTS = tuple(itertools.accumulate(form.weight for form in _FORMS))
_FIRST_DAY = dt.date(1960, 1, 1).toordinal()
_LAST_DAY = dt.date(2025, 12, 31).toordinal()


def _capitalise(text: str) -> str:
    """A surname opening a name gets a capital: ``"van Dijk"`` → ``"Van Dijk"``."""
    return text[:1].upper() + text[1:]


class _Synthesiser:
    """Draws synthetic companies from one seeded random generator, in sequence."""

    def __init__(self, seed: int, cities: Sequence[_City]) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.cities = tuple(cities)
        self.city_weights = tuple(itertools.accumulate(city.weight for city in self.cities))
        self.rsins = {c.rsin for c in kvk_test_companies() if c.rsin is not None}
        self.branch_count = 0

    def company(self, index: int) -> Company:
        rng = self.rng
        form = rng.choices(_FORMS, cum_weights=_FORM_WEIGHTS)[0]
        trade, sbi_code = rng.choice(_TRADES)
        city = self.city()
        base = self.base_name(form, trade, city)
        statutory = " ".join(filter(None, (base, form.suffix))) if form.statutes else None
        start = self.day(_FIRST_DAY, _LAST_DAY - 400)
        registered = self.day(start, min(start + 3650, _LAST_DAY))
        sbi = self.activities(sbi_code)
        end = self.date_text(self.day(start + 30, _LAST_DAY)) if rng.random() < 0.03 else None
        branches = self.branches(form, base, city, sbi, start, end)
        return Company(
            kvk_number=f"{10_000_000 + (index + self.seed * 1_000_003) * 7919 % 30_000_000:08d}",
            name=statutory or base,
            legal_form=form.legal_form,
            extended_legal_form=form.extended,
            rsin=self.rsin() if form.legal_form != "Eenmanszaak" else None,
            statutory_name=statutory,
            branches=branches,
            sbi_activities=sbi,
            registration_date=self.date_text(registered),
            start_date=self.date_text(start, fuzzy=True),
            end_date=end,
            deregistration_date=end,
            non_mailing=rng.random() < 0.25,
            addresses=() if branches else (self.address(city),),
            websites=() if branches or rng.random() < 0.5 else (self.website(base),),
            former_names=(self.former_name(),) if rng.random() < 0.04 else (),
        )

    def branches(
        self,
        form: _Form,
        base: str,
        city: _City,
        sbi: tuple[SbiActivity, ...],
        start: int,
        end: str | None,
    ) -> tuple[Branch, ...]:
        rng = self.rng
        if rng.random() < form.branchless:
            return ()
        count = rng.choices((1, 2, 3), cum_weights=(75, 93, 100))[0]
        branches = [self.branch(base, city, sbi, start, end, main=True, owner=form.weight == 40)]
        for _ in range(count - 1):
            other = self.city() if rng.random() < 0.6 else city
            opened = self.day(start, _LAST_DAY)
            branches.append(self.branch(f"{base} {other.name}", other, sbi[:1], opened, end))
        return tuple(branches)

    def branch(
        self,
        name: str,
        city: _City,
        sbi: tuple[SbiActivity, ...],
        start: int,
        end: str | None,
        *,
        main: bool = False,
        owner: bool = False,
    ) -> Branch:
        rng = self.rng
        self.branch_count += 1
        sequence = self.branch_count + self.seed * 1_000_003
        employees = rng.choices((0, 1, 3, 10, 40, 300), cum_weights=(20, 50, 75, 90, 98, 100))[0]
        employees = rng.randint(employees, employees * 2) + (1 if owner else 0)
        part_time = rng.randint(0, employees // 2)
        closed = end or (
            self.date_text(self.day(start + 30, _LAST_DAY))
            if not main and rng.random() < 0.03
            else None
        )
        addresses = [self.address(city)]
        if rng.random() < 0.05:
            addresses.insert(0, self.po_box(city))
        names = (name, f"{self.fantasy()} {city.name}") if rng.random() < 0.15 else (name,)
        return Branch(
            number=f"{100_000_000_000 + sequence * 7907 % 800_000_000_000:012d}",
            trade_names=names,
            addresses=tuple(addresses),
            is_main=main,
            registration_date=self.date_text(self.day(start, min(start + 3650, _LAST_DAY))),
            start_date=self.date_text(start),
            end_date=closed,
            full_time_employees=employees - part_time,
            part_time_employees=part_time,
            websites=(self.website(name),) if rng.random() < 0.6 else (),
            sbi_activities=sbi,
        )

    def base_name(self, form: _Form, trade: str, city: _City) -> str:
        rng = self.rng
        surname = rng.choice(_SURNAMES)
        if form.legal_form == "Eenmanszaak":
            first = rng.choice(_FIRST_NAMES)
            return rng.choice(
                (f"{trade} {_capitalise(surname)}", f"{first} {surname} {trade}",
                 f"{_capitalise(surname)} {trade}")
            )  # fmt: skip
        if form.legal_form == "Stichting":
            return rng.choice(
                (f"Stichting Vrienden van {city.name}", f"Stichting {trade} {city.name}",
                 f"Stichting {self.fantasy()}", f"Stichting Buurthuis {rng.choice(_STREETS)}")
            )  # fmt: skip
        if form.legal_form == "Vereniging":
            club = rng.choice(("Tennisvereniging", "Muziekvereniging", "Ondernemersvereniging"))
            return f"{club} {city.name}"
        if form.legal_form == "Coöperatie":
            return f"Coöperatie {self.fantasy()}"
        if form.statutes:
            return rng.choice((f"{_capitalise(surname)} {trade}", self.fantasy()))
        partner = rng.choice(_SURNAMES)
        return f"{_capitalise(surname)} & {_capitalise(partner)} {trade}"

    def fantasy(self) -> str:
        return self.rng.choice(_FANTASY_HEADS) + self.rng.choice(_FANTASY_TAILS)

    def former_name(self) -> str:
        return f"{_capitalise(self.rng.choice(_SURNAMES))} {self.rng.choice(_TRADES)[0]}"

    def city(self) -> _City:
        return self.rng.choices(self.cities, cum_weights=self.city_weights)[0]

    def postcode(self, city: _City) -> str:
        rng = self.rng
        while True:
            letters = rng.choice(_LETTERS) + rng.choice(_LETTERS)
            if letters not in ("SA", "SD", "SS"):
                return f"{rng.randint(*city.postcodes)}{letters}"

    def address(self, city: _City) -> Address:
        rng = self.rng
        if rng.random() < 0.01:  # shielded: only the city is ever shown
            return Address(city=city.name, shielded=True)
        number = rng.randint(1, 250) if rng.random() < 0.9 else rng.randint(251, 2500)
        letter = rng.choice("ABCDEFGH") if rng.random() < 0.08 else None
        addition = rng.choice(_ADDITIONS) if not letter and rng.random() < 0.05 else None
        return Address(
            street=rng.choice(_STREETS), house_number=number, house_letter=letter,
            house_number_addition=addition, postcode=self.postcode(city), city=city.name,
            geo=self.geo(city),
        )  # fmt: skip

    def po_box(self, city: _City) -> Address:
        return Address(
            street="Postbus", po_box=self.rng.randint(1, 9999), postcode=self.postcode(city),
            city=city.name, kind="correspondentieadres",
        )  # fmt: skip

    def geo(self, city: _City) -> GeoData:
        rng = self.rng
        east, north = rng.uniform(-3000.0, 3000.0), rng.uniform(-3000.0, 3000.0)
        serial = rng.randrange(10**10)
        return GeoData(
            bag_object_id=f"{city.municipality}01{serial:010d}",
            bag_number_id=f"{city.municipality}20{serial:010d}",
            latitude=round(city.latitude + north / 111_320, 7),
            longitude=round(city.longitude + east / (111_320 * math.cos(math.radians(52))), 7),
            rd_x=round(city.rd_x + east, 3),
            rd_y=round(city.rd_y + north, 3),
        )

    def activities(self, main: str) -> tuple[SbiActivity, ...]:
        extra = self.rng.sample(_SBI_CODES, self.rng.choice((0, 0, 1, 2)))
        return (_SBI_MAIN[main], *(_SBI_SIDE[code] for code in extra if code != main))

    def website(self, name: str) -> str:
        slug = "-".join(sorted(name_words(name.replace("&", " "))))  # a set: sorted, or it varies
        return f"www.{slug[:40].strip('-')}.nl"

    def rsin(self) -> str:
        while True:
            digits = f"{self.rng.randrange(80_000_000, 90_000_000):08d}"
            check = sum((9 - i) * int(c) for i, c in enumerate(digits)) % 11
            rsin = f"{digits}{check}"
            if check < 10 and rsin not in self.rsins:
                self.rsins.add(rsin)
                return rsin

    def day(self, low: int, high: int) -> int:
        return self.rng.randint(low, max(low, high))

    def date_text(self, ordinal: int, *, fuzzy: bool = False) -> str:
        text = dt.date.fromordinal(min(ordinal, _LAST_DAY)).strftime("%Y%m%d")
        if fuzzy and self.rng.random() < 0.02:  # KvK writes unknown parts as zeros
            return text[:6] + "00" if self.rng.random() < 0.8 else text[:4] + "0000"
        return text


def generate_companies(
    n: int, *, seed: int = 0, cities: Sequence[str] | None = None
) -> list[Company]:
    """Make ``n`` deterministic synthetic companies, e.g. to load-test a matcher.

    Names, legal forms, addresses (real cities, plausible postcodes, house
    numbers with occasional letters and additions), SBI codes, employees,
    websites and 1-3 branches look Dutch; RSINs pass the elfproef. KvK numbers
    lie in 10000000-39999999 and branch numbers in 1000...-8999..., so they never
    collide with KvK's test companies. The same ``n`` and ``seed`` always give
    the same companies, and a smaller ``n`` gives a prefix of a larger one.

    Args:
        n: How many companies.
        seed: Seed of the random generator.
        cities: Restrict addresses to these city names (e.g. ``["Utrecht"]``).

    Returns:
        The companies, ready for `KvKSandbox` or `Register`.

    Raises:
        ValueError: For a city the generator does not know.
    """
    known = {city.name: city for city in _CITIES}
    unknown = [name for name in cities or () if name not in known]
    if unknown:
        raise ValueError(f"unknown cities {unknown}; known: {sorted(known)}")
    chosen = [known[name] for name in cities] if cities else list(_CITIES)
    synthesiser = _Synthesiser(seed, chosen)
    return [synthesiser.company(index) for index in range(n)]


# --- the register and its Zoeken index ------------------------------------------------

UnitKey = tuple[str, str]
"""A Zoeken result: ``(kvk_number, branch_number)``; ``""`` for a rechtspersoon."""


def _fold(text: str) -> str:
    """Case- and accent-insensitive form: ``"Coöperatie"`` → ``"cooperatie"``."""
    text = text.casefold()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_WORD = re.compile(r"[^\W_]+")


def name_words(text: str) -> frozenset[str]:
    """The whole words of a name, folded; punctuation separates words."""
    return frozenset(_WORD.findall(_fold(text)))


@functools.lru_cache(maxsize=65536)
def _place(text: str) -> str:
    return " ".join(_fold(text).split())


@attrs.frozen
class _Name:
    text: str
    words: frozenset[str]
    expired: bool


@attrs.frozen
class _Unit:
    """One possible Zoeken result, with what the index needs about it."""

    key: UnitKey
    company: Company
    branch: Branch | None
    names: tuple[_Name, ...]
    addresses: tuple[Address, ...]
    active: bool

    @property
    def kind(self) -> ResultType:
        if self.branch is None:
            return "rechtspersoon"
        return "hoofdvestiging" if self.branch.is_main else "nevenvestiging"


@attrs.frozen(kw_only=True)
class SearchQuery:
    """Zoeken criteria, already validated; every given one must match.

    Attributes:
        kvk_number: ``kvkNummer``.
        rsin: ``rsin``.
        branch_number: ``vestigingsnummer``.
        name: ``naam``: every word must be a whole word of one name.
        street: ``straatnaam``, case-insensitive.
        city: ``plaats``, case-insensitive.
        postcode: ``postcode``, upper case (with ``house_number`` or ``po_box``).
        house_number: ``huisnummer``.
        house_letter: ``huisletter``.
        po_box: ``postbusnummer``.
        types: ``type`` filter; empty for all.
        include_inactive: ``inclusiefInactieveRegistraties``.
    """

    kvk_number: str | None = None
    rsin: str | None = None
    branch_number: str | None = None
    name: str | None = None
    street: str | None = None
    city: str | None = None
    postcode: str | None = None
    house_number: int | None = None
    house_letter: str | None = None
    po_box: int | None = None
    types: frozenset[str] = frozenset()
    include_inactive: bool = False

    @property
    def needs_address_check(self) -> bool:
        """Whether several address criteria must hold for one address (the index can't tell)."""
        given = (self.street, self.city, self.postcode)
        return sum(value is not None for value in given) > 1 or self.house_letter is not None

    @property
    def searches_address(self) -> bool:
        """Whether any address criterion is given."""
        return any(
            value is not None
            for value in (self.street, self.city, self.postcode, self.house_number, self.po_box)
        )


@attrs.frozen
class SearchHit:
    """One Zoeken result, with what to show.

    Attributes:
        company: The registration.
        branch: The branch, or ``None`` for a ``rechtspersoon`` result.
        kind: ``hoofdvestiging``, ``nevenvestiging`` or ``rechtspersoon``.
        active: Whether company and branch are active.
        name: ``naam``: the matched current name, else the default name.
        expired_name: ``vervallenNaam``: the matched expired name, if that matched.
        address: The address to show (the matched one when searching on address).
    """

    company: Company
    branch: Branch | None
    kind: ResultType
    active: bool
    name: str
    expired_name: str | None
    address: Address | None


class Register:
    """The sandbox's in-memory trade register, indexed for Zoeken.

    Every Zoeken criterion has its own index (kvk, branch, rsin, postcode +
    huisnummer, postcode + postbus, name word, street, city), so a query costs
    the size of its smallest candidate set, not the size of the register.
    Thread-safe: an `threading.RLock` guards every read and change.

    Args:
        companies: The initial registrations.
    """

    def __init__(self, companies: Iterable[Company] = ()) -> None:
        self.lock = threading.RLock()
        self._companies: dict[str, Company] = {}
        self._branches: dict[str, tuple[str, Branch]] = {}
        self._units: dict[UnitKey, _Unit] = {}
        self._index: dict[str, dict[object, dict[UnitKey, None]]] = {
            name: {} for name in ("kvk", "rsin", "branch", "word", "city", "street", "house", "box")
        }
        for company in companies:
            self.add(company)

    def __len__(self) -> int:
        return len(self._companies)

    def __contains__(self, kvk_number: object) -> bool:
        return kvk_number in self._companies

    def __iter__(self) -> Iterator[Company]:
        with self.lock:
            return iter(list(self._companies.values()))

    def get(self, kvk_number: str) -> Company | None:
        """The registration with this KvK number, if any."""
        return self._companies.get(kvk_number)

    def branch(self, number: str) -> tuple[Company, Branch] | None:
        """The branch with this vestigingsnummer and its company, if any."""
        with self.lock:
            found = self._branches.get(number)
            return (self._companies[found[0]], found[1]) if found else None

    def add(self, company: Company) -> None:
        """Register a company.

        Raises:
            ValueError: When its KvK number or a branch number is taken.
        """
        with self.lock:
            if company.kvk_number in self._companies:
                raise ValueError(f"KvK number {company.kvk_number} is already registered")
            taken = [b.number for b in company.branches if b.number in self._branches]
            if taken:
                raise ValueError(f"branch numbers already registered: {', '.join(taken)}")
            self._insert(company)

    def replace(self, company: Company) -> Company:
        """Replace a registration by a new version (same KvK number); returns the old one."""
        with self.lock:
            old = self.remove(company.kvk_number)
            try:
                self.add(company)
            except ValueError:
                self._insert(old)
                raise
            return old

    def remove(self, kvk_number: str) -> Company:
        """Take a registration out of the register.

        Raises:
            KeyError: When the KvK number is not registered.
        """
        with self.lock:
            company = self._companies.pop(kvk_number)
            for branch in company.branches:
                del self._branches[branch.number]
            for unit in _units_of(company):
                self._unindex(self._units.pop(unit.key))
            return company

    def _insert(self, company: Company) -> None:
        self._companies[company.kvk_number] = company
        for branch in company.branches:
            self._branches[branch.number] = (company.kvk_number, branch)
        for unit in _units_of(company):
            self._units[unit.key] = unit
            for index, key in _index_keys(unit):
                self._index[index].setdefault(key, {})[unit.key] = None

    def _unindex(self, unit: _Unit) -> None:
        for index, key in _index_keys(unit):
            bucket = self._index[index][key]
            del bucket[unit.key]
            if not bucket:
                del self._index[index][key]

    def search(self, query: SearchQuery) -> list[UnitKey]:
        """Every result of a query, in registration order (main branch first).

        Returns keys only, so a large result costs little; `hit` describes one.
        """
        with self.lock:
            buckets = self._buckets(query)
            if not buckets:
                return []
            buckets.sort(key=len)
            first, rest = buckets[0], buckets[1:]
            words = name_words(query.name) if query.name is not None else None
            return [
                key
                for key in first
                if all(key in bucket for bucket in rest)
                and _accepts(self._units[key], query, words)
            ]

    def hit(self, key: UnitKey, query: SearchQuery) -> SearchHit:
        """Describe one result of `search` for the same query."""
        unit = self._units[key]
        words = name_words(query.name) if query.name is not None else None
        matched = _matched_name(unit, words) if words else None
        name = _default_name(unit)
        expired = None
        if matched is not None and matched.expired:
            expired = matched.text
        elif matched is not None:
            name = matched.text
        address = _matched_address(unit, query) if query.searches_address else None
        return SearchHit(
            company=unit.company,
            branch=unit.branch,
            kind=unit.kind,
            active=unit.active,
            name=name,
            expired_name=expired,
            address=address or _display_address(unit.addresses),
        )

    def _buckets(self, query: SearchQuery) -> list[dict[UnitKey, None]]:
        """The index buckets a query must hit; an empty bucket means no results."""
        wanted: list[tuple[str, object]] = []
        if query.kvk_number is not None:
            wanted.append(("kvk", query.kvk_number))
        if query.rsin is not None:
            wanted.append(("rsin", query.rsin))
        if query.branch_number is not None:
            wanted.append(("branch", query.branch_number))
        if query.name is not None:
            wanted.extend(("word", word) for word in name_words(query.name) or {""})
        if query.city is not None:
            wanted.append(("city", _place(query.city)))
        if query.street is not None:
            wanted.append(("street", _place(query.street)))
        if query.house_number is not None:
            wanted.append(("house", (query.postcode, query.house_number)))
        if query.po_box is not None:
            wanted.append(("box", (query.postcode, query.po_box)))
        empty: dict[UnitKey, None] = {}
        return [self._index[index].get(key, empty) for index, key in wanted]


def _units_of(company: Company) -> Iterator[_Unit]:
    """A company's possible Zoeken results: one per branch, else one rechtspersoon."""
    statutory = [company.statutory_name] if company.statutory_name else []
    aka = [company.also_known_as] if company.also_known_as else []
    for branch in company.ordered_branches:
        expired = [*branch.former_names, *(company.former_names if branch.is_main else ())]
        yield _Unit(
            key=(company.kvk_number, branch.number),
            company=company,
            branch=branch,
            names=_names([*branch.trade_names, *statutory, *aka], expired),
            addresses=branch.addresses,
            active=company.active and branch.active,
        )
    if not company.branches:
        current = [company.name, *statutory, *company.trade_names, *aka]
        yield _Unit(
            key=(company.kvk_number, ""),
            company=company,
            branch=None,
            names=_names(current, company.former_names),
            addresses=company.addresses,
            active=company.active,
        )


def _names(current: Iterable[str], expired: Iterable[str]) -> tuple[_Name, ...]:
    seen: dict[str, _Name] = {}
    for text in current:
        seen.setdefault(text, _Name(text, name_words(text), False))
    for text in expired:
        seen.setdefault(text, _Name(text, name_words(text), True))
    return tuple(seen.values())


def _index_keys(unit: _Unit) -> Iterator[tuple[str, object]]:
    company = unit.company
    yield "kvk", company.kvk_number
    if company.rsin:
        yield "rsin", company.rsin
    if unit.branch is not None:
        yield "branch", unit.branch.number
    words: set[str] = set()
    for name in unit.names:
        words |= name.words
    for word in words:
        yield "word", word
    yield from _address_keys(unit.addresses)


def _address_keys(addresses: Iterable[Address]) -> Iterator[tuple[str, object]]:
    seen: set[tuple[str, object]] = set()
    for address in addresses:
        keys: list[tuple[str, object]] = [("city", _place(address.city))]
        # KvK's quirk: a shielded address is found by city only, never by street/postcode.
        if not address.shielded and address.postcode:
            if address.house_number is not None:
                keys.append(("house", (address.postcode, address.house_number)))
            if address.po_box is not None:
                keys.append(("box", (address.postcode, address.po_box)))
        if not address.shielded and address.street and address.po_box is None:
            keys.append(("street", _place(address.street)))
        for key in keys:
            if key not in seen:
                seen.add(key)
                yield key


def _accepts(unit: _Unit, query: SearchQuery, words: frozenset[str] | None) -> bool:
    if not unit.active and not query.include_inactive:
        return False
    if query.types and unit.kind not in query.types:
        return False
    if words is not None and (not words or _matched_name(unit, words) is None):
        return False
    # A single address criterion is exact in the index; only combinations need a look.
    return not query.needs_address_check or _matched_address(unit, query) is not None


def _matched_name(unit: _Unit, words: frozenset[str]) -> _Name | None:
    """The first name holding every query word (KvK matches whole words only)."""
    return next((name for name in unit.names if words <= name.words), None)


def _matched_address(unit: _Unit, query: SearchQuery) -> Address | None:
    """The first address meeting every address criterion at once."""
    return next((a for a in unit.addresses if _address_matches(a, query)), None)


def _address_matches(address: Address, query: SearchQuery) -> bool:
    if query.city is not None and _place(address.city) != _place(query.city):
        return False
    if address.shielded and (query.street or query.postcode):
        return False
    if query.street is not None and (
        address.po_box is not None or _place(address.street or "") != _place(query.street)
    ):
        return False
    if query.po_box is not None:
        return address.postcode == query.postcode and address.po_box == query.po_box
    if query.house_number is None:
        return True
    if address.postcode != query.postcode or address.house_number != query.house_number:
        return False
    letter = query.house_letter
    return letter is None or (address.house_letter or "").upper() == letter.upper()


def _default_name(unit: _Unit) -> str:
    if unit.branch is not None:
        return unit.branch.name
    return unit.company.statutory_name or unit.company.name


def _display_address(addresses: Sequence[Address]) -> Address | None:
    """The visiting address if there is one, else the first (postal) address."""
    return next((a for a in addresses if a.kind == "bezoekadres"), None) or next(
        iter(addresses), None
    )
