"""Matching CRM organisations to the KvK register: PerfectView's cascade.

The strategies run in this order, and the cascade stops at the first one
that gives an unambiguous best candidate:

1. KvK number + branch number (or KvK number alone),
2. name + city,
3. name,
4. postcode + house number (+ letter and addition).

Where no candidate stands out, every step has run and every candidate of
every step is in the result, with all the steps that found it
(`Candidate.strategies`), for a person to choose from, as PerfectView
shows the matches of all criteria.

Only Zoeken is used, which is free. Scoring is pure (`score_result`), so
it is tested without I/O; `Matcher` adds the calls.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from enum import StrEnum
from typing import Any

import anyio
import attrs

from .. import validation
from ..errors import CrmConnectError, is_retriable
from ..errors import ValidationError as CrmValidationError
from ..models import Organisation
from ._client import AsyncKvKClient, KvKClient
from ._models import SearchResult
from ._normalise import best_name_similarity, house_number_matches, normalise_name, same_city
from ._updates import TABLE_STYLE

__all__ = [
    "AsyncMatcher",
    "Candidate",
    "MatchResult",
    "MatchSettings",
    "MatchStatus",
    "Matcher",
    "ProgressCallback",
    "Strategy",
    "score_result",
]

ProgressCallback = Callable[[int, int, "MatchResult"], None]
"""Called after each record with (records done, records in total, its result)."""


class Strategy(StrEnum):
    """How a candidate was found."""

    KVK_NUMBER = "kvk_number"
    NAME_CITY = "name_city"
    NAME = "name"
    POSTCODE = "postcode_house_number"


class MatchStatus(StrEnum):
    """The outcome of matching one record."""

    MATCHED = "matched"
    """One candidate stands out: `MatchResult.best` is set."""
    AMBIGUOUS = "ambiguous"
    """Candidates were found but none stands out: a person must choose."""
    NO_MATCH = "no_match"
    """The register gave nothing for any strategy."""
    ERROR = "error"
    """The search failed; see `MatchResult.error`."""


@attrs.frozen
class MatchSettings:
    """Thresholds of the matcher.

    Attributes:
        min_score: The best candidate needs at least this score (0-100).
        margin: ... and must lead the runner-up by at least this much.
        per_page: Search results considered per strategy (1-100).
        include_inactive: Also match ended registrations.
    """

    min_score: float = 80.0
    margin: float = 5.0
    per_page: int = 20
    include_inactive: bool = False


@attrs.frozen
class Candidate:
    """A register entry that may be the CRM record.

    Attributes:
        score: 0-100; higher is more certain.
        strategy: The strategy that found it first.
        strategies: Every strategy that found it, in cascade order.
        kvk_number: Its KvK number.
        branch_number: Its branch number (``None`` for a legal entity without branches).
        name: Its name in the register.
        address: Its address as Zoeken shows it, on one line.
        type: ``hoofdvestiging``, ``nevenvestiging`` or ``rechtspersoon``.
    """

    score: float
    strategy: Strategy
    kvk_number: str
    branch_number: str | None
    name: str
    address: str
    type: str | None
    strategies: tuple[Strategy, ...] = ()

    @property
    def steps(self) -> str:
        """Every step that found it, e.g. ``"name_city + name"``."""
        return " + ".join(step.value for step in self.strategies or (self.strategy,))

    @property
    def key(self) -> tuple[str, str | None]:
        """What identifies the candidate: KvK number and branch number."""
        return (self.kvk_number, self.branch_number)


@attrs.frozen
class MatchResult:
    """The candidates for one CRM record, ranked, and the best one if it is clear.

    Attributes:
        organisation: The CRM record that was matched.
        candidates: Ranked, best first.
        best: The unambiguous match, or ``None`` when a person must choose.
        error: Why matching failed, when it did.
        notes: Remarks, e.g. a CRM KvK number that was skipped as invalid.
        enriched: Register data for ``best``, when the matcher was asked to enrich.
    """

    organisation: Organisation
    candidates: tuple[Candidate, ...] = ()
    best: Candidate | None = None
    error: CrmConnectError | None = None
    notes: tuple[str, ...] = ()
    enriched: Organisation | None = None

    def found_by(self, strategy: Strategy) -> tuple[Candidate, ...]:
        """The candidates a step found, ranked (a candidate may be found by several)."""
        return tuple(c for c in self.candidates if strategy in c.strategies)

    @property
    def status(self) -> MatchStatus:
        """Matched, ambiguous, no match, or error."""
        if self.error is not None:
            return MatchStatus.ERROR
        if self.best is not None:
            return MatchStatus.MATCHED
        return MatchStatus.AMBIGUOUS if self.candidates else MatchStatus.NO_MATCH

    def _repr_html_(self) -> str:
        return _match_html(self)


def _city_of(org: Organisation) -> str | None:
    address = org.visiting_address or org.postal_address
    return address.city if address else None


def score_result(org: Organisation, result: SearchResult, strategy: Strategy) -> float:
    """Score one search result against a CRM record (0-100, pure).

    A result with the record's own KvK and branch number scores 100. Results
    found by KvK number score 80-99 (a main branch gets 8 more; name, city and
    address break ties).
    Others weigh name similarity (60 %), city (25 %) and address (15 %); an
    unknown city or address counts half.
    """
    found = result.address
    own_branch = org.branch_number and result.branch_number == _padded_branch(org.branch_number)
    if strategy is Strategy.KVK_NUMBER and own_branch:
        return 100.0
    names = [org.name, *org.trade_names]
    register_names = [n for n in (result.name, result.expired_name) if n]
    name = max(best_name_similarity(n, register_names) for n in names)
    city = _agreement(_city_of(org), found.city if found else None, same_city)
    address = 1.0 if strategy is Strategy.POSTCODE else _street_agreement(org, result)
    if strategy is Strategy.KVK_NUMBER:
        main = 8.0 if result.type == "hoofdvestiging" else 0.0
        return min(99.0, 80.0 + main + 11.0 * (0.5 * name / 100 + 0.3 * city + 0.2 * address))
    return round(0.6 * name + 25.0 * city + 15.0 * address, 1)


def _agreement(ours: str | None, theirs: str | None, same: Callable[[str, str], bool]) -> float:
    if not ours or not theirs:
        return 0.5
    return 1.0 if same(ours, theirs) else 0.0


def _street_agreement(org: Organisation, result: SearchResult) -> float:
    ours = org.visiting_address or org.postal_address
    found = result.address
    if ours is None or found is None:
        return 0.5
    return _agreement(
        ours.street, found.street, lambda a, b: normalise_name(a) == normalise_name(b)
    )


def _padded_branch(value: str) -> str | None:
    try:
        return validation.branch_number(value)
    except CrmValidationError:
        return None


# Legal-form words dropped from the name sent to KvK: Zoeken matches whole words,
# so "Jansen Bouw BV" would miss "Jansen Bouw B.V.". Scoring compares all forms.
_LEGAL_WORDS = frozenset(
    "bv b.v. b.v nv n.v. n.v vof v.o.f. v.o.f cv c.v. c.v ua u.a. wa w.a. ba b.a. "
    "i.o. io eenmanszaak".split()
)


def query_name(name: str) -> str:
    """The name to send to Zoeken: legal-form words and stray punctuation removed."""
    words = re.sub(r"[,;:\"()]", " ", name).split()
    while words and words[-1].casefold() in _LEGAL_WORDS:
        words.pop()
    while words and words[0].casefold() in _LEGAL_WORDS:
        words.pop(0)
    return " ".join(words) or name.strip()


class _Cascade:
    """The state of matching one record: which searches to run, what they found."""

    def __init__(self, org: Organisation, settings: MatchSettings) -> None:
        self.org = org
        self.settings = settings
        self.notes: list[str] = []
        self.found: dict[tuple[str, str | None], Candidate] = {}

    def steps(self) -> list[tuple[Strategy, dict[str, Any]]]:
        """The searches to try, in cascade order, with their parameters."""
        org, steps = self.org, []
        common = {
            "per_page": self.settings.per_page,
            "include_inactive": self.settings.include_inactive,
        }
        if org.kvk_number:
            try:
                kvk = validation.kvk_number(org.kvk_number)
                steps.append((Strategy.KVK_NUMBER, {"kvk_number": kvk, **common}))
            except CrmValidationError as exc:
                self.notes.append(f"KvK number skipped: {exc}")
        name = query_name(org.name) if org.name else ""
        city = _city_of(org)
        if name and city:
            steps.append((Strategy.NAME_CITY, {"name": name, "city": city, **common}))
        if name:
            steps.append((Strategy.NAME, {"name": name, **common}))
        steps.extend(self._postcode_step(common))
        return steps

    def _postcode_step(self, common: dict[str, Any]) -> list[tuple[Strategy, dict[str, Any]]]:
        address = self.org.visiting_address or self.org.postal_address
        if address is None or not address.postcode or not address.house_number:
            return []
        try:
            postcode = validation.postcode(address.postcode)
        except CrmValidationError as exc:
            self.notes.append(f"postcode skipped: {exc}")
            return []
        params = {"postcode": postcode, "house_number": address.house_number, **common}
        return [(Strategy.POSTCODE, params)]

    def add(self, strategy: Strategy, results: Iterable[SearchResult]) -> bool:
        """Score what a search found; ``True`` when a clear best candidate exists."""
        for result in results:
            if strategy is Strategy.POSTCODE and not self._house_fits(result):
                continue
            candidate = Candidate(
                score=score_result(self.org, result, strategy),
                strategy=strategy,
                kvk_number=result.kvk_number,
                branch_number=result.branch_number,
                name=result.name,
                address=_one_line(result),
                type=result.type,
                strategies=(strategy,),
            )
            known = self.found.get(candidate.key)
            if known is not None:
                # The strategy that found it first, every strategy that found it, the best score.
                best = candidate if candidate.score > known.score else known
                strategies = (*known.strategies, strategy)
                candidate = attrs.evolve(best, strategy=known.strategy, strategies=strategies)
            self.found[candidate.key] = candidate
        return self.best() is not None

    def _house_fits(self, result: SearchResult) -> bool:
        """Letter and addition (toevoeging) of the CRM address against the result's.

        Zoeken v2 shows the house letter but no addition, so a CRM addition is
        held against the register's letter (``3-A`` is often a letter written
        as an addition) and against an addition where the answer has one.
        """
        ours = self.org.visiting_address or self.org.postal_address
        found = result.address
        if ours is None or found is None:
            return True
        return house_number_matches(
            ours.house_letter,
            ours.house_number_addition,
            found.house_letter,
            found.house_number_addition,
        )

    def ranked(self) -> tuple[Candidate, ...]:
        """All candidates, best first (ties: by KvK and branch number, for stability)."""
        return tuple(
            sorted(
                self.found.values(), key=lambda c: (-c.score, c.kvk_number, c.branch_number or "")
            )
        )

    def best(self) -> Candidate | None:
        """The best candidate if it is good enough and clearly ahead."""
        ranked = self.ranked()
        if not ranked or ranked[0].score < self.settings.min_score:
            return None
        if len(ranked) == 1:
            return ranked[0]
        # A perfect score (own KvK and branch number) needs no margin, only to be alone.
        if ranked[0].score >= 100.0 > ranked[1].score:
            return ranked[0]
        if ranked[0].score - ranked[1].score < self.settings.margin:
            return None
        return ranked[0]

    def result(self, error: CrmConnectError | None = None) -> MatchResult:
        """The outcome so far."""
        return MatchResult(
            organisation=self.org,
            candidates=self.ranked(),
            best=None if error else self.best(),
            error=error,
            notes=tuple(self.notes),
        )


def _one_line(result: SearchResult) -> str:
    found = result.address
    if found is not None:
        house = (found.house_number, found.house_letter, found.house_number_addition)
        number = " ".join(str(p) for p in house if p)
        street = " ".join(p for p in (found.street, number) if p)
        place = " ".join(p for p in (found.postcode, found.city) if p)
        return ", ".join(p for p in (street, place) if p)
    foreign = result.foreign_address
    if foreign is not None:
        parts = (foreign.street_and_number, foreign.postcode_and_city, foreign.country)
        return ", ".join(p for p in parts if p)
    return ""


class Matcher:
    """Matches CRM organisations to the register with PerfectView's cascade.

    Args:
        client: A `KvKClient` (only its free `search` is used, unless ``enrich``).
        settings: Thresholds.
        enrich: Fetch the register data (paid, cached by the client) of every
            unambiguous match into `MatchResult.enriched`.

    Example:
        ```python
        with KvKClient(environment="test") as kvk:
            result = Matcher(kvk).match(Organisation(name="Test EMZ Dagobert"))
            print(result.status, result.best)
        ```
    """

    def __init__(
        self, client: KvKClient, settings: MatchSettings | None = None, *, enrich: bool = False
    ) -> None:
        self.client = client
        self.settings = settings or MatchSettings()
        self.enrich = enrich

    def match(self, org: Organisation) -> MatchResult:
        """Match one record. Failures are reported in the result, never raised."""
        cascade = _Cascade(org, self.settings)
        try:
            for strategy, params in cascade.steps():
                if cascade.add(strategy, self.client.search(**params).results):
                    break
            result = cascade.result()
            if self.enrich and result.best is not None:
                enriched = self.client.organisation(
                    result.best.kvk_number, result.best.branch_number
                )
                result = attrs.evolve(result, enriched=enriched)
            return result
        except CrmConnectError as exc:
            return cascade.result(error=exc)

    def match_many(
        self,
        orgs: Sequence[Organisation],
        *,
        workers: int = 8,
        on_progress: ProgressCallback | None = None,
    ) -> list[MatchResult]:
        """Match many records concurrently, within the client's rate limit.

        Records that failed with a retriable error (after the client's own
        retries) are tried once more at the end; nothing is dropped: the list
        has one result per record, in input order.

        Args:
            orgs: The CRM records.
            workers: Searches in flight at once.
            on_progress: Called after each record.
        """
        results: list[MatchResult | None] = [None] * len(orgs)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(self.match, org): i for i, org in enumerate(orgs)}
            for done, future in enumerate(as_completed(futures), start=1):
                result = results[futures[future]] = future.result()
                if on_progress is not None:
                    on_progress(done, len(orgs), result)
        return [
            self.match(r.organisation) if _retry_worthy(r) else r for r in results if r is not None
        ]


def _retry_worthy(result: MatchResult) -> bool:
    return result.error is not None and is_retriable(result.error)


class AsyncMatcher:
    """The asynchronous twin of `Matcher`, on an `AsyncKvKClient`.

    Example:
        ```python
        async with AsyncKvKClient(environment="test") as kvk:
            results = await AsyncMatcher(kvk).match_many(records)
        ```
    """

    def __init__(
        self,
        client: AsyncKvKClient,
        settings: MatchSettings | None = None,
        *,
        enrich: bool = False,
    ) -> None:
        self.client = client
        self.settings = settings or MatchSettings()
        self.enrich = enrich

    async def match(self, org: Organisation) -> MatchResult:
        """Match one record. Failures are reported in the result, never raised."""
        cascade = _Cascade(org, self.settings)
        try:
            for strategy, params in cascade.steps():
                if cascade.add(strategy, (await self.client.search(**params)).results):
                    break
            result = cascade.result()
            if self.enrich and result.best is not None:
                best = result.best
                enriched = await self.client.organisation(best.kvk_number, best.branch_number)
                result = attrs.evolve(result, enriched=enriched)
            return result
        except CrmConnectError as exc:
            return cascade.result(error=exc)

    async def match_many(
        self,
        orgs: Sequence[Organisation],
        *,
        concurrency: int = 8,
        on_progress: ProgressCallback | None = None,
    ) -> list[MatchResult]:
        """Match many records concurrently (see `Matcher.match_many`).

        Args:
            orgs: The CRM records.
            concurrency: Records in progress at once.
            on_progress: Called after each record.
        """
        results: list[MatchResult | None] = [None] * len(orgs)
        limiter = anyio.CapacityLimiter(max(1, concurrency))
        done = 0

        async def one(index: int, org: Organisation) -> None:
            nonlocal done
            async with limiter:
                result = results[index] = await self.match(org)
            done += 1  # no await between read and write: safe on one event loop
            if on_progress is not None:
                on_progress(done, len(orgs), result)

        async with anyio.create_task_group() as group:
            for index, org in enumerate(orgs):
                group.start_soon(one, index, org)
        return [
            await self.match(r.organisation) if _retry_worthy(r) else r
            for r in results
            if r is not None
        ]


def _match_html(result: MatchResult) -> str:
    esc = html.escape
    best_style = ' style="background:#e6f4ea;font-weight:bold"'
    rows = "".join(
        f"<tr{best_style if c is result.best else ''}>"
        f"<td>{c.score:.1f}</td><td>{esc(c.steps)}</td><td>{esc(c.kvk_number)}</td>"
        f"<td>{esc(c.branch_number or '')}</td><td>{esc(c.name)}</td><td>{esc(c.address)}</td></tr>"
        for c in result.candidates
    )
    error = f"<p style='color:#b00'>{esc(str(result.error))}</p>" if result.error else ""
    return (
        f"<div><p><b>{esc(result.organisation.name)}</b>: {esc(result.status.value)}</p>{error}"
        f"<table {TABLE_STYLE}><thead><tr><th>score</th><th>strategy</th><th>KvK number</th>"
        "<th>branch</th><th>name</th><th>address</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )
