"""KvK error answers → `crmconnect.errors`.

KvK sends ``{"fout": [{"code": "IPDxxxx", "omschrijving": "..."}]}`` with
``Content-Type: application/json`` even when HAL was asked for; an older
variant wraps it in ``{"meldingen": {...}}``, and gateways may answer with
plain text. Codes that mean "try again later" (IPD1002, IPD1003, IPD9999)
arrive as 404/500 and become `ServerError`, so the retry policy picks them up.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from .._answers import Answer, excerpt
from .._http import parse_retry_after
from .._redact import Redactor
from ..errors import (
    APIError,
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
)

__all__ = ["NO_RESULTS", "parse_kvk_error"]

NO_RESULTS = "IPD5200"
"""Zoeken's "no results" code, sent as HTTP 404: an empty result, not an error."""

_TEMPORARY = frozenset({"IPD1002", "IPD1003", "IPD9999"})
_NOT_FOUND = frozenset({"IPD0001", "IPD0005", "IPD0007", NO_RESULTS})
_CODE = re.compile(r"[A-Z]{2,5}[0-9]{1,6}")
"""KvK's codes (``IPD0005``); anything else in ``code`` is not taken for one."""


def parse_kvk_error(response: httpx.Response, redact: Redactor) -> APIError | None:
    """Map a KvK error response onto the error tree; ``None`` for a success.

    Whatever the body (plain text from a gateway, HTML, JSON nested too deep,
    an echoed API key), the error holds only a masked, bounded excerpt of it.
    """
    status = response.status_code
    if status < 400:
        return None
    answer = Answer.of(response, service="kvk", redact=redact)
    code, text = _first_fault(answer)
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


def _first_fault(answer: Answer) -> tuple[str | None, str]:
    """KvK's first ``fout`` (code and text, masked and bounded), or an excerpt of the body."""
    try:
        body = answer.json()
    except MalformedResponseError:
        body = None  # a gateway's text or HTML page: its excerpt is the message
    if isinstance(body, dict) and isinstance(body.get("meldingen"), dict):
        body = body["meldingen"]  # pre-2022 wrapper
    faults = body.get("fout") if isinstance(body, dict) else None
    first = faults[0] if isinstance(faults, list) and faults else None
    if not isinstance(first, dict):
        return None, _excerpt(answer)
    code = first.get("code")
    text = first.get("omschrijving")
    return (
        code if isinstance(code, str) and _CODE.fullmatch(code) else None,
        _one_line(text, answer.redact) if isinstance(text, str) else _excerpt(answer),
    )


def _excerpt(answer: Answer) -> str:
    return _one_line(answer.body, answer.redact) or "(empty body)"


def _one_line(text: str | bytes, redact: Redactor) -> str:
    return " ".join(excerpt(text, redact).split())
