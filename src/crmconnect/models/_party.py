"""Canonical party models: what a host CRM fills in and what connectors return.

Identifiers are checked and normalised by `crmconnect.validation` when a
model is built or a field is assigned (``"6959 9084"`` becomes
``"69599084"``; ``"123"`` is refused, never padded). Every other text is kept
as the host wrote it, without control and invisible characters and without
surrounding whitespace. Debtor and creditor numbers are relation codes
(`crmconnect.models._base.RelationNumber`). A refusal is a
`crmconnect.errors.ValidationError` naming the field and the value.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from .. import validation
from .._model import clean_text
from ..errors import ValidationError
from ..validation._identifiers import EU_VAT_COUNTRIES
from ._base import CanonicalModel, CleanText, RelationNumber, identifier

__all__ = [
    "Address",
    "AddressKind",
    "BankAccount",
    "ContactDetails",
    "Organisation",
    "Person",
    "RelationType",
    "SbiActivity",
]

MAX_EMPLOYEES = 10_000_000
"""More people than any employer has: a larger count is a typing or unit error."""


def _vat_number(value: object) -> str:
    # A CRM (and VIES) holds VAT numbers of every member state; one of a country
    # outside the EU (CHE-..., GB...) has no rule here and is kept as written.
    if isinstance(value, str):
        text = clean_text(value).strip()
        if text[:2].isascii() and text[:2].isalpha() and text[:2].upper() not in EU_VAT_COUNTRIES:
            return text
    return validation.eu_vat_number(value)  # type: ignore[arg-type]


KvkNumber = Annotated[str, identifier(validation.kvk_number)]
BranchNumber = Annotated[str, identifier(validation.branch_number)]
Rsin = Annotated[str, identifier(validation.rsin)]
Bsn = Annotated[str, identifier(validation.bsn)]
VatNumber = Annotated[str, identifier(_vat_number)]
Iban = Annotated[str, identifier(validation.iban)]
Bic = Annotated[str, identifier(validation.bic)]
SbiCode = Annotated[str, identifier(validation.sbi_code)]


class AddressKind(StrEnum):
    """The role of an address."""

    VISITING = "visiting"
    """Bezoekadres: where the organisation is located."""
    POSTAL = "postal"
    """Postadres / correspondentieadres: where mail goes (may be a PO box)."""
    INVOICE = "invoice"
    """Factuuradres: CRM and accounting only; the KvK register does not hold it."""
    PRIVATE = "private"
    """Woonadres / privéadres: a person's home address; the KvK register does not hold it."""


class RelationType(StrEnum):
    """What a party is to the host (relatiesoort); ``None`` on a party means unknown.

    It is independent of the debtor and creditor numbers: a supplier may also
    buy something and get a debtor number.
    """

    CUSTOMER = "customer"
    """Klant: the host sells to the party."""
    SUPPLIER = "supplier"
    """Leverancier: the party sells to the host."""
    PROSPECT = "prospect"
    """Prospect: a possible customer, not (yet) invoiced."""
    TO_ASSESS = "to_assess"
    """Te beoordelen: not yet classified by a person, e.g. a relation that arrived from
    a bookkeeping service."""


def _first_address(addresses: list[Address], kind: AddressKind | str) -> Address | None:
    try:
        wanted = AddressKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in AddressKind)
        reason = f"not a kind of address (one of {known})"
    else:
        return next((a for a in addresses if a.kind == wanted), None)
    raise ValidationError("kind", kind, reason)


class Address(CanonicalModel):
    """A postal address, split the way Dutch registers (BAG, KvK) split it.

    Attributes:
        kind: The role of the address.
        street: Street name, without the house number.
        house_number: House number (1..99999).
        house_letter: One letter directly after the number ("17 M" → ``"M"``).
        house_number_addition: Up to four characters after the letter ("hs", "2").
        extra: Further detail such as "3e etage" (KvK ``toevoegingAdres``).
        postcode: A Dutch postcode (``country`` ``"NL"``) is checked and written
            ``1234AB``; a foreign one is kept as given.
        po_box: PO box number (Postbus) instead of street and house number.
        city: City (woonplaats).
        country: ISO 3166-1 alpha-2 code, ``"NL"`` by default.
        shielded: The register shields this address (only the city is public).
    """

    kind: AddressKind = AddressKind.VISITING
    street: CleanText | None = None
    house_number: int | None = Field(default=None, ge=1, le=99999)
    house_letter: CleanText | None = Field(default=None, max_length=1)
    house_number_addition: CleanText | None = Field(default=None, max_length=4)
    extra: CleanText | None = None
    postcode: CleanText | None = None
    po_box: int | None = Field(default=None, ge=1, le=99999)
    city: CleanText | None = None
    country: str = Field(default="NL", pattern="^[A-Za-z]{2}$")
    shielded: bool = False

    @field_validator("country")
    @classmethod
    def _upper_country(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _dutch_postcode(self) -> Address:
        # After the model: the country decides, and it may come after the postcode.
        if self.postcode and self.country == "NL":
            compact = validation.postcode(self.postcode)  # our error, naming "postcode"
            # Not through __setattr__: assignment would validate (and get here) again.
            self.__dict__["postcode"] = compact
        return self

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


class BankAccount(CanonicalModel):
    """A bank account.

    Attributes:
        iban: IBAN in compact form, checked (country, length, structure, mod 97).
        bic: BIC in compact form, when known; checked (length, structure, country).
    """

    iban: Iban
    bic: Bic | None = None


class SbiActivity(CanonicalModel):
    """A business activity by its SBI code (Standaard Bedrijfsindeling).

    Attributes:
        code: 4 or 5 digits, kept as a string ("01110" keeps its leading zero).
        description: The register's description.
        main: Whether this is the main activity (``indHoofdactiviteit``).
    """

    code: SbiCode
    description: CleanText | None = None
    main: bool = False


class ContactDetails(CanonicalModel):
    """How to reach a party.

    No rule checks these beyond the text rules: an address or number that
    looks wrong may still reach the party, so it is kept as written.

    Attributes:
        email: E-mail address.
        phone: Telephone number.
        mobile: Mobile number.
        fax: Fax number.
        website: Main website.
    """

    email: CleanText | None = None
    phone: CleanText | None = None
    mobile: CleanText | None = None
    fax: CleanText | None = None
    website: CleanText | None = None


class Person(CanonicalModel):
    """A natural person: a contact, an owner, or a private customer.

    Attributes:
        id: The host CRM's own key for this record.
        initials: Initials, e.g. ``"J.P."``.
        first_name: First name(s).
        infix: Tussenvoegsel, e.g. ``"van der"``.
        last_name: Surname without the infix.
        role: The person's role at the organisation, e.g. ``"owner"``.
        start_date: When the person took up that role (for an officer from
            the KvK register: the date of entry), when known.
        contact: Contact details.
        addresses: Private, postal and invoice addresses.
        share_percentage: Share in the organisation, for UBO checks.
        bank_accounts: Bank accounts, e.g. of a private customer paying by
            direct debit; each IBAN and BIC is checked as an organisation's.
        bsn: Citizen service number (9 digits, elfproef); treat as sensitive.
        debtor_number: Debtor number (debiteurnummer), the code of the person
            as a customer in a bookkeeping service: visible text of at most
            `MAX_RELATION_CODE` (15) characters, or ``None``.
        creditor_number: Creditor number (crediteurnummer), the code of the
            person as a supplier; the same rule.
        relation_type: Customer, supplier, prospect or to be assessed;
            ``None`` when unknown.
        active: ``False`` once the host deactivated the person (a contact that
            left is deactivated rather than deleted).

    Example:
        >>> person = Person(last_name="Berg", debtor_number=1001,
        ...                 addresses=[{"kind": "private", "city": "Utrecht"}])
        >>> person.debtor_number, person.private_address.city
        ('1001', 'Utrecht')
    """

    id: CleanText | None = None
    initials: CleanText | None = None
    first_name: CleanText | None = None
    infix: CleanText | None = None
    last_name: CleanText | None = None
    role: CleanText | None = None
    start_date: dt.date | None = None
    contact: ContactDetails = Field(default_factory=ContactDetails)
    addresses: list[Address] = Field(default_factory=list)
    share_percentage: Decimal | None = Field(default=None, ge=0, le=100)
    bank_accounts: list[BankAccount] = Field(default_factory=list)
    bsn: Bsn | None = Field(default=None, repr=False)
    debtor_number: RelationNumber = None
    creditor_number: RelationNumber = None
    relation_type: RelationType | None = None
    active: bool = True

    def full_name(self) -> str:
        """First name (or initials), infix and last name, e.g. ``"J.P. van der Berg"``."""
        parts = (self.first_name or self.initials, self.infix, self.last_name)
        return " ".join(part for part in parts if part)

    def address(self, kind: AddressKind | str) -> Address | None:
        """The first address of a kind, or ``None``.

        Raises:
            ValidationError: ``kind`` is not an `AddressKind`.
        """
        return _first_address(self.addresses, kind)

    @property
    def private_address(self) -> Address | None:
        """The private address (woonadres), if known."""
        return self.address(AddressKind.PRIVATE)


class Organisation(CanonicalModel):
    """An organisation as a CRM knows it, and as the KvK register describes it.

    Identifiers are kept as strings with their leading zeros, checked and
    normalised by `crmconnect.validation`. Fields the host does not know stay
    ``None``; enrichment fills them.

    Attributes:
        id: The host CRM's own key for this record.
        name: Display name (KvK ``naam`` / first trade name).
        statutory_name: Statutory name (statutaire naam), when registered.
        trade_names: All trade names (handelsnamen), in the register's order.
        legal_form: Legal form as the register writes it, e.g. ``"Besloten Vennootschap"``.
        kvk_number: 8-digit KvK number; spaces and dots are dropped, a shorter
            number is refused (pad it with `crmconnect.validation.kvk_number`
            and ``pad=True`` where a spreadsheet dropped its zeros).
        branch_number: 12-digit branch number (vestigingsnummer), left-padded.
        rsin: 9-digit RSIN of a legal entity or partnership (elfproef).
        vat_number: VAT identification number: one of an EU member state is
            checked by that state's rules and written compact with its country
            code (``"NL004495445B01"``); one of another country is kept as written.
        registration_date: Start of the registration (``materieleRegistratie.datumAanvang``).
        establishment_date: Start of the branch this record describes (vestigingsdatum:
            its own ``materieleRegistratie.datumAanvang``), beside the company's
            registration date.
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
        debtor_number: Debtor number (debiteurnummer), the organisation's code
            as a customer in a bookkeeping service: visible text of at most
            `MAX_RELATION_CODE` (15) characters, or ``None``. No range is
            enforced (DigitaleFactuur numbers debtors 1xxx by convention; other
            services and CRMs differ).
        creditor_number: Creditor number (crediteurnummer), its code as a
            supplier (2xxx by DigitaleFactuur's convention); the same rule.
        relation_type: Customer, supplier, prospect or to be assessed;
            ``None`` when unknown.

    Example:
        >>> Organisation(name="Bakkerij", kvk_number="6959 9084").kvk_number
        '69599084'
    """

    id: CleanText | None = None
    name: CleanText
    statutory_name: CleanText | None = None
    trade_names: list[CleanText] = Field(default_factory=list)
    legal_form: CleanText | None = None
    kvk_number: KvkNumber | None = None
    branch_number: BranchNumber | None = None
    rsin: Rsin | None = None
    vat_number: VatNumber | None = None
    registration_date: dt.date | None = None
    establishment_date: dt.date | None = None
    end_date: dt.date | None = None
    addresses: list[Address] = Field(default_factory=list)
    sbi_activities: list[SbiActivity] = Field(default_factory=list)
    employees_total: int | None = Field(default=None, ge=0, le=MAX_EMPLOYEES)
    employees_full_time: int | None = Field(default=None, ge=0, le=MAX_EMPLOYEES)
    employees_part_time: int | None = Field(default=None, ge=0, le=MAX_EMPLOYEES)
    employee_class: CleanText | None = None
    websites: list[CleanText] = Field(default_factory=list)
    non_mailing: bool | None = None
    is_main_branch: bool | None = None
    contact: ContactDetails = Field(default_factory=ContactDetails)
    contacts: list[Person] = Field(default_factory=list)
    bank_accounts: list[BankAccount] = Field(default_factory=list)
    debtor_number: RelationNumber = None
    creditor_number: RelationNumber = None
    relation_type: RelationType | None = None

    def address(self, kind: AddressKind | str) -> Address | None:
        """The first address of a kind, or ``None``.

        Raises:
            ValidationError: ``kind`` is not an `AddressKind`.
        """
        return _first_address(self.addresses, kind)

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
