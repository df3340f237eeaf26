"""Reading remote answers: the one typed path every connector parses through.

Whatever a server sends (an HTML maintenance page with HTTP 200, ``[]`` where
an object belongs, JSON nested 100,000 deep, a body of a gigabyte), reading it
yields a value or a `crmconnect.errors.MalformedResponseError` naming the
service, the HTTP status, what was expected and the start of the body with
secrets masked; never a bare ``KeyError``, ``TypeError`` or ``RecursionError``,
and never an unbounded read (the HTTP core stops at ``max_answer_bytes``).

    answer = Answer.of(response, service="kvk", redact=redactor)
    data = answer.as_object(answer.json(), "the search result")
    result = answer.model(SearchResult, data)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import attrs
import httpx
import pydantic

from ._redact import Redactor
from .errors import MalformedResponseError, ValidationError

__all__ = ["DEFAULT_MAX_ANSWER_BYTES", "EXCERPT_LENGTH", "Answer", "excerpt"]

DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024
"""The largest answer a client reads by default (16 MiB); each client's ``max_answer_bytes``."""

EXCERPT_LENGTH = 200
"""Characters of a malformed body kept in its error."""

_M = TypeVar("_M", bound=pydantic.BaseModel)


def excerpt(body: bytes | str, redact: Redactor, length: int = EXCERPT_LENGTH) -> str:
    """The start of a body as text, secrets masked (masking first, so no secret is cut in two)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return redact(text[: length * 4])[:length]


@attrs.frozen
class Answer:
    """One remote answer being read, with what its errors must name.

    Attributes:
        service: The remote service, e.g. ``"kvk"``.
        status: The HTTP status (``None`` where there is none).
        body: The raw body (for the excerpt of an error).
        redact: The client's redactor.
    """

    service: str
    status: int | None
    body: bytes | str
    redact: Redactor

    @classmethod
    def of(cls, response: httpx.Response, *, service: str, redact: Redactor) -> Answer:
        """The answer of an httpx response (already read by the HTTP core)."""
        return cls(service, response.status_code, response.content, redact)

    def malformed(self, reason: str) -> MalformedResponseError:
        """The error for this answer: service, status, reason and a masked excerpt."""
        return self.redact.scrub(
            MalformedResponseError(
                f"{self.service}: the answer is not a valid answer: {reason}",
                service=self.service,
                status_code=self.status,
                excerpt=excerpt(self.body, self.redact),
            )
        )

    def fail(self, reason: str) -> NoReturn:
        """Raise `malformed` (outside any ``except`` block: nothing is chained)."""
        raise self.malformed(reason)

    def json(self, *, parse_float: Callable[[str], Any] = float) -> Any:
        """The body as JSON; anything that is not (HTML, cut off, nested too deep) fails."""
        try:
            return json.loads(self.body, parse_float=parse_float)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, too deep
            reason = "nested too deep" if isinstance(exc, RecursionError) else "not JSON"
        self.fail(reason)

    def as_object(self, data: Any, what: str) -> dict[str, Any]:
        """``data`` as a JSON object, or fail naming ``what`` was expected."""
        if not isinstance(data, dict):
            self.fail(f"{what} should be an object, not {_kind(data)}")
        return data

    def as_list(self, data: Any, what: str) -> list[Any]:
        """``data`` as a JSON array, or fail naming ``what`` was expected."""
        if not isinstance(data, list):
            self.fail(f"{what} should be a list, not {_kind(data)}")
        return data

    def field(self, data: Any, name: str, what: str) -> Any:
        """A required member of an object, or fail naming it."""
        value = self.as_object(data, what).get(name)
        if value is None or value == "":
            self.fail(f"{what} has no {name!r}")
        return value

    def model(self, model: type[_M], data: Any) -> _M:
        """``data`` validated as ``model``; a failure names the field (no bare pydantic error)."""
        try:
            return model.model_validate(data)
        except (pydantic.ValidationError, ValidationError, RecursionError) as exc:
            reason = _model_reason(model, exc)
        self.fail(reason)


def _model_reason(model: type[pydantic.BaseModel], exc: Exception) -> str:
    name = model.__name__
    if isinstance(exc, ValidationError):
        return f"{name}.{exc.field}: {exc.reason}"
    if isinstance(exc, pydantic.ValidationError) and exc.errors():
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{name}.{where}: {first['msg']}" if where else f"{name}: {first['msg']}"
    return f"{name}: nested too deep"


def _kind(data: Any) -> str:
    if data is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(data), "a number"
    )
