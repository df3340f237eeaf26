"""Choosing the e-Boekhouden backend (SOAP or REST) by configuration.

A host stores one settings record per administration (a TOML table, a row in
its own database, environment variables) and calls `connect`; the client it
gets back is a `BooksClient` either way.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ConfigDict, Field, SecretStr, model_validator

from .._answers import DEFAULT_MAX_ANSWER_BYTES
from .._model import Model
from ..errors import ConfigurationError, ValidationError
from ._books import BooksClient

__all__ = ["EBoekhoudenSettings", "connect"]

_ENV_PREFIX = "CRMCONNECT_EBOEKHOUDEN_"
_SOAP_EXTRA = frozenset({"zeep", "requests", "lxml"})
"""What ``pip install 'crmconnect[eboekhouden]'`` brings (zeep and what it needs)."""


class EBoekhoudenSettings(Model):
    """How to reach one e-Boekhouden administration.

    Secrets (the SOAP username and security codes, the REST access token) are
    `SecretStr`: their ``repr`` and ``str`` show ``**********``, and an invalid
    value raises `crmconnect.errors.ValidationError` with the value masked and
    nothing chained (pydantic's own error would hold it as ``input_value``).

    Attributes:
        backend: ``"rest"`` (an API access token; the default, advised for new
            integrations) or ``"soap"`` (username and two security codes; needs
            ``pip install 'crmconnect[eboekhouden]'``).
        username: SOAP login name (it identifies the account: masked like the codes).
        security_code_1: SOAP security code 1.
        security_code_2: SOAP security code 2.
        access_token: REST API token (*Beheer > Inrichting > Koppelingen > API*).
        source: A short name of the connecting application (max 10 characters).
        base_url: The service address (e.g. a sandbox); the backend's default when
            omitted. ``url`` is still accepted, with a `DeprecationWarning`.
        administration_guid: SOAP, for accountants: the administration to open.
        debtors_ledger: Debtors ledger code (category DEB) of sales invoices.
        creditors_ledger: Creditors ledger code (category CRED) of purchase invoices.
        timeout: Seconds per request.
        max_retries: Retries of reads after transport or server errors.
        max_answer_bytes: The largest answer read; a larger one is a
            `crmconnect.errors.MalformedResponseError` (16 MiB by default).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["soap", "rest"] = "rest"
    username: SecretStr | None = None
    security_code_1: SecretStr | None = None
    security_code_2: SecretStr | None = None
    access_token: SecretStr | None = None
    source: str = Field("crmconnect", max_length=10)
    base_url: str | None = None
    administration_guid: str | None = None
    debtors_ledger: str = "1300"
    creditors_ledger: str = "1600"
    timeout: float = Field(30.0, gt=0)
    max_retries: int = Field(2, ge=0)
    max_answer_bytes: int = Field(DEFAULT_MAX_ANSWER_BYTES, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _url_is_base_url(cls, data: Any) -> Any:
        # ``url`` was this setting's name; every other client calls it ``base_url``.
        if isinstance(data, Mapping) and "url" in data:
            warnings.warn(
                "the e-Boekhouden setting 'url' is now 'base_url'",
                DeprecationWarning,
                stacklevel=2,
            )
            values = dict(data)
            url = values.pop("url")
            if values.setdefault("base_url", url) != url:
                raise ValueError("give 'base_url' only ('url' is its old name)")
            return values
        return data

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> EBoekhoudenSettings:
        """Settings from a plain mapping (a TOML table, a database row).

        Raises:
            ConfigurationError: A key is unknown or a value is invalid; names the
                key, never shows a secret.
        """
        try:
            return cls.model_validate(dict(values))
        except ValidationError as invalid:
            error = _configuration_error(invalid)
        raise error  # outside the except block: nothing chained

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EBoekhoudenSettings:
        """Settings from ``CRMCONNECT_EBOEKHOUDEN_<NAME>`` variables (e.g. ``..._BACKEND``).

        ``..._URL`` is the old name of ``..._BASE_URL`` (a `DeprecationWarning`).
        """
        source = os.environ if environ is None else environ
        values = {
            name: source[_ENV_PREFIX + name.upper()]
            for name in (*cls.model_fields, "url")
            if _ENV_PREFIX + name.upper() in source
        }
        return cls.from_mapping(values)


def _configuration_error(invalid: ValidationError) -> ConfigurationError:
    problems = "; ".join(f"{field}: {reason}" for field, _value, reason in invalid.errors)
    return ConfigurationError(f"invalid e-Boekhouden settings: {problems}")


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def connect(settings: EBoekhoudenSettings | Mapping[str, Any] | None = None) -> BooksClient:
    """A client for the configured backend; from the environment when nothing is given.

    REST is the default backend; ``backend="soap"`` chooses SOAP.

    Example:
        ```python
        from crmconnect.eboekhouden import connect

        with connect({"access_token": token}) as books:
            books.payment_status(["F2026-001"])
        ```

    Raises:
        ConfigurationError: The settings are invalid or miss a credential.
    """
    if settings is None:
        settings = EBoekhoudenSettings.from_env()
    elif not isinstance(settings, EBoekhoudenSettings):
        settings = EBoekhoudenSettings.from_mapping(settings)
    common: dict[str, Any] = {
        "source": settings.source,
        "base_url": settings.base_url,
        "timeout": settings.timeout,
        "max_retries": settings.max_retries,
        "debtors_ledger": settings.debtors_ledger,
        "creditors_ledger": settings.creditors_ledger,
        "max_answer_bytes": settings.max_answer_bytes,
    }
    if settings.backend == "rest":
        from .rest import EBoekhoudenRestClient

        return EBoekhoudenRestClient(_secret(settings.access_token), **common)
    try:
        from ._client import EBoekhoudenClient
    except ImportError as missing:
        if missing.name not in _SOAP_EXTRA:
            raise
        error = ConfigurationError(
            "the SOAP backend needs zeep: pip install 'crmconnect[eboekhouden]' "
            "(or use the REST backend, which needs no extra)"
        )
    else:
        return EBoekhoudenClient(
            _secret(settings.username),
            _secret(settings.security_code_1),
            _secret(settings.security_code_2),
            administration_guid=settings.administration_guid,
            **common,
        )
    raise error  # outside the except block: nothing chained
