"""The import-template check on real-world messy files, every rule, and its outputs."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from crmconnect import ValidationError
from crmconnect._cli_app import app
from crmconnect.importer import (
    COLUMNS,
    CheckedRow,
    Finding,
    ImportCheck,
    Severity,
    check_file,
    match_headers,
    render_html,
    write_outputs,
    write_template,
)

GOOD = {
    "Relatienummer": "1001",
    "Naam": "Bakkerij Jansen & Zn B.V.",
    "KvK-nummer": "69599084",
    "RSIN/BSN": "004495445",
    "Btw-nummer": "NL004495445B01",
    "Loonheffingennummer": "004495445L01",
    "IBAN": "NL91ABNA0417164300",
    "Aangiftetijdvak btw": "kwartaal",
    "Aangiftetijdvak loonheffingen": "maand",
    "Producten": "Jaarrekening; Aangifte IB",
    "Contactnummer": "C-1",
}


def write(
    path: Path, rows: list[dict[str, str]], *, delimiter: str = ";", encoding: str = "utf-8-sig"
) -> Path:
    headers = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, headers, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def codes(check: ImportCheck, line: int) -> set[tuple[str, str, str]]:
    return {(f.field, f.severity.value, f.code) for f in check.iter_findings() if f.line == line}


def rows_of(check: ImportCheck) -> list[CheckedRow]:
    return list(check.iter_rows())


def findings_of(check: ImportCheck) -> list[Finding]:
    return list(check.iter_findings())


def test_a_complete_row_has_no_findings(tmp_path: Path) -> None:
    check = check_file(write(tmp_path / "ok.csv", [GOOD]))
    assert findings_of(check) == [] and not check.summarise().has_errors
    [row] = rows_of(check)
    assert row.values["vat_number"] == "NL004495445B01" and row.values["vat_period"] == "kwartaal"


def test_bom_semicolons_and_windows_1252(tmp_path: Path) -> None:
    row = {**GOOD, "Naam": "Café Één & Zoon", "Plaats": "Den Haag"}
    for encoding in ("utf-8-sig", "cp1252"):
        path = write(
            tmp_path / f"{encoding}.csv",
            [row],
            encoding=encoding if encoding != "cp1252" else "cp1252",
        )
        if encoding == "cp1252":  # what a Dutch Excel writes: no BOM, Windows-1252
            path.write_bytes(path.read_text(encoding="cp1252").encode("cp1252"))
        [checked] = rows_of(check_file(path))
        assert checked.values["name"] == "Café Één & Zoon" and checked.values["city"] == "Den Haag"


def test_headers_are_matched_loosely_in_both_languages() -> None:
    mapping, persons, ignored = match_headers(
        ["relation number", "NAAM", "kvk nummer", "Rsin / Bsn", "VAT number", "payroll tax number",
         "Bankrekening", "VAT return period", "payroll period", "products", "contact id",
         "Person 2 share", "persoon 1 Naam", "Opmerkingen"]
    )  # fmt: skip
    assert set(mapping) == {
        "relation_number", "name", "kvk_number", "rsin_bsn", "vat_number", "payroll_number",
        "ibans", "vat_period", "payroll_period", "products", "contact_number",
    }  # fmt: skip
    assert persons == {"2:share": "Person 2 share", "1:name": "persoon 1 Naam"}
    assert ignored == ["Opmerkingen"]


def test_excel_mangled_numbers(tmp_path: Path) -> None:
    mangled = {
        **GOOD,
        "KvK-nummer": "9599084",  # leading zero... of 09599084 lost
        "RSIN/BSN": "4495445",  # two zeros lost: too short to restore
        "IBAN": "4.17164E+09",
        "Postcode": "3511aa",
    }
    check = check_file(write(tmp_path / "excel.csv", [mangled]))
    [row] = rows_of(check)
    found = codes(check, 2)
    assert ("kvk_number", "note", "padded") in found and row.values["kvk_number"] == "09599084"
    assert ("rsin_bsn", "error", "invalid") in found
    assert ("ibans", "error", "scientific") in found
    assert row.values["postcode"] == "3511 AA"
    scientific = next(f for f in findings_of(check) if f.code == "scientific")
    assert (
        "scientific notation" in scientific.message_en
        and "wetenschappelijke" in scientific.message_nl
    )


def test_every_identifier_rule(tmp_path: Path) -> None:
    bad = {
        **GOOD,
        "KvK-nummer": "1234567890",
        "RSIN/BSN": "123456789",
        "Btw-nummer": "NL123456789B00",
        "Loonheffingennummer": "004495445X01",
        "IBAN": "NL91ABNA0417164300; NL00ABNA0000000000",
        "Aangiftetijdvak btw": "4 weken",
        "Aangiftetijdvak loonheffingen": "4 weken",
    }
    check = check_file(write(tmp_path / "bad.csv", [bad]))
    errors = {f.field for f in findings_of(check) if f.severity is Severity.ERROR}
    assert errors == {
        "kvk_number",
        "rsin_bsn",
        "vat_number",
        "payroll_number",
        "ibans",
        "vat_period",
    }
    assert not rows_of(check)[0].ok
    period = next(f for f in findings_of(check) if f.field == "vat_period")
    assert (
        "maand" in period.message_nl and "kwartaal" in period.message_en
    )  # btw has no 4-week period


def test_missing_essentials_are_warnings_with_their_consequence(tmp_path: Path) -> None:
    check = check_file(
        write(
            tmp_path / "gaps.csv",
            [{"Naam": "Alleen een naam", "Loonheffingennummer": "004495445L01"}],
        )
    )
    found = {f.field: f for f in findings_of(check) if f.severity is Severity.WARNING}
    assert set(found) == {
        "relation_number",
        "rsin_bsn",
        "vat_number",
        "ibans",
        "vat_period",
        "payroll_period",
        "products",
        "contact_number",
    }
    assert "goedkeuringsproces" in found["rsin_bsn"].consequence_nl
    assert "approval process stops" in found["rsin_bsn"].consequence_en
    assert "iDEAL" in found["ibans"].consequence_en
    assert "pair" in found["relation_number"].consequence_en
    assert "workflows" in found["products"].consequence_en
    assert rows_of(check)[0].ok  # warnings do not keep a row out


def test_a_missing_products_value_is_a_warning(tmp_path: Path) -> None:
    check = check_file(write(tmp_path / "p.csv", [{**GOOD, "Producten": ""}]))
    [finding] = findings_of(check)
    assert (finding.field, finding.severity, finding.code) == (
        "products",
        Severity.WARNING,
        "missing",
    )
    assert "Producten ontbreekt" in finding.message_nl and "services" in finding.consequence_en


def test_the_contact_number_does_not_stand_in_for_the_relation_number(tmp_path: Path) -> None:
    only_contact = {**GOOD, "Relatienummer": ""}
    only_relation = {**GOOD, "Contactnummer": ""}
    copied = {**GOOD, "Relatienummer": "1003", "Contactnummer": "1003"}
    check = check_file(write(tmp_path / "c.csv", [only_contact, only_relation, copied]))
    assert codes(check, 2) == {("relation_number", "warning", "missing")}
    assert codes(check, 3) == {("contact_number", "warning", "missing")}
    assert codes(check, 4) == {("contact_number", "warning", "contact_is_relation")}
    by_line = {f.line: f for f in findings_of(check)}
    assert "contact number does not replace it" in by_line[2].consequence_en
    assert "persons are synchronised" in by_line[3].consequence_en
    assert "contact person, not of the organisation" in by_line[4].message_en


def test_payroll_number_of_another_fiscal_number(tmp_path: Path) -> None:
    other = {**GOOD, "Loonheffingennummer": "823807071L01"}
    check = check_file(write(tmp_path / "lh.csv", [other]))
    assert codes(check, 2) == {("payroll_number", "warning", "payroll_not_rsin")}


def test_duplicates_and_empty_rows_are_reported_not_dropped(tmp_path: Path) -> None:
    rows = [
        GOOD,
        {k: "" for k in GOOD},
        {**GOOD, "Naam": "Dubbel"},
        {**GOOD, "Relatienummer": "1002", "Naam": ""},
    ]
    check = check_file(write(tmp_path / "dup.csv", rows))
    assert [row.line for row in rows_of(check)] == [2, 3, 4, 5]
    assert codes(check, 3) == {("", "note", "empty_row")}
    duplicate = next(f for f in findings_of(check) if f.code == "duplicate")
    assert (duplicate.line, duplicate.severity) == (
        4,
        Severity.ERROR,
    ) and "line 2" in duplicate.message_en
    assert ("name", "error", "no_name") in codes(check, 5)
    outputs = write_outputs(check, tmp_path / "out")
    normalised = list(
        csv.DictReader(
            outputs.normalised.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"
        )
    )
    report = list(
        csv.DictReader(
            outputs.report_csv.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"
        )
    )
    in_normalised = {int(r["Bronregel"]) for r in normalised}
    in_report = {int(r["Regel"]) for r in report}
    assert in_normalised == {2}
    assert in_normalised | in_report == {2, 3, 4, 5}  # every input row is somewhere
    assert next(r for r in report if r["Regel"] == "4")["Originele rij"].startswith(
        "Relatienummer=1001"
    )


def test_ubo_above_25_percent_only(tmp_path: Path) -> None:
    row = {
        **GOOD,
        "Persoon 1 naam": "Jan Jansen", "Persoon 1 aandeel": "50%", "Persoon 1 geboortedatum": "1970-01-01",
        "Persoon 1 nationaliteit": "NL",
        "Persoon 2 naam": "Piet Pietersen", "Persoon 2 aandeel": "25",
        "Persoon 3 naam": "Klaas Klaassen", "Persoon 3 aandeel": "25,01",
    }  # fmt: skip
    check = check_file(write(tmp_path / "ubo.csv", [row]))
    people = {p.name: p for p in rows_of(check)[0].shareholders}
    assert people["Jan Jansen"].is_ubo and not people["Piet Pietersen"].is_ubo
    assert people["Klaas Klaassen"].is_ubo and people["Klaas Klaassen"].share == Decimal("25.01")
    [missing] = [f for f in findings_of(check) if f.code == "ubo_missing_id"]
    assert "Klaas Klaassen" in missing.message_en and "date of birth" in missing.message_en
    assert "Wwft" in missing.consequence_en
    assert [p.name for _line, _name, p in check.summarise().ubos] == [
        "Jan Jansen",
        "Klaas Klaassen",
    ]


def test_short_persons_column_and_shares_over_100(tmp_path: Path) -> None:
    check = check_file(write(tmp_path / "p.csv", [{**GOOD, "Personen": "Jan 60%; Piet (45%)"}]))
    assert [(p.name, p.share) for p in rows_of(check)[0].shareholders] == [
        ("Jan", Decimal(60)),
        ("Piet", Decimal(45)),
    ]
    assert ("persons", "error", "shares_over_100") in codes(check, 2)
    wrong = check_file(
        write(tmp_path / "w.csv", [{**GOOD, "Persoon 1 naam": "Jan", "Persoon 1 aandeel": "veel"}])
    )
    assert ("persons", "error", "share") in codes(wrong, 2)


def test_xlsx_with_numbers_as_excel_stores_them(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Relatienummer", "Naam", "KvK-nummer", "RSIN/BSN", "IBAN"])
    sheet.append([1001, "Bakkerij", 9599084, 4495445.0, "NL91ABNA0417164300"])
    sheet.append([None, None, None, None, None])
    sheet.append([1002, "Groothandel", 69599084, 1.2345678901234e16, None])
    book.save(tmp_path / "clients.xlsx")
    check = check_file(tmp_path / "clients.xlsx")
    assert [row.line for row in rows_of(check)] == [2, 3, 4]
    assert rows_of(check)[0].values["relation_number"] == "1001"
    assert rows_of(check)[0].values["kvk_number"] == "09599084"
    assert ("rsin_bsn", "error", "invalid") in codes(check, 2)  # 4495445: two zeros lost
    assert ("", "note", "empty_row") in codes(check, 3)
    assert ("rsin_bsn", "error", "scientific") in codes(check, 4)


def test_the_template_round_trips_in_both_formats(tmp_path: Path) -> None:
    for name in ("template.csv", "template.xlsx"):
        path = write_template(tmp_path / name)
        check = check_file(path)
        assert set(check.mapping) == {c.key for c in COLUMNS}
        assert len(check.persons_mapping) == 15 and check.ignored == ()
        assert [f.code for f in findings_of(check)] == ["explanation_row"]
    raw = (tmp_path / "template.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b";" in raw.splitlines()[0]


def test_a_file_without_a_name_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="name column"):
        check_file(write(tmp_path / "x.csv", [{"Relatienummer": "1"}]))


def test_html_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    check = check_file(
        write(
            tmp_path / "h.csv", [{**GOOD, "Naam": "<script>alert(1)</script>", "KvK-nummer": "x<y"}]
        )
    )
    page = render_html(check)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http" not in page.split("<style>")[0] and "<link" not in page and "src=" not in page
    assert "Bevindingen" in page and "Findings" in page and "KvK" in page


def test_command_line_validate_exit_codes_and_outputs(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    good = runner.invoke(app, ["validate", str(write(tmp_path / "good.csv", [GOOD]))])
    assert good.exit_code == 0, good.output
    assert "1 taken over, 0 errors" in good.output and (tmp_path / "good.report.html").is_file()
    bad = runner.invoke(
        app, ["validate", str(write(tmp_path / "bad.csv", [{**GOOD, "RSIN/BSN": "123456789"}]))]
    )
    assert bad.exit_code == 1 and "1 errors" in bad.output
    made = runner.invoke(app, ["template", str(tmp_path / "t.xlsx")])
    assert made.exit_code == 0 and (tmp_path / "t.xlsx").is_file()
    missing = runner.invoke(app, ["validate", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "Traceback" not in missing.output


def test_shares_with_decimal_commas_and_out_of_range(tmp_path: Path) -> None:
    check = check_file(write(tmp_path / "c.csv", [{**GOOD, "Personen": "Jan 60,5%; Piet 39,5%"}]))
    assert [(p.name, p.share) for p in rows_of(check)[0].shareholders] == [
        ("Jan", Decimal("60.5")),
        ("Piet", Decimal("39.5")),
    ]
    odd = check_file(
        write(tmp_path / "o.csv", [{**GOOD, "Persoon 1 naam": "Jan", "Persoon 1 aandeel": "120"}])
    )
    assert ("persons", "error", "share") in codes(odd, 2) and rows_of(odd)[0].shareholders[
        0
    ].share is None


def test_the_summary_keeps_the_first_findings_errors_first_and_counts_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crmconnect.importer._check.SHOWN_FINDINGS", 3)
    rows = [
        {**GOOD, "Relatienummer": str(2000 + n), "Producten": "", "RSIN/BSN": bad}
        for n, bad in enumerate(["", "123456789", "", "123456789", "123456789"])
    ]
    check = check_file(write(tmp_path / "many.csv", rows))
    outputs = write_outputs(check, tmp_path / "out")
    summary = outputs.summary
    every = findings_of(check)
    assert summary.rows == 5 and summary.total == len(every) == 10
    assert summary.count(Severity.ERROR) == 3 and summary.count(Severity.WARNING) == 7
    assert summary.taken == 2 and summary.kinds == {"error:invalid": 3, "warning:missing": 7}
    assert [(f.line, f.code) for f in summary.findings] == [
        (3, "invalid"),
        (5, "invalid"),
        (6, "invalid"),
    ]
    page = outputs.report_html.read_text(encoding="utf-8")
    assert "And 7 more findings" in page and page.count("<tr class='error'>") == 3
    report = outputs.report_csv.read_text(encoding="utf-8-sig").splitlines()
    assert len(report) == 1 + 10  # the CSV report has them all


def test_each_distinct_identifier_is_validated_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmconnect import validation

    seen: list[str] = []
    real = validation.iban

    def counting(value: str, *, field: str = "iban") -> str:
        seen.append(value)
        return real(value, field=field)

    monkeypatch.setattr(validation, "iban", counting)
    rows = [{**GOOD, "Relatienummer": str(3000 + n)} for n in range(50)]
    check = check_file(write(tmp_path / "same.csv", rows))
    assert sum(row.ok for row in check.iter_rows()) == 50
    assert seen == ["NL91ABNA0417164300"]


def test_a_kvk_number_gets_one_lost_zero_back_not_more(tmp_path: Path) -> None:
    rows = [
        {**GOOD, "Relatienummer": "1", "KvK-nummer": "9599084"},
        {**GOOD, "Relatienummer": "2", "KvK-nummer": "123"},
    ]
    check = check_file(write(tmp_path / "kvk.csv", rows))
    assert codes(check, 2) == {("kvk_number", "note", "padded")}
    assert codes(check, 3) == {("kvk_number", "error", "invalid")}
    [typo] = [f for f in findings_of(check) if f.line == 3]
    assert "too short to restore" in typo.message_en and "00000123" not in typo.message_en
