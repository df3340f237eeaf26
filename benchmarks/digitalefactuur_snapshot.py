"""Snapshot benchmark: fingerprint 10,000 DigitaleFactuur relations from the sandbox on loopback.

The sandbox runs in its own process (``python -m crmconnect.sandbox
digitalefactuur --synthetic N``) with 20 ms latency per request. The script
takes `relations_snapshot()` and prints the calls, the wall time and its ratio
to the latency floor (calls x 20 ms), the peak memory of the client (tracemalloc)
and, measured apart from the network on the same page bytes in the same run:

* the floor: a bare expat parse (pyexpat, no handlers) of those bytes;
* for reference, ElementTree's parse of them (expat and its C tree builder),
  and expat calling three Python handlers that do nothing: the least any
  reading that gets each element's text out of expat can cost;
* the snapshot path, what a sync run reads of every record: the plain-page
  check (expat with handlers only for what a plain page lacks: the floor
  itself), each record cut out with its id and number, and a digest of its
  bytes; no value read, no model built;
* the index path (`relations_index`): the same, as entries;
* what a changed record costs on top: its exact read (root, record, required
  id, depth, defusedxml's refusals) and the fingerprint of the owned fields
  (`OWNED`), per relation as if every one had changed;
* full models, for comparison.

It then takes `relations_index(fields=OWNED)` over the network too, for its
calls, wall time and peak memory (the index keeps each relation's bytes, so
the few that changed give their model without another call).

Goals: the snapshot at most 1.5x the bare expat floor; peak memory < 200 MB.
Run ``python benchmarks/digitalefactuur_snapshot.py [--relations N]``.
"""

from __future__ import annotations

import argparse
import collections
import time
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, TypeVar
from xml.parsers import expat

import httpx
from sandbox_process import start_sandbox

from crmconnect._answers import Answer
from crmconnect._redact import Redactor
from crmconnect.digitalefactuur import DigitaleFactuurClient, RelationIndex
from crmconnect.digitalefactuur._models import Fingerprinter
from crmconnect.sandbox import DEMO_ACCESS_CODE, DEMO_ACCOUNT_ID

_R = TypeVar("_R")
LATENCY = 0.02
OWNED = frozenset({"number", "kind", "name", "address", "postcode", "city", "email"})
"""The fields a CRM owns in the index figures (a typical set: DF keeps the rest)."""


def counting_client(
    url: str,
) -> tuple[DigitaleFactuurClient, collections.Counter[str], list[bytes]]:
    calls: collections.Counter[str] = collections.Counter()
    pages: list[bytes] = []

    def count(response: httpx.Response) -> None:
        response.read()
        action = response.url.raw_path.decode().rsplit("/", 1)[-1].split("&", 1)[0]
        calls[action] += 1
        pages.append(response.content)

    http = httpx.Client(event_hooks={"response": [count]})
    client = DigitaleFactuurClient(
        DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE, base_url=f"{url}/api", rate_limit=None, http_client=http
    )
    return client, calls, pages


def per_relation(
    read: Callable[[Any], object], pages: list[Any], relations: int, rounds: int = 7
) -> float:
    """CPU microseconds per relation: the best of ``rounds`` passes over every page.

    CPU time of this process (``process_time``), not wall time: on a shared
    machine the ratios to the floor stay meaningful.
    """
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for page in pages:
            read(page)
        best = min(best, time.process_time() - started)
    return best / relations * 1e6


def bare_expat(body: bytes) -> None:
    """The floor: expat reads every byte, no handler runs."""
    expat.ParserCreate().Parse(body, True)


def _nothing(*args: object) -> None:
    pass


def empty_handlers(body: bytes) -> None:
    """Expat with a start, an end and a text handler in Python that do nothing."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = parser.EndElementHandler = _nothing
    parser.CharacterDataHandler = _nothing
    parser.Parse(body, True)


def index_of(client: DigitaleFactuurClient, answer: Answer, owned: Fingerprinter) -> RelationIndex:
    records = client._read_listing(answer)
    return RelationIndex(
        records, owned.fields, client._listed_elements, owned, client._listed_relation
    )


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
        with client:
            snapshot, wall, peak = measured(client.relations_snapshot)
            snapshot_calls, snapshot_pages = collections.Counter(calls), len(pages)
            index, index_wall, index_peak = measured(lambda: client.relations_index(OWNED))
            index_calls = calls - snapshot_calls
    finally:
        process.terminate()
        process.wait(timeout=10)
    pages = pages[:snapshot_pages]  # the snapshot's pages (the index read the same ones)
    total = sum(snapshot_calls.values())
    answers = [Answer("digitalefactuur", 200, page, Redactor()) for page in pages]
    relations = len(snapshot)
    floor_us = per_relation(bare_expat, pages, relations)
    tree_us = per_relation(ET.fromstring, pages, relations)
    handlers_us = per_relation(empty_handlers, pages, relations)
    fingerprint_us = per_relation(
        lambda a: [
            dict(zip(p.ids, p.digests, strict=False)) for p in client._read_page(a, numbers=False)
        ],
        answers,
        relations,
    )
    models_us = per_relation(client._read_relations, answers, relations)
    owned = Fingerprinter(client.relation_fields, OWNED)
    index_us = per_relation(lambda a: index_of(client, a, owned), answers, relations)
    index_all_us = per_relation(
        lambda a: [owned(client._listed_elements(r)) for r in client._read_listing(a)],
        answers,
        relations,
    )
    print(f"\n== snapshot of {len(snapshot)} relations ({args.relations} in the sandbox)")
    print(f"calls                {total:8d}  {dict(snapshot_calls)}")
    print(
        f"wall time            {wall:8.2f} s   latency floor {total * LATENCY:.2f} s   ratio {wall / (total * LATENCY):.3f}"
    )
    print(f"peak memory (client) {peak / 2**20:8.1f} MB")
    print(f"bare expat parse     {floor_us:8.1f} µs per relation   (the floor)")
    print(f"ElementTree parse    {tree_us:8.1f} µs per relation   (expat + C tree, reference)")
    print(
        f"empty handlers       {handlers_us:8.1f} µs per relation   "
        f"{handlers_us / floor_us:.2f}x the floor (3 Python handlers doing nothing)"
    )
    print(
        f"snapshot (checked)   {fingerprint_us:8.1f} µs per relation   "
        f"{fingerprint_us / floor_us:.2f}x the floor (goal <= 1.5x)"
    )
    print(
        f"index                {index_us:8.1f} µs per relation   "
        f"{index_us / floor_us:.2f}x the floor, {index_us / fingerprint_us:.2f}x the snapshot"
    )
    print(
        f"changed: exact read  {index_all_us:8.1f} µs per relation   "
        f"{index_all_us / floor_us:.2f}x the floor: what each changed record costs "
        f"(its owned fingerprint, {len(OWNED)} of {len(client.relation_fields.fields)} fields)"
    )
    print(f"parse into models    {models_us:8.1f} µs per relation   (for comparison)")
    index_total = sum(index_calls.values())
    print(f"\n== index of {len(index)} relations, owned fields, over the network")
    print(f"calls                {index_total:8d}  {dict(index_calls)}")
    print(
        f"wall time            {index_wall:8.2f} s   latency floor {index_total * LATENCY:.2f} s   "
        f"ratio {index_wall / (index_total * LATENCY):.3f}"
    )
    print(f"peak memory (client) {index_peak / 2**20:8.1f} MB   (record bytes kept)")


def measured(read: Callable[[], _R]) -> tuple[_R, float, int]:
    """The result of one listing, its wall time and the peak memory while it ran."""
    tracemalloc.start()
    started = time.perf_counter()
    result = read()
    wall = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, wall, peak


if __name__ == "__main__":
    main()
