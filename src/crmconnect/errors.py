"""Every error crmconnect raises, in one hierarchy.

```
CrmConnectError
├── ConfigurationError        bad credentials format, missing extra, invalid setting
├── ValidationError           a value that breaks a rule; names the field and the value
├── TransportError            network failure before a usable answer [retriable]
│   ├── ConnectError          no connection was made: the request was never sent
│   └── TimeoutError          the request timed out [retriable]
├── APIError                  the remote service answered with an error
│   ├── AuthenticationError   401/403: the key or the session is not accepted
│   ├── ConflictError         the record already exists (duplicate code or invoice)
│   ├── NotFoundError         the remote record does not exist (or no longer)
│   ├── RateLimitError        429 or a quota answer [retriable], has ``retry_after``
│   ├── RemoteValidationError the service refused a value (also a ValidationError)
│   └── ServerError           5xx or a "try again later" code [retriable]
│       ├── MalformedResponseError  an answer that is not one (HTML, cut off, wrong shape)
│       └── UnavailableError  the service cannot answer now (VIES: a member state is down)
├── MappingError              a value the mapping tables do not cover
└── SyncError                 the synchronisation cannot go on
```

Retries are decided by type (see `is_retriable`): only `TransportError`,
`RateLimitError` and `ServerError` are ever retried, and only for idempotent
requests.

Secrets never reach these errors: every attribute of an error a client
raises goes through that client's redaction (`Redactor.scrub`), and nothing
is chained to it (``__cause__`` and ``__context__`` are cleared), because
error reporters walk that chain and the original (a zeep fault, a pydantic
error) may hold credentials.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "CrmConnectError",
    "MalformedResponseError",
    "MappingError",
    "NotFoundError",
    "RateLimitError",
    "RemoteDeprecationWarning",
    "RemoteValidationError",
    "ServerError",
    "SyncBusyError",
    "SyncError",
    "TimeoutError",
    "TransportError",
    "UnavailableError",
    "ValidationError",
    "is_retriable",
]


class CrmConnectError(Exception):
    """Base class of every error raised by crmconnect."""


class ConfigurationError(CrmConnectError):
    """A setting, credential or optional dependency is missing or malformed."""


class ValidationError(CrmConnectError, ValueError):
    """A value breaks a validation rule.

    Attributes:
        field: The name of the field that holds the value (e.g. ``"kvk_number"``).
        value: The offending value, as given.
        reason: Why the value was refused, in plain words.
        errors: Every ``(field, value, reason)`` found, the first one included
            (a model may break several rules at once).
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        self.errors: list[tuple[str, object, str]] = [(field, value, reason)]
        super().__init__(f"{field}: {_shown(value)} is not valid: {reason}")


_SHOWN_LENGTH = 200


def _shown(value: object) -> str:
    """``repr(value)`` for a message, cut to `_SHOWN_LENGTH` characters.

    A 10,000-character invoice number or a megabyte of pasted text is named
    by its start; an integer too long for ``repr`` (over 4,300 digits, which
    raises ``ValueError``) by its type. ``.value`` keeps the value itself.
    """
    try:
        shown = repr(value)
    except ValueError:
        return f"<{type(value).__name__} too long to show>"
    if len(shown) <= _SHOWN_LENGTH:
        return shown
    return f"{shown[:_SHOWN_LENGTH]}… ({len(shown)} characters)"


class TransportError(CrmConnectError):
    """The request did not get a usable answer (connection refused, reset, ...).

    Attributes:
        service: The remote service, e.g. ``"kvk"``.
    """

    def __init__(self, message: str, *, service: str = "") -> None:
        self.service = service
        super().__init__(message)


class ConnectError(TransportError):
    """No connection could be made, so the request was certainly not sent.

    This is the one transport failure after which even a create may be retried.
    """


class TimeoutError(TransportError):
    """The request timed out. Whether the remote acted on it is unknown."""


class APIError(CrmConnectError):
    """The remote service answered with an error.

    Attributes:
        service: The remote service, e.g. ``"kvk"``.
        status_code: The HTTP status, or ``None`` for in-band errors (SOAP).
        code: The service's own error code, e.g. ``"IPD0005"``.
        remote_message: The service's own error text.
        context: Extra details for diagnosis (redacted URL, body excerpt).
    """

    def __init__(
        self,
        message: str,
        *,
        service: str,
        status_code: int | None = None,
        code: str | None = None,
        remote_message: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        self.service = service
        self.status_code = status_code
        self.code = code
        self.remote_message = remote_message
        self.context = dict(context or {})
        super().__init__(message)

    def __str__(self) -> str:
        parts = [self.args[0] if self.args else "API error"]
        details = [f"service={self.service}"]
        if self.status_code is not None:
            details.append(f"status={self.status_code}")
        if self.code:
            details.append(f"code={self.code}")
        details.extend(f"{key}={value}" for key, value in self.context.items())
        return f"{parts[0]} ({', '.join(details)})"


class AuthenticationError(APIError):
    """The credentials were refused (HTTP 401/403 or an in-band login error)."""


class ConflictError(APIError):
    """The remote service already has this record (a duplicate code or invoice number)."""


class NotFoundError(APIError):
    """The requested record does not exist at the remote service (or no longer)."""


class RateLimitError(APIError):
    """The remote service asked us to slow down.

    Attributes:
        retry_after: Seconds the service asked to wait, when it said so.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class RemoteValidationError(APIError, ValidationError):
    """The remote service refused a value; ``field`` names it where the service said which.

    Both an `APIError` (with the remote code and text) and a `ValidationError`,
    so ``except ValidationError`` catches refusals made here and there alike.

    Attributes:
        field: The field refused, by our (English) name, e.g. ``"iban"``; the
            remote name when no translation is known; ``""`` when not said.
        value: The value refused, when known.
        reason: The service's text.
    """

    def __init__(self, message: str, *, field: str, value: object = None, **kwargs: Any) -> None:
        # Not APIError.__init__: its super() call would reach ValidationError's signature.
        self.service = kwargs.pop("service")
        self.status_code = kwargs.pop("status_code", None)
        self.code = kwargs.pop("code", None)
        self.remote_message = kwargs.pop("remote_message", None)
        self.context = dict(kwargs.pop("context", None) or {})
        if kwargs:
            raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
        self.field = field
        self.value = value
        self.reason = self.remote_message or message
        Exception.__init__(self, message)


class ServerError(APIError):
    """The remote service failed or is temporarily unavailable; retrying may help."""


class MalformedResponseError(ServerError):
    """The service answered something that is not a valid answer.

    An HTML maintenance page with HTTP 200, a cut-off or too-deep document, an
    answer larger than the client accepts (``max_answer_bytes``), a list where
    an object belongs, a record without its required elements. Retried like
    any `ServerError` when the request was idempotent; after a write, whether
    the write took effect is unknown, so it is looked up before anything
    repeats it.

    Attributes:
        excerpt: The start of the answer, secrets masked (also in ``context["body"]``).
    """

    def __init__(self, message: str, *, excerpt: str = "", **kwargs: Any) -> None:
        self.excerpt = excerpt
        super().__init__(message, **kwargs)
        if excerpt:
            self.context.setdefault("body", excerpt)


class UnavailableError(ServerError):
    """The service cannot give an answer now, and said so; never an answer about the record.

    VIES answers this way when a member state's system is down, busy or slow
    (``MS_UNAVAILABLE``, ``TIMEOUT``, ``MS_MAX_CONCURRENT_REQ``, ...): the VAT
    number is neither valid nor invalid, ask again later. Retried like any
    `ServerError`.
    """


class MappingError(CrmConnectError):
    """A value is not covered by the mapping tables (e.g. an unknown VAT category)."""


class SyncError(CrmConnectError):
    """The synchronisation cannot go on for a record or a run."""


class SyncBusyError(SyncError):
    """Another sync run holds the state store (its lease or lock): try again when it ends."""


class RemoteDeprecationWarning(FutureWarning):
    """The remote service announced that the API version in use will be retired.

    A `FutureWarning`, so Python shows it by default: whoever runs the host
    application should see it and plan the upgrade.
    """


def is_retriable(error: BaseException) -> bool:
    """Tell whether an error may go away when the same idempotent request is repeated.

    Args:
        error: Any exception.

    Returns:
        ``True`` for transport failures, rate limits and server errors.
    """
    return isinstance(error, TransportError | RateLimitError | ServerError)
