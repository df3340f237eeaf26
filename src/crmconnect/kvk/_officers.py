"""Officers (functionarissen) of a registration, read through a table of field names.

KvK's Functionarissen API (``GET /v1/functionarissen/kvknummer/{kvkNummer}``,
paid per call) gives the officers of a registration: directors, partners,
authorised representatives and others, and the owner of a sole
proprietorship (eenmanszaak). The Basisprofiel's ``eigenaar`` holds only the
owner's legal form and RSIN, never a name: the owner's name comes from here.

Its response schema is **not public** in any source we have (kvk/next-gen.md
§5). The field names are therefore data, `OFFICER_FIELDS`, each marked
``assumed``: the words follow KvK's own vocabulary for officers
(``typeFunctionaris``, ``functie``, ``functietitel``, ``geslachtsnaam``,
``voorvoegselGeslachtsnaam``, ``volledigeNaam``), the nesting and the lists
are guesses. Reading never fails on an unknown field: whatever the table does
not name is kept in ``unknown`` (per officer and per answer). When a live
answer shows other names, correct the table without a release:

```python
from crmconnect.kvk import OFFICER_FIELDS, KvKClient

fields = OFFICER_FIELDS.override({"last_name": "persoon.achternaam"})
kvk = KvKClient(api_key, officer_fields=fields)
```

or keep the corrections in a TOML file (`OfficerTable.override_from_toml`).
``crmconnect kvk inspect-officers KVK_NUMBER`` prints a live answer beside the
table. The KvK sandbox serves its officers through the same table.

Which officers become contact persons (`Organisation.contacts`) is a setting
too, `ContactFunctions`; PerfectView's choice (owners, directors, managers
and partners) is `PERFECTVIEW_CONTACT_FUNCTIONS`.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
from pydantic import BaseModel, ConfigDict, model_validator

from .. import validation
from .._answers import Answer
from .._redact import Redactor
from ..errors import APIError, ConfigurationError, NotFoundError
from ..mapping import PersonName, initials_of, parse_person_name
from ..models import Organisation, Person
from ._models import parse_kvk_date

if TYPE_CHECKING:
    from ._client import _Call

__all__ = [
    "CONTACTS_FIELD",
    "OFFICERS_PATH",
    "OFFICER_ATTRIBUTES",
    "OFFICER_FIELDS",
    "PERFECTVIEW_CONTACT_FUNCTIONS",
    "PREPROD_BASE_URL",
    "AsyncOfficers",
    "ContactFunctions",
    "Officer",
    "OfficerAnswer",
    "OfficerField",
    "OfficerList",
    "OfficerTable",
    "Officers",
    "apply_contact_changes",
    "apply_contact_update",
    "contact_changes",
    "describe_person",
    "field_at",
    "is_contact_field",
    "read_officers",
]

OFFICERS_PATH = "v1/functionarissen/kvknummer"
"""The Functionarissen path below the API root (documented; the KvK number follows)."""

PREPROD_BASE_URL = "https://api.preprod.kvk.nl/api"
"""KvK's test environment of its new APIs (Functionarissen among them), with the public
test key and its own fictional companies (42084128, 42422608, 42264003, 42024440); the
old test environment (``environment="test"``) does not serve Functionarissen."""

OFFICER_ATTRIBUTES: dict[str, str] = {
    "kind": "the type of officer (typeFunctionaris), e.g. Bestuursfunctie, Eigenaar",
    "function": "the function (functie), e.g. Bestuurder, Vennoot, Gevolmachtigde",
    "title": "the title where it differs from the function (functietitel), e.g. Directeur",
    "full_name": "the whole name in one text, split when no parts are given",
    "initials": "initials (voorletters)",
    "first_names": "first names (voornamen)",
    "infix": "infix (voorvoegsel geslachtsnaam), e.g. van der",
    "last_name": "last name without the infix (geslachtsnaam)",
    "legal_person_name": "the name of an officer that is itself a legal person",
    "start_date": "date of entry into the function",
    "end_date": "date the function ended",
    "authority": "the kind of authority (bevoegdheid)",
    "branch_number": "the branch an authorised representative acts for",
}
"""What an officer can hold, with what each means (the attributes a table names)."""

CONTACTS_FIELD = "contacts"
"""The name of the contact persons in an `UpdateReport`: ``accept=["contacts"]`` takes over
every officer who joined or left; one change is ``contacts:joined:<name>`` or
``contacts:left:<name>``."""

_MAX_DEPTH = 12
"""Levels of an officer object spelled out into ``unknown``; deeper ones are kept whole."""
_PATH = re.compile(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*")
_LINK_KEYS = frozenset({"links", "_links"})


# --- the table -------------------------------------------------------------------------


@attrs.frozen
class OfficerField:
    """One attribute of an officer and where an answer holds it.

    Attributes:
        attribute: One of `OFFICER_ATTRIBUTES`, e.g. ``"last_name"``.
        path: The field in an officer object, dotted for nesting, e.g.
            ``"persoon.geslachtsnaam"``.
        assumed: ``True`` while no public source or live answer confirms the name.
    """

    attribute: str
    path: str
    assumed: bool = True


def _fields(value: Iterable[OfficerField]) -> tuple[OfficerField, ...]:
    return tuple(value)


def _lists(value: Mapping[str, str | None]) -> tuple[tuple[str, str | None], ...]:
    return tuple((key, kind or None) for key, kind in value.items())


@attrs.frozen
class OfficerTable:
    """Where a Functionarissen answer keeps its officers and their fields.

    Attributes:
        lists: The answer's members that hold officers (a list of objects, or
            one object), each with the kind given to officers that name none
            (``None``: read it from the officer's ``kind``).
        kvk_number: The answer's member holding the KvK number it is about.
        fields: The officer fields.
        assumed: ``True`` while ``lists`` and ``kvk_number`` are guesses.
    """

    lists: tuple[tuple[str, str | None], ...] = attrs.field(converter=_lists)
    kvk_number: str
    fields: tuple[OfficerField, ...] = attrs.field(converter=_fields)
    assumed: bool = True

    def __attrs_post_init__(self) -> None:
        unknown = sorted({f.attribute for f in self.fields} - set(OFFICER_ATTRIBUTES))
        if unknown:
            known = ", ".join(OFFICER_ATTRIBUTES)
            raise ConfigurationError(
                f"officer fields: unknown attributes {unknown}; known: {known}"
            )
        for what, names in (
            ("attribute", [f.attribute for f in self.fields]),
            ("path", [f.path for f in self.fields]),
            ("list", [key for key, _ in self.lists]),
        ):
            twice = sorted({name for name in names if names.count(name) > 1})
            if twice:
                raise ConfigurationError(f"officer fields: {what} used twice: {', '.join(twice)}")
        for path in [f.path for f in self.fields] + [self.kvk_number]:
            if not _PATH.fullmatch(path):
                raise ConfigurationError(f"officer fields: {path!r} is not a dotted field name")
        if not self.lists or not all(_PATH.fullmatch(key) and "." not in key for key, _ in self):
            raise ConfigurationError("officer fields: lists must name top-level members")

    def __iter__(self) -> Iterator[tuple[str, str | None]]:
        return iter(self.lists)

    def path(self, attribute: str) -> str | None:
        """Where an attribute is read from; ``None`` when the table does not read it."""
        return next((f.path for f in self.fields if f.attribute == attribute), None)

    @property
    def assumed_fields(self) -> list[OfficerField]:
        """The fields whose name no public source or live answer confirms."""
        return [f for f in self.fields if f.assumed]

    def override(
        self,
        paths: Mapping[str, str] | None = None,
        *,
        lists: Mapping[str, str | None] | None = None,
        kvk_number: str | None = None,
    ) -> OfficerTable:
        """A copy with other names; an overridden name is no longer assumed.

        Args:
            paths: Attribute → dotted path; an attribute the table lacks is added.
            lists: Replaces the answer members that hold officers (member → kind
                for officers that name none, ``None`` or ``""`` to read their own).
            kvk_number: The answer member holding its KvK number.

        Raises:
            ConfigurationError: An unknown attribute, a name used twice, or a
                path that is not a dotted field name.
        """
        paths = dict(paths or {})
        fields = [
            OfficerField(f.attribute, paths.pop(f.attribute), assumed=False)
            if f.attribute in paths
            else f
            for f in self.fields
        ]
        fields += [OfficerField(name, path, assumed=False) for name, path in paths.items()]
        confirmed = lists is None and kvk_number is None
        return OfficerTable(
            lists=dict(self.lists) if lists is None else lists,
            kvk_number=kvk_number or self.kvk_number,
            fields=fields,
            assumed=self.assumed and confirmed,
        )

    def override_from_toml(self, path: str | Path) -> OfficerTable:
        """A copy with the names of a TOML file's ``[functionarissen]`` table.

        Example file::

            [functionarissen]
            last_name = "persoon.achternaam"
            kvk_number = "kvkNummer"

            [functionarissen.lists]   # optional: replaces the lists
            functionarissen = ""
            eigenaar = "Eigenaar"

        Raises:
            ConfigurationError: The file's table is not of this shape.
        """
        with open(path, "rb") as file:
            section = tomllib.load(file).get("functionarissen", {})
        lists = section.pop("lists", None) if isinstance(section, dict) else None
        if not _all_text(section) or (lists is not None and not _all_text(lists)):
            raise ConfigurationError(
                f"{path}: [functionarissen] must map attributes to field names"
            )
        kvk_number = section.pop("kvk_number", None)
        return self.override(section, lists=lists, kvk_number=kvk_number)


def _all_text(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _field(attribute: str, path: str) -> OfficerField:
    return OfficerField(attribute, path, assumed=True)


OFFICER_FIELDS = OfficerTable(
    # Assumed: one list of every officer, the owner of an eenmanszaak among them
    # (typeFunctionaris "Eigenaar"), or the owner apart as "eigenaar".
    lists={"functionarissen": None, "eigenaar": "Eigenaar"},
    kvk_number="kvkNummer",  # documented as the path parameter's name
    fields=[
        _field("kind", "typeFunctionaris"),
        _field("function", "functie"),
        _field("title", "functietitel"),
        _field("full_name", "persoon.volledigeNaam"),
        _field("initials", "persoon.voorletters"),
        _field("first_names", "persoon.voornamen"),
        _field("infix", "persoon.voorvoegselGeslachtsnaam"),
        _field("last_name", "persoon.geslachtsnaam"),
        _field("legal_person_name", "rechtspersoon.naam"),
        _field("start_date", "datumAanvang"),
        _field("end_date", "datumEinde"),
        _field("authority", "soortBevoegdheid"),
        _field("branch_number", "vestigingsnummer"),
    ],
)
"""The assumed field names of a Functionarissen answer (every one marked ``assumed``)."""


# --- reading an answer ------------------------------------------------------------------


class OfficerAnswer(BaseModel):
    """A Functionarissen answer as received: its JSON object, read later through a table."""

    model_config = ConfigDict(frozen=True)

    data: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _wrap(cls, value: Any) -> Any:
        return {"data": value}


@attrs.frozen
class Officer:
    """One officer as an answer gives it, read through an `OfficerTable`.

    Attributes:
        kind: The type of officer, e.g. ``"Bestuursfunctie"``, ``"Eigenaar"``.
        function: The function, e.g. ``"Bestuurder"``.
        title: The title, e.g. ``"Directeur"``.
        name: The person's name in parts (from the parts, or split from one text).
        legal_person_name: The name of an officer that is a legal person.
        start_date: Date of entry into the function, where given.
        end_date: Date the function ended, where given.
        authority: The kind of authority, e.g. ``"Alleen/zelfstandig bevoegd"``.
        branch_number: The branch of an authorised representative.
        unknown: Every field the table does not read, by dotted path (kept, never an error).
    """

    kind: str | None = None
    function: str | None = None
    title: str | None = None
    name: PersonName = attrs.field(factory=PersonName)
    legal_person_name: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    authority: str | None = None
    branch_number: str | None = None
    unknown: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def role(self) -> str | None:
        """What the officer is: the title, else the function, else the kind."""
        return self.title or self.function or self.kind

    @property
    def is_legal_person(self) -> bool:
        """Whether the officer is an organisation rather than a natural person."""
        return self.name.last_name is None and self.legal_person_name is not None

    def is_current(self, on: dt.date | None = None) -> bool:
        """Whether the officer holds the function on a day (today by default)."""
        return self.end_date is None or self.end_date > (on or dt.date.today())

    def person(self) -> Person | None:
        """The officer as a `Person`; ``None`` without a name.

        ``role`` holds the function and ``start_date`` the date of entry, where given.
        """
        name = self.name
        if name.last_name is None and self.legal_person_name:
            name = PersonName(last_name=self.legal_person_name)
        if name.last_name is None:
            return None
        return Person(
            initials=name.initials,
            first_name=name.first_name,
            infix=name.infix,
            last_name=name.last_name,
            role=self.role,
            start_date=self.start_date,
        )


@attrs.frozen
class OfficerList:
    """Every officer of one answer, and what the table did not read.

    Attributes:
        kvk_number: The KvK number the answer is about (``None`` when it does not say).
        officers: The officers, in the answer's order.
        unknown: The answer's members the table does not read.
        raw: The answer as received.
    """

    kvk_number: str | None
    officers: tuple[Officer, ...]
    unknown: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    def persons(self, *, current: bool = True, on: dt.date | None = None) -> list[Person]:
        """The named officers as `Person`s; by default only those holding office today."""
        chosen = [o for o in self.officers if not current or o.is_current(on)]
        return [p for p in (o.person() for o in chosen) if p is not None]


def read_officers(data: Mapping[str, Any], table: OfficerTable = OFFICER_FIELDS) -> OfficerList:
    """Read a Functionarissen answer through a table (pure; never fails on unknown fields).

    A member the table names that holds something else than officer objects,
    and a value of the wrong kind for its field, are kept in ``unknown`` too.

    Example:
        >>> answer = {"kvkNummer": "68750110", "functionarissen": [{"functie": "Bestuurder",
        ...     "persoon": {"volledigeNaam": "J.P. van der Berg"}, "datumAanvang": "20150301"}]}
        >>> officer = read_officers(answer).officers[0]
        >>> officer.name.infix, officer.name.last_name, officer.start_date
        ('van der', 'Berg', datetime.date(2015, 3, 1))
    """
    officers: list[Officer] = []
    unknown: dict[str, Any] = {}
    for key, kind in table:
        value = data.get(key)
        items = value if isinstance(value, list) else [] if value is None else [value]
        for index, item in enumerate(items):
            if isinstance(item, dict):
                officers.append(_officer(item, table, kind))
            else:
                unknown[f"{key}[{index}]"] = item
    top = table.kvk_number.split(".")[0]
    listed = {key for key, _ in table}
    for key, value in data.items():
        if key not in listed and key != top and key not in _LINK_KEYS:
            unknown[key] = value
    kvk = field_at(data, table.kvk_number)
    return OfficerList(
        kvk_number=str(kvk) if isinstance(kvk, str | int) and not isinstance(kvk, bool) else None,
        officers=tuple(officers),
        unknown=unknown,
        raw=dict(data),
    )


def _officer(item: dict[str, Any], table: OfficerTable, default_kind: str | None) -> Officer:
    values: dict[str, Any] = {}
    used: set[str] = set()
    for spec in table.fields:
        raw = field_at(item, spec.path)
        value = _date(raw) if spec.attribute.endswith("_date") else _text(raw)
        if value is not None:
            values[spec.attribute] = value
            used.add(spec.path)
    leaves = _flatten(item)
    unknown = {path: v for path, v in leaves.items() if path not in used}
    return Officer(
        kind=values.get("kind") or default_kind,
        function=values.get("function"),
        title=values.get("title"),
        name=_name(values),
        legal_person_name=values.get("legal_person_name"),
        start_date=values.get("start_date"),
        end_date=values.get("end_date"),
        authority=values.get("authority"),
        branch_number=values.get("branch_number"),
        unknown=unknown,
    )


def _name(values: Mapping[str, Any]) -> PersonName:
    """The parts where the answer gives them; else its one name, split the Dutch way."""
    last, first = values.get("last_name"), values.get("first_names")
    if last:
        initials = values.get("initials") or initials_of(first)
        return PersonName(initials, first, values.get("infix"), last)
    if values.get("full_name"):
        return parse_person_name(values["full_name"])
    return PersonName()


def field_at(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of an answer's object; ``None`` where there is none."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = " ".join(str(value).split())
    return text or None


def _date(value: Any) -> dt.date | None:
    # Assumed: KvK's YYYYMMDD (00 for unknown parts) as in its other APIs; ISO dates are read too.
    text = _text(value)
    if text is None:
        return None
    try:
        if re.fullmatch(r"[0-9]{8}", text):
            return parse_kvk_date(text)
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None  # kept in unknown


def _flatten(item: Mapping[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    leaves: dict[str, Any] = {}
    for key, value in item.items():
        if key in _LINK_KEYS:
            continue
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and depth < _MAX_DEPTH:
            leaves.update(_flatten(value, path + ".", depth + 1))
        else:
            leaves[path] = value
    return leaves


# --- which officers are contact persons ----------------------------------------------------


def _words(text: str | None) -> tuple[str, ...]:
    return tuple(re.findall(r"[^\W\d_]+", (text or "").casefold()))


def _function_names(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    names = tuple(" ".join(_words(name)) for name in value)
    if any(not name for name in names):
        raise ConfigurationError("contact functions: every function needs a word")
    return names


@attrs.frozen
class ContactFunctions:
    """Which officers become contact persons, by the words of their function.

    A name counts when its words appear, in order, in the officer's kind,
    function or title, whatever the case: ``"bestuurder"`` takes "Bestuurder"
    and "Statutair bestuurder", ``"directeur"`` takes "Algemeen directeur".

    Attributes:
        names: The functions, e.g. ``("eigenaar", "bestuurder", "directeur")``.
        legal_persons: Also officers that are legal persons (a holding as director).

    Example:
        >>> ContactFunctions(["bestuurder"]).counts_role("Statutair bestuurder")
        True
    """

    names: tuple[str, ...] = attrs.field(converter=_function_names)
    legal_persons: bool = False

    def counts_role(self, *texts: str | None) -> bool:
        """Whether one of the texts (a role, a function, a kind) names a counted function."""
        for text in texts:
            words = _words(text)
            for name in self.names:
                wanted = tuple(name.split())
                if any(words[i : i + len(wanted)] == wanted for i in range(len(words))):
                    return True
        return False

    def counts(self, officer: Officer) -> bool:
        """Whether an officer is a contact person by this setting."""
        if officer.is_legal_person and not self.legal_persons:
            return False
        return self.counts_role(officer.kind, officer.function, officer.title)

    def contacts(self, officers: OfficerList, *, on: dt.date | None = None) -> list[Person]:
        """The current officers that count, as `Person`s."""
        chosen = [o for o in officers.officers if o.is_current(on) and self.counts(o)]
        return [p for p in (o.person() for o in chosen) if p is not None]

    @classmethod
    def from_toml(cls, path: str | Path) -> ContactFunctions:
        """The setting in a TOML file's ``[contacts]`` table.

        Example file::

            [contacts]
            functions = ["eigenaar", "bestuurder", "directeur"]
            legal_persons = false

        Raises:
            ConfigurationError: The table is missing or not of this shape.
        """
        with open(path, "rb") as file:
            section = tomllib.load(file).get("contacts")
        functions = section.get("functions") if isinstance(section, dict) else None
        legal = section.get("legal_persons", False) if isinstance(section, dict) else False
        if not isinstance(functions, list) or not isinstance(legal, bool):
            raise ConfigurationError(f"{path}: [contacts] needs functions = [...]")
        return cls(functions, legal_persons=legal)


PERFECTVIEW_CONTACT_FUNCTIONS = ContactFunctions(
    ["eigenaar", "bestuurder", "directeur", "bedrijfsleider", "manager", "vennoot", "maat"]
)
"""PerfectView's contact persons: owners, directors and managers, and the partners of a
partnership (vennoot, maat); not supervisors, liquidators or other representatives."""


# --- contact persons in the update service -------------------------------------------------


def describe_person(person: Person) -> str:
    """A person on one line: ``"J.P. van der Berg (Bestuurder)"``, ``", left"`` when inactive."""
    name = " ".join(p for p in (person.initials or person.first_name, person.infix) if p)
    name = " ".join(p for p in (name, person.last_name) if p)
    text = f"{name} ({person.role})" if person.role else name
    return text if person.active else f"{text}, left"


def is_contact_field(name: str) -> bool:
    """Whether an accepted name is about contact persons (``contacts`` or one change)."""
    return name == CONTACTS_FIELD or name.startswith(CONTACTS_FIELD + ":")


def _initial_letters(person: Person) -> str:
    source = person.initials or initials_of(person.first_name) or ""
    return "".join(ch for ch in source.upper() if ch.isalpha())


def _fold(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def _first_names_agree(one: Person, other: Person) -> bool:
    """Unknown first names agree; known ones when one's names start the other's.

    ``Jan`` agrees with ``Jan Pieter`` (a CRM often keeps only the first of
    the register's names); ``Jan`` and ``Joost`` are two people.
    """
    mine, theirs = _fold(one.first_name).split(), _fold(other.first_name).split()
    shorter = min(len(mine), len(theirs))
    return mine[:shorter] == theirs[:shorter]


def _same_person(one: Person, other: Person) -> bool:
    """Same last name and infix (any case), initials and first names not contradicting.

    Father and son (``J. Jansen``: Jan and Joost) share surname, infix and
    initials: when both first names are known and differ, they are two people.
    """
    if (_fold(one.last_name), _fold(one.infix)) != (_fold(other.last_name), _fold(other.infix)):
        return False
    if not _first_names_agree(one, other):
        return False
    mine, theirs = _initial_letters(one), _initial_letters(other)
    return not mine or not theirs or mine.startswith(theirs) or theirs.startswith(mine)


def contact_changes(
    crm: Sequence[Person], register: Sequence[Person], functions: ContactFunctions
) -> list[tuple[str, str, Person | None, Person | None]]:
    """Officers who joined or left: ``(field, label, crm_value, register_value)`` each.

    Joined: a counted officer no active CRM contact matches (by last name,
    infix, initials and, when both are known, first names); the register's
    value is the officer. Left: an active CRM contact whose role counts and
    whom no counted officer matches; the register's value is that contact
    made inactive. Two changes that would share a field (father and son,
    both ``J. Jansen``) name the first names instead of the initials. Contacts with other roles
    (or none) are the CRM's own and never proposed for removal.
    """
    active = [p for p in crm if p.active]
    found: list[tuple[str, str, Person | None, Person | None]] = []
    for person in register:
        if not any(_same_person(person, mine) for mine in active):
            found.append(("joined", "Contact joined", None, person))
    for mine in active:
        counted = functions.counts_role(mine.role)
        if counted and not any(_same_person(mine, person) for person in register):
            found.append(("left", "Contact left", mine, mine.model_copy(update={"active": False})))
    return _named(found)


def _named(
    found: list[tuple[str, str, Person | None, Person | None]],
) -> list[tuple[str, str, Person | None, Person | None]]:
    """Each change's field; two that would share one (father and son) name first names."""

    def field(what: str, person: Person, full: bool) -> str:
        shown = person.model_copy(update={"initials": None}) if full else person
        return f"{CONTACTS_FIELD}:{what}:{describe_person(shown)}"

    people = [p for _, _, old, new in found for p in (old or new,) if p is not None]
    short = [field(what, p, False) for (what, *_), p in zip(found, people, strict=True)]
    return [
        (field(what, p, short.count(name) > 1 and bool(p.first_name)), label, old, new)
        for (what, label, old, new), p, name in zip(found, people, short, strict=True)
    ]


def apply_contact_changes(
    contacts: Sequence[Person],
    changes: Iterable[tuple[str, Person | None, Person | None]],
    accepted: Iterable[str],
) -> list[Person]:
    """The contacts with the accepted changes made: a joined officer added, one who left inactive.

    Args:
        contacts: The CRM's contact persons.
        changes: ``(field, crm_value, register_value)`` of each contact change.
        accepted: Names accepted: ``"contacts"`` (every change) or single change fields.
    """
    wanted = set(accepted)
    result = list(contacts)
    for field, _crm_person, register_person in changes:
        if register_person is None or (CONTACTS_FIELD not in wanted and field not in wanted):
            continue
        if register_person.active:
            result = _joined(result, register_person)
        else:
            result = [
                p.model_copy(update={"active": False})
                if p.active and _same_person(p, register_person)
                else p
                for p in result
            ]
    return result


def apply_contact_update(org: Organisation, field: str, kvk_value: object) -> Organisation:
    """A copy of ``org`` with one accepted contact change, as the KvK flow stored it.

    Args:
        org: The host's organisation.
        field: The change's field, e.g. ``"contacts:joined:J. Jansen (Bestuurder)"``.
        kvk_value: The register's value: a `Person`, or its JSON form as a host stored it.

    Raises:
        ValidationError: The value is not a person.
    """
    person = kvk_value if isinstance(kvk_value, Person) else Person.model_validate(kvk_value)
    contacts = apply_contact_changes(org.contacts, [(field, None, person)], [field])
    return org.model_copy(update={"contacts": contacts})


def _joined(contacts: list[Person], person: Person) -> list[Person]:
    """Add an officer, or make a matching contact who left active again in the new function."""
    for index, mine in enumerate(contacts):
        if not mine.active and _same_person(mine, person):
            update = {"active": True, "role": person.role, "start_date": person.start_date}
            return [*contacts[:index], mine.model_copy(update=update), *contacts[index + 1 :]]
    return [*contacts, person]


# --- the clients' officer calls ----------------------------------------------------------

_M = TypeVar("_M", bound=BaseModel)


def _officers_call(kvk_number: str | int, root: str | None) -> _Call[OfficerAnswer]:
    """The officers' GET; below ``root`` (a full URL: preprod for the test environment)."""
    from ._client import _Call  # here, not at the top: _client imports this module

    kvk = validation.kvk_number(kvk_number)
    path = f"{OFFICERS_PATH}/{kvk}"
    return _Call(f"{root.rstrip('/')}/{path}" if root else path, [], OfficerAnswer, True)


def _checked(answer: OfficerAnswer, table: OfficerTable, kvk: str, redact: Redactor) -> OfficerList:
    officers = read_officers(answer.data, table)
    if officers.kvk_number is not None and officers.kvk_number != kvk:
        body = repr(answer.data)[:400]
        reason = f"kvk_number is {officers.kvk_number!r}, asked for {kvk!r}"
        Answer("kvk", 200, body, redact).fail(reason)
    return officers


def _contacts_error(exc: NotFoundError, kvk: str) -> APIError:
    # The Basisprofiel was just delivered, so "not found" here is no removal: an update
    # check must report it failed, not report the registration removed.
    return APIError(
        f"kvk: Functionarissen could not deliver the officers of {kvk}, whose profile exists "
        "(is the Functionarissen API part of your subscription?)",
        service="kvk",
        status_code=exc.status_code,
        code=exc.code,
        remote_message=exc.remote_message,
    )


class _OfficerSettings:
    """The officer settings both clients share."""

    officer_fields: OfficerTable = OFFICER_FIELDS
    """The field names a Functionarissen answer is read with."""
    contact_functions: ContactFunctions | None = None
    """Which officers `organisation` adds to ``contacts``; ``None`` fetches no officers."""
    _officers_root: str | None = None
    """Where Functionarissen is asked when not below ``base_url`` (`PREPROD_BASE_URL`)."""

    if TYPE_CHECKING:
        _redact: Redactor

    def _setup_officers(
        self,
        officer_fields: OfficerTable | None,
        contact_functions: ContactFunctions | Iterable[str] | None,
    ) -> None:
        if officer_fields is not None:
            if not isinstance(officer_fields, OfficerTable):
                raise ConfigurationError("officer_fields must be an OfficerTable")
            self.officer_fields = officer_fields
        if contact_functions is not None and not isinstance(contact_functions, ContactFunctions):
            contact_functions = ContactFunctions(contact_functions)
        self.contact_functions = contact_functions


class Officers(_OfficerSettings):
    """The Functionarissen calls of `KvKClient`."""

    if TYPE_CHECKING:

        def _run(
            self, call: _Call[_M], *, fresh: bool = False, since: float | None = None
        ) -> _M: ...

    def officers(self, kvk_number: str | int, *, fresh: bool = False) -> list[Person]:
        """The officers holding office today, as `Person`s (Functionarissen, paid, cached).

        ``role`` holds the function (the title where KvK gives one). Officers
        without a name are left out; `officer_list` has every officer with its
        dates and the fields the table does not read.

        Raises:
            ValidationError: The number is not 8 digits; nothing was sent.
            NotFoundError: KvK cannot deliver officers for the number.
        """
        return self.officer_list(kvk_number, fresh=fresh).persons()

    def officer_list(self, kvk_number: str | int, *, fresh: bool = False) -> OfficerList:
        """Every officer of a registration, read through ``officer_fields`` (paid, cached)."""
        return self._officer_list(kvk_number, fresh=fresh)

    def _officer_list(
        self, kvk_number: str | int, *, fresh: bool = False, since: float | None = None
    ) -> OfficerList:
        call = _officers_call(kvk_number, self._officers_root)
        answer = self._run(call, fresh=fresh, since=since)
        return _checked(answer, self.officer_fields, call.path.rsplit("/")[-1], self._redact)

    def _with_contacts(
        self, org: Organisation, *, fresh: bool = False, since: float | None = None
    ) -> Organisation:
        """``org`` with the counted officers as ``contacts`` (unchanged without the setting)."""
        functions = self.contact_functions
        if functions is None or not org.kvk_number:
            return org
        try:
            officers = self._officer_list(org.kvk_number, fresh=fresh, since=since)
        except NotFoundError as exc:
            raise self._redact.scrub(_contacts_error(exc, org.kvk_number)) from None
        return org.model_copy(update={"contacts": functions.contacts(officers)})


class AsyncOfficers(_OfficerSettings):
    """The Functionarissen calls of `AsyncKvKClient` (see `Officers`)."""

    if TYPE_CHECKING:

        async def _run(self, call: _Call[_M], *, fresh: bool = False) -> _M: ...

    async def officers(self, kvk_number: str | int, *, fresh: bool = False) -> list[Person]:
        """The officers holding office today (see `KvKClient.officers`)."""
        return (await self.officer_list(kvk_number, fresh=fresh)).persons()

    async def officer_list(self, kvk_number: str | int, *, fresh: bool = False) -> OfficerList:
        """Every officer of a registration (see `KvKClient.officer_list`)."""
        call = _officers_call(kvk_number, self._officers_root)
        answer = await self._run(call, fresh=fresh)
        return _checked(answer, self.officer_fields, call.path.rsplit("/")[-1], self._redact)

    async def _with_contacts(self, org: Organisation, *, fresh: bool = False) -> Organisation:
        functions = self.contact_functions
        if functions is None or not org.kvk_number:
            return org
        try:
            officers = await self.officer_list(org.kvk_number, fresh=fresh)
        except NotFoundError as exc:
            raise self._redact.scrub(_contacts_error(exc, org.kvk_number)) from None
        return org.model_copy(update={"contacts": functions.contacts(officers)})
