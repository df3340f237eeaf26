"""How relations map to one bookkeeping service: two field tables and the seeds' rules.

A `RelationMapping` holds the organisation and person tables of one remote
relation type, and the rules that are not per field: which kind of party a
relation that arrives from the service becomes, with which relation type,
which number range is a debtor and which a creditor, and how a person's name
is written. The defaults for DigitaleFactuur and e-Boekhouden ship as TOML
data in ``crmconnect/mapping/tables/``.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from importlib import resources
from itertools import pairwise
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import ValidationError
from ..models import Organisation, Person, RelationType
from ._fields import FieldTable, PartyKind, enum_value, read_toml, toml_text
from ._names import NameStyle

if TYPE_CHECKING:
    from ..sync._protocols import Role

__all__ = ["DIGITALEFACTUUR_RELATIONS", "EBOEKHOUDEN_RELATIONS", "RelationMapping"]

_TOP_KEYS = frozenset(
    {
        "service",
        "remote_fields",
        "name_style",
        "inbound_kind",
        "relation_type",
        "number_ranges",
        "organisation",
        "person",
    }
)


_ROLES = ("debtor", "creditor")
"""The values of `crmconnect.sync.Role` (a test keeps them equal).

Not imported from there when this module loads: `crmconnect.sync` may import
this package, and the default mappings are built at import.
"""


def _roles() -> type[Role]:
    from ..sync._protocols import Role

    return Role


def _per_role(values: object, field: str, convert: Any) -> dict[str, Any]:
    """Role value → converted value; keyed by the plain value, which equals the `Role`."""
    if not isinstance(values, Mapping):
        raise ValidationError(field, values, "must map 'debtor' and 'creditor' to values")
    converted = {}
    for role, value in values.items():
        if role not in _ROLES:
            raise ValidationError(field, role, "not a role ('debtor' or 'creditor')")
        converted[str(role)] = convert(value, f"{field}.{role}")
    return converted


def _as_roles(values: dict[str, Any]) -> Mapping[Role, Any]:
    role = _roles()
    return MappingProxyType({role(name): value for name, value in values.items()})


def _party_kind(value: object, field: str) -> PartyKind:
    return enum_value(PartyKind, value, field)


def _relation_type(value: object, field: str) -> RelationType:
    return enum_value(RelationType, value, field)


def _number_range(value: object, field: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(end, int) and not isinstance(end, bool) and end >= 0 for end in value)
        and value[0] <= value[1]
    ):
        return (value[0], value[1])
    raise ValidationError(
        field, value, "must be [lowest, highest], two whole numbers, lowest first"
    )


def _table(kind: PartyKind) -> Any:
    def check(mapping: object, attribute: attrs.Attribute[FieldTable], table: object) -> None:
        if not isinstance(table, FieldTable) or table.party_kind is not kind:
            reason = f"must be a FieldTable of party_kind {kind.value}"
            raise ValidationError(attribute.name, table, reason)

    return check


def _inbound_kinds(values: object) -> dict[str, PartyKind]:
    return _per_role(values, "inbound_kind", _party_kind)


def _relation_types(values: object) -> dict[str, RelationType]:
    return _per_role(values, "relation_type", _relation_type)


def _ranges_per_role(values: object) -> dict[str, tuple[int, int] | None]:
    return _per_role(values, "number_ranges", _number_range)


def _name_style(value: object) -> NameStyle:
    return enum_value(NameStyle, value, "name_style")


@attrs.frozen
class RelationMapping:
    """The mapping of one service's relations: field tables per party kind and the seeds' rules.

    Frozen; ``attrs.evolve(mapping, name_style="initials")`` gives a changed copy.

    Args:
        organisation: The table for organisations.
        person: The table for persons.
        inbound_kind: Per role, the kind of party a relation arriving from the
            service becomes in the CRM.
        relation_type: Per role, the relation type given to a party created
            from the service (customer, supplier, prospect, to_assess).
        number_ranges: Per role, the lowest and highest number of that role
            (absent or ``None``: the role has no range).
        name_style: How ``person_name`` rows write a person's name; both
            tables are set to it.

    Raises:
        ValidationError: A table of the wrong kind, an unknown role or value,
            or number ranges that overlap.

    Example:
        >>> from crmconnect.sync import Role
        >>> DIGITALEFACTUUR_RELATIONS.role_for_number("2001") is Role.CREDITOR
        True
    """

    organisation: FieldTable = attrs.field(validator=_table(PartyKind.ORGANISATION))
    person: FieldTable = attrs.field(validator=_table(PartyKind.PERSON))
    _inbound_kind: dict[str, PartyKind] = attrs.field(
        kw_only=True, converter=_inbound_kinds, alias="inbound_kind"
    )
    _relation_type: dict[str, RelationType] = attrs.field(
        kw_only=True, converter=_relation_types, alias="relation_type"
    )
    _number_ranges: dict[str, tuple[int, int] | None] = attrs.field(
        kw_only=True, converter=_ranges_per_role, alias="number_ranges"
    )
    name_style: NameStyle = attrs.field(
        kw_only=True,
        default=NameStyle.FULL_NAME,
        converter=_name_style,
    )

    def __attrs_post_init__(self) -> None:
        # Every person_name row writes in the mapping's style.
        object.__setattr__(self, "organisation", self.organisation.with_name_style(self.name_style))
        object.__setattr__(self, "person", self.person.with_name_style(self.name_style))
        self._check_ranges()

    def _check_ranges(self) -> None:
        ranges = sorted((r, role) for role, r in self._number_ranges.items() if r is not None)
        for (low_range, low_role), (high_range, high_role) in pairwise(ranges):
            if high_range[0] <= low_range[1]:
                reason = f"overlaps the {low_role} range {list(low_range)}"
                raise ValidationError(f"number_ranges.{high_role}", list(high_range), reason)

    @property
    def inbound_kind(self) -> Mapping[Role, PartyKind]:
        """Per role, the kind of party a relation arriving from the service becomes."""
        return _as_roles(self._inbound_kind)

    @property
    def relation_type(self) -> Mapping[Role, RelationType]:
        """Per role, the relation type of a party created from the service."""
        return _as_roles(self._relation_type)

    @property
    def number_ranges(self) -> Mapping[Role, tuple[int, int] | None]:
        """Per role, its lowest and highest number; a role without a range is absent or ``None``."""
        return _as_roles(self._number_ranges)

    def table_for(self, party: Organisation | Person | PartyKind) -> FieldTable:
        """The table for a party (or a party kind)."""
        kind = party if isinstance(party, PartyKind) else PartyKind.of(party)
        return self.person if kind is PartyKind.PERSON else self.organisation

    def role_for_number(self, number: str | int | None) -> Role | None:
        """The role whose number range holds ``number``; ``None`` when none does (or not a number).

        Example:
            >>> DIGITALEFACTUUR_RELATIONS.role_for_number("1042")
            <Role.DEBTOR: 'debtor'>
            >>> DIGITALEFACTUUR_RELATIONS.role_for_number("A-12") is None
            True
        """
        text = str(number).strip() if number is not None else ""
        if not text.isascii() or not text.isdigit():
            return None
        value = int(text)
        for role, bounds in self._number_ranges.items():
            if bounds is not None and bounds[0] <= value <= bounds[1]:
                return _roles()(role)
        return None

    def new_party(self, role: Role, values: Mapping[str, str | None]) -> Organisation | Person:
        """A new CRM party from a relation that arrived from the service in ``role``.

        Its kind is ``inbound_kind[role]``, its relation type ``relation_type[role]``;
        the number is set by the caller (it is the remote code, not a mapped field).

        A role without an ``inbound_kind`` becomes an organisation; one without
        a ``relation_type`` gets none.

        Raises:
            ValidationError: As for `FieldTable.inbound`.
        """
        kind = self._inbound_kind.get(role, PartyKind.ORGANISATION)
        party = self.table_for(kind).inbound(values)
        relation_type = self._relation_type.get(role)
        if relation_type is not None:
            party = party.model_copy(update={"relation_type": relation_type})
        return party

    def to_dict(self) -> dict[str, Any]:
        """The mapping as plain data, the shape `from_dict` reads."""
        organisation, person = self.organisation.to_dict(), self.person.to_dict()
        return {
            "remote_fields": sorted(self.organisation.remote_fields | self.person.remote_fields),
            "name_style": self.name_style.value,
            "inbound_kind": {role: kind.value for role, kind in self._inbound_kind.items()},
            "relation_type": {role: kind.value for role, kind in self._relation_type.items()},
            "number_ranges": {
                role: list(bounds) for role, bounds in self._number_ranges.items() if bounds
            },
            "organisation": organisation["rows"],
            "person": person["rows"],
        }

    def to_toml(self) -> str:
        """The mapping as TOML text, which `from_toml` reads back into an equal mapping."""
        return toml_text(self.to_dict())

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, remote_fields: Collection[str] | None = None
    ) -> RelationMapping:
        """A mapping from plain data shaped like the TOML files (see the docs).

        Args:
            data: ``remote_fields``, ``name_style``, ``inbound_kind``,
                ``relation_type``, ``number_ranges`` and the rows of
                ``organisation`` and ``person``.
            remote_fields: The remote relation's field names, when ``data`` has none
                (a connector passes its own).

        Raises:
            ValidationError: An unknown key, a wrong type, or a table that is not valid.
        """
        if not isinstance(data, Mapping):
            raise ValidationError("relation_mapping", data, "must be a table")
        for key, value in data.items():
            if key not in _TOP_KEYS:
                expected = ", ".join(sorted(_TOP_KEYS))
                raise ValidationError(key, value, f"unknown key; expected {expected}")
        fields = remote_fields if remote_fields is not None else data.get("remote_fields")
        style = data.get("name_style", NameStyle.FULL_NAME)
        tables = {
            kind: FieldTable.from_dict(
                {"rows": data.get(kind.value, [])},
                party_kind=kind,
                remote_fields=fields,
                name_style=style,
            )
            for kind in PartyKind
        }
        return cls(
            tables[PartyKind.ORGANISATION],
            tables[PartyKind.PERSON],
            inbound_kind=data.get("inbound_kind", _DEFAULT_INBOUND_KIND),
            relation_type=data.get("relation_type", _DEFAULT_RELATION_TYPE),
            number_ranges=data.get("number_ranges", {}),
            name_style=style,
        )

    @classmethod
    def from_toml(
        cls, source: str | os.PathLike[str], *, remote_fields: Collection[str] | None = None
    ) -> RelationMapping:
        """A mapping from a TOML file or TOML text, shaped as for `from_dict`.

        A `pathlib.Path` (any path-like) is read as a file; a `str` is TOML
        text when it contains ``=``, and a file name otherwise.
        """
        return cls.from_dict(read_toml(source, "relation_mapping"), remote_fields=remote_fields)


_DEFAULT_INBOUND_KIND = {"debtor": "organisation", "creditor": "organisation"}
_DEFAULT_RELATION_TYPE = {"debtor": "customer", "creditor": "supplier"}


def _shipped(name: str) -> RelationMapping:
    text = resources.files(__package__).joinpath("tables", name).read_text(encoding="utf-8")
    return RelationMapping.from_toml(text)


DIGITALEFACTUUR_RELATIONS = _shipped("digitalefactuur.toml")
"""The default mapping of DigitaleFactuur relations (``<klant>``), keyed by `Relation` attribute."""

EBOEKHOUDEN_RELATIONS = _shipped("eboekhouden.toml")
"""The default mapping of e-Boekhouden relations (``cRelatie``), keyed by `Relation` attribute."""
