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

SESSION_EXPIRED = "SECURITY_010"
""""Not authenticated": the session token expired or is unknown; open a new session."""


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    text = " ".join(response.text.split())
    return text[:limit] + ("…" if len(text) > limit else "") if text else "(empty body)"


def parse_rest_error(response: httpx.Response, redact: Redactor) -> APIError | None:
    """Map an error answer of the REST API onto the error tree; ``None`` for a success."""
    status = response.status_code
    if status < 400:
        return None
    body = _body(response)
    code = str(body["code"]) if body.get("code") else None
    text = redact(str(body.get("message") or body.get("title") or _excerpt(response)))
    message = redact(f"e-Boekhouden answered {status}" + (f" {code}" if code else "")) + f": {text}"
    context = {"url": redact(str(response.request.url))}
    if body.get("traceId"):
        context["trace_id"] = str(body["traceId"])
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
    field = rest_field(body.get("propertyName"))
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
