"""e-Boekhouden's in-band errors → `crmconnect.errors`.

The SOAP service answers HTTP 200 with ``ErrorMsg{LastErrorCode,
LastErrorDescription}`` inside each result; no list of its codes is public.
So errors are classified by their text, through `ERROR_PATTERNS`: a plain,
ordered table of (regular expression, error class). It is data, so a host can
correct or extend it without a release of crmconnect:

```python
from crmconnect.eboekhouden import ERROR_PATTERNS
from crmconnect.errors import ConflictError

ERROR_PATTERNS.insert(0, (r"dubbel", ConflictError))
```

Unknown texts become a plain `APIError` carrying the remote code and text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._redact import Redactor
from ..errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ServerError,
)

__all__ = ["ERROR_PATTERNS", "SESSION_ERROR_PATTERN", "error_from_result", "is_session_error"]

SESSION_ERROR_PATTERN = r"sessi(e|on)|session ?id"
"""Texts that mean the session expired or is unknown: the client reopens it once."""

ERROR_PATTERNS: list[tuple[str, type[APIError]]] = [
    (SESSION_ERROR_PATTERN, AuthenticationError),
    (
        r"beveiligingscode|security ?code|gebruikersnaam|username|inlog|login|wachtwoord",
        AuthenticationError,
    ),
    (r"bestaat al|already exists|reeds|duplicate|dubbel", ConflictError),
    (r"niet gevonden|bestaat niet|not found|onbekend|unknown", NotFoundError),
    (r"tijdelijk|temporar|probeer (het )?later|try again", ServerError),
]
"""Ordered (pattern, error class) pairs, matched case-insensitively on the error text.

Assumption: e-Boekhouden publishes no SOAP error codes; these patterns follow
the wording of its Dutch interface and of its REST error texts.
"""


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def error_from_result(
    result: Mapping[str, Any] | None, *, operation: str, redact: Redactor
) -> APIError | None:
    """The typed error in an operation's result, or ``None`` when it succeeded.

    Args:
        result: The serialised ``*Result`` (or a bare ``cError``).
        operation: The SOAP operation, for the message.
        redact: Masks the credentials in the remote text.
    """
    if result is None:
        return None
    error = result.get("ErrorMsg", result)
    if not isinstance(error, Mapping):
        return None
    code, text = _text(error.get("LastErrorCode")), _text(error.get("LastErrorDescription"))
    if not code and not text:
        return None
    message = redact(f"e-Boekhouden {operation} failed: {code + ' ' if code else ''}{text}")
    kind = next(
        (cls for pattern, cls in ERROR_PATTERNS if re.search(pattern, text, re.IGNORECASE)),
        APIError,
    )
    return kind(message, service="eboekhouden", code=code or None, remote_message=redact(text))


def is_session_error(error: APIError) -> bool:
    """Whether an error says the session expired or is unknown."""
    return bool(re.search(SESSION_ERROR_PATTERN, error.remote_message or "", re.IGNORECASE))
