"""VIES: the client against the VIES sandbox, its test numbers and states, and VAT-number updates."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from crmconnect import (
    Address,
    APIError,
    AuthenticationError,
    Organisation,
    RateLimitError,
    RemoteValidationError,
    UnavailableError,
    ValidationError,
)
from crmconnect.kvk import RegistrationStatus
from crmconnect.sandbox import VIES_PATH, VIES_TEST_NUMBERS, ViesSandbox, ViesTrader
from crmconnect.vies import (
    Match,
    VatCheck,
    VatUpdateService,
    ViesClient,
    parse_address,
    split_vat_number,
    vat_updates,
)


@pytest.fixture
def sandbox() -> ViesSandbox:
    return ViesSandbox()


@pytest.fixture
def vies(sandbox: ViesSandbox) -> Iterator[ViesClient]:
    with ViesClient(
        transport=sandbox.transport(), rate_limit=None, base_url=f"https://ec.europa.eu{VIES_PATH}"
    ) as client:
        yield client


def test_valid_number_with_name_and_address(vies: ViesClient) -> None:
    check = vies.check("nl 0044.95.445.b01")
    assert (check.country_code, check.vat_number, check.valid) == ("NL", "004495445B01", True)
    assert check.name == "BAKKERIJ DE ZON B.V."
    address = check.parsed_address()
    assert address is not None
    assert (address.street, address.house_number, address.postcode, address.city) == (
        "OUDEGRACHT",
        1,
        "3511AA",
        "UTRECHT",
    )


def test_invalid_is_an_answer_not_an_error(vies: ViesClient) -> None:
    check = vies.check("NL000099998B57")  # a valid btw-id that VIES does not know
    assert check.valid is False and check.name is None


def test_undisclosed_name_and_address_are_none(vies: ViesClient) -> None:
    check = vies.check("DE136695976")
    assert (
        check.valid
        and check.name is None
        and check.address is None
        and check.parsed_address() is None
    )


@pytest.mark.parametrize("number", sorted(VIES_TEST_NUMBERS))
def test_every_documented_test_number(sandbox: ViesSandbox, number: str) -> None:
    state = VIES_TEST_NUMBERS[number]
    with ViesClient(
        transport=sandbox.transport(), rate_limit=None, max_retries=1, test_service=True
    ) as vies:
        calls: list[Callable[[str], VatCheck]] = [vies.check_approx, vies.check]
        for method in calls:

            def call(method: Callable[[str], VatCheck] = method) -> VatCheck:
                return method(f"BE{number}")

            if state in ("VALID", "INVALID"):
                assert call().valid is (state == "VALID")
            else:
                expected: type[APIError] = {
                    "INVALID_INPUT": RemoteValidationError,
                    "INVALID_REQUESTER_INFO": RemoteValidationError,
                    "VAT_BLOCKED": APIError,
                    "IP_BLOCKED": AuthenticationError,
                }.get(state, UnavailableError)
                if state in ("GLOBAL_MAX_CONCURRENT_REQ", "MS_MAX_CONCURRENT_REQ"):
                    expected = RateLimitError
                with pytest.raises(expected) as caught:
                    call()
                assert caught.value.code == state


def test_impossible_numbers_never_leave(vies: ViesClient) -> None:
    # The offline syntax check runs first: a number no member state could issue never leaves.
    with pytest.raises(ValidationError) as caught:
        vies.check("NL123")
    assert caught.value.field == "vat_number"


def test_unavailable_member_state_is_retried_and_never_invalid(sandbox: ViesSandbox) -> None:
    sandbox.set_available("NL", False)
    with ViesClient(transport=sandbox.transport(), rate_limit=None, max_retries=2) as vies:
        with pytest.raises(UnavailableError) as caught:
            vies.check("NL004495445B01")
        assert caught.value.code == "MS_UNAVAILABLE"
        assert sandbox.stats.requests["check"] == 3  # the first try and two retries
        assert vies.status()["NL"] is False and vies.status()["BE"] is True
        sandbox.set_available("NL")
        assert vies.check("NL004495445B01").valid


def test_server_errors_and_dropped_connections_are_retried(
    sandbox: ViesSandbox, vies: ViesClient
) -> None:
    sandbox.faults.fail_next(1, "503")
    sandbox.faults.fail_next(1, "drop")
    assert vies.check("NL004495445B01").valid
    assert sandbox.stats.total == 3


def test_approximate_check_matches_and_consultation_number(sandbox: ViesSandbox) -> None:
    with ViesClient(
        transport=sandbox.transport(), rate_limit=None, requester="NL823807071B01"
    ) as vies:
        check = vies.check_approx("NL004495445B01", name="Bakkerij de Zon BV", street="Oudegracht 1",
                                  postcode="3511 AB", city="utrecht")  # fmt: skip
        plain = vies.check("NL004495445B01")  # with a requester, also through the approximate check
        other = vies.check_approx("NL004495445B01", name="Een Andere Naam")
    assert other.name_match is Match.INVALID and other.city_match is None
    assert (check.name_match, check.street_match, check.postcode_match, check.city_match) == (
        Match.VALID, Match.VALID, Match.INVALID, Match.VALID,
    )  # fmt: skip
    assert check.request_identifier and plain.request_identifier
    assert check.request_identifier != plain.request_identifier


def test_greece_is_el() -> None:
    assert split_vat_number("GR094259216") == ("EL", "094259216")
    assert parse_address("ODOS 1\n10431 ATHINA", "EL").country == "GR"


@pytest.mark.parametrize(
    ("text", "country", "parts"),
    [
        (
            "BURGEMEESTER VAN KARNEBEEKLAAN 00019\n2585BB 'S-GRAVENHAGE",
            "NL",
            ("BURGEMEESTER VAN KARNEBEEKLAAN", 19, None, None, "2585BB", "'S-GRAVENHAGE"),
        ),
        (
            "KANAALWEG 00012 A\n3526 KL UTRECHT",
            "NL",
            ("KANAALWEG", 12, "A", None, "3526KL", "UTRECHT"),
        ),
        (
            "HOOFDSTRAAT 00003-2\n1234AB AMSTERDAM",
            "NL",
            ("HOOFDSTRAAT", 3, None, "2", "1234AB", "AMSTERDAM"),
        ),
        (
            "Rue de la Loi 16, 1000 Bruxelles",
            "BE",
            ("Rue de la Loi", 16, None, None, "1000", "Bruxelles"),
        ),
        ("POSTBUS ZONDER NUMMER", "NL", ("POSTBUS ZONDER NUMMER", None, None, None, None, None)),
    ],
)
def test_addresses_in_parts_where_the_format_allows(
    text: str, country: str, parts: tuple[object, ...]
) -> None:
    a = parse_address(text, country)
    assert (
        a.street,
        a.house_number,
        a.house_letter,
        a.house_number_addition,
        a.postcode,
        a.city,
    ) == parts


def test_vat_updates_propose_name_and_address_only(vies: ViesClient) -> None:
    org = Organisation(
        name="Groothandel Smit", vat_number="NL823807071B01", kvk_number="69599084",
        addresses=[Address(street="Kanaalweg", house_number=10, postcode="3526KL", city="Utrecht")],
        websites=["https://smit.example"],
    )  # fmt: skip
    report = VatUpdateService(vies).vat_updates(org)
    assert report.status is RegistrationStatus.ACTIVE
    # VIES says "GROOTHANDEL SMIT B.V.": the same name but for its legal form, so no change.
    assert report.fields == ["visiting_address"]
    updated = report.apply(org, accept=["visiting_address"])
    assert updated.name == "Groothandel Smit"
    address = updated.visiting_address
    assert address is not None and (address.house_number, address.house_letter) == (12, "A")
    assert (updated.kvk_number, updated.websites, updated.vat_number) == (
        org.kvk_number,
        org.websites,
        org.vat_number,
    )
    with pytest.raises(ValidationError):
        report.apply(org, accept=["kvk_number"])
    renamed = VatUpdateService(vies).vat_updates(org.model_copy(update={"name": "Smit Handel"}))
    assert renamed.fields == ["name", "visiting_address"]  # another name is a change


def test_vat_updates_with_nothing_to_change_and_undisclosed_data(vies: ViesClient) -> None:
    same = Organisation(
        name="Bakkerij De Zon B.V.", vat_number="NL004495445B01",
        addresses=[Address(street="Oudegracht", house_number=1, postcode="3511 AA", city="Utrecht")],
    )  # fmt: skip
    assert VatUpdateService(vies).vat_updates(same).changes == ()
    german = Organisation(name="Eine GmbH", vat_number="DE136695976")
    assert (
        VatUpdateService(vies).vat_updates(german).changes == ()
    )  # nothing disclosed: nothing proposed


def test_vat_updates_of_an_invalid_number_and_of_no_number(
    vies: ViesClient, sandbox: ViesSandbox
) -> None:
    gone = VatUpdateService(vies).vat_updates(
        Organisation(name="Weg BV", vat_number="NL000099998B57")
    )
    assert gone.status is RegistrationStatus.REMOVED and "not a valid VAT number" in (
        gone.reason or ""
    )
    with pytest.raises(ValidationError):
        VatUpdateService(vies).vat_updates(Organisation(name="Geen nummer"))
    sandbox.set_available("NL", False)
    with pytest.raises(UnavailableError):  # never a "removed" report when VIES cannot answer
        VatUpdateService(vies).vat_updates(
            Organisation(name="Bakkerij", vat_number="NL004495445B01")
        )


def test_the_sandbox_on_loopback(sandbox: ViesSandbox) -> None:
    sandbox.add(ViesTrader("FR", "40303265045", "SOCIETE TEST", "1 RUE DE RIVOLI\n75001 PARIS"))
    with sandbox.serve() as url, ViesClient(base_url=url + VIES_PATH, rate_limit=None) as vies:
        check = vies.check("FR40303265045")
        raw = httpx.get(url + VIES_PATH + "/ms/XX/vat/123").json()
    assert check.valid and check.parsed_address() is not None
    assert raw["userError"] == "INVALID_INPUT"


def test_vat_updates_function_with_a_client(vies: ViesClient) -> None:
    report = vat_updates(Organisation(name="Smit", vat_number="NL823807071B01"), vies)
    assert report.fields == ["name", "visiting_address"]


def test_an_address_with_a_postcode_that_is_not_dutch_is_read_without_it() -> None:
    from crmconnect.vies._models import parse_address

    address = parse_address("KERKSTRAAT 1\n1234SA AMSTERDAM", "NL")
    assert (address.street, address.house_number, address.postcode, address.city) == (
        "KERKSTRAAT",
        1,
        None,
        "AMSTERDAM",
    )
