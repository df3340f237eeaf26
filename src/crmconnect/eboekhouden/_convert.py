"""Canonical parties → e-Boekhouden relations.

How a person's name is written into e-Boekhouden is a setting, as PerfectView
offers it: the last name only, initials with infix and last name, or the full
name. A private person's name goes in ``Bedrijf`` (e-Boekhouden has no
separate name fields) with ``BP = P``; an organisation's contact person in
``Contactpersoon``.
"""

from __future__ import annotations

from enum import StrEnum

from ..models import Address, Organisation, Person
from ._models import Relation, RelationType

__all__ = ["NameStyle", "format_person_name", "relation_from"]


class NameStyle(StrEnum):
    """How a person's name is written into e-Boekhouden."""

    LAST_NAME = "last_name"
    """``Berg``: the last name only (the infix stays with it: ``van der Berg``)."""
    INITIALS = "initials"
    """``J.P. van der Berg``: initials, infix and last name."""
    FULL_NAME = "full_name"
    """``Jan Pieter van der Berg``: first names, infix and last name."""


def format_person_name(person: Person, style: NameStyle = NameStyle.FULL_NAME) -> str:
    """Write a person's name the chosen way.

    Example:
        >>> p = Person(initials="J.P.", first_name="Jan Pieter", infix="van der", last_name="Berg")
        >>> format_person_name(p, NameStyle.INITIALS)
        'J.P. van der Berg'
    """
    surname = " ".join(part for part in (person.infix, person.last_name) if part)
    if style is NameStyle.LAST_NAME:
        first = None
    elif style is NameStyle.INITIALS:
        first = person.initials or _initials(person.first_name)
    else:
        first = person.first_name or person.initials
    return " ".join(part for part in (first, surname) if part)


def _initials(first_names: str | None) -> str | None:
    if not first_names:
        return None
    return "".join(f"{name[0].upper()}." for name in first_names.split())


def relation_from(
    party: Organisation | Person, *, code: str, name_style: NameStyle = NameStyle.FULL_NAME
) -> Relation:
    """The e-Boekhouden relation for a CRM organisation or private person.

    Args:
        party: The canonical record.
        code: The relation code (debtors 1xxx, creditors 2xxx by convention).
        name_style: How person names are written.
    """
    if isinstance(party, Person):
        contact = party.contact
        return Relation(
            code=code,
            company=format_person_name(party, name_style),
            type=RelationType.PRIVATE,
            email=contact.email,
            phone=contact.phone,
            mobile=contact.mobile,
        )
    visiting = party.visiting_address or party.invoice_address
    # e-Boekhouden has one second address (Adres2): the postal address (a PO box
    # often) wins; the invoice address fills it only when there is none.
    postal = party.postal_address or party.invoice_address
    bank = party.bank_accounts[0] if party.bank_accounts else None
    person = party.contacts[0] if party.contacts else None
    return Relation(
        code=code,
        company=party.name,
        type=RelationType.BUSINESS,
        contact_person=format_person_name(person, name_style) if person else None,
        **_address_fields(visiting, ""),
        **_address_fields(postal if postal is not visiting else None, "postal_"),
        phone=party.contact.phone,
        mobile=party.contact.mobile,
        email=party.contact.email,
        website=party.contact.website or (party.websites[0] if party.websites else None),
        vat_number=party.vat_number,
        kvk_number=party.kvk_number,
        iban=bank.iban if bank else None,
        bic=bank.bic if bank else None,
    )


def _address_fields(address: Address | None, prefix: str) -> dict[str, str | None]:
    if address is None:
        return {}
    if address.po_box is not None:
        line = f"Postbus {address.po_box}"
    else:
        number = "".join(
            str(part) for part in (address.house_number, address.house_letter) if part is not None
        )
        addition = f"-{address.house_number_addition}" if address.house_number_addition else ""
        line = " ".join(part for part in (address.street, number + addition) if part)
    # Assumption: e-Boekhouden's Land is free text; the ISO code is sent ("NL").
    return {
        f"{prefix}address": line or None,
        f"{prefix}postcode": address.postcode,
        f"{prefix}city": address.city,
        f"{prefix}country": address.country,
    }
