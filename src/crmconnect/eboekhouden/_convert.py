"""Canonical parties → e-Boekhouden relations, through the relation mapping table.

`relation_from` is a thin wrapper over `crmconnect.mapping.EBOEKHOUDEN_RELATIONS`
(or a mapping of your own): the same rows `EBoekhoudenConnector` sends, so a
relation built here and one the sync engine writes hold the same values.
How a person's name is written is the mapping's `NameStyle` (last name only,
initials with infix and last name, or the full name, as PerfectView offers
it); `NameStyle` and `format_person_name` are `crmconnect.mapping`'s,
re-exported here.
"""

from __future__ import annotations

from ..mapping import EBOEKHOUDEN_RELATIONS, NameStyle, RelationMapping, format_person_name
from ..models import Organisation, Person
from ._models import Relation, RelationType

__all__ = ["NameStyle", "format_person_name", "relation_from"]


def relation_from(
    party: Organisation | Person,
    *,
    code: str,
    name_style: NameStyle | str | None = None,
    mapping: RelationMapping = EBOEKHOUDEN_RELATIONS,
) -> Relation:
    """The e-Boekhouden relation for a CRM organisation or private person.

    The fields are what the mapping's table for the party's kind writes (see
    the Mapping page): by default, an organisation's invoice address goes in
    the first address (``Adres``, ``Postcode``, ``Plaats``, ``Land``) and its
    postal address, often a PO box, in the postal address (``Adres2`` …
    ``Land2``); its visiting address is not sent. A person is a relation of
    type ``P`` with the name in ``Bedrijf`` and the private address. An empty
    canonical field leaves the relation's field ``None``.

    Args:
        party: The canonical record.
        code: The relation code (debtors 1xxx, creditors 2xxx by convention).
        name_style: How person names are written; ``None``: the mapping's
            (the full name in the default mapping).
        mapping: The relation mapping (default `EBOEKHOUDEN_RELATIONS`).

    Raises:
        ValidationError: A name style that does not exist, or a value the
            relation model refuses (naming the field).

    Example:
        >>> from crmconnect.models import Person
        >>> person = Person(initials="J.P.", infix="van der", last_name="Berg")
        >>> relation = relation_from(person, code="1002", name_style="initials")
        >>> relation.company, relation.type.value
        ('J.P. van der Berg', 'P')
    """
    table = mapping.table_for(party)
    if name_style is not None and name_style != table.name_style:
        table = table.with_name_style(name_style)
    values = {field: text for field, text in table.outbound(party).items() if text is not None}
    kind = RelationType.PRIVATE if isinstance(party, Person) else RelationType.BUSINESS
    return Relation(code=code, type=kind, **values)
