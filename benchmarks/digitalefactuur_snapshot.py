"""Snapshot benchmark: fingerprint 10,000 DigitaleFactuur relations from the sandbox on loopback.

The sandbox runs in its own process (``python -m crmconnect.sandbox
digitalefactuur --synthetic N``) with 20 ms latency per request. The script
takes `relations_snapshot()` and prints the calls, the wall time and its ratio
to the latency floor (calls x 20 ms), the peak memory of the client (tracemalloc)
and, measured apart from the network on the same pages, the parse and
fingerprint cost per relation (and, for comparison, the cost of full models).

Goals: parse and fingerprint < 50 µs per relation, peak memory < 200 MB.
Run ``python benchmarks/digitalefactuur_snapshot.py [--relations N]``.
"""

from __future__ import annotations

import argparse
import collections
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import httpx
from sandbox_process import start_sandbox

from crmconnect.digitalefactuur import DigitaleFactuurClient
from crmconnect.sandbox import DEMO_ACCESS_CODE, DEMO_ACCOUNT_ID

LATENCY = 0.02


def counting_client(url: str) -> tuple[DigitaleFactuurClient, collections.Counter[str], list[str]]:
    calls: collections.Counter[str] = collections.Counter()
    pages: list[str] = []

    def count(response: httpx.Response) -> None:
        response.read()
        action = response.url.raw_path.decode().rsplit("/", 1)[-1].split("&", 1)[0]
        calls[action] += 1
        pages.append(response.text)

    http = httpx.Client(event_hooks={"response": [count]})
    client = DigitaleFactuurClient(
        DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE, base_url=f"{url}/api", rate_limit=None, http_client=http
    )
    return client, calls, pages


def per_relation(
    read: Callable[[str], list[Any]], pages: list[str], relations: int, rounds: int = 5
) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for page in pages:
            read(page)
        best = min(best, time.perf_counter() - started)
    return best / relations * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relations", type=int, default=10_000)
    args = parser.parse_args()
    process, url = start_sandbox(
        "digitalefactuur", "--latency", str(LATENCY), "--synthetic", str(args.relations),
        ready=f"/api/{DEMO_ACCOUNT_ID}/{DEMO_ACCESS_CODE}/klanten&page=1",
    )  # fmt: skip
    try:
        client, calls, pages = counting_client(url)
        tracemalloc.start()
        started = time.perf_counter()
        with client:
            snapshot = client.relations_snapshot()
        wall = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        process.terminate()
        process.wait(timeout=10)
    total = sum(calls.values())
    fingerprint_us = per_relation(client._read_fingerprints, pages, len(snapshot))
    models_us = per_relation(client._read_relations, pages, len(snapshot))
    print(f"\n== snapshot of {len(snapshot)} relations ({args.relations} in the sandbox)")
    print(f"calls                {total:8d}  {dict(calls)}")
    print(
        f"wall time            {wall:8.2f} s   latency floor {total * LATENCY:.2f} s   ratio {wall / (total * LATENCY):.3f}"
    )
    print(f"peak memory (client) {peak / 2**20:8.1f} MB")
    print(f"parse + fingerprint  {fingerprint_us:8.1f} µs per relation   (goal < 50)")
    print(f"parse into models    {models_us:8.1f} µs per relation   (for comparison)")


if __name__ == "__main__":
    main()
