"""Hostile CRM and import files: a result or one typed error, never a traceback.

Also: every CSV and XLSX the library writes is safe from formula injection,
and KvK numbers are padded only on request.
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from crmconnect import ValidationError
from crmconnect._cli_app import app
from crmconnect._crmfile import read_organisations, write_rows
from crmconnect._tabular import open_table, safe_cell
from crmconnect.importer import check_file, write_outputs, write_template

runner = CliRunner(env={"COLUMNS": "220"})

HEADER = "Relatienummer;Naam;KvK-nummer;RSIN/BSN;IBAN;Producten;Contactnummer;Plaats\r\n"
ROW = "1001;Bakkerij Jansen;69599084;004495445;NL91ABNA0417164300;Jaarrekening;C-1;Lollum\r\n"


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def rezip(data: bytes, change: Callable[[str, bytes], bytes | None]) -> bytes:
    """The workbook with each part passed through `change` (``None`` drops the part)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = change(info.filename, source.read(info.filename))
            if content is not None:
                target.writestr(info.filename, content)
    return out.getvalue()


GOOD_XLSX = xlsx_bytes(
    [
        ["Relatienummer", "Naam", "KvK-nummer", "IBAN"],
        [1001, "Bakkerij", 69599084, "NL91ABNA0417164300"],
        [1002, "Slagerij", 9599084, "NL91ABNA0417164300"],
    ]
)


def half_sheet(name: str, content: bytes) -> bytes:
    return content[: len(content) // 2] if name.endswith("sheet1.xml") else content


def entity_bomb(name: str, content: bytes) -> bytes:
    if not name.endswith("sharedStrings.xml"):
        return content
    return b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>' + content.split(
        b"?>", 1
    )[1].replace(b"Bakkerij", b"&a;")


HOSTILE: dict[str, bytes] = {
    "cp1252-undefined.csv": (HEADER + "1;Caf\xe9 ").encode("cp1252")
    + b"\x81\x8d\x8f\x90\x9d;69599084\r\n",
    "not-a-workbook.xlsx": HEADER.encode(),
    "broken-xml.xlsx": rezip(GOOD_XLSX, half_sheet),
    "no-sheet.xlsx": rezip(GOOD_XLSX, lambda n, c: None if "worksheets/" in n else c),
    "entity.xlsx": rezip(GOOD_XLSX, entity_bomb),
    "huge-field.csv": (HEADER + "1;" + "x" * 200_000 + ";69599084\r\n").encode(),
    "huge-line.csv": (HEADER + "1;" + "x;" * 700_000 + "\r\n").encode(),
    "newline-in-field.csv": (HEADER + '1;a\rb;69599084\r\n2;"c\rd";69599084\r\n').encode(),
    "nul.csv": (HEADER + "1;a\x00b;69599084\r\n").encode(),
    "unclosed-quote.csv": (HEADER + '1;"Bakkerij;69599084\r\n').encode(),
    "binary.csv": bytes(range(256)) * 8,
    "empty.csv": b"",
    "only-bom.csv": b"\xef\xbb\xbf",
    "markup-header.csv": b"Naam;[/red];[bold]\r\nx;[/];[link=x]\r\n",
}
"""Files each reader must answer with a result or a `ValidationError`."""


def read_everything(path: Path, out: Path) -> None:
    """What the commands do with a file: the import check and the CRM reader."""
    for step in (
        lambda: write_outputs(check_file(path), out),
        lambda: read_organisations(path),
    ):
        try:
            step()
        except ValidationError as error:  # the file named, or the missing name column
            assert error.value == str(path) or error.field == "columns", error
            assert error.__context__ is None and error.__cause__ is None


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_give_a_result_or_a_typed_error(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(HOSTILE[name])
    read_everything(path, tmp_path / "out")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("not-a-workbook.xlsx", "not an XLSX workbook"),
        ("broken-xml.xlsx", "damaged"),
        ("huge-field.csv", "row 2: field larger than field limit"),
        ("huge-line.csv", "row 2: a line is longer than"),
        ("empty.csv", "empty"),
    ],
)
def test_unreadable_files_name_the_file_and_the_reason(
    name: str, reason: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(HOSTILE[name])
    for read in (check_file, read_organisations):
        with pytest.raises(ValidationError) as raised:
            outcome = read(path)
            if not isinstance(outcome, tuple):
                write_outputs(outcome, tmp_path)
        assert raised.value.field == "file" and raised.value.value == str(path)
        assert reason in raised.value.reason
        assert raised.value.__context__ is None and raised.value.__cause__ is None


def test_a_directory_or_a_missing_file_is_a_validation_error(tmp_path: Path) -> None:
    for path, reason in ((tmp_path, "directory"), (tmp_path / "nope.csv", "No such file")):
        for read in (check_file, read_organisations, open_table):
            with pytest.raises(ValidationError, match=reason):
                read(path)


def test_windows_1252_bytes_it_leaves_undefined_are_read(tmp_path: Path) -> None:
    path = tmp_path / "cp.csv"
    path.write_bytes(b"Naam\r\nCaf\xe9 \x80 \x81\x8d\x8f\x90\x9d\r\n")
    [(line, row)] = open_table(path).rows()
    # The C1 controls, as Windows and browsers read them.
    assert (line, row) == (2, {"Naam": "Café € \x81\x8d\x8f\x90\x9d"})


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_excel_unicode_text_is_read_by_its_byte_order_mark(encoding: str, tmp_path: Path) -> None:
    path = tmp_path / "unicode.csv"
    text = "Naam\tPlaats\r\nCafé Zoë\tDen Haag\r\n"
    bom = "\ufeff" if encoding == "utf-16-be" else ""  # the utf-16 codec writes its own
    path.write_bytes((bom + text).encode(encoding))
    [(line, row)] = open_table(path).rows()
    assert (line, row) == (2, {"Naam": "Café Zoë", "Plaats": "Den Haag"})


def test_the_undefined_bytes_are_read_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "cp.csv"
    path.write_bytes(HOSTILE["cp1252-undefined.csv"])
    [row] = check_file(path).iter_rows()
    assert row.raw["Naam"].startswith("Café ")
    _, [crm] = read_organisations(path)
    assert crm.raw["Naam"].startswith("Café ")


def test_trailing_empty_rows_are_dropped_and_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text(HEADER + ROW + ";;;;;;;\r\n" + ROW.replace("1001", "1002") + ";;;\r\n" * 3000)
    assert [line for line, _ in open_table(path).rows()] == [2, 3, 4]


def mutations(seed: int) -> list[tuple[str, bytes]]:
    """Hostile files made from good ones: bytes flipped, cut, spliced; workbook parts mangled."""
    rng = random.Random(seed)
    good_csv = (HEADER + ROW * 5).encode("utf-8-sig")
    specials = [b"\x00", b"\r", b"\n", b'"', b";", b"\x81", b"\xff", b"\xef\xbb\xbf", b"=", b"\t"]
    made: list[tuple[str, bytes]] = []
    for n in range(120):
        data = bytearray(good_csv)
        for _ in range(rng.randint(1, 12)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[at] = rng.randrange(256)
            elif choice < 0.8:
                data[at:at] = rng.choice(specials) * rng.randint(1, 3)
            else:
                del data[at : at + rng.randint(1, 20)]
        made.append((f"m{n}.csv", bytes(data[: rng.randint(0, len(data))])))
    parts = ["sheet1.xml", "sharedStrings.xml", "workbook.xml", "styles.xml", "Content_Types"]
    for n in range(80):
        target = rng.choice(parts)

        def mangle(name: str, content: bytes, target: str = target) -> bytes | None:
            if target not in name:
                return content
            if rng.random() < 0.15:
                return None
            data = bytearray(content)
            for _ in range(rng.randint(1, 6)):
                at = rng.randrange(max(1, len(data)))
                data[at : at + rng.randint(0, 3)] = bytes([rng.randrange(256)])
            return bytes(data)

        made.append((f"m{n}.xlsx", rezip(GOOD_XLSX, mangle)))
    for n in range(20):  # a workbook cut short or flipped as a whole (zip damage)
        data = bytearray(GOOD_XLSX)
        data[rng.randrange(len(data))] ^= 0xFF
        made.append((f"z{n}.xlsx", bytes(data[: rng.randint(len(data) // 2, len(data))])))
    return made


def test_fuzzed_files_give_a_result_or_a_typed_error(tmp_path: Path) -> None:
    for name, data in mutations(seed=9):
        path = tmp_path / name
        path.write_bytes(data)
        read_everything(path, tmp_path / "out")


# --------------------------------------------------------------------------
# The commands


COMMANDS = {
    "validate": (["validate"], []),
    "match": (["kvk", "match"], ["--sandbox"]),
    "updates": (["kvk", "updates"], ["--sandbox"]),
}


def run(command: str, path: Path) -> tuple[int, str]:
    before, after = COMMANDS[command]
    result = runner.invoke(app, [*before, str(path), *after])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.output


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    "name", ["not-a-workbook.xlsx", "broken-xml.xlsx", "huge-field.csv", "huge-line.csv"]
)
def test_commands_give_one_error_line_for_an_unreadable_file(
    command: str, name: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(HOSTILE[name])
    code, output = run(command, path)
    assert code == 1, output
    assert output.strip().startswith("error: file:"), output
    assert len(output.strip().splitlines()) == 1, output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_commands_refuse_a_directory_and_survive_markup(command: str, tmp_path: Path) -> None:
    code, output = run(command, tmp_path)
    assert code == 1 and output.strip().startswith("error: file:") and "directory" in output, output
    markup = tmp_path / "markup-header.csv"
    markup.write_bytes(HOSTILE["markup-header.csv"])
    run(command, markup)
    fuzzed = tmp_path / "cp1252-undefined.csv"
    fuzzed.write_bytes(HOSTILE["cp1252-undefined.csv"])
    run(command, fuzzed)


def test_validate_prints_the_first_findings(tmp_path: Path) -> None:
    lines = [f"{1000 + n};Klant {n};;123456789;;;C{n};\r\n" for n in range(30)]
    path = tmp_path / "many.csv"
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "row" in result.output and "field" in result.output and "message" in result.output
    assert result.output.count("RSIN/BSN is not valid") == 20  # the first 20, errors first
    assert "│ 2   │ rsin_bsn" in result.output and "│ 21  │ rsin_bsn" in result.output
    assert "more findings in the reports" in result.output


def test_validate_says_when_the_outputs_cannot_be_written(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text(HEADER + ROW, encoding="utf-8")
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the output folder should be", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path), "--out", str(blocker)])
    assert result.exit_code == 1 and result.output.strip().startswith("error:"), result.output
    assert str(blocker) in result.output and result.exception is not None
    assert isinstance(result.exception, SystemExit)


def test_template_refuses_another_extension(tmp_path: Path) -> None:
    result = runner.invoke(app, ["template", str(tmp_path / "out.txt")])
    assert result.exit_code == 1 and "error:" in result.output and ".csv or .xlsx" in result.output
    assert not (tmp_path / "out.txt").exists()
    with pytest.raises(ValidationError, match=r"\.csv or \.xlsx"):
        write_template(tmp_path / "template")


# --------------------------------------------------------------------------
# Formula injection


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+1", "'+1+1"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        (" =1+1", "' =1+1"),
        ("\u3000=1+1", "'\u3000=1+1"),
        ("＝1+1", "'＝1+1"),
        ("﹢HYPERLINK(1)", "'﹢HYPERLINK(1)"),
        ("－A1", "'－A1"),
        ("-", "'-"),
        ("-12,50", "-12,50"),
        ("-1.234,56", "-1.234,56"),
        ("+31 20 123 4567", "+31 20 123 4567"),
        ("+31 (0)20-123 4567", "+31 (0)20-123 4567"),
        ("Bakkerij = lekker", "Bakkerij = lekker"),
        ("", ""),
        (None, ""),
        (-5, "-5"),
    ],
)
def test_safe_cell(value: object, written: str) -> None:
    assert safe_cell(value) == written


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def dicts(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(lines(path)))


def formula_like(cell: str) -> bool:
    """A cell a spreadsheet would run: its unprefixed text starts a formula."""
    return safe_cell(cell) != cell


HOSTILE_ROW = {
    "Relatienummer": "=1+1",
    "Naam": "=cmd|' /C calc'!A0",
    "KvK-nummer": "69599084",
    "IBAN": "NL91ABNA0417164300",
    "Producten": " =1+1",
    "Contactnummer": '＝HYPERLINK("http://x")',
    "Plaats": "@SUM(1)",
    "Personen": "+Jan 60%",
}


def test_import_outputs_hold_no_formula(tmp_path: Path) -> None:
    path = tmp_path / "hostile.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(HOSTILE_ROW), delimiter=";")
        writer.writeheader()
        writer.writerow(HOSTILE_ROW)
        writer.writerow({**HOSTILE_ROW, "Relatienummer": "-12", "Plaats": "+31 20"})
        writer.writerow({**HOSTILE_ROW, "Relatienummer": "3", "KvK-nummer": "=2+3"})
    outputs = write_outputs(check_file(path), tmp_path / "out")
    expected = {outputs.normalised: "'=cmd|", outputs.report_csv: "'=2+3"}
    for written, neutralised in expected.items():
        cells = [
            cell
            for row in csv.reader(
                io.StringIO(written.read_text(encoding="utf-8-sig")), delimiter=";"
            )
            for cell in row
        ]
        assert not [cell for cell in cells if formula_like(cell)]
        assert any(cell.startswith(neutralised) for cell in cells), written.name
    normalised = list(
        csv.DictReader(
            io.StringIO(outputs.normalised.read_text(encoding="utf-8-sig")), delimiter=";"
        )
    )
    assert normalised[0]["Producten"] == "'=1+1"  # stripped, then made safe: never a bare =1+1
    assert normalised[0]["Plaats"] == "'@SUM(1)" and normalised[0]["Persoon 1 naam"] == "'+Jan"
    assert normalised[1]["Relatienummer"] == "-12" and normalised[1]["Plaats"] == "+31 20"


def test_the_template_holds_no_formula(tmp_path: Path) -> None:
    book = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx"))
    sheet = book.active
    assert sheet is not None
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_crm_results_hold_no_formula(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    write_rows(target, ["name", "amount"], [{"name": "=1+1", "amount": "-12,50"}])
    [row] = dicts(target)
    assert row == {"name": "'=1+1", "amount": "-12,50"}
    export = tmp_path / "crm.csv"
    export.write_text('naam;plaats\n=HYPERLINK("http://x");@Lollum\n', encoding="utf-8")
    result = runner.invoke(app, ["kvk", "match", str(export), "--sandbox"])
    assert result.exit_code in (0, 5), result.output
    cells = [cell for line in csv.reader(lines(tmp_path / "crm.matches.csv")) for cell in line]
    assert '\'=HYPERLINK("http://x")' in cells and not [c for c in cells if formula_like(c)]


# --------------------------------------------------------------------------
# KvK numbers: padded only on request


def test_a_short_kvk_number_is_invalid_not_removed(tmp_path: Path) -> None:
    export = tmp_path / "crm.csv"
    export.write_text(
        "id,name,kvk_number,city\nA,Typo BV,123,Lollum\nB,Global Conron,90000749,Dordrecht\n",
        encoding="utf-8",
    )
    updates = runner.invoke(app, ["kvk", "updates", str(export), "--sandbox"])
    assert updates.exit_code == 5, updates.output  # a batch with a bad record
    rows = {row["id"]: row for row in dicts(tmp_path / "crm.updates.csv")}
    assert rows["A"]["status"] == "invalid" and rows["A"]["kvk_number"] == "123"
    assert "--pad-kvk" in rows["A"]["notes"] and "00000123" not in rows["A"]["notes"]
    assert rows["B"]["status"] != "invalid"
    assert "1 invalid" in updates.output
    match = runner.invoke(app, ["kvk", "match", str(export), "--sandbox"])
    assert match.exit_code == 5, match.output
    matched = {row["id"]: row for row in dicts(tmp_path / "crm.matches.csv")}
    assert matched["A"]["status"] == "invalid" and "--pad-kvk" in matched["A"]["notes"]
    assert matched["B"]["status"] != "invalid"
    _, [typo, _good] = read_organisations(export)
    assert typo.organisation is None and typo.error and "123" in typo.error


def test_padding_is_an_explicit_option(tmp_path: Path) -> None:
    export = tmp_path / "crm.csv"
    export.write_text("id,name,kvk_number\nA,Dropped Zero BV,9599084\n", encoding="utf-8")
    _, [row] = read_organisations(export, pad_kvk=True)
    assert row.organisation is not None and row.organisation.kvk_number == "09599084"
    result = runner.invoke(app, ["kvk", "updates", str(export), "--sandbox", "--pad-kvk"])
    [written] = dicts(tmp_path / "crm.updates.csv")
    assert written["kvk_number"] == "09599084" and written["status"] != "invalid", result.output
    assert "--pad-kvk" in runner.invoke(app, ["kvk", "updates", "--help"]).output
    assert "--pad-kvk" in runner.invoke(app, ["kvk", "match", "--help"]).output
