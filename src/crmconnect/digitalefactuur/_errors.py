"""DigitaleFactuur's error answers → `crmconnect.errors`.

DF's only documented error signal: the body "always starts with an error
code", three digits, as plain text (digitalefactuur.md §1.3). Its codes are
not public, so `ERROR_CODES` is data a host can correct. HTTP ≥ 400 is an
error too; a body that is neither an error nor XML is an `APIError` with an
excerpt. Every text goes through the client's redaction first.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from .._http import parse_retry_after
from .._redact import Redactor
from ..errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RateLimitError,
    RemoteValidationError,
    ServerError,
)
from ._fields import FieldTable

__all__ = ["ERROR_CODES", "UNKNOWN_ROUTE", "UnknownRouteError", "coded_error", "parse_http_error"]

_CODED = re.compile(r"^\s*(\d{3})(?!\d)[\s:.\-]*(.*)$", re.DOTALL)

ERROR_CODES: dict[str, type[APIError]] = {
    "401": AuthenticationError,
    "403": AuthenticationError,
    "404": NotFoundError,
    "409": ConflictError,
    "422": RemoteValidationError,
    "429": RateLimitError,
    "500": ServerError,
    "503": ServerError,
}
"""Three-digit codes → error class.

Assumption: DF's codes are not public; these follow HTTP's meaning of the
same numbers (the sandbox answers them). Unknown codes are a plain `APIError`.
"""


UNKNOWN_ROUTE = ("onbekende url", "onbekende actie")
"""How a ``404`` text starts when the URL or the action is unknown, not the record.

Assumption: the reference documents no error texts; these are the sandbox's.
A ``404`` with HTTP status 404 and no three-digit code in its body (a web
server's page) means the same: the URL does not lead to DF's API.
"""


class UnknownRouteError(APIError):
    """A 404 for the URL or the action, not for a record: the base URL is wrong.

    The client turns it into a `crmconnect.errors.ConfigurationError` naming
    ``base_url``; it is never a `NotFoundError`, which would read as "no such record".
    """


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat[:limit] + ("…" if len(flat) > limit else "") if flat else "(empty body)"


def coded_error(
    text: str, action: str, redact: Redactor, tables: tuple[FieldTable, ...]
) -> APIError | None:
    """The typed error when ``text`` starts with a three-digit code, else ``None``.

    A validation error names the field when its text mentions one of the
    tables' element names (e.g. ``relatienummer`` → ``number``).
    """
    found = _CODED.match(text)
    if found is None or text.lstrip().startswith("<") or text.strip().isdigit():
        # A bare number is no error but an answer (a create may return the new ID).
        return None
    code, detail = found.group(1), redact(_excerpt(found.group(2)))
    message = f"DigitaleFactuur {action} failed: {code} {detail}".rstrip()
    kwargs: dict[str, Any] = {
        "service": "digitalefactuur",
        "code": code,
        "remote_message": detail,
        "context": {"action": action},
    }
    if code == "404" and detail.casefold().startswith(UNKNOWN_ROUTE):
        return UnknownRouteError(message, **kwargs)
    kind = ERROR_CODES.get(code, APIError)
    if kind is RemoteValidationError:
        return RemoteValidationError(message, field=_field_in(detail, tables), **kwargs)
    return kind(message, **kwargs)


def _field_in(text: str, tables: tuple[FieldTable, ...]) -> str:
    words = set(re.findall(r"[a-z_]+", text.casefold()))
    for table in tables:
        for spec in table:
            if spec.element in words:
                return spec.attribute
    return ""


def parse_http_error(response: httpx.Response, redact: Redactor) -> APIError | None:
    """HTTP ≥ 400 → the error tree (the body's code, when it has one, decides)."""
    status = response.status_code
    if status < 400:
        return None
    text = response.text
    kwargs: dict[str, Any] = {
        "service": "digitalefactuur",
        "status_code": status,
        "remote_message": redact(_excerpt(text)),
        "context": {"url": redact(str(response.request.url))},
    }
    found = _CODED.match(text)
    code = found.group(1) if found else None
    message = redact(f"DigitaleFactuur answered HTTP {status}: {_excerpt(text)}")
    detail = found.group(2) if found else ""
    if status == 404 and (code is None or detail.casefold().startswith(UNKNOWN_ROUTE)):
        return UnknownRouteError(message, code=code, **kwargs)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RateLimitError(message, retry_after=retry_after, code=code, **kwargs)
    if status >= 500:
        return ServerError(message, code=code, **kwargs)
    kind = ERROR_CODES.get(code or "", None) or {
        401: AuthenticationError,
        403: AuthenticationError,
        404: NotFoundError,
    }.get(status, APIError)
    if kind is RemoteValidationError:
        return RemoteValidationError(message, field="", code=code, **kwargs)
    return kind(message, code=code, **kwargs)
