"""REST error answers → `crmconnect.errors`, through the same tables as SOAP.

The body is ``{"type": "validation"|"security", "code", "title", "message",
"propertyName", "errors", "status", "traceId"}``; only ``type``, ``title`` and
``status`` are always present (eboekhouden.md §2.2). The code decides the
class (`ERROR_CODES`, `FIELD_OF_CODE`); ``propertyName`` names the field; the
HTTP status decides when there is no code.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..._answers import EXCERPT_LENGTH, excerpt
from ..._http import parse_retry_after
from ..._redact import Redactor
from ...errors import (
    APIError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    RemoteValidationError,
    ServerError,
)
from .._errors import ERROR_CODES, classify
from ._models import rest_field

__all__ = ["SESSION_EXPIRED", "parse_rest_error"]

_MAX_TEXT = 500
"""Characters of a remote error text kept (a hostile one may be megabytes long)."""

SESSION_EXPIRED = "SECURITY_010"
""""Not authenticated": the session token expired or is unknown; open a new session."""


def _body(response: httpx.Response) -> dict[str, Any]:
    """The error object, or ``{}`` for anything else (HTML, a list, JSON nested too deep)."""
    try:
        data = json.loads(response.content)
    except (ValueError, RecursionError):  # not JSON, bad UTF-8, nested too deep
        return {}
    return data if isinstance(data, dict) else {}


def _member(body: dict[str, Any], name: str, limit: int | None = None) -> str | None:
    """A member as text: only strings and numbers count, and only up to ``limit`` characters."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        return None
    text = str(value)
    return None if limit is not None and len(text) > limit else text


def _remote_text(body: dict[str, Any], response: httpx.Response, redact: Redactor) -> str:
    """The remote message (or the start of the body), secrets masked before it is cut."""
    text = _member(body, "message") or _member(body, "title")
    if text is None:
        text = " ".join(response.content[: EXCERPT_LENGTH * 8].decode("utf-8", "replace").split())
    return excerpt(text, redact, _MAX_TEXT) or "(empty body)"


def parse_rest_error(response: httpx.Response, redact: Redactor) -> APIError | None:
    """Map an error answer of the REST API onto the error tree; ``None`` for a success."""
    status = response.status_code
    if status < 400:
        return None
    body = _body(response)
    code = _member(body, "code", limit=40)
    text = _remote_text(body, response, redact)
    message = redact(f"e-Boekhouden answered {status}" + (f" {code}" if code else "")) + f": {text}"
    context = {"url": redact(str(response.request.url))}
    trace_id = _member(body, "traceId", limit=100)
    if trace_id:
        context["trace_id"] = redact(trace_id)
    kwargs: dict[str, Any] = {
        "service": "eboekhouden",
        "status_code": status,
        "code": code,
        "remote_message": text,
        "context": context,
    }
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RateLimitError(message, retry_after=retry_after, **kwargs)
    if status >= 500 and code not in ERROR_CODES:
        return ServerError(message, **kwargs)
    field = rest_field(_member(body, "propertyName", limit=100))
    if code is not None or field is not None:
        return classify(
            message, code=code, text=text, field=field, status_code=status, context=context
        )
    if status in (401, 403):
        return AuthenticationError(message, **kwargs)
    if status == 404:
        return NotFoundError(message, **kwargs)
    if body.get("type") == "validation":
        return RemoteValidationError(message, field="", **kwargs)
    return APIError(message, **kwargs)
