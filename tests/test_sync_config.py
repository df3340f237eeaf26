"""`SyncConfig`: the sync setup read from TOML, its refusals, and what `open` builds.

Every refusal names the key (and, for a secret, the environment variable to
set instead) and never shows a secret value. What `open` builds is checked by
running it: against the in-process sandboxes, or over loopback with the
secrets from a given environment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from crmconnect._sync_config import DigitaleFactuurConnection, EBoekhoudenConnection
from crmconnect.config import SyncConfig
from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.errors import ConfigurationError
from crmconnect.mapping import DIGITALEFACTUUR_RELATIONS, Direction, NameStyle
from crmconnect.models import Invoice, InvoiceLine, Organisation
from crmconnect.sandbox import DEMO_VAT_TABLE, DEMO_VAT_TABLE_TOML, DigitaleFactuurSandbox
from crmconnect.sync import ConflictPolicy, Flow, SqliteStateStore, SyncEngine, TrialHost

SECRET = "s3cr3t-never-shown-42"
ACCOUNT, CODE = "24680", "df-access-code-from-env"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def config_file(tmp_path: Path, text: str) -> Path:
    return write(tmp_path / "crmconnect.toml", text)


MINIMAL = """
[host]
sqlite = "crm.sqlite"

[connections.digitalefactuur]
"""


def invoice(number: str, relation_code: str) -> Invoice:
    line = InvoiceLine(description="Brood", unit_price="100.00", vat_category="nl_high")
    return Invoice(
        number=number, relation_code=relation_code, date=dt.date(2026, 3, 1), lines=[line]
    )


def parse(data: dict[str, Any], tmp_path: Path) -> SyncConfig:
    return SyncConfig.from_dict(data, base_dir=tmp_path)


def refusal(data: dict[str, Any], tmp_path: Path) -> str:
    with pytest.raises(ConfigurationError) as caught:
        parse(data, tmp_path)
    error = caught.value
    assert error.__cause__ is None and error.__context__ is None
    return str(error)


# -- reading -------------------------------------------------------------------------------------


def test_a_full_config_is_read_with_paths_beside_the_file(tmp_path: Path) -> None:
    styled = attrs.evolve(DIGITALEFACTUUR_RELATIONS, name_style=NameStyle.INITIALS)
    write(tmp_path / "df-mapping.toml", styled.to_toml())
    write(tmp_path / "vat.toml", DEMO_VAT_TABLE_TOML)
    path = config_file(
        tmp_path,
        """
        [host]
        sqlite = "data/crm.sqlite"

        [state]
        path = "state/sync.sqlite"

        [sync]
        policy = "review"
        lease_wait = 2.5

        [intervals]
        relations = "1h30m"
        payments = "15m"

        [connections.digitalefactuur]
        direction = "from_remote"
        mapping = "df-mapping.toml"
        rate_limit = 0

        [connections.books]
        type = "eboekhouden"
        backend = "soap"
        vat_table = "vat.toml"
        name_style = "last_name"
        """,
    )

    config = SyncConfig.from_toml(path)

    assert config.host.sqlite == tmp_path / "data" / "crm.sqlite"
    assert config.state_path == tmp_path / "state" / "sync.sqlite"
    assert (config.policy, config.lease_wait) == (ConflictPolicy.REVIEW, 2.5)
    assert config.intervals == {
        Flow.RELATIONS: dt.timedelta(hours=1, minutes=30),
        Flow.PAYMENTS: dt.timedelta(minutes=15),
    }
    df, books = config.connections["digitalefactuur"], config.connections["books"]
    assert isinstance(df, DigitaleFactuurConnection) and isinstance(books, EBoekhoudenConnection)
    assert (df.direction, df.rate_limit) == (Direction.FROM_REMOTE, 0)
    assert (books.backend, books.name_style) == ("soap", NameStyle.LAST_NAME)
    assert config.mappings["digitalefactuur"] == styled
    assert config.mappings["digitalefactuur"] != DIGITALEFACTUUR_RELATIONS
    assert config.vat_tables["books"] == DEMO_VAT_TABLE


def test_the_defaults(tmp_path: Path) -> None:
    config = SyncConfig.from_toml(config_file(tmp_path, MINIMAL))

    assert config.policy is ConflictPolicy.HOST_WINS
    assert config.intervals == {}  # the engine's hourly defaults
    assert config.state_path == tmp_path / "crmconnect-state.sqlite"
    [df] = config.connections.values()
    assert isinstance(df, DigitaleFactuurConnection) and df.direction is Direction.BOTH
    assert config.mappings["digitalefactuur"] == DIGITALEFACTUUR_RELATIONS
    assert not config.sandbox


def test_a_disabled_connection_is_left_out(tmp_path: Path) -> None:
    config = parse(
        {
            "host": {"sqlite": "crm.sqlite"},
            "connections": {"digitalefactuur": {}, "eboekhouden": {"enabled": False}},
        },
        tmp_path,
    )
    assert list(config.connections) == ["digitalefactuur"]


# -- secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key", "variable"),
    [
        ("eboekhouden", "access_token", "CRMCONNECT_EBOEKHOUDEN_ACCESS_TOKEN"),
        ("eboekhouden", "username", "CRMCONNECT_EBOEKHOUDEN_USERNAME"),
        ("eboekhouden", "security_code_1", "CRMCONNECT_EBOEKHOUDEN_SECURITY_CODE_1"),
        ("eboekhouden", "security_code_2", "CRMCONNECT_EBOEKHOUDEN_SECURITY_CODE_2"),
        ("digitalefactuur", "access_code", "CRMCONNECT_DIGITALEFACTUUR_ACCESS_CODE"),
        ("digitalefactuur", "account_id", "CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID"),
        ("digitalefactuur", "api_key", "CRMCONNECT_DIGITALEFACTUUR_ACCESS_CODE"),
        ("eboekhouden", "password", "CRMCONNECT_EBOEKHOUDEN_ACCESS_TOKEN"),
    ],
)
def test_a_secret_in_a_connection_is_refused_naming_the_key_and_the_variable(
    tmp_path: Path, table: str, key: str, variable: str
) -> None:
    data = {"host": {"sqlite": "crm.sqlite"}, "connections": {table: {key: SECRET}}}

    message = refusal(data, tmp_path)

    assert f"connections.{table}.{key}" in message
    assert variable in message
    assert SECRET not in message


def test_a_secret_is_refused_from_the_toml_file_too(tmp_path: Path) -> None:
    path = config_file(tmp_path, MINIMAL + f'access_code = "{SECRET}"\n')

    with pytest.raises(ConfigurationError) as caught:
        SyncConfig.from_toml(path)

    assert "connections.digitalefactuur.access_code" in str(caught.value)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


def test_a_secret_names_the_variable_of_the_connections_own_prefix(tmp_path: Path) -> None:
    data = {
        "host": {"sqlite": "crm.sqlite"},
        "connections": {
            "shop2": {"type": "digitalefactuur", "env_prefix": "SHOP2_DF_", "access_code": SECRET}
        },
    }
    message = refusal(data, tmp_path)
    assert "connections.shop2.access_code" in message and "SHOP2_DF_ACCESS_CODE" in message


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (
            {"host": {"factory": "mypkg:make", "options": {"db_password": SECRET}}},
            "host.options.db_password",
        ),
        ({"host": {"sqlite": "crm.sqlite"}, "sync": {"secret": SECRET}}, "sync.secret"),
        ({"host": {"sqlite": "crm.sqlite"}, "kvk": {"api_key": SECRET}}, "kvk.api_key"),
    ],
)
def test_a_secret_anywhere_else_is_refused_before_anything_else(
    tmp_path: Path, data: dict[str, Any], key: str
) -> None:
    message = refusal({**data, "connections": {"digitalefactuur": {}}}, tmp_path)
    assert message.startswith(f"{key}: a secret is never read from the config file")
    assert SECRET not in message


@pytest.mark.parametrize(
    ("data", "key", "instead"),
    [
        (
            {
                "host": {"sqlite": "crm.sqlite"},
                "connections": {
                    "digitalefactuur": {"base_url": f"https://user:{SECRET}@df.example/api"}
                },
            },
            "connections.digitalefactuur.base_url",
            "CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID, CRMCONNECT_DIGITALEFACTUUR_ACCESS_CODE",
        ),
        (
            {
                "host": {
                    "factory": "mypkg:make",
                    "options": {"database": f"postgresql://crm:{SECRET}@db.internal/crm"},
                },
                "connections": {"eboekhouden": {}},
            },
            "host.options.database",
            "PGPASSWORD",
        ),
        (
            {
                "host": {"factory": "mypkg:make", "options": {"mirrors": [f"sftp://a:{SECRET}@m"]}},
                "connections": {"eboekhouden": {}},
            },
            "host.options.mirrors",
            "the host factory",
        ),
    ],
)
def test_a_password_in_a_url_is_refused_naming_the_key_and_the_variable(
    tmp_path: Path, data: dict[str, Any], key: str, instead: str
) -> None:
    message = refusal(data, tmp_path)

    assert message.startswith(f"{key}: a password in a URL is a secret, never read from")
    assert instead in message and SECRET not in message


def test_a_url_with_a_user_but_no_password_is_accepted(tmp_path: Path) -> None:
    table = {"base_url": "https://user@df.example/api"}
    config = parse({"host": HOST, "connections": {"digitalefactuur": table}}, tmp_path)
    assert config.connections["digitalefactuur"].base_url == "https://user@df.example/api"


def test_the_kvk_api_key_in_the_file_names_its_variable(tmp_path: Path) -> None:
    data = {"host": HOST, "kvk": {"apikey": SECRET}, "connections": {"digitalefactuur": {}}}
    message = refusal(data, tmp_path)
    assert "kvk.apikey" in message and "CRMCONNECT_KVK_API_KEY" in message


def test_a_misspelt_key_is_refused_without_showing_its_value(tmp_path: Path) -> None:
    data = {"host": {"sqlite": "crm.sqlite"}, "connections": {"eboekhouden": {"acces_cod": SECRET}}}
    message = refusal(data, tmp_path)
    assert "connections.eboekhouden.acces_cod: unknown key" in message
    assert SECRET not in message


# -- other refusals ------------------------------------------------------------------------------


HOST = {"sqlite": "crm.sqlite"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"connections": {"digitalefactuur": {}}}, "host: Field required"),
        ({"host": {}, "connections": {"digitalefactuur": {}}}, "host: give either sqlite"),
        (
            {"host": {"sqlite": "a", "factory": "m:f"}, "connections": {"digitalefactuur": {}}},
            "host: give either sqlite",
        ),
        (
            {"host": {"factory": "not an import path"}, "connections": {"digitalefactuur": {}}},
            "host.factory",
        ),
        ({"host": HOST, "connections": {}}, "connections: no enabled connection"),
        ({"host": HOST, "connections": {"shop": {}}}, "connections.shop.type: needed"),
        (
            {"host": HOST, "connections": {"Shop 1": {"type": "digitalefactuur"}}},
            "connections.Shop 1: a connection's name",
        ),
        (
            {"host": HOST, "connections": {"shop": {"type": "exact"}}},
            "connections.shop",
        ),
        (
            {"host": HOST, "connections": {"digitalefactuur": {"direction": "sideways"}}},
            "connections.digitalefactuur.direction",
        ),
        (
            {"host": HOST, "connections": {"eboekhouden": {"direction": "from_remote"}}},
            "connections.eboekhouden.direction: relations go from the CRM to e-Boekhouden",
        ),
        (
            {"host": HOST, "connections": {"eboekhouden": {"backend": "xml"}}},
            "connections.eboekhouden.backend",
        ),
        (
            {"host": HOST, "connections": {"digitalefactuur": {"timeout": 0}}},
            "connections.digitalefactuur.timeout",
        ),
        (
            {"host": HOST, "connections": {"digitalefactuur": {"env_prefix": "lower_"}}},
            "connections.digitalefactuur.env_prefix",
        ),
        (
            {"host": HOST, "sync": {"policy": "crm_wins"}, "connections": {"eboekhouden": {}}},
            "sync.policy",
        ),
        (
            {"host": HOST, "sync": {"lease_wait": -1}, "connections": {"eboekhouden": {}}},
            "sync.lease_wait",
        ),
        (
            {
                "host": HOST,
                "intervals": {"relations": "hourly"},
                "connections": {"eboekhouden": {}},
            },
            "intervals.relations: 'hourly' is not a duration",
        ),
        (
            {"host": HOST, "intervals": {"payments": 60}, "connections": {"eboekhouden": {}}},
            "intervals.payments: 60 is not a duration",
        ),
        (
            {"host": HOST, "intervals": {"payments": "0m"}, "connections": {"eboekhouden": {}}},
            "intervals.payments: '0m' is not a positive duration",
        ),
        (
            {"host": HOST, "intervals": {"vies": "1h"}, "connections": {"eboekhouden": {}}},
            "intervals.vies: unknown key",
        ),
        (
            {"host": HOST, "connections": {"eboekhouden": {"vat_table": "missing.toml"}}},
            "connections.eboekhouden.vat_table",
        ),
        (
            {"host": HOST, "connections": {"digitalefactuur": {"mapping": "missing.toml"}}},
            "connections.digitalefactuur.mapping",
        ),
    ],
)
def test_a_wrong_value_is_refused_naming_the_key(
    tmp_path: Path, data: dict[str, Any], expected: str
) -> None:
    assert expected in refusal(data, tmp_path)


def test_an_invalid_mapping_table_is_refused_naming_the_key_the_file_and_the_row(
    tmp_path: Path,
) -> None:
    text = DIGITALEFACTUUR_RELATIONS.to_toml().replace('"contact.email"', '"contact.mail"', 1)
    write(tmp_path / "mapping.toml", text)
    data = {"host": HOST, "connections": {"digitalefactuur": {"mapping": "mapping.toml"}}}

    message = refusal(data, tmp_path)

    assert message.startswith("connections.digitalefactuur.mapping (")
    assert "mapping.toml" in message and "contact.mail" in message


def test_a_mapping_file_without_remote_fields_is_checked_against_the_services(
    tmp_path: Path,
) -> None:
    lines = DIGITALEFACTUUR_RELATIONS.to_toml().splitlines(keepends=True)
    write(tmp_path / "mapping.toml", "".join(x for x in lines if "remote_fields" not in x))
    data = {"host": HOST, "connections": {"digitalefactuur": {"mapping": "mapping.toml"}}}

    assert parse(data, tmp_path).mappings["digitalefactuur"] == DIGITALEFACTUUR_RELATIONS


def test_an_invalid_vat_table_is_refused_naming_the_key_and_the_row(tmp_path: Path) -> None:
    write(tmp_path / "vat.toml", DEMO_VAT_TABLE_TOML.replace("HOOG_VERK_21", "HOOG_VERK_99", 1))
    data = {"host": HOST, "connections": {"eboekhouden": {"vat_table": "vat.toml"}}}

    message = refusal(data, tmp_path)

    assert message.startswith("connections.eboekhouden.vat_table (")
    assert "HOOG_VERK_99" in message


@pytest.mark.parametrize("text", ["[host\nsqlite = 1", "\xff"])
def test_a_file_that_is_not_toml_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "crmconnect.toml"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigurationError, match="crmconnect.toml"):
        SyncConfig.from_toml(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        SyncConfig.from_toml(tmp_path / "nowhere.toml")


# -- opening -------------------------------------------------------------------------------------


@pytest.fixture
def df_sandbox() -> DigitaleFactuurSandbox:
    return DigitaleFactuurSandbox(ACCOUNT, CODE)


@pytest.fixture
def df_url(df_sandbox: DigitaleFactuurSandbox) -> Iterator[str]:
    with df_sandbox.serve() as url:
        yield url


def df_config(tmp_path: Path, url: str, **extra: object) -> SyncConfig:
    table = {"base_url": url, "rate_limit": 0, **extra}
    return parse({"host": HOST, "connections": {"digitalefactuur": table}}, tmp_path)


def test_open_reads_the_secrets_from_the_environment_and_runs(
    tmp_path: Path, df_sandbox: DigitaleFactuurSandbox, df_url: str
) -> None:
    config = df_config(tmp_path, df_url)
    with SqliteCRM(tmp_path / "crm.sqlite") as crm:
        crm.add(Organisation(name="Bakkerij Jansen", debtor_number="1001"))
    env = {
        "CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID": ACCOUNT,
        "CRMCONNECT_DIGITALEFACTUUR_ACCESS_CODE": CODE,
    }

    with config.open(environ=env) as setup:
        assert isinstance(setup.engine, SyncEngine) and not setup.sandboxed
        report = setup.engine.run()
        shown = f"{setup!r} {config!r} {setup.engine!r}"

    assert (report.created, report.failed) == (1, 0)
    assert [r["naam"] for r in df_sandbox.relations] == ["Bakkerij Jansen"]
    assert CODE not in shown and ACCOUNT not in shown
    with SqliteStateStore(tmp_path / "crmconnect-state.sqlite") as state:
        assert [link.number for link in state.links("digitalefactuur")] == ["1001"]


def test_open_reads_the_variables_of_the_connections_own_prefix(
    tmp_path: Path, df_sandbox: DigitaleFactuurSandbox, df_url: str
) -> None:
    config = df_config(tmp_path, df_url, env_prefix="SHOP2_DF_")
    env = {"SHOP2_DF_ACCOUNT_ID": ACCOUNT, "SHOP2_DF_ACCESS_CODE": CODE}
    with config.open(environ=env) as setup:
        assert setup.engine.run().failed == 0
    assert df_sandbox.stats.requests["klanten"] >= 1


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID"),
        (
            {"CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID": ACCOUNT},
            "CRMCONNECT_DIGITALEFACTUUR_ACCESS_CODE",
        ),
    ],
)
def test_a_missing_secret_names_its_variable(
    tmp_path: Path, env: dict[str, str], missing: str
) -> None:
    config = df_config(tmp_path, "http://127.0.0.1:9")
    with pytest.raises(ConfigurationError, match=missing):
        config.open(environ=env)


@pytest.mark.parametrize(
    ("backend", "missing"),
    [
        ("rest", "CRMCONNECT_EBOEKHOUDEN_ACCESS_TOKEN"),
        ("soap", "CRMCONNECT_EBOEKHOUDEN_USERNAME"),
    ],
)
def test_a_missing_eboekhouden_secret_names_its_variable(
    tmp_path: Path, backend: str, missing: str
) -> None:
    write(tmp_path / "vat.toml", DEMO_VAT_TABLE_TOML)
    table = {"backend": backend, "vat_table": "vat.toml"}
    config = parse({"host": HOST, "connections": {"eboekhouden": table}}, tmp_path)
    with pytest.raises(ConfigurationError, match=missing):
        config.open(environ={})


def test_eboekhouden_needs_a_vat_table_except_against_its_sandbox(tmp_path: Path) -> None:
    config = parse({"host": HOST, "connections": {"eboekhouden": {}}}, tmp_path)
    env = {"CRMCONNECT_EBOEKHOUDEN_ACCESS_TOKEN": SECRET}

    with pytest.raises(ConfigurationError, match=r"connections\.eboekhouden\.vat_table"):
        config.open(environ=env)
    with config.open(sandbox=True) as setup:
        assert setup.sandboxed and set(setup.sandboxes) == {"eboekhouden"}


def test_a_sandboxed_connection_beside_a_real_one_is_refused(tmp_path: Path) -> None:
    data = {
        "host": HOST,
        "connections": {"digitalefactuur": {"sandbox": True}, "eboekhouden": {}},
    }
    with pytest.raises(ConfigurationError, match=r"connections\.eboekhouden: a run against"):
        parse(data, tmp_path).open(environ={})


def test_a_sandbox_run_keeps_its_state_in_memory(tmp_path: Path) -> None:
    config = parse({"host": HOST, "connections": {"digitalefactuur": {}}}, tmp_path)
    with SqliteCRM(tmp_path / "crm.sqlite") as crm:
        crm.add(Organisation(name="Bakkerij Jansen", debtor_number="1001"))

    for _ in range(2):  # each run meets a new, empty sandbox: created again, nothing unlinked
        with config.open(sandbox=True) as setup:
            report = setup.engine.run()
            assert (report.created, report.unlinked, report.failed) == (1, 0, 0)
            sandbox = setup.sandboxes["digitalefactuur"]
            assert isinstance(sandbox, DigitaleFactuurSandbox) and len(sandbox.relations) == 1

    assert not (tmp_path / "crmconnect-state.sqlite").exists()


def test_a_sandbox_run_only_reads_the_host_and_keeps_its_writes_in_the_trial(
    tmp_path: Path,
) -> None:
    table: dict[str, dict[str, object]] = {"eboekhouden": {}, "digitalefactuur": {}}
    config = parse({"host": HOST, "connections": table}, tmp_path)
    with SqliteCRM(tmp_path / "crm.sqlite") as crm:
        crm.add(Organisation(name="Bakkerij Jansen", debtor_number="1001"))
        crm.add_invoice(invoice("F1", "1001"))

    with config.open(sandbox=True) as setup:
        report = setup.engine.run()
        trial = setup.trial
        assert isinstance(trial, TrialHost) and setup.engine.host is trial
        assert trial.host is setup.host and isinstance(setup.host, SqliteCRM)
        df_sandbox = setup.sandboxes["digitalefactuur"]
        assert isinstance(df_sandbox, DigitaleFactuurSandbox)
        df_sandbox.add_relation(relatienummer="1002", naam="Alleen in de sandbox")
        later = setup.engine.run()

    assert (report.failed, later.failed) == (0, 0)
    assert [service for service, _ in trial.bookings] == ["eboekhouden"]
    assert [getattr(p, "name", None) for p in trial.created.values()] == ["Alleen in de sandbox"]
    with SqliteCRM(tmp_path / "crm.sqlite") as crm:  # as it was: the real run books F1
        assert [i.number for i in crm.invoices_to_book("eboekhouden")] == ["F1"]
        assert crm.booking_reference("eboekhouden", "F1") is None
        assert crm.payment_state("F1") == "open"
        assert [getattr(p, "name", None) for p in crm.parties()] == ["Bakkerij Jansen"]
        assert crm.changed_parties(None)[1] == "1"


def test_a_real_run_has_no_trial_host(tmp_path: Path) -> None:
    config = parse({"host": HOST, "connections": {"digitalefactuur": {}}}, tmp_path)
    env = {
        "CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID": ACCOUNT,
        "CRMCONNECT_DIGITALEFACTUUR_ACCESS_CODE": CODE,
    }
    with config.open(environ=env) as setup:
        assert setup.trial is None and setup.engine.host is setup.host


# -- a host factory ------------------------------------------------------------------------------


made: list[dict[str, object]] = []


def make_host(path: str, label: str = "") -> SqliteCRM:
    """A host factory for the tests: a `SqliteCRM`, remembering how it was called."""
    made.append({"path": path, "label": label})
    return SqliteCRM(path)


def not_a_host() -> object:
    return object()


def test_a_host_factory_is_called_with_its_options(tmp_path: Path) -> None:
    made.clear()
    host = {
        "factory": f"{__name__}:make_host",
        "options": {"path": str(tmp_path / "mine.sqlite"), "label": "crm"},
    }
    config = parse({"host": host, "connections": {"digitalefactuur": {}}}, tmp_path)

    with config.open(sandbox=True) as setup:
        assert isinstance(setup.host, SqliteCRM)
        assert setup.engine.run().failed == 0

    assert made == [{"path": str(tmp_path / "mine.sqlite"), "label": "crm"}]


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("no_such_package_xyz.crm:make", "host.factory: cannot import no_such_package_xyz.crm"),
        (f"{__name__}:no_such_function", "host.factory: cannot import"),
        (f"{__name__}:made", "host.factory: tests.test_sync_config:made is not callable"),
        (f"{__name__}:not_a_host", "returned a object, not a HostCRM"),
    ],
)
def test_a_host_factory_that_does_not_give_a_host_is_refused(
    tmp_path: Path, factory: str, message: str
) -> None:
    config = parse({"host": {"factory": factory}, "connections": {"digitalefactuur": {}}}, tmp_path)
    with pytest.raises(ConfigurationError) as caught:
        config.open(sandbox=True)
    assert message in str(caught.value) and caught.value.__context__ is None


# -- one flow ------------------------------------------------------------------------------------


def test_the_engine_runs_and_plans_one_flow_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    config = parse({"host": HOST, "connections": {"digitalefactuur": {}}}, tmp_path)
    with SqliteCRM(tmp_path / "crm.sqlite") as crm:
        crm.add(Organisation(name="Bakkerij Jansen", debtor_number="1001"))

    with config.open(sandbox=True) as setup:
        engine = setup.engine
        assert len(engine.plan("payments")) == 0  # the relation is a relations matter
        assert engine.plan("relations").flow == "relations"
        assert engine.run("bookings").created == 0
        assert engine.run(Flow.RELATIONS).created == 1
        assert [run.flow for run in engine.state.runs()] == ["bookings", "relations"]
        for call in (engine.run, engine.plan):
            with pytest.raises(ConfigurationError, match="unknown flow 'invoices'"):
                call("invoices")


# -- the KvK flow --------------------------------------------------------------------------------


def test_the_kvk_flow_runs_with_its_own_interval(tmp_path: Path) -> None:
    data = {
        "host": HOST,
        "kvk": {"environment": "test", "workers": 2},
        "intervals": {"kvk": "12h"},
        "connections": {"digitalefactuur": {}},
    }
    config = parse(data, tmp_path)
    assert config.kvk is not None and config.kvk.workers == 2
    assert config.intervals[Flow.KVK] == dt.timedelta(hours=12)
    with SqliteCRM(tmp_path / "crm.sqlite") as crm:
        crm.add(Organisation(name="Test EMZ Dagobert", kvk_number="69599084"))

    with config.open(sandbox=True) as setup:
        assert setup.engine.intervals[Flow.KVK] == dt.timedelta(hours=12)
        assert setup.engine.lease_wait == 0
        report = setup.engine.run("kvk")

    assert report.failed == 0
    assert [row.service for row in report] == ["kvk"]


def test_the_kvk_flow_needs_an_api_key_in_production(tmp_path: Path) -> None:
    table = {"base_url": "http://127.0.0.1:9"}
    data = {"host": HOST, "kvk": {}, "connections": {"digitalefactuur": table}}
    env = {
        "CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID": ACCOUNT,
        "CRMCONNECT_DIGITALEFACTUUR_ACCESS_CODE": CODE,
    }
    with pytest.raises(ConfigurationError, match="kvk: set CRMCONNECT_KVK_API_KEY"):
        parse(data, tmp_path).open(environ=env)


def test_a_disabled_kvk_table_is_no_kvk_flow(tmp_path: Path) -> None:
    data = {"host": HOST, "kvk": {"enabled": False}, "connections": {"digitalefactuur": {}}}
    assert parse(data, tmp_path).kvk is None


def test_a_value_the_client_refuses_names_the_connection(tmp_path: Path) -> None:
    config = df_config(tmp_path, "ftp://example.invalid/api")
    env = {
        "CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID": ACCOUNT,
        "CRMCONNECT_DIGITALEFACTUUR_ACCESS_CODE": CODE,
    }
    with pytest.raises(ConfigurationError) as caught:
        config.open(environ=env)
    message = str(caught.value)
    assert message.startswith("connections.digitalefactuur: base_url")
    assert CODE not in message and caught.value.__context__ is None
