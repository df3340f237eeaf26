"""Wire models of the KvK APIs (Zoeken v2, Basisprofiel, Vestigingsprofiel, Naamgeving).

English attribute names; KvK's Dutch field names are the aliases. Models are
lenient (``extra="allow"``): fields KvK adds later are kept, not dropped.

KvK quirks handled here:

* links come as ``links: [{rel, href}]`` (``application/json``) or as
  ``_links: {rel: {href}}`` (``application/hal+json``); both end up in ``links``
  as a ``{rel: href}`` mapping;
* dates are ``YYYYMMDD`` strings in which unknown parts are ``00``
  (``20150600``, ``20150000``); unknown months and days become 1 and
  ``00000000`` becomes ``None``;
* indicators are ``"Ja"``/``"Nee"`` (sometimes lower case): booleans here;
* ``volledigAdres`` is padded with runs of spaces: collapsed here;
* identifiers stay strings with their leading zeros.

Lists stop at their first invalid item (``fail_fast``): a hostile answer of a
million empty objects is refused at the first, not after a million errors.

Reprs show only what the register gave: fields that are empty, the links
and unknown fields are left out, so ``print(page)`` stays readable.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

__all__ = [
    "BasicProfile",
    "BranchList",
    "BranchProfile",
    "BranchSummary",
    "ForeignAddress",
    "GeoData",
    "KvKSbiActivity",
    "MaterialRegistration",
    "Naming",
    "NamingBranch",
    "Owner",
    "RegisterAddress",
    "ResultType",
    "SearchAddress",
    "SearchPage",
    "SearchResult",
    "TradeName",
    "parse_kvk_date",
    "parse_kvk_flag",
]

ResultType = Literal["hoofdvestiging", "nevenvestiging", "rechtspersoon"]


def parse_kvk_date(value: object) -> dt.date | None:
    """Parse a KvK ``YYYYMMDD`` date; ``00`` parts mean unknown and become 1.

    Args:
        value: The raw value (``"20150600"``), a date, or ``None``.

    Returns:
        The date, or ``None`` for empty or all-zero values.

    Example:
        >>> parse_kvk_date("20150600")
        datetime.date(2015, 6, 1)
    """
    if value is None or isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{8}", text):
        raise ValueError(f"expected a YYYYMMDD date, got {value!r}")
    year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
    if year == 0:
        return None
    return dt.date(year, month or 1, day or 1)


def parse_kvk_flag(value: object) -> bool | None:
    """Parse KvK's ``"Ja"``/``"Nee"`` indicators (any case) into a boolean."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if text in {"ja", "j", "true"}:
        return True
    if text in {"nee", "n", "false"}:
        return False
    raise ValueError(f"expected 'Ja' or 'Nee', got {value!r}")


def _collapse_spaces(value: object) -> object:
    return " ".join(value.split()) if isinstance(value, str) else value


KvKNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{8}$")]
"""A KvK number as the register sends it: 8 digits (anything else is no answer of KvK)."""
BranchNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]
"""A branch number as the register sends it: 12 digits."""
KvKDate = Annotated[dt.date | None, BeforeValidator(parse_kvk_date)]
KvKFlag = Annotated[bool | None, BeforeValidator(parse_kvk_flag)]
Collapsed = Annotated[str | None, BeforeValidator(_collapse_spaces)]


class _Wire(BaseModel):
    """Base of all KvK wire models: aliases, unknown fields kept, links unified."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    links: dict[str, str] = Field(default_factory=dict)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """Only the fields the register filled; no links, no unknown fields."""
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if name != "links" and info.repr and value not in (None, [], {}, ""):
                yield name, value

    @model_validator(mode="before")
    @classmethod
    def _unify_links(cls, data: Any) -> Any:
        if not isinstance(data, dict) or ("links" not in data and "_links" not in data):
            return data
        data = dict(data)
        merged: dict[str, str] = {}
        for raw in (data.pop("links", None), data.pop("_links", None)):
            merged.update(_links_to_map(raw))
        data["links"] = merged
        return data


def _links_to_map(raw: Any) -> dict[str, str]:
    if isinstance(raw, list):  # application/json: [{"rel": ..., "href": ...}]
        return {
            str(item["rel"]): str(item["href"])
            for item in raw
            if isinstance(item, dict) and "rel" in item and "href" in item
        }
    if isinstance(raw, dict):  # application/hal+json: {"rel": {"href": ...}}
        return {
            str(rel): str(item["href"])
            for rel, item in raw.items()
            if isinstance(item, dict) and "href" in item
        }
    return {}


class GeoData(_Wire):
    """BAG identifiers and coordinates (only with ``geoData=true``)."""

    addressable_object_id: str | None = Field(None, alias="addresseerbaarObjectId")
    number_designation_id: str | None = Field(None, alias="nummerAanduidingId")
    latitude: float | None = Field(None, alias="gpsLatitude")
    longitude: float | None = Field(None, alias="gpsLongitude")
    rd_x: float | None = Field(None, alias="rijksdriehoekX")
    rd_y: float | None = Field(None, alias="rijksdriehoekY")
    rd_z: float | None = Field(None, alias="rijksdriehoekZ")


class RegisterAddress(_Wire):
    """An address in a profile (KvK ``Adres``)."""

    type: str | None = None
    """``bezoekadres`` or ``correspondentieadres``."""
    shielded: KvKFlag = Field(None, alias="indAfgeschermd")
    full_address: Collapsed = Field(None, alias="volledigAdres")
    street: str | None = Field(None, alias="straatnaam")
    house_number: int | None = Field(None, alias="huisnummer")
    house_letter: str | None = Field(None, alias="huisletter")
    house_number_addition: str | None = Field(None, alias="huisnummerToevoeging")
    extra: str | None = Field(None, alias="toevoegingAdres")
    postcode: str | None = None
    po_box: int | None = Field(None, alias="postbusnummer")
    city: str | None = Field(None, alias="plaats")
    street_and_number: Collapsed = Field(None, alias="straatHuisnummer")
    postcode_and_city: Collapsed = Field(None, alias="postcodeWoonplaats")
    region: str | None = Field(None, alias="regio")
    country: str | None = Field(None, alias="land")
    geo_data: GeoData | None = Field(None, alias="geoData")


class KvKSbiActivity(_Wire):
    """An SBI activity as KvK sends it."""

    sbi_code: str = Field(alias="sbiCode")
    description: str | None = Field(None, alias="sbiOmschrijving")
    main: KvKFlag = Field(None, alias="indHoofdactiviteit")


class TradeName(_Wire):
    """A trade name (handelsnaam) and its registration order (starts at 0)."""

    name: str = Field(alias="naam")
    order: int | None = Field(None, alias="volgorde")


class MaterialRegistration(_Wire):
    """Start and end of the registration (``materieleRegistratie``)."""

    start_date: KvKDate = Field(None, alias="datumAanvang")
    end_date: KvKDate = Field(None, alias="datumEinde")


class Owner(_Wire):
    """The owner of the business (``eigenaar``): legal form and RSIN."""

    rsin: str | None = None
    legal_form: str | None = Field(None, alias="rechtsvorm")
    extended_legal_form: str | None = Field(None, alias="uitgebreideRechtsvorm")
    deregistration_date: KvKDate = Field(None, alias="datumUitschrijving")
    addresses: list[RegisterAddress] = Field(default_factory=list, alias="adressen", fail_fast=True)
    """Only when the business has no branches (e.g. an owners' association)."""
    websites: list[str] = Field(default_factory=list, fail_fast=True)
    geo_data: GeoData | None = Field(None, alias="geoData")


class BranchProfile(_Wire):
    """A branch (``Vestiging``): Vestigingsprofiel, ``/hoofdvestiging`` or embedded."""

    branch_number: BranchNumber = Field(alias="vestigingsnummer")
    kvk_number: KvKNumber | None = Field(None, alias="kvkNummer")
    rsin: str | None = None
    non_mailing: KvKFlag = Field(None, alias="indNonMailing")
    formal_registration_date: KvKDate = Field(None, alias="formeleRegistratiedatum")
    material_registration: MaterialRegistration | None = Field(None, alias="materieleRegistratie")
    statutory_name: str | None = Field(None, alias="statutaireNaam")
    first_trade_name: str | None = Field(None, alias="eersteHandelsnaam")
    is_main_branch: KvKFlag = Field(None, alias="indHoofdvestiging")
    is_commercial: KvKFlag = Field(None, alias="indCommercieleVestiging")
    employees_full_time: int | None = Field(None, alias="voltijdWerkzamePersonen")
    employees_total: int | None = Field(None, alias="totaalWerkzamePersonen")
    employees_part_time: int | None = Field(None, alias="deeltijdWerkzamePersonen")
    trade_names: list[TradeName] = Field(default_factory=list, alias="handelsnamen", fail_fast=True)
    addresses: list[RegisterAddress] = Field(default_factory=list, alias="adressen", fail_fast=True)
    websites: list[str] = Field(default_factory=list, fail_fast=True)
    sbi_activities: list[KvKSbiActivity] = Field(
        default_factory=list, alias="sbiActiviteiten", fail_fast=True
    )


class _Embedded(_Wire):
    owner: Owner | None = Field(None, alias="eigenaar")
    main_branch: BranchProfile | None = Field(None, alias="hoofdvestiging")


class BasicProfile(_Wire):
    """The Basisprofiel of a KvK registration."""

    kvk_number: KvKNumber = Field(alias="kvkNummer")
    non_mailing: KvKFlag = Field(None, alias="indNonMailing")
    name: str | None = Field(None, alias="naam")
    formal_registration_date: KvKDate = Field(None, alias="formeleRegistratiedatum")
    material_registration: MaterialRegistration | None = Field(None, alias="materieleRegistratie")
    employees_total: int | None = Field(None, alias="totaalWerkzamePersonen")
    statutory_name: str | None = Field(None, alias="statutaireNaam")
    trade_names: list[TradeName] = Field(default_factory=list, alias="handelsnamen", fail_fast=True)
    sbi_activities: list[KvKSbiActivity] = Field(
        default_factory=list, alias="sbiActiviteiten", fail_fast=True
    )
    geo_data: GeoData | None = Field(None, alias="geoData")
    embedded: _Embedded = Field(default_factory=_Embedded, alias="_embedded", repr=False)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The filled fields, then the owner and the main branch."""
        yield from super().__repr_args__()
        yield from (
            (n, v) for n, v in (("owner", self.owner), ("main_branch", self.main_branch)) if v
        )

    @property
    def owner(self) -> Owner | None:
        """The embedded owner (``_embedded.eigenaar``)."""
        return self.embedded.owner

    @property
    def main_branch(self) -> BranchProfile | None:
        """The embedded main branch (``_embedded.hoofdvestiging``), reduced field set."""
        return self.embedded.main_branch


class BranchSummary(_Wire):
    """One entry of ``/basisprofielen/{kvkNummer}/vestigingen``."""

    branch_number: BranchNumber = Field(alias="vestigingsnummer")
    kvk_number: KvKNumber | None = Field(None, alias="kvkNummer")
    first_trade_name: str | None = Field(None, alias="eersteHandelsnaam")
    is_main_branch: KvKFlag = Field(None, alias="indHoofdvestiging")
    address_shielded: KvKFlag = Field(None, alias="indAdresAfgeschermd")
    is_commercial: KvKFlag = Field(None, alias="indCommercieleVestiging")
    full_address: Collapsed = Field(None, alias="volledigAdres")


class BranchList(_Wire):
    """All branches of a registration (not paginated by KvK)."""

    kvk_number: KvKNumber = Field(alias="kvkNummer")
    commercial_count: int | None = Field(None, alias="aantalCommercieleVestigingen")
    non_commercial_count: int | None = Field(None, alias="aantalNietCommercieleVestigingen")
    total_count: int | None = Field(None, alias="totaalAantalVestigingen")
    branches: list[BranchSummary] = Field(default_factory=list, alias="vestigingen", fail_fast=True)


class NamingBranch(_Wire):
    """A branch in the Naamgeving answer (commercial or not)."""

    branch_number: BranchNumber = Field(alias="vestigingsnummer")
    first_trade_name: str | None = Field(None, alias="eersteHandelsnaam")
    trade_names: list[TradeName] = Field(default_factory=list, alias="handelsnamen", fail_fast=True)
    name: str | None = Field(None, alias="naam")
    also_called: str | None = Field(None, alias="ookGenoemd")


class Naming(_Wire):
    """All names of a registration and its branches (Naamgeving API)."""

    kvk_number: KvKNumber = Field(alias="kvkNummer")
    rsin: str | None = None
    statutory_name: str | None = Field(None, alias="statutaireNaam")
    name: str | None = Field(None, alias="naam")
    also_called: str | None = Field(None, alias="ookGenoemd")
    start_date: KvKDate = Field(None, alias="startdatum")
    end_date: KvKDate = Field(None, alias="einddatum")
    branches: list[NamingBranch] = Field(default_factory=list, alias="vestigingen", fail_fast=True)


class SearchAddress(_Wire):
    """A Dutch address in a search result (``binnenlandsAdres``)."""

    type: str | None = None
    """``bezoekadres`` or ``postadres`` (profiles call the latter ``correspondentieadres``)."""
    street: str | None = Field(None, alias="straatnaam")
    house_number: int | None = Field(None, alias="huisnummer")
    house_letter: str | None = Field(None, alias="huisletter")
    house_number_addition: str | None = Field(None, alias="huisnummerToevoeging")
    """Not in Zoeken v2 (it was in v1 and returns in v3): compared when present."""
    po_box: int | None = Field(None, alias="postbusnummer")
    postcode: str | None = None
    city: str | None = Field(None, alias="plaats")


class ForeignAddress(_Wire):
    """A foreign address in a search result (``buitenlandsAdres``)."""

    type: str | None = None
    street_and_number: str | None = Field(None, alias="straatHuisnummer")
    postcode_and_city: str | None = Field(None, alias="postcodeWoonplaats")
    country: str | None = Field(None, alias="land")


class _ResultAddress(_Wire):
    domestic: SearchAddress | None = Field(None, alias="binnenlandsAdres")
    foreign: ForeignAddress | None = Field(None, alias="buitenlandsAdres")


class SearchResult(_Wire):
    """One hit of Zoeken v2: a branch, or a legal entity without branches."""

    kvk_number: KvKNumber = Field(alias="kvkNummer")
    rsin: str | None = None
    """Only present when searched by RSIN."""
    branch_number: BranchNumber | None = Field(None, alias="vestigingsnummer")
    name: str = Field(alias="naam")
    address_block: _ResultAddress = Field(default_factory=_ResultAddress, alias="adres", repr=False)
    type: str | None = None
    active: KvKFlag = Field(None, alias="actief")
    expired_name: str | None = Field(None, alias="vervallenNaam")

    @property
    def address(self) -> SearchAddress | None:
        """The Dutch address, when the result has one."""
        return self.address_block.domestic

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The filled fields, then the address (Dutch or foreign)."""
        yield from super().__repr_args__()
        address = self.address or self.foreign_address
        if address is not None:
            yield "address", address

    @property
    def foreign_address(self) -> ForeignAddress | None:
        """The foreign address, when the result has one."""
        return self.address_block.foreign


class SearchPage(_Wire):
    """One page of Zoeken v2 results: iterate over it for its results.

    ``for hit in page``, ``len(page)`` and ``page[0]`` work on `results`, as
    the pages of openai-python do (``dict(page)`` therefore does not give the
    fields: use ``model_dump()``).

    Example:
        ```python
        page = kvk.search(name="Test EMZ Dagobert")
        print(len(page), "of", page.total)
        for hit in page:
            print(hit.kvk_number, hit.name)
        ```
    """

    page: int = Field(1, alias="pagina")
    per_page: int = Field(10, alias="resultatenPerPagina")
    total: int = Field(0, alias="totaal")
    previous: str | None = Field(None, alias="vorige")
    next: str | None = Field(None, alias="volgende")
    results: list[SearchResult] = Field(default_factory=list, alias="resultaten", fail_fast=True)

    def __iter__(self) -> Iterator[SearchResult]:  # type: ignore[override]
        """The results on this page (not the model's fields, unlike other models)."""
        return iter(self.results)

    def __len__(self) -> int:
        """The number of results on this page (``total`` counts all pages)."""
        return len(self.results)

    def __getitem__(self, index: int) -> SearchResult:
        """The result at ``index`` on this page."""
        return self.results[index]

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """Page, size, total and the first results."""
        yield "page", self.page
        yield "per_page", self.per_page
        yield "total", self.total
        yield "results", _Abridged(self.results, _SHOWN_RESULTS)


_SHOWN_RESULTS = 3
"""Results a page's repr shows."""


class _Abridged:
    """A list shown by its first items and how many more there are."""

    def __init__(self, items: list[Any], shown: int) -> None:
        self.items, self.shown = items, shown

    def __repr__(self) -> str:
        parts = [repr(item) for item in self.items[: self.shown]]
        if len(self.items) > self.shown:
            parts.append(f"... {len(self.items) - self.shown} more")
        return "[" + ", ".join(parts) + "]"
