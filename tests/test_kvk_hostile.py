"""Hostile answers: every body a server can send, on every KvK and VIES endpoint.

Each answer gives a result of the endpoint's model or a typed
`crmconnect.errors` exception naming the service and the status, with a
masked excerpt; never a bare ``RecursionError``, ``KeyError`` or
``TypeError``. The API key, echoed by the server in every place it could
echo it, is reachable from no error: not its text, not its attributes, not
its chain.
"""

from __future__ import annotations

import functools
import json
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pydantic
import pytest

from crmconnect.errors import APIError, CrmConnectError, MalformedResponseError
from crmconnect.kvk import (
    BasicProfile,
    BranchList,
    BranchProfile,
    KvKClient,
    Naming,
    Owner,
    SearchPage,
)
from crmconnect.models import Organisation
from crmconnect.vies import ViesClient

SECRET = "l7xx-hostile-secret-key-5f3a9c1e"
KVK, BRANCH = "69599084", "000037178598"
DEEP = 100_000

# --- the bodies --------------------------------------------------------------------------

SEARCH = {
    "pagina": 1,
    "resultatenPerPagina": 10,
    "totaal": 1,
    "resultaten": [
        {
            "kvkNummer": KVK,
            "vestigingsnummer": BRANCH,
            "naam": "Test EMZ Dagobert",
            "type": "hoofdvestiging",
            "adres": {"binnenlandsAdres": {"type": "bezoekadres", "plaats": "Amsterdam"}},
        }
    ],
}
ADDRESS = {
    "type": "bezoekadres",
    "indAfgeschermd": "Nee",
    "straatnaam": "Abebe Bikilalaan",
    "huisnummer": 17,
    "huisletter": "M",
    "postcode": "1034WL",
    "plaats": "Amsterdam",
    "land": "Nederland",
}
BRANCH_PROFILE = {
    "vestigingsnummer": BRANCH,
    "kvkNummer": KVK,
    "eersteHandelsnaam": "Test EMZ Dagobert",
    "indHoofdvestiging": "Ja",
    "totaalWerkzamePersonen": 3,
    "handelsnamen": [{"naam": "Test EMZ Dagobert", "volgorde": 0}],
    "adressen": [ADDRESS],
    "sbiActiviteiten": [
        {"sbiCode": "1011", "sbiOmschrijving": "Slachterijen", "indHoofdactiviteit": "Ja"}
    ],
    "websites": ["www.example.nl"],
}
PROFILE = {
    "kvkNummer": KVK,
    "naam": "Test EMZ Dagobert",
    "indNonMailing": "Nee",
    "formeleRegistratiedatum": "20170710",
    "materieleRegistratie": {"datumAanvang": "20170108"},
    "totaalWerkzamePersonen": 3,
    "handelsnamen": [{"naam": "Test EMZ Dagobert", "volgorde": 0}],
    "sbiActiviteiten": [{"sbiCode": "1011", "indHoofdactiviteit": "Ja"}],
    "_embedded": {
        "eigenaar": {"rechtsvorm": "Eenmanszaak"},
        "hoofdvestiging": {"vestigingsnummer": BRANCH, "kvkNummer": KVK},
    },
}
OWNER = {"rsin": "123456789", "rechtsvorm": "Eenmanszaak", "adressen": [ADDRESS]}
BRANCHES = {
    "kvkNummer": KVK,
    "totaalAantalVestigingen": 1,
    "vestigingen": [{"vestigingsnummer": BRANCH, "indHoofdvestiging": "Ja"}],
}
NAMING = {
    "kvkNummer": KVK,
    "naam": "Test EMZ Dagobert",
    "vestigingen": [{"vestigingsnummer": BRANCH, "eersteHandelsnaam": "Test EMZ Dagobert"}],
}
VIES_CHECK = {"isValid": True, "userError": "VALID", "name": "X B.V.", "address": "A 1\n1234AB B"}
VIES_APPROX = {"countryCode": "NL", "vatNumber": "004495445B01", "valid": True, "name": "X"}
VIES_STATUS = {
    "vow": {"available": True},
    "countries": [
        {"countryCode": "NL", "availability": "Available"},
        {"countryCode": "DE", "availability": "Unavailable"},
    ],
}

ODD_VALUES: list[Any] = [
    None,
    "",
    [],
    {},
    0,
    -1,
    True,
    1e308,
    "x" * 20_000,
    "\x00\u200b\ud800",
    SECRET,
    [[[[[]]]]] * 3,
    json.loads("[" * 900 + "]" * 900),
    {"href": SECRET},
]
"""What a hostile server puts in the place of any one field."""


def _raw(text: str | bytes) -> bytes:
    return text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text


def generic_bodies() -> list[bytes]:
    """Bodies that are no valid answer of any endpoint, the API key echoed in some."""
    texts: list[str | bytes] = [
        b"",
        b" \n\t ",
        b"null",
        b"true",
        b"0",
        b"-1e999",
        b"NaN",
        b'"text"',
        b"[]",
        b"[1]",
        b"[{}]",
        b"{}",
        b'{"a":',
        b'{"fout": [{"code": "IPD0005", "omschrijving": "' + SECRET.encode() + b'"}]}',
        b'{"meldingen": {"fout": "' + SECRET.encode() + b'"}}',
        f"<html><h1>Onderhoud</h1><p>{SECRET}</p></html>",
        f"<?xml version='1.0'?><fout>{SECRET}</fout>",
        b"\xef\xbb\xbf{}",
        b"\xff\xfe\x00{",
        b"\x81\x8d\x8f\x90\x9d",
        b"{\x00}",
        "[" * DEEP + "]" * DEEP,
        '{"a":' * DEEP + "1" + "}" * DEEP,
        '{"kvkNummer":' + "[" * DEEP + "]" * DEEP + "}",
        "[" * DEEP,
        "1" * 5000,
        json.dumps({"x": "1" * 100_000, "key": SECRET}),
        json.dumps([SECRET] * 1000),
        json.dumps({"resultaten": {"naam": SECRET}}),
        json.dumps({"kvkNummer": KVK, "kvkNummer ": SECRET} | {str(i): i for i in range(1000)}),
        '{"kvkNummer": "1", "kvkNummer": "' + SECRET + '"}',
        json.dumps({"fout": [{"code": ["IPD0005"], "omschrijving": {"x": SECRET}}]}),
    ]
    return [_raw(text) for text in texts]


def mutations(base: dict[str, Any]) -> Iterator[bytes]:
    """``base`` with each field replaced by each odd value, and nested parts broken."""
    for key in base:
        for value in ODD_VALUES:
            yield _raw(json.dumps({**base, key: value}))
        yield _raw(json.dumps({k: v for k, v in base.items() if k != key}))
    for key, value in base.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for inner in value[0]:
                for odd in [*ODD_VALUES, "9" * 50]:
                    item = {**value[0], inner: odd}
                    yield _raw(json.dumps({**base, key: [item, *value[1:]]}))
            yield _raw(json.dumps({**base, key: value * 101}))  # more than a page holds


def bodies(base: dict[str, Any], statuses: tuple[int, ...]) -> list[tuple[int, bytes]]:
    """Every generic body with every status; the broken answers as successes."""
    generic = [(status, body) for body in generic_bodies() for status in statuses]
    return generic + [(200, body) for body in mutations(base)]


# --- checking what came back -------------------------------------------------------------


def reachable_text(error: BaseException) -> Iterator[str]:
    """Every text an error reporter could show of an error: message, attributes, traceback."""
    yield str(error)
    yield repr(error)
    yield "".join(traceback.format_exception(error))
    seen: set[int] = set()

    def walk(value: object) -> Iterator[str]:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, str):
            yield value
        elif isinstance(value, bytes):
            yield value.decode("utf-8", "replace")
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from walk(key)
                yield from walk(item)
        elif isinstance(value, list | tuple | set):
            for item in value:
                yield from walk(item)
        elif isinstance(value, BaseException):
            yield from walk(value.args)
            yield from walk(vars(value))
        else:
            yield repr(value)

    yield from walk(error)


def assert_typed(error: BaseException, service: str, status: int) -> None:
    assert isinstance(error, CrmConnectError), f"bare {type(error).__name__}: {error!r:.300}"
    assert error.__cause__ is None and error.__context__ is None, "nothing chained"
    if isinstance(error, APIError):
        assert error.service == service
        assert error.status_code in (status, None if status == 200 else status)
    if isinstance(error, MalformedResponseError):
        assert error.status_code == status
        assert len(error.excerpt) <= 200
    if service == "vies":
        return  # VIES takes no credentials: there is nothing to leak
    for text in reachable_text(error):
        assert SECRET not in text, f"the key leaks through {type(error).__name__}"


def is_json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except (ValueError, RecursionError):
        return False


def run(call: Callable[[], object], model: type, service: str, status: int) -> str:
    """Call once; check the outcome is a ``model`` or a typed error; name the outcome."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = call()
    except Exception as exc:  # the point: anything, typed or not, is inspected
        assert_typed(exc, service, status)
        return type(exc).__name__
    assert isinstance(result, model), f"{type(result).__name__} is no {model.__name__}"
    return "result"


# --- KvK ---------------------------------------------------------------------------------

KVK_ENDPOINTS: dict[str, tuple[Callable[[KvKClient], object], type, dict[str, Any]]] = {
    "search": (lambda k: k.search(name="Dagobert"), SearchPage, SEARCH),
    "basisprofiel": (lambda k: k.basic_profile(KVK), BasicProfile, PROFILE),
    "eigenaar": (lambda k: k.owner(KVK), Owner, OWNER),
    "hoofdvestiging": (lambda k: k.main_branch(KVK), BranchProfile, BRANCH_PROFILE),
    "vestigingen": (lambda k: k.branches(KVK), BranchList, BRANCHES),
    "vestigingsprofiel": (lambda k: k.branch_profile(BRANCH), BranchProfile, BRANCH_PROFILE),
    "naamgeving": (lambda k: k.naming(KVK), Naming, NAMING),
    "organisation": (lambda k: k.organisation(KVK), Organisation, BRANCH_PROFILE),
}
STATUSES = (200, 201, 204, 301, 400, 401, 403, 404, 418, 429, 500, 503)


def kvk_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> KvKClient:
    return KvKClient(
        SECRET,
        transport=httpx.MockTransport(handler),
        rate_limit=None,
        max_retries=0,
        **kwargs,
    )


def serving(
    status: int, body: bytes, endpoint: str, *, warn: bool = False
) -> Callable[[httpx.Request], httpx.Response]:
    """The hostile body for the endpoint; for ``organisation`` a good Basisprofiel first."""
    headers = {"Content-Type": "application/json"}
    if warn:
        headers["Warning"] = f'299 - "{SECRET}"'

    def handler(request: httpx.Request) -> httpx.Response:
        if endpoint == "organisation" and "/basisprofielen/" in request.url.path:
            return httpx.Response(200, json=PROFILE)
        return httpx.Response(status, content=body, headers=headers)

    return handler


@pytest.mark.parametrize("endpoint", sorted(KVK_ENDPOINTS))
def test_every_kvk_answer_is_a_result_or_a_typed_error(endpoint: str) -> None:
    call, model, base = KVK_ENDPOINTS[endpoint]
    hostile = bodies(base, STATUSES)
    assert len({body for _, body in hostile}) >= 88, "as many bodies as the adversary tried"
    outcomes: dict[str, int] = {}
    for status, body in hostile:
        with kvk_client(serving(status, body, endpoint, warn=True)) as kvk:
            outcome = run(functools.partial(call, kvk), model, "kvk", status)
        if status < 400 and not is_json_object(body):
            assert outcome == "MalformedResponseError", body[:80]
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.get("result", 0) > 0, "some odd but acceptable answers are still read"


@pytest.mark.parametrize(
    "body",
    [
        "[" * DEEP + "]" * DEEP,
        '{"kvkNummer": "69599084", "naam": ' + "[" * DEEP + "]" * DEEP + "}",
    ],
    ids=["deep-array", "deep-in-a-field"],
)
def test_json_nested_100000_deep_is_malformed_not_a_recursion_error(body: str) -> None:
    with kvk_client(serving(200, body.encode(), "basisprofiel")) as kvk:
        with pytest.raises(MalformedResponseError) as caught:
            kvk.basic_profile(KVK)
    assert "nested too deep" in str(caught.value)
    assert (caught.value.service, caught.value.status_code) == ("kvk", 200)
    assert caught.value.context["path"] == f"v1/basisprofielen/{KVK}"


def test_an_answer_larger_than_max_answer_bytes_is_refused_and_not_cached() -> None:
    big = json.dumps({**PROFILE, "padding": "x" * 5000}).encode()
    with kvk_client(serving(200, big, "basisprofiel"), max_answer_bytes=4096) as kvk:
        with pytest.raises(MalformedResponseError, match="max_answer_bytes"):
            kvk.basic_profile(KVK)
        assert len(kvk.cache) == 0  # type: ignore[arg-type]
    with kvk_client(serving(200, big, "basisprofiel"), max_answer_bytes=1 << 20) as kvk:
        assert kvk.basic_profile(KVK).name == "Test EMZ Dagobert"


def test_a_malformed_answer_is_not_cached_so_the_next_call_asks_again() -> None:
    answers = [
        httpx.Response(200, text="<html>onderhoud</html>"),
        httpx.Response(200, json=PROFILE),
    ]
    with kvk_client(lambda request: answers.pop(0)) as kvk:
        with pytest.raises(MalformedResponseError):
            kvk.basic_profile(KVK)
        assert kvk.basic_profile(KVK).kvk_number == KVK
        assert kvk.usage.profile_calls == 2


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("basisprofiel", {**PROFILE, "kvkNummer": "12345678"}),
        ("vestigingsprofiel", {**BRANCH_PROFILE, "vestigingsnummer": "000099999999"}),
        ("naamgeving", {**NAMING, "kvkNummer": "12345678"}),
    ],
)
def test_an_answer_about_another_registration_is_refused(
    endpoint: str, body: dict[str, Any]
) -> None:
    call, _, _ = KVK_ENDPOINTS[endpoint]
    with kvk_client(serving(200, json.dumps(body).encode(), endpoint)) as kvk:
        with pytest.raises(MalformedResponseError, match="asked for"):
            call(kvk)


def test_register_data_that_fits_no_organisation_is_malformed_not_a_pydantic_error() -> None:
    branch = {**BRANCH_PROFILE, "adressen": [{**ADDRESS, "huisnummer": 0}]}
    with kvk_client(serving(200, json.dumps(branch).encode(), "organisation")) as kvk:
        with pytest.raises(MalformedResponseError, match="does not fit an Organisation"):
            kvk.organisation(KVK)


# --- VIES --------------------------------------------------------------------------------

VIES_ENDPOINTS: dict[str, tuple[Callable[[ViesClient], object], type, dict[str, Any]]] = {
    "check": (lambda v: v.check("NL004495445B01"), object, VIES_CHECK),
    "check-vat-number": (lambda v: v.check_approx("NL004495445B01", name="X"), object, VIES_APPROX),
    "check-status": (lambda v: v.status(), dict, VIES_STATUS),
}


@pytest.mark.parametrize("endpoint", sorted(VIES_ENDPOINTS))
def test_every_vies_answer_is_a_result_or_a_typed_error(endpoint: str) -> None:
    call, model, base = VIES_ENDPOINTS[endpoint]
    hostile = bodies(base, (200, 400, 404, 429, 500))
    assert len({body for _, body in hostile}) >= 88
    outcomes: dict[str, int] = {}
    for status, body in hostile:
        transport = httpx.MockTransport(
            lambda request, body=body, status=status: httpx.Response(status, content=body)
        )
        with ViesClient(transport=transport, rate_limit=None, max_retries=0) as vies:
            outcome = run(functools.partial(call, vies), model, "vies", status)
        if status < 400 and not is_json_object(body):
            assert outcome == "MalformedResponseError", body[:80]
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes.get("result", 0) > 0


def test_a_vies_maintenance_page_is_retried_then_malformed() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, text="<html>maintenance</html>")

    transport = httpx.MockTransport(handler)
    with ViesClient(transport=transport, rate_limit=None, max_retries=2) as vies:
        with pytest.raises(MalformedResponseError) as caught:
            vies.check("NL004495445B01")
    assert len(calls) == 3, "a malformed answer to a check is retried like a server error"
    assert caught.value.service == "vies" and "maintenance" in caught.value.excerpt


@pytest.mark.anyio
async def test_the_async_client_reads_answers_the_same_way() -> None:
    from crmconnect.kvk import AsyncKvKClient

    deep = ("[" * DEEP + "]" * DEEP).encode()
    answers = [
        httpx.Response(200, content=deep),
        httpx.Response(403, text="x" * 190 + SECRET),
        httpx.Response(200, json=PROFILE),
    ]

    async def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    async with AsyncKvKClient(
        SECRET, transport=httpx.MockTransport(handler), rate_limit=None, max_retries=0
    ) as kvk:
        with pytest.raises(MalformedResponseError, match="nested too deep"):
            await kvk.basic_profile(KVK)
        with pytest.raises(APIError) as caught:
            await kvk.basic_profile(KVK)
        assert_typed(caught.value, "kvk", 403)
        assert (await kvk.basic_profile(KVK)).name == "Test EMZ Dagobert"


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (BranchList, {"kvkNummer": KVK, "vestigingen": [{}] * 10_000}),
        (SearchPage, {"totaal": 1, "resultaten": [{"naam": 1}] * 10_000}),
        (BasicProfile, {"kvkNummer": KVK, "handelsnamen": [None] * 10_000}),
    ],
)
def test_a_list_of_many_bad_items_stops_at_the_first(
    model: type[pydantic.BaseModel], body: dict[str, Any]
) -> None:
    """A million bad items must not cost a million errors (time and memory: see the benchmark)."""
    with pytest.raises(pydantic.ValidationError) as caught:
        model.model_validate(body)
    assert {error["loc"][1] for error in caught.value.errors()} == {0}, "only the first item"


def test_kvk_reads_at_most_4_mib_by_default() -> None:
    from crmconnect.kvk import MAX_ANSWER_BYTES

    assert MAX_ANSWER_BYTES == 4 * 1024 * 1024
    big = json.dumps({**PROFILE, "padding": "x" * MAX_ANSWER_BYTES}).encode()
    with kvk_client(serving(200, big, "basisprofiel")) as kvk:
        with pytest.raises(MalformedResponseError, match="max_answer_bytes"):
            kvk.basic_profile(KVK)
