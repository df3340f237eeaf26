"""The import template of accounting offices: its columns, their spellings, and what a gap breaks.

All of it is data: `COLUMNS` (with the Dutch and English header, more
spellings, and an explanation), `CONSEQUENCES` (what a missing value breaks
downstream, in Dutch and English) and `MESSAGES` (the texts of the findings).
`write_template` writes an empty template, CSV or XLSX, with an explanation row.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from pathlib import Path

import attrs

from .._tabular import safe_row
from ..errors import ConfigurationError, ValidationError

__all__ = [
    "COLUMNS",
    "CONSEQUENCES",
    "MESSAGES",
    "PERSON_FIELDS",
    "PERSON_GROUPS",
    "TEMPLATE_SUFFIXES",
    "Column",
    "header_key",
    "write_template",
]


def header_key(header: str) -> str:
    """A header compared loosely: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", header.casefold())


@attrs.frozen
class Column:
    """One column of the template.

    Attributes:
        key: Our name, e.g. ``"rsin_bsn"``.
        header: The template's (Dutch) header.
        english: The English header.
        aliases: More spellings, compared loosely (`header_key`).
        explanation_nl: What goes in it, in Dutch (the template's explanation row).
        explanation_en: The same in English.
        essential: The `CONSEQUENCES` key of what a missing value breaks; ``None``
            when the column may stay empty.
    """

    key: str
    header: str
    english: str
    aliases: tuple[str, ...]
    explanation_nl: str
    explanation_en: str
    essential: str | None = None

    @property
    def spellings(self) -> frozenset[str]:
        """Every accepted header, compared loosely."""
        return frozenset(
            header_key(s) for s in (self.key, self.header, self.english, *self.aliases)
        )


COLUMNS: tuple[Column, ...] = (
    Column("relation_number", "Relatienummer", "Relation number",
           ("relatiecode", "klantnummer", "debiteurnummer", "customer number", "client number",
            "id"),
           "Uw eigen nummer van de klant (de relatie), uniek in het bestand.",
           "Your own number of the client (the relation), unique in the file.", "pairing"),
    Column("name", "Naam", "Name",
           ("bedrijfsnaam", "company name", "organisatie", "organisation", "klantnaam", "client"),
           "Naam van de organisatie of persoon.", "Name of the organisation or person."),
    Column("kvk_number", "KvK-nummer", "KvK number",
           ("kvk", "coc number", "chamber of commerce", "handelsregisternummer"),
           "8 cijfers.", "8 digits."),
    Column("branch_number", "Vestigingsnummer", "Branch number", ("vestiging", "branch"),
           "12 cijfers, alleen als de klant meer vestigingen heeft.",
           "12 digits, only where the client has several branches."),
    Column("rsin_bsn", "RSIN/BSN", "RSIN/BSN",
           ("rsin", "bsn", "fiscaal nummer", "fiscal number", "tax number", "rsin of bsn"),
           "RSIN (rechtspersoon) of BSN (eenmanszaak), 9 cijfers.",
           "RSIN (legal entity) or BSN (sole trader), 9 digits.", "dossier"),
    Column("vat_number", "Btw-nummer", "VAT number",
           ("btw", "vat", "btw-id", "btw id", "omzetbelastingnummer", "ob-nummer"),
           "NL + 9 cijfers + B + 2 cijfers, bijvoorbeeld NL004495445B01.",
           "NL + 9 digits + B + 2 digits, for example NL004495445B01.", "vat_link"),
    Column("payroll_number", "Loonheffingennummer", "Payroll tax number",
           ("loonheffingsnummer", "lh-nummer", "payroll number", "wage tax number"),
           "9 cijfers + L + 2 cijfers, bijvoorbeeld 004495445L01.",
           "9 digits + L + 2 digits, for example 004495445L01.", "payroll_link"),
    Column("ibans", "IBAN", "IBAN",
           ("ibans", "bankrekening", "bankrekeningnummer", "rekeningnummer", "bank account"),
           "Een of meer IBAN's, gescheiden door een puntkomma.",
           "One or more IBANs, separated by semicolons.", "ideal"),
    Column("vat_period", "Aangiftetijdvak btw", "VAT return period",
           ("btw tijdvak", "btw periode", "vat period", "aangifte btw"),
           "maand, kwartaal of jaar.", "month, quarter or year.", "vat_workflow"),
    Column("payroll_period", "Aangiftetijdvak loonheffingen", "Payroll tax return period",
           ("loonheffingen tijdvak", "lh tijdvak", "payroll period", "payroll tax period"),
           "maand, 4 weken of jaar (leeg als er geen personeel is).",
           "month, 4 weeks or year (empty when there are no employees)."),
    Column("products", "Producten", "Products", ("diensten", "services"),
           "Afgenomen producten, gescheiden door een puntkomma.",
           "Products taken, separated by semicolons.", "products"),
    Column("contact_number", "Contactnummer", "Contact number",
           ("contactpersoonnummer", "contact id", "contactpersoon nummer"),
           "Nummer van de contactpersoon in uw CRM (niet het relatienummer).",
           "Number of the contact person in your CRM (not the relation number).",
           "contact_sync"),
    Column("address", "Adres", "Address", ("straat", "street", "straat en huisnummer"),
           "Straat en huisnummer.", "Street and house number."),
    Column("postcode", "Postcode", "Postcode", ("postal code", "zip", "zipcode"),
           "1234 AB.", "1234 AB."),
    Column("city", "Plaats", "City", ("woonplaats", "vestigingsplaats", "town"), "", ""),
    Column("persons", "Personen", "Persons", ("aandeelhouders", "shareholders", "ubos"),
           "Kort: Naam 60%; Naam 40%. Of gebruik de kolommen Persoon 1 ...",
           "Short: Name 60%; Name 40%. Or use the columns Person 1 ..."),
)  # fmt: skip
"""The template's columns, in its order."""

PERSON_FIELDS: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    "name": ("naam", "name", ("naam", "name", "volledigenaam", "fullname")),
    "share": ("aandeel (%)", "share (%)", ("aandeel", "share", "percentage", "belang", "interest")),
    "birth_date": ("geboortedatum", "date of birth",
                   ("geboortedatum", "dateofbirth", "birthdate", "born")),
    "nationality": ("nationaliteit", "nationality", ("nationaliteit", "nationality")),
    "bsn": ("BSN", "BSN", ("bsn", "burgerservicenummer", "tin")),
}  # fmt: skip
"""Fields of a person group ``Persoon N <field>``: (Dutch, English, spellings)."""

PERSON_GROUPS = 3
"""Person groups in the written template (any number is read)."""

_PERSON_HEADER = re.compile(r"^(?:persoon|person|aandeelhouder|shareholder|ubo)(\d{1,2})(.+)$")


def person_column(header: str) -> tuple[int, str] | None:
    """``("Persoon 2 aandeel")`` → ``(2, "share")``; ``None`` for other headers."""
    found = _PERSON_HEADER.match(header_key(header))
    if found is None:
        return None
    rest = found.group(2)
    for field, (_nl, _en, spellings) in PERSON_FIELDS.items():
        if any(rest.startswith(s) for s in spellings):
            return int(found.group(1)), field
    return None


CONSEQUENCES: Mapping[str, tuple[str, str]] = {
    "dossier": (
        "Zonder RSIN/BSN kan een aangifte uit een bronpakket niet aan het dossier worden "
        "gekoppeld en stopt het goedkeuringsproces.",
        "Without the RSIN/BSN a tax return from a source package cannot be linked to its "
        "dossier and the approval process stops.",
    ),
    "pairing": (
        "Zonder relatienummer kan de synchronisatie met gekoppelde pakketten de relatie "
        "(de organisatie) niet aan haar record daar koppelen; het contactnummer vervangt het "
        "niet.",
        "Without the relation number the synchronisation with linked packages cannot pair "
        "the relation (the organisation) with its record there; the contact number does not "
        "replace it.",
    ),
    "contact_sync": (
        "Het contactnummer koppelt de contactpersoon bij het synchroniseren van personen met "
        "gekoppelde pakketten; zonder eigen contactnummer wordt de persoon niet "
        "gesynchroniseerd of aan de verkeerde persoon gekoppeld.",
        "The contact number pairs the contact person when persons are synchronised with "
        "linked packages; without a contact number of its own the person is not synchronised, "
        "or is paired with the wrong person.",
    ),
    "products": (
        "Zonder producten weet het kantoor niet welke diensten de klant afneemt, en starten de "
        "workflows van die diensten niet.",
        "Without the products the office cannot tell which services the client takes, and the "
        "workflows of those services do not start.",
    ),
    "ideal": (
        "Zonder bankrekening kan geen iDEAL-identificatie van 1 cent worden aangevraagd.",
        "Without a bank account no iDEAL 1-cent identification can be requested.",
    ),
    "vat_workflow": (
        "Zonder aangiftetijdvak btw weet de workflow niet hoe vaak de btw-aangifte moet starten.",
        "Without the VAT return period the workflow cannot tell how often the VAT return starts.",
    ),
    "payroll_workflow": (
        "Zonder aangiftetijdvak loonheffingen weet de workflow niet hoe vaak de aangifte "
        "loonheffingen moet starten.",
        "Without the payroll tax return period the workflow cannot tell how often the payroll "
        "return starts.",
    ),
    "vat_link": (
        "Zonder btw-nummer kan de btw-aangifte niet aan de klant worden gekoppeld.",
        "Without the VAT number the VAT return cannot be linked to the client.",
    ),
    "payroll_link": (
        "Zonder loonheffingennummer kan de aangifte loonheffingen niet aan de klant worden "
        "gekoppeld.",
        "Without the payroll tax number the payroll return cannot be linked to the client.",
    ),
    "ubo": (
        "Deze persoon is UBO (meer dan 25%): zijn of haar identificatie moet worden "
        "vastgelegd (Wwft).",
        "This person is a UBO (more than 25%): their identification must be recorded (Wwft).",
    ),
    "invalid": (
        "Deze waarde wordt niet overgenomen; de rij staat in het rapport, niet in het "
        "genormaliseerde bestand.",
        "This value cannot be taken over; the row is in the report, not in the normalised file.",
    ),
}
"""What a gap or an error breaks, in Dutch and English."""

MESSAGES: Mapping[str, tuple[str, str]] = {
    "missing": ("{column} ontbreekt.", "{column} is missing."),
    "invalid": ("{column} is ongeldig ({reason}).", "{column} is not valid: {reason}."),
    "scientific": (
        "{column} is door Excel in wetenschappelijke notatie gezet ({value}); de cijfers zijn "
        "verloren. Exporteer opnieuw met de kolom als tekst.",
        "Excel turned {column} into scientific notation ({value}); its digits are lost. "
        "Export again with the column formatted as text.",
    ),
    "padded": (
        "{column}: voorloopnullen hersteld ({value} → {fixed}).",
        "{column}: leading zeros restored ({value} → {fixed}).",
    ),
    "duplicate": (
        "Relatienummer {value} staat ook op regel {other}.",
        "Relation number {value} is also on line {other}.",
    ),
    "empty_row": ("Lege regel overgeslagen.", "Empty row skipped."),
    "explanation_row": ("Toelichtingsregel van het sjabloon overgeslagen.",
                        "The template's explanation row skipped."),
    "no_name": ("De naam ontbreekt: de rij kan niet worden ingelezen.",
                "The name is missing: the row cannot be read."),
    "share": ("Aandeel van {person} is geen percentage: '{value}'.",
              "Share of {person} is not a percentage: '{value}'."),
    "shares_over_100": ("De aandelen tellen op tot {total}%, meer dan 100%.",
                        "The shares add up to {total}%, more than 100%."),
    "ubo_missing_id": ("UBO {person} ({share}%) mist: {missing}.",
                       "UBO {person} ({share}%) lacks: {missing}."),
    "contact_is_relation": (
        "Het contactnummer {value} is gelijk aan het relatienummer: het hoort het nummer van "
        "de contactpersoon te zijn, niet van de organisatie.",
        "The contact number {value} equals the relation number: it should be the number of "
        "the contact person, not of the organisation.",
    ),
    "payroll_not_rsin": (
        "Het loonheffingennummer hoort bij een ander fiscaal nummer dan RSIN/BSN {value}.",
        "The payroll tax number belongs to another fiscal number than RSIN/BSN {value}.",
    ),
}  # fmt: skip
"""Texts of the findings, Dutch and English; ``{placeholders}`` filled per finding."""


TEMPLATE_SUFFIXES = (".csv", ".xlsx")
"""The formats `write_template` writes."""


def write_template(path: str | Path) -> Path:
    """Write an empty template: the header row and a row explaining each column.

    ``.xlsx`` writes a workbook (needs openpyxl); ``.csv`` a CSV with
    semicolons and a BOM, as a Dutch Excel opens it.

    Raises:
        ValidationError: Another extension (a ``.txt`` would hold CSV no one expects).
        ConfigurationError: ``.xlsx``, but openpyxl is not installed.
    """
    path = Path(path)
    suffix = path.suffix.casefold()
    if suffix not in TEMPLATE_SUFFIXES:
        raise ValidationError(
            "path", str(path), "the template is written as .csv or .xlsx; choose one of them"
        )
    headers = [c.header for c in COLUMNS]
    explanation = [f"{c.explanation_nl} / {c.explanation_en}".strip(" /") for c in COLUMNS]
    for n in range(1, PERSON_GROUPS + 1):
        for nl, en, _spellings in PERSON_FIELDS.values():
            headers.append(f"Persoon {n} {nl}")
            explanation.append(f"Persoon {n}: {nl} / Person {n}: {en}")
    if suffix == ".xlsx":
        _write_xlsx(path, safe_row(headers), safe_row(explanation))
    else:
        with path.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle, delimiter=";")
            writer.writerow(safe_row(headers))
            writer.writerow(safe_row(explanation))
    return path


def _write_xlsx(path: Path, headers: list[str], explanation: list[str]) -> None:
    try:
        import openpyxl
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter
    except ImportError:
        raise ConfigurationError(
            "writing XLSX needs openpyxl: pip install 'crmconnect[xlsx]'"
        ) from None
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Klanten"
    sheet.append(headers)
    sheet.append(explanation)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for cell in sheet[2]:
        cell.font = Font(italic=True)
    for index in range(1, len(headers) + 1):
        column = sheet.column_dimensions[get_column_letter(index)]
        column.width = 24
        # Whole columns as text, so Excel keeps leading zeros and long digit strings.
        column.number_format = "@"
    book.save(path)
