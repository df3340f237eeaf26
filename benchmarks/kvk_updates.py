"""Keeping a CRM current with KvK: daily polling beside KvK's Mutatieservice signals.

A CRM links ``--size`` organisations (20,000) to the register; every simulated
day ``--change-rate`` (1 %) of the register's registrations change: addresses,
employees, non-mailing, websites, closed branches, deregistrations and removals,
a few in registrations the CRM does not hold. The KvK sandbox runs in its own
process on loopback (20 ms latency) and records a signal for every change.
Each day the CRM is checked twice, each with its own client at KvK's limit of
100 requests per second:

* by polling: `UpdateService.check_updates_many` over every linked organisation;
* by signals: `SignalUpdateService.check_updates` with the previous day's bookmark.

Printed per day and in total: paid calls (profiles, €0.019 each), Mutatieservice
calls (its own contract), euros, wall time, and whether both checks found exactly
the same changes (per record: removed, or the same changed fields). Accepted
changes are then taken into the CRM, as a person would. Goal: the same changes
at under 2 % of the polling cost.

    .venv/bin/python benchmarks/kvk_updates.py [--size 20000] [--days 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs
from sandbox_process import free_port

from crmconnect import Organisation
from crmconnect.kvk import (
    KvKClient,
    SignalUpdateService,
    UpdateReport,
    UpdateService,
)
from crmconnect.sandbox import TEST_API_KEY, Company, KvKSandbox, generate_companies

EUROS_PER_CALL = 0.019
CHANGE_RATE = 0.01
START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
"""Day 0 begins here (simulated time: the sandbox's signals and the service share it)."""
UNLINKED = 0.1
"""The register holds this fraction more registrations than the CRM links."""


# --- the sandbox process ---------------------------------------------------------------------


def register(size: int, seed: int) -> list[Company]:
    return generate_companies(int(size * (1 + UNLINKED)) + size // 20, seed=seed)


def serve(size: int, seed: int, port: int, latency: float) -> None:
    """The child: a sandbox on loopback, changed a day at a time on ``day N`` commands."""
    sandbox = KvKSandbox(register(size, seed), latency=latency)
    now = [START]
    sandbox.signals.clock = lambda: now[0]
    rng = random.Random(seed * 7 + 1)
    with sandbox.serve(port=port) as url:
        print(f"ready {url}", flush=True)
        for line in sys.stdin:
            command, _, value = line.strip().partition(" ")
            if command == "day":
                count = change_day(sandbox, now, int(value), size, rng)
                print(f"changed {count}", flush=True)
            elif command == "quit":
                return


def change_day(
    sandbox: KvKSandbox, now: list[dt.datetime], day: int, size: int, rng: random.Random
) -> int:
    """Change ``1 %`` of the registrations through the day (clock ticking), as KvK would see."""
    active = [c.kvk_number for c in sandbox.register if c.active and c.branches]
    chosen = rng.sample(active, max(1, round(size * CHANGE_RATE)))
    begin = START + dt.timedelta(days=day, hours=1)
    for position, kvk_number in enumerate(chosen):
        now[0] = begin + dt.timedelta(seconds=position * 22 * 3600 / len(chosen))
        change(sandbox, kvk_number, rng)
    return len(chosen)


def change(sandbox: KvKSandbox, kvk_number: str, rng: random.Random) -> None:
    company = sandbox.get(kvk_number)
    assert company is not None
    main = next((b for b in company.branches if b.is_main), company.branches[0])
    other = next((b for b in company.branches if not b.is_main), main)
    roll = rng.random()
    if roll < 0.45:
        moved = [attrs.evolve(a, street="Nieuwe Markt", house_number=rng.randint(1, 300))
                 if a.kind == "bezoekadres" else a for a in main.addresses]  # fmt: skip
        replace_branch(sandbox, company, attrs.evolve(main, addresses=moved))
    elif roll < 0.65:
        replace_branch(sandbox, company, attrs.evolve(main, full_time_employees=main.full_time_employees + rng.randint(1, 9)))  # fmt: skip
    elif roll < 0.75:
        sandbox.update(kvk_number, non_mailing=not company.non_mailing)
    elif roll < 0.83:
        replace_branch(sandbox, company, attrs.evolve(other, part_time_employees=other.part_time_employees + 1))  # fmt: skip
    elif roll < 0.90:
        sandbox.deregister(kvk_number, sandbox.signals.clock().date())
    elif roll < 0.95 and other is not main:
        sandbox.close_branch(other.number, sandbox.signals.clock().date())
    elif roll < 0.98:
        site = f"https://www.{kvk_number}-{rng.randint(1, 99)}.nl"
        replace_branch(sandbox, company, attrs.evolve(main, websites=(site,)))
    else:
        sandbox.remove(kvk_number)


def replace_branch(sandbox: KvKSandbox, company: Company, branch: Any) -> None:
    branches = [branch if b.number == branch.number else b for b in company.branches]
    sandbox.update(company.kvk_number, branches=branches)


class Server:
    """The sandbox child process and its command pipe."""

    def __init__(self, size: int, seed: int, latency: float) -> None:
        port = free_port()
        command = [sys.executable, __file__, "--serve", "--size", str(size), "--seed", str(seed),
                   "--port", str(port), "--latency", str(latency)]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.url = self._read("ready")

    def _read(self, word: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith(word + " "):
            raise SystemExit(f"the sandbox process said {line!r}")
        return line.split(" ", 1)[1]

    def day(self, day: int) -> int:
        assert self.process.stdin is not None
        self.process.stdin.write(f"day {day}\n")
        self.process.stdin.flush()
        return int(self._read("changed"))

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
        self.process.wait(timeout=30)


# --- the CRM --------------------------------------------------------------------------------


def crm_records(size: int, seed: int) -> list[Organisation]:
    """The CRM as enriched on day 0 (in-process, no cost counted): ``size`` active registrations.

    One in five registrations with several open branches is linked to a non-main one.
    """
    sandbox = KvKSandbox(register(size, seed))
    companies = [c for c in sandbox.register if c.active and c.branches][:size]
    records = []
    with KvKClient(TEST_API_KEY, environment="test", transport=sandbox.transport(),
                   rate_limit=None) as kvk:  # fmt: skip
        for index, company in enumerate(companies):
            others = [b.number for b in company.branches if not b.is_main and b.active]
            branch = others[0] if others and index % 5 == 0 else None
            org = kvk.organisation(company.kvk_number, branch)
            records.append(org.model_copy(update={"id": f"R{index:05d}"}))
    return records


def outcome(reports: Iterable[UpdateReport]) -> dict[str, object]:
    """What a person is shown per record: a removal, or the changed fields."""
    return {
        str(r.organisation.id): "removed" if r.is_removed else tuple(sorted(r.fields))
        for r in reports
        if r.is_removed or r.has_updates
    }


def accept(crm: list[Organisation], reports: Sequence[UpdateReport]) -> list[Organisation]:
    """The CRM after a person accepted everything: updates taken, removals unlinked."""
    by_id = {str(r.organisation.id): r for r in reports}
    kept = []
    for org in crm:
        report = by_id.get(str(org.id))
        if report is None or report.error is not None:
            kept.append(org)
        elif not report.is_removed:
            kept.append(report.apply(org, accept=report.fields))
    return kept


def client(url: str) -> KvKClient:
    return KvKClient(TEST_API_KEY, environment="test", base_url=f"{url}/test/api", timeout=60)


@attrs.define
class Totals:
    paid: int = 0
    signal_calls: int = 0
    wall: float = 0.0

    @property
    def euros(self) -> float:
        return self.paid * EUROS_PER_CALL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000, help="linked organisations")
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if args.serve:
        serve(args.size, args.seed, args.port, args.latency)
        return
    started = time.perf_counter()
    crm = crm_records(args.size, args.seed)
    print(f"CRM of {len(crm)} linked organisations built in {time.perf_counter() - started:.0f} s"
          f"; {CHANGE_RATE:.0%} of the register changes per day, sandbox latency {args.latency * 1000:.0f} ms")  # fmt: skip
    server = Server(args.size, args.seed, args.latency)
    try:
        run(server, crm, args.days, args.workers)
    finally:
        server.close()


def run(server: Server, crm: list[Organisation], days: int, workers: int) -> None:
    polling, signals = Totals(), Totals()
    poll_client, signal_client = client(server.url), client(server.url)
    clock = [START]
    service = SignalUpdateService(signal_client, clock=lambda: clock[0])
    bookmark = service.start()  # right after the CRM was enriched
    all_same = True
    print(f"{'day':>3} {'changed':>7} {'poll paid':>9} {'poll €':>8} {'poll s':>7} "
          f"{'sig paid':>8} {'sig calls':>9} {'sig €':>7} {'sig s':>6} {'found':>6} same")  # fmt: skip
    for day in range(days):
        changed = server.day(day)
        clock[0] = START + dt.timedelta(days=day + 1)
        updates = UpdateService(poll_client)
        poll = check(polling, poll_client, updates.check_updates_many, crm, workers=workers)
        sig = check(signals, signal_client, service.check_updates, crm, bookmark, workers=workers)
        bookmark = sig.bookmark
        same = outcome(poll.reports) == outcome(sig.reports)
        all_same &= same
        print(f"{day:>3} {changed:>7} {poll.paid:>9} {poll.euros:>8.2f} {poll.wall:>7.1f} "
              f"{sig.paid:>8} {sig.signal_calls:>9} {sig.euros:>7.2f} {sig.wall:>6.1f} "
              f"{len(outcome(sig.reports)):>6} {'yes' if same else 'NO'}")  # fmt: skip
        if not same:
            show_difference(outcome(poll.reports), outcome(sig.reports))
        crm = accept(crm, poll.reports)
    share = signals.euros / polling.euros if polling.euros else float("nan")
    print(f"\ntotal over {days} day(s): polling {polling.paid} paid calls = EUR {polling.euros:,.2f} in {polling.wall:.0f} s; "
          f"signals {signals.paid} paid calls = EUR {signals.euros:,.2f} (+{signals.signal_calls} Mutatieservice calls) "
          f"in {signals.wall:.1f} s")  # fmt: skip
    print(f"signals cost {share:.2%} of polling (goal < 2 %); same changes found: {'yes' if all_same else 'NO'}")  # fmt: skip
    print(f"if Mutatieservice calls were billed per call too: {(signals.paid + signals.signal_calls) / polling.paid:.2%}")  # fmt: skip


@attrs.define
class Check:
    reports: Sequence[UpdateReport]
    bookmark: str
    paid: int
    signal_calls: int
    wall: float

    @property
    def euros(self) -> float:
        return self.paid * EUROS_PER_CALL


def check(
    totals: Totals, kvk: KvKClient, work: Callable[..., Any], *args: Any, **kwargs: Any
) -> Check:
    """Run one check, counting the calls it sent and its wall time."""
    paid, calls = kvk.usage.profile_calls, kvk.usage.signal_calls
    started = time.perf_counter()
    result = work(*args, **kwargs)
    wall = time.perf_counter() - started
    done = Check(result.reports, getattr(result, "bookmark", ""), kvk.usage.profile_calls - paid,
                 kvk.usage.signal_calls - calls, wall)  # fmt: skip
    totals.paid += done.paid
    totals.signal_calls += done.signal_calls
    totals.wall += done.wall
    return done


def show_difference(polled: dict[str, object], signalled: dict[str, object]) -> None:
    for key in sorted(set(polled) | set(signalled))[:20]:
        if polled.get(key) != signalled.get(key):
            print(f"    {key}: polling {polled.get(key)!r}, signals {signalled.get(key)!r}")


if __name__ == "__main__":
    main()
