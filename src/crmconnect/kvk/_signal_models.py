"""Wire models and names of KvK's Mutatieservice (change signals).

KvK publishes no complete schema of the Mutatieservice (``api-kms.yaml`` 1.0.9
is not public in full; kvk.md §7, next-gen.md §7). What is known comes from a
real test-environment page, client libraries and KvK's FAQ. What no source
confirms is kept as data in `SIGNAL_NAMES`, so a host corrects it without a
release:

```python
from crmconnect.kvk import SIGNAL_NAMES, SignalKind

names = SIGNAL_NAMES.override(
    types={"SignaalUitschrijving_2027_01": SignalKind.REGISTRATION_ENDED},
    branch_number=("vestigingsnummer", "vestigingnummer"),
)
for signal in kvk.signals(subscription_id, since=start, names=names): ...
```

Signal types are an open enum: a known ``signaalType`` becomes a `SignalType`
member, an unknown one stays text (never an error) and means "something of
this registration changed" (`SignalKind.UNKNOWN`).
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import attrs
import pydantic
from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from .._answers import _model_reason
from ..errors import ConfigurationError
from ._models import BranchNumber, KvKNumber, _Wire

__all__ = [
    "SIGNAL_NAMES",
    "Signal",
    "SignalDetail",
    "SignalKind",
    "SignalNames",
    "SignalPage",
    "SignalType",
    "Subscription",
    "SubscriptionList",
    "UnreadableSignal",
]


class SignalType(StrEnum):
    """The ``signaalType`` values the sources name (an open enum: others stay text).

    The unversioned names come from KvK's signal catalogue as summarised by
    kvk-connect; the ``_2025_01`` ones from a third-party skill file and a
    production example (innovatiespotter), not from KvK's own spec.
    """

    NEW_REGISTRATION = "SignaalNieuweInschrijving"
    REGISTRATION_CHANGED = "SignaalGewijzigdeInschrijving"
    BRANCH_CHANGED = "SignaalGewijzigdeVestiging"
    REGISTRATION_ENDED = "SignaalBeeindiging"
    LEGAL_FORM_CHANGED = "SignaalRechtsvormwijziging"
    CONTINUED_OR_TRANSFERRED = "SignaalVoortzettingEnOverdracht"
    REGISTRATION_ENDED_2025 = "SignaalBeeindiging_2025_01"
    LEGAL_FORM_CHANGED_2025 = "SignaalRechtsvormwijziging_2025_01"
    CONTINUED_OR_TRANSFERRED_2025 = "SignaalVoortzettingEnOverdracht_2025_01"
    ADDRESS_CHANGED_2025 = "SignaalAdreswijziging_2025_01"
    NAMING_CHANGED_2025 = "SignaalNaamgeving_2025_01"
    MERGER_OR_DIVISION_2025 = "SignaalFusieSplitsing_2025_01"
    ACTIVITIES_CHANGED_2025 = "SignaalActiviteitenWijziging_2025_01"


class SignalKind(StrEnum):
    """What a signal means for a CRM record linked to the registration."""

    NEW_REGISTRATION = "new_registration"
    REGISTRATION_CHANGED = "registration_changed"
    """Something of the registration changed: re-check every record of the KvK number."""
    BRANCH_CHANGED = "branch_changed"
    """A branch changed: re-check the records of that branch and of the whole registration."""
    REGISTRATION_ENDED = "registration_ended"
    """The registration ended (deregistered): reported ``ended`` without fetching a profile."""
    REGISTRATION_REMOVED = "registration_removed"
    """The registration was removed from the register: reported ``removed``, as polling
    reports one KvK can no longer deliver. No source names its ``signaalType``: map
    one with `SignalNames.override` once KvK's catalogue does."""
    UNKNOWN = "unknown"
    """A type the table does not know: treated like `REGISTRATION_CHANGED`."""


_VERSION_SUFFIX = re.compile(r"_[0-9]{4}_[0-9]{2}$")


def _kinds(value: Mapping[str, SignalKind | str]) -> Mapping[str, SignalKind]:
    return {str(name): SignalKind(kind) for name, kind in value.items()}


def _texts(value: Iterable[str]) -> frozenset[str]:
    return frozenset(str(item) for item in value)


def _names(value: Iterable[str] | str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else tuple(value)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigurationError(f"wire field names must be non-empty text, not {value!r}")
    return names


@attrs.frozen
class SignalNames:
    """The Mutatieservice's names and limits that no public source confirms, as data.

    Attributes:
        types: ``signaalType`` text → what it means. A versioned name
            (``SignaalBeeindiging_2026_07``) not in the table means what its
            unversioned name means.
        assumed_types: The types whose meaning (or existence) no KvK source confirms.
        kvk_number: Field names of the KvK number in a list item, first found wins
            (the real test page shows ``kvknummer``; the detail uses ``kvkNummer``).
        branch_number: Field names of the branch number in a list item (assumed:
            only a client library shows ``vestigingsnummer``).
        signal_list: Field names of the list of signals in a page (``signalen``;
            under ``_embedded`` too in the HAL flavour, assumed).
        min_per_page: The least ``aantal`` KvK accepts (assumed 10).
        max_per_page: The most ``aantal`` KvK accepts (assumed 500).
    """

    types: Mapping[str, SignalKind] = attrs.field(converter=_kinds)
    assumed_types: frozenset[str] = attrs.field(default=frozenset(), converter=_texts)
    kvk_number: tuple[str, ...] = attrs.field(default=("kvknummer", "kvkNummer"), converter=_names)
    branch_number: tuple[str, ...] = attrs.field(default=("vestigingsnummer",), converter=_names)
    signal_list: tuple[str, ...] = attrs.field(default=("signalen",), converter=_names)
    min_per_page: int = 10
    max_per_page: int = 500

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.min_per_page <= self.max_per_page:
            raise ConfigurationError(
                f"min_per_page {self.min_per_page} and max_per_page {self.max_per_page} "
                "must satisfy 1 <= min <= max"
            )

    def kind_of(self, signal_type: str) -> SignalKind:
        """What a ``signaalType`` means; `SignalKind.UNKNOWN` for a type nobody named."""
        text = str(signal_type)
        if text in self.types:
            return self.types[text]
        base = _VERSION_SUFFIX.sub("", text)
        return self.types.get(base, SignalKind.UNKNOWN)

    def override(
        self,
        *,
        types: Mapping[str, SignalKind | str] | None = None,
        kvk_number: Iterable[str] | str | None = None,
        branch_number: Iterable[str] | str | None = None,
        signal_list: Iterable[str] | str | None = None,
        min_per_page: int | None = None,
        max_per_page: int | None = None,
    ) -> SignalNames:
        """A copy with some names corrected; an overridden type is no longer assumed.

        Raises:
            ConfigurationError: For a kind that is not a `SignalKind`, or empty names.
        """
        try:
            added = _kinds(types or {})
        except ValueError as exc:
            raise ConfigurationError(f"signal types: {exc}") from None
        changes: dict[str, Any] = {
            "types": {**self.types, **added},
            "assumed_types": self.assumed_types - set(added),
        }
        for name, value in (
            ("kvk_number", kvk_number),
            ("branch_number", branch_number),
            ("signal_list", signal_list),
            ("min_per_page", min_per_page),
            ("max_per_page", max_per_page),
        ):
            if value is not None:
                changes[name] = value
        return attrs.evolve(self, **changes)

    def override_from_toml(self, path: str | Path) -> SignalNames:
        """A copy with the corrections of a TOML file's ``[mutatieservice]`` table.

        Example file::

            [mutatieservice]
            branch_number = ["vestigingsnummer"]
            max_per_page = 1000

            [mutatieservice.types]
            SignaalUitschrijving = "registration_ended"
        """
        with open(path, "rb") as file:
            section = tomllib.load(file).get("mutatieservice", {})
        if not isinstance(section, dict):
            raise ConfigurationError(f"{path}: [mutatieservice] must be a table")
        known = {"types", "kvk_number", "branch_number", "signal_list"}
        known |= {"min_per_page", "max_per_page"}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigurationError(f"{path}: unknown keys {unknown}; known are {sorted(known)}")
        return self.override(**section)


SIGNAL_NAMES = SignalNames(
    types={
        SignalType.NEW_REGISTRATION: SignalKind.NEW_REGISTRATION,
        SignalType.REGISTRATION_CHANGED: SignalKind.REGISTRATION_CHANGED,
        SignalType.BRANCH_CHANGED: SignalKind.BRANCH_CHANGED,
        SignalType.REGISTRATION_ENDED: SignalKind.REGISTRATION_ENDED,
        SignalType.LEGAL_FORM_CHANGED: SignalKind.REGISTRATION_CHANGED,
        SignalType.CONTINUED_OR_TRANSFERRED: SignalKind.REGISTRATION_CHANGED,
        SignalType.ADDRESS_CHANGED_2025: SignalKind.BRANCH_CHANGED,
        SignalType.NAMING_CHANGED_2025: SignalKind.REGISTRATION_CHANGED,
        SignalType.MERGER_OR_DIVISION_2025: SignalKind.REGISTRATION_CHANGED,
        SignalType.ACTIVITIES_CHANGED_2025: SignalKind.REGISTRATION_CHANGED,
    },
    assumed_types={
        SignalType.ADDRESS_CHANGED_2025,
        SignalType.NAMING_CHANGED_2025,
        SignalType.MERGER_OR_DIVISION_2025,
        SignalType.ACTIVITIES_CHANGED_2025,
    },
)
"""The names as the sources give them; correct them with `SignalNames.override`.

Assumed: the four ``_2025_01`` types that only a third-party file names (an
address change is taken to concern a branch when the signal names one), the
branch number's field name and the page-size limits (10 to 500)."""


# --- wire models ---------------------------------------------------------------------------


def _utc(value: object) -> object:
    """Timestamps as aware datetimes; one without a zone is taken as UTC (assumption)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value  # pydantic names the field and the bad value
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _open_type(value: object) -> object:
    """A known ``signaalType`` as its `SignalType`; any other text kept as it is.

    A null type is an unknown type (``""``), never an error.
    """
    if value is None:
        return ""
    if isinstance(value, str) and value in SignalType._value2member_map_:
        return SignalType(value)
    return value


Timestamp = Annotated[dt.datetime, BeforeValidator(_utc)]
OpenSignalType = Annotated[SignalType | str, BeforeValidator(_open_type)]


def _digits(value: object, width: int) -> object:
    """A number KvK sent as a JSON number, as its text with the leading zeros JSON lost.

    KvK numbers are 8 digits and branch numbers 12, leading zeros included
    (KvK's documented form): a JSON *number* lost them, so they are put back.
    Text is kept as sent: a 7-digit text is not guessed at (the item is unreadable).
    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**width:
        return str(value).zfill(width)
    return value


def _flag(value: object) -> object:
    if isinstance(value, str) and value.strip().casefold() in {"ja", "j", "true"}:
        return True
    if isinstance(value, str) and value.strip().casefold() in {"nee", "n", "false"}:
        return False
    return value


class Signal(_Wire):
    """One change signal of a subscription (an item of ``signalen``).

    Attributes:
        id: The signal's id (a UUID in KvK's test environment).
        timestamp: When KvK registered the signal (UTC).
        kvk_number: The registration it concerns (a JSON number is zero-padded to 8 digits).
        branch_number: The branch it concerns, when the signal names one (an
            empty ``vestigingsnummer`` names none).
        type: The ``signaalType``: a `SignalType`, or the text of a type not known
            here (``""`` when the item has none: an unknown type).
        kind: What the type means (from the `SignalNames` it was read with).
    """

    id: str = Field(min_length=1, max_length=200)
    timestamp: Timestamp
    kvk_number: KvKNumber
    branch_number: BranchNumber | None = None
    type: OpenSignalType = Field("", alias="signaalType")
    kind: SignalKind = SignalKind.UNKNOWN

    @field_validator("kvk_number", mode="before")
    @classmethod
    def _kvk_number(cls, value: object) -> object:
        return _digits(value, 8)

    @field_validator("branch_number", mode="before")
    @classmethod
    def _branch_number(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None  # an empty vestigingsnummer: the signal names no branch
        return _digits(value, 12)

    @model_validator(mode="before")
    @classmethod
    def _wire_names(cls, data: Any, info: ValidationInfo) -> Any:
        """Rename the item's number fields by the `SignalNames` and derive the kind."""
        if not isinstance(data, dict):
            return data
        names: SignalNames = (info.context or {}).get("names", SIGNAL_NAMES)
        data = dict(data)
        for attribute, candidates in (
            ("kvk_number", names.kvk_number),
            ("branch_number", names.branch_number),
        ):
            if attribute not in data:
                found = next((name for name in candidates if name in data), None)
                if found is not None:
                    data[attribute] = data.pop(found)
        if isinstance(data.get("signaalType"), str) and "kind" not in data:
            data["kind"] = names.kind_of(data["signaalType"])
        return data


class UnreadableSignal(pydantic.BaseModel):
    """An item of ``signalen`` that cannot be read as a `Signal`, kept as KvK sent it.

    It never fails its page: the other signals and the bookmark go on, and the
    item is reported (logged, counted in `SignalUpdates.unreadable`) for a person.

    Attributes:
        id: The item's ``id`` when it has a usable one.
        reason: What is wrong (field and message).
        raw: The item as sent.
    """

    model_config = pydantic.ConfigDict(frozen=True)

    id: str | None = None
    reason: str
    raw: Any = Field(repr=False)

    @classmethod
    def of(cls, item: Any, reason: str) -> UnreadableSignal:
        """The unreadable item ``item``, with its id when it has a text one."""
        found = item.get("id") if isinstance(item, dict) else None
        usable = isinstance(found, str) and 0 < len(found) <= 200
        return cls(id=found if usable else None, reason=reason, raw=item)


def _read_items(items: list[Any], context: Any) -> tuple[list[Signal], list[UnreadableSignal]]:
    """Each item on its own: one that cannot be read never fails the others."""
    good: list[Signal] = []
    bad: list[UnreadableSignal] = []
    for item in items:
        try:
            good.append(Signal.model_validate(item, context=context))
        except (pydantic.ValidationError, RecursionError) as exc:
            bad.append(UnreadableSignal.of(item, _model_reason(Signal, exc)))
    return good, bad


class SignalPage(_Wire):
    """One page of a subscription's signals (``listSignalsByAbonnementId``)."""

    page: int = Field(1, alias="pagina", ge=0)
    per_page: int | None = Field(None, alias="aantal", ge=0)
    total: int | None = Field(None, alias="totaal", ge=0)
    total_pages: int | None = Field(None, alias="totaalPaginas", ge=0)
    next: Any = Field(None, alias="volgende", repr=False)
    previous: Any = Field(None, alias="vorige", repr=False)
    signals: list[Signal] = Field(default_factory=list, fail_fast=True)
    unreadable: list[UnreadableSignal] = Field(default_factory=list, repr=False)
    """The items that could not be read (kept, never failing the page)."""

    @model_validator(mode="before")
    @classmethod
    def _signal_list(cls, data: Any, info: ValidationInfo) -> Any:
        """Find the list under its wire name, at the top or under HAL's ``_embedded``."""
        if not isinstance(data, dict) or "signals" in data:
            return data
        names: SignalNames = (info.context or {}).get("names", SIGNAL_NAMES)
        embedded = data.get("_embedded")
        for where in (data, embedded if isinstance(embedded, dict) else {}):
            found = next((name for name in names.signal_list if name in where), None)
            if found is None:
                continue
            items = where[found]
            if not isinstance(items, list):
                return {**data, "signals": items}  # not a list: the page itself is bad
            good, bad = _read_items(items, info.context)
            return {**data, "signals": good, "unreadable": bad}
        return data


class Subscription(_Wire):
    """A Mutatieservice subscription (``abonnement``); its id never changes.

    The date formats are not documented: ``start_date`` and ``end_date`` are kept as sent.
    """

    id: str = Field(min_length=1, max_length=200)
    contract: dict[str, Any] = Field(default_factory=dict, repr=False)
    start_date: str | None = Field(None, alias="startDatum")
    end_date: str | None = Field(None, alias="eindDatum")
    active: bool | None = Field(None, alias="actief")

    @field_validator("active", mode="before")
    @classmethod
    def _active(cls, value: object) -> object:
        return _flag(value)

    @field_validator("start_date", "end_date", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

    @property
    def contract_id(self) -> str | None:
        """The id of the contract the subscription belongs to."""
        value = self.contract.get("id")
        return None if value is None else str(value)


class SubscriptionList(_Wire):
    """The customer's subscriptions (``listAbonnementen``)."""

    customer_id: str | None = Field(None, alias="klantId")
    subscriptions: list[Subscription] = Field(
        default_factory=list, alias="abonnementen", fail_fast=True
    )

    @field_validator("customer_id", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


class SignalDetail(_Wire):
    """One signal's detail (``getSignalByAbonnementIdAndSignalId``): only metadata.

    KvK's detail says *what kind* of data changed, not the new values: fetch
    the profile for those. The blocks are kept as KvK sends them.

    Attributes:
        message_id: ``berichtId``.
        type: The ``signaalType`` (open, as in `Signal`).
        registration_id: ``registratieId``.
        registered_at: ``registratieTijdstip``.
        correction: ``indicatieCorrectie``: the signal corrects an earlier one.
        concerns: ``heeftBetrekkingOp``: the registration (``kvkNummer``, branches, ...).
        changed: ``heeftGewijzigdeGegevens``: which blocks changed.
    """

    message_id: str | None = Field(None, alias="berichtId")
    type: OpenSignalType | None = Field(None, alias="signaalType")
    registration_id: str | None = Field(None, alias="registratieId")
    registered_at: Timestamp | None = Field(None, alias="registratieTijdstip")
    correction: bool | None = Field(None, alias="indicatieCorrectie")
    concerns: dict[str, Any] = Field(default_factory=dict, alias="heeftBetrekkingOp", repr=False)
    changed: dict[str, Any] = Field(
        default_factory=dict, alias="heeftGewijzigdeGegevens", repr=False
    )

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, data: Any) -> Any:
        """The answer wraps the signal in ``{"signaal": {...}}``."""
        if isinstance(data, dict) and isinstance(data.get("signaal"), dict):
            return {**data["signaal"], **{k: v for k, v in data.items() if k != "signaal"}}
        return data

    @field_validator("correction", mode="before")
    @classmethod
    def _correction(cls, value: object) -> object:
        return _flag(value)

    @field_validator("registration_id", "message_id", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @property
    def kvk_number(self) -> str | None:
        """``heeftBetrekkingOp.kvkNummer``."""
        value = self.concerns.get("kvkNummer")
        return value if isinstance(value, str) else None

    @property
    def branch_numbers(self) -> list[str]:
        """The branches named in ``heeftBetrekkingOp.wordtUitgeoefendIn``."""
        places = self.concerns.get("wordtUitgeoefendIn")
        if not isinstance(places, list):
            return []
        return [
            str(p["vestigingsnummer"])
            for p in places
            if isinstance(p, dict) and p.get("vestigingsnummer")
        ]
