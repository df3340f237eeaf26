"""Hostile-answer benchmark of the e-Boekhouden REST client: time and peak memory per answer.

The attack that motivated it: a 10 MB listing of 1.2 million items kept the
client busy for more than 20 s. Each case below is one ``relations()`` (or
``mutation()``) call against an in-process mock service whose answer is the
hostile body; the script prints wall time and the peak of traced Python
memory for each, and the body size. Goal: every case answered (a result or a
typed error) in about a second for 10 MB (the attack ran past 20 s), and
memory bounded through ``max_answer_bytes`` (JSON objects cost about 20 times
their bytes while parsed: lower the cap where that matters).

Run ``python benchmarks/eboekhouden_rest_hostile.py``.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Callable

import httpx

from crmconnect.eboekhouden.rest import EBoekhoudenRestClient
from crmconnect.errors import CrmConnectError

SESSION = {"token": "session-token-0123456789", "expiresIn": 3600}
LEDGERS = {"items": [{"id": 11, "code": "1300"}, {"id": 12, "code": "8000"}], "count": 2}
DEEP = 100_000


def cases() -> dict[str, tuple[str, bytes]]:
    """Name → (path answered with the body, body)."""
    row = {"ledgerId": 12, "vatCode": "GEEN", "amount": 1}
    return {
        "10 MB list, 1.2 M items": (
            "/v1/relation",
            b'{"items": [' + b",".join([b'{"id":1}'] * 1_200_000) + b'], "count": 1200000}',
        ),
        "1.2 M empty objects": (
            "/v1/relation",
            b'{"items": [' + b",".join([b"{}"] * 1_200_000) + b"]}",
        ),
        "2,000 relations (a full page)": (
            "/v1/relation",
            json.dumps(
                {
                    "items": [{"id": n, "code": f"R{n}", "name": "B"} for n in range(1, 2001)],
                    "count": 2000,
                }
            ).encode(),
        ),
        "mutation with 300,000 rows": (
            "/v1/mutation/3",
            json.dumps({"id": 3, "type": 2, "rows": [row] * 300_000}).encode(),
        ),
        "100,000-deep lists": ("/v1/relation", b"[" * DEEP + b"]" * DEEP),
        "100,000-deep objects": ("/v1/relation", b'{"a":' * DEEP + b"1" + b"}" * DEEP),
        "20 MB body (over the 16 MiB cap)": ("/v1/relation", b'{"items": [' + b" " * 20_000_000),
    }


def run(path: str, body: bytes, *, trace: bool) -> tuple[str, float, float]:
    """One call: (outcome, seconds, peak MiB traced or 0)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/session":
            return httpx.Response(200, json=SESSION)
        if request.url.path == "/v1/ledger":
            return httpx.Response(200, json=LEDGERS)
        return httpx.Response(200, content=body)

    transport = httpx.MockTransport(handler)
    # No retries: a capped body is a ServerError, retried after a wait, which is not work.
    books = EBoekhoudenRestClient("access-token-0123456789", transport=transport, max_retries=0)
    call: Callable[[], object] = (
        (lambda: books.mutation(3)) if path.startswith("/v1/mutation") else books.relations
    )
    books.ledgers()  # session and ledgers first: only the hostile answer is measured
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        result = call()
        outcome = f"result ({len(result) if isinstance(result, list) else 1})"
    except CrmConnectError as error:
        outcome = type(error).__name__
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    books.close()
    return outcome, seconds, peak / 2**20


def main() -> None:
    """Print one line per case: time untraced, peak memory in a second, traced run."""
    print(f"{'case':36} {'body':>9} {'time':>8} {'peak':>9}  outcome")
    for name, (path, body) in cases().items():
        outcome, seconds, _ = run(path, body, trace=False)
        _, _, peak = run(path, body, trace=True)
        size = f"{len(body) / 2**20:.1f} MiB"
        print(f"{name:36} {size:>9} {seconds * 1000:6.0f} ms {peak:6.1f} MiB  {outcome}")


if __name__ == "__main__":
    main()
