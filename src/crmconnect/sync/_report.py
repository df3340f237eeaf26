"""`SyncReport`: what a sync run did, one row per record, service and side.

A report prints as a one-line summary (``str``), as a rich table in a
terminal (`SyncReport.to_table`, needs ``pip install 'crmconnect[cli]'``) and
as an HTML table in Jupyter; unchanged rows are left out of both tables by
default, so the few rows that matter are not lost among thousands.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import TYPE_CHECKING, Final, TypeVar

import attrs

from ..errors import ConfigurationError, ValidationError
from ._protocols import Role

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["Action", "ReportRow", "Side", "SyncReport"]


class Action(StrEnum):
    """What happened to one record on one side."""

    CREATED = "created"
    UPDATED = "updated"
    PENDING = "pending"
    """Stored in the host for a person to review (e.g. a KvK update); nothing changed yet."""
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    """Changed on both sides in the same field; settled by the policy or left for review."""
    FAILED = "failed"
    """Not done; ``reason`` says why. Tried again next run."""
    UNLINKED = "unlinked"
    """Removed on the remote side: the link is dropped and the host record flagged."""


class Side(StrEnum):
    """Where a row's write happened (or would have)."""

    HOST = "host"
    REMOTE = "remote"


_Member = TypeVar("_Member", bound=StrEnum)


def _member(kind: type[_Member], field: str, value: object) -> _Member:
    if isinstance(value, str) and value in kind._value2member_map_:
        return kind(value)
    raise ValidationError(field, value, f"one of {[m.value for m in kind]}")


def _role(value: object) -> Role | None:
    return None if value is None else _member(Role, "role", value)


def _texts(values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        return (values,)
    return tuple(values)


def _rows(rows: Iterable[ReportRow]) -> list[ReportRow]:
    return list(rows)


_URL_PASSWORD: Final = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/@:]*):[^\s/@]*@")
"""The user and password of a URL (``https://user:secret@host``): the password is masked."""


def _reason(value: object) -> str:
    """The reason as text, a password in a URL masked (an error may quote the URL it used)."""
    text = str(value)
    return _URL_PASSWORD.sub(r"\1:***@", text) if "@" in text else text


def _action(value: object) -> Action:
    return _member(Action, "action", value)


def _side(value: object) -> Side:
    return _member(Side, "side", value)


@attrs.frozen
class ReportRow:
    """One record in one service, on one side.

    Attributes:
        service: The connector's ``service`` name.
        role: Debtor or creditor (``None`` for rows that are not relations).
        host_id: The host's ID of the record, when there is one.
        number: The relation code (or invoice number), when there is one.
        action: What happened (`Action`).
        reason: Why: the error of a failed row, how a conflict was settled, ...
            (a password in a URL it quotes is shown as ``***``)
        fields: The fields written (or in conflict), by their remote names.
        side: Where it happened: the host or the remote service (`Side`).
        kind: The kind of record: ``"relation"``, ``"invoice"``, ``"payment"``.
    """

    service: str
    role: Role | None = attrs.field(converter=_role)
    host_id: str | None
    number: str | None
    action: Action = attrs.field(converter=_action)
    reason: str = attrs.field(default="", converter=_reason)
    fields: tuple[str, ...] = attrs.field(default=(), converter=_texts)
    side: Side = attrs.field(kw_only=True, converter=_side)
    kind: str = attrs.field(default="relation", kw_only=True)

    @property
    def key(self) -> str:
        """The record's name in logs and run history: ``service/role/number``."""
        parts = [self.service, self.role, self.number or f"host:{self.host_id}"]
        return "/".join(part for part in parts if part)


_STYLES: Final = {
    Action.CREATED: ("green", "#e6f4ea", "#137333"),
    Action.UPDATED: ("cyan", "#e8f0fe", "#1a57b0"),
    Action.PENDING: ("blue", "#eef0fb", "#3949ab"),
    Action.UNCHANGED: ("dim", "#ffffff", "#5f6368"),
    Action.CONFLICT: ("yellow", "#fef7e0", "#8a5a00"),
    Action.FAILED: ("bold red", "#fce8e6", "#b3261e"),
    Action.UNLINKED: ("magenta", "#f3e8fd", "#7627bb"),
}
"""Per action: the rich style, and the HTML background and text colours."""

_TINTED: Final = frozenset({Action.PENDING, Action.CONFLICT, Action.FAILED})
"""Rows a person should look at: their whole row is tinted in HTML."""

_HEADERS: Final = ("Service", "Record", "Number", "Host ID", "Side", "Action", "Fields", "Reason")
_WRAPPED: Final = frozenset({"Fields", "Reason"})
"""The HTML columns whose text may wrap (codes and names of the others stay on one line)."""


@attrs.define(repr=False)
class SyncReport:
    """What a run did: a row per record, service and side, and counts per action.

    Example:
        ```python
        from crmconnect.sync import Action, Role, Side, SyncReport

        report = SyncReport()
        report.add("digitalefactuur", Role.DEBTOR, "42", "1001", Action.CREATED,
                   fields=["name", "city"], side=Side.REMOTE)
        report.add("digitalefactuur", Role.DEBTOR, "43", "1002", Action.FAILED,
                   "HTTP 503", side=Side.REMOTE)
        print(report)
        # 1 created, 0 updated, 0 pending, 0 unchanged, 0 conflicts, 1 failed, 0 unlinked
        ```

    Attributes:
        rows: Every row, in the order added.
        deferred: ``True`` when `SyncEngine.push_relation` found another run
            holding the state: the party is left to the next run (marked for
            a retry), and a caller may try again sooner.
    """

    rows: list[ReportRow] = attrs.field(factory=list, converter=_rows)
    deferred: bool = False

    def add(
        self,
        service: str,
        role: Role | str | None,
        host_id: str | None,
        number: str | None,
        action: Action | str,
        reason: str = "",
        fields: Iterable[str] = (),
        *,
        side: Side | str,
        kind: str = "relation",
    ) -> ReportRow:
        """Add a row (arguments as `ReportRow`) and return it."""
        row = ReportRow(
            service, role, host_id, number, action, reason, fields, side=side, kind=kind
        )
        self.rows.append(row)
        return row

    def merge(self, *others: SyncReport) -> SyncReport:
        """A new report with this report's rows followed by the others' (e.g. per flow)."""
        reports = (self, *others)
        rows = [row for report in reports for row in report.rows]
        return SyncReport(rows, deferred=any(report.deferred for report in reports))

    def __iter__(self) -> Iterator[ReportRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def counts(self) -> dict[str, int]:
        """Rows per `Action`, every action present (for `StateStore.end_run`)."""
        found = Counter(row.action for row in self.rows)
        return {action: found[action] for action in Action}

    @property
    def failures(self) -> list[tuple[str, str]]:
        """``(record key, reason)`` of each failed row (for `StateStore.end_run`)."""
        return [(row.key, row.reason) for row in self.rows if row.action is Action.FAILED]

    @property
    def created(self) -> int:
        """Records created (host or remote)."""
        return self._count(Action.CREATED)

    @property
    def updated(self) -> int:
        """Records updated."""
        return self._count(Action.UPDATED)

    @property
    def pending(self) -> int:
        """Records stored in the host for a person to review (KvK updates and removals)."""
        return self._count(Action.PENDING)

    @property
    def unchanged(self) -> int:
        """Records compared and found in step."""
        return self._count(Action.UNCHANGED)

    @property
    def conflicts(self) -> int:
        """Records changed on both sides in the same field."""
        return self._count(Action.CONFLICT)

    @property
    def failed(self) -> int:
        """Records that failed (retried next run)."""
        return self._count(Action.FAILED)

    @property
    def unlinked(self) -> int:
        """Records removed remotely and unlinked."""
        return self._count(Action.UNLINKED)

    def _count(self, action: Action) -> int:
        return sum(1 for row in self.rows if row.action is action)

    def __str__(self) -> str:
        return ", ".join(text for _, text in self._summary())

    def _summary(self) -> list[tuple[Action, str]]:
        """Per action ``"3 created"``, ... ``"1 conflict"`` or ``"2 conflicts"``, ..."""
        found = Counter(row.action for row in self.rows)
        return [(action, _count_text(action, found[action])) for action in Action]

    def __repr__(self) -> str:
        return f"<SyncReport {len(self.rows)} rows: {self}>"

    def shown_rows(self, *, unchanged: bool = False) -> list[ReportRow]:
        """The rows the tables show: all but the unchanged ones unless ``unchanged``."""
        return [row for row in self.rows if unchanged or row.action is not Action.UNCHANGED]

    def to_table(self, *, unchanged: bool = False, max_rows: int | None = 500) -> Table:
        """The report as a `rich.table.Table` (``console.print(report)`` does the same).

        Texts are shown as they are, never read as rich markup.

        Args:
            unchanged: Show the unchanged rows too.
            max_rows: Show at most this many rows (``None``: all); the caption
                says how many were left out.

        Raises:
            ConfigurationError: rich is not installed.
        """
        try:
            from rich.table import Table
            from rich.text import Text
        except ImportError:
            raise ConfigurationError(
                "showing a sync report as a table needs rich: pip install 'crmconnect[cli]'"
            ) from None
        rows, hidden = self._visible(unchanged, max_rows)
        table = Table(title=f"Sync report: {self}", caption=hidden or None, title_justify="left")
        for header in _HEADERS:
            table.add_column(header, overflow="fold")
        for row in rows:
            style = _STYLES[row.action][0]
            cells = [Text(text) for text in _cells(row)]
            cells[_HEADERS.index("Action")].stylize(style)
            table.add_row(*cells, style="dim" if row.action is Action.UNCHANGED else None)
        return table

    def __rich__(self) -> Table:
        return self.to_table()

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self, *, unchanged: bool = False, max_rows: int | None = 500) -> str:
        """The report as a self-contained HTML table (what Jupyter shows); texts escaped.

        Args:
            unchanged: Show the unchanged rows too.
            max_rows: Show at most this many rows (``None``: all).
        """
        rows, hidden = self._visible(unchanged, max_rows)
        badges = " ".join(_badge(action, text) for action, text in self._summary())
        head = "".join(_cell("th", header, "white-space:nowrap") for header in _HEADERS)
        body = "".join(_html_row(row) for row in rows)
        empty = f'<tr><td colspan="{len(_HEADERS)}">nothing to show</td></tr>'
        note = f'<p style="color:#5f6368">{html.escape(hidden)}</p>' if hidden else ""
        # Colours set on the whole card: readable in a dark notebook theme too.
        return (
            '<div style="font-family:system-ui,sans-serif;font-size:13px;color:#202124;'
            'background:#ffffff;padding:6px;display:inline-block">'
            f'<p style="margin:2px 0 8px 0"><b>Sync report</b> {badges}</p>'
            '<table style="border-collapse:collapse;text-align:left;font-size:13px">'
            f'<thead style="background:#f1f3f4"><tr>{head}</tr></thead>'
            f"<tbody>{body or empty}</tbody></table>{note}</div>"
        )

    def _visible(self, unchanged: bool, max_rows: int | None) -> tuple[list[ReportRow], str]:
        """The rows to show, and a note on those left out (empty when none)."""
        shown = self.shown_rows(unchanged=unchanged)
        notes = []
        if not unchanged and self.unchanged:
            notes.append(f"{self.unchanged} unchanged rows not shown")
        if max_rows is not None and len(shown) > max_rows:
            notes.append(f"{len(shown) - max_rows} more rows not shown")
            shown = shown[:max_rows]
        return shown, "; ".join(notes)


_CELL_STYLE: Final = "border:1px solid #dadce0;padding:3px 8px;vertical-align:top"


def _cell(tag: str, text: str, style: str = "") -> str:
    return f'<{tag} style="{_CELL_STYLE};{style}">{html.escape(text)}</{tag}>'


def _cells(row: ReportRow) -> list[str]:
    return [
        row.service,
        row.role or row.kind,
        row.number or "",
        row.host_id or "",
        row.side,
        row.action,
        ", ".join(row.fields),
        row.reason,
    ]


def _count_text(action: Action, count: int) -> str:
    name = "conflicts" if action is Action.CONFLICT and count != 1 else action.value
    return f"{count} {name}"


def _badge(action: Action, text: str) -> str:
    _, background, colour = _STYLES[action]
    return (
        f'<span style="background:{background};color:{colour};border:1px solid {colour};'
        f'border-radius:8px;padding:1px 7px;margin-right:4px">{html.escape(text)}</span>'
    )


def _html_row(row: ReportRow) -> str:
    _, background, colour = _STYLES[row.action]
    cells = [
        _cell("td", text, "" if header in _WRAPPED else "white-space:nowrap")
        for header, text in zip(_HEADERS, _cells(row), strict=True)
    ]
    cells[_HEADERS.index("Action")] = _cell(
        "td", row.action, f"white-space:nowrap;color:{colour};font-weight:600"
    )
    tint = f' style="background:{background}"' if row.action in _TINTED else ""
    return f"<tr{tint}>{''.join(cells)}</tr>"
