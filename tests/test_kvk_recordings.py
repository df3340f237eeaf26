"""KvK's real test-environment answers, replayed through the client."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import pytest

from crmconnect import AddressKind, NotFoundError
from crmconnect.errors import APIError
from crmconnect.kvk import (
    EMPLOYEE_SPLIT,
    PERFECTVIEW_FIELDS,
    BasicProfile,
    EnrichmentSettings,
    KvKClient,
    SearchPage,
    build_organisation,
)
from tests.replay import ReplayTransport

pytestmark = pytest.mark.reference


@pytest.fixture
def recordings(reference_dir: Path) -> Path:
    return reference_dir / "kvk" / "recordings"


def client_for(
    recordings: Path, *names: str, enrichment: EnrichmentSettings | None = None
) -> KvKClient:
    transport = ReplayTransport(*(recordings / f"{name}.yaml" for name in names))
    return KvKClient(
        environment="test",
        transport=transport,
        accept="application/hal+json",
        enrichment=enrichment,
    )


def test_search_by_kvk_number_parses_hal(recordings: Path) -> None:
    with client_for(recordings, "test_client__KVKSearchClientTests__test_client") as kvk:
        page = kvk.search(kvk_number="69599084")
    assert page.total == 2
    by_branch = {r.branch_number: r for r in page.results}
    main = by_branch["000038509504"]
    assert main.name == "Test EMZ Dagobert"
    assert main.type == "hoofdvestiging"
    assert main.address is not None and main.address.city == "Amsterdam"
    assert main.links["basisprofiel"].endswith("/test/api/v1/basisprofielen/69599084")
    assert by_branch["000038509520"].address.street == "Geneinde"  # type: ignore[union-attr]


def test_search_without_hits_is_empty_not_an_error(recordings: Path) -> None:
    with client_for(recordings, "test_client__KVKSearchClientTests__test_client_404") as kvk:
        page = kvk.search(kvk_number="12345678")
    assert page.results == [] and page.total == 0


def test_rsin_search_echoes_rsin_and_shielded_address(recordings: Path) -> None:
    name = "test_validators__KvKRemoteValidatorTestCase__test_rsin_validator"
    with client_for(recordings, name) as kvk:
        hit = kvk.search(rsin="992760562").results[0]
        assert kvk.search(rsin="123456782").results == []
    assert hit.rsin == "992760562"
    assert hit.name == "Grand Joyflex B.V."
    assert hit.address is not None and hit.address.city == "Sterksel"
    assert hit.address.street is None


def test_basic_profile_hal(recordings: Path) -> None:
    with client_for(recordings, "test_client__KVKProfilesClientTests__test_client") as kvk:
        profile = kvk.basic_profile("69599084")
    assert profile.non_mailing is True
    assert profile.material_registration is not None
    assert profile.material_registration.start_date == dt.date(2017, 1, 8)
    assert [t.order for t in profile.trade_names][:2] == [0, 1]
    assert profile.sbi_activities[0].sbi_code == "10110" and profile.sbi_activities[0].main
    assert profile.owner is not None and profile.owner.legal_form == "Eenmanszaak"
    main = profile.main_branch
    assert main is not None and main.branch_number == "000038509504"
    address = main.addresses[0]
    # The register pads volledigAdres with runs of spaces; we collapse them.
    assert address.full_address == "Abebe Bikilalaan 17 M 1034WL Amsterdam"
    assert (address.house_number, address.house_letter) == (17, "M")


def test_unknown_kvk_number_is_not_found_with_code(recordings: Path) -> None:
    with client_for(recordings, "test_client__KVKProfilesClientTests__test_client_404") as kvk:
        with pytest.raises(NotFoundError) as caught:
            kvk.basic_profile("12345678")
    assert caught.value.code == "IPD0005"
    assert caught.value.status_code == 404
    assert "kan het product niet worden geleverd" in (caught.value.remote_message or "")


def test_vve_without_branches_takes_owner_address(recordings: Path) -> None:
    with client_for(recordings, "test_client__KVKProfilesClientTests__test_client_vve") as kvk:
        org = kvk.organisation("90000749")
    assert org.legal_form == "Vereniging van Eigenaars"
    assert org.branch_number is None
    visiting = org.address(AddressKind.VISITING)
    assert visiting is not None
    assert (visiting.street, visiting.house_number, visiting.postcode, visiting.city) == (
        "Blaauwweg",
        163,
        "3328XD",
        "Dordrecht",
    )
    assert org.rsin == "992340597"


def test_branch_profile_and_enrichment(recordings: Path) -> None:
    names = (
        "test_client__KVKProfilesClientTests__test_client",
        "test_client__KVKBranchProfilesClientTests__test_client",
    )
    with_split = EnrichmentSettings(fields=PERFECTVIEW_FIELDS | EMPLOYEE_SPLIT)
    with client_for(recordings, *names, enrichment=with_split) as kvk:
        org = kvk.organisation("69599084")
        assert kvk.usage.profile_calls == 2
        kvk.organisation("69599084")
        assert kvk.usage.profile_calls == 2, "each profile is fetched at most once"
    with client_for(recordings, *names) as kvk:  # PerfectView's fields: the Basisprofiel alone
        alone = kvk.organisation("69599084")
        assert kvk.usage.profile_calls == 1
    assert alone.employees_full_time is None
    branch_only = {*EMPLOYEE_SPLIT, "trade_names"}  # the Basisprofiel's main branch lacks them
    assert alone.model_dump(exclude=branch_only) == org.model_dump(exclude=branch_only)
    assert org.name == "Test EMZ Dagobert"
    assert org.branch_number == "000038509504"
    assert org.employees_full_time == 1 and org.employees_total == 1
    assert org.employee_class == "02"
    assert org.non_mailing is True
    assert org.main_activity is not None and org.main_activity.code == "10110"
    assert org.visiting_address is not None and org.visiting_address.postcode == "1034WL"
    assert org.is_main_branch is True


def test_eight_digit_branch_number_is_padded_before_sending(recordings: Path) -> None:
    # KvK answers 400 IPD0006 to "12345678"; we pad to 12 digits as KvK documents.
    name = "test_client__KVKBranchProfilesClientTests__test_client_404"
    transport = ReplayTransport(recordings / f"{name}.yaml")
    with KvKClient(environment="test", transport=transport) as kvk:
        with pytest.raises(AssertionError, match="000012345678"):
            kvk.branch_profile("12345678")


def test_json_flavour_profile_file(recordings: Path) -> None:
    body = json.loads((recordings / "basisprofiel_response.json").read_text())
    profile = BasicProfile.model_validate(body)
    assert profile.links["self"].endswith(f"/basisprofielen/{profile.kvk_number}")
    org = build_organisation(profile, profile.main_branch)
    assert org.kvk_number == profile.kvk_number
    assert all(len(a.code) in (4, 5) for a in org.sbi_activities)


def test_json_flavour_search_file(recordings: Path) -> None:
    page = SearchPage.model_validate_json((recordings / "zoeken_response_v2.json").read_text())
    assert [r.branch_number for r in page.results] == ["000038509504", "000038509520"]


def test_error_of_unexpected_shape_is_api_error() -> None:
    html = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>"))
    with KvKClient(environment="test", transport=html) as kvk:
        with pytest.raises(APIError, match="the answer is not a valid answer: not JSON"):
            kvk.search(name="x")
