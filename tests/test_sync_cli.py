"""``crmconnect sync``: runs from a config file, dry runs, one flow, and exit codes.

The real runs go over loopback to served sandboxes, with the secrets in the
environment, as a scheduler would start the command; what is checked is what
the sandboxes and the CRM hold afterwards and what the exit code says.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmconnect._cli_app import app
from crmconnect.contrib.sqlite_crm import SqliteCRM
from crmconnect.models import Invoice, InvoiceKind, InvoiceLine, Organisation
from crmconnect.sandbox import (
    DEMO_ACCESS_TOKEN,
    DEMO_VAT_TABLE_TOML,
    DigitaleFactuurSandbox,
    EBoekhoudenSandbox,
)
from crmconnect.sync import SqliteStateStore

runner = CliRunner(env={"COLUMNS": "220"})
ACCOUNT, CODE = "13579", "cli-access-code-never-shown"
DF_WRITES = ("klant_aanmaken", "klant_updaten", "klant_verwijderen")
EB_WRITES = ("POST /v1/relation", "PATCH /v1/relation/{id}", "POST /v1/mutation")


def df_writes(sandbox: DigitaleFactuurSandbox) -> int:
    return sum(sandbox.stats.requests[name] for name in DF_WRITES)


def eb_writes(sandbox: EBoekhoudenSandbox) -> int:
    return sum(sandbox.stats.requests[name] for name in EB_WRITES)


@pytest.fixture
def df_sandbox() -> DigitaleFactuurSandbox:
    return DigitaleFactuurSandbox(ACCOUNT, CODE)


@pytest.fixture
def eb_sandbox() -> EBoekhoudenSandbox:
    return EBoekhoudenSandbox()


@pytest.fixture
def served(
    df_sandbox: DigitaleFactuurSandbox,
    eb_sandbox: EBoekhoudenSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[str, str]]:
    """Both sandboxes on loopback, and their secrets in the environment."""
    monkeypatch.setenv("CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("CRMCONNECT_DIGITALEFACTUUR_ACCESS_CODE", CODE)
    monkeypatch.setenv("CRMCONNECT_EBOEKHOUDEN_ACCESS_TOKEN", DEMO_ACCESS_TOKEN)
    with df_sandbox.serve() as df_url, eb_sandbox.serve() as eb_url:
        yield df_url, eb_url


@pytest.fixture
def config(tmp_path: Path, served: tuple[str, str]) -> Path:
    df_url, eb_url = served
    (tmp_path / "vat.toml").write_text(DEMO_VAT_TABLE_TOML, encoding="utf-8")
    path = tmp_path / "crmconnect.toml"
    path.write_text(
        f"""
[host]
sqlite = "crm.sqlite"

[intervals]
relations = "1h"
bookings = "1h"
payments = "1h"

[connections.digitalefactuur]
base_url = "{df_url}"
rate_limit = 0
max_retries = 0

[connections.eboekhouden]
base_url = "{eb_url}"
vat_table = "vat.toml"
max_retries = 0
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[SqliteCRM]:
    with SqliteCRM(tmp_path / "crm.sqlite") as crm:
        crm.add(Organisation(name="Bakkerij Jansen", debtor_number="1001"))
        crm.add(Organisation(name="Garage De Vries", debtor_number="1002"))
        crm.add_invoice(
            Invoice(
                number="F2026-001",
                relation_code="1001",
                date=dt.date(2026, 3, 1),
                kind=InvoiceKind.SALES,
                lines=[
                    InvoiceLine(description="Brood", unit_price="100.00", vat_category="nl_high")
                ],
            )
        )
        yield crm


def sync(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["sync", "--config", str(config), *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_a_run_syncs_everything_and_exits_0_and_a_rerun_writes_nothing(
    config: Path,
    crm: SqliteCRM,
    df_sandbox: DigitaleFactuurSandbox,
    eb_sandbox: EBoekhoudenSandbox,
) -> None:
    code, output = sync(config)

    assert code == 0, output
    assert sorted(r["relatienummer"] for r in df_sandbox.relations) == ["1001", "1002"]
    assert sorted(r.code for r in eb_sandbox.relations) == ["1001", "1002"]
    assert crm.booking_reference("eboekhouden", "F2026-001") is not None
    assert "0 failed" in output and "1001/F2026-001" in output  # the booking's row
    assert CODE not in output

    writes = df_writes(df_sandbox), eb_writes(eb_sandbox)
    again, output = sync(config)
    assert again == 0, output
    assert (df_writes(df_sandbox), eb_writes(eb_sandbox)) == writes
    assert "0 created, 0 updated" in output


def test_a_dry_run_shows_the_plan_and_writes_nothing(
    config: Path,
    crm: SqliteCRM,
    df_sandbox: DigitaleFactuurSandbox,
    eb_sandbox: EBoekhoudenSandbox,
) -> None:
    df_sandbox.add_relation(relatienummer="1003", naam="Drukkerij Smit")

    code, output = sync(config, "--dry-run")

    assert code == 0, output
    assert "Dry run, nothing written" in output
    assert "1003" in output and "1002" in output
    assert (df_writes(df_sandbox), eb_writes(eb_sandbox)) == (0, 0)
    assert [r["relatienummer"] for r in df_sandbox.relations] == ["1003"]
    assert len(crm.parties()) == 2  # the DF relation did not arrive
    assert crm.booking_reference("eboekhouden", "F2026-001") is None
    with SqliteStateStore(config.parent / "crmconnect-state.sqlite") as state:
        assert state.links("digitalefactuur") == [] and state.runs() == []


def test_a_failing_record_exits_5_and_is_done_by_the_next_run(
    config: Path, crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox
) -> None:
    df_sandbox.fail_next(1, "500", "klant_aanmaken")  # one create refused; writes are not retried

    code, output = sync(config, "--flow", "relations")

    assert code == 5, output
    assert "failed" in output and "1 failed" in output
    assert len(df_sandbox.relations) == 1
    assert CODE not in output and ACCOUNT not in output

    code, output = sync(config, "--flow", "relations")
    assert code == 0, output
    assert sorted(r["relatienummer"] for r in df_sandbox.relations) == ["1001", "1002"]


def test_flow_runs_that_flow_only(
    config: Path,
    crm: SqliteCRM,
    df_sandbox: DigitaleFactuurSandbox,
    eb_sandbox: EBoekhoudenSandbox,
) -> None:
    code, output = sync(config, "--flow", "relations")

    assert code == 0, output
    assert len(df_sandbox.relations) == 2 and len(eb_sandbox.relations) == 2
    assert eb_sandbox.mutations == []  # no booking
    assert crm.booking_reference("eboekhouden", "F2026-001") is None

    code, output = sync(config, "--flow", "bookings")
    assert code == 0, output
    assert crm.booking_reference("eboekhouden", "F2026-001") is not None
    with SqliteStateStore(config.parent / "crmconnect-state.sqlite") as state:
        assert [run.flow for run in state.runs()] == ["relations", "bookings"]


def test_due_runs_only_the_flows_whose_interval_passed(
    config: Path, crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox
) -> None:
    assert sync(config, "--flow", "relations")[0] == 0
    listings = df_sandbox.stats.requests["klanten"]

    code, output = sync(config, "--due")

    assert code == 0, output
    assert df_sandbox.stats.requests["klanten"] == listings  # relations ran within the hour
    assert crm.booking_reference("eboekhouden", "F2026-001") is not None  # bookings were due
    with SqliteStateStore(config.parent / "crmconnect-state.sqlite") as state:
        assert [run.flow for run in state.runs()] == ["relations", "bookings", "payments"]


def test_sandbox_runs_without_secrets_or_network(tmp_path: Path, crm: SqliteCRM) -> None:
    path = tmp_path / "crmconnect.toml"
    path.write_text(
        '[host]\nsqlite = "crm.sqlite"\n[connections.digitalefactuur]\n[connections.eboekhouden]\n',
        encoding="utf-8",
    )
    changes = crm.changed_parties(None)[1]
    code, output = sync(path, "--sandbox")
    assert code == 0, output
    assert "in-process sandboxes" in output and "0 failed" in output
    assert "1002" in output and "1001/F2026-001" in output
    assert not (tmp_path / "crmconnect-state.sqlite").exists()
    # A trial only reads the host: the real run later still books the invoice.
    assert "the host is only read" in output
    assert "Would have been written into the host" in output and "1 booking" in output
    assert [i.number for i in crm.invoices_to_book("eboekhouden")] == ["F2026-001"]
    assert crm.booking_reference("eboekhouden", "F2026-001") is None
    assert crm.payment_state("F2026-001") == "open" and crm.review_flags() == []
    assert crm.changed_parties(None)[1] == changes  # not a party written


def test_a_run_while_another_holds_the_state_exits_6_and_writes_nothing(
    config: Path, crm: SqliteCRM, df_sandbox: DigitaleFactuurSandbox
) -> None:
    with SqliteStateStore(config.parent / "crmconnect-state.sqlite") as state:
        assert state.acquire_lease("a run in another process", dt.timedelta(minutes=10))

        code, output = sync(config)

        assert code == 6, output
        assert "another sync run holds the state store" in output
        assert df_writes(df_sandbox) == 0
        state.release_lease("a run in another process")

    assert sync(config)[0] == 0


# -- refusals ------------------------------------------------------------------------------------


def test_a_secret_in_the_file_exits_1_naming_the_key_and_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "crmconnect.toml"
    path.write_text(
        f'[host]\nsqlite = "crm.sqlite"\n[connections.eboekhouden]\naccess_token = "{CODE}"\n',
        encoding="utf-8",
    )
    code, output = sync(path)
    assert code == 1
    assert "connections.eboekhouden.access_token" in output
    assert "CRMCONNECT_EBOEKHOUDEN_ACCESS_TOKEN" in output
    assert CODE not in output


@pytest.mark.parametrize(
    ("table", "key", "instead"),
    [
        (
            '[connections.digitalefactuur]\nbase_url = "https://user:hunter2@df.example/api"\n',
            "connections.digitalefactuur.base_url",
            "CRMCONNECT_DIGITALEFACTUUR_ACCESS_CODE",
        ),
        (
            '[connections.digitalefactuur]\n[kvk]\nbase_url = "https://k:hunter2@kvk.example"\n',
            "kvk.base_url",
            "CRMCONNECT_KVK_API_KEY",
        ),
    ],
)
def test_a_password_in_a_url_exits_1_naming_the_key_and_the_variable(
    tmp_path: Path, table: str, key: str, instead: str
) -> None:
    path = tmp_path / "crmconnect.toml"
    path.write_text(f'[host]\nsqlite = "crm.sqlite"\n{table}', encoding="utf-8")
    code, output = sync(path, "--sandbox")
    assert code == 1
    assert key in output and "a password in a URL" in output and instead in output
    assert "hunter2" not in output


def test_a_missing_secret_exits_1_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID", raising=False)
    path = tmp_path / "crmconnect.toml"
    path.write_text('[host]\nsqlite = "crm.sqlite"\n[connections.digitalefactuur]\n')
    code, output = sync(path)
    assert code == 1 and "CRMCONNECT_DIGITALEFACTUUR_ACCOUNT_ID" in output


def test_a_missing_config_file_exits_1(tmp_path: Path) -> None:
    code, output = sync(tmp_path / "nowhere.toml")
    assert code == 1 and "nowhere.toml" in output


@pytest.mark.parametrize(
    "args", [["--flow", "invoices"], ["--due", "--flow", "relations"], ["--due", "--dry-run"]]
)
def test_wrong_usage_exits_2(tmp_path: Path, args: list[str]) -> None:
    code, _ = sync(tmp_path / "crmconnect.toml", *args)
    assert code == 2
