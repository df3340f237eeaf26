"""Validation of Dutch identifiers, addresses and bank accounts.

Each validator takes a raw value from a CRM or a spreadsheet and returns it
normalised, or raises `crmconnect.errors.ValidationError` naming the field and
the value. Every validator has a keyword ``field`` so the error can name the
CRM field. Identifiers are always returned as strings: leading zeros matter.

| Function | Accepts | Returns | Check |
|---|---|---|---|
| `kvk_number` | 8 digits (``pad=True``: 1-8) | ``"69599084"`` | none published |
| `branch_number` | 1-12 digits, left-padded | ``"000037178598"`` | none published |
| `rsin`, `bsn` | 8 or 9 digits | ``"823807071"`` | elfproef |
| `vat_number` | [NL] 1-9 digits B 2 digits, not B00 | ``"NL004495445B01"`` | elfproef or mod 97 |
| `eu_vat_number` | an EU member state's VAT number | ``"BE0123456749"`` | that state's rules |
| `loonheffingennummer` | 9 digits L 2 digits | ``"823807071L01"`` | elfproef |
| `iban` | any IBAN country | ``"NL91ABNA0417164300"`` | mod 97 + structure |
| `bic_from_iban` | an IBAN | ``"ABNANL2A"`` or ``None`` | bank registry |
| `bic` | 8 or 11 characters | ``"ABNANL2A"`` | structure + country |
| `postcode` | 4 digits (not 0…) 2 letters | ``"1234AB"`` | not SA, SD, SS |
| `format_postcode` | as `postcode` | ``"1234 AB"`` | as `postcode` |
| `sbi_code` | 4 or 5 digits, never padded | ``"01110"`` | none |
| `split_house_number` | ``"12a-3"``, ``"12 bis"`` | `HouseNumber` | BAG patterns |

Whitespace (including non-breaking and zero-width spaces) is dropped, only
around the value for SBI codes and house numbers, and so are the separators
each identifier is written with (dots, hyphens: see each function); letters
are upper-cased. Integers are accepted where a spreadsheet may have turned
the value into a number; floats, booleans and every other type are refused,
and so is text of more than 100 characters, before it is read. A refusal is
always a `crmconnect.errors.ValidationError`, never an exception of the
libraries underneath.

Example:
    >>> from crmconnect.validation import kvk_number, postcode
    >>> kvk_number("6959.9084")
    '69599084'
    >>> postcode("2611 et")
    '2611ET'
"""

from ._identifiers import (
    HouseNumber,
    bic,
    bic_from_iban,
    branch_number,
    bsn,
    eu_vat_number,
    format_postcode,
    iban,
    kvk_number,
    loonheffingennummer,
    postcode,
    rsin,
    sbi_code,
    split_house_number,
    vat_number,
)

__all__ = [
    "HouseNumber",
    "bic",
    "bic_from_iban",
    "branch_number",
    "bsn",
    "eu_vat_number",
    "format_postcode",
    "iban",
    "kvk_number",
    "loonheffingennummer",
    "postcode",
    "rsin",
    "sbi_code",
    "split_house_number",
    "vat_number",
]

for _name in __all__:
    globals()[_name].__module__ = "crmconnect.validation"
del _name
