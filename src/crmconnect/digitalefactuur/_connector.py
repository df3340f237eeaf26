"""`DigitaleFactuurConnector`: DigitaleFactuur as an `AccountingConnector` of the sync engine.

Relations go both ways (each direction a setting). The engine compares in
DF's field space: `outbound_values` is the mapping table's text per `Relation`
attribute, and `relations` lists what DF holds, both through the same
normaliser per field (the transform of the table row that maps it), so a
relation that did not change compares equal and a write the engine made does
not come back as a change.

Remote quirks handled here:

* DF has no filter and no version on ``klanten``: one listing per run
  (`DigitaleFactuurClient.relations_index`), no call per relation; each
  relation carries the digest of its record as listed, and its values are
  read only when the engine asks for them (the digest differs from the
  link's, or the relation is new);
* ``klant_updaten`` replaces the whole record: an update is read-modify-write
  over the record of this run's listing (or of this connector's own last
  write), read fresh when that listing is older than ``listing_max_age``;
* the role: the number range of the mapping (1xxx debtors, 2xxx creditors),
  else DF's ``type`` (``debiteur``/``crediteur``), which DF always has.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import attrs

from ..errors import (
    ConfigurationError,
    CrmConnectError,
    MalformedResponseError,
    NotFoundError,
    SyncError,
)
from ..mapping import DIGITALEFACTUUR_RELATIONS, NameStyle, RelationMapping
from ..mapping._adapters import (
    check_number,
    checked_values,
    field_normalisers,
    inbound_party,
    normalised,
    with_name_style,
)
from ..models import Invoice
from ..sync._protocols import (
    BookingResult,
    Capability,
    FieldValues,
    Party,
    PaymentState,
    RemotePayment,
    RemoteRelation,
    Role,
)
from ._client import DigitaleFactuurClient
from ._index import RelationIndex
from ._models import MAPPED_ATTRIBUTES, Relation, RelationKind

__all__ = ["DigitaleFactuurConnector"]

_KIND_OF_ROLE = {Role.DEBTOR: RelationKind.DEBTOR, Role.CREDITOR: RelationKind.CREDITOR}
_ROLE_OF_KIND = {kind: role for role, kind in _KIND_OF_ROLE.items()}
logger = logging.getLogger("crmconnect.digitalefactuur")

_RESERVED = frozenset({"number", "kind"})
"""Set from the link (number) and the role (kind), never by a table row."""


class DigitaleFactuurConnector:
    """DigitaleFactuur relations for `crmconnect.sync.SyncEngine`, both ways.

    Args:
        client: The DF client (its field table names the elements).
        mapping: The relation tables and rules (default `DIGITALEFACTUUR_RELATIONS`).
        name_style: How a person's name is written (overrides the mapping's).
        to_remote: Host relations are created and updated in DF.
        from_remote: DF's relations (new ones and changes) come to the host.
        service: The connector's name in the engine and its state.
        listing_max_age: Seconds an update may go by the record of the last
            listing; older, the record is read again first (one call).

    Attributes:
        service: The connector's name (``"digitalefactuur"``).
        capabilities: Relations to and/or from DF, as the directions say.
        mapping: The `RelationMapping` in use.
        fields: The `Relation` attributes compared: every one a table row maps.
        unreadable: DF id → why the last `relations` left that relation out
            (its values are not valid): it still exists in DF, so a link to it
            must not be taken as removed.

    Raises:
        ConfigurationError: Not a `DigitaleFactuurClient`, a table maps a field
            DF's relation does not have, or the two tables compare one field
            two ways.

    Example:
        ```python
        from crmconnect.digitalefactuur import DigitaleFactuurClient, DigitaleFactuurConnector
        from crmconnect.sync import SyncEngine

        df = DigitaleFactuurConnector(DigitaleFactuurClient("12345", "access-code"))
        SyncEngine(host, [df]).run()
        ```
    """

    def __init__(
        self,
        client: DigitaleFactuurClient,
        *,
        mapping: RelationMapping = DIGITALEFACTUUR_RELATIONS,
        name_style: NameStyle | str | None = None,
        to_remote: bool = True,
        from_remote: bool = True,
        service: str = "digitalefactuur",
        listing_max_age: float = 300.0,
    ) -> None:
        if not isinstance(client, DigitaleFactuurClient):
            raise ConfigurationError(
                "DigitaleFactuurConnector needs a DigitaleFactuurClient, "
                f"not {type(client).__name__}"
            )
        self.client = client
        self.mapping = with_name_style(mapping, name_style)
        self.service = service
        directions = {
            Capability.RELATIONS_TO_REMOTE: to_remote,
            Capability.RELATIONS_FROM_REMOTE: from_remote,
            Capability.RELATION_REMOVAL: to_remote,
        }
        self.capabilities = frozenset(flow for flow, on in directions.items() if on)
        self._normalisers = field_normalisers(
            self.mapping, MAPPED_ATTRIBUTES, _RESERVED, "DigitaleFactuur"
        )
        self.fields = frozenset(self._normalisers)
        self.listing_max_age = listing_max_age
        self._index: RelationIndex | None = None
        self._read_at = 0.0
        self._written: dict[str, Relation] = {}
        self.unreadable: Mapping[str, CrmConnectError] = {}

    def __repr__(self) -> str:
        return f"DigitaleFactuurConnector(service={self.service!r}, client={self.client!r})"

    def close(self) -> None:
        """Close the client it was given (a worker closes each tenant's connector after a task)."""
        self.client.close()

    # -- the mapping ----------------------------------------------------------------

    def outbound_values(self, party: Party, role: Role) -> FieldValues:
        """The texts DF's fields would hold for this party, normalised as the listing's.

        Only the fields the party's table writes (the host owns them); the
        number and ``type`` come from the link and the role.
        """
        return normalised(self._normalisers, self.mapping.table_for(party).outbound(party))

    def inbound_party(self, relation: RemoteRelation, party: Party | None) -> Party:
        """``party`` (or a new organisation or person, as the mapping says) with DF's values.

        A new party gets the relation's number as its debtor (or creditor)
        number, by role, and the mapping's relation type for the role.
        """
        return inbound_party(self.mapping, relation, party)

    # -- relations ------------------------------------------------------------------

    def relations(self) -> Sequence[RemoteRelation]:
        """Every DF relation with a number, from one listing (``klanten``, every page).

        Each relation's values are read from the listing when first used (the
        engine compares digests first: an unchanged record is never read). A
        relation without a number DF accepts as one cannot be linked and is
        left out. A relation whose values cannot be read (a name longer than
        DF's assumed 255 characters, typed into DF's screens) fails alone, when
        they are read, with a `MalformedResponseError` naming it; the others
        are listed. Only a relation whose number lies in no range of the
        mapping is read at once, for its ``type``; if that fails it is left out
        and kept in `unreadable`. The listing is kept for this run's updates.

        Raises:
            CrmConnectError: The listing failed: nothing is known.
        """
        index = self.client.relations_index(fields=())
        self._index, self._read_at = index, time.monotonic()
        self._written.clear()
        listed: list[RemoteRelation] = []
        unreadable: dict[str, CrmConnectError] = {}
        for entry in index.values():
            if entry.number is None:
                continue
            role = self.mapping.role_for_number(entry.number)
            try:
                listed.append(self._listed(index, entry.id, entry.number, role, entry.digest))
            except MalformedResponseError as error:
                logger.warning("DigitaleFactuur relation %s is not listed: %s", entry.id, error)
                unreadable[entry.id] = error
        self.unreadable = unreadable
        return listed

    def _listed(
        self, index: RelationIndex, remote_id: str, number: str, role: Role | None, digest: str
    ) -> RemoteRelation:
        """A listed relation; its values read on first use, unless its role needs them now."""
        if role is None:  # no number range says it: DF's type does
            return attrs.evolve(self._remote(index.relation(remote_id)), digest=digest)
        values = _ReadOnUse(lambda: self._values(index.relation(remote_id)))
        return RemoteRelation(remote_id, number, role, values, digest)

    def find_relation(self, role: Role, number: str) -> RemoteRelation | None:
        """The DF relation with this number (one listing), or ``None``.

        Its role is its own (number range, else ``type``), which may differ from ``role``.
        """
        found = self.client.relations_by_number([number]).get(str(number).strip())
        if found is None or found.id is None:
            return None
        self._written[found.id] = found
        return self._remote(found)

    def check_number(self, role: Role, number: str) -> None:
        """Refuse a number the mapping's ranges give to the other role (before any write).

        DF's listing keys a relation's role by its number's range: a debtor
        numbered 2500 would be listed as a creditor, its debtor link taken as
        removed, and a creditor party created. A number in no range goes by
        DF's ``type`` and is accepted.

        Raises:
            ValidationError: Naming the number and the ranges.
        """
        check_number(self.mapping, Role(role), number, "DigitaleFactuur")

    def create_relation(self, role: Role, number: str, values: FieldValues) -> RemoteRelation:
        """Create a DF relation with this number, ``type`` for the role and these values.

        Never sent twice: a create whose answer was lost is looked up by
        number first (`DigitaleFactuurClient.create_relation`); the relation
        found then is what is returned.

        Raises:
            ValidationError: The number lies in the other role's range
                (`check_number`), a field the mapping does not compare, or a
                value the relation model refuses (named); nothing was sent.
        """
        self.check_number(role, number)
        data = {
            **checked_values(values, self.fields),
            "number": number,
            "kind": _KIND_OF_ROLE[Role(role)],
        }
        created = self.client.create_relation(Relation.model_validate(data))
        if created.id is not None:
            self._written[created.id] = created
        return self._remote(created)

    def update_relation(self, current: RemoteRelation, changes: FieldValues) -> RemoteRelation:
        """Write ``changes`` over the DF record (``None`` clears); every other field stays.

        Read-modify-write: DF replaces the whole record, so the record as this
        run's listing (or this connector's last write) holds it is written
        back with only ``changes`` applied, elements no table maps included.
        DF's ``type`` is set to the relation's role (a 2xxx relation left
        ``debiteur`` in DF becomes ``crediteur`` with its next update).
        Nothing is written when that changes nothing.

        Raises:
            ValidationError: A field the mapping does not compare, or a value refused.
            NotFoundError: DF no longer holds the relation.
        """
        wanted = {**checked_values(changes, self.fields), "kind": _KIND_OF_ROLE[current.role]}
        written = self.client.update_relation_fields(
            current.remote_id, wanted, current=self._current(current.remote_id)
        )
        if written.id is not None:
            self._written[written.id] = written
        return self._remote(written)

    def remove_relation(self, current: RemoteRelation) -> None:
        """Remove the DF relation (``klant_verwijderen``), for ``on_host_removal="remove"``.

        Sent once (a delete is not retried); a relation DF no longer holds
        counts as removed.
        """
        try:
            self.client.delete_relation(current.remote_id)
        except NotFoundError:
            logger.info("DigitaleFactuur relation %s was removed already", current.remote_id)
        self._written.pop(current.remote_id, None)

    # -- what DF does not do through this connector ---------------------------------

    def book_invoices(self, invoices: Sequence[Invoice]) -> BookingResult:
        """Not a capability: DF makes its own invoices. Each invoice is reported failed."""
        error = SyncError("DigitaleFactuurConnector does not book invoices")
        return BookingResult(failed=[(invoice.number, error) for invoice in invoices])

    def payment_states(self, pairs: Sequence[tuple[str, str]]) -> Sequence[RemotePayment]:
        """Not a capability: every pair is `PaymentState.UNKNOWN`, with the reason."""
        reason = "DigitaleFactuurConnector does not read payment states"
        return [
            RemotePayment(number, code, PaymentState.UNKNOWN, error=reason)
            for code, number in pairs
        ]

    # -- helpers --------------------------------------------------------------------

    def _remote(self, relation: Relation) -> RemoteRelation:
        if relation.id is None or relation.number is None:  # pragma: no cover
            raise SyncError("DigitaleFactuur answered a relation without ID or number")
        return RemoteRelation(
            remote_id=relation.id,
            number=relation.number,
            role=self.mapping.role_for_number(relation.number) or _ROLE_OF_KIND[relation.kind],
            values=self._values(relation),
        )

    def _values(self, relation: Relation) -> FieldValues:
        return normalised(
            self._normalisers, {name: getattr(relation, name) for name in self._normalisers}
        )

    def _current(self, remote_id: str) -> Relation | None:
        """The record to write over: the last write, a fresh listing's, or ``None`` (read it)."""
        if remote_id in self._written:
            return self._written[remote_id]
        fresh = time.monotonic() - self._read_at <= self.listing_max_age
        if self._index is not None and fresh and remote_id in self._index:
            return self._index.relation(remote_id)
        return None


class _ReadOnUse(Mapping[str, "str | None"]):
    """Field values read when first used (the engine skips unchanged records unread)."""

    __slots__ = ("_read", "_values")

    def __init__(self, read: Callable[[], FieldValues]) -> None:
        self._read: Callable[[], FieldValues] | None = read
        self._values: FieldValues = {}

    def _loaded(self) -> FieldValues:
        if self._read is not None:
            self._values, self._read = self._read(), None
        return self._values

    def __getitem__(self, name: str) -> str | None:
        return self._loaded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def __repr__(self) -> str:
        return "<values not read yet>" if self._read is not None else repr(dict(self._values))
