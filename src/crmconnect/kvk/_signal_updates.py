"""`SignalUpdateService`: the update service driven by KvK's change signals, not by polling.

`UpdateService` fetches a paid profile of every linked organisation on every
check. With a Mutatieservice subscription, KvK says which registrations
changed; this service reads those signals, maps each to the linked records
(by KvK number and branch number) and re-checks only those, through
`UpdateService`, so the reports are the same `UpdateReport`s. A signal that
ends the registration (`SignalKind.REGISTRATION_ENDED`) is reported as a
removal at once, without a paid call.

Windows and the bookmark: each run reads the window from the previous run's
end *minus an overlap* up to now. KvK publishes a signal up to 15 minutes
after the change, and clocks differ, so a signal may appear in a window
already read; the overlap reads it again, and the ids of the signals already
handled (kept in the bookmark for the overlap's length) keep it from being
handled twice. Records whose check failed are kept in the bookmark and
re-checked on the next run. The bookmark is a small JSON text the caller
stores after it has stored the reports (e.g. ``StateStore.set_bookmark``):
a run whose bookmark was not stored is read again, so nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import attrs

from ..errors import ConfigurationError
from ..errors import ValidationError as CrmValidationError
from ..models import Organisation
from ._client import KvKClient
from ._signal_models import SIGNAL_NAMES, Signal, SignalKind, SignalNames, UnreadableSignal
from ._signals import _log_unreadable
from ._updates import RegistrationStatus, UpdateReport, UpdateService, UpdateSummary

__all__ = ["DEFAULT_SIGNAL_OVERLAP", "SignalBookmark", "SignalUpdateService", "SignalUpdates"]

DEFAULT_SIGNAL_OVERLAP: Final = dt.timedelta(hours=1)
"""How far each window reaches back into the previous one (KvK: signals within 15 minutes)."""

BOOKMARK_KIND: Final = "kvk-signals"
_VERSION: Final = 1
_KVK = re.compile(r"[0-9]{8}")
_BRANCH = re.compile(r"[0-9]{12}")

RecordKey = tuple[str, str | None]
"""A linked record by KvK number and branch number."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _whole_seconds(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(microsecond=0)


def _key(org: Organisation) -> RecordKey:
    return (str(org.kvk_number), org.branch_number or None)


@attrs.frozen
class SignalBookmark:
    """Where the signal-driven updates stand; stored by the caller as JSON text.

    Attributes:
        subscription_id: The subscription read.
        until: The end of the last window read (UTC, whole seconds).
        seen: Ids of the signals handled whose time lies in the overlap.
        retry: Records (KvK number, branch number) whose check failed: checked next run.
    """

    subscription_id: str
    until: dt.datetime
    seen: frozenset[str] = frozenset()
    retry: tuple[RecordKey, ...] = ()

    def dumps(self) -> str:
        """The bookmark as compact JSON text."""
        data = {
            "kind": BOOKMARK_KIND,
            "version": _VERSION,
            "subscription": self.subscription_id,
            "until": self.until.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seen": sorted(self.seen),
            "retry": [list(key) for key in sorted(self.retry, key=lambda k: (k[0], k[1] or ""))],
        }
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> SignalBookmark:
        """Read a bookmark written by `dumps`.

        Raises:
            ValidationError: The text is not such a bookmark (field ``bookmark``).
        """
        shown = text[:60] + "..." if isinstance(text, str) and len(text) > 60 else text
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("kind") != BOOKMARK_KIND:
                raise ValueError(f"not a {BOOKMARK_KIND} bookmark")
            if data.get("version") != _VERSION:
                raise ValueError(f"version {data.get('version')!r}; this release reads {_VERSION}")
            return cls(
                _text(data.get("subscription"), "subscription"),
                _instant(data.get("until")),
                frozenset(_text(item, "seen") for item in _list(data.get("seen"), "seen")),
                tuple(_record(item) for item in _list(data.get("retry"), "retry")),
            )
        except (ValueError, TypeError, RecursionError) as exc:
            reason = str(exc)
        raise CrmValidationError("bookmark", shown, reason)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be text")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list")
    return value


def _instant(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(_text(value, "until").replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("until has no time zone")
    return moment.astimezone(dt.UTC)


def _record(value: Any) -> RecordKey:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("a retry entry is [kvk_number, branch_number]")
    kvk, branch = value
    if not isinstance(kvk, str) or not _KVK.fullmatch(kvk):
        raise ValueError(f"retry: {kvk!r} is not a KvK number")
    if branch is not None and (not isinstance(branch, str) or not _BRANCH.fullmatch(branch)):
        raise ValueError(f"retry: {branch!r} is not a branch number")
    return kvk, branch


@attrs.frozen
class SignalUpdates:
    """The outcome of one signal-driven check; iterate it for the reports.

    Attributes:
        reports: One report per affected record, in input order: removals
            signalled by KvK, and the re-checks of changed registrations.
        bookmark: The bookmark to store once the reports are stored.
        signals: The new signals handled in this run (oldest first).
        since: Start of the window read.
        until: End of the window read.
        fetched: Records re-checked with a profile (paid calls: one each for a
            main branch with PerfectView's fields).
        unreadable: The new items of the window that could not be read as
            signals, kept as sent for a person to look at (each also logged);
            they never stop the other signals or the bookmark.
    """

    reports: tuple[UpdateReport, ...]
    bookmark: str
    signals: tuple[Signal, ...]
    since: dt.datetime
    until: dt.datetime
    fetched: int
    unreadable: tuple[UnreadableSignal, ...] = ()

    def __iter__(self) -> Iterator[UpdateReport]:
        return iter(self.reports)

    def __len__(self) -> int:
        return len(self.reports)

    @property
    def summary(self) -> UpdateSummary:
        """The reports as an `UpdateSummary` (pending updates, removals, errors)."""
        return UpdateSummary(self.reports)


class SignalUpdateService:
    """Checks linked CRM records for changes by KvK's Mutatieservice signals.

    Args:
        client: A `KvKClient` (or an `UpdateService` whose client is used).
        subscription_id: The Mutatieservice subscription; the key's only
            active one when omitted (looked up once).
        overlap: How far each window reaches back into the previous one; longer
            than KvK's publication delay (15 minutes) plus any clock difference.
        names: The Mutatieservice's names and signal types (see `SIGNAL_NAMES`).
        per_page: Signals per request (``aantal``).
        clock: Gives "now" (aware); the end of each window.

    Example:
        ```python
        service = SignalUpdateService(kvk)
        result = service.check_updates(crm_records, store.bookmark("kvk-signals"))
        for report in result:  # the same UpdateReports as UpdateService's
            ...
        store.set_bookmark("kvk-signals", result.bookmark)
        ```
    """

    def __init__(
        self,
        client: KvKClient | UpdateService,
        subscription_id: str | None = None,
        *,
        overlap: dt.timedelta = DEFAULT_SIGNAL_OVERLAP,
        names: SignalNames = SIGNAL_NAMES,
        per_page: int | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.updates = client if isinstance(client, UpdateService) else UpdateService(client)
        if not isinstance(self.updates.client, KvKClient):  # type: ignore[redundant-expr,unused-ignore]
            kind = type(client).__name__  # type: ignore[unreachable]
            raise ConfigurationError(f"SignalUpdateService needs a KvKClient, not {kind}")
        if not isinstance(overlap, dt.timedelta) or overlap < dt.timedelta(0):
            raise ConfigurationError(f"overlap must be a timedelta of 0 or more, not {overlap!r}")
        self.client = self.updates.client
        self._subscription_id = subscription_id
        self.overlap = overlap
        self.names = names
        self.per_page = per_page if per_page is not None else names.max_per_page
        self.clock = clock or _utc_now

    def __repr__(self) -> str:
        subscription = self._subscription_id
        return f"SignalUpdateService(subscription_id={subscription!r}, overlap={self.overlap})"

    @property
    def subscription_id(self) -> str:
        """The subscription read (the key's only active one, looked up on first use).

        Raises:
            ConfigurationError: The key has no active subscription, or several.
        """
        if self._subscription_id is None:
            active = [s.id for s in self.client.subscriptions() if s.active is not False]
            if len(active) != 1:
                found = "no active subscription" if not active else f"several: {active}"
                raise ConfigurationError(
                    f"KvK's Mutatieservice: {found} for this key; pass subscription_id"
                )
            self._subscription_id = active[0]
        return self._subscription_id

    def start(self, at: dt.datetime | None = None) -> str:
        """A bookmark whose next window begins at ``at`` (now): take it as a full check starts."""
        when = _whole_seconds(at if at is not None else self.clock())
        return SignalBookmark(self.subscription_id, when).dumps()

    def check_updates(
        self,
        orgs: Sequence[Organisation],
        bookmark: str | None,
        *,
        workers: int = 4,
        on_progress: Callable[[int, int, UpdateReport], None] | None = None,
    ) -> SignalUpdates:
        """Read the signals since the bookmark and check the records they concern.

        Args:
            orgs: The linked CRM records (those without a KvK number are skipped).
            bookmark: The previous run's `SignalUpdates.bookmark`; ``None`` starts
                with the last ``overlap`` (run a full `UpdateService` check first).
            workers: Profile requests in flight at once.
            on_progress: Called after each re-checked record with (done, total, report).

        Raises:
            ValidationError: The bookmark is not one, or belongs to another subscription.
        """
        subscription = self.subscription_id
        previous = SignalBookmark.loads(bookmark) if bookmark is not None else None
        if previous is not None and previous.subscription_id != subscription:
            raise CrmValidationError(
                "bookmark",
                previous.subscription_id,
                f"belongs to another subscription than {subscription}",
            )
        # Up to the next whole second: a change made just before the run is in its window.
        until = _whole_seconds(self.clock() + dt.timedelta(seconds=1))
        since = (previous.until if previous else until) - self.overlap
        until = max(until, since + dt.timedelta(seconds=1))  # a clock set back: a tiny window
        odd: list[UnreadableSignal] = []
        read = list(
            self.client.signals(
                subscription,
                since=since,
                until=until,
                per_page=self.per_page,
                names=self.names,
                on_unreadable=odd.append,
            )
        )
        seen = previous.seen if previous else frozenset()
        new = sorted((s for s in read if s.id not in seen), key=lambda s: s.timestamp)
        unreadable = tuple(u for u in odd if u.id is None or u.id not in seen)
        for item in unreadable:
            _log_unreadable(item)
        retry = set(previous.retry) if previous else set()
        reports, fetched, failed = self._reports(orgs, new, retry, workers, on_progress)
        next_seen = frozenset(s.id for s in read if s.timestamp >= until - self.overlap)
        next_seen |= {u.id for u in odd if u.id is not None}  # reported once, not per overlap
        mark = SignalBookmark(subscription, until, next_seen, tuple(sorted(failed, key=str)))
        return SignalUpdates(reports, mark.dumps(), tuple(new), since, until, fetched, unreadable)

    def _reports(
        self,
        orgs: Sequence[Organisation],
        signals: Sequence[Signal],
        retry: set[RecordKey],
        workers: int,
        on_progress: Callable[[int, int, UpdateReport], None] | None,
    ) -> tuple[tuple[UpdateReport, ...], int, set[RecordKey]]:
        linked = [(i, org) for i, org in enumerate(orgs) if org.kvk_number]
        ended, changed = _affected(linked, signals)
        changed |= {i for i, org in linked if _key(org) in retry}
        changed -= set(ended)
        by_index: dict[int, UpdateReport] = {
            i: UpdateReport(orgs[i], None, status, reason=reason)
            for i, (status, reason) in ended.items()
        }
        order = sorted(changed)
        summary = self.updates.check_updates_many(
            [orgs[i] for i in order], workers=workers, on_progress=on_progress
        )
        by_index.update(zip(order, summary.reports, strict=True))
        failed = {_key(orgs[i]) for i, r in by_index.items() if r.error is not None}
        return tuple(by_index[i] for i in sorted(by_index)), len(order), failed


_GONE: Final = {
    SignalKind.REGISTRATION_ENDED: RegistrationStatus.ENDED,
    SignalKind.REGISTRATION_REMOVED: RegistrationStatus.REMOVED,
}
"""The kinds reported at once, without a profile, and the status each gives (as polling's)."""


def _affected(
    linked: Sequence[tuple[int, Organisation]], signals: Sequence[Signal]
) -> tuple[dict[int, tuple[RegistrationStatus, str]], set[int]]:
    """The records ended by a registration's latest signal, and the records to re-check.

    A signal naming a branch concerns the records of that branch and those that
    describe the whole registration (main branch or no branch: their name,
    employees and trade names are the company's); any other signal concerns
    every record of the KvK number.
    """
    by_kvk: dict[str, list[tuple[int, Organisation]]] = {}
    for index, org in linked:
        by_kvk.setdefault(str(org.kvk_number), []).append((index, org))
    latest: dict[str, Signal] = {}
    changed: set[int] = set()
    for signal in signals:
        records = by_kvk.get(signal.kvk_number, [])
        if not records:
            continue  # a registration the CRM does not hold
        latest[signal.kvk_number] = signal
        changed |= {i for i, org in records if _concerns(signal, org)}
    ended = {
        index: (_GONE[signal.kind], _ended_reason(signal))
        for kvk, signal in latest.items()
        if signal.kind in _GONE
        for index, _ in by_kvk[kvk]
    }
    return ended, changed


def _concerns(signal: Signal, org: Organisation) -> bool:
    if signal.branch_number is None or signal.kind in _GONE:
        return True
    whole = org.branch_number is None or org.is_main_branch is not False
    return whole or org.branch_number == signal.branch_number


def _ended_reason(signal: Signal) -> str:
    when = signal.timestamp.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    what = "removal" if signal.kind is SignalKind.REGISTRATION_REMOVED else "end"
    return f"KvK signalled the {what} of the registration ({signal.type}, {when})"
