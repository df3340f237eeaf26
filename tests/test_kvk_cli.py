"""The ``crmconnect kvk`` commands: environments checked, and the candidates a person chooses from."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmconnect._cli_app import app

runner = CliRunner(env={"COLUMNS": "220"})


def export(tmp_path: Path) -> Path:
    path = tmp_path / "crm.csv"
    path.write_text(
        "Relatienummer;Naam;KvK-nummer;Plaats\n1;Test BV;;Amsterdam\n2;Test NV Katrien;;\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["search", "--name", "Test"],
        ["profile", "69599084"],
        ["match", "{file}"],
        ["updates", "{file}"],
    ],
    ids=["search", "profile", "match", "updates"],
)
@pytest.mark.parametrize("sandbox", [True, False], ids=["sandbox", "live"])
def test_an_unknown_environment_is_a_usage_error(
    tmp_path: Path, command: list[str], sandbox: bool
) -> None:
    file = str(export(tmp_path))
    args = ["kvk", *(part.format(file=file) for part in command), "--environment", "tset"]
    result = runner.invoke(app, args + (["--sandbox"] if sandbox else []))
    assert result.exit_code == 2, result.output
    assert "tset" in result.output and "production" in result.output and "test" in result.output
    assert not list(tmp_path.glob("*.matches.csv")), "nothing ran"


def test_an_unknown_environment_in_the_environment_variable_is_a_usage_error() -> None:
    result = runner.invoke(
        app,
        ["kvk", "search", "--name", "Test", "--sandbox"],
        env={"CRMCONNECT_KVK_ENVIRONMENT": "prod"},
    )
    assert result.exit_code == 2, result.output
    assert "prod" in result.output


def test_a_known_environment_is_accepted() -> None:
    result = runner.invoke(
        app, ["kvk", "search", "--kvk-number", "69599084", "--environment", "test", "--sandbox"]
    )
    assert result.exit_code == 0, result.output


def test_match_lists_the_candidates_of_every_step_with_the_step_that_found_each(
    tmp_path: Path,
) -> None:
    file = export(tmp_path)
    result = runner.invoke(app, ["kvk", "match", str(file), "--sandbox"])
    assert result.exit_code == 0, result.output
    assert "choose for: Test BV" in result.output, "the ambiguous record's candidates are shown"
    assert "name_city + name" in result.output
    assert "choose for: Test NV Katrien" not in result.output, "a clear match needs no choice"
    with (tmp_path / "crm.matches.candidates.csv").open(encoding="utf-8") as handle:
        candidates = [row for row in csv.DictReader(handle) if row["id"] == "1"]
    steps = {(row["kvk_number"], row["branch_number"]): row["strategies"] for row in candidates}
    assert steps[("69599084", "000038509504")] == "name_city + name", "Amsterdam: both steps"
    assert steps[("69599084", "000038509520")] == "name", "Maastricht: the name step alone"
    assert all(row["strategy"] == row["strategies"].split(" + ")[0] for row in candidates)
