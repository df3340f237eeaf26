"""The crmconnect command: results, exit codes, and no tracebacks for user mistakes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crmconnect._cli_app import app

runner = CliRunner(env={"COLUMNS": "220"})


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_search_in_the_sandbox() -> None:
    result = runner.invoke(app, ["kvk", "search", "--kvk-number", "69599084", "--sandbox"])
    assert result.exit_code == 0, result.output
    assert "Test EMZ Dagobert" in result.output and "000038509504" in result.output


def test_profile_in_the_sandbox() -> None:
    result = runner.invoke(app, ["kvk", "profile", "90000749", "--sandbox"])
    assert result.exit_code == 0, result.output
    assert "Vereniging van Eigenaars" in result.output and "Blaauwweg 163" in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["kvk", "profile", "1234", "--sandbox"], 1, "kvk_number"),
        (["kvk", "profile", "12345678", "--sandbox"], 3, "IPD0005"),
        (["kvk", "search", "--postcode", "1034WL", "--sandbox"], 1, "postcode"),
    ],
)
def test_user_mistakes_give_one_line_and_an_exit_code(
    args: list[str], code: int, message: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_api_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRMCONNECT_KVK_API_KEY", raising=False)
    result = runner.invoke(app, ["kvk", "search", "--name", "x"])
    assert result.exit_code == 1 and "CRMCONNECT_KVK_API_KEY" in result.output


def test_match_writes_matches_and_candidates_and_keeps_bad_rows(tmp_path: Path) -> None:
    export = write_csv(
        tmp_path / "crm.csv",
        "Relatienummer;Naam;KvK-nummer;Plaats;Postcode;Huisnummer\n"
        "1;Test BV Donald;;Lollum;;\n"
        "2;Test EMZ Dagobert;69599084;Amsterdam;1034 WL;17 M\n"
        "3;;;Utrecht;;\n"
        "4;Slagerij De Dam;;Amsterdam;1034WL;17\n"
        ";;;;;\n",
        encoding="cp1252",
    )
    result = runner.invoke(app, ["kvk", "match", str(export), "--sandbox"])
    assert result.exit_code == 5, result.output  # row 3 has no name: reported, not dropped
    assert "name ← 'Naam'" in result.output
    rows = {row["id"] or row["line"]: row for row in read_csv(tmp_path / "crm.matches.csv")}
    assert rows["1"]["status"] == "matched" and rows["1"]["kvk_number"] == "68750110"
    assert rows["2"]["kvk_number"] == "69599084" and rows["2"]["strategy"] == "kvk_number"
    assert rows["3"]["status"] == "invalid" and "name" in rows["3"]["notes"]
    assert rows["4"]["status"] in {"ambiguous", "matched"}
    assert len(rows) == 4, "every non-empty input row is in the output"
    candidates = read_csv(tmp_path / "crm.matches.candidates.csv")
    assert {c["kvk_number"] for c in candidates} >= {"68750110", "69599084"}


def test_updates_lists_changes_and_removals(tmp_path: Path) -> None:
    export = write_csv(
        tmp_path / "linked.csv",
        "id,name,kvk_number,street,house_number,postcode,city,employees\n"
        "A,Global Conron,90000749,Kerkstraat,1,3311AA,Dordrecht,40\n"
        "B,Onbekend,12345678,,,,,\n",
    )
    result = runner.invoke(app, ["kvk", "updates", str(export), "--sandbox"])
    assert result.exit_code == 0, result.output
    rows = read_csv(tmp_path / "linked.updates.csv")
    fields = {row["field"] for row in rows if row["id"] == "A"}
    assert {"visiting_address", "legal_form"} <= fields
    assert "employees_total" not in fields, (
        "the register gives no count for this VvE: nothing erased"
    )
    assert [row["status"] for row in rows if row["id"] == "B"] == ["removed"]
    assert "1 ended or removed" in result.output


def test_demo_command() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "Spuiboulevard" in result.output


def test_sandbox_module_help() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "crmconnect.sandbox", "kvk", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "--latency" in done.stdout


def test_single_column_export_and_missing_name_column(tmp_path: Path) -> None:
    single = write_csv(tmp_path / "names.csv", "naam\nTest BV Donald\n")
    result = runner.invoke(app, ["kvk", "match", str(single), "--sandbox"])
    assert result.exit_code == 0, result.output
    assert read_csv(tmp_path / "names.matches.csv")[0]["kvk_number"] == "68750110"
    nameless = write_csv(tmp_path / "bad.csv", "foo;bar\n1;2\n")
    result = runner.invoke(app, ["kvk", "match", str(nameless), "--sandbox"])
    assert result.exit_code == 1 and "name column is required" in result.output


def test_register_text_that_looks_like_markup_is_shown_as_text() -> None:
    from crmconnect import Address, Organisation
    from crmconnect._cli_app import _print_organisation, console

    org = Organisation(
        name="Bakkerij [/red] [bold]B.V.",
        addresses=[Address(street="[/]straat", house_number=1, city="Utrecht")],
    )
    with console.capture() as captured:
        _print_organisation(org)
    assert "Bakkerij [/red] [bold]B.V." in captured.get()
    assert "[/]straat 1" in captured.get()
