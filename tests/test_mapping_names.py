"""Person names and street lines: written in a style, and one remote text split back into parts."""

from __future__ import annotations

import pytest

from crmconnect.mapping import (
    NameStyle,
    PersonName,
    StreetParts,
    format_person_name,
    format_street_line,
    initials_of,
    parse_person_name,
    parse_street_line,
)
from crmconnect.mapping._names import TUSSENVOEGSELS
from crmconnect.models import Person

# --------------------------------------------------------------------------
# Parsing one name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Berg", PersonName(last_name="Berg")),
        ("J.P. van der Berg", PersonName("J.P.", None, "van der", "Berg")),
        ("J. P. van der Berg", PersonName("J.P.", None, "van der", "Berg")),
        ("J P de Vries", PersonName("J.P.", None, "de", "Vries")),
        ("Jan Pieter van der Berg", PersonName("J.P.", "Jan Pieter", "van der", "Berg")),
        ("Jan Jansen", PersonName("J.", "Jan", None, "Jansen")),
        ("Van der Sluis", PersonName(None, None, "van der", "Sluis")),
        ("van der Sluis", PersonName(None, None, "van der", "Sluis")),
        ("'t Hart", PersonName(None, None, "'t", "Hart")),
        ("Meneer ’t Hart".removeprefix("Meneer "), PersonName(None, None, "'t", "Hart")),
        ("Kees in 't Veld", PersonName("K.", "Kees", "in 't", "Veld")),
        ("Anna ter Horst", PersonName("A.", "Anna", "ter", "Horst")),
        ("Piet den Uyl", PersonName("P.", "Piet", "den", "Uyl")),
        ("Rik van 't Hof", PersonName("R.", "Rik", "van 't", "Hof")),
        ("Ester van der Ven-van Dijk", PersonName("E.", "Ester", "van der", "Ven-van Dijk")),
        ("IJ. de Boer", PersonName("IJ.", None, "de", "Boer")),
        ("Th. van Dam", PersonName("Th.", None, "van", "Dam")),
        ("IJsbrand de Boer", PersonName("IJ.", "IJsbrand", "de", "Boer")),
        ("Anne-Marie d'Ancona", PersonName("A.M.", "Anne-Marie", "d'", "Ancona")),
        ("d'Ancona", PersonName(None, None, "d'", "Ancona")),
        ("Berg, J.P. van der", PersonName("J.P.", None, "van der", "Berg")),
        ("Jansen, Jan", PersonName("J.", "Jan", None, "Jansen")),
        ("Sluis, van der", PersonName(None, None, "van der", "Sluis")),
        ("van der Berg, J.P.", PersonName("J.P.", None, "van der", "Berg")),
        ("Van der Berg, Jan", PersonName("J.", "Jan", "van der", "Berg")),
        ("JAN DE VRIES", PersonName("J.", "JAN", "DE", "VRIES")),
        ("J. VAN DER BERG", PersonName("J.", None, "VAN DER", "BERG")),
        ("  Jan   van  Dijk ", PersonName("J.", "Jan", "van", "Dijk")),
        ("Chloé Müller", PersonName("C.", "Chloé", None, "Müller")),
    ],
)
def test_a_single_name_is_split_into_initials_infix_and_last_name(
    text: str, expected: PersonName
) -> None:
    assert parse_person_name(text) == expected


def test_a_capitalised_infix_after_a_first_name_is_belgian_and_stays_in_the_last_name() -> None:
    assert parse_person_name("Patsy Van der Meeren") == PersonName(
        "P.", "Patsy", None, "Van der Meeren"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Dr. J. Jansen",  # a title: nowhere to put it, so nothing is dropped
        "Bakkerij Jansen & Zn.",
        "Jan van",  # an infix with no last name after it
        "Jansen 2",
        "J. Pieter Jansen",  # initials and a first name mixed
        "Berg, J.P., van der",
        "Jansen, Dr.",
    ],
)
def test_what_cannot_be_split_is_kept_whole_as_the_last_name(text: str) -> None:
    assert parse_person_name(text) == PersonName(last_name=text)


@pytest.mark.parametrize("text", [None, "", "   "])
def test_an_empty_name_has_no_parts(text: str | None) -> None:
    assert parse_person_name(text) == PersonName()


def test_every_tussenvoegsel_is_found_before_a_last_name() -> None:
    for infix in TUSSENVOEGSELS:
        assert parse_person_name(f"Jan {infix} Berg") == PersonName("J.", "Jan", infix, "Berg")


def test_the_longest_infix_wins() -> None:
    assert parse_person_name("Jan van den Berg").infix == "van den"
    assert parse_person_name("Jan van de Berg").infix == "van de"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Marie-José de la Fuente", PersonName("M.J.", "Marie-José", "de la", "Fuente")),
        ("De la Fuente", PersonName(None, None, "de la", "Fuente")),
        ("Kees in 't Veld", PersonName("K.", "Kees", "in 't", "Veld")),
        ("Piet op de Beek", PersonName("P.", "Piet", "op de", "Beek")),
        ("Anna uit de Bos", PersonName("A.", "Anna", "uit de", "Bos")),
        ("Jan uit te de Wiel", PersonName("J.", "Jan", "uit te de", "Wiel")),
        ("Pieter van van de Velde", PersonName("P.", "Pieter", "van van de", "Velde")),
        ("Henk de l'Isle", PersonName("H.", "Henk", "de l'", "Isle")),
        ("Joost van der Heijden", PersonName("J.", "Joost", "van der", "Heijden")),
        ("Anna ten Cate", PersonName("A.", "Anna", "ten", "Cate")),
        ("Joost ter Horst", PersonName("J.", "Joost", "ter", "Horst")),
        ("'s Gravesande", PersonName(None, None, "'s", "Gravesande")),
        ("Mohammed bin Salman", PersonName("M.", "Mohammed", "bin", "Salman")),
    ],
)
def test_the_brp_voorvoegsels_are_infixes_multi_word_ones_too(
    text: str, expected: PersonName
) -> None:
    assert parse_person_name(text) == expected
    assert format_person_name(parse_person_name(text)) == text


@pytest.mark.parametrize(
    ("text", "first_name", "infix", "last_name"),
    [
        ("Ben de Vries", "Ben", "de", "Vries"),
        ("Al Pacino", "Al", None, "Pacino"),
        ("Les Jansen", "Les", None, "Jansen"),
    ],
)
def test_a_first_name_that_is_also_an_infix_is_a_first_name_when_capitalised(
    text: str, first_name: str, infix: str | None, last_name: str
) -> None:
    name = parse_person_name(text)
    assert (name.first_name, name.infix, name.last_name) == (first_name, infix, last_name)


def test_the_common_multi_word_infixes_are_known_longest_first() -> None:
    wanted = {"van de", "van der", "van den", "van het", "de la", "in 't", "op de", "uit de"}
    assert wanted | {"ten", "ter"} <= set(TUSSENVOEGSELS)
    words = [len(infix.split()) for infix in TUSSENVOEGSELS]
    assert words == sorted(words, reverse=True)  # longest first


# --------------------------------------------------------------------------
# Writing a name in a style

JAN = Person(initials="J.P.", first_name="Jan Pieter", infix="van der", last_name="Berg")


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (NameStyle.FULL_NAME, "Jan Pieter van der Berg"),
        (NameStyle.INITIALS, "J.P. van der Berg"),
        (NameStyle.LAST_NAME, "Van der Berg"),
    ],
)
def test_a_name_is_written_in_the_chosen_style(style: NameStyle, expected: str) -> None:
    assert format_person_name(JAN, style) == expected


def test_the_full_name_falls_back_to_initials_and_initials_come_from_first_names() -> None:
    assert format_person_name(Person(initials="J.", last_name="Berg")) == "J. Berg"
    only_first = Person(first_name="Anne-Marie Ilse", last_name="Smit")
    assert format_person_name(only_first, NameStyle.INITIALS) == "A.M.I. Smit"


def test_t_and_d_apostrophe_stay_lower_case_when_nothing_precedes() -> None:
    assert format_person_name(PersonName(infix="'t", last_name="Hart")) == "'t Hart"
    assert format_person_name(PersonName(infix="d'", last_name="Ancona")) == "d'Ancona"
    assert format_person_name(PersonName("H.", None, "d'", "Ancona")) == "H. d'Ancona"


def test_a_hosts_capitalised_infix_is_kept_after_a_first_name() -> None:
    belgian = PersonName(first_name="Patsy", infix="Van der", last_name="Meeren")
    assert format_person_name(belgian) == "Patsy Van der Meeren"


@pytest.mark.parametrize(
    ("first_names", "initials"),
    [("Jan Pieter", "J.P."), ("IJsbrand", "IJ."), ("anne-marie", "A.M."), (None, None), ("", None)],
)
def test_initials_of_first_names(first_names: str | None, initials: str | None) -> None:
    assert initials_of(first_names) == initials


@pytest.mark.parametrize(
    "name",
    [
        JAN,
        Person(last_name="Berg"),
        Person(infix="van der", last_name="Berg"),
        Person(initials="IJ.", infix="'t", last_name="Hart"),
        Person(first_name="Ester", infix="van der", last_name="Ven-van Dijk"),
        Person(first_name="Patsy", last_name="Van der Meeren"),
        Person(last_name="Dr. J. Jansen"),
        Person(initials="H.", infix="d'", last_name="Ancona"),
        Person(first_name="JAN", infix="DE", last_name="VRIES"),
    ],
)
@pytest.mark.parametrize("style", list(NameStyle))
def test_a_written_name_reads_back_to_the_same_text(name: Person, style: NameStyle) -> None:
    # No echo: what the CRM wrote, read back and written again, is the same text.
    written = format_person_name(name, style)
    assert format_person_name(parse_person_name(written), style) == written


# --------------------------------------------------------------------------
# Street lines


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Haagweg 4G5", StreetParts("Haagweg", 4, "G", "5")),
        ("Haagweg 4G-5", StreetParts("Haagweg", 4, "G", "5")),
        ("Kerkstraat 12", StreetParts("Kerkstraat", 12)),
        ("Kerkstraat 12a", StreetParts("Kerkstraat", 12, "a")),
        ("Kerkstraat 12 A", StreetParts("Kerkstraat", 12, "A")),
        ("Kerkstraat 12A-3", StreetParts("Kerkstraat", 12, "A", "3")),
        ("Kerkstraat 12-hs", StreetParts("Kerkstraat", 12, None, "hs")),
        ("Kerkstraat 12 hs", StreetParts("Kerkstraat", 12, None, "hs")),
        ("Kerkstraat 12 bis", StreetParts("Kerkstraat", 12, None, "bis")),
        ("Kerkstraat 12-II", StreetParts("Kerkstraat", 12, None, "II")),
        ("Laan 1940-1945 7", StreetParts("Laan 1940-1945", 7)),
        ("Abebe Bikilalaan 17 M", StreetParts("Abebe Bikilalaan", 17, "M")),
        ("Postbus 216", StreetParts(po_box=216)),
        ("postbus  216", StreetParts(po_box=216)),
        ("Kerkstraat", StreetParts("Kerkstraat")),
        ("Kerkstraat 12 derde etage", StreetParts("Kerkstraat 12 derde etage")),
        ("Kerkstraat 0", StreetParts("Kerkstraat 0")),
        ("Kerkstraat 123456", StreetParts("Kerkstraat 123456")),
    ],
)
def test_a_street_line_is_split_as_dutch_registers_split_it(
    line: str, expected: StreetParts
) -> None:
    assert parse_street_line(line) == expected


@pytest.mark.parametrize(
    ("parts", "line"),
    [
        (StreetParts("Haagweg", 4, "G", "5"), "Haagweg 4G-5"),
        (StreetParts("Kerkstraat", 12, None, "hs"), "Kerkstraat 12-hs"),
        (StreetParts("Kerkstraat", 12), "Kerkstraat 12"),
        (StreetParts("Kerkstraat", 12, "A"), "Kerkstraat 12A"),
        (StreetParts("Kerkstraat", 12, "A", po_box=216), "Postbus 216"),
        (StreetParts("Kerkstraat"), "Kerkstraat"),
        (StreetParts(), ""),
    ],
)
def test_street_parts_are_written_on_one_line_and_read_back_the_same(
    parts: StreetParts, line: str
) -> None:
    assert format_street_line(parts) == line
    assert format_street_line(parse_street_line(line)) == line
