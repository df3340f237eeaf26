"""Service-agnostic sandbox machinery: requests, responses, faults, transport, server.

A sandbox is a `Handler`: a plain callable from `SandboxRequest` to
`SandboxResponse`, with no I/O of its own. This module puts it behind either

* `SandboxTransport`, an httpx transport (sync and async) for in-process use, or
* `serve`, a loopback HTTP server for applications in another process,

and both apply the same `Faults` (latency, rate limit, one-shot failures,
random errors) and count what happened in `SandboxStats`.

A handler may also provide ``render_error(request, status, retry_after)`` to
shape injected errors like its service does, and ``path_family(path)`` to name
the counters in `SandboxStats`; see `ServiceHandler`. A handler whose
operations share one URL (SOAP) may provide ``route_path(request)``: the path
that fault matching (``path_prefix``) and ``path_family`` see instead of
``request.path``, e.g. ``"/soap.asmx/AddMutatie/"``. A handler that serves
many accounts may provide ``_account_pipeline(request)``: the pipeline (faults
and counters) of the account the request belongs to, run after this one's
faults (see `crmconnect.sandbox._accounts`).

`serve` also answers ``/_control/`` (see `crmconnect.sandbox._control`) for
clients on loopback; the in-process transports never do.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import random
import re
import socket
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Protocol, cast, get_args, runtime_checkable

import anyio
import attrs
import httpx

__all__ = [
    "FaultKind",
    "Faults",
    "Handler",
    "Headers",
    "SandboxRequest",
    "SandboxResponse",
    "SandboxStats",
    "SandboxTransport",
    "ServiceHandler",
    "serve",
]

FaultKind = Literal["500", "503", "timeout", "drop", "drop_after"]
"""What an injected fault does: answer 500 or 503, time out, or drop the connection.

``"drop"`` drops it before the handler sees the request; ``"drop_after"`` lets
the handler answer (so a write is done) and then drops the connection without
that answer: an "ambiguous write".
"""

_FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))
SERVER_TIMEOUT_HANG = 30.0
"""How long the loopback server hangs on a ``"timeout"`` fault before closing."""


class Headers(Mapping[str, str]):
    """An immutable, case-insensitive header mapping that keeps repeated headers.

    ``headers["Accept"]`` joins repeated values with ``", "``; `get_list` returns
    them one by one; `raw` keeps the original names and order.

    Args:
        items: ``(name, value)`` pairs or a mapping.
    """

    __slots__ = ("_index", "_raw")

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._raw: tuple[tuple[str, str], ...] = tuple((str(k), str(v)) for k, v in pairs)
        index: dict[str, list[str]] = {}
        for name, value in self._raw:
            index.setdefault(name.lower(), []).append(value)
        self._index = index

    @property
    def raw(self) -> tuple[tuple[str, str], ...]:
        """The headers as given: original names, order and repetitions."""
        return self._raw

    def get_list(self, name: str) -> list[str]:
        """All values of one header, in order (empty when absent)."""
        return list(self._index.get(name.lower(), ()))

    def __getitem__(self, name: str) -> str:
        return ", ".join(self._index[name.lower()])

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._raw == other._raw
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"Headers({list(self._raw)!r})"


def _to_headers(value: Headers | Iterable[tuple[str, str]] | Mapping[str, str]) -> Headers:
    return value if isinstance(value, Headers) else Headers(value)


def _to_pairs(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(name), str(val)) for name, val in value)


@attrs.frozen
class SandboxRequest:
    """One HTTP request as a sandbox handler sees it.

    Attributes:
        method: The HTTP method, upper case.
        path: The decoded URL path, e.g. ``"/test/api/v2/zoeken"``.
        query: The query as ``(name, value)`` pairs, decoded, in order, repeats kept.
        headers: The request headers (case-insensitive).
        body: The raw request body.
        scheme: ``"http"`` or ``"https"``, to build absolute links.
        host: Host and port as the client addressed them, e.g. ``"127.0.0.1:8123"``.
        raw_path: The path as sent, percent-encoding kept (``path`` when not given):
            for services that put parameters in the path (DigitaleFactuur's ``&k=v``).
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_to_pairs)
    headers: Headers = attrs.field(factory=Headers, converter=_to_headers)
    body: bytes = b""
    scheme: str = "http"
    host: str = "localhost"
    raw_path: str | None = None

    @property
    def encoded_path(self) -> str:
        """The path as sent, percent-encoding kept."""
        return self.raw_path if self.raw_path is not None else self.path

    @property
    def base_url(self) -> str:
        """Scheme and host, e.g. ``"http://127.0.0.1:8123"``."""
        return f"{self.scheme}://{self.host}"

    def params(self, name: str) -> list[str]:
        """All values of one query parameter (exact name), in order."""
        return [value for key, value in self.query if key == name]


@attrs.frozen
class SandboxResponse:
    """One HTTP answer of a sandbox handler.

    Attributes:
        status: The HTTP status code.
        headers: The response headers; ``Content-Length`` is added when sent.
        body: The raw response body.
    """

    status: int
    headers: Headers = attrs.field(factory=Headers, converter=_to_headers)
    body: bytes = b""

    @classmethod
    def from_json(
        cls,
        status: int,
        data: Any,
        *,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
    ) -> SandboxResponse:
        """Build a response with a compact UTF-8 JSON body.

        Args:
            status: The HTTP status code.
            data: Anything `json.dumps` accepts.
            content_type: The ``Content-Type`` header value.
            headers: Further headers, appended after ``Content-Type``.

        Returns:
            The response.
        """
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, [("Content-Type", content_type), *headers], body)

    def json(self) -> Any:
        """Decode the body as JSON."""
        return json.loads(self.body)


@runtime_checkable
class Handler(Protocol):
    """Answers one sandbox request; must be thread-safe and do no I/O."""

    def __call__(self, request: SandboxRequest) -> SandboxResponse:
        """Answer a request."""
        ...


@runtime_checkable
class ServiceHandler(Handler, Protocol):
    """A `Handler` that also shapes injected errors and names its counters."""

    def render_error(
        self, request: SandboxRequest, status: int, retry_after: int | None = None
    ) -> SandboxResponse:
        """Answer ``status`` (429, 500, 503) the way the emulated service does."""
        ...

    def path_family(self, path: str) -> str:
        """Name the endpoint a path belongs to, e.g. ``"zoeken"``."""
        ...


_IDENTIFIER = re.compile(r"(?<=/)(?:[0-9]+|[0-9a-fA-F-]{16,})(?=/|$)")


def default_path_family(path: str) -> str:
    """Replace numeric and UUID-like path segments by ``{id}``.

    Example: ``/api/v1/items/123`` → ``/api/v1/items/{id}``.
    """
    return _IDENTIFIER.sub("{id}", path)


def default_error(request: SandboxRequest, status: int, retry_after: int | None) -> SandboxResponse:
    """A neutral JSON error answer, for handlers without ``render_error``."""
    phrase = HTTPStatus(status).phrase
    return SandboxResponse.from_json(status, {"error": {"status": status, "message": phrase}})


class SandboxStats:
    """Thread-safe counters of what a sandbox answered.

    Attributes are snapshots: each read returns a copy.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._faults: Counter[str] = Counter()
        self._rate_limited = 0

    @property
    def requests(self) -> Counter[str]:
        """Requests received, per path family."""
        with self._lock:
            return Counter(self._requests)

    @property
    def total(self) -> int:
        """All requests received."""
        with self._lock:
            return sum(self._requests.values())

    @property
    def statuses(self) -> Counter[int]:
        """Answers sent, per HTTP status (injected ones included)."""
        with self._lock:
            return Counter(self._statuses)

    @property
    def faults(self) -> Counter[str]:
        """Injected faults, per `FaultKind`."""
        with self._lock:
            return Counter(self._faults)

    @property
    def rate_limited(self) -> int:
        """429 answers sent by the rate limit."""
        with self._lock:
            return self._rate_limited

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._requests.clear()
            self._statuses.clear()
            self._faults.clear()
            self._rate_limited = 0

    def snapshot(self) -> dict[str, Any]:
        """All counters as one plain dict (e.g. to print or log)."""
        with self._lock:
            return {
                "total": sum(self._requests.values()),
                "requests": dict(self._requests),
                "statuses": dict(self._statuses),
                "faults": dict(self._faults),
                "rate_limited": self._rate_limited,
            }

    def _record(self, family: str, status: int | None, fault: str | None, limited: bool) -> None:
        with self._lock:
            self._requests[family] += 1
            if status is not None:
                self._statuses[status] += 1
            if fault is not None:
                self._faults[fault] += 1
            self._rate_limited += limited

    def __repr__(self) -> str:
        return f"SandboxStats({self.snapshot()!r})"


@attrs.define
class _QueuedFault:
    remaining: int
    kind: FaultKind
    path_prefix: str | None


@attrs.frozen
class _Decision:
    """What the fault layer decided for one request: pass, 429 or a fault kind."""

    action: Literal["pass", "429"] | FaultKind
    retry_after: int | None = None


class _TokenBucket:
    """Refuses (never queues) requests beyond ``rate`` per second; bursts of ``rate``."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._tokens = self.capacity
        self._clock = clock
        self._updated = clock()

    def take(self) -> int | None:
        """Take a token; ``None`` when granted, else whole seconds to wait (at least 1)."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - self._tokens) / self.rate))


class Faults:
    """What goes wrong, and how slowly: latency, rate limit, one-shot and random faults.

    Thread-safe; change any setting while a sandbox is running.

    Args:
        latency: Seconds added to every answer (and before every injected fault).
        rate_limit: Requests per second; beyond it the answer is 429 with an
            integer ``Retry-After`` (at least 1). Bursts of up to one second's
            worth are allowed. ``None`` disables the limit.
        error_rate: Probability (0..1) that a request gets a random fault.
        error_kinds: The kinds random faults are drawn from.
        seed: Seed of the random generator, so random faults are repeatable.
        clock: Monotonic clock in seconds (for tests of the rate limit).

    Example:
        ```python
        faults = Faults(latency=0.02, rate_limit=100)
        faults.fail_next(2, "503", path_prefix="/test/api/v1/basisprofielen")
        ```
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        rate_limit: float | None = None,
        error_rate: float = 0.0,
        error_kinds: Sequence[FaultKind] = ("500", "503"),
        seed: int | None = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._queue: list[_QueuedFault] = []
        self._random = random.Random(seed)
        self._bucket: _TokenBucket | None = None
        self.latency = latency
        self.rate_limit = rate_limit
        self.error_rate = error_rate
        self.error_kinds = error_kinds

    @property
    def latency(self) -> float:
        """Seconds added to every answer."""
        return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"latency must be >= 0, got {value!r}")
        self._latency = float(value)

    @property
    def rate_limit(self) -> float | None:
        """Requests per second allowed, or ``None``; setting it refills the bucket."""
        return self._bucket.rate if self._bucket else None

    @rate_limit.setter
    def rate_limit(self, value: float | None) -> None:
        if value is not None and value <= 0:
            raise ValueError(f"rate_limit must be > 0 or None, got {value!r}")
        with self._lock:
            self._bucket = _TokenBucket(float(value), self._clock) if value else None

    @property
    def error_rate(self) -> float:
        """Probability that a request gets a random fault."""
        return self._error_rate

    @error_rate.setter
    def error_rate(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"error_rate must be within 0..1, got {value!r}")
        self._error_rate = float(value)

    @property
    def error_kinds(self) -> Sequence[FaultKind]:
        """The kinds random faults are drawn from."""
        return self._error_kinds

    @error_kinds.setter
    def error_kinds(self, value: Sequence[FaultKind]) -> None:
        kinds = tuple(value)
        if not kinds or any(kind not in _FAULT_KINDS for kind in kinds):
            raise ValueError(f"error_kinds must be among {sorted(_FAULT_KINDS)}, got {kinds!r}")
        self._error_kinds = kinds

    def fail_next(
        self, count: int = 1, kind: FaultKind = "500", path_prefix: str | None = None
    ) -> None:
        """Queue ``count`` one-shot faults for the next matching requests.

        Queued faults are used in order; one whose ``path_prefix`` does not match
        the request path is skipped (and kept) for that request.

        Args:
            count: How many requests fail.
            kind: ``"500"``, ``"503"``, ``"timeout"``, ``"drop"`` or
                ``"drop_after"`` (the request is handled, the answer lost).
            path_prefix: Only requests whose path starts with this fail
                (e.g. ``"/test/api/v2/zoeken"``; the handler's ``route_path``
                when it has one); ``None`` for any request.

        Raises:
            ValueError: For a count below 1 or an unknown kind.
        """
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        if kind not in _FAULT_KINDS:
            raise ValueError(f"kind must be one of {sorted(_FAULT_KINDS)}, got {kind!r}")
        with self._lock:
            self._queue.append(_QueuedFault(count, kind, path_prefix))

    @property
    def pending(self) -> int:
        """How many one-shot faults are still queued."""
        with self._lock:
            return sum(entry.remaining for entry in self._queue)

    def clear(self) -> None:
        """Drop every queued one-shot fault."""
        with self._lock:
            self._queue.clear()

    def _decide(self, path: str) -> _Decision:
        """Rate limit first (a gateway refuses before the backend sees anything)."""
        with self._lock:
            if self._bucket is not None:
                wait = self._bucket.take()
                if wait is not None:
                    return _Decision("429", wait)
            queued = self._pop_queued(path)
            if queued is not None:
                return _Decision(queued)
            if self._error_rate and self._random.random() < self._error_rate:
                return _Decision(self._random.choice(self._error_kinds))
        return _Decision("pass")

    def _pop_queued(self, path: str) -> FaultKind | None:
        for entry in self._queue:
            if entry.path_prefix is None or path.startswith(entry.path_prefix):
                entry.remaining -= 1
                if entry.remaining <= 0:
                    self._queue.remove(entry)
                return entry.kind
        return None

    def __repr__(self) -> str:
        return (
            f"Faults(latency={self.latency!r}, rate_limit={self.rate_limit!r}, "
            f"error_rate={self.error_rate!r}, pending={self.pending!r})"
        )


@attrs.frozen
class _Outcome:
    """The pipeline's verdict: wait ``delay``, then answer or fail the connection.

    ``fault`` and ``limited`` say what the fault layer did (for the counters of
    an enclosing pipeline).
    """

    delay: float
    response: SandboxResponse | None = None
    failure: Literal["timeout", "drop"] | None = None
    fault: str | None = None
    limited: bool = False


class _Pipeline:
    """Faults, then the handler; shared by the transport and the server."""

    def __init__(self, handler: Handler, faults: Faults | None, stats: SandboxStats | None) -> None:
        self.handler = handler
        self.service = handler if isinstance(handler, ServiceHandler) else None
        self.faults = faults if faults is not None else Faults()
        self.stats = stats if stats is not None else SandboxStats()
        hook = getattr(handler, "_account_pipeline", None)
        self._account_hook: Callable[[SandboxRequest], _Pipeline | None] | None = (
            hook if callable(hook) else None
        )

    def process(self, request: SandboxRequest) -> _Outcome:
        route = self._route(request)
        decision = self.faults._decide(route)
        delay = self.faults.latency
        family = self._family(route)
        if decision.action == "pass" and self._account_hook is not None:
            account = self._account_hook(request)
            if account is not None:  # the account's own faults, then its handler
                inner = account.process(request)
                status = inner.response.status if inner.response is not None else None
                self.stats._record(family, status, inner.fault, inner.limited)
                return attrs.evolve(inner, delay=delay + inner.delay)
        if decision.action == "drop_after":
            self.handler(request)  # done, but the answer never reaches the client
            self.stats._record(family, None, decision.action, False)
            return _Outcome(delay, failure="drop", fault=decision.action)
        if decision.action in ("timeout", "drop"):
            self.stats._record(family, None, decision.action, False)
            failure = cast(Literal["timeout", "drop"], decision.action)
            return _Outcome(delay, failure=failure, fault=decision.action)
        if decision.action == "pass":
            response = self.handler(request)
            fault = None
        else:
            response = self._error(request, int(decision.action), decision.retry_after)
            fault = None if decision.action == "429" else decision.action
        limited = decision.action == "429"
        self.stats._record(family, response.status, fault, limited)
        return _Outcome(delay, response=response, fault=fault, limited=limited)

    def _route(self, request: SandboxRequest) -> str:
        route_path = getattr(self.handler, "route_path", None)
        return str(route_path(request)) if callable(route_path) else request.path

    def _family(self, path: str) -> str:
        if self.service is not None:
            return self.service.path_family(path)
        return default_path_family(path)

    def _error(
        self, request: SandboxRequest, status: int, retry_after: int | None
    ) -> SandboxResponse:
        if self.service is not None:
            response = self.service.render_error(request, status, retry_after)
        else:
            response = default_error(request, status, retry_after)
        if retry_after is not None and "retry-after" not in response.headers:
            headers = [*response.headers.raw, ("Retry-After", str(retry_after))]
            response = SandboxResponse(response.status, headers, response.body)
        return response


def _from_httpx(request: httpx.Request, body: bytes) -> SandboxRequest:
    url = request.url
    return SandboxRequest(
        method=request.method.upper(),
        path=url.path,
        query=url.params.multi_items(),
        headers=request.headers.multi_items(),
        body=body,
        scheme=url.scheme,
        host=url.netloc.decode("ascii"),
        raw_path=url.raw_path.decode("ascii").split("?", 1)[0],
    )


def _to_httpx(response: SandboxResponse, request: httpx.Request) -> httpx.Response:
    # httpx refuses non-ASCII str header values: hand it UTF-8 bytes instead.
    headers = [
        (name.encode("ascii"), value.encode("utf-8")) for name, value in response.headers.raw
    ]
    return httpx.Response(response.status, headers=headers, content=response.body, request=request)


def _raise_failure(kind: Literal["timeout", "drop"], request: httpx.Request) -> None:
    if kind == "timeout":
        raise httpx.ReadTimeout("sandbox: injected read timeout", request=request)
    raise httpx.RemoteProtocolError(
        "sandbox: server disconnected without sending a response", request=request
    )


class SandboxTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport (sync and async) that answers from a sandbox handler.

    ``"timeout"`` faults raise `httpx.ReadTimeout` and ``"drop"`` (and
    ``"drop_after"``) faults raise `httpx.RemoteProtocolError` at once (after
    the latency), both with the request attached, as httpx's own transports do.

    Args:
        handler: The sandbox that answers.
        faults: Fault settings; a fresh `Faults` (no faults) when omitted.
        stats: Counters to update; a fresh `SandboxStats` when omitted.

    Example:
        ```python
        client = httpx.Client(transport=SandboxTransport(handler), base_url="https://x")
        ```
    """

    def __init__(
        self, handler: Handler, faults: Faults | None = None, stats: SandboxStats | None = None
    ) -> None:
        self._pipeline = _Pipeline(handler, faults, stats)

    @property
    def faults(self) -> Faults:
        """The fault settings in use."""
        return self._pipeline.faults

    @property
    def stats(self) -> SandboxStats:
        """The counters this transport updates."""
        return self._pipeline.stats

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request from a blocking `httpx.Client`."""
        outcome = self._pipeline.process(_from_httpx(request, request.read()))
        if outcome.delay > 0:
            time.sleep(outcome.delay)
        return self._finish(outcome, request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request from an `httpx.AsyncClient`."""
        outcome = self._pipeline.process(_from_httpx(request, await request.aread()))
        if outcome.delay > 0:
            await anyio.sleep(outcome.delay)
        return self._finish(outcome, request)

    @staticmethod
    def _finish(outcome: _Outcome, request: httpx.Request) -> httpx.Response:
        if outcome.failure is not None:
            _raise_failure(outcome.failure, request)
        assert outcome.response is not None
        return _to_httpx(outcome.response, request)


# --- loopback HTTP server -------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """Tell whether ``host`` is ``localhost`` or a loopback IP address.

    An IPv4 address mapped into IPv6 (``::ffff:127.0.0.1``, what a dual-stack
    socket reports) counts as the IPv4 address it carries.
    """
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


CONTROL_PATH = "/_control"
"""Where a served sandbox answers its control endpoint (``/_control/<call>``)."""


def is_control_path(path: str) -> bool:
    """Tell whether ``path`` is the control endpoint's."""
    return path == CONTROL_PATH or path.startswith(CONTROL_PATH + "/")


class Control(Protocol):
    """What answers ``/_control/`` on a served sandbox (see `crmconnect.sandbox._control`)."""

    def answer(self, request: SandboxRequest, peer: str) -> SandboxResponse:
        """Answer one control request from the client at IP address ``peer``."""
        ...


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that can cut its open connections when it stops."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], pipeline: _Pipeline, control: Control | None = None
    ) -> None:
        self.pipeline = pipeline
        self.control = control
        self.closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, timed out) is normal here; anything else is shown."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def cut_connections(self) -> None:
        """Wake hanging handlers and shut every open connection down."""
        self.closing.set()
        with self._conn_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _RequestHandler(BaseHTTPRequestHandler):
    """Turns http.server requests into `SandboxRequest` and back."""

    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, like the real services
    # Headers and body go out in separate writes; without this, Nagle and the
    # client's delayed ACK add ~40 ms to every answer on a kept-alive connection.
    disable_nagle_algorithm = True
    timeout = 60  # idle keep-alive connections are closed after a minute
    server_version = "crmconnect-sandbox"

    def do_GET(self) -> None:
        """Answer a GET."""
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def do_HEAD(self) -> None:
        """Answer a HEAD: as GET, without body."""
        self._handle(send_body=False)

    def version_string(self) -> str:
        """The ``Server`` header: no Python version to advertise."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the sandbox counts in `SandboxStats` instead of logging."""

    def _handle(self, *, send_body: bool = True) -> None:
        request = self._sandbox_request()
        control = self.server.control
        if control is not None and is_control_path(request.path):
            # No faults, no counters: the control answers even at an error rate of 1.
            with contextlib.suppress(OSError):
                self._send(control.answer(request, str(self.client_address[0])), send_body)
            return
        try:
            outcome = self.server.pipeline.process(request)
        except Exception:  # a handler bug must not kill the server thread
            outcome = _Outcome(0.0, default_error(request, 500, None))
        if outcome.delay > 0:
            time.sleep(outcome.delay)
        if outcome.failure == "timeout":
            self.server.closing.wait(SERVER_TIMEOUT_HANG)
        if outcome.failure is not None:
            self.close_connection = True  # "drop": close without a single byte
            return
        assert outcome.response is not None
        with contextlib.suppress(OSError):
            self._send(outcome.response, send_body)

    def _sandbox_request(self) -> SandboxRequest:
        split = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return SandboxRequest(
            method=self.command,
            path=urllib.parse.unquote(split.path),
            query=urllib.parse.parse_qsl(split.query, keep_blank_values=True),
            headers=list(self.headers.items()),
            body=body,
            scheme="http",
            host=self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2]),
            raw_path=split.path,
        )

    def _send(self, response: SandboxResponse, send_body: bool) -> None:
        self.send_response(response.status)
        for name, value in response.headers.raw:
            # http.server writes headers as Latin-1: smuggle UTF-8 bytes through it.
            self.send_header(name, value.encode("utf-8").decode("latin-1"))
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if send_body:
            self.wfile.write(response.body)


@contextlib.contextmanager
def serve(
    handler: Handler,
    faults: Faults | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    stats: SandboxStats | None = None,
    allow_remote: bool = False,
    control: Control | None = None,
) -> Iterator[str]:
    """Run a sandbox on a loopback HTTP server for the duration of a ``with`` block.

    ``"drop"`` and ``"drop_after"`` faults close the connection without
    answering; ``"timeout"`` faults hang for `SERVER_TIMEOUT_HANG` seconds (or
    until the server stops) and then close it.

    The server also answers the control endpoint ``/_control/`` (JSON; faults
    and counters, and what ``control`` adds), to clients on loopback only.

    Args:
        handler: The sandbox that answers.
        faults: Fault settings; none when omitted.
        host: The address to bind; loopback only unless ``allow_remote``.
        port: The port; ``0`` picks a free one.
        stats: Counters to update; fresh ones when omitted.
        allow_remote: Allow binding to a non-loopback address (the sandbox has
            no TLS and accepts well-known keys: keep it off shared networks).
            The control endpoint still refuses every non-loopback client.
        control: What answers ``/_control/``; the generic faults-and-counters
            control of ``faults`` and ``stats`` when omitted.

    Yields:
        The base URL, e.g. ``"http://127.0.0.1:54321"``.

    Raises:
        ValueError: For a non-loopback ``host`` without ``allow_remote``.
    """
    if not allow_remote and not is_loopback(host):
        raise ValueError(f"refusing to bind the sandbox to non-loopback host {host!r}")
    bind = host.strip("[]")
    server_class = _Server6 if ":" in bind else _Server
    pipeline = _Pipeline(handler, faults, stats)
    if control is None:
        from ._control import ControlApi  # the control module builds on this one

        control = ControlApi.plain(pipeline.faults, pipeline.stats)
    server = server_class((bind, port), pipeline, control)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        shown = f"[{bind}]" if ":" in bind else bind
        yield f"http://{shown}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.cut_connections()
        server.server_close()
        thread.join()
