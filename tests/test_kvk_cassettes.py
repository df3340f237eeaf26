"""Cassettes in cassettes/kvk/ (recorded by scripts/record_kvk_cassettes.py) replayed with vcrpy."""

from __future__ import annotations

from pathlib import Path

import pytest
import vcr

from crmconnect import NotFoundError
from crmconnect.kvk import TEST_API_KEY, KvKClient

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes" / "kvk"
FLAVOURS = {"json": "application/json", "hal": "application/hal+json"}
replay = vcr.VCR(
    cassette_library_dir=str(CASSETTES), record_mode="none", match_on=["method", "uri"]
)


@pytest.fixture(params=sorted(FLAVOURS))
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client(flavour: str) -> KvKClient:
    return KvKClient(environment="test", accept=FLAVOURS[flavour], rate_limit=None)  # type: ignore[arg-type]


def test_search_by_kvk_number(flavour: str) -> None:
    with replay.use_cassette(f"search_by_kvk_number.{flavour}.yaml"), client(flavour) as kvk:
        page = kvk.search(kvk_number="69599084")
    assert {r.name for r in page.results} == {"Test EMZ Dagobert", "Test EMZ Nevenvestiging Govert"}
    assert all(
        r.links["basisprofiel"].startswith("https://api.kvk.nl/test/api/") for r in page.results
    )


def test_search_by_name_and_city(flavour: str) -> None:
    with replay.use_cassette(f"search_by_name_and_city.{flavour}.yaml"), client(flavour) as kvk:
        page = kvk.search(name="Test BV Donald", city="Lollum")
    assert {r.kvk_number for r in page.results} == {"68750110"}


def test_search_without_results(flavour: str) -> None:
    with replay.use_cassette(f"search_without_results.{flavour}.yaml"), client(flavour) as kvk:
        assert kvk.search(kvk_number="12345678").results == []


def test_profiles_and_naming(flavour: str) -> None:
    with client(flavour) as kvk:
        with replay.use_cassette(f"basic_profile.{flavour}.yaml"):
            profile = kvk.basic_profile("69599084")
        with replay.use_cassette(f"branch_profile.{flavour}.yaml"):
            branch = kvk.branch_profile("000038509504")
        with replay.use_cassette(f"naming.{flavour}.yaml"):
            naming = kvk.naming("69599084")
        with (
            replay.use_cassette(f"profile_not_found.{flavour}.yaml"),
            pytest.raises(NotFoundError) as caught,
        ):
            kvk.basic_profile("12345678")
    assert profile.links["vestigingen"].endswith("/basisprofielen/69599084/vestigingen")
    assert branch.employees_full_time == 1 and branch.sbi_activities[0].main
    assert naming.kvk_number == "69599084" and naming.branches
    assert caught.value.code == "IPD0005"


def test_cassettes_hold_no_secrets() -> None:
    files = sorted(CASSETTES.glob("*.yaml"))
    signals = [path for path in files if path.name.startswith("mutatieservice_")]
    assert (len(files) - len(signals), len(signals)) == (14, 7)  # the Mutatieservice's too
    for path in files:
        text = path.read_text()
        assert TEST_API_KEY not in text, path.name
        assert "apiAuthzDetails" not in text, path.name
        assert "127.0.0.1" not in text, path.name
