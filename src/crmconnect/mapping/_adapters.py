"""What the connectors' sync adapters share: comparing in the remote field space.

The sync engine compares a host party and a remote relation field by field,
in the remote service's field names. Both sides go through one normaliser
per field: the transform of the table rows that map it (``3511 aa`` and
``3511AA`` are one postcode). `DigitaleFactuurConnector` and
`EBoekhoudenConnector` use these; nothing here knows a connector.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING

from ..errors import ConfigurationError, ValidationError
from ..models import Organisation, Person
from ._names import NameStyle
from ._relations import RelationMapping
from ._transforms import TRANSFORMS

if TYPE_CHECKING:
    from ..sync._protocols import RemoteRelation, Role

__all__ = [
    "Normaliser",
    "check_number",
    "checked_values",
    "field_normalisers",
    "inbound_party",
    "normalised",
    "with_name_style",
]

Normaliser = Callable[[str], str]
"""A remote text → the form it is compared in."""

_NUMBER_OF_ROLE = {"debtor": "debtor_number", "creditor": "creditor_number"}
_REMEMBERED = 1 << 15
"""Texts remembered per transform: a listing of tens of thousands of relations."""


def check_number(mapping: RelationMapping, role: Role, number: str, service: str) -> None:
    """Refuse a number that the mapping's ranges give to the other role.

    The service keys a relation's role by its number's range, so a debtor
    numbered in the creditors' range would come back as a creditor (and the
    debtor be taken as removed). A number in no range is left to the service.

    Raises:
        ValidationError: Naming the number, the range it lies in and the
            role's own range (field ``debtor_number`` or ``creditor_number``).
    """
    found = mapping.role_for_number(number)
    if found is None or found == role:
        return
    ranges = mapping.number_ranges
    reason = f"lies in the {found.value} range {_span(ranges[found])} of {service}"
    own = ranges.get(role)
    if own is not None:
        reason += f"; a {role.value} number there lies in {_span(own)}"
    raise ValidationError(_NUMBER_OF_ROLE[role.value], number, reason)


def _span(bounds: tuple[int, int] | None) -> str:
    return "" if bounds is None else f"{bounds[0]}-{bounds[1]}"


def with_name_style(
    mapping: RelationMapping, name_style: NameStyle | str | None
) -> RelationMapping:
    """``mapping``, writing person names in ``name_style`` when one is given.

    Raises:
        ValidationError: Not a name style.
    """
    if name_style is None:
        return mapping
    return RelationMapping(
        mapping.organisation,
        mapping.person,
        inbound_kind=mapping.inbound_kind,
        relation_type=mapping.relation_type,
        number_ranges=mapping.number_ranges,
        name_style=name_style,
    )


def field_normalisers(
    mapping: RelationMapping, known: Collection[str], reserved: Collection[str], service: str
) -> dict[str, Normaliser]:
    """Remote field → how it is compared: the transform of the row that maps it.

    One normaliser per field for both sides (what a table writes and what the
    remote holds): a listing does not tell whether a relation is an
    organisation's or a person's. Where both tables map a field with
    different transforms (``name`` as ``text`` and as ``person_name``), the
    organisation table's compares it for both.

    Args:
        mapping: The relation mapping.
        known: The fields the remote relation has.
        reserved: Fields the connector sets itself (the number, the role's
            type): no row may map them.
        service: The service's name, for the error.

    Raises:
        ConfigurationError: A row maps a field the remote relation does not
            have, or one the connector sets.
    """
    found: dict[str, Normaliser] = {}
    for table in (mapping.organisation, mapping.person):
        for row in table.rows:
            if row.remote not in known or row.remote in reserved:
                reason = "is set by the connector" if row.remote in known else "is not a field"
                raise ConfigurationError(
                    f"mapping row {row.canonical} -> {row.remote}: {row.remote!r} {reason} "
                    f"of {service}'s relation"
                )
            found.setdefault(row.remote, _remembered(TRANSFORMS[row.transform].normalise))
    return found


@functools.cache
def _remembered(normalise: Normaliser) -> Normaliser:
    """``normalise`` remembering its last answers (one cache per transform, for every connector).

    Normalisers are pure, and some are not cheap (a person's name is parsed):
    a rerun compares the texts of the last listing again, so they are not
    parsed again.
    """
    return functools.lru_cache(maxsize=_REMEMBERED)(normalise)


def normalised(
    normalisers: Mapping[str, Normaliser], values: Mapping[str, object]
) -> dict[str, str | None]:
    """The values of the compared fields as they are compared; ``None`` for an empty one.

    Fields without a normaliser are left out.
    """
    found: dict[str, str | None] = {}
    for name, value in values.items():
        normalise = normalisers.get(name)
        if normalise is not None:
            text = "" if value is None else str(value)
            found[name] = (normalise(text) or None) if text else None
    return found


def checked_values(values: object, fields: Collection[str]) -> dict[str, str | None]:
    """``values`` as a dict whose keys are compared fields and whose values are texts or ``None``.

    Raises:
        ValidationError: Not a mapping, an unknown field, or a value that is not a text.
    """
    if not isinstance(values, Mapping):
        raise ValidationError("values", type(values).__name__, "must map fields to texts")
    checked: dict[str, str | None] = {}
    for name, value in values.items():
        if name not in fields:
            known = ", ".join(sorted(fields))
            raise ValidationError(name, value, f"is not a field the mapping compares ({known})")
        if value is not None and not isinstance(value, str):
            raise ValidationError(name, value, "must be a text or None")
        checked[name] = value
    return checked


def inbound_party(
    mapping: RelationMapping, relation: RemoteRelation, party: Organisation | Person | None
) -> Organisation | Person:
    """``party`` with the relation's values; or a new party, with its number for the role.

    A new party's kind and relation type are the mapping's for the role
    (`RelationMapping.new_party`); the relation's number becomes its debtor
    or creditor number.

    Raises:
        ValidationError: A value the canonical model refuses (naming the row).
    """
    if party is not None:
        return mapping.table_for(party).inbound(relation.values, party)
    created = mapping.new_party(relation.role, relation.values)
    data = {**created.model_dump(), _NUMBER_OF_ROLE[relation.role.value]: relation.number}
    return type(created).model_validate(data)
