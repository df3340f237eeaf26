"""`SyncConfig`: a sync setup read from a TOML file (``crmconnect sync --config``).

The file names the host CRM, the state file, the conflict policy, the
intervals of `SyncEngine.run_due`, and the connections (DigitaleFactuur,
e-Boekhouden) with their directions, mapping tables and VAT table. Secrets
never live in it: a key that names one (``access_code``, ``access_token``,
``security_code_1``, ``username`` of e-Boekhouden, ``api_key``, ...) is refused
with a `crmconnect.errors.ConfigurationError` naming the key and the
environment variable to set instead; `SyncConfig.open` reads them from
``CRMCONNECT_*`` variables, the same the clients read.

Reading the file checks everything that can be checked offline: unknown keys,
values, the mapping and VAT tables it points to. `SyncConfig.open` builds the
host, the clients, the connectors and the engine.

Example:
    ```python
    from crmconnect.config import SyncConfig

    config = SyncConfig.from_toml("crmconnect.toml")
    with config.open() as setup:    # secrets from CRMCONNECT_* variables
        print(setup.engine.run_due())
    ```
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, TypeVar

import attrs
from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from ._model import Model
from .errors import ConfigurationError, ValidationError
from .kvk import KvKUpdates
from .mapping import (
    DIGITALEFACTUUR_RELATIONS,
    EBOEKHOUDEN_RELATIONS,
    Direction,
    NameStyle,
    RelationMapping,
    VatTable,
)
from .mapping._fields import read_toml
from .sync._engine import DEFAULT_STATE_PATH, ConflictPolicy, Flow, SyncEngine
from .sync._protocols import AccountingConnector, HostCRM
from .sync._trial import TrialHost

if TYPE_CHECKING:
    from .kvk import KvKClient
    from .sandbox import DigitaleFactuurSandbox, EBoekhoudenSandbox

_T = TypeVar("_T")

__all__ = [
    "DigitaleFactuurConnection",
    "EBoekhoudenConnection",
    "HostSettings",
    "KvKSettings",
    "SyncConfig",
    "SyncSetup",
]

DIGITALEFACTUUR_ENV: Final = "CRMCONNECT_DIGITALEFACTUUR_"
EBOEKHOUDEN_ENV: Final = "CRMCONNECT_EBOEKHOUDEN_"
KVK_API_KEY: Final = "CRMCONNECT_KVK_API_KEY"

_SECRET_WORDS: Final = ("password", "passwd", "secret", "token", "api_key", "apikey")
_SECRET_NAMES: Final = frozenset({"access_code", "security_code_1", "security_code_2"})
_CONNECTION_SECRETS: Final = frozenset({"username", "account_id"})
"""Secret in a connection only: e-Boekhouden's login name, DigitaleFactuur's account id
(both identify the account and travel with the credentials; the clients mask them)."""

_URL_PASSWORD: Final = re.compile(r"(?i)[a-z][a-z0-9+.-]*://[^\s/@:]*:[^\s/@]+@")
"""A URL whose user part carries a password: ``https://user:secret@host``."""
_SERVICE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# -- secrets -------------------------------------------------------------------------------------


def _is_secret(key: str, *, in_connection: bool) -> bool:
    lowered = key.lower()
    return (
        lowered in _SECRET_NAMES
        or lowered.startswith("security_code")
        or any(word in lowered for word in _SECRET_WORDS)
        or (in_connection and lowered in _CONNECTION_SECRETS)
    )


def _refuse_secrets(data: Mapping[str, Any]) -> None:
    """Refuse keys that name a secret and URLs with a password, anywhere in the file.

    Before a value is read; the message names the key, never the value.
    """
    for path, key, value in _keys(data, ()):
        in_connection = path[:1] == ("connections",) and len(path) == 2
        if _is_secret(key, in_connection=in_connection):
            raise ConfigurationError(_secret_message(data, path, key))
        if _has_url_password(value):
            raise ConfigurationError(_secret_message(data, path, key, in_url=True))


def _keys(
    data: Mapping[str, Any], path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], str, object]]:
    for key, value in data.items():
        yield path, str(key), value
        if isinstance(value, Mapping):
            yield from _keys(value, (*path, str(key)))


def _has_url_password(value: object) -> bool:
    """Whether a value is (or, in a list, holds) a URL with a password: ``scheme://user:pw@``."""
    if isinstance(value, list | tuple):
        return any(_has_url_password(item) for item in value)
    return isinstance(value, str) and _URL_PASSWORD.search(value) is not None


def _secret_message(
    data: Mapping[str, Any],
    path: tuple[str, ...],
    key: str,
    *,
    in_url: bool = False,
) -> str:
    where = ".".join((*path, key))
    if path[:1] == ("connections",) and len(path) == 2:
        table = data["connections"][path[1]]
        prefix, read = _env_secrets(path[1], table)
        if key.lower() in read:
            instead = f"set {prefix}{key.upper()} in the environment instead"
        else:  # not a secret this connection uses: say which ones it reads
            names = ", ".join(f"{prefix}{name.upper()}" for name in read)
            instead = f"set the connection's secrets in the environment ({names})"
    elif path[:1] == ("host",):
        instead = (
            "let the host factory read it from the environment instead (a database "
            "password from PGPASSWORD, say, which PostgreSQL's libpq reads by itself)"
        )
    elif path == ("kvk",):
        instead = f"set {KVK_API_KEY} in the environment instead"
    else:
        instead = "set it in the environment instead"
    what = "a password in a URL is a secret, never" if in_url else "a secret is never"
    return f"{where}: {what} read from the config file; remove it and {instead}"


def _env_secrets(name: str, table: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The prefix of a connection's environment variables, and the secrets it reads there."""
    is_df = table.get("type", name) == "digitalefactuur"
    given = table.get("env_prefix")
    prefix = given if isinstance(given, str) and given else None
    if is_df:
        return prefix or DIGITALEFACTUUR_ENV, ("account_id", "access_code")
    read = ("access_token", "username", "security_code_1", "security_code_2")
    return prefix or EBOEKHOUDEN_ENV, read


# -- the sections --------------------------------------------------------------------------------


def _interval(value: object) -> object:
    """``"1h"``, ``"30m"``, ``"1h30m"``, ``"90s"``, ``"1d"``: a `datetime.timedelta`."""
    if isinstance(value, dt.timedelta):
        return value  # given in code
    if not isinstance(value, str):  # a bare number: seconds? minutes? refused
        raise ValueError(f'{value!r} is not a duration such as "1h", "30m" or "1h30m"')
    text = value.strip().lower()
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text).strip():
        raise ValueError(f'{value!r} is not a duration such as "1h", "30m" or "1h30m"')
    seconds = sum(int(number) * _UNITS[unit] for number, unit in parts)
    if seconds <= 0:
        raise ValueError(f"{value!r} is not a positive duration")
    return dt.timedelta(seconds=seconds)


Interval = Annotated[dt.timedelta, BeforeValidator(_interval)]


class _Section(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HostSettings(_Section):
    """``[host]``: the host CRM, the reference `SqliteCRM` or one of your own.

    Attributes:
        sqlite: The reference `crmconnect.contrib.sqlite_crm.SqliteCRM`'s
            database file (relative to the config file).
        factory: ``"package.module:callable"``, called with ``options`` as
            keyword arguments; returns your `HostCRM` (closed after the run
            when it has a ``close`` method).
        options: Keyword arguments of ``factory`` (``[host.options]``).
    """

    sqlite: Path | None = None
    factory: str | None = Field(None, pattern=r"^[\w.]+:[\w.]+$")
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_host(self) -> HostSettings:
        if (self.sqlite is None) == (self.factory is None):
            raise ValueError('give either sqlite = "crm.sqlite" or factory = "module:callable"')
        if self.options and self.factory is None:
            raise ValueError("options are the keyword arguments of a factory")
        return self


class _State(_Section):
    path: Path = Path(DEFAULT_STATE_PATH)


class _Sync(_Section):
    policy: ConflictPolicy = ConflictPolicy.HOST_WINS
    sandbox: bool = False
    lease_wait: float = Field(0.0, ge=0)


class _Intervals(_Section):
    relations: Interval | None = None
    bookings: Interval | None = None
    payments: Interval | None = None
    kvk: Interval | None = None


class KvKSettings(_Section):
    """``[kvk]``: the KvK flow (pending register updates of linked organisations).

    The API key comes from ``CRMCONNECT_KVK_API_KEY`` (KvK's public test key
    in the ``test`` environment when it is not set).

    Attributes:
        enabled: Run the KvK flow (``false`` switches it off, the table kept).
        environment: ``production`` or ``test`` (KvK's fictional companies).
        base_url: Another API root (e.g. a sandbox's).
        timeout: Seconds per request.
        max_retries: Retries of reads after transport or server errors.
        workers: Organisations checked at once.
        sandbox: Run against the in-process KvK sandbox.
    """

    enabled: bool = True
    environment: Literal["production", "test"] = "production"
    base_url: str | None = None
    timeout: float = Field(30.0, gt=0)
    max_retries: int = Field(3, ge=0)
    workers: int = Field(4, ge=1)
    sandbox: bool = False


class _Connection(_Section):
    enabled: bool = True
    mapping: Path | None = None
    name_style: NameStyle | None = None
    base_url: str | None = None
    timeout: float = Field(30.0, gt=0)
    max_retries: int = Field(2, ge=0)
    max_answer_bytes: int | None = Field(None, gt=0)  # None: the client's (16 MiB)
    listing_max_age: float = Field(300.0, ge=0)
    sandbox: bool = False
    env_prefix: str | None = Field(None, pattern=r"^[A-Z][A-Z0-9_]*_$")


class DigitaleFactuurConnection(_Connection):
    """``[connections.<name>]`` with ``type = "digitalefactuur"``.

    The secrets come from ``<env_prefix>ACCOUNT_ID`` and ``<env_prefix>ACCESS_CODE``
    (``CRMCONNECT_DIGITALEFACTUUR_`` by default).

    Attributes:
        direction: ``both`` (the default), ``to_remote`` (CRM → DF only) or
            ``from_remote`` (DF → CRM only).
        rate_limit: Requests per second at most; ``0`` for no limit.
    """

    type: Literal["digitalefactuur"]
    direction: Direction = Direction.BOTH
    rate_limit: float = Field(10.0, ge=0)


class EBoekhoudenConnection(_Connection):
    """``[connections.<name>]`` with ``type = "eboekhouden"``.

    The secrets come from ``<env_prefix>ACCESS_TOKEN`` (REST) or
    ``<env_prefix>USERNAME``, ``..._SECURITY_CODE_1`` and ``..._SECURITY_CODE_2``
    (SOAP), ``CRMCONNECT_EBOEKHOUDEN_`` by default.

    Attributes:
        direction: ``both`` (the default): relations go to e-Boekhouden, and
            changes made there to linked relations come back (a relation
            created in e-Boekhouden is not brought into the CRM); ``to_remote``:
            nothing comes back.
        vat_table: The VAT table's TOML file (needed, except against the sandbox).
        backend: ``rest`` (the default) or ``soap``.
    """

    type: Literal["eboekhouden"]
    direction: Direction = Direction.BOTH
    vat_table: Path | None = None
    backend: Literal["soap", "rest"] = "rest"
    source: str = Field("crmconnect", max_length=10)
    administration_guid: str | None = None
    debtors_ledger: str = "1300"
    creditors_ledger: str = "1600"
    check_closed_bookings: bool = False


Connection = Annotated[
    DigitaleFactuurConnection | EBoekhoudenConnection, Field(discriminator="type")
]


class _File(_Section):
    host: HostSettings
    state: _State = _State()
    sync: _Sync = _Sync()
    intervals: _Intervals = _Intervals()
    kvk: KvKSettings | None = None
    connections: dict[str, Connection]


_MODELS: Final = (HostSettings, _State, _Sync, _Intervals, KvKSettings, _File)
_MODEL_NAMES: Final = frozenset(
    kind.__name__ for kind in (*_MODELS, DigitaleFactuurConnection, EBoekhoudenConnection)
)


# -- the config ----------------------------------------------------------------------------------


@attrs.frozen
class SyncConfig:
    """A sync setup: host, state, policy, intervals and connections, as read from TOML.

    Relative paths are relative to the config file. Nothing secret is held:
    `open` reads the secrets from the environment.

    Attributes:
        host: The ``[host]`` table.
        state_path: The `SqliteStateStore` file (``[state] path``).
        policy: The `ConflictPolicy` (``[sync] policy``).
        intervals: Per `Flow`, how often `SyncEngine.run_due` runs it
            (``[intervals]``; hourly when not given).
        connections: By service name (the table's name), the enabled connections.
        kvk: The KvK flow (``[kvk]``); ``None`` when off.
        mappings: By service name, the mapping table the connection uses.
        vat_tables: By service name, the VAT table of an e-Boekhouden connection.
        sandbox: Run every connection against an in-process sandbox (``[sync] sandbox``).
        lease_wait: Seconds a run waits for another run on the same state to end
            (``[sync] lease_wait``; 0: it stops at once with a `SyncError`).
    """

    host: HostSettings
    state_path: Path
    policy: ConflictPolicy
    intervals: Mapping[Flow, dt.timedelta]
    connections: Mapping[str, DigitaleFactuurConnection | EBoekhoudenConnection]
    kvk: KvKSettings | None
    mappings: Mapping[str, RelationMapping] = attrs.field(repr=False)
    vat_tables: Mapping[str, VatTable] = attrs.field(repr=False)
    sandbox: bool = False
    lease_wait: float = 0.0

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> SyncConfig:
        """Read and check a config file (and the mapping and VAT tables it names).

        Raises:
            ConfigurationError: The file cannot be read or is not TOML; a key
                names a secret (it says which environment variable to set
                instead); a key is unknown or a value invalid (naming the key);
                a mapping or VAT table is not valid.
        """
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            problem = "is not TOML" if isinstance(exc, ValueError) else "cannot be read"
            error = ConfigurationError(f"the config file {file} {problem}: {exc}")
        else:
            return cls.from_dict(data, base_dir=file.parent)
        raise error  # outside the except block: nothing chained

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: str | os.PathLike[str]) -> SyncConfig:
        """A config from plain data shaped like the TOML file; paths relative to ``base_dir``.

        Raises:
            ConfigurationError: As for `from_toml`.
        """
        _refuse_secrets(data)
        parsed = _parsed(_with_types(data))
        base = Path(base_dir)
        enabled = {name: c for name, c in parsed.connections.items() if c.enabled}
        if not enabled:
            raise ConfigurationError("connections: no enabled connection; add one")
        for name, connection in enabled.items():
            if not _SERVICE_NAME.fullmatch(name):
                raise ConfigurationError(
                    f"connections.{name}: a connection's name is lowercase letters, digits, "
                    "'-' and '_', starting with a letter"
                )
            _check_connection(name, connection)
        connections = {name: _resolved(c, base) for name, c in enabled.items()}
        host = parsed.host
        if host.sqlite is not None and str(host.sqlite) != ":memory:":
            host = host.model_copy(update={"sqlite": base / host.sqlite})
        given = parsed.intervals.model_dump(exclude_none=True)
        return cls(
            host=host,
            state_path=base / parsed.state.path,
            policy=parsed.sync.policy,
            intervals={Flow(name): interval for name, interval in given.items()},
            connections=connections,
            kvk=parsed.kvk if parsed.kvk is not None and parsed.kvk.enabled else None,
            mappings={name: _mapping(name, c) for name, c in connections.items()},
            vat_tables={
                name: _vat_table(name, c.vat_table)
                for name, c in connections.items()
                if isinstance(c, EBoekhoudenConnection) and c.vat_table is not None
            },
            sandbox=parsed.sync.sandbox,
            lease_wait=parsed.sync.lease_wait,
        )

    def open(
        self, *, environ: Mapping[str, str] | None = None, sandbox: bool | None = None
    ) -> SyncSetup:
        """Build the host, the clients, the connectors and the engine.

        Args:
            environ: Where the secrets are read (``os.environ`` when ``None``).
            sandbox: Run every connection against an in-process sandbox
                (overrides ``[sync] sandbox``): a trial. A sandbox starts empty
                and is gone when the process ends, so a trial keeps its state
                in memory, not in the state file (whose links would point at
                records no sandbox holds any more), and only reads the host:
                the engine runs on a `TrialHost`, which keeps what it would
                write into the host in memory (`SyncSetup.trial`).

        Raises:
            ConfigurationError: A secret is missing from the environment, the
                host factory cannot be imported, a sandboxed connection is
                mixed with a real one, or an e-Boekhouden connection has no
                VAT table.
        """
        env = os.environ if environ is None else environ
        everything = self.sandbox if sandbox is None else sandbox
        sandboxed = {name for name, c in self.connections.items() if everything or c.sandbox}
        if sandboxed and sandboxed != set(self.connections):
            real = ", ".join(sorted(set(self.connections) - sandboxed))
            raise ConfigurationError(
                f"connections.{real}: a run against a sandbox keeps no state, so every "
                "connection must use its sandbox (--sandbox), or none"
            )
        stack = contextlib.ExitStack()
        try:
            return self._build(env, bool(sandboxed), stack)
        except BaseException:
            stack.close()  # what was built so far
            raise

    def _build(
        self, env: Mapping[str, str], sandboxed: bool, stack: contextlib.ExitStack
    ) -> SyncSetup:
        sandboxes: dict[str, DigitaleFactuurSandbox | EBoekhoudenSandbox] = {}
        connectors: list[AccountingConnector] = []
        for name in self.connections:
            connector, client, sandbox = self._connector(name, env, sandboxed)
            stack.callback(client.close)
            connectors.append(connector)
            if sandbox is not None:
                sandboxes[name] = sandbox
        host = _host(self.host)
        closing = getattr(host, "close", None)
        if callable(closing):
            stack.callback(closing)
        kvk = None
        if self.kvk is not None:
            kvk_client = _kvk_client(self.kvk, env, sandboxed or self.kvk.sandbox)
            stack.callback(kvk_client.close)
            kvk = KvKUpdates(kvk_client, workers=self.kvk.workers)
        state: str | Path = ":memory:" if sandboxed else self.state_path
        intervals: dict[Flow | str, dt.timedelta] = {k: v for k, v in self.intervals.items()}
        trial = TrialHost(host) if sandboxed else None  # a trial never writes into the host
        engine = SyncEngine(
            trial or host,
            connectors,
            state=state,
            policy=self.policy,
            intervals=intervals,
            kvk=kvk,
            lease_wait=self.lease_wait,
        )
        stack.callback(engine.close)
        return SyncSetup(engine, host, sandboxes, stack, trial=trial)

    def _connector(
        self, name: str, env: Mapping[str, str], sandboxed: bool
    ) -> tuple[AccountingConnector, Any, DigitaleFactuurSandbox | EBoekhoudenSandbox | None]:
        """A connection's connector, client and sandbox; an error names the connection."""
        connection, mapping = self.connections[name], self.mappings[name]
        try:
            if isinstance(connection, DigitaleFactuurConnection):
                return _digitalefactuur(name, connection, mapping, env, sandboxed)
            vat = self.vat_tables.get(name)
            return _eboekhouden(name, connection, mapping, vat, env, sandboxed)
        except (ConfigurationError, ValidationError) as exc:
            named = str(exc).startswith(f"connections.{name}")
            error = exc if named else ConfigurationError(f"connections.{name}: {exc}")
        raise error  # outside the except block: nothing chained


@attrs.define
class SyncSetup:
    """What `SyncConfig.open` built; close it (or use ``with``) when done.

    Attributes:
        engine: The `SyncEngine`.
        host: The host CRM (in a trial only read: the engine runs on ``trial``).
        sandboxes: By service name, the in-process sandbox a connection runs
            against (empty for a real run).
        trial: In a trial against the sandboxes, the `TrialHost` over ``host``
            that the engine runs on: what the runs would have written into
            the host, kept in memory (``None`` for a real run).
    """

    engine: SyncEngine
    host: HostCRM
    sandboxes: Mapping[str, DigitaleFactuurSandbox | EBoekhoudenSandbox]
    _resources: contextlib.ExitStack = attrs.field(repr=False, alias="resources")
    trial: TrialHost | None = attrs.field(default=None, kw_only=True)

    @property
    def sandboxed(self) -> bool:
        """Whether the connections run against in-process sandboxes."""
        return bool(self.sandboxes)

    def close(self) -> None:
        """Close the engine (and its state), the host and the clients."""
        self._resources.close()

    def __enter__(self) -> SyncSetup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- parsing helpers -----------------------------------------------------------------------------


def _with_types(data: Mapping[str, Any]) -> dict[str, Any]:
    """The data with each connection's ``type`` filled in from its name where it names one."""
    result = dict(data)
    connections = data.get("connections")
    if not isinstance(connections, Mapping):
        return result  # pydantic names the problem
    typed: dict[str, Any] = {}
    for name, table in connections.items():
        if isinstance(table, Mapping) and "type" not in table:
            if name not in ("digitalefactuur", "eboekhouden"):
                raise ConfigurationError(
                    f'connections.{name}.type: needed (type = "digitalefactuur" or '
                    '"eboekhouden") when the table is not named after the service'
                )
            table = {**table, "type": name}
        typed[name] = table
    result["connections"] = typed
    return result


def _parsed(data: Mapping[str, Any]) -> _File:
    try:
        return _File.model_validate(dict(data))
    except ValidationError as invalid:
        error = ConfigurationError(_problems(invalid))
    raise error  # outside the except block: nothing chained


_UNKNOWN_KEY: Final = "Extra inputs are not permitted"


def _problems(invalid: ValidationError) -> str:
    lines = []
    for field, value, reason in invalid.errors:
        if reason == _UNKNOWN_KEY:  # its value is not shown: it may be a misspelt secret
            lines.append(f"{_key_path(field)}: unknown key (misspelt?)")
            continue
        shown = value is not None and not isinstance(value, Mapping) and repr(value) not in reason
        lines.append(f"{_key_path(field)}: {reason}" + (f" (got {value!r})" if shown else ""))
    return "invalid config: " + "; ".join(lines)


def _key_path(field: str) -> str:
    """The key as the file has it: without the union tag or model name pydantic adds."""
    parts = field.split(".")
    if (
        len(parts) > 2
        and parts[0] == "connections"
        and parts[2] in ("digitalefactuur", "eboekhouden")
    ):
        del parts[2]  # connections.df.digitalefactuur.x: the union member's tag
    return ".".join(part for part in parts if part not in _MODEL_NAMES)


def _check_connection(
    name: str, connection: DigitaleFactuurConnection | EBoekhoudenConnection
) -> None:
    if isinstance(connection, EBoekhoudenConnection) and not connection.direction.outbound:
        raise ConfigurationError(
            f"connections.{name}.direction: relations go from the CRM to e-Boekhouden "
            f'(direction = "both" or "to_remote"), got {connection.direction.value!r}'
        )


def _resolved(
    connection: DigitaleFactuurConnection | EBoekhoudenConnection, base: Path
) -> DigitaleFactuurConnection | EBoekhoudenConnection:
    paths = {
        key: base / value
        for key in ("mapping", "vat_table")
        if isinstance(value := getattr(connection, key, None), Path)
    }
    return connection.model_copy(update=paths) if paths else connection


def _mapping(
    name: str, connection: DigitaleFactuurConnection | EBoekhoudenConnection
) -> RelationMapping:
    default = (
        DIGITALEFACTUUR_RELATIONS
        if isinstance(connection, DigitaleFactuurConnection)
        else EBOEKHOUDEN_RELATIONS
    )
    if connection.mapping is None:
        return default
    fields = default.organisation.remote_fields | default.person.remote_fields

    def read(path: Path) -> RelationMapping:
        data = read_toml(path, "relation_mapping")  # its own remote_fields, else the service's
        return RelationMapping.from_dict(data, remote_fields=data.get("remote_fields", fields))

    return _table(f"connections.{name}.mapping", connection.mapping, read)


def _vat_table(name: str, path: Path) -> VatTable:
    return _table(f"connections.{name}.vat_table", path, VatTable.from_toml)


def _table(key: str, path: Path, read: Callable[[Path], _T]) -> _T:
    try:
        return read(path)
    except ValidationError as invalid:
        error = ConfigurationError(f"{key} ({path}): {invalid}")
    raise error  # outside the except block: nothing chained


# -- building ------------------------------------------------------------------------------------


def _secret(env: Mapping[str, str], name: str, variable: str, what: str) -> str:
    value = env.get(variable, "")
    if not value.strip():
        raise ConfigurationError(f"connections.{name}: set {variable} in the environment ({what})")
    return value


def _digitalefactuur(
    name: str,
    connection: DigitaleFactuurConnection,
    mapping: RelationMapping,
    env: Mapping[str, str],
    sandboxed: bool,
) -> tuple[AccountingConnector, Any, DigitaleFactuurSandbox | None]:
    from .digitalefactuur import DigitaleFactuurClient, DigitaleFactuurConnector

    settings: dict[str, Any] = {
        "timeout": connection.timeout,
        "max_retries": connection.max_retries,
        "rate_limit": connection.rate_limit or None,
    }
    if connection.max_answer_bytes is not None:
        settings["max_answer_bytes"] = connection.max_answer_bytes
    sandbox = None
    if sandboxed:
        from .sandbox import DEMO_ACCESS_CODE, DEMO_ACCOUNT_ID, DigitaleFactuurSandbox

        sandbox = DigitaleFactuurSandbox()
        account, code = DEMO_ACCOUNT_ID, DEMO_ACCESS_CODE
        settings.update(transport=sandbox.transport(), rate_limit=None)
    else:
        prefix = connection.env_prefix or DIGITALEFACTUUR_ENV
        account = _secret(env, name, f"{prefix}ACCOUNT_ID", "the account id")
        code = _secret(env, name, f"{prefix}ACCESS_CODE", "the access code")
        settings["base_url"] = connection.base_url
    client = DigitaleFactuurClient(account, code, **settings)
    connector = DigitaleFactuurConnector(
        client,
        mapping=mapping,
        name_style=connection.name_style,
        to_remote=connection.direction.outbound,
        from_remote=connection.direction.inbound,
        service=name,
        listing_max_age=connection.listing_max_age,
    )
    return connector, client, sandbox


def _eboekhouden(
    name: str,
    connection: EBoekhoudenConnection,
    mapping: RelationMapping,
    vat_table: VatTable | None,
    env: Mapping[str, str],
    sandboxed: bool,
) -> tuple[AccountingConnector, Any, EBoekhoudenSandbox | None]:
    from .eboekhouden import EBoekhoudenConnector

    sandbox = None
    if sandboxed:
        from .sandbox import DEMO_VAT_TABLE, EBoekhoudenSandbox

        sandbox = EBoekhoudenSandbox()
        books = _sandbox_books(connection, sandbox)
        vat_table = vat_table or DEMO_VAT_TABLE
    else:
        if vat_table is None:
            raise ConfigurationError(
                f"connections.{name}.vat_table: needed, the TOML file of the VAT table "
                "invoices are booked with"
            )
        books = _books(name, connection, env)
    connector = EBoekhoudenConnector(
        books,
        vat_table,
        mapping=mapping,
        name_style=connection.name_style,
        service=name,
        changes_from_remote=connection.direction.inbound,
        listing_max_age=connection.listing_max_age,
        check_closed_bookings=connection.check_closed_bookings,
    )
    return connector, books, sandbox


_SETTINGS: Final = frozenset(
    {"backend", "source", "base_url", "administration_guid", "debtors_ledger"}
    | {"creditors_ledger", "timeout", "max_retries", "max_answer_bytes"}
)
"""The keys of an e-Boekhouden connection that are `EBoekhoudenSettings` too."""
_REST_SECRETS: Final[tuple[tuple[str, str], ...]] = (("access_token", "the REST API access token"),)
_SOAP_SECRETS: Final[tuple[tuple[str, str], ...]] = (
    ("username", "the SOAP username"),
    ("security_code_1", "SOAP security code 1"),
    ("security_code_2", "SOAP security code 2"),
)


def _books(name: str, connection: EBoekhoudenConnection, env: Mapping[str, str]) -> Any:
    from .eboekhouden import EBoekhoudenSettings, connect

    prefix = connection.env_prefix or EBOEKHOUDEN_ENV
    needed = _REST_SECRETS if connection.backend == "rest" else _SOAP_SECRETS
    secrets = {key: _secret(env, name, f"{prefix}{key.upper()}", what) for key, what in needed}
    plain = connection.model_dump(include=set(_SETTINGS), exclude_none=True)
    return connect(EBoekhoudenSettings.from_mapping({**plain, **secrets}))


def _sandbox_books(connection: EBoekhoudenConnection, sandbox: EBoekhoudenSandbox) -> Any:
    from .sandbox import DEMO_CREDENTIALS

    if connection.backend == "soap":
        from .eboekhouden import EBoekhoudenClient

        return EBoekhoudenClient(
            DEMO_CREDENTIALS.username,
            DEMO_CREDENTIALS.security_code_1,
            DEMO_CREDENTIALS.security_code_2,
            session=sandbox.requests_session(),
        )
    from .eboekhouden.rest import EBoekhoudenRestClient

    return EBoekhoudenRestClient(DEMO_CREDENTIALS.access_token, transport=sandbox.transport())


def _kvk_client(settings: KvKSettings, env: Mapping[str, str], sandboxed: bool) -> KvKClient:
    from .kvk import KvKClient

    if sandboxed:
        from .sandbox import KvKSandbox

        return KvKClient(environment="test", transport=KvKSandbox().transport())
    key = env.get(KVK_API_KEY, "").strip() or None
    if key is None and settings.environment == "production":
        raise ConfigurationError(f"kvk: set {KVK_API_KEY} in the environment (the KvK API key)")
    return KvKClient(
        key,
        environment=settings.environment,
        base_url=settings.base_url,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
    )


def _host(settings: HostSettings) -> HostCRM:
    if settings.sqlite is not None:
        from .contrib.sqlite_crm import SqliteCRM

        return SqliteCRM(settings.sqlite)
    assert settings.factory is not None
    factory = _import(settings.factory)
    host = factory(**settings.options)
    if not isinstance(host, HostCRM):
        raise ConfigurationError(
            f"host.factory: {settings.factory} returned a {type(host).__name__}, not a HostCRM"
        )
    return host


def _import(target: str) -> Callable[..., object]:
    module_name, _, attribute = target.partition(":")
    try:
        found: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        error = ConfigurationError(f"host.factory: cannot import {target}: {exc}")
    else:
        if callable(found):
            return found
        error = ConfigurationError(f"host.factory: {target} is not callable")
    raise error  # outside the except block: nothing chained
