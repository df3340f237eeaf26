"""Register data → canonical `Organisation` (pure, no I/O).

These are the fields PerfectView's KvK koppeling fills: name, visiting and
postal address, SBI codes with the main activity, employees (total,
full-time) and size class, KvK and branch number, registration date, RSIN,
legal form, websites and the non-mailing indication.

Owner names: the current KvK APIs (Basisprofiel ``eigenaar``) give the legal
form and RSIN of the owner, not a natural person's name; KvK's coming
Functionarissen API will. Until then ``contacts`` stays as the CRM had it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from ..models import Address, AddressKind, Organisation, SbiActivity
from ._models import BasicProfile, BranchProfile, KvKSbiActivity, RegisterAddress

__all__ = ["build_organisation", "employee_class"]

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


def build_organisation(profile: BasicProfile, branch: BranchProfile | None) -> Organisation:
    """Combine a Basisprofiel and (optionally) a branch profile into an `Organisation`.

    What the record describes depends only on the branch, never on how it was
    asked for, so that enrichment and the update service always compare like
    with like: with the main branch (or none) it describes the organisation
    (the register's name, the company's total of workers over all its
    branches); with another branch it describes that branch (its first trade
    name, its own workers).

    Args:
        profile: The Basisprofiel of the registration.
        branch: The Vestigingsprofiel of the chosen branch, usually the main one.
    """
    own = _describes_branch(profile, branch)
    owner = profile.owner
    raw_addresses = branch.addresses if branch else (owner.addresses if owner else [])
    websites = branch.websites if branch and branch.websites else (owner.websites if owner else [])
    activities = (
        branch.sbi_activities if branch and branch.sbi_activities else profile.sbi_activities
    )
    total = _employees_total(profile, branch, own)
    registration = profile.material_registration
    trade = branch.trade_names if branch and branch.trade_names else profile.trade_names
    return Organisation(
        name=_name(profile, branch, own),
        statutory_name=profile.statutory_name,
        trade_names=[t.name for t in sorted(trade, key=lambda t: t.order or 0)],
        legal_form=(owner.legal_form or owner.extended_legal_form) if owner else None,
        kvk_number=profile.kvk_number,
        branch_number=branch.branch_number if branch else None,
        rsin=(owner.rsin if owner and owner.rsin else branch.rsin if branch else None),
        registration_date=registration.start_date if registration else None,
        end_date=_end_date(profile, branch),
        addresses=[a for a in (_address(raw) for raw in raw_addresses) if a is not None],
        sbi_activities=_activities(activities),
        employees_total=total,
        employees_full_time=branch.employees_full_time if branch else None,
        employees_part_time=branch.employees_part_time if branch else None,
        employee_class=employee_class(total),
        websites=list(websites),
        non_mailing=_non_mailing(profile, branch),
        is_main_branch=branch.is_main_branch if branch else None,
    )


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


def _non_mailing(profile: BasicProfile, branch: BranchProfile | None) -> bool | None:
    if branch and branch.non_mailing is not None:
        return branch.non_mailing
    return profile.non_mailing


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
