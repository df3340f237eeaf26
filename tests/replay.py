"""Replays vcrpy cassettes (e.g. KvK's real test-environment answers) through httpx."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import yaml

# Our client always sends paging; recorded requests without it were page 1 of 10.
_PAGING_DEFAULTS = {("pagina", "1"), ("resultatenPerPagina", "10")}


class ReplayTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Answers each request with the recorded response of the same method, path and query."""

    def __init__(self, *cassettes: Path) -> None:
        self.interactions: list[dict[str, Any]] = []
        for cassette in cassettes:
            self.interactions += yaml.safe_load(cassette.read_text())["interactions"]
        self.requests: list[httpx.Request] = []

    def _find(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        wanted = (request.method, request.url.path, _query(str(request.url)))
        for interaction in self.interactions:
            recorded = interaction["request"]
            if (
                recorded["method"],
                urlsplit(recorded["uri"]).path,
                _query(recorded["uri"]),
            ) == wanted:
                response = interaction["response"]
                headers = {
                    k: v[0] for k, v in response["headers"].items() if k.lower() != "content-length"
                }
                return httpx.Response(
                    response["status"]["code"],
                    headers=headers,
                    content=response["body"]["string"].encode(),
                    request=request,
                )
        raise AssertionError(f"no recording for {request.method} {request.url}")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._find(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self._find(request)


def _query(uri: str) -> frozenset[tuple[str, str]]:
    return frozenset(parse_qsl(urlsplit(uri).query)) - _PAGING_DEFAULTS
