"""The base of crmconnect's pydantic models, and the text rules every connector shares.

`Model` raises `crmconnect.errors.ValidationError` (a `CrmConnectError`)
instead of pydantic's own error, naming the field, the value and the reason,
and without the pydantic error in ``__context__``: error reporters walk that
chain, and pydantic's error holds every input value, secrets included.

Text rules (`Text`, `key`): every string that may reach a remote service loses
control characters (NUL, escape, DEL, C1) and invisible characters (zero-width
space, word joiner, BOM) at the model, for every connector alike. XML 1.0
cannot carry most of them at all (lxml refuses NUL), and a zero-width
character makes an invoice number that looks empty or equal to another one.
Lone surrogates and U+FFFE/U+FFFF go too: they are not characters, XML 1.0
cannot carry them, and one service would refuse what another stores. Tab,
newline and carriage return are kept: they are valid text. A `key`
(relation code, invoice number) must still hold a visible character after
that, and fit the remote field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Self, TypeVar

import pydantic
from pydantic import AfterValidator, BaseModel, SecretBytes, SecretStr

from ._redact import MASK
from .errors import ValidationError

__all__ = ["Model", "Text", "clean_text", "from_pydantic", "key", "text"]

_T = TypeVar("_T")

_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\ud800-\udfff\ufffe\uffff]"
)
"""Control characters, zero-width characters and the BOM, lone surrogates and U+FFFE/U+FFFF
(not characters at all: XML 1.0 cannot carry them, JSON stores them as they are)."""


def clean_text(value: str) -> str:
    """Remove control and invisible characters; tab, newline and carriage return stay."""
    return _INVISIBLE.sub("", value)


Text = Annotated[str, AfterValidator(clean_text)]
"""A string without control or invisible characters (see the module text)."""


def text(max_length: int) -> Any:
    """A `Text` of at most ``max_length`` characters (after cleaning).

    Args:
        max_length: The remote field's length.
    """

    def check(value: str) -> str:
        value = clean_text(value)
        if len(value) > max_length:
            raise ValueError(f"is {len(value)} characters long; at most {max_length} fit")
        return value

    return Annotated[str, AfterValidator(check)]


def key(max_length: int) -> Any:
    """A code or number that identifies a record: visible text of at most ``max_length``.

    Args:
        max_length: The remote field's length.
    """

    def check(value: str) -> str:
        value = clean_text(value).strip()
        if not value:
            raise ValueError("holds no visible character")
        if len(value) > max_length:
            raise ValueError(f"is {len(value)} characters long; at most {max_length} fit")
        return value

    return Annotated[str, AfterValidator(check)]


class Model(BaseModel):
    """A pydantic model that raises `crmconnect.errors.ValidationError`.

    Construction, `model_validate` and assignment (with
    ``validate_assignment``) all raise our error, naming the first field that
    failed; ``error.errors`` lists every failure, secrets masked.
    """

    def __init__(self, /, **data: Any) -> None:
        _translated(lambda: super(Model, self).__init__(**data), type(self))

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """Validate ``obj`` (see pydantic), raising `crmconnect.errors.ValidationError`."""
        validate = super().model_validate
        return _translated(lambda: validate(obj, *args, **kwargs), cls)

    @classmethod
    def model_validate_json(
        cls, json_data: str | bytes | bytearray, *args: Any, **kwargs: Any
    ) -> Self:
        """Validate JSON text (see pydantic), raising `crmconnect.errors.ValidationError`."""
        validate = super().model_validate_json
        return _translated(lambda: validate(json_data, *args, **kwargs), cls)

    def __setattr__(self, name: str, value: Any) -> None:
        _translated(lambda: super(Model, self).__setattr__(name, value), type(self))


def _translated(call: Callable[[], _T], model: type[BaseModel]) -> _T:
    try:
        return call()
    except pydantic.ValidationError as exc:
        error = from_pydantic(exc, model)
    raise error  # outside the except block: nothing chains the pydantic error (and its inputs)


def from_pydantic(exc: pydantic.ValidationError, model: type[BaseModel]) -> ValidationError:
    """Our `ValidationError` for a pydantic one, with secret inputs masked.

    Args:
        exc: The pydantic error.
        model: The model that was validated (its secret fields are masked).

    Returns:
        An error naming the first failing field; ``.errors`` holds all of them.
    """
    details = [d for item in exc.errors(include_url=False) for d in _details(item, model)]
    field, value, reason = details[0] if details else (model.__name__, None, str(exc))
    error = ValidationError(field, value, reason)
    error.errors = details
    return error


def _details(item: Any, model: type[BaseModel]) -> list[tuple[str, object, str]]:
    loc = tuple(str(part) for part in item.get("loc", ()))
    cause = (item.get("ctx") or {}).get("error")
    if isinstance(cause, ValidationError) and cause.field != model.__name__:
        # Raised by a nested Model's own __init__ (pydantic calls it): already ours, masked.
        return [(".".join((*loc, f)), v, r) for f, v, r in cause.errors]
    field = ".".join(loc) or model.__name__
    value = MASK if _is_secret(model, loc) else item.get("input")
    reason = cause.reason if isinstance(cause, ValidationError) else str(item.get("msg", ""))
    return [(field, value, reason.removeprefix("Value error, "))]


def _is_secret(model: type[BaseModel], loc: tuple[Any, ...]) -> bool:
    info = model.model_fields.get(str(loc[0])) if loc else None
    if info is None:
        return any(isinstance(part, str) and _looks_secret(part) for part in loc)
    if info.repr is False:  # kept out of reprs (a BSN): out of errors too
        return True
    annotation = str(info.annotation)
    return "Secret" in annotation or info.annotation in (SecretStr, SecretBytes)


def _looks_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in ("secret", "token", "password", "api_key", "code_"))
