"""`ViesSandbox`: an offline VIES REST interface (``/taxation_customs/vies/rest-api/...``).

Endpoints (dutch-data-rules.md §7.2): ``GET /ms/{CC}/vat/{number}``,
``POST /check-vat-number`` (with trader details: the approximate check),
``POST /check-vat-test-service`` and ``GET /check-status``. It knows a few
traders, and VIES's documented test numbers, on every endpoint and for every
member state: ``100`` valid, ``200`` invalid, ``201`` INVALID_INPUT, ``202``
INVALID_REQUESTER_INFO, ``300`` SERVICE_UNAVAILABLE, ``301`` MS_UNAVAILABLE,
``302`` TIMEOUT, ``400`` VAT_BLOCKED, ``401`` IP_BLOCKED, ``500``
GLOBAL_MAX_CONCURRENT_REQ, ``501`` GLOBAL_MAX_CONCURRENT_REQ_TIME, ``600``
MS_MAX_CONCURRENT_REQ, ``601`` MS_MAX_CONCURRENT_REQ_TIME. A member state can
be switched off (`set_available`), and the faults of every sandbox apply.

Assumptions: ``GET`` answers HTTP 200 with the state in ``userError``; ``POST``
answers errors as ``{"errorWrappers": [{"error": ...}]}`` with HTTP 200 as
well; a consultation number is given whenever a requester is named; names
and addresses come upper-case, as most member states send them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import secrets
import threading
from collections.abc import Iterable, Mapping

import attrs

from ._core import Faults, SandboxRequest, SandboxResponse, SandboxStats, SandboxTransport, serve

__all__ = ["VIES_PATH", "VIES_TEST_NUMBERS", "ViesSandbox", "ViesTrader"]

VIES_PATH = "/taxation_customs/vies/rest-api"
"""Where the REST interface answers (as on ``https://ec.europa.eu``)."""

VIES_TEST_NUMBERS: Mapping[str, str] = {
    "100": "VALID", "200": "INVALID", "201": "INVALID_INPUT", "202": "INVALID_REQUESTER_INFO",
    "300": "SERVICE_UNAVAILABLE", "301": "MS_UNAVAILABLE", "302": "TIMEOUT", "400": "VAT_BLOCKED",
    "401": "IP_BLOCKED", "500": "GLOBAL_MAX_CONCURRENT_REQ",
    "501": "GLOBAL_MAX_CONCURRENT_REQ_TIME", "600": "MS_MAX_CONCURRENT_REQ",
    "601": "MS_MAX_CONCURRENT_REQ_TIME",
}  # fmt: skip
"""VIES's documented test numbers → the state each one answers."""

_MEMBER_STATES = (
    "AT BE BG CY CZ DE DK EE EL ES FI FR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK XI"
).split()
_NUMBER = re.compile(r"^[0-9A-Za-z+*.]{2,12}$")


@attrs.frozen
class ViesTrader:
    """A trader VIES knows.

    Attributes:
        country_code: The member state.
        vat_number: The number without the country code.
        name: The registered name (``None``: not disclosed, answered as ``---``).
        address: The registered address, one line per line of text.
    """

    country_code: str
    vat_number: str
    name: str | None
    address: str | None


def default_traders() -> list[ViesTrader]:
    """The traders the sandbox starts with (fictional, as KvK's test companies)."""
    return [
        ViesTrader(
            "NL", "004495445B01", "BAKKERIJ DE ZON B.V.", "OUDEGRACHT 00001\n3511AA UTRECHT"
        ),
        ViesTrader(
            "NL", "823807071B01", "GROOTHANDEL SMIT B.V.", "KANAALWEG 00012 A\n3526KL UTRECHT"
        ),
        ViesTrader("BE", "0403170701", "NV TEST BELGIË", "RUE DE LA LOI 16\n1000 BRUXELLES"),
        ViesTrader("DE", "136695976", None, None),  # Germany discloses neither
    ]


class ViesSandbox:
    """An offline VIES: VAT numbers checked, with its test numbers and unavailable states.

    Args:
        traders: The traders it knows; `default_traders` when omitted.
        latency: Seconds added to every answer.

    Example:
        ```python
        sandbox = ViesSandbox()
        sandbox.set_available("NL", False)  # the Dutch system is down: MS_UNAVAILABLE
        vies = ViesClient(transport=sandbox.transport())
        ```
    """

    def __init__(
        self, traders: Iterable[ViesTrader] | None = None, *, latency: float = 0.0
    ) -> None:
        self._traders = {
            (t.country_code, t.vat_number): t
            for t in (default_traders() if traders is None else traders)
        }
        self._unavailable: set[str] = set()
        self._lock = threading.Lock()
        self.faults = Faults(latency=latency)
        self.stats = SandboxStats()

    def __repr__(self) -> str:
        return f"ViesSandbox(traders={len(self._traders)}, unavailable={sorted(self._unavailable)})"

    def transport(self) -> SandboxTransport:
        """An httpx transport (sync and async) answering from this sandbox."""
        return SandboxTransport(self, self.faults, self.stats)

    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, allow_remote: bool = False
    ) -> contextlib.AbstractContextManager[str]:
        """Serve over loopback HTTP; the REST root is ``<url>/taxation_customs/vies/rest-api``."""
        return serve(self, self.faults, host, port, stats=self.stats, allow_remote=allow_remote)

    def add(self, trader: ViesTrader) -> None:
        """Add or replace a trader."""
        with self._lock:
            self._traders[(trader.country_code, trader.vat_number)] = trader

    def set_available(self, country_code: str, available: bool = True) -> None:
        """Switch a member state's system on or off (off: ``MS_UNAVAILABLE``)."""
        with self._lock:
            (self._unavailable.discard if available else self._unavailable.add)(
                country_code.upper()
            )

    # --- the Handler protocol ------------------------------------------------------

    def __call__(self, request: SandboxRequest) -> SandboxResponse:
        """Answer one request as VIES's REST interface would."""
        path = request.path.removeprefix(VIES_PATH)
        found = re.fullmatch(r"/ms/([A-Za-z]{2})/vat/([^/]+)", path)
        if request.method == "GET" and found is not None:
            return _json(self._check(found[1].upper(), found[2], None))
        if request.method == "POST" and path in ("/check-vat-number", "/check-vat-test-service"):
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                return _json({"errorWrappers": [{"error": "INVALID_INPUT", "message": "not JSON"}]})
            return _json(self._approx(body if isinstance(body, dict) else {}))
        if request.method == "GET" and path == "/check-status":
            return _json(self._status())
        return _json(
            {"errorWrappers": [{"error": "NOT_FOUND", "message": "no such endpoint"}]}, 404
        )

    def render_error(
        self, request: SandboxRequest, status: int, retry_after: int | None = None
    ) -> SandboxResponse:
        """Injected errors as VIES sends them: an ``errorWrappers`` body."""
        state = "MS_MAX_CONCURRENT_REQ" if status == 429 else "SERVICE_UNAVAILABLE"
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        return SandboxResponse.from_json(
            status, {"errorWrappers": [{"error": state}]}, headers=headers
        )

    def path_family(self, path: str) -> str:
        """Counter names: ``check``, ``check-vat-number``, ``check-status``."""
        tail = path.removeprefix(VIES_PATH)
        return "check" if tail.startswith("/ms/") else tail.strip("/") or "vies"

    # --- answering -----------------------------------------------------------------

    def _state(self, country: str, number: str) -> tuple[str, ViesTrader | None]:
        if number in VIES_TEST_NUMBERS:
            return VIES_TEST_NUMBERS[number], None
        if country not in _MEMBER_STATES or not _NUMBER.match(number):
            return "INVALID_INPUT", None
        with self._lock:
            if country in self._unavailable:
                return "MS_UNAVAILABLE", None
            trader = self._traders.get((country, number.upper()))
        return ("VALID", trader) if trader is not None else ("INVALID", None)

    def _check(self, country: str, number: str, requester: str | None) -> dict[str, object]:
        state, trader = self._state(country, number)
        valid = state == "VALID"
        return {
            "isValid": valid,
            "requestDate": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "userError": state,
            "name": _shown(trader.name if trader else None, valid),
            "address": _shown(trader.address if trader else None, valid),
            "requestIdentifier": secrets.token_hex(8).upper() if requester and valid else "",
            "originalVatNumber": number,
            "vatNumber": number,
        }

    def _approx(self, body: Mapping[str, object]) -> dict[str, object]:
        country = str(body.get("countryCode") or "").upper()
        number = str(body.get("vatNumber") or "")
        requester = body.get("requesterNumber")
        answer = self._check(country, number, str(requester) if requester else None)
        state = answer["userError"]
        if state not in ("VALID", "INVALID"):
            return {"errorWrappers": [{"error": state}]}
        _, trader = self._state(country, number)
        result: dict[str, object] = {
            "countryCode": country,
            "vatNumber": number,
            "requestDate": answer["requestDate"],
            "valid": answer["isValid"],
            "requestIdentifier": answer["requestIdentifier"],
            "name": answer["name"],
            "address": answer["address"],
        }
        for key, part in (("traderName", "name"), ("traderStreet", "street"),
                          ("traderPostalCode", "postcode"), ("traderCity", "city")):  # fmt: skip
            given = body.get(key)
            if given:
                result[key] = given
                result[f"{key}Match"] = _match(str(given), trader, part)
        return result

    def _status(self) -> dict[str, object]:
        with self._lock:
            down = set(self._unavailable)
        return {
            "vow": {"available": True},
            "countries": [
                {"countryCode": c, "availability": "Unavailable" if c in down else "Available"}
                for c in _MEMBER_STATES
            ],
        }


def _shown(value: str | None, valid: bool) -> str:
    if not valid:
        return ""
    return value if value else "---"


def _fold(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def _match(given: str, trader: ViesTrader | None, part: str) -> str:
    """``VALID`` when the detail given is VIES's, ``INVALID`` when not, else ``NOT_PROCESSED``."""
    if trader is None or trader.name is None or trader.address is None:
        return "NOT_PROCESSED"
    lines = trader.address.split("\n")
    postcode, _, city = lines[-1].partition(" ")
    known = {"name": trader.name, "street": lines[0], "postcode": postcode, "city": city}[part]
    wanted = _fold(given)
    if part == "street":
        return "VALID" if wanted and _fold(re.sub(r"\s\d.*$", "", known)) in wanted else "INVALID"
    return "VALID" if wanted == _fold(known) else "INVALID"


def _json(data: object, status: int = 200) -> SandboxResponse:
    return SandboxResponse.from_json(status, data)
