"""The plain-page path of a DigitaleFactuur listing (`split_plain`) against the exact read.

Whatever a page holds, the plain path either gives up (``None``: the page is
read exactly) or cuts out records whose exact read is the page's exact read,
with the same ID and number; where it cannot know (a key inside a nested
element), the exact read of the record refuses it when its values are read.
"""

from __future__ import annotations

import random

import httpx
import pytest

from crmconnect.digitalefactuur import RELATION_FIELDS, DigitaleFactuurClient, Relation
from crmconnect.digitalefactuur._models import listed_number
from crmconnect.digitalefactuur._xml import MalformedAnswer, Shape, read, read_record, split_plain
from crmconnect.errors import MalformedResponseError
from crmconnect.sandbox import DigitaleFactuurSandbox
from crmconnect.sandbox._digitalefactuur import generate_relations

SHAPE = Shape("klant", frozenset({"klanten"}), ("id",))
KEYS = ("id", "relatienummer")


def page(records: int = 5) -> bytes:
    sandbox = DigitaleFactuurSandbox(relations=generate_relations(records))
    return sandbox._klanten({"page": "1"}).encode()


def exact_or_none(body: bytes) -> list[dict[str, str]] | None:
    try:
        return [record.elements for record in read(body, SHAPE)]
    except MalformedAnswer:
        return None


def assert_agrees(body: bytes) -> bool:
    """The plain path gives up, or agrees with the exact read record by record."""
    plain = split_plain(body, SHAPE, KEYS)
    if plain is None:
        return False
    exact = exact_or_none(body)
    assert exact is not None, body  # plain pages are valid answers
    ids, numbers = plain.keys
    assert plain.raws is not None
    assert len(plain.raws) == len(exact) == len(ids) == len(numbers) == len(plain.digests)
    for raw, key, number, elements in zip(plain.raws, ids, numbers, exact, strict=True):
        assert read_record(raw, SHAPE).elements == elements
        assert key == elements["id"]
        assert listed_number(number) == listed_number(elements.get("relatienummer"))
    return True


def test_a_sandbox_page_is_plain_and_agrees() -> None:
    assert assert_agrees(page(100))


@pytest.mark.parametrize(
    "body",
    [
        "<klanten/>",
        "<klanten></klanten>",
        "\ufeff<?xml version='1.0' encoding='utf-8'?>\n<klanten>\n  <klant>\n    <id> 7 </id>\n"
        "    <naam>A &amp; B</naam>\n  </klant>\n  <klant><naam>x</naam><id>8</id>"
        "<relatienummer>1002</relatienummer></klant>\n</klanten>\n",
        "<klanten><klant><id>1</id><relatienummer>1001</relatienummer><naam/></klant>"
        "<klant><id>2</id><naam>geen nummer</naam></klant></klanten>",
        "<klanten><klant><id>1</id><klant/><relatienummer>1001</relatienummer></klant></klanten>",
    ],
)
def test_plain_pages_in_other_layouts_agree(body: str) -> None:
    assert assert_agrees(body.encode())


@pytest.mark.parametrize(
    "body",
    [
        "<!DOCTYPE klanten><klanten><klant><id>1</id></klant></klanten>",
        "<klanten><!-- x --><klant><id>1</id></klant></klanten>",
        "<klanten><klant><id>1</id><naam><![CDATA[a]]></naam></klant></klanten>",
        "<klanten><?pi x?><klant><id>1</id></klant></klanten>",
        "<?xml version='1.0' encoding='ISO-8859-1'?><klanten><klant><id>1</id></klant></klanten>",
        '<klanten a="1"><klant><id>1</id></klant></klanten>',
        '<klanten><klant a="1"><id>1</id></klant></klanten>',
        "<klanten><klant><id>1</id><klant><id>2</id></klant></klant></klanten>",
        "<klanten><klant/><klant><id>1</id></klant></klanten>",
        "<klanten>tekst<klant><id>1</id></klant></klanten>",
        "<klanten><klant><id>1&amp;2</id></klant></klanten>",
        "<klanten><klant><id>1</id><relatienummer>1&lt;2</relatienummer></klant></klanten>",
        "<klanten><klant><id></id></klant></klanten>",
        "<klanten><klant><naam>geen id</naam></klant></klanten>",
        f"<klanten><klant><id>{'9' * 100}</id></klant></klanten>",
        "<klanten><klant><id>1</id></klant>",
        "<relaties><klant><id>1</id></klant></relaties>",
        "<html><body>onderhoud</body></html>",
    ],
)
def test_pages_that_are_not_plain_are_left_to_the_exact_read(body: str) -> None:
    assert split_plain(body.encode(), SHAPE, KEYS) is None


def serving(body: bytes) -> DigitaleFactuurClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body if "page=1" in str(request.url) else b"<klanten/>")

    transport = httpx.MockTransport(answer)
    return DigitaleFactuurClient(
        "10001", "sandbox-access-code", transport=transport, rate_limit=None
    )


def test_random_damage_to_a_page_never_gives_a_relation_the_exact_read_does_not() -> None:
    """Markup inserted anywhere: each listed relation reads as the exact read has it, or fails."""
    original = page(6).decode()
    pieces = [
        "<klant>", "</klant>", "<id>9</id>", "<relatienummer>2001</relatienummer>", "<a>",
        "</a>", "<b/>", " ", "\n", "&amp;", "<!-- c -->", "<x><id>5</id></x>", "x", ">",
    ]  # fmt: skip
    rng = random.Random(20261202)
    agreed = refused = 0
    for _ in range(1500):
        body = original
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(body))
            body = body[:at] + rng.choice(pieces) + body[at:]
        encoded = body.encode()
        exact = exact_or_none(encoded)
        if exact is None or split_plain(encoded, SHAPE, KEYS) is None:
            continue  # left to the exact read, which reads it or refuses it whole
        expected = {elements["id"]: elements for elements in exact}
        with serving(encoded) as df:
            index = df.relations_index()
        for key, entry in index.items():
            try:
                relation = index.relation(key)
            except MalformedResponseError:
                refused += 1
                continue
            assert relation == Relation.from_elements(expected[key], RELATION_FIELDS, "id")
            assert entry.number == relation.number
            agreed += 1
    assert agreed > 500 and refused > 0  # both cases were met


def test_an_id_the_plain_path_found_in_a_nested_element_is_refused_when_read() -> None:
    body = (
        b"<klanten><klant><x><id>9</id></x><id>1</id><naam>Vreemd</naam></klant>"
        b"<klant><id>2</id><naam>Gewoon</naam></klant></klanten>"
    )

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    client = DigitaleFactuurClient(
        "10001", "sandbox-access-code", transport=httpx.MockTransport(answer), rate_limit=None
    )
    with client as df:
        index = df.relations_index()
        assert list(index) == ["9", "2"]
        assert index.relation(2).name == "Gewoon"
        with pytest.raises(MalformedResponseError, match="not a plain leaf"):
            index.relation(9)
        assert [relation.id for relation in df.relations()] == ["1", "2"]  # the page's own reading


def test_a_records_digest_is_the_same_in_every_layout_and_changes_with_any_byte() -> None:
    first = b"<klant><id>1</id><relatienummer>1001</relatienummer><naam>A</naam></klant>"
    other = b"<klant><naam>B</naam><id>2</id></klant>"  # its ID is not its first child
    alone = split_plain(b"<klanten>" + first + b"</klanten>", SHAPE, KEYS)
    mixed = split_plain(b"<klanten>\n " + first + b"\n " + other + b"\n</klanten>", SHAPE, KEYS)
    spaced = split_plain(
        b"<klanten>" + first.replace(b"<id>", b"\n  <id>") + b"</klanten>", SHAPE, KEYS
    )
    assert alone is not None and mixed is not None and spaced is not None
    assert alone.digests[0] == mixed.digests[0] == spaced.digests[0]
    assert mixed.keys == [["1", "2"], ["1001", None]]
    for changed in (b"<naam>a</naam>", b"<naam>A </naam>", b"<naam>A</naam><x/>"):
        edited = split_plain(
            b"<klanten>" + first.replace(b"<naam>A</naam>", changed) + b"</klanten>", SHAPE, KEYS
        )
        assert edited is not None and edited.digests[0] != alone.digests[0]


def test_a_snapshot_reads_ids_and_digests_only_and_matches_the_index() -> None:
    body = page(50)
    full = split_plain(body, SHAPE, KEYS)
    ids_only = split_plain(body, SHAPE, ("id",), raws=False)
    assert full is not None and ids_only is not None and ids_only.raws is None
    assert (ids_only.keys[0], ids_only.digests) == (full.keys[0], full.digests)
