"""Register data → canonical `Organisation` (pure, no I/O), and what to fetch for it.

PerfectView's KvK koppeling fills name, visiting, postal and invoice address,
SBI codes with the main activity, employees (total) and size class, KvK and
branch number, registration and establishment date, RSIN, legal form,
websites and the non-mailing indication (`PERFECTVIEW_FIELDS`, the default).

The Basisprofiel (one paid call) embeds the main branch, but a reduced one:
no trade names (KvK's spec) and, in KvK's recorded answers, no full-time/
part-time split. `branch_to_fetch` says when the branch profile (a second paid
call) is needed for the fields a host wants: for another branch than the main
one, or for a wanted field the embedded main branch does not carry. So a main
branch enriched with PerfectView's fields costs one paid call; asking for the
split too (``PERFECTVIEW_FIELDS | EMPLOYEE_SPLIT``) usually costs two.

Owner names: the Basisprofiel's ``eigenaar`` gives the legal form and RSIN of
the owner, never a person's name, so nothing here fills ``contacts``. The
owner of an eenmanszaak and the other officers come from the Functionarissen
API (`crmconnect.kvk._officers`): the client adds them to ``contacts`` when
its ``contact_functions`` setting names the functions that count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Final

import attrs

from .. import validation
from ..errors import ConfigurationError
from ..errors import ValidationError as CrmValidationError
from ..models import Address, AddressKind, Organisation, SbiActivity
from ._models import BasicProfile, BranchProfile, KvKSbiActivity, RegisterAddress

__all__ = [
    "EMPLOYEE_SPLIT",
    "ENRICHMENT_FIELDS",
    "INVOICE_ADDRESS_FROM",
    "PERFECTVIEW_FIELDS",
    "EnrichmentSettings",
    "build_organisation",
    "employee_class",
]

ENRICHMENT_FIELDS: Final[tuple[str, ...]] = (
    "name",
    "statutory_name",
    "trade_names",
    "legal_form",
    "kvk_number",
    "branch_number",
    "rsin",
    "registration_date",
    "establishment_date",
    "end_date",
    "visiting_address",
    "postal_address",
    "invoice_address",
    "sbi_activities",
    "employees_total",
    "employees_full_time",
    "employees_part_time",
    "employee_class",
    "websites",
    "non_mailing",
    "is_main_branch",
)
"""Every `Organisation` field enrichment fills: the names `EnrichmentSettings.fields` takes."""

PERFECTVIEW_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "name",
        "visiting_address",
        "postal_address",
        "invoice_address",
        "sbi_activities",
        "employees_total",
        "employee_class",
        "kvk_number",
        "branch_number",
        "registration_date",
        "establishment_date",
        "rsin",
        "legal_form",
        "websites",
        "non_mailing",
    }
)
"""The fields PerfectView's KvK koppeling fills: the default of `EnrichmentSettings.fields`.

Employees are the total and its size class: the full-time/part-time split is
only in the branch profile (a second paid call), so it is asked for apart
(`EMPLOYEE_SPLIT`)."""

EMPLOYEE_SPLIT: Final[frozenset[str]] = frozenset({"employees_full_time", "employees_part_time"})
"""The full-time/part-time split of the employees, which only the branch profile gives.

Not in `PERFECTVIEW_FIELDS`; ask for it with
``EnrichmentSettings(fields=PERFECTVIEW_FIELDS | EMPLOYEE_SPLIT)`` (a second
paid call per main branch, where the Basisprofiel lacks it)."""

INVOICE_ADDRESS_FROM: Final[tuple[AddressKind, ...]] = (AddressKind.POSTAL, AddressKind.VISITING)
"""The default rule for the invoice address KvK does not hold: postal, else visiting."""

_MAIN_BRANCH_SOURCES: Final[dict[str, str]] = {
    "employees_full_time": "employees_full_time",
    "employees_part_time": "employees_part_time",
    "trade_names": "trade_names",
    "establishment_date": "material_registration",
}
"""Fields of the main branch the Basisprofiel may not carry, by the `BranchProfile` attribute
that gives them. KvK's spec leaves trade names out of its embedded main branch; KvK's recorded
answers also lack the full-time/part-time split (which the branch profile recorded at the same
time gives), and an older one the start date. Each is taken from the Basisprofiel when its
embedded main branch does carry it, so the second call is saved wherever KvK sends more.
Websites are in the embedded main branch by the spec (absent when there are none). Correct
this table if KvK's answers show otherwise."""


def _fields(value: Collection[str]) -> frozenset[str]:
    if isinstance(value, str):
        value = [value]
    unknown = sorted(set(value) - set(ENRICHMENT_FIELDS))
    if unknown:
        raise CrmValidationError(
            "fields", unknown[0], f"not a field enrichment fills: {list(ENRICHMENT_FIELDS)}"
        )
    return frozenset(value)


def _kinds(value: Sequence[AddressKind | str]) -> tuple[AddressKind, ...]:
    kinds = [value] if isinstance(value, str) else value
    allowed = (AddressKind.POSTAL, AddressKind.VISITING)
    for kind in kinds:
        if kind not in allowed:
            raise CrmValidationError("invoice_address_from", kind, "postal or visiting")
    return tuple(AddressKind(kind) for kind in kinds)


@attrs.frozen
class EnrichmentSettings:
    """What enrichment (`KvKClient.organisation`) fills, and so what it pays for.

    Attributes:
        fields: The fields the host wants (names from `ENRICHMENT_FIELDS`);
            PerfectView's by default (`PERFECTVIEW_FIELDS`: one paid call per
            main branch). A branch profile (a second paid call) is fetched
            only where one of them is not in the Basisprofiel, as the
            full-time/part-time split (`EMPLOYEE_SPLIT`) usually is not.
        invoice_address_from: The invoice address, which KvK does not hold, is
            a copy of the first of these register addresses that is given and
            not shielded: postal, else visiting (the default); ``()`` leaves
            it empty.

    Raises:
        ValidationError: An unknown field name, or an address kind other than
            postal or visiting.

    Example:
        ```python
        settings = EnrichmentSettings(fields=PERFECTVIEW_FIELDS | EMPLOYEE_SPLIT)
        kvk = KvKClient(enrichment=settings)   # with the split: usually two paid calls
        ```
    """

    fields: frozenset[str] = attrs.field(default=PERFECTVIEW_FIELDS, converter=_fields)
    invoice_address_from: tuple[AddressKind, ...] = attrs.field(
        default=INVOICE_ADDRESS_FROM, converter=_kinds
    )


def enrichment_settings(value: object) -> EnrichmentSettings:
    """The client's ``enrichment`` setting: PerfectView's when ``None``.

    Raises:
        ConfigurationError: It is not an `EnrichmentSettings`.
    """
    if value is None:
        return EnrichmentSettings()
    if not isinstance(value, EnrichmentSettings):
        kind = type(value).__name__
        raise ConfigurationError(f"enrichment must be an EnrichmentSettings, not {kind}")
    return value


def branch_to_fetch(
    profile: BasicProfile, branch_number: str | int | None, fields: Collection[str]
) -> str | int | None:
    """The branch whose profile enrichment must fetch, or ``None`` when the Basisprofiel does.

    Another branch than the main one is only described by its own profile.
    For the main branch (asked for, or by default) the branch profile is
    fetched only when a wanted field is one the embedded main branch may
    lack and this answer's does lack.

    Args:
        profile: The Basisprofiel, already fetched.
        branch_number: The branch asked for; ``None`` for the main branch.
        fields: The wanted fields (`EnrichmentSettings.fields`).
    """
    main = profile.main_branch
    if branch_number is not None and (
        main is None or validation.branch_number(branch_number) != main.branch_number
    ):
        return branch_number
    if main is None:
        return None
    sources = {_MAIN_BRANCH_SOURCES[f] for f in fields if f in _MAIN_BRANCH_SOURCES}
    lacking = sources - main.model_fields_set
    return main.branch_number if lacking else None


# KvK Handelsregister "klasse werkzame personen" (SUWI gegevensregister, code → lowest count).
_EMPLOYEE_CLASSES: tuple[tuple[int, str], ...] = (
    (1000, "12"),
    (750, "11"),
    (500, "10"),
    (200, "09"),
    (100, "08"),
    (50, "07"),
    (20, "06"),
    (10, "05"),
    (5, "04"),
    (2, "03"),
    (1, "02"),
    (0, "01"),
)

# Zoeken says "postadres", profiles say "correspondentieadres" for the same thing.
_ADDRESS_KINDS = {
    "bezoekadres": AddressKind.VISITING,
    "correspondentieadres": AddressKind.POSTAL,
    "postadres": AddressKind.POSTAL,
}


def employee_class(total: int | None) -> str | None:
    """KvK's size class code for a number of workers ("01" = 0 … "12" = 1000+).

    Example:
        >>> employee_class(7)
        '04'
    """
    if total is None:
        return None
    return next(code for floor, code in _EMPLOYEE_CLASSES if total >= floor)


def build_organisation(
    profile: BasicProfile,
    branch: BranchProfile | None,
    *,
    invoice_address_from: Sequence[AddressKind] = INVOICE_ADDRESS_FROM,
) -> Organisation:
    """Combine a Basisprofiel and (optionally) a branch profile into an `Organisation`.

    What the record describes depends only on the branch, never on how it was
    asked for, so that enrichment and the update service always compare like
    with like: with the main branch (or none) it describes the organisation
    (the register's name, the company's total of workers over all its
    branches, its activities); with another branch it describes that branch
    (its first trade name, its own workers and activities).

    Without a branch profile the main branch embedded in the Basisprofiel
    stands in for it: its addresses, number, start date and whatever else
    KvK put in it.

    Args:
        profile: The Basisprofiel of the registration.
        branch: The Vestigingsprofiel of the chosen branch, usually the main one.
        invoice_address_from: The rule for the invoice address, which KvK does
            not hold: a copy of the first of these kinds the register gives
            unshielded (postal, else visiting, by default); ``()`` leaves it empty.
    """
    own = _describes_branch(profile, branch)
    source = branch or profile.main_branch
    owner = profile.owner
    addresses = [a for a in (_address(raw) for raw in _raw_addresses(profile, source)) if a]
    total = _employees_total(profile, source, own)
    registration = profile.material_registration
    trade = branch.trade_names if branch and branch.trade_names else profile.trade_names
    return Organisation(
        name=_name(profile, source, own),
        statutory_name=profile.statutory_name,
        trade_names=[t.name for t in sorted(trade, key=lambda t: t.order or 0)],
        legal_form=(owner.legal_form or owner.extended_legal_form) if owner else None,
        kvk_number=profile.kvk_number,
        branch_number=source.branch_number if source else None,
        rsin=(owner.rsin if owner and owner.rsin else branch.rsin if branch else None),
        registration_date=registration.start_date if registration else None,
        establishment_date=_start_date(source),
        end_date=_end_date(profile, source),
        addresses=[*addresses, *_invoice_address(addresses, invoice_address_from)],
        sbi_activities=_activities(_pick(own, source, profile, "sbi_activities")),
        employees_total=total,
        employees_full_time=source.employees_full_time if source else None,
        employees_part_time=source.employees_part_time if source else None,
        employee_class=employee_class(total),
        websites=list(_websites(profile, source)),
        non_mailing=_pick(own, source, profile, "non_mailing"),
        is_main_branch=source.is_main_branch if source else None,
    )


def _raw_addresses(profile: BasicProfile, source: BranchProfile | None) -> list[RegisterAddress]:
    if source is not None:
        return source.addresses
    return profile.owner.addresses if profile.owner else []  # no branches: the owner's


def _websites(profile: BasicProfile, source: BranchProfile | None) -> list[str]:
    if source is not None and source.websites:
        return source.websites
    return profile.owner.websites if profile.owner else []


def _pick(own: bool, source: BranchProfile | None, profile: BasicProfile, field: str) -> Any:
    """A field both profiles have: the branch's for a branch record, else the company's."""
    first, second = (source, profile) if own else (profile, source)
    value = getattr(first, field) if first is not None else None
    if value in (None, []) and second is not None:
        return getattr(second, field)
    return value


def _invoice_address(addresses: list[Address], kinds: Sequence[AddressKind]) -> list[Address]:
    """KvK has no invoice address: a copy of the first usable address of the given kinds."""
    for kind in kinds:
        found = next((a for a in addresses if a.kind == kind and not a.shielded), None)
        if found is not None:
            return [found.model_copy(update={"kind": AddressKind.INVOICE})]
    return []


def _start_date(branch: BranchProfile | None) -> dt.date | None:
    registration = branch.material_registration if branch else None
    return registration.start_date if registration else None


def _describes_branch(profile: BasicProfile, branch: BranchProfile | None) -> bool:
    """Whether a record built from these describes a branch other than the main one.

    Such a record takes the branch's name and workers; any other describes the
    organisation as a whole.
    """
    if branch is None:
        return False
    if branch.is_main_branch is not None:
        return not branch.is_main_branch
    main = profile.main_branch
    return main is not None and main.branch_number != branch.branch_number


def _name(profile: BasicProfile, branch: BranchProfile | None, own: bool) -> str:
    if own and branch and branch.first_trade_name:
        return branch.first_trade_name
    return profile.name or (branch.first_trade_name if branch else None) or profile.kvk_number


def _employees_total(profile: BasicProfile, branch: BranchProfile | None, own: bool) -> int | None:
    # One scope per record: a branch's own workers, or the company's over all branches
    # (the main branch's count stands in only where the register gives no company total).
    if own and branch is not None:
        return branch.employees_total
    if profile.employees_total is not None:
        return profile.employees_total
    return branch.employees_total if branch else None


def _end_date(profile: BasicProfile, branch: BranchProfile | None) -> dt.date | None:
    candidates = [
        profile.material_registration.end_date if profile.material_registration else None,
        profile.owner.deregistration_date if profile.owner else None,
        branch.material_registration.end_date if branch and branch.material_registration else None,
    ]
    return next((date for date in candidates if date is not None), None)


def _activities(raw: Iterable[KvKSbiActivity]) -> list[SbiActivity]:
    # SBI codes stay strings: "01110" keeps its zero, 4-digit (pre-2025) codes are not padded.
    return [SbiActivity(code=a.sbi_code, description=a.description, main=bool(a.main)) for a in raw]


def _address(raw: RegisterAddress) -> Address | None:
    kind = _ADDRESS_KINDS.get((raw.type or "").casefold())
    if kind is None:
        return None
    return Address(
        kind=kind,
        street=raw.street,
        house_number=raw.house_number,
        house_letter=raw.house_letter,
        house_number_addition=raw.house_number_addition,
        extra=raw.extra,
        postcode=raw.postcode,
        po_box=raw.po_box,
        city=raw.city,
        country=_country_code(raw.country),
        shielded=bool(raw.shielded),
    )


def _country_code(country: str | None) -> str:
    # KvK writes the country in Dutch ("Nederland"); foreign addresses are rare in profiles.
    if not country or country.casefold() in {"nederland", "nl", "the netherlands"}:
        return "NL"
    known = {"belgie": "BE", "belgië": "BE", "duitsland": "DE", "frankrijk": "FR"}
    return known.get(country.casefold(), "ZZ")
