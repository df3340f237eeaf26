"""`DigitaleFactuurMultiSandbox`: one DigitaleFactuur for many accounts, and DF's control calls.

Each account (``/api/{account_id}/{access_code}/…``) is a `DigitaleFactuurSandbox`
of its own: its relations, invoices, faults and counters. With
``any_account=True`` a request with an unknown but well-formed account id
and access code opens fresh, empty books for that account; the code it came
with is the account's code from then on.

Well-formed (an assumption, from DF's example configuration of a 5-digit
account number and a 32-character key): an account id of 1 to 12 digits and
an access code of 8 to 64 letters, digits, ``-`` or ``_``. Anything else is
refused as an unknown account: ``401 Ongeldig account of ongeldige toegangscode``.
"""

from __future__ import annotations

import re
import secrets
import urllib.parse
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from .._redact import mask_secret
from ._accounts import MultiAccountSandbox
from ._control import Args, Call, ControlApi, ControlError, Directory
from ._core import FaultKind, SandboxRequest
from ._digitalefactuur import DigitaleFactuurSandbox, InvoiceRecord

__all__ = ["DigitaleFactuurControl", "DigitaleFactuurMultiSandbox", "well_formed_account"]

_ACCOUNT_ID = re.compile(r"[0-9]{1,12}")
_ACCESS_CODE = re.compile(r"[A-Za-z0-9_-]{8,64}")


def well_formed_account(account_id: str, access_code: str) -> bool:
    """Whether ``--any-account`` opens books for these credentials (see the module docstring)."""
    return bool(_ACCOUNT_ID.fullmatch(account_id) and _ACCESS_CODE.fullmatch(access_code))


class DigitaleFactuurMultiSandbox(MultiAccountSandbox[DigitaleFactuurSandbox]):
    """One DigitaleFactuur sandbox for many accounts, each with its own books.

    A wrong access code for a known account is refused (``401``) as by
    `DigitaleFactuurSandbox`; so are unknown accounts, unless ``any_account``
    is on and the credentials are well-formed.

    Args:
        accounts: ``(account_id, access_code)`` of the accounts to open now.
        any_account: Open fresh, empty books for any well-formed credentials.
        latency: Seconds added to every answer (the whole process).
        rate_limit: Requests per second **per account** before 429; none when ``None``.
        error_rate: Share (0..1) of all requests that get a random fault.

    Attributes:
        faults: The process's faults (latency, random errors, one-shot faults
            of any account); each account's are ``account(id).faults``.
        stats: Counters of all requests; each account's are ``account(id).stats``.

    Example:
        ```python
        sandbox = DigitaleFactuurMultiSandbox(any_account=True, rate_limit=10)
        with sandbox.serve() as url:
            ...  # clients of accounts 20001, 20002, ... each see their own books
        sandbox.account("20001").relations
        ```
    """

    def __init__(
        self,
        accounts: Iterable[tuple[str, str]] = (),
        *,
        any_account: bool = False,
        latency: float = 0.0,
        rate_limit: float | None = None,
        error_rate: float = 0.0,
    ) -> None:
        # Nobody knows the fallback's credentials: it refuses what belongs to no account.
        fallback = DigitaleFactuurSandbox(secrets.token_hex(8), secrets.token_hex(16))
        super().__init__(
            fallback, any_account=any_account, latency=latency, rate_limit=rate_limit,
            error_rate=error_rate,
        )  # fmt: skip
        for account_id, access_code in accounts:
            self.add_account(account_id, access_code)

    def add_account(
        self,
        account_id: str,
        access_code: str,
        *,
        relations: Iterable[Mapping[str, str]] = (),
    ) -> DigitaleFactuurSandbox:
        """Open an account with empty books (or these relations); returns its sandbox.

        Raises:
            ValueError: The account exists, or a credential is empty or holds ``/``.
        """
        if not account_id or not access_code or "/" in account_id + access_code:
            raise ValueError("account id and access code must be non-empty, without '/'")
        return self._register(account_id, DigitaleFactuurSandbox(
            account_id, access_code, relations=relations
        ))  # fmt: skip

    def account(self, account_id: str) -> DigitaleFactuurSandbox:
        """The sandbox (books, faults, counters) of one account.

        Raises:
            KeyError: No such account.
        """
        found = self.find(account_id)
        if found is None:
            raise KeyError("no such account")
        return found

    def find(self, key: str) -> DigitaleFactuurSandbox | None:
        """The account with this id, or ``None``."""
        with self._lock:
            return self._accounts.get(key)

    def fail_next(self, count: int = 1, kind: FaultKind = "500", action: str | None = None) -> None:
        """Queue faults for the next ``count`` requests of any account (of one action, if given).

        One account's: ``sandbox.account(id).fail_next(...)``.
        """
        self.faults.fail_next(count, kind, path_prefix=f"/api/{action}/" if action else None)

    def _label(self, sandbox: DigitaleFactuurSandbox) -> str:
        return mask_secret(sandbox.account_id)

    def _control(self) -> ControlApi[Any]:
        return DigitaleFactuurControl(self, multi=self)

    def _route(self, request: SandboxRequest) -> DigitaleFactuurSandbox | None:
        parts = request.encoded_path.split("/", 4)
        if len(parts) != 5 or parts[0] or parts[1] != "api":
            return None
        account_id, code = (urllib.parse.unquote(part) for part in parts[2:4])
        with self._lock:
            found = self._accounts.get(account_id)
            if found is not None or not self.any_account:
                return found
            if not well_formed_account(account_id, code):
                return None  # the fallback refuses it as an unknown account
            return self.add_account(account_id, code)


class DigitaleFactuurControl(ControlApi[DigitaleFactuurSandbox]):
    """The control calls of a served DigitaleFactuur sandbox (one account or many).

    Besides faults and counters: ``pay``, ``edit_relation``, ``add_relation``,
    ``add_invoice``, ``relations``, ``invoices`` and, with many accounts,
    ``add_account``.
    """

    def __init__(
        self,
        directory: Directory[DigitaleFactuurSandbox],
        *,
        multi: DigitaleFactuurMultiSandbox | None = None,
    ) -> None:
        super().__init__(directory, "digitalefactuur")
        self._multi = multi

    def calls(self) -> dict[str, Call]:
        found = super().calls() | {
            "pay": self._pay,
            "edit_relation": self._edit_relation,
            "add_relation": self._add_relation,
            "add_invoice": self._add_invoice,
            "relations": self._relations,
            "invoices": self._invoices,
        }
        if self._multi is not None:
            found["add_account"] = self._add_account
        return found

    def _pay(self, args: Args) -> dict[str, Any]:
        sandbox = self.account(args)
        invoice_id = args.text("invoice_id")
        number = args.text("invoice_number")
        if invoice_id is None:
            if number is None:
                raise ControlError(400, "give invoice_id or invoice_number", "invoice_id")
            ids = [invoice.id for invoice in sandbox.invoices if invoice.number == number]
            if len(ids) != 1:
                status = 404 if not ids else 409
                raise ControlError(
                    status, f"{len(ids)} invoices have this number", "invoice_number"
                )
            invoice_id = ids[0]
        amount = args.amount("amount")
        return _invoice_json(sandbox.pay(invoice_id, amount))

    def _edit_relation(self, args: Args) -> dict[str, str]:
        sandbox = self.account(args)
        relation_id = args.text("relation_id", required=True) or ""
        try:
            return sandbox.edit_relation(relation_id, **args.mapping("elements"))
        except ValueError as refused:
            raise ControlError(400, str(refused), "elements") from None

    def _add_relation(self, args: Args) -> dict[str, str]:
        sandbox = self.account(args)
        try:
            return sandbox.add_relation(**args.mapping("elements"))
        except ValueError as refused:
            raise ControlError(400, str(refused), "elements") from None

    def _add_invoice(self, args: Args) -> dict[str, Any]:
        sandbox = self.account(args)
        relation_id = args.text("relation_id", required=True) or ""
        number = args.text("number", required=True) or ""
        rows = args.raw("lines")
        if not isinstance(rows, list) or not all(
            isinstance(row, list) and len(row) == 4 and all(isinstance(v, str | int) for v in row)
            for row in rows
        ):
            raise ControlError(400, "lines: [[description, quantity, price, vat], ...]", "lines")
        lines = [(str(d), str(q), str(p), str(v)) for d, q, p, v in rows]
        if relation_id not in {relation["id"] for relation in sandbox.relations}:
            raise ControlError(404, "no such relation", "relation_id")
        invoice = sandbox.add_invoice(
            relation_id, number, lines, date=args.date("date"), due_date=args.date("due_date")
        )
        return _invoice_json(invoice)

    def _relations(self, args: Args) -> list[dict[str, str]]:
        return self.account(args).relations

    def _invoices(self, args: Args) -> list[dict[str, Any]]:
        return [_invoice_json(invoice) for invoice in self.account(args).invoices]

    def _add_account(self, args: Args) -> dict[str, str]:
        assert self._multi is not None
        account_id = args.text("account_id", required=True) or ""
        code = args.text("access_code", required=True) or ""
        relations = args.raw("relations") or []
        if not isinstance(relations, list) or not all(isinstance(r, dict) for r in relations):
            raise ControlError(400, "relations must be a list of objects", "relations")
        try:
            added = self._multi.add_account(account_id, code, relations=relations)
        except ValueError as refused:
            raise ControlError(409, str(refused), "account_id") from None
        return {"account": mask_secret(added.account_id)}


def _invoice_json(invoice: InvoiceRecord) -> dict[str, Any]:
    def text(amount: Decimal) -> str:
        return f"{amount:.2f}"

    return {
        "id": invoice.id,
        "number": invoice.number,
        "relation_id": invoice.relation_id,
        "date": invoice.date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "total": text(invoice.total),
        "paid": text(invoice.paid),
        "status": invoice.status,
    }
