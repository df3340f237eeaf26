"""State store benchmark: what `SqliteStateStore` costs the sync engine per record and per run.

On a file in a temporary directory (WAL, synced commits), it prints:

* a first push's bookkeeping per record: ``add_intent`` then
  ``finish_intent(link)`` (two synced transactions), per record and in total
  for the records written;
* ``save_link`` per record (a pull that creates host records);
* a no-change rerun's read of the state: ``links(service)`` of every link,
  its wall time (best of 3) and, measured apart, its peak memory
  (tracemalloc), and ``link()`` per record;
* the file size.

Goal (issue 10): the engine spends under 1 s on a no-change rerun of 10,000
relations, so loading the links must stay well under that.
Run ``python benchmarks/sync_state.py [--links N] [--writes N]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from crmconnect.sync import Link, Role, SqliteStateStore

SERVICE = "digitalefactuur"


def values(n: int) -> dict[str, str | None]:
    return {
        "name": f"Bakkerij de Korenbloem {n}",
        "address": f"Dorpsstraat {n % 200 + 1}",
        "postcode": "9123 AB",
        "city": "Lollum",
        "email": f"info{n}@korenbloem.nl",
        "iban": "NL91ABNA0417164300",
        "phone": None,
    }


def link(n: int) -> Link:
    return Link(str(n), SERVICE, Role.DEBTOR, f"r{n}", str(10_000 + n), values(n), values(n))


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=10_000, help="links in the store")
    parser.add_argument("--writes", type=int, default=2_000, help="records pushed with intents")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.db"
        with SqliteStateStore(path) as state:
            started = time.perf_counter()
            for n in range(args.writes):
                intent = state.add_intent(
                    SERVICE, "create_relation", str(10_000 + n), host_id=str(n), role=Role.DEBTOR
                )
                state.finish_intent(intent.intent_id, link(n))
            pushed = time.perf_counter() - started
            print(
                f"intent + finish_intent: {pushed / args.writes * 1e6:,.0f} µs a record,"
                f" {pushed:.2f} s for {args.writes:,}"
            )
            started = time.perf_counter()
            for n in range(args.writes, args.links):
                state.save_link(link(n))
            saved = time.perf_counter() - started
            count = max(args.links - args.writes, 1)
            print(f"save_link: {saved / count * 1e6:,.0f} µs a record")

        with SqliteStateStore(path) as state:
            loaded = min(timed(lambda: state.links(SERVICE)) for _ in range(3))
            tracemalloc.start()
            links = state.links(SERVICE)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"links() of {len(links):,}: {loaded * 1000:,.0f} ms"
                f" ({loaded / len(links) * 1e6:.1f} µs a link), peak {peak / 2**20:,.1f} MB"
            )
            started = time.perf_counter()
            for n in range(0, args.links, 10):
                state.link(str(n), SERVICE, Role.DEBTOR)
            looked = time.perf_counter() - started
            print(f"link(): {looked / len(range(0, args.links, 10)) * 1e6:,.0f} µs a look-up")
        size = sum(p.stat().st_size for p in Path(folder).iterdir())
        print(f"file: {size / 2**20:,.1f} MB for {args.links:,} links")


if __name__ == "__main__":
    main()
