"""Record the Mutatieservice cassettes in ``cassettes/kvk/mutatieservice_*`` (vcrpy).

By default the answers come from the KvK sandbox on loopback, after a dozen
changes to its register (its address is rewritten to KvK's, so the cassettes
replay for a client in the test environment). With ``--real`` they come from
KvK's real test environment (needs network; "every 5 minutes, 10 new signals
are available" there), with KvK's public test key or ``CRMCONNECT_KVK_API_KEY``.
Either way the ``apikey`` header and the gateway's ``apiAuthzDetails`` header
are scrubbed before anything is written (see ``record_kvk_cassettes.py``).

    .venv/bin/python -m scripts.record_kvk_signal_cassettes [--real]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any

from crmconnect import AuthenticationError
from crmconnect.kvk import KvKClient
from scripts.record_kvk_cassettes import CASSETTES, KVK, recorder

WINDOW = dt.timedelta(hours=1)
"""The window recorded: the last hour (the test environment's mock signals are recent)."""


def calls(kvk: KvKClient, since: dt.datetime) -> dict[str, Callable[[], Any]]:
    """The cassettes and the calls recorded in each (the detail of the first signal)."""
    subscription = kvk.subscriptions()[0].id

    def first_detail() -> Any:
        first = next(kvk.signals(subscription, since=since, per_page=10))
        return kvk.signal(subscription, first.id)

    return {
        "mutatieservice_subscriptions": kvk.subscriptions,
        "mutatieservice_signals": lambda: list(kvk.signals(subscription, since=since, per_page=10)),
        "mutatieservice_signal": first_detail,
    }


def record(origin: str) -> None:
    """Record every cassette in both response flavours, and a refused key."""
    since = dt.datetime.now(dt.UTC) - WINDOW
    base = f"{origin}/test/api"
    for flavour in ("application/json", "application/hal+json"):
        suffix = "hal" if "hal" in flavour else "json"
        with KvKClient(environment="test", base_url=base, accept=flavour) as kvk:
            for name, call in calls(kvk, since).items():
                path = CASSETTES / f"{name}.{suffix}.yaml"
                path.unlink(missing_ok=True)
                with recorder(origin).use_cassette(path.name):
                    call()
                print(f"recorded {path.relative_to(CASSETTES.parents[1])}")
    path = CASSETTES / "mutatieservice_unauthorized.yaml"
    path.unlink(missing_ok=True)
    with KvKClient("not-a-key", environment="test", base_url=base, max_retries=0) as kvk:
        with recorder(origin).use_cassette(path.name), contextlib.suppress(AuthenticationError):
            kvk.subscriptions()
    print(f"recorded {path.relative_to(CASSETTES.parents[1])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help="record KvK's real test environment")
    args = parser.parse_args()
    CASSETTES.mkdir(parents=True, exist_ok=True)
    if args.real:
        record(KVK)
        return
    from crmconnect.sandbox import KvKSandbox

    sandbox = KvKSandbox()
    for company in list(sandbox.register)[:12]:  # a dozen changes: two pages of ten
        sandbox.update(company.kvk_number, non_mailing=not company.non_mailing)
    sandbox.close_branch("000038509520")
    sandbox.signals.add("SignaalBeeindiging_2025_01", "90002520")
    with sandbox.serve() as url:
        record(url)


if __name__ == "__main__":
    main()
