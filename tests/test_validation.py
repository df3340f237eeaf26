"""Tests of `crmconnect.validation` against the examples in dutch-data-rules.md."""

from __future__ import annotations

import doctest
from collections.abc import Callable
from typing import Any

import attrs
import pytest

import crmconnect.validation as validation
from crmconnect.errors import ValidationError
from crmconnect.validation import (
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

Validator = Callable[..., object]


def _refused(func: Validator, value: Any, **kwargs: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        func(value, **kwargs)
    assert type(info.value) is ValidationError
    return info.value


# --------------------------------------------------------------------------
# public surface


def test_all_is_sorted_and_complete() -> None:
    assert validation.__all__ == sorted(validation.__all__)
    for name in validation.__all__:
        obj = getattr(validation, name)
        assert obj.__module__ == "crmconnect.validation"
        assert obj.__doc__


def test_docstring_examples() -> None:
    result = doctest.testmod(validation)
    assert result.attempted > 10
    assert result.failed == 0


def test_private_module_declares_all() -> None:
    from crmconnect.validation import _identifiers

    assert sorted(_identifiers.__all__) == validation.__all__


# --------------------------------------------------------------------------
# KvK number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("69599084", "69599084"),
        ("68750110", "68750110"),
        (" 6959 9084 ", "69599084"),
        ("6959.9084", "69599084"),
        ("6959\u00a09084", "69599084"),
        ("01234567", "01234567"),
        (90002520, "90002520"),
    ],
)
def test_kvk_number_valid(raw: str | int, expected: str) -> None:
    assert kvk_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234567", "01234567"),
        (1234567, "01234567"),
        ("1", "00000001"),
        ("69599084", "69599084"),
    ],
)
def test_kvk_number_pad(raw: str | int, expected: str) -> None:
    assert kvk_number(raw, pad=True) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "1234567",
        1234567,
        "123456789",
        "6959908A",
        "6959-9084",
        "00000000",
        "\u0666\u0669\u0665\u0669\u0669\u0660\u0668\u0664",  # Arabic-Indic digits
        -69599084,
        69599084.0,
        True,
        None,
    ],
)
def test_kvk_number_invalid(raw: Any) -> None:
    _refused(kvk_number, raw)


def test_kvk_number_has_no_checksum() -> None:
    # Any 8 digits are accepted: KvK publishes no check digit.
    assert kvk_number("12345678") == "12345678"
    assert kvk_number("12345679") == "12345679"


def test_kvk_number_short_hints_at_pad() -> None:
    err = _refused(kvk_number, "1234567")
    assert "pad=True" in err.reason


@pytest.mark.parametrize("raw", ["0", 0, "123456789"])
def test_kvk_number_pad_still_refuses(raw: str | int) -> None:
    _refused(kvk_number, raw, pad=True)


# --------------------------------------------------------------------------
# branch number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("000037178598", "000037178598"),
        ("990000541921", "990000541921"),
        ("0000 3717 8598", "000037178598"),
        ("37178598", "000037178598"),
        (37178598, "000037178598"),
        ("1", "000000000001"),
    ],
)
def test_branch_number_valid(raw: str | int, expected: str) -> None:
    assert branch_number(raw) == expected


@pytest.mark.parametrize("raw", ["", "1234567890123", "00003717859X", "000000000000", 0, 1.0, None])
def test_branch_number_invalid(raw: Any) -> None:
    _refused(branch_number, raw)


# --------------------------------------------------------------------------
# RSIN and BSN


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("823807071", "823807071"),
        ("857587973", "857587973"),
        ("004495445", "004495445"),
        ("04495445", "004495445"),
        ("8238.07.071", "823807071"),
        ("823-807-071", "823807071"),
        (" 857 587 973 ", "857587973"),
        (857587973, "857587973"),
    ],
)
def test_rsin_valid(raw: str | int, expected: str) -> None:
    assert rsin(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "002342672",  # btw-id digits: deliberately fail the elfproef
        "000099998",
        "823807072",
        "4495445",  # 7 digits: only 8 digits get a leading zero
        "1234567890",
        "000000000",
        "82380707A",
        "",
        823807071.0,
    ],
)
def test_rsin_invalid(raw: Any) -> None:
    _refused(rsin, raw)


def test_rsin_checksum_reason() -> None:
    assert "elfproef" in _refused(rsin, "823807072").reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("111222333", "111222333"),
        ("1112.22.333", "111222333"),
        ("10000008", "010000008"),
        (10000021, "010000021"),
    ],
)
def test_bsn_valid(raw: str | int, expected: str) -> None:
    assert bsn(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "12345678",  # pads to 012345678, which fails the elfproef
        "111222334",
        "101222306",  # an onderwijsnummer (remainder 5), not a BSN
        "00000000",
        "11122233",
        "",
        "bsn",
    ],
)
def test_bsn_invalid(raw: Any) -> None:
    _refused(bsn, raw)


# --------------------------------------------------------------------------
# VAT number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NL000099998B57", "NL000099998B57"),  # btw-id, mod 97
        ("NL002342672B42", "NL002342672B42"),
        ("NL002455799B11", "NL002455799B11"),
        ("123456782B01", "NL123456782B01"),  # ob-nummer, elfproef
        ("NL004495445B01", "NL004495445B01"),
        ("nl004495445b01", "NL004495445B01"),
        ("NL 0044.954.45 B01", "NL004495445B01"),
        ("NL-004495445-B01", "NL004495445B01"),
        ("NL4495445B01", "NL004495445B01"),
        ("NL004495445B02", "NL004495445B02"),  # elfproef ignores the suffix
    ],
)
def test_vat_number_valid(raw: str, expected: str) -> None:
    assert vat_number(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "NL123456789B00",
        "NL004495445B00",
        "NL123456789B01",  # passes neither check
        "NL000099998B58",  # mod 97 broken by the suffix
        "NL123456782",
        "NL123456782L01",
        "NL12345678AB01",
        "NL1234567890B01",
        "BE0123456749",
        "NL",
        "",
        123456782,
    ],
)
def test_vat_number_invalid(raw: Any) -> None:
    _refused(vat_number, raw)


def test_vat_number_b00_reason() -> None:
    assert "B00" in _refused(vat_number, "NL123456789B00").reason


def test_vat_number_checksum_reason() -> None:
    reason = _refused(vat_number, "NL123456789B01").reason
    assert "elfproef" in reason
    assert "mod 97" in reason


# --------------------------------------------------------------------------
# EU VAT number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NL 0044.954.45 B01", "NL004495445B01"),  # Dutch: as vat_number
        ("004495445B01", "NL004495445B01"),
        ("BE0123456749", "BE0123456749"),
        ("be 0123.456.749", "BE0123456749"),
        ("DE136695976", "DE136695976"),
        ("de-136-695-976", "DE136695976"),
        ("EL094259216", "EL094259216"),
        ("GR094259216", "EL094259216"),  # Greece is EL in VIES
        ("FR40303265045", "FR40303265045"),
    ],
)
def test_eu_vat_number_valid(raw: str, expected: str) -> None:
    assert eu_vat_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        ("DE136695977", "check digits"),
        ("BE12", "BE"),
        ("XX123456789", "XX is not"),
        ("GB123456789", "GB is not"),  # no longer an EU member state
        ("NL123456789B01", "elfproef"),
        ("123", "Dutch"),
        ("", "empty"),
        (4495445, "string"),
    ],
)
def test_eu_vat_number_invalid(raw: Any, reason_part: str) -> None:
    assert reason_part in _refused(eu_vat_number, raw).reason


# --------------------------------------------------------------------------
# loonheffingennummer


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("823807071L01", "823807071L01"),
        ("823807071l01", "823807071L01"),
        ("8238.07.071 L01", "823807071L01"),
        ("857587973L02", "857587973L02"),
        ("004495445L01", "004495445L01"),
    ],
)
def test_loonheffingennummer_valid(raw: str, expected: str) -> None:
    assert loonheffingennummer(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "823807072L01",
        "823807071B01",
        "823807071L1",
        "823807071L001",
        "82380707L01",
        "NL823807071L01",
        "000000000L01",
        "823807071",
        "",
        823807071,
    ],
)
def test_loonheffingennummer_invalid(raw: Any) -> None:
    _refused(loonheffingennummer, raw)


def test_loonheffingennummer_checksum_reason() -> None:
    assert "elfproef" in _refused(loonheffingennummer, "823807072L01").reason


# --------------------------------------------------------------------------
# IBAN and BIC


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NL91ABNA0417164300", "NL91ABNA0417164300"),
        ("nl91 abna 0417 1643 00", "NL91ABNA0417164300"),
        ("NL91 ABNA 0417 1643 00", "NL91ABNA0417164300"),
        ("NL91-ABNA-0417-1643-00", "NL91ABNA0417164300"),
        ("NL91\u00a0ABNA\u00a00417\u00a01643\u00a000", "NL91ABNA0417164300"),
        ("\ufeffNL91ABNA0417164300\n", "NL91ABNA0417164300"),
        ("NL20INGB0001234567", "NL20INGB0001234567"),
        ("NL51ZZZZ0123456789", "NL51ZZZZ0123456789"),  # unknown bank code is fine
        ("DE89370400440532013000", "DE89370400440532013000"),
    ],
)
def test_iban_valid(raw: str, expected: str) -> None:
    assert iban(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        ("NL91ABNA0417164301", "check digits"),
        ("NL91ABNA041716430", "length"),
        ("XX91ABNA0417164300", "country"),
        ("NL91ABNA041716430X", "structure"),
        ("NL91ABNA04171643OO", "structure"),
        ("", "empty"),
        ("NL", ""),
        ("IBAN NL91ABNA0417164300", ""),
        (917164300, "string"),
    ],
)
def test_iban_invalid(raw: Any, reason_part: str) -> None:
    assert reason_part in _refused(iban, raw).reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NL91ABNA0417164300", "ABNANL2A"),
        ("nl91 abna 0417 1643 00", "ABNANL2A"),
        ("NL20INGB0001234567", "INGBNL2A"),
        ("NL44RABO0123456789", "RABONL2U"),
        ("NL51ZZZZ0123456789", None),
    ],
)
def test_bic_from_iban(raw: str, expected: str | None) -> None:
    assert bic_from_iban(raw) == expected


def test_bic_from_iban_refuses_invalid_iban() -> None:
    err = _refused(bic_from_iban, "NL91ABNA0417164301")
    assert err.field == "iban"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ABNANL2A", "ABNANL2A"),
        ("abna nl 2a", "ABNANL2A"),
        ("RABONL2UXXX", "RABONL2UXXX"),
        ("DEUTDEFF500", "DEUTDEFF500"),
        ("ZZZZNL2A", "ZZZZNL2A"),  # a bank schwifty does not know is fine
    ],
)
def test_bic_valid(raw: str, expected: str) -> None:
    assert bic(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        ("ABNANL2", "8 or 11"),
        ("ABNANL2AXX", "8 or 11"),
        ("ABNAXX2A", "country"),
        ("12345678", "BIC"),
        ("", "empty"),
        (12345678, "string"),
    ],
)
def test_bic_invalid(raw: Any, reason_part: str) -> None:
    assert reason_part in _refused(bic, raw).reason


# --------------------------------------------------------------------------
# postcode


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234AB", "1234AB"),
        ("1234 AB", "1234AB"),
        ("1234 ab", "1234AB"),
        ("2611et", "2611ET"),
        (" 2611 ET ", "2611ET"),
        ("2611\u00a0ET", "2611ET"),
        ("2611-ET", "2611ET"),
        ("NL-2611ET", "2611ET"),
        ("9999ZZ", "9999ZZ"),
        ("1000FY", "1000FY"),  # F, I, O, Q, U, Y are allowed since 2005
    ],
)
def test_postcode_valid(raw: str, expected: str) -> None:
    assert postcode(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["1234SA", "1234 sd", "1234SS", "0123AB", "1234", "12345", "1234ABC", "AB1234", "1234 A", ""],
)
def test_postcode_invalid(raw: str) -> None:
    _refused(postcode, raw)


@pytest.mark.parametrize("raw", [1234, None])
def test_postcode_refuses_non_strings(raw: Any) -> None:
    _refused(postcode, raw)


def test_postcode_sa_reason() -> None:
    assert "SA" in _refused(postcode, "1234 SA").reason


@pytest.mark.parametrize(
    ("raw", "expected"), [("2611et", "2611 ET"), ("1234 AB", "1234 AB"), ("NL-9999zz", "9999 ZZ")]
)
def test_format_postcode(raw: str, expected: str) -> None:
    assert format_postcode(raw) == expected


def test_format_postcode_refuses() -> None:
    err = _refused(format_postcode, "1234SA", field="visit_postcode")
    assert err.field == "visit_postcode"


# --------------------------------------------------------------------------
# SBI code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("01110", "01110"),
        ("0111", "0111"),
        ("6201", "6201"),
        ("62010", "62010"),
        (" 95320 ", "95320"),
        (6201, "6201"),
        (62010, "62010"),
        (1110, "1110"),
        (99999, "99999"),
    ],
)
def test_sbi_code_valid(raw: str | int, expected: str) -> None:
    assert sbi_code(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "62",
        "620",
        "A",
        "q",
        "X",
        "6",
        "620100",
        "62.01",
        "62 01",
        "",
        110,
        999,
        100000,
        -6201,
        6201.0,
        True,
        None,
    ],
)
def test_sbi_code_invalid(raw: Any) -> None:
    _refused(sbi_code, raw)


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [("62", "division"), ("620", "group"), ("J", "section"), (110, "leading zero")],
)
def test_sbi_code_level_reasons(raw: str | int, reason_part: str) -> None:
    assert reason_part in _refused(sbi_code, raw).reason


# --------------------------------------------------------------------------
# house number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", HouseNumber(12)),
        (12, HouseNumber(12)),
        (" 12 ", HouseNumber(12)),
        ("12a", HouseNumber(12, "A")),
        ("12 A", HouseNumber(12, "A")),
        ("17 M", HouseNumber(17, "M")),
        ("48A", HouseNumber(48, "A")),
        ("12-A", HouseNumber(12, None, "A")),
        ("12A-3", HouseNumber(12, "A", "3")),
        ("12a3", HouseNumber(12, "A", "3")),
        ("12 a 1", HouseNumber(12, "A", "1")),
        ("12 bis", HouseNumber(12, None, "BIS")),
        ("44-bis", HouseNumber(44, None, "BIS")),
        ("12-II", HouseNumber(12, None, "II")),
        ("12 hs", HouseNumber(12, None, "HS")),
        ("12/2", HouseNumber(12, None, "2")),
        ("1-TRAF", HouseNumber(1, None, "TRAF")),
        ("19p-8", HouseNumber(19, "P", "8")),
        ("44d-G", HouseNumber(44, "D", "G")),
        ("3-0072", HouseNumber(3, None, "0072")),
        ("99999", HouseNumber(99999)),
    ],
)
def test_split_house_number(raw: str | int, expected: HouseNumber) -> None:
    assert split_house_number(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "0",
        "100000",
        "a12",
        "bis",
        "12 1/2",
        "12-abcde",
        "12 a-b-c",
        "12é",
        "\uff11\uff12",  # full-width digits
        0,
        -1,
        100000,
        12.0,
        True,
        None,
    ],
)
def test_split_house_number_invalid(raw: Any) -> None:
    _refused(split_house_number, raw)


@pytest.mark.parametrize(
    ("house", "text"),
    [
        (HouseNumber(12), "12"),
        (HouseNumber(12, "A"), "12A"),
        (HouseNumber(12, "A", "3"), "12A-3"),
        (HouseNumber(44, None, "BIS"), "44-BIS"),
    ],
)
def test_house_number_str(house: HouseNumber, text: str) -> None:
    assert str(house) == text


def test_house_number_is_frozen_and_hashable() -> None:
    house = split_house_number("12A-3")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        house.number = 13  # type: ignore[misc]
    assert {house, HouseNumber(12, "A", "3")} == {house}


# --------------------------------------------------------------------------
# every refusal names the field and the value


BAD_VALUES: list[tuple[Validator, Any, str]] = [
    (kvk_number, "1234567X", "kvk_number"),
    (branch_number, "12345678901X", "branch_number"),
    (rsin, "823807072", "rsin"),
    (bsn, "111222334", "bsn"),
    (vat_number, "NL123456789B00", "vat_number"),
    (loonheffingennummer, "823807072L01", "loonheffingennummer"),
    (eu_vat_number, "DE136695977", "vat_number"),
    (iban, "NL91ABNA0417164301", "iban"),
    (bic_from_iban, "NL91ABNA0417164301", "iban"),
    (bic, "ABNAXX2A", "bic"),
    (postcode, "1234 SA", "postcode"),
    (format_postcode, "0123AB", "postcode"),
    (sbi_code, "620", "sbi_code"),
    (split_house_number, "a12", "house_number"),
]


@pytest.mark.parametrize(("func", "raw", "field"), BAD_VALUES)
def test_error_names_default_field_and_value(func: Validator, raw: str, field: str) -> None:
    err = _refused(func, raw)
    assert err.field == field
    assert err.value == raw
    assert err.reason
    assert field in str(err)
    assert raw in str(err)
    assert err.reason in str(err)


@pytest.mark.parametrize(("func", "raw", "field"), BAD_VALUES)
def test_error_uses_custom_field(func: Validator, raw: str, field: str) -> None:
    err = _refused(func, raw, field="crm_custom_field")
    assert err.field == "crm_custom_field"
    assert "crm_custom_field" in str(err)
    assert str(err).startswith("crm_custom_field: ")
    assert not str(err).startswith(f"{field}:")


def test_error_value_is_the_raw_value_as_given() -> None:
    err = _refused(kvk_number, 1234567)
    assert err.value == 1234567
    assert isinstance(err.value, int)


def test_validation_error_is_a_value_error() -> None:
    assert isinstance(_refused(postcode, "1234SA"), ValueError)


FUNCTIONS: list[Validator] = [
    kvk_number,
    branch_number,
    rsin,
    bsn,
    vat_number,
    eu_vat_number,
    loonheffingennummer,
    iban,
    bic_from_iban,
    bic,
    postcode,
    format_postcode,
    sbi_code,
    split_house_number,
]

GARBAGE: list[Any] = [
    "",
    " ",
    "-",
    "NL",
    "\x00",
    "\u00a0",
    "🙂",
    "x" * 200,
    "9" * 40,
    "NLNLNL",
    b"12345678",
    [],
    {},
    object(),
    None,
    False,
    -5,
    1.5,
    float("nan"),
    "1" * 101,  # longer than any identifier: refused unread
    "1" * 5_000,  # int() of it would raise (over 4,300 digits)
    "9" * 1_000_000,
    "NL" + "9" * 5_000 + "B01",
    "12" + "\x00" * 200,
    "6959\x009084",
    "1234\x00AB",
    "\x1b[31m69599084",
    "\ud800",  # a lone surrogate
    10**30,
    10**5_000,  # str() of it would raise
    -(10**5_000),
    bytearray(b"69599084"),
]


@pytest.mark.parametrize("func", FUNCTIONS, ids=lambda f: f.__name__)
def test_no_library_exception_escapes(func: Validator) -> None:
    for raw in GARBAGE:
        _refused(func, raw)


@pytest.mark.parametrize("func", FUNCTIONS, ids=lambda f: f.__name__)
def test_refusal_of_huge_input_has_a_short_message_and_keeps_the_value(func: Validator) -> None:
    for raw in ("7" * 1_000_000, 10**5_000):
        err = _refused(func, raw)
        assert err.value is raw
        assert len(str(err)) < 400


def test_str_subclass_is_read_as_its_text() -> None:
    class Cell(str):
        pass

    assert kvk_number(Cell("6959 9084")) == "69599084"
    assert type(kvk_number(Cell("69599084"))) is str
