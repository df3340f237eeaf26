"""Canonical party models: what a host CRM fills in and what connectors return."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Address",
    "AddressKind",
    "BankAccount",
    "ContactDetails",
    "Organisation",
    "Person",
    "SbiActivity",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, str_strip_whitespace=True)


class AddressKind(StrEnum):
    """The role of an address."""

    VISITING = "visiting"
    """Bezoekadres: where the organisation is located."""
    POSTAL = "postal"
    """Postadres / correspondentieadres: where mail goes (may be a PO box)."""
    INVOICE = "invoice"
    """Factuuradres: CRM and accounting only; the KvK register does not hold it."""


class Address(_Model):
    """A postal address, split the way Dutch registers (BAG, KvK) split it.

    Attributes:
        kind: The role of the address.
        street: Street name, without the house number.
        house_number: House number (1..99999).
        house_letter: One letter directly after the number ("17 M" → ``"M"``).
        house_number_addition: Up to four characters after the letter ("hs", "2").
        extra: Further detail such as "3e etage" (KvK ``toevoegingAdres``).
        postcode: Dutch postcodes as ``1234AB``; foreign ones as given.
        po_box: PO box number (Postbus) instead of street and house number.
        city: City (woonplaats).
        country: ISO 3166-1 alpha-2 code, ``"NL"`` by default.
        shielded: The register shields this address (only the city is public).
    """

    kind: AddressKind = AddressKind.VISITING
    street: str | None = None
    house_number: int | None = Field(default=None, ge=1, le=99999)
    house_letter: str | None = Field(default=None, max_length=1)
    house_number_addition: str | None = Field(default=None, max_length=4)
    extra: str | None = None
    postcode: str | None = None
    po_box: int | None = Field(default=None, ge=1)
    city: str | None = None
    country: str = Field(default="NL", min_length=2, max_length=2)
    shielded: bool = False

    @field_validator("country")
    @classmethod
    def _upper_country(cls, value: str) -> str:
        return value.upper()

    @field_validator("postcode")
    @classmethod
    def _compact_postcode(cls, value: str | None) -> str | None:
        if value is None:
            return None
        compact = value.replace(" ", "").upper()
        # Only Dutch-looking postcodes are compacted; foreign ones are kept as given.
        if len(compact) == 6 and compact[:4].isdigit() and compact[4:].isalpha():
            return compact
        return value

    def one_line(self) -> str:
        """The address on one line, e.g. ``"Abebe Bikilalaan 17 M, 1034WL Amsterdam"``."""
        if self.po_box is not None:
            first = f"Postbus {self.po_box}"
        else:
            number = " ".join(
                part
                for part in (
                    str(self.house_number) if self.house_number else None,
                    self.house_letter,
                    self.house_number_addition,
                )
                if part
            )
            first = " ".join(part for part in (self.street, number) if part)
        second = " ".join(part for part in (self.postcode, self.city) if part)
        return ", ".join(part for part in (first, second) if part)


class BankAccount(_Model):
    """A bank account.

    Attributes:
        iban: IBAN in compact form.
        bic: BIC, derived from a Dutch IBAN where not given.
    """

    iban: str
    bic: str | None = None


class SbiActivity(_Model):
    """A business activity by its SBI code (Standaard Bedrijfsindeling).

    Attributes:
        code: 4 or 5 digits, kept as a string ("01110" keeps its leading zero).
        description: The register's description.
        main: Whether this is the main activity (``indHoofdactiviteit``).
    """

    code: str = Field(pattern=r"^[0-9]{4,5}$")
    description: str | None = None
    main: bool = False


class ContactDetails(_Model):
    """How to reach a party.

    Attributes:
        email: E-mail address.
        phone: Telephone number.
        mobile: Mobile number.
        website: Main website.
    """

    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    website: str | None = None


class Person(_Model):
    """A natural person: a contact, an owner, or a private customer.

    Attributes:
        initials: Initials, e.g. ``"J.P."``.
        first_name: First name(s).
        infix: Tussenvoegsel, e.g. ``"van der"``.
        last_name: Surname without the infix.
        role: The person's role at the organisation, e.g. ``"owner"``.
        contact: Contact details.
        share_percentage: Share in the organisation, for UBO checks.
        bsn: Citizen service number; treat as sensitive.
    """

    initials: str | None = None
    first_name: str | None = None
    infix: str | None = None
    last_name: str | None = None
    role: str | None = None
    contact: ContactDetails = Field(default_factory=ContactDetails)
    share_percentage: Decimal | None = Field(default=None, ge=0, le=100)
    bsn: str | None = Field(default=None, repr=False)

    def full_name(self) -> str:
        """First name (or initials), infix and last name, e.g. ``"J.P. van der Berg"``."""
        parts = (self.first_name or self.initials, self.infix, self.last_name)
        return " ".join(part for part in parts if part)


class Organisation(_Model):
    """An organisation as a CRM knows it, and as the KvK register describes it.

    Identifiers are kept as strings with their leading zeros. Fields the host
    does not know stay ``None``; enrichment fills them.

    Attributes:
        id: The host CRM's own key for this record.
        name: Display name (KvK ``naam`` / first trade name).
        statutory_name: Statutory name (statutaire naam), when registered.
        trade_names: All trade names (handelsnamen), in the register's order.
        legal_form: Legal form as the register writes it, e.g. ``"Besloten Vennootschap"``.
        kvk_number: 8-digit KvK number.
        branch_number: 12-digit branch number (vestigingsnummer).
        rsin: 9-digit RSIN of a legal entity or partnership.
        vat_number: VAT identification number.
        registration_date: Start of the registration (``materieleRegistratie.datumAanvang``).
        end_date: End of the registration, when it ended.
        addresses: Visiting, postal and invoice addresses.
        sbi_activities: Business activities, the main one marked.
        employees_total: Total number of people working there.
        employees_full_time: Full-time workers.
        employees_part_time: Part-time workers (under 15 hours a week).
        employee_class: KvK size class code ("01" = 0 … "12" = 1000+).
        websites: Websites.
        non_mailing: ``True`` when the organisation refuses unsolicited mail
            and door-to-door sales (KvK ``indNonMailing``).
        is_main_branch: Whether the branch is the main branch (hoofdvestiging).
        contact: General contact details.
        contacts: Contact persons, e.g. the owner of a sole proprietorship.
        bank_accounts: Bank accounts.
    """

    id: str | None = None
    name: str
    statutory_name: str | None = None
    trade_names: list[str] = Field(default_factory=list)
    legal_form: str | None = None
    kvk_number: str | None = None
    branch_number: str | None = None
    rsin: str | None = None
    vat_number: str | None = None
    registration_date: dt.date | None = None
    end_date: dt.date | None = None
    addresses: list[Address] = Field(default_factory=list)
    sbi_activities: list[SbiActivity] = Field(default_factory=list)
    employees_total: int | None = Field(default=None, ge=0)
    employees_full_time: int | None = Field(default=None, ge=0)
    employees_part_time: int | None = Field(default=None, ge=0)
    employee_class: str | None = None
    websites: list[str] = Field(default_factory=list)
    non_mailing: bool | None = None
    is_main_branch: bool | None = None
    contact: ContactDetails = Field(default_factory=ContactDetails)
    contacts: list[Person] = Field(default_factory=list)
    bank_accounts: list[BankAccount] = Field(default_factory=list)

    def address(self, kind: AddressKind | str) -> Address | None:
        """The first address of a kind, or ``None``."""
        wanted = AddressKind(kind)
        return next((a for a in self.addresses if a.kind == wanted), None)

    @property
    def visiting_address(self) -> Address | None:
        """The visiting address (bezoekadres), if known."""
        return self.address(AddressKind.VISITING)

    @property
    def postal_address(self) -> Address | None:
        """The postal address (postadres), if known."""
        return self.address(AddressKind.POSTAL)

    @property
    def invoice_address(self) -> Address | None:
        """The invoice address (factuuradres), if known."""
        return self.address(AddressKind.INVOICE)

    @property
    def main_activity(self) -> SbiActivity | None:
        """The main SBI activity, if known."""
        return next((a for a in self.sbi_activities if a.main), None)
