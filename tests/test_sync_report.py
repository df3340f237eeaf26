"""SyncReport: rows, counts, merging, and how it shows (one line, rich table, HTML)."""

from __future__ import annotations

import contextlib
import html.parser
import io
import re
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from rich.console import Console

from crmconnect.errors import ConfigurationError, ValidationError
from crmconnect.sync import (
    Action,
    ReportRow,
    Role,
    Side,
    SqliteStateStore,
    SyncReport,
)

DF = "digitalefactuur"
EB = "eboekhouden"


def a_report() -> SyncReport:
    report = SyncReport()
    report.add(
        DF, Role.DEBTOR, "42", "1001", Action.CREATED, fields=["name", "city"], side=Side.REMOTE
    )
    report.add(
        DF, Role.DEBTOR, "43", "1002", Action.UPDATED, "host wins", ["email"], side=Side.REMOTE
    )
    report.add(DF, Role.CREDITOR, "44", "2001", Action.UNCHANGED, side=Side.REMOTE)
    report.add(DF, Role.DEBTOR, "45", "1003", Action.UNCHANGED, side=Side.REMOTE)
    report.add(
        DF, Role.DEBTOR, "46", "1004", Action.CONFLICT, "host wins", ["city"], side=Side.REMOTE
    )
    report.add(
        EB, Role.DEBTOR, "47", "1005", Action.FAILED, "HTTP 503: try again later", side=Side.REMOTE
    )
    report.add(DF, Role.DEBTOR, None, "1006", Action.CREATED, fields=["name"], side=Side.HOST)
    report.add(
        DF, Role.DEBTOR, "48", "1007", Action.UNLINKED, "removed in DigitaleFactuur", side=Side.HOST
    )
    report.add(EB, None, None, "F2026-1", Action.CREATED, side=Side.REMOTE, kind="invoice")
    report.add(
        "kvk", None, "42", "69599084", Action.PENDING, fields=["rsin"], side=Side.HOST, kind="kvk"
    )
    return report


def test_counts_per_action() -> None:
    report = a_report()
    got = (
        report.created,
        report.updated,
        report.pending,
        report.unchanged,
        report.conflicts,
        report.failed,
        report.unlinked,
    )
    assert got == (3, 1, 1, 2, 1, 1, 1)
    assert report.counts == {
        Action.CREATED: 3,
        Action.UPDATED: 1,
        Action.PENDING: 1,
        Action.UNCHANGED: 2,
        Action.CONFLICT: 1,
        Action.FAILED: 1,
        Action.UNLINKED: 1,
    }
    assert len(report) == 10
    assert [row.number for row in report][:2] == ["1001", "1002"]


def test_an_empty_report_counts_zero_everywhere() -> None:
    report = SyncReport()
    assert set(report.counts.values()) == {0}
    assert str(report) == (
        "0 created, 0 updated, 0 pending, 0 unchanged, 0 conflicts, 0 failed, 0 unlinked"
    )
    assert report.failures == []


def test_str_is_one_line_of_counts() -> None:
    text = str(a_report())
    assert text == "3 created, 1 updated, 1 pending, 2 unchanged, 1 conflict, 1 failed, 1 unlinked"
    assert repr(a_report()) == f"<SyncReport 10 rows: {text}>"
    report = a_report()
    report.add(
        DF, Role.DEBTOR, "50", "1010", Action.CONFLICT, "host wins", ["city"], side=Side.REMOTE
    )
    assert "2 conflicts" in str(report)


def test_add_returns_the_row_with_every_attribute() -> None:
    report = SyncReport()
    row = report.add(DF, "creditor", "42", "2001", "updated", "remote wins", ("iban",), side="host")
    assert row == ReportRow(
        DF, Role.CREDITOR, "42", "2001", Action.UPDATED, "remote wins", ["iban"], side=Side.HOST
    )
    assert (row.role, row.action, row.side) == (Role.CREDITOR, Action.UPDATED, Side.HOST)
    assert row.fields == ("iban",)
    assert row.kind == "relation"
    assert report.rows == [row]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"action": "deleted"}, "action"),
        ({"action": None}, "action"),
        ({"side": "both"}, "side"),
        ({"role": "customer"}, "role"),
    ],
)
def test_a_bad_row_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    given: dict[str, Any] = {
        "service": DF,
        "role": Role.DEBTOR,
        "host_id": "42",
        "number": "1001",
        "action": Action.CREATED,
        "side": Side.REMOTE,
    } | changes
    with pytest.raises(ValidationError) as caught:
        ReportRow(**given)
    assert (caught.value.field, caught.value.value) == (field, changes[field])


def test_a_password_in_a_url_of_a_reason_is_masked() -> None:
    reason = "ConnectError: refused (https://user:hunter2@127.0.0.1:9/api); ask a@b.nl"
    row = SyncReport().add(DF, None, None, None, Action.FAILED, reason, side=Side.REMOTE)
    assert row.reason == "ConnectError: refused (https://user:***@127.0.0.1:9/api); ask a@b.nl"
    dsn = ReportRow(EB, None, None, None, Action.FAILED, "postgresql://crm:p@db/crm", side="host")
    assert dsn.reason == "postgresql://crm:***@db/crm"


def test_a_row_needs_its_side() -> None:
    with pytest.raises(TypeError, match="side"):
        ReportRow(DF, Role.DEBTOR, "42", "1001", Action.CREATED)  # type: ignore[call-arg]


def test_a_single_field_name_is_not_split_into_letters() -> None:
    row = ReportRow(DF, Role.DEBTOR, "42", "1001", Action.UPDATED, fields="city", side=Side.REMOTE)
    assert row.fields == ("city",)


def test_failures_name_the_record_for_the_run_history(tmp_path: Any) -> None:
    report = a_report()
    report.add(
        EB,
        None,
        None,
        "F2026-9",
        Action.FAILED,
        "ledger 8000 unknown",
        side=Side.REMOTE,
        kind="invoice",
    )
    report.add(DF, Role.DEBTOR, "49", None, Action.FAILED, "no debtor number", side=Side.REMOTE)
    assert report.failures == [
        ("eboekhouden/debtor/1005", "HTTP 503: try again later"),
        ("eboekhouden/F2026-9", "ledger 8000 unknown"),
        ("digitalefactuur/debtor/host:49", "no debtor number"),
    ]
    # What end_run is given comes back from the run history as it went in.
    with SqliteStateStore(tmp_path / "state.db") as store:
        run = store.start_run("all")
        store.end_run(run.run_id, "failed", report.counts, report.failures)
        (recorded,) = store.runs()
    assert recorded.counts == {str(action): count for action, count in report.counts.items()}
    assert list(recorded.failures) == report.failures


def test_merge_keeps_every_row_in_order_and_changes_no_report() -> None:
    relations = a_report()
    bookings = SyncReport()
    bookings.add(EB, None, None, "F2026-2", Action.CREATED, side=Side.REMOTE, kind="invoice")
    payments = SyncReport()
    payments.add(
        EB,
        None,
        "F2026-1",
        "F2026-1",
        Action.UPDATED,
        "paid",
        ["state"],
        side=Side.HOST,
        kind="payment",
    )
    merged = relations.merge(bookings, payments)
    assert merged.rows == [*relations.rows, *bookings.rows, *payments.rows]
    assert (merged.created, merged.updated) == (4, 2)
    assert (len(relations), len(bookings), len(payments)) == (10, 1, 1)
    assert relations.merge().rows == relations.rows
    assert relations.merge().rows is not relations.rows


# -- the rich table ----------------------------------------------------------------------------


def rendered(renderable: Any, width: int = 160) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_rich_table_shows_each_row_but_the_unchanged_ones() -> None:
    text = rendered(a_report())
    assert "3 created, 1 updated, 1 pending, 2 unchanged" in text
    for number in ("1001", "1002", "1004", "1005", "1006", "1007", "F2026-1", "69599084"):
        assert number in text
    assert "2001" not in text and "1003" not in text
    assert "2 unchanged rows not shown" in text
    assert "HTTP 503: try again later" in text
    assert "name, city" in text


def test_the_rich_table_can_show_everything_or_fewer_rows() -> None:
    report = a_report()
    everything = rendered(report.to_table(unchanged=True))
    assert "2001" in everything and "1003" in everything
    assert "not shown" not in everything
    few = rendered(report.to_table(max_rows=2))
    assert "1001" in few and "1002" in few and "1004" not in few
    assert "6 more rows not shown" in few


def test_rich_markup_in_a_reason_is_shown_as_text() -> None:
    report = SyncReport()
    report.add(
        DF,
        Role.DEBTOR,
        "[bold]42",
        "1001",
        Action.FAILED,
        "name [/red] refused [link=x]",
        side=Side.REMOTE,
    )
    text = rendered(report)
    assert "name [/red] refused [link=x]" in text
    assert "[bold]42" in text


def test_the_actions_are_coloured_in_a_terminal() -> None:
    console = Console(width=160, force_terminal=True, color_system="standard", file=io.StringIO())
    console.print(a_report())
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b[1;31mfailed" in out  # bold red
    assert "\x1b[32mcreated" in out  # green
    assert "\x1b[34mpending" in out  # blue


def test_without_rich_the_table_fails_politely(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in sys.modules if name == "rich" or name.startswith("rich.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "rich", None)
    report = a_report()
    with pytest.raises(ConfigurationError, match=re.escape("pip install 'crmconnect[cli]'")):
        report.to_table()
    assert str(report).startswith("3 created")  # the rest works without rich
    assert "<table" in report._repr_html_()


def test_importing_the_sync_package_does_not_import_rich() -> None:
    code = textwrap.dedent(
        """
        import sys
        import crmconnect.sync
        report = crmconnect.sync.SyncReport()
        print(report, report._repr_html_()[:4])
        print(sorted(name for name in sys.modules if name.split(".")[0] == "rich"))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == [
        "0 created, 0 updated, 0 pending, 0 unchanged, 0 conflicts, 0 failed, 0 unlinked <div",
        "[]",
    ]


# -- HTML (Jupyter) ----------------------------------------------------------------------------


class Cells(html.parser.HTMLParser):
    """The text of each table row, as a browser would show it."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self.rows[-1].append("")

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.tags and self.tags[-1] in ("td", "th"):
            self.rows[-1][-1] += data


def parsed(markup: str) -> Cells:
    parser = Cells()
    parser.feed(markup)
    parser.close()
    return parser


def test_html_shows_a_header_and_a_row_per_shown_record() -> None:
    cells = parsed(a_report()._repr_html_())
    header, *rows = cells.rows
    assert header == [
        "Service",
        "Record",
        "Number",
        "Host ID",
        "Side",
        "Action",
        "Fields",
        "Reason",
    ]
    assert [row[2] for row in rows] == [
        "1001",
        "1002",
        "1004",
        "1005",
        "1006",
        "1007",
        "F2026-1",
        "69599084",
    ]
    assert rows[0] == [DF, "debtor", "1001", "42", "remote", "created", "name, city", ""]
    assert rows[3][5:] == ["failed", "", "HTTP 503: try again later"]
    text = "".join(cells.text)
    assert rows[-2][:3] == [EB, "invoice", "F2026-1"]  # not a relation: its kind, not a role
    assert rows[-1][5:] == ["pending", "rsin", ""]
    assert "3 created" in text and "1 conflict" in text and "1 pending" in text
    assert "2 unchanged rows not shown" in text


def test_html_escapes_every_text() -> None:
    hostile = '<script>alert("x")</script> & <b onmouseover="steal()">'
    report = SyncReport()
    report.add(
        DF, Role.DEBTOR, hostile, "<1001>", Action.FAILED, hostile, [hostile], side=Side.REMOTE
    )
    markup = report._repr_html_()
    assert "<script" not in markup and "<b " not in markup
    cells = parsed(markup)
    assert cells.rows[1] == [DF, "debtor", "<1001>", hostile, "remote", "failed", hostile, hostile]
    assert {tag for tag in cells.tags} <= {
        "div",
        "p",
        "b",
        "span",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }


def test_html_of_an_empty_report_says_so() -> None:
    cells = parsed(SyncReport().to_html())
    assert cells.rows[1] == ["nothing to show"]


def test_html_leaves_rows_out_beyond_max_rows() -> None:
    report = SyncReport()
    for n in range(1200):
        report.add(DF, Role.DEBTOR, str(n), str(1000 + n), Action.CREATED, side=Side.REMOTE)
    cells = parsed(report.to_html())
    assert len(cells.rows) == 1 + 500
    assert "700 more rows not shown" in "".join(cells.text)
    assert len(parsed(report.to_html(max_rows=None)).rows) == 1 + 1200


def test_the_docstring_example_holds() -> None:
    code, expected = docstring_example(SyncReport.__doc__ or "")
    assert run(code) == expected


def docstring_example(doc: str) -> tuple[str, list[str]]:
    """The code of a docstring's python block, and the output its trailing comments promise."""
    block = textwrap.dedent(re.search(r"```python\n(.*?)\n\s*```", doc, re.S)[1])  # type: ignore[index]
    lines = block.splitlines()
    expected = [line.removeprefix("# ") for line in lines if line.startswith("# ")]
    return block, expected


def run(code: str) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {})
    return out.getvalue().splitlines()


def test_html_tints_the_rows_a_person_should_look_at() -> None:
    markup = a_report().to_html()
    tinted = re.findall(r'<tr style="background:[^"]*">(.*?)</tr>', markup)
    actions = [a for row in tinted for a in ("conflict", "failed", "pending") if f">{a}<" in row]
    assert actions == ["conflict", "failed", "pending"]
