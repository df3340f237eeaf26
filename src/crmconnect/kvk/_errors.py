"""KvK error answers → `crmconnect.errors`.

KvK sends ``{"fout": [{"code": "IPDxxxx", "omschrijving": "..."}]}`` with
``Content-Type: application/json`` even when HAL was asked for; an older
variant wraps it in ``{"meldingen": {...}}``, and gateways may answer with
plain text. Codes that mean "try again later" (IPD1002, IPD1003, IPD9999)
arrive as 404/500 and become `ServerError`, so the retry policy picks them up.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from .._http import parse_retry_after
from .._redact import Redactor
from ..errors import (
    APIError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServerError,
)

__all__ = ["NO_RESULTS", "parse_kvk_error"]

NO_RESULTS = "IPD5200"
"""Zoeken's "no results" code, sent as HTTP 404: an empty result, not an error."""

_TEMPORARY = frozenset({"IPD1002", "IPD1003", "IPD9999"})
_NOT_FOUND = frozenset({"IPD0001", "IPD0005", "IPD0007", NO_RESULTS})


def parse_kvk_error(response: httpx.Response, redact: Redactor) -> APIError | None:
    """Map a KvK error response onto the error tree; ``None`` for a success."""
    status = response.status_code
    if status < 400:
        return None
    code, text = _first_fault(response)
    kwargs: dict[str, Any] = {
        "service": "kvk",
        "status_code": status,
        "code": code,
        "remote_message": text,
        "context": {"url": redact(str(response.request.url))},
    }
    message = redact(f"KvK answered {status}" + (f" {code}: {text}" if code else f": {text}"))
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RateLimitError(message, retry_after=retry_after, **kwargs)
    if code in _TEMPORARY or status >= 500:
        return ServerError(message, **kwargs)
    if status in (401, 403):
        return AuthenticationError(message, **kwargs)
    if code in _NOT_FOUND or status == 404:
        return NotFoundError(message, **kwargs)
    return APIError(message, **kwargs)


def _first_fault(response: httpx.Response) -> tuple[str | None, str]:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None, _excerpt(response)
    if isinstance(body, dict) and isinstance(body.get("meldingen"), dict):
        body = body["meldingen"]  # pre-2022 wrapper
    faults = body.get("fout") if isinstance(body, dict) else None
    if isinstance(faults, list) and faults and isinstance(faults[0], dict):
        first = faults[0]
        return (str(first.get("code")) if first.get("code") else None), str(
            first.get("omschrijving", "")
        )
    return None, _excerpt(response)


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    text = " ".join(response.text.split())
    return text[:limit] + ("…" if len(text) > limit else "") if text else "(empty body)"
