"""`RelationIndex`: every relation of one listing as DF id, relation number and digest.

What a sync engine compares each run, read in one listing (``klanten``, every
page) without building a model: per relation its DF id, its relation number
(the link key) and a digest of its bytes as DF listed them, which changes
whenever anything in the record changes. The few relations whose digest
differs from the last run's are then read exactly: their full `Relation`
(`RelationIndex.relation`) and the fingerprint of only the fields the caller
owns (`RelationIndexEntry.fingerprint`), equal to `relation_fingerprint` of the
relation restricted to the same fields, come from the same listing without
another call, and an update can be read-modify-write from it
(`DigitaleFactuurClient.update_relation_fields`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import NamedTuple

from ._models import Relation

__all__ = ["ListedRecord", "RelationIndex", "RelationIndexEntry"]


class ListedRecord(NamedTuple):
    """One record of a listing as read, before any of its values.

    Attributes:
        id: DigitaleFactuur's ID.
        number: The relation number as `Relation.number` holds it, or ``None``.
        digest: A digest of the record as listed.
        source: The record's bytes (a plain page: read exactly on demand) or
            its element texts (a page read exactly already).
    """

    id: str
    number: str | None
    digest: str
    source: bytes | Mapping[str, str]


class RelationIndexEntry:
    """One relation of a listing: its ID, number and digest, and its fingerprint on demand.

    Attributes:
        id: DigitaleFactuur's ID.
        number: The relation number as `Relation.number` holds it; ``None`` when
            the relation has none the model accepts (it cannot be found by number).
        digest: A digest of the record's bytes as DF listed them: equal digests,
            an unchanged record. Any change shows, also in a field the index does
            not cover or in DF's formatting of the record (a digest that changed
            with equal values is harmless: the values are compared then).
            Change detection, not integrity: not meant to resist a forger.
    """

    __slots__ = ("_index", "digest", "id", "number")

    def __init__(self, index: RelationIndex, id: str, number: str | None, digest: str) -> None:
        self._index = index
        self.id = id
        self.number = number
        self.digest = digest

    @property
    def fingerprint(self) -> str:
        """`relation_fingerprint` of the fields the index was read for (read exactly now, once).

        Raises:
            MalformedResponseError: The listing's values for it are not a valid record.
        """
        return self._index.fingerprint(self.id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RelationIndexEntry):
            return NotImplemented
        return (self.id, self.number, self.digest) == (other.id, other.number, other.digest)

    def __hash__(self) -> int:
        return hash((self.id, self.number, self.digest))

    def __repr__(self) -> str:
        return f"RelationIndexEntry(id={self.id!r}, number={self.number!r}, digest={self.digest!r})"


class RelationIndex(Mapping[str, RelationIndexEntry]):
    """``{DF id: RelationIndexEntry}`` of one listing, in the listing's order.

    Args:
        records: The listing's records, in order.
        fields: The attributes the fingerprints cover.
        elements: The element texts of a record (a plain record is read
            exactly now; a bad record raises a
            `crmconnect.errors.MalformedResponseError`).
        fingerprint: The fingerprint of a record's element texts.
        build: Builds the `Relation` of a record's element texts (a bad value
            raises a `crmconnect.errors.MalformedResponseError`).

    Attributes:
        fields: The attributes the fingerprints cover.

    Example:
        ```python
        index = df.relations_index(fields={"name", "address", "postcode", "city"})
        changed = [e for e in index.values() if e.digest != digests.get(e.id)]
        for entry in changed:
            relation = index.relation(entry.id)  # from the listing: no call
            if entry.fingerprint != stored.get(entry.id):
                ...  # a field you own changed
        ```
    """

    def __init__(
        self,
        records: Sequence[ListedRecord],
        fields: frozenset[str],
        elements: Callable[[ListedRecord], Mapping[str, str]],
        fingerprint: Callable[[Mapping[str, str]], str],
        build: Callable[[Mapping[str, str]], Relation],
    ) -> None:
        self.fields = fields
        self._records = {record.id: record for record in records}
        self._entries = {
            key: RelationIndexEntry(self, key, record.number, record.digest)
            for key, record in self._records.items()
        }
        self._elements = elements
        self._fingerprint = fingerprint
        self._build = build
        self._read: dict[str, Mapping[str, str]] = {}
        self._fingerprints: dict[str, str] = {}

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

    def elements(self, relation_id: int | str) -> Mapping[str, str]:
        """The record's element texts as this listing holds them (read exactly once).

        Raises:
            KeyError: The listing holds no relation with this ID.
            MalformedResponseError: The record is not a valid ``klant``.
        """
        key = str(relation_id)
        if key not in self._read:
            self._read[key] = self._elements(self._records[key])
        return self._read[key]

    def fingerprint(self, relation_id: int | str) -> str:
        """`relation_fingerprint` of `fields` for one relation (`RelationIndexEntry.fingerprint`).

        Raises:
            KeyError: The listing holds no relation with this ID.
            MalformedResponseError: The record is not a valid ``klant``.
        """
        key = str(relation_id)
        if key not in self._fingerprints:
            self._fingerprints[key] = self._fingerprint(self.elements(key))
        return self._fingerprints[key]

    def relation(self, relation_id: int | str) -> Relation:
        """The full `Relation` as this listing holds it (built now; no call).

        Raises:
            KeyError: The listing holds no relation with this ID.
            MalformedResponseError: The listing's values for it are not a valid relation.
        """
        return self._build(self.elements(relation_id))
