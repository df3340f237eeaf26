"""Record the KvK cassettes in ``cassettes/kvk/`` (vcrpy).

By default the answers come from the KvK sandbox on loopback (its address is
rewritten to KvK's, so the cassettes replay for a client in the test
environment). With ``--real``
they come from KvK's real test environment (needs network), with KvK's public
test key or ``CRMCONNECT_KVK_API_KEY``. Either way the ``apikey`` header and
the gateway's ``apiAuthzDetails`` header (which echoes the key) are scrubbed
before anything is written.

    .venv/bin/python scripts/record_kvk_cassettes.py [--real]
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

import vcr

from crmconnect import NotFoundError
from crmconnect.kvk import KvKClient

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes" / "kvk"
SECRET_HEADERS = ("apikey", "apiauthzdetails", "authorization")


KVK = "https://api.kvk.nl"


def recorder(origin: str) -> vcr.VCR:
    """A vcr that scrubs secrets and writes the sandbox's address as KvK's."""

    def request(request: Any) -> Any:
        request.uri = request.uri.replace(origin, KVK)
        return request

    def response(answer: dict[str, Any]) -> dict[str, Any]:
        headers = answer.get("headers", {})
        for name in list(headers):
            if name.lower() in SECRET_HEADERS:  # KvK's gateway echoes the key
                del headers[name]
        body = answer["body"]["string"]
        answer["body"]["string"] = body.replace(origin.encode(), KVK.encode())
        return answer

    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all",
        filter_headers=[*((name, "***") for name in SECRET_HEADERS), "host"],
        before_record_request=request,
        before_record_response=response,
        decode_compressed_response=True,
    )


def calls(kvk: KvKClient) -> dict[str, Any]:
    """The cassettes and the calls recorded in each."""
    return {
        "search_by_kvk_number": lambda: kvk.search(kvk_number="69599084"),
        "search_by_name_and_city": lambda: kvk.search(name="Test BV Donald", city="Lollum"),
        "search_without_results": lambda: kvk.search(kvk_number="12345678"),
        "basic_profile": lambda: kvk.basic_profile("69599084"),
        "branch_profile": lambda: kvk.branch_profile("000038509504"),
        "naming": lambda: kvk.naming("69599084"),
        "profile_not_found": lambda: kvk.basic_profile("12345678"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help="record KvK's real test environment")
    args = parser.parse_args()
    CASSETTES.mkdir(parents=True, exist_ok=True)
    if args.real:
        record(KVK)
        return
    from crmconnect.sandbox import KvKSandbox

    with KvKSandbox().serve() as url:
        record(url)


def record(origin: str) -> None:
    """Record every cassette in both response flavours."""
    for flavour in ("application/json", "application/hal+json"):
        suffix = "hal" if "hal" in flavour else "json"
        base = f"{origin}/test/api"
        with KvKClient(environment="test", base_url=base, accept=flavour) as kvk:
            for name, call in calls(kvk).items():
                path = CASSETTES / f"{name}.{suffix}.yaml"
                path.unlink(missing_ok=True)
                with recorder(origin).use_cassette(path.name), contextlib.suppress(NotFoundError):
                    call()
                print(f"recorded {path.relative_to(CASSETTES.parents[1])}")


if __name__ == "__main__":
    main()
