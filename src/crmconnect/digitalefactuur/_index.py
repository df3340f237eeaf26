"""`RelationIndex`: every relation of one listing as DF id, relation number and fingerprint.

What a sync engine compares each run, read in one listing (``klanten``, every
page) without building a model: per relation its DF id, its relation number
(the link key) and a fingerprint of only the fields the caller owns, equal to
`relation_fingerprint` of a relation in hand restricted to the same fields.
The listing's element texts are kept, so the few relations that changed give
their full `Relation` (`RelationIndex.relation`) without another call, and an
update can be read-modify-write from this listing
(`DigitaleFactuurClient.update_relation_fields`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import NamedTuple

from ._models import Relation

__all__ = ["RelationIndex", "RelationIndexEntry"]


class RelationIndexEntry(NamedTuple):
    """One relation of a listing (a named tuple: cheap to make ten thousand of).

    Attributes:
        id: DigitaleFactuur's ID.
        number: The relation number as `Relation.number` holds it; ``None`` when
            the relation has none the model accepts (it cannot be found by number).
        fingerprint: `relation_fingerprint` of the fields the index was read for.
    """

    id: str
    number: str | None
    fingerprint: str


class RelationIndex(Mapping[str, RelationIndexEntry]):
    """``{DF id: RelationIndexEntry}`` of one listing, in the listing's order.

    Args:
        entries: The entries with each relation's element texts, in listing order.
        fields: The attributes the fingerprints cover.
        build: Builds the `Relation` of a record's element texts (a bad value
            raises a `crmconnect.errors.MalformedResponseError`).

    Attributes:
        fields: The attributes the fingerprints cover.

    Example:
        ```python
        index = df.relations_index(fields={"name", "address", "postcode", "city"})
        changed = [e for e in index.values() if e.fingerprint != stored.get(e.id)]
        for entry in changed:
            relation = index.relation(entry.id)  # from the listing: no call
        ```
    """

    def __init__(
        self,
        entries: Sequence[tuple[RelationIndexEntry, Mapping[str, str]]],
        fields: frozenset[str],
        build: Callable[[Mapping[str, str]], Relation],
    ) -> None:
        self.fields = fields
        self._entries = {entry.id: entry for entry, _ in entries}
        self._elements = {entry.id: elements for entry, elements in entries}
        self._build = build

    def __getitem__(self, relation_id: str) -> RelationIndexEntry:
        return self._entries[relation_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"RelationIndex({len(self)} relations, fields={sorted(self.fields)})"

    def by_number(self) -> dict[str, RelationIndexEntry]:
        """``{relation number: entry}``; a number listed twice keeps its first relation."""
        found: dict[str, RelationIndexEntry] = {}
        for entry in self._entries.values():
            if entry.number is not None:
                found.setdefault(entry.number, entry)
        return found

    def relation(self, relation_id: int | str) -> Relation:
        """The full `Relation` as this listing holds it (built now; no call).

        Raises:
            KeyError: The listing holds no relation with this ID.
            MalformedResponseError: The listing's values for it are not a valid relation.
        """
        return self._build(self._elements[str(relation_id)])
