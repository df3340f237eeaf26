"""The matching cascade's scoring and decisions (pure), and the matcher over a fake register."""

from __future__ import annotations

import httpx
import pytest

from crmconnect import Address, Organisation
from crmconnect.kvk import (
    KvKClient,
    Matcher,
    MatchSettings,
    MatchStatus,
    SearchResult,
    Strategy,
    query_name,
    score_result,
)


def hit(
    name: str,
    kvk: str = "12345678",
    branch: str | None = "000012345678",
    city: str | None = None,
    street: str | None = None,
    type_: str = "hoofdvestiging",
    **extra: object,
) -> SearchResult:
    address = {"binnenlandsAdres": {"type": "bezoekadres", "plaats": city, "straatnaam": street}}
    return SearchResult.model_validate(
        {
            "kvkNummer": kvk,
            "vestigingsnummer": branch,
            "naam": name,
            "type": type_,
            "adres": address,
            **extra,
        }
    )


def org(name: str, city: str | None = None, **fields: object) -> Organisation:
    addresses = [Address(city=city)] if city else []
    return Organisation(name=name, addresses=addresses, **fields)


def test_own_kvk_and_branch_number_scores_100() -> None:
    record = org("Whatever", kvk_number="12345678", branch_number="12345678")
    assert score_result(record, hit("Other name"), Strategy.KVK_NUMBER) == 100


def test_name_and_city_agreeing_beats_name_alone() -> None:
    record = org("Bakkerij Jansen B.V.", city="'S-HERTOGENBOSCH")
    same_city = score_result(record, hit("Bakkerij Jansen", city="Den Bosch"), Strategy.NAME_CITY)
    other_city = score_result(record, hit("Bakkerij Jansen", city="Utrecht"), Strategy.NAME)
    assert same_city >= 80 > other_city


def test_postcode_match_with_a_different_name_stays_below_threshold() -> None:
    record = org("Slagerij De Dam", city="Amsterdam")
    score = score_result(record, hit("Test EMZ Dagobert", city="Amsterdam"), Strategy.POSTCODE)
    assert score < MatchSettings().min_score


def test_query_name_drops_legal_form_words_only() -> None:
    assert query_name("Jansen Bouw B.V.") == "Jansen Bouw"
    assert query_name("BV Jansen, Bouw") == "Jansen Bouw"
    assert query_name("Holding Jansen") == "Holding Jansen"
    assert query_name("B.V.") == "B.V."


class FakeRegister:
    """A Zoeken stand-in that answers by parameters, to test the cascade's order."""

    def __init__(self, answers: dict[tuple[tuple[str, str], ...], list[dict[str, object]]]) -> None:
        self.answers = answers
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = {
            k: v
            for k, v in request.url.params.items()
            if k not in ("pagina", "resultatenPerPagina")
        }
        self.queries.append(params)
        results = self.answers.get(tuple(sorted(params.items())), [])
        if not results:
            return httpx.Response(404, json={"fout": [{"code": "IPD5200", "omschrijving": "geen"}]})
        return httpx.Response(
            200,
            json={
                "pagina": 1,
                "resultatenPerPagina": 20,
                "totaal": len(results),
                "resultaten": results,
            },
        )


def entry(
    name: str, kvk: str, branch: str, city: str, type_: str = "hoofdvestiging"
) -> dict[str, object]:
    return {
        "kvkNummer": kvk,
        "vestigingsnummer": branch,
        "naam": name,
        "type": type_,
        "adres": {"binnenlandsAdres": {"type": "bezoekadres", "plaats": city}},
    }


def matcher(register: FakeRegister) -> Matcher:
    return Matcher(
        KvKClient("key-for-tests-000", transport=httpx.MockTransport(register), rate_limit=None)
    )


def test_cascade_stops_at_first_clear_match() -> None:
    register = FakeRegister(
        {
            (("naam", "Bakkerij Jansen"), ("plaats", "Utrecht")): [
                entry("Bakkerij Jansen B.V.", "11111111", "000000000011", "Utrecht")
            ],
        }
    )
    result = matcher(register).match(org("Bakkerij Jansen BV", city="Utrecht"))
    assert result.status is MatchStatus.MATCHED
    assert result.best is not None and result.best.strategy is Strategy.NAME_CITY
    assert register.queries == [{"naam": "Bakkerij Jansen", "plaats": "Utrecht"}]


def test_two_equal_branches_are_ambiguous_for_a_person_to_choose() -> None:
    twins = [
        entry("Jansen", "11111111", "000000000011", "Utrecht"),
        entry("Jansen", "22222222", "000000000022", "Utrecht"),
    ]
    register = FakeRegister({(("naam", "Jansen"),): twins})
    result = matcher(register).match(org("Jansen"))
    assert result.status is MatchStatus.AMBIGUOUS
    assert result.best is None
    assert {c.kvk_number for c in result.candidates} == {"11111111", "22222222"}
    assert "<table " in result._repr_html_() and "11111111" in result._repr_html_()


def test_invalid_crm_kvk_number_is_noted_and_skipped() -> None:
    register = FakeRegister(
        {(("naam", "Jansen"),): [entry("Jansen", "11111111", "000000000011", "Utrecht")]}
    )
    # Organisation refuses "12-34"; a record copied without validation still gets here.
    record = org("Jansen").model_copy(update={"kvk_number": "12-34"})
    result = matcher(register).match(record)
    assert any("KvK number skipped" in note for note in result.notes)
    assert result.status is MatchStatus.MATCHED
    assert all("kvkNummer" not in q for q in register.queries)


def test_kvk_number_without_branch_prefers_main_branch() -> None:
    branches = [
        entry("Winkel Oost", "11111111", "000000000011", "Utrecht", "nevenvestiging"),
        entry("Hoofdkantoor", "11111111", "000000000012", "Zeist"),
    ]
    register = FakeRegister({(("kvkNummer", "11111111"),): branches})
    result = matcher(register).match(org("Iets anders", kvk_number="11111111"))
    assert result.best is not None and result.best.branch_number == "000000000012"


def test_failures_are_reported_per_record_and_none_dropped() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("naam") == "Kapot":
            return httpx.Response(503, text="down")
        return httpx.Response(
            200,
            json={
                "pagina": 1,
                "totaal": 1,
                "resultaten": [entry("Heel", "11111111", "000000000011", "Ede")],
            },
        )

    kvk = KvKClient(
        "key-for-tests-000", transport=httpx.MockTransport(broken), rate_limit=None, max_retries=1
    )
    seen: list[int] = []
    results = Matcher(kvk).match_many(
        [org("Heel"), org("Kapot"), org("Heel")],
        workers=2,
        on_progress=lambda done, total, _: seen.append(done),
    )
    assert [r.status for r in results] == [
        MatchStatus.MATCHED,
        MatchStatus.ERROR,
        MatchStatus.MATCHED,
    ]
    assert results[1].organisation.name == "Kapot"
    assert sorted(seen) == [1, 2, 3]


@pytest.mark.parametrize("name", ["", "   "])
def test_records_without_usable_data_do_not_search(name: str) -> None:
    register = FakeRegister({})
    result = matcher(register).match(Organisation(name=name or "x", addresses=[]))
    assert result.status is MatchStatus.NO_MATCH


def at_address(name: str, kvk: str, branch: str, letter: str | None = None) -> dict[str, object]:
    found = entry(name, kvk, branch, "Lollum")
    found["adres"] = {
        "binnenlandsAdres": {
            "type": "bezoekadres",
            "straatnaam": "Hizzaarderlaan",
            "huisnummer": 3,
            **({"huisletter": letter} if letter else {}),
            "postcode": "8823SJ",
            "plaats": "Lollum",
        }
    }
    return found


POSTCODE_QUERY = (("huisnummer", "3"), ("postcode", "8823SJ"))


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        ("A", {"11111111", "33333333"}),  # a letter written as an addition finds the letter A
        ("2", {"33333333"}),  # an addition 2 is not the letter A or B (v2 shows no additions)
        (None, {"11111111", "22222222", "33333333"}),  # no addition: all three can be it
    ],
)
def test_postcode_step_holds_the_addition_against_the_register(
    addition: str | None, expected: set[str]
) -> None:
    register = FakeRegister(
        {
            POSTCODE_QUERY: [
                at_address("Kapsalon A", "11111111", "000000000011", "A"),
                at_address("Kapsalon B", "22222222", "000000000022", "B"),
                at_address("Kapsalon", "33333333", "000000000033"),
            ]
        }
    )
    address = Address(
        street="Hizzaarderlaan",
        house_number=3,
        house_number_addition=addition,
        postcode="8823 SJ",
        city="Lollum",
    )
    result = matcher(register).match(Organisation(name="Knipperij", addresses=[address]))
    assert {c.kvk_number for c in result.candidates} == expected


def test_candidates_of_every_step_are_listed_with_the_steps_that_found_them() -> None:
    shared = entry("Jansen Bouw", "11111111", "000000000011", "Utrecht")
    register = FakeRegister(
        {
            (("naam", "Jansen Bouw"), ("plaats", "Utrecht")): [shared],
            (("naam", "Jansen Bouw"),): [
                shared,
                entry("Jansen Bouw", "22222222", "000000000022", "Zeist"),
            ],
            (("huisnummer", "1"), ("postcode", "3511AA")): [
                entry("Bouwbedrijf J.", "33333333", "000000000033", "Utrecht"),
            ],
        }
    )
    # Equal names in the same city twice: no single winner, so every step runs.
    register.answers[(("naam", "Jansen Bouw"), ("plaats", "Utrecht"))].append(
        entry("Jansen Bouw", "44444444", "000000000044", "Utrecht")
    )
    record = Organisation(
        name="Jansen Bouw",
        addresses=[Address(street="Oudegracht", house_number=1, postcode="3511AA", city="Utrecht")],
    )
    result = matcher(register).match(record)
    assert result.status is MatchStatus.AMBIGUOUS
    steps = {c.kvk_number: c.strategies for c in result.candidates}
    assert steps == {
        "11111111": (Strategy.NAME_CITY, Strategy.NAME),
        "22222222": (Strategy.NAME,),
        "33333333": (Strategy.POSTCODE,),
        "44444444": (Strategy.NAME_CITY,),
    }
    assert {c.kvk_number for c in result.found_by(Strategy.NAME)} == {"11111111", "22222222"}
    assert "name_city + name" in result._repr_html_()
