"""Bulk matching benchmark: N synthetic CRM organisations against the KvK sandbox on loopback.

The sandbox runs in its own process (``python -m crmconnect.sandbox kvk``) with
20 ms latency and KvK's limit of 100 requests per second. The script prints, for
the concurrent `Matcher.match_many` (with enrichment of clear matches) with
PerfectView's fields (the default `EnrichmentSettings`), for a second run with
the same disk cache, for a first run with PerfectView's fields plus the
full-time/part-time split (`EMPLOYEE_SPLIT`), and for a plain sequential loop:
wall time, calls per record (free and paid), paid calls per enriched
organisation and per enriched main-branch organisation (the paid requests
for its KvK number and branch, counted on the wire), HTTP 429s seen, peak
memory, and the ratio of wall time to the rate-limit floor (calls / 100 per
second).

Goals: ratio <= 1.15, no 429 reaching the caller, peak memory < 300 MB, the
second run making 0 paid calls, at most 1.05 paid calls per enriched main-branch
organisation with PerfectView's fields (the default). Run with
``make bench`` or ``python benchmarks/kvk_bulk_match.py --records 10000``.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from sandbox_process import start_sandbox

from crmconnect import Address, Organisation
from crmconnect.kvk import (
    EMPLOYEE_SPLIT,
    PERFECTVIEW_FIELDS,
    DiskCache,
    EnrichmentSettings,
    KvKClient,
    Matcher,
    MatchResult,
)
from crmconnect.sandbox import TEST_API_KEY, generate_companies

RATE = 100.0
WITH_SPLIT = EnrichmentSettings(fields=PERFECTVIEW_FIELDS | EMPLOYEE_SPLIT)


def crm_records(count: int, seed: int) -> list[Organisation]:
    """CRM records derived from the sandbox's synthetic register, the way CRMs hold them."""
    rng = random.Random(seed)
    records = []
    for index, company in enumerate(generate_companies(count, seed=seed)):
        branch = company.branches[0] if company.branches else None
        place = branch.addresses[0] if branch and branch.addresses else None
        kind = index % 10
        address = Address(
            street=place.street if place else None,
            house_number=place.house_number if place else None,
            postcode=place.postcode if place and kind >= 8 else None,
            city=place.city if place and kind < 8 else None,
        )
        name = company.name if rng.random() < 0.7 else company.name.replace(" B.V.", " BV")
        records.append(
            Organisation(
                id=f"R{index:05d}",
                name=name,
                kvk_number=company.kvk_number if kind < 3 else None,
                addresses=[address],
            )
        )
    return records


def start(records: int, seed: int) -> tuple[subprocess.Popen[bytes], str]:
    options = ["--latency", "0.02", "--rate-limit", str(RATE), "--synthetic", str(records),
               "--seed", str(seed)]  # fmt: skip
    ready = "/test/api/v2/zoeken?naam=x"
    return start_sandbox("kvk", *options, ready=ready, headers={"apikey": TEST_API_KEY})


class Wire:
    """What went over the wire: HTTP 429s, and the paid requests by profile path."""

    def __init__(self) -> None:
        self.count_429 = 0
        self.paid: dict[str, int] = {}

    def __call__(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            self.count_429 += 1
            return
        path = response.request.url.path
        kind, _, number = path.rpartition("/")
        if kind.endswith(("/basisprofielen", "/vestigingsprofielen")):
            key = f"{kind.rpartition('/')[2]}/{number}"
            self.paid[key] = self.paid.get(key, 0) + 1

    def paid_for(self, org: Organisation) -> int:
        """The paid requests made for this organisation's registration and branch."""
        basic = self.paid.get(f"basisprofielen/{org.kvk_number}", 0)
        return basic + self.paid.get(f"vestigingsprofielen/{org.branch_number}", 0)


def run(
    label: str,
    url: str,
    records: list[Organisation],
    cache_path: Path,
    *,
    concurrent: bool,
    enrichment: EnrichmentSettings | None = None,
) -> None:
    seen = Wire()
    http = httpx.Client(timeout=30, event_hooks={"response": [seen]})
    cache = DiskCache(cache_path)
    kvk = KvKClient(
        TEST_API_KEY,
        environment="test",
        base_url=f"{url}/test/api",
        http_client=http,
        cache=cache,
        enrichment=enrichment,
    )
    matcher = Matcher(kvk, enrich=True)
    started = time.perf_counter()
    if concurrent:
        results = matcher.match_many(records, workers=8)
    else:
        results = [matcher.match(record) for record in records]
    wall = time.perf_counter() - started
    report(label, results, kvk, seen, wall, len(records))
    http.close()
    cache.close()


def report(
    label: str, results: list[MatchResult], kvk: KvKClient, seen: Wire, wall: float, n: int
) -> None:
    usage = kvk.usage
    calls = usage.search_calls + usage.profile_calls
    floor = calls / RATE
    errors = sum(1 for r in results if r.error is not None)
    status: dict[str, int] = {}
    for result in results:
        status[result.status.value] = status.get(result.status.value, 0) + 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n== {label} ({n} records)")
    print(f"wall time            {wall:8.1f} s")
    print(
        f"calls                {calls:8d}  (free {usage.search_calls}, paid {usage.profile_calls}, cache hits {usage.cache_hits})"
    )
    print(
        f"calls per record     {calls / n:8.2f}  (free {usage.search_calls / n:.2f}, paid {usage.profile_calls / n:.2f})"
    )
    enriched = [r.enriched for r in results if r.enriched is not None]
    main = [org for org in enriched if org.is_main_branch]
    per_enriched = usage.profile_calls / len(enriched) if enriched else float("nan")
    main_paid = sum(seen.paid_for(org) for org in main)
    per_main = main_paid / len(main) if main else float("nan")
    print(
        f"paid per enriched    {per_enriched:8.2f}  ({len(enriched)} enriched, {len(main)} of them main branches)"
    )
    print(f"paid per main branch {per_main:8.2f}  ({main_paid} paid calls for the main branches)")
    print(f"HTTP 429 seen        {seen.count_429:8d}  (errors reaching the caller: {errors})")
    print(
        f"rate-limit floor     {floor:8.1f} s   ratio wall/floor {wall / floor if floor else float('nan'):.3f}"
    )
    print(f"peak memory (RSS)    {peak:8.1f} MB")
    print(f"outcome              {status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument(
        "--sequential-records",
        type=int,
        default=1_000,
        help="records for the plain sequential loop (it is slow by design)",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    records = crm_records(args.records, args.seed)
    process, url = start(args.records, args.seed)
    try:
        with tempfile.TemporaryDirectory() as folder:
            cache = Path(folder) / "kvk.sqlite"
            first = "match_many, PerfectView's fields (the default), first run"
            run(first, url, records, cache, concurrent=True)
            run("match_many, second run (disk cache)", url, records, cache, concurrent=True)
            run(
                "match_many, PerfectView's fields with the full-time/part-time split, first run",
                url,
                records,
                Path(folder) / "with_split.sqlite",
                concurrent=True,
                enrichment=WITH_SPLIT,
            )
            run(
                "plain sequential loop",
                url,
                records[: args.sequential_records],
                Path(folder) / "sequential.sqlite",
                concurrent=False,
            )
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
