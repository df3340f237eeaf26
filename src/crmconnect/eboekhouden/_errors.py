"""e-Boekhouden's errors → `crmconnect.errors`, for SOAP and REST alike.

Three plain tables decide, in this order; all are data, so a host can correct
or extend them without a release of crmconnect:

1. `ERROR_CODES`: a known code → its error class (REST publishes 326 codes;
   the SOAP service's codes are not public, but where it sends one of these
   it means the same);
2. `FIELD_OF_CODE`: a code that refuses one field → `RemoteValidationError`
   naming that field (by our English attribute name);
3. `ERROR_PATTERNS`: (regular expression, error class) pairs on the text,
   for SOAP answers whose code says nothing.

```python
from crmconnect.eboekhouden import ERROR_CODES, ERROR_PATTERNS
from crmconnect.errors import ConflictError

ERROR_CODES["MUT_021"] = ConflictError
ERROR_PATTERNS.insert(0, (r"dubbel", ConflictError))
```

What none of them knows becomes a plain `APIError` carrying the remote code and text.
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
    RemoteValidationError,
    ServerError,
)

__all__ = [
    "ERROR_CODES",
    "ERROR_PATTERNS",
    "FIELD_OF_CODE",
    "SESSION_ERROR_PATTERN",
    "classify",
    "error_from_result",
    "is_session_error",
]

_AUTH = ("SECURITY_00" + str(n) for n in range(1, 7))
ERROR_CODES: dict[str, type[APIError]] = {
    **dict.fromkeys(
        [*_AUTH, "SECURITY_010", "SECURITY_011", "SECURITY_999", "EP_001", "EP_002"],
        AuthenticationError,
    ),
    **dict.fromkeys([f"API_SESSION_00{n}" for n in range(1, 5)], AuthenticationError),
    **dict.fromkeys(
        ["REL_049", "MUT_019", "MUT_020", "FACT_101", "LEDG_013", "MUTA_008", "FACT_VERWERK_004"],
        ConflictError,
    ),
    **dict.fromkeys(
        ["REL_048", "REL_055", "MUT_007", "MUT_013", "MUT_104", "MUT_113", "MUT_115"],
        NotFoundError,
    ),
    **dict.fromkeys(["MUT_117", "MUT_300", "MUT_901", "FACT_002", "FACT_021"], NotFoundError),
    "ERR_001": ServerError,
}
"""Known codes → error class (REST codes, eboekhouden.md §2.6).

``SECURITY_007``/``MUT_005`` (period closed by the accountant) stay a plain
`APIError` with their code: not retriable, and no record is missing.
"""

_FREE_TEXTS = {f"REL_{n:03d}": f"def{n - 36}" for n in range(37, 47)}
FIELD_OF_CODE: dict[str, str] = {
    # Relations (REL_*): the attribute of `Relation` the code refuses.
    "REL_001": "type", "REL_002": "company", "REL_003": "company", "REL_004": "gender",
    "REL_005": "code", "REL_006": "code", "REL_007": "iban", "REL_008": "kvk_number",
    "REL_009": "contact_person", "REL_010": "salutation", "REL_011": "address",
    "REL_012": "postcode", "REL_013": "city", "REL_014": "country",
    "REL_015": "postal_address", "REL_016": "postal_postcode", "REL_017": "postal_city",
    "REL_018": "postal_country", "REL_019": "phone", "REL_020": "mobile", "REL_021": "fax",
    "REL_022": "email", "REL_023": "email", "REL_028": "website", "REL_029": "iban",
    "REL_032": "bic", "REL_035": "vat_number", "REL_047": "note", "REL_050": "kvk_number",
    "REL_054": "id", **_FREE_TEXTS,
    # Mutations (MUT_*, MUTA_*): the attribute of `Mutation` or `MutationLine`.
    "MUT_001": "kind", "MUTA_002": "kind", "MUTA_009": "kind", "MUT_002": "invoice_number",
    "MUT_018": "invoice_number", "MUT_120": "invoice_number", "MUT_003": "date",
    "MUT_004": "date", "MUT_012": "relation_code", "MUT_112": "relation_code",
    "MUT_017": "in_ex_vat", "MUT_026": "in_ex_vat", "MUTA_005": "in_ex_vat",
    "MUTA_001": "ledger_code", "MUT_009": "ledger_code", "MUT_010": "ledger_code",
    "MUT_011": "ledger_code", "MUT_106": "lines.ledger_code", "MUT_107": "lines.ledger_code",
    "MUT_108": "lines.ledger_code", "MUT_109": "lines.vat_code", "MUT_110": "lines.vat_code",
    "MUT_111": "lines.vat_code", "MUT_100": "lines", "MUTA_003": "lines.vat_amount",
}  # fmt: skip
"""Codes that refuse one field → that field, by our English attribute name."""

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
    return classify(message, code=code or None, text=redact(text), field=None, status_code=None)


def classify(
    message: str,
    *,
    code: str | None,
    text: str,
    field: str | None,
    status_code: int | None,
    context: dict[str, Any] | None = None,
) -> APIError:
    """The typed error for a remote code and text (see the module's three tables).

    Args:
        message: Our message (already redacted).
        code: The remote code, if any.
        text: The remote text (already redacted).
        field: The field the service named (REST ``propertyName``), by our name.
        status_code: The HTTP status; ``None`` for in-band SOAP errors.
        context: Extra details for the error.
    """
    kwargs: dict[str, Any] = {
        "service": "eboekhouden",
        "code": code,
        "remote_message": text,
        "status_code": status_code,
        "context": context,
    }
    known = ERROR_CODES.get(code or "")
    if known is not None:
        return known(message, **kwargs)
    named = field or FIELD_OF_CODE.get(code or "")
    if named is not None:
        return RemoteValidationError(message, field=named, **kwargs)
    kind = next(
        (cls for pattern, cls in ERROR_PATTERNS if re.search(pattern, text, re.IGNORECASE)),
        APIError,
    )
    return kind(message, **kwargs)


def is_session_error(error: APIError) -> bool:
    """Whether a SOAP error says the session expired or is unknown."""
    text = error.remote_message or ""
    return error.code == "SECURITY_002" or bool(re.search(SESSION_ERROR_PATTERN, text, re.I))
