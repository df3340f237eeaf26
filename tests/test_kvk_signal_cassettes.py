"""Mutatieservice cassettes (scripts/record_kvk_signal_cassettes.py) replayed with vcrpy.

Recorded from the sandbox by default, or from KvK's test environment with
``--real``: the checks hold for either, so re-recorded real answers replace
the sandbox's without touching this file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import vcr
from vcr.request import Request

from crmconnect import AuthenticationError
from crmconnect.kvk import KvKClient

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes" / "kvk"
FLAVOURS = {"json": "application/json", "hal": "application/hal+json"}
ANY_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""The window's start is whatever was recorded: requests match on path and page only."""


def _page(r1: Request, r2: Request) -> None:
    def page(request: Request) -> list[str]:
        return parse_qs(urlsplit(request.uri).query).get("pagina", [])

    assert page(r1) == page(r2)


replay = vcr.VCR(cassette_library_dir=str(CASSETTES), record_mode="none")
replay.register_matcher("page", _page)
MATCH = ["method", "path", "page"]


@pytest.fixture(params=sorted(FLAVOURS))
def flavour(request: pytest.FixtureRequest) -> str:
    if not (CASSETTES / "mutatieservice_signals.json.yaml").exists():
        pytest.skip("no Mutatieservice cassettes: run scripts/record_kvk_signal_cassettes.py")
    return str(request.param)


@pytest.fixture
def kvk(flavour: str) -> KvKClient:
    return KvKClient(environment="test", accept=FLAVOURS[flavour], rate_limit=None)  # type: ignore[arg-type]


def test_subscriptions(kvk: KvKClient, flavour: str) -> None:
    with replay.use_cassette(f"mutatieservice_subscriptions.{flavour}.yaml", match_on=MATCH):
        subscriptions = kvk.subscriptions()
    assert subscriptions and all(s.id for s in subscriptions)


def test_signals_and_a_detail(kvk: KvKClient, flavour: str) -> None:
    with replay.use_cassette(f"mutatieservice_subscriptions.{flavour}.yaml", match_on=MATCH):
        subscription = kvk.subscriptions()[0].id
    with replay.use_cassette(f"mutatieservice_signals.{flavour}.yaml", match_on=MATCH) as tape:
        signals = list(kvk.signals(subscription, since=ANY_TIME, per_page=10))
    assert signals and len({s.id for s in signals}) == len(signals)
    assert all(s.timestamp.tzinfo is not None and len(s.kvk_number) == 8 for s in signals)
    assert all(isinstance(s.type, str) and s.type.startswith("Signaal") for s in signals)
    assert tape.play_count == len(tape.responses)  # every recorded page was read
    with replay.use_cassette(f"mutatieservice_signal.{flavour}.yaml", match_on=MATCH):
        detail = kvk.signal(subscription, signals[0].id)
    assert detail.kvk_number == signals[0].kvk_number and detail.type == signals[0].type


def test_a_refused_key() -> None:
    with replay.use_cassette("mutatieservice_unauthorized.yaml", match_on=MATCH):
        with KvKClient("not-a-key", environment="test", rate_limit=None) as kvk:
            with pytest.raises(AuthenticationError) as caught:
                kvk.subscriptions()
    assert caught.value.status_code in (401, 403)
