"""Choosing the e-Boekhouden backend (SOAP or REST) by configuration.

A host stores one settings record per administration (a TOML table, a row in
its own database, environment variables) and calls `connect`; the client it
gets back is a `BooksClient` either way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..errors import ConfigurationError
from ._books import BooksClient

__all__ = ["EBoekhoudenSettings", "connect"]

_ENV_PREFIX = "CRMCONNECT_EBOEKHOUDEN_"


class EBoekhoudenSettings(BaseModel):
    """How to reach one e-Boekhouden administration.

    Secrets are `SecretStr`: their ``repr`` and ``str`` show ``**********``.

    Attributes:
        backend: ``"soap"`` (username and two security codes) or ``"rest"``
            (an API access token).
        username: SOAP login name.
        security_code_1: SOAP security code 1.
        security_code_2: SOAP security code 2.
        access_token: REST API token (*Beheer > Inrichting > Koppelingen > API*).
        source: A short name of the connecting application (max 10 characters).
        url: The service address (e.g. a sandbox); the backend's default when omitted.
        administration_guid: SOAP, for accountants: the administration to open.
        debtors_ledger: Debtors ledger code (category DEB) of sales invoices.
        creditors_ledger: Creditors ledger code (category CRED) of purchase invoices.
        timeout: Seconds per request.
        max_retries: Retries of reads after transport or server errors.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["soap", "rest"] = "soap"
    username: str | None = None
    security_code_1: SecretStr | None = None
    security_code_2: SecretStr | None = None
    access_token: SecretStr | None = None
    source: str = Field("crmconnect", max_length=10)
    url: str | None = None
    administration_guid: str | None = None
    debtors_ledger: str = "1300"
    creditors_ledger: str = "1600"
    timeout: float = Field(30.0, gt=0)
    max_retries: int = Field(2, ge=0)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> EBoekhoudenSettings:
        """Settings from a plain mapping (a TOML table, a database row).

        Raises:
            ConfigurationError: A key is unknown or a value is invalid; names the key.
        """
        try:
            return cls.model_validate(dict(values))
        except pydantic.ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
            )
            raise ConfigurationError(f"invalid e-Boekhouden settings: {problems}") from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EBoekhoudenSettings:
        """Settings from ``CRMCONNECT_EBOEKHOUDEN_<NAME>`` variables (e.g. ``..._BACKEND``)."""
        source = os.environ if environ is None else environ
        values = {
            name: source[_ENV_PREFIX + name.upper()]
            for name in cls.model_fields
            if _ENV_PREFIX + name.upper() in source
        }
        return cls.from_mapping(values)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def connect(settings: EBoekhoudenSettings | Mapping[str, Any] | None = None) -> BooksClient:
    """A client for the configured backend; from the environment when nothing is given.

    Example:
        ```python
        from crmconnect.eboekhouden import connect

        with connect({"backend": "rest", "access_token": token}) as books:
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
        "url": settings.url,
        "timeout": settings.timeout,
        "max_retries": settings.max_retries,
        "debtors_ledger": settings.debtors_ledger,
        "creditors_ledger": settings.creditors_ledger,
    }
    if settings.backend == "rest":
        from .rest import EBoekhoudenRestClient

        return EBoekhoudenRestClient(_secret(settings.access_token), **common)
    from ._client import EBoekhoudenClient

    return EBoekhoudenClient(
        settings.username,
        _secret(settings.security_code_1),
        _secret(settings.security_code_2),
        administration_guid=settings.administration_guid,
        **common,
    )
