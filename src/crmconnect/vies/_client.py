"""`ViesClient`: the EU's VIES VAT-number check over its REST interface, and VAT-number updates.

Only VALID and INVALID are answers. Every other state VIES reports (a member
state unavailable, a timeout, too many concurrent requests, the service
down) is an `UnavailableError`: retried with the shared policy, and raised
when it persists, never reported as "invalid".

The REST interface gives everything the SOAP one does, the approximate
check (``checkVatApprox``: trader name, street, postcode, city matched, and a
consultation number) included, through ``POST /check-vat-number``; so no
SOAP client is needed.

`VatUpdateService` refreshes a CRM record's name and address from VIES as an
`UpdateReport`, with the same ``apply(org, accept=[...])`` as the KvK update
service; nothing else is ever overwritten.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import httpx
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumValidationError

from .._answers import DEFAULT_MAX_ANSWER_BYTES, Answer
from .._http import HTTPSettings, SyncHTTP, parse_retry_after
from .._model import clean_text
from .._ratelimit import RateLimiter, limiter_for
from .._redact import Redactor
from .._retry import RetryPolicy
from ..errors import (
    APIError,
    AuthenticationError,
    MalformedResponseError,
    RateLimitError,
    RemoteValidationError,
    UnavailableError,
    ValidationError,
)
from ..kvk import RegistrationStatus, UpdateReport, compare
from ..kvk._client import check_client_settings, url_secrets
from ..models import Organisation
from ._models import Match, VatCheck, disclosed

__all__ = [
    "DEFAULT_URL",
    "UNAVAILABLE",
    "VAT_UPDATE_FIELDS",
    "VatUpdateService",
    "ViesClient",
    "split_vat_number",
    "vat_updates",
]

DEFAULT_URL = "https://ec.europa.eu/taxation_customs/vies/rest-api"
DEFAULT_RATE_LIMIT = 2.0
"""Requests per second: VIES refuses bursts (``MS_MAX_CONCURRENT_REQ``)."""

UNAVAILABLE = frozenset(
    {
        "SERVICE_UNAVAILABLE", "MS_UNAVAILABLE", "TIMEOUT", "SERVER_BUSY",
        "GLOBAL_MAX_CONCURRENT_REQ", "GLOBAL_MAX_CONCURRENT_REQ_TIME",
        "MS_MAX_CONCURRENT_REQ", "MS_MAX_CONCURRENT_REQ_TIME",
    }
)  # fmt: skip
"""VIES states that mean "no answer now, ask again later" (never "invalid")."""

_REFUSED: Mapping[str, type[APIError]] = {
    "INVALID_INPUT": RemoteValidationError,
    "INVALID_REQUESTER_INFO": RemoteValidationError,
    "VAT_BLOCKED": APIError,
    "IP_BLOCKED": AuthenticationError,
}
"""VIES states that refuse the request itself: not retried."""

VAT_UPDATE_FIELDS: dict[str, str] = {"name": "Name", "visiting_address": "Address"}
"""What an update by VAT number may change: the name and the address, nothing else."""

logger = logging.getLogger("crmconnect.vies")


def split_vat_number(value: str, *, check: bool = True) -> tuple[str, str]:
    """``("NL", "004495445B01")`` from any spelling, checked offline first.

    Greece is ``EL`` in VIES (``GR`` is accepted and turned into ``EL``).

    Args:
        value: The VAT number with its country code.
        check: Check the syntax offline (python-stdnum); off for VIES's test numbers.

    Raises:
        ValidationError: The number is not a valid EU VAT number (also: not
            text, or far too long to be one).
    """
    if not isinstance(value, str):
        raise ValidationError("vat_number", value, f"must be text, not {type(value).__name__}")
    text = clean_text(value).strip()
    if len(text) > _MAX_VAT_TEXT:
        raise ValidationError("vat_number", value[:40] + "...", "is too long for a VAT number")
    if text[:2].upper() == "GR":
        text = "EL" + text[2:]
    if len(text) < 4 or not text[:2].isalpha():
        raise ValidationError("vat_number", value, "a VAT number starts with its country code")
    text, reason = _stdnum_check(text, check)
    if reason is not None:
        raise ValidationError("vat_number", value, reason)
    return text[:2].upper(), text[2:]


_MAX_VAT_TEXT = 40
"""Characters a VAT number may take as typed (the longest has 14, spaces and dots come on top)."""


def _stdnum_check(text: str, check: bool) -> tuple[str, str | None]:
    """The compact number, and why python-stdnum refuses it (``None`` when it does not)."""
    try:
        compact = eu_vat.compact(text)
        if check:
            eu_vat.validate(compact)
    except StdnumValidationError as error:  # also an unknown country code
        return text, str(error).rstrip(".")
    return compact, None


class ViesClient:
    """Checks EU VAT numbers with VIES (REST).

    Args:
        base_url: The REST root (``CRMCONNECT_VIES_URL``), e.g. a sandbox.
        requester: Your own VAT number: VIES then returns a consultation
            number (``request_identifier``) to keep as evidence.
        timeout: Seconds per request.
        max_retries: Retries when VIES cannot answer now.
        rate_limit: Requests per second at most.
        http_client: An `httpx.Client` to use (borrowed, never closed here).
        transport: An httpx transport for a client created here (e.g. a sandbox's).
        test_service: Use VIES's test service (``/check-vat-test-service``), which
            answers its documented test numbers (``100`` valid, ``200`` invalid,
            ``300`` service unavailable, ...); they skip the offline check.
        max_answer_bytes: The largest answer read (16 MiB by default); a larger
            one, like any answer that is not a valid one, raises
            `crmconnect.errors.MalformedResponseError` (retried like a server error).

    Example:
        ```python
        with ViesClient() as vies:
            check = vies.check("NL004495445B01")
            print(check.valid, check.name, check.parsed_address())
        ```
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        requester: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        rate_limit: float | RateLimiter | None = DEFAULT_RATE_LIMIT,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        test_service: bool = False,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ) -> None:
        check_client_settings(base_url, max_retries, rate_limit, max_answer_bytes)
        self.test_service = test_service
        self.base_url = base_url or os.environ.get("CRMCONNECT_VIES_URL") or DEFAULT_URL
        self.requester = split_vat_number(requester) if requester else None
        settings = HTTPSettings(
            service="vies",
            base_url=self.base_url,
            error_parser=_parse_answer,
            headers={"Accept": "application/json"},
            timeout=timeout,
            retry=RetryPolicy(max_attempts=max(1, max_retries + 1)),
            limiter=limiter_for(rate_limit),
            max_answer_bytes=max_answer_bytes,
        )
        self._redact = Redactor(url_secrets(self.base_url))  # VIES itself takes no credentials
        self._http = SyncHTTP(settings, self._redact, http_client=http_client, transport=transport)

    def __repr__(self) -> str:
        return f"ViesClient(base_url={self._redact(self.base_url)!r})"

    def __enter__(self) -> ViesClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (a borrowed ``http_client`` stays open)."""
        self._http.close()

    def check(self, vat_number: str) -> VatCheck:
        """Is this VAT number valid, and under which name and address?

        Raises:
            ValidationError: The number fails the offline syntax check (no call is made).
            UnavailableError: VIES could not answer, also after the retries.
        """
        if self.requester is not None or self.test_service:
            return self.check_approx(vat_number)
        country, number = split_vat_number(vat_number)
        # Any state but VALID and INVALID was raised by `_parse_answer` (and retried).
        answer, data = self._json("GET", f"/ms/{country}/vat/{number}")
        return VatCheck(
            country_code=country,
            vat_number=number,
            valid=_flag(answer, data, "isValid"),
            request_date=_date(data.get("requestDate")),
            name=disclosed(data.get("name")),
            address=disclosed(data.get("address")),
            request_identifier=disclosed(data.get("requestIdentifier")),
            raw=data,
        )

    def check_approx(
        self,
        vat_number: str,
        *,
        name: str | None = None,
        street: str | None = None,
        postcode: str | None = None,
        city: str | None = None,
    ) -> VatCheck:
        """Check a VAT number and match trader details (SOAP's ``checkVatApprox``), over REST.

        With a ``requester`` set, the answer carries a consultation number.
        """
        country, number = split_vat_number(vat_number, check=not self.test_service)
        body: dict[str, Any] = {"countryCode": country, "vatNumber": number}
        if self.requester is not None:
            body["requesterMemberStateCode"], body["requesterNumber"] = self.requester
        trader = {"traderName": name, "traderStreet": street, "traderPostalCode": postcode,
                  "traderCity": city}  # fmt: skip
        body.update({key: value for key, value in trader.items() if value})
        path = "/check-vat-test-service" if self.test_service else "/check-vat-number"
        answer, data = self._json("POST", path, body)  # errorWrappers: raised by `_parse_answer`
        return VatCheck(
            country_code=country,
            vat_number=number,
            valid=_flag(answer, data, "valid"),
            request_date=_date(data.get("requestDate")),
            name=disclosed(data.get("name")),
            address=disclosed(data.get("address")),
            request_identifier=disclosed(data.get("requestIdentifier")),
            name_match=_match(data.get("traderNameMatch")),
            street_match=_match(data.get("traderStreetMatch")),
            postcode_match=_match(data.get("traderPostalCodeMatch")),
            city_match=_match(data.get("traderCityMatch")),
            raw=data,
        )

    def status(self) -> dict[str, bool]:
        """Which member states VIES can reach now (``/check-status``)."""
        answer, data = self._json("GET", "/check-status")
        countries = answer.as_list(data.get("countries"), "the member states (countries)")
        states: dict[str, bool] = {}
        for entry in countries:
            country = answer.field(entry, "countryCode", "a member state")
            if not isinstance(country, str) or len(country) != 2:
                answer.fail("a member state's countryCode should be two letters")
            states[country] = entry.get("availability") == "Available"
        return states

    def _json(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> tuple[Answer, dict[str, Any]]:
        content = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else None
        # A check changes nothing: the POST is as safe to repeat as the GET.
        response = self._http.request(
            method, path, content=content, headers=headers, idempotent=True
        )
        answer = Answer.of(response, service="vies", redact=self._redact)
        return answer, answer.as_object(answer.json(), f"the answer to {path}")


def _parse_answer(response: httpx.Response, redact: Redactor) -> APIError | None:
    """HTTP errors, and the states VIES reports inside an HTTP 200 (so they are retried too).

    A 200 whose body is not a JSON object (a maintenance page, JSON nested too
    deep) is a `MalformedResponseError` here, inside the retry loop, so it is
    retried like any server error.
    """
    status = response.status_code
    answer = Answer.of(response, service="vies", redact=redact)
    data, unreadable = _object_of(answer)
    if status < 400 and unreadable is not None:
        return unreadable
    state = _state_of(data)
    if status < 400 and state in (None, "VALID", "INVALID"):
        return None
    if status < 400:
        message = f"VIES cannot answer now: {state}"
    else:
        message = f"VIES answered HTTP {status}" + (f": {state}" if state else "")
    kwargs: dict[str, Any] = {
        "service": "vies",
        "status_code": status,
        "code": state,
        "context": {"url": redact(str(response.request.url))},
    }
    if unreadable is not None:
        kwargs["context"]["body"] = unreadable.excerpt
    if status == 429 or state in ("MS_MAX_CONCURRENT_REQ", "GLOBAL_MAX_CONCURRENT_REQ"):
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RateLimitError(message, retry_after=retry_after, **kwargs)
    if state is not None and state in _REFUSED:
        kind = _REFUSED[state]
        if kind is RemoteValidationError:
            return RemoteValidationError(message, field="vat_number", **kwargs)
        return kind(message, **kwargs)
    if status >= 500 or status < 400 or state in UNAVAILABLE:
        # Only VALID and INVALID are answers: any other state means "ask again later".
        return UnavailableError(message, **kwargs)
    return APIError(message, **kwargs)


def _object_of(answer: Answer) -> tuple[dict[str, Any] | None, MalformedResponseError | None]:
    """The body as a JSON object, or the error saying why it is none."""
    try:
        return answer.as_object(answer.json(), "the answer"), None
    except MalformedResponseError as error:
        return None, error


_STATE_LENGTH = 40
"""VIES's states are short words (``MS_MAX_CONCURRENT_REQ_TIME``); longer text is cut."""


def _state_of(data: dict[str, Any] | None) -> str | None:
    """The state in a VIES body: ``userError`` (GET) or the first ``errorWrappers`` entry (POST).

    A state that is not text is no state VIES knows: it reads as "unavailable".
    """
    if data is None:
        return None
    wrapped = data.get("errorWrappers")
    if isinstance(wrapped, list) and wrapped:
        first = wrapped[0] if isinstance(wrapped[0], dict) else {}
        return _state_text(first.get("error") or "SERVICE_UNAVAILABLE")
    state = data.get("userError")
    return _state_text(state) if state else None


def _state_text(state: object) -> str:
    return state[:_STATE_LENGTH] if isinstance(state, str) else "SERVICE_UNAVAILABLE"


def _flag(answer: Answer, data: dict[str, Any], name: str) -> bool:
    """A yes/no member VIES must send (``isValid``, ``valid``); anything else is malformed."""
    value = data.get(name)
    if not isinstance(value, bool):
        answer.fail(f"{name} should be true or false")
    return value


def _date(value: object) -> dt.date | None:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _match(value: object) -> Match | None:
    codes = {"1": Match.VALID, "2": Match.INVALID, "3": Match.NOT_PROCESSED}
    text = str(value).strip().upper() if value is not None else ""
    return codes.get(text) or (Match(text) if text in Match.__members__ else None)


class VatUpdateService:
    """Refreshes a CRM record's name and address from VIES, field by field.

    Args:
        client: A `ViesClient`.

    Example:
        ```python
        report = VatUpdateService(vies).vat_updates(customer)
        customer = report.apply(customer, accept=["visiting_address"])
        ```
    """

    def __init__(self, client: ViesClient) -> None:
        self.client = client

    def vat_updates(self, org: Organisation) -> UpdateReport:
        """Compare the record with what VIES has for its VAT number.

        The report proposes only the name and the address (``visiting_address``,
        parsed into street, house number, postcode and city where the format
        allows); what the member state does not disclose is not proposed. An
        INVALID number gives a report with status `RegistrationStatus.REMOVED`.

        Raises:
            ValidationError: The record has no (valid) VAT number.
            UnavailableError: VIES could not answer now (never turned into "invalid").
        """
        if not org.vat_number:
            raise ValidationError("vat_number", org.vat_number, "the record has no VAT number")
        check = self.client.check(org.vat_number)
        if not check.valid:
            reason = f"VIES: {check.full_number} is not a valid VAT number"
            return UpdateReport(
                org, None, RegistrationStatus.REMOVED, reason=reason, compared=_COMPARED
            )
        address = check.parsed_address()
        source = Organisation(
            name=check.name or org.name,
            vat_number=check.full_number,
            addresses=[address] if address else [],
        )
        fields = {k: v for k, v in VAT_UPDATE_FIELDS.items() if k != "name" or check.name}
        changes = compare(org, source, fields)
        return UpdateReport(org, source, RegistrationStatus.ACTIVE, changes, compared=_COMPARED)


_COMPARED = tuple(VAT_UPDATE_FIELDS)


def vat_updates(org: Organisation, client: ViesClient | None = None) -> UpdateReport:
    """The name and address changes VIES proposes for a record (see `VatUpdateService`).

    Args:
        org: The CRM record, with its VAT number.
        client: The `ViesClient` to use; one is opened and closed here when omitted.
    """
    if client is not None:
        return VatUpdateService(client).vat_updates(org)
    with ViesClient() as own:
        return VatUpdateService(own).vat_updates(org)
