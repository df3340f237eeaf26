"""Hostile-answer benchmark of the KvK and VIES clients: time and peak memory per answer.

Each case is one call (``search``, ``basic_profile``, ``branches`` or a VIES
``check``) against an in-process mock service whose answer is the hostile
body. The script prints the body size, the outcome (a result or the typed
error), wall time and the peak of traced Python memory. Goal: every case
answered in about a second at the cap, memory bounded through
``max_answer_bytes`` (4 MiB by default for KvK, 16 MiB for VIES; JSON objects
cost about 20 times their bytes while parsed).

Run ``python benchmarks/kvk_hostile_answers.py``.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Callable

import httpx

from crmconnect.errors import CrmConnectError
from crmconnect.kvk import KvKClient
from crmconnect.vies import ViesClient

KVK, DEEP = "69599084", 100_000
ITEM = {"kvkNummer": KVK, "vestigingsnummer": "000037178598", "naam": "Test", "type": "x"}
BRANCH = {"vestigingsnummer": "000037178598", "indHoofdvestiging": "Nee"}


def cases() -> dict[str, tuple[str, bytes]]:
    """Name → (endpoint, body)."""
    million = b",".join([json.dumps(ITEM).encode()] * 30_000)
    return {
        "search page of 30,000 results (3 MB)": (
            "search",
            b'{"totaal": 30000, "resultaten": [' + million + b"]}",
        ),
        "search page of 1.2 M empty objects": (
            "search",
            b'{"totaal": 1, "resultaten": [' + b",".join([b"{}"] * 1_200_000) + b"]}",
        ),
        "4 MiB of empty objects (KvK's cap)": (
            "branches",
            b'{"kvkNummer": "69599084", "vestigingen": [' + b",".join([b"{}"] * 1_398_000) + b"]}",
        ),
        "4 MiB of valid branches (100,000)": (
            "branches",
            json.dumps(
                {"kvkNummer": KVK, "vestigingen": [{"vestigingsnummer": "0" * 12}] * 100_000}
            ).encode(),
        ),
        "5,000 branches (a very large company)": (
            "branches",
            json.dumps({"kvkNummer": KVK, "vestigingen": [BRANCH] * 5000}).encode(),
        ),
        "profile with a 4 MB name": (
            "profile",
            json.dumps({"kvkNummer": KVK, "naam": "x" * 4_000_000}).encode(),
        ),
        "100,000-deep lists": ("profile", b"[" * DEEP + b"]" * DEEP),
        "100,000-deep objects": ("profile", b'{"a":' * DEEP + b"1" + b"}" * DEEP),
        "20 MB body (over the 4 MiB cap)": ("profile", b'{"naam": "' + b" " * 20_000_000),
        "VIES: 10 MB list": ("vies", b"[" + b",".join([b"1"] * 5_000_000) + b"]"),
        "VIES: 100,000-deep lists": ("vies", b"[" * DEEP + b"]" * DEEP),
    }


def call(endpoint: str, body: bytes) -> Callable[[], object]:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    if endpoint == "vies":
        vies = ViesClient(transport=transport, rate_limit=None, max_retries=0)
        return lambda: vies.check("NL004495445B01")
    kvk = KvKClient("bench-key-0123456789", transport=transport, rate_limit=None, max_retries=0)
    return {
        "search": lambda: kvk.search(name="Test"),
        "branches": lambda: kvk.branches(KVK),
        "profile": lambda: kvk.basic_profile(KVK),
    }[endpoint]


def measure(run: Callable[[], object]) -> tuple[str, float, float]:
    """Outcome, seconds and peak MiB of one call (timed and traced in separate runs:
    tracing every allocation slows a parse of millions of small objects tenfold)."""
    started = time.perf_counter()
    outcome = _outcome(run)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    _outcome(run)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return outcome, elapsed, peak


def _outcome(run: Callable[[], object]) -> str:
    try:
        return f"result {type(run()).__name__}"
    except CrmConnectError as error:
        return f"{type(error).__name__}: {str(error)[:60]}"


def main() -> None:
    print(f"{'case':42} {'body MB':>8} {'seconds':>8} {'peak MiB':>9}  outcome")
    for name, (endpoint, body) in cases().items():
        outcome, elapsed, peak = measure(call(endpoint, body))
        print(f"{name:42} {len(body) / 1e6:8.1f} {elapsed:8.2f} {peak:9.1f}  {outcome}")


if __name__ == "__main__":
    main()
