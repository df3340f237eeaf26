"""Tests for the pure normalisation and scoring helpers of the KvK matcher."""

from __future__ import annotations

import pytest

from crmconnect.kvk._normalise import (
    CITY_ALIASES,
    address_key,
    best_name_similarity,
    house_number_matches,
    name_similarity,
    name_variants,
    normalise_city,
    normalise_name,
    normalise_postcode_loose,
    same_city,
)

# --------------------------------------------------------------------------
# normalise_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # every spelling of B.V., at the end and at the start
        ("Jansen B.V.", "jansen"),
        ("JANSEN BV", "jansen"),
        ("Jansen b.v", "jansen"),
        ("Jansen B.V", "jansen"),
        ("Jansen B V", "jansen"),
        ("Jansen bv.", "jansen"),
        ("B.V. Jansen", "jansen"),
        ("BV Jansen", "jansen"),
        ("Jansen Besloten Vennootschap", "jansen"),
        ("Jansen besloten vennootschap met beperkte aansprakelijkheid", "jansen"),
        # other legal forms
        ("Jansen N.V.", "jansen"),
        ("Jansen NV", "jansen"),
        ("Naamloze Vennootschap Jansen", "jansen"),
        ("Bakkerij 't Stoepje V.O.F.", "bakkerij t stoepje"),
        ("Bakkerij 't Stoepje vof", "bakkerij t stoepje"),
        ("Vennootschap onder Firma Jansen en Zonen", "jansen en zonen"),
        ("Jansen C.V.", "jansen"),
        ("Jansen CV", "jansen"),
        ("Commanditaire Vennootschap Jansen", "jansen"),
        ("Stichting Jansen", "jansen"),
        ("Vereniging De Vrienden", "de vrienden"),
        ("Maatschap Huisartsen Jansen", "huisartsen jansen"),
        ("Eenmanszaak Jansen", "jansen"),
        ("Jansen B.V. i.o.", "jansen"),
        ("Jansen BV in oprichting", "jansen"),
        ("Coöperatie De Eendracht U.A.", "de eendracht"),
        ("Cooperatie De Eendracht UA", "de eendracht"),
        ("Coöperatieve Vereniging De Eendracht W.A.", "de eendracht"),
        ("Coöperatie De Eendracht B.A.", "de eendracht"),
        # holding (stripped by default)
        ("Jansen Holding B.V.", "jansen"),
        ("Holding Jansen", "jansen"),
        ("Jansen (Holding) B.V.", "jansen"),
        # legal forms in the middle stay
        ("Jansen B.V. Installaties", "jansen b v installaties"),
        # punctuation and typographic apostrophes
        ("Jansen & Zn.", "jansen zn"),
        ("Jansen-De Vries / Bouw", "jansen de vries bouw"),
        ('"Het Anker" (Urk)', "het anker urk"),
        ("Bakkerij ’t Stoepje", "bakkerij t stoepje"),
        ("Jansen+Partners", "jansen partners"),
        ("  Jansen    Bouw  ", "jansen bouw"),
        # diacritics
        ("Café Crème", "cafe creme"),
        ("Ëlzenaar Brouwerij", "elzenaar brouwerij"),
        ("Straße GmbH", "strasse gmbh"),
        # never empty when there are letters
        ("Holding B.V.", "holding b v"),
        ("B.V.", "b v"),
        ("Stichting", "stichting"),
        # nothing to keep
        ("", ""),
        ("  ", ""),
        ("&.-", ""),
    ],
)
def test_normalise_name(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jansen Holding B.V.", "jansen holding"),
        ("Holding Jansen BV", "holding jansen"),
        ("Holding B.V.", "holding"),
        ("Jansen B.V.", "jansen"),
    ],
)
def test_normalise_name_keeps_holding(raw: str, expected: str) -> None:
    assert normalise_name(raw, strip_holding=False) == expected


def test_normalise_name_same_key_for_all_spellings() -> None:
    spellings = [
        "Jansen B.V.",
        "JANSEN BV",
        "Jansen b.v",
        "B.V. Jansen",
        "jansen",
        "Jansen Holding B.V.",
    ]
    assert {normalise_name(s) for s in spellings} == {"jansen"}


# --------------------------------------------------------------------------
# name_variants


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jansen B.V.", ["jansen"]),
        (
            "Jansen B.V. h.o.d.n. Bakkerij Jansen",
            ["jansen b v bakkerij jansen", "jansen", "bakkerij jansen"],
        ),
        ("Jansen BV H.O.D.N Bakkerij X", ["jansen bv bakkerij x", "jansen", "bakkerij x"]),
        ("Jansen BV hodn Bakkerij X", ["jansen bv bakkerij x", "jansen", "bakkerij x"]),
        ("Jansen h. o. d. n. Bakkerij X", ["jansen bakkerij x", "jansen", "bakkerij x"]),
        (
            "Jansen Handelend Onder De Naam De Bakker",
            ["jansen de bakker", "jansen", "de bakker"],
        ),
        (
            "Jansen V.O.F. tevens handelend onder de naam De Bakker",
            ["jansen v o f de bakker", "jansen", "de bakker"],
        ),
        ("Jansen (h.o.d.n. Jansen)", ["jansen jansen", "jansen"]),
        ("Jansen h.o.d.n.", ["jansen"]),
        ("", []),
    ],
)
def test_name_variants(raw: str, expected: list[str]) -> None:
    assert name_variants(raw) == expected


def test_name_variants_leaves_words_containing_hodn_alone() -> None:
    assert name_variants("Shodnet B.V.") == ["shodnet"]


# --------------------------------------------------------------------------
# name_similarity


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Jansen Bouw", "Jansen Bouw B.V."),
        ("Jansen Bouw", "JANSEN BOUW"),
        ("Coöperatie De Eendracht U.A.", "De Eendracht"),
        ("Bakkerij Jansen", "Jansen Bakkerij"),
        ("Café Crème", "Cafe Creme"),
    ],
)
def test_name_similarity_equal(a: str, b: str) -> None:
    assert name_similarity(a, b) == 100.0


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        ("Bakkerij Jansen", "Jansen Bakkerij", 90.0, 100.0),
        ("Jansen Bouw", "Janssen Bouw", 90.0, 99.9),
        ("Jansen", "Jansen Bouw", 75.0, 95.0),
        ("Jansen", "Janssen Installatietechniek", 0.0, 60.0),
        ("Bakkerij Jansen", "Garage Pietersen", 0.0, 49.9),
        ("Bakkerij Jansen", "Pietersen Transport", 0.0, 49.9),
        ("ING", "Jansen Engineering", 0.0, 49.9),
    ],
)
def test_name_similarity_ranges(a: str, b: str, low: float, high: float) -> None:
    assert low <= name_similarity(a, b) <= high


def test_name_similarity_ordering() -> None:
    exact = name_similarity("Jansen B.V.", "Jansen")
    close = name_similarity("Jansen B.V.", "Janssen")
    longer = name_similarity("Jansen B.V.", "Jansen Installatietechniek")
    different = name_similarity("Jansen B.V.", "Janssen Installatietechniek")
    unrelated = name_similarity("Jansen B.V.", "Pietersen Transport")
    assert exact == 100.0
    assert exact > close > longer > different > unrelated
    assert exact - different >= 40.0


def test_name_similarity_is_symmetric() -> None:
    assert name_similarity("Jansen", "Jansen Bouw") == name_similarity("Jansen Bouw", "Jansen")


@pytest.mark.parametrize(("a", "b"), [("", "Jansen"), ("Jansen", ""), ("", ""), ("&", "&")])
def test_name_similarity_empty_is_zero(a: str, b: str) -> None:
    assert name_similarity(a, b) == 0.0


def test_best_name_similarity_takes_the_best_candidate() -> None:
    candidates = ["Pietersen Transport", "Jansen Bouw B.V.", "Janssen Bouw"]
    assert best_name_similarity("Jansen Bouw", candidates) == 100.0


def test_best_name_similarity_uses_hodn_variants_on_both_sides() -> None:
    ours = "Jansen B.V. h.o.d.n. Bakkerij 't Stoepje"
    assert best_name_similarity(ours, ["Bakkerij 't Stoepje V.O.F."]) == 100.0
    assert best_name_similarity("Bakkerij 't Stoepje", ["Jansen B.V. h.o.d.n. 't Stoepje"]) > 80.0
    assert best_name_similarity("'t Stoepje", ["Pietersen h.o.d.n. 't Stoepje"]) == 100.0


def test_best_name_similarity_accepts_any_iterable() -> None:
    assert best_name_similarity("Jansen", (n for n in ["Jansen BV"])) == 100.0


def test_best_name_similarity_without_candidates() -> None:
    assert best_name_similarity("Jansen", []) == 0.0
    assert best_name_similarity("Jansen", [""]) == 0.0


def test_best_name_similarity_is_at_least_plain_similarity() -> None:
    for candidate in ["Janssen", "Jansen Bouw", "De Vries"]:
        assert best_name_similarity("Jansen", [candidate]) >= name_similarity("Jansen", candidate)


# --------------------------------------------------------------------------
# cities


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("'s-Hertogenbosch", "s hertogenbosch"),
        ("’s-Hertogenbosch", "s hertogenbosch"),
        ("'S-HERTOGENBOSCH", "s hertogenbosch"),
        ("s hertogenbosch", "s hertogenbosch"),
        ("'s Hertogenbosch", "s hertogenbosch"),
        ("Den Bosch", "s hertogenbosch"),
        ("DEN  BOSCH", "s hertogenbosch"),
        ("Den Haag", "s gravenhage"),
        ("'s-Gravenhage", "s gravenhage"),
        ("The Hague", "s gravenhage"),
        ("'s-Gravenzande", "s gravenzande"),
        ("'s-Heerenberg", "s heerenberg"),
        ("Alphen a/d Rijn", "alphen aan den rijn"),
        ("Alphen aan den Rijn", "alphen aan den rijn"),
        ("Capelle a/d IJssel", "capelle aan den ijssel"),
        ("St. Michielsgestel", "sint michielsgestel"),
        ("Sint-Michielsgestel", "sint michielsgestel"),
        ("Etten-Leur", "etten leur"),
        ("Nieuw-Vennep", "nieuw vennep"),
        ("Wijk bij Duurstede", "wijk bij duurstede"),
        ("Amsterdam", "amsterdam"),
        ("  AMSTERDAM ", "amsterdam"),
        ("Ĳsselstein", "ijsselstein"),
        ("Bergen (NH)", "bergen nh"),
        ("", ""),
    ],
)
def test_normalise_city(raw: str, expected: str) -> None:
    assert normalise_city(raw) == expected


def test_city_aliases_map_into_their_own_key_space() -> None:
    for alias, official in CITY_ALIASES.items():
        assert normalise_city(alias) == official
        assert normalise_city(official) == official


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Den Bosch", "'s-Hertogenbosch", True),
        ("'S-HERTOGENBOSCH", "den bosch", True),
        ("Den Haag", "'s-Gravenhage", True),
        ("The Hague", "DEN HAAG", True),
        ("Amsterdam", "AMSTERDAM", True),
        ("Etten Leur", "Etten-Leur", True),
        ("Bergen (NH)", "Bergen", True),
        ("Bergen", "Bergen NH", True),
        ("Bergen NH", "Bergen (L)", False),
        ("Den Bosch", "Den Haag", False),
        ("Amsterdam", "Rotterdam", False),
        ("'s-Gravenzande", "'s-Gravenhage", False),
        ("", "Amsterdam", False),
        ("", "", False),
    ],
)
def test_same_city(a: str, b: str, expected: bool) -> None:
    assert same_city(a, b) is expected


# --------------------------------------------------------------------------
# postcodes


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234 ab", "1234AB"),
        ("1234AB", "1234AB"),
        (" 1234  AB ", "1234AB"),
        ("1234-ab", "1234AB"),
        ("1234\u00a0AB", "1234AB"),
        ("NL-1034 WL", "1034WL"),
        ("nl 1034wl", "1034WL"),
        ("9999 ZZ", "9999ZZ"),
        ("0123 AB", None),
        ("123 AB", None),
        ("12345 AB", None),
        ("1234 A", None),
        ("1234 ABC", None),
        ("1234 SS", None),
        ("1234 SA", None),
        ("1234 sd", None),
        ("ABCD 12", None),
        ("1234AB Amsterdam", None),
        ("B-1000", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_postcode_loose(raw: str | None, expected: str | None) -> None:
    assert normalise_postcode_loose(raw) == expected


# --------------------------------------------------------------------------
# address_key


@pytest.mark.parametrize(
    ("postcode", "number", "letter", "addition", "expected"),
    [
        ("1034 wl", 17, "m", None, "1034WL|17|M|"),
        ("1034WL", "17", None, None, "1034WL|17||"),
        ("1034WL", " 017 ", None, None, "1034WL|17||"),
        ("1034WL", "17M", None, None, "1034WL|17|M|"),
        ("1034WL", "17 M", None, None, "1034WL|17|M|"),
        ("1034WL", "17-M", None, None, "1034WL|17|M|"),
        ("1034WL", "12a", None, None, "1034WL|12|A|"),
        ("1034WL", "12A-3", None, None, "1034WL|12|A|3"),
        ("1034WL", "12 bis", None, None, "1034WL|12||BIS"),
        ("1034WL", "12-II", None, None, "1034WL|12||II"),
        ("1034WL", "12 hs", None, None, "1034WL|12||HS"),
        ("1034WL", "19p-8", None, None, "1034WL|19|P|8"),
        ("1034WL", "44d-G", None, None, "1034WL|44|D|G"),
        ("1034WL", "1-TRAF", None, None, "1034WL|1||TRAF"),
        ("1034WL", "3-0072", None, None, "1034WL|3||0072"),
        ("1034WL", 17, None, "-2", "1034WL|17||2"),
        ("1034WL", 17, None, "a / 2", "1034WL|17||A2"),
        ("1034WL", 17, "b", "bis", "1034WL|17|B|BIS"),
        ("1034WL", 99999, None, None, "1034WL|99999||"),
        # explicit parts win over the ones split from the text
        ("1034WL", "17 M", "n", None, "1034WL|17|N|"),
        ("1034WL", "17-2", None, "3", "1034WL|17||3"),
        ("1034WL", "17 M", "", "", "1034WL|17|M|"),
        # missing or invalid
        (None, 17, None, None, None),
        ("", 17, None, None, None),
        ("1034 W", 17, None, None, None),
        ("1034WL", None, None, None, None),
        ("1034WL", "", None, None, None),
        ("1034WL", 0, None, None, None),
        ("1034WL", -3, None, None, None),
        ("1034WL", 100000, None, None, None),
        ("1034WL", True, None, None, None),
        ("1034WL", "a17", None, None, None),
        ("1034WL", "17 achterhuis", None, None, None),
        ("1034WL", 17, "ab", None, None),
        ("1034WL", 17, None, "toolong", None),
    ],
)
def test_address_key(
    postcode: str | None,
    number: int | str | None,
    letter: str | None,
    addition: str | None,
    expected: str | None,
) -> None:
    assert address_key(postcode, number, letter, addition) == expected


def test_address_key_same_for_text_and_parts() -> None:
    assert address_key("1034 wl", "17-m") == address_key("1034WL", 17, "M")
    assert address_key("1034wl", "12A-3") == address_key("1034 WL", 12, "a", "3")


# --------------------------------------------------------------------------
# house_number_matches


@pytest.mark.parametrize(
    ("a_letter", "a_addition", "b_letter", "b_addition", "expected"),
    [
        # one side lacks letter and addition: fall back to postcode + number
        (None, None, None, None, True),
        ("A", None, None, None, True),
        (None, None, "A", "2", True),
        ("", " ", "B", None, True),
        # equal, case- and separator-insensitive
        ("A", None, "a", None, True),
        (None, "bis", None, "BIS", True),
        ("a", "-2", "A", "2", True),
        (None, "II", None, " ii ", True),
        # a part missing on one side is not compared
        ("A", "2", "A", None, True),
        ("A", None, "A", "2", True),
        (None, "2", "A", "2", True),
        # a letter stored as a toevoeging still matches
        ("A", None, None, "A", True),
        ("A", "1", None, "A1", True),
        # different
        ("A", None, "B", None, False),
        (None, "1", None, "2", False),
        ("A", "1", "A", "2", False),
        ("A", "1", "B", "1", False),
        ("A", None, None, "2", False),
        (None, "BIS", "B", None, False),
    ],
)
def test_house_number_matches(
    a_letter: str | None,
    a_addition: str | None,
    b_letter: str | None,
    b_addition: str | None,
    expected: bool,
) -> None:
    assert house_number_matches(a_letter, a_addition, b_letter, b_addition) is expected
    assert house_number_matches(b_letter, b_addition, a_letter, a_addition) is expected
